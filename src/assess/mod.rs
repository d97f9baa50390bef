//! Pure assessment: (observations, now) → a status per credential and for the whole run.

pub mod carry;
pub mod consumer;

use jiff::{SignedDuration, Timestamp};

use crate::credential::{Collection, SourceStatus};
use crate::credential::{Credential, Evidence, PoolPolicy, ProbeVerdict};

/// Ordered from best to worst, so the overall status of a run is the maximum. UNKNOWN ranks
/// below CRITICAL, as in the monitoring-plugin convention: one unreadable file must not hide an
/// expired credential from whoever routes on the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Ok,
    /// The credential does not expire (a JWT without `exp`).
    NoExpiry,
    Warning,
    /// Its probe got no verdict from the issuer (unreachable, timeout, 5xx, redirect): a warning,
    /// not a rejection.
    ProbeFailing,
    /// Something could not be read.
    Unknown,
    Critical,
    /// The value does not have the shape its format requires; it will not work.
    Invalid,
    Expired,
    /// The issuer rejected it before its recorded expiry.
    Revoked,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::NoExpiry => "NO EXPIRY",
            Status::Warning => "WARNING",
            Status::Critical => "CRITICAL",
            Status::Invalid => "INVALID",
            Status::Expired => "EXPIRED",
            Status::Revoked => "REVOKED",
            Status::ProbeFailing => "PROBE FAILING",
            Status::Unknown => "UNKNOWN",
        }
    }

    /// Usable now and later: not expiring soon, not broken.
    fn healthy(self) -> bool {
        matches!(self, Status::Ok | Status::NoExpiry)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    pub credential: Credential,
    pub evidence: Option<Evidence>,
    /// Why nothing is known, when the credential could not be read.
    pub error: Option<String>,
    pub status: Status,
    /// Time left until expiry; negative once expired.
    pub remaining: Option<SignedDuration>,
    /// For a pool member that is expiring, expired or broken: a healthy member holding a different
    /// value that can take over.
    pub replacement: Option<String>,
}

/// What a pool (a primary and its spares) really offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    pub name: String,
    /// Member names, in report order.
    pub members: Vec<String>,
    /// How many different values the members hold (members whose value was not read count as
    /// different).
    pub distinct: usize,
    /// How many members' values were read (and fingerprinted).
    pub fingerprinted: usize,
    /// `(member, same_as)`: the member holds the same value as an earlier one.
    pub duplicates: Vec<(String, String)>,
    /// When the last usable distinct value expires; `None` when no member is usable,
    /// `Timestamp::MAX` when a usable member never expires.
    pub runway_until: Option<Timestamp>,
    pub runway_warn_before: SignedDuration,
    /// Members expiring within this of each other add no runway.
    pub spread: SignedDuration,
    /// `(member, other)`: the member expires within `spread` of `other` and adds no runway.
    pub no_runway: Vec<(String, String)>,
}

impl Pool {
    pub fn runway(&self, now: Timestamp) -> Option<SignedDuration> {
        self.runway_until
            .filter(|t| *t != Timestamp::MAX)
            .map(|t| t.duration_since(now))
    }

    /// True when the pool is running out: no usable member, or less runway than it should have.
    pub fn low(&self, now: Timestamp) -> bool {
        match self.runway_until {
            None => true,
            Some(t) if t == Timestamp::MAX => false,
            Some(t) => t.duration_since(now) < self.runway_warn_before,
        }
    }
}

/// The outcome of one run, for every output.
#[derive(Debug, Clone)]
pub struct Report {
    pub now: Timestamp,
    /// Sorted: unreadable credentials first, then by soonest expiry, then by name.
    pub assessments: Vec<Assessment>,
    pub pools: Vec<Pool>,
    pub sources: Vec<SourceStatus>,
    pub problems: Vec<String>,
    /// Consumers' copies and the values stores recorded, passed through for the metrics.
    pub copies: crate::credential::Copies,
}

impl Report {
    /// The worst status of any credential; at least UNKNOWN when a source failed or a problem was
    /// found.
    pub fn overall(&self) -> Status {
        let worst = self
            .assessments
            .iter()
            .map(|a| a.status)
            .max()
            .unwrap_or(Status::Ok);
        if self.complete() {
            worst
        } else {
            worst.max(Status::Unknown)
        }
    }

