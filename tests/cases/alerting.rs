//! End to end on real servers: credwatch push → Pushgateway → Prometheus (rendered rules) →
//! Alertmanager → a webhook receiver on loopback. Expiring, rotating, removing a credential, a
//! monitor that stops pushing, an expired credential (one alert) and a source outage (one
//! SourceDown, no ExpiryUnknown per credential), each observed where an operator would see it.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::support::{
    Alertmanager, Credwatch, Prometheus, Pushgateway, Scratch, Webhook, http_get, poll,
};

const DAY: i64 = 86_400;
const JOB: &str = "credwatch-e2e";

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn write_config(
    s: &Scratch,
    pg: &Pushgateway,
    agent_minted_at: i64,
    with_retired: bool,
) -> std::path::PathBuf {
    let mut text = format!(
        r#"
[pushgateway]
url = "{url}"
job = "{JOB}"

[alerts]
expiring_for = "1s"
critical_for = "1s"
run_interval = "2s"
stale_after = "20s"
stale_for = "1s"
runbook = "https://runbooks.example/credentials"

[[credential]]
name = "agent-token"
pool = "agent"
minted_at = {agent_minted_at}
runbook = "https://runbooks.example/rotate-agent-token"
"#,
        url = pg.url
    );
    if with_retired {
        text.push_str(&format!(
            "\n[[credential]]\nname = \"retired-key\"\nexpires_at = {}\n",
            unix_now() + 10 * DAY
        ));
    }
    s.write("credwatch.toml", &text)
}

/// A Prometheus scraping `pg` every second, evaluating the rules `credwatch render rules` makes
/// of `config`, and sending alerts to `am`; returned once its target is up.
fn prometheus_with_rules(config: &Path, pg: &Pushgateway, am: &Alertmanager) -> Prometheus {
    let rules = Credwatch::new()
        .args([std::ffi::OsStr::new("--config"), config.as_os_str()])
        .args(["render", "rules"])
        .run();
    rules.assert_code(0);
    let prom = Prometheus::start(
        &format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: [rules.yml]\n\
             alerting:\n  alertmanagers:\n  - static_configs:\n    - targets: ['{am}']\n\
             scrape_configs:\n- job_name: pushgateway\n  honor_labels: true\n  static_configs:\n  - targets: ['{pg}']\n",
            am = am.url.trim_start_matches("http://"),
            pg = pg.url.trim_start_matches("http://"),
        ),
        &rules.stdout,
    );
    prom.wait_targets_up(Duration::from_secs(30));
    prom
}

fn push(config: &Path) {
    Credwatch::new()
        .args([std::ffi::OsStr::new("--config"), config.as_os_str()])
        .args(["push"])
        .run()
        .assert_code(0);
}

/// Waits (bounded) for `found`, pushing every few seconds while `keep_pushing` so the monitor
/// stays fresh, as the CronJob would.
fn wait_for(
    limit: Duration,
    keep_pushing: Option<&Path>,
    mut found: impl FnMut() -> bool,
) -> Option<Duration> {
    let start = Instant::now();
    let mut last_push = Instant::now();
    poll::until(limit, Duration::from_millis(100), || {
        if found() {
            return Some(start.elapsed());
        }
        if let Some(config) = keep_pushing
            && last_push.elapsed() > Duration::from_secs(4)
        {
            push(config);
            last_push = Instant::now();
        }
        None
    })
}

fn has(hook: &Webhook, status: &str, alertname: &str, credential: Option<&str>) -> bool {
    hook.alerts().iter().any(|(s, a)| {
        s == status
            && a["labels"]["alertname"] == alertname
            && credential.is_none_or(|c| a["labels"]["credential"] == c)
    })
}

