//! `credwatch render k8s --mode sidecar` / `--mode sidecar-patch`: what to add to an existing
//! workload so that a consumer sidecar reports which value its pods hold. Pure.
//!
//! The sidecar runs `credwatch serve` with the config's `[[consumer]]` entries, gets the same
//! `envFrom` Secret as the workload (so it sees exactly what the workload saw when the pod
//! started), its pod name from the downward API (`POD_NAME`, the consumer's name), a tiny
//! resource request and the hardened security context of every credwatch pod. It needs no Vault
//! access and mounts no service-account token of its own. `sidecar` renders the objects to
//! `kubectl apply` (the sidecar's ConfigMap and a `monitoring.coreos.com/v1` PodMonitor);
//! `sidecar-patch` renders the strategic-merge patch for `kubectl patch deployment NAME
//! --patch-file` (the container, its config volume, and a pod label the PodMonitor selects).
//! Consumers are scraped, never pushed: pushed series would outlive the pods.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::{Config, ValueFrom};
use crate::env::{FINGERPRINT_KEY, POD_NAME};
use crate::render::k8s::objects::{
    ConfigMap, ConfigMapVolumeSource, Container, ContainerPort, ContainerSecurityContext,
    EnvFromSource, EnvVar, EnvVarSource, LabelSelector, Labels, MetricsEndpoint, Object,
    ObjectMeta, Probe, Resources, SecretEnvSource, TERMINATION_MESSAGE_POLICY, TemplateMeta,
    Volume, VolumeMount, yaml,
};
use crate::render::k8s::{CONFIG_KEY, check_common};

/// Where the sidecar's config is mounted (apart from the workload's own files).
pub const SIDECAR_CONFIG_DIR: &str = "/etc/credwatch-consumer";
const CONTAINER: &str = "credwatch-consumer";
const PORT: u16 = 9819;
/// At most 15 characters (a container port name).
const PORT_NAME: &str = "cw-metrics";
/// The pod label the PodMonitor selects.
const POD_LABEL: &str = "credwatch.io/consumer";

/// What to render, from the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub image: String,
    pub namespace: String,
    /// Names the ConfigMap and the PodMonitor, and is the value of the pod label.
    pub name: String,
    /// The Secret the workload reads with `envFrom`.
    pub env_from_secret: String,
    /// The Secret holding the fingerprint key (`key`), shared with the store side.
    pub fingerprint_secret: Option<String>,
    /// Extra labels on the PodMonitor (`release=...` for kube-prometheus-stack).
    pub pod_monitor_labels: BTreeMap<String, String>,
}

fn check(config: &Config, opts: &Options) -> Result<(), String> {
    let env_from = Some(&opts.env_from_secret);
    check_common(
        (&opts.name, 52, ""),
        &opts.namespace,
        &opts.image,
        &[
            ("--env-from-secret", env_from),
            ("--fingerprint-secret", opts.fingerprint_secret.as_ref()),
        ],
    )?;
    if config.consumers.is_empty() {
        return Err(format!(
            "`{}` declares no [[consumer]]: the sidecar reports the copies it names, e.g. `[[consumer]] credential = \"primary\", env = \"CLAUDE_CODE_OAUTH_TOKEN\"`",
            config.path.display()
        ));
    }
    if let Some(c) = config
        .consumers
        .iter()
        .find(|c| !matches!(c.from, ValueFrom::Env(_)))
    {
        return Err(format!(
            "consumer of `{}` reads a file; the sidecar gets the workload's `envFrom` Secret, so render it for `env` consumers (mount the file's Secret into the sidecar by hand)",
            c.credential
        ));
    }
    Ok(())
}

/// Why a sidecar config would need more than the Secret it shares with the workload.
pub fn warnings(config: &Config) -> Vec<String> {
    let mut out = Vec::new();
    if !config.sources.is_empty() || !config.inventory.is_empty() {
        out.push(
            "the config also lists credentials or sources: the sidecar would read them too; a consumer sidecar needs only [[consumer]] entries (and no Vault access)".to_string(),
        );
    }
    if config.pushgateway.is_some() {
        out.push(
            "the sidecar is scraped and pushes nothing: its [pushgateway] table is unused".into(),
        );
    }
    out
}

