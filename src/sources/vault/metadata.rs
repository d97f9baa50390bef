//! Pure: a Vault secret's metadata → evidence about its lifetime (custom_metadata keys, the
//! source's ttl, the current version's state). No I/O; the reader in [`super`] fetches.

use jiff::{SignedDuration, Timestamp};

use crate::credential::{Basis, Evidence};
use crate::vault::{Metadata, VersionState};

/// Where a Vault secret's metadata says its lifetime comes from.
pub struct MetadataKeys<'a> {
    pub expires_at: &'a str,
    pub minted_at: &'a str,
    pub ttl: SignedDuration,
}

/// A Vault secret's lifetime from its metadata alone: custom_metadata `expires_at`, else
/// `minted_at` + ttl, else the current version's `created_time` + ttl. When the current version
/// is newer than the one credwatch recorded (`recorded_version`), the value was changed outside
/// credwatch and the recorded times belong to an older value: the mint time is assumed to be the
/// current version's `created_time` ([`Basis::AssumedFromChange`]; see [`changed_out_of_band`]). A current version that is
/// deleted (at or before `now`), destroyed or missing is an error: nothing usable is stored.
pub fn from_metadata(
    meta: &Metadata,
    keys: &MetadataKeys,
    now: Timestamp,
) -> Result<Evidence, String> {
    match meta.current_state(now) {
        VersionState::Live => {}
        VersionState::Deleted(at) => {
            return Err(format!(
                "current version {} was deleted at {at}: nothing readable is stored (undelete it or write a new version)",
                meta.current_version
            ));
        }
        VersionState::Destroyed => {
            return Err(format!(
                "current version {} is destroyed: nothing readable is stored (write a new version)",
                meta.current_version
            ));
        }
        VersionState::Missing => return Err("the secret has no current version".into()),
    }
    let custom = |key: &str| -> Result<Option<Timestamp>, String> {
        match meta.custom_metadata.get(key) {
            None => Ok(None),
            Some(v) => crate::time::parse_timestamp(v)
                .map(Some)
                .map_err(|e| format!("custom_metadata `{key}`: {e}")),
        }
    };
    let created = meta
        .current()
        .map(|v| v.created_time)
        .unwrap_or(meta.updated_time);
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
pub fn changed_out_of_band(meta: &Metadata, name: &str) -> Option<String> {
    let recorded = crate::recorded::parse(&meta.custom_metadata).version?;
    if meta.current_version <= recorded {
        return None;
    }
    let at = meta.current().map_or(meta.updated_time, |v| v.created_time);
    Some(format!(
        "changed outside credwatch at {at} (version {} after the recorded version {recorded}); its mint time is assumed to be that time; run `credwatch record {name} --minted-at TIME` to confirm",
        meta.current_version
    ))
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
