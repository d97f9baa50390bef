//! `render rule-tests`: a promtool unit-test file for the rules of `render rules`. Pure.
//!
//! Each alert is driven just up to its threshold (silent), across it (pending for `for:`), and
//! past `for:` (firing, with the exact labels and annotations a receiver would get). Per-credential
//! thresholds get a case each; the edges between alerts (critical until the expiry instant, expired
//! from it; a source down standing in for its credentials; two deployments side by side) get
//! theirs. Time in promtool starts at 0, so expiry timestamps are small.

use std::collections::BTreeMap;

use jiff::SignedDuration;
use serde::Serialize;

use crate::config::{Config, INVENTORY_SOURCE};
use crate::credential::Thresholds;
use crate::metrics::names;
use crate::render::rules::{self, AlertKind, quote};
use crate::time::format_duration;

const STEP: i64 = 60;

#[derive(Serialize)]
struct TestFile {
    rule_files: Vec<String>,
    evaluation_interval: String,
    tests: Vec<TestGroup>,
}

#[derive(Serialize)]
struct TestGroup {
    name: String,
    interval: String,
    input_series: Vec<InputSeries>,
    alert_rule_test: Vec<AlertTest>,
}

#[derive(Serialize)]
struct InputSeries {
    series: String,
    values: String,
}

#[derive(Serialize)]
struct AlertTest {
    eval_time: String,
    alertname: String,
    exp_alerts: Vec<ExpectedAlert>,
}

#[derive(Serialize)]
struct ExpectedAlert {
    exp_labels: BTreeMap<String, String>,
    exp_annotations: BTreeMap<String, String>,
}

/// Prometheus' `humanizeDuration` template function, for whole seconds.
pub fn humanize_duration(seconds: i64) -> String {
    if seconds == 0 {
        return "0s".into();
    }
    let sign = if seconds < 0 { "-" } else { "" };
    let v = seconds.unsigned_abs();
    let (days, hours, minutes, secs) = (v / 86_400, (v / 3_600) % 24, (v / 60) % 60, v % 60);
    if days != 0 {
        format!("{sign}{days}d {hours}h {minutes}m {secs}s")
    } else if hours != 0 {
        format!("{sign}{hours}h {minutes}m {secs}s")
    } else if minutes != 0 {
        format!("{sign}{minutes}m {secs}s")
    } else {
        format!("{sign}{secs}s")
    }
}

/// `pairs` followed by `scope`.
fn scoped<'s>(
    pairs: &[(&'s str, &'s str)],
    scope: &[(&'s str, &'s str)],
) -> Vec<(&'s str, &'s str)> {
    let mut labels = pairs.to_vec();
    labels.extend_from_slice(scope);
    labels
}

fn series(name: &str, labels: &[(&str, &str)]) -> String {
    let inner: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}={}", quote(v)))
        .collect();
    format!("{name}{{{}}}", inner.join(", "))
}

/// A constant value for `minutes` minutes (promtool's `a x n` is n+1 samples).
fn constant(value: i64, minutes: i64) -> String {
    format!("{value}x{minutes}")
}

fn at(seconds: i64) -> String {
    format_duration(SignedDuration::from_secs(seconds)).replace("0s", "0m")
}

struct Builder<'a> {
    config: &'a Config,
    job: String,
    /// The Pushgateway grouping labels this deployment pushes under.
    grouping: Vec<(String, String)>,
}

