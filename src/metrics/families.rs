//! The metrics contract: a [`Report`] → the gauge families credwatch exposes. Pure.
//!
//! | series | meaning |
//! |---|---|
//! | `<expiry>{credential,pool,source,kind,…labels}` | expiry, only when known |
//! | `credwatch_credential_minted_timestamp_seconds{…}` | mint time, when known |
//! | `credwatch_credential_not_before_timestamp_seconds{…}` | start of validity, where the value states it (X.509, SSH certificate, JWT `nbf`) |
//! | `credwatch_credential_warn_before_seconds` / `…_critical_before_seconds{credential}` | thresholds |
//! | `credwatch_credential_read_ok{credential}` | 1 read this run, 0 failed |
//! | `credwatch_credential_format_ok{credential,format}` | 1 the value fits its format, 0 not |
//! | `credwatch_credential_info{credential,source,kind,pool,fingerprint,runbook}` | 1; fingerprint only where the value was read, runbook where one is configured |
//! | `credwatch_credential_replacement_available{credential,pool}` | 1 another healthy, distinct pool member exists |
//! | `credwatch_credential_probe_ok{credential,probe,status_class}` | 1 the issuer accepted it when last probed, 0 not |
//! | `credwatch_credential_probe_rejected{credential,probe}` | 1 the issuer rejected it, 0 otherwise |
//! | `credwatch_credential_probe_timestamp_seconds{credential,probe}` | when it was last probed |
//! | `credwatch_pool_members{pool}`, `credwatch_pool_distinct_credentials{pool}` | members and distinct values |
//! | `credwatch_pool_runway_expiry_timestamp_seconds{pool}` | when the last usable distinct member expires |
//! | `credwatch_pool_runway_warn_before_seconds{pool}` | the pool's runway threshold |
//! | `credwatch_consumer_fingerprint_info{credential,consumer,fingerprint}` | 1 per `[[consumer]]` copy read |
//! | `credwatch_consumer_read_ok{credential,consumer}` | 1 the copy was read, 0 not |
//! | `credwatch_stored_value_expiry_timestamp_seconds{credential,fingerprint,state}` | expiry of a value the store holds (`current`) or held (`replaced`) |
//! | `credwatch_stored_value_replaced_timestamp_seconds{credential,fingerprint}` | when the store moved on from a value |
//! | `credwatch_source_up{source}` | 1/0 per source |
//! | `credwatch_source_error{source,reason}` | 1 for a failed source, with why |
//! | `<last_success>` | only when every source and credential was read (see [`super::delivery`]) |
//! | `credwatch_last_run_timestamp_seconds`, `credwatch_run_duration_seconds`, `credwatch_build_info{version}` | bookkeeping |
//!
//! `<expiry>`, `<last_success>` and the `credential` label take their names from `[metrics]`.

use jiff::{SignedDuration, Timestamp};

use super::names;
use super::text::{self, Samples};
use crate::assess::carry::Known;
use crate::assess::{Assessment, Report};
use crate::config::MetricNames;
use crate::credential::{Basis, Credential, ProbeVerdict, StoredValue, Thresholds};
use crate::metrics::text::Series;

/// Facts about the run itself, measured by the caller.
#[derive(Debug, Clone, Copy)]
pub struct RunInfo {
    pub finished_at: Timestamp,
    pub duration_seconds: f64,
}

/// The exposition text of one run, written straight from the report (no list of samples in
/// between), with the last-success series holding `last_success`, or left out when `None`.
pub fn encode_report(
    report: &Report,
    names: &MetricNames,
    run: RunInfo,
    last_success: Option<Timestamp>,
) -> String {
    // Room for the least text a credential takes (five series naming it): a text grown by
    // doubling from nothing leaves the copies it outgrew behind, as much again as the text.
    let mut out = String::with_capacity(4096 + 512 * report.assessments.len());
    encode_report_into(report, names, run, last_success, &mut out);
    out
}

/// [`encode_report`] into `out` (a file through a buffer, so that the text of a large report is
/// never held whole). A writer that fails keeps its error; the rest of the text is dropped.
pub fn encode_report_into(
    report: &Report,
    names: &MetricNames,
    run: RunInfo,
    last_success: Option<Timestamp>,
    out: &mut impl std::fmt::Write,
) {
    emit(
        report,
        names,
        run,
        last_success,
        &mut text::Encoder::new(out),
    );
}

fn flag(on: bool) -> f64 {
    if on { 1.0 } else { 0.0 }
}

