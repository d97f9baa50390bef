//! `credwatch render k8s`: a validated config → Kubernetes manifests to `kubectl apply`. Pure.
//!
//! Three objects: a ServiceAccount, a ConfigMap holding `credwatch.toml` verbatim, and a hardened
//! CronJob running `credwatch push` with that file mounted at [`CONFIG_FILE`]. With
//! [`Mode::Exporter`] a Deployment running `credwatch serve` (the same pod, hardening and
//! mounts; readiness on `/-/ready`, liveness on `/healthz`) and its Service replace the CronJob,
//! plus a ServiceMonitor on request. Each directory
//! source is a ConfigMap mounted read-only at the source's `path`; a relative `path` resolves
//! against [`CONFIG_DIR`] in the pod, exactly as credwatch resolves it against the config file's
//! folder anywhere else, so one file works on a laptop and in the cluster (Kubernetes creates the
//! mount point inside the config volume). Pushgateway credentials are referenced from a Secret,
//! never inlined. The objects are serde types serialized by serde_norway, so quoting and block
//! strings are always right.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::config::{Config, DirectorySource, SourceKind, ValueFrom};
use crate::env::{PUSHGATEWAY_PASSWORD, PUSHGATEWAY_TOKEN, PUSHGATEWAY_USERNAME, VAULT_TOKEN};
use crate::net::is_loopback_url;

pub mod objects;

use objects::{
    ConfigMap, ConfigMapVolumeSource, Container, ContainerPort, ContainerSecurityContext, EnvVar,
    EnvVarSource, KeyToPath, LabelSelector, Labels, MetricsEndpoint, Object, ObjectMeta,
    PodSecurityContext, Probe, Resources, SecretVolumeSource, TERMINATION_MESSAGE_POLICY,
    TemplateMeta, Volume, VolumeMount, yaml,
};

/// Where the config ConfigMap is mounted in the pod; relative source paths resolve against it.
pub const CONFIG_DIR: &str = "/etc/credwatch";
/// The ConfigMap key holding the config, and its file name in [`CONFIG_DIR`].
pub const CONFIG_KEY: &str = "credwatch.toml";
/// The config file as the container sees it.
pub const CONFIG_FILE: &str = "/etc/credwatch/credwatch.toml";

/// The CronJob controller appends an 11-character suffix to the name of each Job, whose name may
/// hold at most 63 characters.
const MAX_NAME: usize = 52;
/// Where `credwatch serve` listens in the pod, and the port's number and name.
const EXPORTER_LISTEN: &str = "0.0.0.0:9819";
pub const EXPORTER_PORT: u16 = 9819;
const EXPORTER_PORT_NAME: &str = "metrics";
/// The `nonroot` user and group of the distroless image.
const SCHEDULE_MACROS: [&str; 7] = [
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
];

/// What to render, from the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub image: String,
    pub namespace: String,
    /// The name of the ServiceAccount and the CronJob, and the prefix of the ConfigMap.
    pub name: String,
    pub schedule: String,
    /// The Secret whose keys `username`, `password` and `token` become the Pushgateway variables.
    pub pushgateway_secret: Option<String>,
    /// The Secret whose key `token` becomes `VAULT_TOKEN`.
    pub vault_secret: Option<String>,
    /// Where the `ca_file` of the vault sources comes from: mounted at its folder in the pod.
    pub vault_ca: Option<CaSource>,
    /// Mount the ServiceAccount token: a vault source logs in with the Kubernetes auth method.
    pub service_account_token: bool,
    /// Source name → the ConfigMap to mount for it, where it is not named like the source.
    pub source_configmaps: BTreeMap<String, String>,
    /// A CronJob that pushes, or a Deployment (and Service) that serves `/metrics`.
    pub mode: Mode,
    /// With [`Mode::Exporter`]: also a ServiceMonitor for the Prometheus Operator.
    pub service_monitor: bool,
    /// Extra labels on the ServiceMonitor (`release=...` for kube-prometheus-stack).
    pub service_monitor_labels: BTreeMap<String, String>,
}

/// The object holding the Vault CA certificate(s), one key per `ca_file` name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaSource {
    Secret(String),
    ConfigMap(String),
}

impl CaSource {
    fn flag(&self) -> &'static str {
        match self {
            CaSource::Secret(_) => "--vault-ca-secret",
            CaSource::ConfigMap(_) => "--vault-ca-configmap",
        }
    }

    fn name(&self) -> &str {
        match self {
            CaSource::Secret(n) | CaSource::ConfigMap(n) => n,
        }
    }
}

/// What runs credwatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// ServiceAccount, ConfigMap and a CronJob running `credwatch push`.
    Cronjob,
    /// ServiceAccount, ConfigMap, a Deployment running `credwatch serve` and its Service.
    Exporter,
}

/// What will not work in a pod although the config is valid (files and variables the manifests
/// do not provide, a loopback Pushgateway), one sentence each.
pub fn pod_warnings(config: &Config, opts: &Options) -> Vec<String> {
    // The exporter pushes nothing: what the config says about a Pushgateway does not matter.
    let mut used = config.clone();
    if opts.mode == Mode::Exporter {
        used.pushgateway = None;
    }
    if opts.vault_ca.is_some() {
        // Mounted by these manifests (`render` refuses a CA flag that mounts nothing).
        for source in &mut used.sources {
            if let crate::config::SourceKind::Vault(v) = &mut source.kind {
                v.ca_file = None;
            }
        }
    }
    warnings(&used)
}

/// The manifests as multi-document YAML: ServiceAccount, ConfigMap, then a CronJob, or with
/// [`Mode::Exporter`] a Deployment, a Service and optionally a ServiceMonitor.
pub fn render(config: &Config, config_text: &str, opts: &Options) -> Result<String, String> {
    check_options(opts)?;
    let mut opts = opts.clone();
    opts.service_account_token = config
        .sources
        .iter()
        .any(|s| s.kind.uses_service_account_token());
    let opts = &opts;
    match opts.mode {
        Mode::Cronjob if config.pushgateway.is_none() => {
            return Err(format!(
                "`{}` has no [pushgateway] table, and the CronJob runs `credwatch push`; add one with the in-cluster `url`, or render an exporter with --mode exporter",
                config.path.display()
            ));
        }
        _ if !opts.service_monitor && !opts.service_monitor_labels.is_empty() => {
            return Err(
                "--service-monitor-label: there is no ServiceMonitor without --mode exporter --service-monitor".into(),
            );
        }
        Mode::Cronjob if opts.service_monitor => {
            return Err(
                "--service-monitor: a CronJob serves nothing to scrape; use it with --mode exporter"
                    .into(),
            );
        }
        Mode::Exporter if opts.pushgateway_secret.is_some() => {
            return Err(
                "--pushgateway-secret: the exporter is scraped and pushes nothing; leave it out with --mode exporter"
                    .into(),
            );
        }
        _ => {}
    }
    check_vault_token(config, opts)?;
    let mut mounts = source_mounts(config, config_text, opts)?;
    mounts.extend(ca_mounts(config, config_text, opts, &mounts)?);
    let labels = labels(&opts.name);
    let mut documents = vec![
        yaml(&service_account(opts, &labels))?,
        yaml(&config_map(opts, &labels, config_text))?,
    ];
    match opts.mode {
        Mode::Cronjob => documents.push(yaml(&cron_job(opts, &labels, &mounts))?),
        Mode::Exporter => {
            documents.push(yaml(&deployment(opts, &labels, &mounts))?);
            documents.push(yaml(&service(opts, &labels))?);
            if opts.service_monitor {
                documents.push(yaml(&service_monitor(opts, &labels))?);
            }
        }
    }
    Ok(documents.join("---\n"))
}