impl Builder<'_> {
    fn name(&self, kind: AlertKind) -> String {
        rules::alert_name(self.config, kind)
    }

    fn full(&self) -> bool {
        self.config.metrics.extra_series
    }

    /// Labels of an alert raised from a credential's expiry series.
    fn alert_labels(&self, kind: AlertKind, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut labels: BTreeMap<String, String> = self.config.alerts.labels.clone();
        for (k, v) in extra {
            labels.insert(k.to_string(), v.to_string());
        }
        labels.insert(
            "severity".into(),
            rules::severity(self.config, kind).to_string(),
        );
        labels
    }

    /// What the texts of an alert about `cred` with value `value` are made of; the rest empty.
    fn vars(&self, cred: &str, value: i64) -> rules::Vars {
        rules::Vars {
            cred: cred.to_string(),
            left: humanize_duration(value),
            value: value.to_string(),
            job: self.job.clone(),
            pool: String::new(),
            replacement: String::new(),
            consumer: String::new(),
            who: String::new(),
            source: String::new(),
            reason: String::new(),
        }
    }

    fn annotations(
        &self,
        kind: AlertKind,
        cred: &str,
        source: &str,
        value: i64,
    ) -> BTreeMap<String, String> {
        self.annotations_of(kind, cred, source, &self.vars(cred, value))
    }

    fn annotations_with(
        &self,
        kind: AlertKind,
        cred: &str,
        source: &str,
        value: i64,
        pool: &str,
        replacement: bool,
    ) -> BTreeMap<String, String> {
        let mut vars = self.vars(cred, value);
        vars.pool = pool.to_string();
        if replacement {
            vars.replacement = rules::REPLACEMENT_SENTENCE.to_string();
        }
        self.annotations_of(kind, cred, source, &vars)
    }

    /// The annotations an alert gets; a per-credential alert's runbook is the one the
    /// credential's info series carries (see [`Self::info_series`]), else `[alerts] runbook`.
    fn annotations_of(
        &self,
        kind: AlertKind,
        cred: &str,
        source: &str,
        vars: &rules::Vars,
    ) -> BTreeMap<String, String> {
        let (summary, description) = rules::texts(self.config, kind, vars);
        let mut out = BTreeMap::from([
            ("summary".to_string(), summary),
            ("description".to_string(), description),
        ]);
        let runbook = if kind.per_credential() {
            rules::runbook_for(self.config, cred, source)
        } else {
            self.config.alerts.runbook.clone()
        };
        if let Some(url) = runbook {
            out.insert("runbook_url".into(), url);
        }
        out
    }

    /// This deployment's job and grouping labels, which every series it pushes carries.
    fn own(&self) -> Vec<(&str, &str)> {
        let mut labels = vec![(names::JOB_LABEL, self.job.as_str())];
        labels.extend(self.grouping.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        labels
    }

    /// The info series of a credential (full contract only): its source and the runbook
    /// `push` puts on it.
    fn info_series(&self, cred: &str, source: &str, minutes: i64) -> Vec<InputSeries> {
        if !self.full() {
            return Vec::new();
        }
        let c = self.config.metrics.credential_label.as_str();
        let runbook = rules::own_runbook(self.config, cred, source);
        let mut labels = vec![(c, cred), (names::SOURCE_LABEL, source)];
        labels.extend(self.own());
        if let Some(r) = &runbook {
            labels.push((names::RUNBOOK_LABEL, r.as_str()));
        }
        vec![InputSeries {
            series: series(names::INFO, &labels),
            values: constant(1, minutes),
        }]
    }

    /// Series describing one credential: its expiry and, with the full contract, its thresholds.
    fn credential_series(
        &self,
        cred: &str,
        source: &str,
        expiry: i64,
        t: Thresholds,
        minutes: i64,
    ) -> Vec<InputSeries> {
        let c = self.config.metrics.credential_label.as_str();
        let labels = self.expiry_labels(cred, source);
        let mut out = vec![InputSeries {
            series: series(&self.config.metrics.expiry, &labels),
            values: constant(expiry, minutes),
        }];
        if self.full() {
            let keys = scoped(&[(c, cred)], &self.own());
            out.push(InputSeries {
                series: series(names::WARN_BEFORE, &keys),
                values: constant(t.warn_before.as_secs(), minutes),
            });
            out.push(InputSeries {
                series: series(names::CRITICAL_BEFORE, &keys),
                values: constant(t.critical_before.as_secs(), minutes),
            });
        }
        out.extend(self.info_series(cred, source, minutes));
        out
    }

    fn expiry_labels<'b>(&'b self, cred: &'b str, source: &'b str) -> Vec<(&'b str, &'b str)> {
        let mut labels = scoped(
            &[(self.config.metrics.credential_label.as_str(), cred)],
            &self.own(),
        );
        if self.full() {
            labels.push((names::SOURCE_LABEL, source));
        }
        labels
    }

    /// A credential crosses `threshold` two hours in: silent at the threshold itself, pending for
    /// `for:`, firing one evaluation later.
    fn threshold_case(
        &self,
        kind: AlertKind,
        cred: &str,
        source: &str,
        t: Thresholds,
    ) -> TestGroup {
        let threshold = match kind {
            AlertKind::ExpiringSoon => t.warn_before,
            _ => t.critical_before,
        }
        .as_secs();
        let for_s = rules::rule(self.config, kind).for_seconds(self.config);
        let cross = 2 * 3_600;
        let expiry = threshold + cross;
        let fire_at = cross + STEP + for_s;
        let minutes = fire_at / STEP + 5;
        let firing = ExpectedAlert {
            exp_labels: self.alert_labels(kind, &self.expiry_labels(cred, source)),
            exp_annotations: self.annotations(kind, cred, source, expiry - fire_at),
        };
        TestGroup {
            name: format!(
                "{}: `{cred}` with {} left fires after {}",
                self.name(kind),
                format_duration(SignedDuration::from_secs(threshold)),
                format_duration(SignedDuration::from_secs(for_s))
            ),
            interval: "1m".into(),
            input_series: self.credential_series(cred, source, expiry, t, minutes),
            alert_rule_test: self.timeline(kind, &[cross, cross + for_s], fire_at, vec![firing]),
        }
    }

    /// A credential expiring one hour in: Critical fires until the expiry instant and stops
    /// there; from that instant Expired alone fires, saying how long ago it expired.
    fn expired_case(&self, cred: &str, source: &str, t: Thresholds) -> TestGroup {
        let kind = AlertKind::Expired;
        let expiry = 3_600;
        let later = expiry + 2 * 3_600;
        let labels = self.alert_labels(kind, &self.expiry_labels(cred, source));
        let expired = |at: i64| AlertTest {
            eval_time: self::at(at),
            alertname: self.name(kind),
            exp_alerts: vec![ExpectedAlert {
                exp_labels: labels.clone(),
                exp_annotations: self.annotations(kind, cred, source, at - expiry),
            }],
        };
        let silent = |kind: AlertKind, at: i64| AlertTest {
            eval_time: self::at(at),
            alertname: self.name(kind),
            exp_alerts: vec![],
        };
        let critical = AlertKind::Critical;
        let mut tests = vec![
            silent(kind, expiry - STEP),
            AlertTest {
                eval_time: self::at(expiry - STEP),
                alertname: self.name(critical),
                exp_alerts: vec![ExpectedAlert {
                    exp_labels: self.alert_labels(critical, &self.expiry_labels(cred, source)),
                    exp_annotations: self.annotations(critical, cred, source, STEP),
                }],
            },
            expired(expiry),
            expired(later),
        ];
        for at in [expiry, later] {
            tests.push(silent(AlertKind::ExpiringSoon, at));
            tests.push(silent(critical, at));
        }
        TestGroup {
            name: format!(
                "{}: fires from the expiry instant, saying how long ago; ExpiringSoon and Critical stop there",
                self.name(kind)
            ),
            interval: "1m".into(),
            input_series: self.credential_series(cred, source, expiry, t, later / STEP + 5),
            alert_rule_test: tests,
        }
    }

    /// A certificate valid from two hours in: pending at once, firing after `for:` with the
    /// time left until it becomes valid, silent from that instant; one valid already never fires.
    fn not_yet_valid_case(&self, cred: &str, source: &str) -> TestGroup {
        let kind = AlertKind::NotYetValid;
        let for_s = rules::rule(self.config, kind).for_seconds(self.config);
        let starts = 2 * 3_600;
        let minutes = starts / STEP + 5;
        let c = self.config.metrics.credential_label.as_str();
        let mut input = Vec::new();
        for (name, from) in [(cred, starts), ("valid-already", 0)] {
            let mut labels = vec![(c, name), (names::SOURCE_LABEL, source)];
            labels.extend(self.own());
            input.push(InputSeries {
                series: series(names::NOT_BEFORE, &labels),
                values: constant(from, minutes),
            });
            input.extend(self.info_series(name, source, minutes));
        }
        let mut labels = vec![(c, cred), (names::SOURCE_LABEL, source)];
        labels.extend(self.own());
        let mut tests = self.timeline(
            kind,
            &[for_s - STEP],
            for_s,
            vec![ExpectedAlert {
                exp_labels: self.alert_labels(kind, &labels),
                exp_annotations: self.annotations(kind, cred, source, starts - for_s),
            }],
        );
        tests.extend(self.timeline(kind, &[starts], starts + STEP, vec![]));
        TestGroup {
            name: format!(
                "{}: a credential valid only from 2h on fires after {} and stops when it becomes valid",
                self.name(kind),
                format_duration(SignedDuration::from_secs(for_s))
            ),
            interval: "1m".into(),
            input_series: input,
            alert_rule_test: tests,
        }
    }

    fn unknown_case(&self, cred: &str) -> TestGroup {
        let kind = AlertKind::ExpiryUnknown;
        let c = self.config.metrics.credential_label.as_str();
        let for_s = self.config.alerts.unknown_for.as_secs();
        let minutes = for_s / STEP + 5;
        let job = self.job.as_str();
        let mut input = vec![
            InputSeries {
                series: series(names::READ_OK, &[(c, cred), (names::JOB_LABEL, job)]),
                values: constant(0, minutes),
            },
            InputSeries {
                series: series(names::READ_OK, &[(c, "readable"), (names::JOB_LABEL, job)]),
                values: constant(1, minutes),
            },
        ];
        input.extend(self.info_series(cred, INVENTORY_SOURCE, minutes));
        TestGroup {
            name: format!(
                "{}: an unreadable credential fires after {}",
                self.name(kind),
                format_duration(SignedDuration::from_secs(for_s))
            ),
            interval: "1m".into(),
            input_series: input,
            alert_rule_test: self.timeline(
                kind,
                &[for_s - STEP],
                for_s,
                vec![ExpectedAlert {
                    exp_labels: self.alert_labels(kind, &[(c, cred), (names::JOB_LABEL, job)]),
                    exp_annotations: self.annotations(kind, cred, INVENTORY_SOURCE, 0),
                }],
            ),
        }
    }

    /// The series of a deployment (`scope`: its job and grouping labels) whose source `vault`
    /// holds `creds`, all unreadable for the first `down` minutes and readable for `up` more
    /// (with `source_down`, the source is down while they are unreadable), and whose inventory
    /// credential `stuck` is unreadable throughout while the inventory reads fine.
    fn outage_series<'s>(
        &'s self,
        scope: &[(&'s str, &'s str)],
        creds: &[&'s str],
        stuck: &'s str,
        down: i64,
        up: i64,
        source_down: bool,
    ) -> Vec<InputSeries> {
        let c = self.config.metrics.credential_label.as_str();
        let runbook = |cred: &str, source: &str| rules::own_runbook(self.config, cred, source);
        let mut out = Vec::new();
        let mut credential = |cred: &str, source: &str, read_ok: String| {
            out.push(InputSeries {
                series: series(names::READ_OK, &scoped(&[(c, cred)], scope)),
                values: read_ok,
            });
            let rb = runbook(cred, source);
            let mut info = scoped(&[(c, cred), (names::SOURCE_LABEL, source)], scope);
            if let Some(r) = &rb {
                info.push((names::RUNBOOK_LABEL, r.as_str()));
            }
            out.push(InputSeries {
                series: series(names::INFO, &info),
                values: constant(1, down + up),
            });
        };
        for cred in creds {
            credential(cred, Self::OUTAGE_SOURCE, format!("0x{down} 1x{up}"));
        }
        credential(stuck, INVENTORY_SOURCE, constant(0, down + up));
        let source = |name| scoped(&[(names::SOURCE_LABEL, name)], scope);
        out.push(InputSeries {
            series: series(names::SOURCE_UP, &source(Self::OUTAGE_SOURCE)),
            values: if source_down {
                format!("0x{down} 1x{up}")
            } else {
                constant(1, down + up)
            },
        });
        if source_down {
            let mut error = source(Self::OUTAGE_SOURCE);
            error.push((names::REASON_LABEL, Self::OUTAGE_REASON));
            out.push(InputSeries {
                series: series(names::SOURCE_ERROR, &error),
                values: format!("1x{down} _x{up}"),
            });
        }
        out.push(InputSeries {
            series: series(names::SOURCE_UP, &source(INVENTORY_SOURCE)),
            values: constant(1, down + up),
        });
        out
    }

    const OUTAGE_SOURCE: &'static str = "vault";
    const OUTAGE_REASON: &'static str = "sealed";

    /// The SourceDown alert of deployment `scope` (job `job`).
    fn source_down_alert(&self, scope: &[(&str, &str)], job: &str) -> ExpectedAlert {
        let kind = AlertKind::SourceDown;
        let mut labels = vec![(names::SOURCE_LABEL, Self::OUTAGE_SOURCE)];
        labels.extend_from_slice(scope);
        let mut vars = self.vars("", 0);
        vars.job = job.to_string();
        vars.source = Self::OUTAGE_SOURCE.to_string();
        vars.reason = format!(" ({})", Self::OUTAGE_REASON);
        ExpectedAlert {
            exp_labels: self.alert_labels(kind, &labels),
            exp_annotations: self.annotations_of(kind, "", "", &vars),
        }
    }

    /// The ExpiryUnknown alert of credential `cred` (of `source`) of deployment `scope`.
    fn unknown_alert(&self, scope: &[(&str, &str)], cred: &str, source: &str) -> ExpectedAlert {
        let kind = AlertKind::ExpiryUnknown;
        let c = self.config.metrics.credential_label.as_str();
        let mut labels = vec![(c, cred)];
        labels.extend_from_slice(scope);
        ExpectedAlert {
            exp_labels: self.alert_labels(kind, &labels),
            exp_annotations: self.annotations(kind, cred, source, 0),
        }
    }

    /// A source holding three credentials goes down: one SourceDown after `for:`, no
    /// ExpiryUnknown for its credentials (an unreadable credential of a healthy source still
    /// raises its own); the source comes back and SourceDown resolves.
    fn source_down_case(&self) -> TestGroup {
        let for_s = self.config.alerts.unknown_for.as_secs();
        let down = for_s / STEP + 10;
        let own = self.own();
        let input = self.outage_series(&own, &["db-a", "db-b", "db-c"], "stuck", down, 10, true);
        let (sd, eu) = (AlertKind::SourceDown, AlertKind::ExpiryUnknown);
        let mut tests = self.timeline(
            sd,
            &[for_s - STEP],
            for_s,
            vec![self.source_down_alert(&own, &self.job)],
        );
        tests.extend(self.timeline(
            eu,
            &[],
            for_s,
            vec![self.unknown_alert(&own, "stuck", INVENTORY_SOURCE)],
        ));
        let back = (down + 1) * STEP;
        tests.extend(self.timeline(sd, &[], back, vec![]));
        tests.extend(self.timeline(
            eu,
            &[],
            back,
            vec![self.unknown_alert(&own, "stuck", INVENTORY_SOURCE)],
        ));
        TestGroup {
            name: format!(
                "{}: a source down for {} fires once, its three credentials raise no {}; it resolves when the source is back",
                self.name(sd),
                format_duration(SignedDuration::from_secs(for_s)),
                self.name(eu)
            ),
            interval: "1m".into(),
            input_series: input,
            alert_rule_test: tests,
        }
    }

    /// Another credwatch deployment in the same Prometheus: another value of the first grouping
    /// label, or another job when there is no grouping label.
    fn other(&self) -> Vec<(String, String)> {
        let mut scope: Vec<(String, String)> = self
            .own()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let i = usize::from(!self.grouping.is_empty());
        scope[i].1 = format!("{}-other", scope[i].1);
        scope
    }

    /// Two deployments side by side: the other one's source is down and only the other one
    /// has reported. This one's unreadable credential of the same source name still fires, the
    /// other one's SourceDown names the other deployment, and (where the rules know this
    /// deployment's job, with `[pushgateway]`) this one's MonitorNeverRun is not hidden by the
    /// other one's last-success series.
    fn two_deployments_case(&self) -> TestGroup {
        let for_s = self.config.alerts.unknown_for.as_secs();
        let never_for = self.config.alerts.never_ran_for.as_secs();
        let minutes = for_s.max(never_for) / STEP + 5;
        let own = self.own();
        let other_owned = self.other();
        let other: Vec<(&str, &str)> = other_owned
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let other_job = other[0].1;
        let mut input = self.outage_series(&own, &["db-a"], "stuck", minutes, 1, false);
        input.extend(self.outage_series(&other, &["db-a", "db-b"], "stuck", minutes, 1, true));
        input.push(InputSeries {
            series: series(&self.config.metrics.last_success, &other),
            values: format!("0+60x{minutes}"),
        });
        let (sd, eu) = (AlertKind::SourceDown, AlertKind::ExpiryUnknown);
        let mut tests = self.timeline(
            sd,
            &[for_s - STEP],
            for_s,
            vec![self.source_down_alert(&other, other_job)],
        );
        tests.extend(self.timeline(
            eu,
            &[],
            for_s,
            vec![
                self.unknown_alert(&own, "db-a", Self::OUTAGE_SOURCE),
                self.unknown_alert(&own, "stuck", INVENTORY_SOURCE),
                self.unknown_alert(&other, "stuck", INVENTORY_SOURCE),
            ],
        ));
        if self.config.pushgateway.is_some() {
            let kind = AlertKind::MonitorNeverRun;
            tests.extend(self.timeline(
                kind,
                &[never_for - STEP],
                never_for,
                vec![ExpectedAlert {
                    exp_labels: self.alert_labels(kind, &own),
                    exp_annotations: self.annotations(kind, "", "", 0),
                }],
            ));
        }
        TestGroup {
            name: "two deployments side by side: one's outage and one's reports neither hide nor raise the other's alerts".into(),
            interval: "1m".into(),
            input_series: input,
            alert_rule_test: tests,
        }
    }

    fn stale_case(&self) -> TestGroup {
        let kind = AlertKind::MonitorStale;
        let stale = self.config.alerts.stale_after.as_secs();
        let for_s = self.config.alerts.stale_for.as_secs();
        let fire_at = stale + STEP + for_s;
        let minutes = fire_at / STEP + 5;
        let last = &self.config.metrics.last_success;
        TestGroup {
            name: format!(
                "{}: no complete run for {} fires; a monitor that keeps running stays silent",
                self.name(kind),
                format_duration(SignedDuration::from_secs(stale))
            ),
            interval: "1m".into(),
            input_series: vec![
                InputSeries {
                    series: series(last, &[(names::JOB_LABEL, &self.job)]),
                    values: constant(0, minutes),
                },
                InputSeries {
                    series: series(last, &[(names::JOB_LABEL, "still-running")]),
                    values: format!("0+60x{minutes}"),
                },
            ],
            alert_rule_test: self.timeline(
                kind,
                &[stale, stale + for_s],
                fire_at,
                vec![ExpectedAlert {
                    exp_labels: self.alert_labels(kind, &[(names::JOB_LABEL, &self.job)]),
                    exp_annotations: self.annotations(kind, "", "", fire_at),
                }],
            ),
        }
    }

    /// The labels of this deployment's MonitorNeverRun: those `absent()` is scoped by.
    fn absent_labels(&self) -> Vec<(&str, &str)> {
        if self.full() && self.config.pushgateway.is_some() {
            self.own()
        } else {
            Vec::new()
        }
    }

    fn never_ran_cases(&self) -> Vec<TestGroup> {
        let kind = AlertKind::MonitorNeverRun;
        let for_s = self.config.alerts.never_ran_for.as_secs();
        let minutes = for_s / STEP + 5;
        let last = &self.config.metrics.last_success;
        let other = InputSeries {
            series: series("up", &[(names::JOB_LABEL, "prometheus")]),
            values: constant(1, minutes),
        };
        vec![
            TestGroup {
                name: format!(
                    "{}: fires after {} without a last-success series",
                    self.name(kind),
                    format_duration(SignedDuration::from_secs(for_s))
                ),
                interval: "1m".into(),
                input_series: vec![other],
                alert_rule_test: self.timeline(
                    kind,
                    &[for_s - STEP],
                    for_s,
                    vec![ExpectedAlert {
                        exp_labels: self.alert_labels(kind, &self.absent_labels()),
                        exp_annotations: self.annotations(kind, "", "", 0),
                    }],
                ),
            },
            TestGroup {
                name: format!("{}: silent once credwatch has reported", self.name(kind)),
                interval: "1m".into(),
                input_series: vec![InputSeries {
                    series: series(last, &self.own()),
                    values: format!("0+60x{minutes}"),
                }],
                alert_rule_test: self.timeline(kind, &[], for_s + STEP, vec![]),
            },
        ]
    }

    /// An expiring pool member whose pool holds a healthy, different value: the description says so.
    fn replacement_case(&self, t: Thresholds) -> TestGroup {
        let kind = AlertKind::ExpiringSoon;
        let c = self.config.metrics.credential_label.as_str();
        let for_s = self.config.alerts.expiring_for.as_secs();
        let expiry = t.warn_before.as_secs() - STEP;
        let fire_at = for_s;
        let minutes = fire_at / STEP + 5;
        let mut input = self.credential_series("primary", "inventory", expiry, t, minutes);
        input.extend(self.credential_series(
            "spare-1",
            "inventory",
            expiry + 100 * 86_400,
            t,
            minutes,
        ));
        for (cred, available) in [("primary", 1), ("spare-1", 0)] {
            input.push(InputSeries {
                series: series(
                    names::REPLACEMENT_AVAILABLE,
                    &scoped(&[(c, cred), (names::POOL_LABEL, "agent")], &self.own()),
                ),
                values: constant(available, minutes),
            });
        }
        TestGroup {
            name: format!(
                "{}: the description says when a replacement exists",
                self.name(kind)
            ),
            interval: "1m".into(),
            input_series: input,
            alert_rule_test: self.timeline(
                kind,
                &[],
                fire_at,
                vec![ExpectedAlert {
                    exp_labels: self
                        .alert_labels(kind, &self.expiry_labels("primary", "inventory")),
                    exp_annotations: self.annotations_with(
                        kind,
                        "primary",
                        "inventory",
                        expiry - fire_at,
                        "",
                        true,
                    ),
                }],
            ),
        }
    }

    fn format_case(&self, cred: &str) -> TestGroup {
        let kind = AlertKind::FormatInvalid;
        let c = self.config.metrics.credential_label.as_str();
        let job = self.job.as_str();
        let for_s = self.config.alerts.critical_for.as_secs();
        let minutes = for_s / STEP + 5;
        let bad = [
            (c, cred),
            (names::JOB_LABEL, job),
            (names::FORMAT_LABEL, "claude-oauth"),
        ];
        let good = [
            (c, "well-formed"),
            (names::JOB_LABEL, job),
            (names::FORMAT_LABEL, "claude-oauth"),
        ];
        TestGroup {
            name: format!(
                "{}: a malformed value fires after {}",
                self.name(kind),
                format_duration(SignedDuration::from_secs(for_s))
            ),
            interval: "1m".into(),
            input_series: vec![
                InputSeries {
                    series: series(names::FORMAT_OK, &bad),
                    values: constant(0, minutes),
                },
                InputSeries {
                    series: series(names::FORMAT_OK, &good),
                    values: constant(1, minutes),
                },
            ],
            alert_rule_test: self.timeline(
                kind,
                &[for_s - STEP],
                for_s,
                vec![ExpectedAlert {
                    exp_labels: self.alert_labels(kind, &bad),
                    exp_annotations: self.annotations(kind, cred, INVENTORY_SOURCE, 0),
                }],
            ),
        }
    }

    /// A rejection fires at once; a credential the issuer accepts stays silent.
    fn rejected_case(&self, cred: &str) -> TestGroup {
        let kind = AlertKind::CredentialRejected;
        let c = self.config.metrics.credential_label.as_str();
        let job = self.job.as_str();
        let labels = |name| {
            [
                (c, name),
                (names::JOB_LABEL, job),
                (names::PROBE_LABEL, "github"),
            ]
        };
        let (bad, good) = (labels(cred), labels("accepted"));
        TestGroup {
            name: format!("{}: a rejection fires at once", self.name(kind)),
            interval: "1m".into(),
            input_series: vec![
                InputSeries {
                    series: series(names::PROBE_REJECTED, &bad),
                    values: "0 0 1 1".into(),
                },
                InputSeries {
                    series: series(names::PROBE_REJECTED, &good),
                    values: constant(0, 3),
                },
            ],
            alert_rule_test: self.timeline(
                kind,
                &[STEP],
                2 * STEP,
                vec![ExpectedAlert {
                    exp_labels: self.alert_labels(kind, &bad),
                    exp_annotations: self.annotations(kind, cred, INVENTORY_SOURCE, 1),
                }],
            ),
        }
    }

    /// A probe without a verdict fires after its `for:`; a rejection (probe_ok 0 too) does not
    /// count as failing, nor does an accepted one.
    fn probe_failing_case(&self, cred: &str) -> TestGroup {
        let kind = AlertKind::ProbeFailing;
        let c = self.config.metrics.credential_label.as_str();
        let job = self.job.as_str();
        let for_s = self.config.alerts.unknown_for.as_secs();
        let minutes = for_s / STEP + 5;
        let mut inputs = Vec::new();
        let mut failing = Vec::new();
        for (name, ok, rejected, class) in [
            (cred, 0, 0, "none"),
            ("rejected", 0, 1, "4xx"),
            ("accepted", 1, 0, "2xx"),
        ] {
            let base = [
                (c, name),
                (names::JOB_LABEL, job),
                (names::PROBE_LABEL, "github"),
            ];
            let mut with_class = base.to_vec();
            with_class.push((names::STATUS_CLASS_LABEL, class));
            if name == cred {
                failing = with_class.clone();
            }
            inputs.push(InputSeries {
                series: series(names::PROBE_OK, &with_class),
                values: constant(ok, minutes),
            });
            inputs.push(InputSeries {
                series: series(names::PROBE_REJECTED, &base),
                values: constant(rejected, minutes),
            });
        }
        TestGroup {
            name: format!(
                "{}: no verdict fires after {}, a rejection is not a failing probe",
                self.name(kind),
                format_duration(SignedDuration::from_secs(for_s))
            ),
            interval: "1m".into(),
            input_series: inputs,
            alert_rule_test: self.timeline(
                kind,
                &[for_s - STEP],
                for_s,
                vec![ExpectedAlert {
                    exp_labels: self.alert_labels(kind, &failing),
                    exp_annotations: self.annotations(kind, cred, INVENTORY_SOURCE, 0),
                }],
            ),
        }
    }

    fn pool_duplicate_case(&self) -> TestGroup {
        let kind = AlertKind::PoolDuplicate;
        let job = self.job.as_str();
        let for_s = self.config.alerts.expiring_for.as_secs();
        let minutes = for_s / STEP + 5;
        let pool = |p: &'static str| [(names::POOL_LABEL, p), (names::JOB_LABEL, job)];
        TestGroup {
            name: format!(
                "{}: three members holding two values fire; a clean pool stays silent",
                self.name(kind)
            ),
            interval: "1m".into(),
            input_series: vec![
                InputSeries {
                    series: series(names::POOL_MEMBERS, &pool("agent")),
                    values: constant(3, minutes),
                },
                InputSeries {
                    series: series(names::POOL_DISTINCT, &pool("agent")),
                    values: constant(2, minutes),
                },
                InputSeries {
                    series: series(names::POOL_MEMBERS, &pool("clean")),
                    values: constant(2, minutes),
                },
                InputSeries {
                    series: series(names::POOL_DISTINCT, &pool("clean")),
                    values: constant(2, minutes),
                },
            ],
            alert_rule_test: self.timeline(
                kind,
                &[for_s - STEP],
                for_s,
                vec![ExpectedAlert {
                    exp_labels: self.alert_labels(kind, &pool("agent")),
                    exp_annotations: self.annotations_with(kind, "", "", 2, "agent", false),
                }],
            ),
        }
    }

    fn pool_runway_case(&self) -> TestGroup {
        let kind = AlertKind::PoolRunwayLow;
        let job = self.job.as_str();
        let warn = self.config.defaults.pools.warn_before.as_secs();
        let for_s = self.config.alerts.expiring_for.as_secs();
        let cross = 2 * 3_600;
        let runway_end = warn + cross;
        let fire_at = cross + STEP + for_s;
        let minutes = fire_at / STEP + 5;
        let labels = [(names::POOL_LABEL, "agent"), (names::JOB_LABEL, job)];
        TestGroup {
            name: format!(
                "{}: a pool with {} of runway left fires after {}",
                self.name(kind),
                format_duration(SignedDuration::from_secs(warn)),
                format_duration(SignedDuration::from_secs(for_s))
            ),
            interval: "1m".into(),
            input_series: vec![
                InputSeries {
                    series: series(names::POOL_RUNWAY_EXPIRY, &labels),
                    values: constant(runway_end, minutes),
                },
                InputSeries {
                    series: series(names::POOL_RUNWAY_WARN_BEFORE, &labels),
                    values: constant(warn, minutes),
                },
            ],
            alert_rule_test: self.timeline(
                kind,
                &[cross, cross + for_s],
                fire_at,
                vec![ExpectedAlert {
                    exp_labels: self.alert_labels(kind, &labels),
                    exp_annotations: self.annotations_with(
                        kind,
                        "",
                        "",
                        runway_end - fire_at,
                        "agent",
                        false,
                    ),
                }],
            ),
        }
    }

    /// Alert `kind` stays silent at each time of `silent` (seconds) and, at `fire_at`, shows
    /// exactly `expected` (empty: still silent).
    fn timeline(
        &self,
        kind: AlertKind,
        silent: &[i64],
        fire_at: i64,
        expected: Vec<ExpectedAlert>,
    ) -> Vec<AlertTest> {
        let mut tests: Vec<AlertTest> = silent
            .iter()
            .map(|&t| AlertTest {
                eval_time: at(t),
                alertname: self.name(kind),
                exp_alerts: vec![],
            })
            .collect();
        tests.push(AlertTest {
            eval_time: at(fire_at),
            alertname: self.name(kind),
            exp_alerts: expected,
        });
        tests
    }

    fn push_failing_case(&self) -> TestGroup {
        let kind = AlertKind::PushFailing;
        let for_s = self.config.alerts.push_failing_for.as_secs();
        let minutes = for_s / STEP + 5;
        let job = self.job.as_str();
        TestGroup {
            name: format!(
                "{}: a failed push newer than the last good one fires",
                self.name(kind)
            ),
            interval: "1m".into(),
            input_series: vec![
                InputSeries {
                    series: series(names::PUSHGATEWAY_PUSH_TIME, &[(names::JOB_LABEL, job)]),
                    values: constant(100, minutes),
                },
                InputSeries {
                    series: series(
                        names::PUSHGATEWAY_PUSH_FAILURE_TIME,
                        &[(names::JOB_LABEL, job)],
                    ),
                    values: constant(200, minutes),
                },
            ],
            alert_rule_test: self.timeline(
                kind,
                &[for_s - STEP],
                for_s,
                vec![ExpectedAlert {
                    exp_labels: self.alert_labels(kind, &[(names::JOB_LABEL, job)]),
                    exp_annotations: self.annotations(kind, "", "", 200),
                }],
            ),
        }
    }
}

