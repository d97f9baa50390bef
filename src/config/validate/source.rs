//! `[[source]]`: the registry of kinds, the check that each key belongs to the kind it is given
//! to, and the keys every kind shares (validated once, by `Validator::shared`).

use std::path::Path;

use super::common::choice;
use super::{Settings, Validator, approle, directory, vault};
use crate::config::raw::RawSource;
use crate::config::{Source, SourceKind};

/// One source kind: its name, its own keys, and its validator.
pub(super) struct Kind {
    /// The `kind` value; also the source's `name` when it has none.
    pub name: &'static str,
    /// The keys this kind takes besides the shared ones (see `RawSource::kind_keys`).
    pub keys: &'static [&'static str],
    /// Ends "`key` applies to `…` sources" when a key of another kind is given to this one.
    pub foreign_key_hint: &'static str,
    /// The kind's own keys → its part of the source; `None` after reporting why not. The
    /// shared keys are validated afterwards, only if this succeeds.
    pub validate: fn(&mut Validator<'_>, &RawSource, &str, &Path) -> Option<SourceKind>,
}

/// Every source kind. A new kind is a line here, its `validate/<kind>.rs`, its variant of
/// `SourceKind` and its reader in `sources/`.
pub(super) const KINDS: [&Kind; 4] = [
    &directory::KIND,
    &vault::KIND,
    &approle::KIND,
    &approle::TOKEN_KIND,
];

impl Validator<'_> {
    pub(super) fn source(&mut self, s: &RawSource, settings: &Settings<'_>) -> Option<Source> {
        let Some(kind) = KINDS.iter().find(|k| k.name == s.kind.get_ref()) else {
            let names: Vec<&str> = KINDS.iter().map(|k| k.name).collect();
            self.error(
                s.kind.span(),
                format!(
                    "source: unknown `kind` `{}`; expected {}",
                    s.kind.get_ref(),
                    choice(&names)
                ),
            );
            return None;
        };
        let foreign = s
            .kind_keys()
            .into_iter()
            .find(|(key, set)| *set && !kind.keys.contains(key));
        if let Some((key, _)) = foreign {
            let owners: Vec<String> = KINDS
                .iter()
                .filter(|k| k.keys.contains(&key))
                .map(|k| format!("`{}`", k.name))
                .collect();
            self.error(
                s.kind.span(),
                format!(
                    "source: `{key}` applies to {} sources{}",
                    owners.join(" and "),
                    kind.foreign_key_hint
                ),
            );
            return None;
        }
        let name = self
            .non_empty(s.name.as_ref(), "source", "name")
            .unwrap_or_else(|| kind.name.into());
        let context = format!("source `{name}`");
        let source_kind = (kind.validate)(self, s, &context, settings.base)?;
        let common = self.shared(name, s.shared(), &context, settings);
        Some(Source {
            common,
            kind: source_kind,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_key_belongs_to_a_kind_and_every_kind_lists_only_kind_keys() {
        let raw: RawSource = toml::from_str("kind = \"x\"").unwrap();
        let all: Vec<&str> = raw.kind_keys().iter().map(|(k, _)| *k).collect();
        for key in &all {
            assert!(
                KINDS.iter().any(|k| k.keys.contains(key)),
                "`{key}` belongs to no kind"
            );
        }
        for kind in KINDS {
            for key in kind.keys {
                assert!(all.contains(key), "`{key}` of `{}`", kind.name);
            }
        }
    }
}
