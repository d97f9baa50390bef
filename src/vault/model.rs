//! The shapes of KV v2 answers and their pure parsers: secret metadata, LIST pages, one field of
//! a data read, write and login results, error bodies.
//!
//! Metadata answers (small and bounded, one per secret of a scan) are parsed from the buffered
//! body; the other parsers read from any [`std::io::Read`] (the client streams those bodies
//! through them) and have a byte-slice twin for tests. Parsers of data reads never put a value
//! into an error message.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::time::Duration;

use jiff::Timestamp;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::credential::Secret;

/// What KV v2 keeps about a secret besides its values (`GET /v1/<mount>/metadata/<path>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    pub created_time: Timestamp,
    pub updated_time: Timestamp,
    /// The version a data read returns; `0` when no version was ever written.
    pub current_version: u64,
    /// The oldest version still kept (older ones were pruned by `max_versions`).
    pub oldest_version: u64,
    /// Operator-set string pairs; the server sends `null` when there are none, kept here as empty.
    pub custom_metadata: BTreeMap<String, String>,
    pub versions: BTreeMap<u64, VersionMeta>,
}

/// One version of a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionMeta {
    pub created_time: Timestamp,
    /// When the version is (or was) soft-deleted; the server sends `""` for none. It may lie in
    /// the future when `delete_version_after` is set.
    pub deletion_time: Option<Timestamp>,
    /// The version's data is gone for good (`POST /v1/<mount>/destroy/<path>`).
    pub destroyed: bool,
}

/// Whether a version can be read at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionState {
    /// Readable.
    Live,
    /// Soft-deleted at this time (in the past of the `now` asked about); can be undeleted.
    Deleted(Timestamp),
    /// Destroyed; its data is gone.
    Destroyed,
    /// The metadata lists no such version (none written yet, or pruned).
    Missing,
}

impl VersionMeta {
    /// The version's state at `now`: a deletion time after `now` is only scheduled.
    pub fn state(&self, now: Timestamp) -> VersionState {
        match self.deletion_time {
            _ if self.destroyed => VersionState::Destroyed,
            Some(at) if at <= now => VersionState::Deleted(at),
            _ => VersionState::Live,
        }
    }
}

impl Metadata {
    /// The metadata of the current version, if the server lists it.
    pub fn current(&self) -> Option<&VersionMeta> {
        self.versions.get(&self.current_version)
    }

    /// The state of the current version at `now` (pure: `now` is passed in).
    pub fn current_state(&self, now: Timestamp) -> VersionState {
        self.current()
            .map_or(VersionState::Missing, |v| v.state(now))
    }

    /// The current version was soft-deleted at or before `now` (and is not destroyed).
    pub fn current_is_deleted(&self, now: Timestamp) -> bool {
        matches!(self.current_state(now), VersionState::Deleted(_))
    }

    /// The current version was destroyed.
    pub fn current_is_destroyed(&self) -> bool {
        self.current().is_some_and(|v| v.destroyed)
    }
}

/// What a scan keeps of one secret's metadata: the current version, the last update and the few
/// custom_metadata keys the caller asked for, and nothing else (no maps). A scan holds one per
/// secret until its report is made, so this is what its memory grows with; [`Metadata`] keeps
/// everything, for the callers that read one secret (rotation, `record`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub updated_time: Timestamp,
    /// As in [`Metadata::current_version`].
    pub current_version: u64,
    /// The current version's metadata, if the server lists it.
    pub current: Option<VersionMeta>,
    /// The custom_metadata pairs that were asked for (usually one or two), in no order.
    pub custom: Vec<(Box<str>, Box<str>)>,
}

impl Summary {
    /// The value of a kept custom_metadata key.
    pub fn custom(&self, key: &str) -> Option<&str> {
        self.custom
            .iter()
            .find(|(k, _)| &**k == key)
            .map(|(_, v)| &**v)
    }
}

/// Parses a metadata answer (the whole body, `{"data": {...}}`). The client reads the bounded
/// body (about 600 bytes) into a buffer first: parsing from a slice lets the times and version
/// numbers be borrowed instead of copied, and is several times faster than through a reader.
pub fn parse_metadata(body: &[u8]) -> Result<Metadata, String> {
    let mut raw = RawMetadata::parse(body)?;
    let mut versions = BTreeMap::new();
    for v in raw.versions() {
        let (n, meta) = v?;
        versions.insert(n, meta);
    }
    Ok(Metadata {
        created_time: time(&raw.created_time.0, "created_time")?,
        updated_time: time(&raw.updated_time.0, "updated_time")?,
        current_version: raw.current_version,
        oldest_version: raw.oldest_version,
        // Pairs in the answer's order: a repeated key keeps its last value, as a map would.
        custom_metadata: raw
            .custom_metadata
            .into_iter()
            .flat_map(|pairs| pairs.0)
            .map(|(k, v)| (k.0.into_owned(), v.0.into_owned()))
            .collect(),
        versions,
    })
}

/// Parses a metadata answer as [`parse_metadata`] does (the same checks, the same errors) into
/// a [`Summary`] that keeps the custom_metadata keys `keep` accepts. Nothing it drops is copied
/// out of the body.
pub fn parse_summary(body: &[u8], keep: &dyn Fn(&str) -> bool) -> Result<Summary, String> {
    summarize(RawMetadata::parse(body)?, keep)
}

