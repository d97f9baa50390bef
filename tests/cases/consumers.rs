//! What was stored, recorded: `rotate` and `record` against a real OpenBao keep the value's
//! fingerprint, the version and a short history in custom_metadata (other keys kept, never a
//! secret), and a value changed by hand is reported as changed outside credwatch. End to end
//! with OpenBao, the Pushgateway, Prometheus and consumer sidecars (`credwatch serve` holding a
//! pod's token): after a rotation the alert follows the pods that still hold the old token, in
//! Prometheus and in what Alertmanager sends on.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::cases::values::{assert_no_substring, claude_token};
use crate::support::exporter::Exporter;
use crate::support::openbao::OpenBao;
use crate::support::{
    Alertmanager, Credwatch, Prometheus, Pushgateway, Run, Scratch, Webhook, free_port, http_get,
    poll,
};

const KEY: &str = "a-long-random-fingerprint-key-for-tests-0123456789";

/// credwatch's keyed fingerprint, computed independently (HMAC-SHA-256, first 8 bytes in hex).
pub fn hmac_fingerprint(value: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, KEY.as_bytes());
    let tag = ring::hmac::sign(&key, value.as_bytes());
    let hex: String = tag.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("hmac-sha256:{hex}")
}

fn custom(bao: &OpenBao, path: &str) -> Value {
    bao.api("GET", &format!("secret/metadata/{path}"), None)["data"]["custom_metadata"].clone()
}

const CONFIG: &str = r#"
[[source]]
kind = "vault"

[[credential]]
name = "primary"
vault = { path = "agent", field = "oauth_token" }
format = "claude-oauth"
"#;

