//! `rotate` for a credential stored in Vault/OpenBao KV v2: the new value (a spare's, or one read
//! from stdin) is checked against the credential's format, written with check-and-set on the
//! current version (the secret's other fields kept), and its mint time recorded in
//! custom_metadata (the other keys kept). The Vault calls go through [`Store`], so the workflow is
//! tested without a server; `run.rs` connects, prints the [`Outcome`] and pushes.

use std::collections::BTreeMap;

use jiff::Timestamp;

use crate::config::{Config, InventoryEntry, SourceCommon, ValueFrom, VaultSource};
use crate::credential::Secret;
use crate::decode::format::{self, FormatProfile};
use crate::sources::vault::{MetadataKeys, from_metadata};
use crate::vault::{Client, Metadata, VaultError};

/// The KV v2 calls a rotation makes, on one mount.
pub trait Store {
    fn read_field(&self, path: &str, field: &str) -> Result<Secret, VaultError>;
    fn read_metadata(&self, path: &str) -> Result<Metadata, VaultError>;
    fn write_cas(
        &self,
        path: &str,
        fields: &BTreeMap<String, Secret>,
        cas: u64,
    ) -> Result<u64, VaultError>;
    fn patch_custom_metadata(
        &self,
        path: &str,
        entries: &BTreeMap<String, String>,
    ) -> Result<(), VaultError>;
}

/// A Vault client on one mount.
pub struct Mounted<'a> {
    pub client: &'a Client,
    pub mount: &'a str,
}

impl Store for Mounted<'_> {
    fn read_field(&self, path: &str, field: &str) -> Result<Secret, VaultError> {
        self.client.read_field(self.mount, path, field)
    }
    fn read_metadata(&self, path: &str) -> Result<Metadata, VaultError> {
        self.client.read_metadata(self.mount, path)
    }
    fn write_cas(
        &self,
        path: &str,
        fields: &BTreeMap<String, Secret>,
        cas: u64,
    ) -> Result<u64, VaultError> {
        self.client.write_cas(self.mount, path, fields, cas)
    }
    fn patch_custom_metadata(
        &self,
        path: &str,
        entries: &BTreeMap<String, String>,
    ) -> Result<(), VaultError> {
        self.client.patch_custom_metadata(self.mount, path, entries)
    }
}

/// Where the new value comes from.
pub enum NewValue<'a> {
    /// A spare in the same mount: its name, path and field. It keeps its own mint time.
    Spare {
        name: &'a str,
        path: &'a str,
        field: &'a str,
    },
    /// Read only once the store answered (stdin, never argv or the environment).
    Given(Box<dyn FnOnce() -> Result<Secret, String> + 'a>),
}

/// One rotation, as the command line and the config describe it.
pub struct Request<'a> {
    /// The credential's name, for messages.
    pub name: &'a str,
    /// The mount [`Store`] works on, for messages.
    pub mount: &'a str,
    pub path: &'a str,
    pub field: &'a str,
    pub format: Option<&'a FormatProfile>,
    pub value: NewValue<'a>,
    /// `--minted-at`, which wins over a spare's mint time and over `now`.
    pub minted_at: Option<Timestamp>,
    /// `--expect-version`, else the current version is read.
    pub expect_version: Option<u64>,
    /// The custom_metadata keys and lifetime of the credential's vault source.
    pub keys: MetadataKeys<'a>,
    /// Who rotated it, recorded as `rotated_by`.
    pub rotated_by: String,
    pub now: Timestamp,
}

/// How a rotation ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The value and its mint time were recorded.
    Written {
        version: u64,
        minted_at: Timestamp,
        promoted_from: Option<String>,
    },
    /// Nothing was written; the message says why.
    Refused(String),
    /// The value was written but its mint time was not recorded; the message says what to do.
    Incomplete(String),
}

/// Where a rotation of an inventory credential stored in Vault writes, and the spare it
/// promotes (name, path, field) if any.
#[derive(Debug)]
pub struct Target<'a> {
    /// What the vault source shares with every kind (its `ttl` among them).
    pub common: &'a SourceCommon,
    pub source: &'a VaultSource,
    pub path: &'a str,
    pub field: &'a str,
    pub format: Option<&'a FormatProfile>,
    pub spare: Option<(&'a str, &'a str, &'a str)>,
}

