//! Where the Vault/OpenBao server is and how to talk to it: [`ClientConfig`], and [`resolve_env`],
//! which fills what the config file left open from the `VAULT_*`/`BAO_*` environment (pure: the
//! environment is passed in as a function).

use crate::env::{VAULT_ADDR, VAULT_CACERT, VAULT_NAMESPACE, VAULT_TOKEN};
use std::path::PathBuf;
use std::time::Duration;

use super::auth::Auth;
use crate::credential::Secret;

/// How the client reaches the server. Build one with [`ClientConfig::new`] and adjust the fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// `http(s)://host:port`, without `/v1`.
    pub address: String,
    /// Sent as `X-Vault-Namespace` on every request, logins included.
    pub namespace: Option<String>,
    /// PEM file of the CA certificates to trust instead of the built-in web roots.
    pub ca_file: Option<PathBuf>,
    /// Limit for one request, from connecting to the last byte of the answer.
    pub timeout: Duration,
    /// Further attempts after a connection failure or a 5xx/429 answer (reads and logins; writes
    /// are retried only when the request never reached the server).
    pub retries: u32,
    /// Parallel requests: metadata reads ([`super::Client::read_summaries`]) and listings ahead;
    /// also the size of the connection pool.
    pub concurrency: usize,
    /// Keys asked for per LIST request on servers that paginate (OpenBao ≥ 2.0).
    pub list_page_size: usize,
    /// Folder levels [`super::Client::list_recursive`] descends below the prefix.
    pub max_depth: usize,
    /// Secrets [`super::Client::list_recursive`] returns at most; more is an error, never a
    /// silently shortened list.
    pub max_entries: usize,
}

impl ClientConfig {
    /// Defaults: 10 s per request, 2 retries, 16 parallel requests, pages of 1000 keys, 32 folder
    /// levels, 100 000 secrets.
    pub fn new(address: impl Into<String>) -> ClientConfig {
        ClientConfig {
            address: address.into(),
            namespace: None,
            ca_file: None,
            timeout: Duration::from_secs(10),
            retries: 2,
            concurrency: 16,
            list_page_size: 1000,
            max_depth: 32,
            max_entries: 100_000,
        }
    }
}

/// What the config file or flags said; every `None` is looked up in the environment.
#[derive(Debug, Default)]
pub struct Explicit {
    pub address: Option<String>,
    pub namespace: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub auth: Option<Auth>,
}

/// Completes the explicit settings from the environment the way the `bao` and `vault` CLIs do:
///
/// - an explicit setting always wins over the environment;
/// - otherwise the `BAO_` form wins over the `VAULT_` form (as the OpenBao CLI reads them), so
///   one environment can serve both CLIs; an empty variable counts as unset, so `BAO_ADDR=` does
///   not hide `VAULT_ADDR`;
/// - without explicit auth, `BAO_TOKEN`/`VAULT_TOKEN` is the token. Unlike the CLIs, credwatch
///   never reads `~/.vault-token` or a token helper: a monitor must not pick up an operator's
///   personal token by accident;
/// - unlike the CLIs, a missing address is an error rather than `https://127.0.0.1:8200`.
///
/// `VAULT_CAPATH`, `VAULT_SKIP_VERIFY` and client certificates are not supported. Timeouts,
/// retries and limits take the [`ClientConfig::new`] defaults; adjust the returned config.
pub fn resolve_env(
    explicit: Explicit,
    env: impl Fn(&str) -> Option<String>,
) -> Result<(ClientConfig, Auth), String> {
    let lookup = |names: [&str; 2]| {
        names
            .iter()
            .find_map(|n| env(n).filter(|v| !v.trim().is_empty()))
    };
    let address = explicit
        .address
        .filter(|a| !a.trim().is_empty())
        .or_else(|| lookup(VAULT_ADDR))
        .ok_or_else(|| {
            "no Vault address: set `address` in the config, or BAO_ADDR or VAULT_ADDR".to_string()
        })?;
    let address = address.trim().trim_end_matches('/').to_string();
    if !(address.starts_with("http://") || address.starts_with("https://")) {
        return Err(format!(
            "the Vault address `{address}` must start with `http://` or `https://`"
        ));
    }
    let namespace = explicit
        .namespace
        .or_else(|| lookup(VAULT_NAMESPACE))
        .map(|n| n.trim().trim_matches('/').to_string())
        .filter(|n| !n.is_empty());
    let ca_file = explicit
        .ca_file
        .or_else(|| lookup(VAULT_CACERT).map(PathBuf::from));
    let auth = match explicit.auth {
        Some(auth) => auth,
        None => match lookup(VAULT_TOKEN) {
            Some(token) => Auth::Token(Secret::new(token.trim().to_string())),
            None => {
                return Err(
                    "no Vault credentials: configure `auth` (token file, approle, jwt, kubernetes) or set BAO_TOKEN or VAULT_TOKEN"
                        .into(),
                );
            }
        },
    };
    let mut config = ClientConfig::new(address);
    config.namespace = namespace;
    config.ca_file = ca_file;
    Ok((config, auth))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k: &str| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn explicit_settings_win_over_the_environment() {
        let (config, auth) = resolve_env(
            Explicit {
                address: Some("https://vault.example:8200/".into()),
                namespace: Some("team-a".into()),
                ca_file: Some("/etc/ca.pem".into()),
                auth: Some(Auth::TokenFile("/run/token".into())),
            },
            env(&[
                ("VAULT_ADDR", "http://other:8200"),
                ("BAO_NAMESPACE", "other"),
                ("VAULT_CACERT", "/other.pem"),
                ("VAULT_TOKEN", "env-token"),
            ]),
        )
        .unwrap();
        assert_eq!(config.address, "https://vault.example:8200");
        assert_eq!(config.namespace.as_deref(), Some("team-a"));
        assert_eq!(config.ca_file, Some(PathBuf::from("/etc/ca.pem")));
        assert!(matches!(auth, Auth::TokenFile(_)));
    }

    #[test]
    fn bao_variables_win_over_vault_variables_and_empty_ones_are_unset() {
        let (config, auth) = resolve_env(
            Explicit::default(),
            env(&[
                ("VAULT_ADDR", "http://vault:8200"),
                ("BAO_ADDR", "http://bao:8200"),
                ("BAO_TOKEN", ""),
                ("VAULT_TOKEN", "vault-token\n"),
                ("VAULT_NAMESPACE", "/ns1/"),
                ("BAO_CACERT", "/bao-ca.pem"),
            ]),
        )
        .unwrap();
        assert_eq!(config.address, "http://bao:8200");
        assert_eq!(config.namespace.as_deref(), Some("ns1"));
        assert_eq!(config.ca_file, Some(PathBuf::from("/bao-ca.pem")));
        match auth {
            Auth::Token(t) => assert_eq!(t.expose(), "vault-token"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn missing_or_bad_settings_are_errors_that_show_no_token() {
        let err = resolve_env(Explicit::default(), env(&[("VAULT_TOKEN", "t0ken")])).unwrap_err();
        assert!(err.contains("no Vault address"), "{err}");
        let err = resolve_env(Explicit::default(), env(&[("VAULT_ADDR", "http://v")])).unwrap_err();
        assert!(err.contains("no Vault credentials"), "{err}");
        let err = resolve_env(
            Explicit::default(),
            env(&[("VAULT_ADDR", "vault:8200"), ("VAULT_TOKEN", "t0ken")]),
        )
        .unwrap_err();
        assert!(err.contains("must start with"), "{err}");
        assert!(!err.contains("t0ken"));
    }
}
