//! Last known values for the long-running exporter: what a refresh could not read keeps what an
//! earlier refresh read, marked unread (`read_ok` 0). Pure.
//!
//! `serve` still holds the previous [`Report`] in memory, so it keeps the full evidence: the
//! `kind` label, the fingerprint and the format check stay exactly as they were, and a series keeps
//! its identity (and any pending alert its `for:` timer) through an outage. `push` and
//! `textfile` learn what was known by reading back what they delivered (the Pushgateway's group,
//! the previous file) as [`Known`] series and merge it the same way, through [`previous_report`].

use std::collections::{HashMap, HashSet};

use jiff::Timestamp;

use crate::assess::{self, Assessment, Report, Status};
use crate::credential::{Basis, Credential, Evidence, Observation, PoolPolicy};
use crate::credential::{Collection, Copies};

/// What an earlier run delivered about a credential, read back from where it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    pub credential: Credential,
    pub expires_at: Timestamp,
    pub minted_at: Option<Timestamp>,
    /// How the expiry was known then; kept so the series keeps its `kind` label.
    pub basis: Basis,
    /// The value's fingerprint then, so the info series keeps its `fingerprint` label.
    pub fingerprint: Option<String>,
}

/// The report an earlier run delivered, rebuilt from what was read back, for [`merge`].
pub fn previous_report(known: Vec<Known>, now: Timestamp) -> Report {
    Report {
        now,
        assessments: known
            .into_iter()
            .map(|k| Assessment {
                evidence: Some(Evidence {
                    fingerprint: k.fingerprint,
                    ..Evidence::declared(k.minted_at, k.expires_at, k.basis)
                }),
                remaining: Some(k.expires_at.duration_since(now)),
                credential: k.credential,
                error: None,
                status: Status::Unknown,
                replacement: None,
            })
            .collect(),
        pools: Vec::new(),
        sources: Vec::new(),
        problems: Vec::new(),
        copies: Default::default(),
    }
}

/// The copies of this refresh, with the recorded values of a credential this refresh did not
/// read carried from `previous` while a source is failing (its store is down): otherwise every
/// consumer of it would turn unknown during a store outage.
fn carried_copies(previous: &Report, mut current: Copies, failing: bool) -> Copies {
    if !failing {
        return current;
    }
    let read: std::collections::HashSet<String> = current
        .stored
        .iter()
        .map(|s| s.credential.clone())
        .collect();
    current.stored.extend(
        previous
            .copies
            .stored
            .iter()
            .filter(|s| !read.contains(&s.credential))
            .cloned(),
    );
    current
}