#[test]
fn record_imports_a_mint_time_rotate_keeps_a_history_and_a_hand_change_is_reported() {
    let bao = OpenBao::start();
    let (old, new, theirs) = (
        claude_token(41, 108),
        claude_token(42, 108),
        claude_token(43, 108),
    );
    bao.write_secret("agent", json!({ "oauth_token": old, "note": "keep me" }));
    bao.write_custom_metadata("agent", json!({ "owner": "platform" }));
    let s = Scratch::new();
    let config = s.write("credwatch.toml", CONFIG);
    let policy = Credwatch::new()
        .args([std::ffi::OsStr::new("--config"), config.as_os_str()])
        .args(["render", "vault-policy", "--for", "rotate"])
        .run();
    bao.write_policy("credwatch-rotate", &policy.stdout);
    let token = bao.create_token(&["credwatch-rotate"]);
    let cw = |args: &[&str], stdin: &str| -> Run {
        Credwatch::new()
            .args([std::ffi::OsStr::new("--config"), config.as_os_str()])
            .args(args)
            .env("VAULT_ADDR", &bao.url)
            .env("VAULT_TOKEN", &token)
            .env("CREDWATCH_FINGERPRINT_KEY", KEY)
            .env("USER", "ops")
            .run_with_stdin(stdin)
    };

    // Import a known mint time: a merge patch, the other keys kept.
    let recorded = cw(
        &[
            "record",
            "primary",
            "--minted-at",
            "2026-04-18T16:07:09Z",
            "--by",
            "importer",
        ],
        "",
    );
    recorded.assert_code(0);
    assert!(
        recorded
            .stdout
            .contains("recorded minted_at = 2026-04-18T16:07:09Z for version 1 of `secret/agent`"),
        "{}",
        recorded.stdout
    );
    let c = custom(&bao, "agent");
    assert_eq!(c["owner"], "platform");
    assert_eq!(c["minted_at"], "2026-04-18T16:07:09Z");
    assert_eq!(c["recorded_version"], "1");
    assert_eq!(c["recorded_by"], "importer via credwatch");
    assert_eq!(c["fingerprint"], hmac_fingerprint(&old));

    // Rotate: the new value's fingerprint and version, the old one in the history.
    let rotated = cw(
        &[
            "rotate",
            "primary",
            "--minted-at",
            "2026-11-30T12:00:00Z",
            "--no-push",
        ],
        &format!("{new}\n"),
    );
    rotated.assert_code(0);
    let c = custom(&bao, "agent");
    assert_eq!(c["owner"], "platform");
    assert_eq!(c["fingerprint"], hmac_fingerprint(&new));
    assert_eq!(c["recorded_version"], "2");
    assert_eq!(c["rotated_by"], "ops via credwatch");
    let previous = c["previous_1"].as_str().unwrap();
    assert!(
        previous.starts_with(&format!(
            "version=1 fingerprint={} minted_at=2026-04-18T16:07:09Z expires_at=2027-04-18T16:07:09Z replaced_at=",
            hmac_fingerprint(&old)
        )),
        "{previous}"
    );

    // A hand change (what `bao kv patch` does): version 3, not recorded by credwatch.
    let (status, _) = bao.request(
        Some(&bao.root_token),
        "PATCH",
        "secret/data/agent",
        Some(json!({ "data": { "oauth_token": theirs } })),
    );
    assert_eq!(status, 200);
    let created =
        bao.api("GET", "secret/metadata/agent", None)["data"]["versions"]["3"]["created_time"]
            .as_str()
            .unwrap()
            .to_string();
    let check = cw(&["check", "-o", "json"], "");
    assert!(
        check.stderr.contains("changed outside credwatch at")
            && check
                .stderr
                .contains("run `credwatch record primary --minted-at TIME` to confirm"),
        "{}",
        check.stderr
    );
    let doc: Value = serde_json::from_str(&check.stdout).unwrap();
    let primary = doc["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "primary")
        .unwrap()
        .clone();
    assert_eq!(
        primary["kind"], "assumed_changed_out_of_band",
        "{primary:#}"
    );
    assert_eq!(primary["minted_at"], created.as_str(), "{primary:#}");

    // Confirming it with `record` ends the finding.
    cw(
        &["record", "primary", "--minted-at", "2026-12-01T00:00:00Z"],
        "",
    )
    .assert_code(0);
    let check = cw(&["check", "-o", "json"], "");
    assert!(
        !check.stderr.contains("changed outside"),
        "{}",
        check.stderr
    );
    assert_eq!(
        custom(&bao, "agent")["fingerprint"],
        hmac_fingerprint(&theirs)
    );

    // No value, nor any part of one, in what was printed or stored.
    let stored = custom(&bao, "agent").to_string();
    for text in [
        &recorded.stdout,
        &recorded.stderr,
        &rotated.stdout,
        &rotated.stderr,
        &check.stdout,
        &check.stderr,
        &stored,
    ] {
        for t in [&old, &new, &theirs] {
            assert_no_substring(
                &text.replace("sk-ant-oat01-", ""),
                &t["sk-ant-oat01-".len()..],
            );
        }
    }
}

/// An alert Prometheus holds: its name, state and labels.
type Alert = (String, String, Value);

/// The alerts Prometheus holds now.
fn prometheus_alerts(prom: &Prometheus) -> Vec<Alert> {
    let (_, body) = http_get(&format!("{}/api/v1/alerts", prom.url));
    let doc: Value = serde_json::from_str(&body).unwrap_or_default();
    doc["data"]["alerts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|a| {
            (
                a["labels"]["alertname"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                a["state"].as_str().unwrap_or_default().to_string(),
                a["labels"].clone(),
            )
        })
        .collect()
}

/// Whether `alertname` fires for `consumer` (`None`: the store's own alert, no consumer label).
fn firing(alerts: &[Alert], alertname: &str, consumer: Option<&str>) -> bool {
    alerts.iter().any(|(name, state, labels)| {
        name == alertname
            && state == "firing"
            && labels["credential"] == "primary"
            && match consumer {
                None => labels.get("consumer").is_none(),
                Some(c) => labels["consumer"] == c,
            }
    })
}

fn unix_now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// The workload's view: `credwatch serve` as the sidecar of a pod, with the pod's token in its
/// environment and no Vault access at all.
fn sidecar(config: &Path, port: u16, pod: &str, token: &str) -> Exporter {
    let e = Exporter::start_with(
        config,
        &format!("127.0.0.1:{port}"),
        &["--interval", "1s"],
        &[
            ("CLAUDE_CODE_OAUTH_TOKEN", token),
            ("POD_NAME", pod),
            ("CREDWATCH_FINGERPRINT_KEY", KEY),
        ],
    );
    e.wait_ready(Duration::from_secs(20));
    e
}

#[test]
fn after_a_rotation_the_alert_follows_the_pods_that_still_hold_the_old_token() {
    let bao = OpenBao::start();
    let pg = Pushgateway::start();
    let (old, new, unrelated) = (
        claude_token(61, 108),
        claude_token(62, 108),
        claude_token(63, 108),
    );
    bao.write_secret("agent", json!({ "oauth_token": old }));
    let s = Scratch::new();
    let store = s.write(
        "store.toml",
        &format!(
            "[pushgateway]\nurl = \"{}\"\njob = \"credwatch-store\"\n\
             [alerts]\nexpiring_for = \"1s\"\ncritical_for = \"1s\"\nunknown_for = \"1s\"\npropagation_grace = \"15s\"\n\
             {CONFIG}",
            pg.url
        ),
    );
    let sidecar_config = s.write(
        "sidecar.toml",
        "[[consumer]]\ncredential = \"primary\"\nenv = \"CLAUDE_CODE_OAUTH_TOKEN\"\n",
    );
    let prom_url = std::sync::OnceLock::<String>::new();
    let store_cw = |args: &[&str], stdin: &str| -> Run {
        Credwatch::new()
            .args([std::ffi::OsStr::new("--config"), store.as_os_str()])
            .args(args)
            .env("VAULT_ADDR", &bao.url)
            .env("VAULT_TOKEN", &bao.root_token)
            .env("CREDWATCH_FINGERPRINT_KEY", KEY)
            .env(
                "CREDWATCH_PROMETHEUS_URL",
                prom_url.get().map_or("http://127.0.0.1:9", String::as_str),
            )
            .run_with_stdin(stdin)
    };
    // The seed: a token minted 355 days ago (10 days left of 365), its mint time imported.
    let minted = (unix_now() - 355 * 86_400).to_string();
    store_cw(&["record", "primary", "--minted-at", &minted], "").assert_code(0);
    store_cw(&["push"], "").assert_code(0);

    let ports = [free_port(), free_port(), free_port()];
    let pod_a = sidecar(&sidecar_config, ports[0], "pod-a", &old);
    let pod_b = sidecar(&sidecar_config, ports[1], "pod-b", &old);
    let pod_c = sidecar(&sidecar_config, ports[2], "pod-c", &unrelated);
    let unrelated_metrics = pod_c.metrics();
    let rules = store_cw(&["render", "rules"], "");
    rules.assert_code(0);
    let targets: String = ["pod-a", "pod-b", "pod-c"]
        .iter()
        .zip(ports)
        .map(|(pod, port)| {
            format!("  - targets: ['127.0.0.1:{port}']\n    labels: {{ pod: {pod} }}\n")
        })
        .collect();
    let hook = Webhook::start();
    let am = Alertmanager::start(&format!(
        "route:\n  receiver: hook\n  group_by: [alertname, credential, consumer]\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\n\
         receivers:\n- name: hook\n  webhook_configs:\n  - url: {}\n    send_resolved: true\n",
        hook.url
    ));
    let prom = Prometheus::start(
        &format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: [rules.yml]\n\
             alerting:\n  alertmanagers:\n  - static_configs:\n    - targets: ['{am}']\n\
             scrape_configs:\n- job_name: pushgateway\n  honor_labels: true\n  static_configs:\n  - targets: ['{pg}']\n\
             - job_name: agent-sidecar\n  static_configs:\n{targets}",
            am = am.url.trim_start_matches("http://"),
            pg = pg.url.trim_start_matches("http://"),
        ),
        &rules.stdout,
    );
    prom_url.set(prom.url.clone()).unwrap();
    let limit = Duration::from_secs(60);
    // What Alertmanager sent on: `status` ("firing", "resolved") of `alertname` for `consumer`.
    let sent = |status: &str, alertname: &str, consumer: &str| {
        hook.alerts().iter().any(|(s, a)| {
            s == status
                && a["labels"]["alertname"] == alertname
                && a["labels"]["credential"] == "primary"
                && a["labels"]["consumer"] == consumer
        })
    };
    let wait_sent = |what: &str, done: &dyn Fn() -> bool| {
        poll::until(limit, Duration::from_millis(250), || done().then_some(()))
            .unwrap_or_else(|| panic!("{what} within {limit:?}: {:#?}", hook.alerts()));
    };
    let wait = |what: &str, done: &dyn Fn(&[Alert]) -> bool| {
        poll::until(limit, Duration::from_millis(250), || {
            let alerts = prometheus_alerts(&prom);
            done(&alerts).then_some(())
        })
        .unwrap_or_else(|| panic!("{what} within {limit:?}: {:#?}", prometheus_alerts(&prom)));
    };

    // Before the rotation: the store's alert fires; the sidecar holding an unrelated value is
    // unknown, never OK; the two holding the current value are not stale.
    wait(
        "the store's expiring alert and pod-c's unknown value",
        &|a| {
            firing(a, "CredwatchExpiringSoon", None)
                && firing(a, "CredwatchConsumerUnknownValue", Some("pod-c"))
        },
    );
    let alerts = prometheus_alerts(&prom);
    for pod in ["pod-a", "pod-b"] {
        assert!(!firing(&alerts, "CredwatchConsumerUnknownValue", Some(pod)));
        assert!(!firing(&alerts, "CredwatchConsumerStale", Some(pod)));
    }

    // Rotate the primary: the store's alert resolves, the pods still holding the old token keep
    // theirs, and once the grace has passed they are stale.
    // `--wait` gives up after 4s naming the consumers that do not hold the new value.
    let rotated_at = std::time::Instant::now();
    let rotated = store_cw(&["rotate", "primary", "--wait", "4s"], &format!("{new}\n"));
    rotated.assert_code(1);
    assert!(
        rotated.stdout.contains("wrote version 2 of `secret/agent`"),
        "{}",
        rotated.stdout
    );
    assert!(
        rotated.stderr.contains("of 3 consumer(s) of `primary` hold the new value")
            && rotated.stderr.contains(
                "still hold another value: pod-a (stale), pod-b (stale), pod-c (unknown); restart them"
            ),
        "{}",
        rotated.stderr
    );
    wait(
        "the store's alert resolved, both pods' alerts firing",
        &|a| {
            !firing(a, "CredwatchExpiringSoon", None)
                && firing(a, "CredwatchExpiringSoon", Some("pod-a"))
                && firing(a, "CredwatchExpiringSoon", Some("pod-b"))
        },
    );
    wait("ConsumerStale for both pods", &|a| {
        firing(a, "CredwatchConsumerStale", Some("pod-a"))
            && firing(a, "CredwatchConsumerStale", Some("pod-b"))
    });
    assert!(
        rotated_at.elapsed() >= Duration::from_secs(10),
        "ConsumerStale fired before the 15s grace"
    );
    wait_sent("Alertmanager sending ConsumerStale for both pods", &|| {
        sent("firing", "CredwatchConsumerStale", "pod-a")
            && sent("firing", "CredwatchConsumerStale", "pod-b")
    });
    assert!(!sent("firing", "CredwatchConsumerStale", "pod-c"));
    let alerts = prometheus_alerts(&prom);
    let (_, _, labels) = alerts
        .iter()
        .find(|(n, s, l)| n == "CredwatchExpiringSoon" && s == "firing" && l["consumer"] == "pod-a")
        .unwrap();
    assert_eq!(labels["pod"], "pod-a", "{labels:#}");

    // Restart pod-a with the new value: its alerts resolve, pod-b's do not.
    drop(pod_a);
    let pod_a = sidecar(&sidecar_config, ports[0], "pod-a", &new);
    wait("pod-a's alerts resolved, pod-b's still firing", &|a| {
        !firing(a, "CredwatchExpiringSoon", Some("pod-a"))
            && !firing(a, "CredwatchConsumerStale", Some("pod-a"))
            && firing(a, "CredwatchExpiringSoon", Some("pod-b"))
            && firing(a, "CredwatchConsumerStale", Some("pod-b"))
    });
    assert!(!firing(
        &prometheus_alerts(&prom),
        "CredwatchConsumerUnknownValue",
        Some("pod-a")
    ));
    // Alertmanager says pod-a's alert is over, and not pod-b's.
    wait_sent("Alertmanager resolving pod-a's ConsumerStale", &|| {
        sent("resolved", "CredwatchConsumerStale", "pod-a")
    });
    assert!(!sent("resolved", "CredwatchConsumerStale", "pod-b"));

    // Rotate again and restart every pod with the newest value while `--wait` polls: it returns
    // 0 once all of them report it.
    let newest = claude_token(64, 108);
    let (waited, pod_a, pod_b) = std::thread::scope(|scope| {
        let rotation = scope.spawn(|| store_cw(&["rotate", "primary", "--wait", "60s"], &newest));
        let written = poll::until(limit, Duration::from_millis(100), || {
            let meta = bao.api("GET", "secret/metadata/agent", None);
            (meta["data"]["current_version"] == 3).then_some(())
        });
        assert!(written.is_some(), "the second rotation wrote nothing");
        // Each pod stops before it restarts on its port, as a pod's sidecar would.
        drop(pod_a);
        let pod_a = sidecar(&sidecar_config, ports[0], "pod-a", &newest);
        drop(pod_b);
        let pod_b = sidecar(&sidecar_config, ports[1], "pod-b", &newest);
        drop(pod_c);
        (rotation.join().unwrap(), pod_a, pod_b)
    });
    waited.assert_code(0);
    assert!(
        waited
            .stdout
            .contains("every consumer of `primary` holds the new value: pod-a, pod-b"),
        "{}\n{}",
        waited.stdout,
        waited.stderr
    );

    // No token, nor any part of one, in what the sidecars serve or the store pushed.
    let (_, pushed) = http_get(&format!("{}/metrics", pg.url));
    for text in [
        pod_a.metrics(),
        pod_b.metrics(),
        unrelated_metrics,
        pushed,
        rotated.stdout,
        rotated.stderr,
        waited.stdout,
        waited.stderr,
    ] {
        for t in [&old, &new, &unrelated, &newest] {
            assert_no_substring(
                &text.replace("sk-ant-oat01-", ""),
                &t["sk-ant-oat01-".len()..],
            );
        }
    }
}