fn summarize(mut raw: RawMetadata, keep: &dyn Fn(&str) -> bool) -> Result<Summary, String> {
    let mut current = None;
    for v in raw.versions() {
        let (n, meta) = v?;
        if n == raw.current_version {
            current = Some(meta);
        }
    }
    time(&raw.created_time.0, "created_time")?;
    let mut custom: Vec<(Box<str>, Box<str>)> = Vec::new();
    for (k, v) in raw.custom_metadata.into_iter().flat_map(|pairs| pairs.0) {
        if !keep(&k.0) {
            continue;
        }
        let value: Box<str> = v.0.into();
        match custom.iter_mut().find(|(kept, _)| **kept == *k.0) {
            Some(pair) => pair.1 = value,
            None => custom.push((k.0.into(), value)),
        }
    }
    // Held until the scan's end: no room for pairs that will never come.
    custom.shrink_to_fit();
    Ok(Summary {
        updated_time: time(&raw.updated_time.0, "updated_time")?,
        current_version: raw.current_version,
        current,
        custom,
    })
}

/// A metadata answer as sent, its strings borrowed from the body where they hold no escapes.
#[derive(Deserialize)]
struct RawMetadata<'a> {
    #[serde(borrow)]
    created_time: Text<'a>,
    #[serde(borrow)]
    updated_time: Text<'a>,
    current_version: u64,
    #[serde(default)]
    oldest_version: u64,
    #[serde(default, borrow)]
    custom_metadata: Option<Pairs<'a>>,
    #[serde(default, borrow)]
    versions: Option<Pairs<'a, RawVersion<'a>>>,
}

#[derive(Deserialize)]
struct RawVersion<'a> {
    #[serde(borrow)]
    created_time: Text<'a>,
    #[serde(default, borrow)]
    deletion_time: Option<Text<'a>>,
    #[serde(default)]
    destroyed: bool,
}

impl<'a> RawMetadata<'a> {
    fn parse(body: &'a [u8]) -> Result<RawMetadata<'a>, String> {
        #[derive(Deserialize)]
        struct Envelope<'a> {
            #[serde(borrow)]
            data: Option<RawMetadata<'a>>,
        }
        let envelope: Envelope = serde_json::from_slice(body).map_err(describe_json)?;
        envelope
            .data
            .ok_or_else(|| "the answer has no `data` object".to_string())
    }

    /// The versions, checked and converted, by number as text (the order of the map the
    /// answer was once parsed into, so errors come in that order); of a repeated number only the
    /// last, as that map kept.
    fn versions(&mut self) -> impl Iterator<Item = Result<(u64, VersionMeta), String>> + 'a {
        let mut all = self.versions.take().map_or_else(Vec::new, |p| p.0);
        // Stable, and without allocating for the few versions a secret keeps (the server sends
        // them sorted already).
        all.sort_by(|a, b| a.0.cmp(&b.0));
        let mut all = all.into_iter().peekable();
        std::iter::from_fn(move || {
            loop {
                let (number, v) = all.next()?;
                if all.peek().is_some_and(|next| next.0 == number) {
                    continue;
                }
                return Some(version(&number, &v));
            }
        })
    }
}

fn version(number: &Text, v: &RawVersion) -> Result<(u64, VersionMeta), String> {
    let n: u64 = number
        .0
        .parse()
        .map_err(|_| format!("version key `{}` is not a number", number.0))?;
    let deletion_time = match v.deletion_time.as_ref().map(|t| &*t.0) {
        None | Some("") => None,
        Some(t) => Some(time(t, "deletion_time")?),
    };
    Ok((
        n,
        VersionMeta {
            created_time: time(&v.created_time.0, "created_time")?,
            deletion_time,
            destroyed: v.destroyed,
        },
    ))
}

/// A JSON object's entries in order, repeated keys included; values of type `V`.
struct Pairs<'a, V = Text<'a>>(Vec<(Text<'a>, V)>);

impl<'de: 'a, 'a, V: Deserialize<'de>> Deserialize<'de> for Pairs<'a, V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Of<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for Of<V> {
            type Value = Pairs<'de, V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut pairs = Vec::new();
                while let Some(pair) = map.next_entry()? {
                    pairs.push(pair);
                }
                Ok(Pairs(pairs))
            }
        }
        d.deserialize_map(Of(std::marker::PhantomData))
    }
}

/// A JSON string borrowed from the answer when it holds no escapes, copied when it does.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Of;
        impl<'de> Visitor<'de> for Of {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(Of)
    }
}

fn time(text: &str, field: &str) -> Result<Timestamp, String> {
    text.parse()
        .map_err(|_| format!("`{field}` is not an RFC 3339 time: `{text}`"))
}

/// Describes a JSON error of a non-secret answer (serde's text may quote the offending value).
fn describe_json(e: serde_json::Error) -> String {
    format!("not the expected JSON: {e}")
}

