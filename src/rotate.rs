//! `rotate`: record that a credential was replaced. Pure edits of `credwatch.toml` that keep its
//! comments and layout; the command in `run.rs` reads, writes and pushes.

use jiff::Timestamp;
use toml_edit::{DocumentMut, Item, Value};

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
}
