//! `render rules`: Prometheus alerting rules generated from the same config that drives `push`, so
//! metric names, label names, the job and thresholds cannot drift apart. Pure.
//!
//! With the full metrics contract, thresholds come from each credential's
//! `credwatch_credential_{warn,critical}_before_seconds` series, joined on the credential label,
//! and per-credential runbooks from the `runbook` label of its info series, so the rules do not
//! grow with the number of credentials. Every join and annotation look-up matches on the job and
//! the Pushgateway grouping labels, and `absent()` names this deployment's job and grouping
//! values, so deployments sharing a Prometheus do not mask each other.
//! With `[metrics] extra_series = false` (the shell-CronJob drop-in) only the four alerts of that
//! setup are rendered, with the `[defaults]` thresholds written into the expressions.

use std::collections::BTreeMap;

use jiff::SignedDuration;
use serde::Serialize;

use crate::config::{Config, check_label_name};
use crate::metrics::names;
use crate::time::format_duration;

/// The alerts credwatch knows how to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertKind {
    ExpiringSoon,
    Critical,
    Expired,
    /// The credential's validity starts in the future (X.509 `notBefore`, SSH `valid after`,
    /// JWT `nbf`).
    NotYetValid,
    ExpiryUnknown,
    /// A source could not be read; stands in for the ExpiryUnknown of each of its credentials.
    SourceDown,
    MonitorStale,
    MonitorNeverRun,
    PushFailing,
    FormatInvalid,
    PoolDuplicate,
    PoolRunwayLow,
    CredentialRejected,
    ProbeFailing,
    /// A consumer holds a value the store replaced longer than `propagation_grace`.
    ConsumerStale,
    /// A consumer holds a value the store never recorded, or its copy cannot be read.
    ConsumerUnknownValue,
}