/// Resolves the Vault target of `entry` (a `[[credential]]` with `vault = { … }`), and of the
/// spare named `from`, which must be stored in the same vault source. Pure.
pub fn target<'a>(
    config: &'a Config,
    entry: &'a InventoryEntry,
    from: Option<&'a str>,
) -> Result<Target<'a>, String> {
    let name = entry.credential.name.as_str();
    let Some(spec) = &entry.value else {
        return Err("internal: no value".into());
    };
    let ValueFrom::Vault {
        source,
        path,
        field,
    } = &spec.from
    else {
        return Err("internal: not a vault value".into());
    };
    let field = field.as_deref().ok_or_else(|| {
        format!("credential `{name}` names no `vault.field`: rotate needs to know which key of the secret holds the value")
    })?;
    let (common, vault_source) = config
        .sources
        .iter()
        .find(|s| s.name() == source)
        .and_then(|s| Some((&s.common, s.kind.as_vault()?)))
        .ok_or_else(|| format!("no vault source `{source}`"))?;
    let spare = match from {
        None => None,
        Some(spare) => {
            let other = config.spare(spare)?;
            let Some(ValueFrom::Vault {
                source: s2,
                path: p2,
                field: f2,
            }) = other.value.as_ref().map(|v| &v.from)
            else {
                return Err(format!("--from: `{spare}` is not stored in Vault"));
            };
            if s2 != source {
                return Err(format!(
                    "--from: `{spare}` is in vault source `{s2}`, `{name}` in `{source}`"
                ));
            }
            Some((spare, p2.as_str(), f2.as_deref().unwrap_or(field)))
        }
    };
    Ok(Target {
        common,
        source: vault_source,
        path,
        field,
        format: spec.format.as_ref(),
        spare,
    })
}

/// Runs one rotation. `Err` is a failure before anything was written (cannot read the spare,
/// cannot read the new value, a bad `--minted-at`).
pub fn rotate(store: &dyn Store, request: Request<'_>) -> Result<Outcome, String> {
    let Request {
        name,
        mount,
        path,
        field,
        format,
        value,
        minted_at,
        expect_version,
        keys,
        rotated_by,
        now,
    } = request;
    let (value, spare_minted_at, promoted_from) = match value {
        NewValue::Spare {
            name: spare,
            path: spare_path,
            field: spare_field,
        } => {
            let value = store
                .read_field(spare_path, spare_field)
                .map_err(|e| format!("--from: {e}"))?;
            let meta = store
                .read_metadata(spare_path)
                .map_err(|e| format!("--from: {e}"))?;
            let minted = from_metadata(&meta, &keys, now)
                .ok()
                .and_then(|e| e.minted_at);
            (value, minted, Some(spare.to_string()))
        }
        NewValue::Given(read) => (read()?, None, None),
    };
    if let Some(profile) = format {
        let text = std::str::from_utf8(value.expose_bytes()).unwrap_or_default();
        if let Err(problem) = format::check(profile, text) {
            return Ok(Outcome::Refused(format!(
                "refusing to store the new value of `{name}`: not a valid `{}` value: {problem}; nothing was written",
                profile.name
            )));
        }
    }
    let minted_at = minted_at.or(spare_minted_at).unwrap_or(now);
    let minted_at = Timestamp::from_second(minted_at.as_second()).unwrap_or(minted_at);

    let current = store
        .read_metadata(path)
        .map_err(|e| e.to_string())?
        .current_version;
    let cas = expect_version.unwrap_or(current);
    let fields = BTreeMap::from([(field.to_string(), value)]);
    let version = match store.write_cas(path, &fields, cas) {
        Ok(v) => v,
        Err(e @ VaultError::Cas { .. }) => {
            return Ok(Outcome::Refused(format!(
                "{e}; nothing was written. Check who rotated it (`credwatch check`) and retry."
            )));
        }
        Err(e) => return Ok(Outcome::Refused(format!("{e}; nothing was written"))),
    };
    let mut custom = BTreeMap::from([
        (keys.minted_at.to_string(), minted_at.to_string()),
        ("rotated_by".to_string(), rotated_by),
    ]);
    if let Some(spare) = &promoted_from {
        custom.insert("promoted_from".into(), spare.clone());
    }
    if let Err(e) = store.patch_custom_metadata(path, &custom) {
        return Ok(Outcome::Incomplete(format!(
            "version {version} of `{mount}/{path}` was written, but recording its mint time failed: {e}; \
             set custom_metadata `{}` = `{minted_at}` by hand",
            keys.minted_at
        )));
    }
    Ok(Outcome::Written {
        version,
        minted_at,
        promoted_from,
    })
}