    /// True when every source and every credential was read and nothing was skipped.
    pub fn complete(&self) -> bool {
        self.problems.is_empty()
            && self.sources.iter().all(|s| s.error.is_none())
            && self.assessments.iter().all(|a| a.error.is_none())
    }
}

/// The status of one expiry at `now`. A credential is EXPIRED at its expiry instant, CRITICAL
/// while less than `critical_before` is left, WARNING while less than `warn_before` is left.
pub fn status_at(
    expires_at: Timestamp,
    now: Timestamp,
    credential: &Credential,
) -> (Status, SignedDuration) {
    let remaining = expires_at.duration_since(now);
    let t = credential.thresholds;
    let status = if remaining <= SignedDuration::ZERO {
        Status::Expired
    } else if remaining < t.critical_before {
        Status::Critical
    } else if remaining < t.warn_before {
        Status::Warning
    } else {
        Status::Ok
    };
    (status, remaining)
}

fn assess_one(
    credential: Credential,
    evidence: Result<Evidence, String>,
    now: Timestamp,
) -> Assessment {
    let evidence = match evidence {
        Ok(e) => e,
        Err(error) => {
            return Assessment {
                credential,
                evidence: None,
                error: Some(error),
                status: Status::Unknown,
                remaining: None,
                replacement: None,
            };
        }
    };
    let (mut status, remaining) = match evidence.expires_at {
        Some(t) => {
            let (s, r) = status_at(t, now, &credential);
            (s, Some(r))
        }
        None => (Status::NoExpiry, None),
    };
    if evidence
        .format
        .as_ref()
        .is_some_and(|f| f.problem.is_some())
        && status != Status::Expired
    {
        status = Status::Invalid;
    }
    // What the issuer said last outranks what was recorded.
    if let Some(p) = &evidence.probe {
        status = match p.verdict {
            ProbeVerdict::Rejected { expired: true } => Status::Expired,
            ProbeVerdict::Rejected { expired: false } if status == Status::Expired => status,
            ProbeVerdict::Rejected { expired: false } => Status::Revoked,
            ProbeVerdict::Failed => status.max(Status::ProbeFailing),
            ProbeVerdict::Accepted => status,
        };
    }
    Assessment {
        credential,
        evidence: Some(evidence),
        error: None,
        status,
        remaining,
        replacement: None,
    }
}

/// Groups pool members by value and works out duplicates, runway and replacements.
fn assess_pools(assessments: &mut [Assessment], policy: PoolPolicy) -> Vec<Pool> {
    // Members of each pool, in report order, in one pass: looking them up pool by pool would
    // make the cost grow with pools × credentials.
    let mut members: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
    for (i, a) in assessments.iter().enumerate() {
        if let Some(pool) = &a.credential.pool {
            members.entry(pool.clone()).or_default().push(i);
        }
    }
    let mut pools = Vec::new();
    for (name, idx) in members {
        // Members in definition order of their value: the first holder of a value is the original.
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut duplicates = Vec::new();
        for &i in &idx {
            let fp = assessments[i]
                .evidence
                .as_ref()
                .and_then(|e| e.fingerprint.clone());
            let existing = fp.as_ref().and_then(|fp| {
                groups.iter_mut().find(|g| {
                    assessments[g[0]]
                        .evidence
                        .as_ref()
                        .and_then(|e| e.fingerprint.as_ref())
                        == Some(fp)
                })
            });
            match existing {
                Some(group) => {
                    duplicates.push((
                        assessments[i].credential.name.clone(),
                        assessments[group[0]].credential.name.clone(),
                    ));
                    group.push(i);
                }
                None => groups.push(vec![i]),
            }
        }
        // A value expires when its earliest claim says so: a duplicate declared as minted later
        // does not make the shared token last longer.
        let usable = |i: usize| {
            !matches!(
                assessments[i].status,
                Status::Unknown | Status::Invalid | Status::Expired | Status::Revoked
            )
        };
        let mut lifetimes: Vec<(Timestamp, usize)> = groups
            .iter()
            .filter(|g| g.iter().any(|&i| usable(i)))
            .filter_map(|g| {
                let expiry = |i: usize| {
                    assessments[i]
                        .evidence
                        .as_ref()
                        .map(|e| e.expires_at.unwrap_or(Timestamp::MAX))
                };
                let first = g
                    .iter()
                    .copied()
                    .filter(|&i| expiry(i).is_some())
                    .min_by_key(|&i| expiry(i))?;
                // Name the group after a usable member.
                let named = g.iter().copied().find(|&i| usable(i)).unwrap_or(first);
                Some((expiry(first)?, named))
            })
            .collect();
        lifetimes.sort();
        let mut no_runway = Vec::new();
        for pair in lifetimes.windows(2) {
            let ((earlier, a), (later, b)) = (pair[0], pair[1]);
            if later != Timestamp::MAX && later.duration_since(earlier) < policy.spread {
                no_runway.push((
                    assessments[b].credential.name.clone(),
                    assessments[a].credential.name.clone(),
                ));
            }
        }
        // `Timestamp::MAX` stands for a member that never expires.
        let runway_until = lifetimes.last().map(|(t, _)| *t);
        // Replacements: a healthy member of another value group.
        for g in &groups {
            for &i in g {
                if assessments[i].status.healthy() {
                    continue;
                }
                let other = groups
                    .iter()
                    .filter(|h| !std::ptr::eq(*h, g))
                    .flat_map(|h| h.iter())
                    .find(|&&j| assessments[j].status.healthy())
                    .map(|&j| assessments[j].credential.name.clone());
                assessments[i].replacement = other;
            }
        }
        pools.push(Pool {
            name,
            members: idx
                .iter()
                .map(|&i| assessments[i].credential.name.clone())
                .collect(),
            distinct: groups.len(),
            fingerprinted: idx
                .iter()
                .filter(|&&i| {
                    assessments[i]
                        .evidence
                        .as_ref()
                        .is_some_and(|e| e.fingerprint.is_some())
                })
                .count(),
            duplicates,
            runway_until,
            runway_warn_before: policy.warn_before,
            spread: policy.spread,
            no_runway,
        });
    }
    pools
}

