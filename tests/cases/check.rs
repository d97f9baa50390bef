//! `credwatch check`: the table, JSON, exit codes, the ConfigMap layout and config errors.

use crate::support::{Credwatch, Scratch, repo_root};

const NOW: &str = "2026-11-30T00:00:00Z";

fn check(config: &std::path::Path, extra: &[&str]) -> crate::support::Run {
    Credwatch::new()
        .arg_config(config)
        .args(["check", "--now", NOW])
        .args(extra)
        .run()
}

trait ConfigArg {
    fn arg_config(self, config: &std::path::Path) -> Self;
}

impl ConfigArg for Credwatch {
    fn arg_config(self, config: &std::path::Path) -> Self {
        self.args([std::ffi::OsStr::new("--config"), config.as_os_str()])
    }
}

#[test]
fn the_readme_example_prints_the_table_sorted_by_soonest_expiry() {
    let run = check(&repo_root().join("examples/credwatch.toml"), &[]);
    run.assert_code(0);
    assert_eq!(
        run.stdout,
        "\
CREDENTIAL           POOL         SOURCE            EXPIRES (UTC)     DAYS LEFT  STATUS
ci-deploy-key        -            legacy-configmap  2027-01-01 00:00  32.0       OK
github-release-pat   -            inventory         2027-03-01 00:00  91.0       OK
agent-oauth-primary  agent-oauth  inventory         2027-04-18 16:07  139.6      OK
agent-oauth-spare-1  agent-oauth  inventory         2027-06-02 09:30  184.3      OK

pools:
  agent-oauth: 2 members, runway 184.3 days (until 2027-06-02 09:30)

4 credentials: 4 OK; overall OK at 2026-11-30 00:00:00 UTC
"
    );
    assert_eq!(run.stderr, "");
}

#[test]
fn the_config_is_found_through_the_environment_and_the_working_directory() {
    let example = repo_root().join("examples/credwatch.toml");
    let by_env = Credwatch::new()
        .env("CREDWATCH_CONFIG", &example)
        .args(["check", "--now", NOW])
        .run();
    by_env.assert_code(0);
    assert!(by_env.stdout.contains("agent-oauth-primary"));
    let by_cwd = Credwatch::new()
        .current_dir(repo_root().join("examples"))
        .args(["check", "--now", NOW])
        .run();
    by_cwd.assert_code(0);
    assert_eq!(by_cwd.stdout, by_env.stdout);
    let none = Credwatch::new()
        .current_dir(std::env::temp_dir())
        .args(["check"])
        .run();
    none.assert_code(3);
    assert!(
        none.stderr
            .contains("no config file: pass --config FILE, set CREDWATCH_CONFIG"),
        "{}",
        none.stderr
    );
}

fn one_credential(expires_at: &str) -> Scratch {
    let s = Scratch::new();
    s.write(
        "credwatch.toml",
        &format!("[[credential]]\nname = \"token\"\nexpires_at = \"{expires_at}\"\n"),
    );
    s
}

#[test]
fn the_exit_code_follows_the_monitoring_plugin_convention() {
    let cases = [
        ("2027-01-15T00:00:00Z", 0, "OK"),       // 46 days
        ("2026-12-29T23:59:59Z", 1, "WARNING"),  // just under 30 days
        ("2026-12-30T00:00:00Z", 0, "OK"),       // exactly 30 days
        ("2026-12-06T23:59:59Z", 2, "CRITICAL"), // just under 7 days
        ("2026-11-30T00:00:00Z", 2, "EXPIRED"),  // at the expiry instant
        ("2026-01-01T00:00:00Z", 2, "EXPIRED"),
    ];
    for (expires_at, code, status) in cases {
        let s = one_credential(expires_at);
        let run = check(&s.path("credwatch.toml"), &[]);
        run.assert_code(code);
        assert!(
            run.stdout.lines().nth(1).unwrap().ends_with(status),
            "{expires_at}: {}",
            run.stdout
        );
    }
}

