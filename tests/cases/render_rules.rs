//! `render rules` and `render rule-tests`, checked by promtool: the rules load, their generated
//! tests pass, a wrong threshold makes them fail, and the migration example fires exactly when
//! the shell setup's own rules do.

use std::path::Path;

use crate::support::{Credwatch, Run, Scratch, promtool, repo_root};

fn render(config: &Path, args: &[&str]) -> Run {
    let run = Credwatch::new()
        .args([std::ffi::OsStr::new("--config"), config.as_os_str()])
        .args(["render"])
        .args(args)
        .run();
    run.assert_code(0);
    run
}

/// Renders rules and their tests for `config` into `dir`.
fn render_both(config: &Path, dir: &Path) -> (String, String) {
    let rules = render(config, &["rules"]).stdout;
    let tests = render(
        config,
        &["rule-tests", "--rule-file", "credwatch-rules.yml"],
    )
    .stdout;
    std::fs::write(dir.join("credwatch-rules.yml"), &rules).unwrap();
    std::fs::write(dir.join("credwatch-rules.test.yml"), &tests).unwrap();
    (rules, tests)
}

fn check_and_test(dir: &Path) -> (bool, String) {
    let (ok, out) = promtool(dir, &["check", "rules", "credwatch-rules.yml"]);
    assert!(ok, "promtool check rules failed:\n{out}");
    promtool(dir, &["test", "rules", "credwatch-rules.test.yml"])
}

#[test]
fn rendered_rules_load_and_their_generated_tests_pass_and_can_fail() {
    let s = Scratch::new();
    let (rules, tests) = render_both(&repo_root().join("examples/credwatch.toml"), s.dir.path());
    let (ok, out) = check_and_test(s.dir.path());
    assert!(ok, "promtool test rules failed:\n{out}");

    for name in [
        "CredwatchExpiringSoon",
        "CredwatchCritical",
        "CredwatchExpired",
        "CredwatchExpiryUnknown",
        "CredwatchMonitorStale",
        "CredwatchMonitorNeverRun",
        "CredwatchPushFailing",
        "CredwatchNotYetValid",
        "CredwatchSourceDown",
    ] {
        assert!(
            rules.contains(&format!("alert: {name}\n")),
            "{name} missing:\n{rules}"
        );
    }
    // spare-1 warns at 45 days: its own case proves per-credential thresholds take effect.
    assert!(
        tests.contains("CredwatchExpiringSoon: `agent-oauth-spare-1` with 45d left fires after 1h"),
        "{tests}"
    );
    assert!(
        tests.contains("https://runbooks.example/rotate-agent-token"),
        "{tests}"
    );

    // A wrong `for:` makes the generated tests fail.
    let broken = rules.replacen("for: 1h", "for: 2h", 1);
    assert_ne!(broken, rules);
    std::fs::write(s.path("credwatch-rules.yml"), broken).unwrap();
    let (ok, out) = promtool(s.dir.path(), &["test", "rules", "credwatch-rules.test.yml"]);
    assert!(!ok, "tests passed against broken rules:\n{out}");
    // A join on the wrong threshold too.
    let broken = rules.replacen(
        "group_left() credwatch_credential_warn_before_seconds",
        "group_left() credwatch_credential_critical_before_seconds",
        1,
    );
    std::fs::write(s.path("credwatch-rules.yml"), broken).unwrap();
    let (ok, _) = promtool(s.dir.path(), &["test", "rules", "credwatch-rules.test.yml"]);
    assert!(
        !ok,
        "tests passed against rules joining the wrong threshold"
    );
}

