//! The config file as written: serde types that mirror `credwatch.toml` and keep the byte span of
//! every value, so that the validator can name the line and column of each problem.
//!
//! Tables are flat, as in the file: `deny_unknown_fields` then names every accepted key of a
//! misspelt one. The type names show in serde's messages ("expected struct RawVaultAuth"): keep
//! them. What a key means and which kind it belongs to is the validator's business.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default)]
    pub defaults: RawDefaults,
    pub pushgateway: Option<RawPushgateway>,
    #[serde(default)]
    pub metrics: RawMetrics,
    #[serde(default)]
    pub alerts: RawAlerts,
    #[serde(default, rename = "credential")]
    pub credentials: Vec<RawCredential>,
    #[serde(default, rename = "source")]
    pub sources: Vec<RawSource>,
    #[serde(default, rename = "format")]
    pub formats: Vec<RawFormat>,
    pub fingerprint: Option<RawFingerprint>,
    #[serde(default)]
    pub probes: RawProbes,
    #[serde(default, rename = "consumer")]
    pub consumers: Vec<RawConsumer>,
    pub prometheus: Option<RawPrometheus>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProbes {
    pub interval: Option<Spanned<toml::Value>>,
    pub timeout: Option<Spanned<toml::Value>>,
    pub cache_file: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProbe {
    pub preset: Option<Spanned<String>>,
    pub base: Option<String>,
    pub url: Option<String>,
    pub method: Option<String>,
    pub headers: Option<BTreeMap<String, String>>,
    pub valid: Option<Vec<i64>>,
    pub rejected: Option<Vec<i64>>,
    pub expiry_header: Option<String>,
    pub expiry_pointer: Option<String>,
    pub expiry_format: Option<String>,
    pub ca_file: Option<String>,
    pub timeout: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPrometheus {
    pub url: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConsumer {
    pub credential: Spanned<String>,
    pub env: Option<String>,
    pub file: Option<String>,
    pub name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFormat {
    pub name: Spanned<String>,
    pub prefix: Option<String>,
    pub min_length: Option<Spanned<i64>>,
    pub max_length: Option<Spanned<i64>>,
    pub pattern: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFingerprint {
    pub key_file: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDefaults {
    pub ttl: Option<Spanned<toml::Value>>,
    pub pool_warn_before: Option<Spanned<toml::Value>>,
    pub pool_spread: Option<Spanned<toml::Value>>,
    pub warn_before: Option<Spanned<toml::Value>>,
    pub critical_before: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPushgateway {
    pub url: Spanned<String>,
    pub job: Option<Spanned<String>>,
    pub grouping: Option<Spanned<BTreeMap<String, String>>>,
    pub timeout: Option<Spanned<toml::Value>>,
    pub retries: Option<Spanned<i64>>,
    pub username: Option<String>,
    pub password_file: Option<String>,
    pub token_file: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAlerts {
    pub prefix: Option<Spanned<String>>,
    pub warning_severity: Option<Spanned<String>>,
    pub critical_severity: Option<Spanned<String>>,
    pub run_interval: Option<Spanned<toml::Value>>,
    pub stale_after: Option<Spanned<toml::Value>>,
    pub expiring_for: Option<Spanned<toml::Value>>,
    pub critical_for: Option<Spanned<toml::Value>>,
    pub unknown_for: Option<Spanned<toml::Value>>,
    pub stale_for: Option<Spanned<toml::Value>>,
    pub never_ran_for: Option<Spanned<toml::Value>>,
    pub push_failing_for: Option<Spanned<toml::Value>>,
    pub propagation_grace: Option<Spanned<toml::Value>>,
    pub runbook: Option<String>,
    pub labels: Option<Spanned<BTreeMap<String, String>>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMetrics {
    pub expiry_metric: Option<Spanned<String>>,
    pub last_success_metric: Option<Spanned<String>>,
    pub credential_label: Option<Spanned<String>>,
    pub extra_series: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCredential {
    pub name: Spanned<String>,
    pub pool: Option<Spanned<String>>,
    pub labels: Option<Spanned<BTreeMap<String, String>>>,
    pub runbook: Option<String>,
    pub minted_at: Option<Spanned<toml::Value>>,
    pub expires_at: Option<Spanned<toml::Value>>,
    pub ttl: Option<Spanned<toml::Value>>,
    pub warn_before: Option<Spanned<toml::Value>>,
    pub critical_before: Option<Spanned<toml::Value>>,
    pub file: Option<Spanned<String>>,
    pub env: Option<Spanned<String>>,
    pub format: Option<Spanned<String>>,
    pub expiry_from: Option<Spanned<String>>,
    pub chain: Option<Spanned<String>>,
    pub vault: Option<Spanned<RawVaultRef>>,
    pub probe: Option<Spanned<RawProbe>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawVaultRef {
    pub path: String,
    pub field: Option<String>,
    pub source: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawVaultAuth {
    pub method: Spanned<String>,
    pub mount: Option<String>,
    pub role: Option<String>,
    pub role_id: Option<String>,
    pub role_id_file: Option<String>,
    pub secret_id_file: Option<String>,
    pub token_file: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSource {
    pub kind: Spanned<String>,
    pub name: Option<Spanned<String>>,
    pub path: Option<Spanned<String>>,
    pub content: Option<Spanned<String>>,
    pub address: Option<Spanned<String>>,
    pub namespace: Option<String>,
    pub ca_file: Option<String>,
    pub mount: Option<Spanned<String>>,
    pub paths: Option<Vec<Spanned<String>>>,
    pub prefix: Option<Spanned<String>>,
    pub include: Option<Vec<String>>,
    pub exclude: Option<Vec<String>>,
    pub concurrency: Option<Spanned<i64>>,
    pub timeout: Option<Spanned<toml::Value>>,
    pub retries: Option<Spanned<i64>>,
    pub auth: Option<Spanned<RawVaultAuth>>,
    pub expires_at_key: Option<String>,
    pub minted_at_key: Option<String>,
    pub roles: Option<Vec<Spanned<String>>>,
    pub metadata_labels: Option<Vec<Spanned<String>>>,
    pub accessors: Option<Spanned<BTreeMap<String, String>>>,
    pub field: Option<String>,
    pub format: Option<Spanned<String>>,
    pub ttl: Option<Spanned<toml::Value>>,
    pub pool: Option<Spanned<String>>,
    pub labels: Option<Spanned<BTreeMap<String, String>>>,
    pub runbook: Option<String>,
    pub warn_before: Option<Spanned<toml::Value>>,
    pub critical_before: Option<Spanned<toml::Value>>,
}

impl RawSource {
    /// The keys that belong to one kind or another (not to every source), in the order they are
    /// checked, each with whether it is set.
    pub(super) fn kind_keys(&self) -> [(&'static str, bool); 21] {
        [
            ("path", self.path.is_some()),
            ("content", self.content.is_some()),
            ("field", self.field.is_some()),
            ("format", self.format.is_some()),
            ("address", self.address.is_some()),
            ("namespace", self.namespace.is_some()),
            ("ca_file", self.ca_file.is_some()),
            ("mount", self.mount.is_some()),
            ("paths", self.paths.is_some()),
            ("prefix", self.prefix.is_some()),
            ("include", self.include.is_some()),
            ("exclude", self.exclude.is_some()),
            ("concurrency", self.concurrency.is_some()),
            ("timeout", self.timeout.is_some()),
            ("retries", self.retries.is_some()),
            ("auth", self.auth.is_some()),
            ("expires_at_key", self.expires_at_key.is_some()),
            ("minted_at_key", self.minted_at_key.is_some()),
            ("roles", self.roles.is_some()),
            ("metadata_labels", self.metadata_labels.is_some()),
            ("accessors", self.accessors.is_some()),
        ]
    }

    /// The keys every kind shares.
    pub(super) fn shared(&self) -> RawShared<'_> {
        RawShared {
            pool: &self.pool,
            labels: &self.labels,
            runbook: &self.runbook,
            ttl: &self.ttl,
            warn_before: &self.warn_before,
            critical_before: &self.critical_before,
        }
    }
}

impl RawVaultAuth {
    /// Every key of an `auth` table but `method`, in the order they are checked, each with
    /// whether it is set.
    pub(super) fn keys(&self) -> [(&'static str, bool); 6] {
        [
            ("mount", self.mount.is_some()),
            ("role", self.role.is_some()),
            ("role_id", self.role_id.is_some()),
            ("role_id_file", self.role_id_file.is_some()),
            ("secret_id_file", self.secret_id_file.is_some()),
            ("token_file", self.token_file.is_some()),
        ]
    }
}

impl RawCredential {
    /// The keys a credential shares with every source kind.
    pub(super) fn shared(&self) -> RawShared<'_> {
        RawShared {
            pool: &self.pool,
            labels: &self.labels,
            runbook: &self.runbook,
            ttl: &self.ttl,
            warn_before: &self.warn_before,
            critical_before: &self.critical_before,
        }
    }
}

/// The keys that `[[credential]]` and every `[[source]]` kind share, borrowed from either table
/// (serde's `flatten` would lose `deny_unknown_fields`' list of accepted keys and the spans).
pub(super) struct RawShared<'a> {
    pub pool: &'a Option<Spanned<String>>,
    pub labels: &'a Option<Spanned<BTreeMap<String, String>>>,
    pub runbook: &'a Option<String>,
    pub ttl: &'a Option<Spanned<toml::Value>>,
    pub warn_before: &'a Option<Spanned<toml::Value>>,
    pub critical_before: &'a Option<Spanned<toml::Value>>,
}