/// Describes a JSON error of an answer that may hold secrets: position only, never content.
pub(crate) fn describe_json_blind(e: &serde_json::Error) -> String {
    let what = match e.classify() {
        serde_json::error::Category::Io => "the answer was cut off",
        serde_json::error::Category::Eof => "the answer ends early",
        serde_json::error::Category::Syntax => "the answer is not JSON",
        serde_json::error::Category::Data => "the answer is not of the expected shape",
    };
    format!("{what} (line {}, column {})", e.line(), e.column())
}

/// Parses one LIST page (`{"data": {"keys": [...]}}`); folders end in `/`. Keys are returned
/// as the server sent them, odd ones included.
pub fn parse_list(body: &[u8]) -> Result<Vec<String>, String> {
    read_list(body, usize::MAX)
}

/// [`parse_list`] from a reader, stopping as soon as the page holds more than `max_keys` keys
/// (counted while reading, so a huge page of tiny keys is refused before it fills memory).
pub(crate) fn read_list(reader: impl Read, max_keys: usize) -> Result<Vec<String>, String> {
    let mut de = serde_json::Deserializer::from_reader(reader);
    let keys = read_page(&mut de, ListData(max_keys))?;
    // Odd keys (empty, absolute, `..`) are kept: the caller reports each one alone and never
    // follows it, so the good keys next to it are still read.
    keys.ok_or_else(|| "the answer has no `data` object".to_string())
}

pub(crate) const TOO_MANY: &str = "the listing holds more than";

/// One key of a detailed LIST page and, for a secret, its metadata as a [`Summary`]. `None` for
/// a folder, and for a secret whose entry is missing or not metadata as a read of it would
/// answer: the caller then reads that secret's metadata itself, so the listing never decides
/// alone that a secret is broken.
pub(crate) type DetailedKey = (String, Option<Summary>);

/// Parses one page of OpenBao's detailed LIST (`LIST <mount>/detailed-metadata/<folder>`):
/// `data.keys` as [`parse_list`] reads them, each secret's metadata from `data.key_info`, of
/// which [`parse_summary`] keeps what `keep` accepts. More than `max_keys` keys or entries is
/// refused, as in [`read_list`].
pub(crate) fn parse_detailed_list(
    body: &[u8],
    max_keys: usize,
    keep: &dyn Fn(&str) -> bool,
) -> Result<Vec<DetailedKey>, String> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let page = read_page(&mut de, DetailedData(max_keys))?;
    let (keys, info) = page.ok_or_else(|| "the answer has no `data` object".to_string())?;
    let info: std::collections::HashMap<&str, &RawValue> =
        info.iter().map(|(k, v)| (&*k.0, *v)).collect();
    Ok(keys
        .into_iter()
        .map(|key| {
            let summary = match info.get(key.as_str()) {
                Some(raw) if !key.ends_with('/') => serde_json::from_str::<RawMetadata>(raw.get())
                    .ok()
                    .and_then(|m| summarize(m, keep).ok()),
                _ => None,
            };
            (key, summary)
        })
        .collect())
}

/// A LIST answer's `data` read by `seed` (`None` when missing or null), the whole answer
/// checked to its end; a page over the limit is said without serde's position.
fn read_page<'de, R, S>(
    de: &mut serde_json::Deserializer<R>,
    seed: S,
) -> Result<Option<S::Value>, String>
where
    R: serde_json::de::Read<'de>,
    S: DeserializeSeed<'de> + Clone,
{
    InData(seed)
        .deserialize(&mut *de)
        .and_then(|page| de.end().map(|()| page))
        .map_err(|e| match e.to_string() {
            m if m.starts_with(TOO_MANY) => m.split(" at line").next().unwrap_or(&m).to_string(),
            _ => describe_json(e),
        })
}

/// An answer's `data` object, read by the seed inside; every other member skipped. `None`
/// when `data` is missing or null; of a repeated `data`, the last, as a map would keep it.
struct InData<S>(S);

