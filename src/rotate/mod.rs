//! `rotate`: record that a credential was replaced. For an inventory credential, [`plan`] decides
//! what to record and [`set_time`] edits `credwatch.toml` keeping its comments and layout (both
//! pure); for a credential stored in Vault, [`vault`] runs the check-and-set workflow. The command
//! in `run.rs` reads, writes and pushes.

pub mod prometheus;
pub mod vault;
pub mod wait;

use jiff::Timestamp;
use toml_edit::{DocumentMut, Item, Value};

use crate::config::{Config, InventoryEntry, parse_config};
use crate::credential::{Basis, Evidence};

/// Which lifetime key of an inventory entry a rotation sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    MintedAt,
    ExpiresAt,
}

impl Key {
    pub fn as_str(self) -> &'static str {
        match self {
            Key::MintedAt => "minted_at",
            Key::ExpiresAt => "expires_at",
        }
    }
}

/// What a rotation records for an inventory credential that states `declared`: the same key, set
/// from the spare being promoted (`spare`: its name and stated lifetime), else from the flags,
/// else (for `minted_at`) `now`. Whole seconds: the file is for humans too.
pub fn plan(
    name: &str,
    declared: &Evidence,
    spare: Option<(&str, Option<&Evidence>)>,
    minted_at: Option<Timestamp>,
    expires_at: Option<Timestamp>,
    now: Timestamp,
) -> Result<(Key, Timestamp), String> {
    let key = if declared.basis == Basis::ExpiresAt {
        Key::ExpiresAt
    } else {
        Key::MintedAt
    };
    let at = match (spare, key) {
        (Some((spare, None)), _) => {
            return Err(format!("--from: the expiry of `{spare}` is read from its value; nothing to copy"));
        }
        (Some((spare, Some(theirs))), _) => match (key, theirs.minted_at, theirs.expires_at) {
            (Key::MintedAt, Some(m), _) if theirs.basis == Basis::MintedAtPlusTtl => m,
            (Key::ExpiresAt, _, Some(e)) => e,
            _ => {
                return Err(format!(
                    "--from: `{name}` records `{}` but `{spare}` does not; record the time by hand with --minted-at or --expires-at",
                    key.as_str()
                ));
            }
        },
        (None, Key::ExpiresAt) => expires_at.ok_or_else(|| {
            format!("credential `{name}` states `expires_at`: pass --expires-at with the new credential's expiry")
        })?,
        (None, Key::MintedAt) => {
            if expires_at.is_some() {
                return Err(format!("credential `{name}` states `minted_at`: pass --minted-at, not --expires-at"));
            }
            minted_at.unwrap_or(now)
        }
    };
    Ok((key, Timestamp::from_second(at.as_second()).unwrap_or(at)))
}

/// An inventory rotation, decided: what to record and the edited config text.
#[derive(Debug)]
pub struct InventoryEdit {
    pub key: Key,
    pub at: Timestamp,
    /// The whole config file, edited; it validates.
    pub text: String,
    /// Things worth a warning that do not stop the rotation.
    pub warnings: Vec<String>,
}

/// The times a rotation may be given: `--minted-at`, `--expires-at`, and now.
#[derive(Debug, Clone, Copy)]
pub struct Times {
    pub minted_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
    pub now: Timestamp,
}

/// Rotation of the inventory credential `entry` of `config` (whose file holds `text`): promote
/// the spare named `from`, or record the given time. The edited text must still validate. Pure.
pub fn edit_inventory(
    config: &Config,
    text: &str,
    entry: &InventoryEntry,
    from: Option<&str>,
    times: Times,
) -> Result<InventoryEdit, String> {
    let name = entry.credential.name.as_str();
    let Some(declared) = &entry.declared else {
        return Err(format!(
            "the expiry of `{name}` is read from its value: replace the value, then run `credwatch push`"
        ));
    };
    let mut warnings = Vec::new();
    let spare = match from {
        None => None,
        Some(spare) => {
            let other = config.spare(spare)?;
            if other.credential.pool != entry.credential.pool {
                warnings.push(format!("`{spare}` is not in the pool of `{name}`"));
            }
            Some((spare, other.declared.as_ref()))
        }
    };
    let (key, at) = plan(
        name,
        declared,
        spare,
        times.minted_at,
        times.expires_at,
        times.now,
    )?;
    let edited = set_time(text, name, key, at)?;
    parse_config(&edited, &config.path)
        .map_err(|e| format!("the edit would break the config:\n{e}"))?;
    Ok(InventoryEdit {
        key,
        at,
        text: edited,
        warnings,
    })
}