#[test]
fn json_output_carries_every_field_a_script_needs() {
    let run = check(
        &repo_root().join("examples/credwatch.toml"),
        &["--output", "json"],
    );
    run.assert_code(0);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["status"], "OK");
    assert_eq!(doc["complete"], true);
    assert_eq!(doc["now"], NOW);
    let primary = doc["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "agent-oauth-primary")
        .unwrap();
    assert_eq!(primary["pool"], "agent-oauth");
    assert_eq!(primary["source"], "inventory");
    assert_eq!(primary["kind"], "minted_at_plus_ttl");
    assert_eq!(primary["expires_at"], "2027-04-18T16:07:09Z");
    assert_eq!(primary["expires_at_unix"], 1_808_064_429);
    assert_eq!(primary["minted_at_unix"], 1_776_528_429);
    assert_eq!(primary["remaining_seconds"], 1_808_064_429 - 1_795_996_800);
    assert_eq!(primary["warn_before_seconds"], 30 * 86_400);
    assert_eq!(primary["labels"]["team"], "platform");
    assert_eq!(
        primary["runbook"],
        "https://runbooks.example/rotate-agent-token"
    );
    assert_eq!(primary["status"], "OK");
    let spare = doc["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "agent-oauth-spare-1")
        .unwrap();
    assert_eq!(spare["warn_before_seconds"], 45 * 86_400);
    assert_eq!(doc["sources"][1]["name"], "legacy-configmap");
    assert_eq!(doc["sources"][1]["up"], true);
}

/// Lays out a directory as Kubernetes mounts a ConfigMap: the keys are symlinks into `..data`,
/// which links to a timestamped folder.
fn configmap(s: &Scratch, entries: &[(&str, &str)]) {
    let root = s.path("cm");
    let data = root.join("..2026_11_30_00_00_00.000000001");
    std::fs::create_dir_all(&data).unwrap();
    for (name, content) in entries {
        std::fs::write(data.join(name), content).unwrap();
        std::os::unix::fs::symlink(format!("..data/{name}"), root.join(name)).unwrap();
    }
    std::os::unix::fs::symlink("..2026_11_30_00_00_00.000000001", root.join("..data")).unwrap();
}

#[test]
fn a_mounted_configmap_is_read_and_one_bad_entry_hides_nothing() {
    let s = Scratch::new();
    configmap(
        &s,
        &[
            ("primary", "1808064429\n"),
            ("spare-1", "soon\n"),
            ("spare-2", "1796601600"),
            ("old", "1795910400"),
        ],
    );
    s.write("cm/.hidden", "not a credential");
    s.write(
        "credwatch.toml",
        "[[source]]\nkind = \"directory\"\nname = \"configmap\"\npath = \"cm\"\npool = \"agent\"\n",
    );
    let run = check(&s.path("credwatch.toml"), &[]);
    // An expired credential outranks the unreadable one: exit 2, not 3.
    run.assert_code(2);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(
        lines[1].starts_with("spare-1 ") && lines[1].ends_with("-          UNKNOWN"),
        "{}",
        run.stdout
    );
    assert!(
        lines[2].starts_with("old ") && lines[2].ends_with("-1.0       EXPIRED"),
        "{}",
        run.stdout
    );
    assert!(
        lines[3].starts_with("spare-2 ") && lines[3].ends_with("7.0        WARNING"),
        "{}",
        run.stdout
    );
    assert!(
        lines[4].starts_with("primary ") && lines[4].contains("agent"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("\nnotes:\n  old: primary in the same pool is healthy and can replace it\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("\npools:\n  agent: 4 members, runway 139.6 days (until 2027-04-18 16:07)\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("spare-1: `")
            && run
                .stdout
                .contains("expected unix seconds (an integer such as `1808064429`), found 4 characters that are not one"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("4 credentials: 1 OK, 1 WARNING, 1 EXPIRED, 1 UNKNOWN; overall EXPIRED"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains(".hidden") && !run.stdout.contains("..data"));
}

#[test]
fn minted_at_content_adds_the_ttl() {
    let s = Scratch::new();
    configmap(&s, &[("primary", "1776528429")]);
    s.write(
        "credwatch.toml",
        "[[source]]\nkind = \"directory\"\npath = \"cm\"\ncontent = \"minted_at\"\nttl = \"365d\"\n",
    );
    let run = check(&s.path("credwatch.toml"), &["-o", "json"]);
    run.assert_code(0);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["credentials"][0]["expires_at_unix"], 1_808_064_429);
    assert_eq!(doc["credentials"][0]["minted_at_unix"], 1_776_528_429);
}

#[test]
fn a_missing_directory_fails_its_source_and_the_inventory_still_reports() {
    let s = Scratch::new();
    s.write(
        "credwatch.toml",
        "[[credential]]\nname = \"pat\"\nexpires_at = \"2027-06-01T00:00:00Z\"\n\n[[source]]\nkind = \"directory\"\nname = \"cm\"\npath = \"missing\"\n",
    );
    let run = check(&s.path("credwatch.toml"), &["-o", "json"]);
    run.assert_code(3);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["status"], "UNKNOWN");
    assert_eq!(doc["credentials"][0]["name"], "pat");
    assert_eq!(doc["credentials"][0]["status"], "OK");
    assert_eq!(doc["sources"][1]["up"], false);
    assert!(
        doc["sources"][1]["error"]
            .as_str()
            .unwrap()
            .contains("cannot read directory")
    );
}

#[test]
fn a_name_in_two_sources_is_kept_once_and_reported() {
    let s = Scratch::new();
    configmap(&s, &[("primary", "1808064429")]);
    s.write(
        "credwatch.toml",
        "[[credential]]\nname = \"primary\"\nexpires_at = 1808064429\n\n[[source]]\nkind = \"directory\"\nname = \"cm\"\npath = \"cm\"\n",
    );
    let run = check(&s.path("credwatch.toml"), &[]);
    run.assert_code(3);
    assert!(
        run.stdout.contains("credential `primary` from source `cm` is skipped: source `inventory` already defines that name"),
        "{}",
        run.stdout
    );
    assert_eq!(run.stdout.matches("primary ").count(), 1, "{}", run.stdout);
}

#[test]
fn config_errors_exit_3_naming_file_line_and_key() {
    let s = Scratch::new();
    let path = s.write(
        "credwatch.toml",
        "[[credential]]\nname = \"a\"\nminted_at = \"2026-13-01\"\n",
    );
    let run = check(&path, &[]);
    run.assert_code(3);
    assert!(
        run.stderr.starts_with(&format!(
            "error: {}:3:13: credential `a`: `minted_at`: expected an RFC 3339 time",
            path.display()
        )),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");
}

#[test]
fn usage_errors_exit_3_not_2() {
    let run = Credwatch::new().args(["check", "--output", "yaml"]).run();
    run.assert_code(3);
    let run = Credwatch::new()
        .args(["check", "--now", "tomorrow", "--config"])
        .arg_config(&repo_root().join("examples/credwatch.toml"))
        .run();
    run.assert_code(3);
    let run = Credwatch::new()
        .arg_config(&repo_root().join("examples/credwatch.toml"))
        .args(["check", "--now", "tomorrow"])
        .run();
    run.assert_code(3);
    assert!(
        run.stderr.contains("--now: expected an RFC 3339 time"),
        "{}",
        run.stderr
    );
}

#[test]
fn help_explains_the_config_keys_and_version_prints() {
    let run = Credwatch::new().args(["check", "--help"]).run();
    run.assert_code(0);
    for key in [
        "[defaults]",
        "warn_before",
        "minted_at",
        "expires_at",
        "kind = \"directory\"",
        "EXIT CODES",
    ] {
        assert!(
            run.stdout.contains(key),
            "check --help lacks {key}:\n{}",
            run.stdout
        );
    }
    let run = Credwatch::new().args(["push", "--help"]).run();
    run.assert_code(0);
    for key in [
        "[pushgateway]",
        "CREDWATCH_PUSHGATEWAY_TOKEN",
        "extra_series",
        "credential_label",
        "--dry-run",
    ] {
        assert!(
            run.stdout.contains(key),
            "push --help lacks {key}:\n{}",
            run.stdout
        );
    }
    let run = Credwatch::new().args(["--version"]).run();
    run.assert_code(0);
    assert_eq!(
        run.stdout,
        format!("credwatch {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn a_config_that_watches_nothing_is_unknown_not_ok() {
    let s = Scratch::new();
    std::fs::create_dir_all(s.path("empty-cm")).unwrap();
    let config = s.write(
        "credwatch.toml",
        "[[source]]\nkind = \"directory\"\npath = \"empty-cm\"\n",
    );
    let run = check(&config, &[]);
    run.assert_code(3);
    assert!(
        run.stdout
            .contains("no credentials: the config lists none and its sources found none"),
        "{}",
        run.stdout
    );
}
