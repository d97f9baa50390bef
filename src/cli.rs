//! The command line, as clap sees it. No logic lives here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const CONFIG_HELP: &str = "\
CONFIGURATION (credwatch.toml; found via --config, $CREDWATCH_CONFIG, then ./credwatch.toml):
  [defaults]        ttl = \"365d\", warn_before = \"30d\", critical_before = \"7d\",
                    pool_warn_before = \"60d\", pool_spread = \"7d\"
  [[credential]]    name (unique), minted_at (expiry = minted_at + ttl) or expires_at, or a
                    value holding a JWT, X.509 or SSH certificate; optional pool, labels = { k = \"v\" },
                    runbook, ttl, warn_before, critical_before; the value: file or env,
                    format (claude-oauth, github-fine-grained-pat, jwt, pem-certificate or a
                    [[format]]), expiry_from (value|jwt|x509|ssh), chain (leaf|earliest)
                    probe = { preset = anthropic-oauth|anthropic-api-key|github|gitlab|
                    vault-token, base, ca_file, timeout }: ask the issuer (opt-in); or the
                    generic form { url, method, headers = { H = \"Bearer {value}\" }, valid,
                    rejected, expiry_header | expiry_pointer, expiry_format }
  [probes]          interval (default 1h: results are kept that long), timeout (10s),
                    cache_file (shares results between one-shot runs)
  [[format]]        name, prefix, min_length, max_length, pattern
  [fingerprint]     key_file (or CREDWATCH_FINGERPRINT_KEY / _FILE) for HMAC fingerprints
  [[source]]        kind = \"directory\", path (one file per credential: file name = name,
                    content = unix seconds), content = \"expires_at\" | \"minted_at\", name,
                    ttl, pool, labels, runbook, warn_before, critical_before
  [[source]]        kind = \"vault\": address, namespace, ca_file (else BAO_/VAULT_ADDR,
                    _NAMESPACE, _CACERT), mount, prefix and/or paths, include, exclude,
                    auth = { method = token|approle|jwt|kubernetes, ... }, concurrency,
                    timeout, retries, expires_at_key, minted_at_key, ttl, pool, labels, ...
  [[credential]]    vault = { path, field, source } for a value stored in Vault
  [[source]]        kind = \"vault-approle\": AppRole secret-ids by accessor; mount (default
                    approle), roles (default: every role), metadata_labels, and the vault
                    connection keys (address, namespace, ca_file, auth, concurrency, timeout,
                    retries)
  [[source]]        kind = \"vault-token\": tokens by accessor, accessors = { name = \"accessor\" },
                    and the same connection keys
  [[credential]]    vault = { path, field, source } for a value stored in Vault (a vault
                    source may then give only the connection: no prefix, no paths)
  [[consumer]]      credential, env or file, name (default $POD_NAME, else $HOSTNAME): a copy
                    of a stored credential where a workload uses it (run it as a sidecar)
  [alerts]          propagation_grace = \"90m\": how long a consumer may hold a replaced value
  [prometheus]      url: where `rotate --wait` asks what the consumers hold
                    (else CREDWATCH_PROMETHEUS_URL)
Times are RFC 3339 with an offset or unix seconds; durations look like 365d, 12h, 90m.
Relative paths are resolved against the config file's folder.";

