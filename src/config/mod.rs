//! `credwatch.toml` → a validated [`Config`]. Pure: [`parse_config`] takes the file's text.
//!
//! The raw serde types mirror the file and keep the byte span of every value, so that each
//! validation error names the file, line, column and key. Only the validated types leave this
//! module; every error found is reported at once, not just the first.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use toml::Spanned;

use crate::credential::{Basis, Credential, Evidence, PoolPolicy, Thresholds};
use crate::decode::format::{self as formats, FormatProfile};
use crate::time;

/// The `source` label of credentials declared inline with `[[credential]]`.
pub const INVENTORY_SOURCE: &str = "inventory";

/// Label names credwatch sets itself; user labels may not take them.
const RESERVED_LABELS: [&str; 6] = ["pool", "source", "kind", "fingerprint", "job", "instance"];

#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub defaults: Defaults,
    pub pushgateway: Option<Pushgateway>,
    pub metrics: MetricNames,
    pub alerts: Alerts,
    /// `[[credential]]` entries, whose expiry the file itself states.
    pub inventory: Vec<InventoryEntry>,
    pub sources: Vec<Source>,
    /// A file holding the key for HMAC fingerprints (`[fingerprint] key_file`).
    pub fingerprint_key_file: Option<PathBuf>,
    /// Custom `[[format]]` profiles by name.
    pub formats: BTreeMap<String, FormatProfile>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Defaults {
    pub ttl: SignedDuration,
    pub thresholds: Thresholds,
    pub pools: PoolPolicy,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryEntry {
    pub credential: Credential,
    /// The lifetime the config states (`minted_at`/`expires_at`), if it states one.
    pub declared: Option<Evidence>,
    /// Where the value lives and what to learn from it, if credwatch should read it.
    pub value: Option<ValueSpec>,
}

/// A credential's value: where it lives, its format, and whether its expiry comes from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueSpec {
    pub from: ValueFrom,
    pub format: Option<FormatProfile>,
    /// `None` when the expiry is declared and the value is read only for its format and
    /// fingerprint.
    pub derive: Option<Derive>,
    /// Read the value to fingerprint it even without a format (pool members are fingerprinted
    /// so that copies are found).
    pub fingerprint: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueFrom {
    /// A file, such as a key of a mounted Kubernetes Secret.
    File(PathBuf),
    /// An environment variable of credwatch's own process.
    Env(String),
    /// A field of a KV v2 secret, read through the named vault source. Without `field`, only the
    /// secret's metadata is read.
    Vault {
        source: String,
        path: String,
        field: Option<String>,
    },
}

impl ValueFrom {
    pub fn describe(&self) -> String {
        match self {
            ValueFrom::File(p) => format!("file `{}`", p.display()),
            ValueFrom::Env(v) => format!("environment variable `{v}`"),
            ValueFrom::Vault {
                source,
                path,
                field: Some(f),
            } => {
                format!("field `{f}` of `{path}` in vault source `{source}`")
            }
            ValueFrom::Vault {
                source,
                path,
                field: None,
            } => format!("`{path}` in vault source `{source}`"),
        }
    }
}

/// How the expiry is read from the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Derive {
    /// A JWT's `exp` (and `iat` as mint time).
    Jwt,
    /// A certificate's `notAfter`: the leaf's, or the earliest of the bundle.
    X509 { earliest: bool },
    /// Whichever of the two the value turns out to be.
    Detect { earliest: bool },
    /// The Vault secret's metadata: custom_metadata `expires_at`/`minted_at`, else the current
    /// version's `created_time` + ttl.
    VaultMetadata,
}

impl ValueSpec {
    /// True when the value itself must be read (not only metadata).
    pub fn needs_value(&self) -> bool {
        self.format.is_some()
            || self.fingerprint
            || matches!(
                self.derive,
                Some(Derive::Jwt | Derive::X509 { .. } | Derive::Detect { .. })
            )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Directory(DirectorySource),
    Vault(Box<VaultSource>),
}

impl Source {
    pub fn name(&self) -> &str {
        match self {
            Source::Directory(d) => &d.name,
            Source::Vault(v) => &v.name,
        }
    }

    pub fn runbook(&self) -> Option<&str> {
        match self {
            Source::Directory(d) => d.runbook.as_deref(),
            Source::Vault(v) => v.runbook.as_deref(),
        }
    }

    pub fn thresholds(&self) -> Thresholds {
        match self {
            Source::Directory(d) => d.thresholds,
            Source::Vault(v) => v.thresholds,
        }
    }
}

/// Vault or OpenBao KV v2: expiries from secret metadata, values only where needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultSource {
    pub name: String,
    /// `None`: `VAULT_ADDR` (or `BAO_ADDR`).
    pub address: Option<String>,
    pub namespace: Option<String>,
    pub ca_file: Option<PathBuf>,
    /// The KV v2 mount, without slashes (default `secret`).
    pub mount: String,
    /// Secrets to watch, relative to the mount.
    pub paths: Vec<String>,
    /// Watch every secret under this folder (recursively); `Some("")` is the whole mount.
    pub prefix: Option<String>,
    /// Glob patterns (`*` any characters, `?` one) on discovered paths.
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub concurrency: usize,
    /// Per request.
    pub timeout: SignedDuration,
    pub retries: u32,
    pub auth: VaultAuth,
    /// custom_metadata keys holding the expiry or the mint time.
    pub expires_at_key: String,
    pub minted_at_key: String,
    /// Read this field of every watched secret (for a format check and fingerprints).
    pub value: Option<SourceValue>,
    /// Lifetime from `minted_at` or the current version's `created_time`.
    pub ttl: SignedDuration,
    pub pool: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub runbook: Option<String>,
    pub thresholds: Thresholds,
}

/// What a vault source reads from each secret it watches, besides metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceValue {
    /// The key inside each secret that holds the credential.
    pub field: String,
    pub format: Option<FormatProfile>,
    /// Fingerprint the values (the source feeds a pool, where copies must be found).
    pub fingerprint: bool,
}

/// How credwatch logs in to Vault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VaultAuth {
    /// `VAULT_TOKEN`/`BAO_TOKEN`, or a file.
    Token { token_file: Option<PathBuf> },
    AppRole {
        mount: String,
        role_id: Option<String>,
        role_id_file: Option<PathBuf>,
        secret_id_file: PathBuf,
    },
    /// `jwt` and `kubernetes` auth methods: a role and a JWT read from a file.
    Jwt {
        method: String,
        mount: String,
        role: String,
        token_file: PathBuf,
    },
}

/// A directory with one file per credential: the layout of a mounted Kubernetes ConfigMap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectorySource {
    pub name: String,
    pub path: PathBuf,
    pub content: DirectoryContent,
    pub ttl: SignedDuration,
    pub pool: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub runbook: Option<String>,
    pub thresholds: Thresholds,
}

/// What the number in each file of a directory source means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectoryContent {
    ExpiresAt,
    MintedAt,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushgateway {
    /// Base URL without a trailing slash.
    pub url: String,
    pub job: String,
    pub grouping: BTreeMap<String, String>,
    /// Overall time allowed for the push, retries included.
    pub timeout: SignedDuration,
    pub retries: u32,
    pub username: Option<String>,
    pub password_file: Option<PathBuf>,
    pub token_file: Option<PathBuf>,
}

/// How `render rules` shapes the alerts (`[alerts]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alerts {
    /// Alert names are `<prefix>ExpiringSoon`, `<prefix>Critical`, …
    pub prefix: String,
    pub warning_severity: String,
    pub critical_severity: String,
    /// How often credwatch runs (the CronJob schedule); the default `stale_after` is eight runs.
    pub run_interval: SignedDuration,
    /// No successful run for this long fires the stale alert.
    pub stale_after: SignedDuration,
    pub expiring_for: SignedDuration,
    pub critical_for: SignedDuration,
    pub unknown_for: SignedDuration,
    pub stale_for: SignedDuration,
    pub never_ran_for: SignedDuration,
    pub push_failing_for: SignedDuration,
    /// `runbook_url` for credentials without a runbook of their own.
    pub runbook: Option<String>,
    /// Extra labels on every alert.
    pub labels: BTreeMap<String, String>,
}

/// Names of the series and labels that other systems (alert rules) depend on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricNames {
    pub expiry: String,
    pub last_success: String,
    pub credential_label: String,
    /// When false only the expiry and last-success series are emitted, exactly like the shell
    /// CronJob credwatch replaces.
    pub extra_series: bool,
}

impl Default for MetricNames {
    fn default() -> Self {
        MetricNames {
            expiry: "credwatch_credential_expiry_timestamp_seconds".into(),
            last_success: "credwatch_last_success_timestamp_seconds".into(),
            credential_label: "credential".into(),
            extra_series: true,
        }
    }
}

