//! `[metrics]`: the names of the series and labels that alert rules depend on.

use toml::Spanned;

use super::names::{check_label_name, is_metric_name};
use super::{RESERVED_LABELS, Validator};
use crate::config::MetricNames;
use crate::config::raw::RawMetrics;

impl Validator<'_> {
    pub(super) fn metrics(&mut self, raw: &RawMetrics) -> MetricNames {
        let mut names = MetricNames::default();
        for (value, slot) in [
            (&raw.expiry_metric, &mut names.expiry),
            (&raw.last_success_metric, &mut names.last_success),
        ] {
            if let Some(v) = value {
                if crate::metrics::names::FIXED.contains(&v.get_ref().as_str()) {
                    self.error(
                        v.span(),
                        format!(
                            "metrics: `{}` is a series credwatch (or the Pushgateway) already exports; choose another name",
                            v.get_ref()
                        ),
                    );
                } else if is_metric_name(v.get_ref()) {
                    *slot = v.get_ref().clone();
                } else {
                    self.error(
                        v.span(),
                        format!(
                            "metrics: `{}` is not a valid Prometheus metric name (letters, digits, `_` and `:`, not starting with a digit)",
                            v.get_ref()
                        ),
                    );
                }
            }
        }
        if let Some(v) = &raw.credential_label {
            match check_label_name(v.get_ref()) {
                Ok(()) if RESERVED_LABELS.contains(&v.get_ref().as_str()) => self.error(
                    v.span(),
                    format!(
                        "metrics: `credential_label`: `{}` is a label credwatch sets itself",
                        v.get_ref()
                    ),
                ),
                Ok(()) => names.credential_label = v.get_ref().clone(),
                Err(e) => self.error(v.span(), format!("metrics: `credential_label`: {e}")),
            }
        }
        if names.expiry == names.last_success {
            let span = raw.last_success_metric.as_ref().map_or(0..0, Spanned::span);
            self.error(
                span,
                "metrics: the expiry and last-success metrics need different names".into(),
            );
        }
        names.extra_series = raw.extra_series.unwrap_or(true);
        names
    }
}