/// Sorts the report's order: unreadable first, then by soonest expiry, then by name; equal ones
/// keep their order (a stable sort).
///
/// Sorted as positions, then moved into place: a stable sort of the assessments themselves
/// needs scratch room for half of them (20 MB at 100k), which the allocator keeps after.
fn sort_assessments(assessments: &mut [Assessment]) {
    let key = |x: &Assessment| {
        x.evidence
            .as_ref()
            .map(|e| e.expires_at.unwrap_or(Timestamp::MAX))
    };
    let mut order: Vec<usize> = (0..assessments.len()).collect();
    order.sort_by(|&i, &j| {
        let (a, b) = (&assessments[i], &assessments[j]);
        key(a)
            .cmp(&key(b))
            .then_with(|| a.credential.name.cmp(&b.credential.name))
    });
    // Position `i` takes the assessment at `order[i]`, one cycle of the permutation at a time.
    const PLACED: usize = usize::MAX;
    for start in 0..order.len() {
        let mut at = start;
        while order[at] != PLACED {
            let from = std::mem::replace(&mut order[at], PLACED);
            if from == start {
                break;
            }
            assessments.swap(at, from);
            at = from;
        }
    }
}

pub fn assess(collection: Collection, now: Timestamp, policy: PoolPolicy) -> Report {
    let mut assessments: Vec<Assessment> = collection
        .observations
        .into_iter()
        .map(|o| assess_one(o.credential, o.evidence, now))
        .collect();
    sort_assessments(&mut assessments);
    let pools = assess_pools(&mut assessments, policy);
    Report {
        now,
        assessments,
        pools,
        sources: collection.sources,
        problems: collection.problems,
        copies: collection.copies,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::{Basis, FormatResult, Observation, Thresholds};

    const DAY: i64 = 86_400;

    fn credential(name: &str) -> Credential {
        Credential {
            name: name.into(),
            pool: None,
            source: "inventory".into(),
            labels: Default::default(),
            runbook: None,
            thresholds: Thresholds {
                warn_before: SignedDuration::from_secs(30 * DAY),
                critical_before: SignedDuration::from_secs(7 * DAY),
            },
        }
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).unwrap()
    }

    #[test]
    fn the_report_order_is_a_stable_sort_by_expiry_then_name() {
        let now = at(1_800_000_000);
        // Repeated names and expiries, told apart by source, in a scrambled order.
        let mut assessments: Vec<Assessment> = (0..500u64)
            .map(|i| {
                let mixed = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40;
                let mut c = credential(&format!("c{}", mixed % 7));
                c.source = format!("s{i}");
                let evidence = match mixed % 5 {
                    0 => Err("unreadable".to_string()),
                    _ => Ok(Evidence::declared(
                        None,
                        at(1_800_000_000 + (mixed % 3) as i64 * DAY),
                        Basis::ExpiresAt,
                    )),
                };
                assess_one(c, evidence, now)
            })
            .collect();
        let mut wanted = assessments.clone();
        wanted.sort_by(|a, b| {
            let key = |x: &Assessment| x.evidence.as_ref().map(|e| e.expires_at.unwrap());
            key(a)
                .cmp(&key(b))
                .then_with(|| a.credential.name.cmp(&b.credential.name))
        });
        sort_assessments(&mut assessments);
        assert_eq!(assessments, wanted);
    }

    #[test]
    fn status_changes_exactly_at_each_threshold() {
        let now = at(1_800_000_000);
        let c = credential("t");
        let cases = [
            (30 * DAY + 1, Status::Ok),
            (30 * DAY, Status::Ok),
            (30 * DAY - 1, Status::Warning),
            (7 * DAY, Status::Warning),
            (7 * DAY - 1, Status::Critical),
            (1, Status::Critical),
            (0, Status::Expired),
            (-DAY, Status::Expired),
        ];
        for (left, wanted) in cases {
            let (status, remaining) = status_at(at(now.as_second() + left), now, &c);
            assert_eq!(status, wanted, "{left}s left");
            assert_eq!(remaining.as_secs(), left);
        }
    }

    #[test]
    fn per_credential_thresholds_apply() {
        let now = at(1_800_000_000);
        let mut c = credential("t");
        c.thresholds.warn_before = SignedDuration::from_secs(45 * DAY);
        assert_eq!(
            status_at(at(now.as_second() + 40 * DAY), now, &c).0,
            Status::Warning
        );
        assert_eq!(
            status_at(at(now.as_second() + 40 * DAY), now, &credential("u")).0,
            Status::Ok
        );
    }

    #[test]
    fn unreadable_credentials_sort_first_and_make_the_run_unknown() {
        let now = at(1_800_000_000);
        let ok = |name: &str, left: i64| Observation {
            credential: credential(name),
            evidence: Ok(Evidence::declared(
                None,
                at(now.as_second() + left),
                Basis::ExpiresAt,
            )),
        };
        let collection = Collection {
            observations: vec![
                ok("late", 100 * DAY),
                Observation {
                    credential: credential("broken"),
                    evidence: Err("bad".into()),
                },
                ok("soon", 10 * DAY),
            ],
            sources: vec![],
            problems: vec![],
            copies: Default::default(),
        };
        let report = assess(collection, now, PoolPolicy::default());
        let names: Vec<_> = report
            .assessments
            .iter()
            .map(|a| a.credential.name.as_str())
            .collect();
        assert_eq!(names, ["broken", "soon", "late"]);
        assert_eq!(report.overall(), Status::Unknown);
        assert!(!report.complete());
    }

    #[test]
    fn the_worst_credential_sets_the_overall_status() {
        let now = at(1_800_000_000);
        let ok = |name: &str, left: i64| Observation {
            credential: credential(name),
            evidence: Ok(Evidence::declared(
                None,
                at(now.as_second() + left),
                Basis::ExpiresAt,
            )),
        };
        let report = assess(
            Collection {
                observations: vec![ok("a", 100 * DAY), ok("b", 3 * DAY)],
                ..Default::default()
            },
            now,
            PoolPolicy::default(),
        );
        assert_eq!(report.overall(), Status::Critical);
        assert!(report.complete());
        let empty = assess(Collection::default(), now, PoolPolicy::default());
        assert_eq!(empty.overall(), Status::Ok);
    }

    fn member(name: &str, expires: i64, fingerprint: Option<&str>) -> Observation {
        let mut c = credential(name);
        c.pool = Some("agent".into());
        let mut e = Evidence::declared(None, at(expires), Basis::ExpiresAt);
        e.fingerprint = fingerprint.map(String::from);
        Observation {
            credential: c,
            evidence: Ok(e),
        }
    }

    fn pool_report(observations: Vec<Observation>, now: i64) -> Report {
        assess(
            Collection {
                observations,
                ..Default::default()
            },
            at(now),
            PoolPolicy::default(),
        )
    }

    #[test]
    fn a_spare_holding_the_primarys_token_is_a_duplicate_not_runway() {
        let now = 1_800_000_000;
        let report = pool_report(
            vec![
                member("primary", now + 100 * DAY, Some("fp-a")),
                member("spare-1", now + 300 * DAY, Some("fp-b")),
                // Declared as minted later, but it is primary's token: it expires with primary.
                member("spare-2", now + 365 * DAY, Some("fp-a")),
            ],
            now,
        );
        let [pool] = &report.pools[..] else {
            panic!("one pool")
        };
        assert_eq!(pool.members.len(), 3);
        assert_eq!(pool.distinct, 2);
        assert_eq!(
            pool.duplicates,
            [("spare-2".to_string(), "primary".to_string())]
        );
        assert_eq!(pool.runway_until, Some(at(now + 300 * DAY)));
        assert!(!pool.low(at(now)));
    }

    #[test]
    fn spares_expiring_together_add_no_runway() {
        let now = 1_800_000_000;
        let report = pool_report(
            vec![
                member("primary", now + 100 * DAY, Some("a")),
                member("spare-1", now + 100 * DAY + 3_600, Some("b")),
                member("spare-2", now + 102 * DAY, Some("c")),
                member("spare-3", now + 200 * DAY, Some("d")),
            ],
            now,
        );
        let pool = &report.pools[0];
        assert_eq!(pool.distinct, 4);
        assert_eq!(
            pool.no_runway,
            [
                ("spare-1".to_string(), "primary".to_string()),
                ("spare-2".to_string(), "spare-1".to_string())
            ]
        );
        assert_eq!(
            pool.runway(at(now)),
            Some(SignedDuration::from_secs(200 * DAY))
        );
    }

    #[test]
    fn an_expiring_member_names_its_healthy_replacement() {
        let now = 1_800_000_000;
        let report = pool_report(
            vec![
                member("primary", now + 5 * DAY, Some("a")),
                member("twin", now + 200 * DAY, Some("a")),
                member("spare-1", now + 200 * DAY, Some("b")),
            ],
            now,
        );
        let get = |n: &str| {
            report
                .assessments
                .iter()
                .find(|a| a.credential.name == n)
                .unwrap()
        };
        assert_eq!(get("primary").status, Status::Critical);
        assert_eq!(get("primary").replacement.as_deref(), Some("spare-1"));
        // The same token under another name cannot replace it; a healthy member needs none.
        assert_eq!(get("spare-1").replacement, None);
        let pool = &report.pools[0];
        // The shared value expires with its earliest claim.
        assert_eq!(pool.runway_until, Some(at(now + 200 * DAY)));

        let alone = pool_report(
            vec![
                member("primary", now + 5 * DAY, Some("a")),
                member("twin", now + 200 * DAY, Some("a")),
            ],
            now,
        );
        let primary = alone
            .assessments
            .iter()
            .find(|a| a.credential.name == "primary")
            .unwrap();
        assert_eq!(primary.replacement, None);
        assert_eq!(
            alone.pools[0].runway(at(now)),
            Some(SignedDuration::from_secs(5 * DAY))
        );
        assert!(alone.pools[0].low(at(now)));
    }

    #[test]
    fn a_malformed_value_is_invalid_and_leaves_the_pool_without_runway() {
        let now = 1_800_000_000;
        let mut broken = member("primary", now + 300 * DAY, Some("a"));
        if let Ok(e) = &mut broken.evidence {
            e.format = Some(Box::new(FormatResult {
                profile: "claude-oauth".into(),
                problem: Some("expected exactly 108 characters, found 107".into()),
            }));
        }
        let report = pool_report(vec![broken], now);
        assert_eq!(report.assessments[0].status, Status::Invalid);
        assert_eq!(report.overall(), Status::Invalid);
        assert_eq!(report.pools[0].runway_until, None);
        assert!(report.pools[0].low(at(now)));
    }

    #[test]
    fn a_value_without_expiry_is_its_own_state() {
        let now = 1_800_000_000;
        let mut c = credential("jwt");
        c.pool = Some("agent".into());
        let e = Evidence {
            expires_at: None,
            ..Evidence::declared(None, at(now), Basis::JwtExp)
        };
        let report = pool_report(
            vec![Observation {
                credential: c,
                evidence: Ok(e),
            }],
            now,
        );
        assert_eq!(report.assessments[0].status, Status::NoExpiry);
        assert_eq!(report.assessments[0].remaining, None);
        assert_eq!(report.overall(), Status::NoExpiry);
        assert_eq!(report.pools[0].runway(at(now)), None);
        assert!(!report.pools[0].low(at(now)));
    }
}