/// Every problem found in a config file, each with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: PathBuf,
    pub problems: Vec<Problem>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// The text of the offending line, shown under the message.
    pub excerpt: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(
                f,
                "{}:{}:{}: {}",
                self.path.display(),
                p.line,
                p.column,
                p.message
            )?;
            if !p.excerpt.trim().is_empty() {
                write!(f, "\n{:>6} | {}", p.line, p.excerpt)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

// ---------------------------------------------------------------------------------------------
// Raw types: the file as written.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    defaults: RawDefaults,
    pushgateway: Option<RawPushgateway>,
    #[serde(default)]
    metrics: RawMetrics,
    #[serde(default)]
    alerts: RawAlerts,
    #[serde(default, rename = "credential")]
    credentials: Vec<RawCredential>,
    #[serde(default, rename = "source")]
    sources: Vec<RawSource>,
    #[serde(default, rename = "format")]
    formats: Vec<RawFormat>,
    fingerprint: Option<RawFingerprint>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFormat {
    name: Spanned<String>,
    prefix: Option<String>,
    min_length: Option<Spanned<i64>>,
    max_length: Option<Spanned<i64>>,
    pattern: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFingerprint {
    key_file: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    ttl: Option<Spanned<toml::Value>>,
    pool_warn_before: Option<Spanned<toml::Value>>,
    pool_spread: Option<Spanned<toml::Value>>,
    warn_before: Option<Spanned<toml::Value>>,
    critical_before: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPushgateway {
    url: Spanned<String>,
    job: Option<Spanned<String>>,
    grouping: Option<Spanned<BTreeMap<String, String>>>,
    timeout: Option<Spanned<toml::Value>>,
    retries: Option<Spanned<i64>>,
    username: Option<String>,
    password_file: Option<String>,
    token_file: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAlerts {
    prefix: Option<Spanned<String>>,
    warning_severity: Option<Spanned<String>>,
    critical_severity: Option<Spanned<String>>,
    run_interval: Option<Spanned<toml::Value>>,
    stale_after: Option<Spanned<toml::Value>>,
    expiring_for: Option<Spanned<toml::Value>>,
    critical_for: Option<Spanned<toml::Value>>,
    unknown_for: Option<Spanned<toml::Value>>,
    stale_for: Option<Spanned<toml::Value>>,
    never_ran_for: Option<Spanned<toml::Value>>,
    push_failing_for: Option<Spanned<toml::Value>>,
    runbook: Option<String>,
    labels: Option<Spanned<BTreeMap<String, String>>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    expiry_metric: Option<Spanned<String>>,
    last_success_metric: Option<Spanned<String>>,
    credential_label: Option<Spanned<String>>,
    extra_series: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCredential {
    name: Spanned<String>,
    pool: Option<Spanned<String>>,
    labels: Option<Spanned<BTreeMap<String, String>>>,
    runbook: Option<String>,
    minted_at: Option<Spanned<toml::Value>>,
    expires_at: Option<Spanned<toml::Value>>,
    ttl: Option<Spanned<toml::Value>>,
    warn_before: Option<Spanned<toml::Value>>,
    critical_before: Option<Spanned<toml::Value>>,
    file: Option<Spanned<String>>,
    env: Option<Spanned<String>>,
    format: Option<Spanned<String>>,
    expiry_from: Option<Spanned<String>>,
    chain: Option<Spanned<String>>,
    vault: Option<Spanned<RawVaultRef>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVaultRef {
    path: String,
    field: Option<String>,
    source: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVaultAuth {
    method: Spanned<String>,
    mount: Option<String>,
    role: Option<String>,
    role_id: Option<String>,
    role_id_file: Option<String>,
    secret_id_file: Option<String>,
    token_file: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    kind: Spanned<String>,
    name: Option<Spanned<String>>,
    path: Option<Spanned<String>>,
    content: Option<Spanned<String>>,
    address: Option<Spanned<String>>,
    namespace: Option<String>,
    ca_file: Option<String>,
    mount: Option<Spanned<String>>,
    paths: Option<Vec<Spanned<String>>>,
    prefix: Option<Spanned<String>>,
    include: Option<Vec<String>>,
    exclude: Option<Vec<String>>,
    concurrency: Option<Spanned<i64>>,
    timeout: Option<Spanned<toml::Value>>,
    retries: Option<Spanned<i64>>,
    auth: Option<Spanned<RawVaultAuth>>,
    expires_at_key: Option<String>,
    minted_at_key: Option<String>,
    field: Option<String>,
    format: Option<Spanned<String>>,
    ttl: Option<Spanned<toml::Value>>,
    pool: Option<Spanned<String>>,
    labels: Option<Spanned<BTreeMap<String, String>>>,
    runbook: Option<String>,
    warn_before: Option<Spanned<toml::Value>>,
    critical_before: Option<Spanned<toml::Value>>,
}

// ---------------------------------------------------------------------------------------------
// Parsing and validation.

/// Reads and validates the config file at `path`.
pub fn read_config(path: &Path) -> anyhow::Result<Config> {
    Ok(read_config_text(path)?.0)
}

/// Reads and validates the config file at `path`, returning its text as well (for renderers that
/// embed the file).
pub fn read_config_text(path: &Path) -> anyhow::Result<(Config, String)> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read config file `{}`: {e}", path.display()))?;
    let config = parse_config(&text, path)?;
    Ok((config, text))
}

/// Validates the text of a config file. `path` is used in messages and to resolve relative paths.
pub fn parse_config(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        ConfigError {
            path: path.to_path_buf(),
            problems: vec![problem(text, span, {
                let mut message = e.message().trim_end().to_string();
                if message.contains("expected a sequence") {
                    message.push_str(
                        "; `[[credential]]`, `[[source]]` and `[[format]]` take double brackets, one table per entry",
                    );
                }
                message
            })],
        }
    })?;
    let mut v = Validator {
        text,
        formats: BTreeMap::new(),
        diagnostics: Vec::new(),
    };
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let config = v.config(raw, path, &base);
    if v.diagnostics.is_empty() {
        Ok(config)
    } else {
        v.diagnostics.sort_by_key(|(span, _)| span.start);
        Err(ConfigError {
            path: path.to_path_buf(),
            problems: v
                .diagnostics
                .into_iter()
                .map(|(s, m)| problem(text, s, m))
                .collect(),
        })
    }
}

fn problem(text: &str, span: Range<usize>, message: String) -> Problem {
    let start = span.start.min(text.len());
    let before = &text[..start];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = text[line_start..start].chars().count() + 1;
    let excerpt = text[line_start..].lines().next().unwrap_or("").to_string();
    Problem {
        line,
        column,
        message,
        excerpt,
    }
}

struct Validator<'a> {
    text: &'a str,
    /// Custom `[[format]]` profiles by name.
    formats: BTreeMap<String, FormatProfile>,
    diagnostics: Vec<(Range<usize>, String)>,
}

impl Validator<'_> {
    fn error(&mut self, span: Range<usize>, message: String) {
        self.diagnostics.push((span, message));
    }

    fn config(&mut self, raw: RawConfig, path: &Path, base: &Path) -> Config {
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

        for f in raw.formats {
            self.custom_format(f);
        }

        let mut source_names: BTreeMap<String, Range<usize>> = BTreeMap::new();
        source_names.insert(INVENTORY_SOURCE.into(), 0..0);
        let mut sources = Vec::new();
        for s in raw.sources {
            let span = s.name.as_ref().map_or(s.kind.span(), Spanned::span);
            if let Some(source) = self.source(s, &defaults, &reserved, base) {
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
                source_names.insert(source.name().to_string(), span);
                sources.push(source);
            }
        }

        let vault_sources: Vec<String> = sources
            .iter()
            .filter_map(|s| match s {
                Source::Vault(v) => Some(v.name.clone()),
                _ => None,
            })
            .collect();
        let mut seen: BTreeMap<String, Range<usize>> = BTreeMap::new();
        let mut inventory = Vec::new();
        for c in raw.credentials {
            let name = c.name.get_ref().clone();
            if let Some(first) = seen.get(&name) {
                let line = problem(self.text, first.clone(), String::new()).line;
                self.error(
                    c.name.span(),
                    format!("credential `{name}`: duplicate name (first defined on line {line}); names must be unique"),
                );
                continue;
            }
            seen.insert(name.clone(), c.name.span());
            if let Some(entry) = self.credential(c, &defaults, &reserved, base, &vault_sources) {
                inventory.push(entry);
            }
        }

        Config {
            path: path.to_path_buf(),
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
            formats: self.formats.clone(),
        }
    }

    /// A value in Vault: the expiry comes from the metadata unless declared or read from the
    /// value; the value itself is read only for a format check, a JWT or certificate, or the
    /// fingerprint of a pool member, and then `vault.field` is required.
    fn vault_value_spec(
        &mut self,
        c: &RawCredential,
        context: &str,
        declared: bool,
        from: ValueFrom,
        has_field: bool,
    ) -> Result<Option<ValueSpec>, ()> {
        let format = match &c.format {
            Some(name) => Some(self.format_profile(name, context).ok_or(())?),
            None => None,
        };
        let earliest = matches!(
            c.chain.as_ref().map(|v| v.get_ref().as_str()),
            Some("earliest")
        );
        if let Some(v) = &c.chain
            && !matches!(v.get_ref().as_str(), "leaf" | "earliest")
        {
            self.error(
                v.span(),
                format!(
                    "{context}: `chain`: expected `leaf` or `earliest`, found `{}`",
                    v.get_ref()
                ),
            );
            return Err(());
        }
        if declared && let Some(v) = &c.expiry_from {
            self.error(
                v.span(),
                format!("{context}: `expiry_from` takes the expiry from the value; leave out `minted_at`/`expires_at`"),
            );
            return Err(());
        }
        let derive = match c.expiry_from.as_ref().map(|v| (v, v.get_ref().as_str())) {
            _ if declared => None,
            None => match format.as_ref().map(|f| f.name.as_str()) {
                Some("jwt") => Some(Derive::Jwt),
                Some("pem-certificate") => Some(Derive::X509 { earliest }),
                _ => Some(Derive::VaultMetadata),
            },
            Some((_, "metadata")) => Some(Derive::VaultMetadata),
            Some((_, "value")) => Some(Derive::Detect { earliest }),
            Some((_, "jwt")) => Some(Derive::Jwt),
            Some((_, "x509")) => Some(Derive::X509 { earliest }),
            Some((v, other)) => {
                self.error(
                    v.span(),
                    format!("{context}: `expiry_from`: expected `metadata`, `value`, `jwt` or `x509`, found `{other}`"),
                );
                return Err(());
            }
        };
        let spec = ValueSpec {
            from,
            format,
            derive,
            fingerprint: c.pool.is_some() && has_field,
        };
        if spec.needs_value() && !has_field {
            let span = c.vault.as_ref().map_or(0..0, Spanned::span);
            self.error(
                span,
                format!("{context}: reading this value (format check, JWT or certificate) needs `vault.field`, the key inside the secret"),
            );
            return Err(());
        }
        Ok(Some(spec))
    }

    fn custom_format(&mut self, f: RawFormat) {
        let name = f.name.get_ref().clone();
        let length = |v: &Option<Spanned<i64>>, this: &mut Self, key: &str| -> Option<usize> {
            let v = v.as_ref()?;
            match usize::try_from(*v.get_ref()) {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    this.error(
                        v.span(),
                        format!("format `{name}`: `{key}` must be a positive number"),
                    );
                    None
                }
            }
        };
        let min = length(&f.min_length, self, "min_length");
        let max = length(&f.max_length, self, "max_length");
        if self.formats.contains_key(&name) {
            self.error(f.name.span(), format!("format `{name}`: duplicate name"));
            return;
        }
        match formats::custom(&name, f.prefix.as_deref(), min, max, f.pattern.as_deref()) {
            Ok(profile) => {
                self.formats.insert(name, profile);
            }
            Err(e) => self.error(f.name.span(), format!("format `{name}`: {e}")),
        }
    }

    fn format_profile(&mut self, name: &Spanned<String>, context: &str) -> Option<FormatProfile> {
        if let Some(p) =
            formats::builtin(name.get_ref()).or_else(|| self.formats.get(name.get_ref()).cloned())
        {
            return Some(p);
        }
        let mut known: Vec<String> = formats::builtin_names()
            .iter()
            .map(|s| s.to_string())
            .collect();
        known.extend(self.formats.keys().cloned());
        self.error(
            name.span(),
            format!(
                "{context}: `format`: unknown format `{}`; expected one of {} or a `[[format]]` defined in this file",
                name.get_ref(),
                known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
            ),
        );
        None
    }

    /// Where the credential's value lives and what it is read for. `declared` says whether the
    /// config also states the expiry.
    fn value_spec(
        &mut self,
        c: &RawCredential,
        context: &str,
        declared: bool,
        base: &Path,
        vault_sources: &[String],
    ) -> Result<Option<ValueSpec>, ()> {
        let mut ok = true;
        let places = [
            c.file.as_ref().map(|_| "file"),
            c.env.as_ref().map(|_| "env"),
            c.vault.as_ref().map(|_| "vault"),
        ];
        let places: Vec<&str> = places.into_iter().flatten().collect();
        if places.len() > 1 {
            let span = c
                .vault
                .as_ref()
                .map(Spanned::span)
                .or(c.env.as_ref().map(Spanned::span))
                .unwrap_or(0..0);
            self.error(
                span,
                format!(
                    "{context}: give one place for the value, not `{}`",
                    places.join("` and `")
                ),
            );
            return Err(());
        }
        if let Some(v) = &c.vault {
            let r = v.get_ref();
            let source = match (&r.source, vault_sources) {
                (Some(s), known) if known.contains(s) => s.clone(),
                (Some(s), _) => {
                    self.error(v.span(), format!("{context}: `vault.source`: no `[[source]] kind = \"vault\"` is named `{s}`"));
                    return Err(());
                }
                (None, [only]) => only.clone(),
                (None, []) => {
                    self.error(v.span(), format!("{context}: `vault` needs a `[[source]] kind = \"vault\"` (address, mount, auth)"));
                    return Err(());
                }
                (None, _) => {
                    self.error(
                        v.span(),
                        format!(
                            "{context}: several vault sources exist; say which with `vault.source`"
                        ),
                    );
                    return Err(());
                }
            };
            let path = r.path.trim_matches('/').to_string();
            if path.is_empty()
                || path
                    .split('/')
                    .any(|seg| seg.is_empty() || seg == "." || seg == "..")
            {
                self.error(
                    v.span(),
                    format!("{context}: `vault.path`: `{}` is not a secret path", r.path),
                );
                return Err(());
            }
            let field = r.field.clone().filter(|f| !f.is_empty());
            let from = ValueFrom::Vault {
                source,
                path,
                field: field.clone(),
            };
            return self.vault_value_spec(c, context, declared, from, field.is_some());
        }
        let from = match (&c.file, &c.env) {
            (Some(file), _) => Some(ValueFrom::File(base.join(file.get_ref()))),
            (None, Some(env)) if env.get_ref().is_empty() || env.get_ref().contains('=') => {
                self.error(
                    env.span(),
                    format!(
                        "{context}: `env`: `{}` is not an environment variable name",
                        env.get_ref()
                    ),
                );
                return Err(());
            }
            (None, Some(env)) => Some(ValueFrom::Env(env.get_ref().clone())),
            (None, None) => None,
        };
        let format = match &c.format {
            Some(name) => {
                let p = self.format_profile(name, context);
                ok &= p.is_some();
                p
            }
            None => None,
        };
        let earliest = match c.chain.as_ref().map(|v| (v, v.get_ref().as_str())) {
            None | Some((_, "leaf")) => false,
            Some((_, "earliest")) => true,
            Some((v, other)) => {
                self.error(
                    v.span(),
                    format!("{context}: `chain`: expected `leaf` or `earliest`, found `{other}`"),
                );
                ok = false;
                false
            }
        };
        let explicit = match c.expiry_from.as_ref().map(|v| (v, v.get_ref().as_str())) {
            None => None,
            Some((_, "value")) => Some(Derive::Detect { earliest }),
            Some((_, "jwt")) => Some(Derive::Jwt),
            Some((_, "x509")) => Some(Derive::X509 { earliest }),
            Some((v, other)) => {
                self.error(
                    v.span(),
                    format!("{context}: `expiry_from`: expected `value`, `jwt` or `x509`, found `{other}`"),
                );
                return Err(());
            }
        };
        let Some(from) = from else {
            for (key, v) in [
                ("format", &c.format),
                ("expiry_from", &c.expiry_from),
                ("chain", &c.chain),
            ] {
                if let Some(v) = v {
                    self.error(
                        v.span(),
                        format!("{context}: `{key}` needs the value: set `file` or `env`"),
                    );
                    ok = false;
                }
            }
            return if ok { Ok(None) } else { Err(()) };
        };
        if declared && let Some(v) = &c.expiry_from {
            self.error(
                v.span(),
                format!("{context}: `expiry_from` takes the expiry from the value; leave out `minted_at`/`expires_at`"),
            );
            return Err(());
        }
        let derive = if declared {
            None
        } else {
            explicit.or(match format.as_ref().map(|f| f.name.as_str()) {
                Some("jwt") => Some(Derive::Jwt),
                Some("pem-certificate") => Some(Derive::X509 { earliest }),
                _ => Some(Derive::Detect { earliest }),
            })
        };
        if let Some(v) = &c.chain
            && matches!(derive, None | Some(Derive::Jwt))
        {
            self.error(
                v.span(),
                format!("{context}: `chain` applies to expiries read from certificates"),
            );
            ok = false;
        }
        if ok {
            Ok(Some(ValueSpec {
                fingerprint: c.pool.is_some(),
                from,
                format,
                derive,
            }))
        } else {
            Err(())
        }
    }

    fn defaults(&mut self, raw: &RawDefaults) -> Defaults {
        let ttl = self.duration_or(
            &raw.ttl,
            "defaults",
            "ttl",
            SignedDuration::from_hours(365 * 24),
        );
        let warn = self.duration_or(
            &raw.warn_before,
            "defaults",
            "warn_before",
            SignedDuration::from_hours(30 * 24),
        );
        let critical = self.duration_or(
            &raw.critical_before,
            "defaults",
            "critical_before",
            SignedDuration::from_hours(7 * 24),
        );
        let thresholds = self.thresholds(
            warn,
            critical,
            raw.critical_before.as_ref().or(raw.warn_before.as_ref()),
            "defaults",
        );
        let d = PoolPolicy::default();
        let pools = PoolPolicy {
            warn_before: self.duration_or(
                &raw.pool_warn_before,
                "defaults",
                "pool_warn_before",
                d.warn_before,
            ),
            spread: self.duration_or(&raw.pool_spread, "defaults", "pool_spread", d.spread),
        };
        Defaults {
            ttl,
            thresholds,
            pools,
        }
    }

    /// A credential's or source's thresholds: its own keys, else the defaults.
    fn thresholds_from(
        &mut self,
        warn: &Option<Spanned<toml::Value>>,
        critical: &Option<Spanned<toml::Value>>,
        defaults: Thresholds,
        context: &str,
    ) -> Thresholds {
        let w = self.duration_or(warn, context, "warn_before", defaults.warn_before);
        let c = self.duration_or(
            critical,
            context,
            "critical_before",
            defaults.critical_before,
        );
        self.thresholds(w, c, critical.as_ref().or(warn.as_ref()), context)
    }

    fn thresholds(
        &mut self,
        warn_before: SignedDuration,
        critical_before: SignedDuration,
        span: Option<&Spanned<toml::Value>>,
        context: &str,
    ) -> Thresholds {
        if critical_before > warn_before
            && let Some(span) = span
        {
            self.error(
                span.span(),
                format!(
                    "{context}: `critical_before` ({}) is longer than `warn_before` ({}); the warning would never show",
                    time::format_duration(critical_before),
                    time::format_duration(warn_before)
                ),
            );
        }
        Thresholds {
            warn_before,
            critical_before,
        }
    }

    fn duration_or(
        &mut self,
        raw: &Option<Spanned<toml::Value>>,
        context: &str,
        key: &str,
        default: SignedDuration,
    ) -> SignedDuration {
        let Some(value) = raw else { return default };
        match value.get_ref() {
            toml::Value::String(s) => match time::parse_duration(s) {
                Ok(d) => d,
                Err(e) => {
                    self.error(value.span(), format!("{context}: `{key}`: {e}"));
                    default
                }
            },
            other => {
                self.error(
                    value.span(),
                    format!(
                        "{context}: `{key}`: expected a duration string such as \"30d\" or \"12h\", found {} `{other}`",
                        other.type_str()
                    ),
                );
                default
            }
        }
    }

    fn timestamp(
        &mut self,
        value: &Spanned<toml::Value>,
        context: &str,
        key: &str,
    ) -> Option<Timestamp> {
        let parsed = match value.get_ref() {
            toml::Value::String(s) => time::parse_timestamp(s),
            toml::Value::Integer(i) => time::unix_seconds(*i),
            toml::Value::Datetime(dt) => {
                if dt.offset.is_none() || dt.time.is_none() || dt.date.is_none() {
                    Err(format!(
                        "expected a full date and time with an offset (e.g. 2026-04-18T12:07:09Z), found `{dt}`"
                    ))
                } else {
                    time::parse_timestamp(&dt.to_string())
                }
            }
            other => Err(format!(
                "expected an RFC 3339 time (e.g. \"2026-04-18T12:07:09Z\") or unix seconds, found {} `{other}`",
                other.type_str()
            )),
        };
        match parsed {
            Ok(t) => Some(t),
            Err(e) => {
                self.error(value.span(), format!("{context}: `{key}`: {e}"));
                None
            }
        }
    }

    fn labels(
        &mut self,
        raw: Option<Spanned<BTreeMap<String, String>>>,
        context: &str,
        reserved: &BTreeSet<String>,
    ) -> BTreeMap<String, String> {
        let Some(raw) = raw else {
            return BTreeMap::new();
        };
        let span = raw.span();
        let labels = raw.into_inner();
        for name in labels.keys() {
            if let Err(e) = check_label_name(name) {
                self.error(span.clone(), format!("{context}: `labels`: {e}"));
            } else if reserved.contains(name) {
                self.error(
                    span.clone(),
                    format!("{context}: `labels`: `{name}` is a label credwatch sets itself; choose another name"),
                );
            }
        }
        labels
    }

    fn non_empty(
        &mut self,
        value: Option<Spanned<String>>,
        context: &str,
        key: &str,
    ) -> Option<String> {
        let value = value?;
        if value.get_ref().trim().is_empty() {
            self.error(
                value.span(),
                format!("{context}: `{key}` is empty; leave it out instead"),
            );
            return None;
        }
        Some(value.into_inner())
    }

    fn credential(
        &mut self,
        c: RawCredential,
        defaults: &Defaults,
        reserved: &BTreeSet<String>,
        base: &Path,
        vault_sources: &[String],
    ) -> Option<InventoryEntry> {
        let name = c.name.get_ref().clone();
        let context = format!("credential `{name}`");
        if name.is_empty() {
            self.error(c.name.span(), "credential: `name` is empty".into());
        }
        let declares = c.minted_at.is_some() || c.expires_at.is_some();
        let value = self.value_spec(&c, &context, declares, base, vault_sources);
        let pool = self.non_empty(c.pool, &context, "pool");
        let labels = self.labels(c.labels, &context, reserved);
        let ttl = self.duration_or(&c.ttl, &context, "ttl", defaults.ttl);
        let thresholds = self.thresholds_from(
            &c.warn_before,
            &c.critical_before,
            defaults.thresholds,
            &context,
        );

        let mut ok = value.is_ok();
        let value = value.unwrap_or(None);
        let declared = match (&c.minted_at, &c.expires_at) {
            (Some(_), Some(expires)) => {
                self.error(
                    expires.span(),
                    format!(
                        "{context}: give either `minted_at` (with `ttl`) or `expires_at`, not both"
                    ),
                );
                ok = false;
                None
            }
            (None, None) => {
                if value.as_ref().is_none_or(|v| v.derive.is_none()) && ok {
                    // (A vault value always has a way to its expiry: the metadata.)
                    self.error(
                        c.name.span(),
                        format!(
                            "{context}: needs `minted_at` (the expiry is minted_at + ttl, {} by default), `expires_at`, or a value holding a JWT or certificate (`file` or `env`)",
                            time::format_duration(defaults.ttl)
                        ),
                    );
                    ok = false;
                }
                None
            }
            (None, Some(expires)) => {
                if let Some(ttl) = &c.ttl {
                    self.error(
                        ttl.span(),
                        format!("{context}: `ttl` applies to `minted_at` only; with `expires_at` leave it out"),
                    );
                }
                let t = self.timestamp(expires, &context, "expires_at");
                ok &= t.is_some();
                t.map(|expires_at| Evidence::declared(None, expires_at, Basis::ExpiresAt))
            }
            (Some(minted), None) => match self.timestamp(minted, &context, "minted_at") {
                None => {
                    ok = false;
                    None
                }
                Some(minted_at) => match time::add(minted_at, ttl) {
                    Ok(expires_at) => Some(Evidence::declared(
                        Some(minted_at),
                        expires_at,
                        Basis::MintedAtPlusTtl,
                    )),
                    Err(e) => {
                        self.error(minted.span(), format!("{context}: {e}"));
                        ok = false;
                        None
                    }
                },
            },
        };
        if !ok {
            return None;
        }
        Some(InventoryEntry {
            credential: Credential {
                name,
                pool,
                source: INVENTORY_SOURCE.into(),
                labels,
                runbook: c.runbook,
                thresholds,
            },
            declared,
            value,
        })
    }

    fn source(
        &mut self,
        s: RawSource,
        defaults: &Defaults,
        reserved: &BTreeSet<String>,
        base: &Path,
    ) -> Option<Source> {
        match s.kind.get_ref().as_str() {
            "directory" => {}
            "vault" => {
                return self
                    .vault_source(s, defaults, reserved, base)
                    .map(|v| Source::Vault(Box::new(v)));
            }
            other => {
                self.error(
                    s.kind.span(),
                    format!("source: unknown `kind` `{other}`; expected `directory` or `vault`"),
                );
                return None;
            }
        }
        let vault_keys: [(&str, bool); 16] = [
            ("field", s.field.is_some()),
            ("format", s.format.is_some()),
            ("address", s.address.is_some()),
            ("namespace", s.namespace.is_some()),
            ("ca_file", s.ca_file.is_some()),
            ("mount", s.mount.is_some()),
            ("paths", s.paths.is_some()),
            ("prefix", s.prefix.is_some()),
            ("include", s.include.is_some()),
            ("exclude", s.exclude.is_some()),
            ("concurrency", s.concurrency.is_some()),
            ("timeout", s.timeout.is_some()),
            ("retries", s.retries.is_some()),
            ("auth", s.auth.is_some()),
            ("expires_at_key", s.expires_at_key.is_some()),
            ("minted_at_key", s.minted_at_key.is_some()),
        ];
        if let Some((key, _)) = vault_keys.iter().find(|(_, set)| *set) {
            self.error(
                s.kind.span(),
                format!("source: `{key}` applies to `vault` sources, not to `directory` ones"),
            );
            return None;
        }
        let name = self
            .non_empty(s.name, "source", "name")
            .unwrap_or_else(|| "directory".into());
        let context = format!("source `{name}`");
        let Some(path) = s.path else {
            self.error(
                s.kind.span(),
                format!(
                    "{context}: a `directory` source needs `path` (the mounted ConfigMap directory)"
                ),
            );
            return None;
        };
        let content = match s.content.as_ref().map(|c| c.get_ref().as_str()) {
            None | Some("expires_at") => DirectoryContent::ExpiresAt,
            Some("minted_at") => DirectoryContent::MintedAt,
            Some(other) => {
                let span = s.content.as_ref().map_or(0..0, Spanned::span);
                self.error(
                    span,
                    format!("{context}: `content`: expected `expires_at` or `minted_at`, found `{other}`"),
                );
                DirectoryContent::ExpiresAt
            }
        };
        if content == DirectoryContent::ExpiresAt
            && let Some(ttl) = &s.ttl
        {
            self.error(
                ttl.span(),
                format!("{context}: `ttl` applies only with `content = \"minted_at\"`"),
            );
        }
        let ttl = self.duration_or(&s.ttl, &context, "ttl", defaults.ttl);
        let pool = self.non_empty(s.pool, &context, "pool");
        let labels = self.labels(s.labels, &context, reserved);
        let thresholds = self.thresholds_from(
            &s.warn_before,
            &s.critical_before,
            defaults.thresholds,
            &context,
        );
        Some(Source::Directory(DirectorySource {
            name,
            path: base.join(path.get_ref()),
            content,
            ttl,
            pool,
            labels,
            runbook: s.runbook,
            thresholds,
        }))
    }

    fn vault_source(
        &mut self,
        s: RawSource,
        defaults: &Defaults,
        reserved: &BTreeSet<String>,
        base: &Path,
    ) -> Option<VaultSource> {
        for (key, set) in [("path", s.path.is_some()), ("content", s.content.is_some())] {
            if set {
                self.error(
                    s.kind.span(),
                    format!("source: `{key}` applies to `directory` sources; a `vault` source takes `paths` and/or `prefix`"),
                );
                return None;
            }
        }
        let name = self
            .non_empty(s.name, "source", "name")
            .unwrap_or_else(|| "vault".into());
        let context = format!("source `{name}`");
        let address = match s.address {
            None => None,
            Some(a) => match check_url(a.get_ref()) {
                Ok(u) => Some(u),
                Err(e) => {
                    self.error(a.span(), format!("{context}: `address`: {e}"));
                    None
                }
            },
        };
        let mount = match s.mount {
            None => "secret".to_string(),
            Some(m) => {
                let trimmed = m.get_ref().trim_matches('/').to_string();
                if trimmed.is_empty() {
                    self.error(m.span(), format!("{context}: `mount` is empty"));
                }
                trimmed
            }
        };
        let mut paths = Vec::new();
        for p in s.paths.unwrap_or_default() {
            let path = p.get_ref().trim_matches('/').to_string();
            if path.is_empty()
                || path
                    .split('/')
                    .any(|seg| seg.is_empty() || seg == "." || seg == "..")
            {
                self.error(
                    p.span(),
                    format!("{context}: `paths`: `{}` is not a secret path", p.get_ref()),
                );
            } else {
                paths.push(path);
            }
        }
        let prefix = s.prefix.map(|p| {
            let t = p.get_ref().trim_matches('/');
            if t.is_empty() {
                String::new()
            } else {
                format!("{t}/")
            }
        });
        if paths.is_empty() && prefix.is_none() {
            self.error(
                s.kind.span(),
                format!("{context}: a `vault` source needs `paths` (secrets to watch) and/or `prefix` (a folder to scan)"),
            );
        }
        let concurrency = match s.concurrency {
            None => 8,
            Some(c) if (1..=256).contains(c.get_ref()) => *c.get_ref() as usize,
            Some(c) => {
                self.error(
                    c.span(),
                    format!(
                        "{context}: `concurrency`: expected 1 to 256, found {}",
                        c.get_ref()
                    ),
                );
                8
            }
        };
        let retries = match s.retries {
            None => 2,
            Some(r) if (0..=10).contains(r.get_ref()) => *r.get_ref() as u32,
            Some(r) => {
                self.error(
                    r.span(),
                    format!(
                        "{context}: `retries`: expected 0 to 10, found {}",
                        r.get_ref()
                    ),
                );
                2
            }
        };
        let timeout = self.duration_or(
            &s.timeout,
            &context,
            "timeout",
            SignedDuration::from_secs(10),
        );
        let auth = match s.auth {
            None => VaultAuth::Token { token_file: None },
            Some(a) => self.vault_auth(a, &context, base)?,
        };
        // Reading the value of every secret found: for a format check and fingerprints.
        let field = s.field.filter(|f| !f.is_empty());
        let format = match &s.format {
            Some(name) => Some(self.format_profile(name, &context)?),
            None => None,
        };
        if format.is_some() && field.is_none() {
            let span = s.format.as_ref().map_or(0..0, Spanned::span);
            self.error(
                span,
                format!(
                    "{context}: `format` needs `field`, the key of each secret that holds the value"
                ),
            );
            return None;
        }
        let value = field.map(|field| SourceValue {
            fingerprint: s.pool.is_some(),
            field,
            format,
        });
        let ttl = self.duration_or(&s.ttl, &context, "ttl", defaults.ttl);
        let pool = self.non_empty(s.pool, &context, "pool");
        let labels = self.labels(s.labels, &context, reserved);
        let thresholds = self.thresholds_from(
            &s.warn_before,
            &s.critical_before,
            defaults.thresholds,
            &context,
        );
        Some(VaultSource {
            name,
            address,
            namespace: s.namespace.filter(|n| !n.is_empty()),
            ca_file: s.ca_file.map(|f| base.join(f)),
            mount,
            paths,
            prefix,
            include: s.include.unwrap_or_default(),
            exclude: s.exclude.unwrap_or_default(),
            concurrency,
            timeout,
            retries,
            auth,
            expires_at_key: s.expires_at_key.unwrap_or_else(|| "expires_at".into()),
            minted_at_key: s.minted_at_key.unwrap_or_else(|| "minted_at".into()),
            value,
            ttl,
            pool,
            labels,
            runbook: s.runbook,
            thresholds,
        })
    }

    fn vault_auth(
        &mut self,
        a: Spanned<RawVaultAuth>,
        context: &str,
        base: &Path,
    ) -> Option<VaultAuth> {
        let span = a.span();
        let a = a.into_inner();
        let method = a.method.get_ref().clone();
        let file = |f: &Option<String>| f.as_ref().map(|f| base.join(f));
        let unexpected: Vec<&str> = match method.as_str() {
            "token" => [
                ("mount", a.mount.is_some()),
                ("role", a.role.is_some()),
                ("role_id", a.role_id.is_some()),
                ("role_id_file", a.role_id_file.is_some()),
                ("secret_id_file", a.secret_id_file.is_some()),
            ]
            .iter()
            .filter(|(_, set)| *set)
            .map(|(k, _)| *k)
            .collect(),
            "approle" => [
                ("role", a.role.is_some()),
                ("token_file", a.token_file.is_some()),
            ]
            .iter()
            .filter(|(_, set)| *set)
            .map(|(k, _)| *k)
            .collect(),
            "jwt" | "kubernetes" => [
                ("role_id", a.role_id.is_some()),
                ("role_id_file", a.role_id_file.is_some()),
                ("secret_id_file", a.secret_id_file.is_some()),
            ]
            .iter()
            .filter(|(_, set)| *set)
            .map(|(k, _)| *k)
            .collect(),
            other => {
                self.error(
                    a.method.span(),
                    format!("{context}: `auth.method`: expected `token`, `approle`, `jwt` or `kubernetes`, found `{other}`"),
                );
                return None;
            }
        };
        if let Some(k) = unexpected.first() {
            self.error(
                span,
                format!("{context}: `auth.{k}` does not apply to the `{method}` method"),
            );
            return None;
        }
        match method.as_str() {
            "token" => Some(VaultAuth::Token {
                token_file: file(&a.token_file),
            }),
            "approle" => {
                let Some(secret_id_file) = file(&a.secret_id_file) else {
                    self.error(
                        span,
                        format!("{context}: the `approle` method needs `auth.secret_id_file`"),
                    );
                    return None;
                };
                if a.role_id.is_some() == a.role_id_file.is_some() {
                    self.error(span, format!("{context}: the `approle` method needs `auth.role_id` or `auth.role_id_file`"));
                    return None;
                }
                Some(VaultAuth::AppRole {
                    mount: a.mount.unwrap_or_else(|| "approle".into()),
                    role_id: a.role_id,
                    role_id_file: file(&a.role_id_file),
                    secret_id_file,
                })
            }
            _ => {
                let Some(role) = a.role.filter(|r| !r.is_empty()) else {
                    self.error(
                        span,
                        format!("{context}: the `{method}` method needs `auth.role`"),
                    );
                    return None;
                };
                let token_file = file(&a.token_file).or_else(|| {
                    (method == "kubernetes").then(|| {
                        PathBuf::from("/var/run/secrets/kubernetes.io/serviceaccount/token")
                    })
                });
                let Some(token_file) = token_file else {
                    self.error(span, format!("{context}: the `jwt` method needs `auth.token_file` (the JWT to log in with)"));
                    return None;
                };
                Some(VaultAuth::Jwt {
                    mount: a.mount.unwrap_or_else(|| method.clone()),
                    method,
                    role,
                    token_file,
                })
            }
        }
    }

    fn alerts(&mut self, raw: RawAlerts) -> Alerts {
        let hours = |h| SignedDuration::from_hours(h);
        let mins = |m| SignedDuration::from_mins(m);
        let prefix = match raw.prefix {
            None => "Credwatch".to_string(),
            Some(p) if is_alert_name(p.get_ref()) => p.into_inner(),
            Some(p) => {
                self.error(
                    p.span(),
                    format!(
                        "alerts: `prefix`: `{}` cannot start an alert name (letters, digits and `_`, not starting with a digit)",
                        p.get_ref()
                    ),
                );
                "Credwatch".into()
            }
        };
        let warning_severity = self
            .non_empty(raw.warning_severity, "alerts", "warning_severity")
            .unwrap_or_else(|| "warning".into());
        let critical_severity = self
            .non_empty(raw.critical_severity, "alerts", "critical_severity")
            .unwrap_or_else(|| "critical".into());
        let run_interval = self.duration_or(&raw.run_interval, "alerts", "run_interval", hours(6));
        let stale_after =
            self.duration_or(&raw.stale_after, "alerts", "stale_after", run_interval * 8);
        if let Some(span) = &raw.stale_after
            && stale_after <= run_interval
        {
            self.error(
                span.span(),
                format!(
                    "alerts: `stale_after` ({}) must be longer than `run_interval` ({}), or every run would look stale",
                    time::format_duration(stale_after),
                    time::format_duration(run_interval)
                ),
            );
        }
        let mut reserved: BTreeSet<String> = ["alertname", "severity"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        reserved.extend(RESERVED_LABELS.iter().map(|s| s.to_string()));
        let labels = self.labels(raw.labels, "alerts", &reserved);
        Alerts {
            prefix,
            warning_severity,
            critical_severity,
            run_interval,
            stale_after,
            expiring_for: self.duration_or(&raw.expiring_for, "alerts", "expiring_for", hours(1)),
            critical_for: self.duration_or(&raw.critical_for, "alerts", "critical_for", mins(10)),
            unknown_for: self.duration_or(&raw.unknown_for, "alerts", "unknown_for", hours(1)),
            stale_for: self.duration_or(&raw.stale_for, "alerts", "stale_for", mins(10)),
            never_ran_for: self.duration_or(
                &raw.never_ran_for,
                "alerts",
                "never_ran_for",
                hours(2),
            ),
            push_failing_for: self.duration_or(
                &raw.push_failing_for,
                "alerts",
                "push_failing_for",
                mins(15),
            ),
            runbook: raw.runbook,
            labels,
        }
    }

    fn metrics(&mut self, raw: &RawMetrics) -> MetricNames {
        let mut names = MetricNames::default();
        for (value, slot) in [
            (&raw.expiry_metric, &mut names.expiry),
            (&raw.last_success_metric, &mut names.last_success),
        ] {
            if let Some(v) = value {
                if is_metric_name(v.get_ref()) {
                    *slot = v.get_ref().clone();
                } else {
                    self.error(
                        v.span(),
                        format!(
                            "metrics: `{}` is not a valid Prometheus metric name (letters, digits, `_` and `:`, not starting with a digit)",
                            v.get_ref()
                        ),
                    );
                }
            }
        }
        if let Some(v) = &raw.credential_label {
            match check_label_name(v.get_ref()) {
                Ok(()) if RESERVED_LABELS.contains(&v.get_ref().as_str()) => self.error(
                    v.span(),
                    format!(
                        "metrics: `credential_label`: `{}` is a label credwatch sets itself",
                        v.get_ref()
                    ),
                ),
                Ok(()) => names.credential_label = v.get_ref().clone(),
                Err(e) => self.error(v.span(), format!("metrics: `credential_label`: {e}")),
            }
        }
        if names.expiry == names.last_success {
            let span = raw.last_success_metric.as_ref().map_or(0..0, Spanned::span);
            self.error(
                span,
                "metrics: the expiry and last-success metrics need different names".into(),
            );
        }
        names.extra_series = raw.extra_series.unwrap_or(true);
        names
    }

    fn pushgateway(&mut self, raw: RawPushgateway, base: &Path) -> Pushgateway {
        let url = match check_url(raw.url.get_ref()) {
            Ok(u) => u,
            Err(e) => {
                self.error(raw.url.span(), format!("pushgateway: `url`: {e}"));
                String::new()
            }
        };
        let job = self
            .non_empty(raw.job, "pushgateway", "job")
            .unwrap_or_else(|| "credwatch".into());
        let mut grouping = BTreeMap::new();
        if let Some(g) = raw.grouping {
            let span = g.span();
            for (k, v) in g.into_inner() {
                if let Err(e) = check_label_name(&k) {
                    self.error(span.clone(), format!("pushgateway: `grouping`: {e}"));
                } else if k == "job" {
                    self.error(
                        span.clone(),
                        "pushgateway: `grouping`: set the job with `job`, not as a grouping label"
                            .into(),
                    );
                } else {
                    grouping.insert(k, v);
                }
            }
        }
        let timeout = self.duration_or(
            &raw.timeout,
            "pushgateway",
            "timeout",
            SignedDuration::from_secs(30),
        );
        let retries = match raw.retries {
            None => 3,
            Some(r) if (0..=10).contains(r.get_ref()) => *r.get_ref() as u32,
            Some(r) => {
                self.error(
                    r.span(),
                    format!(
                        "pushgateway: `retries`: expected 0 to 10, found {}",
                        r.get_ref()
                    ),
                );
                3
            }
        };
        Pushgateway {
            url,
            job,
            grouping,
            timeout,
            retries,
            username: raw.username,
            password_file: raw.password_file.map(|p| base.join(p)),
            token_file: raw.token_file.map(|p| base.join(p)),
        }
    }
}

/// Checks a Prometheus label name: `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__`.
pub fn check_label_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let valid = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(format!(
            "`{name}` is not a valid Prometheus label name (letters, digits and `_`, not starting with a digit)"
        ));
    }
    if name.starts_with("__") {
        return Err(format!(
            "`{name}` starts with `__`, which Prometheus reserves for itself"
        ));
    }
    Ok(())
}

