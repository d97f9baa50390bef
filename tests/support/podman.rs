//! Containers without a daemon: podman (runc, vfs) with a storage root of its own in a temporary
//! folder, the image built once per test run by `scripts/image` from the release binary, and a
//! rendered pod spec turned into `podman run` flags, with its ConfigMap and Secret volumes written
//! in the kubelet's layout.
//!
//! The flags come from the YAML `render k8s` prints, never from a second copy of the security
//! settings: a field of the pod or container spec this file does not know how to run is a test
//! failure, so a change to the manifests' security context is run here before it ships.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_norway::Value;
use tempfile::TempDir;

use super::repo_root;

/// The tag `render k8s --image` is given and the image is built as.
pub const IMAGE: &str = "localhost/credwatch:test";

/// podman with its own storage (removed on drop), and the image built into it.
pub struct Podman {
    dir: TempDir,
}

/// Why containers cannot run here: the test says so and stops.
pub struct Unavailable(pub String);

impl Unavailable {
    /// Says so on the terminal: written to stderr directly, which the test harness does not
    /// capture (it captures `eprintln!`), so a skip is never silent.
    pub fn skip(&self, test: &str) {
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {}", self.0);
    }
}

impl Podman {
    /// Builds the image from the release binary; `Err` only where containers cannot run at all
    /// (podman creates no container on this machine), never for a broken image.
    pub fn with_image() -> Result<Podman, Unavailable> {
        let which = Command::new("podman").arg("--version").output();
        if which.is_err() {
            panic!("`podman` is not installed; run ./scripts/test, which installs podman and runc");
        }
        let podman = Podman {
            dir: tempfile::tempdir().expect("a temporary folder"),
        };
        // `kube play` takes no --ulimit: the limits this machine can give, for every container.
        std::fs::write(
            podman.dir.path().join("containers.conf"),
            "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n",
        )
        .expect("write containers.conf");
        let binary = release_binary();
        let build = Command::new(repo_root().join("scripts/image"))
            .args(["--binary".as_ref(), binary.as_os_str()])
            .args(["--tag", IMAGE])
            .env("PODMAN", podman.global_flags().join(" "))
            .output()
            .expect("run scripts/image");
        assert!(
            build.status.success(),
            "scripts/image failed:\n{}",
            String::from_utf8_lossy(&build.stderr)
        );
        // A container the runtime cannot create at all exits 125 (podman's own error); the
        // image's binary failing (a missing library, a bad entrypoint) exits 126/127 and fails.
        let probe = podman.run(&["--rm", IMAGE, "--version"]);
        if probe.status.code() == Some(125) {
            return Err(Unavailable(format!(
                "podman cannot run a container on this machine: {}",
                String::from_utf8_lossy(&probe.stderr).trim()
            )));
        }
        assert!(
            probe.status.success(),
            "the image does not run `credwatch --version`:\n{}",
            String::from_utf8_lossy(&probe.stderr)
        );
        Ok(podman)
    }

    /// What this machine needs (DESIGN.md §9): runc and vfs (crun fails on hybrid cgroups), no
    /// systemd for cgroups or events, and a storage root of our own.
    fn global_flags(&self) -> Vec<String> {
        let root = self.dir.path();
        vec![
            "podman".into(),
            format!("--root={}", root.join("storage").display()),
            format!("--runroot={}", root.join("run").display()),
            // Podman's own state (locks, exit files) private too, not the shared /run/libpod.
            format!("--tmpdir={}", root.join("tmp").display()),
            "--storage-driver=vfs".into(),
            "--runtime=runc".into(),
            "--cgroup-manager=cgroupfs".into(),
            "--events-backend=file".into(),
        ]
    }

    pub fn command(&self) -> Command {
        let flags = self.global_flags();
        let mut command = Command::new(&flags[0]);
        command
            .args(&flags[1..])
            .env("CONTAINERS_CONF", self.dir.path().join("containers.conf"))
            .stdin(Stdio::null());
        command
    }

    /// `podman run` with the rlimits this machine can give (the defaults cannot be raised).
    pub fn run(&self, args: &[&str]) -> Output {
        self.command()
            .args([
                "run",
                "--ulimit=nofile=1024:1024",
                "--ulimit=nproc=1024:1024",
            ])
            .args(args)
            .output()
            .expect("run podman")
    }

