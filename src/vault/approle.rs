//! The AppRole calls of the client: list the roles of a mount, list a role's secret-id accessors,
//! look one up by its accessor. Edge I/O on the client's transport; the answer's shape and its
//! pure parser ([`parse_secret_id`]) are here too. A secret-id itself is never read or sent:
//! everything goes by accessor.
//!
//! | call | path | capability |
//! |---|---|---|
//! | `list_approle_roles` | `auth/<mount>/role` | `list` |
//! | `list_secret_id_accessors` | `auth/<mount>/role/<role>/secret-id` | `list` |
//! | `lookup_secret_id_accessors` | `auth/<mount>/role/<role>/secret-id-accessor/lookup` | `update` |

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::OnceLock;

use jiff::Timestamp;
use serde::Deserialize;

use super::client::Client;
use super::error::VaultError;
use super::path::{clean_mount, encode_component, encode_path};
use super::transport::Request;
use crate::net;

const LIST_LIMIT: u64 = 16 << 20;
const LOOKUP_LIMIT: u64 = 1 << 20;

/// What Vault says about one secret-id (looked up by accessor).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretIdInfo {
    pub creation_time: Option<Timestamp>,
    /// `None` when it never expires (Vault answers `0001-01-01T00:00:00Z`).
    pub expiration_time: Option<Timestamp>,
    /// Set at generation; values are strings.
    pub metadata: BTreeMap<String, String>,
    /// Logins left; 0 means unlimited.
    pub num_uses: u64,
}

/// Parses the answer of `secret-id-accessor/lookup` (`{"data": {...}}`).
pub fn parse_secret_id(body: &[u8]) -> Result<SecretIdInfo, String> {
    read_secret_id(body)
}

fn read_secret_id(reader: impl Read) -> Result<SecretIdInfo, String> {
    #[derive(Deserialize)]
    struct Envelope {
        data: Option<Data>,
    }
    #[derive(Deserialize)]
    struct Data {
        creation_time: Option<String>,
        expiration_time: Option<String>,
        #[serde(default)]
        metadata: Option<BTreeMap<String, String>>,
        #[serde(default)]
        secret_id_num_uses: u64,
    }
    let envelope: Envelope = serde_json::from_reader(reader)
        .map_err(|e| format!("the lookup answer is not the expected JSON ({e})"))?;
    let data = envelope
        .data
        .ok_or_else(|| "the lookup answer has no `data` object".to_string())?;
    let time = |field: &str, value: Option<String>| -> Result<Option<Timestamp>, String> {
        match value.as_deref() {
            None | Some("") => Ok(None),
            // Go's zero time: no expiry, not the year 1.
            Some(t) if t.starts_with("0001-01-01T00:00:00") => Ok(None),
            Some(t) => t
                .parse::<Timestamp>()
                .map(Some)
                .map_err(|_| format!("`{field}` is not an RFC 3339 time: `{t}`")),
        }
    };
    Ok(SecretIdInfo {
        creation_time: time("creation_time", data.creation_time)?,
        expiration_time: time("expiration_time", data.expiration_time)?,
        metadata: data.metadata.unwrap_or_default(),
        num_uses: data.secret_id_num_uses,
    })
}

