//! `render dashboard` proven on real data: the fixture pushed to a real Pushgateway that a real
//! Prometheus scrapes, then every panel's query and every variable's `label_values` (variables
//! substituted as Grafana would) run through Prometheus's HTTP API and return data, with the
//! values the fixture implies where they are known. The JSON is checked for what Grafana needs
//! (schema version, a datasource on every panel, unique ids); the ConfigMap form passes
//! `kubernetes-validate --strict`.

use std::collections::BTreeSet;
use std::time::Duration;

use jiff::Timestamp;
use serde_json::Value;

use crate::cases::render_k8s::kubernetes_validate;
use crate::cases::status_page::fixture;
use crate::support::{Credwatch, Prometheus, Pushgateway, http_agent, http_get, poll};

const JOB: &str = "credwatch-views";

fn render(config: &std::path::Path, args: &[&str]) -> String {
    let r = Credwatch::new()
        .args(["--config", config.to_str().unwrap(), "render", "dashboard"])
        .args(args)
        .run();
    r.assert_code(0);
    r.stdout
}

/// What Grafana puts in place of the variables: the job, and "All" (`.*`) for the others.
fn substitute(expr: &str) -> String {
    expr.replace("$job", JOB).replace("$pool", ".*")
}

fn query(prometheus: &Prometheus, expr: &str) -> Vec<Value> {
    let url = format!(
        "{}/api/v1/query?query={}",
        prometheus.url,
        percent_encode(expr)
    );
    let (status, body) = http_get(&url);
    assert_eq!(status, 200, "`{expr}`: {body}");
    let doc: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["status"], "success", "`{expr}`: {body}");
    doc["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// POSTs `body` (text format) and returns the status.
fn post(url: &str, body: &str) -> u16 {
    http_agent()
        .post(url)
        .content_type("text/plain; version=0.0.4")
        .send(body)
        .map_or(0, |r| r.status().as_u16())
}

fn value(sample: &Value) -> f64 {
    sample["value"][1].as_str().unwrap().parse().unwrap()
}

#[test]
fn every_panel_query_returns_data_from_a_real_prometheus() {
    let now = Timestamp::now();
    let complete = fixture(now, true);
    let broken = fixture(now, false);
    let pushgateway = Pushgateway::start();
    let host = pushgateway.url.trim_start_matches("http://");
    let prometheus = Prometheus::start(
        &format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: pushgateway\n    honor_labels: true\n    static_configs:\n      - targets: ['{host}']\n"
        ),
        "groups: []\n",
    );

    // A run that read everything (the last-success series), then one that could not read a
    // credential and a source: what the dashboard is for.
    for (fx, code) in [(&complete, 0), (&broken, 3)] {
        Credwatch::new()
            .args(["--config", fx.config.to_str().unwrap()])
            .args(["push", "--pushgateway-url", &pushgateway.url])
            .run()
            .assert_code(code);
    }
    // Scraped once both pushes are in: the source that is down shows.
    let scraped = poll::until(Duration::from_secs(30), Duration::from_millis(200), || {
        let down = query(
            &prometheus,
            &format!("credwatch_source_up{{job=\"{JOB}\"}} == 0"),
        );
        (!down.is_empty()).then_some(())
    });
    assert!(
        scraped.is_some(),
        "Prometheus never scraped the second push"
    );

    let text = render(&broken.config, &[]);
    let dashboard: Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    assert_eq!(dashboard["schemaVersion"], 41);
    assert_eq!(dashboard["uid"], "credwatch");
    let variables: Vec<&str> = dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(variables, ["datasource", "job", "pool"]);

    let panels = dashboard["panels"].as_array().unwrap();
    let ids: BTreeSet<u64> = panels.iter().map(|p| p["id"].as_u64().unwrap()).collect();
    assert_eq!(ids.len(), panels.len(), "panel ids are unique");
    let mut by_title = std::collections::BTreeMap::new();
    for panel in panels {
        let title = panel["title"].as_str().unwrap();
        assert_eq!(panel["datasource"]["uid"], "${datasource}", "{title}");
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{title} has no query");
        for target in targets {
            assert_eq!(target["datasource"]["uid"], "${datasource}", "{title}");
            let expr = substitute(target["expr"].as_str().unwrap());
            let result = query(&prometheus, &expr);
            assert!(
                !result.is_empty(),
                "panel `{title}`: `{expr}` returned nothing"
            );
            by_title.insert(title.to_string(), result);
        }
    }

    // Values the fixture implies.
    let single = |title: &str| value(&by_title[title][0]);
    assert_eq!(
        single("Within their warning window"),
        3.0,
        "WARNING, CRITICAL, EXPIRED"
    );
    assert_eq!(single("Sources down"), 1.0);
    assert_eq!(single("Credentials not read"), 1.0);
    assert_eq!(single("Last push failed"), 0.0);
    let age = single("Age of the last complete run");
    assert!((0.0..300.0).contains(&age), "{age}");
    let left = &by_title["Credentials by time left"];
    let dated = broken
        .credentials
        .iter()
        .filter(|c| c.expires.is_some())
        .count();
    assert_eq!(left.len(), dated, "{left:#?}");
    let warning = left
        .iter()
        .find(|s| s["metric"]["credential"] == "warning-token")
        .expect("warning-token");
    assert!((value(warning) - 20.0).abs() < 0.1, "{warning}");
    let runway = &by_title["Pool runway"];
    assert_eq!(runway.len(), 1);
    assert!((value(&runway[0]) - 150.0).abs() < 0.1, "{runway:#?}");
    assert_eq!(value(&by_title["Pool distinct credentials"][0]), 1.0);
    assert_eq!(single("Rejected by their issuer"), 0.0);
    assert_eq!(single("Consumers holding a replaced value"), 0.0);

    // A probe rejection in the job's group, and a sidecar (its own job) whose copy is a value
    // the store replaced: both panels count them.
    let panel_expr = |title: &str| {
        substitute(
            panels.iter().find(|p| p["title"] == title).unwrap()["targets"][0]["expr"]
                .as_str()
                .unwrap(),
        )
    };
    assert_eq!(
        post(
            &format!("{}/metrics/job/{JOB}", pushgateway.url),
            "credwatch_credential_probe_rejected{credential=\"ok-token\",probe=\"github\"} 1\ncredwatch_stored_value_replaced_timestamp_seconds{credential=\"ok-token\",fingerprint=\"sha256:0ld\"} 1800000000\n",
        ),
        200
    );
    assert_eq!(
        post(
            &format!("{}/metrics/job/sidecar", pushgateway.url),
            "credwatch_consumer_fingerprint_info{credential=\"ok-token\",consumer=\"pod-a\",fingerprint=\"sha256:0ld\"} 1\n",
        ),
        200
    );
    for title in [
        "Rejected by their issuer",
        "Consumers holding a replaced value",
    ] {
        let expr = panel_expr(title);
        let counted = poll::until(Duration::from_secs(30), Duration::from_millis(200), || {
            query(&prometheus, &expr)
                .first()
                .is_some_and(|s| value(s) == 1.0)
                .then_some(())
        });
        assert!(
            counted.is_some(),
            "panel `{title}` never counted 1: `{expr}`"
        );
    }

    // A push the Pushgateway refuses (a TYPE that contradicts another group's) turns the
    // push-failure panel to 1.
    let expr = substitute(
        panels
            .iter()
            .find(|p| p["title"] == "Last push failed")
            .unwrap()["targets"][0]["expr"]
            .as_str()
            .unwrap(),
    );
    let (other, refused) = (
        post(
            &format!("{}/metrics/job/other", pushgateway.url),
            "# TYPE credwatch_probe counter\ncredwatch_probe 1\n",
        ),
        post(
            &format!("{}/metrics/job/{JOB}", pushgateway.url),
            "# TYPE credwatch_probe gauge\ncredwatch_probe 1\n",
        ),
    );
    assert_eq!(
        (other, refused),
        (200, 400),
        "the second push must be refused"
    );
    let failing = poll::until(Duration::from_secs(30), Duration::from_millis(200), || {
        query(&prometheus, &expr)
            .first()
            .is_some_and(|s| value(s) == 1.0)
            .then_some(())
    });
    assert!(failing.is_some(), "`{expr}` never showed the refused push");

    // Every variable's values come from the data.
    for variable in dashboard["templating"]["list"].as_array().unwrap() {
        let Some(definition) = variable["definition"].as_str() else {
            continue;
        };
        let inner = definition
            .strip_prefix("label_values(")
            .and_then(|d| d.strip_suffix(')'))
            .unwrap_or_else(|| panic!("unexpected variable query `{definition}`"));
        let (series, label) = inner.rsplit_once(", ").unwrap();
        let url = format!(
            "{}/api/v1/label/{label}/values?match[]={}",
            prometheus.url,
            percent_encode(&substitute(series))
        );
        let (status, body) = http_get(&url);
        assert_eq!(status, 200, "{body}");
        let doc: Value = serde_json::from_str(&body).unwrap();
        let values = doc["data"].as_array().unwrap();
        assert!(
            !values.is_empty(),
            "variable `{}` has no values",
            variable["name"]
        );
        if variable["name"] == "job" {
            assert!(values.contains(&Value::from(JOB)), "{values:?}");
        }
        if variable["name"] == "pool" {
            assert!(values.contains(&Value::from("agent")), "{values:?}");
        }
    }
}