#[test]
fn per_credential_thresholds_are_read_from_the_data() {
    let s = Scratch::new();
    let config = s.write(
        "credwatch.toml",
        "[defaults]\nwarn_before = \"20d\"\ncritical_before = \"5d\"\n\n\
         [[credential]]\nname = \"short\"\nexpires_at = 1808064429\nwarn_before = \"3d\"\ncritical_before = \"12h\"\n\n\
         [[credential]]\nname = \"long\"\nexpires_at = 1808064429\nwarn_before = \"90d\"\ncritical_before = \"30d\"\n",
    );
    let (_, tests) = render_both(&config, s.dir.path());
    for case in [
        "CredwatchExpiringSoon: `short` with 3d left",
        "CredwatchCritical: `short` with 12h left",
        "CredwatchExpiringSoon: `long` with 90d left",
        "CredwatchCritical: `long` with 30d left",
        "CredwatchExpiringSoon: `example` with 20d left",
    ] {
        assert!(tests.contains(case), "missing case {case}:\n{tests}");
    }
    let (ok, out) = check_and_test(s.dir.path());
    assert!(ok, "{out}");
}

#[test]
fn the_migration_example_reproduces_the_four_shell_alerts() {
    let s = Scratch::new();
    let example = repo_root().join("examples/migrate-from-shell-cronjob");
    let (rules, _) = render_both(&example.join("credwatch.toml"), s.dir.path());
    let (ok, out) = check_and_test(s.dir.path());
    assert!(ok, "{out}");

    let doc: serde_json::Value = serde_norway::from_str(&rules).unwrap();
    let rendered = doc["groups"][0]["rules"].as_array().unwrap();
    let shell: serde_json::Value = serde_norway::from_str(
        &std::fs::read_to_string(example.join("shell-alert-rules.yml")).unwrap(),
    )
    .unwrap();
    let shell = shell["groups"][0]["rules"].as_array().unwrap();
    assert_eq!(rendered.len(), 4);
    for (new, old) in rendered.iter().zip(shell) {
        assert_eq!(new["alert"], old["alert"]);
        assert_eq!(new["for"], old["for"], "{}", old["alert"]);
        assert_eq!(new["labels"], old["labels"], "{}", old["alert"]);
    }

    // Both rule files, loaded together, fire the same alerts at the same times for the same input.
    std::fs::copy(
        example.join("shell-alert-rules.yml"),
        s.path("shell-alert-rules.yml"),
    )
    .unwrap();
    std::fs::write(s.path("compat.test.yml"), COMPAT_TEST).unwrap();
    let (ok, out) = promtool(s.dir.path(), &["test", "rules", "compat.test.yml"]);
    assert!(
        ok,
        "the shell rules and the rendered rules disagree:\n{out}"
    );

    // And the comparison can fail: a rendered threshold of 31 days fires too early.
    let broken = std::fs::read_to_string(s.path("credwatch-rules.yml"))
        .unwrap()
        .replace("30 * 86400", "31 * 86400");
    std::fs::write(s.path("credwatch-rules.yml"), broken).unwrap();
    let (ok, _) = promtool(s.dir.path(), &["test", "rules", "compat.test.yml"]);
    assert!(!ok);
}

/// Each expected alert appears twice: once from the shell rules, once from the rendered rules.
const COMPAT_TEST: &str = r#"
rule_files: [shell-alert-rules.yml, credwatch-rules.yml]
evaluation_interval: 1m
tests:
- name: expiring soon
  interval: 1m
  input_series:
  - series: 'claude_oauth_token_expiry_timestamp{path="primary", job="claude-oauth-expiry-monitor"}'
    values: '2599200x200'
  - series: 'claude_oauth_expiry_monitor_last_push_timestamp{job="claude-oauth-expiry-monitor"}'
    values: '0+60x200'
  alert_rule_test:
  - eval_time: 3h
    alertname: ClaudeOAuthTokenExpiringSoon
    exp_alerts: []
  - eval_time: 3h1m
    alertname: ClaudeOAuthTokenExpiringSoon
    exp_alerts:
    - exp_labels: {path: primary, job: claude-oauth-expiry-monitor, severity: warning}
      exp_annotations:
        summary: Claude OAuth token primary expires in less than 30 days
    - exp_labels: {path: primary, job: claude-oauth-expiry-monitor, severity: warning}
      exp_annotations:
        summary: Credential primary expires in 29d 22h 59m 0s
        description: Credential primary expires in 29d 22h 59m 0s, inside its warning window. Rotate it and record the new mint time; `credwatch check` lists every credential.
