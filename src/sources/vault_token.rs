//! Vault/OpenBao tokens as a source (edge I/O): each configured accessor is looked up
//! (`auth/token/lookup-accessor`), so no token value is ever read. A token Vault no longer knows
//! (revoked or expired) is REVOKED, through the same rejected verdict a probe gives.

use jiff::Timestamp;

use crate::config::{SourceCommon, VaultTokenSource};
use crate::credential::{Basis, Evidence, IssuerExpiry, Observation, ProbeOutcome, ProbeVerdict};
use crate::probe::preset::vault_token_note;
use crate::sources::vault::{Session, connect_over};
use crate::vault::token::TokenInfo;

/// The `probe` label of a lookup by accessor.
pub const LOOKUP: &str = "vault-token-accessor";

/// What a lookup says, as evidence; `None` (Vault knows no such accessor) is a rejection. Pure.
pub fn evidence_of(info: Option<&TokenInfo>, now: Timestamp) -> Evidence {
    let Some(info) = info else {
        return Evidence {
            expires_at: None,
            probe: Some(Box::new(ProbeOutcome {
                preset: LOOKUP.into(),
                at: now,
                verdict: ProbeVerdict::Rejected { expired: false },
                http_status: Some(400),
                reason: "rejected: 400 invalid accessor (the token was revoked or has expired)"
                    .into(),
                expiry: IssuerExpiry::NotSaid,
                note: None,
            })),
            ..Evidence::declared(None, now, Basis::VaultTokenExpireTime)
        };
    };
    Evidence {
        minted_at: info.issue_time,
        expires_at: info.expire_time,
        subject: vault_token_note(info.renewable, info.issue_time, info.explicit_max_ttl),
        ..Evidence::declared(None, now, Basis::VaultTokenExpireTime)
    }
}

/// Reads a vault-token source: an observation per accessor, and the source's own failure.
pub fn read_source(
    common: &SourceCommon,
    source: &VaultTokenSource,
    now: Timestamp,
    env: impl Fn(&str) -> Option<String>,
) -> (Vec<Observation>, Option<(String, &'static str)>) {
    let client = match connect_over(&source.connection, env) {
        Ok(c) => Session(c),
        Err(e) => {
            let reason = format!("cannot log in to Vault: {e}");
            let observations = source
                .accessors
                .keys()
                .map(|name| Observation {
                    credential: common.credential(name.clone()),
                    evidence: Err(reason.clone()),
                })
                .collect();
            return (observations, Some((reason, "login")));
        }
    };
    let accessors: Vec<String> = source.accessors.values().cloned().collect();
    let lookups = client.lookup_token_accessors(&accessors, source.connection.concurrency);
    let mut error = None;
    let observations = source
        .accessors
        .keys()
        .zip(lookups)
        .map(|(name, lookup)| Observation {
            credential: common.credential(name.clone()),
            evidence: match lookup {
                Ok(info) => Ok(evidence_of(info.as_ref(), now)),
                Err(e) => {
                    if error.is_none() && e.is_server_wide() {
                        error = Some((e.to_string(), e.reason()));
                    }
                    Err(e.to_string())
                }
            },
        })
        .collect();
    (observations, error)
}