/// Sets `key` of the `[[credential]]` named `name` to `at` (RFC 3339), keeping every comment,
/// the key order and the formatting of everything else. The value keeps its own trailing comment.
pub fn set_time(text: &str, name: &str, key: Key, at: Timestamp) -> Result<String, String> {
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e| format!("cannot edit the config: {e}"))?;
    let tables = doc
        .get_mut("credential")
        .and_then(Item::as_array_of_tables_mut)
        .ok_or("the config has no [[credential]] entries")?;
    let table = tables
        .iter_mut()
        .find(|t| t.get("name").and_then(Item::as_str) == Some(name))
        .ok_or_else(|| format!("no [[credential]] named `{name}` in the config"))?;
    let mut value = Value::from(at.to_string());
    match table.get(key.as_str()).and_then(Item::as_value) {
        Some(old) => {
            *value.decor_mut() = old.decor().clone();
            table[key.as_str()] = Item::Value(value);
        }
        None => {
            return Err(format!(
                "credential `{name}` has no `{}` to update",
                key.as_str()
            ));
        }
    }
    Ok(doc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"# Our tokens.
[defaults]
ttl = "365d"   # one year

[[credential]]
name = "primary"            # the live one
minted_at = "2026-04-18T16:07:09Z"   # from `claude setup-token`
pool = "agent"

[[credential]]
name = "pat"
expires_at = 1803859200
"#;

    #[test]
    fn only_the_mint_time_changes() {
        let at: Timestamp = "2026-11-30T10:00:00Z".parse().unwrap();
        let out = set_time(CONFIG, "primary", Key::MintedAt, at).unwrap();
        assert_eq!(
            out,
            CONFIG.replace(
                "minted_at = \"2026-04-18T16:07:09Z\"   # from",
                "minted_at = \"2026-11-30T10:00:00Z\"   # from"
            )
        );
        let out = set_time(CONFIG, "pat", Key::ExpiresAt, at).unwrap();
        assert_eq!(
            out,
            CONFIG.replace(
                "expires_at = 1803859200",
                "expires_at = \"2026-11-30T10:00:00Z\""
            )
        );
    }

    #[test]
    fn a_missing_entry_or_key_is_an_error() {
        let at = Timestamp::UNIX_EPOCH;
        assert!(
            set_time(CONFIG, "nope", Key::MintedAt, at)
                .unwrap_err()
                .contains("no [[credential]] named `nope`")
        );
        assert!(
            set_time(CONFIG, "pat", Key::MintedAt, at)
                .unwrap_err()
                .contains("has no `minted_at`")
        );
        assert!(set_time("x = ", "a", Key::MintedAt, at).is_err());
    }

    #[test]
    fn a_rotation_records_what_the_entry_states() {
        let t = |s: &str| -> Timestamp { s.parse().unwrap() };
        let now = t("2026-11-30T10:00:00.75Z");
        let minted = Evidence::declared(
            Some(t("2026-04-18T00:00:00Z")),
            t("2027-04-18T00:00:00Z"),
            Basis::MintedAtPlusTtl,
        );
        let stated = Evidence::declared(None, t("2026-12-20T00:00:00Z"), Basis::ExpiresAt);
        let spare = Evidence::declared(
            Some(t("2026-10-01T00:00:00Z")),
            t("2027-10-01T00:00:00Z"),
            Basis::MintedAtPlusTtl,
        );

        // Minted now, in whole seconds; or at the given time.
        assert_eq!(
            plan("p", &minted, None, None, None, now),
            Ok((Key::MintedAt, t("2026-11-30T10:00:00Z")))
        );
        let given = t("2026-11-29T00:00:00Z");
        assert_eq!(
            plan("p", &minted, None, Some(given), None, now),
            Ok((Key::MintedAt, given))
        );
        assert!(
            plan("p", &minted, None, None, Some(given), now)
                .unwrap_err()
                .contains("pass --minted-at")
        );
        // A stated expiry needs the new one.
        assert!(
            plan("pat", &stated, None, None, None, now)
                .unwrap_err()
                .contains("pass --expires-at")
        );
        assert_eq!(
            plan("pat", &stated, None, None, Some(given), now),
            Ok((Key::ExpiresAt, given))
        );
        // A promoted spare brings its own lifetime.
        assert_eq!(
            plan("p", &minted, Some(("s", Some(&spare))), None, None, now),
            Ok((Key::MintedAt, t("2026-10-01T00:00:00Z")))
        );
        assert!(plan("pat", &stated, Some(("s", Some(&minted))), None, None, now).is_ok());
        assert!(
            plan("p", &minted, Some(("s", Some(&stated))), None, None, now)
                .unwrap_err()
                .contains("record the time by hand")
        );
        assert!(
            plan("p", &minted, Some(("s", None)), None, None, now)
                .unwrap_err()
                .contains("nothing to copy")
        );
    }
}