- name: critical
  interval: 1m
  input_series:
  - series: 'claude_oauth_token_expiry_timestamp{path="spare-1", job="claude-oauth-expiry-monitor"}'
    values: '612000x200'
  - series: 'claude_oauth_expiry_monitor_last_push_timestamp{job="claude-oauth-expiry-monitor"}'
    values: '0+60x200'
  alert_rule_test:
  - eval_time: 2h10m
    alertname: ClaudeOAuthTokenCritical
    exp_alerts: []
  - eval_time: 2h11m
    alertname: ClaudeOAuthTokenCritical
    exp_alerts:
    - exp_labels: {path: spare-1, job: claude-oauth-expiry-monitor, severity: critical}
      exp_annotations:
        summary: Claude OAuth token spare-1 expires in less than 7 days
    - exp_labels: {path: spare-1, job: claude-oauth-expiry-monitor, severity: critical}
      exp_annotations:
        summary: Credential spare-1 expires in 6d 23h 49m 0s
        description: 'Credential spare-1 expires in 6d 23h 49m 0s, inside its critical window. Rotate it now: anything using it fails to authenticate once it expires.'
- name: stale
  interval: 1m
  input_series:
  - series: 'claude_oauth_expiry_monitor_last_push_timestamp{job="claude-oauth-expiry-monitor"}'
    values: '0x3000'
  alert_rule_test:
  - eval_time: 48h10m
    alertname: ClaudeOAuthTokenMonitorStale
    exp_alerts: []
  - eval_time: 48h11m
    alertname: ClaudeOAuthTokenMonitorStale
    exp_alerts:
    - exp_labels: {job: claude-oauth-expiry-monitor, severity: warning}
      exp_annotations:
        summary: The Claude OAuth expiry monitor has not pushed for 48 hours
    - exp_labels: {job: claude-oauth-expiry-monitor, severity: warning}
      exp_annotations:
        summary: credwatch has not completed a run for over 2d
        description: The last complete credwatch run (job claude-oauth-expiry-monitor) was 2d 0h 11m 0s ago; expiry data may be out of date. Check the CronJob and its log.
- name: never ran
  interval: 1m
  input_series:
  - series: 'up{job="prometheus"}'
    values: '1x200'
  alert_rule_test:
  - eval_time: 1h59m
    alertname: ClaudeOAuthTokenMonitorNeverRun
    exp_alerts: []
  - eval_time: 2h
    alertname: ClaudeOAuthTokenMonitorNeverRun
    exp_alerts:
    - exp_labels: {severity: warning}
      exp_annotations:
        summary: The Claude OAuth expiry monitor has never pushed
    - exp_labels: {severity: warning}
      exp_annotations:
        summary: credwatch has never reported
        description: 'No `claude_oauth_expiry_monitor_last_push_timestamp` series exists: credwatch has not completed a run, or Prometheus does not scrape where it reports.'
"#;

