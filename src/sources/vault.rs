//! Vault/OpenBao KV v2 as a source (edge I/O): log in, discover secrets with their metadata
//! (OpenBao's detailed listing), read the metadata the listing did not carry with bounded
//! concurrency, and read a value only for credentials that need it. What the
//! metadata says about a lifetime is the pure [`metadata`] submodule's.

pub mod metadata;

use std::collections::{HashMap, HashSet};

use jiff::Timestamp;

use crate::config::{
    Derive, InventoryEntry, SourceCommon, ValueFrom, ValueSpec, VaultConnection, VaultSource,
};
use crate::credential::{Credential, Observation, Secret};
use crate::net;
use crate::sources::evidence;
use crate::vault::{self, Client, Explicit, VaultError};
pub use metadata::{MetadataKeys, changed_out_of_band, from_metadata, stored_values};

/// What one vault source delivered: an observation per secret, and the source's own failure.
pub struct VaultRead {
    pub observations: Vec<Observation>,
    /// Why the source as a whole failed (login, discovery, or a server-wide error).
    pub error: Option<(String, &'static str)>,
    /// The values credwatch recorded for the secrets read (see [`stored_values`]).
    pub stored: Vec<crate::credential::StoredValue>,
}

/// `*` matches any run of characters (slashes included), `?` exactly one. Pure.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Whether a discovered path passes the source's include and exclude patterns. Pure.
pub fn selected(source: &VaultSource, path: &str) -> bool {
    (source.include.is_empty() || source.include.iter().any(|g| glob_match(g, path)))
        && !source.exclude.iter().any(|g| glob_match(g, path))
}

/// Logs in as the source's `auth` says (environment variables fill what the config leaves out).
pub fn connect(
    source: &VaultSource,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Client, String> {
    let explicit = Explicit {
        address: source.address.clone(),
        namespace: source.namespace.clone(),
        ca_file: source.ca_file.clone(),
        auth: source.auth.clone(),
    };
    let limits = (source.timeout, source.retries, source.concurrency);
    connect_with(explicit, limits, env)
}

/// Logs in over a [`VaultConnection`] (the `vault-approle` and `vault-token` kinds).
pub fn connect_over(
    c: &VaultConnection,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Client, String> {
    let explicit = Explicit {
        address: c.address.clone(),
        namespace: c.namespace.clone(),
        ca_file: c.ca_file.clone(),
        auth: c.auth.clone(),
    };
    connect_with(explicit, (c.timeout, c.retries, c.concurrency), env)
}

/// Logs in with explicit settings and `(timeout, retries, concurrency)`; what every source kind
/// that talks to Vault shares.
fn connect_with(
    explicit: Explicit,
    (timeout, retries, concurrency): (jiff::SignedDuration, u32, usize),
    env: impl Fn(&str) -> Option<String>,
) -> Result<Client, String> {
    let (mut config, auth) = vault::resolve_env(explicit, env)?;
    config.timeout = timeout.unsigned_abs();
    config.retries = retries;
    config.concurrency = concurrency;
    Client::connect(config, &auth).map_err(|e| e.to_string())
}

/// Reads a vault source: its own secrets (explicit `paths` and those discovered under `prefix`)
/// and the inventory credentials whose value lives in it (`entries`).
pub fn read_source(
    common: &SourceCommon,
    source: &VaultSource,
    entries: &[&InventoryEntry],
    now: Timestamp,
    key: Option<&Secret>,
    env: impl Fn(&str) -> Option<String>,
) -> VaultRead {
    let own_credential = |name: &str| common.credential(name.to_string());
    let fail_all = |reason: String, label: &'static str| {
        let mut observations: Vec<Observation> = source
            .paths
            .iter()
            .map(|p| Observation {
                credential: own_credential(p),
                evidence: Err(reason.clone()),
            })
            .collect();
        observations.extend(entries.iter().map(|e| Observation {
            credential: attributed(e, common),
            evidence: Err(reason.clone()),
        }));
        VaultRead {
            observations,
            error: Some((reason, label)),
            stored: Vec::new(),
        }
    };
    let client = match connect(source, env) {
        Ok(c) => Session(c),
        Err(e) => return fail_all(format!("cannot log in to Vault: {e}"), "login"),
    };

    let keys = MetadataKeys {
        expires_at: &source.expires_at_key,
        minted_at: &source.minted_at_key,
        ttl: common.ttl,
    };
    // Of each secret only what the lifetime, the out-of-band check and the stored values read.
    let keep = |k: &str| keys.keeps(k);
    let mut error: Option<(String, &'static str)> = None;
    let mut paths = source.paths.clone();
    // Each secret's metadata by path: from the listing where the server lists it with the keys
    // (OpenBao), read one by one for the rest.
    let mut by_path: HashMap<String, Result<vault::Summary, VaultError>> = HashMap::new();
    if let Some(prefix) = &source.prefix {
        match client.scan(&source.mount, prefix, &keep) {
            Ok(found) => {
                for (path, summary) in found.into_iter().filter(|(p, _)| selected(source, p)) {
                    if let Some(summary) = summary {
                        by_path.insert(path.clone(), Ok(summary));
                    }
                    paths.push(path);
                }
            }
            Err(e) => {
                error = Some((
                    format!("cannot list `{}/{prefix}`: {e}", source.mount),
                    e.reason(),
                ))
            }
        }
    }
    paths.sort();
    paths.dedup();
    // Inventory credentials' secrets are read in the same batch; their names stay theirs.
    let mut seen: HashSet<&str> = paths.iter().map(String::as_str).collect();
    let mut wanted: Vec<String> = paths
        .iter()
        .filter(|p| !by_path.contains_key(p.as_str()))
        .cloned()
        .collect();
    for e in entries {
        if let Some(ValueFrom::Vault { path, .. }) = e.value.as_ref().map(|v| &v.from)
            && seen.insert(path)
            && !by_path.contains_key(path.as_str())
        {
            wanted.push(path.clone());
        }
    }
    log::debug!(
        "vault source `{}`: {} secret(s) listed with their metadata, reading the metadata of {}",
        common.name,
        by_path.len(),
        wanted.len()
    );
    let metadata = client.read_summaries(&source.mount, &wanted, source.concurrency, &keep);
    if error.is_none()
        && let Some(e) = metadata
            .iter()
            .filter_map(|r| r.as_ref().err())
            .find(|e| e.is_server_wide())
    {
        error = Some((e.to_string(), e.reason()));
    }
    // Indexed once: a lookup per path, not a search of every result (100k paths at most).
    by_path.extend(wanted.into_iter().zip(metadata));
    let meta_of = |path: &str| -> Result<crate::credential::Evidence, String> {
        match by_path.get(path) {
            Some(Ok(m)) => {
                from_metadata(m, &keys, now).map_err(|e| format!("`{}/{path}`: {e}", source.mount))
            }
            Some(Err(e)) => Err(e.to_string()),
            None => Err(format!("`{}/{path}` was not read", source.mount)),
        }
    };

    // A value changed outside credwatch is said once per run, under the credential's name.
    let said = |path: &str, name: &str| {
        if let Some(Ok(m)) = by_path.get(path)
            && let Some(finding) = changed_out_of_band(m, name)
        {
            log::warn!("`{}/{path}`: {finding}", source.mount);
        }
    };
    for p in &paths {
        said(p, p);
    }
    for e in entries {
        if let Some(ValueFrom::Vault { path, .. }) = e.value.as_ref().map(|v| &v.from) {
            said(path, &e.credential.name);
        }
    }
    let mut observations: Vec<Observation> = match &source.value {
        // Straight from the metadata: no list of evidence beside the observations.
        None => paths
            .iter()
            .map(|p| Observation {
                credential: own_credential(p),
                evidence: meta_of(p),
            })
            .collect(),
        Some(value) => {
            // Values only of secrets whose metadata was read: a deleted or unreadable one stays
            // as it is.
            let spec = ValueSpec {
                from: ValueFrom::Vault {
                    source: common.name.clone(),
                    path: String::new(),
                    field: Some(value.field.clone()),
                },
                format: value.format.clone(),
                derive: None,
                fingerprint: value.fingerprint,
            };
            let evidence = net::map_ordered(&paths, source.concurrency, |path| {
                let meta = meta_of(path)?;
                let secret = client
                    .read_field(&source.mount, path, &value.field)
                    .map_err(|e| e.to_string())?;
                evidence::from_value(
                    secret.expose_bytes(),
                    &spec,
                    Some(&meta),
                    key.map(Secret::expose_bytes),
                )
                .map_err(|e| format!("field `{}` of `{}/{path}`: {e}", value.field, source.mount))
            });
            paths
                .iter()
                .zip(evidence)
                .map(|(p, evidence)| Observation {
                    credential: own_credential(p),
                    evidence,
                })
                .collect()
        }
    };
    for e in entries {
        let Some(spec) = &e.value else { continue };
        let ValueFrom::Vault { path, field, .. } = &spec.from else {
            continue;
        };
        let evidence = entry_evidence(
            &client,
            source,
            e,
            spec,
            path,
            field.as_deref(),
            &meta_of,
            key,
        );
        observations.push(Observation {
            credential: attributed(e, common),
            evidence,
        });
    }
    // What credwatch recorded, for the consumers' series: by credential name, with the
    // expiry this run established.
    let mut stored = Vec::new();
    // Each inventory entry by name, once: its secret's path (`None`: not a Vault value).
    let entry_path: HashMap<&str, Option<&str>> = entries
        .iter()
        .map(|e| {
            let path = match e.value.as_ref().map(|v| &v.from) {
                Some(ValueFrom::Vault { path, .. }) => Some(path.as_str()),
                _ => None,
            };
            (e.credential.name.as_str(), path)
        })
        .rev()
        .collect();
    for o in &observations {
        let path = match entry_path.get(o.credential.name.as_str()) {
            Some(Some(path)) => *path,
            Some(None) => continue,
            None => o.credential.name.as_str(),
        };
        if let Some(Ok(m)) = by_path.get(path) {
            stored.extend(stored_values(
                &o.credential.name,
                m,
                o.evidence.as_ref().ok(),
                &keys,
            ));
        }
    }
    VaultRead {
        observations,
        error,
        stored,
    }
}

/// A logged-in client that revokes its login token when dropped, so that every way out of a run
/// (errors included) leaves no live token behind. A given token is never revoked.
pub struct Session(pub Client);

impl Drop for Session {
    fn drop(&mut self) {
        if let Err(e) = self.0.revoke_login() {
            log::warn!("{e}");
        }
    }
}

impl std::ops::Deref for Session {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.0
    }
}

/// An inventory credential whose value lives in Vault is reported as coming from that source.
fn attributed(entry: &InventoryEntry, source: &SourceCommon) -> Credential {
    let mut c = entry.credential.clone();
    c.source = source.name.clone();
    c
}

#[allow(clippy::too_many_arguments)]
fn entry_evidence(
    client: &Client,
    source: &VaultSource,
    entry: &InventoryEntry,
    spec: &ValueSpec,
    path: &str,
    field: Option<&str>,
    meta_of: &dyn Fn(&str) -> Result<crate::credential::Evidence, String>,
    key: Option<&Secret>,
) -> Result<crate::credential::Evidence, String> {
    // The metadata says whether the current version is usable at all, and may give the expiry.
    let from_meta = meta_of(path)?;
    let declared = match spec.derive {
        Some(Derive::VaultMetadata) => Some(from_meta),
        None => entry.declared.clone(),
        _ => None,
    };
    if !spec.needs_value() {
        return declared.ok_or_else(|| "no expiry is declared".to_string());
    }
    let field = field.ok_or("reading the value needs `vault.field`")?;
    let value = client
        .read_field(&source.mount, path, field)
        .map_err(|e: VaultError| e.to_string())?;
    let mut spec = spec.clone();
    if spec.derive == Some(Derive::VaultMetadata) {
        spec.derive = None;
    }
    evidence::from_value(
        value.expose_bytes(),
        &spec,
        declared.as_ref(),
        key.map(Secret::expose_bytes),
    )
    .map_err(|e| format!("{}: {e}", spec.from.describe()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_whole_paths() {
        for (pattern, text, wanted) in [
            ("agent*", "agent-spare-1", true),
            ("agent*", "agents/primary", true),
            ("*/old-*", "agents/old-1", true),
            ("*/old-*", "agents/new-1", false),
            ("agent?", "agent1", true),
            ("agent?", "agent12", false),
            ("*", "", true),
            ("", "x", false),
            ("a*b*c", "a-b-x-c", true),
            ("a*b*c", "a-c-b", false),
        ] {
            assert_eq!(glob_match(pattern, text), wanted, "{pattern} {text}");
        }
    }
}
