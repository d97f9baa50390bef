//! The background refresh of `credwatch serve`: on an interval (with jitter), re-read the config
//! file, read every source, keep the last known values of what could not be read, encode, and
//! publish the text that `/metrics` serves into [`Latest`] (which gzips it on this thread), with
//! the status page and calendar of the same report ([`Refresher::views`], rendered when first asked for). A
//! refresh, however slow, never blocks a scrape: the exporter keeps serving the text published
//! before it.
//!
//! [`publish`] is the pure step (fresh report + memory → merged report + text) and [`jittered`]
//! the pure wait; [`Refresher`] adds the config file, the sources and the clock (each refresh
//! reads `now` and its finish time itself, as a long-running command must); [`run`] the schedule,
//! with the system time as the seed of its jitter.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use sha2::{Digest, Sha256};

use crate::assess::{self, Report};
use crate::config::{self, Config, MetricNames};
use crate::credential::PoolPolicy;
use crate::env::Env;
use crate::metrics::RunInfo;
use crate::metrics::delivery::{self, Delivery, Held};
use crate::serve::state::{Latest, Shutdown, Views};
use crate::sources;

/// Each wait between refreshes is the interval ± this fraction, drawn anew each time, so that
/// replicas (and the sources they all read) do not move in lockstep.
pub const JITTER: f64 = 0.1;

/// What one refresh publishes.
#[derive(Debug, Clone)]
pub struct Published {
    /// The merged report: this refresh's, plus the last known values of what it could not read.
    pub report: Report,
    /// When a refresh last read every source and credential; `None` if none has yet.
    pub last_success: Option<Timestamp>,
    /// The exposition text `/metrics` serves until the next refresh.
    pub text: String,
}

/// One refresh's outcome from the report it produced (`fresh`) and what the exporter remembers
/// (`previous` report, `last_success`). Pure.
///
/// What `fresh` could not read keeps its last known value ([`carry::merge`]). The
/// last-success series advances only when `fresh` is complete, and is left out until a refresh
/// has been.
pub fn publish(
    previous: Option<&Report>,
    fresh: Report,
    last_success: Option<Timestamp>,
    names: &MetricNames,
    policy: PoolPolicy,
    run: RunInfo,
) -> Published {
    // The previous report is read only when `fresh` is incomplete (`delivery::merge`): a
    // complete refresh does not copy it.
    let held = Held {
        report: previous.filter(|_| !fresh.complete()).cloned(),
        last_success,
    };
    let Delivery {
        report,
        last_success,
        text,
        ..
    } = delivery::prepare(fresh, held, names, policy, run);
    Published {
        report,
        last_success,
        text,
    }
}

/// The wait before the next refresh: `interval` scaled into `[1 - JITTER, 1 + JITTER]` by `unit`
/// (a number in `[0, 1)`). Pure.
pub fn jittered(interval: Duration, unit: f64) -> Duration {
    let unit = if unit.is_finite() {
        unit.clamp(0.0, 1.0)
    } else {
        0.5
    };
    interval.mul_f64(1.0 - JITTER + 2.0 * JITTER * unit)
}

/// A number in `[0, 1)` that differs between processes and calls; good enough for jitter, and
/// needs no random-number crate.
fn random_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Refreshes from the config file, remembering between refreshes what the exporter must.
#[derive(Debug)]
pub struct Refresher {
    config_path: PathBuf,
    config: Config,
    env: Env,
    /// Shared with the views published from it.
    previous: Option<Arc<Report>>,
    /// The SHA-256 of the config text `config` was validated from (at startup, or by a
    /// refresh): an unchanged file is not validated again (for a large inventory that costs
    /// more than reading it).
    config_digest: Option<[u8; 32]>,
    last_success: Option<Timestamp>,
}

impl Refresher {
    /// `config` is the file at `config_path` as validated at startup from `text` (`env` the
    /// environment the process started with); it is used whenever a later version of the file
    /// does not validate. The first refresh does not validate the same text again.
    pub fn new(config_path: PathBuf, config: Config, text: &str, env: Env) -> Self {
        Refresher {
            config_path,
            config,
            env,
            previous: None,
            config_digest: Some(digest(text)),
            last_success: None,
        }
    }

    /// One refresh: reads the config file again (so edits, such as a ConfigMap update, take
    /// effect without a restart), reads every source, and returns the text to publish. A config
    /// file that no longer validates is reported as a problem (the refresh is then incomplete)
    /// and the last valid config is used.
    pub fn refresh(&mut self) -> String {
        let started = Instant::now();
        let reload = self
            .reload_config()
            .err()
            .map(|e| format!("cannot reload the config, the last valid one is used: {e:#}"));
        let now = Timestamp::now();
        let mut fresh = assess::assess(
            sources::collect(&self.config, now, &self.env),
            now,
            self.config.defaults.pools,
        );
        fresh.problems.extend(reload);
        for problem in problems(&fresh) {
            log::warn!("refresh: {problem}");
        }
        let run = RunInfo {
            finished_at: Timestamp::now(),
            duration_seconds: started.elapsed().as_secs_f64(),
        };
        let published = publish(
            self.previous.as_deref(),
            fresh,
            self.last_success,
            &self.config.metrics,
            self.config.defaults.pools,
            run,
        );
        log::info!(
            "refreshed {} credential(s) in {:.3}s{}",
            published.report.assessments.len(),
            run.duration_seconds,
            if published.report.complete() {
                ""
            } else {
                "; something could not be read, last known values kept"
            }
        );
        self.previous = Some(Arc::new(published.report));
        self.last_success = published.last_success;
        published.text
    }

