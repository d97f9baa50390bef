//! Pure: a credential's value (already read) → evidence about it: the expiry a JWT or
//! certificate carries, the format check, the fingerprint. Never copies the value anywhere.

use jiff::{SignedDuration, Timestamp};

use crate::config::{Derive, ValueSpec};
use crate::credential::{Basis, Evidence, FormatResult};
use crate::decode::{fingerprint, format, jwt, x509};
use crate::vault::{Metadata, VersionState};

/// Builds the evidence for a value. `declared` is what the config states about the lifetime
/// (used when the expiry is not read from the value); `key` keys the fingerprint.
pub fn from_value(
    value: &[u8],
    spec: &ValueSpec,
    declared: Option<&Evidence>,
    key: Option<&[u8]>,
) -> Result<Evidence, String> {
    let text = std::str::from_utf8(value).ok();
    let format = spec.format.as_ref().map(|profile| FormatResult {
        profile: profile.name.clone(),
        problem: match text {
            Some(t) => format::check(profile, t).err(),
            None => Some("the value is binary, not text".into()),
        },
    });
    let fingerprint = Some(fingerprint::fingerprint(trim_ascii(value), key));

    let mut evidence = match (spec.derive, declared) {
        (None, Some(d)) => d.clone(),
        (None, None) => return Err("no expiry is declared and none is read from the value".into()),
        (Some(derive), _) => derived(value, text, derive)?,
    };
    evidence.fingerprint = fingerprint;
    evidence.format = format;
    Ok(evidence)
}

fn trim_ascii(value: &[u8]) -> &[u8] {
    value.trim_ascii()
}

fn looks_like_jwt(text: &str) -> bool {
    let t = text.trim();
    t.starts_with("eyJ") && t.split('.').count() == 3
}

fn derived(value: &[u8], text: Option<&str>, derive: Derive) -> Result<Evidence, String> {
    let (jwt_wanted, earliest) = match derive {
        Derive::Jwt => (true, false),
        Derive::X509 { earliest } => (false, earliest),
        Derive::Detect { earliest } => (text.is_some_and(looks_like_jwt), earliest),
        Derive::VaultMetadata => {
            return Err("the expiry comes from Vault metadata, not from the value".into());
        }
    };
    if jwt_wanted {
        let token = text.ok_or("expected a JWT, found binary data")?.trim();
        let claims = jwt::parse_jwt(token).map_err(|e| format!("not a readable JWT: {e}"))?;
        return Ok(Evidence {
            minted_at: claims.issued_at,
            expires_at: claims.expires_at,
            basis: Basis::JwtExp,
            fingerprint: None,
            format: None,
            subject: None,
        });
    }
    let certs = x509::parse_certificates(value).map_err(|e| match derive {
        Derive::Detect { .. } => format!("cannot tell the expiry: the value is neither a JWT nor a certificate ({e}); give `minted_at` or `expires_at`"),
        _ => format!("not a readable certificate: {e}"),
    })?;
    let cert = x509::chain_expiry(&certs, earliest).ok_or("the value holds no certificate")?;
    let cn = cert
        .subject_cn
        .as_deref()
        .map_or_else(|| "no CN".to_string(), |cn| format!("CN={cn}"));
    let of = if certs.len() > 1 {
        format!(
            " ({} of {} in the bundle)",
            if earliest { "earliest" } else { "leaf" },
            certs.len()
        )
    } else {
        String::new()
    };
    Ok(Evidence {
        minted_at: Some(cert.not_before),
        expires_at: Some(cert.not_after),
        basis: Basis::X509NotAfter,
        fingerprint: None,
        format: None,
        subject: Some(format!("certificate {cn}, serial {}{of}", cert.serial_hex)),
    })
}

/// Where a Vault secret's metadata says its lifetime comes from.
pub struct MetadataKeys<'a> {
    pub expires_at: &'a str,
    pub minted_at: &'a str,
    pub ttl: SignedDuration,
}

/// A Vault secret's lifetime from its metadata alone: custom_metadata `expires_at`, else
/// `minted_at` + ttl, else the current version's `created_time` + ttl. A current version that is
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
    let created = meta
        .current()
        .map(|v| v.created_time)
        .unwrap_or(meta.updated_time);
    Ok(Evidence::declared(
        Some(created),
        crate::time::add(created, keys.ttl)?,
        Basis::VersionCreatedPlusTtl,
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
