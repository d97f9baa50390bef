//! `credwatch.toml` → a validated [`Config`]. Pure: [`parse_config`] takes the file's text.
//!
//! This file owns the validated types, the only ones that leave the module, and the entry
//! points. The stage inside, in the order data flows:
//!
//! - [`raw`]: serde types that mirror the file and keep the byte span of every value;
//!   [`split`] parses a large inventory one `[[credential]]` section at a time;
//! - `validate/`: raw → validated, one file per table or kind (`validate/mod.rs` lists them);
//!   every problem found is reported at once, not just the first;
//! - [`diagnostics`]: [`ConfigError`], each problem with its file, line, column and key.
//!
//! A new `[[source]]` kind takes its type and a [`SourceKind`] variant here, its validation in
//! `validate/<kind>.rs` with a line in the registry `validate::source::KINDS`, and its reader in
//! `sources/<kind>.rs`.

mod diagnostics;
mod raw;
mod split;
mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jiff::SignedDuration;

use crate::credential::{Credential, Evidence, PoolPolicy, Thresholds};
use crate::decode::format::FormatProfile;
use crate::vault::auth::Auth;

pub use diagnostics::{ConfigError, Problem};
pub use validate::names::{check_label_name, check_url, is_alert_name, is_metric_name};

/// The `source` label of credentials declared inline with `[[credential]]`.
pub const INVENTORY_SOURCE: &str = "inventory";

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
    /// `[[consumer]]`: copies of stored credentials where they are used.
    pub consumers: Vec<Consumer>,
    /// `[prometheus] url`: where `rotate --wait` asks what the consumers report.
    pub prometheus_url: Option<String>,
}

/// A copy of a stored credential as a workload sees it (`[[consumer]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumer {
    /// The stored credential it is a copy of (the `credential` label of the store's series).
    pub credential: String,
    /// Where the copy is: an environment variable or a file (never Vault).
    pub from: ValueFrom,
    /// Who holds it; `None`: `$POD_NAME`, else `$HOSTNAME`, at run time.
    pub name: Option<String>,
}

impl Config {
    /// The `[[credential]]` named `name`.
    pub fn entry(&self, name: &str) -> Option<&InventoryEntry> {
        self.inventory.iter().find(|e| e.credential.name == name)
    }

    /// The `[[credential]]` a `--from` flag names, or why there is none.
    pub fn spare(&self, name: &str) -> Result<&InventoryEntry, String> {
        self.entry(name)
            .ok_or_else(|| format!("--from: no [[credential]] named `{name}`"))
    }
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
    /// Boxed, as `probe`: an entry that only declares its expiry keeps a pointer, not the room.
    pub value: Option<Box<ValueSpec>>,
    /// Ask the issuer whether the value works (and when it expires), if configured.
    pub probe: Option<Box<crate::probe::ProbeSpec>>,
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
    /// An OpenSSH certificate's `valid before` (and `valid after` as mint time).
    Ssh,
    /// Whichever of the three the value turns out to be.
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
                Some(Derive::Jwt | Derive::X509 { .. } | Derive::Ssh | Derive::Detect { .. })
            )
    }
}

/// A `[[source]]`: the keys every kind has, and what its kind adds.
#[derive(Debug, Clone)]
pub struct Source {
    pub common: SourceCommon,
    pub kind: SourceKind,
}

impl Source {
    pub fn name(&self) -> &str {
        &self.common.name
    }

    pub fn runbook(&self) -> Option<&str> {
        self.common.runbook.as_deref()
    }

    pub fn thresholds(&self) -> Thresholds {
        self.common.thresholds
    }
}

/// The keys every source kind has (validated once, in `validate/source.rs`); every credential
/// the source finds carries them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceCommon {
    pub name: String,
    /// Lifetime from a mint time (a directory's `minted_at` content, a vault secret's
    /// `minted_at` or `created_time`).
    pub ttl: SignedDuration,
    pub pool: Option<String>,
    pub labels: crate::credential::Labels,
    pub runbook: Option<String>,
    pub thresholds: Thresholds,
}

impl SourceCommon {
    /// The credential named `name` that this source found.
    pub fn credential(&self, name: String) -> Credential {
        Credential {
            name,
            pool: self.pool.clone(),
            source: self.name.clone(),
            labels: self.labels.clone(),
            runbook: self.runbook.clone(),
            thresholds: self.thresholds,
        }
    }
}

/// What a source's kind adds to the common keys. Each kind has its validation in
/// `config/validate/<kind>.rs` (listed in the registry `validate::source::KINDS`) and its reader
/// in `sources/<kind>.rs`.
#[derive(Debug, Clone)]
pub enum SourceKind {
    Directory(DirectorySource),
    Vault(Box<VaultSource>),
    Approle(Box<ApproleSource>),
    VaultToken(Box<VaultTokenSource>),
}