/// What is valid in the config but will not work in a pod.
pub fn warnings(config: &Config) -> Vec<String> {
    let mut warnings = Vec::new();
    if let Some(pushgateway) = &config.pushgateway
        && is_loopback_url(&pushgateway.url)
    {
        warnings.push(format!(
            "pushgateway `url` `{}` is a loopback address, which in the pod is the pod itself; use the in-cluster address, e.g. `http://prometheus-pushgateway.monitoring:9091`",
            pushgateway.url
        ));
    }
    for source in &config.sources {
        if let Some(address) = source.kind.vault_reach().and_then(|v| v.address)
            && is_loopback_url(address)
        {
            warnings.push(format!(
                "source `{}`: vault `address` `{address}` is a loopback address, which in the pod is the pod itself; use the in-cluster address, e.g. `https://vault.vault.svc:8200`",
                source.name()
            ));
        }
    }
    // Files and variables the config reads that the manifests do not provide.
    let mut needs: Vec<String> = Vec::new();
    for source in &config.sources {
        if source
            .kind
            .vault_reach()
            .is_some_and(|v| v.address.is_none())
        {
            needs.push(format!(
                "environment variable `{}` or `{}` (source `{}` has no `address`)",
                crate::env::VAULT_ADDR[0],
                crate::env::VAULT_ADDR[1],
                source.name()
            ));
        }
    }
    for e in &config.inventory {
        match e.value.as_ref().map(|v| &v.from) {
            Some(ValueFrom::File(p)) => needs.push(format!(
                "file `{}` (credential `{}`)",
                p.display(),
                e.credential.name
            )),
            Some(ValueFrom::Env(v)) => needs.push(format!(
                "environment variable `{v}` (credential `{}`)",
                e.credential.name
            )),
            _ => {}
        }
    }
    let mut cache_files = BTreeSet::new();
    for e in &config.inventory {
        let Some(probe) = &e.probe else { continue };
        if let Some(ca) = &probe.ca_file {
            needs.push(format!(
                "file `{}` (credential `{}` probe `ca_file`)",
                ca.display(),
                e.credential.name
            ));
        }
        if is_loopback_url(&probe.base) {
            warnings.push(format!(
                "credential `{}`: probe `{}` is a loopback address, which in the pod is the pod itself; the probe will fail there",
                e.credential.name, probe.base
            ));
        }
        cache_files.extend(probe.cache_file.as_ref());
    }
    for file in cache_files {
        warnings.push(format!(
            "`[probes] cache_file` `{}`: the pod's root filesystem is read-only and nothing writable is mounted there, so probe results are not kept between CronJob runs (each run asks the issuer again; the exporter keeps them in memory); drop `cache_file`, or mount a writable volume at its folder",
            file.display()
        ));
    }
    if let Some(p) = &config.pushgateway {
        for (what, file) in [
            ("password_file", &p.password_file),
            ("token_file", &p.token_file),
        ] {
            if let Some(f) = file {
                needs.push(format!("file `{}` (pushgateway `{what}`)", f.display()));
            }
        }
    }
    if let Some(f) = &config.fingerprint_key_file {
        needs.push(format!("file `{}` (fingerprint `key_file`)", f.display()));
    }
    for source in &config.sources {
        if let Some(ca) = source.kind.vault_reach().and_then(|v| v.ca_file) {
            warnings.push(format!(
                "source `{}`: `ca_file` `{}` is not in the pod, so every TLS connection to Vault fails; put the CA in a Secret or ConfigMap under the key `{}` and render with --vault-ca-secret SECRET or --vault-ca-configmap CONFIGMAP",
                source.name(),
                ca.display(),
                ca.file_name().unwrap_or_default().to_string_lossy()
            ));
        }
        for (f, what) in source.kind.pod_files() {
            if what == "`ca_file`" {
                continue;
            }
            needs.push(format!(
                "file `{}` (source `{}` {what})",
                f.display(),
                source.name()
            ));
        }
    }
    if !needs.is_empty() {
        warnings.push(format!(
            "the config reads what these manifests do not provide; mount or set it in the pod (a Secret volume, `env` with `secretKeyRef`), or the credentials concerned will be UNKNOWN: {}",
            needs.join(", ")
        ));
    }
    warnings
}

// ---------------------------------------------------------------------------------------------
// Flags.

/// Parses repeated `SOURCE=CONFIGMAP` values.
pub fn parse_source_configmaps(values: &[String]) -> Result<BTreeMap<String, String>, String> {
    let mut map = BTreeMap::new();
    for value in values {
        let Some((source, configmap)) = value
            .split_once('=')
            .filter(|(s, c)| !s.is_empty() && !c.is_empty())
        else {
            return Err(format!(
                "--source-configmap: expected SOURCE=CONFIGMAP, found `{value}`"
            ));
        };
        if !is_dns_subdomain(configmap) {
            return Err(format!(
                "--source-configmap: `{configmap}` is not a valid ConfigMap name (lowercase letters, digits, `-` and `.`, at most 253 characters)"
            ));
        }
        if map
            .insert(source.to_string(), configmap.to_string())
            .is_some()
        {
            return Err(format!(
                "--source-configmap: source `{source}` is given twice"
            ));
        }
    }
    Ok(map)
}

/// `KEY=VALUE` flags into labels, keys checked as Kubernetes label keys. Pure.
pub fn parse_labels(raw: &[String]) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for pair in raw {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("--service-monitor-label `{pair}`: expected KEY=VALUE, e.g. release=kube-prometheus-stack"))?;
        let name = k.rsplit('/').next().unwrap_or(k);
        let valid = !name.is_empty()
            && name.len() <= 63
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            && name.starts_with(|c: char| c.is_ascii_alphanumeric())
            && name.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !valid || v.len() > 63 {
            return Err(format!(
                "--service-monitor-label `{pair}`: not a valid Kubernetes label"
            ));
        }
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

/// The flags every `render k8s` mode shares: values safe in YAML 1.1, a name of at most `max_name`
/// characters (`why_max` says why), a namespace, an image reference, and Secret names.
pub fn check_common(
    (name, max_name, why_max): (&str, usize, &str),
    namespace: &str,
    image: &str,
    secrets: &[(&str, Option<&String>)],
) -> Result<(), String> {
    let values = [
        ("--name", name),
        ("--namespace", namespace),
        ("--image", image),
    ];
    let secret_values = secrets
        .iter()
        .filter_map(|(flag, s)| Some((*flag, s.map(String::as_str)?)));
    for (flag, value) in values.into_iter().chain(secret_values.clone()) {
        check_yaml11(value).map_err(|e| format!("{flag}: {e}"))?;
    }
    if !is_dns_label(name, max_name) {
        return Err(format!(
            "--name: `{name}` is not a valid name: use at most {max_name} lowercase letters, digits and `-`, starting and ending with a letter or digit{why_max}"
        ));
    }
    if !is_dns_label(namespace, 63) {
        return Err(format!(
            "--namespace: `{namespace}` is not a valid namespace: use at most 63 lowercase letters, digits and `-`, starting and ending with a letter or digit"
        ));
    }
    if image.is_empty() || image.contains(char::is_whitespace) {
        return Err(format!(
            "--image: `{image}` is not an image reference (empty or containing whitespace)"
        ));
    }
    for (flag, secret) in secret_values {
        if !is_dns_subdomain(secret) {
            return Err(format!(
                "{flag}: `{secret}` is not a valid Secret name (lowercase letters, digits, `-` and `.`, at most 253 characters)"
            ));
        }
    }
    Ok(())
}

