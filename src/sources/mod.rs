//! Edge I/O: turns the configured inventory and sources into observations, one per credential.
//!
//! A failing source is recorded with its reason and never hides the others; a credential that two
//! sources both name is kept once and the clash is reported.

pub mod approle;
pub mod consumer;
pub mod deadline;
pub mod directory;
pub mod evidence;
pub mod inventory;
pub mod vault;
pub mod vault_token;

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use crate::config::{Config, INVENTORY_SOURCE, InventoryEntry, SourceKind, ValueFrom};
use crate::credential::{Collection, Secret, SourceStatus};
use crate::env::Env;

/// Reads every source named in the config. `now` decides whether a Vault version whose deletion
/// was scheduled is deleted yet.
pub fn collect(config: &Config, now: jiff::Timestamp, env: &Env) -> Collection {
    let mut collection = Collection::default();
    let key = match fingerprint_key(config, env) {
        Ok(k) => k,
        Err(e) => {
            collection.problems.push(e);
            None
        }
    };
    // Inventory credentials whose value lives in Vault are read with their vault source.
    let local: Vec<&InventoryEntry> = config
        .inventory
        .iter()
        .filter(|e| {
            !matches!(
                e.value.as_ref().map(|v| &v.from),
                Some(ValueFrom::Vault { .. })
            )
        })
        .collect();
    if !local.is_empty() {
        collection.sources.push(SourceStatus {
            name: INVENTORY_SOURCE.into(),
            kind: "inventory",
            error: None,
            reason: None,
        });
        collection
            .observations
            .extend(inventory::observations(&local, key.as_ref(), env, now));
    }
    for source in &config.sources {
        let name = source.name();
        let (observations, error) = match &source.kind {
            SourceKind::Directory(d) => {
                log::debug!(
                    "reading directory source `{name}` at `{}`",
                    d.path.display()
                );
                let (common, d) = (source.common.clone(), d.clone());
                let key = d.path.display().to_string();
                let read = deadline::within(&key, deadline::LOCAL_READS, move || {
                    directory::read_directory(&common, &d)
                });
                match read {
                    Ok(Ok(o)) => (o, None),
                    Ok(Err(e)) => (Vec::new(), Some((e, "unreadable"))),
                    Err(e) => (Vec::new(), Some((e, "timeout"))),
                }
            }
            SourceKind::Vault(v) => {
                let entries: Vec<_> = config
                    .inventory
                    .iter()
                    .filter(|e| {
                        matches!(e.value.as_ref().map(|s| &s.from),
                            Some(ValueFrom::Vault { source, .. }) if source == name)
                    })
                    .collect();
                log::debug!("reading vault source `{name}`");
                let read = vault::read_source(
                    &source.common,
                    v,
                    &entries,
                    now,
                    key.as_ref(),
                    env.lookup(),
                );
                collection.copies.stored.extend(read.stored);
                (read.observations, read.error)
            }
            SourceKind::Approle(a) => {
                log::debug!("reading approle source `{name}`");
                let read = approle::read_source(&source.common, a, env.lookup());
                (read.observations, read.error)
            }
            SourceKind::VaultToken(t) => {
                log::debug!("reading vault-token source `{name}`");
                vault_token::read_source(&source.common, t, now, env.lookup())
            }
        };
        if let Some((e, _)) = &error {
            log::warn!("source `{name}`: {e}");
        }
        let (error, reason) = error.unzip();
        collection.sources.push(SourceStatus {
            name: name.to_string(),
            kind: source.kind.name(),
            error,
            reason,
        });
        collection.observations.extend(observations);
    }
    skip_duplicates(&mut collection);
    collection.copies.consumers = consumer::read_copies(&config.consumers, key.as_ref(), env);
    // A monitor that watches nothing is broken, not fine.
    if collection.observations.is_empty() && config.consumers.is_empty() {
        collection.problems.push(
            "no credentials: the config lists none and its sources found none; check the paths and prefixes".into(),
        );
    }
    collection
}

/// Keeps the first credential of each name, in the order the sources were read, and says which
/// later ones were skipped.
fn skip_duplicates(collection: &mut Collection) {
    let observations = &collection.observations;
    let mut first: HashMap<&str, &str> = HashMap::with_capacity(observations.len());
    let mut keep = Vec::with_capacity(observations.len());
    let mut skipped = Vec::new();
    for o in observations {
        let (name, source) = (o.credential.name.as_str(), o.credential.source.as_str());
        match first.entry(name) {
            Entry::Occupied(first) => {
                skipped.push(format!(
                    "credential `{name}` from source `{source}` is skipped: source `{}` already defines that name",
                    first.get()
                ));
                keep.push(false);
            }
            Entry::Vacant(slot) => {
                slot.insert(source);
                keep.push(true);
            }
        }
    }
    if skipped.is_empty() {
        return;
    }
    let mut keep = keep.into_iter();
    collection
        .observations
        .retain(|_| keep.next().unwrap_or(true));
    collection.problems.extend(skipped);
}

/// The key for HMAC fingerprints: `CREDWATCH_FINGERPRINT_KEY`, else the file named by
/// `CREDWATCH_FINGERPRINT_KEY_FILE` or `[fingerprint] key_file`. Without one, fingerprints are
/// unkeyed SHA-256 (see `decode::fingerprint` for the trade-off).
pub fn fingerprint_key(config: &Config, env: &Env) -> Result<Option<Secret>, String> {
    if let Some(k) = env
        .bytes(crate::env::FINGERPRINT_KEY)
        .filter(|k| !k.is_empty())
    {
        return Ok(Some(Secret::from_bytes(k.to_vec())));
    }
    let file = env
        .non_empty(crate::env::FINGERPRINT_KEY_FILE)
        .map(std::path::PathBuf::from)
        .or_else(|| config.fingerprint_key_file.clone());
    let Some(file) = file else { return Ok(None) };
    let from = crate::config::ValueFrom::File(file);
    inventory::read_value(&from, env)
        .map(Some)
        .map_err(|e| format!("fingerprint key: {e}; fingerprints are unkeyed this run"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::{Credential, Observation, Thresholds};

    fn seen(name: &str, source: &str) -> Observation {
        Observation {
            credential: Credential {
                name: name.into(),
                pool: None,
                source: source.into(),
                labels: Default::default(),
                runbook: None,
                thresholds: Thresholds {
                    warn_before: jiff::SignedDuration::from_hours(720),
                    critical_before: jiff::SignedDuration::from_hours(168),
                },
            },
            evidence: Err("unread".into()),
        }
    }

    #[test]
    fn the_first_credential_of_a_name_is_kept_and_later_ones_are_reported_in_order() {
        let mut collection = Collection {
            observations: vec![
                seen("a", "inventory"),
                seen("b", "inventory"),
                seen("b", "cm"),
                seen("c", "cm"),
                seen("a", "vault"),
                seen("b", "vault"),
            ],
            problems: vec!["earlier".into()],
            ..Collection::default()
        };
        skip_duplicates(&mut collection);
        let kept: Vec<_> = collection
            .observations
            .iter()
            .map(|o| (o.credential.name.as_str(), o.credential.source.as_str()))
            .collect();
        assert_eq!(kept, [("a", "inventory"), ("b", "inventory"), ("c", "cm")]);
        assert_eq!(
            collection.problems,
            [
                "earlier",
                "credential `b` from source `cm` is skipped: source `inventory` already defines that name",
                "credential `a` from source `vault` is skipped: source `inventory` already defines that name",
                "credential `b` from source `vault` is skipped: source `inventory` already defines that name",
            ]
        );
    }
}
