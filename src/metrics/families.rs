//! The metrics contract: a [`Report`] → the gauge families credwatch exposes. Pure.
//!
//! | series | meaning |
//! |---|---|
//! | `<expiry>{credential,pool,source,kind,…labels}` | expiry, only when known |
//! | `credwatch_credential_minted_timestamp_seconds{…}` | mint time, when known |
//! | `credwatch_credential_not_before_timestamp_seconds{…}` | start of validity, where the value states it (X.509, SSH certificate) |
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

use jiff::Timestamp;

use std::sync::Arc;

use jiff::SignedDuration;

use super::names;
use crate::assess::Report;
use crate::assess::carry::Known;
use crate::config::MetricNames;
use crate::credential::{Basis, Credential, ProbeVerdict, StoredValue, Thresholds};
use crate::metrics::text::{Family, Series};

/// Facts about the run itself, measured by the caller.
#[derive(Debug, Clone, Copy)]
pub struct RunInfo {
    pub finished_at: Timestamp,
    pub duration_seconds: f64,
}

/// The families of one run. The last-success family is always included; a sink leaves it out
/// when the run was incomplete (see [`Report::complete`]).
pub fn families(report: &Report, names: &MetricNames, run: RunInfo) -> Vec<Family> {
    let cred = names.credential_label.as_str();
    let mut expiry = Family::gauge(
        &names.expiry,
        "When the credential expires, as unix seconds.",
    );
    let mut minted = Family::gauge(
        names::MINTED,
        "When the credential was minted or issued, as unix seconds.",
    );
    let mut not_before = Family::gauge(
        names::NOT_BEFORE,
        "When the credential's validity starts, as the value states it, as unix seconds.",
    );
    let mut warn = Family::gauge(
        names::WARN_BEFORE,
        "Time before expiry at which the credential starts to warn.",
    );
    let mut critical = Family::gauge(
        names::CRITICAL_BEFORE,
        "Time before expiry at which the credential becomes critical.",
    );
    let mut read_ok = Family::gauge(
        names::READ_OK,
        "1 if the credential's expiry was read in this run, 0 if reading it failed.",
    );
    let mut info = Family::gauge(names::INFO, "Where a credential comes from; always 1.");
    let mut format_ok = Family::gauge(
        names::FORMAT_OK,
        "1 if the credential's value has the shape its format requires, 0 if not.",
    );
    let mut replacement = Family::gauge(
        names::REPLACEMENT_AVAILABLE,
        "1 if another pool member holding a different, healthy value could take over.",
    );
    let mut probe_ok = Family::gauge(
        names::PROBE_OK,
        "1 if the issuer accepted the credential when last probed, 0 if it rejected it or gave no verdict.",
    );
    let mut probe_rejected = Family::gauge(
        names::PROBE_REJECTED,
        "1 if the issuer rejected the credential (expired or revoked) when last probed, 0 otherwise.",
    );
    let mut probe_at = Family::gauge(
        names::PROBE_TIMESTAMP,
        "When the credential was last probed, as unix seconds.",
    );
    let mut pool_members =
        Family::gauge(names::POOL_MEMBERS, "How many credentials the pool lists.");
    let mut pool_distinct = Family::gauge(
        names::POOL_DISTINCT,
        "How many different values the pool's members hold.",
    );
    let mut pool_runway = Family::gauge(
        names::POOL_RUNWAY_EXPIRY,
        "When the pool's last usable distinct credential expires, as unix seconds.",
    );
    let mut pool_warn = Family::gauge(
        names::POOL_RUNWAY_WARN_BEFORE,
        "Warn when the pool's runway is shorter than this.",
    );
    let mut source_up = Family::gauge(
        names::SOURCE_UP,
        "1 if the source was read in this run, 0 if it failed.",
    );

    // Label names, shared by every series that carries them.
    let l_cred: Arc<str> = cred.into();
    let [l_pool, l_source, l_kind, l_format, l_fingerprint]: [Arc<str>; 5] = [
        names::POOL_LABEL,
        names::SOURCE_LABEL,
        names::KIND_LABEL,
        names::FORMAT_LABEL,
        names::FINGERPRINT_LABEL,
    ]
    .map(Arc::from);
    for a in &report.assessments {
        let c = &a.credential;
        let n: Arc<str> = c.name.as_str().into();
        let source: Arc<str> = c.source.as_str().into();
        let pool: Option<Arc<str>> = c.pool.as_deref().map(Arc::from);
        let name = || vec![(l_cred.clone(), n.clone())];
        let kind: Arc<str> = a
            .evidence
            .as_ref()
            .map_or("unknown", |e| e.basis.label())
            .into();
        let mut full = name();
        if names.extra_series {
            if let Some(pool) = &pool {
                full.push((l_pool.clone(), pool.clone()));
            }
            full.push((l_source.clone(), source.clone()));
            full.push((l_kind.clone(), kind.clone()));
        }
        full.extend(
            c.labels
                .iter()
                .map(|(k, v)| (Arc::from(k.as_str()), Arc::from(v.as_str()))),
        );

        if let Some(e) = &a.evidence {
            if let Some(t) = e.expires_at {
                expiry.push(full.clone(), t.as_second() as f64);
            }
            if let Some(m) = e.minted_at {
                minted.push(full.clone(), m.as_second() as f64);
            }
            if let Some(n) = e.not_before() {
                not_before.push(full.clone(), n.as_second() as f64);
            }
            if let Some(f) = &e.format {
                let mut labels = name();
                labels.push((l_format.clone(), f.profile.as_str().into()));
                format_ok.push(labels, if f.problem.is_none() { 1.0 } else { 0.0 });
            }
        }
        if let Some(pool) = &pool {
            let mut labels = name();
            labels.push((l_pool.clone(), pool.clone()));
            replacement.push(labels, if a.replacement.is_some() { 1.0 } else { 0.0 });
        }
        if let Some(p) = a.evidence.as_ref().and_then(|e| e.probe.as_ref()) {
            let mut labels = name();
            labels.push((names::PROBE_LABEL.into(), p.preset.as_str().into()));
            probe_at.push(labels.clone(), p.at.as_second() as f64);
            let rejected = matches!(p.verdict, ProbeVerdict::Rejected { .. });
            probe_rejected.push(labels.clone(), if rejected { 1.0 } else { 0.0 });
            labels.push((names::STATUS_CLASS_LABEL.into(), p.status_class().into()));
            let ok = p.verdict == ProbeVerdict::Accepted;
            probe_ok.push(labels, if ok { 1.0 } else { 0.0 });
        }
        warn.push(name(), c.thresholds.warn_before.as_secs() as f64);
        critical.push(name(), c.thresholds.critical_before.as_secs() as f64);
        read_ok.push(name(), if a.error.is_none() { 1.0 } else { 0.0 });
        let mut info_labels = name();
        info_labels.push((l_source.clone(), source.clone()));
        info_labels.push((l_kind.clone(), kind.clone()));
        if let Some(pool) = &pool {
            info_labels.push((l_pool.clone(), pool.clone()));
        }
        if let Some(fp) = a.evidence.as_ref().and_then(|e| e.fingerprint.as_deref()) {
            info_labels.push((l_fingerprint.clone(), fp.into()));
        }
        if let Some(r) = &c.runbook {
            info_labels.push((names::RUNBOOK_LABEL.into(), r.as_str().into()));
        }
        info.push(info_labels, 1.0);
    }
    for p in &report.pools {
        let labels = || vec![(l_pool.clone(), Arc::from(p.name.as_str()))];
        pool_members.push(labels(), p.members.len() as f64);
        pool_distinct.push(labels(), p.distinct as f64);
        match p.runway_until {
            // No usable member: the runway is over.
            None => pool_runway.push(labels(), report.now.as_second() as f64),
            Some(t) if t == jiff::Timestamp::MAX => {}
            Some(t) => pool_runway.push(labels(), t.as_second() as f64),
        }
        pool_warn.push(labels(), p.runway_warn_before.as_secs() as f64);
    }
    let mut source_error = Family::gauge(
        names::SOURCE_ERROR,
        "1 for a source that failed in this run, with the reason (sealed, denied, unreachable, ...).",
    );
    for s in report.sources.iter().filter(|s| s.error.is_some()) {
        source_error.push(
            vec![
                (names::SOURCE_LABEL.into(), s.name.as_str().into()),
                (
                    names::REASON_LABEL.into(),
                    s.reason.unwrap_or("error").into(),
                ),
            ],
            1.0,
        );
    }
    for s in &report.sources {
        source_up.push(
            vec![(names::SOURCE_LABEL.into(), s.name.as_str().into())],
            if s.error.is_none() { 1.0 } else { 0.0 },
        );
    }

    let mut last_success = Family::gauge(
        &names.last_success,
        "When credwatch last read every source and delivered the result, as unix seconds.",
    );
    last_success.push(vec![], run.finished_at.as_second() as f64);

    if !names.extra_series {
        return vec![expiry, last_success];
    }
    let mut last_run = Family::gauge(names::LAST_RUN, "When credwatch last ran, as unix seconds.");
    last_run.push(vec![], run.finished_at.as_second() as f64);
    let mut duration = Family::gauge(names::RUN_DURATION, "How long the last run took.");
    duration.push(vec![], run.duration_seconds);
    let mut build = Family::gauge(
        names::BUILD_INFO,
        "The credwatch version that produced these series.",
    );
    build.push(
        vec![(
            names::VERSION_LABEL.into(),
            env!("CARGO_PKG_VERSION").into(),
        )],
        1.0,
    );

    let [consumer_fp, consumer_ok, stored_expiry, stored_replaced] =
        copy_families(report, &l_cred, &l_fingerprint);
    vec![
        expiry,
        minted,
        not_before,
        warn,
        critical,
        read_ok,
        format_ok,
        info,
        replacement,
        probe_ok,
        probe_rejected,
        probe_at,
        pool_members,
        pool_distinct,
        pool_runway,
        pool_warn,
        source_up,
        source_error,
        consumer_fp,
        consumer_ok,
        stored_expiry,
        stored_replaced,
        last_success,
        last_run,
        duration,
        build,
    ]
}