fn check_options(opts: &Options) -> Result<(), String> {
    check_common(
        (
            &opts.name,
            MAX_NAME,
            " (Kubernetes appends a suffix for each Job)",
        ),
        &opts.namespace,
        &opts.image,
        &[
            ("--pushgateway-secret", opts.pushgateway_secret.as_ref()),
            ("--vault-secret", opts.vault_secret.as_ref()),
        ],
    )?;
    check_schedule(&opts.schedule).map_err(|e| format!("--schedule: {e}"))?;
    let ca = opts.vault_ca.as_ref().map(|c| c.name().to_string());
    let ca_flag = opts
        .vault_ca
        .as_ref()
        .map_or("--vault-ca-secret", CaSource::flag);
    if let Some(name) = &ca {
        check_yaml11(name).map_err(|e| format!("{ca_flag}: {e}"))?;
    }
    if let Some(secret) = &ca
        && !is_dns_subdomain(secret)
    {
        return Err(format!(
            "{ca_flag}: `{secret}` is not a valid Secret name (lowercase letters, digits, `-` and `.`, at most 253 characters)"
        ));
    }
    Ok(())
}

/// A cron schedule as the CronJob controller takes it: five fields, or a macro.
pub fn check_schedule(schedule: &str) -> Result<(), String> {
    let valid = if schedule.starts_with('@') {
        SCHEDULE_MACROS.contains(&schedule)
            || schedule
                .strip_prefix("@every ")
                .is_some_and(|d| !d.trim().is_empty())
    } else {
        let fields: Vec<&str> = schedule.split_whitespace().collect();
        fields.len() == 5
            && fields.iter().all(|f| {
                f.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "*/,-?".contains(c))
            })
    };
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`{schedule}` is not a cron schedule: expected 5 fields (minute hour day-of-month month day-of-week) such as `17 */6 * * *`, or one of {}",
            SCHEDULE_MACROS
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

/// An RFC 1123 label: lowercase letters, digits and `-`, starting and ending with a letter or
/// digit, at most `max` characters.
pub fn is_dns_label(name: &str, max: usize) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !name.is_empty()
        && name.len() <= max
        && name.chars().all(|c| alnum(c) || c == '-')
        && name.starts_with(alnum)
        && name.ends_with(alnum)
}

/// An RFC 1123 subdomain, the form of most object names: labels joined by `.`, at most 253.
pub fn is_dns_subdomain(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(|label| is_dns_label(label, 253))
}

