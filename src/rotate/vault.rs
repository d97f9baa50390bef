//! `rotate` for a credential stored in Vault/OpenBao KV v2: the new value (a spare's, or one read
//! from stdin) is checked against the credential's format, written with check-and-set on the
//! current version (the secret's other fields kept), and its mint time, fingerprint and version
//! recorded in custom_metadata with the replaced value pushed onto a short history (the other
//! keys kept; see [`crate::recorded`]). [`record`] records the mint time of what is stored now
//! without writing a value. The Vault calls go through [`Store`], so the workflow is
//! tested without a server; `run.rs` connects, prints the [`Outcome`] and pushes.

use std::collections::BTreeMap;

use jiff::Timestamp;

use crate::config::{Config, InventoryEntry, SourceCommon, ValueFrom, VaultSource};
use crate::credential::Secret;
use crate::decode::fingerprint::value_fingerprint;
use crate::decode::format::{self, FormatProfile};
use crate::recorded;
use crate::sources::vault::metadata::recorded_before_change;
use crate::sources::vault::{MetadataKeys, from_metadata};
use crate::vault::{Client, Metadata, VaultError};

/// The KV v2 calls a rotation makes, on one mount.
pub trait Store {
    fn read_field(&self, path: &str, field: &str) -> Result<Secret, VaultError>;
    /// The field as version `version` holds it, whatever version is current.
    fn read_field_at(&self, path: &str, field: &str, version: u64) -> Result<Secret, VaultError>;
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
    fn read_field_at(&self, path: &str, field: &str, version: u64) -> Result<Secret, VaultError> {
        self.client.read_field_at(self.mount, path, field, version)
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
    /// The key of keyed (HMAC) fingerprints, when one is configured.
    pub fingerprint_key: Option<&'a [u8]>,
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
        fingerprint_key,
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

    let meta = store.read_metadata(path).map_err(|e| e.to_string())?;
    let cas = expect_version.unwrap_or(meta.current_version);
    let replaced = replaced_entries(store, path, field, &meta, &keys, fingerprint_key, now);
    let new_fingerprint = value_fingerprint(value.expose_bytes(), fingerprint_key);
    let new_fp = new_fingerprint.clone();
    let mut fixed = BTreeMap::from([
        (keys.minted_at.to_string(), minted_at.to_string()),
        (recorded::ROTATED_BY_KEY.to_string(), rotated_by),
        (recorded::FINGERPRINT_KEY.to_string(), new_fingerprint),
        // The version this write creates if check-and-set lets it through.
        (recorded::VERSION_KEY.to_string(), (cas + 1).to_string()),
    ]);
    if let Some(spare) = &promoted_from {
        fixed.insert(recorded::PROMOTED_FROM_KEY.into(), spare.clone());
    }
    let mut custom = match recorded::patch(&meta.custom_metadata, fixed, replaced) {
        Ok(custom) => custom,
        Err(e) => {
            return Ok(Outcome::Refused(format!(
                "cannot record the rotation of `{mount}/{path}`: {e}; nothing was written"
            )));
        }
    };
    let fields = BTreeMap::from([(field.to_string(), value)]);
    let version = match store.write_cas(path, &fields, cas) {
        Ok(v) => v,
        Err(e @ VaultError::Cas { .. }) => {
            return Ok(Outcome::Refused(format!(
                "{e}; nothing was written. Check who rotated it (`credwatch check`) and retry."
            )));
        }
        // The request may have reached Vault and only its answer been lost: look before saying
        // that nothing was written.
        Err(e @ (VaultError::Unreachable { .. } | VaultError::Timeout { .. })) => {
            let lost = LostAnswer {
                error: &e,
                name,
                mount,
                path,
                field,
                cas,
                minted_at,
                new_fingerprint: &new_fp,
                fingerprint_key,
            };
            return Ok(after_lost_answer(store, &lost));
        }
        Err(e) => return Ok(Outcome::Refused(format!("{e}; nothing was written"))),
    };
    custom.insert(recorded::VERSION_KEY.to_string(), version.to_string());
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

/// A write whose answer was lost, and what is needed to find out whether it landed.
struct LostAnswer<'a> {
    error: &'a VaultError,
    name: &'a str,
    mount: &'a str,
    path: &'a str,
    field: &'a str,
    /// The version the write was checked against.
    cas: u64,
    minted_at: Timestamp,
    new_fingerprint: &'a str,
    fingerprint_key: Option<&'a [u8]>,
}

/// What to tell the operator when a write's answer was lost: read the metadata back; if the
/// version did not move, nothing was written; if it did, compare the value of version `cas + 1`
/// (the only version a check-and-set write against `cas` can have made) with the new one by
/// fingerprint: the write landed and only the mint time is missing (which `credwatch record`
/// completes, unless another writer has since stored a newer version), or another writer got
/// there first. That version is read by its number, so no other writer's version, before or after
/// the metadata was read, is taken for this write.
fn after_lost_answer(store: &dyn Store, lost: &LostAnswer<'_>) -> Outcome {
    let LostAnswer {
        error,
        name,
        mount,
        path,
        field,
        cas,
        minted_at,
        new_fingerprint,
        fingerprint_key,
    } = *lost;
    let record = format!("`credwatch record {name} --minted-at {minted_at}`");
    let meta = match store.read_metadata(path) {
        Ok(meta) => meta,
        Err(read) => {
            return Outcome::Incomplete(format!(
                "{error}; whether the write landed is unknown (reading the metadata back failed: {read}): \
                 check `credwatch check`; if `{mount}/{path}` moved past version {cas} and holds the new \
                 value (fingerprint {new_fingerprint}), run {record}"
            ));
        }
    };
    let now = meta.current_version;
    if now == cas {
        return Outcome::Refused(format!(
            "{error}; Vault is still at version {cas} of `{mount}/{path}`: nothing was written. Retry."
        ));
    }
    let ours = cas + 1;
    let stored = store
        .read_field_at(path, field, ours)
        .map(|v| value_fingerprint(v.expose_bytes(), fingerprint_key));
    Outcome::Incomplete(match stored {
        Ok(fp) if fp == new_fingerprint && now == ours => format!(
            "{error}; the answer was lost, but the write landed: `{mount}/{path}` moved from version \
             {cas} to {now}, which holds the new value (fingerprint {new_fingerprint}); its mint time \
             is not recorded yet: run {record}"
        ),
        Ok(fp) if fp == new_fingerprint => format!(
            "{error}; the answer was lost, but the write landed as version {ours} of `{mount}/{path}` \
             (the new value, fingerprint {new_fingerprint}), and another writer has since moved it to \
             version {now}: check who (`credwatch check`); its mint time is not recorded, and \
             `credwatch record` would record it on version {now}"
        ),
        Ok(fp) => format!(
            "{error}; `{mount}/{path}` moved from version {cas} to {now}, but version {ours} holds \
             another value (fingerprint {fp}, not the new value's {new_fingerprint}): another writer \
             changed it. Check who (`credwatch check`) and retry with `--expect-version {now}`"
        ),
        Err(read) => format!(
            "{error}; the answer was lost, but the request reached Vault: `{mount}/{path}` moved from \
             version {cas} to {now}, most likely this write (reading version {ours} back to compare its \
             fingerprint with the new value's, {new_fingerprint}, failed: {read}); its mint time is \
             not recorded yet: run {record}"
        ),
    })
}

/// `credwatch record`: the mint time of the value stored now, as a patch of custom_metadata.
pub struct RecordRequest<'a> {
    pub mount: &'a str,
    pub path: &'a str,
    /// The field holding the value, to fingerprint it where it is readable.
    pub field: Option<&'a str>,
    pub minted_at: Timestamp,
    pub minted_at_key: &'a str,
    pub recorded_by: String,
    pub fingerprint_key: Option<&'a [u8]>,
}

