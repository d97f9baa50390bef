//! `credwatch render k8s`: manifests that pass `kubernetes-validate --strict` and say what an SRE
//! checks before `kubectl apply`: schedule, hardening, the config byte for byte, source mounts and
//! Secret references without values.

use std::path::Path;
use std::process::Command;

use serde::Deserialize;
use serde_norway::Value;

use crate::support::{Credwatch, Run, Scratch, repo_root};

fn render_k8s(config: &Path, flags: &[&str]) -> Run {
    Credwatch::new()
        .args([std::ffi::OsStr::new("--config"), config.as_os_str()])
        .args(["render", "k8s"])
        .args(flags)
        .run()
}

/// Runs `kubernetes-validate --strict` on the YAML; returns whether it passed and what it said.
pub fn kubernetes_validate(yaml: &str) -> (bool, String) {
    let scratch = Scratch::new();
    let file = scratch.write("manifests.yaml", yaml);
    let output = Command::new("kubernetes-validate")
        .arg("--strict")
        .arg(&file)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `kubernetes-validate` ({e}); run ./scripts/test, which installs it")
        });
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), said)
}

fn assert_valid(yaml: &str) {
    let (passed, said) = kubernetes_validate(yaml);
    assert!(
        passed,
        "kubernetes-validate --strict failed:\n{said}\n{yaml}"
    );
    assert_eq!(said.matches(" passed for resource ").count(), 3, "{said}");
}

pub(super) fn documents(yaml: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(yaml)
        .map(|d| Value::deserialize(d).expect("the output is YAML"))
        .collect()
}

pub(super) fn kind<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {docs:?}"))
}