/// serde_norway writes YAML 1.2, where `no`, `on` or `0b101` are plain strings; kubectl reads
/// YAML 1.1, where they are a boolean or a number, and then rejects the object. These are refused
/// rather than rendered into manifests that fail at `kubectl apply`.
pub fn check_yaml11(value: &str) -> Result<(), String> {
    const BOOLEANS: [&str; 6] = ["y", "n", "yes", "no", "on", "off"];
    let unsigned = value.strip_prefix(['+', '-']).unwrap_or(value);
    let digits_after = |prefix: &str, digit: fn(char) -> bool| {
        unsigned
            .strip_prefix(prefix)
            .is_some_and(|rest| !rest.is_empty() && rest.chars().all(digit))
    };
    let number = digits_after("0b", |c| matches!(c, '0' | '1' | '_'))
        || digits_after("0x", |c| c.is_ascii_hexdigit() || "_.pP+-".contains(c));
    if BOOLEANS.iter().any(|b| b.eq_ignore_ascii_case(value)) || number {
        return Err(format!(
            "`{value}` would be read as a {} by kubectl's YAML 1.1 parser; choose another name",
            if number { "number" } else { "boolean" }
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Vault wiring: the token, the CA.

/// The sources reaching Vault (any of its kinds) that log in with the token in
/// `VAULT_TOKEN`/`BAO_TOKEN` (no `auth`, or `auth = { method = "token" }`), by name.
fn env_token_sources(config: &Config) -> Vec<&str> {
    config
        .sources
        .iter()
        .filter(|s| s.kind.vault_reach().is_some_and(|v| v.uses_env_token()))
        .map(|s| s.name())
        .collect()
}

/// A vault source with token auth and no `--vault-secret` would run without a token, every
/// credential UNKNOWN; that is refused, naming the flag and the Secret it needs.
/// `--vault-secret` where no source would read the token is refused too: a Secret mounted
/// for nothing hides a config that logs in some other way than the operator thinks.
fn check_vault_token(config: &Config, opts: &Options) -> Result<(), String> {
    let sources = env_token_sources(config);
    if let (true, Some(secret)) = (sources.is_empty(), &opts.vault_secret) {
        return Err(format!(
            "--vault-secret `{secret}`: no source logs in to Vault with a token (sources of kind {} without `auth`, or with `auth = {{ method = \"token\" }}`), so the pod would be given a token nothing reads; drop the flag, or remove the source's `auth` to log in with that token",
            SourceKind::VAULT_KINDS
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if sources.is_empty() || opts.vault_secret.is_some() {
        return Ok(());
    }
    Err(format!(
        "{} {} {} in with a Vault token (`auth` method `token`, the default), and the pod would have none; create a Secret with the key `token` (`kubectl -n {} create secret generic vault-token --from-file=token=./vault-token`) and render with --vault-secret vault-token, or log in with the pod's ServiceAccount: `auth = {{ method = \"kubernetes\", role = \"credwatch\" }}` (see `credwatch render vault-k8s-role`)",
        if sources.len() == 1 {
            "source"
        } else {
            "sources"
        },
        sources
            .iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", "),
        if sources.len() == 1 { "logs" } else { "log" },
        opts.namespace
    ))
}

/// One volume per folder holding a `ca_file` in the pod, each from `--vault-ca-secret` or
/// `--vault-ca-configmap` with the file names as keys.
fn ca_mounts(
    config: &Config,
    config_text: &str,
    opts: &Options,
    taken: &[SourceMount],
) -> Result<Vec<SourceMount>, String> {
    let Some(ca) = &opts.vault_ca else {
        return Ok(Vec::new());
    };
    let raw = raw_source_field(config_text, &SourceKind::VAULT_KINDS, "ca_file")?;
    // Folder in the pod → file names in it, and the first source that named it.
    let mut folders: BTreeMap<String, (BTreeSet<String>, String)> = BTreeMap::new();
    for source in &config.sources {
        if source
            .kind
            .vault_reach()
            .is_none_or(|v| v.ca_file.is_none())
        {
            continue;
        }
        let name = source.name();
        let (file, in_pod) = written_and_in_pod(&raw, name, "ca_file")?;
        let (folder, key) = in_pod.rsplit_once('/').unwrap_or(("", &in_pod));
        // The key of the Secret or ConfigMap, and the file name in the mounted folder.
        let valid_key = key.len() <= 253
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c));
        if !valid_key {
            return Err(format!(
                "source `{name}`: the file name `{key}` of `ca_file` cannot be a key of a {}: use letters, digits, `-`, `_` and `.`, e.g. `ca.crt`",
                match ca {
                    CaSource::Secret(_) => "Secret",
                    CaSource::ConfigMap(_) => "ConfigMap",
                }
            ));
        }
        if folder.is_empty() || overlaps(folder, CONFIG_FILE) {
            return Err(format!(
                "source `{name}`: `ca_file` `{file}` is `{in_pod}` in the pod, and the {} mounted at its folder would hide {}; give it a folder of its own, e.g. `ca_file = \"/etc/vault-ca/ca.crt\"`",
                ca.flag(),
                if folder.is_empty() {
                    "the root filesystem".to_string()
                } else {
                    format!("the config file `{CONFIG_FILE}`")
                }
            ));
        }
        if let Some(other) = taken.iter().find(|m| overlaps(&m.mount_path, folder)) {
            return Err(format!(
                "source `{name}`: the folder of `ca_file` `{file}` (`{folder}` in the pod) overlaps the mount of source `{}` at `{}`; give the CA a folder of its own",
                other.source, other.mount_path
            ));
        }
        folders
            .entry(folder.to_string())
            .or_insert_with(|| (BTreeSet::new(), name.to_string()))
            .0
            .insert(key.to_string());
    }
    if folders.is_empty() {
        return Err(format!(
            "{}: no source that reaches Vault has a `ca_file`, so there is nothing to mount `{}` for; set `ca_file` on the source that needs the CA",
            ca.flag(),
            ca.name()
        ));
    }
    let folder_names: Vec<&String> = folders.keys().collect();
    for pair in folder_names.windows(2) {
        if overlaps(pair[0], pair[1]) {
            return Err(format!(
                "the `ca_file` folders `{}` and `{}` are one inside the other; keep the CA files in one folder",
                pair[0], pair[1]
            ));
        }
    }
    Ok(folders
        .into_iter()
        .enumerate()
        .map(|(index, (folder, (keys, source)))| SourceMount {
            source,
            volume: if index == 0 {
                "vault-ca".to_string()
            } else {
                format!("vault-ca-{index}")
            },
            content: match ca {
                CaSource::Secret(n) => MountContent::Secret(n.clone(), keys),
                CaSource::ConfigMap(n) => MountContent::ConfigMap(n.clone(), keys),
            },
            mount_path: folder,
        })
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Directory sources → ConfigMap volumes.

/// A volume a source needs and where the pod mounts it: a directory source's ConfigMap, or the
/// Secret/ConfigMap holding a vault source's `ca_file`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceMount {
    pub source: String,
    pub volume: String,
    pub content: MountContent,
    pub mount_path: String,
}

/// What a [`SourceMount`] mounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountContent {
    /// A whole ConfigMap (a directory source).
    Directory(String),
    /// These keys of a Secret, each as the file of its name.
    Secret(String, BTreeSet<String>),
    /// These keys of a ConfigMap, each as the file of its name.
    ConfigMap(String, BTreeSet<String>),
}

fn source_mounts(
    config: &Config,
    config_text: &str,
    opts: &Options,
) -> Result<Vec<SourceMount>, String> {
    for source in opts.source_configmaps.keys() {
        if !config.sources.iter().any(|s| s.name() == source) {
            let known: Vec<String> = config
                .sources
                .iter()
                .map(|s| format!("`{}`", s.name()))
                .collect();
            return Err(format!(
                "--source-configmap: the config has no source `{source}`; its sources are: {}",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ));
        }
    }
    if config.sources.is_empty() {
        return Ok(Vec::new());
    }
    let raw_paths = raw_source_field(config_text, &[DirectorySource::KIND], "path")?;
    let mut mounts: Vec<SourceMount> = Vec::new();
    for (index, source) in config.sources.iter().enumerate() {
        if source.kind.mounted_directory().is_none() {
            continue;
        }
        let name = source.name();
        let (raw, mount_path) = written_and_in_pod(&raw_paths, name, "path")?;
        if overlaps(&mount_path, CONFIG_FILE) {
            return Err(format!(
                "source `{name}`: `path` `{raw}` is mounted at `{mount_path}` in the pod, which would hide the config file `{CONFIG_FILE}`; choose another path"
            ));
        }
        if let Some(other) = mounts.iter().find(|m| m.mount_path == mount_path) {
            return Err(format!(
                "sources `{}` and `{name}` would both be mounted at `{mount_path}` in the pod; give each its own `path`",
                other.source
            ));
        }
        let config_map = opts
            .source_configmaps
            .get(name)
            .cloned()
            .unwrap_or_else(|| name.to_string());
        if !is_dns_subdomain(&config_map) {
            return Err(format!(
                "source `{name}`: `{config_map}` is not a valid ConfigMap name; name the ConfigMap to mount with --source-configmap {name}=CONFIGMAP"
            ));
        }
        check_yaml11(&config_map).map_err(|e| format!("source `{name}`: ConfigMap {e}"))?;
        let readable = format!("src-{name}");
        let volume = if is_dns_label(&readable, 63) {
            readable
        } else {
            format!("source-{index}")
        };
        mounts.push(SourceMount {
            source: name.to_string(),
            volume,
            content: MountContent::Directory(config_map),
            mount_path,
        });
    }
    Ok(mounts)
}

/// A file key (`path`, `ca_file`) of each source of one of `kinds` as written, by source name: the
/// validated config holds it resolved against the local folder, which says nothing about the pod.
fn raw_source_field(
    config_text: &str,
    kinds: &[&str],
    key: &str,
) -> Result<BTreeMap<String, String>, String> {
    let table: toml::Table =
        toml::from_str(config_text).map_err(|e| format!("cannot read the config text: {e}"))?;
    let sources = table.get("source").and_then(toml::Value::as_array);
    let mut values = BTreeMap::new();
    for source in sources.into_iter().flatten() {
        let field = |key: &str| source.get(key).and_then(toml::Value::as_str);
        let Some(kind) = field("kind").filter(|k| kinds.contains(k)) else {
            continue;
        };
        if let Some(value) = field(key) {
            let name = field("name").unwrap_or(kind);
            values.insert(name.to_string(), value.to_string());
        }
    }
    Ok(values)
}

/// A source's file key (`path`, `ca_file`) as written in the config (from [`raw_source_field`])
/// and where that is in the pod.
fn written_and_in_pod<'a>(
    written: &'a BTreeMap<String, String>,
    source: &str,
    key: &str,
) -> Result<(&'a str, String), String> {
    let value = written
        .get(source)
        .ok_or_else(|| format!("source `{source}`: its `{key}` is not in the config text"))?;
    let in_pod = pod_path(value).map_err(|e| match key {
        "path" => format!("source `{source}`: {e}"),
        _ => format!("source `{source}`: `{key}`: {e}"),
    })?;
    Ok((value, in_pod))
}

/// Where a source `path` from the config is in the pod: absolute paths stay, relative ones
/// resolve against [`CONFIG_DIR`]. `.` and empty components are dropped; `..` is refused, since
/// the kernel resolves it through whatever is mounted on the way.
pub fn pod_path(raw: &str) -> Result<String, String> {
    let mut parts: Vec<&str> = if raw.starts_with('/') {
        Vec::new()
    } else {
        CONFIG_DIR.split('/').filter(|p| !p.is_empty()).collect()
    };
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                return Err(format!(
                    "`path` `{raw}` contains `..`; for Kubernetes give an absolute path, or one below the config's folder"
                ));
            }
            part => parts.push(part),
        }
    }
    if parts.is_empty() {
        return Err(format!(
            "`path` `{raw}` is the root directory; give the folder the ConfigMap is mounted at"
        ));
    }
    Ok(format!("/{}", parts.join("/")))
}

/// Whether a mount at `a` and a file or mount at `b` are the same place or one holds the other.
fn overlaps(a: &str, b: &str) -> bool {
    let under = |inner: &str, outer: &str| {
        inner
            .strip_prefix(outer)
            .is_some_and(|rest| rest.starts_with('/'))
    };
    a == b || under(a, b) || under(b, a)
}

// ---------------------------------------------------------------------------------------------
// The objects.