    /// Reads the config file and, when its text changed since the last refresh, validates it
    /// and makes it the config used. Validation is pure in the text and the path, so an
    /// unchanged text would give the same config.
    fn reload_config(&mut self) -> anyhow::Result<()> {
        let path = &self.config_path;
        let text = config::read_text(path)?;
        let digest = digest(&text);
        if self.config_digest == Some(digest) {
            return Ok(());
        }
        self.config = config::parse_config(&text, path)?;
        self.config_digest = Some(digest);
        Ok(())
    }

    /// The status page and calendar of the last refresh (its report, last known values carried
    /// over), rendered when first asked for; `None` before the first refresh.
    pub fn views(&self) -> Option<Views> {
        self.previous.clone().map(Views::of)
    }
}

/// The SHA-256 of a config text.
fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// What could not be read in a report, one line each.
fn problems(report: &Report) -> Vec<String> {
    let credentials = report.assessments.iter().filter_map(|a| {
        a.error
            .as_ref()
            .map(|e| format!("credential `{}`: {e}", a.credential.name))
    });
    let sources = report.sources.iter().filter_map(|s| {
        s.error
            .as_ref()
            .map(|e| format!("source `{}`: {e}", s.name))
    });
    credentials
        .chain(sources)
        .chain(report.problems.iter().cloned())
        .collect()
}

