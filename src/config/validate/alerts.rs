//! `[alerts]`: how `render rules` names, labels and times the alerts.

use std::collections::BTreeSet;

use jiff::SignedDuration;

use super::names::is_alert_name;
use super::{RESERVED_LABELS, Validator};
use crate::config::Alerts;
use crate::config::raw::RawAlerts;
use crate::time;

impl Validator<'_> {
    pub(super) fn alerts(&mut self, raw: RawAlerts) -> Alerts {
        let hours = |h| SignedDuration::from_hours(h);
        let mins = |m| SignedDuration::from_mins(m);
        let prefix = match raw.prefix {
            None => "Credwatch".to_string(),
            Some(p) if is_alert_name(p.get_ref()) => p.into_inner(),
            Some(p) => {
                self.error(
                    p.span(),
                    format!(
                        "alerts: `prefix`: `{}` cannot start an alert name (letters, digits and `_`, not starting with a digit)",
                        p.get_ref()
                    ),
                );
                "Credwatch".into()
            }
        };
        let warning_severity = self
            .non_empty(raw.warning_severity.as_ref(), "alerts", "warning_severity")
            .unwrap_or_else(|| "warning".into());
        let critical_severity = self
            .non_empty(
                raw.critical_severity.as_ref(),
                "alerts",
                "critical_severity",
            )
            .unwrap_or_else(|| "critical".into());
        let run_interval = self.duration_or(&raw.run_interval, "alerts", "run_interval", hours(6));
        let stale_after =
            self.duration_or(&raw.stale_after, "alerts", "stale_after", run_interval * 8);
        if let Some(span) = &raw.stale_after
            && stale_after <= run_interval
        {
            self.error(
                span.span(),
                format!(
                    "alerts: `stale_after` ({}) must be longer than `run_interval` ({}), or every run would look stale",
                    time::format_duration(stale_after),
                    time::format_duration(run_interval)
                ),
            );
        }
        let mut reserved: BTreeSet<String> = ["alertname", "severity"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        reserved.extend(RESERVED_LABELS.iter().map(|s| s.to_string()));
        let labels = self.labels(raw.labels.as_ref(), "alerts", &reserved);
        Alerts {
            prefix,
            warning_severity,
            critical_severity,
            run_interval,
            stale_after,
            expiring_for: self.duration_or(&raw.expiring_for, "alerts", "expiring_for", hours(1)),
            critical_for: self.duration_or(&raw.critical_for, "alerts", "critical_for", mins(10)),
            unknown_for: self.duration_or(&raw.unknown_for, "alerts", "unknown_for", hours(1)),
            stale_for: self.duration_or(&raw.stale_for, "alerts", "stale_for", mins(10)),
            never_ran_for: self.duration_or(
                &raw.never_ran_for,
                "alerts",
                "never_ran_for",
                hours(2),
            ),
            propagation_grace: self.duration_or(
                &raw.propagation_grace,
                "alerts",
                "propagation_grace",
                mins(90),
            ),
            push_failing_for: self.duration_or(
                &raw.push_failing_for,
                "alerts",
                "push_failing_for",
                mins(15),
            ),
            runbook: raw.runbook,
            labels,
        }
    }
}
