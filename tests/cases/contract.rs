//! The metrics contract holds across renderers: every series and label name the alert rules,
//! their promtool tests and the Grafana dashboard reference is one that `push --dry-run` emits for the same config (or one
//! the Pushgateway adds itself). A renderer that misspells a name, or keeps a name the encoder
//! dropped, fails here instead of shipping rules that never fire.

use std::collections::BTreeSet;

use crate::support::Credwatch;

/// Configs that together make every family appear at least once: the shipped example, the
/// migration example (renamed series and label, two families only), and pools with
/// per-credential thresholds, format checks, copies and grouping labels.
const CONFIGS: &[&str] = &[
    "examples/credwatch.toml",
    "examples/migrate-from-shell-cronjob/credwatch.toml",
    "tests/golden/configs/pools.toml",
    "tests/golden/configs/odd-names.toml",
    "tests/golden/configs/probes.toml",
];

/// Families a config emits only when one of its credentials needs them (a format check, a
/// pool). A rule may reference them for a config that lacks them, but some config above must
/// emit each, which `a_misspelled_name_is_caught` relies on.
const EMITTED_WHEN_USED: &[&str] = &[
    "credwatch_credential_format_ok",
    "credwatch_credential_replacement_available",
    "credwatch_pool_members",
    "credwatch_pool_distinct_credentials",
    "credwatch_pool_runway_expiry_timestamp_seconds",
    "credwatch_pool_runway_warn_before_seconds",
    "credwatch_credential_probe_ok",
    "credwatch_credential_probe_rejected",
    "credwatch_credential_probe_timestamp_seconds",
    "credwatch_consumer_fingerprint_info",
    "credwatch_consumer_read_ok",
    "credwatch_stored_value_expiry_timestamp_seconds",
    "credwatch_stored_value_replaced_timestamp_seconds",
    "credwatch_credential_not_before_timestamp_seconds",
    "credwatch_source_error",
];

/// Labels only those families carry.
const LABELS_WHEN_USED: &[&str] = &[
    "pool",
    "fingerprint",
    "format",
    "probe",
    "status_class",
    "consumer",
    "state",
    "reason",
    "runbook",
];

/// Series the Pushgateway adds to every group (documented by the Pushgateway, not by us).
const PUSHGATEWAY_OWN: &[&str] = &["push_time_seconds", "push_failure_time_seconds"];

/// Labels a scrape adds, or the config's Pushgateway grouping adds.
const SCRAPE_LABELS: &[&str] = &["job", "instance", "cluster"];

const PROMQL_WORDS: &[&str] = &[
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
    "time",
    "absent",
    "max",
    "inf",
    "nan",
];

fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn stdout(config: &str, args: &[&str]) -> String {
    let r = Credwatch::new()
        .current_dir(root())
        .args(["--config", config])
        .args(args)
        .run();
    assert!(
        r.code == 0 || args[0] == "push",
        "`{}` for {config} exited {}: {}",
        args.join(" "),
        r.code,
        r.stderr
    );
    r.stdout
}

/// Metric and label names of the samples in an exposition text.
fn emitted(text: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut metrics = BTreeSet::new();
    let mut labels = BTreeSet::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let end = line.find(['{', ' ']).unwrap_or(line.len());
        metrics.insert(line[..end].to_string());
        if line[end..].starts_with('{') {
            let body = &line[end + 1..line.rfind('}').unwrap_or(line.len())];
            for pair in split_label_pairs(body) {
                labels.insert(pair);
            }
        }
    }
    (metrics, labels)
}

/// The label names of `a="x",b="y\"z"`.
fn split_label_pairs(body: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = body;
    while let Some(eq) = rest.find('=') {
        names.push(rest[..eq].trim_start_matches(',').trim().to_string());
        let mut chars = rest[eq + 2..].char_indices();
        let mut close = rest.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => {
                    close = eq + 2 + i + 1;
                    break;
                }
                _ => {}
            }
        }
        rest = &rest[close.min(rest.len())..];
    }
    names
}

