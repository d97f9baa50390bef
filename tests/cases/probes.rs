//! Probes against a loopback HTTPS stand-in that answers as Anthropic, GitHub and GitLab document
//! (valid, expired, revoked, 5xx, slow, a redirect to another host, a huge body), and the
//! `vault-token` preset against a real OpenBao. What was sent, what `check` and the series say,
//! the pool runway without a revoked spare, and the cache across runs and in `serve`.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::cases::vault_source::credential;
use crate::support::exporter::Exporter;
use crate::support::openbao::OpenBao;
use crate::support::provider::{Provider, Received, Reply};
use crate::support::{Credwatch, Run, Scratch, poll};

/// The value a stand-in request carried (whichever header the preset uses).
fn token_of(r: &Received) -> String {
    for h in [
        "authorization",
        "x-api-key",
        "private-token",
        "x-custom-token",
    ] {
        if let Some(v) = r.headers.get(h) {
            return v
                .trim_start_matches("Bearer ")
                .trim_start_matches("tok ")
                .to_string();
        }
    }
    String::new()
}

/// A token per case: `<case>-` and a tail that must never show anywhere.
pub fn token(case: &str) -> String {
    format!("{case}-Zk3p9QvX7mWr2LsT{}", case.len())
}

/// Text the stand-in puts into error messages; it must never be echoed.
pub const MARKER: &str = "provider-prose-Hq8Jd";