impl SourceKind {
    /// The `kind` value in the file.
    pub fn name(&self) -> &'static str {
        match self {
            SourceKind::Directory(_) => DirectorySource::KIND,
            SourceKind::Vault(_) => VaultSource::KIND,
            SourceKind::Approle(_) => ApproleSource::KIND,
            SourceKind::VaultToken(_) => VaultTokenSource::KIND,
        }
    }

    pub fn as_vault(&self) -> Option<&VaultSource> {
        match self {
            SourceKind::Vault(v) => Some(v),
            SourceKind::Directory(_) | SourceKind::Approle(_) | SourceKind::VaultToken(_) => None,
        }
    }

    /// The directory a pod must mount for this source (a ConfigMap), if it reads one.
    pub fn mounted_directory(&self) -> Option<&Path> {
        match self {
            SourceKind::Directory(d) => Some(&d.path),
            // Vault is reached over the network; nothing to mount.
            SourceKind::Vault(_) | SourceKind::Approle(_) | SourceKind::VaultToken(_) => None,
        }
    }

    /// Files besides its directory that the source reads and a pod must be given, each with the
    /// key that names it (`` `ca_file` ``, `auth`). The pod's own service-account token is not
    /// among them: Kubernetes mounts it.
    pub fn pod_files(&self) -> Vec<(&Path, &'static str)> {
        self.vault_reach()
            .map_or_else(Vec::new, |reach| reach.pod_files())
    }

    /// How the source reaches Vault/OpenBao, for every kind that does (`vault`,
    /// `vault-approle`, `vault-token`).
    pub fn vault_reach(&self) -> Option<VaultReach<'_>> {
        let (address, ca_file, auth) = match self {
            SourceKind::Directory(_) => return None,
            SourceKind::Vault(v) => (&v.address, &v.ca_file, &v.auth),
            SourceKind::Approle(a) => (
                &a.connection.address,
                &a.connection.ca_file,
                &a.connection.auth,
            ),
            SourceKind::VaultToken(t) => (
                &t.connection.address,
                &t.connection.ca_file,
                &t.connection.auth,
            ),
        };
        Some(VaultReach {
            address: address.as_deref(),
            ca_file: ca_file.as_deref(),
            auth: auth.as_ref(),
        })
    }

    /// The `kind` values of the sources that reach Vault/OpenBao.
    pub const VAULT_KINDS: [&str; 3] = [
        VaultSource::KIND,
        ApproleSource::KIND,
        VaultTokenSource::KIND,
    ];

    /// True when the source logs in with the pod's service-account token (Kubernetes auth), so
    /// that the pod must have one mounted.
    pub fn uses_service_account_token(&self) -> bool {
        self.vault_reach()
            .is_some_and(|v| matches!(v.auth, Some(Auth::Kubernetes { .. })))
    }
}

/// How a source reaches Vault/OpenBao: what a pod must be given to get there.
#[derive(Debug, Clone, Copy)]
pub struct VaultReach<'a> {
    /// `None`: `VAULT_ADDR` (or `BAO_ADDR`).
    pub address: Option<&'a str>,
    pub ca_file: Option<&'a Path>,
    /// `None`: the token in `BAO_TOKEN`/`VAULT_TOKEN`.
    pub auth: Option<&'a Auth>,
}

impl<'a> VaultReach<'a> {
    /// True when the source logs in with the token in `BAO_TOKEN`/`VAULT_TOKEN` (no `auth`, or
    /// `auth = { method = "token" }`).
    pub fn uses_env_token(&self) -> bool {
        matches!(self.auth, None | Some(Auth::Token(_)))
    }

