//! `credwatch push` against a real Pushgateway: what lands, what goes, odd names, the drop-in
//! example, partial runs and authentication.

use std::collections::BTreeMap;

use crate::support::{Credwatch, Pushgateway, Scratch, repo_root};

fn push(config: &std::path::Path, pg: &Pushgateway, extra: &[&str]) -> crate::support::Run {
    Credwatch::new()
        .args([std::ffi::OsStr::new("--config"), config.as_os_str()])
        .args(["push", "--pushgateway-url", &pg.url])
        .args(extra)
        .run()
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn what_lands_is_what_the_inventory_says_and_removed_credentials_vanish() {
    let pg = Pushgateway::start();
    let s = Scratch::new();
    let config = s.write(
        "credwatch.toml",
        r#"
[pushgateway]
url = "http://unused.invalid:9091"
job = "credwatch"

[[credential]]
name = "primary"
pool = "agent"
minted_at = "2026-04-18T16:07:09Z"
labels = { team = "platform" }

[[credential]]
name = "pat"
expires_at = 1803859200
warn_before = "45d"
"#,
    );
    let run = push(&config, &pg, &["--now", "2026-11-30T00:00:00Z"]);
    run.assert_code(0);
    assert!(
        run.stdout.contains("pushed 2 credential(s)"),
        "{}",
        run.stdout
    );

    let series = pg.series("credwatch");
    let expiry = &series["credwatch_credential_expiry_timestamp_seconds"];
    assert_eq!(expiry.len(), 2, "{expiry:?}");
    assert!(expiry.contains(&(
        labels(&[
            ("job", "credwatch"),
            ("credential", "primary"),
            ("pool", "agent"),
            ("source", "inventory"),
            ("kind", "minted_at_plus_ttl"),
            ("team", "platform")
        ]),
        "1808064429".to_string()
    )));
    assert_eq!(
        pg.value(
            "credwatch",
            "credwatch_credential_expiry_timestamp_seconds",
            "credential",
            "pat"
        )
        .unwrap(),
        "1803859200"
    );
    assert_eq!(
        pg.value(
            "credwatch",
            "credwatch_credential_minted_timestamp_seconds",
            "credential",
            "primary"
        )
        .unwrap(),
        "1776528429"
    );
    assert_eq!(
        pg.value(
            "credwatch",
            "credwatch_credential_minted_timestamp_seconds",
            "credential",
            "pat"
        ),
        None
    );
    assert_eq!(
        pg.value(
            "credwatch",
            "credwatch_credential_warn_before_seconds",
            "credential",
            "pat"
        )
        .unwrap(),
        "3888000"
    );
    assert_eq!(
        pg.value(
            "credwatch",
            "credwatch_credential_critical_before_seconds",
            "credential",
            "pat"
        )
        .unwrap(),
        "604800"
    );
    assert_eq!(
        pg.value(
            "credwatch",
            "credwatch_credential_read_ok",
            "credential",
            "primary"
        )
        .unwrap(),
        "1"
    );
    assert_eq!(
        pg.value("credwatch", "credwatch_source_up", "source", "inventory")
            .unwrap(),
        "1"
    );
    assert_eq!(
        series["credwatch_last_success_timestamp_seconds"][0].1,
        "1795996800"
    );
    assert_eq!(
        series["credwatch_build_info"][0].0["version"],
        env!("CARGO_PKG_VERSION")
    );

    // The next run no longer lists `pat`: PUT replaces the group and it is gone.
    std::fs::write(
        &config,
        "[pushgateway]\nurl = \"http://unused.invalid:9091\"\n[[credential]]\nname = \"primary\"\nminted_at = \"2026-04-18T16:07:09Z\"\n",
    )
    .unwrap();
    push(&config, &pg, &["--now", "2026-11-30T06:00:00Z"]).assert_code(0);
    let series = pg.series("credwatch");
    for (name, samples) in &series {
        assert!(
            samples
                .iter()
                .all(|(l, _)| l.get("credential").map(String::as_str) != Some("pat")),
            "{name}: {samples:?}"
        );
    }
    assert_eq!(
        series["credwatch_last_success_timestamp_seconds"][0].1,
        "1796018400"
    );
}

#[test]
fn odd_names_and_label_values_round_trip_through_a_real_pushgateway() {
    let pg = Pushgateway::start();
    let s = Scratch::new();
    let odd_files = [
        "with \"quotes\"",
        "back\\slash",
        "spaces in name",
        "ünïcödé-токен",
        "new\nline",
    ];
    for name in odd_files {
        s.write(&format!("cm/{name}"), "1808064429");
    }
    let config = s.write(
        "credwatch.toml",
        r#"
[pushgateway]
url = "http://unused.invalid"
job = "odd/job name"
grouping = { cluster = "eu/west 1", empty = "" }

[[credential]]
name = "path/like/name"
expires_at = 1808064429
labels = { note = "multi\nline \"quoted\" \\ back/slash ✓" }

[[source]]
kind = "directory"
name = "config map"
path = "cm"
pool = "pool with/slash"
"#,
    );
    push(&config, &pg, &[]).assert_code(0);
    let series = pg.series("odd/job name");
    let expiry = &series["credwatch_credential_expiry_timestamp_seconds"];
    let names: Vec<&str> = expiry
        .iter()
        .map(|(l, _)| l["credential"].as_str())
        .collect();
    for name in odd_files.iter().chain(&["path/like/name"]) {
        assert!(names.contains(name), "{name:?} missing from {names:?}");
    }
    let (labels, _) = expiry
        .iter()
        .find(|(l, _)| l["credential"] == "path/like/name")
        .unwrap();
    assert_eq!(labels["note"], "multi\nline \"quoted\" \\ back/slash ✓");
    assert_eq!(labels["cluster"], "eu/west 1");
    assert_eq!(labels.get("empty").map(String::as_str).unwrap_or(""), "");
    let (labels, _) = expiry
        .iter()
        .find(|(l, _)| l["credential"] == "ünïcödé-токен")
        .unwrap();
    assert_eq!(labels["pool"], "pool with/slash");
    assert_eq!(labels["source"], "config map");
}

#[test]
fn the_migration_example_pushes_exactly_the_shell_cronjob_series() {
    let pg = Pushgateway::start();
    let config = repo_root().join("examples/migrate-from-shell-cronjob/credwatch.toml");
    push(&config, &pg, &["--now", "1776528500"]).assert_code(0);
    let groups = pg.groups();
    assert_eq!(groups.len(), 1);
    assert_eq!(
        groups[0]["labels"],
        serde_json::json!({ "job": "claude-oauth-expiry-monitor" })
    );
    let series = pg.series("claude-oauth-expiry-monitor");
    let names: Vec<&str> = series.keys().map(String::as_str).collect();
    // push_time_seconds and push_failure_time_seconds are the Pushgateway's own.
    assert_eq!(
        names,
        [
            "claude_oauth_expiry_monitor_last_push_timestamp",
            "claude_oauth_token_expiry_timestamp",
            "push_failure_time_seconds",
            "push_time_seconds"
        ]
    );
    let job = ("job", "claude-oauth-expiry-monitor");
    let mut expiry = series["claude_oauth_token_expiry_timestamp"].clone();
    expiry.sort();
    assert_eq!(
        expiry,
        [
            (
                labels(&[job, ("path", "primary")]),
                "1808064429".to_string()
            ),
            (
                labels(&[job, ("path", "spare-1")]),
                "1808064581".to_string()
            ),
            (
                labels(&[job, ("path", "spare-2")]),
                "1808064723".to_string()
            ),
        ]
    );
    assert_eq!(
        series["claude_oauth_expiry_monitor_last_push_timestamp"],
        [(labels(&[job]), "1776528500".to_string())]
    );
}

#[test]
fn a_bad_entry_is_pushed_as_unread_and_last_success_does_not_advance() {
    let pg = Pushgateway::start();
    let s = Scratch::new();
    s.write("cm/primary", "1808064429");
    s.write("cm/spare-1", "1808064581");
    let config = s.write(
        "credwatch.toml",
        "[pushgateway]\nurl = \"http://unused.invalid\"\n[[source]]\nkind = \"directory\"\nname = \"cm\"\npath = \"cm\"\n",
    );
    push(&config, &pg, &["--now", "1796000000"]).assert_code(0);

    s.write("cm/spare-1", "not-a-number");
    s.write("cm/primary", "1808069999");
    let run = push(&config, &pg, &["--now", "1796021600"]);
    run.assert_code(3);
    assert!(
        run.stdout.contains("last success not advanced"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("spare-1")
            && run.stderr.contains("found 12 characters that are not one"),
        "{}",
        run.stderr
    );

    let job = "credwatch";
    assert_eq!(
        pg.value(
            job,
            "credwatch_credential_expiry_timestamp_seconds",
            "credential",
            "primary"
        )
        .unwrap(),
        "1808069999"
    );
    assert_eq!(
        pg.value(job, "credwatch_credential_read_ok", "credential", "primary")
            .unwrap(),
        "1"
    );
    assert_eq!(
        pg.value(job, "credwatch_credential_read_ok", "credential", "spare-1")
            .unwrap(),
        "0"
    );
    // The unreadable entry keeps its last known expiry: a failed read never erases it.
    assert_eq!(
        pg.value(
            job,
            "credwatch_credential_expiry_timestamp_seconds",
            "credential",
            "spare-1"
        )
        .as_deref(),
        Some("1808064581")
    );
    assert_eq!(
        pg.series(job)["credwatch_last_success_timestamp_seconds"][0].1,
        "1796000000"
    );
    assert_eq!(
        pg.series(job)["credwatch_last_run_timestamp_seconds"][0].1,
        "1796021600"
    );
}

#[test]
fn dry_run_prints_the_url_and_exact_body_and_sends_nothing() {
    let pg = Pushgateway::start();
    let config = repo_root().join("examples/migrate-from-shell-cronjob/credwatch.toml");
    let run = push(&config, &pg, &["--dry-run", "--now", "1776528500"]);
    run.assert_code(0);
    assert_eq!(
        run.stdout,
        format!(
            "# PUT {}/metrics/job/claude-oauth-expiry-monitor\n\
             # HELP claude_oauth_token_expiry_timestamp When the credential expires, as unix seconds.\n\
             # TYPE claude_oauth_token_expiry_timestamp gauge\n\
             claude_oauth_token_expiry_timestamp{{path=\"primary\"}} 1808064429\n\
             claude_oauth_token_expiry_timestamp{{path=\"spare-1\"}} 1808064581\n\
             claude_oauth_token_expiry_timestamp{{path=\"spare-2\"}} 1808064723\n\
             # HELP claude_oauth_expiry_monitor_last_push_timestamp When credwatch last read every source and delivered the result, as unix seconds.\n\
             # TYPE claude_oauth_expiry_monitor_last_push_timestamp gauge\n\
             claude_oauth_expiry_monitor_last_push_timestamp 1776528500\n",
            pg.url
        )
    );
    assert!(pg.groups().is_empty());
}

const PASSWORD: &str = "pg-test-password-1";
// bcrypt of PASSWORD (cost 4), as the Pushgateway's web config wants it.
const WEB_CONFIG: &str =
    "basic_auth_users:\n  pusher: $2b$04$rFQgnSrNEeT5YXpIKhwcRuy0dRdpEMWaibE3qqXIB8qe81FWGIehe\n";

#[test]
fn basic_auth_comes_from_the_environment_or_a_file_and_is_never_printed() {
    let pg = Pushgateway::start_with_web_config(Some(WEB_CONFIG));
    let s = Scratch::new();
    let config = s.write(
        "credwatch.toml",
        "[pushgateway]\nurl = \"http://unused.invalid\"\nusername = \"pusher\"\nretries = 0\n[[credential]]\nname = \"a\"\nexpires_at = 1808064429\n",
    );
    let base = || {
        Credwatch::new()
            .args([std::ffi::OsStr::new("--config"), config.as_os_str()])
            .args(["-vv", "push", "--pushgateway-url", &pg.url])
    };

    let denied = base()
        .env("CREDWATCH_PUSHGATEWAY_PASSWORD", "wrong-password-9")
        .run();
    denied.assert_code(4);
    assert!(
        denied.stderr.contains("rejected the push with HTTP 401"),
        "{}",
        denied.stderr
    );

    let by_env = base().env("CREDWATCH_PUSHGATEWAY_PASSWORD", PASSWORD).run();
    by_env.assert_code(0);
    let password_file = s.write("secret/password", &format!("{PASSWORD}\n"));
    let by_file = base()
        .env("CREDWATCH_PUSHGATEWAY_PASSWORD_FILE", &password_file)
        .run();
    by_file.assert_code(0);

    let (status, _) = crate::support::http_get(&format!("{}/api/v1/metrics", pg.url));
    assert_eq!(status, 401, "the Pushgateway really requires auth");
    for run in [&denied, &by_env, &by_file] {
        for secret in [PASSWORD, "wrong-password-9"] {
            for window in 0..secret.len() - 8 {
                let part = &secret[window..window + 8];
                assert!(
                    !run.stdout.contains(part) && !run.stderr.contains(part),
                    "leaked `{part}`"
                );
            }
        }
    }
}

#[test]
fn a_failed_source_keeps_its_credentials_last_known_expiry_until_it_reads_again() {
    let pg = Pushgateway::start();
    let s = Scratch::new();
    s.write("cm/primary", "1808064429");
    s.write("cm/spare-1", "1808064581");
    let config = s.write(
        "credwatch.toml",
        "[pushgateway]\nurl = \"http://unused.invalid\"\n\
         [[credential]]\nname = \"pat\"\nexpires_at = 1803859200\n\
         [[source]]\nkind = \"directory\"\nname = \"cm\"\npath = \"cm\"\n",
    );
    push(&config, &pg, &["--now", "1796000000"]).assert_code(0);

    // The ConfigMap is gone (unmounted, say): the source fails as a whole.
    std::fs::rename(s.path("cm"), s.path("cm-away")).unwrap();
    let run = push(&config, &pg, &["--now", "1796021600"]);
    run.assert_code(3);
    assert!(
        run.stderr
            .contains("problem: source `cm`: cannot read directory"),
        "{}",
        run.stderr
    );
    let job = "credwatch";
    for (name, expiry) in [
        ("primary", "1808064429"),
        ("spare-1", "1808064581"),
        ("pat", "1803859200"),
    ] {
        assert_eq!(
            pg.value(
                job,
                "credwatch_credential_expiry_timestamp_seconds",
                "credential",
                name
            )
            .as_deref(),
            Some(expiry),
            "{name}"
        );
    }
    assert_eq!(
        pg.value(job, "credwatch_credential_read_ok", "credential", "primary")
            .as_deref(),
        Some("0")
    );
    assert_eq!(
        pg.value(job, "credwatch_credential_read_ok", "credential", "pat")
            .as_deref(),
        Some("1")
    );
    assert_eq!(
        pg.value(job, "credwatch_source_up", "source", "cm")
            .as_deref(),
        Some("0")
    );
    assert_eq!(
        pg.series(job)["credwatch_last_success_timestamp_seconds"][0].1,
        "1796000000"
    );

    // Back again, without spare-1: PUT again, and spare-1 is gone for good.
    std::fs::rename(s.path("cm-away"), s.path("cm")).unwrap();
    std::fs::remove_file(s.path("cm/spare-1")).unwrap();
    push(&config, &pg, &["--now", "1796043200"]).assert_code(0);
    assert_eq!(
        pg.value(
            job,
            "credwatch_credential_expiry_timestamp_seconds",
            "credential",
            "spare-1"
        ),
        None
    );
    assert_eq!(
        pg.value(job, "credwatch_credential_read_ok", "credential", "primary")
            .as_deref(),
        Some("1")
    );
    assert_eq!(
        pg.series(job)["credwatch_last_success_timestamp_seconds"][0].1,
        "1796043200"
    );
}
