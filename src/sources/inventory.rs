//! The `[[credential]]` entries of the config file: their expiry is already known.

use crate::config::InventoryEntry;
use crate::credential::Observation;

pub fn observations(entries: &[InventoryEntry]) -> Vec<Observation> {
    entries
        .iter()
        .map(|e| Observation {
            credential: e.credential.clone(),
            evidence: Ok(e.evidence),
        })
        .collect()
}
