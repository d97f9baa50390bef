//! `render dashboard`: a Grafana dashboard for the series this config emits, as JSON or wrapped in
//! a ConfigMap for the kube-prometheus-stack Grafana sidecar. Pure.
//!
//! Every series and label name comes from [`crate::metrics::names`] (or the config's `[metrics]`
//! renames), and `tests/cases/contract.rs` checks each query against what `push --dry-run`
//! emits. Panels are a table ([`panels`]): a panel for states other stages add (consumers,
//! probes) is one more row, included when its series exist for the config.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::Config;
use crate::metrics::names;
use crate::render::rules::seconds_expr;

/// Grafana's dashboard schema version this JSON is written in (Grafana 12).
pub const SCHEMA_VERSION: u32 = 41;
/// The dashboard's stable uid, so that a re-import replaces it.
pub const UID: &str = "credwatch";

/// What `render dashboard` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    ConfigMap,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub format: Format,
    /// Namespace of the ConfigMap.
    pub namespace: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Dashboard {
    uid: &'static str,
    title: &'static str,
    description: &'static str,
    tags: [&'static str; 1],
    timezone: &'static str,
    editable: bool,
    graph_tooltip: u8,
    refresh: &'static str,
    schema_version: u32,
    version: u32,
    time: Range,
    annotations: List<()>,
    templating: List<Variable>,
    panels: Vec<Panel>,
}

#[derive(Debug, Serialize)]
struct Range {
    from: &'static str,
    to: &'static str,
}

#[derive(Debug, Serialize)]
struct List<T> {
    list: Vec<T>,
}

#[derive(Debug, Clone, Serialize)]
struct Datasource {
    #[serde(rename = "type")]
    kind: &'static str,
    uid: &'static str,
}

const DATASOURCE: Datasource = Datasource {
    kind: "prometheus",
    uid: "${datasource}",
};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Variable {
    name: String,
    label: String,
    #[serde(rename = "type")]
    kind: &'static str,
    query: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    datasource: Option<Datasource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    definition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    current: Option<Current>,
    include_all: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    all_value: Option<&'static str>,
    multi: bool,
    refresh: u8,
    sort: u8,
    hide: u8,
}

#[derive(Debug, Serialize)]
struct Current {
    text: String,
    value: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Panel {
    id: u32,
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'static str,
    description: &'static str,
    datasource: Datasource,
    grid_pos: GridPos,
    targets: Vec<Target>,
    field_config: FieldConfig,
    options: serde_json::Value,
}

#[derive(Debug, Serialize)]
struct GridPos {
    h: u8,
    w: u8,
    x: u8,
    y: u8,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Target {
    ref_id: &'static str,
    datasource: Datasource,
    expr: String,
    legend_format: String,
    instant: bool,
    range: bool,
}

#[derive(Debug, Serialize)]
struct FieldConfig {
    defaults: FieldDefaults,
    overrides: [(); 0],
}

#[derive(Debug, Serialize)]
struct FieldDefaults {
    unit: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    decimals: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    min: Option<f64>,
    thresholds: Thresholds,
    mappings: Vec<serde_json::Value>,
    color: ColorMode,
}

#[derive(Debug, Serialize)]
struct ColorMode {
    mode: &'static str,
}

#[derive(Debug, Serialize)]
struct Thresholds {
    mode: &'static str,
    steps: Vec<Step>,
}

#[derive(Debug, Serialize)]
struct Step {
    color: &'static str,
    value: Option<f64>,
}

fn steps(list: &[(&'static str, Option<f64>)]) -> Thresholds {
    Thresholds {
        mode: "absolute",
        steps: list
            .iter()
            .map(|(color, value)| Step {
                color,
                value: *value,
            })
            .collect(),
    }
}

/// What a panel shows, before ids and positions are given.
struct Spec {
    kind: &'static str,
    title: &'static str,
    description: &'static str,
    expr: String,
    legend: String,
    unit: &'static str,
    thresholds: Thresholds,
    mappings: Vec<serde_json::Value>,
    width: u8,
    height: u8,
}

impl Spec {
    /// A single number, a quarter of the width.
    fn stat(
        title: &'static str,
        description: &'static str,
        expr: String,
        legend: &str,
        thresholds: &[(&'static str, Option<f64>)],
    ) -> Spec {
        Spec {
            kind: "stat",
            title,
            description,
            expr,
            legend: legend.into(),
            unit: "none",
            thresholds: steps(thresholds),
            mappings: Vec::new(),
            width: 6,
            height: 5,
        }
    }

    /// One bar per pool, half the width.
    fn pool_bars(
        title: &'static str,
        description: &'static str,
        expr: String,
        unit: &'static str,
        thresholds: &[(&'static str, Option<f64>)],
    ) -> Spec {
        Spec {
            kind: "bargauge",
            title,
            description,
            expr,
            legend: format!("{{{{{}}}}}", names::POOL_LABEL),
            unit,
            thresholds: steps(thresholds),
            mappings: Vec::new(),
            width: 12,
            height: 8,
        }
    }
}

/// The label matchers of the dashboard variables: `job`, the grouping labels, and `pool` for
/// series that carry it.
struct Selectors {
    run: String,
    credential: String,
    pool: String,
}

fn grouping_labels(config: &Config) -> Vec<String> {
    config
        .pushgateway
        .as_ref()
        .map(|p| p.grouping.keys().cloned().collect())
        .unwrap_or_default()
}

fn selectors(config: &Config) -> Selectors {
    let mut run = vec![format!("{}=~\"$job\"", names::JOB_LABEL)];
    for label in grouping_labels(config) {
        run.push(format!("{label}=~\"${label}\""));
    }
    let with_pool = |mut m: Vec<String>| {
        m.push(format!("{p}=~\"$pool\"", p = names::POOL_LABEL));
        format!("{{{}}}", m.join(", "))
    };
    Selectors {
        credential: with_pool(run.clone()),
        pool: with_pool(run.clone()),
        run: format!("{{{}}}", run.join(", ")),
    }
}

fn days(d: jiff::SignedDuration) -> f64 {
    d.as_secs() as f64 / 86_400.0
}

fn value_map(entries: &[(&str, &str, &str)]) -> Vec<serde_json::Value> {
    let options: serde_json::Map<String, serde_json::Value> = entries
        .iter()
        .enumerate()
        .map(|(i, (value, text, color))| {
            (
                value.to_string(),
                serde_json::json!({ "text": text, "color": color, "index": i }),
            )
        })
        .collect();
    vec![serde_json::json!({ "type": "value", "options": options })]
}

/// The panels, in order. Panels on series only the full set emits (`[metrics] extra_series`)
/// are left out when it is off.
fn panels(config: &Config) -> Vec<Spec> {
    let s = selectors(config);
    let e = &config.metrics.expiry;
    let c = &config.metrics.credential_label;
    let t = config.defaults.thresholds;
    let full = config.metrics.extra_series;
    let mut scope = vec![
        c.clone(),
        names::JOB_LABEL.to_string(),
        names::INSTANCE_LABEL.to_string(),
    ];
    scope.extend(grouping_labels(config));
    let scope = scope.join(", ");

    // One bar per credential (and grouping, when "All" clusters are shown).
    let mut by = vec![c.clone()];
    by.extend(grouping_labels(config));
    let by = by.join(", ");
    let legend: String = std::iter::once(format!("{{{{{c}}}}}"))
        .chain(
            grouping_labels(config)
                .iter()
                .map(|l| format!(" {{{{{l}}}}}")),
        )
        .collect();
    let mut out = vec![Spec {
        kind: "bargauge",
        title: "Credentials by time left",
        description: "Days until each credential expires, soonest first; coloured at the default warning and critical thresholds.",
        expr: format!(
            "sort(max({e}{sel}) by ({by}) - time()) / 86400",
            sel = s.credential
        ),
        legend,
        unit: "d",
        thresholds: steps(&[
            ("dark-red", None),
            ("red", Some(0.0)),
            ("orange", Some(days(t.critical_before))),
            ("green", Some(days(t.warn_before))),
        ]),
        mappings: Vec::new(),
        width: 24,
        height: 10,
    }];
    let within = if full {
        format!(
            "({e}{sel} - time()) < on({scope}) group_left() {w}",
            sel = s.credential,
            w = names::WARN_BEFORE
        )
    } else {
        format!(
            "({e}{sel} - time()) < {}",
            seconds_expr(t.warn_before),
            sel = s.credential
        )
    };
    out.push(Spec::stat(
        "Within their warning window",
        "Credentials with less time left than their warn_before (expired ones included).",
        format!("count({within}) or vector(0)"),
        "credentials",
        &[("green", None), ("orange", Some(1.0))],
    ));
    if full {
        out.push(Spec::stat(
            "Sources down",
            "Sources that could not be read in the last run.",
            format!("count({}{} == 0) or vector(0)", names::SOURCE_UP, s.run),
            "sources",
            &[("green", None), ("red", Some(1.0))],
        ));
        out.push(Spec::stat(
            "Rejected by their issuer",
            "Credentials a probe found revoked or expired at their issuer, whatever their recorded expiry says.",
            format!("count({}{} == 1) or vector(0)", names::PROBE_REJECTED, s.run),
            "credentials",
            &[("green", None), ("red", Some(1.0))],
        ));
        out.push(Spec::stat(
            "Consumers holding a replaced value",
            "Workload copies (consumer sidecars, any job) whose fingerprint is a value this job's store has replaced: restart them to pick up the new one.",
            format!(
                "count({fp} * on({c}, {f}) group_left() max by ({c}, {f}) ({replaced}{sel})) or vector(0)",
                fp = names::CONSUMER_FINGERPRINT,
                c = config.metrics.credential_label,
                f = names::FINGERPRINT_LABEL,
                replaced = names::STORED_VALUE_REPLACED,
                // The store's job; the sidecars report under jobs of their own.
                sel = s.run,
            ),
            "consumers",
            &[("green", None), ("orange", Some(1.0))],
        ));
        out.push(Spec::stat(
            "Credentials not read",
            "Credentials whose value or metadata could not be read in the last run (their last known expiry is kept).",
            format!("count({}{} == 0) or vector(0)", names::READ_OK, s.run),
            "credentials",
            &[("green", None), ("orange", Some(1.0))],
        ));
    }
    let stale = config.alerts.stale_after.as_secs() as f64;
    out.push(Spec {
        unit: "s",
        ..Spec::stat(
            "Age of the last complete run",
            "Time since every source was read and the push landed.",
            format!("time() - max({}{})", config.metrics.last_success, s.run),
            "age",
            &[("green", None), ("red", Some(stale))],
        )
    });
    out.push(Spec {
        mappings: value_map(&[("0", "no", "green"), ("1", "failing", "red")]),
        ..Spec::stat(
            "Last push failed",
            "Whether the Pushgateway's last push attempt for the job failed (push_failure_time_seconds newer than push_time_seconds).",
            format!(
                "max({failed}{sel} > bool {pushed}{sel})",
                failed = names::PUSHGATEWAY_PUSH_FAILURE_TIME,
                pushed = names::PUSHGATEWAY_PUSH_TIME,
                sel = s.run
            ),
            "failing",
            &[("green", None), ("red", Some(1.0))],
        )
    });
    if full {
        let pool = names::POOL_LABEL;
        let pw = days(config.defaults.pools.warn_before);
        out.push(Spec::pool_bars(
            "Pool runway",
            "Days until the last usable distinct credential of each pool expires; red below the pool warning.",
            format!(
                "sort(max({r}{sel}) by ({pool}) - time()) / 86400",
                r = names::POOL_RUNWAY_EXPIRY,
                sel = s.pool
            ),
            "d",
            &[("red", None), ("green", Some(pw))],
        ));
        out.push(Spec::pool_bars(
            "Pool distinct credentials",
            "How many different values a pool's members hold; fewer than its members means a copy.",
            format!(
                "max({d}{sel}) by ({pool})",
                d = names::POOL_DISTINCT,
                sel = s.pool
            ),
            "none",
            &[("red", None), ("orange", Some(1.0)), ("green", Some(2.0))],
        ));
    }
    out
}

fn panel_options(kind: &str) -> serde_json::Value {
    let reduce = serde_json::json!({ "calcs": ["lastNotNull"], "fields": "", "values": false });
    match kind {
        "bargauge" => serde_json::json!({
            "reduceOptions": reduce,
            "orientation": "horizontal",
            "displayMode": "basic",
            "valueMode": "color",
            "showUnfilled": true,
            "namePlacement": "left",
            "sizing": "auto",
            "minVizHeight": 16,
            "maxVizHeight": 24,
        }),
        _ => serde_json::json!({
            "reduceOptions": reduce,
            "colorMode": "background",
            "graphMode": "none",
            "justifyMode": "center",
            "orientation": "auto",
            "textMode": "value",
            "wideLayout": true,
        }),
    }
}

fn variables(config: &Config) -> Vec<Variable> {
    let e = &config.metrics.expiry;
    let job = config
        .pushgateway
        .as_ref()
        .map_or("credwatch", |p| p.job.as_str());
    let query = |name: String, label: &str, all: bool, definition: String| Variable {
        name,
        label: label.to_string(),
        kind: "query",
        query: serde_json::json!({ "query": definition, "refId": "PrometheusVariableQueryEditor-VariableQuery" }),
        datasource: Some(DATASOURCE),
        definition: Some(definition),
        current: None,
        include_all: all,
        all_value: all.then_some(".*"),
        multi: false,
        refresh: 2,
        sort: 1,
        hide: 0,
    };
    let mut list = vec![Variable {
        name: "datasource".into(),
        label: "Data source".into(),
        kind: "datasource",
        query: serde_json::Value::String("prometheus".into()),
        datasource: None,
        definition: None,
        current: None,
        include_all: false,
        all_value: None,
        multi: false,
        refresh: 1,
        sort: 0,
        hide: 0,
    }];
    let mut job_var = query(
        "job".into(),
        "Job",
        false,
        format!("label_values({e}, {})", names::JOB_LABEL),
    );
    job_var.current = Some(Current {
        text: job.to_string(),
        value: job.to_string(),
    });
    list.push(job_var);
    for label in grouping_labels(config) {
        let definition = format!(
            "label_values({e}{{{}=~\"$job\"}}, {label})",
            names::JOB_LABEL
        );
        list.push(query(label.clone(), &label, true, definition));
    }
    list.push(query(
        names::POOL_LABEL.into(),
        "Pool",
        true,
        format!(
            "label_values({e}{{{}=~\"$job\"}}, {})",
            names::JOB_LABEL,
            names::POOL_LABEL
        ),
    ));
    list
}

/// Lays the panels out on Grafana's 24-column grid, left to right, wrapping rows.
fn layout(specs: Vec<Spec>) -> Vec<Panel> {
    let (mut x, mut y, mut row_height) = (0u8, 0u8, 0u8);
    let mut out = Vec::new();
    for (i, spec) in specs.into_iter().enumerate() {
        if x + spec.width > 24 {
            x = 0;
            y += row_height;
            row_height = 0;
        }
        out.push(Panel {
            id: i as u32 + 1,
            kind: spec.kind,
            title: spec.title,
            description: spec.description,
            datasource: DATASOURCE,
            grid_pos: GridPos {
                h: spec.height,
                w: spec.width,
                x,
                y,
            },
            targets: vec![Target {
                ref_id: "A",
                datasource: DATASOURCE,
                expr: spec.expr,
                legend_format: spec.legend,
                instant: true,
                range: false,
            }],
            field_config: FieldConfig {
                defaults: FieldDefaults {
                    unit: spec.unit,
                    decimals: (spec.unit == "d").then_some(1),
                    min: (spec.kind == "bargauge").then_some(0.0),
                    thresholds: spec.thresholds,
                    mappings: spec.mappings,
                    color: ColorMode { mode: "thresholds" },
                },
                overrides: [],
            },
            options: panel_options(spec.kind),
        });
        x += spec.width;
        row_height = row_height.max(spec.height);
    }
    out
}

fn dashboard_json(config: &Config) -> Result<String, String> {
    let dashboard = Dashboard {
        uid: UID,
        title: "credwatch",
        description: "Credential expiry, pool runway and monitor health, from credwatch's series.",
        tags: ["credwatch"],
        timezone: "utc",
        editable: true,
        graph_tooltip: 0,
        refresh: "5m",
        schema_version: SCHEMA_VERSION,
        version: 1,
        time: Range {
            from: "now-24h",
            to: "now",
        },
        annotations: List { list: Vec::new() },
        templating: List {
            list: variables(config),
        },
        panels: layout(panels(config)),
    };
    let mut text = serde_json::to_string_pretty(&dashboard)
        .map_err(|e| format!("cannot write the dashboard as JSON: {e}"))?;
    text.push('\n');
    Ok(text)
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ConfigMap<'a> {
    api_version: &'static str,
    kind: &'static str,
    metadata: Metadata<'a>,
    data: BTreeMap<&'static str, String>,
}

#[derive(Debug, Serialize)]
struct Metadata<'a> {
    name: &'static str,
    namespace: &'a str,
    labels: BTreeMap<&'static str, &'static str>,
}

/// The dashboard in the chosen shape.
pub fn render(config: &Config, opts: &Options) -> Result<String, String> {
    let json = dashboard_json(config)?;
    match opts.format {
        Format::Json => Ok(json),
        Format::ConfigMap => {
            if !crate::render::k8s::is_dns_label(&opts.namespace, 63) {
                return Err(format!(
                    "--namespace: `{}` is not a valid namespace name",
                    opts.namespace
                ));
            }
            let object = ConfigMap {
                api_version: "v1",
                kind: "ConfigMap",
                metadata: Metadata {
                    name: "credwatch-dashboard",
                    namespace: &opts.namespace,
                    labels: BTreeMap::from([
                        ("app.kubernetes.io/name", "credwatch"),
                        ("grafana_dashboard", "1"),
                    ]),
                },
                data: BTreeMap::from([("credwatch.json", json)]),
            };
            serde_norway::to_string(&object)
                .map_err(|e| format!("cannot write the ConfigMap as YAML: {e}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn config(text: &str) -> Config {
        crate::config::parse_config(text, Path::new("/etc/credwatch/credwatch.toml"))
            .expect("valid config")
    }

    const BASE: &str = "[pushgateway]\nurl = \"http://pg:9091\"\njob = \"creds\"\n\n[[credential]]\nname = \"a\"\nexpires_at = \"2027-01-01T00:00:00Z\"\n";

    fn parsed(c: &Config) -> serde_json::Value {
        serde_json::from_str(
            &render(
                c,
                &Options {
                    format: Format::Json,
                    namespace: "monitoring".into(),
                },
            )
            .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn panels_have_unique_ids_and_fit_the_grid() {
        let doc = parsed(&config(BASE));
        let panels = doc["panels"].as_array().unwrap();
        let mut ids: Vec<u64> = panels.iter().map(|p| p["id"].as_u64().unwrap()).collect();
        ids.dedup();
        assert_eq!(ids.len(), panels.len());
        for p in panels {
            let g = &p["gridPos"];
            assert!(
                g["x"].as_u64().unwrap() + g["w"].as_u64().unwrap() <= 24,
                "{p}"
            );
            assert_eq!(p["datasource"]["uid"], "${datasource}");
        }
        assert_eq!(doc["templating"]["list"][1]["current"]["value"], "creds");
    }

    #[test]
    fn without_extra_series_only_panels_on_emitted_series_remain() {
        let c = config(&format!(
            "{BASE}\n[metrics]\nextra_series = false\nexpiry_metric = \"claude_oauth_token_expiry_timestamp_seconds\"\ncredential_label = \"path\"\n"
        ));
        let doc = parsed(&c);
        let exprs: Vec<&str> = doc["panels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["targets"][0]["expr"].as_str().unwrap())
            .collect();
        assert_eq!(exprs.len(), 4, "{exprs:#?}");
        assert!(exprs[0].contains("claude_oauth_token_expiry_timestamp_seconds"));
        assert!(exprs[0].contains("by (path)"));
        assert!(
            exprs
                .iter()
                .all(|e| !e.contains("credwatch_pool") && !e.contains(names::SOURCE_UP))
        );
    }

    #[test]
    fn a_configmap_needs_a_valid_namespace() {
        let c = config(BASE);
        let err = render(
            &c,
            &Options {
                format: Format::ConfigMap,
                namespace: "Not Valid".into(),
            },
        );
        assert!(err.unwrap_err().contains("`Not Valid`"));
    }
}
