//! The subset of the Kubernetes API that `render k8s` (every mode) writes, as serde types whose
//! field order is the order the manifests print in, and the one definition of the hardened
//! security context every credwatch container runs with. Pure: no I/O, no config.

use std::collections::BTreeMap;

use serde::Serialize;

/// The uid and gid credwatch runs as (distroless "nonroot"; the offline image's passwd entry).
pub const NONROOT: u32 = 65532;

pub type Labels = BTreeMap<String, String>;

/// One YAML document.
pub fn yaml(object: &impl Serialize) -> Result<String, String> {
    serde_norway::to_string(object).map_err(|e| format!("cannot write the manifests as YAML: {e}"))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Object<T> {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: ObjectMeta,
    #[serde(flatten)]
    pub body: T,
}

#[derive(Serialize)]
pub struct ObjectMeta {
    pub name: String,
    pub namespace: String,
    pub labels: Labels,
}

/// The metadata of a pod or job template: labels only.
#[derive(Serialize, Clone)]
pub struct TemplateMeta {
    pub labels: Labels,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    pub match_labels: Labels,
}

#[derive(Serialize)]
pub struct ConfigMap<'a> {
    pub data: BTreeMap<&'static str, &'a str>,
}

/// A scrape endpoint of a ServiceMonitor or PodMonitor (`monitoring.coreos.com/v1`).
#[derive(Serialize)]
pub struct MetricsEndpoint {
    pub port: &'static str,
    pub path: &'static str,
    pub interval: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSecurityContext {
    pub run_as_non_root: bool,
    pub run_as_user: u32,
    pub run_as_group: u32,
    pub fs_group: u32,
    pub seccomp_profile: SeccompProfile,
}

impl PodSecurityContext {
    /// Non-root as [`NONROOT`], files of mounted volumes owned by its group, RuntimeDefault
    /// seccomp.
    pub fn hardened() -> Self {
        PodSecurityContext {
            run_as_non_root: true,
            run_as_user: NONROOT,
            run_as_group: NONROOT,
            fs_group: NONROOT,
            seccomp_profile: SeccompProfile::runtime_default(),
        }
    }
}

#[derive(Serialize)]
pub struct SeccompProfile {
    #[serde(rename = "type")]
    pub kind: &'static str,
}

impl SeccompProfile {
    fn runtime_default() -> Self {
        SeccompProfile {
            kind: "RuntimeDefault",
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    pub name: &'static str,
    pub image: String,
    pub args: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<ContainerPort>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env_from: Vec<EnvFromSource>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    pub resources: Resources,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readiness_probe: Option<Probe>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liveness_probe: Option<Probe>,
    pub security_context: ContainerSecurityContext,
    pub termination_message_policy: &'static str,
    pub volume_mounts: Vec<VolumeMount>,
}

/// `kubectl describe` shows the end of the log when a container fails.
pub const TERMINATION_MESSAGE_POLICY: &str = "FallbackToLogsOnError";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    pub name: &'static str,
    pub container_port: u16,
    pub protocol: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvFromSource {
    pub secret_ref: SecretEnvSource,
}

#[derive(Serialize)]
pub struct SecretEnvSource {
    pub name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvVar {
    pub name: &'static str,
    pub value_from: EnvVarSource,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvVarSource {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field_ref: Option<FieldSelector>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_key_ref: Option<SecretKeySelector>,
}

impl EnvVarSource {
    pub fn field(field_path: &'static str) -> Self {
        EnvVarSource {
            field_ref: Some(FieldSelector { field_path }),
            secret_key_ref: None,
        }
    }

    /// A key of a Secret; `optional: None` leaves the API default (required).
    pub fn secret(name: String, key: &'static str, optional: Option<bool>) -> Self {
        EnvVarSource {
            field_ref: None,
            secret_key_ref: Some(SecretKeySelector {
                name,
                key,
                optional,
            }),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldSelector {
    pub field_path: &'static str,
}

#[derive(Serialize)]
pub struct SecretKeySelector {
    pub name: String,
    pub key: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
}

#[derive(Serialize)]
pub struct Resources {
    pub requests: BTreeMap<&'static str, &'static str>,
    pub limits: BTreeMap<&'static str, &'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    pub http_get: HttpGetAction,
    pub period_seconds: u32,
    pub timeout_seconds: u32,
    pub failure_threshold: u32,
}

impl Probe {
    /// An HTTP GET of `path` on the named port; three failures of 5 s each count.
    pub fn http(path: &'static str, port: &'static str, period_seconds: u32) -> Self {
        Probe {
            http_get: HttpGetAction { path, port },
            period_seconds,
            timeout_seconds: 5,
            failure_threshold: 3,
        }
    }
}

#[derive(Serialize)]
pub struct HttpGetAction {
    pub path: &'static str,
    pub port: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerSecurityContext {
    pub allow_privilege_escalation: bool,
    pub read_only_root_filesystem: bool,
    pub run_as_non_root: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_as_user: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_as_group: Option<u32>,
    pub capabilities: Capabilities,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seccomp_profile: Option<SeccompProfile>,
}

impl ContainerSecurityContext {
    /// No privilege escalation, a read-only root filesystem, non-root, every capability
    /// dropped. The user and seccomp profile come from the pod's [`PodSecurityContext`].
    pub fn hardened() -> Self {
        ContainerSecurityContext {
            allow_privilege_escalation: false,
            read_only_root_filesystem: true,
            run_as_non_root: true,
            run_as_user: None,
            run_as_group: None,
            capabilities: Capabilities { drop: ["ALL"] },
            seccomp_profile: None,
        }
    }

    /// [`Self::hardened`] plus the user, group and seccomp profile a pod's security context
    /// would give: for a container added to someone else's pod, whose pod-level settings a
    /// patch must not change.
    pub fn hardened_standalone() -> Self {
        ContainerSecurityContext {
            run_as_user: Some(NONROOT),
            run_as_group: Some(NONROOT),
            seccomp_profile: Some(SeccompProfile::runtime_default()),
            ..Self::hardened()
        }
    }
}

#[derive(Serialize)]
pub struct Capabilities {
    pub drop: [&'static str; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeMount {
    pub name: String,
    pub mount_path: String,
    pub read_only: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_map: Option<ConfigMapVolumeSource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretVolumeSource>,
}

#[derive(Serialize)]
pub struct ConfigMapVolumeSource {
    pub name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<KeyToPath>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretVolumeSource {
    pub secret_name: String,
    pub items: Vec<KeyToPath>,
}

#[derive(Serialize)]
pub struct KeyToPath {
    pub key: String,
    pub path: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(value: &impl Serialize) -> serde_json::Value {
        serde_json::to_value(value).unwrap()
    }

    #[test]
    fn a_standalone_container_is_as_hardened_as_a_container_in_a_credwatch_pod() {
        let pod = json(&PodSecurityContext::hardened());
        let base = json(&ContainerSecurityContext::hardened());
        let standalone = json(&ContainerSecurityContext::hardened_standalone());
        // Everything the pod-level context adds is carried by the standalone container.
        for key in ["runAsUser", "runAsGroup", "seccompProfile", "runAsNonRoot"] {
            assert_eq!(standalone[key], pod[key], "{key}");
        }
        // And nothing of the in-pod container's hardening is lost.
        for (key, value) in base.as_object().unwrap() {
            assert_eq!(&standalone[key], value, "{key}");
        }
        assert_eq!(base["capabilities"]["drop"], serde_json::json!(["ALL"]));
        assert_eq!(base["readOnlyRootFilesystem"], true);
        assert_eq!(base["allowPrivilegeEscalation"], false);
        assert!(base.get("runAsUser").is_none(), "the pod sets the user");
    }
}
