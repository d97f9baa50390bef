//! Pure: a Vault secret's metadata → evidence about its lifetime (custom_metadata keys, the
//! source's ttl, the current version's state). No I/O; the reader in [`super`] fetches.

use jiff::{SignedDuration, Timestamp};

use crate::credential::{Basis, Evidence, StoredValue};
use crate::recorded::{self, Recorded};
use crate::vault::{Metadata, Summary, VersionMeta, VersionState};

/// Where a Vault secret's metadata says its lifetime comes from.
#[derive(Clone, Copy)]
pub struct MetadataKeys<'a> {
    pub expires_at: &'a str,
    pub minted_at: &'a str,
    pub ttl: SignedDuration,
}

impl MetadataKeys<'_> {
    /// Whether a custom_metadata key matters to what the functions here say: the lifetime keys
    /// and what credwatch records. A scan keeps only these ([`Summary`]).
    pub fn keeps(&self, key: &str) -> bool {
        key == self.expires_at || key == self.minted_at || is_recorded_key(key)
    }
}

fn is_recorded_key(key: &str) -> bool {
    key == recorded::FINGERPRINT_KEY
        || key == recorded::VERSION_KEY
        || key.starts_with(recorded::HISTORY_PREFIX)
}

/// What the functions here read of a secret's metadata: all of it ([`Metadata`], one secret
/// read alone) or what a scan kept ([`Summary`], made with [`MetadataKeys::keeps`]).
pub trait MetadataView {
    fn current_version(&self) -> u64;
    fn updated_time(&self) -> Timestamp;
    /// The current version's metadata, if the server lists it.
    fn current(&self) -> Option<&VersionMeta>;
    fn custom(&self, key: &str) -> Option<&str>;
    /// What the custom metadata says credwatch recorded.
    fn recorded(&self) -> Recorded;

    fn current_state(&self, now: Timestamp) -> VersionState {
        self.current()
            .map_or(VersionState::Missing, |v| v.state(now))
    }
}

impl MetadataView for Metadata {
    fn current_version(&self) -> u64 {
        self.current_version
    }
    fn updated_time(&self) -> Timestamp {
        self.updated_time
    }
    fn current(&self) -> Option<&VersionMeta> {
        Metadata::current(self)
    }
    fn custom(&self, key: &str) -> Option<&str> {
        self.custom_metadata.get(key).map(String::as_str)
    }
    fn recorded(&self) -> Recorded {
        recorded::parse(&self.custom_metadata)
    }
}