const PUSH_HELP: &str = "\
PUSHGATEWAY ([pushgateway] in credwatch.toml):
  url               base URL, e.g. http://prometheus-pushgateway.monitoring:9091
  job               job name (default credwatch); grouping = { k = \"v\" } adds grouping labels
  timeout           overall time for the push including retries (default 30s)
  retries           retries on connection errors and HTTP 5xx (default 3)
  username, password_file, token_file
                    basic auth or bearer token; also from the environment:
                    CREDWATCH_PUSHGATEWAY_USERNAME, CREDWATCH_PUSHGATEWAY_PASSWORD(_FILE),
                    CREDWATCH_PUSHGATEWAY_TOKEN(_FILE). Never on the command line.
METRIC NAMES ([metrics]):
  expiry_metric, last_success_metric, credential_label
                    rename the series alert rules depend on
  extra_series      false emits only the expiry and last-success series

A complete run PUTs the group (credentials removed from the inventory disappear). If a source
or credential could not be read, the other families are POSTed without the last-success series,
so the stale alert can fire, and credwatch exits 3.

EXIT CODES: 0 pushed, every credential read; 3 config error or something unread;
            4 the push did not land.";

const RULES_HELP: &str = "\
ALERTS ([alerts] in credwatch.toml):
  prefix            alert name prefix (default Credwatch): <prefix>ExpiringSoon, <prefix>Critical,
                    <prefix>Expired, <prefix>NotYetValid, <prefix>ExpiryUnknown,
                    <prefix>SourceDown, <prefix>MonitorStale, <prefix>MonitorNeverRun,
                    <prefix>PushFailing, and more for formats, pools, probes, consumers
  warning_severity, critical_severity
                    values of the `severity` label (default warning / critical)
  expiring_for, critical_for, unknown_for, stale_for, never_ran_for
                    `for:` durations (default 1h, 10m, 1h, 10m, 2h)
  stale_after       no successful run for this long fires the stale alert (default 48h)
  runbook           runbook_url for credentials without their own `runbook`
  labels            extra labels on every alert
Thresholds come from each credential's warn_before/critical_before (joined on the
credential label), so rules and data cannot drift apart. An expired credential raises Expired
alone; a source that is down raises one SourceDown instead of an ExpiryUnknown per credential.
Joins and annotation look-ups match on job and the [pushgateway] grouping labels, and
MonitorNeverRun selects this config's job and grouping values, so deployments sharing a
Prometheus do not mask each other. Per-credential runbooks are looked up on the info series'
`runbook` label: the output does not grow with the number of credentials. With [metrics]
extra_series = false only the four alerts of the shell CronJob setup are rendered, with
[defaults] thresholds.";

const RULE_TESTS_HELP: &str = "\
Writes a promtool unit-test file: each alert fires just past its threshold and stays silent just
before it, `for:` is honoured, the stale and never-ran alerts fire on schedule.
  credwatch render rules > credwatch-rules.yml
  credwatch render rule-tests > credwatch-rules.test.yml
  promtool test rules credwatch-rules.test.yml";

const K8S_HELP: &str = "\
Prints manifests to `kubectl apply -f -`: a ServiceAccount, a ConfigMap holding this
credwatch.toml, and a hardened CronJob running `credwatch push` with the config mounted at
/etc/credwatch/credwatch.toml.
  credwatch render k8s --image registry.example/credwatch:0.1.0 --namespace monitoring \\
      --pushgateway-secret pushgateway-auth | kubectl apply -f -
Each directory source is a ConfigMap mounted read-only at the source's `path`; a relative path
resolves against /etc/credwatch, as it does next to the config file. The ConfigMap is named after
the source unless --source-configmap SOURCE=CONFIGMAP says otherwise. Pushgateway credentials come
from the Secret's keys `username`, `password` or `token` as environment variables; they are
referenced, never inlined. See deploy/README.md.
A vault source with token auth (the default) needs --vault-secret SECRET (its key `token` becomes
VAULT_TOKEN); without it the render is refused. A `ca_file` is mounted from --vault-ca-secret or
--vault-ca-configmap (one key per file name) at its folder. With Kubernetes auth, the
ServiceAccount token is mounted; `credwatch render vault-k8s-role` prints the Vault role and
policy to create for it. A loopback Pushgateway or Vault address is warned about.
With --mode exporter, a Deployment running `credwatch serve` on port 9819 (named `metrics`;
readiness on /-/ready, liveness on /healthz) and a Service in front of it replace the CronJob,
with the same hardening; --service-monitor adds a ServiceMonitor for the Prometheus Operator.";

const VAULT_K8S_ROLE_HELP: &str = "\
For the vault sources with `auth = { method = \"kubernetes\", role = \"…\" }`: the policy that
`render vault-policy` prints for them, and their role on the Kubernetes auth method, bound to the
ServiceAccount and namespace of `render k8s` (pass the same --name and --namespace):
  credwatch render vault-k8s-role --namespace monitoring | BAO_ADDR=… BAO_TOKEN=… sh
  credwatch render vault-k8s-role --format json    # the same as HTTP API requests