#[test]
fn the_dashboard_configmap_passes_kubernetes_validate() {
    let fx = fixture(Timestamp::now(), false);
    let yaml = render(
        &fx.config,
        &["--format", "configmap", "--namespace", "grafana"],
    );
    let (ok, said) = kubernetes_validate(&yaml);
    assert!(ok, "{said}\n{yaml}");
    let doc: serde_norway::Value = serde_norway::from_str(&yaml).unwrap();
    assert_eq!(
        doc["metadata"]["labels"]["grafana_dashboard"].as_str(),
        Some("1")
    );
    assert_eq!(doc["metadata"]["namespace"].as_str(), Some("grafana"));
    let inner = doc["data"]["credwatch.json"].as_str().unwrap();
    assert_eq!(
        inner,
        render(&fx.config, &[]),
        "the ConfigMap holds the same dashboard"
    );
}

#[test]
fn grouping_labels_become_variables_and_matchers() {
    let fx = fixture(Timestamp::now(), true);
    let text = std::fs::read_to_string(&fx.config).unwrap().replace(
        "job = \"credwatch-views\"",
        "job = \"credwatch-views\"\ngrouping = { cluster = \"eu-1\" }",
    );
    std::fs::write(&fx.config, text).unwrap();
    let dashboard: Value = serde_json::from_str(&render(&fx.config, &[])).unwrap();
    let names: Vec<&str> = dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["datasource", "job", "cluster", "pool"]);
    for panel in dashboard["panels"].as_array().unwrap() {
        let expr = panel["targets"][0]["expr"].as_str().unwrap();
        assert!(expr.contains("cluster=~\"$cluster\""), "{expr}");
    }
}