/// The consumers' side of the rules (see `rules::covers_consumers`): a store-side job reports
/// the values it recorded, two consumer sidecars (another job) report their copies.
impl Builder<'_> {
    const CONSUMER_JOB: &'static str = "agent-sidecar";
    /// The source of the store-side credential the consumers copy.
    const STORE_SOURCE: &'static str = "vault";

    fn consumer_labels<'b>(
        &'b self,
        cred: &'b str,
        pod: &'b str,
        fp: &'b str,
    ) -> Vec<(&'b str, &'b str)> {
        vec![
            (self.config.metrics.credential_label.as_str(), cred),
            (names::CONSUMER_LABEL, pod),
            (names::FINGERPRINT_LABEL, fp),
            (names::JOB_LABEL, Self::CONSUMER_JOB),
        ]
    }

    fn consumer_annotations(
        &self,
        kind: AlertKind,
        cred: &str,
        pod: &str,
        value: i64,
    ) -> BTreeMap<String, String> {
        let expiry_kind = matches!(
            kind,
            AlertKind::ExpiringSoon | AlertKind::Critical | AlertKind::Expired
        );
        let mut vars = self.vars(cred, value);
        vars.job = Self::CONSUMER_JOB.to_string();
        if expiry_kind {
            vars.consumer = rules::consumer_sentence(pod);
        }
        vars.who = pod.to_string();
        // The runbook comes from the store's info series (see `stored_series`).
        self.annotations_of(kind, cred, Self::STORE_SOURCE, &vars)
    }

    /// The store's series for `cred`: the current value (far from expiry) and the replaced one
    /// (`old_expiry`, replaced at 0), with thresholds `t`.
    fn stored_series(
        &self,
        cred: &str,
        old_expiry: i64,
        t: Thresholds,
        minutes: i64,
    ) -> Vec<InputSeries> {
        let c = self.config.metrics.credential_label.as_str();
        let job = self.job.as_str();
        let value = |fp: &'static str, state: &'static str| {
            series(
                names::STORED_VALUE_EXPIRY,
                &[
                    (c, cred),
                    (names::FINGERPRINT_LABEL, fp),
                    (names::STATE_LABEL, state),
                    (names::JOB_LABEL, job),
                ],
            )
        };
        let mut out = self.credential_series(cred, Self::STORE_SOURCE, 400 * 86_400, t, minutes);
        out.extend([
            InputSeries {
                series: value("fp-new", names::STATE_CURRENT),
                values: constant(400 * 86_400, minutes),
            },
            InputSeries {
                series: value("fp-old", names::STATE_REPLACED),
                values: constant(old_expiry, minutes),
            },
            InputSeries {
                series: series(
                    names::STORED_VALUE_REPLACED,
                    &[
                        (c, cred),
                        (names::FINGERPRINT_LABEL, "fp-old"),
                        (names::JOB_LABEL, job),
                    ],
                ),
                values: constant(0, minutes),
            },
        ]);
        out
    }

    /// Two consumers: `pod-a` still holds the replaced value, `pod-b` the current one.
    fn consumer_series(&self, cred: &str, minutes: i64) -> Vec<InputSeries> {
        [("pod-a", "fp-old"), ("pod-b", "fp-new")]
            .into_iter()
            .map(|(pod, fp)| InputSeries {
                series: series(
                    names::CONSUMER_FINGERPRINT,
                    &self.consumer_labels(cred, pod, fp),
                ),
                values: constant(1, minutes),
            })
            .collect()
    }

    /// After a rotation the store's value is far from expiry, but `pod-a` still holds the old one:
    /// the expiry alert fires for `pod-a` alone, at the old value's threshold.
    fn consumer_expiry_case(&self, kind: AlertKind, cred: &str, t: Thresholds) -> TestGroup {
        let threshold = match kind {
            AlertKind::ExpiringSoon => t.warn_before.as_secs(),
            AlertKind::Critical => t.critical_before.as_secs(),
            _ => 0,
        };
        let for_s = rules::rule(self.config, kind).for_seconds(self.config);
        let cross = 2 * 3_600;
        let old_expiry = threshold + cross;
        let fire_at = cross + STEP + for_s;
        let minutes = fire_at / STEP + 5;
        let mut input = self.stored_series(cred, old_expiry, t, minutes);
        input.extend(self.consumer_series(cred, minutes));
        let silent: Vec<i64> = if for_s > 0 {
            vec![cross, cross + for_s]
        } else {
            vec![cross - STEP]
        };
        let fire_at = if for_s > 0 { fire_at } else { cross };
        TestGroup {
            name: format!(
                "{}: a consumer still holding the replaced value fires at that value's expiry; one holding the new value stays silent",
                self.name(kind)
            ),
            interval: "1m".into(),
            input_series: input,
            alert_rule_test: self.timeline(
                kind,
                &silent,
                fire_at,
                vec![ExpectedAlert {
                    exp_labels: self
                        .alert_labels(kind, &self.consumer_labels(cred, "pod-a", "fp-old")),
                    exp_annotations: self.consumer_annotations(
                        kind,
                        cred,
                        "pod-a",
                        old_expiry - fire_at,
                    ),
                }],
            ),
        }
    }

    fn consumer_stale_case(&self, cred: &str, t: Thresholds) -> TestGroup {
        let kind = AlertKind::ConsumerStale;
        let grace = self.config.alerts.propagation_grace.as_secs();
        let fire_at = grace + STEP;
        let minutes = fire_at / STEP + 5;
        let mut input = self.stored_series(cred, 300 * 86_400, t, minutes);
        input.extend(self.consumer_series(cred, minutes));
        TestGroup {
            name: format!(
                "{}: a consumer holding the replaced value fires once {} have passed; the current one stays silent",
                self.name(kind),
                format_duration(SignedDuration::from_secs(grace))
            ),
            interval: "1m".into(),
            input_series: input,
            alert_rule_test: self.timeline(
                kind,
                &[grace],
                fire_at,
                vec![ExpectedAlert {
                    exp_labels: self
                        .alert_labels(kind, &self.consumer_labels(cred, "pod-a", "fp-old")),
                    exp_annotations: self.consumer_annotations(kind, cred, "pod-a", fire_at),
                }],
            ),
        }
    }

    fn consumer_unknown_case(&self, cred: &str, t: Thresholds) -> TestGroup {
        let kind = AlertKind::ConsumerUnknownValue;
        let for_s = self.config.alerts.unknown_for.as_secs();
        let minutes = for_s / STEP + 5;
        let c = self.config.metrics.credential_label.as_str();
        let mut input = self.stored_series(cred, 300 * 86_400, t, minutes);
        input.extend(self.consumer_series(cred, minutes));
        let stranger = self.consumer_labels(cred, "pod-c", "fp-unrelated");
        let unreadable = [
            (c, cred),
            (names::CONSUMER_LABEL, "pod-d"),
            (names::JOB_LABEL, Self::CONSUMER_JOB),
        ];
        input.push(InputSeries {
            series: series(names::CONSUMER_FINGERPRINT, &stranger),
            values: constant(1, minutes),
        });
        input.push(InputSeries {
            series: series(names::CONSUMER_READ_OK, &unreadable),
            values: constant(0, minutes),
        });
        TestGroup {
            name: format!(
                "{}: a copy matching nothing recorded, or unreadable, fires after {}; current and stale copies do not",
                self.name(kind),
                format_duration(SignedDuration::from_secs(for_s))
            ),
            interval: "1m".into(),
            input_series: input,
            alert_rule_test: self.timeline(
                kind,
                &[for_s - STEP],
                for_s,
                vec![
                    ExpectedAlert {
                        exp_labels: self.alert_labels(kind, &stranger),
                        exp_annotations: self.consumer_annotations(kind, cred, "pod-c", 1),
                    },
                    ExpectedAlert {
                        exp_labels: self.alert_labels(kind, &unreadable),
                        exp_annotations: self.consumer_annotations(kind, cred, "pod-d", 0),
                    },
                ],
            ),
        }
    }
}