#[test]
fn alerts_fire_resolve_on_rotation_vanish_on_removal_and_go_stale() {
    let pg = Pushgateway::start();
    let hook = Webhook::start();
    let am = Alertmanager::start(&format!(
        "route:\n  receiver: hook\n  group_by: [alertname, credential]\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\n\
         receivers:\n- name: hook\n  webhook_configs:\n  - url: {}\n    send_resolved: true\n",
        hook.url
    ));
    let s = Scratch::new();
    let config = write_config(&s, &pg, unix_now() - 355 * DAY, true);
    let _prom = prometheus_with_rules(&config, &pg, &am);

    // A credential with 10 days left: the expiring-soon alert reaches the receiver.
    push(&config);
    let fired = wait_for(Duration::from_secs(60), Some(&config), || {
        has(
            &hook,
            "firing",
            "CredwatchExpiringSoon",
            Some("agent-token"),
        ) && has(
            &hook,
            "firing",
            "CredwatchExpiringSoon",
            Some("retired-key"),
        )
    })
    .expect("the expiring-soon alerts never reached the webhook");
    println!("push → firing notification: {:.1}s", fired.as_secs_f64());
    let alerts = hook.alerts();
    let (_, alert) = alerts
        .iter()
        .find(|(s, a)| s == "firing" && a["labels"]["credential"] == "agent-token")
        .unwrap();
    assert_eq!(alert["labels"]["severity"], "warning");
    assert_eq!(alert["labels"]["pool"], "agent");
    assert_eq!(alert["labels"]["job"], JOB);
    assert_eq!(
        alert["annotations"]["runbook_url"],
        "https://runbooks.example/rotate-agent-token"
    );
    let summary = alert["annotations"]["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("Credential agent-token expires in 9d 23h"),
        "{summary}"
    );
    let (_, retired) = alerts
        .iter()
        .find(|(s, a)| s == "firing" && a["labels"]["credential"] == "retired-key")
        .unwrap();
    assert_eq!(
        retired["annotations"]["runbook_url"],
        "https://runbooks.example/credentials"
    );
    assert!(!has(&hook, "firing", "CredwatchCritical", None));

    // Rotation (a new mint time) and removal of the other credential, then one push.
    let config = write_config(&s, &pg, unix_now(), false);
    push(&config);
    let resolved = wait_for(Duration::from_secs(60), Some(&config), || {
        has(
            &hook,
            "resolved",
            "CredwatchExpiringSoon",
            Some("agent-token"),
        ) && has(
            &hook,
            "resolved",
            "CredwatchExpiringSoon",
            Some("retired-key"),
        )
    })
    .expect("no resolved notification after rotation and removal");
    println!(
        "rotation → resolved notification: {:.1}s",
        resolved.as_secs_f64()
    );
    let (_, active) = http_get(&format!("{}/api/v2/alerts?active=true", am.url));
    let active: serde_json::Value = serde_json::from_str(&active).unwrap();
    let left: Vec<_> = active
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["labels"]["alertname"] == "CredwatchExpiringSoon")
        .collect();
    assert!(left.is_empty(), "alerts left behind: {left:?}");

    // The monitor stops: the stale alert fires once `stale_after` (20s) has passed.
    let stale = wait_for(Duration::from_secs(60), None, || {
        has(&hook, "firing", "CredwatchMonitorStale", None)
    })
    .expect("the stale alert never fired");
    println!(
        "last push → stale notification: {:.1}s (stale_after 20s)",
        stale.as_secs_f64()
    );
    assert!(!has(&hook, "firing", "CredwatchMonitorNeverRun", None));
    assert!(!has(&hook, "firing", "CredwatchPushFailing", None));
}

const OUTAGE_JOB: &str = "credwatch-e2e-outage";

