//! The metrics contract: a [`Report`] → the gauge families credwatch exposes. Pure.
//!
//! | series | meaning |
//! |---|---|
//! | `<expiry>{credential,pool,source,kind,…labels}` | expiry, only when known |
//! | `credwatch_credential_minted_timestamp_seconds{…}` | mint time, when known |
//! | `credwatch_credential_warn_before_seconds` / `…_critical_before_seconds{credential}` | thresholds |
//! | `credwatch_credential_read_ok{credential}` | 1 read this run, 0 failed |
//! | `credwatch_credential_info{credential,source,kind,pool}` | 1 |
//! | `credwatch_source_up{source}` | 1/0 per source |
//! | `<last_success>` | only when every source and credential was read (the sink decides) |
//! | `credwatch_last_run_timestamp_seconds`, `credwatch_run_duration_seconds`, `credwatch_build_info{version}` | bookkeeping |
//!
//! `<expiry>`, `<last_success>` and the `credential` label take their names from `[metrics]`.

use jiff::Timestamp;

use crate::assess::Report;
use crate::config::MetricNames;
use crate::exposition::Family;

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
        "credwatch_credential_minted_timestamp_seconds",
        "When the credential was minted or issued, as unix seconds.",
    );
    let mut warn = Family::gauge(
        "credwatch_credential_warn_before_seconds",
        "Time before expiry at which the credential starts to warn.",
    );
    let mut critical = Family::gauge(
        "credwatch_credential_critical_before_seconds",
        "Time before expiry at which the credential becomes critical.",
    );
    let mut read_ok = Family::gauge(
        "credwatch_credential_read_ok",
        "1 if the credential's expiry was read in this run, 0 if reading it failed.",
    );
    let mut info = Family::gauge(
        "credwatch_credential_info",
        "Where a credential comes from; always 1.",
    );
    let mut source_up = Family::gauge(
        "credwatch_source_up",
        "1 if the source was read in this run, 0 if it failed.",
    );

    for a in &report.assessments {
        let c = &a.credential;
        let name = || vec![(cred.to_string(), c.name.clone())];
        let kind = a.evidence.map_or("unknown", |e| e.basis.label());
        let mut full = name();
        if names.extra_series {
            if let Some(pool) = &c.pool {
                full.push(("pool".into(), pool.clone()));
            }
            full.push(("source".into(), c.source.clone()));
            full.push(("kind".into(), kind.into()));
        }
        full.extend(c.labels.iter().map(|(k, v)| (k.clone(), v.clone())));

        if let Some(e) = a.evidence {
            expiry.push(full.clone(), e.expires_at.as_second() as f64);
            if let Some(m) = e.minted_at {
                minted.push(full.clone(), m.as_second() as f64);
            }
        }
        warn.push(name(), c.thresholds.warn_before.as_secs() as f64);
        critical.push(name(), c.thresholds.critical_before.as_secs() as f64);
        read_ok.push(name(), if a.error.is_none() { 1.0 } else { 0.0 });
        let mut info_labels = name();
        info_labels.push(("source".into(), c.source.clone()));
        info_labels.push(("kind".into(), kind.into()));
        if let Some(pool) = &c.pool {
            info_labels.push(("pool".into(), pool.clone()));
        }
        info.push(info_labels, 1.0);
    }
    for s in &report.sources {
        source_up.push(
            vec![("source".into(), s.name.clone())],
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
    let mut last_run = Family::gauge(
        "credwatch_last_run_timestamp_seconds",
        "When credwatch last ran, as unix seconds.",
    );
    last_run.push(vec![], run.finished_at.as_second() as f64);
    let mut duration = Family::gauge(
        "credwatch_run_duration_seconds",
        "How long the last run took.",
    );
    duration.push(vec![], run.duration_seconds);
    let mut build = Family::gauge(
        "credwatch_build_info",
        "The credwatch version that produced these series.",
    );
    build.push(
        vec![("version".into(), env!("CARGO_PKG_VERSION").into())],
        1.0,
    );

    vec![
        expiry,
        minted,
        warn,
        critical,
        read_ok,
        info,
        source_up,
        last_success,
        last_run,
        duration,
        build,
    ]
}