impl Client {
    /// One LIST of an auth path (`?list=true`); an empty or missing listing is empty.
    fn list_auth(&self, op: &str, path: &str) -> Result<Vec<String>, VaultError> {
        let call = Request::get(op, path).query("list=true");
        match self.execute(&call) {
            Ok(response) => {
                let max = self.max_entries();
                self.transport().parse(op, response, LIST_LIMIT, |r| {
                    super::model::read_list(r, max)
                })
            }
            Err(VaultError::NotFound { detail, .. }) if detail.is_empty() => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// The roles of the AppRole mount `mount` (`LIST auth/<mount>/role`), sorted.
    pub fn list_approle_roles(&self, mount: &str) -> Result<Vec<String>, VaultError> {
        let mount = clean_mount(mount)?;
        let op = format!("list the roles of `auth/{mount}`");
        let mut roles = self.list_auth(&op, &format!("auth/{}/role", encode_path(mount)))?;
        roles.sort();
        Ok(roles)
    }

    /// The secret-id accessors of `role` (`LIST auth/<mount>/role/<role>/secret-id`), sorted. A
    /// role that does not exist is an error (Vault answers 400 "role … does not exist").
    pub fn list_secret_id_accessors(
        &self,
        mount: &str,
        role: &str,
    ) -> Result<Vec<String>, VaultError> {
        let mount = clean_mount(mount)?;
        let op = format!("list the secret-ids of role `{role}` at `auth/{mount}`");
        let path = format!(
            "auth/{}/role/{}/secret-id",
            encode_path(mount),
            encode_component(role)
        );
        let mut accessors = self.list_auth(&op, &path)?;
        accessors.sort();
        Ok(accessors)
    }

    /// Looks up many `(role, accessor)` pairs, `concurrency` at a time, in order. Once the server
    /// is sealed, unreachable or hanging, the rest are not tried and carry that error.
    pub fn lookup_secret_id_accessors(
        &self,
        mount: &str,
        pairs: &[(String, String)],
        concurrency: usize,
    ) -> Vec<Result<SecretIdInfo, VaultError>> {
        let stop: OnceLock<VaultError> = OnceLock::new();
        net::map_ordered(pairs, concurrency, |(role, accessor)| {
            let op = format!("look up secret-id accessor `{accessor}` of role `{role}`");
            let result = match (clean_mount(mount), stop.get()) {
                (Err(e), _) => Err(e),
                (_, Some(first)) => Err(first.not_tried(op)),
                (Ok(m), None) => self.lookup_one(&op, m, role, accessor),
            };
            if let Err(e) = &result
                && e.is_server_wide()
            {
                let _ = stop.set(e.clone());
            }
            result
        })
    }

    fn lookup_one(
        &self,
        op: &str,
        mount: &str,
        role: &str,
        accessor: &str,
    ) -> Result<SecretIdInfo, VaultError> {
        let path = format!(
            "auth/{}/role/{}/secret-id-accessor/lookup",
            encode_path(mount),
            encode_component(role)
        );
        let body = serde_json::json!({ "secret_id_accessor": accessor }).to_string();
        let call = Request::post(op, &path, Some(body.as_bytes()));
        let response = self.execute(&call)?;
        self.transport()
            .parse(op, response, LOOKUP_LIMIT, |r| read_secret_id(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_read_times_metadata_and_the_zero_time_as_never() {
        let answer = br#"{"data":{"cidr_list":[],"creation_time":"2026-12-01T10:59:42.617010502Z",
            "expiration_time":"2026-12-01T12:59:42.617010502Z","metadata":{"app":"eso"},
            "secret_id_accessor":"c914","secret_id_num_uses":3,"secret_id_ttl":7200}}"#;
        let info = parse_secret_id(answer).unwrap();
        assert_eq!(
            info.expiration_time.unwrap().to_string(),
            "2026-12-01T12:59:42.617010502Z"
        );
        assert_eq!(
            info.creation_time.unwrap().to_string(),
            "2026-12-01T10:59:42.617010502Z"
        );
        assert_eq!(info.metadata["app"], "eso");
        assert_eq!(info.num_uses, 3);

        let never = br#"{"data":{"creation_time":"2026-12-01T10:59:42Z","expiration_time":"0001-01-01T00:00:00Z","metadata":null}}"#;
        let info = parse_secret_id(never).unwrap();
        assert_eq!(info.expiration_time, None);
        assert!(info.metadata.is_empty());

        for (body, want) in [
            (
                &br#"{"data":{"expiration_time":"soon"}}"#[..],
                "`expiration_time` is not an RFC 3339 time: `soon`",
            ),
            (
                br#"{"errors":[]}"#,
                "the lookup answer has no `data` object",
            ),
            (b"<html>", "the lookup answer is not the expected JSON"),
        ] {
            let err = parse_secret_id(body).unwrap_err();
            assert!(err.starts_with(want), "{err}");
        }
    }
}