/// Checks an alert name (prefix): `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_alert_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Checks a Prometheus metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Checks a Pushgateway base URL and returns it without a trailing slash. Credentials inside the
/// URL are refused: they would end up in logs and process listings.
pub fn check_url(url: &str) -> Result<String, String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| format!("expected an http:// or https:// URL, found `{url}`"))?;
    let authority = rest.split('/').next().unwrap_or("");
    if authority.is_empty() {
        return Err(format!("`{url}` has no host"));
    }
    if authority.contains('@') {
        return Err(
            "credentials in the URL are not allowed; use the username/password or token settings"
                .into(),
        );
    }
    if rest.contains('?') || rest.contains('#') {
        return Err(format!(
            "`{url}` has a query or fragment; give the base URL only"
        ));
    }
    Ok(url.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        parse_config(text, Path::new("/etc/credwatch/credwatch.toml"))
    }

    /// The one problem a config has, as `line:column: message`.
    fn only_error(text: &str) -> String {
        let err = parse(text).expect_err("config should be rejected");
        assert_eq!(err.problems.len(), 1, "{err}");
        let p = &err.problems[0];
        format!("{}:{}: {}", p.line, p.column, p.message)
    }

    #[test]
    fn a_full_config_validates() {
        let config = parse(
            r#"
[defaults]
ttl = "90d"
warn_before = "14d"
critical_before = "3d"

[pushgateway]
url = "http://pg.monitoring:9091/"
job = "creds"
grouping = { cluster = "eu/1" }
timeout = "10s"
retries = 2

[metrics]
expiry_metric = "claude_oauth_token_expiry_timestamp"
credential_label = "path"

[[credential]]
name = "primary"
pool = "agent"
minted_at = "2026-04-18T12:07:09Z"
labels = { team = "platform" }
runbook = "https://runbooks.example/rotate"

[[credential]]
name = "pat"
expires_at = 1808064429
warn_before = "45d"

[[credential]]
name = "cert"
minted_at = 2026-01-01T00:00:00Z
ttl = "1d12h"

[[source]]
kind = "directory"
name = "cm"
path = "expiry"
content = "minted_at"
"#,
        )
        .unwrap();
        assert_eq!(config.defaults.ttl, SignedDuration::from_hours(90 * 24));
        let pg = config.pushgateway.as_ref().unwrap();
        assert_eq!(pg.url, "http://pg.monitoring:9091");
        assert_eq!(pg.grouping["cluster"], "eu/1");
        assert_eq!(pg.retries, 2);
        assert_eq!(config.metrics.credential_label, "path");
        assert_eq!(
            config.metrics.last_success,
            "credwatch_last_success_timestamp_seconds"
        );

        let [primary, pat, cert] = &config.inventory[..] else {
            panic!("three entries")
        };
        assert_eq!(
            primary
                .declared
                .as_ref()
                .unwrap()
                .minted_at
                .unwrap()
                .as_second(),
            1_776_514_029
        );
        assert_eq!(
            primary
                .declared
                .as_ref()
                .unwrap()
                .expires_at
                .unwrap()
                .as_second(),
            1_776_514_029 + 90 * 86_400
        );
        assert_eq!(
            primary.declared.as_ref().unwrap().basis,
            Basis::MintedAtPlusTtl
        );
        assert_eq!(
            primary.credential.thresholds.warn_before,
            SignedDuration::from_hours(14 * 24)
        );
        assert_eq!(primary.credential.labels["team"], "platform");
        assert_eq!(
            pat.declared
                .as_ref()
                .unwrap()
                .expires_at
                .unwrap()
                .as_second(),
            1_808_064_429
        );
        assert_eq!(pat.declared.as_ref().unwrap().basis, Basis::ExpiresAt);
        assert_eq!(
            pat.credential.thresholds.warn_before,
            SignedDuration::from_hours(45 * 24)
        );
        assert_eq!(
            pat.credential.thresholds.critical_before,
            SignedDuration::from_hours(3 * 24)
        );
        assert_eq!(
            cert.declared
                .as_ref()
                .unwrap()
                .expires_at
                .unwrap()
                .as_second(),
            1_767_225_600 + 36 * 3600
        );

        let [Source::Directory(d)] = &config.sources[..] else {
            panic!("one source")
        };
        assert_eq!(d.path, Path::new("/etc/credwatch/expiry"));
        assert_eq!(d.content, DirectoryContent::MintedAt);
        assert_eq!(d.ttl, SignedDuration::from_hours(90 * 24));
    }

    #[test]
    fn defaults_are_a_year_thirty_days_and_seven_days() {
        let config = parse("").unwrap();
        assert_eq!(config.defaults.ttl.as_secs(), 365 * 86_400);
        assert_eq!(
            config.defaults.thresholds.warn_before.as_secs(),
            30 * 86_400
        );
        assert_eq!(
            config.defaults.thresholds.critical_before.as_secs(),
            7 * 86_400
        );
        assert!(config.pushgateway.is_none());
        assert_eq!(config.metrics, MetricNames::default());
    }

    #[test]
    fn each_error_names_its_line_column_key_and_expectation() {
        let cases: &[(&str, &str)] = &[
            (
                "[defaults]\nttl = \"0d\"\n",
                "2:7: defaults: `ttl`: expected a positive duration, found `0d`",
            ),
            (
                "[defaults]\nwarn_before = \"-3d\"\n",
                "2:15: defaults: `warn_before`: expected a positive duration",
            ),
            (
                "[defaults]\nttl = 365\n",
                "2:7: defaults: `ttl`: expected a duration string",
            ),
            (
                "[defaults]\nttl = \"1y\"\n",
                "2:7: defaults: `ttl`: expected a duration such as",
            ),
            ("[defaulds]\n", "1:2: unknown field `defaulds`"),
            (
                "[credential]\nname = \"a\"\nminted_at = 1\n",
                "1:1: invalid type: map, expected a sequence; `[[credential]]`, `[[source]]` and `[[format]]` take double brackets",
            ),
            (
                "[[credential]]\nname = \"a\"\nminted_at = 1\nexpire_at = 2\n",
                "4:1: unknown field `expire_at`, expected one of",
            ),
            (
                "[[credential]]\nname = \"a\"\n",
                "2:8: credential `a`: needs `minted_at` (the expiry is minted_at + ttl, 365d by default), `expires_at`, or a value holding a JWT or certificate (`file` or `env`)",
            ),
            (
                "[[credential]]\nname = \"a\"\nminted_at = 1776528429\nexpires_at = 1808064429\n",
                "4:14: credential `a`: give either `minted_at` (with `ttl`) or `expires_at`, not both",
            ),
            (
                "[[credential]]\nname = \"a\"\nminted_at = \"yesterday\"\n",
                "3:13: credential `a`: `minted_at`: expected an RFC 3339 time with an offset",
            ),
            (
                "[[credential]]\nname = \"a\"\nexpires_at = 2027-01-01T00:00:00\n",
                "3:14: credential `a`: `expires_at`: expected a full date and time with an offset",
            ),
            (
                "[[credential]]\nname = \"a\"\nexpires_at = 2027-01-01\n",
                "3:14: credential `a`: `expires_at`: expected a full date and time with an offset",
            ),
            (
                "[[credential]]\nname = \"a\"\nexpires_at = true\n",
                "3:14: credential `a`: `expires_at`: expected an RFC 3339 time",
            ),
            (
                "[[credential]]\nname = \"a\"\nexpires_at = -5\n",
                "3:14: credential `a`: `expires_at`: expected unix seconds after 1970-01-01",
            ),
            (
                "[[credential]]\nname = \"a\"\nexpires_at = 1808064429\nttl = \"30d\"\n",
                "4:7: credential `a`: `ttl` applies to `minted_at` only",
            ),
            (
                "[[credential]]\nname = \"a\"\nminted_at = 1\n[[credential]]\nname = \"a\"\nminted_at = 2\n",
                "5:8: credential `a`: duplicate name (first defined on line 2)",
            ),
            (
                "[[credential]]\nname = \"a\"\nminted_at = 1\nlabels = { \"team-x\" = \"p\" }\n",
                "4:10: credential `a`: `labels`: `team-x` is not a valid Prometheus label name",
            ),
            (
                "[[credential]]\nname = \"a\"\nminted_at = 1\nlabels = { __meta = \"p\" }\n",
                "4:10: credential `a`: `labels`: `__meta` starts with `__`",
            ),
            (
                "[[credential]]\nname = \"a\"\nminted_at = 1\nlabels = { source = \"p\" }\n",
                "4:10: credential `a`: `labels`: `source` is a label credwatch sets itself",
            ),
            (
                "[[credential]]\nname = \"a\"\nminted_at = 1\nlabels = { credential = \"p\" }\n",
                "4:10: credential `a`: `labels`: `credential` is a label credwatch sets itself",
            ),
            (
                "[metrics]\ncredential_label = \"path\"\n[[credential]]\nname = \"a\"\nminted_at = 1\nlabels = { path = \"p\" }\n",
                "6:10: credential `a`: `labels`: `path` is a label credwatch sets itself",
            ),
            (
                "[pushgateway]\nurl = \"http://pg\"\ngrouping = { team = \"x\" }\n[[credential]]\nname = \"a\"\nminted_at = 1\nlabels = { team = \"p\" }\n",
                "7:10: credential `a`: `labels`: `team` is a label credwatch sets itself",
            ),
            (
                "[[credential]]\nname = \"a\"\nminted_at = 1\npool = \"\"\n",
                "4:8: credential `a`: `pool` is empty",
            ),
            (
                "[[credential]]\nname = \"a\"\nminted_at = 1\nwarn_before = \"5d\"\n",
                "4:15: credential `a`: `critical_before` (7d) is longer than `warn_before` (5d)",
            ),
            (
                "[pushgateway]\nurl = \"pg:9091\"\n",
                "2:7: pushgateway: `url`: expected an http:// or https:// URL",
            ),
            (
                "[pushgateway]\nurl = \"http://user:pw@pg:9091\"\n",
                "2:7: pushgateway: `url`: credentials in the URL are not allowed",
            ),
            (
                "[pushgateway]\nurl = \"http://pg\"\nretries = 99\n",
                "3:11: pushgateway: `retries`: expected 0 to 10",
            ),
            (
                "[pushgateway]\nurl = \"http://pg\"\ngrouping = { job = \"x\" }\n",
                "3:12: pushgateway: `grouping`: set the job with `job`",
            ),
            (
                "[metrics]\nexpiry_metric = \"my-metric\"\n",
                "2:17: metrics: `my-metric` is not a valid Prometheus metric name",
            ),
            (
                "[metrics]\ncredential_label = \"1x\"\n",
                "2:20: metrics: `credential_label`: `1x` is not a valid",
            ),
            (
                "[[source]]\nkind = \"vaultt\"\n",
                "2:8: source: unknown `kind` `vaultt`; expected `directory` or `vault`",
            ),
            (
                "[[source]]\nkind = \"directory\"\n",
                "2:8: source `directory`: a `directory` source needs `path`",
            ),
            (
                "[[source]]\nkind = \"directory\"\npath = \"x\"\ncontent = \"expiry\"\n",
                "4:11: source `directory`: `content`: expected `expires_at` or `minted_at`, found `expiry`",
            ),
            (
                "[[source]]\nkind = \"directory\"\npath = \"x\"\n[[source]]\nkind = \"directory\"\npath = \"y\"\n",
                "5:8: source `directory`: duplicate source name",
            ),
            (
                "[[credential]]\nname = \"a\"\nfile = \"t\"\nenv = \"T\"\n",
                "4:7: credential `a`: give one place for the value, not `file` and `env`",
            ),
            (
                "[[credential]]\nname = \"a\"\nminted_at = 1\nfile = \"t\"\nformat = \"claude\"\n",
                "5:10: credential `a`: `format`: unknown format `claude`; expected one of `claude-oauth`, `github-fine-grained-pat`, `jwt`, `pem-certificate`",
            ),
            (
                "[[credential]]\nname = \"a\"\nminted_at = 1\nformat = \"jwt\"\n",
                "4:10: credential `a`: `format` needs the value: set `file` or `env`",
            ),
            (
                "[[credential]]\nname = \"a\"\nminted_at = 1\nfile = \"t\"\nexpiry_from = \"jwt\"\n",
                "5:15: credential `a`: `expiry_from` takes the expiry from the value; leave out `minted_at`/`expires_at`",
            ),
            (
                "[[credential]]\nname = \"a\"\nfile = \"t\"\nexpiry_from = \"cert\"\n",
                "4:15: credential `a`: `expiry_from`: expected `value`, `jwt` or `x509`, found `cert`",
            ),
            (
                "[[credential]]\nname = \"a\"\nfile = \"t\"\nchain = \"root\"\n",
                "4:9: credential `a`: `chain`: expected `leaf` or `earliest`, found `root`",
            ),
            (
                "[[credential]]\nname = \"a\"\nfile = \"t\"\nformat = \"jwt\"\nchain = \"earliest\"\n",
                "5:9: credential `a`: `chain` applies to expiries read from certificates",
            ),
            (
                "[[format]]\nname = \"acme\"\nmin_length = 40\nmax_length = 20\n",
                "2:8: format `acme`: ",
            ),
            (
                "[[format]]\nname = \"acme\"\npattern = \"([a-z\"\n",
                "2:8: format `acme`: ",
            ),
            (
                "[[format]]\nname = \"acme\"\nmin_length = 0\n",
                "3:14: format `acme`: `min_length` must be a positive number",
            ),
            (
                "[[source]]\nkind = \"vault\"\nprefix = \"a\"\nformat = \"claude-oauth\"\n",
                "4:10: source `vault`: `format` needs `field`",
            ),
            (
                "[[source]]\nkind = \"directory\"\npath = \"x\"\nfield = \"token\"\n",
                "2:8: source: `field` applies to `vault` sources, not to `directory` ones",
            ),
            (
                "[[source]]\nkind = \"vault\"\n",
                "2:8: source `vault`: a `vault` source needs `paths` (secrets to watch) and/or `prefix`",
            ),
            (
                "[[source]]\nkind = \"vault\"\nprefix = \"a\"\nauth = { method = \"approle\", role_id = \"r\" }\n",
                "4:8: source `vault`: the `approle` method needs `auth.secret_id_file`",
            ),
            (
                "[[source]]\nkind = \"vault\"\nprefix = \"a\"\nauth = { method = \"ldap\" }\n",
                "4:19: source `vault`: `auth.method`: expected `token`, `approle`, `jwt` or `kubernetes`, found `ldap`",
            ),
            (
                "[[credential]]\nname = \"a\"\nvault = { path = \"x\" }\n",
                "3:9: credential `a`: `vault` needs a `[[source]] kind = \"vault\"`",
            ),
            (
                "[[source]]\nkind = \"vault\"\nprefix = \"a\"\n[[credential]]\nname = \"a\"\nvault = { path = \"x\" }\nformat = \"jwt\"\n",
                "6:9: credential `a`: reading this value (format check, JWT or certificate) needs `vault.field`",
            ),
            (
                "[[source]]\nkind = \"directory\"\nname = \"inventory\"\npath = \"x\"\n",
                "3:8: source `inventory`: duplicate source name",
            ),
        ];
        for (text, wanted) in cases {
            let got = only_error(text);
            assert!(
                got.starts_with(wanted),
                "config:\n{text}\nwanted: {wanted}\n   got: {got}"
            );
        }
    }

    #[test]
    fn every_problem_is_reported_at_once_with_its_line() {
        let err = parse("[defaults]\nttl = \"0d\"\n[[credential]]\nname = \"a\"\n[[credential]]\nname = \"b\"\nminted_at = \"x\"\n")
            .unwrap_err();
        let lines: Vec<usize> = err.problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, [2, 4, 7]);
        let text = err.to_string();
        assert!(
            text.starts_with("/etc/credwatch/credwatch.toml:2:7: defaults: `ttl`"),
            "{text}"
        );
        assert!(text.contains("\n     7 | minted_at = \"x\""), "{text}");
    }

    #[test]
    fn values_choose_how_the_expiry_is_known() {
        let config = parse(
            r#"
[[format]]
name = "acme-key"
prefix = "acme_"
min_length = 20
max_length = 20

[[credential]]
name = "token"
minted_at = 1776528429
file = "secrets/token"
format = "claude-oauth"

[[credential]]
name = "jwt"
env = "SERVICE_JWT"

[[credential]]
name = "cert"
file = "tls.crt"
format = "pem-certificate"
chain = "earliest"

[[credential]]
name = "key"
expires_at = 1808064429
env = "ACME_KEY"
format = "acme-key"
"#,
        )
        .unwrap();
        let [token, jwt, cert, key] = &config.inventory[..] else {
            panic!("four entries")
        };
        let v = token.value.as_ref().unwrap();
        assert_eq!(
            v.from,
            ValueFrom::File(PathBuf::from("/etc/credwatch/secrets/token"))
        );
        assert_eq!(v.format.as_ref().unwrap().name, "claude-oauth");
        assert_eq!(v.derive, None);
        assert!(token.declared.is_some());
        let v = jwt.value.as_ref().unwrap();
        assert_eq!(v.from, ValueFrom::Env("SERVICE_JWT".into()));
        assert_eq!(v.derive, Some(Derive::Detect { earliest: false }));
        assert!(jwt.declared.is_none());
        assert_eq!(
            cert.value.as_ref().unwrap().derive,
            Some(Derive::X509 { earliest: true })
        );
        assert_eq!(
            key.value.as_ref().unwrap().format.as_ref().unwrap().name,
            "acme-key"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// Any text at all gets a config or an error, never a panic.
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
            let _ = parse(&text);
        }

        /// Near-valid configs, with values mutated into every odd shape.
        #[test]
        fn odd_values_never_panic(
            key in proptest::sample::select(vec!["minted_at", "expires_at", "ttl", "warn_before", "critical_before", "pool", "labels", "file", "env", "format", "chain", "expiry_from"]),
            value in proptest::sample::select(vec!["\"\"", "0", "-1", "9223372036854775807", "1e400", "\"99999999999999999999d\"", "\"1d-2h\"", "{}", "[]", "true", "1979-05-27", "\"\\u0000\"", "{ \"\" = \"\" }", "\"2026-04-18T12:07:09+25:00\""]),
            pool_kind in proptest::sample::select(vec!["directory", "", "vault"]),
        ) {
            let text = format!("[[credential]]\nname = \"a\"\n{key} = {value}\n\n[[source]]\nkind = \"{pool_kind}\"\npath = \"x\"\n");
            let _ = parse(&text);
        }
    }
}