#[test]
fn rotating_a_scanned_secret_says_which_credential_to_declare_and_that_works() {
    let bao = OpenBao::start();
    bao.write_secret("agents/primary", json!({ "token": claude_token(71, 108) }));
    let s = Scratch::new();
    let config = s.write(
        "credwatch.toml",
        "[[source]]\nkind = \"vault\"\nprefix = \"agents\"\nfield = \"token\"\n",
    );
    let cw = |args: &[&str], stdin: &str| -> Run {
        Credwatch::new()
            .args([std::ffi::OsStr::new("--config"), config.as_os_str()])
            .args(args)
            .env("VAULT_ADDR", &bao.url)
            .env("VAULT_TOKEN", &bao.root_token)
            .run_with_stdin(stdin)
    };
    let refused = cw(&["rotate", "agents/primary"], "");
    refused.assert_code(3);
    let advice = "  [[credential]]\n  name = \"primary\"\n  vault = { source = \"vault\", path = \"agents/primary\", field = \"token\" }\n";
    assert!(
        refused.stderr.contains(advice)
            && refused.stderr.contains("exclude = [\"agents/primary\"]"),
        "{}",
        refused.stderr
    );
    // Following the advice: the rotation works, and the secret is reported once.
    std::fs::write(
        &config,
        format!(
            "[[source]]\nkind = \"vault\"\nprefix = \"agents\"\nfield = \"token\"\nexclude = [\"agents/primary\"]\n{advice}"
        ),
    )
    .unwrap();
    cw(&["rotate", "primary"], &claude_token(72, 108)).assert_code(0);
    let check = cw(&["check", "-o", "json"], "");
    check.assert_code(0);
    let doc: Value = serde_json::from_str(&check.stdout).unwrap();
    let names: Vec<&str> = doc["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["primary"]);
}