    /// Files the source reads to get there, each with the key that names it (`` `ca_file` ``,
    /// `auth`); the pod's own service-account token is not among them: Kubernetes mounts it.
    fn pod_files(&self) -> Vec<(&'a Path, &'static str)> {
        let mut files: Vec<(&Path, &'static str)> =
            self.ca_file.iter().map(|f| (*f, "`ca_file`")).collect();
        if let Some(auth) = self.auth.filter(|a| !a.uses_pod_service_account_token()) {
            files.extend(auth.files().into_iter().map(|f| (f, "auth")));
        }
        files
    }
}

/// Vault or OpenBao KV v2: expiries from secret metadata, values only where needed.
#[derive(Debug, Clone)]
pub struct VaultSource {
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
    /// How credwatch logs in; `None`: the token in `BAO_TOKEN`/`VAULT_TOKEN`.
    pub auth: Option<Auth>,
    /// custom_metadata keys holding the expiry or the mint time.
    pub expires_at_key: String,
    pub minted_at_key: String,
    /// Read this field of every watched secret (for a format check and fingerprints).
    pub value: Option<SourceValue>,
}

impl VaultSource {
    pub const KIND: &str = "vault";
}

/// How a source reaches Vault/OpenBao and logs in (`vault-approle`, `vault-token`; the `vault`
/// kind keeps the same keys in its own struct).
#[derive(Debug, Clone)]
pub struct VaultConnection {
    /// `None`: `VAULT_ADDR` (or `BAO_ADDR`).
    pub address: Option<String>,
    pub namespace: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub concurrency: usize,
    /// Per request.
    pub timeout: SignedDuration,
    pub retries: u32,
    /// How credwatch logs in; `None`: the token in `BAO_TOKEN`/`VAULT_TOKEN`.
    pub auth: Option<Auth>,
}

/// The AppRole secret-ids of a Vault/OpenBao auth mount: every role's (or the named roles'),
/// each looked up by its accessor. One credential per secret-id, named `<role>/<accessor>`.
#[derive(Debug, Clone)]
pub struct ApproleSource {
    pub connection: VaultConnection,
    /// The AppRole auth mount, without slashes (default `approle`).
    pub mount: String,
    /// The roles to watch; empty: every role of the mount (listed).
    pub roles: Vec<String>,
    /// Secret-id metadata keys copied onto the credential's labels (same name).
    pub metadata_labels: Vec<String>,
}

/// Vault/OpenBao tokens known by their accessor (`auth/token/lookup-accessor`): no token value
/// is needed. One credential per entry of `accessors` (name → accessor).
#[derive(Debug, Clone)]
pub struct VaultTokenSource {
    pub connection: VaultConnection,
    pub accessors: BTreeMap<String, String>,
}

impl VaultTokenSource {
    pub const KIND: &str = "vault-token";
}

impl ApproleSource {
    pub const KIND: &str = "vault-approle";
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

/// A directory with one file per credential: the layout of a mounted Kubernetes ConfigMap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectorySource {
    pub path: PathBuf,
    pub content: DirectoryContent,
}

impl DirectorySource {
    pub const KIND: &str = "directory";
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

impl Pushgateway {
    /// The job when `[pushgateway]` names none.
    pub const DEFAULT_JOB: &str = "credwatch";
    pub const DEFAULT_TIMEOUT: SignedDuration = SignedDuration::from_secs(30);
    pub const DEFAULT_RETRIES: u32 = 3;

    /// A Pushgateway at `url` (already checked) with every other setting at its default: what
    /// `push --pushgateway-url` uses for a config without a `[pushgateway]` table.
    pub fn at(url: String) -> Self {
        Pushgateway {
            url,
            job: Self::DEFAULT_JOB.into(),
            grouping: BTreeMap::new(),
            timeout: Self::DEFAULT_TIMEOUT,
            retries: Self::DEFAULT_RETRIES,
            username: None,
            password_file: None,
            token_file: None,
        }
    }
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
    /// How long a consumer may hold a replaced value before `ConsumerStale` fires: long enough
    /// for the new value to reach it (an ExternalSecret refreshes hourly by default).
    pub propagation_grace: SignedDuration,
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
            expiry: crate::metrics::names::EXPIRY.into(),
            last_success: crate::metrics::names::LAST_SUCCESS.into(),
            credential_label: crate::metrics::names::CREDENTIAL_LABEL.into(),
            extra_series: true,
        }
    }
}

/// Reads and validates the config file at `path`.
pub fn read_config(path: &Path) -> anyhow::Result<Config> {
    Ok(read_config_text(path)?.0)
}

/// Reads and validates the config file at `path`, returning its text as well (for renderers that
/// embed the file).
pub fn read_config_text(path: &Path) -> anyhow::Result<(Config, String)> {
    let text = read_text(path)?;
    let config = parse_config(&text, path)?;
    Ok((config, text))
}

/// The text of the config file at `path`, not validated (bounded as every config read is).
pub fn read_text(path: &Path) -> anyhow::Result<String> {
    crate::file::read_to_string(path, crate::file::CONFIG)
        .map_err(|e| anyhow::anyhow!("cannot read config file `{}`: {e}", path.display()))
}

/// Validates the text of a config file. `path` is used in messages and to resolve relative paths.
pub fn parse_config(text: &str, path: &Path) -> Result<Config, ConfigError> {
    // A large inventory is parsed one `[[credential]]` at a time; anything unusual, and every
    // text that does not parse, goes through the whole-file parse.
    if let Some(validated) =
        split::parse(text).and_then(|(raw, sections)| validate::config(raw, &sections, text, path))
    {
        return validated;
    }
    let raw = toml::from_str(text).map_err(|e| diagnostics::syntax_error(text, path, &e))?;
    // Without sections every credential is already parsed: the validator always answers.
    validate::config(raw, &[], text, path).unwrap_or_else(|| {
        Err(ConfigError {
            path: path.to_path_buf(),
            problems: Vec::new(),
        })
    })
}

#[cfg(test)]
mod tests;
