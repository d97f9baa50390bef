//! The image, run the way the rendered manifests run it: built offline by `scripts/image` from
//! the release binary, started by podman with the flags the pod spec of `render k8s` implies
//! (user and group, read-only root, capabilities, no-new-privileges, memory limit, environment
//! from Secrets, the ConfigMaps and Secrets mounted in the kubelet's layout). Inside: `check`,
//! the CronJob's `push` to a Pushgateway and the Deployment's `serve` answering `/metrics` and
//! its probes, with a directory source (a nested ConfigMap) and a Vault source over TLS (token
//! from `--vault-secret`, CA from `--vault-ca-secret`).
//!
//! `check` and `push` share the host's network (`--network=host`): the servers the test starts
//! listen on loopback only, which a pod network would not reach. `serve` listens on all
//! addresses, so it runs on podman's bridge with its port published on loopback, where Vault on
//! the host's loopback is out of reach, just as the loopback warning says. `podman kube play`
//! runs the rendered exporter Deployment and its ConfigMaps as a pod, scraped the same way.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::json;
use serde_norway::Value;

use crate::cases::render_k8s::{documents, kind};
use crate::cases::values::assert_no_substring;
use crate::support::openbao::OpenBao;
use crate::support::podman::{Cluster, IMAGE, Podman, run_flags};
use crate::support::{Credwatch, Pushgateway, Scratch, free_port, http_get, poll};