/// Refreshes now and then every `interval` (jittered), publishing each result into `latest`,
/// until `shutdown` is triggered. A refresh already running when shutdown comes is not waited
/// for by the server: it holds no state that needs saving.
pub fn run(refresher: &mut Refresher, latest: &Latest, shutdown: &Shutdown, interval: Duration) {
    loop {
        let text = refresher.refresh();
        if shutdown.is_triggered() {
            return;
        }
        // The views first: once /-/ready says ready, the page is there too.
        if let Some(views) = refresher.views() {
            latest.publish_views(views);
        }
        latest.publish(text);
        if shutdown.wait_timeout(jittered(interval, random_unit())) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use jiff::SignedDuration;

    use super::*;
    use crate::credential::{Basis, Credential, Evidence, Observation, Thresholds};
    use crate::credential::{Collection, SourceStatus};

    const DAY: i64 = 86_400;
    const NOW: i64 = 1_800_000_000;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).unwrap()
    }

    fn observation(name: &str, evidence: Result<i64, &str>) -> Observation {
        Observation {
            credential: Credential {
                name: name.into(),
                pool: None,
                source: "cm".into(),
                labels: Default::default(),
                runbook: None,
                thresholds: Thresholds {
                    warn_before: SignedDuration::from_secs(30 * DAY),
                    critical_before: SignedDuration::from_secs(7 * DAY),
                },
            },
            evidence: evidence
                .map(|expiry| Evidence::declared(Some(at(NOW)), at(expiry), Basis::MintedAtPlusTtl))
                .map_err(String::from),
        }
    }

    fn fresh(observations: Vec<Observation>, source_error: Option<&str>, now: i64) -> Report {
        assess::assess(
            Collection {
                observations,
                sources: vec![SourceStatus {
                    name: "cm".into(),
                    kind: "directory",
                    error: source_error.map(String::from),
                    reason: source_error.map(|_| "unreadable"),
                }],
                problems: vec![],
                copies: Default::default(),
            },
            at(now),
            PoolPolicy::default(),
        )
    }

    fn run_at(now: i64) -> RunInfo {
        RunInfo {
            finished_at: at(now),
            duration_seconds: 0.5,
        }
    }

    /// The lines of `text` that start with `prefix`.
    fn lines<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
        text.lines().filter(|l| l.starts_with(prefix)).collect()
    }

    #[test]
    fn a_failed_refresh_keeps_the_expiry_with_read_ok_0_and_the_last_success_time() {
        let names = MetricNames::default();
        let policy = PoolPolicy::default();
        let expiry = NOW + 100 * DAY;
        let first = publish(
            None,
            fresh(vec![observation("primary", Ok(expiry))], None, NOW),
            None,
            &names,
            policy,
            run_at(NOW + 1),
        );
        assert_eq!(first.last_success, Some(at(NOW + 1)));
        let expiry_line = "credwatch_credential_expiry_timestamp_seconds{credential=\"primary\",source=\"cm\",kind=\"minted_at_plus_ttl\"} 1808640000";
        assert_eq!(
            lines(&first.text, "credwatch_credential_expiry"),
            [expiry_line]
        );

        // The file became unreadable: the very same series, now unread.
        let second = publish(
            Some(&first.report),
            fresh(
                vec![observation("primary", Err("cannot read `cm/primary`"))],
                None,
                NOW + 300,
            ),
            first.last_success,
            &names,
            policy,
            run_at(NOW + 301),
        );
        assert_eq!(
            lines(&second.text, "credwatch_credential_expiry"),
            [expiry_line]
        );
        assert_eq!(
            lines(&second.text, "credwatch_credential_read_ok"),
            ["credwatch_credential_read_ok{credential=\"primary\"} 0"]
        );
        assert_eq!(
            lines(&second.text, "credwatch_last_success"),
            ["credwatch_last_success_timestamp_seconds 1800000001"]
        );
        assert_eq!(
            lines(&second.text, "credwatch_last_run"),
            ["credwatch_last_run_timestamp_seconds 1800000301"]
        );

        // The whole source fails: still the same series.
        let third = publish(
            Some(&second.report),
            fresh(vec![], Some("cannot read directory `cm`"), NOW + 600),
            second.last_success,
            &names,
            policy,
            run_at(NOW + 601),
        );
        assert_eq!(
            lines(&third.text, "credwatch_credential_expiry"),
            [expiry_line]
        );
        assert_eq!(
            lines(&third.text, "credwatch_source_up"),
            ["credwatch_source_up{source=\"cm\"} 0"]
        );
        assert_eq!(third.last_success, Some(at(NOW + 1)));

        // Read again, and the credential was removed: gone, and last success advances.
        let fourth = publish(
            Some(&third.report),
            fresh(vec![], None, NOW + 900),
            third.last_success,
            &names,
            policy,
            run_at(NOW + 901),
        );
        assert!(lines(&fourth.text, "credwatch_credential_expiry").is_empty());
        assert_eq!(
            lines(&fourth.text, "credwatch_last_success"),
            ["credwatch_last_success_timestamp_seconds 1800000901"]
        );
    }

    #[test]
    fn no_last_success_series_until_a_refresh_is_complete() {
        let first = publish(
            None,
            fresh(vec![observation("primary", Err("unreadable"))], None, NOW),
            None,
            &MetricNames::default(),
            PoolPolicy::default(),
            run_at(NOW),
        );
        assert_eq!(first.last_success, None);
        assert!(!first.text.contains("credwatch_last_success"));
        assert!(
            first
                .text
                .contains("credwatch_last_run_timestamp_seconds 1800000000\n")
        );
    }

    #[test]
    fn renamed_series_follow_the_metrics_table() {
        let names = MetricNames {
            expiry: "claude_oauth_token_expiry_timestamp".into(),
            last_success: "claude_oauth_expiry_monitor_last_push_timestamp".into(),
            credential_label: "path".into(),
            extra_series: false,
        };
        let published = publish(
            None,
            fresh(vec![observation("primary", Ok(1_808_064_429))], None, NOW),
            None,
            &names,
            PoolPolicy::default(),
            run_at(1_776_528_500),
        );
        let samples: Vec<&str> = published
            .text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect();
        assert_eq!(
            samples,
            [
                "claude_oauth_token_expiry_timestamp{path=\"primary\"} 1808064429",
                "claude_oauth_expiry_monitor_last_push_timestamp 1776528500"
            ]
        );
    }

    #[test]
    fn waits_are_jittered_within_ten_percent() {
        let interval = Duration::from_secs(300);
        assert_eq!(jittered(interval, 0.0), Duration::from_secs(270));
        assert_eq!(jittered(interval, 0.5), Duration::from_secs(300));
        assert_eq!(jittered(interval, 1.0), Duration::from_secs(330));
        assert_eq!(jittered(interval, -3.0), Duration::from_secs(270));
        assert_eq!(jittered(interval, f64::NAN), Duration::from_secs(300));
        for _ in 0..100 {
            let unit = random_unit();
            assert!((0.0..1.0).contains(&unit), "{unit}");
        }
    }

    #[test]
    fn the_startup_config_is_not_validated_again_until_its_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credwatch.toml");
        let entry = |name: &str| {
            format!("[[credential]]\nname = \"{name}\"\nexpires_at = \"2030-01-01T00:00:00Z\"\n")
        };
        let on_disk = entry("on-disk");
        std::fs::write(&path, &on_disk).unwrap();
        // The config as startup validated it from the same text: here another one, so that a
        // refresh that validated the file again would show it.
        let startup = config::parse_config(&entry("at-startup"), &path).unwrap();
        let mut refresher = Refresher::new(path.clone(), startup, &on_disk, Env::from_pairs([]));
        let text = refresher.refresh();
        assert!(text.contains("credential=\"at-startup\""), "{text}");
        assert!(!text.contains("credential=\"on-disk\""), "{text}");
        // An edit is validated and used.
        std::fs::write(&path, entry("edited")).unwrap();
        let text = refresher.refresh();
        assert!(text.contains("credential=\"edited\""), "{text}");
        assert!(!text.contains("credential=\"at-startup\""), "{text}");
    }
}