impl AlertKind {
    fn suffix(self) -> &'static str {
        match self {
            AlertKind::ExpiringSoon => "ExpiringSoon",
            AlertKind::Critical => "Critical",
            AlertKind::Expired => "Expired",
            AlertKind::NotYetValid => "NotYetValid",
            AlertKind::ExpiryUnknown => "ExpiryUnknown",
            AlertKind::SourceDown => "SourceDown",
            AlertKind::MonitorStale => "MonitorStale",
            AlertKind::MonitorNeverRun => "MonitorNeverRun",
            AlertKind::PushFailing => "PushFailing",
            AlertKind::FormatInvalid => "FormatInvalid",
            AlertKind::PoolDuplicate => "PoolDuplicate",
            AlertKind::PoolRunwayLow => "PoolRunwayLow",
            AlertKind::CredentialRejected => "CredentialRejected",
            AlertKind::ProbeFailing => "ProbeFailing",
            AlertKind::ConsumerStale => "ConsumerStale",
            AlertKind::ConsumerUnknownValue => "ConsumerUnknownValue",
        }
    }

    /// True for alerts about one credential (their labels carry the credential).
    pub fn per_credential(self) -> bool {
        matches!(
            self,
            AlertKind::ExpiringSoon
                | AlertKind::Critical
                | AlertKind::Expired
                | AlertKind::NotYetValid
                | AlertKind::ExpiryUnknown
                | AlertKind::ConsumerStale
                | AlertKind::ConsumerUnknownValue
        )
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RuleFile {
    pub groups: Vec<Group>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub name: String,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Rule {
    #[serde(skip)]
    pub kind: AlertKind,
    pub alert: String,
    pub expr: String,
    #[serde(rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

impl Rule {
    /// The `for:` duration in seconds (0 when the alert fires at once).
    pub fn for_seconds(&self, config: &Config) -> i64 {
        for_duration(self.kind, config).map_or(0, |d| d.as_secs())
    }
}

fn for_duration(kind: AlertKind, config: &Config) -> Option<SignedDuration> {
    let a = &config.alerts;
    match kind {
        AlertKind::ExpiringSoon => Some(a.expiring_for),
        AlertKind::Critical => Some(a.critical_for),
        AlertKind::Expired => None,
        AlertKind::NotYetValid => Some(a.critical_for),
        AlertKind::ExpiryUnknown | AlertKind::SourceDown => Some(a.unknown_for),
        AlertKind::MonitorStale => Some(a.stale_for),
        AlertKind::MonitorNeverRun => Some(a.never_ran_for),
        AlertKind::PushFailing => Some(a.push_failing_for),
        AlertKind::FormatInvalid => Some(a.critical_for),
        AlertKind::PoolDuplicate | AlertKind::PoolRunwayLow => Some(a.expiring_for),
        // The issuer said no: nothing to wait for.
        AlertKind::CredentialRejected => None,
        AlertKind::ProbeFailing => Some(a.unknown_for),
        // The grace is in the expression.
        AlertKind::ConsumerStale => None,
        AlertKind::ConsumerUnknownValue => Some(a.unknown_for),
    }
}

/// The alerts rendered for this config, in order.
pub fn kinds(config: &Config) -> Vec<AlertKind> {
    if !config.metrics.extra_series {
        return vec![
            AlertKind::ExpiringSoon,
            AlertKind::Critical,
            AlertKind::MonitorStale,
            AlertKind::MonitorNeverRun,
        ];
    }
    let mut kinds = vec![
        AlertKind::ExpiringSoon,
        AlertKind::Critical,
        AlertKind::Expired,
        AlertKind::NotYetValid,
        AlertKind::ExpiryUnknown,
        AlertKind::SourceDown,
        AlertKind::MonitorStale,
        AlertKind::MonitorNeverRun,
    ];
    if config.pushgateway.is_some() {
        kinds.push(AlertKind::PushFailing);
    }
    kinds.extend([
        AlertKind::FormatInvalid,
        AlertKind::PoolDuplicate,
        AlertKind::PoolRunwayLow,
    ]);
    let asks_issuers = config.inventory.iter().any(|e| e.probe.is_some())
        || config
            .sources
            .iter()
            .any(|s| matches!(s.kind, crate::config::SourceKind::VaultToken(_)));
    if asks_issuers {
        kinds.extend([AlertKind::CredentialRejected, AlertKind::ProbeFailing]);
    }
    if covers_consumers(config) {
        kinds.extend([AlertKind::ConsumerStale, AlertKind::ConsumerUnknownValue]);
    }
    kinds
}

/// Whether the rules cover consumers: with the full contract, for a config whose stores can
/// record values (a vault source) or that declares consumers.
pub fn covers_consumers(config: &Config) -> bool {
    config.metrics.extra_series
        && (!config.consumers.is_empty()
            || config.sources.iter().any(|s| s.kind.as_vault().is_some()))
}

/// The expiry of the value each consumer holds, where the store replaced it (a consumer holding
/// the current value is covered by the store's own series): the consumer's fingerprint joined
/// with the store's recorded values on credential and fingerprint. The store side is reduced to
/// one series per value, so any number of store-side jobs may report it.
fn consumer_replaced_expiry(config: &Config) -> String {
    let c = &config.metrics.credential_label;
    let f = names::FINGERPRINT_LABEL;
    format!(
        "({fp} * on({c}, {f}) group_left() max by ({c}, {f}) ({x}{{{state}=\"{replaced}\"}}))",
        fp = names::CONSUMER_FINGERPRINT,
        x = names::STORED_VALUE_EXPIRY,
        state = names::STATE_LABEL,
        replaced = names::STATE_REPLACED,
    )
}

/// `or` the consumers' side of an expiry alert, when the rules cover consumers: `consumers`
/// turns the expression of a replaced value's expiry into the alert's condition.
fn or_consumers(
    config: &Config,
    store: String,
    consumers: impl FnOnce(String) -> String,
) -> String {
    if !covers_consumers(config) {
        return store;
    }
    format!("{store} or {}", consumers(consumer_replaced_expiry(config)))
}

pub fn alert_name(config: &Config, kind: AlertKind) -> String {
    format!("{}{}", config.alerts.prefix, kind.suffix())
}

/// Seconds written so that a reader sees days or hours (`30 * 86400`).
pub fn seconds_expr(d: SignedDuration) -> String {
    let s = d.as_secs();
    if s != 0 && s % 86_400 == 0 {
        format!("{} * 86400", s / 86_400)
    } else if s != 0 && s % 3_600 == 0 {
        format!("{} * 3600", s / 3_600)
    } else {
        s.to_string()
    }
}

/// A PromQL or Go-template string literal (the same three escapes as exposition label values).
pub fn quote(value: &str) -> String {
    format!("\"{}\"", crate::metrics::text::escape_label_value(value))
}

/// `job, instance` and the Pushgateway's grouping label names.
fn scope_labels(config: &Config) -> String {
    let mut labels = vec![
        names::JOB_LABEL.to_string(),
        names::INSTANCE_LABEL.to_string(),
    ];
    labels.extend(grouping_keys(config));
    labels.join(", ")
}

fn grouping_keys(config: &Config) -> Vec<String> {
    config
        .pushgateway
        .as_ref()
        .map(|p| p.grouping.keys().cloned().collect())
        .unwrap_or_default()
}

/// The matchers naming this deployment's own series: the job and grouping labels it pushes
/// under (`{job="credwatch", cluster="eu-1"}`). Empty without `[pushgateway]`: the scrape
/// config names the job of `serve` and `textfile`, so the rules cannot know it.
pub fn deployment_selector(config: &Config) -> String {
    let Some(p) = &config.pushgateway else {
        return String::new();
    };
    let mut matchers = vec![format!("{}={}", names::JOB_LABEL, quote(&p.job))];
    matchers.extend(p.grouping.iter().map(|(k, v)| format!("{k}={}", quote(v))));
    format!("{{{}}}", matchers.join(", "))
}

/// The labels a look-up from an alert's annotation matches on, after its own key: the job and
/// the grouping labels, so that one deployment's series do not answer for another's.
fn lookup_scope(config: &Config) -> Vec<String> {
    let mut keys = vec![names::JOB_LABEL.to_string()];
    keys.extend(grouping_keys(config));
    keys
}

/// A `query` template for `metric` whose labels `keys` equal the alert's own. The alert's labels,
/// not literals, so that the rules of two deployments loaded side by side annotate an alert
/// alike.
fn lookup(metric: &str, keys: &[String], tail: &str) -> String {
    let matchers: Vec<String> = keys.iter().map(|k| format!("{k}=%q")).collect();
    let args: Vec<String> = keys.iter().map(|k| format!("$labels.{k}")).collect();
    format!(
        "printf \"{metric}{{{}}}{tail}\" {} | query",
        matchers.join(", "),
        args.join(" ")
    )
}

/// [`lookup`] on `key` and the deployment's scope.
fn scoped_lookup(config: &Config, metric: &str, key: &str, tail: &str) -> String {
    let mut keys = vec![key.to_string()];
    keys.extend(lookup_scope(config));
    lookup(metric, &keys, tail)
}

pub fn expr(config: &Config, kind: AlertKind) -> String {
    let e = &config.metrics.expiry;
    let c = &config.metrics.credential_label;
    let l = &config.metrics.last_success;
    let t = &config.defaults.thresholds;
    let s = names::SOURCE_LABEL;
    // Series match on what identifies them: the credential (or pool), the job, the instance and
    // the Pushgateway grouping labels (one credwatch per cluster pushes the same names).
    let scope = scope_labels(config);
    let join = format!("on({c}, {scope}) group_left()");
    let full = config.metrics.extra_series;
    // With the full contract an expired credential raises Expired alone: the expiring and
    // critical alerts cover only what has time left.
    let expiring = |threshold: &str| {
        or_consumers(
            config,
            format!("({e} - time() > 0) < {join} {threshold}"),
            |x| format!("({x} - time() > 0) < on({c}) group_left() max by ({c}) ({threshold})"),
        )
    };
    match kind {
        AlertKind::ExpiringSoon if full => expiring(names::WARN_BEFORE),
        AlertKind::ExpiringSoon => format!("({e} - time()) < {}", seconds_expr(t.warn_before)),
        AlertKind::Critical if full => expiring(names::CRITICAL_BEFORE),
        AlertKind::Critical => format!("({e} - time()) < {}", seconds_expr(t.critical_before)),
        AlertKind::Expired => or_consumers(config, format!("time() - {e} >= 0"), |x| {
            format!("time() - {x} >= 0")
        }),
        AlertKind::NotYetValid => format!("{} - time() > 0", names::NOT_BEFORE),
        // A credential of a source that is down is covered by that source's one SourceDown.
        AlertKind::ExpiryUnknown => format!(
            "{ok} == 0 unless on({c}, {scope}) ({info} and on({s}, {scope}) {up} == 0)",
            ok = names::READ_OK,
            info = names::INFO,
            up = names::SOURCE_UP,
        ),
        AlertKind::SourceDown => format!("{} == 0", names::SOURCE_UP),
        AlertKind::MonitorStale => {
            format!("time() - {l} > {}", seconds_expr(config.alerts.stale_after))
        }
        // Scoped to this deployment: another one's series must not hide this one's absence.
        AlertKind::MonitorNeverRun if full => {
            format!("absent({l}{})", deployment_selector(config))
        }
        // The shell CronJob's own rule, unchanged (its alert carries no job label).
        AlertKind::MonitorNeverRun => format!("absent({l})"),
        AlertKind::PushFailing => {
            let job = quote(
                config
                    .pushgateway
                    .as_ref()
                    .map_or("credwatch", |p| p.job.as_str()),
            );
            format!(
                "{failed}{{{jl}={job}}} > {pushed}{{{jl}={job}}}",
                failed = names::PUSHGATEWAY_PUSH_FAILURE_TIME,
                pushed = names::PUSHGATEWAY_PUSH_TIME,
                jl = names::JOB_LABEL,
            )
        }
        AlertKind::FormatInvalid => format!("{} == 0", names::FORMAT_OK),
        AlertKind::CredentialRejected => format!("{} == 1", names::PROBE_REJECTED),
        // No verdict (unreachable, timeout, 5xx, redirect): accepted is 0 but rejected is too.
        AlertKind::ProbeFailing => format!(
            "{ok} == 0 and on({c}, {scope}) {rejected} == 0",
            ok = names::PROBE_OK,
            rejected = names::PROBE_REJECTED,
        ),
        AlertKind::PoolDuplicate => {
            format!(
                "{distinct} < on({pool}, {scope}) {members}",
                distinct = names::POOL_DISTINCT,
                pool = names::POOL_LABEL,
                members = names::POOL_MEMBERS,
            )
        }
        AlertKind::PoolRunwayLow => format!(
            "({runway} - time()) < on({pool}, {scope}) group_left() {warn}",
            runway = names::POOL_RUNWAY_EXPIRY,
            pool = names::POOL_LABEL,
            warn = names::POOL_RUNWAY_WARN_BEFORE,
        ),
        AlertKind::ConsumerStale => format!(
            "time() - ({fp} * on({c}, {f}) group_left() max by ({c}, {f}) ({replaced})) > {grace}",
            fp = names::CONSUMER_FINGERPRINT,
            f = names::FINGERPRINT_LABEL,
            replaced = names::STORED_VALUE_REPLACED,
            grace = seconds_expr(config.alerts.propagation_grace),
        ),
        AlertKind::ConsumerUnknownValue => format!(
            "({fp} unless on({c}, {f}) {x}) or {ok} == 0",
            fp = names::CONSUMER_FINGERPRINT,
            f = names::FINGERPRINT_LABEL,
            x = names::STORED_VALUE_EXPIRY,
            ok = names::CONSUMER_READ_OK,
        ),
    }
}

/// What alert texts are made of: template expressions for a rule, or the values they take for
/// the expectations of the rule tests.
pub struct Vars {
    pub cred: String,
    pub left: String,
    /// The alert's value as a plain number.
    pub value: String,
    pub job: String,
    pub pool: String,
    /// The sentence added when a pool member can take over (a template for rules, the sentence
    /// or nothing for tests).
    pub replacement: String,
    /// The sentence added when the alert is about a consumer's copy (a template for rules, the
    /// sentence or nothing for tests).
    pub consumer: String,
    /// The consumer an alert is about.
    pub who: String,
    /// The source an alert is about.
    pub source: String,
    /// ` (reason)` of a failed source (a template for rules, the text or nothing for tests).
    pub reason: String,
}

/// The sentence an expiry alert's description gains when it is about a consumer's copy.
pub fn consumer_sentence(consumer: &str) -> String {
    format!(
        " Consumer {consumer} still holds a value the store replaced: restart it so that it reads the new one (environment variables from a Secret change only when the pod restarts)."
    )
}

/// The sentence an expiring credential's description gains when its pool has a replacement.
pub const REPLACEMENT_SENTENCE: &str =
    " A healthy replacement with a different value exists in its pool: promote it.";

impl Vars {
    pub fn templates(config: &Config) -> Self {
        let c = &config.metrics.credential_label;
        let replacement = if config.metrics.extra_series {
            format!(
                "{{{{ with {} }}}}{REPLACEMENT_SENTENCE}{{{{ end }}}}",
                scoped_lookup(config, names::REPLACEMENT_AVAILABLE, c, " == 1"),
            )
        } else {
            String::new()
        };
        let consumer = if covers_consumers(config) {
            format!(
                "{{{{ with $labels.{l} }}}}{}{{{{ end }}}}",
                consumer_sentence("{{ . }}"),
                l = names::CONSUMER_LABEL
            )
        } else {
            String::new()
        };
        Vars {
            cred: format!("{{{{ $labels.{c} }}}}"),
            left: "{{ $value | humanizeDuration }}".into(),
            value: "{{ $value }}".into(),
            job: "{{ $labels.job }}".into(),
            pool: "{{ $labels.pool }}".into(),
            replacement,
            consumer,
            who: format!("{{{{ $labels.{} }}}}", names::CONSUMER_LABEL),
            source: format!("{{{{ $labels.{} }}}}", names::SOURCE_LABEL),
            reason: format!(
                "{{{{ with {} }}}} ({{{{ . | first | label \"{}\" }}}}){{{{ end }}}}",
                scoped_lookup(config, names::SOURCE_ERROR, names::SOURCE_LABEL, ""),
                names::REASON_LABEL
            ),
        }
    }
}

/// Summary and description of an alert.
pub fn texts(config: &Config, kind: AlertKind, v: &Vars) -> (String, String) {
    let Vars {
        cred,
        left,
        value,
        job,
        pool,
        replacement,
        consumer,
        who,
        source,
        reason,
    } = v;
    let stale = format_duration(config.alerts.stale_after);
    let last = &config.metrics.last_success;
    match kind {
        AlertKind::ExpiringSoon => (
            format!("Credential {cred} expires in {left}"),
            format!(
                "Credential {cred} expires in {left}, inside its warning window. Rotate it and record the new mint time; `credwatch check` lists every credential.{replacement}{consumer}"
            ),
        ),
        AlertKind::Critical => (
            format!("Credential {cred} expires in {left}"),
            format!(
                "Credential {cred} expires in {left}, inside its critical window. Rotate it now: anything using it fails to authenticate once it expires.{replacement}{consumer}"
            ),
        ),
        AlertKind::Expired => (
            format!("Credential {cred} expired {left} ago"),
            format!(
                "Credential {cred} expired {left} ago; anything using it fails to authenticate. Rotate it.{replacement}{consumer}"
            ),
        ),
        AlertKind::NotYetValid => (
            format!("Credential {cred} becomes valid only in {left}"),
            format!(
                "The validity of credential {cred} starts in {left} (its notBefore, valid-after or nbf lies in the future), so whatever uses it now is refused. If it was deployed early, keep the previous one in place until then; if it should be valid already, check the issuer's clock and the time it was issued for."
            ),
        ),
        AlertKind::ExpiryUnknown => (
            format!("credwatch cannot read credential {cred}"),
            format!(
                "credwatch could not read the expiry of credential {cred} in its recent runs. Run `credwatch check` or read the job's log for the reason."
            ),
        ),
        AlertKind::SourceDown => (
            format!("credwatch cannot read source {source}{reason}"),
            format!(
                "credwatch could not read source {source}{reason} in its recent runs (job {job}). Its credentials keep their last known expiry and raise no ExpiryUnknown of their own while it is down. Run `credwatch check` or read the job's log for the error."
            ),
        ),
        AlertKind::MonitorStale => (
            format!("credwatch has not completed a run for over {stale}"),
            format!(
                "The last complete credwatch run (job {job}) was {left} ago; expiry data may be out of date. Check the CronJob and its log."
            ),
        ),
        AlertKind::MonitorNeverRun => (
            "credwatch has never reported".to_string(),
            format!(
                "No `{last}` series exists: credwatch has not completed a run, or Prometheus does not scrape where it reports."
            ),
        ),
        AlertKind::PushFailing => (
            format!("credwatch pushes to the Pushgateway are failing (job {job})"),
            format!(
                "The Pushgateway recorded a failed push for job {job} after the last successful one. Read the Pushgateway's log and credwatch's job log."
            ),
        ),
        AlertKind::FormatInvalid => (
            format!("Credential {cred} does not have the shape of a valid value"),
            format!(
                "The value of credential {cred} fails its format check (a truncated copy or a stray newline?); whatever uses it cannot authenticate. `credwatch check` says what is wrong.{replacement}"
            ),
        ),
        AlertKind::PoolDuplicate => (
            format!("Pool {pool} holds a copy: only {value} distinct credentials"),
            format!(
                "Some members of pool {pool} hold the same value, so the pool has only {value} distinct credentials. `credwatch check` names the copies; mint a new spare."
            ),
        ),
        AlertKind::CredentialRejected => (
            format!("The issuer rejects credential {cred}"),
            format!(
                "When last probed, the issuer rejected credential {cred} (expired or revoked), whatever its recorded expiry says; anything using it fails to authenticate. Rotate it; `credwatch check` gives the answer's status.{replacement}"
            ),
        ),
        AlertKind::ProbeFailing => (
            format!("credwatch cannot probe credential {cred}"),
            format!(
                "The probe of credential {cred} got no verdict from its issuer (unreachable, timed out, 5xx or redirected), so whether it still works is unknown. `credwatch check` gives the reason."
            ),
        ),
        AlertKind::PoolRunwayLow => (
            format!("Pool {pool} runs out of usable credentials in {left}"),
            format!(
                "The last usable distinct credential of pool {pool} expires in {left}. Mint a new spare before then."
            ),
        ),
        AlertKind::ConsumerStale => (
            format!("Consumer {who} still holds a replaced value of {cred}"),
            format!(
                "Consumer {who} has held a value of credential {cred} that the store replaced {left} ago, longer than the propagation grace of {grace}. Environment variables from a Secret change only when the pod restarts: restart it (`kubectl rollout restart`), after checking that its Secret has the new value.",
                grace = format_duration(config.alerts.propagation_grace)
            ),
        ),
        AlertKind::ConsumerUnknownValue => (
            format!("Consumer {who} holds a value of {cred} that nothing recorded"),
            format!(
                "The copy of credential {cred} that consumer {who} holds matches no value the store recorded, or cannot be read; it is not known to be valid. Check where the workload gets it, and that both sides use the same fingerprint key; `credwatch record` records the value stored now."
            ),
        ),
    }
}

/// Runbooks by credential name and by source name, and the fallback.
struct Runbooks {
    by_credential: Vec<(String, String)>,
    by_source: Vec<(String, String)>,
    fallback: Option<String>,
}

fn runbooks(config: &Config) -> Runbooks {
    Runbooks {
        by_credential: config
            .inventory
            .iter()
            .filter_map(|e| Some((e.credential.name.clone(), e.credential.runbook.clone()?)))
            .collect(),
        by_source: config
            .sources
            .iter()
            .filter_map(|s| Some((s.name().to_string(), s.runbook()?.to_string())))
            .filter(|_| config.metrics.extra_series)
            .collect(),
        fallback: config.alerts.runbook.clone(),
    }
}

/// User text inside a Prometheus template, kept literal: `{{` would open an action.
pub fn literal(text: &str) -> String {
    text.replace("{{", "{{ \"{{\" }}")
}

/// The `runbook_url` annotation of a per-credential alert. With the full contract the
/// credential's own runbook (else its source's) rides on its info series' `runbook` label and the
/// template looks it up, falling back to `[alerts] runbook`: the rules stay the same size however
/// many credentials there are. The minimal contract has no info series, so there the template
/// lists the credentials by runbook.
fn runbook_template(config: &Config) -> Option<String> {
    let r = runbooks(config);
    if r.by_credential.is_empty() && r.by_source.is_empty() {
        return r.fallback.as_deref().map(literal);
    }
    if !config.metrics.extra_series {
        return Some(runbook_branches(config, &r));
    }
    let c = &config.metrics.credential_label;
    let label = format!("label {}", quote(names::RUNBOOK_LABEL));
    // The credential's info series in the alert's own deployment; else, for an alert about a
    // consumer's copy (another job, maybe without the grouping labels), any by that name.
    let exact = scoped_lookup(config, names::INFO, c, "");
    let by_name = lookup(names::INFO, std::slice::from_ref(c), "");
    let otherwise = r
        .fallback
        .as_deref()
        .map_or_else(String::new, |f| format!("{{{{ else }}}}{}", literal(f)));
    let found = format!("{{{{ with . | first | {label} }}}}{{{{ . }}}}{otherwise}{{{{ end }}}}");
    Some(format!(
        "{{{{ with {exact} }}}}{found}{{{{ else }}}}{{{{ with {by_name} }}}}{found}{otherwise}{{{{ end }}}}{{{{ end }}}}"
    ))
}

/// A template choosing the credential's runbook by name (credentials sharing a runbook share a
/// branch: `eq` takes several values), else `[alerts] runbook`.
fn runbook_branches(config: &Config, r: &Runbooks) -> String {
    let c = &config.metrics.credential_label;
    let mut urls: Vec<&String> = Vec::new();
    for (_, url) in &r.by_credential {
        if !urls.contains(&url) {
            urls.push(url);
        }
    }
    let mut out = String::new();
    for (i, url) in urls.iter().enumerate() {
        let names: Vec<String> = r
            .by_credential
            .iter()
            .filter(|(_, u)| u == *url)
            .map(|(n, _)| quote(n))
            .collect();
        let keyword = if i == 0 { "if" } else { "else if" };
        out.push_str(&format!(
            "{{{{ {keyword} eq $labels.{c} {} }}}}{}",
            names.join(" "),
            literal(url)
        ));
    }
    if let Some(fallback) = &r.fallback {
        out.push_str(&format!("{{{{ else }}}}{}", literal(fallback)));
    }
    out.push_str("{{ end }}");
    out
}

/// The runbook a credential's info series carries: its own, else its source's.
pub fn own_runbook(config: &Config, credential: &str, source: &str) -> Option<String> {
    let r = runbooks(config);
    r.by_credential
        .iter()
        .find(|(n, _)| n == credential)
        .or_else(|| r.by_source.iter().find(|(n, _)| n == source))
        .map(|(_, u)| u.clone())
}

/// What the runbook annotation evaluates to for a credential (for the rule tests), given that its
/// info series carries [`own_runbook`].
pub fn runbook_for(config: &Config, credential: &str, source: &str) -> Option<String> {
    let r = runbooks(config);
    let templated = !r.by_credential.is_empty() || !r.by_source.is_empty();
    match (own_runbook(config, credential, source), r.fallback) {
        (Some(u), _) => Some(u),
        (None, Some(f)) => Some(f),
        (None, None) if templated => Some(String::new()),
        (None, None) => None,
    }
}

pub fn severity(config: &Config, kind: AlertKind) -> &str {
    match kind {
        AlertKind::Critical
        | AlertKind::Expired
        | AlertKind::FormatInvalid
        | AlertKind::CredentialRejected => &config.alerts.critical_severity,
        _ => &config.alerts.warning_severity,
    }
}

pub fn rule(config: &Config, kind: AlertKind) -> Rule {
    let (summary, description) = texts(config, kind, &Vars::templates(config));
    let mut annotations = BTreeMap::from([
        ("summary".to_string(), summary),
        ("description".to_string(), description),
    ]);
    let runbook = if kind.per_credential() {
        runbook_template(config)
    } else {
        config.alerts.runbook.as_deref().map(literal)
    };
    if let Some(url) = runbook {
        annotations.insert("runbook_url".into(), url);
    }
    // Prometheus expands templates in alert labels too: user text is kept literal.
    let mut labels: BTreeMap<String, String> = config
        .alerts
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), literal(v)))
        .collect();
    labels.insert("severity".into(), severity(config, kind).to_string());
    Rule {
        kind,
        alert: alert_name(config, kind),
        expr: expr(config, kind),
        for_: for_duration(kind, config).map(format_duration),
        labels,
        annotations,
    }
}

