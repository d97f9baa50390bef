//! Pure assessment: (observations, now) → a status per credential and for the whole run.

use jiff::{SignedDuration, Timestamp};

use crate::credential::{Credential, Evidence};
use crate::sources::{Collection, SourceStatus};

/// Ordered from best to worst, so the overall status of a run is the maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Ok,
    Warning,
    Critical,
    Expired,
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warning => "WARNING",
            Status::Critical => "CRITICAL",
            Status::Expired => "EXPIRED",
            Status::Unknown => "UNKNOWN",
        }
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
}

/// The outcome of one run, for every output.
#[derive(Debug, Clone)]
pub struct Report {
    pub now: Timestamp,
    /// Sorted: unreadable credentials first, then by soonest expiry, then by name.
    pub assessments: Vec<Assessment>,
    pub sources: Vec<SourceStatus>,
    pub problems: Vec<String>,
}

impl Report {
    /// The worst status of any credential; UNKNOWN when a source failed or a problem was found.
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
            Status::Unknown
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

pub fn assess(collection: Collection, now: Timestamp) -> Report {
    let mut assessments: Vec<Assessment> = collection
        .observations
        .into_iter()
        .map(|o| match o.evidence {
            Ok(evidence) => {
                let (status, remaining) = status_at(evidence.expires_at, now, &o.credential);
                Assessment {
                    credential: o.credential,
                    evidence: Some(evidence),
                    error: None,
                    status,
                    remaining: Some(remaining),
                }
            }
            Err(error) => Assessment {
                credential: o.credential,
                evidence: None,
                error: Some(error),
                status: Status::Unknown,
                remaining: None,
            },
        })
        .collect();
    assessments.sort_by(|a, b| {
        let key = |x: &Assessment| x.evidence.map(|e| e.expires_at);
        key(a)
            .cmp(&key(b))
            .then_with(|| a.credential.name.cmp(&b.credential.name))
    });
    Report {
        now,
        assessments,
        sources: collection.sources,
        problems: collection.problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::{Basis, Observation, Thresholds};

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
            evidence: Ok(Evidence {
                minted_at: None,
                expires_at: at(now.as_second() + left),
                basis: Basis::ExpiresAt,
            }),
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
        };
        let report = assess(collection, now);
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
            evidence: Ok(Evidence {
                minted_at: None,
                expires_at: at(now.as_second() + left),
                basis: Basis::ExpiresAt,
            }),
        };
        let report = assess(
            Collection {
                observations: vec![ok("a", 100 * DAY), ok("b", 3 * DAY)],
                ..Default::default()
            },
            now,
        );
        assert_eq!(report.overall(), Status::Critical);
        assert!(report.complete());
        let empty = assess(Collection::default(), now);
        assert_eq!(empty.overall(), Status::Ok);
    }
}
