//! `credwatch serve` started as the binary on a free loopback port, stopped on drop, and the
//! plain HTTP calls the tests make to it. Self-contained (std, ureq, tempfile).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use tempfile::TempDir;

use super::poll;

/// A running exporter. It listens on `127.0.0.1:0`; the address it prints is read back, so no
/// port can be taken between choosing and binding it.
pub struct Exporter {
    child: Option<Child>,
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`
    pub url: String,
    /// What it printed on stdout after the address line.
    stdout: Arc<Mutex<String>>,
    /// Told when its stdout closed, which it does when it exits: every line is in `stdout`.
    stdout_closed: mpsc::Receiver<()>,
    dir: TempDir,
}

/// An HTTP answer: status, Content-Type, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl Exporter {
    /// Starts `credwatch --config CONFIG serve --listen 127.0.0.1:0 EXTRA…` with a clean
    /// environment and waits (at most 20 s) for the address it prints.
    pub fn start(config: &Path, extra: &[&str]) -> Exporter {
        Exporter::start_with(config, "127.0.0.1:0", extra, &[])
    }

    /// [`Exporter::start`] on `listen` (a loopback address) with `env` added to its clean
    /// environment, as a sidecar sees the workload's variables.
    pub fn start_with(
        config: &Path,
        listen: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Exporter {
        let dir = tempfile::tempdir().unwrap();
        let mut command = super::clean_command();
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command
            .arg("--config")
            .arg(config)
            .args(["-v", "serve", "--listen", listen])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.path().join("stderr.log")).unwrap())
            .spawn()
            .expect("start credwatch serve");
        let stdout = child.stdout.take().unwrap();
        let (first_line, lines) = mpsc::channel();
        let (closed, stdout_closed) = mpsc::channel();
        let rest = Arc::new(Mutex::new(String::new()));
        let collected = rest.clone();
        thread::spawn(move || {
            let mut lines_read = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines_read.next() {
                let _ = first_line.send(line);
            }
            for line in lines_read.map_while(Result::ok) {
                let mut all = collected.lock().unwrap();
                all.push_str(&line);
                all.push('\n');
            }
            let _ = closed.send(());
        });
        let mut exporter = Exporter {
            child: Some(child),
            addr: "127.0.0.1:9".parse().unwrap(),
            url: String::new(),
            stdout: rest,
            stdout_closed,
            dir,
        };
        let line = match lines.recv_timeout(Duration::from_secs(20)) {
            Ok(line) => line,
            Err(_) => panic!(
                "credwatch serve printed no address within 20 s:\n{}",
                exporter.stderr()
            ),
        };
        // `serving http://127.0.0.1:PORT/metrics; …`
        let addr = line
            .strip_prefix("serving http://")
            .and_then(|rest| rest.split('/').next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line `{line}`"));
        exporter.addr = addr;
        exporter.url = format!("http://{addr}");
        exporter
    }

    /// Starts it and waits (bounded) until `/-/ready` answers 200.
    pub fn start_ready(config: &Path, extra: &[&str]) -> Exporter {
        let exporter = Exporter::start(config, extra);
        exporter.wait_ready(Duration::from_secs(20));
        exporter
    }

    pub fn wait_ready(&self, limit: Duration) {
        let ready = poll::until(limit, Duration::from_millis(50), || {
            (self.get("/-/ready").status == 200).then_some(())
        });
        assert!(
            ready.is_some(),
            "the exporter was not ready within {limit:?}:\n{}",
            self.stderr()
        );
    }

    /// GET `path`, with a 10 s timeout; status 0 when the request failed.
    pub fn get(&self, path: &str) -> Answer {
        get(&format!("{}{path}", self.url), Duration::from_secs(10))
    }

    /// The body of `/metrics`, which must answer 200.
    pub fn metrics(&self) -> String {
        let answer = self.get("/metrics");
        assert_eq!(answer.status, 200, "{answer:?}\n{}", self.stderr());
        answer.body
    }

    /// Polls `/metrics` (bounded) until `done` holds for its body; returns that body.
    pub fn wait_metrics(&self, what: &str, limit: Duration, done: impl Fn(&str) -> bool) -> String {
        let mut last = String::new();
        let found = poll::until(limit, Duration::from_millis(100), || {
            let answer = self.get("/metrics");
            if answer.status == 200 && done(&answer.body) {
                return Some(answer.body);
            }
            last = answer.body;
            None
        });
        found.unwrap_or_else(|| {
            panic!(
                "/metrics did not show {what} within {limit:?}; last:\n{last}\nstderr:\n{}",
                self.stderr()
            )
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Sends `signal` (`TERM`, `INT`) and waits at most 20 s for the process to exit and for
    /// the last line it printed to be read.
    pub fn stop_with(&mut self, signal: &str) -> ExitStatus {
        let pid = self.pid().to_string();
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -{signal} {pid}");
        let mut child = self.child.take().unwrap();
        let (exited, exit) = mpsc::channel();
        thread::spawn(move || {
            let _ = exited.send(child.wait());
        });
        let limit = Duration::from_secs(20);
        let Ok(status) = exit.recv_timeout(limit) else {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
            panic!("credwatch serve did not exit within 20 s of SIG{signal}");
        };
        assert!(
            self.stdout_closed.recv_timeout(limit).is_ok(),
            "stdout still open after credwatch serve exited"
        );
        status.expect("wait for credwatch serve")
    }

    /// What it printed on stdout after its address line.
    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    /// Its log so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// GET `url` with a timeout for the whole exchange; status 0 when it failed.
pub fn get(url: &str, timeout: Duration) -> Answer {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .into();
    match agent.get(url).call() {
        Ok(mut r) => {
            let content_type = r
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let mut body = String::new();
            let _ = r
                .body_mut()
                .with_config()
                .limit(256 << 20)
                .reader()
                .read_to_string(&mut body);
            Answer {
                status: r.status().as_u16(),
                content_type,
                body,
            }
        }
        Err(e) => Answer {
            status: 0,
            content_type: String::new(),
            body: e.to_string(),
        },
    }
}

/// The value of the first sample of `metric` whose labels include every `label="value"` pair
/// (written as in the exposition text, e.g. `credential="primary"`).
pub fn sample(text: &str, metric: &str, labels: &[&str]) -> Option<String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(metric)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .find(|l| labels.iter().all(|pair| l.contains(pair)))
        .and_then(|l| l.rsplit(' ').next())
        .map(String::from)
}
