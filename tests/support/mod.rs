//! Test support: the credwatch binary as a builder, real servers on free loopback ports with
//! throwaway directories (stopped on drop), and a loopback server for faults no real server makes.

#![allow(dead_code)]

pub mod chromium;
pub mod crd;
pub mod exporter;
pub mod lossy_proxy;
pub mod openbao;
pub mod podman;
pub mod poll;
pub mod provider;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// One run of the credwatch binary.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// Builds and runs the binary with a clean environment (no CREDWATCH_*, no proxies).
pub struct Credwatch {
    command: Command,
}

/// The credwatch binary with none of the caller's CREDWATCH_*, RUST_LOG or proxy settings.
pub fn clean_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_credwatch"));
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().to_string();
        if key.starts_with("CREDWATCH_")
            || key.to_lowercase().ends_with("_proxy")
            || key == "RUST_LOG"
        {
            command.env_remove(&key);
        }
    }
    command
}

impl Credwatch {
    pub fn new() -> Self {
        let command = clean_command();
        Credwatch { command }
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(mut self, args: I) -> Self {
        self.command.args(args);
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Self {
        self.command.env(key, value);
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.command.current_dir(dir);
        self
    }

    /// Runs with `input` on stdin (for values read from stdin: `rotate`, `lint-value`).
    pub fn run_with_stdin(mut self, input: &str) -> Run {
        let start = Instant::now();
        let mut child = self
            .command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run the credwatch binary");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
        let Output {
            status,
            stdout,
            stderr,
        } = child.wait_with_output().expect("wait for credwatch");
        Run {
            code: status.code().expect("credwatch exited by a signal"),
            stdout: String::from_utf8(stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(stderr).expect("stderr is UTF-8"),
            elapsed: start.elapsed(),
        }
    }

    pub fn run(mut self) -> Run {
        let start = Instant::now();
        let Output {
            status,
            stdout,
            stderr,
        } = self
            .command
            .stdin(Stdio::null())
            .output()
            .expect("run the credwatch binary");
        Run {
            code: status.code().expect("credwatch exited by a signal"),
            stdout: String::from_utf8(stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(stderr).expect("stderr is UTF-8"),
            elapsed: start.elapsed(),
        }
    }
}

/// A scratch directory holding a config file and whatever else a test writes.
pub struct Scratch {
    pub dir: TempDir,
}

impl Scratch {
    pub fn new() -> Self {
        Scratch {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, content: &str) -> PathBuf {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        path
    }
}

/// Runs the helper `tests/support/SCRIPT` with python3 and parses the JSON it prints.
pub fn python_json(script: &str, args: &[&str]) -> serde_json::Value {
    let out = Command::new("python3")
        .arg(repo_root().join("tests/support").join(script))
        .args(args)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "{script} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{script} printed no JSON: {e}"))
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn require(binary: &str) -> PathBuf {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(binary))
        .find(|p| p.is_file());
    found.unwrap_or_else(|| {
        panic!("`{binary}` is not installed; run ./scripts/test, which installs it")
    })
}

/// An HTTP client for the tests: no proxy, a 5 s bound, statuses as values.
pub fn http_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .into()
}

pub fn http_get(url: &str) -> (u16, String) {
    match http_agent().get(url).call() {
        Ok(mut r) => (
            r.status().as_u16(),
            r.body_mut().read_to_string().unwrap_or_default(),
        ),
        Err(e) => (0, e.to_string()),
    }
}

/// One series as the Pushgateway holds it: its labels and its value.
pub type Series = (BTreeMap<String, String>, String);

/// A real Prometheus Pushgateway on a free loopback port, without persistence.
pub struct Pushgateway {
    child: Child,
    pub url: String,
    _dir: TempDir,
}

impl Pushgateway {
    pub fn start() -> Self {
        Self::start_with_web_config(None)
    }

    /// Starts it with an exporter-toolkit web config (for basic auth).
    pub fn start_with_web_config(web_config: Option<&str>) -> Self {
        let binary = require("prometheus-pushgateway");
        for _attempt in 0..3 {
            let dir = tempfile::tempdir().unwrap();
            let port = free_port();
            let mut command = Command::new(&binary);
            command
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg("--persistence.file=")
                .arg("--log.level=warn")
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            if let Some(web) = web_config {
                let path = dir.path().join("web.yml");
                std::fs::write(&path, web).unwrap();
                command.arg(format!("--web.config.file={}", path.display()));
            }
            let child = command.spawn().expect("start prometheus-pushgateway");
            let mut pg = Pushgateway {
                child,
                url: format!("http://127.0.0.1:{port}"),
                _dir: dir,
            };
            if pg.wait_ready(Duration::from_secs(10)) {
                return pg;
            }
            // Port taken in the meantime, or a slow start: try another port.
        }
        panic!("the Pushgateway did not become ready");
    }

    fn wait_ready(&mut self, limit: Duration) -> bool {
        poll::until(limit, Duration::from_millis(50), || {
            if let Ok(Some(_)) = self.child.try_wait() {
                return Some(false);
            }
            let (status, _) = http_get(&format!("{}/-/ready", self.url));
            // 401 means it is up behind basic auth.
            (status == 200 || status == 401).then_some(true)
        })
        .unwrap_or(false)
    }

    /// Every group the Pushgateway holds, as its `GET /api/v1/metrics` reports it.
    pub fn groups(&self) -> Vec<serde_json::Value> {
        let (status, body) = http_get(&format!("{}/api/v1/metrics", self.url));
        assert_eq!(status, 200, "{body}");
        let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
        doc["data"].as_array().cloned().unwrap_or_default()
    }

    /// The series of the group whose `job` label is `job`: metric name → [(labels, value)].
    /// Grouping labels (job, …) are included in each series' labels, as Prometheus would see them.
    pub fn series(&self, job: &str) -> BTreeMap<String, Vec<Series>> {
        let mut out = BTreeMap::new();
        for group in self.groups() {
            if group["labels"]["job"] != job {
                continue;
            }
            for (name, family) in group.as_object().unwrap() {
                let Some(metrics) = family.get("metrics").and_then(|m| m.as_array()) else {
                    continue;
                };
                let entry: &mut Vec<_> = out.entry(name.clone()).or_default();
                for m in metrics {
                    let mut labels: BTreeMap<String, String> =
                        serde_json::from_value(m["labels"].clone()).unwrap();
                    // An empty label value is the same as no label (the Pushgateway adds `instance=""`).
                    labels.retain(|_, v| !v.is_empty());
                    entry.push((labels, normalize(m["value"].as_str().unwrap_or_default())));
                }
            }
        }
        out
    }

    /// The value of `metric` for the series whose `label` is `value`, in group `job`.
    pub fn value(&self, job: &str, metric: &str, label: &str, value: &str) -> Option<String> {
        self.series(job)
            .get(metric)?
            .iter()
            .find(|(labels, _)| labels.get(label).map(String::as_str) == Some(value))
            .map(|(_, v)| v.clone())
    }
}

/// The Pushgateway's API writes `1.808064429e+09`; whole numbers are compared as integers.
fn normalize(value: &str) -> String {
    match value.parse::<f64>() {
        Ok(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{}", v as i64),
        _ => value.to_string(),
    }
}

impl Drop for Pushgateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How the fault server answers.
#[derive(Clone, Copy)]
pub enum Fault {
    /// Answer every request with this status and body.
    Status(u16, &'static str),
    /// Accept the connection, read the request, never answer.
    Silence,
    /// Answer each request (given whole) with the status and JSON body this function returns.
    Answer(fn(&str) -> (u16, String)),
}

/// A loopback HTTP server that misbehaves on purpose and records the requests it saw.
pub struct FaultServer {
    pub url: String,
    pub requests: Arc<Mutex<Vec<String>>>,
}

impl FaultServer {
    pub fn start(fault: Fault) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        thread::spawn(move || {
            // Bounded: no test makes more than a few dozen connections.
            let mut held: Vec<TcpStream> = Vec::new();
            for stream in listener.incoming().take(64) {
                let Ok(mut stream) = stream else { continue };
                let request = read_request(&mut stream);
                seen.lock().unwrap().push(request);
                match fault {
                    Fault::Status(code, body) => {
                        let _ = write!(
                            stream,
                            "HTTP/1.1 {code} Fault\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                    }
                    Fault::Silence => held.push(stream),
                    Fault::Answer(answer) => {
                        let (code, body) =
                            answer(&seen.lock().unwrap().last().cloned().unwrap_or_default());
                        let _ = write!(
                            stream,
                            "HTTP/1.1 {code} Answer\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                    }
                }
            }
        });
        FaultServer {
            url: format!("http://{addr}"),
            requests,
        }
    }

    pub fn request_count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

/// Reads one HTTP request (head and a Content-Length body), bounded in size and time.
pub fn read_request(stream: &mut TcpStream) -> String {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    while data.len() < 1 << 20 {
        let Ok(n) = stream.read(&mut buf) else { break };
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&data);
        if let Some(head_end) = text.find("\r\n\r\n") {
            let length = text[..head_end]
                .lines()
                .find_map(|l| {
                    l.to_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap_or(0))
                })
                .unwrap_or(0usize);
            if data.len() >= head_end + 4 + length {
                break;
            }
        }
    }
    String::from_utf8_lossy(&data).to_string()
}

/// Runs `promtool` with `args` in `dir`; returns (success, combined output).
pub fn promtool(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(require("promtool"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run promtool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Starts `binary` with `args(port, dir)` on a free port until `ready_path` answers 200.
fn start_server(
    binary: &str,
    ready_path: &str,
    args: impl Fn(u16, &Path) -> Vec<String>,
) -> (Child, String, TempDir) {
    let binary = require(binary);
    for _attempt in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut child = Command::new(&binary)
            .args(args(port, dir.path()))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("server.log")).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
        let url = format!("http://127.0.0.1:{port}");
        let ready = poll::until(Duration::from_secs(20), Duration::from_millis(100), || {
            if let Ok(Some(_)) = child.try_wait() {
                return Some(false);
            }
            (http_get(&format!("{url}{ready_path}")).0 == 200).then_some(true)
        });
        if ready == Some(true) {
            return (child, url, dir);
        }
        let _ = child.kill();
        let _ = child.wait();
        let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
        eprintln!(
            "{} did not become ready on port {port}:\n{log}",
            binary.display()
        );
    }
    panic!("{binary:?} did not become ready");
}

/// A real Alertmanager on a free loopback port, gossip disabled.
pub struct Alertmanager {
    child: Child,
    pub url: String,
    _dir: TempDir,
}

impl Alertmanager {
    pub fn start(config_yaml: &str) -> Self {
        let config = config_yaml.to_string();
        let (child, url, dir) =
            start_server("prometheus-alertmanager", "/-/ready", move |port, dir| {
                let path = dir.join("alertmanager.yml");
                std::fs::write(&path, &config).unwrap();
                vec![
                    format!("--config.file={}", path.display()),
                    format!("--storage.path={}", dir.join("data").display()),
                    format!("--web.listen-address=127.0.0.1:{port}"),
                    "--cluster.listen-address=".into(),
                ]
            });
        Alertmanager {
            child,
            url,
            _dir: dir,
        }
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A real Prometheus on a free loopback port with a fresh TSDB directory.
pub struct Prometheus {
    child: Child,
    pub url: String,
    _dir: TempDir,
}

impl Prometheus {
    /// `config_yaml` may name `rules.yml`, which is written next to it from `rules_yaml`.
    pub fn start(config_yaml: &str, rules_yaml: &str) -> Self {
        let (config, rules) = (config_yaml.to_string(), rules_yaml.to_string());
        let (child, url, dir) = start_server("prometheus", "/-/ready", move |port, dir| {
            std::fs::write(dir.join("prometheus.yml"), &config).unwrap();
            std::fs::write(dir.join("rules.yml"), &rules).unwrap();
            vec![
                format!("--config.file={}", dir.join("prometheus.yml").display()),
                format!("--storage.tsdb.path={}", dir.join("data").display()),
                format!("--web.listen-address=127.0.0.1:{port}"),
                "--rules.alert.resend-delay=1s".into(),
            ]
        });
        Prometheus {
            child,
            url,
            _dir: dir,
        }
    }

    /// Waits (bounded) until every scrape target is up and an Alertmanager is discovered.
    pub fn wait_targets_up(&self, limit: Duration) {
        let up = poll::until(limit, Duration::from_millis(200), || {
            let (_, targets) = http_get(&format!("{}/api/v1/targets", self.url));
            let (_, ams) = http_get(&format!("{}/api/v1/alertmanagers", self.url));
            let targets: serde_json::Value = serde_json::from_str(&targets).unwrap_or_default();
            let ams: serde_json::Value = serde_json::from_str(&ams).unwrap_or_default();
            let active = targets["data"]["activeTargets"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let all_up = !active.is_empty() && active.iter().all(|t| t["health"] == "up");
            let am_ok = ams["data"]["activeAlertmanagers"]
                .as_array()
                .is_some_and(|a| !a.is_empty());
            (all_up && am_ok).then_some(())
        });
        assert!(
            up.is_some(),
            "Prometheus targets or Alertmanager not up within {limit:?}"
        );
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback webhook receiver for Alertmanager notifications: keeps every JSON payload.
pub struct Webhook {
    pub url: String,
    payloads: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl Webhook {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let payloads = Arc::new(Mutex::new(Vec::new()));
        let store = payloads.clone();
        thread::spawn(move || {
            for stream in listener.incoming().take(10_000) {
                let Ok(mut stream) = stream else { continue };
                let request = read_request(&mut stream);
                if let Some((_, body)) = request.split_once("\r\n\r\n")
                    && let Ok(json) = serde_json::from_str(body)
                {
                    store.lock().unwrap().push(json);
                }
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        Webhook { url, payloads }
    }

    /// Every alert received so far, as (status, alert) pairs, oldest first.
    pub fn alerts(&self) -> Vec<(String, serde_json::Value)> {
        let payloads = self.payloads.lock().unwrap();
        payloads
            .iter()
            .flat_map(|p| p["alerts"].as_array().cloned().unwrap_or_default())
            .map(|a| (a["status"].as_str().unwrap_or_default().to_string(), a))
            .collect()
    }
}
