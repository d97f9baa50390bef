//! `render k8s --mode sidecar` / `sidecar-patch`: a consumer sidecar for an existing workload.
//! The ConfigMap and the Deployment the patch produces pass `kubernetes-validate --strict`; the
//! PodMonitor passes the prometheus-operator CRD schema in `../shared/schemas/`, with unknown
//! fields refused too.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_norway::Value;

use crate::support::{Credwatch, Run, Scratch, crd};

const CONFIG: &str = "[[consumer]]\ncredential = \"primary\"\nenv = \"CLAUDE_CODE_OAUTH_TOKEN\"\n";

/// The workload the patch is for: it reads its token with `envFrom`.
const WORKLOAD: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: agent
  namespace: agents
spec:
  replicas: 2
  selector:
    matchLabels:
      app: agent
  template:
    metadata:
      labels:
        app: agent
    spec:
      containers:
      - name: agent
        image: registry.example/agent:1.0
        envFrom:
        - secretRef:
            name: agent-token
"#;

fn render(config: &Path, flags: &[&str]) -> Run {
    Credwatch::new()
        .args([std::ffi::OsStr::new("--config"), config.as_os_str()])
        .args(["render", "k8s", "--namespace", "agents", "--name", "agent"])
        .args(flags)
        .run()
}

fn run_with_stdin(program: &str, args: &[&str], input: &str) -> (bool, String) {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run `{program}` ({e}); run ./scripts/test, which installs it")
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn the_sidecar_shares_the_workloads_secret_and_its_monitor_selects_the_patched_pods() {
    let s = Scratch::new();
    let config = s.write("sidecar.toml", CONFIG);

    let objects = render(
        &config,
        &["--mode", "sidecar", "--env-from-secret", "agent-token"],
    );
    objects.assert_code(0);
    let docs: Vec<&str> = objects.stdout.split("---\n").collect();
    assert_eq!(docs.len(), 2, "{}", objects.stdout);
    let (ok, said) = run_with_stdin("kubernetes-validate", &["--strict", "-"], docs[0]);
    assert!(
        ok && said.contains("passed for resource configmap/agent-consumer-config"),
        "{said}"
    );
    if let Some(schema) = crd::schema("monitoring.coreos.com_podmonitors.yaml") {
        let (ok, said) = crd::check(&schema, docs[1]);
        assert!(
            ok,
            "the PodMonitor fails its CRD schema: {said}\n{}",
            docs[1]
        );
        // A field the CRD does not know is caught: the check can fail.
        let (ok, _) = crd::check(
            &schema,
            &docs[1].replace("  podMetricsEndpoints:", "  podMetricEndpoints:"),
        );
        assert!(!ok, "a misspelt field passed the CRD check");
    }
    let config_map: Value = serde_norway::from_str(docs[0]).unwrap();
    let monitor: Value = serde_norway::from_str(docs[1]).unwrap();
    assert_eq!(config_map["data"]["credwatch.toml"].as_str(), Some(CONFIG));

    let patch = render(
        &config,
        &[
            "--mode",
            "sidecar-patch",
            "--env-from-secret",
            "agent-token",
            "--fingerprint-secret",
            "fp-key",
        ],
    );
    patch.assert_code(0);
    let patch: Value = serde_norway::from_str(&patch.stdout).unwrap();
    // What `kubectl patch --patch-file` does with it: containers and volumes merged by name,
    // labels added.
    let mut deployment: Value = serde_norway::from_str(WORKLOAD).unwrap();
    let template = &patch["spec"]["template"];
    {
        let t = &mut deployment["spec"]["template"];
        for (k, v) in template["metadata"]["labels"].as_mapping().unwrap() {
            t["metadata"]["labels"]
                .as_mapping_mut()
                .unwrap()
                .insert(k.clone(), v.clone());
        }
        let spec = t["spec"].as_mapping_mut().unwrap();
        spec.get_mut("containers")
            .unwrap()
            .as_sequence_mut()
            .unwrap()
            .extend(
                template["spec"]["containers"]
                    .as_sequence()
                    .unwrap()
                    .clone(),
            );
        spec.insert("volumes".into(), template["spec"]["volumes"].clone());
    }
    let patched = serde_norway::to_string(&deployment).unwrap();
    let (ok, said) = run_with_stdin("kubernetes-validate", &["--strict", "-"], &patched);
    assert!(
        ok && said.contains("passed for resource deployment/agent"),
        "{said}\n{patched}"
    );

    let pod = &deployment["spec"]["template"];
    let (workload, sidecar) = (&pod["spec"]["containers"][0], &pod["spec"]["containers"][1]);
    assert_eq!(
        sidecar["envFrom"], workload["envFrom"],
        "the same Secret as the workload"
    );
    assert_eq!(sidecar["env"][0]["name"], "POD_NAME");
    assert_eq!(
        sidecar["env"][0]["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.name"
    );
    assert_eq!(
        sidecar["env"][1]["valueFrom"]["secretKeyRef"]["name"],
        "fp-key"
    );
    let security = &sidecar["securityContext"];
    assert_eq!(security["runAsNonRoot"], true);
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["capabilities"]["drop"][0], "ALL");
    assert_eq!(security["seccompProfile"]["type"], "RuntimeDefault");
    assert_eq!(sidecar["resources"]["requests"]["cpu"], "5m");
    // The PodMonitor selects the patched pods, on the sidecar's port; the config volume is the
    // ConfigMap rendered with it.
    for (k, v) in monitor["spec"]["selector"]["matchLabels"]
        .as_mapping()
        .unwrap()
    {
        assert_eq!(&pod["metadata"]["labels"][k.as_str().unwrap()], v);
    }
    assert_eq!(
        monitor["spec"]["podMetricsEndpoints"][0]["port"],
        sidecar["ports"][0]["name"]
    );
    assert_eq!(
        pod["spec"]["volumes"][0]["configMap"]["name"],
        config_map["metadata"]["name"]
    );
    let config_arg = sidecar["args"][2].as_str().unwrap();
    assert_eq!(
        config_arg,
        format!(
            "{}/credwatch.toml",
            sidecar["volumeMounts"][0]["mountPath"].as_str().unwrap()
        )
    );
}

#[test]
fn a_sidecar_without_consumers_or_without_the_secret_is_refused() {
    let s = Scratch::new();
    let empty = s.write(
        "empty.toml",
        "[[credential]]\nname = \"x\"\nexpires_at = \"2027-01-01T00:00:00Z\"\n",
    );
    let run = render(
        &empty,
        &["--mode", "sidecar", "--env-from-secret", "agent-token"],
    );
    run.assert_code(3);
    assert!(
        run.stderr.contains("declares no [[consumer]]"),
        "{}",
        run.stderr
    );
    let config = s.write("sidecar.toml", CONFIG);
    let run = render(&config, &["--mode", "sidecar-patch"]);
    run.assert_code(3);
    assert!(
        run.stderr.contains("--env-from-secret: name the Secret"),
        "{}",
        run.stderr
    );
}