/// The alerts Prometheus holds (pending or firing) named `alertname`.
fn prometheus_alerts(prom: &Prometheus, alertname: &str) -> Vec<serde_json::Value> {
    let (_, body) = http_get(&format!("{}/api/v1/alerts", prom.url));
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    doc["data"]["alerts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|a| a["labels"]["alertname"] == alertname)
        .collect()
}

/// How many series an instant query returns.
fn series_count(prom: &Prometheus, query: &str) -> usize {
    let url = format!(
        "{}/api/v1/query?query={}",
        prom.url,
        query
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    );
    let (_, body) = http_get(&url);
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    doc["data"]["result"].as_array().map_or(0, Vec::len)
}

/// The distinct label sets of the firing notifications named `alertname`.
fn firing(hook: &Webhook, alertname: &str) -> Vec<serde_json::Value> {
    let mut seen: Vec<serde_json::Value> = Vec::new();
    for (status, a) in hook.alerts() {
        if status == "firing"
            && a["labels"]["alertname"] == alertname
            && !seen.contains(&a["labels"])
        {
            seen.push(a["labels"].clone());
        }
    }
    seen
}

fn push_code(config: &Path) -> i32 {
    Credwatch::new()
        .args([std::ffi::OsStr::new("--config"), config.as_os_str()])
        .args(["push"])
        .run()
        .code
}

#[test]
fn a_source_outage_raises_one_source_down_and_an_expired_credential_one_alert() {
    let pg = Pushgateway::start();
    let hook = Webhook::start();
    let am = Alertmanager::start(&format!(
        "route:\n  receiver: hook\n  group_by: [alertname, credential, source]\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\n\
         receivers:\n- name: hook\n  webhook_configs:\n  - url: {}\n    send_resolved: true\n",
        hook.url
    ));
    let s = Scratch::new();
    for name in ["db-a", "db-b", "db-c"] {
        s.write(
            &format!("configmap/{name}"),
            &(unix_now() + 100 * DAY).to_string(),
        );
    }
    // Every `for:` is 1s: an alert that should not fire would fire within a few evaluations.
    let config = s.write(
        "credwatch.toml",
        &format!(
            r#"
[pushgateway]
url = "{url}"
job = "{OUTAGE_JOB}"

[alerts]
expiring_for = "1s"
critical_for = "1s"
unknown_for = "1s"

[[credential]]
name = "expired-key"
expires_at = {expired}

[[source]]
kind = "directory"
name = "databases"
path = "configmap"
content = "expires_at"
"#,
            url = pg.url,
            expired = unix_now() - 2 * DAY,
        ),
    );
    let prom = prometheus_with_rules(&config, &pg, &am);

    // An expired credential: Expired alone, saying how long ago.
    assert_eq!(push_code(&config), 0, "the push landed");
    wait_for(Duration::from_secs(60), None, || {
        has(&hook, "firing", "CredwatchExpired", Some("expired-key"))
    })
    .expect("the expired alert never reached the webhook");
    // The group is evaluated as a whole: where Expired is active, ExpiringSoon and Critical
    // were evaluated on the same samples, and would be pending at least.
    for other in ["CredwatchExpiringSoon", "CredwatchCritical"] {
        let held = prometheus_alerts(&prom, other);
        assert!(
            held.is_empty(),
            "{other} for an expired credential: {held:?}"
        );
    }
    let about_it: Vec<_> = hook
        .alerts()
        .into_iter()
        .filter(|(_, a)| a["labels"]["credential"] == "expired-key")
        .collect();
    assert!(
        about_it
            .iter()
            .all(|(_, a)| a["labels"]["alertname"] == "CredwatchExpired"),
        "{about_it:?}"
    );
    let summary = about_it[0].1["annotations"]["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("Credential expired-key expired 2d 0h"),
        "{summary}"
    );

    // The source's directory disappears: its three credentials are carried, unread.
    std::fs::rename(s.path("configmap"), s.path("configmap.gone")).unwrap();
    assert_ne!(push_code(&config), 0, "a failed source fails the push");
    wait_for(Duration::from_secs(60), None, || {
        !firing(&hook, "CredwatchSourceDown").is_empty()
    })
    .expect("the source-down alert never reached the webhook");
    assert_eq!(
        series_count(
            &prom,
            &format!("credwatch_credential_read_ok{{job=\"{OUTAGE_JOB}\"}} == 0")
        ),
        3,
        "the outage's credentials are reported unread"
    );
    let held = prometheus_alerts(&prom, "CredwatchExpiryUnknown");
    assert!(
        held.is_empty(),
        "ExpiryUnknown during a source outage: {held:?}"
    );
    let down = firing(&hook, "CredwatchSourceDown");
    assert_eq!(down.len(), 1, "{down:?}");
    assert_eq!(down[0]["source"], "databases");
    assert_eq!(down[0]["job"], OUTAGE_JOB);
    let (_, alert) = hook
        .alerts()
        .into_iter()
        .find(|(st, a)| st == "firing" && a["labels"]["alertname"] == "CredwatchSourceDown")
        .unwrap();
    assert_eq!(
        alert["annotations"]["summary"],
        "credwatch cannot read source databases (unreadable)"
    );

    // The source is back: SourceDown resolves, and no ExpiryUnknown ever reached the receiver.
    std::fs::rename(s.path("configmap.gone"), s.path("configmap")).unwrap();
    assert_eq!(push_code(&config), 0);
    wait_for(Duration::from_secs(60), None, || {
        has(&hook, "resolved", "CredwatchSourceDown", None)
    })
    .expect("the source-down alert never resolved");
    assert!(firing(&hook, "CredwatchExpiryUnknown").is_empty());
}
