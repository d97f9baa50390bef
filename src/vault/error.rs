//! Why a Vault/OpenBao call failed, typed by what a caller does about it.
//!
//! Every message names the operation (`read metadata of `secret/agent``) and what went wrong. No
//! message ever holds a token, a secret value or the body of a data read: server messages are
//! included only for non-data requests, are bounded in length, and have every known secret
//! (the client token, a login credential) replaced by `<redacted>` first.

use std::time::Duration;

/// A failed Vault/OpenBao operation. [`VaultError::reason`] gives a short label for metrics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    /// HTTP 503: the server is sealed (or has no active node); it is up but serves nothing.
    #[error("{op}: the server is sealed or unavailable (HTTP 503){}", note(.detail))]
    Sealed { op: String, detail: String },
    /// HTTP 403: the token is invalid, expired, or its policies do not allow the request (the
    /// server's texts vary, so only the status is matched).
    #[error("{op}: permission denied (HTTP 403){}", note(.detail))]
    Denied { op: String, detail: String },
    /// HTTP 404, a missing field, or no live current version.
    #[error("{op}: not found{}", note(.detail))]
    NotFound { op: String, detail: String },
    /// No connection could be made (refused, DNS, TLS) or it broke before an answer came.
    #[error("{op}: cannot reach the server: {detail}")]
    Unreachable { op: String, detail: String },
    /// The server accepted the connection but did not answer within the per-request timeout.
    #[error("{op}: no answer within {:.1}s", .after.as_secs_f64())]
    Timeout { op: String, after: Duration },
    /// A check-and-set write found that the secret is no longer at version `cas`.
    #[error(
        "{op}: check-and-set version {cas} is no longer the current version (another write came first)"
    )]
    Cas { op: String, cas: u64 },
    /// Any other HTTP status.
    #[error("{op}: HTTP {status}{}", note(.message))]
    Http {
        op: String,
        status: u16,
        message: String,
    },
    /// The answer was not JSON of the expected shape, or was too large.
    #[error("{op}: unexpected answer: {detail}")]
    Malformed { op: String, detail: String },
    /// A listing went deeper or wider than the configured bounds.
    #[error("{op}: {detail}")]
    LimitExceeded { op: String, detail: String },
    /// The local setup is wrong: an unreadable or empty token, secret-id, JWT or CA file.
    #[error("{0}")]
    Config(String),
}

fn note(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    }
}

impl VaultError {
    /// A short label for a metric's `reason` label.
    pub fn reason(&self) -> &'static str {
        match self {
            VaultError::Sealed { .. } => "sealed",
            VaultError::Denied { .. } => "denied",
            VaultError::NotFound { .. } => "not_found",
            VaultError::Unreachable { .. } => "unreachable",
            VaultError::Timeout { .. } => "timeout",
            VaultError::Cas { .. } => "cas_conflict",
            VaultError::Http { .. } => "http_error",
            VaultError::Malformed { .. } => "malformed",
            VaultError::LimitExceeded { .. } => "limit_exceeded",
            VaultError::Config(_) => "config",
        }
    }

    /// True when the failure concerns the whole server rather than one path, so that further
    /// requests in the same batch would fail the same way.
    pub fn is_server_wide(&self) -> bool {
        matches!(
            self,
            VaultError::Sealed { .. } | VaultError::Unreachable { .. } | VaultError::Timeout { .. }
        )
    }

    /// The same failure, reported for another operation that was not attempted because of it.
    pub(crate) fn not_tried(&self, op: String) -> VaultError {
        let because = format!("not tried: {self}");
        match self {
            VaultError::Sealed { .. } => VaultError::Sealed {
                op,
                detail: because,
            },
            VaultError::Unreachable { .. } => VaultError::Unreachable {
                op,
                detail: because,
            },
            VaultError::Timeout { after, .. } => VaultError::Timeout { op, after: *after },
            other => other.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_operation_and_labels_are_stable() {
        let op = || "read metadata of `secret/a`".to_string();
        let cases = [
            (
                VaultError::Sealed {
                    op: op(),
                    detail: "Vault is sealed".into(),
                },
                "sealed",
                "read metadata of `secret/a`: the server is sealed or unavailable (HTTP 503): Vault is sealed",
            ),
            (
                VaultError::Denied {
                    op: op(),
                    detail: String::new(),
                },
                "denied",
                "read metadata of `secret/a`: permission denied (HTTP 403)",
            ),
            (
                VaultError::Timeout {
                    op: op(),
                    after: Duration::from_millis(1500),
                },
                "timeout",
                "read metadata of `secret/a`: no answer within 1.5s",
            ),
            (
                VaultError::Cas { op: op(), cas: 3 },
                "cas_conflict",
                "read metadata of `secret/a`: check-and-set version 3 is no longer the current version (another write came first)",
            ),
            (
                VaultError::Http {
                    op: op(),
                    status: 418,
                    message: String::new(),
                },
                "http_error",
                "read metadata of `secret/a`: HTTP 418",
            ),
        ];
        for (error, reason, text) in cases {
            assert_eq!(error.reason(), reason);
            assert_eq!(error.to_string(), text);
        }
    }

    #[test]
    fn skipped_operations_keep_the_kind_of_the_failure() {
        let first = VaultError::Unreachable {
            op: "read metadata of `secret/a`".into(),
            detail: "connection refused".into(),
        };
        let skipped = first.not_tried("read metadata of `secret/b`".into());
        assert_eq!(skipped.reason(), "unreachable");
        assert!(skipped.is_server_wide());
        assert!(
            skipped
                .to_string()
                .starts_with("read metadata of `secret/b`: cannot reach the server: not tried: ")
        );
    }
}