/// What `record` recorded.
#[derive(Debug, PartialEq, Eq)]
pub struct Recorded {
    pub version: u64,
    /// `None` when the value could not be read; the reason is in `unread`.
    pub fingerprint: Option<String>,
    pub unread: Option<String>,
}

/// Records the mint time (and, where the value is readable, the fingerprint) of the version
/// stored now, as a merge patch that keeps every other key. An unreadable value is recorded as
/// an empty fingerprint, so an older one is never taken for the current value's.
pub fn record(store: &dyn Store, request: RecordRequest<'_>) -> Result<Recorded, String> {
    let RecordRequest {
        mount,
        path,
        field,
        minted_at,
        minted_at_key,
        recorded_by,
        fingerprint_key,
    } = request;
    let meta = store.read_metadata(path).map_err(|e| e.to_string())?;
    if meta.current_version == 0 {
        return Err(format!(
            "`{mount}/{path}` holds no version yet: store a value with `credwatch rotate`"
        ));
    }
    let (fingerprint_now, unread) = match field {
        None => (
            None,
            Some("the credential names no `vault.field`".to_string()),
        ),
        Some(field) => match store.read_field(path, field) {
            Ok(value) => (
                Some(value_fingerprint(value.expose_bytes(), fingerprint_key)),
                None,
            ),
            Err(e) => (None, Some(e.to_string())),
        },
    };
    let minted_at = Timestamp::from_second(minted_at.as_second()).unwrap_or(minted_at);
    let fixed = BTreeMap::from([
        (minted_at_key.to_string(), minted_at.to_string()),
        (recorded::RECORDED_BY_KEY.to_string(), recorded_by),
        (
            recorded::FINGERPRINT_KEY.to_string(),
            fingerprint_now.clone().unwrap_or_default(),
        ),
        (
            recorded::VERSION_KEY.to_string(),
            meta.current_version.to_string(),
        ),
    ]);
    let custom = recorded::patch(&meta.custom_metadata, fixed, Vec::new())
        .map_err(|e| format!("cannot record `{mount}/{path}`: {e}"))?;
    store
        .patch_custom_metadata(path, &custom)
        .map_err(|e| e.to_string())?;
    Ok(Recorded {
        version: meta.current_version,
        fingerprint: fingerprint_now,
        unread,
    })
}