pub fn rule_file(config: &Config) -> RuleFile {
    RuleFile {
        groups: vec![Group {
            name: "credwatch".into(),
            rules: kinds(config).into_iter().map(|k| rule(config, k)).collect(),
        }],
    }
}

/// Thresholds that a minimal-series config cannot express in its rules.
pub fn warnings(config: &Config) -> Vec<String> {
    if config.metrics.extra_series {
        return Vec::new();
    }
    let defaults = config.defaults.thresholds;
    let mut out: Vec<String> = config
        .inventory
        .iter()
        .filter(|e| e.credential.thresholds != defaults)
        .map(|e| format!("credential `{}`", e.credential.name))
        .collect();
    out.extend(config.sources.iter().filter_map(|s| match s {
        s if s.thresholds() != defaults => Some(format!("source `{}`", s.name())),
        _ => None,
    }));
    out.into_iter()
        .map(|what| {
            format!(
                "{what} has its own thresholds, but with `extra_series = false` the rules use [defaults]; set `extra_series = true` to alert per credential"
            )
        })
        .collect()
}

fn parse_labels(raw: &[String]) -> Result<BTreeMap<String, String>, String> {
    raw.iter()
        .map(|pair| {
            let (k, v) = pair.split_once('=').ok_or_else(|| {
                format!("--label `{pair}`: expected KEY=VALUE, e.g. release=kube-prometheus-stack")
            })?;
            check_label_name(k).map_err(|e| format!("--label `{pair}`: {e}"))?;
            Ok((k.to_string(), v.to_string()))
        })
        .collect()
}