/// What a PromQL expression references: metric names, and label names in `on(...)`, `by(...)`,
/// `group_left(...)` and matchers. String literals and function names are skipped.
fn referenced(expr: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut metrics = BTreeSet::new();
    let mut labels = BTreeSet::new();
    let chars: Vec<char> = expr.chars().collect();
    let mut i = 0;
    // `Some(kind)` while inside `on(`/`by(` lists or `{` matchers: identifiers there are labels.
    let mut in_labels = false;
    let mut in_matcher = false;
    let mut last_word = String::new();
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' {
            i += 1;
            while i < chars.len() && chars[i] != c {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            continue;
        }
        if c == '[' {
            while i < chars.len() && chars[i] != ']' {
                i += 1;
            }
            i += 1;
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let next = chars[i..].iter().find(|c| !c.is_whitespace());
            if in_labels || in_matcher {
                labels.insert(word.clone());
            } else if next == Some(&'(') {
                // A function or a grouping keyword: `on(`, `by(`, `group_left(`.
            } else if !PROMQL_WORDS.contains(&word.as_str()) {
                metrics.insert(word.clone());
            }
            last_word = word;
            continue;
        }
        match c {
            '(' if [
                "on",
                "by",
                "without",
                "ignoring",
                "group_left",
                "group_right",
            ]
            .contains(&last_word.as_str()) =>
            {
                in_labels = true
            }
            ')' => in_labels = false,
            '{' => in_matcher = true,
            '}' => in_matcher = false,
            _ => {}
        }
        if !c.is_whitespace() {
            last_word.clear();
        }
        i += 1;
    }
    (metrics, labels)
}

/// Every `expr` of a rules file, the metric names in `query` templates of its annotations, and
/// the labels those templates read (`label "runbook"`).
fn rule_references(rules: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let doc: serde_norway::Value = serde_norway::from_str(rules).expect("rules are YAML");
    let mut metrics = BTreeSet::new();
    let mut labels = BTreeSet::new();
    for group in doc["groups"].as_sequence().expect("groups") {
        for rule in group["rules"].as_sequence().expect("rules") {
            let (m, l) = referenced(rule["expr"].as_str().expect("expr"));
            metrics.extend(m);
            labels.extend(l);
            if let Some(annotations) = rule["annotations"].as_mapping() {
                for text in annotations.values().filter_map(|v| v.as_str()) {
                    // `printf "name{label=%q} == 1" ... | query`
                    for part in text.split("printf \"").skip(1) {
                        let query = part.split('"').next().unwrap_or_default().replace("\\", "");
                        let (m, l) = referenced(&query.replace("%q", "\"x\""));
                        metrics.extend(m);
                        labels.extend(l);
                    }
                    for part in text.split("label \"").skip(1) {
                        labels.insert(part.split('"').next().unwrap_or_default().to_string());
                    }
                }
            }
        }
    }
    (metrics, labels)
}

/// The series of a promtool test file's `input_series`.
fn rule_test_references(tests: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let doc: serde_norway::Value = serde_norway::from_str(tests).expect("rule tests are YAML");
    let mut metrics = BTreeSet::new();
    let mut labels = BTreeSet::new();
    for test in doc["tests"].as_sequence().expect("tests") {
        for input in test["input_series"].as_sequence().into_iter().flatten() {
            let (m, l) = emitted(&format!("{} 1", input["series"].as_str().expect("series")));
            metrics.extend(m);
            labels.extend(l);
        }
    }
    // `up` stands for an unrelated job that keeps Prometheus busy in the never-run test.
    metrics.remove("up");
    (metrics, labels)
}

/// Every panel query of a dashboard, and the series and label of each `label_values(…)`
/// variable.
fn dashboard_references(json: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let doc: serde_json::Value = serde_json::from_str(json).expect("the dashboard is JSON");
    let mut metrics = BTreeSet::new();
    let mut labels = BTreeSet::new();
    for panel in doc["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            let (m, l) = referenced(target["expr"].as_str().expect("expr"));
            metrics.extend(m);
            labels.extend(l);
        }
    }
    for variable in doc["templating"]["list"].as_array().expect("variables") {
        let Some(definition) = variable["definition"].as_str() else {
            continue;
        };
        let inner = definition
            .strip_prefix("label_values(")
            .and_then(|d| d.strip_suffix(')'))
            .expect("label_values(series, label)");
        let (series, label) = inner
            .rsplit_once(", ")
            .expect("label_values(series, label)");
        let (m, l) = referenced(series);
        metrics.extend(m);
        labels.extend(l);
        labels.insert(label.to_string());
    }
    (metrics, labels)
}