/// Every family of one run, in exposition order, each followed by its samples (see the table
/// above); the last-success series holds `last_success`, or has no sample when `None`.
fn emit(
    report: &Report,
    names: &MetricNames,
    run: RunInfo,
    last_success: Option<Timestamp>,
    out: &mut dyn Samples,
) {
    let cred = names.credential_label.as_str();
    let extra = names.extra_series;
    // One label buffer for every sample, borrowing from the report.
    let mut l: Vec<(&str, &str)> = Vec::with_capacity(8);
    let kind = |a: &Assessment| a.evidence.as_ref().map_or("unknown", |e| e.basis.label());
    out.family(
        &names.expiry,
        "When the credential expires, as unix seconds.",
    );
    for a in &report.assessments {
        if let Some(t) = a.evidence.as_ref().and_then(|e| e.expires_at) {
            full_labels(&mut l, a, cred, extra, kind(a));
            out.sample(&l, t.as_second() as f64);
        }
    }
    let last_success_family = |out: &mut dyn Samples| {
        out.family(
            &names.last_success,
            "When credwatch last read every source and delivered the result, as unix seconds.",
        );
        if let Some(t) = last_success {
            out.sample(&[], t.as_second() as f64);
        }
    };
    if !extra {
        last_success_family(out);
        return;
    }

    out.family(
        names::MINTED,
        "When the credential was minted or issued, as unix seconds.",
    );
    for a in &report.assessments {
        if let Some(m) = a.evidence.as_ref().and_then(|e| e.minted_at) {
            full_labels(&mut l, a, cred, extra, kind(a));
            out.sample(&l, m.as_second() as f64);
        }
    }
    out.family(
        names::NOT_BEFORE,
        "When the credential's validity starts, as the value states it, as unix seconds.",
    );
    for a in &report.assessments {
        if let Some(n) = a.evidence.as_ref().and_then(|e| e.not_before()) {
            full_labels(&mut l, a, cred, extra, kind(a));
            out.sample(&l, n.as_second() as f64);
        }
    }
    out.family(
        names::WARN_BEFORE,
        "Time before expiry at which the credential starts to warn.",
    );
    for a in &report.assessments {
        let c = &a.credential;
        out.sample(
            &[(cred, &c.name)],
            c.thresholds.warn_before.as_secs() as f64,
        );
    }
    out.family(
        names::CRITICAL_BEFORE,
        "Time before expiry at which the credential becomes critical.",
    );
    for a in &report.assessments {
        let c = &a.credential;
        out.sample(
            &[(cred, &c.name)],
            c.thresholds.critical_before.as_secs() as f64,
        );
    }
    out.family(
        names::READ_OK,
        "1 if the credential's expiry was read in this run, 0 if reading it failed.",
    );
    for a in &report.assessments {
        out.sample(&[(cred, &a.credential.name)], flag(a.error.is_none()));
    }
    out.family(
        names::FORMAT_OK,
        "1 if the credential's value has the shape its format requires, 0 if not.",
    );
    for a in &report.assessments {
        if let Some(f) = a.evidence.as_ref().and_then(|e| e.format.as_ref()) {
            out.sample(
                &[
                    (cred, &a.credential.name),
                    (names::FORMAT_LABEL, &f.profile),
                ],
                flag(f.problem.is_none()),
            );
        }
    }
    out.family(names::INFO, "Where a credential comes from; always 1.");
    for a in &report.assessments {
        let c = &a.credential;
        l.clear();
        l.extend([
            (cred, c.name.as_str()),
            (names::SOURCE_LABEL, &c.source),
            (names::KIND_LABEL, kind(a)),
        ]);
        if let Some(pool) = &c.pool {
            l.push((names::POOL_LABEL, pool));
        }
        if let Some(fp) = a.evidence.as_ref().and_then(|e| e.fingerprint.as_deref()) {
            l.push((names::FINGERPRINT_LABEL, fp));
        }
        if let Some(r) = &c.runbook {
            l.push((names::RUNBOOK_LABEL, r));
        }
        out.sample(&l, 1.0);
    }
    out.family(
        names::REPLACEMENT_AVAILABLE,
        "1 if another pool member holding a different, healthy value could take over.",
    );
    for a in &report.assessments {
        if let Some(pool) = &a.credential.pool {
            out.sample(
                &[(cred, &a.credential.name), (names::POOL_LABEL, pool)],
                flag(a.replacement.is_some()),
            );
        }
    }
    let probed = || {
        report.assessments.iter().filter_map(|a| {
            let p = a.evidence.as_ref().and_then(|e| e.probe.as_deref())?;
            Some((a.credential.name.as_str(), p))
        })
    };
    out.family(
        names::PROBE_OK,
        "1 if the issuer accepted the credential when last probed, 0 if it rejected it or gave no verdict.",
    );
    for (name, p) in probed() {
        out.sample(
            &[
                (cred, name),
                (names::PROBE_LABEL, &p.preset),
                (names::STATUS_CLASS_LABEL, p.status_class()),
            ],
            flag(p.verdict == ProbeVerdict::Accepted),
        );
    }
    out.family(
        names::PROBE_REJECTED,
        "1 if the issuer rejected the credential (expired or revoked) when last probed, 0 otherwise.",
    );
    for (name, p) in probed() {
        out.sample(
            &[(cred, name), (names::PROBE_LABEL, &p.preset)],
            flag(matches!(p.verdict, ProbeVerdict::Rejected { .. })),
        );
    }
    out.family(
        names::PROBE_TIMESTAMP,
        "When the credential was last probed, as unix seconds.",
    );
    for (name, p) in probed() {
        out.sample(
            &[(cred, name), (names::PROBE_LABEL, &p.preset)],
            p.at.as_second() as f64,
        );
    }

    out.family(names::POOL_MEMBERS, "How many credentials the pool lists.");
    for p in &report.pools {
        out.sample(&[(names::POOL_LABEL, &p.name)], p.members.len() as f64);
    }
    out.family(
        names::POOL_DISTINCT,
        "How many different values the pool's members hold.",
    );
    for p in &report.pools {
        out.sample(&[(names::POOL_LABEL, &p.name)], p.distinct as f64);
    }
    out.family(
        names::POOL_RUNWAY_EXPIRY,
        "When the pool's last usable distinct credential expires, as unix seconds.",
    );
    for p in &report.pools {
        let at = match p.runway_until {
            // No usable member: the runway is over.
            None => report.now,
            Some(t) if t == Timestamp::MAX => continue,
            Some(t) => t,
        };
        out.sample(&[(names::POOL_LABEL, &p.name)], at.as_second() as f64);
    }
    out.family(
        names::POOL_RUNWAY_WARN_BEFORE,
        "Warn when the pool's runway is shorter than this.",
    );
    for p in &report.pools {
        out.sample(
            &[(names::POOL_LABEL, &p.name)],
            p.runway_warn_before.as_secs() as f64,
        );
    }

    out.family(
        names::SOURCE_UP,
        "1 if the source was read in this run, 0 if it failed.",
    );
    for s in &report.sources {
        out.sample(&[(names::SOURCE_LABEL, &s.name)], flag(s.error.is_none()));
    }
    out.family(
        names::SOURCE_ERROR,
        "1 for a source that failed in this run, with the reason (sealed, denied, unreachable, ...).",
    );
    for s in report.sources.iter().filter(|s| s.error.is_some()) {
        out.sample(
            &[
                (names::SOURCE_LABEL, &s.name),
                (names::REASON_LABEL, s.reason.unwrap_or("error")),
            ],
            1.0,
        );
    }

    emit_copies(report, cred, out);

    last_success_family(out);
    out.family(names::LAST_RUN, "When credwatch last ran, as unix seconds.");
    out.sample(&[], run.finished_at.as_second() as f64);
    out.family(names::RUN_DURATION, "How long the last run took.");
    out.sample(&[], run.duration_seconds);
    out.family(
        names::BUILD_INFO,
        "The credwatch version that produced these series.",
    );
    out.sample(&[(names::VERSION_LABEL, env!("CARGO_PKG_VERSION"))], 1.0);
}