#[derive(Serialize)]
struct PrometheusRule {
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    kind: &'static str,
    metadata: Metadata,
    spec: RuleFile,
}

#[derive(Serialize)]
struct Metadata {
    name: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    labels: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct HelmValues {
    #[serde(rename = "additionalPrometheusRulesMap")]
    rules_map: BTreeMap<&'static str, HelmEntry>,
}

/// One entry of the chart's `additionalPrometheusRulesMap`: the groups, and the labels the chart
/// puts on the PrometheusRule it makes of them.
#[derive(Serialize)]
struct HelmEntry {
    #[serde(
        rename = "additionalLabels",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    additional_labels: BTreeMap<String, String>,
    #[serde(flatten)]
    file: RuleFile,
}

/// The shape of the rules file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A plain Prometheus rule file (`groups:`).
    Rules,
    /// A `monitoring.coreos.com/v1` PrometheusRule.
    PrometheusRule,
    /// `additionalPrometheusRulesMap` values for the kube-prometheus-stack chart.
    HelmValues,
}

pub fn render(
    config: &Config,
    format: Format,
    labels: &[String],
    namespace: Option<&str>,
) -> Result<String, String> {
    let file = rule_file(config);
    let labels = parse_labels(labels)?;
    if format == Format::Rules && !labels.is_empty() {
        return Err("--label applies to --format prometheusrule and helm-values only".into());
    }
    if format != Format::PrometheusRule && namespace.is_some() {
        return Err("--namespace applies to --format prometheusrule only (the chart sets the namespace of helm-values rules)".into());
    }
    let yaml = match format {
        Format::Rules => serde_norway::to_string(&file),
        Format::PrometheusRule => serde_norway::to_string(&PrometheusRule {
            api_version: "monitoring.coreos.com/v1",
            kind: "PrometheusRule",
            metadata: Metadata {
                name: "credwatch",
                namespace: namespace.map(str::to_string),
                labels,
            },
            spec: file,
        }),
        Format::HelmValues => serde_norway::to_string(&HelmValues {
            rules_map: BTreeMap::from([(
                "credwatch",
                HelmEntry {
                    additional_labels: labels,
                    file,
                },
            )]),
        }),
    };
    let yaml = yaml.map_err(|e| format!("cannot write YAML: {e}"))?;
    Ok(format!(
        "# Generated by `credwatch render rules` from {}; regenerate instead of editing.\n{yaml}",
        config.path.file_name().map_or_else(
            || "credwatch.toml".into(),
            |n| n.to_string_lossy().to_string()
        )
    ))
}
