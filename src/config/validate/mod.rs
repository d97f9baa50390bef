//! Raw config → validated [`Config`]: the [`Validator`] walks the raw tables and reports every
//! problem to one [`Diagnostics`]. One file per concern:
//!
//! - [`common`]: durations, timestamps, labels, thresholds, keywords, and the keys that
//!   `[[credential]]` and every `[[source]]` kind share (one validator, [`SourceCommon`](super::SourceCommon));
//! - [`names`]: Prometheus names and URLs (pure, public);
//! - [`defaults`], [`pushgateway`], [`metrics`], [`alerts`]: the singleton tables;
//! - [`format`]: `[[format]]` profiles and the `format` key;
//! - [`value`]: where a credential's value lives and how its expiry is read (`file`, `env`,
//!   `vault`, `format`, `chain`, `expiry_from`);
//! - [`inventory`]: the `[[credential]]` tables;
//! - [`source`]: `[[source]]`, with the registry of kinds; [`directory`] and [`vault`] are the
//!   kinds.

mod alerts;
mod approle;
mod common;
mod consumer;
mod defaults;
mod directory;
mod format;
mod inventory;
mod metrics;
pub(super) mod names;
mod probe;
mod pushgateway;
mod source;
mod value;
mod vault;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::Path;

use toml::Spanned;

use super::diagnostics::{ConfigError, Diagnostics};
use super::raw::RawConfig;
use super::{Config, Defaults, INVENTORY_SOURCE};
use crate::decode::format::FormatProfile;

/// Label names credwatch sets itself; user labels may not take them.
const RESERVED_LABELS: [&str; 6] = ["pool", "source", "kind", "fingerprint", "job", "instance"];

/// Validates a parsed file; `path` names it in messages and anchors its relative paths.
/// Without `sections` the credentials are those of `raw`; with them, each section of `text` is
/// parsed in its turn (see `split`), and `None` says one did not parse.
pub(super) fn config(
    raw: RawConfig,
    sections: &[Range<usize>],
    text: &str,
    path: &Path,
) -> Option<Result<Config, ConfigError>> {
    let mut v = Validator {
        diagnostics: Diagnostics::new(text),
        formats: BTreeMap::new(),
    };
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let config = v.config(raw, sections, text, path, &base)?;
    Some(v.diagnostics.finish(path, config))
}

struct Validator<'a> {
    diagnostics: Diagnostics<'a>,
    /// Custom `[[format]]` profiles by name.
    formats: BTreeMap<String, FormatProfile>,
}

/// What validating a credential or a source needs from the rest of the file.
struct Settings<'a> {
    defaults: &'a Defaults,
    /// Label names a user label may not take.
    reserved: &'a BTreeSet<String>,
    /// The config file's folder, which relative paths start from.
    base: &'a Path,
    /// `[probes]`: what every credential's probe inherits.
    probes: &'a probe::ProbeDefaults,
}

impl Validator<'_> {
    fn error(&mut self, span: Range<usize>, message: String) {
        self.diagnostics.error(span, message);
    }

    fn config(
        &mut self,
        raw: RawConfig,
        sections: &[Range<usize>],
        text: &str,
        path: &Path,
        base: &Path,
    ) -> Option<Config> {
        let defaults = self.defaults(&raw.defaults);
        let metrics = self.metrics(&raw.metrics);
        let alerts = self.alerts(raw.alerts);
        let pushgateway = raw.pushgateway.map(|p| self.pushgateway(p, base));
        let mut reserved: BTreeSet<String> =
            RESERVED_LABELS.iter().map(|s| s.to_string()).collect();
        reserved.insert(metrics.credential_label.clone());
        if let Some(p) = &pushgateway {
            reserved.extend(p.grouping.keys().cloned());
        }
        let probes = self.probe_defaults(&raw.probes, base);
        let settings = Settings {
            defaults: &defaults,
            reserved: &reserved,
            base,
            probes: &probes,
        };

        for f in raw.formats {
            self.custom_format(f);
        }

        let mut source_names: BTreeMap<String, Range<usize>> = BTreeMap::new();
        source_names.insert(INVENTORY_SOURCE.into(), 0..0);
        let mut sources = Vec::new();
        let mut connection_only: Vec<(String, Range<usize>)> = Vec::new();
        for s in raw.sources {
            let span = s.name.as_ref().map_or(s.kind.span(), Spanned::span);
            if let Some(source) = self.source(&s, &settings) {
                if source_names.contains_key(source.name()) {
                    self.error(
                        span,
                        format!(
                            "source `{}`: duplicate source name; give each `[[source]]` a distinct `name`",
                            source.name()
                        ),
                    );
                    continue;
                }
                source_names.insert(source.name().to_string(), span.clone());
                if let Some(v) = source.kind.as_vault()
                    && v.paths.is_empty()
                    && v.prefix.is_none()
                {
                    connection_only.push((source.name().to_string(), span));
                }
                sources.push(source);
            }
        }

        let vault_sources: Vec<String> = sources
            .iter()
            .filter(|s| s.kind.as_vault().is_some())
            .map(|s| s.name().to_string())
            .collect();
        let mut seen: BTreeMap<String, Range<usize>> = BTreeMap::new();
        let mut inventory = Vec::new();
        let mut parsed = raw.credentials.into_iter();
        let count = if sections.is_empty() {
            parsed.len()
        } else {
            sections.len()
        };
        inventory.reserve_exact(count);
        for i in 0..count {
            let (c, offset) = match sections.get(i) {
                Some(range) => (super::split::section(text, range.clone())?, range.start),
                None => (parsed.next()?, 0),
            };
            self.diagnostics.set_base(offset);
            let name = c.name.get_ref().clone();
            if let Some(first) = seen.get(&name) {
                let line = self.diagnostics.line_of(first.clone());
                self.error(
                    c.name.span(),
                    format!("credential `{name}`: duplicate name (first defined on line {line}); names must be unique"),
                );
                continue;
            }
            seen.insert(name, self.diagnostics.absolute(c.name.span()));
            if let Some(entry) = self.credential(c, &settings, &vault_sources) {
                inventory.push(entry);
            }
        }
        self.diagnostics.set_base(0);

        // A vault source without `paths` or `prefix` only connects `[[credential]]` entries: it
        // needs one at least.
        for (name, span) in connection_only {
            let used = inventory.iter().any(|e: &crate::config::InventoryEntry| {
                matches!(e.value.as_ref().map(|v| &v.from),
                    Some(crate::config::ValueFrom::Vault { source, .. }) if *source == name)
            });
            if !used {
                self.error(
                    span,
                    format!("source `{name}`: a `vault` source needs `paths` (secrets to watch), `prefix` (a folder to scan), or a `[[credential]]` with `vault = {{ path = …, field = … }}` that it connects"),
                );
            }
        }
        let consumers = raw
            .consumers
            .into_iter()
            .filter_map(|c| self.consumer(c, base))
            .collect();

        let prometheus_url = raw
            .prometheus
            .and_then(|p| match names::check_url(p.url.get_ref()) {
                Ok(url) => Some(url),
                Err(e) => {
                    self.error(p.url.span(), format!("prometheus: `url`: {e}"));
                    None
                }
            });

        Some(Config {
            path: path.to_path_buf(),
            consumers,
            prometheus_url,
            defaults,
            pushgateway,
            metrics,
            alerts,
            inventory,
            sources,
            fingerprint_key_file: raw
                .fingerprint
                .and_then(|f| f.key_file)
                .map(|p| base.join(p)),
            formats: std::mem::take(&mut self.formats),
        })
    }
}