fn labels(name: &str) -> Labels {
    [
        ("app.kubernetes.io/name", "credwatch"),
        ("app.kubernetes.io/instance", name),
        ("app.kubernetes.io/managed-by", "credwatch"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn metadata(name: String, opts: &Options, labels: &Labels) -> ObjectMeta {
    ObjectMeta {
        name,
        namespace: opts.namespace.clone(),
        labels: labels.clone(),
    }
}

fn config_map_name(opts: &Options) -> String {
    format!("{}-config", opts.name)
}

fn service_account(opts: &Options, labels: &Labels) -> Object<ServiceAccount> {
    Object {
        api_version: "v1",
        kind: "ServiceAccount",
        metadata: metadata(opts.name.clone(), opts, labels),
        body: ServiceAccount {
            // credwatch talks to no Kubernetes API; the token is mounted only for a Vault login
            // with the Kubernetes auth method.
            automount_service_account_token: opts.service_account_token,
        },
    }
}

fn config_map<'a>(opts: &Options, labels: &Labels, config_text: &'a str) -> Object<ConfigMap<'a>> {
    Object {
        api_version: "v1",
        kind: "ConfigMap",
        metadata: metadata(config_map_name(opts), opts, labels),
        body: ConfigMap {
            data: BTreeMap::from([(CONFIG_KEY, config_text)]),
        },
    }
}

/// What the pod runs: `credwatch push` to completion, or `credwatch serve` for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Workload {
    Push,
    Serve,
}

/// The pod both the CronJob and the Deployment run, with the same hardening: non-root,
/// read-only root filesystem, no capabilities, no privilege escalation, RuntimeDefault seccomp,
/// no service-account token, the config and source ConfigMaps mounted read-only.
fn pod_template(
    opts: &Options,
    labels: &Labels,
    mounts: &[SourceMount],
    workload: Workload,
) -> PodTemplate {
    let mut env = match &opts.pushgateway_secret {
        None => Vec::new(),
        Some(secret) => [
            (PUSHGATEWAY_USERNAME, "username"),
            (PUSHGATEWAY_PASSWORD, "password"),
            (PUSHGATEWAY_TOKEN, "token"),
        ]
        .into_iter()
        .map(|(var, key)| EnvVar {
            name: var,
            // A Secret holds either basic auth or a token.
            value_from: EnvVarSource::secret(secret.clone(), key, Some(true)),
        })
        .collect(),
    };
    if let Some(secret) = &opts.vault_secret {
        env.push(EnvVar {
            name: VAULT_TOKEN[1],
            value_from: EnvVarSource::secret(secret.clone(), "token", Some(false)),
        });
    }
    let config_volume = "config";
    let mut volume_mounts = vec![VolumeMount {
        name: config_volume.into(),
        mount_path: CONFIG_DIR.into(),
        read_only: true,
    }];
    let mut volumes = vec![Volume {
        name: config_volume.into(),
        config_map: Some(ConfigMapVolumeSource {
            name: config_map_name(opts),
            items: Vec::new(),
        }),
        secret: None,
    }];
    let items = |keys: &BTreeSet<String>| {
        keys.iter()
            .map(|k| KeyToPath {
                key: k.clone(),
                path: k.clone(),
            })
            .collect::<Vec<_>>()
    };
    for m in mounts {
        volume_mounts.push(VolumeMount {
            name: m.volume.clone(),
            mount_path: m.mount_path.clone(),
            read_only: true,
        });
        let (config_map, secret) = match &m.content {
            MountContent::Directory(name) => (
                Some(ConfigMapVolumeSource {
                    name: name.clone(),
                    items: Vec::new(),
                }),
                None,
            ),
            MountContent::ConfigMap(name, keys) => (
                Some(ConfigMapVolumeSource {
                    name: name.clone(),
                    items: items(keys),
                }),
                None,
            ),
            MountContent::Secret(name, keys) => (
                None,
                Some(SecretVolumeSource {
                    secret_name: name.clone(),
                    items: items(keys),
                }),
            ),
        };
        volumes.push(Volume {
            name: m.volume.clone(),
            config_map,
            secret,
        });
    }
    let serve = workload == Workload::Serve;
    let args: &[&str] = match workload {
        Workload::Push => &["push", "--config", CONFIG_FILE],
        Workload::Serve => &[
            "serve",
            "--config",
            CONFIG_FILE,
            "--listen",
            EXPORTER_LISTEN,
        ],
    };
    let container = Container {
        name: "credwatch",
        image: opts.image.clone(),
        args: args.iter().map(|a| a.to_string()).collect(),
        ports: if serve {
            vec![ContainerPort {
                name: EXPORTER_PORT_NAME,
                container_port: EXPORTER_PORT,
                protocol: "TCP",
            }]
        } else {
            Vec::new()
        },
        env_from: Vec::new(),
        env,
        resources: Resources {
            requests: BTreeMap::from([("cpu", "10m"), ("memory", "16Mi")]),
            // No CPU limit: it would only slow down a run or a refresh.
            limits: BTreeMap::from([("memory", "64Mi")]),
        },
        // Ready once the first collection is served; alive while it answers at all (a slow
        // source never makes it unresponsive).
        readiness_probe: serve.then(|| Probe::http("/-/ready", EXPORTER_PORT_NAME, 10)),
        liveness_probe: serve.then(|| Probe::http("/healthz", EXPORTER_PORT_NAME, 30)),
        security_context: ContainerSecurityContext::hardened(),
        termination_message_policy: TERMINATION_MESSAGE_POLICY,
        volume_mounts,
    };
    PodTemplate {
        metadata: TemplateMeta {
            labels: labels.clone(),
        },
        spec: PodSpec {
            service_account_name: opts.name.clone(),
            restart_policy: if serve { "Always" } else { "OnFailure" },
            enable_service_links: false,
            security_context: PodSecurityContext::hardened(),
            containers: vec![container],
            volumes,
        },
    }
}

fn cron_job(opts: &Options, labels: &Labels, mounts: &[SourceMount]) -> Object<CronJob> {
    let template_labels = TemplateMeta {
        labels: labels.clone(),
    };
    Object {
        api_version: "batch/v1",
        kind: "CronJob",
        metadata: metadata(opts.name.clone(), opts, labels),
        body: CronJob {
            spec: CronJobSpec {
                schedule: opts.schedule.clone(),
                concurrency_policy: "Forbid",
                // A run missed by up to an hour (controller restart) still starts.
                starting_deadline_seconds: 3600,
                successful_jobs_history_limit: 1,
                failed_jobs_history_limit: 3,
                job_template: JobTemplate {
                    metadata: template_labels.clone(),
                    spec: JobSpec {
                        backoff_limit: 2,
                        active_deadline_seconds: 600,
                        ttl_seconds_after_finished: 86_400,
                        template: pod_template(opts, labels, mounts, Workload::Push),
                    },
                },
            },
        },
    }
}