/// The values the store held before a rotation, as history entries, the newest first. The
/// current value: its recorded fingerprint when credwatch recorded this very version, else the
/// value's fingerprint if it can be read (a value changed by hand, or never recorded); its
/// lifetime as the metadata states it (a version newer than the recorded one counts from its
/// `created_time`). When the value was changed outside credwatch, the value credwatch recorded
/// before that change comes next (consumers may still hold it), replaced when the newer version
/// was created. Empty when the secret has no version yet.
fn replaced_entries(
    store: &dyn Store,
    path: &str,
    field: &str,
    meta: &Metadata,
    keys: &MetadataKeys<'_>,
    fingerprint_key: Option<&[u8]>,
    now: Timestamp,
) -> Vec<recorded::Entry> {
    if meta.current_version == 0 {
        return Vec::new();
    }
    let was = recorded::parse(&meta.custom_metadata);
    let fingerprint_of_current = match (was.version, was.fingerprint) {
        (Some(v), Some(fp)) if v == meta.current_version => Some(fp),
        _ => match store.read_field(path, field) {
            Ok(value) => Some(value_fingerprint(value.expose_bytes(), fingerprint_key)),
            Err(e) => {
                log::warn!(
                    "cannot read the value being replaced to fingerprint it ({e}); its history entry has no fingerprint"
                );
                None
            }
        },
    };
    let lifetime = from_metadata(meta, keys, now).ok();
    let current = recorded::Entry {
        version: meta.current_version,
        fingerprint: fingerprint_of_current,
        minted_at: lifetime.as_ref().and_then(|e| e.minted_at),
        expires_at: lifetime.and_then(|e| e.expires_at),
        replaced_at: Some(Timestamp::from_second(now.as_second()).unwrap_or(now)),
    };
    let before = recorded_before_change(meta, keys).filter(|e| e.fingerprint.is_some());
    std::iter::once(current).chain(before).collect()
}

