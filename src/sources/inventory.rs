//! The `[[credential]]` entries of the config file: their declared expiry, and their values
//! where credwatch should read them (from a file or an environment variable), and their probes.

use crate::config::{InventoryEntry, ValueFrom};
use crate::credential::{Basis, Evidence, Observation, Secret};
use crate::env::Env;
use crate::probe;
use crate::sources::evidence;

/// Reads the value of every entry that has one, and probes those with a `probe` (results cached,
/// see [`crate::probe`]); `key` keys the fingerprints.
pub fn observations(
    entries: &[&InventoryEntry],
    key: Option<&Secret>,
    env: &Env,
    now: jiff::Timestamp,
) -> Vec<Observation> {
    entries
        .iter()
        .map(|e| {
            let evidence = match &e.value {
                None => e
                    .declared
                    .clone()
                    .ok_or_else(|| "no expiry is declared".to_string()),
                Some(spec) => read_value(&spec.from, env).and_then(|value| {
                    // With a probe and nothing else to go by, the expiry waits for the issuer.
                    let pending =
                        e.probe.is_some() && e.declared.is_none() && spec.derive.is_none();
                    let placeholder = Evidence {
                        expires_at: None,
                        ..Evidence::declared(None, now, Basis::ProbeIssuer)
                    };
                    let declared = if pending {
                        Some(&placeholder)
                    } else {
                        e.declared.as_ref()
                    };
                    let evidence = evidence::from_value(
                        value.expose_bytes(),
                        spec,
                        declared,
                        key.map(Secret::expose_bytes),
                    )
                    .map_err(|err| format!("{}: {err}", spec.from.describe()))?;
                    match &e.probe {
                        None => Ok(evidence),
                        Some(p) => {
                            let fingerprint = evidence.fingerprint.clone().unwrap_or_default();
                            let outcome = probe::probe_cached(
                                &e.credential.name,
                                p,
                                &value,
                                &fingerprint,
                                now,
                            );
                            probe::apply(evidence, outcome, pending)
                        }
                    }
                }),
            };
            Observation {
                credential: e.credential.clone(),
                evidence,
            }
        })
        .collect()
}

/// Reads a value into a [`Secret`]. Errors name where the value was looked for, never the value.
pub fn read_value(from: &ValueFrom, env: &Env) -> Result<Secret, String> {
    let value = match from {
        ValueFrom::File(path) => {
            // A file that never answers (a hung mount) makes only this credential unreadable.
            let owned = path.clone();
            let bytes = super::deadline::within(
                &path.display().to_string(),
                super::deadline::LOCAL_READS,
                move || crate::file::read(&owned, crate::file::VALUE),
            )
            .map_err(|e| format!("cannot read {}: {e}", from.describe()))?
            .map_err(|e| format!("cannot read {}: {e}", from.describe()))?;
            Secret::from_bytes(bytes)
        }
        ValueFrom::Env(name) => match env.bytes(name) {
            None => return Err(format!("{} is not set", from.describe())),
            Some(v) => Secret::from_bytes(v.to_vec()),
        },
        ValueFrom::Vault { .. } => {
            return Err(format!("{} is read by its vault source", from.describe()));
        }
    };
    if value.expose_bytes().trim_ascii().is_empty() {
        return Err(format!("{} is empty", from.describe()));
    }
    Ok(value)
}
