//! What credwatch recorded about the values a secret held (pure; a shared leaf): the current
//! value's fingerprint and the version it was written as, and a short history of earlier values
//! (version, fingerprint, mint time, expiry, when the store moved on), all kept in a Vault KV v2
//! secret's custom_metadata next to `minted_at`, within Vault's limits (64 keys, 512 characters
//! per value). Only fingerprints are kept, never a value or a part of one.
//!
//! The history is what lets a consumer's copy be recognised after a rotation: a copy that equals
//! an earlier value is *stale*, and the entry says until when that value lives.

use std::collections::BTreeMap;
use std::ops::Bound;

use jiff::Timestamp;

/// custom_metadata key of the current value's fingerprint.
pub const FINGERPRINT_KEY: &str = "fingerprint";
/// custom_metadata key of the version whose fingerprint and mint time were recorded.
pub const VERSION_KEY: &str = "recorded_version";
/// custom_metadata key of who rotated the value.
pub const ROTATED_BY_KEY: &str = "rotated_by";
/// custom_metadata key of who recorded a mint time with `credwatch record`.
pub const RECORDED_BY_KEY: &str = "recorded_by";
/// custom_metadata key of the spare a rotation promoted.
pub const PROMOTED_FROM_KEY: &str = "promoted_from";
/// Prefix of the history keys: `previous_1` is the value replaced last, `previous_2` the one
/// before, and so on.
pub const HISTORY_PREFIX: &str = "previous_";
/// How many earlier values are kept.
pub const HISTORY_MAX: usize = 5;
/// Vault's limits on custom_metadata.
pub const MAX_KEYS: usize = 64;
pub const MAX_VALUE_CHARS: usize = 512;

/// One value a secret held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub version: u64,
    /// Absent when the value could not be read when it was replaced.
    pub fingerprint: Option<String>,
    pub minted_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
    /// When the store stopped holding this value (absent for the current one).
    pub replaced_at: Option<Timestamp>,
}

impl Entry {
    /// The history encoding: space-separated `key=value` pairs, e.g.
    /// `version=3 fingerprint=sha256:… minted_at=… expires_at=… replaced_at=…`.
    pub fn encode(&self) -> String {
        let mut out = format!("version={}", self.version);
        let mut add = |key: &str, value: Option<String>| {
            if let Some(v) = value {
                out.push_str(&format!(" {key}={v}"));
            }
        };
        add("fingerprint", self.fingerprint.clone());
        add("minted_at", self.minted_at.map(|t| t.to_string()));
        add("expires_at", self.expires_at.map(|t| t.to_string()));
        add("replaced_at", self.replaced_at.map(|t| t.to_string()));
        out
    }

    /// Reads [`Entry::encode`]'s form back; unknown keys are ignored (a later credwatch may add
    /// some), a missing or malformed version is an error.
    pub fn parse(text: &str) -> Result<Entry, String> {
        let mut entry = Entry {
            version: 0,
            fingerprint: None,
            minted_at: None,
            expires_at: None,
            replaced_at: None,
        };
        let mut version = None;
        let time = |key: &str, v: &str| {
            crate::time::parse_timestamp(v).map_err(|e| format!("`{key}`: {e}"))
        };
        for pair in text.split_whitespace() {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("expected `key=value`, found `{pair}`"))?;
            match key {
                "version" => {
                    version = Some(value.parse::<u64>().map_err(|_| {
                        format!("`version`: expected a whole number, found `{value}`")
                    })?)
                }
                "fingerprint" => entry.fingerprint = Some(value.to_string()),
                "minted_at" => entry.minted_at = Some(time(key, value)?),
                "expires_at" => entry.expires_at = Some(time(key, value)?),
                "replaced_at" => entry.replaced_at = Some(time(key, value)?),
                _ => {}
            }
        }
        entry.version = version.ok_or("no `version`")?;
        Ok(entry)
    }
}

/// What the custom_metadata of one secret says credwatch recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recorded {
    /// The recorded fingerprint of the value of [`Recorded::version`].
    pub fingerprint: Option<String>,
    /// The version credwatch wrote or recorded last.
    pub version: Option<u64>,
    /// Earlier values, the one replaced last first. Malformed entries are left out.
    pub history: Vec<Entry>,
    /// Why a history key was left out, for a warning.
    pub problems: Vec<String>,
}

