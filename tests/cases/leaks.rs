//! Secret values never appear anywhere: every command, its error paths and its most verbose
//! logging, the metrics that land in a real Pushgateway, and the files credwatch writes.

use base64::Engine;

use crate::cases::values::{assert_no_substring, claude_token, jwt};
use crate::support::{Credwatch, Fault, FaultServer, Pushgateway, Run, Scratch};

const PG_PASSWORD: &str = "Zq7vR2mX9kLp4TwB";
/// bcrypt of PG_PASSWORD (cost 4), for the Pushgateway's web config.
const WEB_CONFIG: &str =
    "basic_auth_users:\n  pusher: $2b$04$6Qf1YEfSHPVbYwALDTse3.E8U5p2ElFyEELKUJVsr8xNX.SpQs66e\n";

#[test]
fn no_command_prints_pushes_or_logs_a_secret() {
    let primary = claude_token(7, 108);
    let truncated = claude_token(8, 107);
    let env_token = claude_token(9, 108);
    let service_jwt = jwt(r#"{"sub":"svc-with-a-long-subject-name","exp":1800000000}"#);
    let fingerprint_key = "k3y-9f8e7d6c5b4a3210-zq";
    let secrets: Vec<String> = vec![
        primary["sk-ant-oat01-".len()..].to_string(),
        truncated["sk-ant-oat01-".len()..].to_string(),
        env_token["sk-ant-oat01-".len()..].to_string(),
        service_jwt.split('.').nth(1).unwrap().to_string(),
        PG_PASSWORD.to_string(),
        fingerprint_key.to_string(),
        // What the Authorization header carries.
        base64::engine::general_purpose::STANDARD.encode(format!("pusher:{PG_PASSWORD}")),
    ];

    let pg = Pushgateway::start_with_web_config(Some(WEB_CONFIG));
    let s = Scratch::new();
    s.write("secrets/primary", &primary);
    s.write("secrets/truncated", &truncated);
    s.write("secrets/jwt", &service_jwt);
    s.write("secrets/pg-password", PG_PASSWORD);
    let config = s.write(
        "credwatch.toml",
        &format!(
            r#"
[pushgateway]
url = "{}"
username = "pusher"
password_file = "secrets/pg-password"
retries = 0
timeout = "3s"

[[credential]]
name = "primary"
pool = "agent"
minted_at = "2026-04-18T16:07:09Z"
file = "secrets/primary"
format = "claude-oauth"

[[credential]]
name = "truncated"
pool = "agent"
minted_at = "2026-04-18T16:07:09Z"
file = "secrets/truncated"
format = "claude-oauth"

[[credential]]
name = "from-env"
pool = "agent"
minted_at = "2026-05-01T00:00:00Z"
env = "AGENT_TOKEN"
format = "claude-oauth"

[[credential]]
name = "service-jwt"
file = "secrets/jwt"
format = "jwt"

[[credential]]
name = "wrong-format"
minted_at = "2026-05-01T00:00:00Z"
file = "secrets/primary"
format = "github-fine-grained-pat"

# Copies as consumers see them: fingerprints only, and an unreadable one.
[[consumer]]
credential = "primary"
env = "AGENT_TOKEN"
[[consumer]]
credential = "primary"
file = "secrets/primary"
name = "from-file"
[[consumer]]
credential = "primary"
env = "NOT_SET"
name = "unreadable"
"#,
            pg.url
        ),
    );
    let failing = FaultServer::start(Fault::Status(400, "rejected for the test"));
    let cw = |args: &[&str]| -> Run {
        Credwatch::new()
            .args([std::ffi::OsStr::new("--config"), config.as_os_str()])
            .env("AGENT_TOKEN", &env_token)
            .env("CREDWATCH_FINGERPRINT_KEY", fingerprint_key)
            .env("CREDWATCH_LOG", "trace")
            .args(args)
            .run()
    };
    let runs = [
        cw(&["check"]),
        cw(&["check", "-o", "json"]),
        cw(&["-vvv", "push", "--dry-run"]),
        cw(&["-vvv", "push"]),
        cw(&["-vvv", "push", "--pushgateway-url", &failing.url]),
        cw(&["render", "rules"]),
        cw(&["render", "rule-tests"]),
        cw(&["render", "k8s", "--pushgateway-secret", "pg-auth"]),
        cw(&[
            "-vv",
            "textfile",
            "--path",
            s.path("credwatch.prom").to_str().unwrap(),
        ]),
        cw(&["rotate", "primary", "--no-push"]),
        cw(&["check", "-o", "html"]),
        cw(&["render", "calendar"]),
        cw(&["render", "dashboard", "--format", "configmap"]),
    ];
    // The real push landed (the run with the real Pushgateway is complete apart from the
    // truncated token, so it exits 3 but delivers).
    assert!(
        runs[3].stdout.contains("pushed 5 credential(s)"),
        "{}\n{}",
        runs[3].stdout,
        runs[3].stderr
    );
    assert_eq!(runs[4].code, 4);

    let (_, landed) = http_get_auth(&format!("{}/api/v1/metrics", pg.url));
    assert!(
        landed.contains("credwatch_credential_expiry_timestamp_seconds")
            && landed.contains("credwatch_consumer_fingerprint_info"),
        "{landed}"
    );
    // The requests the failing server saw hold the password only as the Authorization header.
    let seen: String = failing
        .requests
        .lock()
        .unwrap()
        .iter()
        .map(|r| strip_auth(r))
        .collect();

    let mut everything: Vec<String> = runs
        .iter()
        .flat_map(|r| [r.stdout.clone(), r.stderr.clone()])
        .collect();
    everything.push(landed);
    everything.push(seen);
    // Every file credwatch wrote: the textfile, and the config `rotate` rewrote.
    let textfile = std::fs::read_to_string(s.path("credwatch.prom")).unwrap();
    assert!(
        textfile.contains("credwatch_credential_format_ok"),
        "{textfile}"
    );
    everything.push(textfile);
    everything.push(std::fs::read_to_string(&config).unwrap());
    for text in &everything {
        let text = text.replace("sk-ant-oat01-", "");
        for secret in &secrets {
            assert_no_substring(&text, secret);
        }
    }
}

fn strip_auth(request: &str) -> String {
    request
        .lines()
        .filter(|l| !l.to_lowercase().starts_with("authorization:"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn http_get_auth(url: &str) -> (u16, String) {
    use base64::Engine;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .into();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("pusher:{PG_PASSWORD}"));
    let mut r = agent
        .get(url)
        .header("Authorization", format!("Basic {auth}"))
        .call()
        .unwrap();
    (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
}

#[test]
fn trace_logging_of_vault_traffic_shows_no_token_and_no_value() {
    use crate::support::openbao::OpenBao;
    let bao = OpenBao::start();
    let value = claude_token(51, 108);
    bao.write_secret(
        "agents/primary",
        serde_json::json!({ "oauth_token": value }),
    );
    let s = Scratch::new();
    let config = s.write(
        "credwatch.toml",
        "[[source]]\nkind = \"vault\"\nprefix = \"agents\"\nfield = \"oauth_token\"\nformat = \"claude-oauth\"\n",
    );
    let run = Credwatch::new()
        .args([std::ffi::OsStr::new("--config"), config.as_os_str()])
        .env("VAULT_ADDR", &bao.url)
        .env("VAULT_TOKEN", &bao.root_token)
        .env("CREDWATCH_LOG", "trace")
        .args(["-vvv", "check"])
        .run();
    run.assert_code(0);
    let text = (run.stdout + &run.stderr).replace("sk-ant-oat01-", "");
    assert!(!text.to_lowercase().contains("x-vault-token"), "{text}");
    assert_no_substring(&text, &value["sk-ant-oat01-".len()..]);
    assert_no_substring(&text, &bao.root_token);
}

/// Every probe's request and answer path (valid, expired, revoked, 5xx, hanging, redirected,
/// huge, rejected by header or body) at the most verbose logging, in every output and the cache.
#[test]
fn no_probe_request_or_answer_shows_a_value_or_the_providers_text() {
    use crate::cases::probes::{CASES, MARKER, documented, probe_config, token};
    use crate::support::provider::Provider;

    let s = Scratch::new();
    let provider = Provider::start(&s.path(""), |r| documented(r, "https://127.0.0.1:9"));
    let config = probe_config(&s, &provider, "cache_file = \"probe-cache.json\"");
    let textfile = s.path("out/credwatch.prom");
    std::fs::create_dir_all(s.path("out")).unwrap();
    let mut texts = Vec::new();
    for args in [
        vec!["check", "-vvv"],
        vec!["check", "-o", "json", "-vvv"],
        vec!["push", "--dry-run", "-vvv"],
        vec!["textfile", "--path", textfile.to_str().unwrap(), "-vvv"],
    ] {
        let run = Credwatch::new()
            .args([std::ffi::OsStr::new("--config"), config.as_os_str()])
            .args(&args)
            .run();
        texts.push(run.stdout);
        texts.push(run.stderr);
    }
    texts.push(std::fs::read_to_string(&textfile).unwrap());
    texts.push(std::fs::read_to_string(s.path("probe-cache.json")).unwrap());
    for (_, _, case, _) in CASES {
        let secret = token(case);
        let tail = &secret[case.len() + 1..];
        for text in &texts {
            assert_no_substring(text, tail);
            assert!(!text.contains(MARKER), "provider text echoed:\n{text}");
        }
    }
    assert_eq!(
        provider.received().len(),
        CASES.len(),
        "later runs use the cache"
    );
}