/// The consumers' copies and the values stores recorded (see the table above).
fn copy_families(report: &Report, l_cred: &Arc<str>, l_fp: &Arc<str>) -> [Family; 4] {
    let mut fp = Family::gauge(
        names::CONSUMER_FINGERPRINT,
        "A consumer's copy of a stored credential, by fingerprint; always 1.",
    );
    let mut ok = Family::gauge(
        names::CONSUMER_READ_OK,
        "1 if the consumer's copy was read, 0 if not.",
    );
    let mut expiry = Family::gauge(
        names::STORED_VALUE_EXPIRY,
        "When a value the store holds (current) or held (replaced) expires, as unix seconds.",
    );
    let mut replaced = Family::gauge(
        names::STORED_VALUE_REPLACED,
        "When the store stopped holding a value, as unix seconds.",
    );
    let l_consumer: Arc<str> = names::CONSUMER_LABEL.into();
    let l_state: Arc<str> = names::STATE_LABEL.into();
    for c in &report.copies.consumers {
        let labels = vec![
            (l_cred.clone(), Arc::from(c.credential.as_str())),
            (l_consumer.clone(), Arc::from(c.consumer.as_str())),
        ];
        ok.push(
            labels.clone(),
            if c.fingerprint.is_ok() { 1.0 } else { 0.0 },
        );
        if let Ok(f) = &c.fingerprint {
            let mut labels = labels;
            labels.push((l_fp.clone(), Arc::from(f.as_str())));
            fp.push(labels, 1.0);
        }
    }
    for s in &report.copies.stored {
        let labels = vec![
            (l_cred.clone(), Arc::from(s.credential.as_str())),
            (l_fp.clone(), Arc::from(s.fingerprint.as_str())),
        ];
        if let Some(at) = s.expires_at {
            let state = match s.replaced_at {
                None => names::STATE_CURRENT,
                Some(_) => names::STATE_REPLACED,
            };
            let mut labels = labels.clone();
            labels.push((l_state.clone(), state.into()));
            expiry.push(labels, at.as_second() as f64);
        }
        if let Some(at) = s.replaced_at {
            replaced.push(labels, at.as_second() as f64);
        }
    }
    [fp, ok, expiry, replaced]
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

/// The inverse of [`families`] for what a partial run needs: the last known expiry of each
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
                    labels,
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
            BTreeMap::from([("team".to_string(), "platform".to_string())])
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