/// Pods of the Deployment carry every label; the selector, which cannot change later, only the
/// two that identify this instance.
fn selector(labels: &Labels) -> Labels {
    labels
        .iter()
        .filter(|(k, _)| {
            matches!(
                k.as_str(),
                "app.kubernetes.io/name" | "app.kubernetes.io/instance"
            )
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn deployment(opts: &Options, labels: &Labels, mounts: &[SourceMount]) -> Object<Deployment> {
    Object {
        api_version: "apps/v1",
        kind: "Deployment",
        metadata: metadata(opts.name.clone(), opts, labels),
        body: Deployment {
            spec: DeploymentSpec {
                // One exporter: a second would only double every series.
                replicas: 1,
                revision_history_limit: 3,
                selector: LabelSelector {
                    match_labels: selector(labels),
                },
                template: pod_template(opts, labels, mounts, Workload::Serve),
            },
        },
    }
}

fn service(opts: &Options, labels: &Labels) -> Object<Service> {
    Object {
        api_version: "v1",
        kind: "Service",
        metadata: metadata(opts.name.clone(), opts, labels),
        body: Service {
            spec: ServiceSpec {
                selector: selector(labels),
                ports: vec![ServicePort {
                    name: EXPORTER_PORT_NAME,
                    port: EXPORTER_PORT,
                    target_port: EXPORTER_PORT_NAME,
                    protocol: "TCP",
                }],
            },
        },
    }
}

fn service_monitor(opts: &Options, labels: &Labels) -> Object<ServiceMonitor> {
    let mut meta = metadata(opts.name.clone(), opts, labels);
    // kube-prometheus-stack selects ServiceMonitors by a label such as `release`.
    meta.labels.extend(opts.service_monitor_labels.clone());
    Object {
        api_version: "monitoring.coreos.com/v1",
        kind: "ServiceMonitor",
        metadata: meta,
        body: ServiceMonitor {
            spec: ServiceMonitorSpec {
                selector: LabelSelector {
                    match_labels: selector(labels),
                },
                endpoints: vec![MetricsEndpoint {
                    port: EXPORTER_PORT_NAME,
                    path: "/metrics",
                    interval: "1m",
                }],
            },
        },
    }
}

// The objects only these manifests use; the shared ones are in `objects`.

#[derive(Serialize)]
struct Deployment {
    spec: DeploymentSpec,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeploymentSpec {
    replicas: u32,
    revision_history_limit: u32,
    selector: LabelSelector,
    template: PodTemplate,
}

#[derive(Serialize)]
struct Service {
    spec: ServiceSpec,
}

#[derive(Serialize)]
struct ServiceSpec {
    selector: Labels,
    ports: Vec<ServicePort>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServicePort {
    name: &'static str,
    port: u16,
    target_port: &'static str,
    protocol: &'static str,
}

#[derive(Serialize)]
struct ServiceMonitor {
    spec: ServiceMonitorSpec,
}

#[derive(Serialize)]
struct ServiceMonitorSpec {
    selector: LabelSelector,
    endpoints: Vec<MetricsEndpoint>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServiceAccount {
    automount_service_account_token: bool,
}

#[derive(Serialize)]
struct CronJob {
    spec: CronJobSpec,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CronJobSpec {
    schedule: String,
    concurrency_policy: &'static str,
    starting_deadline_seconds: u32,
    successful_jobs_history_limit: u32,
    failed_jobs_history_limit: u32,
    job_template: JobTemplate,
}

#[derive(Serialize)]
struct JobTemplate {
    metadata: TemplateMeta,
    spec: JobSpec,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JobSpec {
    backoff_limit: u32,
    active_deadline_seconds: u32,
    ttl_seconds_after_finished: u32,
    template: PodTemplate,
}

#[derive(Serialize)]
struct PodTemplate {
    metadata: TemplateMeta,
    spec: PodSpec,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PodSpec {
    service_account_name: String,
    restart_policy: &'static str,
    enable_service_links: bool,
    security_context: PodSecurityContext,
    containers: Vec<Container>,
    volumes: Vec<Volume>,
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use proptest::prelude::*;
    use serde::Deserialize;
    use serde_norway::Value;

    use super::*;
    use crate::config::parse_config;

    const PUSHGATEWAY: &str = "[pushgateway]\nurl = \"http://pushgateway.monitoring:9091\"\n";

    fn config(text: &str) -> Config {
        parse_config(text, Path::new("/home/me/credwatch.toml")).expect("valid config")
    }

    fn opts() -> Options {
        Options {
            image: "registry.example/credwatch:1.0".into(),
            namespace: "monitoring".into(),
            name: "credwatch".into(),
            schedule: "17 */6 * * *".into(),
            pushgateway_secret: None,
            vault_secret: None,
            vault_ca: None,
            service_account_token: false,
            source_configmaps: BTreeMap::new(),
            mode: Mode::Cronjob,
            service_monitor: false,
            service_monitor_labels: BTreeMap::new(),
        }
    }

    #[test]
    fn files_and_variables_the_pod_lacks_are_named() {
        let cfg = config(
            "[pushgateway]\nurl = \"http://pg:9091\"\ntoken_file = \"/secrets/pg-token\"\n\
             [[credential]]\nname = \"t\"\nminted_at = 1\nfile = \"/var/run/secrets/agent/token\"\n\
             [[credential]]\nname = \"e\"\nminted_at = 1\nenv = \"AGENT_TOKEN\"\n\
             [[source]]\nkind = \"vault\"\nprefix = \"a\"\nauth = { method = \"kubernetes\", role = \"r\" }\n",
        );
        let w = warnings(&cfg).join("\n");
        for needed in [
            "file `/var/run/secrets/agent/token` (credential `t`)",
            "environment variable `AGENT_TOKEN` (credential `e`)",
            "file `/secrets/pg-token` (pushgateway `token_file`)",
        ] {
            assert!(w.contains(needed), "{needed} missing from {w}");
        }
        assert!(
            !w.contains("serviceaccount"),
            "the service-account token is provided: {w}"
        );
        let plain = config(
            "[pushgateway]\nurl = \"http://pg:9091\"\n[[credential]]\nname = \"a\"\nexpires_at = 1808064429\n",
        );
        assert!(warnings(&plain).is_empty());
    }

    #[test]
    fn the_service_monitor_carries_the_labels_its_prometheus_selects() {
        let cfg = config("[[credential]]\nname = \"a\"\nexpires_at = 1808064429\n");
        let mut o = opts();
        o.mode = Mode::Exporter;
        o.service_monitor = true;
        o.service_monitor_labels = parse_labels(&["release=kube-prometheus-stack".into()]).unwrap();
        let docs = documents(&render(&cfg, "", &o).unwrap());
        let sm = docs.iter().find(|d| d["kind"] == "ServiceMonitor").unwrap();
        assert_eq!(sm["metadata"]["labels"]["release"], "kube-prometheus-stack");
        assert_eq!(
            sm["metadata"]["labels"]["app.kubernetes.io/name"],
            "credwatch"
        );
        o.service_monitor = false;
        assert!(
            render(&cfg, "", &o)
                .unwrap_err()
                .contains("--service-monitor-label")
        );
        assert!(
            parse_labels(&["release".into()])
                .unwrap_err()
                .contains("expected KEY=VALUE")
        );
        assert!(parse_labels(&["bad key=x".into()]).is_err());
    }

    #[test]
    fn a_vault_source_gets_its_token_from_a_secret_or_the_service_account() {
        let token_auth = config(
            "[pushgateway]\nurl = \"http://pg:9091\"\n[[source]]\nkind = \"vault\"\naddress = \"https://vault:8200\"\nprefix = \"agents\"\n",
        );
        let mut o = opts();
        o.vault_secret = Some("vault-token".into());
        let docs = documents(&render(&token_auth, "", &o).unwrap());
        assert_eq!(docs[0]["automountServiceAccountToken"], false);
        let env =
            &docs[2]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"];
        assert_eq!(env[0]["name"], "VAULT_TOKEN");
        assert_eq!(env[0]["valueFrom"]["secretKeyRef"]["name"], "vault-token");
        assert_eq!(env[0]["valueFrom"]["secretKeyRef"]["key"], "token");

        let k8s_auth = config(
            "[pushgateway]\nurl = \"http://pg:9091\"\n[[source]]\nkind = \"vault\"\naddress = \"https://vault:8200\"\nprefix = \"agents\"\nauth = { method = \"kubernetes\", role = \"credwatch\" }\n",
        );
        let docs = documents(&render(&k8s_auth, "", &opts()).unwrap());
        assert_eq!(docs[0]["automountServiceAccountToken"], true);
    }

    fn documents(yaml: &str) -> Vec<Value> {
        serde_norway::Deserializer::from_str(yaml)
            .map(|d| Value::deserialize(d).expect("valid YAML"))
            .collect()
    }

    fn render_text(text: &str, opts: &Options) -> Result<Vec<Value>, String> {
        render(&config(text), text, opts).map(|yaml| documents(&yaml))
    }

    fn pod_spec(docs: &[Value]) -> &Value {
        &docs[2]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    }

    /// (mount path, ConfigMap) of every source volume, in order.
    fn source_mounts_of(docs: &[Value]) -> Vec<(String, String)> {
        let pod = pod_spec(docs);
        let mounts = pod["containers"][0]["volumeMounts"].as_sequence().unwrap();
        let volumes = pod["volumes"].as_sequence().unwrap();
        mounts
            .iter()
            .zip(volumes)
            .skip(1)
            .map(|(m, v)| {
                assert_eq!(m["name"], v["name"]);
                assert_eq!(m["readOnly"], true);
                (
                    m["mountPath"].as_str().unwrap().to_string(),
                    v["configMap"]["name"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    fn directory(name: &str, path: &str) -> String {
        format!("[[source]]\nkind = \"directory\"\nname = \"{name}\"\npath = \"{path}\"\n")
    }

    #[test]
    fn three_documents_in_apply_order_share_namespace_and_labels() {
        let docs = render_text(PUSHGATEWAY, &opts()).unwrap();
        let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["ServiceAccount", "ConfigMap", "CronJob"]);
        let names: Vec<&str> = docs
            .iter()
            .map(|d| d["metadata"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["credwatch", "credwatch-config", "credwatch"]);
        for doc in &docs {
            assert_eq!(doc["metadata"]["namespace"], "monitoring");
            let labels = &doc["metadata"]["labels"];
            assert_eq!(labels["app.kubernetes.io/name"], "credwatch");
            assert_eq!(labels["app.kubernetes.io/instance"], "credwatch");
            assert_eq!(labels["app.kubernetes.io/managed-by"], "credwatch");
        }
        let template = &docs[2]["spec"]["jobTemplate"]["spec"]["template"];
        assert_eq!(
            template["metadata"]["labels"],
            docs[2]["metadata"]["labels"]
        );
        assert_eq!(template["spec"]["serviceAccountName"], "credwatch");
        assert_eq!(
            template["spec"]["volumes"][0]["configMap"]["name"],
            "credwatch-config"
        );
        let container = &template["spec"]["containers"][0];
        assert_eq!(container["image"], "registry.example/credwatch:1.0");
        assert_eq!(
            container["args"],
            documents("[push, --config, /etc/credwatch/credwatch.toml]")[0]
        );
        assert!(container.get("env").is_none(), "no secret, no env");
    }

    #[test]
    fn directory_sources_are_configmaps_mounted_where_the_config_says() {
        let text = format!(
            "{PUSHGATEWAY}{}{}{}",
            directory("legacy", "configmap"),
            directory("claude-oauth-expiry", "/etc/claude-oauth-expiry"),
            directory("Odd_Name", "./nested/dir/"),
        );
        let mut o = opts();
        o.source_configmaps = BTreeMap::from([("Odd_Name".into(), "odd-name".into())]);
        let docs = render_text(&text, &o).unwrap();
        assert_eq!(
            source_mounts_of(&docs),
            [
                ("/etc/credwatch/configmap".into(), "legacy".into()),
                (
                    "/etc/claude-oauth-expiry".into(),
                    "claude-oauth-expiry".into()
                ),
                ("/etc/credwatch/nested/dir".into(), "odd-name".into()),
            ]
        );
        let volumes: Vec<&str> = pod_spec(&docs)["volumes"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|v| v["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            volumes,
            [
                "config",
                "src-legacy",
                "src-claude-oauth-expiry",
                "source-2"
            ]
        );
    }

    #[test]
    fn pod_paths_resolve_like_credwatch_does_next_to_the_config() {
        let cases = [
            ("configmap", Ok("/etc/credwatch/configmap")),
            ("./expiry/", Ok("/etc/credwatch/expiry")),
            ("a//b/./c", Ok("/etc/credwatch/a/b/c")),
            ("/etc/claude-oauth-expiry", Ok("/etc/claude-oauth-expiry")),
            (".", Ok("/etc/credwatch")),
            ("../expiry", Err("`path` `../expiry` contains `..`")),
            ("/etc/x/../y", Err("`path` `/etc/x/../y` contains `..`")),
            ("/", Err("`path` `/` is the root directory")),
        ];
        for (raw, wanted) in cases {
            match (pod_path(raw), wanted) {
                (Ok(got), Ok(wanted)) => assert_eq!(got, wanted, "{raw}"),
                (Err(got), Err(wanted)) => assert!(got.starts_with(wanted), "{raw}: {got}"),
                (got, wanted) => panic!("{raw}: wanted {wanted:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn source_mounts_that_cannot_work_are_refused() {
        let cases = [
            (
                directory("a", "."),
                "source `a`: `path` `.` is mounted at `/etc/credwatch` in the pod, which would hide the config file `/etc/credwatch/credwatch.toml`",
            ),
            (
                directory("a", "/etc"),
                "source `a`: `path` `/etc` is mounted at `/etc` in the pod, which would hide",
            ),
            (
                directory("a", "credwatch.toml"),
                "source `a`: `path` `credwatch.toml` is mounted at `/etc/credwatch/credwatch.toml`",
            ),
            (
                format!(
                    "{}{}",
                    directory("a", "x"),
                    directory("b", "/etc/credwatch/x/")
                ),
                "sources `a` and `b` would both be mounted at `/etc/credwatch/x` in the pod",
            ),
            (
                directory("Legacy", "x"),
                "source `Legacy`: `Legacy` is not a valid ConfigMap name; name the ConfigMap to mount with --source-configmap Legacy=CONFIGMAP",
            ),
            (
                directory("a", "../x"),
                "source `a`: `path` `../x` contains `..`",
            ),
        ];
        for (sources, wanted) in cases {
            let text = format!("{PUSHGATEWAY}{sources}");
            let got = render_text(&text, &opts()).unwrap_err();
            assert!(
                got.starts_with(wanted),
                "{sources}\nwanted: {wanted}\n   got: {got}"
            );
        }
    }

    #[test]
    fn an_override_for_an_unknown_source_names_it_and_the_known_ones() {
        let text = format!("{PUSHGATEWAY}{}", directory("legacy", "x"));
        let mut o = opts();
        o.source_configmaps = BTreeMap::from([("legasy".into(), "cm".into())]);
        assert_eq!(
            render_text(&text, &o).unwrap_err(),
            "--source-configmap: the config has no source `legasy`; its sources are: `legacy`"
        );
        assert_eq!(
            render_text(PUSHGATEWAY, &o).unwrap_err(),
            "--source-configmap: the config has no source `legasy`; its sources are: none"
        );
    }

    #[test]
    fn source_configmap_flags_parse_as_source_equals_configmap() {
        let parse = |values: &[&str]| {
            parse_source_configmaps(&values.iter().map(|v| v.to_string()).collect::<Vec<_>>())
        };
        assert_eq!(
            parse(&["legacy=old-cm", "Odd_Name=odd.cm"]).unwrap(),
            BTreeMap::from([
                ("legacy".to_string(), "old-cm".to_string()),
                ("Odd_Name".to_string(), "odd.cm".to_string()),
            ])
        );
        let cases = [
            (
                &["legacy"][..],
                "--source-configmap: expected SOURCE=CONFIGMAP, found `legacy`",
            ),
            (
                &["=cm"],
                "--source-configmap: expected SOURCE=CONFIGMAP, found `=cm`",
            ),
            (
                &["legacy="],
                "--source-configmap: expected SOURCE=CONFIGMAP, found `legacy=`",
            ),
            (
                &["legacy=Old_CM"],
                "--source-configmap: `Old_CM` is not a valid ConfigMap name",
            ),
            (
                &["legacy=a", "legacy=b"],
                "--source-configmap: source `legacy` is given twice",
            ),
        ];
        for (values, wanted) in cases {
            let got = parse(values).unwrap_err();
            assert!(got.starts_with(wanted), "{values:?}: {got}");
        }
    }

    #[test]
    fn bad_flags_are_refused_naming_the_flag_and_the_value() {
        type Edit = fn(&mut Options);
        let cases: [(Edit, &str); 9] = [
            (
                |o| o.name = "Credwatch".into(),
                "--name: `Credwatch` is not a valid name: use at most 52 lowercase letters",
            ),
            (
                |o| o.name = "a".repeat(53),
                "--name: `aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa` is not a valid name",
            ),
            (
                |o| o.name = "-credwatch".into(),
                "--name: `-credwatch` is not a valid name",
            ),
            (
                |o| o.namespace = "team.monitoring".into(),
                "--namespace: `team.monitoring` is not a valid namespace",
            ),
            (
                |o| o.image = "".into(),
                "--image: `` is not an image reference",
            ),
            (
                |o| o.image = "credwatch :1".into(),
                "--image: `credwatch :1` is not an image reference",
            ),
            (
                |o| o.schedule = "17 */6 * *".into(),
                "--schedule: `17 */6 * *` is not a cron schedule: expected 5 fields",
            ),
            (
                |o| o.schedule = "CRON_TZ=UTC 17 */6 * * *".into(),
                "--schedule: `CRON_TZ=UTC 17 */6 * * *` is not a cron schedule",
            ),
            (
                |o| o.pushgateway_secret = Some("pushgateway_auth".into()),
                "--pushgateway-secret: `pushgateway_auth` is not a valid Secret name",
            ),
        ];
        for (edit, wanted) in cases {
            let mut o = opts();
            edit(&mut o);
            let got = render_text(PUSHGATEWAY, &o).unwrap_err();
            assert!(got.starts_with(wanted), "wanted: {wanted}\n   got: {got}");
        }
        let mut longest = opts();
        longest.name = "a".repeat(52);
        assert!(render_text(PUSHGATEWAY, &longest).is_ok());
    }

    #[test]
    fn schedules_take_five_fields_or_a_macro() {
        for ok in [
            "17 */6 * * *",
            "0 9 * * MON-FRI",
            "*/15 0-6,18-23 1 JAN ?",
            "@daily",
            "@hourly",
            "@every 6h",
        ] {
            assert_eq!(check_schedule(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "17 */6 * * * *",
            "@often",
            "@every",
            "17 */6 * * mon;tue",
        ] {
            assert!(check_schedule(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn kubernetes_names_follow_rfc_1123() {
        for (name, label, subdomain) in [
            ("credwatch", true, true),
            ("cred-watch-2", true, true),
            ("0abc", true, true),
            ("a.b", false, true),
            ("Credwatch", false, false),
            ("cred_watch", false, false),
            ("-a", false, false),
            ("a-", false, false),
            ("a..b", false, false),
            ("", false, false),
        ] {
            assert_eq!(is_dns_label(name, 63), label, "label {name:?}");
            assert_eq!(is_dns_subdomain(name), subdomain, "subdomain {name:?}");
        }
        assert!(is_dns_label(&"a".repeat(63), 63));
        assert!(!is_dns_label(&"a".repeat(64), 63));
        assert!(!is_dns_subdomain(&"a".repeat(254)));
    }

    #[test]
    fn values_kubectl_would_not_read_as_strings_are_refused() {
        for (value, refused) in [
            ("no", true),
            ("On", true),
            ("y", true),
            ("OFF", true),
            ("0b101", true),
            ("-0x1f", true),
            ("0x1p-2", true),
            ("norway", false),
            ("0bar", false),
            ("0xdeadbeef-cm", false),
            ("credwatch", false),
        ] {
            assert_eq!(check_yaml11(value).is_err(), refused, "{value}");
        }
        let mut o = opts();
        o.namespace = "no".into();
        assert_eq!(
            render_text(PUSHGATEWAY, &o).unwrap_err(),
            "--namespace: `no` would be read as a boolean by kubectl's YAML 1.1 parser; choose another name"
        );
        let text = format!("{PUSHGATEWAY}{}", directory("on", "x"));
        assert_eq!(
            render_text(&text, &opts()).unwrap_err(),
            "source `on`: ConfigMap `on` would be read as a boolean by kubectl's YAML 1.1 parser; choose another name"
        );
    }

    #[test]
    fn a_config_without_a_pushgateway_is_refused_because_the_cronjob_pushes() {
        let text = "[[credential]]\nname = \"a\"\nexpires_at = 1808064429\n";
        assert_eq!(
            render_text(text, &opts()).unwrap_err(),
            "`/home/me/credwatch.toml` has no [pushgateway] table, and the CronJob runs `credwatch push`; add one with the in-cluster `url`, or render an exporter with --mode exporter"
        );
    }

    #[test]
    fn a_loopback_pushgateway_url_is_warned_about() {
        for (url, loopback) in [
            ("http://127.0.0.1:9091", true),
            ("http://127.3.2.1", true),
            ("http://localhost:9091/", true),
            ("https://LOCALHOST", true),
            ("http://[::1]:9091", true),
            ("http://prometheus-pushgateway.monitoring:9091", false),
            ("http://10.0.0.7:9091", false),
            ("http://[fd00::7]:9091", false),
        ] {
            let text = format!("[pushgateway]\nurl = \"{url}\"\n");
            let warnings = warnings(&config(&text));
            assert_eq!(warnings.len(), usize::from(loopback), "{url}: {warnings:?}");
        }
    }

    /// The ConfigMap's `credwatch.toml` of the rendered YAML.
    fn embedded(text: &str) -> String {
        let docs = documents(&render(&config(PUSHGATEWAY), text, &opts()).unwrap());
        docs[1]["data"][CONFIG_KEY].as_str().unwrap().to_string()
    }

    #[test]
    fn the_config_text_survives_yaml_byte_for_byte() {
        for text in [
            PUSHGATEWAY,
            "",
            "\n",
            "no final newline",
            "  indented first line\nnext\n",
            "trailing spaces   \n\ttab\n\n\n",
            "# \"quotes\" 'quotes' key: value # not yaml\n--- \n...\n- [a, b]\n",
            "windows\r\nline endings\r\n",
            "ünïcode ✓ and a BOM-less \u{feff} mark\n",
        ] {
            assert_eq!(embedded(text), text, "{text:?}");
        }
    }

    proptest! {
        #[test]
        fn any_config_text_survives_yaml_byte_for_byte(text in "[ -~\t\r\n\u{a0}-\u{3ff}]{0,200}") {
            prop_assert_eq!(embedded(&text), text);
        }
    }
}