The auth method itself must be enabled and configured (`bao auth enable kubernetes`,
`bao write auth/kubernetes/config kubernetes_host=…`). Nothing secret is printed.";

const ROTATE_HELP: &str = "\
For a credential of the config's inventory ([[credential]] with minted_at or expires_at),
rotate rewrites that one value in credwatch.toml in place (comments and layout are kept):
  credwatch rotate primary                       # minted now
  credwatch rotate primary --minted-at 2026-11-30T10:00:00Z
  credwatch rotate github-pat --expires-at 2027-11-30T00:00:00Z
  credwatch rotate primary --from spare-1        # the spare's token became the primary
For a credential stored in Vault (`vault = { path, field }`), the new value is read from stdin
(not echoed on a terminal; never from argv or the environment), checked against the
credential's `format` (a truncated token is refused before anything is written), written with
check-and-set on the current version keeping the secret's other fields, and its mint time is
recorded in custom_metadata (`minted_at`, `rotated_by`, `promoted_from` with --from), with
the new value's fingerprint (`fingerprint`), the version written (`recorded_version`) and the
replaced value's version, fingerprint, mint time and expiry pushed onto a short history
(`previous_1` … `previous_5`), keeping the other keys:
  credwatch rotate primary < new-token.txt
  credwatch rotate primary --from spare-1
Then it pushes at once (unless --no-push), so the expiring alert clears within the next
Prometheus evaluations instead of at the next CronJob run. That clears the store's alert only:
workloads that read the value at start (environment variables from a Secret) keep the old one
until they restart. `[[consumer]]` sidecars report what each pod holds, and
  credwatch rotate primary --wait 30m < new-token.txt
polls Prometheus every 10s (progress on stderr) until every consumer reports the new value. Credentials whose expiry is read
from their value (a JWT, a certificate) need no record: replace the value and push.
EXIT CODES: as `push` after a successful record; 3 when nothing could be recorded; with --wait,
1 when some consumer still holds another value at the deadline (they are named), 3 when no
consumer reported.";

const RECORD_HELP: &str = "\
Records, in the secret's custom_metadata, the mint time of the version stored now
(`minted_at`), that version (`recorded_version`), the value's fingerprint where the value is
readable (keyed HMAC when a fingerprint key is configured; never the value) and `recorded_by`.
It is a merge patch: every other key is kept. Use it to import mint times known from elsewhere
(the map of mint epochs an older setup kept), or to confirm a value changed outside credwatch:
  credwatch record primary --minted-at 2026-04-18T16:07:09Z
EXIT CODES: 0 recorded, 3 nothing could be recorded.";

const LINT_HELP: &str = "\
Reads the value from stdin (never from the command line), checks it and prints what is wrong
without ever printing the value:
  credwatch lint-value --format claude-oauth < new-token.txt
One trailing newline (as `echo` adds) is removed unless --exact is given.
EXIT CODES: 0 the value fits, 2 it does not, 3 usage or config error.";

const DASHBOARD_HELP: &str = "\
Prints a Grafana dashboard for the series this config emits: credentials by time left (coloured at
the [defaults] warning and critical thresholds), how many are within their warning window, pool
runway, sources down, the age of the last complete run, and whether the last push failed. Its
variables: the Prometheus data source, job, pool and each [pushgateway] grouping label.
  credwatch render dashboard > credwatch-dashboard.json          # Grafana: Dashboards > Import
  credwatch render dashboard --format configmap | kubectl apply -f -
The ConfigMap carries the label grafana_dashboard: \"1\", which the kube-prometheus-stack Grafana
sidecar picks up.";

const CALENDAR_HELP: &str = "\
Reads every source (as `check` does) and prints an iCalendar (RFC 5545) feed: one all-day event
per credential expiry and per pool runway end, with an alarm when the warning window opens and
one when the critical window opens. UIDs are derived from the credential's (or pool's) name, so
a subscribed calendar moves the event after a rotation instead of adding one. Nothing secret is
in it. `credwatch serve` serves the same feed at /calendar.ics.
  credwatch render calendar > credwatch.ics
EXIT CODES: 0 everything was read; 3 something could not be read (the feed is printed anyway,
without the events it could not date) or a config error.";