/// Merges this refresh's report (`current`) with the merged report of the refresh before it.
///
/// - A credential this refresh could not read keeps the evidence `previous` holds for it (same
///   name, same source) together with this refresh's error: its expiry stays, `read_ok` is 0.
/// - A credential of a source that failed as a whole, and so is missing from `current`, comes back
///   from `previous` with the source's error.
/// - Nothing else comes back: a credential removed from the config, or from a source that was
///   read, disappears.
///
/// Pools are worked out again over the merged credentials, so an outage does not empty a pool's
/// runway. Carried credentials are UNKNOWN (nothing was read for them), and the report stays
/// incomplete, so the last-success timestamp does not advance.
pub fn merge(previous: &Report, current: Report, policy: PoolPolicy) -> Report {
    let before: HashMap<(&str, &str), &Evidence> = previous
        .assessments
        .iter()
        .filter_map(|a| {
            let e = a.evidence.as_ref()?;
            Some((
                (a.credential.name.as_str(), a.credential.source.as_str()),
                e,
            ))
        })
        .collect();
    let failed: HashMap<&str, &str> = current
        .sources
        .iter()
        .filter_map(|s| Some((s.name.as_str(), s.error.as_deref()?)))
        .collect();
    let any_failed = !failed.is_empty();
    let present: HashSet<&str> = current
        .assessments
        .iter()
        .map(|a| a.credential.name.as_str())
        .collect();

    // Why each carried credential is unread, by name.
    let mut carried: HashMap<String, String> = HashMap::new();
    let mut observations = Vec::with_capacity(current.assessments.len());
    for p in &previous.assessments {
        let c = &p.credential;
        // Series delivered without a `source` label (`extra_series = false`) may belong to any
        // source that failed.
        let failure = match c.source.as_str() {
            "" => failed.iter().next().map(|(name, reason)| (*name, *reason)),
            source => failed.get(source).map(|reason| (source, *reason)),
        };
        let (Some((source, reason)), Some(evidence)) = (failure, &p.evidence) else {
            continue;
        };
        if present.contains(c.name.as_str()) {
            continue;
        }
        carried.insert(
            c.name.clone(),
            format!("source `{source}` could not be read (last known value kept): {reason}"),
        );
        observations.push(Observation {
            credential: c.clone(),
            evidence: Ok(evidence.clone()),
        });
    }
    for a in current.assessments {
        let key = (a.credential.name.as_str(), a.credential.source.as_str());
        let evidence = match (a.evidence, a.error) {
            (Some(e), None) => Ok(e),
            (evidence, Some(error)) => match evidence
                .as_ref()
                .or(before.get(&key).copied())
                .or(before.get(&(key.0, "")).copied())
            {
                Some(known) => {
                    let known = known.clone();
                    carried.insert(
                        a.credential.name.clone(),
                        format!("{error} (last known value kept)"),
                    );
                    Ok(known)
                }
                None => Err(error),
            },
            (None, None) => Err("nothing is known about this credential".into()),
        };
        observations.push(Observation {
            credential: a.credential,
            evidence,
        });
    }

    let mut merged = assess::assess(
        Collection {
            observations,
            sources: current.sources,
            problems: current.problems,
            copies: carried_copies(previous, current.copies, any_failed),
        },
        current.now,
        policy,
    );
    for a in &mut merged.assessments {
        if let Some(reason) = carried.remove(&a.credential.name) {
            a.error = Some(reason);
            a.status = Status::Unknown;
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use jiff::{SignedDuration, Timestamp};

    use super::*;
    use crate::assess::Assessment;
    use crate::credential::SourceStatus;
    use crate::credential::{Basis, Credential, Thresholds};

    const DAY: i64 = 86_400;
    const NOW: i64 = 1_800_000_000;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).unwrap()
    }

    fn credential(name: &str, source: &str) -> Credential {
        Credential {
            name: name.into(),
            pool: None,
            source: source.into(),
            labels: Default::default(),
            runbook: None,
            thresholds: Thresholds {
                warn_before: SignedDuration::from_secs(30 * DAY),
                critical_before: SignedDuration::from_secs(7 * DAY),
            },
        }
    }

    fn read(name: &str, source: &str, days_left: i64) -> Observation {
        Observation {
            credential: credential(name, source),
            evidence: Ok(Evidence {
                fingerprint: Some(format!("fp-{name}")),
                ..Evidence::declared(
                    Some(at(NOW - DAY)),
                    at(NOW + days_left * DAY),
                    Basis::MintedAtPlusTtl,
                )
            }),
        }
    }

    fn unread(name: &str, source: &str) -> Observation {
        Observation {
            credential: credential(name, source),
            evidence: Err("`cm/x`: expected unix seconds".into()),
        }
    }

    fn source(name: &str, error: Option<&str>) -> SourceStatus {
        SourceStatus {
            name: name.into(),
            kind: "directory",
            error: error.map(String::from),
            reason: None,
        }
    }

    fn report(observations: Vec<Observation>, sources: Vec<SourceStatus>, now: i64) -> Report {
        assess::assess(
            Collection {
                observations,
                sources,
                problems: vec![],
                copies: Default::default(),
            },
            at(now),
            PoolPolicy::default(),
        )
    }

    fn get<'a>(report: &'a Report, name: &str) -> &'a Assessment {
        report
            .assessments
            .iter()
            .find(|a| a.credential.name == name)
            .unwrap_or_else(|| panic!("no `{name}` in {report:?}"))
    }

    fn names(report: &Report) -> Vec<&str> {
        let mut names: Vec<&str> = report
            .assessments
            .iter()
            .map(|a| a.credential.name.as_str())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn an_unreadable_credential_keeps_its_last_evidence_and_reads_as_unread() {
        let before = report(
            vec![read("primary", "cm", 100), read("pat", "inventory", 50)],
            vec![source("inventory", None), source("cm", None)],
            NOW,
        );
        let now = report(
            vec![unread("primary", "cm"), read("pat", "inventory", 50)],
            vec![source("inventory", None), source("cm", None)],
            NOW + 3_600,
        );
        let merged = merge(&before, now, PoolPolicy::default());

        let primary = get(&merged, "primary");
        assert_eq!(primary.evidence, get(&before, "primary").evidence);
        assert_eq!(
            primary.error.as_deref(),
            Some("`cm/x`: expected unix seconds (last known value kept)")
        );
        assert_eq!(primary.status, Status::Unknown);
        assert_eq!(
            primary.remaining,
            Some(SignedDuration::from_secs(100 * DAY - 3_600))
        );
        assert_eq!(get(&merged, "pat").error, None);
        assert!(!merged.complete());
        assert_eq!(merged.now, at(NOW + 3_600));
    }

    #[test]
    fn a_failed_source_brings_back_what_it_held_and_nothing_else() {
        let before = report(
            vec![
                read("primary", "cm", 100),
                read("spare-1", "cm", 200),
                read("pat", "inventory", 50),
                read("dropped", "inventory", 10),
            ],
            vec![source("inventory", None), source("cm", None)],
            NOW,
        );
        // `dropped` was removed from the inventory; the directory of `cm` is gone.
        let now = report(
            vec![read("pat", "inventory", 50)],
            vec![
                source("inventory", None),
                source("cm", Some("cannot read directory `cm`")),
            ],
            NOW + 3_600,
        );
        let merged = merge(&before, now, PoolPolicy::default());
        assert_eq!(names(&merged), ["pat", "primary", "spare-1"]);
        let spare = get(&merged, "spare-1");
        assert_eq!(spare.evidence, get(&before, "spare-1").evidence);
        assert_eq!(
            spare.error.as_deref(),
            Some(
                "source `cm` could not be read (last known value kept): cannot read directory `cm`"
            )
        );
        assert_eq!(spare.status, Status::Unknown);
        assert_eq!(
            merged.sources[1],
            source("cm", Some("cannot read directory `cm`"))
        );
    }

    #[test]
    fn credentials_of_a_source_that_was_read_or_removed_are_not_brought_back() {
        let before = report(
            vec![read("primary", "cm", 100), read("old", "legacy", 100)],
            vec![source("cm", None), source("legacy", None)],
            NOW,
        );
        // `primary` was deleted from a directory that was read; the source `legacy` was removed
        // from the config.
        let now = report(vec![], vec![source("cm", None)], NOW + 60);
        let merged = merge(&before, now, PoolPolicy::default());
        assert!(merged.assessments.is_empty(), "{merged:?}");
        assert!(merged.complete());
    }

    #[test]
    fn a_name_another_source_now_defines_is_not_carried_twice() {
        let before = report(
            vec![read("primary", "cm", 100)],
            vec![source("cm", None)],
            NOW,
        );
        let now = report(
            vec![read("primary", "inventory", 300)],
            vec![source("inventory", None), source("cm", Some("gone"))],
            NOW + 60,
        );
        let merged = merge(&before, now, PoolPolicy::default());
        assert_eq!(names(&merged), ["primary"]);
        assert_eq!(get(&merged, "primary").credential.source, "inventory");
        assert_eq!(get(&merged, "primary").error, None);
    }

    #[test]
    fn values_stay_through_several_failed_refreshes_until_a_read_replaces_them() {
        let sources_ok = || vec![source("cm", None)];
        let sources_down = || vec![source("cm", Some("sealed"))];
        let first = report(vec![read("primary", "cm", 100)], sources_ok(), NOW);
        let second = merge(
            &first,
            report(vec![], sources_down(), NOW + 60),
            PoolPolicy::default(),
        );
        let third = merge(
            &second,
            report(vec![], sources_down(), NOW + 120),
            PoolPolicy::default(),
        );
        assert_eq!(
            get(&third, "primary").evidence,
            get(&first, "primary").evidence
        );
        assert!(get(&third, "primary").error.is_some());

        let fourth = merge(
            &third,
            report(vec![read("primary", "cm", 365)], sources_ok(), NOW + 180),
            PoolPolicy::default(),
        );
        let primary = get(&fourth, "primary");
        assert_eq!(primary.error, None);
        assert_eq!(
            primary.evidence.as_ref().and_then(|e| e.expires_at),
            Some(at(NOW + 365 * DAY))
        );
        assert!(fourth.complete());
    }

    #[test]
    fn nothing_known_before_stays_unknown_without_an_expiry() {
        let before = report(vec![], vec![source("cm", None)], NOW);
        let merged = merge(
            &before,
            report(
                vec![unread("new", "cm")],
                vec![source("cm", None)],
                NOW + 60,
            ),
            PoolPolicy::default(),
        );
        let new = get(&merged, "new");
        assert_eq!(new.evidence, None);
        assert_eq!(new.error.as_deref(), Some("`cm/x`: expected unix seconds"));
        assert_eq!(new.status, Status::Unknown);
    }

    #[test]
    fn a_pool_keeps_its_runway_while_its_source_is_down() {
        let member = |name: &str, days: i64| {
            let mut o = read(name, "vault", days);
            o.credential.pool = Some("agent".into());
            o
        };
        let before = report(
            vec![member("primary", 100), member("spare-1", 200)],
            vec![source("vault", None)],
            NOW,
        );
        let merged = merge(
            &before,
            report(vec![], vec![source("vault", Some("sealed"))], NOW + 60),
            PoolPolicy::default(),
        );
        let [pool] = &merged.pools[..] else {
            panic!("one pool: {:?}", merged.pools)
        };
        assert_eq!(pool.members.len(), 2);
        assert_eq!(pool.runway_until, Some(at(NOW + 200 * DAY)));
    }

    #[test]
    fn recorded_values_are_carried_while_their_store_is_down() {
        let stored = crate::credential::StoredValue {
            credential: "primary".into(),
            fingerprint: "fp-old".into(),
            replaced_at: Some(at(NOW)),
            expires_at: Some(at(NOW + DAY)),
        };
        let mut before = report(vec![], vec![source("vault", None)], NOW);
        before.copies.stored = vec![stored.clone()];
        let down = report(vec![], vec![source("vault", Some("sealed"))], NOW + 60);
        let merged = merge(&before, down, PoolPolicy::default());
        assert_eq!(merged.copies.stored, [stored]);
        // Read again (and nothing recorded any more): what it says now wins.
        let up = report(vec![], vec![source("vault", None)], NOW + 120);
        assert!(
            merge(&merged, up, PoolPolicy::default())
                .copies
                .stored
                .is_empty()
        );
    }

    /// What push and textfile read back: series, some without a `source` label.
    fn known(name: &str, source: &str, days_left: i64) -> Known {
        Known {
            credential: credential(name, source),
            expires_at: at(NOW + days_left * DAY),
            minted_at: None,
            basis: Basis::JwtExp,
            fingerprint: None,
        }
    }

    #[test]
    fn what_was_delivered_merges_like_a_previous_report() {
        let before = previous_report(
            vec![
                known("broken", "cm", 40),
                known("fine", "inventory", 99),
                known("in-vault", "vault", 20),
                known("removed", "inventory", 10),
                known("labelless", "", 15),
            ],
            at(NOW),
        );
        let now = report(
            vec![unread("broken", "cm"), read("fine", "inventory", 50)],
            vec![
                source("inventory", None),
                source("cm", None),
                source("vault", Some("sealed")),
            ],
            NOW + 60,
        );
        let merged = merge(&before, now, PoolPolicy::default());
        assert_eq!(names(&merged), ["broken", "fine", "in-vault", "labelless"]);
        let broken = get(&merged, "broken");
        assert_eq!(
            broken.evidence.as_ref().unwrap().expires_at,
            Some(at(NOW + 40 * DAY))
        );
        assert_eq!(
            broken.evidence.as_ref().unwrap().basis,
            Basis::JwtExp,
            "the kind label stays"
        );
        assert_eq!(broken.status, Status::Unknown);
        assert_eq!(
            get(&merged, "fine").evidence.as_ref().unwrap().expires_at,
            Some(at(NOW + 50 * DAY))
        );
        let vault = get(&merged, "in-vault");
        assert!(
            vault
                .error
                .as_deref()
                .unwrap()
                .contains("source `vault` could not be read"),
            "{vault:?}"
        );
        // Delivered without a source label: it may have come from the source that failed.
        assert!(
            get(&merged, "labelless")
                .error
                .as_deref()
                .unwrap()
                .contains("source `vault`")
        );
        assert!(!merged.complete());
    }
}