struct Contract {
    config: &'static str,
    emitted_metrics: BTreeSet<String>,
    emitted_labels: BTreeSet<String>,
    referenced: Vec<(&'static str, BTreeSet<String>, BTreeSet<String>)>,
}

/// The consumer families need what a store recorded: a config with a vault source, a
/// credential rotated twice (so a replaced value exists) and a consumer's copy, against a real
/// OpenBao. Its dry run emits every consumer family.
fn consumer_contract() -> Contract {
    use crate::cases::values::claude_token;
    use crate::support::openbao::OpenBao;
    let bao = OpenBao::start();
    let s = crate::support::Scratch::new();
    s.write("copy", &claude_token(51, 108));
    let config = s.write(
        "credwatch.toml",
        "[pushgateway]\nurl = \"http://127.0.0.1:9\"\n[[source]]\nkind = \"vault\"\npaths = []\nprefix = \"\"\n\
         [[credential]]\nname = \"primary\"\nvault = { path = \"agent\", field = \"token\" }\n\
         [[consumer]]\ncredential = \"primary\"\nfile = \"copy\"\nname = \"pod-a\"\n",
    );
    bao.write_secret(
        "agent",
        serde_json::json!({ "token": claude_token(50, 108) }),
    );
    let cw = |args: &[&str], stdin: &str| {
        Credwatch::new()
            .args([std::ffi::OsStr::new("--config"), config.as_os_str()])
            .env("VAULT_ADDR", &bao.url)
            .env("VAULT_TOKEN", &bao.root_token)
            .args(args)
            .run_with_stdin(stdin)
    };
    cw(&["rotate", "primary", "--no-push"], &claude_token(51, 108)).assert_code(0);
    let dry = cw(&["push", "--dry-run"], "").stdout;
    let (emitted_metrics, emitted_labels) = emitted(&dry);
    let (rm, rl) = rule_references(&cw(&["render", "rules"], "").stdout);
    let (tm, tl) = rule_test_references(&cw(&["render", "rule-tests"], "").stdout);
    Contract {
        config: "a vault credential with a consumer",
        emitted_metrics,
        emitted_labels,
        referenced: vec![("render rules", rm, rl), ("render rule-tests", tm, tl)],
    }
}

/// A source that cannot be read (its directory is missing) and a certificate whose validity
/// starts in the future: the dry run emits the source error with its reason and the not-before
/// series. It only emits: the run is incomplete, so it lacks the last-success series the
/// rules of every config reference (the configs above check those).
fn outage_contract() -> Contract {
    let s = crate::support::Scratch::new();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = crate::cases::values::cert_params("later.example", 7, (2030, 1, 1), (2031, 1, 1))
        .self_signed(&key)
        .unwrap();
    s.write("later.pem", &cert.pem());
    let config = s.write(
        "credwatch.toml",
        "[pushgateway]\nurl = \"http://127.0.0.1:9\"\ngrouping = { cluster = \"eu-1\" }\n\
         [alerts]\nrunbook = \"https://runbooks.example/all\"\n\
         [[credential]]\nname = \"later\"\nfile = \"later.pem\"\nrunbook = \"https://runbooks.example/tls\"\n\
         [[source]]\nkind = \"directory\"\nname = \"gone\"\npath = \"missing\"\n",
    );
    let cw = |args: &[&str]| {
        Credwatch::new()
            .args([std::ffi::OsStr::new("--config"), config.as_os_str()])
            .args(args)
            .run()
    };
    let dry = cw(&["push", "--dry-run"]).stdout;
    for name in [
        "credwatch_source_error{",
        "credwatch_credential_not_before_timestamp_seconds{",
    ] {
        assert!(dry.contains(name), "{name} missing:\n{dry}");
    }
    let (emitted_metrics, emitted_labels) = emitted(&dry);
    Contract {
        config: "a source that is down and a certificate not yet valid",
        emitted_metrics,
        emitted_labels,
        referenced: vec![],
    }
}

fn contracts() -> Vec<Contract> {
    let mut all: Vec<Contract> = CONFIGS
        .iter()
        .map(|config| {
            let dry = stdout(config, &["push", "--dry-run"]);
            let (emitted_metrics, emitted_labels) = emitted(&dry);
            let (rm, rl) = rule_references(&stdout(config, &["render", "rules"]));
            let (tm, tl) = rule_test_references(&stdout(config, &["render", "rule-tests"]));
            let (dm, dl) = dashboard_references(&stdout(config, &["render", "dashboard"]));
            Contract {
                config,
                emitted_metrics,
                emitted_labels,
                referenced: vec![
                    ("render rules", rm, rl),
                    ("render rule-tests", tm, tl),
                    ("render dashboard", dm, dl),
                ],
            }
        })
        .collect();
    all.push(consumer_contract());
    all.push(outage_contract());
    all
}

/// The names referenced that neither this config's dry run, the Pushgateway nor (for families
/// that need a pool or a format) any config's dry run emits.
fn violations(contracts: &[Contract]) -> Vec<String> {
    let everywhere: BTreeSet<&String> = contracts.iter().flat_map(|c| &c.emitted_metrics).collect();
    let labels_everywhere: BTreeSet<&String> =
        contracts.iter().flat_map(|c| &c.emitted_labels).collect();
    let mut out = Vec::new();
    for c in contracts {
        for (what, metrics, labels) in &c.referenced {
            for m in metrics {
                let ok = c.emitted_metrics.contains(m)
                    || PUSHGATEWAY_OWN.contains(&m.as_str())
                    || (EMITTED_WHEN_USED.contains(&m.as_str()) && everywhere.contains(m));
                if !ok {
                    out.push(format!("{}: `{what}` references series `{m}`, which `push --dry-run` does not emit", c.config));
                }
            }
            for l in labels {
                let ok = c.emitted_labels.contains(l)
                    || SCRAPE_LABELS.contains(&l.as_str())
                    || (LABELS_WHEN_USED.contains(&l.as_str()) && labels_everywhere.contains(l));
                if !ok {
                    out.push(format!(
                        "{}: `{what}` references label `{l}`, which `push --dry-run` does not emit",
                        c.config
                    ));
                }
            }
        }
    }
    out
}

#[test]
fn rules_and_rule_tests_reference_only_what_push_emits() {
    let contracts = contracts();
    for c in &contracts {
        for (what, metrics, _) in &c.referenced {
            assert!(
                !metrics.is_empty(),
                "{}: no series found in `{what}`",
                c.config
            );
        }
    }
    let everywhere: BTreeSet<&String> = contracts.iter().flat_map(|c| &c.emitted_metrics).collect();
    for name in EMITTED_WHEN_USED {
        assert!(
            everywhere.contains(&name.to_string()),
            "no test config emits `{name}`; add one that does"
        );
    }
    let problems = violations(&contracts);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_misspelled_name_is_caught() {
    let mut contracts = contracts();
    // As if rules.rs said `credwatch_pool_runway_warn_before_second`, or the encoder dropped
    // the credential label's rename: both must be reported.
    contracts[2].referenced[0]
        .1
        .insert("credwatch_pool_runway_warn_before_second".into());
    contracts[1].referenced[1].2.insert("credential".into());
    let problems = violations(&contracts);
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(
        problems[0].contains("label `credential`"),
        "{}",
        problems[0]
    );
    assert!(
        problems[1].contains("credwatch_pool_runway_warn_before_second"),
        "{}",
        problems[1]
    );
}

#[test]
fn the_reference_parser_finds_series_and_labels() {
    let (m, l) = referenced(
        "(credwatch_x - time()) < on(credential, job) group_left() credwatch_y{job=\"a/b\"} and absent(z)",
    );
    assert_eq!(
        m,
        BTreeSet::from(["credwatch_x".into(), "credwatch_y".into(), "z".into()])
    );
    assert_eq!(l, BTreeSet::from(["credential".into(), "job".into()]));
    let (m, l) = emitted("a{x=\"1\\\",y=\\\"\",z=\"\"} 1\n# HELP b\nb 2\n");
    assert_eq!(m, BTreeSet::from(["a".into(), "b".into()]));
    assert_eq!(l, BTreeSet::from(["x".into(), "z".into()]));
}
