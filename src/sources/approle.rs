//! AppRole secret-ids as a source (edge I/O): log in, list the roles (or take the named ones),
//! list each role's secret-id accessors, look each up. One credential per secret-id, named
//! `<role>/<accessor>`; the secret-id itself is never read. What a lookup says becomes evidence
//! in the pure [`evidence_of`].

use crate::config::{ApproleSource, SourceCommon};
use crate::credential::{Basis, Credential, Evidence, Observation};
use crate::sources::vault::{Session, connect_over};
use crate::vault::approle::SecretIdInfo;

/// What one AppRole source delivered: an observation per secret-id, and the source's own failure.
pub struct ApproleRead {
    pub observations: Vec<Observation>,
    pub error: Option<(String, &'static str)>,
}

/// The credential of one secret-id: the source's settings, plus the metadata keys it copies onto
/// labels (where the secret-id has them). Pure.
pub fn credential_of(
    common: &SourceCommon,
    source: &ApproleSource,
    role: &str,
    accessor: &str,
    info: Option<&SecretIdInfo>,
) -> Credential {
    let mut credential = common.credential(format!("{role}/{accessor}"));
    if let Some(info) = info {
        for key in &source.metadata_labels {
            if let Some(value) = info.metadata.get(key) {
                credential.labels.insert(key.clone(), value.clone());
            }
        }
    }
    credential
}

/// What Vault says about a secret-id's lifetime, as evidence. Pure.
pub fn evidence_of(role: &str, info: &SecretIdInfo) -> Evidence {
    let uses = match info.num_uses {
        0 => String::new(),
        n => format!(", {n} logins left"),
    };
    Evidence {
        minted_at: info.creation_time,
        expires_at: info.expiration_time,
        basis: Basis::ApproleExpiration,
        fingerprint: None,
        format: None,
        subject: Some(format!("approle secret-id of role `{role}`{uses}")),
        probe: None,
        valid_after: None,
    }
}

/// Reads an AppRole source.
pub fn read_source(
    common: &SourceCommon,
    source: &ApproleSource,
    env: impl Fn(&str) -> Option<String>,
) -> ApproleRead {
    let client = match connect_over(&source.connection, env) {
        Ok(c) => Session(c),
        Err(e) => {
            return ApproleRead {
                observations: Vec::new(),
                error: Some((format!("cannot log in to Vault: {e}"), "login")),
            };
        }
    };
    let mount = &source.mount;
    let roles = if source.roles.is_empty() {
        match client.list_approle_roles(mount) {
            Ok(r) => r,
            Err(e) => {
                return ApproleRead {
                    observations: Vec::new(),
                    error: Some((
                        format!("cannot list the roles of `auth/{mount}`: {e}"),
                        e.reason(),
                    )),
                };
            }
        }
    } else {
        source.roles.clone()
    };
    let mut error: Option<(String, &'static str)> = None;
    let mut pairs: Vec<(String, String)> = Vec::new();
    for role in &roles {
        match client.list_secret_id_accessors(mount, role) {
            Ok(accessors) => pairs.extend(accessors.into_iter().map(|a| (role.clone(), a))),
            Err(e) => {
                let stop = e.is_server_wide();
                if error.is_none() {
                    error = Some((e.to_string(), e.reason()));
                }
                if stop {
                    break;
                }
            }
        }
    }
    log::debug!(
        "approle source `{}`: looking up {} secret-id(s) of {} role(s)",
        common.name,
        pairs.len(),
        roles.len()
    );
    let lookups = client.lookup_secret_id_accessors(mount, &pairs, source.connection.concurrency);
    let observations = pairs
        .iter()
        .zip(lookups)
        .map(|((role, accessor), lookup)| match lookup {
            Ok(info) => Observation {
                credential: credential_of(common, source, role, accessor, Some(&info)),
                evidence: Ok(evidence_of(role, &info)),
            },
            Err(e) => {
                if error.is_none() && e.is_server_wide() {
                    error = Some((e.to_string(), e.reason()));
                }
                Observation {
                    credential: credential_of(common, source, role, accessor, None),
                    evidence: Err(e.to_string()),
                }
            }
        })
        .collect();
    ApproleRead {
        observations,
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::Thresholds;
    use jiff::{SignedDuration, Timestamp};
    use std::collections::BTreeMap;

    #[test]
    fn a_lookup_becomes_evidence_and_metadata_labels() {
        let common = SourceCommon {
            name: "approle".into(),
            ttl: SignedDuration::from_hours(24),
            pool: None,
            labels: BTreeMap::from([("team".into(), "platform".into())]).into(),
            runbook: None,
            thresholds: Thresholds {
                warn_before: SignedDuration::from_hours(24 * 30),
                critical_before: SignedDuration::from_hours(24 * 7),
            },
        };
        let source = ApproleSource {
            connection: crate::config::VaultConnection {
                address: None,
                namespace: None,
                ca_file: None,
                concurrency: 1,
                timeout: SignedDuration::from_secs(1),
                retries: 0,
                auth: None,
            },
            mount: "approle".into(),
            roles: Vec::new(),
            metadata_labels: vec!["app".into(), "absent".into()],
        };
        let at: Timestamp = "2026-12-01T00:00:00Z".parse().unwrap();
        let info = SecretIdInfo {
            creation_time: Some(at),
            expiration_time: None,
            metadata: BTreeMap::from([("app".into(), "eso".into()), ("x".into(), "y".into())]),
            num_uses: 2,
        };
        let c = credential_of(&common, &source, "eso", "abc-123", Some(&info));
        assert_eq!(c.name, "eso/abc-123");
        assert_eq!(
            c.labels,
            BTreeMap::from([
                ("app".into(), "eso".into()),
                ("team".into(), "platform".into())
            ])
            .into()
        );
        let e = evidence_of("eso", &info);
        assert_eq!((e.minted_at, e.expires_at), (Some(at), None));
        assert_eq!(e.basis, Basis::ApproleExpiration);
        assert_eq!(
            e.subject.as_deref(),
            Some("approle secret-id of role `eso`, 2 logins left")
        );
    }
}