const CHECK_HELP: &str = "\
`--output html` writes the status page `credwatch serve` shows at `/` (self-contained: no script,
nothing loaded from elsewhere), e.g. `credwatch check --output html > status.html`.
EXIT CODES (monitoring-plugin convention): 0 OK or NO EXPIRY, 1 WARNING or PROBE FAILING (the
issuer gave no verdict), 2 CRITICAL, INVALID (a malformed value), EXPIRED or REVOKED (the issuer
rejected it), 3 UNKNOWN (a credential or source could not be read, and
nothing is critical) or a config/usage error.";

/// Tells you, weeks ahead, that a credential is about to expire.
#[derive(Debug, Parser)]
#[command(name = "credwatch", version, about, after_long_help = CONFIG_HELP)]
pub struct Cli {
    /// Config file [default: $CREDWATCH_CONFIG, then ./credwatch.toml]
    #[arg(long, short = 'c', global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// More logging on stderr (-v info, -vv debug, -vvv trace); CREDWATCH_LOG or RUST_LOG take a
    /// filter. Secret values are never logged, at any level
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show every credential's expiry and status; the exit code is the worst status
    #[command(after_long_help = format!("{CHECK_HELP}\n\n{CONFIG_HELP}"))]
    Check(CheckArgs),
    /// Push the metrics to a Prometheus Pushgateway (run it from a CronJob)
    #[command(after_long_help = format!("{PUSH_HELP}\n\n{CONFIG_HELP}"))]
    Push(PushArgs),
    /// Serve /metrics for Prometheus to scrape (and a status page and calendar), reading every
    /// source again in the background
    #[command(after_long_help = format!("{SERVE_HELP}\n\n{CONFIG_HELP}"))]
    Serve(ServeArgs),
    /// Write the metrics to a file for node_exporter's textfile collector
    #[command(after_long_help = format!("{TEXTFILE_HELP}\n\n{CONFIG_HELP}"))]
    Textfile(TextfileArgs),
    /// Record a rotated credential (its new mint time), then push at once so alerts clear
    #[command(after_long_help = ROTATE_HELP)]
    Rotate(RotateArgs),
    /// Record the mint time of the value stored in Vault now, without writing a value
    #[command(after_long_help = RECORD_HELP)]
    Record(RecordArgs),
    /// Check a value from stdin against a format before storing it (e.g. a new token)
    #[command(after_long_help = LINT_HELP)]
    LintValue(LintValueArgs),
    /// Render what operators deploy: alert rules, promtool tests, Kubernetes manifests, a Grafana
    /// dashboard, an expiry calendar
    #[command(subcommand)]
    Render(RenderCommand),
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    /// The credential that was replaced
    #[arg(value_name = "NAME")]
    pub name: String,

    /// Promote this spare: the credential now holds the spare's value (and its lifetime)
    #[arg(long, value_name = "SPARE")]
    pub from: Option<String>,

    /// When the new credential was minted (RFC 3339 or unix seconds) [default: now]
    #[arg(long, value_name = "TIME", conflicts_with = "expires_at")]
    pub minted_at: Option<String>,

    /// The new credential's expiry, for credentials that state `expires_at`
    #[arg(long, value_name = "TIME")]
    pub expires_at: Option<String>,

    /// Do not push after recording the rotation
    #[arg(long)]
    pub no_push: bool,

    /// Vault: write only if the secret is still at this version (default: the version read just
    /// before writing)
    #[arg(long, value_name = "VERSION")]
    pub expect_version: Option<u64>,

    /// Who rotated it, recorded as `rotated_by` [default: the OS user ($USER)]
    #[arg(long, value_name = "WHO")]
    pub by: Option<String>,

    /// Vault: after writing, wait (e.g. `30m`) until every consumer of the credential reports
    /// the new value to Prometheus (`[prometheus] url` or CREDWATCH_PROMETHEUS_URL); exit 1
    /// naming the consumers still behind when the time is up
    #[arg(long, value_name = "DURATION")]
    pub wait: Option<String>,
}