/// Credentials whose thresholds get a case each: the first of every distinct threshold pair, and
/// the defaults (as `example` when no credential uses them).
fn threshold_subjects(config: &Config) -> Vec<(String, String, Thresholds)> {
    let mut subjects: Vec<(String, String, Thresholds)> = Vec::new();
    let mut add = |name: &str, source: &str, t: Thresholds| {
        if !subjects.iter().any(|(_, _, seen)| *seen == t) {
            subjects.push((name.to_string(), source.to_string(), t));
        }
    };
    for e in &config.inventory {
        add(
            &e.credential.name,
            INVENTORY_SOURCE,
            e.credential.thresholds,
        );
    }
    for s in &config.sources {
        add("example", s.name(), s.thresholds());
    }
    add("example", INVENTORY_SOURCE, config.defaults.thresholds);
    if !config.metrics.extra_series {
        // The rules only know [defaults]; test those.
        subjects.retain(|(_, _, t)| *t == config.defaults.thresholds);
    }
    subjects
}

pub fn render(config: &Config, rule_file: &str) -> Result<String, String> {
    let job = config
        .pushgateway
        .as_ref()
        .map_or("credwatch", |p| p.job.as_str())
        .to_string();
    let grouping = config
        .pushgateway
        .as_ref()
        .map(|p| p.grouping.clone().into_iter().collect())
        .unwrap_or_default();
    let b = Builder {
        config,
        job,
        grouping,
    };
    let kinds = rules::kinds(config);
    let subjects = threshold_subjects(config);
    let mut tests = Vec::new();
    for kind in [AlertKind::ExpiringSoon, AlertKind::Critical] {
        for (cred, source, t) in &subjects {
            tests.push(b.threshold_case(kind, cred, source, *t));
        }
    }
    let (cred, source, t) = subjects.first().cloned().ok_or("no thresholds to test")?;
    if kinds.contains(&AlertKind::Expired) {
        tests.push(b.expired_case(&cred, &source, t));
    }
    if kinds.contains(&AlertKind::NotYetValid) {
        tests.push(b.not_yet_valid_case(&cred, &source));
    }
    if kinds.contains(&AlertKind::ExpiryUnknown) {
        tests.push(b.unknown_case(&cred));
    }
    if kinds.contains(&AlertKind::SourceDown) {
        tests.push(b.source_down_case());
        tests.push(b.two_deployments_case());
    }
    tests.push(b.stale_case());
    tests.extend(b.never_ran_cases());
    if kinds.contains(&AlertKind::PushFailing) {
        tests.push(b.push_failing_case());
    }
    if kinds.contains(&AlertKind::FormatInvalid) {
        tests.push(b.format_case(&cred));
        tests.push(b.replacement_case(config.defaults.thresholds));
    }
    if kinds.contains(&AlertKind::PoolDuplicate) {
        tests.push(b.pool_duplicate_case());
    }
    if kinds.contains(&AlertKind::PoolRunwayLow) {
        tests.push(b.pool_runway_case());
    }
    if kinds.contains(&AlertKind::CredentialRejected) {
        tests.push(b.rejected_case(&cred));
    }
    if kinds.contains(&AlertKind::ProbeFailing) {
        tests.push(b.probe_failing_case(&cred));
    }
    if rules::covers_consumers(config) {
        for kind in [
            AlertKind::ExpiringSoon,
            AlertKind::Critical,
            AlertKind::Expired,
        ] {
            tests.push(b.consumer_expiry_case(kind, &cred, t));
        }
        tests.push(b.consumer_stale_case(&cred, t));
        tests.push(b.consumer_unknown_case(&cred, t));
    }
    let file = TestFile {
        rule_files: vec![rule_file.to_string()],
        evaluation_interval: "1m".into(),
        tests,
    };
    let yaml = serde_norway::to_string(&file).map_err(|e| format!("cannot write YAML: {e}"))?;
    Ok(format!(
        "# Generated by `credwatch render rule-tests`; run with `promtool test rules <this file>`.\n{yaml}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humanize_duration_matches_prometheus() {
        assert_eq!(humanize_duration(0), "0s");
        assert_eq!(humanize_duration(59), "59s");
        assert_eq!(humanize_duration(61), "1m 1s");
        assert_eq!(humanize_duration(3_600), "1h 0m 0s");
        assert_eq!(humanize_duration(30 * 86_400 - 3_660), "29d 22h 59m 0s");
        assert_eq!(humanize_duration(-90), "-1m 30s");
    }
}