fn pod_spec(docs: &[Value]) -> &Value {
    &kind(docs, "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
}

fn container(docs: &[Value]) -> &Value {
    &pod_spec(docs)["containers"][0]
}

/// Every volume mount as (mount path, ConfigMap it comes from).
fn mounts(docs: &[Value]) -> Vec<(String, String)> {
    let volumes = pod_spec(docs)["volumes"].as_sequence().unwrap();
    container(docs)["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|m| {
            assert_eq!(m["readOnly"], true, "{m:?}");
            let volume = volumes.iter().find(|v| v["name"] == m["name"]).unwrap();
            (
                m["mountPath"].as_str().unwrap().to_string(),
                volume["configMap"]["name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect()
}

#[test]
fn the_readme_example_renders_a_hardened_cronjob_that_validates() {
    let config = repo_root().join("examples/credwatch.toml");
    let run = render_k8s(&config, &[]);
    run.assert_code(0);
    assert_valid(&run.stdout);
    let docs = documents(&run.stdout);
    assert_eq!(docs.len(), 3);

    let account = kind(&docs, "ServiceAccount");
    assert_eq!(account["metadata"]["name"], "credwatch");
    assert_eq!(account["automountServiceAccountToken"], false);

    let config_map = kind(&docs, "ConfigMap");
    assert_eq!(config_map["metadata"]["name"], "credwatch-config");
    assert_eq!(
        config_map["data"]["credwatch.toml"].as_str().unwrap(),
        std::fs::read_to_string(&config).unwrap(),
        "the ConfigMap holds credwatch.toml byte for byte"
    );

    let cron_job = kind(&docs, "CronJob");
    for doc in &docs {
        assert_eq!(doc["metadata"]["namespace"], "monitoring");
        assert_eq!(
            doc["metadata"]["labels"]["app.kubernetes.io/name"],
            "credwatch"
        );
        assert_eq!(
            doc["metadata"]["labels"]["app.kubernetes.io/instance"],
            "credwatch"
        );
        assert_eq!(
            doc["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "credwatch"
        );
    }
    let spec = &cron_job["spec"];
    assert_eq!(spec["schedule"], "17 */6 * * *");
    assert_eq!(spec["concurrencyPolicy"], "Forbid");
    assert!(spec["startingDeadlineSeconds"].as_u64().is_some());
    let job = &spec["jobTemplate"]["spec"];
    assert_eq!(job["backoffLimit"], 2);
    assert_eq!(job["activeDeadlineSeconds"], 600);
    assert_eq!(job["ttlSecondsAfterFinished"], 86_400);

    let pod = pod_spec(&docs);
    assert_eq!(pod["restartPolicy"], "OnFailure");
    assert_eq!(pod["serviceAccountName"], "credwatch");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["runAsUser"], 65532);
    assert_eq!(pod["securityContext"]["runAsGroup"], 65532);
    assert_eq!(pod["securityContext"]["fsGroup"], 65532);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );

    let c = container(&docs);
    assert_eq!(
        c["image"],
        format!("ghcr.io/credwatch/credwatch:{}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(
        strings(&c["args"]),
        ["push", "--config", "/etc/credwatch/credwatch.toml"]
    );
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        strings(&c["securityContext"]["capabilities"]["drop"]),
        ["ALL"]
    );
    assert_eq!(c["resources"]["requests"]["cpu"], "10m");
    assert_eq!(c["resources"]["requests"]["memory"], "16Mi");
    assert_eq!(c["resources"]["limits"]["memory"], "64Mi");
    assert!(c.get("env").is_none(), "no Secret given, no env: {c:?}");

    // `path = "configmap"` is relative: next to the config, as on a laptop.
    assert_eq!(
        mounts(&docs),
        [
            ("/etc/credwatch".into(), "credwatch-config".into()),
            ("/etc/credwatch/configmap".into(), "legacy-configmap".into()),
        ]
    );
    // The example pushes to 127.0.0.1, which in a pod is the pod itself.
    assert!(
        run.stderr
            .contains("pushgateway `url` `http://127.0.0.1:9091` is a loopback address"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_shell_cronjob_migration_renders_with_the_flags_applied() {
    let config = repo_root().join("examples/migrate-from-shell-cronjob/credwatch.toml");
    let run = render_k8s(
        &config,
        &[
            "--image",
            "registry.example/credwatch@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "--namespace",
            "claude",
            "--name",
            "claude-oauth-expiry-monitor",
            "--schedule",
            "@hourly",
        ],
    );
    run.assert_code(0);
    assert_eq!(run.stderr, "", "an in-cluster URL warns about nothing");
    assert_valid(&run.stdout);
    let docs = documents(&run.stdout);
    for doc in &docs {
        assert_eq!(doc["metadata"]["namespace"], "claude");
        assert_eq!(
            doc["metadata"]["labels"]["app.kubernetes.io/instance"],
            "claude-oauth-expiry-monitor"
        );
    }
    assert_eq!(
        kind(&docs, "CronJob")["metadata"]["name"],
        "claude-oauth-expiry-monitor"
    );
    assert_eq!(kind(&docs, "CronJob")["spec"]["schedule"], "@hourly");
    assert_eq!(
        pod_spec(&docs)["serviceAccountName"],
        "claude-oauth-expiry-monitor"
    );
    assert_eq!(
        container(&docs)["image"],
        "registry.example/credwatch@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    );
    assert_eq!(
        kind(&docs, "ConfigMap")["data"]["credwatch.toml"]
            .as_str()
            .unwrap(),
        std::fs::read_to_string(&config).unwrap()
    );
    // `path = "expiry"` is relative; the ConfigMap is named after the source.
    assert_eq!(
        mounts(&docs),
        [
            (
                "/etc/credwatch".into(),
                "claude-oauth-expiry-monitor-config".into()
            ),
            ("/etc/credwatch/expiry".into(), "claude-oauth-expiry".into()),
        ]
    );

    let renamed = render_k8s(
        &config,
        &[
            "--source-configmap",
            "claude-oauth-expiry=claude-oauth-tokens",
        ],
    );
    renamed.assert_code(0);
    assert_valid(&renamed.stdout);
    assert_eq!(
        mounts(&documents(&renamed.stdout))[1],
        (
            "/etc/credwatch/expiry".to_string(),
            "claude-oauth-tokens".to_string()
        )
    );
}

#[test]
fn pushgateway_credentials_are_referenced_from_the_secret_never_inlined() {
    const SENTINEL: &str = "s3cret-value-from-the-environment";
    let run = Credwatch::new()
        .env("CREDWATCH_PUSHGATEWAY_USERNAME", SENTINEL)
        .env("CREDWATCH_PUSHGATEWAY_PASSWORD", SENTINEL)
        .env("CREDWATCH_PUSHGATEWAY_TOKEN", SENTINEL)
        .args([
            std::ffi::OsStr::new("--config"),
            repo_root()
                .join("examples/migrate-from-shell-cronjob/credwatch.toml")
                .as_os_str(),
        ])
        .args(["render", "k8s", "--pushgateway-secret", "pushgateway-auth"])
        .run();
    run.assert_code(0);
    assert_valid(&run.stdout);
    assert!(!run.stdout.contains(SENTINEL), "{}", run.stdout);
    let docs = documents(&run.stdout);
    let env = container(&docs)["env"].as_sequence().unwrap();
    let refs: Vec<(&str, &str, &str, bool)> = env
        .iter()
        .map(|e| {
            assert!(e.get("value").is_none(), "a value is inlined: {e:?}");
            let r = &e["valueFrom"]["secretKeyRef"];
            (
                e["name"].as_str().unwrap(),
                r["name"].as_str().unwrap(),
                r["key"].as_str().unwrap(),
                r["optional"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        refs,
        [
            (
                "CREDWATCH_PUSHGATEWAY_USERNAME",
                "pushgateway-auth",
                "username",
                true
            ),
            (
                "CREDWATCH_PUSHGATEWAY_PASSWORD",
                "pushgateway-auth",
                "password",
                true
            ),
            (
                "CREDWATCH_PUSHGATEWAY_TOKEN",
                "pushgateway-auth",
                "token",
                true
            ),
        ]
    );
    assert!(
        !docs.iter().any(|d| d["kind"] == "Secret"),
        "credwatch never renders a Secret"
    );
}

#[test]
fn an_absolute_source_path_is_mounted_as_is_and_tricky_config_text_survives() {
    let s = Scratch::new();
    // Quotes, comments that look like YAML, trailing whitespace, a tab, non-ASCII, CRLF, no final
    // newline: the ConfigMap must still hold the file exactly.
    let text = "  # \"credwatch\" config: 'quoted' --- # not YAML   \r\n\
                [pushgateway]\r\n\
                url = \"http://prometheus-pushgateway.monitoring:9091\"\t# in-cluster\r\n\
                \r\n\
                [[source]]\r\n\
                kind = \"directory\"\r\n\
                name = \"claude-oauth-expiry\"\r\n\
                path = \"/etc/claude-oauth-expiry\"   # where the old CronJob mounted it\r\n\
                labels = { owner = \"ünïcode – team\" }";
    let config = s.write("credwatch.toml", text);
    let run = render_k8s(&config, &[]);
    run.assert_code(0);
    assert_valid(&run.stdout);
    let docs = documents(&run.stdout);
    assert_eq!(
        kind(&docs, "ConfigMap")["data"]["credwatch.toml"]
            .as_str()
            .unwrap(),
        text
    );
    assert_eq!(
        mounts(&docs)[1],
        (
            "/etc/claude-oauth-expiry".to_string(),
            "claude-oauth-expiry".to_string()
        )
    );
}

#[test]
fn the_validator_rejects_a_manifest_with_an_unknown_field() {
    let run = render_k8s(
        &repo_root().join("examples/migrate-from-shell-cronjob/credwatch.toml"),
        &[],
    );
    run.assert_code(0);
    let mut docs = documents(&run.stdout);
    let cron_job = docs.iter_mut().find(|d| d["kind"] == "CronJob").unwrap();
    cron_job["spec"]
        .as_mapping_mut()
        .unwrap()
        .insert("concurrencyPolicyy".into(), "Forbid".into());
    let broken = docs
        .iter()
        .map(|d| serde_norway::to_string(d).unwrap())
        .collect::<Vec<_>>()
        .join("---\n");
    let (passed, said) = kubernetes_validate(&broken);
    assert!(!passed, "the broken manifest passed:\n{said}");
    assert!(said.contains("concurrencyPolicyy"), "{said}");
}

#[test]
fn bad_flags_and_unmountable_paths_exit_3_with_a_clear_message() {
    let example = repo_root().join("examples/migrate-from-shell-cronjob/credwatch.toml");
    let cases: [(&[&str], &str); 8] = [
        (
            &["--name", "Credwatch"],
            "error: --name: `Credwatch` is not a valid name: use at most 52 lowercase letters, digits and `-`",
        ),
        (
            &[
                "--name",
                "claude-oauth-expiry-monitor-for-the-production-cluster",
            ],
            "error: --name: `claude-oauth-expiry-monitor-for-the-production-cluster` is not a valid name",
        ),
        (
            &["--namespace", "Monitoring"],
            "error: --namespace: `Monitoring` is not a valid namespace",
        ),
        (
            &["--namespace", "on"],
            "error: --namespace: `on` would be read as a boolean by kubectl's YAML 1.1 parser",
        ),
        (
            &["--schedule", "every 6 hours"],
            "error: --schedule: `every 6 hours` is not a cron schedule: expected 5 fields",
        ),
        (
            &["--pushgateway-secret", "pushgateway auth"],
            "error: --pushgateway-secret: `pushgateway auth` is not a valid Secret name",
        ),
        (
            &["--source-configmap", "claude-oauth=tokens"],
            "error: --source-configmap: the config has no source `claude-oauth`; its sources are: `claude-oauth-expiry`",
        ),
        (
            &["--source-configmap", "claude-oauth-expiry"],
            "error: --source-configmap: expected SOURCE=CONFIGMAP, found `claude-oauth-expiry`",
        ),
    ];
    for (flags, wanted) in cases {
        let run = render_k8s(&example, flags);
        run.assert_code(3);
        assert!(
            run.stderr.starts_with(wanted),
            "{flags:?}\nwanted: {wanted}\n   got: {}",
            run.stderr
        );
        assert_eq!(run.stdout, "", "{flags:?}");
    }

    let s = Scratch::new();
    for (path, wanted) in [
        (
            "../expiry",
            "error: source `legacy`: `path` `../expiry` contains `..`",
        ),
        (
            ".",
            "error: source `legacy`: `path` `.` is mounted at `/etc/credwatch` in the pod, which would hide the config file",
        ),
    ] {
        let config = s.write(
            "credwatch.toml",
            &format!(
                "[pushgateway]\nurl = \"http://pg.monitoring:9091\"\n\n[[source]]\nkind = \"directory\"\nname = \"legacy\"\npath = \"{path}\"\n"
            ),
        );
        let run = render_k8s(&config, &[]);
        run.assert_code(3);
        assert!(run.stderr.starts_with(wanted), "{path}: {}", run.stderr);
    }
}

#[test]
fn help_explains_the_mounts_and_the_secret() {
    let run = Credwatch::new().args(["render", "k8s", "--help"]).run();
    run.assert_code(0);
    for key in [
        "--source-configmap <SOURCE=CONFIGMAP>",
        "--pushgateway-secret",
        "/etc/credwatch/credwatch.toml",
        "relative path",
        "deploy/README.md",
    ] {
        assert!(
            run.stdout.contains(key),
            "render k8s --help lacks {key}:\n{}",
            run.stdout
        );
    }
}

// ---------------------------------------------------------------------------------------------
// --mode exporter: a Deployment running `credwatch serve` and its Service.

/// Runs `kubernetes-validate --strict`: every object must pass, except a ServiceMonitor, which
/// it has no schema for (a CRD) and only warns about. Returns the resources that passed.
fn validated_resources(yaml: &str) -> Vec<String> {
    let (passed, said) = kubernetes_validate(yaml);
    assert!(
        passed,
        "kubernetes-validate --strict failed:\n{said}\n{yaml}"
    );
    for line in said.lines().filter(|l| l.contains("Couldn't find schema")) {
        assert!(line.contains("kind ServiceMonitor"), "{said}");
    }
    said.lines()
        .filter_map(|l| l.split(" passed for resource ").nth(1))
        .filter_map(|rest| rest.split(' ').next())
        .map(String::from)
        .collect()
}

fn exporter_pod(docs: &[Value]) -> &Value {
    &kind(docs, "Deployment")["spec"]["template"]["spec"]
}

#[test]
fn the_exporter_mode_renders_a_deployment_and_service_that_validate() {
    let config = repo_root().join("examples/credwatch.toml");
    let run = render_k8s(&config, &["--mode", "exporter"]);
    run.assert_code(0);
    // The exporter pushes nothing: the example's loopback Pushgateway is no concern.
    assert_eq!(run.stderr, "");
    assert_eq!(
        validated_resources(&run.stdout),
        [
            "serviceaccount/credwatch",
            "configmap/credwatch-config",
            "deployment/credwatch",
            "service/credwatch"
        ]
    );
    let docs = documents(&run.stdout);
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["ServiceAccount", "ConfigMap", "Deployment", "Service"]
    );

    let deployment = kind(&docs, "Deployment");
    assert_eq!(deployment["apiVersion"], "apps/v1");
    assert_eq!(deployment["spec"]["replicas"], 1);
    let selector = &deployment["spec"]["selector"]["matchLabels"];
    let pod_labels = &deployment["spec"]["template"]["metadata"]["labels"];
    for (key, value) in selector.as_mapping().unwrap() {
        assert_eq!(
            &pod_labels[key.as_str().unwrap()],
            value,
            "the selector selects the pods"
        );
    }
    let pod = exporter_pod(&docs);
    assert_eq!(pod["restartPolicy"], "Always");
    let c = &pod["containers"][0];
    assert_eq!(
        strings(&c["args"]),
        [
            "serve",
            "--config",
            "/etc/credwatch/credwatch.toml",
            "--listen",
            "0.0.0.0:9819"
        ]
    );
    assert_eq!(c["ports"][0]["name"], "metrics");
    assert_eq!(c["ports"][0]["containerPort"], 9819);
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/-/ready");
    assert_eq!(c["readinessProbe"]["httpGet"]["port"], "metrics");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["livenessProbe"]["httpGet"]["port"], "metrics");

    // The same hardening, mounts and resources as the CronJob's pod.
    let cron = render_k8s(&config, &[]);
    cron.assert_code(0);
    let cron_docs = documents(&cron.stdout);
    let cron_pod = pod_spec(&cron_docs);
    for key in [
        "serviceAccountName",
        "enableServiceLinks",
        "securityContext",
        "volumes",
    ] {
        assert_eq!(pod[key], cron_pod[key], "pod {key}");
    }
    for key in [
        "image",
        "resources",
        "securityContext",
        "volumeMounts",
        "terminationMessagePolicy",
    ] {
        assert_eq!(c[key], cron_pod["containers"][0][key], "container {key}");
    }
    assert_eq!(
        kind(&docs, "ServiceAccount"),
        kind(&cron_docs, "ServiceAccount")
    );
    assert_eq!(kind(&docs, "ConfigMap"), kind(&cron_docs, "ConfigMap"));

    let service = kind(&docs, "Service");
    assert_eq!(&service["spec"]["selector"], selector);
    assert_eq!(service["spec"]["ports"][0]["name"], "metrics");
    assert_eq!(service["spec"]["ports"][0]["port"], 9819);
    assert_eq!(service["spec"]["ports"][0]["targetPort"], "metrics");
}

#[test]
fn a_service_monitor_is_added_on_request_and_selects_the_service() {
    let config = repo_root().join("examples/migrate-from-shell-cronjob/credwatch.toml");
    let run = render_k8s(
        &config,
        &[
            "--mode",
            "exporter",
            "--service-monitor",
            "--namespace",
            "claude",
            "--name",
            "claude-oauth-expiry-monitor",
        ],
    );
    run.assert_code(0);
    assert_eq!(validated_resources(&run.stdout).len(), 4);
    let docs = documents(&run.stdout);
    assert_eq!(docs.len(), 5);
    let monitor = kind(&docs, "ServiceMonitor");
    let service = kind(&docs, "Service");
    assert_eq!(monitor["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(monitor["metadata"]["namespace"], "claude");
    assert_eq!(monitor["metadata"]["name"], "claude-oauth-expiry-monitor");
    let selected = monitor["spec"]["selector"]["matchLabels"]
        .as_mapping()
        .unwrap();
    for (key, value) in selected {
        assert_eq!(
            &service["metadata"]["labels"][key.as_str().unwrap()],
            value,
            "the ServiceMonitor selects the Service"
        );
    }
    let endpoint = &monitor["spec"]["endpoints"][0];
    assert_eq!(endpoint["port"], service["spec"]["ports"][0]["name"]);
    assert_eq!(endpoint["path"], "/metrics");
    // Mounts come along: the drop-in's ConfigMap directory.
    let mounts: Vec<&str> = exporter_pod(&docs)["containers"][0]["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|m| m["mountPath"].as_str().unwrap())
        .collect();
    assert_eq!(mounts, ["/etc/credwatch", "/etc/credwatch/expiry"]);
}

#[test]
fn flags_that_do_not_fit_the_mode_exit_3() {
    let s = Scratch::new();
    let no_pushgateway = s.write(
        "credwatch.toml",
        "[[credential]]\nname = \"a\"\nexpires_at = 1808064429\n",
    );
    // The exporter needs no Pushgateway.
    let run = render_k8s(&no_pushgateway, &["--mode", "exporter"]);
    run.assert_code(0);
    assert_eq!(validated_resources(&run.stdout).len(), 4);

    let cases: [(&[&str], &str); 3] = [
        (
            &[],
            "has no [pushgateway] table, and the CronJob runs `credwatch push`; add one with the in-cluster `url`, or render an exporter with --mode exporter",
        ),
        (
            &["--mode", "exporter", "--pushgateway-secret", "pg-auth"],
            "error: --pushgateway-secret: the exporter is scraped and pushes nothing; leave it out with --mode exporter",
        ),
        (
            &["--service-monitor"],
            "error: --service-monitor: a CronJob serves nothing to scrape; use it with --mode exporter",
        ),
    ];
    let example = repo_root().join("examples/migrate-from-shell-cronjob/credwatch.toml");
    for (flags, wanted) in cases {
        let config = if flags.is_empty() {
            &no_pushgateway
        } else {
            &example
        };
        let run = render_k8s(config, flags);
        run.assert_code(3);
        assert!(run.stderr.contains(wanted), "{flags:?}: {}", run.stderr);
    }
}

const VAULT_TOKEN_CONFIG: &str = "[pushgateway]\nurl = \"http://prometheus-pushgateway.monitoring:9091\"\n\n\
    [[source]]\nkind = \"vault\"\nname = \"kv\"\naddress = \"http://127.0.0.1:8200\"\npaths = [\"ci/key\"]\n";

#[test]
fn a_vault_token_source_needs_its_secret_and_a_loopback_address_is_warned_in_both_modes() {
    let s = Scratch::new();
    let config = s.write("credwatch.toml", VAULT_TOKEN_CONFIG);
    let refused = render_k8s(&config, &[]);
    refused.assert_code(3);
    assert!(
        refused.stderr.contains("error: source `kv` logs in with a Vault token")
            && refused.stderr.contains("--vault-secret vault-token")
            && refused.stderr.contains("kubectl -n monitoring create secret generic vault-token --from-file=token=./vault-token"),
        "{}",
        refused.stderr
    );
    assert!(refused.stdout.is_empty());

    for mode in ["cronjob", "exporter"] {
        let run = render_k8s(&config, &["--vault-secret", "vault-token", "--mode", mode]);
        run.assert_code(0);
        assert!(
            run.stderr.contains(
                "warning: source `kv`: vault `address` `http://127.0.0.1:8200` is a loopback address"
            ),
            "{mode}: {}",
            run.stderr
        );
        let docs = documents(&run.stdout);
        let pod = if mode == "exporter" {
            exporter_pod(&docs)
        } else {
            pod_spec(&docs)
        };
        let env = &pod["containers"][0]["env"];
        assert_eq!(env[0]["name"], "VAULT_TOKEN", "{mode}");
        assert_eq!(env[0]["valueFrom"]["secretKeyRef"]["name"], "vault-token");
    }

    // Kubernetes auth needs no Secret, and a source without `address` needs BAO_ADDR/VAULT_ADDR.
    let k8s = s.write(
        "k8s.toml",
        "[pushgateway]\nurl = \"http://pg:9091\"\n[[source]]\nkind = \"vault\"\npaths = [\"a\"]\n\
         auth = { method = \"kubernetes\", role = \"credwatch\" }\n",
    );
    let run = render_k8s(&k8s, &[]);
    run.assert_code(0);
    assert!(
        run.stderr.contains(
            "environment variable `BAO_ADDR` or `VAULT_ADDR` (source `vault` has no `address`)"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn the_vault_ca_is_mounted_from_a_secret_or_configmap_at_the_folder_of_ca_file() {
    let s = Scratch::new();
    let text = format!(
        "{VAULT_TOKEN_CONFIG}ca_file = \"/etc/vault-ca/ca.crt\"\n\n\
         [[source]]\nkind = \"directory\"\nname = \"legacy\"\npath = \"configmap\"\n"
    )
    .replace("127.0.0.1", "vault.vault.svc");
    let config = s.write("credwatch.toml", &text);

    let unmounted = render_k8s(&config, &["--vault-secret", "vault-token"]);
    unmounted.assert_code(0);
    assert!(
        unmounted
            .stderr
            .contains("source `kv`: `ca_file` `/etc/vault-ca/ca.crt` is not in the pod")
            && unmounted.stderr.contains("under the key `ca.crt`")
            && unmounted
                .stderr
                .contains("--vault-ca-secret SECRET or --vault-ca-configmap CONFIGMAP"),
        "{}",
        unmounted.stderr
    );

    for (flag, field, name_key) in [
        ("--vault-ca-secret", "secret", "secretName"),
        ("--vault-ca-configmap", "configMap", "name"),
    ] {
        let run = render_k8s(
            &config,
            &["--vault-secret", "vault-token", flag, "vault-ca"],
        );
        run.assert_code(0);
        assert!(run.stderr.is_empty(), "{flag}: {}", run.stderr);
        assert_valid(&run.stdout);
        let docs = documents(&run.stdout);
        let mount = &container(&docs)["volumeMounts"][2];
        assert_eq!(mount["name"], "vault-ca");
        assert_eq!(mount["mountPath"], "/etc/vault-ca");
        assert_eq!(mount["readOnly"], true);
        let volumes = pod_spec(&docs)["volumes"].as_sequence().unwrap();
        let ca = volumes.iter().find(|v| v["name"] == "vault-ca").unwrap();
        assert_eq!(ca[field][name_key], "vault-ca", "{flag}");
        assert_eq!(ca[field]["items"][0]["key"], "ca.crt");
        assert_eq!(ca[field]["items"][0]["path"], "ca.crt");
        // Nothing of the CA itself is in the manifests.
        assert!(!run.stdout.contains("BEGIN CERTIFICATE"));
    }

    // Where the CA cannot be mounted, or there is no CA to mount.
    let cases: [(&str, &str, &str); 4] = [
        (
            "ca_file = \"/etc/vault-ca/ca.crt\"",
            "ca_file = \"/etc/vault-ca/vault ca.crt\"",
            "the file name `vault ca.crt` of `ca_file` cannot be a key of a Secret",
        ),
        (
            "ca_file = \"/etc/vault-ca/ca.crt\"",
            "ca_file = \"vault-ca.pem\"",
            "`ca_file` `vault-ca.pem` is `/etc/credwatch/vault-ca.pem` in the pod, and the --vault-ca-secret mounted at its folder would hide the config file",
        ),
        (
            "ca_file = \"/etc/vault-ca/ca.crt\"",
            "ca_file = \"configmap/ca.crt\"",
            "overlaps the mount of source `legacy` at `/etc/credwatch/configmap`",
        ),
        (
            "ca_file = \"/etc/vault-ca/ca.crt\"",
            "",
            "--vault-ca-secret: no source that reaches Vault has a `ca_file`, so there is nothing to mount `vault-ca` for",
        ),
    ];
    for (from, to, expected) in cases {
        let bad = s.write("bad.toml", &text.replace(from, to));
        let run = render_k8s(
            &bad,
            &[
                "--vault-secret",
                "vault-token",
                "--vault-ca-secret",
                "vault-ca",
            ],
        );
        run.assert_code(3);
        assert!(run.stderr.contains(expected), "{to}: {}", run.stderr);
    }
    let both = render_k8s(
        &config,
        &[
            "--vault-secret",
            "t",
            "--vault-ca-secret",
            "a",
            "--vault-ca-configmap",
            "b",
        ],
    );
    assert_ne!(both.code, 0);
    assert!(
        both.stderr.contains("cannot be used with"),
        "{}",
        both.stderr
    );
}

/// AppRole secret-id and token-accessor sources reach Vault exactly as a KV source does: the same
/// token, the same loopback warning, the same CA mount. A `--vault-secret` nothing reads is
/// refused.
#[test]
fn every_kind_of_source_that_reaches_vault_gets_its_token_ca_and_address_checked() {
    let s = Scratch::new();
    let kinds = [
        ("vault-approle", "roles = [\"ci\"]"),
        ("vault-token", "accessors = { deploy = \"acc-1\" }"),
    ];
    for (kind, keys) in kinds {
        let text = format!(
            "[pushgateway]\nurl = \"http://prometheus-pushgateway.monitoring:9091\"\n\n\
             [[source]]\nkind = \"{kind}\"\nname = \"ids\"\naddress = \"https://127.0.0.1:8200\"\n\
             ca_file = \"/etc/vault-ca/ca.crt\"\n{keys}\n"
        );
        let config = s.write("credwatch.toml", &text);

        let refused = render_k8s(&config, &[]);
        refused.assert_code(3);
        assert!(
            refused
                .stderr
                .contains("error: source `ids` logs in with a Vault token")
                && refused.stderr.contains("--vault-secret vault-token"),
            "{kind}: {}",
            refused.stderr
        );

        let unmounted = render_k8s(&config, &["--vault-secret", "vault-token"]);
        unmounted.assert_code(0);
        for expected in [
            "warning: source `ids`: vault `address` `https://127.0.0.1:8200` is a loopback address",
            "source `ids`: `ca_file` `/etc/vault-ca/ca.crt` is not in the pod",
        ] {
            assert!(
                unmounted.stderr.contains(expected),
                "{kind}: {expected}: {}",
                unmounted.stderr
            );
        }
        let docs = documents(&unmounted.stdout);
        let env = &container(&docs)["env"];
        assert_eq!(env[0]["name"], "VAULT_TOKEN", "{kind}");
        assert_eq!(env[0]["valueFrom"]["secretKeyRef"]["name"], "vault-token");

        let mounted = render_k8s(
            &config,
            &[
                "--vault-secret",
                "vault-token",
                "--vault-ca-secret",
                "vault-ca",
            ],
        );
        mounted.assert_code(0);
        assert_valid(&mounted.stdout);
        let docs = documents(&mounted.stdout);
        let ca = container(&docs)["volumeMounts"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|m| m["name"] == "vault-ca")
            .unwrap_or_else(|| panic!("{kind}: no CA mount: {}", mounted.stdout));
        assert_eq!(ca["mountPath"], "/etc/vault-ca", "{kind}");
        let volumes = pod_spec(&docs)["volumes"].as_sequence().unwrap();
        let volume = volumes.iter().find(|v| v["name"] == "vault-ca").unwrap();
        assert_eq!(volume["secret"]["secretName"], "vault-ca", "{kind}");
    }

    // A token Secret for a config that logs in with the pod's ServiceAccount is refused.
    let k8s = s.write(
        "k8s.toml",
        "[pushgateway]\nurl = \"http://pg:9091\"\n[[source]]\nkind = \"vault-token\"\n\
         address = \"https://vault.vault.svc:8200\"\naccessors = { a = \"acc\" }\n\
         auth = { method = \"kubernetes\", role = \"credwatch\" }\n",
    );
    let unused = render_k8s(&k8s, &["--vault-secret", "vault-token"]);
    unused.assert_code(3);
    assert!(
        unused
            .stderr
            .contains("--vault-secret `vault-token`: no source logs in to Vault with a token"),
        "{}",
        unused.stderr
    );
    assert!(unused.stdout.is_empty());
    render_k8s(&k8s, &[]).assert_code(0);
}

/// What a probe reads or writes that the pod does not have is said, not left to fail there.
#[test]
fn a_probes_ca_file_cache_file_and_loopback_issuer_are_warned() {
    let s = Scratch::new();
    let config = s.write(
        "credwatch.toml",
        "[pushgateway]\nurl = \"http://prometheus-pushgateway.monitoring:9091\"\n\n\
         [probes]\ncache_file = \"/var/cache/credwatch/probes.json\"\n\n\
         [[credential]]\nname = \"gh\"\nenv = \"GH_TOKEN\"\n\
         probe = { preset = \"github\", ca_file = \"/etc/gh-ca/ca.pem\" }\n\n\
         [[credential]]\nname = \"local\"\nenv = \"LOCAL_TOKEN\"\n\
         probe = { preset = \"github\", base = \"http://127.0.0.1:8080\" }\n",
    );
    let run = render_k8s(&config, &[]);
    run.assert_code(0);
    for expected in [
        "file `/etc/gh-ca/ca.pem` (credential `gh` probe `ca_file`)",
        "environment variable `GH_TOKEN` (credential `gh`)",
        "credential `local`: probe `http://127.0.0.1:8080` is a loopback address",
        "`[probes] cache_file` `/var/cache/credwatch/probes.json`: the pod's root filesystem is read-only",
    ] {
        assert!(run.stderr.contains(expected), "{expected}: {}", run.stderr);
    }
    // Said once, not once per credential.
    assert_eq!(
        run.stderr.matches("`[probes] cache_file`").count(),
        1,
        "{}",
        run.stderr
    );
    assert_valid(&run.stdout);
}
