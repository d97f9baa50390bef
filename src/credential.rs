//! The domain model: what a credential is, what is known about its expiry, and the secret type.

use std::collections::BTreeMap;
use std::fmt;

use jiff::{SignedDuration, Timestamp};
use zeroize::Zeroizing;

/// When a credential starts to warn and when it becomes critical, as time left before expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    pub warn_before: SignedDuration,
    pub critical_before: SignedDuration,
}

/// Everything credwatch knows about a credential apart from its expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// Unique name; the value of the `credential` label.
    pub name: String,
    /// Primary and spares of one secret share a pool.
    pub pool: Option<String>,
    /// The source it came from (`inventory`, or the name of a `[[source]]`).
    pub source: String,
    /// Extra labels put on the credential's series.
    pub labels: BTreeMap<String, String>,
    pub runbook: Option<String>,
    pub thresholds: Thresholds,
}

/// How an expiry became known; exposed as the `kind` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// The expiry was given directly.
    ExpiresAt,
    /// The mint time was given and the expiry is mint time + TTL.
    MintedAtPlusTtl,
}

impl Basis {
    pub fn label(self) -> &'static str {
        match self {
            Basis::ExpiresAt => "expires_at",
            Basis::MintedAtPlusTtl => "minted_at_plus_ttl",
        }
    }
}

/// What a source could establish about one credential's lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Evidence {
    pub minted_at: Option<Timestamp>,
    pub expires_at: Timestamp,
    pub basis: Basis,
}

/// One credential as a source reported it: its evidence, or why none could be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub credential: Credential,
    pub evidence: Result<Evidence, String>,
}

/// A secret value (a token, a password). It never shows itself in `Debug` or `Display` and its
/// memory is wiped when dropped.
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(Zeroizing::new(value))
    }

    /// The value itself; call only where it is sent to the service it authenticates against.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_redact_themselves() {
        let s = Secret::new("hunter2-very-secret".into());
        assert_eq!(format!("{s}"), "<redacted>");
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert_eq!(s.expose(), "hunter2-very-secret");
    }
}