#[test]
fn prometheusrule_and_helm_values_wrap_the_same_rules() {
    let s = Scratch::new();
    let config = repo_root().join("examples/credwatch.toml");
    let plain: serde_json::Value =
        serde_norway::from_str(&render(&config, &["rules"]).stdout).unwrap();

    let crd = render(
        &config,
        &[
            "rules",
            "--format",
            "prometheusrule",
            "--label",
            "release=kube-prometheus-stack",
            "--namespace",
            "monitoring",
        ],
    )
    .stdout;
    let crd: serde_json::Value = serde_norway::from_str(&crd).unwrap();
    assert_eq!(crd["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(crd["kind"], "PrometheusRule");
    assert_eq!(
        crd["metadata"]["labels"]["release"],
        "kube-prometheus-stack"
    );
    assert_eq!(crd["metadata"]["namespace"], "monitoring");
    assert_eq!(crd["spec"], plain);

    let helm: serde_json::Value =
        serde_norway::from_str(&render(&config, &["rules", "--format", "helm-values"]).stdout)
            .unwrap();
    assert_eq!(helm["additionalPrometheusRulesMap"]["credwatch"], plain);

    // The chart's per-entry `additionalLabels` (kube-prometheus-stack selects rules by `release`).
    let labelled: serde_json::Value = serde_norway::from_str(
        &render(
            &config,
            &["rules", "--format", "helm-values", "--label", "release=kps"],
        )
        .stdout,
    )
    .unwrap();
    let entry = &labelled["additionalPrometheusRulesMap"]["credwatch"];
    assert_eq!(entry["additionalLabels"]["release"], "kps");
    assert_eq!(entry["groups"], plain["groups"]);
    let refused = Credwatch::new()
        .args([std::ffi::OsStr::new("--config"), config.as_os_str()])
        .args(["render", "rules", "--label", "release=kps"])
        .run();
    refused.assert_code(3);
    assert!(
        refused
            .stderr
            .contains("--label applies to --format prometheusrule and helm-values only"),
        "{}",
        refused.stderr
    );

    // What the operator and the chart would load passes promtool.
    std::fs::write(
        s.path("spec.yml"),
        serde_norway::to_string(&crd["spec"]).unwrap(),
    )
    .unwrap();
    let (ok, out) = promtool(s.dir.path(), &["check", "rules", "spec.yml"]);
    assert!(ok, "{out}");

    let bad = Credwatch::new()
        .args([std::ffi::OsStr::new("--config"), config.as_os_str()])
        .args([
            "render",
            "rules",
            "--format",
            "prometheusrule",
            "--label",
            "release",
        ])
        .run();
    bad.assert_code(3);
    assert!(
        bad.stderr.contains("--label `release`: expected KEY=VALUE"),
        "{}",
        bad.stderr
    );
}

/// One credwatch per cluster pushes the same credential names under its own grouping label:
/// the threshold joins must keep them apart (a many-to-many match would stop every alert).
#[test]
fn grouping_labels_keep_clusters_apart_in_the_threshold_joins() {
    let s = Scratch::new();
    let config = s.write(
        "credwatch.toml",
        "[pushgateway]\nurl = \"http://pg:9091\"\ngrouping = { cluster = \"prod-eu\" }\n\
         [[credential]]\nname = \"primary\"\nexpires_at = 1808064429\n",
    );
    let rules = render(&config, &["rules"]).stdout;
    assert!(
        rules.contains("on(credential, job, instance, cluster) group_left()"),
        "{rules}"
    );
    std::fs::write(s.path("credwatch-rules.yml"), &rules).unwrap();
    let mut series = String::new();
    for (cluster, expiry) in [("prod-eu", 2_599_200), ("prod-us", 2_599_200)] {
        let labels = format!("credential=\"primary\", job=\"credwatch\", cluster=\"{cluster}\"");
        series.push_str(&format!(
            "  - series: 'credwatch_credential_expiry_timestamp_seconds{{{labels}}}'\n    values: '{expiry}x300'\n\
             \x20 - series: 'credwatch_credential_warn_before_seconds{{{labels}}}'\n    values: '2592000x300'\n\
             \x20 - series: 'credwatch_credential_critical_before_seconds{{{labels}}}'\n    values: '604800x300'\n"
        ));
    }
    let expected = |cluster: &str| {
        format!(
            "    - exp_labels: {{credential: primary, job: credwatch, cluster: {cluster}, severity: warning}}\n\
             \x20     exp_annotations:\n\
             \x20       summary: Credential primary expires in 29d 22h 59m 0s\n\
             \x20       description: Credential primary expires in 29d 22h 59m 0s, inside its warning window. Rotate it and record the new mint time; `credwatch check` lists every credential.\n"
        )
    };
    let test = format!(
        "rule_files: [credwatch-rules.yml]\nevaluation_interval: 1m\ntests:\n- interval: 1m\n  input_series:\n{series}\
         \x20 alert_rule_test:\n  - eval_time: 3h1m\n    alertname: CredwatchExpiringSoon\n    exp_alerts:\n{}{}",
        expected("prod-eu"),
        expected("prod-us")
    );
    std::fs::write(s.path("grouping.test.yml"), test).unwrap();
    let (ok, out) = promtool(s.dir.path(), &["test", "rules", "grouping.test.yml"]);
    assert!(ok, "{out}");
}

/// Quotes, backslashes and template-looking text in names, labels and runbooks stay literal:
/// the rules load and their tests pass.
#[test]
fn odd_names_and_template_looking_text_stay_literal() {
    let s = Scratch::new();
    let config = s.write(
        "credwatch.toml",
        r#"
[alerts]
labels = { team = "pla{{ x }}tform" }
runbook = "https://runbooks.example/{{ $labels.credential }}"

[[credential]]
name = "a \"quoted\" back\\slash {{ c }} ü"
expires_at = 1808064429
runbook = "https://runbooks.example/{{y}}"
warn_before = "40d"
"#,
    );
    let (rules, tests) = render_both(&config, s.dir.path());
    assert!(tests.contains("pla{{ x }}tform"), "{tests}");
    let (ok, out) = check_and_test(s.dir.path());
    assert!(ok, "{rules}\n{out}");
}

#[test]
fn probe_rules_fire_at_their_edges_in_promtool_and_a_wrong_expression_fails_them() {
    let s = Scratch::new();
    let config = repo_root().join("tests/golden/configs/probes.toml");
    let (rules, tests) = render_both(&config, s.dir.path());
    for (name, severity) in [
        ("CredwatchCredentialRejected", "critical"),
        ("CredwatchProbeFailing", "warning"),
    ] {
        let at = rules
            .find(&format!("alert: {name}\n"))
            .unwrap_or_else(|| panic!("{name} missing:\n{rules}"));
        assert!(
            rules[at..].contains(&format!("severity: {severity}")),
            "{name}: {rules}"
        );
    }
    assert!(
        tests.contains("CredwatchCredentialRejected: a rejection fires at once"),
        "{tests}"
    );
    let (ok, out) = check_and_test(s.dir.path());
    assert!(ok, "promtool test rules failed:\n{out}");

    // A rule that counted a rejection as a failing probe fails its generated test.
    let broken = rules.replace(
        "credwatch_credential_probe_ok == 0 and on(credential, job, instance) credwatch_credential_probe_rejected == 0",
        "credwatch_credential_probe_ok == 0",
    );
    assert_ne!(
        broken, rules,
        "the ProbeFailing expression changed:\n{rules}"
    );
    std::fs::write(s.dir.path().join("credwatch-rules.yml"), broken).unwrap();
    let (ok, _) = check_and_test(s.dir.path());
    assert!(
        !ok,
        "a ProbeFailing rule that fires on rejections must fail its test"
    );
}

/// A config of `n` credentials, each with a runbook of its own, and a source with one.
fn many_credentials(s: &Scratch, n: usize) -> std::path::PathBuf {
    let mut text = String::from(
        "[pushgateway]\nurl = \"http://pg:9091\"\ngrouping = { cluster = \"eu-1\" }\n\
         [alerts]\nrunbook = \"https://runbooks.example/credentials\"\n\
         [[source]]\nkind = \"directory\"\nname = \"legacy\"\npath = \"configmap\"\n\
         runbook = \"https://runbooks.example/legacy\"\n",
    );
    for i in 0..n {
        text.push_str(&format!(
            "[[credential]]\nname = \"token-{i:05}\"\nexpires_at = {}\nrunbook = \"https://runbooks.example/rotate/token-{i:05}\"\n",
            1_808_064_429 + i
        ));
    }
    s.write(&format!("credwatch-{n}.toml"), &text)
}

/// `kubernetes-validate --strict` (which has no schema for a CRD and only warns about it) and the
/// PrometheusRule CRD schema in `../shared/schemas/`, where the workplace provides it.
fn assert_valid_prometheusrule(yaml: &str) {
    let (ok, said) = crate::cases::render_k8s::kubernetes_validate(yaml);
    assert!(ok, "kubernetes-validate --strict failed:\n{said}");
    let Some(schema) = crate::support::crd::schema("monitoring.coreos.com_prometheusrules.yaml")
    else {
        return;
    };
    let (ok, said) = crate::support::crd::check(&schema, yaml);
    assert!(ok, "the PrometheusRule fails its CRD schema: {said}");
}

/// Per-credential runbooks ride on the info series, so the PrometheusRule is as large for
/// 10 000 credentials as for 10 (it used to grow ~290 bytes per credential, past kubectl's
/// 256 KiB client-side-apply annotation at ~900). Both validate.
#[test]
fn the_prometheusrule_does_not_grow_with_the_number_of_credentials() {
    let s = Scratch::new();
    let args = [
        "rules",
        "--format",
        "prometheusrule",
        "--namespace",
        "monitoring",
    ];
    let small = render(&many_credentials(&s, 10), &args).stdout;
    let large = render(&many_credentials(&s, 10_000), &args).stdout;
    // Only the config's file name in the header line differs.
    let body = |yaml: &str| yaml.split_once('\n').map(|(_, b)| b.to_string()).unwrap();
    assert_eq!(body(&small), body(&large));
    assert!(large.len() < 32 * 1024, "{} bytes", large.len());
    assert!(!large.contains("token-00003"), "{large}");
    assert_valid_prometheusrule(&large);
    let plain = render(&many_credentials(&s, 10), &["rules"]).stdout;
    std::fs::write(s.path("credwatch-rules.yml"), &plain).unwrap();
    let tests = render(
        &many_credentials(&s, 10),
        &["rule-tests", "--rule-file", "credwatch-rules.yml"],
    )
    .stdout;
    std::fs::write(s.path("credwatch-rules.test.yml"), &tests).unwrap();
    assert!(
        tests.contains("https://runbooks.example/rotate/token-00000"),
        "{tests}"
    );
    let (ok, out) = check_and_test(s.dir.path());
    assert!(ok, "{out}");
}

/// The generated tests for the new and changed rules fail against the rules they replace: an
/// expiring alert that still covers expired credentials, an ExpiryUnknown that fires for each
/// credential of a source that is down, and a MonitorNeverRun that another deployment hides.
#[test]
fn the_generated_tests_catch_the_old_rules() {
    let s = Scratch::new();
    let config = repo_root().join("tests/golden/configs/pools.toml");
    let (rules, _) = render_both(&config, s.dir.path());
    let (ok, out) = check_and_test(s.dir.path());
    assert!(ok, "{out}");
    for (old, new) in [
        (
            "(credwatch_credential_expiry_timestamp_seconds - time() > 0) < on(credential, job, instance, cluster) group_left() credwatch_credential_critical_before_seconds",
            "(credwatch_credential_expiry_timestamp_seconds - time()) < on(credential, job, instance, cluster) group_left() credwatch_credential_critical_before_seconds",
        ),
        (
            "credwatch_credential_read_ok == 0 unless on(credential, job, instance, cluster) (credwatch_credential_info and on(source, job, instance, cluster) credwatch_source_up == 0)",
            "credwatch_credential_read_ok == 0",
        ),
        (
            "credwatch_credential_read_ok == 0 unless on(credential, job, instance, cluster) (credwatch_credential_info and on(source, job, instance, cluster) credwatch_source_up == 0)",
            "credwatch_credential_read_ok == 0 unless on(credential) (credwatch_credential_info and on(source) credwatch_source_up == 0)",
        ),
        (
            "absent(credwatch_last_success_timestamp_seconds{job=\"credwatch\", cluster=\"eu-1\"})",
            "absent(credwatch_last_success_timestamp_seconds)",
        ),
        (
            "time() - credwatch_credential_expiry_timestamp_seconds >= 0",
            "credwatch_credential_expiry_timestamp_seconds - time() <= 0",
        ),
    ] {
        let broken = rules.replace(old, new);
        assert_ne!(broken, rules, "`{old}` is not in the rules:\n{rules}");
        std::fs::write(s.path("credwatch-rules.yml"), &broken).unwrap();
        let (ok, out) = check_and_test(s.dir.path());
        assert!(!ok, "the tests pass with `{new}`:\n{out}");
    }
}