/// `rotated_by`: the operator's login name when known.
pub fn rotated_by(user: Option<String>) -> String {
    user.filter(|u| !u.is_empty())
        .map_or_else(|| "credwatch".into(), |u| format!("{u} via credwatch"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::fingerprint::fingerprint;
    use std::cell::RefCell;

    /// An in-memory KV v2 secret store: versions per path, custom metadata, and faults on demand.
    #[derive(Default)]
    struct Fake {
        fields: RefCell<BTreeMap<String, BTreeMap<String, String>>>,
        /// The fields each version holds: `(path, version)` → fields.
        history: RefCell<BTreeMap<(String, u64), BTreeMap<String, String>>>,
        versions: RefCell<BTreeMap<String, u64>>,
        custom: RefCell<BTreeMap<String, BTreeMap<String, String>>>,
        /// A concurrent writer bumps the version between our read and our write.
        race: bool,
        metadata_fails: bool,
        /// The write lands (or, with `lands: false`, does not), then the connection breaks.
        lost_answer: Option<bool>,
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
            let now = self.fields.borrow()[path].clone();
            self.history
                .borrow_mut()
                .insert((path.into(), version), now);
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
        fn read_field_at(
            &self,
            path: &str,
            field: &str,
            version: u64,
        ) -> Result<Secret, VaultError> {
            self.calls
                .borrow_mut()
                .push(format!("read {path} version {version}"));
            self.history
                .borrow()
                .get(&(path.to_string(), version))
                .and_then(|f| f.get(field))
                .map(|v| Secret::new(v.clone()))
                .ok_or_else(|| {
                    VaultError::Config(format!(
                        "no field `{field}` in version {version} of `{path}`"
                    ))
                })
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
            if self.lost_answer != Some(false) {
                for (k, v) in fields {
                    let text = String::from_utf8(v.expose_bytes().to_vec()).unwrap();
                    self.put(path, k, &text, current + 1);
                }
            }
            if self.lost_answer.is_some() {
                return Err(VaultError::Unreachable {
                    op: format!("write `{path}`"),
                    detail: "connection reset by peer".into(),
                });
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

    /// A token of the same shape as [`TOKEN`], of another letter.
    fn claude_like(c: char) -> String {
        TOKEN.replace('A', &c.to_string())
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
            fingerprint_key: None,
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
            // The replaced value is read once, to fingerprint it for the history.
            [
                "metadata agent",
                "read agent",
                "write agent cas=3",
                "patch agent"
            ]
        );
    }

    #[test]
    fn a_rotation_records_the_fingerprint_and_version_and_keeps_the_replaced_one_in_history() {
        let key: &[u8] = b"a long random fingerprint key";
        let fp = |v: &str| fingerprint(v.as_bytes(), Some(key));
        let fake = Fake::with("agent", "oauth_token", "old", 3);
        fake.custom.borrow_mut().insert(
            "agent".into(),
            BTreeMap::from([
                ("minted_at".into(), "2026-01-01T00:00:00Z".into()),
                ("owner".into(), "platform".into()),
            ]),
        );
        let second = claude_like('B');
        for (value, now) in [
            (TOKEN, "2026-12-01T10:00:00Z"),
            (second.as_str(), "2026-12-02T10:00:00Z"),
        ] {
            let mut req = request(given(value), None);
            req.fingerprint_key = Some(key);
            req.now = at(now);
            assert!(matches!(
                rotate(&fake, req).unwrap(),
                Outcome::Written { .. }
            ));
        }
        let custom = fake.custom.borrow()["agent"].clone();
        assert_eq!(custom["owner"], "platform");
        assert_eq!(custom["fingerprint"], fp(&second));
        assert_eq!(custom["recorded_version"], "5");
        let history = recorded::parse(&custom).history;
        assert_eq!(
            history,
            [
                recorded::Entry {
                    version: 4,
                    fingerprint: Some(fp(TOKEN)),
                    minted_at: Some(at("2026-12-01T10:00:00Z")),
                    expires_at: Some(at("2027-12-01T10:00:00Z")),
                    replaced_at: Some(at("2026-12-02T10:00:00Z")),
                },
                recorded::Entry {
                    version: 3,
                    fingerprint: Some(fp("old")),
                    minted_at: Some(at("2026-01-01T00:00:00Z")),
                    expires_at: Some(at("2027-01-01T00:00:00Z")),
                    replaced_at: Some(at("2026-12-01T10:00:00Z")),
                },
            ]
        );
        // The second rotation knew version 4's fingerprint: it did not read the value again.
        let reads = fake
            .calls
            .borrow()
            .iter()
            .filter(|c| c.starts_with("read"))
            .count();
        assert_eq!(reads, 1);
        for value in custom.values() {
            for secret in [TOKEN, second.as_str()] {
                assert!(!value.contains(&secret[13..40]), "{value}");
            }
        }
    }

    #[test]
    fn a_value_changed_by_hand_is_fingerprinted_from_the_store_and_dated_by_its_version() {
        let fake = Fake::with("agent", "oauth_token", "old", 1);
        rotate(&fake, request(given(TOKEN), None)).unwrap();
        // Someone patches the value by hand: version 3, not recorded.
        fake.put("agent", "oauth_token", "by-hand", 3);
        let mut req = request(given(&claude_like('C')), None);
        req.now = at("2026-12-05T00:00:00Z");
        rotate(&fake, req).unwrap();
        let history = recorded::parse(&fake.custom.borrow()["agent"]).history;
        assert_eq!(history[0].version, 3);
        assert_eq!(history[0].fingerprint, Some(fingerprint(b"by-hand", None)));
        // The fake's versions were created 2026-01-01: the assumed mint time.
        assert_eq!(history[0].minted_at, Some(at("2026-01-01T00:00:00Z")));
        // Version 2, which credwatch wrote and the hand change replaced, is kept too: a consumer
        // may still hold it.
        assert_eq!(history[1].version, 2);
        assert_eq!(
            history[1].fingerprint,
            Some(fingerprint(TOKEN.as_bytes(), None))
        );
        assert_eq!(history[1].replaced_at, Some(at("2026-01-01T00:00:00Z")));
        assert_eq!(history[1].expires_at, Some(at("2027-12-01T10:00:00Z")));
        assert_eq!(history[2].version, 1);
    }

    #[test]
    fn record_keeps_the_other_keys_and_fingerprints_what_is_stored() {
        let fake = Fake::with("agent", "oauth_token", TOKEN, 4);
        fake.custom.borrow_mut().insert(
            "agent".into(),
            BTreeMap::from([("owner".into(), "platform".into())]),
        );
        let request = |field| RecordRequest {
            mount: "secret",
            path: "agent",
            field,
            minted_at: at("2026-04-18T16:07:09.9Z"),
            minted_at_key: "minted_at",
            recorded_by: rotated_by(Some("ops".into())),
            fingerprint_key: None,
        };
        let done = record(&fake, request(Some("oauth_token"))).unwrap();
        assert_eq!(done.version, 4);
        assert_eq!(done.fingerprint, Some(fingerprint(TOKEN.as_bytes(), None)));
        let custom = fake.custom.borrow()["agent"].clone();
        assert_eq!(custom["owner"], "platform");
        assert_eq!(custom["minted_at"], "2026-04-18T16:07:09Z");
        assert_eq!(custom["recorded_version"], "4");
        assert_eq!(custom["recorded_by"], "ops via credwatch");
        // An unreadable value: an empty fingerprint, never a stale one.
        let done = record(&fake, request(Some("missing"))).unwrap();
        assert_eq!(done.fingerprint, None);
        assert!(done.unread.unwrap().contains("no field `missing`"));
        assert_eq!(fake.custom.borrow()["agent"]["fingerprint"], "");
        assert_eq!(
            recorded::parse(&fake.custom.borrow()["agent"]).fingerprint,
            None
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
    fn a_lost_answer_is_checked_against_the_version_before_saying_anything() {
        // The write landed, the answer did not: the operator is told, with the command.
        let landed = Fake {
            lost_answer: Some(true),
            ..Fake::with("agent", "oauth_token", "old", 1)
        };
        let Outcome::Incomplete(message) = rotate(&landed, request(given(TOKEN), None)).unwrap()
        else {
            panic!()
        };
        assert!(message.contains("moved from version 1 to 2"), "{message}");
        assert!(
            message.contains("run `credwatch record primary --minted-at 2026-12-01T10:00:00Z`"),
            "{message}"
        );
        assert!(!message.contains("nothing was written"), "{message}");
        assert!(!message.contains(&TOKEN[13..40]), "{message}");

        assert!(message.contains("which holds the new value"), "{message}");

        // Another writer's value at the new version: not called this write.
        struct AnotherWriter(Fake);
        impl Store for AnotherWriter {
            fn read_field(&self, path: &str, field: &str) -> Result<Secret, VaultError> {
                self.0.read_field(path, field)
            }
            fn read_field_at(
                &self,
                path: &str,
                field: &str,
                version: u64,
            ) -> Result<Secret, VaultError> {
                self.0.read_field_at(path, field, version)
            }
            fn read_metadata(&self, path: &str) -> Result<Metadata, VaultError> {
                self.0.read_metadata(path)
            }
            fn write_cas(
                &self,
                path: &str,
                _fields: &BTreeMap<String, Secret>,
                cas: u64,
            ) -> Result<u64, VaultError> {
                self.0.put(path, "oauth_token", "someone-elses", cas + 1);
                Err(VaultError::Unreachable {
                    op: format!("write `{path}`"),
                    detail: "connection reset by peer".into(),
                })
            }
            fn patch_custom_metadata(
                &self,
                path: &str,
                entries: &BTreeMap<String, String>,
            ) -> Result<(), VaultError> {
                self.0.patch_custom_metadata(path, entries)
            }
        }
        let theirs = AnotherWriter(Fake::with("agent", "oauth_token", "old", 1));
        let Outcome::Incomplete(message) = rotate(&theirs, request(given(TOKEN), None)).unwrap()
        else {
            panic!()
        };
        assert!(message.contains("holds another value"), "{message}");
        assert!(message.contains("--expect-version 2"), "{message}");
        assert!(!message.contains("someone-elses"), "{message}");

        // Nothing landed: said so, after looking.
        let lost = Fake {
            lost_answer: Some(false),
            ..Fake::with("agent", "oauth_token", "old", 1)
        };
        let Outcome::Refused(message) = rotate(&lost, request(given(TOKEN), None)).unwrap() else {
            panic!()
        };
        assert!(message.contains("still at version 1"), "{message}");
        assert!(message.contains("nothing was written"), "{message}");
        assert_eq!(lost.fields.borrow()["agent"]["oauth_token"], "old");
    }

    /// The write landed as version 2 and its answer was lost; a third writer stores version 3
    /// just after the metadata was read back (which named version 2). Version 2 is compared,
    /// not what is current by then.
    #[test]
    fn a_lost_answer_is_checked_against_the_version_the_write_made() {
        struct ThirdWriter {
            fake: Fake,
            metadata_reads: std::cell::Cell<u32>,
            /// Whether the other writer comes before the metadata is read back, or after.
            before_read_back: bool,
        }
        impl Store for ThirdWriter {
            fn read_field(&self, path: &str, field: &str) -> Result<Secret, VaultError> {
                self.fake.read_field(path, field)
            }
            fn read_field_at(
                &self,
                path: &str,
                field: &str,
                version: u64,
            ) -> Result<Secret, VaultError> {
                self.fake.read_field_at(path, field, version)
            }
            fn read_metadata(&self, path: &str) -> Result<Metadata, VaultError> {
                self.metadata_reads.set(self.metadata_reads.get() + 1);
                // The second read is the one after the lost answer.
                let other_writer = || {
                    let version = self.fake.versions.borrow()[path];
                    self.fake
                        .put(path, "oauth_token", "someone-elses", version + 1);
                };
                let second = self.metadata_reads.get() == 2;
                if second && self.before_read_back {
                    other_writer();
                }
                let meta = self.fake.read_metadata(path);
                if second && !self.before_read_back {
                    other_writer();
                }
                meta
            }
            fn write_cas(
                &self,
                path: &str,
                fields: &BTreeMap<String, Secret>,
                cas: u64,
            ) -> Result<u64, VaultError> {
                self.fake.write_cas(path, fields, cas)
            }
            fn patch_custom_metadata(
                &self,
                path: &str,
                entries: &BTreeMap<String, String>,
            ) -> Result<(), VaultError> {
                self.fake.patch_custom_metadata(path, entries)
            }
        }
        for (before_read_back, said) in [
            (
                false,
                "the write landed: `secret/agent` moved from version 1 to 2, which holds the new value",
            ),
            (
                true,
                "the write landed as version 2 of `secret/agent` (the new value, fingerprint",
            ),
        ] {
            let store = ThirdWriter {
                fake: Fake {
                    lost_answer: Some(true),
                    ..Fake::with("agent", "oauth_token", "old", 1)
                },
                metadata_reads: std::cell::Cell::new(0),
                before_read_back,
            };
            let Outcome::Incomplete(message) = rotate(&store, request(given(TOKEN), None)).unwrap()
            else {
                panic!()
            };
            assert!(message.contains(said), "{message}");
            assert!(!message.contains("another value"), "{message}");
            if before_read_back {
                assert!(
                    message.contains("another writer has since moved it to version 3"),
                    "{message}"
                );
                assert!(!message.contains("run `credwatch record"), "{message}");
            }
            assert_eq!(
                store.fake.fields.borrow()["agent"]["oauth_token"],
                "someone-elses"
            );
            assert_eq!(
                store.fake.calls.borrow().last().map(String::as_str),
                Some("read agent version 2")
            );
        }
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
        assert_eq!(fake.calls.borrow()[2], "write agent cas=1");
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