impl<'de, S: DeserializeSeed<'de> + Clone> DeserializeSeed<'de> for InData<S> {
    type Value = Option<S::Value>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, S: DeserializeSeed<'de> + Clone> Visitor<'de> for InData<S> {
    type Value = Option<S::Value>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a LIST answer")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<Text>()? {
            if key.0 == "data" {
                found = map.next_value_seed(Nullable(self.0.clone()))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// A value read by the seed inside, or `None` for JSON `null`.
struct Nullable<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Nullable<S> {
    type Value = Option<S::Value>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de, S: DeserializeSeed<'de>> Visitor<'de> for Nullable<S> {
    type Value = Option<S::Value>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a value or null")
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.0.deserialize(d).map(Some)
    }
}

/// A plain page's `data`: its `keys` (missing in an empty folder, or null), nothing else kept.
#[derive(Clone, Copy)]
struct ListData(usize);

impl<'de> DeserializeSeed<'de> for ListData {
    type Value = Vec<String>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ListData {
    type Value = Vec<String>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object with `keys`")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut keys = Vec::new();
        while let Some(key) = map.next_key::<Text>()? {
            if key.0 == "keys" {
                keys = map
                    .next_value_seed(Nullable(BoundedKeys(self.0)))?
                    .unwrap_or_default();
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(keys)
    }
}

/// What a detailed page holds: its keys and the metadata entries by key, in the answer's order.
type DetailedParts<'a> = (Vec<String>, Vec<(Text<'a>, &'a RawValue)>);

/// A detailed page's `data`: `keys` as in [`ListData`] and `key_info` (either may be missing or
/// null), nothing else kept.
#[derive(Clone, Copy)]
struct DetailedData(usize);

impl<'de> DeserializeSeed<'de> for DetailedData {
    type Value = DetailedParts<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for DetailedData {
    type Value = DetailedParts<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object with `keys` and `key_info`")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut keys, mut info) = (Vec::new(), Vec::new());
        while let Some(key) = map.next_key::<Text>()? {
            match &*key.0 {
                "keys" => {
                    keys = map
                        .next_value_seed(Nullable(BoundedKeys(self.0)))?
                        .unwrap_or_default()
                }
                "key_info" => {
                    info = map
                        .next_value_seed(Nullable(BoundedInfo(self.0)))?
                        .unwrap_or_default()
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok((keys, info))
    }
}

/// The error of a page with more than `max` keys or entries.
fn too_many<E: de::Error>(max: usize) -> E {
    E::custom(format!("{TOO_MANY} {max} keys (max_entries)"))
}

/// `keys`: at most `.0` strings.
struct BoundedKeys(usize);

impl<'de> DeserializeSeed<'de> for BoundedKeys {
    type Value = Vec<String>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for BoundedKeys {
    type Value = Vec<String>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of keys")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut keys = Vec::new();
        while let Some(key) = seq.next_element::<String>()? {
            if keys.len() == self.0 {
                return Err(too_many(self.0));
            }
            keys.push(key);
        }
        Ok(keys)
    }
}

/// `key_info`: at most `.0` entries, each kept as the raw JSON it is.
struct BoundedInfo(usize);

impl<'de> DeserializeSeed<'de> for BoundedInfo {
    type Value = Vec<(Text<'de>, &'de RawValue)>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for BoundedInfo {
    type Value = Vec<(Text<'de>, &'de RawValue)>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of metadata by key")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry()? {
            if entries.len() == self.0 {
                return Err(too_many(self.0));
            }
            entries.push(entry);
        }
        Ok(entries)
    }
}

/// What a data read held under `data.data.<field>`.
#[derive(Debug)]
pub enum FieldLookup {
    Found(Secret),
    /// The secret has data, but not this field.
    Missing,
    /// The answer carries no data (`data` or `data.data` is null).
    NoData,
    /// The field holds something other than a string: what it holds (`a number`, …).
    NotString(&'static str),
}

/// Finds one field of a data read (`{"data": {"data": {...}, "metadata": {...}}}`), skipping
/// every other value without keeping it. Errors carry a position, never content.
pub fn parse_field(body: &[u8], field: &str) -> Result<FieldLookup, String> {
    read_field(body, field)
}

pub(crate) fn read_field(reader: impl Read, field: &str) -> Result<FieldLookup, String> {
    let mut de = serde_json::Deserializer::from_reader(reader);
    let found = Top(field)
        .deserialize(&mut de)
        .and_then(|found| de.end().map(|()| found))
        .map_err(|e| describe_json_blind(&e))?;
    Ok(found)
}

/// The whole answer: `data` is the only key of interest.
struct Top<'a>(&'a str);
/// `data` of the answer: `data` (the fields) and `metadata`.
struct Outer<'a>(&'a str);
/// `data.data`: the fields.
struct Fields<'a>(&'a str);
/// One field's value.
struct Value;

impl<'de> DeserializeSeed<'de> for Top<'_> {
    type Value = FieldLookup;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<FieldLookup, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Top<'_> {
    type Value = FieldLookup;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a KV v2 data answer")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FieldLookup, A::Error> {
        let mut found = FieldLookup::NoData;
        while let Some(key) = map.next_key::<String>()? {
            if key == "data" {
                found = map.next_value_seed(Outer(self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

impl<'de> DeserializeSeed<'de> for Outer<'_> {
    type Value = FieldLookup;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<FieldLookup, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for Outer<'_> {
    type Value = FieldLookup;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object with `data` and `metadata`")
    }
    fn visit_none<E: de::Error>(self) -> Result<FieldLookup, E> {
        Ok(FieldLookup::NoData)
    }
    fn visit_unit<E: de::Error>(self) -> Result<FieldLookup, E> {
        Ok(FieldLookup::NoData)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<FieldLookup, D::Error> {
        d.deserialize_map(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FieldLookup, A::Error> {
        let mut found = FieldLookup::NoData;
        while let Some(key) = map.next_key::<String>()? {
            if key == "data" {
                found = map.next_value_seed(Fields(self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

impl<'de> DeserializeSeed<'de> for Fields<'_> {
    type Value = FieldLookup;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<FieldLookup, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for Fields<'_> {
    type Value = FieldLookup;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of fields")
    }
    fn visit_none<E: de::Error>(self) -> Result<FieldLookup, E> {
        Ok(FieldLookup::NoData)
    }
    fn visit_unit<E: de::Error>(self) -> Result<FieldLookup, E> {
        Ok(FieldLookup::NoData)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<FieldLookup, D::Error> {
        d.deserialize_map(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FieldLookup, A::Error> {
        let mut found = FieldLookup::Missing;
        while let Some(key) = map.next_key::<String>()? {
            if key == self.0 && matches!(found, FieldLookup::Missing) {
                found = map.next_value_seed(Value)?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

impl<'de> DeserializeSeed<'de> for Value {
    type Value = FieldLookup;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<FieldLookup, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Value {
    type Value = FieldLookup;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field value")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<FieldLookup, E> {
        Ok(FieldLookup::Found(Secret::new(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<FieldLookup, E> {
        Ok(FieldLookup::Found(Secret::new(v)))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<FieldLookup, E> {
        Ok(FieldLookup::NotString("a boolean"))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<FieldLookup, E> {
        Ok(FieldLookup::NotString("a number"))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<FieldLookup, E> {
        Ok(FieldLookup::NotString("a number"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<FieldLookup, E> {
        Ok(FieldLookup::NotString("a number"))
    }
    fn visit_unit<E: de::Error>(self) -> Result<FieldLookup, E> {
        Ok(FieldLookup::NotString("null"))
    }
    fn visit_none<E: de::Error>(self) -> Result<FieldLookup, E> {
        Ok(FieldLookup::NotString("null"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FieldLookup, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(FieldLookup::NotString("an array"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FieldLookup, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(FieldLookup::NotString("an object"))
    }
}

/// The new version a write created (`{"data": {"version": N, ...}}`).
pub(crate) fn read_written_version(reader: impl Read) -> Result<u64, String> {
    #[derive(Deserialize)]
    struct Envelope {
        data: Option<Written>,
    }
    #[derive(Deserialize)]
    struct Written {
        version: u64,
    }
    let envelope: Envelope =
        serde_json::from_reader(reader).map_err(|e| describe_json_blind(&e))?;
    envelope
        .data
        .map(|d| d.version)
        .ok_or_else(|| "the answer has no `data.version`".to_string())
}

/// The result of a login: the client token and what the server says about it.
#[derive(Debug)]
pub struct Login {
    pub token: Secret,
    pub info: LoginInfo,
}

/// What the server said about a token it issued at login (no secret in here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginInfo {
    /// The auth method used (`approle`, `jwt`, `kubernetes`).
    pub method: &'static str,
    pub policies: Vec<String>,
    /// How long the token lives unless renewed; zero for tokens that do not expire.
    pub lease_duration: Duration,
    pub renewable: bool,
}

/// Parses a login answer (`{"auth": {"client_token": …, "policies": […], …}}`).
pub(crate) fn read_login(reader: impl Read, method: &'static str) -> Result<Login, String> {
    #[derive(Deserialize)]
    struct Envelope {
        auth: Option<Auth>,
    }
    #[derive(Deserialize)]
    struct Auth {
        #[serde(deserialize_with = "secret")]
        client_token: Secret,
        #[serde(default)]
        policies: Option<Vec<String>>,
        #[serde(default)]
        lease_duration: u64,
        #[serde(default)]
        renewable: bool,
    }
    fn secret<'de, D: Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
    let envelope: Envelope =
        serde_json::from_reader(reader).map_err(|e| describe_json_blind(&e))?;
    let auth = envelope
        .auth
        .ok_or_else(|| "the login answer has no `auth` object".to_string())?;
    if auth.client_token.expose().is_empty() {
        return Err("the login answer holds an empty client token".into());
    }
    Ok(Login {
        token: auth.client_token,
        info: LoginInfo {
            method,
            policies: auth.policies.unwrap_or_default(),
            lease_duration: Duration::from_secs(auth.lease_duration),
            renewable: auth.renewable,
        },
    })
}

/// The server's message in an error body: the `errors` list joined, whitespace collapsed, or the
/// raw text when it is not that JSON. Bounded to a few hundred characters.
pub fn parse_error_message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Errors {
        errors: Vec<String>,
    }
    let text = match serde_json::from_slice::<Errors>(body) {
        Ok(e) => e.errors.join("; "),
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    let mut out = String::new();
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    const MAX: usize = 300;
    if out.len() > MAX {
        let mut cut = MAX;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const METADATA: &[u8] = br#"{"request_id":"x","data":{"cas_required":false,
        "created_time":"2026-11-30T01:13:59.22592813Z","current_metadata_version":0,
        "current_version":3,"custom_metadata":{"minted_at":"2026-04-18T12:07:09Z"},
        "delete_version_after":"0s","max_versions":0,"oldest_version":1,
        "updated_time":"2026-11-30T01:14:03.66395669Z","versions":{
          "1":{"created_time":"2026-11-30T01:13:59.22592813Z","deletion_time":"","destroyed":true},
          "2":{"created_time":"2026-11-30T01:14:00Z","deletion_time":"2026-11-30T02:00:00Z","destroyed":false},
          "3":{"created_time":"2026-11-30T01:14:03.66395669Z","deletion_time":"2027-01-01T00:00:00Z","destroyed":false}}},
        "wrap_info":null,"warnings":null,"auth":null}"#;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn metadata_is_parsed_with_times_versions_and_custom_metadata() {
        let m = parse_metadata(METADATA).unwrap();
        assert_eq!(m.created_time, ts("2026-11-30T01:13:59.22592813Z"));
        assert_eq!(m.updated_time, ts("2026-11-30T01:14:03.66395669Z"));
        assert_eq!((m.current_version, m.oldest_version), (3, 1));
        assert_eq!(m.custom_metadata["minted_at"], "2026-04-18T12:07:09Z");
        assert_eq!(m.versions.len(), 3);
        assert_eq!(m.versions[&1].deletion_time, None);
        assert!(m.versions[&1].destroyed);
        assert_eq!(
            m.versions[&2].deletion_time,
            Some(ts("2026-11-30T02:00:00Z"))
        );
    }

    #[test]
    fn version_states_depend_on_now() {
        let m = parse_metadata(METADATA).unwrap();
        let before = ts("2026-12-01T00:00:00Z");
        let after = ts("2027-02-01T00:00:00Z");
        // Version 3 is scheduled for deletion in 2027: live before, deleted after.
        assert_eq!(m.current_state(before), VersionState::Live);
        assert!(!m.current_is_deleted(before));
        assert_eq!(
            m.current_state(after),
            VersionState::Deleted(ts("2027-01-01T00:00:00Z"))
        );
        assert!(m.current_is_deleted(after));
        assert!(!m.current_is_destroyed());
        assert_eq!(m.versions[&1].state(before), VersionState::Destroyed);
        assert_eq!(
            m.versions[&2].state(before),
            VersionState::Deleted(ts("2026-11-30T02:00:00Z"))
        );
        let mut none = m.clone();
        none.current_version = 0;
        assert_eq!(none.current_state(before), VersionState::Missing);
    }

    #[test]
    fn null_custom_metadata_is_empty() {
        let body = br#"{"data":{"created_time":"2026-01-01T00:00:00Z","updated_time":"2026-01-01T00:00:00Z",
            "current_version":1,"custom_metadata":null,"versions":{"1":{"created_time":"2026-01-01T00:00:00Z","deletion_time":"","destroyed":false}}}}"#;
        let m = parse_metadata(body).unwrap();
        assert!(m.custom_metadata.is_empty());
        assert_eq!(
            m.current_state(ts("2026-06-01T00:00:00Z")),
            VersionState::Live
        );
    }

    /// What [`parse_summary`] should make of an answer: [`parse_metadata`]'s result, cut down.
    fn cut_down(m: &Metadata, keep: &dyn Fn(&str) -> bool) -> Summary {
        let mut custom: Vec<(Box<str>, Box<str>)> = m
            .custom_metadata
            .iter()
            .filter(|(k, _)| keep(k))
            .map(|(k, v)| (k.as_str().into(), v.as_str().into()))
            .collect();
        custom.sort();
        Summary {
            updated_time: m.updated_time,
            current_version: m.current_version,
            current: m.current().copied(),
            custom,
        }
    }

    fn sorted(mut s: Summary) -> Summary {
        s.custom.sort();
        s
    }

    #[test]
    fn a_summary_keeps_the_current_version_and_the_asked_keys() {
        let keep = |k: &str| k == "minted_at" || k == "absent";
        let s = parse_summary(METADATA, &keep).unwrap();
        assert_eq!(s, cut_down(&parse_metadata(METADATA).unwrap(), &keep));
        assert_eq!(s.current_version, 3);
        assert_eq!(
            s.current.unwrap().deletion_time,
            Some(ts("2027-01-01T00:00:00Z"))
        );
        assert_eq!(s.custom("minted_at"), Some("2026-04-18T12:07:09Z"));
        assert_eq!(s.custom("absent"), None);
        // A repeated key keeps its last value, and a repeated version its last entry, as the
        // maps of the full parse do; escaped text is unescaped.
        let body = br#"{"data":{"created_time":"2026-01-01T00:00:00Z","updated_time":"2026-01-01T00:00:00Z",
            "current_version":1,"custom_metadata":{"k":"first","k":"l\u0061st","other":"x"},
            "versions":{"1":{"created_time":"bad"},"1":{"created_time":"2026-01-02T00:00:00Z"}}}}"#;
        let full = parse_metadata(body).unwrap();
        let s = parse_summary(body, &|k| k == "k").unwrap();
        assert_eq!(s, cut_down(&full, &|k| k == "k"));
        assert_eq!(s.custom, [("k".into(), "last".into())]);
        assert_eq!(s.current.unwrap().created_time, ts("2026-01-02T00:00:00Z"));
    }

    #[test]
    fn malformed_metadata_is_reported() {
        for (body, expected) in [
            (&b"{\"data\":null}"[..], "no `data` object"),
            (b"not json", "not the expected JSON"),
            (
                br#"{"data":{"created_time":"yesterday","updated_time":"2026-01-01T00:00:00Z","current_version":1}}"#,
                "`created_time` is not an RFC 3339 time: `yesterday`",
            ),
            (
                br#"{"data":{"created_time":"2026-01-01T00:00:00Z","updated_time":"2026-01-01T00:00:00Z","current_version":1,"versions":{"x":{"created_time":"2026-01-01T00:00:00Z"}}}}"#,
                "version key `x` is not a number",
            ),
        ] {
            let err = parse_metadata(body).unwrap_err();
            assert!(err.contains(expected), "{err}");
        }
    }

    #[test]
    fn list_pages_hold_keys_and_folders() {
        let body = br#"{"data":{"keys":["a/","k1","k2"]},"warnings":null}"#;
        assert_eq!(parse_list(body).unwrap(), ["a/", "k1", "k2"]);
        assert!(parse_list(br#"{"data":{}}"#).unwrap().is_empty());
        // Odd keys are kept for the caller to report one by one.
        assert_eq!(
            parse_list(br#"{"data":{"keys":["","/abs"]}}"#).unwrap(),
            ["", "/abs"]
        );
        assert!(parse_list(br#"{"errors":[]}"#).is_err());
        assert!(parse_list(br#"{"data":{"keys":null}}"#).unwrap().is_empty());
    }

    #[test]
    fn a_page_is_refused_as_soon_as_it_holds_more_keys_than_allowed() {
        let body = br#"{"data":{"keys":["a","b","c","d","e"]}}"#;
        assert_eq!(
            read_list(&body[..], 3).unwrap_err(),
            "the listing holds more than 3 keys (max_entries)"
        );
        assert_eq!(read_list(&body[..], 5).unwrap().len(), 5);
        // Counting stops the read: nothing after the first extra key is looked at, so even a
        // body that breaks later gives the limit, not a JSON error.
        let broken = br#"{"data":{"keys":["a","b","c","d" oops"#;
        assert_eq!(
            read_list(&broken[..], 3).unwrap_err(),
            "the listing holds more than 3 keys (max_entries)"
        );
    }

    const DATA: &[u8] =
        br#"{"request_id":"r","data":{"data":{"other":"hunter2-other","n":5,"obj":{"a":["x"]},
        "token":"sk-ant-oat01-secret","list":[1,2]},"metadata":{"version":2}}}"#;

    #[test]
    fn one_field_is_found_and_the_others_are_skipped() {
        match parse_field(DATA, "token").unwrap() {
            FieldLookup::Found(s) => assert_eq!(s.expose(), "sk-ant-oat01-secret"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_field(DATA, "absent").unwrap(),
            FieldLookup::Missing
        ));
        assert!(matches!(
            parse_field(DATA, "n").unwrap(),
            FieldLookup::NotString("a number")
        ));
        assert!(matches!(
            parse_field(DATA, "obj").unwrap(),
            FieldLookup::NotString("an object")
        ));
        assert!(matches!(
            parse_field(DATA, "list").unwrap(),
            FieldLookup::NotString("an array")
        ));
        let deleted =
            br#"{"data":{"data":null,"metadata":{"deletion_time":"2026-01-01T00:00:00Z"}}}"#;
        assert!(matches!(
            parse_field(deleted, "token").unwrap(),
            FieldLookup::NoData
        ));
    }

    #[test]
    fn broken_data_answers_never_show_their_content() {
        let cut = &DATA[..60];
        let err = parse_field(cut, "token").unwrap_err();
        assert!(err.contains("ends early"), "{err}");
        let bad = br#"{"data":{"data":{"token":"sk-ant-oat01-secret" "x"}}}"#;
        let err = parse_field(bad, "token").unwrap_err();
        assert!(!err.contains("sk-ant"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    /// A detailed LIST page as OpenBao sends it, around the entry `agent` (which is `METADATA`'s
    /// `data`), plus a folder, a secret without an entry and one whose entry is not metadata.
    fn detailed_page() -> Vec<u8> {
        let agent: serde_json::Value =
            serde_json::from_slice::<serde_json::Value>(METADATA).unwrap()["data"].clone();
        serde_json::json!({"request_id": "x", "data": {
            "key_info": {"agent": agent, "sub/": {}, "odd": {"current_version": "three"}},
            "keys": ["agent", "missing", "odd", "sub/"],
        }, "warnings": null})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn a_detailed_page_carries_each_secrets_summary_as_a_read_would() {
        let keep = |k: &str| k == "minted_at";
        let page = parse_detailed_list(&detailed_page(), 10, &keep).unwrap();
        let keys: Vec<&str> = page.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["agent", "missing", "odd", "sub/"]);
        assert_eq!(
            page[0].1.as_ref(),
            Some(&parse_summary(METADATA, &keep).unwrap())
        );
        // No entry, an entry that is not metadata, a folder: left for a read of their own.
        assert!(page[1..].iter().all(|(_, s)| s.is_none()), "{page:?}");
        // The keys are what a plain LIST page gives.
        let plain = parse_list(&detailed_page()).unwrap();
        assert_eq!(plain, keys);
    }

    #[test]
    fn of_a_repeated_data_member_the_last_counts_in_both_listings() {
        let body = br#"{"data":{"keys":["old"]},"data":{"keys":["new"],"key_info":{"new":null}}}"#;
        assert_eq!(parse_list(body).unwrap(), ["new"]);
        let page = parse_detailed_list(body, 10, &|_| true).unwrap();
        assert_eq!(page, [("new".to_string(), None)]);
    }

    #[test]
    fn a_detailed_page_is_bounded_and_an_empty_one_is_empty() {
        let err = parse_detailed_list(&detailed_page(), 3, &|_| true).unwrap_err();
        assert!(err.starts_with(TOO_MANY), "{err}");
        // Also when the entries come first and alone.
        let many = br#"{"data":{"key_info":{"a":{},"b":{},"c":{},"d":{}}}}"#;
        let err = parse_detailed_list(many, 3, &|_| true).unwrap_err();
        assert!(err.starts_with(TOO_MANY), "{err}");
        for body in [
            &br#"{"data":{}}"#[..],
            br#"{"data":{"keys":null,"key_info":null}}"#,
        ] {
            assert!(parse_detailed_list(body, 3, &|_| true).unwrap().is_empty());
        }
        let err = parse_detailed_list(br#"{"data":null}"#, 3, &|_| true).unwrap_err();
        assert!(err.contains("no `data`"), "{err}");
        let err = parse_detailed_list(b"<html>", 3, &|_| true).unwrap_err();
        assert!(err.contains("not the expected JSON"), "{err}");
    }

    #[test]
    fn logins_hold_the_token_as_a_secret() {
        let body = br#"{"auth":{"client_token":"s.abcdef","accessor":"acc","policies":["default","reader"],
            "lease_duration":3600,"renewable":true}}"#;
        let login = read_login(&body[..], "approle").unwrap();
        assert_eq!(login.token.expose(), "s.abcdef");
        assert_eq!(login.info.policies, ["default", "reader"]);
        assert_eq!(login.info.lease_duration, Duration::from_secs(3600));
        assert!(!format!("{login:?}").contains("s.abcdef"));
        let err = read_login(&b"{\"auth\":{\"client_token\":5}}"[..], "jwt").unwrap_err();
        assert!(err.contains("not of the expected shape"), "{err}");
    }

    #[test]
    fn error_messages_are_joined_and_bounded() {
        assert_eq!(
            parse_error_message(br#"{"errors":["1 error occurred:\n\t* permission denied\n\n"]}"#),
            "1 error occurred: * permission denied"
        );
        assert_eq!(parse_error_message(br#"{"errors":[]}"#), "");
        assert_eq!(
            parse_error_message(b"<html>bad gateway</html>"),
            "<html>bad gateway</html>"
        );
        assert!(parse_error_message(&[b'x'; 5000]).chars().count() <= 301);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]

        /// Mutated LIST and metadata answers: within the time bound, a short error, and never
        /// more out than came in (keys, custom metadata, versions).
        #[test]
        fn mutated_vault_answers_stay_within_bounds(
            list in crate::test_bounds::mutated(br#"{"request_id":"r","data":{"keys":["a/","k1","k\u00e9","b/c"]},"warnings":null}"#.to_vec()),
            meta in crate::test_bounds::mutated(METADATA.to_vec()),
            noise in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
            detailed in crate::test_bounds::mutated(detailed_page()),
        ) {
            use crate::test_bounds::{bounded_error, within_time};
            // A detailed page: its keys are a plain page's, and what it carries of a secret is
            // what a read of that entry alone would make.
            for body in [&detailed, &noise] {
                let keep = |k: &str| k.starts_with('m');
                let page = bounded_error("a detailed LIST answer", within_time("a detailed LIST answer", body.len(), || parse_detailed_list(body, usize::MAX, &keep)));
                if let Some(page) = page {
                    assert!(page.len() * 3 <= body.len(), "{} keys from {} bytes", page.len(), body.len());
                    let keys: Vec<&String> = page.iter().map(|(k, _)| k).collect();
                    let plain = parse_list(body).expect("a plain page of the same body");
                    assert_eq!(keys, plain.iter().collect::<Vec<_>>());
                    for (key, summary) in &page {
                        assert!(summary.is_none() || !key.ends_with('/'), "{key}");
                    }
                }
                let limited = within_time("a detailed LIST answer", body.len(), || parse_detailed_list(body, 2, &keep));
                if let Ok(page) = limited {
                    assert!(page.len() <= 2);
                }
            }
            for body in [&list, &noise] {
                let keys = bounded_error("a LIST answer", within_time("a LIST answer", body.len(), || parse_list(body)));
                if let Some(keys) = keys {
                    let total: usize = keys.iter().map(|k| k.len() + 2).sum();
                    assert!(total <= body.len() + 2 * keys.len(), "{total} bytes of keys from {}", body.len());
                    assert!(keys.len() * 3 <= body.len(), "{} keys from {} bytes", keys.len(), body.len());
                }
                let limited = within_time("a LIST answer", body.len(), || read_list(body.as_slice(), 2));
                if let Ok(keys) = limited {
                    assert!(keys.len() <= 2);
                }
            }
            for body in [&meta, &noise] {
                // The scan's cut-down parse accepts and refuses what the full one does.
                let keep = |k: &str| k.starts_with('m');
                match (parse_metadata(body), parse_summary(body, &keep)) {
                    (Ok(m), Ok(s)) => assert_eq!(sorted(s), cut_down(&m, &keep)),
                    (Err(a), Err(b)) => assert_eq!(a, b),
                    (a, b) => panic!("{a:?} / {b:?}"),
                }
                let parsed = bounded_error("metadata", within_time("metadata", body.len(), || parse_metadata(body)));
                if let Some(m) = parsed {
                    let custom: usize = m.custom_metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
                    assert!(custom <= body.len());
                    assert!(m.versions.len() * 8 <= body.len(), "{} versions from {} bytes", m.versions.len(), body.len());
                }
            }
        }
    }
}