/// The objects to `kubectl apply`: the sidecar's ConfigMap and its PodMonitor.
pub fn render_objects(
    config: &Config,
    config_text: &str,
    opts: &Options,
) -> Result<String, String> {
    check(config, opts)?;
    let labels = labels(opts);
    let config_map = Object {
        api_version: "v1",
        kind: "ConfigMap",
        metadata: metadata(config_map_name(opts), opts, &labels),
        body: ConfigMap {
            data: BTreeMap::from([(CONFIG_KEY, config_text)]),
        },
    };
    let mut monitor_labels = labels.clone();
    monitor_labels.extend(opts.pod_monitor_labels.clone());
    let monitor = Object {
        api_version: "monitoring.coreos.com/v1",
        kind: "PodMonitor",
        metadata: metadata(opts.name.clone(), opts, &monitor_labels),
        body: PodMonitorBody {
            spec: PodMonitorSpec {
                selector: LabelSelector {
                    match_labels: BTreeMap::from([(POD_LABEL.to_string(), opts.name.clone())]),
                },
                pod_metrics_endpoints: vec![MetricsEndpoint {
                    port: PORT_NAME,
                    path: "/metrics",
                    interval: "1m",
                }],
            },
        },
    };
    Ok([yaml(&config_map)?, yaml(&monitor)?].join("---\n"))
}

/// The strategic-merge patch for the workload's Deployment.
pub fn render_patch(config: &Config, opts: &Options) -> Result<String, String> {
    check(config, opts)?;
    let config_file = format!("{SIDECAR_CONFIG_DIR}/{CONFIG_KEY}");
    let mut env = vec![EnvVar {
        name: POD_NAME,
        value_from: EnvVarSource::field("metadata.name"),
    }];
    if let Some(secret) = &opts.fingerprint_secret {
        env.push(EnvVar {
            name: FINGERPRINT_KEY,
            value_from: EnvVarSource::secret(secret.clone(), "key", None),
        });
    }
    let volume = "credwatch-consumer-config";
    let container = Container {
        name: CONTAINER,
        image: opts.image.clone(),
        args: vec![
            "serve".into(),
            "--config".into(),
            config_file,
            "--listen".into(),
            format!("0.0.0.0:{PORT}"),
        ],
        ports: vec![ContainerPort {
            name: PORT_NAME,
            container_port: PORT,
            protocol: "TCP",
        }],
        env_from: vec![EnvFromSource {
            secret_ref: SecretEnvSource {
                name: opts.env_from_secret.clone(),
            },
        }],
        env,
        resources: Resources {
            requests: BTreeMap::from([("cpu", "5m"), ("memory", "16Mi")]),
            limits: BTreeMap::from([("memory", "32Mi")]),
        },
        readiness_probe: Some(Probe::http("/-/ready", PORT_NAME, 10)),
        liveness_probe: Some(Probe::http("/healthz", PORT_NAME, 30)),
        // A patch must not change the workload's pod-level security context, so the container
        // carries the user and seccomp profile itself.
        security_context: ContainerSecurityContext::hardened_standalone(),
        termination_message_policy: TERMINATION_MESSAGE_POLICY,
        volume_mounts: vec![VolumeMount {
            name: volume.into(),
            mount_path: SIDECAR_CONFIG_DIR.into(),
            read_only: true,
        }],
    };
    let patch = Patch {
        spec: PatchSpec {
            template: PatchTemplate {
                metadata: TemplateMeta {
                    labels: BTreeMap::from([(POD_LABEL.to_string(), opts.name.clone())]),
                },
                spec: PatchPodSpec {
                    containers: vec![container],
                    volumes: vec![Volume {
                        name: volume.into(),
                        config_map: Some(ConfigMapVolumeSource {
                            name: config_map_name(opts),
                            items: Vec::new(),
                        }),
                        secret: None,
                    }],
                },
            },
        },
    };
    yaml(&patch)
}

fn labels(opts: &Options) -> Labels {
    BTreeMap::from([
        (
            "app.kubernetes.io/name".to_string(),
            "credwatch-consumer".to_string(),
        ),
        ("app.kubernetes.io/instance".to_string(), opts.name.clone()),
        (
            "app.kubernetes.io/managed-by".to_string(),
            "credwatch".to_string(),
        ),
    ])
}

fn config_map_name(opts: &Options) -> String {
    format!("{}-consumer-config", opts.name)
}

fn metadata(name: String, opts: &Options, labels: &Labels) -> ObjectMeta {
    ObjectMeta {
        name,
        namespace: opts.namespace.clone(),
        labels: labels.clone(),
    }
}

// The objects only the sidecar uses; the shared ones are in `k8s::objects`.

#[derive(Serialize)]
struct PodMonitorBody {
    spec: PodMonitorSpec,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PodMonitorSpec {
    selector: LabelSelector,
    pod_metrics_endpoints: Vec<MetricsEndpoint>,
}

#[derive(Serialize)]
struct Patch {
    spec: PatchSpec,
}

#[derive(Serialize)]
struct PatchSpec {
    template: PatchTemplate,
}

#[derive(Serialize)]
struct PatchTemplate {
    metadata: TemplateMeta,
    spec: PatchPodSpec,
}

#[derive(Serialize)]
struct PatchPodSpec {
    containers: Vec<Container>,
    volumes: Vec<Volume>,
}