/// Reads what credwatch recorded from a secret's custom_metadata. Pure.
pub fn parse(custom: &BTreeMap<String, String>) -> Recorded {
    let mut recorded = Recorded {
        // Empty: recorded as unreadable.
        fingerprint: custom
            .get(FINGERPRINT_KEY)
            .filter(|f| !f.is_empty())
            .cloned(),
        ..Recorded::default()
    };
    if let Some(v) = custom.get(VERSION_KEY) {
        match v.parse() {
            Ok(v) => recorded.version = Some(v),
            Err(_) => recorded.problems.push(format!(
                "custom_metadata `{VERSION_KEY}`: expected a whole number, found `{v}`"
            )),
        }
    }
    // The history keys are found by their prefix (one range of the sorted map), not by asking
    // for each possible key: a scan reads this for every secret, and most have no history.
    let mut found: [Option<&String>; HISTORY_MAX] = [None; HISTORY_MAX];
    let keys = custom.range::<str, _>((Bound::Included(HISTORY_PREFIX), Bound::Unbounded));
    for (key, text) in keys.take_while(|(k, _)| k.starts_with(HISTORY_PREFIX)) {
        if let Some(i) = history_index(key) {
            found[i - 1] = Some(text);
        }
    }
    for (i, text) in found.iter().enumerate() {
        let Some(text) = text else { continue };
        match Entry::parse(text) {
            Ok(e) => recorded.history.push(e),
            Err(e) => recorded
                .problems
                .push(format!("custom_metadata `{}`: {e}", history_key(i + 1))),
        }
    }
    recorded
}

/// `i` if `key` is [`history_key`]`(i)` for some `i` in `1..=HISTORY_MAX`.
fn history_index(key: &str) -> Option<usize> {
    let digits = key.strip_prefix(HISTORY_PREFIX)?;
    if digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits
        .parse()
        .ok()
        .filter(|i| (1..=HISTORY_MAX).contains(i))
}

/// `previous_<i>`, counted from 1.
pub fn history_key(i: usize) -> String {
    format!("{HISTORY_PREFIX}{i}")
}