/// The labels of the expiry and mint series: the credential, its pool, source and kind (unless
/// `[metrics] extra_series` is off), then its own labels.
fn full_labels<'r>(
    l: &mut Vec<(&'r str, &'r str)>,
    a: &'r Assessment,
    cred: &'r str,
    extra: bool,
    kind: &'r str,
) {
    let c = &a.credential;
    l.clear();
    l.push((cred, &c.name));
    if extra {
        if let Some(pool) = &c.pool {
            l.push((names::POOL_LABEL, pool));
        }
        l.push((names::SOURCE_LABEL, &c.source));
        l.push((names::KIND_LABEL, kind));
    }
    l.extend(c.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
}

/// The consumers' copies and the values stores recorded (see the table above).
fn emit_copies(report: &Report, cred: &str, out: &mut dyn Samples) {
    let (consumers, stored) = (&report.copies.consumers, &report.copies.stored);
    out.family(
        names::CONSUMER_FINGERPRINT,
        "A consumer's copy of a stored credential, by fingerprint; always 1.",
    );
    for c in consumers {
        if let Ok(f) = &c.fingerprint {
            out.sample(
                &[
                    (cred, &c.credential),
                    (names::CONSUMER_LABEL, &c.consumer),
                    (names::FINGERPRINT_LABEL, f),
                ],
                1.0,
            );
        }
    }
    out.family(
        names::CONSUMER_READ_OK,
        "1 if the consumer's copy was read, 0 if not.",
    );
    for c in consumers {
        out.sample(
            &[(cred, &c.credential), (names::CONSUMER_LABEL, &c.consumer)],
            flag(c.fingerprint.is_ok()),
        );
    }
    out.family(
        names::STORED_VALUE_EXPIRY,
        "When a value the store holds (current) or held (replaced) expires, as unix seconds.",
    );
    for s in stored {
        if let Some(at) = s.expires_at {
            let state = match s.replaced_at {
                None => names::STATE_CURRENT,
                Some(_) => names::STATE_REPLACED,
            };
            out.sample(
                &[
                    (cred, &s.credential),
                    (names::FINGERPRINT_LABEL, &s.fingerprint),
                    (names::STATE_LABEL, state),
                ],
                at.as_second() as f64,
            );
        }
    }
    out.family(
        names::STORED_VALUE_REPLACED,
        "When the store stopped holding a value, as unix seconds.",
    );
    for s in stored {
        if let Some(at) = s.replaced_at {
            out.sample(
                &[
                    (cred, &s.credential),
                    (names::FINGERPRINT_LABEL, &s.fingerprint),
                ],
                at.as_second() as f64,
            );
        }
    }
}

/// The values a store recorded, read back from their series (the inverse of the stored-value
/// families), so a run that cannot read the store carries them like the expiry. Pure.
pub fn stored_from_series(series: &[Series], names: &MetricNames) -> Vec<StoredValue> {
    let cred = names.credential_label.as_str();
    let seconds = |v: f64| Timestamp::from_second(v as i64).ok();
    series
        .iter()
        .filter(|s| s.metric == names::STORED_VALUE_EXPIRY)
        .filter_map(|s| {
            let credential = s.labels.get(cred)?.clone();
            let fingerprint = s.labels.get(names::FINGERPRINT_LABEL)?.clone();
            let replaced_at = series
                .iter()
                .find(|r| {
                    r.metric == names::STORED_VALUE_REPLACED
                        && r.labels.get(cred) == Some(&credential)
                        && r.labels.get(names::FINGERPRINT_LABEL) == Some(&fingerprint)
                })
                .and_then(|r| seconds(r.value));
            Some(StoredValue {
                credential,
                fingerprint,
                replaced_at,
                expires_at: seconds(s.value),
            })
        })
        .collect()
}

/// The inverse of [`encode_report`] for what a partial run needs: the last known expiry of each
/// credential, with the labels it was delivered with. Thresholds come from the delivered
/// threshold series, else `defaults`. Pure.
pub fn known_from_series(
    series: &[Series],
    names: &MetricNames,
    defaults: Thresholds,
) -> Vec<Known> {
    let cred = names.credential_label.as_str();
    let value_of = |metric: &str, name: &str| {
        series
            .iter()
            .find(|s| s.metric == metric && s.labels.get(cred).map(String::as_str) == Some(name))
            .map(|s| s.value)
    };
    let seconds = |v: f64| Timestamp::from_second(v as i64).ok().filter(|_| v > 0.0);
    series
        .iter()
        .filter(|s| s.metric == names.expiry)
        .filter_map(|s| {
            let name = s.labels.get(cred)?.clone();
            let expires_at = seconds(s.value)?;
            let mut labels = s.labels.clone();
            labels.remove(cred);
            let pool = labels.remove(names::POOL_LABEL);
            let source = labels.remove(names::SOURCE_LABEL).unwrap_or_default();
            let basis = labels
                .remove(names::KIND_LABEL)
                .and_then(|k| Basis::from_label(&k))
                .unwrap_or(Basis::ExpiresAt);
            let thresholds = Thresholds {
                warn_before: value_of(names::WARN_BEFORE, &name)
                    .map_or(defaults.warn_before, |v| {
                        SignedDuration::from_secs(v as i64)
                    }),
                critical_before: value_of(names::CRITICAL_BEFORE, &name)
                    .map_or(defaults.critical_before, |v| {
                        SignedDuration::from_secs(v as i64)
                    }),
            };
            let info = series.iter().find(|i| {
                i.metric == names::INFO && i.labels.get(cred).map(String::as_str) == Some(&name)
            });
            let info_label = |label: &str| info.and_then(|i| i.labels.get(label).cloned());
            let fingerprint = info_label(names::FINGERPRINT_LABEL);
            Some(Known {
                fingerprint,
                basis,
                minted_at: value_of(names::MINTED, &name).and_then(seconds),
                expires_at,
                credential: Credential {
                    name,
                    pool,
                    source,
                    labels: labels.into(),
                    runbook: info_label(names::RUNBOOK_LABEL),
                    thresholds,
                },
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn series(metric: &str, labels: &[(&str, &str)], value: f64) -> Series {
        Series {
            metric: metric.into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            value,
        }
    }

    #[test]
    fn recorded_values_read_back_with_their_replacement_time() {
        let names = MetricNames::default();
        let held = vec![
            series(
                names::STORED_VALUE_EXPIRY,
                &[
                    ("credential", "primary"),
                    ("fingerprint", "fp-new"),
                    ("state", "current"),
                ],
                1.9e9,
            ),
            series(
                names::STORED_VALUE_EXPIRY,
                &[
                    ("credential", "primary"),
                    ("fingerprint", "fp-old"),
                    ("state", "replaced"),
                ],
                1.8e9,
            ),
            series(
                names::STORED_VALUE_REPLACED,
                &[("credential", "primary"), ("fingerprint", "fp-old")],
                1.7e9,
            ),
        ];
        let stored = stored_from_series(&held, &names);
        let got: Vec<(&str, Option<i64>, Option<i64>)> = stored
            .iter()
            .map(|s| {
                (
                    s.fingerprint.as_str(),
                    s.replaced_at.map(|t| t.as_second()),
                    s.expires_at.map(|t| t.as_second()),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("fp-new", None, Some(1_900_000_000)),
                ("fp-old", Some(1_700_000_000), Some(1_800_000_000))
            ]
        );
    }

    #[test]
    fn what_was_delivered_reads_back_with_its_labels_kind_and_thresholds() {
        let names = MetricNames::default();
        let held = vec![
            series(
                "credwatch_credential_expiry_timestamp_seconds",
                &[
                    ("credential", "primary"),
                    ("pool", "agent"),
                    ("source", "vault"),
                    ("kind", "minted_at_plus_ttl"),
                    ("team", "platform"),
                ],
                1.808064429e9,
            ),
            series(
                "credwatch_credential_minted_timestamp_seconds",
                &[("credential", "primary")],
                1.776528429e9,
            ),
            series(
                "credwatch_credential_warn_before_seconds",
                &[("credential", "primary")],
                3_888_000.0,
            ),
            series(
                "credwatch_credential_read_ok",
                &[("credential", "primary")],
                1.0,
            ),
            series(
                "credwatch_credential_info",
                &[
                    ("credential", "primary"),
                    ("fingerprint", "hmac-sha256:0123"),
                    ("runbook", "https://runbooks.example/rotate"),
                ],
                1.0,
            ),
            series(
                "credwatch_credential_expiry_timestamp_seconds",
                &[("credential", "zero")],
                0.0,
            ),
        ];
        let defaults = Thresholds {
            warn_before: SignedDuration::from_hours(720),
            critical_before: SignedDuration::from_hours(168),
        };
        let known = known_from_series(&held, &names, defaults);
        assert_eq!(known.len(), 1, "a 0 is never a known expiry");
        let k = &known[0];
        assert_eq!(k.credential.name, "primary");
        assert_eq!(k.credential.pool.as_deref(), Some("agent"));
        assert_eq!(k.credential.source, "vault");
        assert_eq!(
            k.credential.labels,
            BTreeMap::from([("team".to_string(), "platform".to_string())]).into()
        );
        assert_eq!(k.basis, Basis::MintedAtPlusTtl);
        // Carried through an outage, the info series keeps its fingerprint.
        assert_eq!(k.fingerprint.as_deref(), Some("hmac-sha256:0123"));
        // And its runbook, which the alerts' runbook_url looks up there.
        assert_eq!(
            k.credential.runbook.as_deref(),
            Some("https://runbooks.example/rotate")
        );
        assert_eq!(k.expires_at.as_second(), 1_808_064_429);
        assert_eq!(k.minted_at.map(|m| m.as_second()), Some(1_776_528_429));
        assert_eq!(k.credential.thresholds.warn_before.as_secs(), 3_888_000);
        assert_eq!(
            k.credential.thresholds.critical_before,
            defaults.critical_before
        );
    }
}
