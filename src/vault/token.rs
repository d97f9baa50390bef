//! Tokens looked up by accessor (`POST auth/token/lookup-accessor`): no token value is needed.
//! Edge I/O on the client's transport; the answer's shape and its pure parser are here too.
//!
//! | call | path | capability |
//! |---|---|---|
//! | `lookup_token_accessors` | `auth/token/lookup-accessor` | `update` |

use std::io::Read;
use std::sync::OnceLock;

use jiff::Timestamp;
use serde::Deserialize;

use super::client::Client;
use super::error::VaultError;
use super::transport::Request;
use crate::net;

const LOOKUP_LIMIT: u64 = 1 << 20;

/// What Vault says about a token (no token value in here: lookups by accessor answer `id: ""`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// `None` for a token without expiry (root, or a period-less token with no TTL).
    pub expire_time: Option<Timestamp>,
    pub issue_time: Option<Timestamp>,
    pub renewable: bool,
    /// Seconds; 0 when the token has none.
    pub explicit_max_ttl: i64,
}

/// Parses a lookup answer (`{"data": {...}}`).
pub fn parse_token_info(body: &[u8]) -> Result<TokenInfo, String> {
    read_token_info(body)
}

fn read_token_info(reader: impl Read) -> Result<TokenInfo, String> {
    #[derive(Deserialize)]
    struct Envelope {
        data: Option<Data>,
    }
    #[derive(Deserialize)]
    struct Data {
        expire_time: Option<String>,
        issue_time: Option<String>,
        #[serde(default)]
        renewable: bool,
        #[serde(default)]
        explicit_max_ttl: i64,
    }
    let envelope: Envelope = serde_json::from_reader(reader)
        .map_err(|e| format!("the lookup answer is not the expected JSON ({e})"))?;
    let data = envelope
        .data
        .ok_or_else(|| "the lookup answer has no `data` object".to_string())?;
    let time = |field: &str, v: Option<String>| -> Result<Option<Timestamp>, String> {
        match v.as_deref() {
            None | Some("") => Ok(None),
            Some(t) => t
                .parse()
                .map(Some)
                .map_err(|_| format!("`{field}` is not an RFC 3339 time: `{t}`")),
        }
    };
    Ok(TokenInfo {
        expire_time: time("expire_time", data.expire_time)?,
        issue_time: time("issue_time", data.issue_time)?,
        renewable: data.renewable,
        explicit_max_ttl: data.explicit_max_ttl,
    })
}

impl Client {
    /// Looks up many accessors, `concurrency` at a time, in order. `Ok(None)`: Vault knows no
    /// such accessor (400 "invalid accessor": the token was revoked or has expired). Once the
    /// server is sealed, unreachable or hanging, the rest are not tried.
    pub fn lookup_token_accessors(
        &self,
        accessors: &[String],
        concurrency: usize,
    ) -> Vec<Result<Option<TokenInfo>, VaultError>> {
        let stop: OnceLock<VaultError> = OnceLock::new();
        net::map_ordered(accessors, concurrency, |accessor| {
            let op = format!("look up token accessor `{accessor}`");
            let result = match stop.get() {
                Some(first) => Err(first.not_tried(op)),
                None => self.lookup_accessor(&op, accessor),
            };
            if let Err(e) = &result
                && e.is_server_wide()
            {
                let _ = stop.set(e.clone());
            }
            result
        })
    }

    fn lookup_accessor(&self, op: &str, accessor: &str) -> Result<Option<TokenInfo>, VaultError> {
        let body = serde_json::json!({ "accessor": accessor }).to_string();
        let call = Request::post(op, "auth/token/lookup-accessor", Some(body.as_bytes()));
        match self.execute(&call) {
            Ok(response) => self
                .transport()
                .parse(op, response, LOOKUP_LIMIT, |r| read_token_info(r))
                .map(Some),
            Err(VaultError::Http {
                status: 400,
                message,
                ..
            }) if message.contains("invalid accessor") => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_read_expiry_renewal_and_a_root_token_without_expiry() {
        let body = br#"{"data":{"accessor":"Or94","creation_ttl":7200,"expire_time":"2026-12-01T13:24:48.507400629Z","explicit_max_ttl":86400,"id":"","issue_time":"2026-12-01T11:24:48.507404274Z","renewable":true,"ttl":7199}}"#;
        let info = parse_token_info(body).unwrap();
        assert_eq!(
            info.expire_time.unwrap().to_string(),
            "2026-12-01T13:24:48.507400629Z"
        );
        assert!(info.renewable);
        assert_eq!(info.explicit_max_ttl, 86400);
        let root = parse_token_info(
            br#"{"data":{"expire_time":null,"explicit_max_ttl":0,"renewable":false}}"#,
        )
        .unwrap();
        assert_eq!(root.expire_time, None);
        assert!(
            parse_token_info(br#"{"data":{"expire_time":"later"}}"#)
                .unwrap_err()
                .contains("`expire_time` is not an RFC 3339 time: `later`")
        );
    }
}