/// The custom_metadata patch that records a new current value and pushes `replaced` (the values
/// the store held until now, newest first) onto the history, the oldest entry dropping out after
/// [`HISTORY_MAX`]. `fixed` holds the other keys to set (`minted_at`, `rotated_by`, …). The patch
/// keeps the secret's other keys; if the result would exceed [`MAX_KEYS`], the history does not
/// grow, and if even that is too many the patch is refused (before anything is written). Pure.
pub fn patch(
    existing: &BTreeMap<String, String>,
    mut fixed: BTreeMap<String, String>,
    replaced: Vec<Entry>,
) -> Result<BTreeMap<String, String>, String> {
    let old = parse(existing);
    let mut history: Vec<Entry> = replaced.into_iter().chain(old.history).collect();
    history.truncate(HISTORY_MAX);
    let existing_len = |h: usize| (1..=h).filter(|&i| existing.contains_key(&history_key(i)));
    // The history grows by one key at most, and only if that stays within the limit.
    let mut kept = history.len();
    loop {
        let mut keys: std::collections::BTreeSet<&str> =
            existing.keys().map(String::as_str).collect();
        keys.extend(fixed.keys().map(String::as_str));
        let new_history = kept - existing_len(kept).count();
        if keys.len() + new_history <= MAX_KEYS {
            break;
        }
        if kept == 0 || new_history == 0 {
            return Err(format!(
                "the secret's custom_metadata would have more than {MAX_KEYS} keys, Vault's limit; remove unused keys first"
            ));
        }
        kept -= 1;
    }
    for (i, entry) in history.iter().take(kept).enumerate() {
        fixed.insert(history_key(i + 1), entry.encode());
    }
    if let Some((key, value)) = fixed
        .iter()
        .find(|(_, v)| v.chars().count() > MAX_VALUE_CHARS)
    {
        return Err(format!(
            "custom_metadata `{key}` would be {} characters long, more than Vault's {MAX_VALUE_CHARS}",
            value.chars().count()
        ));
    }
    Ok(fixed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn entry(version: u64) -> Entry {
        Entry {
            version,
            fingerprint: Some(format!("hmac-sha256:{version:016x}")),
            minted_at: Some(ts("2026-01-01T00:00:00Z")),
            expires_at: Some(ts("2027-01-01T00:00:00Z")),
            replaced_at: Some(ts("2026-12-01T10:00:00Z")),
        }
    }

    #[test]
    fn an_entry_reads_back_what_it_wrote() {
        let e = entry(3);
        assert_eq!(
            e.encode(),
            "version=3 fingerprint=hmac-sha256:0000000000000003 minted_at=2026-01-01T00:00:00Z \
             expires_at=2027-01-01T00:00:00Z replaced_at=2026-12-01T10:00:00Z"
        );
        assert_eq!(Entry::parse(&e.encode()).unwrap(), e);
        let bare = Entry::parse("version=7 future=x").unwrap();
        assert_eq!((bare.version, bare.fingerprint), (7, None));
        assert_eq!(Entry::parse("fingerprint=x").unwrap_err(), "no `version`");
        assert!(
            Entry::parse("version=1 expires_at=soon")
                .unwrap_err()
                .starts_with("`expires_at`: expected")
        );
    }

    #[test]
    fn the_history_shifts_and_stops_at_its_bound() {
        let mut custom = BTreeMap::from([("owner".to_string(), "platform".to_string())]);
        for v in 1..=7 {
            let fixed = BTreeMap::from([(VERSION_KEY.to_string(), (v + 1).to_string())]);
            let p = patch(&custom, fixed, vec![entry(v)]).unwrap();
            assert!(!p.contains_key("owner"), "a patch touches only its keys");
            custom.extend(p);
        }
        let r = parse(&custom);
        assert_eq!(r.version, Some(8));
        let versions: Vec<u64> = r.history.iter().map(|e| e.version).collect();
        assert_eq!(versions, [7, 6, 5, 4, 3]);
        assert!(!custom.contains_key(&history_key(HISTORY_MAX + 1)));
        assert!(custom.values().all(|v| v.len() <= MAX_VALUE_CHARS));
    }

    #[test]
    fn near_vaults_key_limit_the_history_does_not_grow_and_past_it_nothing_is_written() {
        let mut custom: BTreeMap<String, String> = (0..62)
            .map(|i| (format!("k{i}"), "v".to_string()))
            .collect();
        custom.insert(history_key(1), entry(1).encode());
        // 63 keys: the new fingerprint fits, a second history entry does not.
        let fixed = BTreeMap::from([(FINGERPRINT_KEY.to_string(), "sha256:aa".to_string())]);
        let p = patch(&custom, fixed.clone(), vec![entry(2)]).unwrap();
        assert_eq!(Entry::parse(&p[&history_key(1)]).unwrap().version, 2);
        assert!(!p.contains_key(&history_key(2)));
        custom.insert("k62".into(), "v".into());
        let err = patch(&custom, fixed, vec![entry(2)]).unwrap_err();
        assert!(err.contains("more than 64 keys"), "{err}");
    }

    #[test]
    fn malformed_history_is_left_out_and_said() {
        let custom = BTreeMap::from([
            (history_key(1), "garbage".to_string()),
            (history_key(2), entry(1).encode()),
            (VERSION_KEY.to_string(), "two".to_string()),
        ]);
        let r = parse(&custom);
        assert_eq!(r.history, [entry(1)]);
        assert_eq!(r.version, None);
        assert_eq!(r.problems.len(), 2, "{:?}", r.problems);
    }

    #[test]
    fn only_the_history_keys_themselves_are_read_and_in_their_order() {
        let custom = BTreeMap::from([
            (history_key(2), entry(2).encode()),
            (history_key(1), entry(1).encode()),
            // Near misses of a history key: other keys of the operator's, never history.
            ("previous_01".to_string(), entry(9).encode()),
            ("previous_+3".to_string(), entry(9).encode()),
            ("previous_6".to_string(), entry(9).encode()),
            ("previous_10".to_string(), entry(9).encode()),
            ("previous_".to_string(), entry(9).encode()),
            ("previous_x".to_string(), entry(9).encode()),
        ]);
        let r = parse(&custom);
        assert_eq!(r.history, [entry(1), entry(2)]);
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert_eq!(history_index(&history_key(HISTORY_MAX)), Some(HISTORY_MAX));
        assert_eq!(history_index("fingerprint"), None);
    }
}