/// The documented answers, chosen by the token's case name.
pub fn documented(r: &Received, other_host: &str) -> Reply {
    let token = token_of(r);
    let case = token.split('-').next().unwrap_or_default();
    let path = r.target.as_str();
    let anthropic_error = |status, kind: &str, message: &str| {
        Reply::json(
            status,
            &format!(
                r#"{{"type":"error","error":{{"type":"{kind}","message":"{message} {MARKER}"}}}}"#
            ),
        )
    };
    match (path, case) {
        ("/api/oauth/profile", "valid") => anthropic_error(
            403,
            "permission_error",
            "OAuth token does not meet scope requirement user:profile",
        ),
        ("/api/oauth/profile", "expired") => anthropic_error(
            401,
            "authentication_error",
            "OAuth token has expired. Please obtain a new token or refresh your existing token.",
        ),
        ("/api/oauth/profile", "revoked") => {
            anthropic_error(401, "authentication_error", "Invalid bearer token")
        }
        ("/api/oauth/profile", "overloaded") => {
            anthropic_error(529, "overloaded_error", "Overloaded")
        }
        ("/api/oauth/profile", "slow") => Reply::Hang,
        ("/v1/models", "valid") => Reply::json(200, r#"{"data":[],"has_more":false}"#),
        ("/v1/models", "revoked") => {
            anthropic_error(401, "authentication_error", "invalid x-api-key")
        }
        ("/rate_limit", "valid") => Reply::Answer {
            status: 200,
            headers: vec![(
                "GitHub-Authentication-Token-Expiration".into(),
                "2027-02-01 09:00:00 +0900".into(),
            )],
            body: br#"{"resources":{}}"#.to_vec(),
        },
        ("/rate_limit", "forever") => Reply::json(200, r#"{"resources":{}}"#),
        ("/rate_limit", "revoked") => {
            Reply::json(401, &format!(r#"{{"message":"Bad credentials {MARKER}"}}"#))
        }
        ("/rate_limit", "moved") => Reply::Answer {
            status: 302,
            headers: vec![("location".into(), format!("{other_host}/rate_limit"))],
            body: Vec::new(),
        },
        ("/api/v4/personal_access_tokens/self", "valid") => Reply::json(
            200,
            r#"{"id":1,"name":"ci","revoked":false,"active":true,"expires_at":"2027-01-15","last_used_at":null}"#,
        ),
        ("/api/v4/personal_access_tokens/self", "revoked") => Reply::json(
            200,
            r#"{"id":2,"revoked":true,"active":false,"expires_at":"2027-01-15"}"#,
        ),
        ("/api/v4/personal_access_tokens/self", "lapsed") => Reply::json(
            200,
            r#"{"id":3,"revoked":false,"active":false,"expires_at":"2026-11-01"}"#,
        ),
        ("/api/v4/personal_access_tokens/self", "huge") => {
            // 8 MiB of padding before the JSON: credwatch reads 64 KiB and stops.
            let mut body = vec![b' '; 8 << 20];
            body.extend_from_slice(br#"{"active":true,"revoked":false,"expires_at":null}"#);
            Reply::Answer {
                status: 200,
                headers: vec![],
                body,
            }
        }
        // The generic form's own API (made up for the test: the config says what it means).
        ("/custom/whoami?fields=expires", "valid") => {
            Reply::json(200, r#"{"token":{"expires":"2027-05-01"}}"#)
        }
        ("/custom/whoami?fields=expires", "revoked") => Reply::json(401, "{}"),
        _ => Reply::json(404, r#"{"message":"404 Not Found"}"#),
    }
}

/// The probed credentials: (name, preset, case, extra keys).
pub const CASES: &[(&str, &str, &str, &str)] = &[
    (
        "oauth-valid",
        "anthropic-oauth",
        "valid",
        "minted_at = \"2026-04-18T00:00:00Z\"",
    ),
    (
        "oauth-expired",
        "anthropic-oauth",
        "expired",
        "minted_at = \"2026-04-18T00:00:00Z\"",
    ),
    (
        "oauth-revoked",
        "anthropic-oauth",
        "revoked",
        "minted_at = \"2026-04-18T00:00:00Z\"\npool = \"agent\"",
    ),
    (
        "oauth-overloaded",
        "anthropic-oauth",
        "overloaded",
        "minted_at = \"2026-04-18T00:00:00Z\"",
    ),
    (
        "oauth-slow",
        "anthropic-oauth",
        "slow",
        "minted_at = \"2026-04-18T00:00:00Z\"",
    ),
    (
        "key-valid",
        "anthropic-api-key",
        "valid",
        "expires_at = \"2027-06-01T00:00:00Z\"\npool = \"agent\"",
    ),
    (
        "key-revoked",
        "anthropic-api-key",
        "revoked",
        "expires_at = \"2027-06-01T00:00:00Z\"",
    ),
    (
        "gh-valid",
        "github",
        "valid",
        "expires_at = \"2030-01-01T00:00:00Z\"",
    ),
    ("gh-forever", "github", "forever", ""),
    ("gh-revoked", "github", "revoked", ""),
    (
        "gh-moved",
        "github",
        "moved",
        "expires_at = \"2027-06-01T00:00:00Z\"",
    ),
    ("gl-valid", "gitlab", "valid", ""),
    ("gl-revoked", "gitlab", "revoked", ""),
    ("gl-lapsed", "gitlab", "lapsed", ""),
    (
        "gl-huge",
        "gitlab",
        "huge",
        "expires_at = \"2027-06-01T00:00:00Z\"",
    ),
    ("custom-valid", "generic", "valid", ""),
    ("custom-revoked", "generic", "revoked", ""),
];

/// A config probing every case against `provider`; tokens in files under `s`.
pub fn probe_config(s: &Scratch, provider: &Provider, extra: &str) -> std::path::PathBuf {
    let mut text = format!(
        "[pushgateway]\nurl = \"http://127.0.0.1:9\"\n\n[probes]\ntimeout = \"1s\"\n{extra}\n"
    );
    for (name, preset, case, keys) in CASES {
        s.write(&format!("tokens/{name}"), &format!("{}\n", token(case)));
        let what = match *preset {
            "generic" => format!(
                "url = \"{}/custom/whoami?fields=expires\", headers = {{ X-Custom-Token = \"tok {{value}}\" }}, valid = [200], rejected = [401], expiry_pointer = \"/token/expires\", expiry_format = \"date\"",
                provider.url
            ),
            _ => format!("preset = \"{preset}\", base = \"{}\"", provider.url),
        };
        text.push_str(&format!(
            "\n[[credential]]\nname = \"{name}\"\nfile = \"tokens/{name}\"\n{keys}\nprobe = {{ {what}, ca_file = \"{}\" }}\n",
            provider.ca_file.display()
        ));
    }
    s.write("credwatch.toml", &text)
}

fn run(config: &std::path::Path, args: &[&str]) -> Run {
    Credwatch::new()
        .args([std::ffi::OsStr::new("--config"), config.as_os_str()])
        .args(args)
        .run()
}

#[test]
fn probes_tell_valid_expired_revoked_and_unreachable_apart_as_the_providers_document() {
    let s = Scratch::new();
    let other = Provider::start(&s.path(""), |_| Reply::json(200, "{}"));
    let other_url = other.url.clone();
    let provider = Provider::start(&s.path(""), move |r| documented(r, &other_url));
    let config = probe_config(&s, &provider, "");

    let started = std::time::Instant::now();
    let check = run(
        &config,
        &["check", "-o", "json", "--now", "2026-12-01T00:00:00Z"],
    );
    check.assert_code(2);
    // The slow provider costs one timeout, the huge body no more than reading 64 KiB.
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    let doc: serde_json::Value = serde_json::from_str(&check.stdout).unwrap();
    let rows: BTreeMap<String, serde_json::Value> = doc["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap().to_string(), c.clone()))
        .collect();
    let status = |n: &str| rows[n]["status"].as_str().unwrap().to_string();
    let reason = |n: &str| {
        rows[n]["probe"]["reason"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    for (name, want, why) in [
        ("oauth-valid", "OK", "accepted"),
        (
            "oauth-expired",
            "EXPIRED",
            "rejected: 401 authentication_error (expired)",
        ),
        (
            "oauth-revoked",
            "REVOKED",
            "rejected: 401 authentication_error (invalid token)",
        ),
        ("oauth-overloaded", "PROBE FAILING", "529 from the provider"),
        ("oauth-slow", "PROBE FAILING", "timed out after 1s"),
        ("key-valid", "OK", "accepted"),
        (
            "key-revoked",
            "REVOKED",
            "rejected: 401 authentication_error",
        ),
        ("gh-valid", "OK", "accepted"),
        ("gh-forever", "NO EXPIRY", "accepted"),
        ("gh-revoked", "REVOKED", "rejected: 401 bad credentials"),
        ("gh-moved", "PROBE FAILING", "302 redirect, not followed"),
        ("gl-valid", "OK", "accepted"),
        (
            "gl-revoked",
            "REVOKED",
            "rejected: 200 with `revoked: true`",
        ),
        ("gl-lapsed", "EXPIRED", "rejected: 200 with `active: false`"),
        (
            "gl-huge",
            "PROBE FAILING",
            "200, but the answer is not the documented JSON",
        ),
        ("custom-valid", "OK", "accepted"),
        ("custom-revoked", "REVOKED", "rejected: 401"),
    ] {
        assert_eq!(
            (status(name), reason(name)),
            (want.to_string(), why.to_string()),
            "{name}: {}",
            rows[name]
        );
    }
    // The issuer's expiry wins over the recorded one, and `kind` says so.
    assert_eq!(rows["gh-valid"]["expires_at"], "2027-02-01T00:00:00Z");
    assert_eq!(rows["gh-valid"]["kind"], "probe_issuer");
    assert_eq!(rows["gl-valid"]["expires_at"], "2027-01-15T00:00:00Z");
    assert_eq!(rows["custom-valid"]["expires_at"], "2027-05-01T00:00:00Z");
    assert_eq!(rows["custom-valid"]["probe"]["preset"], "generic");
    assert_eq!(rows["oauth-valid"]["kind"], "minted_at_plus_ttl");
    // A rejected credential is critical whatever its recorded expiry (2027) says.
    assert_eq!(rows["key-revoked"]["expires_at"], "2027-06-01T00:00:00Z");
    // The revoked spare adds no runway: the pool lasts as long as `key-valid`.
    let pool = &doc["pools"][0];
    assert_eq!(pool["name"], "agent");
    assert_eq!(pool["runway_until"], "2027-06-01T00:00:00Z", "{pool}");

    // What was sent: the documented path and headers, the value only in its header.
    let received = provider.received();
    assert_eq!(received.len(), CASES.len(), "one request per credential");
    for r in &received {
        assert_eq!(r.method, "GET");
        assert!(
            !r.target.contains("Zk3p9QvX"),
            "value in the URL: {}",
            r.target
        );
        assert!(!r.headers.contains_key("cookie"));
    }
    let by_path = |p: &str| {
        received
            .iter()
            .filter(|r| r.target == p)
            .cloned()
            .collect::<Vec<_>>()
    };
    for r in by_path("/api/oauth/profile") {
        assert_eq!(r.headers["anthropic-beta"], "oauth-2025-04-20");
        assert!(r.headers["authorization"].starts_with("Bearer "));
    }
    for r in by_path("/v1/models") {
        assert_eq!(r.headers["anthropic-version"], "2023-06-01");
        assert!(
            r.headers["x-api-key"].ends_with("Zk3p9QvX7mWr2LsT5")
                || r.headers["x-api-key"].ends_with("Zk3p9QvX7mWr2LsT7")
        );
    }
    for r in by_path("/api/v4/personal_access_tokens/self") {
        assert!(r.headers.contains_key("private-token"));
    }
    assert!(
        other.received().is_empty(),
        "the redirect to another host was followed"
    );

    // The series: accepted / rejected / when, and the status class.
    let push = run(
        &config,
        &["push", "--dry-run", "--now", "2026-12-01T00:00:00Z"],
    );
    let line = |metric: &str, name: &str| {
        push.stdout
            .lines()
            .find(|l| l.starts_with(&format!("{metric}{{credential=\"{name}\"")))
            .unwrap_or_else(|| panic!("no {metric} for {name}:\n{}", push.stdout))
            .to_string()
    };
    assert_eq!(
        line("credwatch_credential_probe_ok", "gh-valid"),
        "credwatch_credential_probe_ok{credential=\"gh-valid\",probe=\"github\",status_class=\"2xx\"} 1"
    );
    assert_eq!(
        line("credwatch_credential_probe_ok", "gh-revoked"),
        "credwatch_credential_probe_ok{credential=\"gh-revoked\",probe=\"github\",status_class=\"4xx\"} 0"
    );
    assert_eq!(
        line("credwatch_credential_probe_rejected", "gh-revoked"),
        "credwatch_credential_probe_rejected{credential=\"gh-revoked\",probe=\"github\"} 1"
    );
    assert_eq!(
        line("credwatch_credential_probe_ok", "oauth-slow"),
        "credwatch_credential_probe_ok{credential=\"oauth-slow\",probe=\"anthropic-oauth\",status_class=\"none\"} 0"
    );
    assert_eq!(
        line("credwatch_credential_probe_rejected", "oauth-slow"),
        "credwatch_credential_probe_rejected{credential=\"oauth-slow\",probe=\"anthropic-oauth\"} 0"
    );
    assert!(
        line("credwatch_credential_expiry_timestamp_seconds", "gh-valid")
            .contains("kind=\"probe_issuer\"")
    );

    // Neither a value nor the provider's prose appears anywhere.
    for text in [&check.stdout, &check.stderr, &push.stdout, &push.stderr] {
        assert!(!text.contains("Zk3p9QvX"), "a value leaked:\n{text}");
        assert!(!text.contains(MARKER), "provider text echoed:\n{text}");
    }
}

#[test]
fn probes_need_https_except_to_loopback_and_say_what_is_wrong() {
    let s = Scratch::new();
    s.write("t", "x\n");
    for (probe, want) in [
        (
            "{ preset = \"github\", base = \"http://github.example\" }",
            "`probe.base`: plain `http://` is allowed only to a loopback address; use `https://`, found `http://github.example`",
        ),
        (
            "{ preset = \"gitlab\", base = \"https://u:p@gitlab.example\" }",
            "`probe.base`: expected `https://host[:port][/path]` without credentials, query or fragment",
        ),
        (
            "{ preset = \"vault-token\" }",
            "`probe.base`: the `vault-token` preset needs the server's address",
        ),
        (
            "{ preset = \"openai\" }",
            "`probe.preset`: expected `anthropic-oauth`, `anthropic-api-key`, `github`, `gitlab` or `vault-token`, found `openai`",
        ),
        (
            "{ preset = \"anthropic-oauth\" }",
            "the `anthropic-oauth` probe does not tell the expiry; give `minted_at` or `expires_at`",
        ),
        (
            "{ url = \"https://api.example/check?token={value}\", headers = { A = \"b\" }, valid = [200], rejected = [401] }",
            "`probe.url` may not hold `{value}`: the value goes only into a header",
        ),
        (
            "{ url = \"https://api.example/check\", headers = { A = \"b\" }, valid = [200], rejected = [401] }",
            "`probe.headers` must send the value: put `{value}` into one",
        ),
        (
            "{ url = \"https://api.example/check\", headers = { A = \"{value}\" }, valid = [200], rejected = [200] }",
            "status 200 is in both `probe.valid` and `probe.rejected`",
        ),
        (
            "{ preset = \"github\", valid = [200] }",
            "`probe.valid` belongs to the generic form",
        ),
    ] {
        let config = s.write(
            "c.toml",
            &format!("[[credential]]\nname = \"a\"\nfile = \"t\"\nprobe = {probe}\n"),
        );
        let r = run(&config, &["check"]);
        r.assert_code(3);
        assert!(r.stderr.contains(want), "{probe}: {}", r.stderr);
    }
}

#[test]
fn results_are_cached_for_the_interval_across_runs_and_in_serve() {
    let s = Scratch::new();
    let provider = Provider::start(&s.path(""), |r| documented(r, "https://127.0.0.1:9"));
    s.write("tokens/gh", &format!("{}\n", token("valid")));
    let write_config = |extra: &str| {
        s.write(
            "credwatch.toml",
            &format!(
                "[probes]\ninterval = \"1h\"\n{extra}\n[[credential]]\nname = \"gh\"\nfile = \"tokens/gh\"\nprobe = {{ preset = \"github\", base = \"{}\", ca_file = \"{}\" }}\n",
                provider.url,
                provider.ca_file.display()
            ),
        )
    };
    // One-shot runs share results through the cache file.
    let config = write_config("cache_file = \"probes.json\"");
    for _ in 0..3 {
        run(&config, &["check"]).assert_code(0);
    }
    assert_eq!(
        provider.received().len(),
        1,
        "three runs within the interval probe once"
    );
    let cache = std::fs::read_to_string(s.path("probes.json")).unwrap();
    assert!(
        !cache.contains("Zk3p9QvX"),
        "the cache holds no value: {cache}"
    );
    // A rotated value is probed at once; a run an interval later asks again.
    s.write("tokens/gh", &format!("{}\n", token("forever")));
    run(&config, &["check"]).assert_code(0);
    assert_eq!(provider.received().len(), 2);
    run(&config, &["check", "--now", "2099-01-01T00:00:00Z"]).assert_code(0);
    assert_eq!(provider.received().len(), 3);

    // serve: refreshes every second, probes once per interval.
    let config = write_config("");
    let mut exporter = Exporter::start_ready(&config, &["--interval", "1s"]);
    let mut seen = std::collections::BTreeSet::new();
    let refreshed = poll::until(Duration::from_secs(20), Duration::from_millis(100), || {
        let m = exporter.metrics();
        let last = m
            .lines()
            .find(|l| l.starts_with("credwatch_last_run_timestamp_seconds "))?
            .to_string();
        seen.insert(last);
        (seen.len() >= 3).then_some(())
    });
    assert!(refreshed.is_some(), "serve did not refresh three times");
    assert_eq!(
        provider.received().len(),
        4,
        "serve probed more than once within the interval"
    );
    let _ = exporter.stop_with("TERM");
}

#[test]
fn vault_tokens_are_probed_with_lookup_self_on_a_real_openbao() {
    let bao = OpenBao::start();
    let create = |body| bao.create_token_with(body).0;
    let valid = create(serde_json::json!({ "ttl": "240h", "renewable": false }));
    let renewable = create(serde_json::json!({ "ttl": "1h", "explicit_max_ttl": "48h" }));
    let revoked = create(serde_json::json!({ "ttl": "240h" }));
    bao.api(
        "POST",
        "auth/token/revoke",
        Some(serde_json::json!({ "token": revoked })),
    );
    let short = create(serde_json::json!({ "ttl": "1s", "renewable": false }));
    // Wait until the server itself refuses the short-lived token.
    let gone = poll::until(Duration::from_secs(20), Duration::from_millis(200), || {
        let (status, _) = bao.request(Some(&short), "GET", "auth/token/lookup-self", None);
        (status == 403).then_some(())
    });
    assert!(gone.is_some(), "the 1s token never expired");
    let s = Scratch::new();
    let mut text = String::new();
    for (name, value) in [
        ("valid", &valid),
        ("renewable", &renewable),
        ("revoked", &revoked),
        ("expired", &short),
        ("root", &bao.root_token),
    ] {
        s.write(&format!("tokens/{name}"), value);
        text.push_str(&format!(
            "[[credential]]\nname = \"{name}\"\nfile = \"tokens/{name}\"\nprobe = {{ preset = \"vault-token\", base = \"{}\" }}\n\n",
            bao.url
        ));
    }
    let config = s.write("credwatch.toml", &text);
    let check = run(&config, &["check", "-o", "json", "-vv"]);
    check.assert_code(2);
    let doc: serde_json::Value = serde_json::from_str(&check.stdout).unwrap();
    let row = |n: &str| credential(&doc, n).clone();
    let truth = bao
        .request(Some(&valid), "GET", "auth/token/lookup-self", None)
        .1;
    let expire: jiff::Timestamp = truth["data"]["expire_time"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(row("valid")["status"], "WARNING", "10 days left");
    assert_eq!(row("valid")["kind"], "probe_issuer");
    assert_eq!(row("valid")["expires_at_unix"], expire.as_second());
    assert_eq!(row("root")["status"], "NO EXPIRY", "{}", row("root"));
    assert_eq!(row("revoked")["status"], "REVOKED");
    assert_eq!(
        row("revoked")["probe"]["reason"],
        "rejected: 403 permission denied"
    );
    assert_eq!(
        row("expired")["status"],
        "REVOKED",
        "Vault answers an expired token as a revoked one"
    );
    let r = row("renewable");
    assert_eq!(r["status"], "CRITICAL", "1h left: {r}");
    assert!(
        r["subject"]
            .as_str()
            .unwrap()
            .starts_with("renewable, but dies at its max TTL "),
        "{r}"
    );
    for secret in [&valid, &renewable, &revoked, &short, &bao.root_token] {
        assert!(!check.stdout.contains(secret.as_str()) && !check.stderr.contains(secret.as_str()));
    }
}