#[derive(Debug, Args)]
pub struct RecordArgs {
    /// The credential stored in Vault (a `[[credential]]` with `vault = { path, field }`)
    #[arg(value_name = "NAME")]
    pub name: String,

    /// When the value stored now was minted (RFC 3339 or unix seconds)
    #[arg(long, value_name = "TIME")]
    pub minted_at: String,

    /// Who recorded it, recorded as `recorded_by` [default: the OS user ($USER)]
    #[arg(long, value_name = "WHO")]
    pub by: Option<String>,
}

#[derive(Debug, Args)]
pub struct LintValueArgs {
    /// Format to check against: a built-in (claude-oauth, github-fine-grained-pat, jwt,
    /// pem-certificate) or a `[[format]]` of the config file, if one is found
    #[arg(long, value_name = "NAME")]
    pub format: String,

    /// Keep a trailing newline instead of removing one (it is then reported as a problem)
    #[arg(long)]
    pub exact: bool,
}

#[derive(Debug, Subcommand)]
pub enum RenderCommand {
    /// Prometheus alerting rules for this config (plain, PrometheusRule CRD or Helm values)
    #[command(after_long_help = RULES_HELP)]
    Rules(RulesArgs),
    /// A promtool unit-test file for the rules `render rules` produces
    #[command(after_long_help = RULE_TESTS_HELP)]
    RuleTests(RuleTestsArgs),
    /// Kubernetes manifests: ServiceAccount, ConfigMap with credwatch.toml, CronJob (or
    /// Deployment and Service with --mode exporter)
    #[command(after_long_help = K8S_HELP)]
    K8s(K8sArgs),
    /// The least-privilege Vault/OpenBao policy (HCL) for this config's vault sources
    VaultPolicy(VaultPolicyArgs),
    /// The Vault/OpenBao Kubernetes auth role (and its policy) for the pod of `render k8s`
    #[command(after_long_help = VAULT_K8S_ROLE_HELP)]
    VaultK8sRole(VaultK8sRoleArgs),
    /// A Grafana dashboard (JSON, or a ConfigMap for Grafana's dashboard sidecar)
    #[command(after_long_help = DASHBOARD_HELP)]
    Dashboard(DashboardArgs),
    /// An iCalendar feed of every expiry (reads the sources, as `check` does)
    #[command(after_long_help = CALENDAR_HELP)]
    Calendar(CalendarArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleFormat {
    /// A `sh` script: `bao policy write` and `bao write auth/<mount>/role/<role>`
    Bao,
    /// The HTTP API requests (method, path, JSON body) the script makes
    Json,
}

#[derive(Debug, Args)]
pub struct VaultK8sRoleArgs {
    /// The ServiceAccount the role is bound to: the --name given to `render k8s`
    #[arg(long, value_name = "NAME", default_value = "credwatch")]
    pub name: String,

    /// The namespace of that ServiceAccount: the --namespace given to `render k8s`
    #[arg(long, value_name = "NAMESPACE", default_value = "monitoring")]
    pub namespace: String,

    /// Name of the policy the role grants [default: the --name]
    #[arg(long, value_name = "POLICY")]
    pub policy: Option<String>,

    /// Only this vault source (with those sharing its role), where sources use different roles
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,

    /// Output shape
    #[arg(long, value_enum, default_value_t = RoleFormat::Bao)]
    pub format: RoleFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DashboardFormat {
    /// The dashboard JSON, for Grafana's import or a provisioning folder
    Json,
    /// A ConfigMap labelled `grafana_dashboard: "1"` for the kube-prometheus-stack sidecar
    Configmap,
}

#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// Output shape
    #[arg(long, value_enum, default_value_t = DashboardFormat::Json)]
    pub format: DashboardFormat,

    /// Namespace of the ConfigMap
    #[arg(long, default_value = "monitoring")]
    pub namespace: String,
}

#[derive(Debug, Args)]
pub struct CalendarArgs {
    /// Take this time as now (RFC 3339 or unix seconds): the feed's DTSTAMP and carried-over
    /// statuses; for tests and reproducible output
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolicyPurpose {
    /// `check` and `push`: metadata, and data only where a value is checked
    Monitor,
    /// also `rotate`: patch on the data and metadata of rotatable credentials
    Rotate,
}

#[derive(Debug, Args)]
pub struct VaultPolicyArgs {
    /// What the token is for
    #[arg(long = "for", value_enum, default_value_t = PolicyPurpose::Monitor)]
    pub purpose: PolicyPurpose,

    /// Only this vault source
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RulesFormat {
    /// A plain Prometheus rule file (`groups:`)
    Rules,
    /// A `monitoring.coreos.com/v1` PrometheusRule for the Prometheus Operator
    Prometheusrule,
    /// `additionalPrometheusRulesMap` values for the kube-prometheus-stack Helm chart
    HelmValues,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Output shape
    #[arg(long, value_enum, default_value_t = RulesFormat::Rules)]
    pub format: RulesFormat,

    /// Label on the PrometheusRule (with helm-values: the chart's `additionalLabels`), e.g.
    /// `release=kube-prometheus-stack` (repeatable)
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,

    /// Namespace of the PrometheusRule
    #[arg(long, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
}

#[derive(Debug, Args)]
pub struct RuleTestsArgs {
    /// Path of the rule file the tests load, as promtool will see it
    #[arg(long, value_name = "FILE", default_value = "credwatch-rules.yml")]
    pub rule_file: String,
}

#[derive(Debug, Args)]
pub struct K8sArgs {
    /// Container image to run (pin a tag or digest)
    #[arg(
        long,
        value_name = "IMAGE",
        default_value = concat!("ghcr.io/credwatch/credwatch:", env!("CARGO_PKG_VERSION"))
    )]
    pub image: String,

    /// Namespace for every object
    #[arg(long, value_name = "NAMESPACE", default_value = "monitoring")]
    pub namespace: String,

    /// Name (and name prefix) of the objects; at most 52 characters
    #[arg(long, value_name = "NAME", default_value = "credwatch")]
    pub name: String,

    /// CronJob schedule: 5 cron fields or a macro such as @daily
    #[arg(long, value_name = "CRON", default_value = "17 */6 * * *")]
    pub schedule: String,

    /// Kubernetes Secret holding Pushgateway credentials (keys `username`/`password` or `token`)
    #[arg(long, value_name = "SECRET")]
    pub pushgateway_secret: Option<String>,

    /// Kubernetes Secret whose key `token` is the Vault token (VAULT_TOKEN), for sources
    /// reaching Vault (`vault`, `vault-approle`, `vault-token`) with token auth; required when
    /// one does, refused when none does
    #[arg(long, value_name = "SECRET")]
    pub vault_secret: Option<String>,

    /// Kubernetes Secret holding the Vault CA, one key per `ca_file` name (e.g. `ca.crt`),
    /// mounted read-only at the folder of each `ca_file` of a source reaching Vault
    #[arg(long, value_name = "SECRET", conflicts_with = "vault_ca_configmap")]
    pub vault_ca_secret: Option<String>,

    /// Like --vault-ca-secret, from a ConfigMap (a CA certificate is not secret)
    #[arg(long, value_name = "CONFIGMAP")]
    pub vault_ca_configmap: Option<String>,

    /// ConfigMap to mount for a directory source, instead of one named like the source
    /// (repeatable)
    #[arg(long = "source-configmap", value_name = "SOURCE=CONFIGMAP")]
    pub source_configmaps: Vec<String>,

    /// What runs credwatch: a CronJob that pushes, or a Deployment serving /metrics
    #[arg(long, value_enum, default_value_t = K8sMode::Cronjob)]
    pub mode: K8sMode,

    /// With --mode exporter, also a ServiceMonitor (monitoring.coreos.com/v1) for the
    /// Prometheus Operator
    #[arg(long)]
    pub service_monitor: bool,

    /// Label on the ServiceMonitor, e.g. `release=kube-prometheus-stack` (repeatable); with
    /// --mode sidecar, on the PodMonitor
    #[arg(long = "service-monitor-label", value_name = "KEY=VALUE")]
    pub service_monitor_labels: Vec<String>,

    /// With --mode sidecar/sidecar-patch: the Secret the workload reads with `envFrom`, which the
    /// sidecar reads too
    #[arg(long, value_name = "SECRET")]
    pub env_from_secret: Option<String>,

    /// With --mode sidecar-patch: the Secret whose key `key` is the fingerprint key
    /// (CREDWATCH_FINGERPRINT_KEY), the same as the store side's
    #[arg(long, value_name = "SECRET")]
    pub fingerprint_secret: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum K8sMode {
    /// ServiceAccount, ConfigMap and a CronJob running `credwatch push`
    Cronjob,
    /// ServiceAccount, ConfigMap, a Deployment running `credwatch serve` and its Service
    Exporter,
    /// A consumer sidecar's ConfigMap and PodMonitor, to `kubectl apply` ([[consumer]] entries)
    Sidecar,
    /// The patch adding the consumer sidecar to an existing Deployment, for `kubectl patch
    /// deployment NAME --patch-file`
    SidecarPatch,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
    /// The status page `serve` shows at `/`: one self-contained HTML file
    Html,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Output format
    #[arg(long, short = 'o', value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,

    /// Assess as of this time instead of now (RFC 3339 or unix seconds)
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// Print the method, URL and exact body instead of sending them
    #[arg(long)]
    pub dry_run: bool,

    /// Pushgateway base URL, overriding `[pushgateway] url`
    #[arg(long, value_name = "URL")]
    pub pushgateway_url: Option<String>,

    /// Take this time as now (RFC 3339 or unix seconds); for tests and reproducible runs
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
}

const SERVE_HELP: &str = "\
Reads every source now and then every --interval (each wait drawn within +-10% of it), and serves
the last result from memory, so a scrape never waits for Vault or a slow disk:
  /metrics    the series `push` sends (text format 0.0.4); 503 until the first collection
  /healthz    200 while the process runs (liveness)
  /-/ready    503 until the first collection has finished, then 200 (readiness)
  /           the status page of the last result (HTML, no script, strict Content-Security-Policy)
  /calendar.ics  the expiry calendar (iCalendar); 503 until the first collection
The config file is read again at each refresh (a broken edit keeps the last valid config and
counts as a failed refresh). What a refresh cannot read keeps its last known value with
`credwatch_credential_read_ok` 0; the last-success series advances only when every source and
credential was read. Scrape it without `honor_labels`. SIGTERM or SIGINT stops it cleanly (exit 0).
Connections are kept alive between scrapes (idle up to --idle-timeout; the longest idle gives way
when 256 are waiting); the refresh runs 10 nicer than the answers (Linux), so scrapes go first.
  credwatch serve --listen 0.0.0.0:9819 --interval 5m";

const TEXTFILE_HELP: &str = "\
Writes the series `push` sends to FILE for node_exporter's textfile collector
(--collector.textfile.directory), atomically: a hidden temporary file next to it is written,
synced and renamed over FILE, so the collector never reads half a file. No timestamps. Run it
from cron or a systemd timer:
  credwatch textfile --path /var/lib/prometheus/node-exporter/credwatch.prom
If something could not be read, the file is written anyway with `read_ok` 0 and the last known
expiry read back from the previous file, and the last-success series keeps its previous value.
EXIT CODES: 0 written, everything read; 3 config error, or written but something was unreadable;
            4 the file could not be written.";

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (the address is printed on stdout)
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:9819")]
    pub listen: String,

    /// How often every source is read again
    #[arg(long, value_name = "DURATION", default_value = "5m")]
    pub interval: String,

    /// Requests answered at once (connections still sending their request do not count)
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub max_connections: usize,

    /// How long a client may take to send its request (a kept-alive connection's next one included,
    /// from its first byte) before it is answered 408 and disconnected
    #[arg(long, value_name = "DURATION", default_value = "5s")]
    pub read_timeout: String,

    /// How long a kept-alive connection may wait for its next request to begin before it is
    /// closed; keep it above the scrape interval, so that scrapes reuse their connection
    #[arg(long, value_name = "DURATION", default_value = "75s")]
    pub idle_timeout: String,
}

#[derive(Debug, Args)]
pub struct TextfileArgs {
    /// The file to write; it must end in `.prom`
    #[arg(long, value_name = "FILE")]
    pub path: PathBuf,

    /// Take this time as now (RFC 3339 or unix seconds); for tests and reproducible runs
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
}