/// `rotated_by`: the operator's login name when known.
pub fn rotated_by(user: Option<String>) -> String {
    user.filter(|u| !u.is_empty())
        .map_or_else(|| "credwatch".into(), |u| format!("{u} via credwatch"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// An in-memory KV v2 secret store: versions per path, custom metadata, and faults on demand.
    #[derive(Default)]
    struct Fake {
        fields: RefCell<BTreeMap<String, BTreeMap<String, String>>>,
        versions: RefCell<BTreeMap<String, u64>>,
        custom: RefCell<BTreeMap<String, BTreeMap<String, String>>>,
        /// A concurrent writer bumps the version between our read and our write.
        race: bool,
        metadata_fails: bool,
        calls: RefCell<Vec<String>>,
    }

    impl Fake {
        fn with(path: &str, field: &str, value: &str, version: u64) -> Self {
            let fake = Fake::default();
            fake.put(path, field, value, version);
            fake
        }

        fn put(&self, path: &str, field: &str, value: &str, version: u64) {
            self.fields
                .borrow_mut()
                .entry(path.into())
                .or_default()
                .insert(field.into(), value.into());
            self.versions.borrow_mut().insert(path.into(), version);
        }

        fn metadata(&self, path: &str) -> Metadata {
            let version = self.versions.borrow().get(path).copied().unwrap_or(0);
            let custom = self.custom.borrow().get(path).cloned().unwrap_or_default();
            let json = serde_json::json!({"data": {
                "created_time": "2026-01-01T00:00:00Z",
                "updated_time": "2026-01-01T00:00:00Z",
                "current_version": version,
                "custom_metadata": custom,
                "versions": {version.to_string(): {
                    "created_time": "2026-01-01T00:00:00Z",
                    "deletion_time": "",
                    "destroyed": false
                }}
            }});
            crate::vault::model::parse_metadata(json.to_string().as_bytes()).unwrap()
        }
    }

    impl Store for Fake {
        fn read_field(&self, path: &str, field: &str) -> Result<Secret, VaultError> {
            self.calls.borrow_mut().push(format!("read {path}"));
            self.fields
                .borrow()
                .get(path)
                .and_then(|f| f.get(field))
                .map(|v| Secret::new(v.clone()))
                .ok_or_else(|| VaultError::Config(format!("no field `{field}` in `{path}`")))
        }
        fn read_metadata(&self, path: &str) -> Result<Metadata, VaultError> {
            self.calls.borrow_mut().push(format!("metadata {path}"));
            Ok(self.metadata(path))
        }
        fn write_cas(
            &self,
            path: &str,
            fields: &BTreeMap<String, Secret>,
            cas: u64,
        ) -> Result<u64, VaultError> {
            self.calls
                .borrow_mut()
                .push(format!("write {path} cas={cas}"));
            let current =
                self.versions.borrow().get(path).copied().unwrap_or(0) + u64::from(self.race);
            if cas != current {
                return Err(VaultError::Cas {
                    op: format!("write `{path}`"),
                    cas,
                });
            }
            for (k, v) in fields {
                let text = String::from_utf8(v.expose_bytes().to_vec()).unwrap();
                self.put(path, k, &text, current + 1);
            }
            Ok(current + 1)
        }
        fn patch_custom_metadata(
            &self,
            path: &str,
            entries: &BTreeMap<String, String>,
        ) -> Result<(), VaultError> {
            self.calls.borrow_mut().push(format!("patch {path}"));
            if self.metadata_fails {
                return Err(VaultError::Config("permission denied".into()));
            }
            self.custom
                .borrow_mut()
                .entry(path.into())
                .or_default()
                .extend(entries.clone());
            Ok(())
        }
    }

    const TOKEN: &str = "sk-ant-oat01-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn request<'a>(value: NewValue<'a>, format: Option<&'a FormatProfile>) -> Request<'a> {
        Request {
            name: "primary",
            mount: "secret",
            path: "agent",
            field: "oauth_token",
            format,
            value,
            minted_at: None,
            expect_version: None,
            keys: MetadataKeys {
                expires_at: "expires_at",
                minted_at: "minted_at",
                ttl: jiff::SignedDuration::from_hours(24 * 365),
            },
            rotated_by: rotated_by(Some("ops".into())),
            now: at("2026-12-01T10:00:00.5Z"),
        }
    }

    fn given(value: &str) -> NewValue<'static> {
        let value = value.to_string();
        NewValue::Given(Box::new(move || Ok(Secret::new(value))))
    }

    #[test]
    fn a_new_value_is_written_with_check_and_set_and_its_mint_time_recorded() {
        let fake = Fake::with("agent", "oauth_token", "old", 3);
        let outcome = rotate(&fake, request(given(TOKEN), None)).unwrap();
        assert_eq!(
            outcome,
            Outcome::Written {
                version: 4,
                minted_at: at("2026-12-01T10:00:00Z"),
                promoted_from: None
            }
        );
        assert_eq!(fake.fields.borrow()["agent"]["oauth_token"], TOKEN);
        let custom = &fake.custom.borrow()["agent"];
        assert_eq!(custom["minted_at"], "2026-12-01T10:00:00Z");
        assert_eq!(custom["rotated_by"], "ops via credwatch");
        assert_eq!(
            *fake.calls.borrow(),
            ["metadata agent", "write agent cas=3", "patch agent"]
        );
    }

    #[test]
    fn a_spare_is_promoted_with_its_own_mint_time() {
        let fake = Fake::with("agent", "oauth_token", "old", 1);
        fake.put("agent-spare-1", "token", TOKEN, 1);
        fake.custom.borrow_mut().insert(
            "agent-spare-1".into(),
            BTreeMap::from([("minted_at".into(), "2026-06-02T09:30:00Z".into())]),
        );
        let spare = NewValue::Spare {
            name: "spare-1",
            path: "agent-spare-1",
            field: "token",
        };
        let outcome = rotate(&fake, request(spare, None)).unwrap();
        assert_eq!(
            outcome,
            Outcome::Written {
                version: 2,
                minted_at: at("2026-06-02T09:30:00Z"),
                promoted_from: Some("spare-1".into())
            }
        );
        assert_eq!(fake.custom.borrow()["agent"]["promoted_from"], "spare-1");
    }

    #[test]
    fn a_value_that_fails_its_format_is_refused_before_any_write() {
        let fake = Fake::with("agent", "oauth_token", "old", 1);
        let profile = format::builtin("claude-oauth").unwrap();
        let truncated = &TOKEN[..107];
        let outcome = rotate(&fake, request(given(truncated), Some(&profile))).unwrap();
        let Outcome::Refused(message) = outcome else {
            panic!("{outcome:?}")
        };
        assert!(
            message.contains("expected exactly 108 characters, found 107"),
            "{message}"
        );
        assert!(message.ends_with("nothing was written"), "{message}");
        assert!(!message.contains(&truncated[13..30]), "{message}");
        assert!(fake.calls.borrow().is_empty());
        assert_eq!(fake.fields.borrow()["agent"]["oauth_token"], "old");
    }

    #[test]
    fn a_concurrent_write_is_refused_and_nothing_is_recorded() {
        let fake = Fake {
            race: true,
            ..Fake::with("agent", "oauth_token", "old", 1)
        };
        let Outcome::Refused(message) = rotate(&fake, request(given(TOKEN), None)).unwrap() else {
            panic!()
        };
        assert!(message.contains("retry"), "{message}");
        assert!(!fake.calls.borrow().iter().any(|c| c.starts_with("patch")));
    }

    #[test]
    fn a_failed_metadata_write_says_what_to_set_by_hand() {
        let fake = Fake {
            metadata_fails: true,
            ..Fake::with("agent", "oauth_token", "old", 1)
        };
        let mut req = request(given(TOKEN), None);
        req.minted_at = Some(at("2026-11-30T08:00:00Z"));
        req.expect_version = Some(1);
        let Outcome::Incomplete(message) = rotate(&fake, req).unwrap() else {
            panic!()
        };
        assert!(
            message.contains("set custom_metadata `minted_at` = `2026-11-30T08:00:00Z` by hand"),
            "{message}"
        );
        // --expect-version is the check-and-set version, whatever is current.
        assert_eq!(fake.calls.borrow()[1], "write agent cas=1");
    }

    #[test]
    fn an_unreadable_new_value_writes_nothing() {
        let fake = Fake::with("agent", "oauth_token", "old", 1);
        let value = NewValue::Given(Box::new(|| Err("no new value on stdin".to_string())));
        assert_eq!(
            rotate(&fake, request(value, None)).unwrap_err(),
            "no new value on stdin"
        );
        assert!(fake.calls.borrow().is_empty());
    }
}
