//! The partial-run rule, one function for every destination (`push`, `textfile`, `serve`). Pure.
//!
//! A complete run delivers what it read and advances the last-success series to its finish time.
//! A run that could not read everything must not erase what the destination already knows: what
//! it could not read keeps its last known expiry (`read_ok` 0, through [`carry::merge`]), and the
//! last-success series keeps the value the destination last held, or is left out when that is
//! unknown (a Pushgateway POST then keeps whatever the group holds).

use jiff::Timestamp;

use super::text::Series;
use super::{RunInfo, encode_report, known_from_series};
use crate::assess::{Report, carry};
use crate::config::MetricNames;
use crate::credential::{PoolPolicy, Thresholds};

/// What the destination held before this run, as far as the run could learn it.
#[derive(Debug, Clone, Default)]
pub struct Held {
    /// The report it was last given (kept in memory by `serve`, rebuilt from what was read back
    /// by `push` and `textfile`).
    pub report: Option<Report>,
    /// Its last-success value.
    pub last_success: Option<Timestamp>,
}

impl Held {
    /// What an earlier delivery left, read back as `series` (the Pushgateway's group, the
    /// previous textfile).
    pub fn from_series(
        series: &[Series],
        names: &MetricNames,
        defaults: Thresholds,
        now: Timestamp,
    ) -> Held {
        let known = known_from_series(series, names, defaults);
        let last_success = series
            .iter()
            .find(|s| s.metric == names.last_success && s.labels.is_empty())
            .and_then(|s| Timestamp::from_second(s.value as i64).ok());
        let mut report = carry::previous_report(known, now);
        // What the store recorded, so consumers stay matched through a store outage.
        report.copies.stored = super::families::stored_from_series(series, names);
        Held {
            report: Some(report),
            last_success,
        }
    }
}

/// What one run hands to its destination.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// This run's report, with the last known values of what it could not read merged in.
    pub report: Report,
    /// Whether every source and credential was read this run.
    pub complete: bool,
    /// The last-success value delivered: this run's finish time when complete, else what the
    /// destination held.
    pub last_success: Option<Timestamp>,
    /// The exposition text to deliver; the last-success series holds
    /// [`Delivery::last_success`], or is left out.
    pub text: String,
}

/// Applies the partial-run rule to this run's report (`fresh`) and what the destination `held`.
pub fn prepare(
    fresh: Report,
    held: Held,
    names: &MetricNames,
    policy: PoolPolicy,
    run: RunInfo,
) -> Delivery {
    let Merged {
        report,
        complete,
        last_success,
    } = merge(fresh, held, policy, run);
    let text = encode_report(&report, names, run, last_success);
    Delivery {
        report,
        complete,
        last_success,
        text,
    }
}

/// [`Delivery`] before its text is encoded: for a destination that writes the text as it is
/// encoded ([`super::encode_report_into`]) instead of holding it whole.
#[derive(Debug, Clone)]
pub struct Merged {
    pub report: Report,
    pub complete: bool,
    pub last_success: Option<Timestamp>,
}

/// The partial-run rule of [`prepare`] without the encoding.
pub fn merge(fresh: Report, held: Held, policy: PoolPolicy, run: RunInfo) -> Merged {
    let complete = fresh.complete();
    let (report, last_success) = if complete {
        (fresh, Some(run.finished_at))
    } else {
        let report = match &held.report {
            Some(previous) => carry::merge(previous, fresh, policy),
            None => fresh,
        };
        (report, held.last_success)
    };
    Merged {
        report,
        complete,
        last_success,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::{Collection, SourceStatus};

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    fn report(now: Timestamp, source_error: bool) -> Report {
        let collection = Collection {
            observations: Vec::new(),
            sources: vec![SourceStatus {
                name: "cm".into(),
                kind: "directory",
                error: source_error.then(|| "gone".to_string()),
                reason: source_error.then_some("unreadable"),
            }],
            problems: Vec::new(),
            copies: Default::default(),
        };
        crate::assess::assess(collection, now, PoolPolicy::default())
    }

    fn last_success_lines(d: &Delivery, names: &MetricNames) -> Vec<String> {
        d.text
            .lines()
            .filter(|l| l.starts_with(&names.last_success))
            .map(str::to_string)
            .collect()
    }

    fn run(t: i64) -> RunInfo {
        RunInfo {
            finished_at: at(t),
            duration_seconds: 0.5,
        }
    }

    #[test]
    fn a_complete_run_advances_last_success_whatever_was_held() {
        let names = MetricNames::default();
        let mut fresh = report(at(2_000), false);
        fresh.problems.clear();
        let held = Held {
            report: None,
            last_success: Some(at(1_000)),
        };
        let d = prepare(fresh, held, &names, PoolPolicy::default(), run(2_001));
        assert!(d.complete);
        assert_eq!(d.last_success, Some(at(2_001)));
        assert_eq!(
            last_success_lines(&d, &names),
            ["credwatch_last_success_timestamp_seconds 2001"]
        );
    }

    #[test]
    fn an_incomplete_run_keeps_the_held_value_or_leaves_it_out() {
        let names = MetricNames::default();
        let held = Held {
            report: None,
            last_success: Some(at(1_000)),
        };
        let d = prepare(
            report(at(2_000), true),
            held,
            &names,
            PoolPolicy::default(),
            run(2_001),
        );
        assert!(!d.complete);
        assert_eq!(d.last_success, Some(at(1_000)));
        assert_eq!(
            last_success_lines(&d, &names),
            ["credwatch_last_success_timestamp_seconds 1000"]
        );

        let d = prepare(
            report(at(2_000), true),
            Held::default(),
            &names,
            PoolPolicy::default(),
            run(2_001),
        );
        assert_eq!(d.last_success, None);
        assert!(last_success_lines(&d, &names).is_empty());
    }

    #[test]
    fn held_series_give_back_the_last_success_value_under_its_renamed_name() {
        let names = MetricNames {
            last_success: "old_last_push".into(),
            ..MetricNames::default()
        };
        let text = "old_last_push 1776528500\ncredwatch_last_success_timestamp_seconds 5\n";
        let series = super::super::text::parse_series(text);
        let held = Held::from_series(
            &series,
            &names,
            Thresholds {
                warn_before: jiff::SignedDuration::from_hours(1),
                critical_before: jiff::SignedDuration::from_hours(1),
            },
            at(1_800_000_000),
        );
        assert_eq!(held.last_success, Some(at(1_776_528_500)));
    }
}
