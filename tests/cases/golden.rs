//! Golden outputs: what `check`, `push --dry-run`, `textfile` and every `render` print for the
//! shipped examples and two more configs, compared byte for byte with `tests/golden/*.out`.
//!
//! They pin user-visible behaviour across refactoring. After an intended change, regenerate them
//! with `CREDWATCH_BLESS=1 cargo test golden` and review the diff like any other change.

use std::path::{Path, PathBuf};

use crate::support::Credwatch;

const NOW: &str = "2026-11-30T00:00:00Z";

const CONFIGS: &[(&str, &str)] = &[
    ("example", "examples/credwatch.toml"),
    (
        "migration",
        "examples/migrate-from-shell-cronjob/credwatch.toml",
    ),
    ("vault-pools", "tests/golden/configs/vault-pools.toml"),
    ("odd-names", "tests/golden/configs/odd-names.toml"),
    ("pools", "tests/golden/configs/pools.toml"),
];

/// The commands recorded for every config, by the file-name suffix they get.
const COMMANDS: &[(&str, &[&str])] = &[
    ("check", &["check", "--now", NOW]),
    ("check-json", &["check", "--output", "json", "--now", NOW]),
    ("check-html", &["check", "--output", "html", "--now", NOW]),
    ("push-dry-run", &["push", "--dry-run", "--now", NOW]),
    ("rules", &["render", "rules"]),
    (
        "rules-prometheusrule",
        &[
            "render",
            "rules",
            "--format",
            "prometheusrule",
            "--label",
            "release=kube-prometheus-stack",
            "--namespace",
            "monitoring",
        ],
    ),
    (
        "rules-helm-values",
        &["render", "rules", "--format", "helm-values"],
    ),
    ("rule-tests", &["render", "rule-tests"]),
    ("k8s", &["render", "k8s"]),
    (
        "k8s-exporter",
        &[
            "render",
            "k8s",
            "--mode",
            "exporter",
            "--service-monitor",
            "--service-monitor-label",
            "release=kube-prometheus-stack",
        ],
    ),
    ("vault-policy", &["render", "vault-policy"]),
    ("vault-k8s-role", &["render", "vault-k8s-role"]),
    ("dashboard", &["render", "dashboard"]),
    (
        "dashboard-configmap",
        &["render", "dashboard", "--format", "configmap"],
    ),
    ("calendar", &["render", "calendar", "--now", NOW]),
    (
        "vault-policy-rotate",
        &["render", "vault-policy", "--for", "rotate"],
    ),
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The one value that differs between two identical runs: how long the run took.
fn normalize(text: &str) -> String {
    text.lines()
        .map(|line| {
            let duration = line
                .split_once(' ')
                .filter(|(name, _)| name.ends_with("_run_duration_seconds"));
            match duration {
                Some((name, _)) => format!("{name} <duration>\n"),
                None => format!("{line}\n"),
            }
        })
        .collect()
}

fn record(code: i32, stdout: &str, stderr: &str, file: Option<&str>) -> String {
    let mut out = format!(
        "exit: {code}\n--- stdout\n{}--- stderr\n{}",
        normalize(stdout),
        normalize(stderr)
    );
    if let Some(file) = file {
        out.push_str("--- file\n");
        out.push_str(&normalize(file));
    }
    out
}

fn compare(name: &str, actual: &str, mismatches: &mut Vec<String>) {
    let path = root().join("tests/golden").join(format!("{name}.out"));
    if std::env::var_os("CREDWATCH_BLESS").is_some() {
        std::fs::write(&path, actual).expect("write golden file");
        return;
    }
    match std::fs::read_to_string(&path) {
        Ok(expected) if expected == actual => {}
        Ok(expected) => {
            let line = expected
                .lines()
                .zip(actual.lines())
                .position(|(e, a)| e != a)
                .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
            mismatches.push(format!(
                "{}: differs from line {}:\n  expected: {:?}\n  actual:   {:?}",
                path.display(),
                line + 1,
                expected.lines().nth(line).unwrap_or("<end>"),
                actual.lines().nth(line).unwrap_or("<end>"),
            ));
        }
        Err(e) => mismatches.push(format!("{}: {e}", path.display())),
    }
}

fn run(config: &str, args: &[&str]) -> crate::support::Run {
    Credwatch::new()
        .current_dir(root())
        .args(["--config", config])
        .args(args)
        .run()
}

#[test]
fn outputs_match_the_golden_files() {
    let mut mismatches = Vec::new();
    for (config_name, config) in CONFIGS {
        for (suffix, args) in COMMANDS {
            let r = run(config, args);
            compare(
                &format!("{config_name}.{suffix}"),
                &record(r.code, &r.stdout, &r.stderr, None),
                &mut mismatches,
            );
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("credwatch.prom");
        let path_arg = path.to_str().expect("utf-8 temp path");
        let r = run(config, &["textfile", "--path", path_arg, "--now", NOW]);
        let file = std::fs::read_to_string(&path).unwrap_or_default();
        let placeholder = |s: &str| s.replace(path_arg, "<textfile>");
        compare(
            &format!("{config_name}.textfile"),
            &record(
                r.code,
                &placeholder(&r.stdout),
                &placeholder(&r.stderr),
                Some(&file),
            ),
            &mut mismatches,
        );
    }
    assert!(
        mismatches.is_empty(),
        "{} golden file(s) differ (regenerate with CREDWATCH_BLESS=1 after an intended change):\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[test]
fn every_golden_file_belongs_to_a_case() {
    let expected: std::collections::BTreeSet<String> = CONFIGS
        .iter()
        .flat_map(|(c, _)| {
            COMMANDS
                .iter()
                .map(move |(s, _)| format!("{c}.{s}.out"))
                .chain([format!("{c}.textfile.out")])
        })
        .collect();
    let on_disk: std::collections::BTreeSet<String> =
        std::fs::read_dir(Path::new(&root()).join("tests/golden"))
            .expect("tests/golden")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".out"))
            .collect();
    if std::env::var_os("CREDWATCH_BLESS").is_none() {
        assert_eq!(
            on_disk, expected,
            "stale or missing golden files in tests/golden"
        );
    }
}