/// `render k8s` for `config` with `flags`; the documents and what it warned about.
fn render(config: &std::path::Path, flags: &[&str]) -> (Vec<Value>, String) {
    let run = Credwatch::new()
        .args([std::ffi::OsStr::new("--config"), config.as_os_str()])
        .args(["render", "k8s", "--image", IMAGE])
        .args([
            "--vault-secret",
            "vault-token",
            "--vault-ca-secret",
            "vault-ca",
        ])
        .args(flags)
        .run();
    run.assert_code(0);
    (documents(&run.stdout), run.stderr)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

/// What a container wrote to stdout and stderr, for a failure message.
fn logs(podman: &Podman, container: &str) -> String {
    let out = podman
        .command()
        .args(["logs", container])
        .output()
        .expect("run podman logs");
    text(&out.stdout) + &text(&out.stderr)
}

#[test]
fn the_image_runs_check_push_and_serve_as_the_manifests_run_it() {
    let started = Instant::now();
    let podman = match Podman::with_image() {
        Ok(p) => p,
        Err(why) => return why.skip("the container test"),
    };
    let built = started.elapsed();

    // The image says what the Dockerfile says, and runs as the user the manifests run as.
    let dockerfile =
        std::fs::read_to_string(crate::support::repo_root().join("Dockerfile")).unwrap();
    let line = |instruction: &str| {
        dockerfile
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix(instruction))
            .unwrap_or_else(|| panic!("no {instruction}in the Dockerfile"))
            .to_string()
    };
    let inspect = podman
        .command()
        .args(["image", "inspect", IMAGE, "--format"])
        .arg("{{.Config.User}}|{{json .Config.Entrypoint}}|{{json .Config.Cmd}}")
        .output()
        .unwrap();
    assert_eq!(
        text(&inspect.stdout).trim(),
        format!("{}|{}|{}", line("USER "), line("ENTRYPOINT "), line("CMD ")),
        "{}",
        text(&inspect.stderr)
    );

    // Vault over TLS with a least-privilege token, a Pushgateway, both on loopback.
    let bao = OpenBao::start_tls();
    let now = jiff::Timestamp::now();
    let expires = now + jiff::SignedDuration::from_hours(24 * 200);
    bao.write_secret("ci/deploy-key", json!({ "key": "not-a-real-key" }));
    bao.write_custom_metadata(
        "ci/deploy-key",
        json!({ "expires_at": expires.to_string() }),
    );
    let pushgateway = Pushgateway::start();

    let s = Scratch::new();
    let minted = (now - jiff::SignedDuration::from_hours(24))
        .as_second()
        .to_string();
    let config_text = format!(
        "[pushgateway]\nurl = \"{}\"\njob = \"credwatch-container\"\n\n\
         [[source]]\nkind = \"directory\"\nname = \"legacy-configmap\"\npath = \"configmap\"\n\
         content = \"minted_at\"\nttl = \"365d\"\n\n\
         [[source]]\nkind = \"vault\"\nname = \"vault\"\naddress = \"{}\"\n\
         ca_file = \"/etc/vault-ca/ca.crt\"\npaths = [\"ci/deploy-key\"]\n",
        pushgateway.url, bao.url
    );
    let config = s.write("credwatch.toml", &config_text);
    // The token gets exactly the policy `render vault-policy` prints.
    let policy = Credwatch::new()
        .args([std::ffi::OsStr::new("--config"), config.as_os_str()])
        .args(["render", "vault-policy"])
        .run();
    policy.assert_code(0);
    bao.write_policy("credwatch", &policy.stdout);
    let token = bao.create_token(&["credwatch"]);
    let ca = std::fs::read_to_string(bao.ca_file.as_ref().unwrap()).unwrap();

    let mut cluster = Cluster::default();
    cluster.config_maps.insert(
        "credwatch-config".into(),
        BTreeMap::from([("credwatch.toml".into(), config_text.clone())]),
    );
    cluster.config_maps.insert(
        "legacy-configmap".into(),
        BTreeMap::from([("runner-token".into(), format!("{minted}\n"))]),
    );
    cluster.secrets.insert(
        "vault-token".into(),
        BTreeMap::from([("token".into(), token.clone())]),
    );
    cluster
        .secrets
        .insert("vault-ca".into(), BTreeMap::from([("ca.crt".into(), ca)]));

    // The CronJob: its ConfigMap must be the config byte for byte, its loopback addresses warned.
    let (docs, warnings) = render(&config, &[]);
    assert!(warnings.contains("pushgateway `url`"), "{warnings}");
    assert!(
        warnings.contains("source `vault`: vault `address`"),
        "{warnings}"
    );
    assert_eq!(
        kind(&docs, "ConfigMap")["data"]["credwatch.toml"].as_str(),
        Some(config_text.as_str())
    );
    let job_pod = &kind(&docs, "CronJob")["spec"]["jobTemplate"]["spec"]["template"];
    let env_file = s.path("cronjob.env");
    let (flags, image, args) = run_flags(&podman, "cronjob", job_pod, &cluster, &env_file);
    assert_eq!(image, IMAGE);
    let security = &job_pod["spec"]["securityContext"];
    assert_eq!(
        format!(
            "{}:{}",
            security["runAsUser"].as_u64().unwrap(),
            security["runAsGroup"].as_u64().unwrap()
        ),
        line("USER "),
        "the manifests and the image run as different users"
    );
    let run = |extra: &[&str], args: &[String]| {
        let mut all: Vec<&str> = vec!["--rm", "--network=host"];
        all.extend(flags.iter().map(String::as_str));
        all.extend(extra);
        all.push(IMAGE);
        all.extend(args.iter().map(String::as_str));
        podman.run(&all)
    };

    // `check`, as an operator runs it in the pod (`kubectl exec`, or a Job from the CronJob).
    let mut check_args = args.clone();
    check_args[0] = "check".into();
    check_args.extend(["--output".into(), "json".into()]);
    let check = run(&[], &check_args);
    let said = text(&check.stdout) + &text(&check.stderr);
    assert_eq!(check.status.code(), Some(0), "{said}");
    let report: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    let status = |name: &str| {
        report["credentials"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no credential {name}: {said}"))["status"]
            .clone()
    };
    assert_eq!(status("runner-token"), "OK", "{said}");
    assert_eq!(status("ci/deploy-key"), "OK", "{said}");
    assert_no_substring(&said, &token);

    // The CronJob's own command: `push` to the Pushgateway on the host.
    let push = run(&[], &args);
    let said = text(&push.stdout) + &text(&push.stderr);
    assert_eq!(push.status.code(), Some(0), "{said}");
    assert_no_substring(&said, &token);
    for source in ["legacy-configmap", "vault"] {
        assert_eq!(
            pushgateway
                .value(
                    "credwatch-container",
                    "credwatch_source_up",
                    "source",
                    source
                )
                .as_deref(),
            Some("1"),
            "source `{source}` after the push from the container: {said}"
        );
    }

    // The root filesystem is read-only in force: the one command that writes a file fails.
    let mut textfile_args = args.clone();
    textfile_args[0] = "textfile".into();
    textfile_args.extend(["--path".into(), "/credwatch.prom".into()]);
    let write = run(&[], &textfile_args);
    assert_eq!(write.status.code(), Some(4), "{}", text(&write.stderr));
    assert!(
        text(&write.stderr).contains("Read-only file system"),
        "{}",
        text(&write.stderr)
    );

    // The Deployment: `serve`, on a pod network of its own (podman's bridge) with its port
    // published on the host's loopback, reached from outside on that port and its probes.
    let (docs, warnings) = render(&config, &["--mode", "exporter"]);
    assert!(
        warnings.contains("source `vault`: vault `address`"),
        "{warnings}"
    );
    assert!(!warnings.contains("pushgateway"), "{warnings}");
    let deployment_pod = &kind(&docs, "Deployment")["spec"]["template"];
    let container = &deployment_pod["spec"]["containers"][0];
    let container_port = container["ports"][0]["containerPort"].as_u64().unwrap();
    let port = free_port();
    let env_file = s.path("deployment.env");
    let (flags, _, args) = run_flags(&podman, "deployment", deployment_pod, &cluster, &env_file);
    let publish = format!("--publish=127.0.0.1:{port}:{container_port}");
    let mut all: Vec<&str> = vec!["--detach", "--name=credwatch-exporter", &publish];
    all.extend(flags.iter().map(String::as_str));
    all.push(IMAGE);
    all.extend(args.iter().map(String::as_str));
    let started_serve = podman.run(&all);
    assert!(
        started_serve.status.success(),
        "{}",
        text(&started_serve.stderr)
    );
    let probe_path = |probe: &str| container[probe]["httpGet"]["path"].as_str().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let ready = poll::until(Duration::from_secs(30), Duration::from_millis(100), || {
        (http_get(&format!("{base}{}", probe_path("readinessProbe"))).0 == 200).then_some(())
    });
    let logs = || logs(&podman, "credwatch-exporter");
    assert!(
        ready.is_some(),
        "the exporter never became ready: {}",
        logs()
    );
    assert_eq!(
        http_get(&format!("{base}{}", probe_path("livenessProbe"))).0,
        200
    );
    let (code, metrics) = http_get(&format!("{base}/metrics"));
    assert_eq!(code, 200, "{metrics}");
    assert!(
        metrics.contains("credwatch_source_up{source=\"legacy-configmap\"} 1"),
        "{metrics}"
    );
    // What the loopback warning said: in the pod's own network, 127.0.0.1 is the pod itself.
    assert!(
        metrics.contains("credwatch_source_up{source=\"vault\"} 0"),
        "{metrics}"
    );
    assert_no_substring(&(metrics + &logs()), &token);
    let stopped = podman
        .command()
        .args(["stop", "--time=5", "credwatch-exporter"])
        .output()
        .unwrap();
    assert!(stopped.status.success(), "{}", text(&stopped.stderr));
    eprintln!(
        "container test: image built in {built:?}, all of it in {:?}",
        started.elapsed()
    );
}

#[test]
fn podman_kube_play_runs_the_rendered_exporter_deployment_and_its_configmaps() {
    let podman = match Podman::with_image() {
        Ok(p) => p,
        Err(why) => return why.skip("the kube play test"),
    };
    let s = Scratch::new();
    let now = jiff::Timestamp::now();
    let minted = (now - jiff::SignedDuration::from_hours(24)).as_second();
    let expires = now + jiff::SignedDuration::from_hours(24 * 200);
    let config = s.write(
        "credwatch.toml",
        &format!(
            "[[source]]\nkind = \"directory\"\nname = \"legacy-configmap\"\npath = \"/etc/claude-oauth-expiry\"\n\
             content = \"minted_at\"\nttl = \"365d\"\n\n\
             [[credential]]\nname = \"release-pat\"\nexpires_at = \"{expires}\"\n"
        ),
    );
    // An absolute source `path`: podman, unlike the kubelet, does not create the mount point of
    // a volume nested in the read-only config volume (runc's mkdir fails: read-only file
    // system). The nested layout is run by the test above, with the kubelet's layout.
    let run = Credwatch::new()
        .args([std::ffi::OsStr::new("--config"), config.as_os_str()])
        .args(["render", "k8s", "--mode", "exporter", "--image", IMAGE])
        .run();
    run.assert_code(0);
    let mut docs = documents(&run.stdout);
    // The one change: the pod's port published on the host's loopback (the pod network is
    // podman's bridge; a cluster would reach it through the Service).
    let port = free_port();
    let deployment = docs
        .iter_mut()
        .find(|d| d["kind"] == "Deployment")
        .expect("a Deployment");
    let name = deployment["metadata"]["name"].as_str().unwrap().to_string();
    let container = &mut deployment["spec"]["template"]["spec"]["containers"][0];
    let container_name = container["name"].as_str().unwrap().to_string();
    let published = container["ports"][0].as_mapping_mut().unwrap();
    published.insert("hostIP".into(), "127.0.0.1".into());
    published.insert("hostPort".into(), Value::from(port));
    // The directory source's ConfigMap, as it already is in the namespace.
    docs.push(
        serde_norway::from_str(&format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: legacy-configmap\n  namespace: monitoring\ndata:\n  runner-token: \"{minted}\"\n"
        ))
        .unwrap(),
    );
    let yaml = docs
        .iter()
        .map(|d| serde_norway::to_string(d).unwrap())
        .collect::<Vec<_>>()
        .join("---\n");
    let file = s.write("kube.yaml", &yaml);

    let played = podman
        .command()
        .args(["kube", "play"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        played.status.success(),
        "podman kube play: {}{}",
        text(&played.stdout),
        text(&played.stderr)
    );
    let base = format!("http://127.0.0.1:{port}");
    let container_id = format!("{name}-pod-0-{container_name}");
    let logs = || logs(&podman, &container_id);
    let ready = poll::until(Duration::from_secs(30), Duration::from_millis(100), || {
        (http_get(&format!("{base}/-/ready")).0 == 200).then_some(())
    });
    assert!(ready.is_some(), "the pod never became ready: {}", logs());
    assert_eq!(http_get(&format!("{base}/healthz")).0, 200);
    let (code, metrics) = http_get(&format!("{base}/metrics"));
    assert_eq!(code, 200, "{metrics}");
    assert!(
        metrics.contains("credwatch_source_up{source=\"legacy-configmap\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("credential=\"release-pat\""), "{metrics}");
    assert!(metrics.contains("credential=\"runner-token\""), "{metrics}");

    // podman applied the rendered security context itself.
    let inspect = podman
        .command()
        .args([
            "inspect",
            &container_id,
            "--format",
            "{{.Config.User}}|{{.HostConfig.ReadonlyRootfs}}|{{.EffectiveCaps}}|{{.HostConfig.SecurityOpt}}|{{.HostConfig.Memory}}",
        ])
        .output()
        .unwrap();
    assert_eq!(
        text(&inspect.stdout).trim(),
        "65532:65532|true|[]|[no-new-privileges]|67108864",
        "{}",
        text(&inspect.stderr)
    );
    let down = podman
        .command()
        .args(["kube", "down"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(down.status.success(), "{}", text(&down.stderr));
}