    /// The storage root, for files that live as long as the containers.
    pub fn scratch(&self, name: &str) -> PathBuf {
        let path = self.dir.path().join("volumes").join(name);
        std::fs::create_dir_all(&path).expect("create a volume folder");
        path
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        // Stop what is left running (a failed test's server), then drop the storage; vfs layers
        // are plain folders, but a running container's mounts would keep them busy.
        let _ = self
            .command()
            .args(["rm", "--all", "--force", "--time=0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self
            .command()
            .args(["system", "reset", "--force"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The release binary: the one `./scripts/test` built (`CREDWATCH_IMAGE_BINARY`), or one built
/// now into `target/image` (a target folder of its own: `cargo test` holds the lock on `target`).
fn release_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("CREDWATCH_IMAGE_BINARY") {
        return PathBuf::from(path);
    }
    let target = repo_root().join("target/image");
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["build", "--release", "--locked", "--target-dir"])
        .arg(&target)
        .current_dir(repo_root())
        .status()
        .expect("run cargo build --release");
    assert!(status.success(), "cargo build --release failed");
    target.join("release/credwatch")
}

/// The objects a pod's volumes and `secretKeyRef`s read, by name: key → content.
#[derive(Default)]
pub struct Cluster {
    pub config_maps: BTreeMap<String, BTreeMap<String, String>>,
    pub secrets: BTreeMap<String, BTreeMap<String, String>>,
}

/// Writes `files` as the kubelet lays out a ConfigMap or Secret volume: the files in a
/// timestamped folder, `..data` a symlink to it, and each key a symlink through `..data`; plus
/// the (empty) mount points of volumes nested inside, which the kubelet creates when it sets the
/// volume up. Everything is readable by the container's user, nothing writable.
pub fn kubelet_volume(dir: &Path, files: &BTreeMap<String, String>, mount_points: &[&str]) {
    use std::os::unix::fs::{PermissionsExt, symlink};
    let stamp = "..2026_12_01_10_00_00.123456789";
    std::fs::create_dir_all(dir.join(stamp)).unwrap();
    for (key, content) in files {
        std::fs::write(dir.join(stamp).join(key), content).unwrap();
        std::fs::set_permissions(dir.join(stamp).join(key), PermissionsExt::from_mode(0o644))
            .unwrap();
        symlink(format!("..data/{key}"), dir.join(key)).unwrap();
    }
    symlink(stamp, dir.join("..data")).unwrap();
    for point in mount_points {
        std::fs::create_dir_all(dir.join(point)).unwrap();
        std::fs::set_permissions(dir.join(point), PermissionsExt::from_mode(0o755)).unwrap();
    }
    for d in [dir.to_path_buf(), dir.join(stamp)] {
        std::fs::set_permissions(&d, PermissionsExt::from_mode(0o755)).unwrap();
    }
}

/// `podman run` flags (before the image) and the container's args (after it) for the first
/// container of `pod` (a rendered pod template), with `cluster` holding what its volumes and
/// Secret references read. `env_file` receives the container's environment, so that Secret
/// values never appear in podman's argv.
pub fn run_flags(
    podman: &Podman,
    pod_name: &str,
    pod: &Value,
    cluster: &Cluster,
    env_file: &Path,
) -> (Vec<String>, String, Vec<String>) {
    let spec = &pod["spec"];
    let known = |map: &Value, keys: &[&str], what: &str| {
        for key in map.as_mapping().expect("a mapping").keys() {
            let key = key.as_str().unwrap_or_default();
            assert!(
                keys.contains(&key),
                "{what} `{key}` is rendered, and this test does not know how to run it; teach tests/support/podman.rs"
            );
        }
    };
    known(
        spec,
        &[
            "serviceAccountName",
            "restartPolicy",
            "enableServiceLinks",
            "securityContext",
            "containers",
            "volumes",
        ],
        "pod spec field",
    );
    let containers = spec["containers"].as_sequence().expect("containers");
    assert_eq!(containers.len(), 1, "one container per pod");
    let c = &containers[0];
    known(
        c,
        &[
            "name",
            "image",
            "args",
            "ports",
            "env",
            "resources",
            "readinessProbe",
            "livenessProbe",
            "securityContext",
            "terminationMessagePolicy",
            "volumeMounts",
        ],
        "container field",
    );
    let mut flags: Vec<String> = Vec::new();

    // The pod's security context.
    let pod_sc = &spec["securityContext"];
    known(
        pod_sc,
        &[
            "runAsNonRoot",
            "runAsUser",
            "runAsGroup",
            "fsGroup",
            "seccompProfile",
        ],
        "pod securityContext field",
    );
    let user = pod_sc["runAsUser"].as_u64().expect("runAsUser");
    let group = pod_sc["runAsGroup"].as_u64().expect("runAsGroup");
    if pod_sc["runAsNonRoot"] == Value::Bool(true) {
        assert_ne!(user, 0, "runAsNonRoot with runAsUser 0");
    }
    flags.push(format!("--user={user}:{group}"));
    if let Some(fs_group) = pod_sc["fsGroup"].as_u64() {
        flags.push(format!("--group-add={fs_group}"));
    }
    // podman applies its default seccomp profile, the runtime's default.
    assert_eq!(
        pod_sc["seccompProfile"]["type"], "RuntimeDefault",
        "only the RuntimeDefault seccomp profile is run here"
    );

    // The container's security context.
    let sc = &c["securityContext"];
    known(
        sc,
        &[
            "allowPrivilegeEscalation",
            "readOnlyRootFilesystem",
            "runAsNonRoot",
            "capabilities",
        ],
        "container securityContext field",
    );
    if sc["readOnlyRootFilesystem"] == Value::Bool(true) {
        flags.push("--read-only".into());
        // A read-only root with nothing writable at all, as in the pod (podman would add a
        // tmpfs at /tmp, /run and /var/tmp otherwise).
        flags.push("--read-only-tmpfs=false".into());
    }
    if sc["allowPrivilegeEscalation"] == Value::Bool(false) {
        flags.push("--security-opt=no-new-privileges".into());
    }
    known(&sc["capabilities"], &["drop", "add"], "capabilities field");
    for cap in sc["capabilities"]["drop"]
        .as_sequence()
        .into_iter()
        .flatten()
    {
        flags.push(format!(
            "--cap-drop={}",
            cap.as_str().expect("a capability")
        ));
    }
    for cap in sc["capabilities"]["add"]
        .as_sequence()
        .into_iter()
        .flatten()
    {
        flags.push(format!("--cap-add={}", cap.as_str().expect("a capability")));
    }
    if spec["enableServiceLinks"] != Value::Bool(false) {
        panic!("enableServiceLinks is not false: the test would have to set the service variables");
    }

    // Limits.
    known(&c["resources"], &["requests", "limits"], "resources field");
    known(&c["resources"]["limits"], &["memory"], "limit");
    if let Some(memory) = c["resources"]["limits"]["memory"].as_str() {
        let mebibytes = memory.strip_suffix("Mi").expect("a memory limit in Mi");
        flags.push(format!("--memory={mebibytes}m"));
    }

    // The environment, values and Secret references resolved as the kubelet does.
    let mut env = String::new();
    for var in c["env"].as_sequence().into_iter().flatten() {
        let name = var["name"].as_str().expect("an env name");
        if let Some(value) = var["value"].as_str() {
            env.push_str(&format!("{name}={value}\n"));
            continue;
        }
        let r = &var["valueFrom"]["secretKeyRef"];
        let (secret, key) = (r["name"].as_str().unwrap(), r["key"].as_str().unwrap());
        match cluster.secrets.get(secret).and_then(|s| s.get(key)) {
            Some(value) => env.push_str(&format!("{name}={value}\n")),
            None if r["optional"] == Value::Bool(true) => {}
            None => panic!(
                "env `{name}` needs key `{key}` of Secret `{secret}`: the pod would not start"
            ),
        }
    }
    std::fs::write(env_file, env).unwrap();
    flags.push(format!("--env-file={}", env_file.display()));

    // Volumes, in the kubelet's layout, mounted read-only where the manifests mount them.
    let volumes: BTreeMap<&str, &Value> = spec["volumes"]
        .as_sequence()
        .expect("volumes")
        .iter()
        .map(|v| (v["name"].as_str().expect("a volume name"), v))
        .collect();
    let mounts = c["volumeMounts"].as_sequence().expect("volumeMounts");
    let paths: Vec<&str> = mounts
        .iter()
        .map(|m| m["mountPath"].as_str().expect("a mountPath"))
        .collect();
    for m in mounts {
        known(m, &["name", "mountPath", "readOnly"], "volumeMount field");
        let name = m["name"].as_str().unwrap();
        let path = m["mountPath"].as_str().unwrap();
        assert_eq!(
            m["readOnly"],
            Value::Bool(true),
            "volume `{name}` is not read-only"
        );
        let volume = volumes
            .get(name)
            .unwrap_or_else(|| panic!("no volume `{name}`"));
        let (objects, object, source) = if let Some(cm) = volume.get("configMap") {
            (&cluster.config_maps, cm["name"].as_str().unwrap(), cm)
        } else if let Some(s) = volume.get("secret") {
            (&cluster.secrets, s["secretName"].as_str().unwrap(), s)
        } else {
            panic!("volume `{name}` is neither a ConfigMap nor a Secret: {volume:?}")
        };
        let data = objects
            .get(object)
            .unwrap_or_else(|| panic!("volume `{name}` needs `{object}`, which the test has not"));
        let files: BTreeMap<String, String> = match source.get("items") {
            None => data.clone(),
            Some(items) => items
                .as_sequence()
                .unwrap()
                .iter()
                .map(|i| {
                    let key = i["key"].as_str().unwrap();
                    let value = data
                        .get(key)
                        .unwrap_or_else(|| panic!("`{object}` has no key `{key}`"));
                    (i["path"].as_str().unwrap().to_string(), value.clone())
                })
                .collect(),
        };
        let nested: Vec<&str> = paths
            .iter()
            .filter_map(|p| p.strip_prefix(path)?.strip_prefix('/'))
            .collect();
        let dir = podman.scratch(&format!("{pod_name}-{name}"));
        kubelet_volume(&dir, &files, &nested);
        flags.push(format!("--volume={}:{path}:ro", dir.display()));
    }
    let image = c["image"].as_str().expect("an image").to_string();
    let args = c["args"]
        .as_sequence()
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("a string arg").to_string())
        .collect();
    (flags, image, args)
}