impl MetadataView for Summary {
    fn current_version(&self) -> u64 {
        self.current_version
    }
    fn updated_time(&self) -> Timestamp {
        self.updated_time
    }
    fn current(&self) -> Option<&VersionMeta> {
        self.current.as_ref()
    }
    fn custom(&self, key: &str) -> Option<&str> {
        Summary::custom(self, key)
    }
    fn recorded(&self) -> Recorded {
        // Only the recorded keys: most secrets have none, and an empty map allocates nothing.
        let pairs = self.custom.iter().filter(|(k, _)| is_recorded_key(k));
        recorded::parse(&pairs.map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }
}

/// A Vault secret's lifetime from its metadata alone: custom_metadata `expires_at`, else
/// `minted_at` + ttl, else the current version's `created_time` + ttl. When the current version
/// is newer than the one credwatch recorded (`recorded_version`), the value was changed outside
/// credwatch and the recorded times belong to an older value: the mint time is assumed to be the
/// current version's `created_time` ([`Basis::AssumedFromChange`]; see [`changed_out_of_band`]). A current version that is
/// deleted (at or before `now`), destroyed or missing is an error: nothing usable is stored.
pub fn from_metadata(
    meta: &impl MetadataView,
    keys: &MetadataKeys,
    now: Timestamp,
) -> Result<Evidence, String> {
    match meta.current_state(now) {
        VersionState::Live => {}
        VersionState::Deleted(at) => {
            return Err(format!(
                "current version {} was deleted at {at}: nothing readable is stored (undelete it or write a new version)",
                meta.current_version()
            ));
        }
        VersionState::Destroyed => {
            return Err(format!(
                "current version {} is destroyed: nothing readable is stored (write a new version)",
                meta.current_version()
            ));
        }
        VersionState::Missing => return Err("the secret has no current version".into()),
    }
    let custom = |key: &str| -> Result<Option<Timestamp>, String> {
        match meta.custom(key) {
            None => Ok(None),
            Some(v) => crate::time::parse_timestamp(v)
                .map(Some)
                .map_err(|e| format!("custom_metadata `{key}`: {e}")),
        }
    };
    let created = meta
        .current()
        .map(|v| v.created_time)
        .unwrap_or(meta.updated_time());
    if changed_out_of_band(meta, "").is_some() {
        return Ok(Evidence::declared(
            Some(created),
            crate::time::add(created, keys.ttl)?,
            Basis::AssumedFromChange,
        ));
    }
    if let Some(expires_at) = custom(keys.expires_at)? {
        return Ok(Evidence::declared(
            custom(keys.minted_at)?,
            expires_at,
            Basis::ExpiresAt,
        ));
    }
    if let Some(minted_at) = custom(keys.minted_at)? {
        return Ok(Evidence::declared(
            Some(minted_at),
            crate::time::add(minted_at, keys.ttl)?,
            Basis::MintedAtPlusTtl,
        ));
    }
    Ok(Evidence::declared(
        Some(created),
        crate::time::add(created, keys.ttl)?,
        Basis::VersionCreatedPlusTtl,
    ))
}

/// The finding for a secret changed outside credwatch: its current version is newer than the
/// version credwatch recorded. `None` when credwatch recorded no version (nothing to compare)
/// or the recorded one is current.
pub fn changed_out_of_band(meta: &impl MetadataView, name: &str) -> Option<String> {
    let recorded = meta.recorded().version?;
    if meta.current_version() <= recorded {
        return None;
    }
    let at = meta
        .current()
        .map_or(meta.updated_time(), |v| v.created_time);
    Some(format!(
        "changed outside credwatch at {at} (version {} after the recorded version {recorded}); its mint time is assumed to be that time; run `credwatch record {name} --minted-at TIME` to confirm",
        meta.current_version()
    ))
}

/// The values a secret holds and held, by fingerprint, as credwatch recorded them: the current
/// one (its fingerprint from the value when it was read this run, else the recorded one when it
/// belongs to the current version) with the expiry `current` states, and every history entry
/// with a fingerprint. A value recorded before an out-of-band change counts as replaced when
/// the newer version was created. One value per fingerprint, the current one first. Pure.
pub fn stored_values(
    name: &str,
    meta: &impl MetadataView,
    current: Option<&Evidence>,
    keys: &MetadataKeys,
) -> Vec<StoredValue> {
    let recorded = meta.recorded();
    let current_version = meta.current_version();
    let mut out: Vec<StoredValue> = Vec::new();
    let mut add = |fingerprint: String, replaced_at, expires_at| {
        if !out.iter().any(|v| v.fingerprint == fingerprint) {
            out.push(StoredValue {
                credential: name.to_string(),
                fingerprint,
                replaced_at,
                expires_at,
            });
        }
    };
    let recorded_is_current = recorded.version == Some(current_version);
    let now_fingerprint = current
        .and_then(|e| e.fingerprint.clone())
        .or_else(|| recorded.fingerprint.clone().filter(|_| recorded_is_current));
    if let Some(fp) = now_fingerprint {
        add(fp, None, current.and_then(|e| e.expires_at));
    }
    if let Some(before) = recorded_before_change(meta, keys)
        && let Some(fp) = before.fingerprint
    {
        add(fp, before.replaced_at, before.expires_at);
    }
    for entry in recorded.history {
        if let Some(fp) = entry.fingerprint {
            add(
                fp,
                entry.replaced_at.or(Some(meta.updated_time())),
                entry.expires_at,
            );
        }
    }
    out
}

/// After a change outside credwatch, the value credwatch had recorded before it, as a history
/// entry: its version, fingerprint and lifetime from the recorded keys, replaced when the newer
/// version was created. `None` when nothing was recorded or the recorded version is current.
/// Pure.
pub fn recorded_before_change(
    meta: &impl MetadataView,
    keys: &MetadataKeys,
) -> Option<crate::recorded::Entry> {
    let recorded = meta.recorded();
    let version = recorded.version.filter(|v| *v < meta.current_version())?;
    let custom = |key: &str| {
        meta.custom(key)
            .and_then(|t| crate::time::parse_timestamp(t).ok())
    };
    let minted_at = custom(keys.minted_at);
    let expires_at = custom(keys.expires_at)
        .or_else(|| minted_at.and_then(|m| crate::time::add(m, keys.ttl).ok()));
    Some(crate::recorded::Entry {
        version,
        fingerprint: recorded.fingerprint,
        minted_at,
        expires_at,
        replaced_at: meta.current().map(|v| v.created_time),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::VersionMeta;
    use std::collections::BTreeMap;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn meta(custom: &[(&str, &str)], deletion: Option<&str>, destroyed: bool) -> Metadata {
        Metadata {
            created_time: ts("2026-01-01T00:00:00Z"),
            updated_time: ts("2026-04-18T16:07:09Z"),
            current_version: 2,
            oldest_version: 1,
            custom_metadata: custom
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            versions: BTreeMap::from([
                (
                    1,
                    VersionMeta {
                        created_time: ts("2026-01-01T00:00:00Z"),
                        deletion_time: None,
                        destroyed: false,
                    },
                ),
                (
                    2,
                    VersionMeta {
                        created_time: ts("2026-04-18T16:07:09Z"),
                        deletion_time: deletion.map(ts),
                        destroyed,
                    },
                ),
            ]),
        }
    }

    const KEYS: MetadataKeys = MetadataKeys {
        expires_at: "expires_at",
        minted_at: "minted_at",
        ttl: SignedDuration::from_secs(365 * 86_400),
    };

    #[test]
    fn metadata_gives_the_expiry_in_order_of_precedence() {
        let now = ts("2026-11-30T00:00:00Z");
        let e = from_metadata(
            &meta(&[("expires_at", "2027-01-01T00:00:00Z")], None, false),
            &KEYS,
            now,
        )
        .unwrap();
        assert_eq!(
            (e.expires_at, e.basis),
            (Some(ts("2027-01-01T00:00:00Z")), Basis::ExpiresAt)
        );
        let e = from_metadata(
            &meta(&[("minted_at", "1776528429")], None, false),
            &KEYS,
            now,
        )
        .unwrap();
        assert_eq!(e.expires_at, Some(ts("2027-04-18T16:07:09Z")));
        assert_eq!(e.basis, Basis::MintedAtPlusTtl);
        let e = from_metadata(&meta(&[], None, false), &KEYS, now).unwrap();
        assert_eq!(e.minted_at, Some(ts("2026-04-18T16:07:09Z")));
        assert_eq!(e.expires_at, Some(ts("2027-04-18T16:07:09Z")));
        assert_eq!(e.basis, Basis::VersionCreatedPlusTtl);
    }

    #[test]
    fn a_version_newer_than_the_recorded_one_counts_from_its_creation() {
        let now = ts("2026-11-30T00:00:00Z");
        // credwatch recorded version 1; version 2 was written by hand.
        let m = meta(
            &[
                ("minted_at", "2026-01-01T00:00:00Z"),
                ("recorded_version", "1"),
            ],
            None,
            false,
        );
        let e = from_metadata(&m, &KEYS, now).unwrap();
        assert_eq!(e.basis, Basis::AssumedFromChange);
        assert_eq!(e.minted_at, Some(ts("2026-04-18T16:07:09Z")));
        assert_eq!(e.expires_at, Some(ts("2027-04-18T16:07:09Z")));
        let finding = changed_out_of_band(&m, "primary").unwrap();
        assert!(
            finding.starts_with("changed outside credwatch at 2026-04-18T16:07:09Z (version 2 after the recorded version 1)")
                && finding.ends_with("run `credwatch record primary --minted-at TIME` to confirm"),
            "{finding}"
        );
        // Recorded as current, or never recorded: the recorded mint time holds.
        for version in ["2", ""] {
            let mut custom = vec![("minted_at", "2026-01-01T00:00:00Z")];
            if !version.is_empty() {
                custom.push(("recorded_version", version));
            }
            let m = meta(&custom, None, false);
            assert_eq!(changed_out_of_band(&m, "primary"), None);
            assert_eq!(
                from_metadata(&m, &KEYS, now).unwrap().basis,
                Basis::MintedAtPlusTtl
            );
        }
    }

    #[test]
    fn stored_values_are_the_current_one_and_the_history_one_per_fingerprint() {
        let now = ts("2026-11-30T00:00:00Z");
        let old = crate::recorded::Entry {
            version: 1,
            fingerprint: Some("sha256:01".into()),
            minted_at: Some(ts("2025-06-01T00:00:00Z")),
            expires_at: Some(ts("2026-06-01T00:00:00Z")),
            replaced_at: Some(ts("2026-04-18T16:07:09Z")),
        };
        let history = old.encode();
        let m = meta(
            &[
                ("minted_at", "2026-04-18T16:07:09Z"),
                ("recorded_version", "2"),
                ("fingerprint", "sha256:02"),
                ("previous_1", &history),
            ],
            None,
            false,
        );
        let e = from_metadata(&m, &KEYS, now).unwrap();
        let values = stored_values("primary", &m, Some(&e), &KEYS);
        assert_eq!(
            values,
            [
                StoredValue {
                    credential: "primary".into(),
                    fingerprint: "sha256:02".into(),
                    replaced_at: None,
                    expires_at: Some(ts("2027-04-18T16:07:09Z")),
                },
                StoredValue {
                    credential: "primary".into(),
                    fingerprint: "sha256:01".into(),
                    replaced_at: Some(ts("2026-04-18T16:07:09Z")),
                    expires_at: Some(ts("2026-06-01T00:00:00Z")),
                },
            ]
        );
        // Changed by hand after version 1 was recorded: version 1's value is replaced, and the
        // current value is known only if it was read.
        let m = meta(
            &[
                ("minted_at", "2025-06-01T00:00:00Z"),
                ("recorded_version", "1"),
                ("fingerprint", "sha256:01"),
            ],
            None,
            false,
        );
        let values = stored_values("primary", &m, None, &KEYS);
        assert_eq!(values.len(), 1);
        assert_eq!(values[0].replaced_at, Some(ts("2026-04-18T16:07:09Z")));
        assert_eq!(values[0].expires_at, Some(ts("2026-06-01T00:00:00Z")));
        let mut read = from_metadata(&m, &KEYS, now).unwrap();
        read.fingerprint = Some("sha256:03".into());
        let values = stored_values("primary", &m, Some(&read), &KEYS);
        assert_eq!(values[0].fingerprint, "sha256:03");
        assert_eq!(values[0].replaced_at, None);
        // Nothing recorded: nothing to compare with.
        assert!(stored_values("primary", &meta(&[], None, false), None, &KEYS).is_empty());
    }

    /// What a scan keeps of `m` (as `parse_summary` makes it from the answer).
    fn summary(m: &Metadata) -> Summary {
        Summary {
            updated_time: m.updated_time,
            current_version: m.current_version,
            current: m.current().copied(),
            custom: m
                .custom_metadata
                .iter()
                .filter(|(k, _)| KEYS.keeps(k))
                .map(|(k, v)| (k.as_str().into(), v.as_str().into()))
                .collect(),
        }
    }

    #[test]
    fn a_scans_summary_says_what_the_whole_metadata_says() {
        let now = ts("2026-11-30T00:00:00Z");
        let history = crate::recorded::Entry {
            version: 1,
            fingerprint: Some("sha256:01".into()),
            minted_at: None,
            expires_at: Some(ts("2026-06-01T00:00:00Z")),
            replaced_at: None,
        }
        .encode();
        for (custom, deletion, destroyed) in [
            (
                vec![("expires_at", "2027-01-01T00:00:00Z"), ("owner", "x")],
                None,
                false,
            ),
            (vec![("minted_at", "2026-04-18T16:07:09Z")], None, false),
            (vec![("expires_at", "next year")], None, false),
            (vec![], Some("2026-11-01T00:00:00Z"), false),
            (vec![], None, true),
            (
                vec![
                    ("minted_at", "2025-06-01T00:00:00Z"),
                    ("recorded_version", "1"),
                    ("fingerprint", "sha256:02"),
                    ("previous_1", &history),
                    ("previous_x", "junk"),
                ],
                None,
                false,
            ),
            (vec![("recorded_version", "two")], None, false),
        ] {
            let m = meta(&custom, deletion, destroyed);
            let s = summary(&m);
            assert!(s.custom("owner").is_none());
            let (full, cut) = (from_metadata(&m, &KEYS, now), from_metadata(&s, &KEYS, now));
            assert_eq!(full, cut, "{custom:?}");
            assert_eq!(changed_out_of_band(&m, "n"), changed_out_of_band(&s, "n"));
            assert_eq!(m.recorded(), s.recorded());
            assert_eq!(
                recorded_before_change(&m, &KEYS),
                recorded_before_change(&s, &KEYS)
            );
            assert_eq!(
                stored_values("n", &m, full.as_ref().ok(), &KEYS),
                stored_values("n", &s, cut.as_ref().ok(), &KEYS)
            );
        }
    }

    #[test]
    fn deleted_destroyed_and_malformed_metadata_are_errors() {
        let now = ts("2026-11-30T00:00:00Z");
        let err =
            from_metadata(&meta(&[], Some("2026-11-01T00:00:00Z"), false), &KEYS, now).unwrap_err();
        assert!(
            err.contains("current version 2 was deleted at 2026-11-01T00:00:00Z"),
            "{err}"
        );
        // A deletion scheduled in the future is not a deletion yet.
        assert!(from_metadata(&meta(&[], Some("2027-01-01T00:00:00Z"), false), &KEYS, now).is_ok());
        let err = from_metadata(&meta(&[], None, true), &KEYS, now).unwrap_err();
        assert!(err.contains("current version 2 is destroyed"), "{err}");
        let err = from_metadata(
            &meta(&[("expires_at", "next year")], None, false),
            &KEYS,
            now,
        )
        .unwrap_err();
        assert!(
            err.starts_with("custom_metadata `expires_at`: expected an RFC 3339 time"),
            "{err}"
        );
    }
}
