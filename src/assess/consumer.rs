//! Pure: a consumer's copy against the values a store recorded → its state. The same judgement
//! the alert rules make in PromQL (join on credential and fingerprint), for the commands that
//! hold both sides (`rotate --wait`).

use jiff::Timestamp;

use crate::credential::StoredValue;

/// What a consumer's copy is, compared with what the store recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// The value the store holds now.
    Current { expires_at: Option<Timestamp> },
    /// A value the store replaced at `since`; it still lives until `expires_at`.
    Stale {
        expires_at: Option<Timestamp>,
        since: Timestamp,
    },
    /// A value nothing recorded: never reported as fine.
    Unknown,
    /// The copy could not be read.
    Unreadable(String),
}

impl State {
    pub fn label(&self) -> &'static str {
        match self {
            State::Current { .. } => "current",
            State::Stale { .. } => "stale",
            State::Unknown => "unknown",
            State::Unreadable(_) => "unreadable",
        }
    }
}

/// The state of a copy (its fingerprint, or why it could not be read) among `stored`, the
/// values recorded for its credential.
pub fn state(copy: &Result<String, String>, stored: &[StoredValue]) -> State {
    let fingerprint = match copy {
        Ok(f) => f,
        Err(e) => return State::Unreadable(e.clone()),
    };
    match stored.iter().find(|s| &s.fingerprint == fingerprint) {
        None => State::Unknown,
        Some(s) => match s.replaced_at {
            None => State::Current {
                expires_at: s.expires_at,
            },
            Some(since) => State::Stale {
                expires_at: s.expires_at,
                since,
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_copy_is_current_stale_unknown_or_unreadable() {
        let stored = [
            StoredValue {
                credential: "primary".into(),
                fingerprint: "fp-new".into(),
                replaced_at: None,
                expires_at: Some(ts("2027-12-01T00:00:00Z")),
            },
            StoredValue {
                credential: "primary".into(),
                fingerprint: "fp-old".into(),
                replaced_at: Some(ts("2026-12-01T10:00:00Z")),
                expires_at: Some(ts("2026-12-11T00:00:00Z")),
            },
        ];
        assert_eq!(
            state(&Ok("fp-new".into()), &stored),
            State::Current {
                expires_at: Some(ts("2027-12-01T00:00:00Z"))
            }
        );
        assert_eq!(
            state(&Ok("fp-old".into()), &stored),
            State::Stale {
                expires_at: Some(ts("2026-12-11T00:00:00Z")),
                since: ts("2026-12-01T10:00:00Z")
            }
        );
        assert_eq!(state(&Ok("fp-other".into()), &stored), State::Unknown);
        // Nothing recorded at all: unknown, not fine.
        assert_eq!(state(&Ok("fp-new".into()), &[]), State::Unknown);
        let unreadable = state(&Err("`TOKEN` is not set".into()), &stored);
        assert_eq!(unreadable.label(), "unreadable");
    }
}
