//! `credwatch serve`: a real Prometheus scrapes it, refreshes pick up edits, failed reads keep the
//! last known expiry, slow sources and idle clients never hold up a scrape, signals stop it
//! cleanly.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use credwatch::serve::exporter::{self, Limits};
use credwatch::serve::state::{Latest, Shutdown};

use crate::support::exporter::{Exporter, get, sample};
use crate::support::{Prometheus, Scratch, http_get, poll, repo_root};

const EXPIRY: &str = "credwatch_credential_expiry_timestamp_seconds";
const READ_OK: &str = "credwatch_credential_read_ok";
const LAST_SUCCESS: &str = "credwatch_last_success_timestamp_seconds";

const CONFIG: &str = r#"
[[credential]]
name = "primary"
pool = "agent"
expires_at = 1808064429
labels = { team = "platform" }

[[credential]]
name = "pat"
expires_at = 1803859200

[[source]]
kind = "directory"
name = "cm"
path = "cm"
"#;

/// A scratch folder with [`CONFIG`] and its directory source holding `spare-1`.
fn inventory() -> (Scratch, std::path::PathBuf) {
    let s = Scratch::new();
    s.write("cm/spare-1", "1808064581\n");
    let config = s.write("credwatch.toml", CONFIG);
    (s, config)
}

/// Replaces a file the way an editor or a ConfigMap update does: the reader sees the old text or
/// the new one.
fn replace(path: &Path, text: &str) {
    let temp = path.with_extension("tmp-edit");
    std::fs::write(&temp, text).unwrap();
    std::fs::rename(&temp, path).unwrap();
}

fn expiry_of(text: &str, credential: &str) -> Option<String> {
    sample(text, EXPIRY, &[&format!("credential=\"{credential}\"")])
}

fn read_ok_of(text: &str, credential: &str) -> Option<String> {
    sample(text, READ_OK, &[&format!("credential=\"{credential}\"")])
}

#[test]
fn prometheus_scrapes_the_exporter_and_the_expiry_appears_in_its_query_api() {
    let (_s, config) = inventory();
    let exporter = Exporter::start_ready(&config, &["--interval", "1m"]);
    let answer = exporter.get("/metrics");
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.content_type,
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert_eq!(exporter.get("/healthz").status, 200);

    let prometheus = Prometheus::start(
        &format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: credwatch\n    static_configs:\n      - targets: ['{}']\n",
            exporter.addr
        ),
        "groups: []\n",
    );
    // Prometheus discovers its targets a few seconds after it starts.
    let mut last = String::new();
    let series = poll::until(Duration::from_secs(60), Duration::from_millis(250), || {
        let (_, body) = http_get(&format!("{}/api/v1/query?query={EXPIRY}", prometheus.url));
        let doc: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        last = body;
        doc["data"]["result"]
            .as_array()
            .filter(|result| result.len() == 3)
            .cloned()
    })
    .unwrap_or_else(|| {
        panic!("the expiry series did not reach Prometheus within 60 s; last answer: {last}")
    });
    let primary = series
        .iter()
        .find(|s| s["metric"]["credential"] == "primary")
        .expect("primary is queryable");
    let instance = exporter.addr.to_string();
    assert_eq!(
        primary["metric"],
        serde_json::json!({
            "__name__": EXPIRY,
            "job": "credwatch",
            "instance": instance,
            "credential": "primary",
            "pool": "agent",
            "source": "inventory",
            "kind": "expires_at",
            "team": "platform",
        })
    );
    assert_eq!(primary["value"][1], "1808064429");
    let spare = series
        .iter()
        .find(|s| s["metric"]["credential"] == "spare-1")
        .expect("the directory source's credential is queryable");
    assert_eq!(spare["metric"]["source"], "cm");
    assert_eq!(spare["value"][1], "1808064581");

    let (_, up) = http_get(&format!("{}/api/v1/query?query=up", prometheus.url));
    let up: serde_json::Value = serde_json::from_str(&up).unwrap();
    assert_eq!(up["data"]["result"][0]["value"][1], "1", "{up}");
}

#[test]
fn the_drop_in_example_serves_exactly_the_shell_cronjobs_series() {
    let config = repo_root().join("examples/migrate-from-shell-cronjob/credwatch.toml");
    let exporter = Exporter::start_ready(&config, &[]);
    let body = exporter.metrics();
    let samples: Vec<&str> = body.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(samples.len(), 4, "{body}");
    assert_eq!(
        samples[..3],
        [
            "claude_oauth_token_expiry_timestamp{path=\"primary\"} 1808064429",
            "claude_oauth_token_expiry_timestamp{path=\"spare-1\"} 1808064581",
            "claude_oauth_token_expiry_timestamp{path=\"spare-2\"} 1808064723",
        ]
    );
    assert!(
        samples[3].starts_with("claude_oauth_expiry_monitor_last_push_timestamp "),
        "{body}"
    );
}

#[test]
fn a_refresh_picks_up_edits_to_the_config_and_the_directory() {
    let (s, config) = inventory();
    let exporter = Exporter::start_ready(&config, &["--interval", "1s"]);
    let before = exporter.metrics();
    assert_eq!(expiry_of(&before, "primary").as_deref(), Some("1808064429"));
    assert_eq!(expiry_of(&before, "pat").as_deref(), Some("1803859200"));
    assert_eq!(expiry_of(&before, "spare-1").as_deref(), Some("1808064581"));

    // primary was rotated, pat removed from the inventory; spare-1 rotated in the ConfigMap and
    // spare-2 added to it.
    replace(
        &config,
        &CONFIG
            .replace("expires_at = 1808064429", "expires_at = 1839600429")
            .replace(
                "[[credential]]\nname = \"pat\"\nexpires_at = 1803859200\n",
                "",
            ),
    );
    replace(&s.path("cm/spare-1"), "1839600581\n");
    s.write("cm/spare-2", "1839600723\n");

    let after = exporter.wait_metrics("the edits", Duration::from_secs(20), |body| {
        expiry_of(body, "primary").as_deref() == Some("1839600429")
            && expiry_of(body, "spare-1").as_deref() == Some("1839600581")
            && expiry_of(body, "spare-2").as_deref() == Some("1839600723")
            && expiry_of(body, "pat").is_none()
    });
    assert_eq!(read_ok_of(&after, "pat"), None, "removed, not carried");
    for name in ["primary", "spare-1", "spare-2"] {
        assert_eq!(read_ok_of(&after, name).as_deref(), Some("1"), "{name}");
    }
}

/// What `/metrics` answers a client that takes gzip: the head, and the body as sent.
fn get_gzip(addr: std::net::SocketAddr) -> (String, Vec<u8>) {
    let mut raw = TcpStream::connect(addr).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    raw.write_all(b"GET /metrics HTTP/1.1\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    raw.read_to_end(&mut answer).unwrap();
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    (head, answer[split + 4..].to_vec())
}

/// `member` inflated by Python's `gzip` module.
fn python_gunzip(member: &[u8]) -> String {
    let mut child = std::process::Command::new("python3")
        .args([
            "-c",
            "import gzip, sys; sys.stdout.buffer.write(gzip.decompress(sys.stdin.buffer.read()))",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run python3");
    child.stdin.take().unwrap().write_all(member).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python3 could not gunzip the page");
    String::from_utf8(out.stdout).unwrap()
}

/// Each refresh's gzip reuses the compressed part its text shares with the page before (every
/// credential's series; the run's own series change): refresh after refresh, what a client
/// inflates is the plain text, whether flate2, Python's `gzip` or `curl --compressed` inflates it.
#[test]
fn the_gzipped_page_inflates_to_the_plain_text_refresh_after_refresh() {
    let s = Scratch::new();
    for i in 0..2000 {
        s.write(
            &format!("cm/credential-{i:06}"),
            &format!("{}\n", 1_808_064_429 + 86_400 * (i % 300)),
        );
    }
    let config = s.write(
        "credwatch.toml",
        "[[source]]\nkind = \"directory\"\nname = \"cm\"\npath = \"cm\"\n",
    );
    let exporter = Exporter::start_ready(&config, &["--interval", "1s"]);
    let mut pages = std::collections::BTreeSet::new();
    // The first page has nothing to share, the second sets the shared part, the ones after
    // reuse it.
    let checked = poll::until(Duration::from_secs(60), Duration::from_millis(100), || {
        let before = exporter.metrics();
        let (head, member) = get_gzip(exporter.addr);
        let curl = std::process::Command::new("curl")
            .args(["-sS", "--compressed", &format!("{}/metrics", exporter.url)])
            .output()
            .expect("run curl");
        let after = exporter.metrics();
        if before != after {
            // A refresh came in between.
            return None;
        }
        assert!(head.contains("\r\nContent-Encoding: gzip\r\n"), "{head}");
        assert!(member.len() < before.len() / 5, "{} bytes", member.len());
        let mut inflated = String::new();
        flate2::read::GzDecoder::new(&member[..])
            .read_to_string(&mut inflated)
            .unwrap();
        assert_eq!(inflated, before, "flate2");
        assert_eq!(python_gunzip(&member), before, "python3 gzip");
        assert!(curl.status.success(), "{curl:?}");
        assert_eq!(
            String::from_utf8_lossy(&curl.stdout),
            before,
            "curl --compressed"
        );
        pages.insert(before);
        (pages.len() >= 4).then_some(())
    });
    assert!(
        checked.is_some(),
        "saw {} refreshes within 60 s\n{}",
        pages.len(),
        exporter.stderr()
    );
}

/// The refresh thread gives way to scrapes: it runs 10 nicer than the process, the threads
/// accepting and answering `/metrics` at the process's own priority (as `ps -L -o nice,comm`
/// shows).
#[test]
#[cfg(target_os = "linux")]
fn the_refresh_runs_at_a_lower_priority_than_the_scrapes() {
    let (_s, config) = inventory();
    let exporter = Exporter::start_ready(&config, &["--interval", "1h"]);
    let task = format!("/proc/{}/task", exporter.pid());
    let mut nice = std::collections::BTreeMap::<String, i32>::new();
    for entry in std::fs::read_dir(&task).unwrap() {
        let path = entry.unwrap().path();
        let Ok(stat) = std::fs::read_to_string(path.join("stat")) else {
            continue;
        };
        // `pid (comm) state ...`: the fields after the name, nice being the 19th in all.
        let (head, rest) = stat.rsplit_once(") ").unwrap();
        let name = head.split_once(" (").unwrap().1.to_string();
        let value: i32 = rest.split(' ').nth(16).unwrap().parse().unwrap();
        nice.insert(name, value);
    }
    // Thread names are cut to 15 bytes there. The main thread accepts; every thread but the
    // refresh (those answering are `credwatch-http`) keeps its priority. A source's bounded
    // read (`credwatch-read`) is started by the refresh and shares its priority; it may still
    // be ending when the threads are read.
    let refresh = "credwatch-refre";
    let process = nice["credwatch"];
    let lowered = (process + credwatch::serve::REFRESH_NICER_BY).min(19);
    assert_eq!(nice.get(refresh), Some(&lowered), "{nice:?}");
    for (name, value) in &nice {
        if name == "credwatch-read" {
            assert_eq!(*value, lowered, "{name}: {nice:?}");
        } else if name != refresh {
            assert_eq!(*value, process, "{name}: {nice:?}");
        }
    }
    assert!(exporter.metrics().contains(EXPIRY));
}

#[test]
fn a_failed_read_keeps_the_last_known_expiry_with_read_ok_0_until_it_reads_again() {
    let (s, config) = inventory();
    let exporter = Exporter::start_ready(&config, &["--interval", "1s"]);
    let before = exporter.metrics();
    let spare_line = |body: &str| {
        body.lines()
            .find(|l| l.starts_with(EXPIRY) && l.contains("credential=\"spare-1\""))
            .map(String::from)
    };
    let spare_expiry = spare_line(&before).expect("spare-1 is served");
    assert_eq!(
        spare_expiry,
        format!("{EXPIRY}{{credential=\"spare-1\",source=\"cm\",kind=\"expires_at\"}} 1808064581")
    );
    let last_success = sample(&before, LAST_SUCCESS, &[]).expect("a complete refresh");

    // One file turns to garbage: that credential is unread, its expiry stays.
    replace(&s.path("cm/spare-1"), "garbage\n");
    let unread = exporter.wait_metrics("spare-1 unread", Duration::from_secs(20), |body| {
        read_ok_of(body, "spare-1").as_deref() == Some("0")
    });
    assert_eq!(spare_line(&unread), Some(spare_expiry.clone()));
    assert_eq!(read_ok_of(&unread, "primary").as_deref(), Some("1"));
    assert_eq!(
        sample(&unread, LAST_SUCCESS, &[]),
        Some(last_success.clone())
    );

    // The whole ConfigMap is gone: the source is down, its credential still known.
    std::fs::rename(s.path("cm"), s.path("cm-away")).unwrap();
    let down = exporter.wait_metrics("the source down", Duration::from_secs(20), |body| {
        sample(body, "credwatch_source_up", &["source=\"cm\""]).as_deref() == Some("0")
    });
    assert_eq!(spare_line(&down), Some(spare_expiry));
    assert_eq!(read_ok_of(&down, "spare-1").as_deref(), Some("0"));
    assert_eq!(
        sample(&down, "credwatch_source_up", &["source=\"inventory\""]).as_deref(),
        Some("1")
    );
    assert_eq!(sample(&down, LAST_SUCCESS, &[]), Some(last_success.clone()));

    // Back, with a new value: read again, and the last success advances.
    std::fs::rename(s.path("cm-away"), s.path("cm")).unwrap();
    replace(&s.path("cm/spare-1"), "1839600581\n");
    let back = exporter.wait_metrics("the source back", Duration::from_secs(20), |body| {
        read_ok_of(body, "spare-1").as_deref() == Some("1")
    });
    assert_eq!(expiry_of(&back, "spare-1").as_deref(), Some("1839600581"));
    let advanced: i64 = sample(&back, LAST_SUCCESS, &[]).unwrap().parse().unwrap();
    assert!(advanced > last_success.parse::<i64>().unwrap(), "{back}");
}

#[test]
fn a_hung_source_never_blocks_metrics_or_shutdown() {
    use crate::support::{Fault, FaultServer};
    // A Vault that accepts connections and never answers: every refresh waits out the
    // per-request timeout on it.
    let vault = FaultServer::start(Fault::Silence);
    let (s, _) = inventory();
    s.write("vault-token", "not-a-real-token");
    let config = s.write(
        "credwatch.toml",
        &format!(
            "{CONFIG}\n[[source]]\nkind = \"vault\"\naddress = \"{}\"\nprefix = \"agents\"\n\
             retries = 0\ntimeout = \"3s\"\nauth = {{ method = \"token\", token_file = \"vault-token\" }}\n",
            vault.url
        ),
    );
    let mut exporter = Exporter::start(&config, &["--interval", "1s"]);

    // The first refresh is stuck on Vault: the exporter answers at once all the same.
    for _ in 0..3 {
        assert_eq!(exporter.get("/healthz").status, 200);
        assert_eq!(exporter.get("/-/ready").status, 503);
        let metrics = exporter.get("/metrics");
        assert_eq!(metrics.status, 503, "{metrics:?}");
        assert_eq!(
            metrics.body,
            "no collection has finished yet; see /-/ready\n"
        );
    }

    // The timeout passes: the first collection is published, with the vault source down and
    // everything else there.
    exporter.wait_ready(Duration::from_secs(20));
    let published = exporter.metrics();
    assert_eq!(
        expiry_of(&published, "primary").as_deref(),
        Some("1808064429")
    );
    assert!(
        published.contains("credwatch_source_up{source=\"vault\"} 0\n"),
        "{published}"
    );

    // Every later refresh hangs on Vault again; scrapes keep getting a whole text at once, all
    // through the next refresh, from before it starts until it has timed out and finished.
    let refreshes = |exporter: &Exporter| exporter.stderr().matches(" credential(s) in ").count();
    let published = refreshes(&exporter);
    let next = poll::until(Duration::from_secs(20), Duration::from_millis(100), || {
        let start = Instant::now();
        let text = exporter.metrics();
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "a scrape waited on the refresh"
        );
        assert!(
            text.ends_with('\n') && text.contains("credwatch_build_info"),
            "{text}"
        );
        assert_eq!(expiry_of(&text, "primary").as_deref(), Some("1808064429"));
        (refreshes(&exporter) > published).then_some(())
    });
    assert!(
        next.is_some(),
        "no refresh after the first within 20 s:\n{}",
        exporter.stderr()
    );

    // And SIGTERM still stops it cleanly, hung refresh or not.
    let status = exporter.stop_with("TERM");
    assert_eq!(status.code(), Some(0), "{}", exporter.stderr());
}

#[test]
fn a_fifo_in_a_directory_source_is_reported_not_read() {
    let (s, config) = inventory();
    let made = std::process::Command::new("mkfifo")
        .arg(s.path("cm/slow"))
        .status()
        .unwrap();
    assert!(made.success());
    let run = crate::support::Credwatch::new()
        .args([std::ffi::OsStr::new("--config"), config.as_os_str()])
        .args(["check"])
        .run();
    run.assert_code(3);
    assert!(
        run.stdout.contains("slow: `") && run.stdout.contains("is not a regular file"),
        "{}",
        run.stdout
    );
    assert!(run.elapsed < Duration::from_secs(10));
}

#[test]
fn connections_that_send_nothing_do_not_starve_scrapes() {
    let (_s, config) = inventory();
    let exporter =
        Exporter::start_ready(&config, &["--max-connections", "4", "--read-timeout", "5s"]);
    // Ten times more idle connections than it answers at once. The kernel hands connections to
    // `accept` in the order they were made, so the exporter takes in all 40 before the scrape.
    let idle: Vec<TcpStream> = (0..40)
        .map(|_| TcpStream::connect(exporter.addr).unwrap())
        .collect();
    // The scrape is answered without waiting for any idle client's timeout (5 s).
    let start = Instant::now();
    let scrape = get(
        &format!("{}/metrics", exporter.url),
        Duration::from_secs(30),
    );
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "the scrape waited {:?} behind idle clients",
        start.elapsed()
    );
    assert_eq!(scrape.status, 200, "{scrape:?}");
    assert_eq!(
        expiry_of(&scrape.body, "primary").as_deref(),
        Some("1808064429")
    );

    // Each idle client was told it took too long, and disconnected.
    for mut connection in idle {
        connection
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut answer = String::new();
        connection.read_to_string(&mut answer).unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
            "{answer}"
        );
    }
}

#[test]
fn sigterm_and_sigint_stop_it_cleanly_and_free_the_port() {
    let (_s, config) = inventory();
    for signal in ["TERM", "INT"] {
        let mut exporter = Exporter::start_ready(&config, &[]);
        let addr = exporter.addr;
        let status = exporter.stop_with(signal);
        assert_eq!(status.code(), Some(0), "SIG{signal}\n{}", exporter.stderr());
        assert_eq!(exporter.stdout(), "stopped\n");
        TcpListener::bind(addr)
            .unwrap_or_else(|e| panic!("port still taken after SIG{signal}: {e}"));
    }
}

#[test]
fn bad_flags_exit_3_before_listening() {
    let (_s, config) = inventory();
    let cases: [(&[&str], &str); 6] = [
        (
            &["--interval", "0s"],
            "error: --interval: expected a positive duration",
        ),
        (
            &["--idle-timeout", "0s"],
            "error: --idle-timeout: expected a positive duration, found `0s`",
        ),
        (
            &["--idle-timeout", "75"],
            "error: --idle-timeout: duration `75` needs a unit after `75` (w, d, h, m or s), e.g. `75d`",
        ),
        (
            &["--read-timeout", "5x"],
            "error: --read-timeout: expected a duration such as `365d`, `12h` or `90m` (units w, d, h, m, s), found `5x`",
        ),
        (
            &["--max-connections", "0"],
            "error: --max-connections: expected at least 1, found `0`",
        ),
        (
            &["--listen", "127.0.0.1:http-alt"],
            "error: cannot listen on `127.0.0.1:http-alt`: ",
        ),
    ];
    for (flags, wanted) in cases {
        let run = crate::support::Credwatch::new()
            .args([std::ffi::OsStr::new("--config"), config.as_os_str()])
            .args(["serve"])
            .args(flags)
            .run();
        run.assert_code(3);
        assert!(run.stderr.starts_with(wanted), "{flags:?}: {}", run.stderr);
    }
}

/// The server in-process: it takes a bound listener and a shutdown signal, answers before and
/// after the first publication, and stops when told, even with a client waiting half-way.
#[test]
fn the_server_takes_a_listener_and_stops_when_told() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let latest = Arc::new(Latest::new());
    let shutdown = Arc::new(Shutdown::new());
    let (done, stopped) = mpsc::channel();
    {
        let (latest, shutdown) = (latest.clone(), shutdown.clone());
        let limits = Limits {
            max_connections: 2,
            max_waiting: 4,
            read_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(60),
        };
        thread::spawn(move || {
            let _ = done.send(exporter::serve(listener, latest, shutdown, limits));
        });
    }
    let url = format!("http://{addr}");
    let timeout = Duration::from_secs(10);
    assert_eq!(get(&format!("{url}/-/ready"), timeout).status, 503);
    latest.publish("x 1\n".into());
    let answer = get(&format!("{url}/metrics"), timeout);
    assert_eq!((answer.status, answer.body.as_str()), (200, "x 1\n"));
    assert_eq!(get(&format!("{url}/-/ready"), timeout).status, 200);
    assert_eq!(get(&format!("{url}/nope"), timeout).status, 404);

    // Prometheus asks for gzip and gets the same text, compressed. (The connection is closed
    // after the answer because the client says so.)
    let mut raw = TcpStream::connect(addr).unwrap();
    raw.set_read_timeout(Some(timeout)).unwrap();
    raw.write_all(b"GET /metrics HTTP/1.1\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    raw.read_to_end(&mut answer).unwrap();
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let (head, body) = (
        String::from_utf8_lossy(&answer[..split]),
        &answer[split + 4..],
    );
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("\r\nContent-Encoding: gzip\r\n"), "{head}");
    assert!(
        head.contains("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
        "{head}"
    );
    let mut inflated = String::new();
    flate2::read::GzDecoder::new(body)
        .read_to_string(&mut inflated)
        .unwrap();
    assert_eq!(inflated, "x 1\n");

    // A client that sent half a request: shutdown does not wait out its 60 s. Connections are
    // accepted in the order they were made: once a later one is answered, the server holds the
    // half one.
    let mut half = TcpStream::connect(addr).unwrap();
    half.write_all(b"GET /metrics HTTP/1.1\r\n").unwrap();
    assert_eq!(get(&format!("{url}/healthz"), timeout).status, 200);
    shutdown.trigger();
    let result = stopped
        .recv_timeout(Duration::from_secs(20))
        .expect("serve returned");
    assert!(result.is_ok(), "{result:?}");
    TcpListener::bind(addr).expect("the port is free again");
    // The half client was cut without an answer, not left waiting.
    half.set_read_timeout(Some(timeout)).unwrap();
    let mut answer = Vec::new();
    let read = half.read_to_end(&mut answer);
    assert!(
        !read.as_ref().is_err_and(|e| matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        )),
        "{read:?}"
    );
    assert_eq!(String::from_utf8_lossy(&answer), "");
}

#[test]
fn clients_that_never_read_their_answer_do_not_hold_up_a_scrape() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let latest = Arc::new(Latest::new());
    let shutdown = Arc::new(Shutdown::new());
    // About the page of 10k credentials: far more than the socket buffers of a client that
    // reads nothing can take.
    let page: String = (0..10_000)
        .map(|i| format!("credwatch_credential_expiry_timestamp_seconds{{credential=\"c-{i:05}\",source=\"inventory\",kind=\"expires_at\",team=\"platform\"}} 1808064429\ncredwatch_credential_read_ok{{credential=\"c-{i:05}\"}} 1\n{:>300}\n", "#"))
        .collect();
    assert!(page.len() > 4 << 20);
    latest.publish(page.clone());
    {
        let (latest, shutdown) = (latest.clone(), shutdown.clone());
        let limits = Limits {
            max_connections: 4,
            max_waiting: 256,
            read_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(60),
        };
        thread::spawn(move || exporter::serve(listener, latest, shutdown, limits));
    }
    // 32 clients ask without gzip and stop reading after the status line: each answer is being
    // written, and would stay so until the 60 s write deadline.
    let stalled: Vec<TcpStream> = (0..32)
        .map(|_| {
            let mut c = TcpStream::connect(addr).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            c.write_all(b"GET /metrics HTTP/1.1\r\n\r\n").unwrap();
            let mut status = [0u8; 12];
            c.read_exact(&mut status).unwrap();
            assert_eq!(&status, b"HTTP/1.1 200");
            c
        })
        .collect();
    let start = Instant::now();
    let scrape = get(&format!("http://{addr}/metrics"), Duration::from_secs(60));
    let took = start.elapsed();
    assert_eq!(scrape.status, 200);
    assert_eq!(scrape.body.len(), page.len());
    assert!(
        took < Duration::from_secs(10),
        "a scrape waited {took:?} behind 32 clients that do not read"
    );
    drop(stalled);
    shutdown.trigger();
}

/// A server in-process on a loopback port with `limits`, serving `x 1\n`; stopped on drop.
struct InProcess {
    addr: std::net::SocketAddr,
    shutdown: Arc<Shutdown>,
}

impl InProcess {
    fn start(limits: Limits) -> InProcess {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let latest = Arc::new(Latest::new());
        latest.publish("x 1\n".into());
        let shutdown = Arc::new(Shutdown::new());
        let stop = shutdown.clone();
        thread::spawn(move || exporter::serve(listener, latest, stop, limits));
        InProcess { addr, shutdown }
    }

    /// A connection whose reads give up after 10 s (far beyond any limit the tests set).
    fn connect(&self) -> BufReader<TcpStream> {
        let stream = TcpStream::connect(self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        BufReader::new(stream)
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

/// Reads one answer (its head, then as many body bytes as its `Content-Length` says): the
/// head's lines and the body.
fn read_answer(connection: &mut BufReader<TcpStream>) -> (Vec<String>, String) {
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        connection.read_line(&mut line).unwrap();
        assert!(
            line.ends_with("\r\n"),
            "the answer ended in its head: {head:?} {line:?}"
        );
        if line == "\r\n" {
            break;
        }
        head.push(line.trim_end().to_string());
    }
    let length: usize = head
        .iter()
        .find_map(|h| h.strip_prefix("Content-Length: "))
        .expect("a Content-Length")
        .parse()
        .unwrap();
    let mut body = vec![0u8; length];
    connection.read_exact(&mut body).unwrap();
    (head, String::from_utf8(body).unwrap())
}

/// Whether the server closed `connection` with nothing more to read (not a read timeout).
fn closed(connection: &mut BufReader<TcpStream>) -> bool {
    let mut rest = Vec::new();
    match connection.read_to_end(&mut rest) {
        Ok(_) => rest.is_empty(),
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    }
}

fn send(connection: &mut BufReader<TcpStream>, request: &str) {
    connection.get_mut().write_all(request.as_bytes()).unwrap();
}

#[test]
fn a_kept_alive_connection_answers_each_request_until_the_client_says_close() {
    let server = InProcess::start(Limits::default());
    let mut c = server.connect();
    send(&mut c, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    let (head, body) = read_answer(&mut c);
    assert_eq!(head[0], "HTTP/1.1 200 OK");
    assert!(
        !head.iter().any(|h| h.starts_with("Connection:")),
        "{head:?}"
    );
    assert_eq!(body, "x 1\n");
    // Two requests sent at once (pipelined) get their answers in order.
    send(
        &mut c,
        "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /-/ready HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(read_answer(&mut c).1, "ok\n");
    assert_eq!(read_answer(&mut c).1, "ready\n");
    // `Connection: close` gets its answer, said to close, and then the connection closes.
    send(
        &mut c,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let (head, body) = read_answer(&mut c);
    assert!(head.contains(&"Connection: close".to_string()), "{head:?}");
    assert_eq!(body, "x 1\n");
    assert!(closed(&mut c));

    // HTTP/1.0 connections, and requests with a body (not read), end with their answer.
    for request in [
        "GET /metrics HTTP/1.0\r\n\r\n",
        "POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
    ] {
        let mut c = server.connect();
        send(&mut c, request);
        let (head, _) = read_answer(&mut c);
        assert!(
            head.contains(&"Connection: close".to_string()),
            "{request}: {head:?}"
        );
        assert!(closed(&mut c), "{request}");
    }
}

#[test]
fn an_idle_kept_alive_connection_is_closed_and_a_started_request_still_has_the_read_timeout() {
    let server = InProcess::start(Limits {
        read_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(2),
        ..Limits::default()
    });
    // Idle after its answer: closed after the idle limit, not the read timeout, without an
    // answer.
    let mut idle = server.connect();
    send(&mut idle, "GET /healthz HTTP/1.1\r\n\r\n");
    assert_eq!(read_answer(&mut idle).1, "ok\n");
    let answered = Instant::now();
    assert!(closed(&mut idle));
    assert!(
        answered.elapsed() >= Duration::from_millis(1900),
        "{:?}",
        answered.elapsed()
    );
    // A next request that starts but does not finish gets a 408 once the read timeout passed.
    let mut slow = server.connect();
    send(&mut slow, "GET /healthz HTTP/1.1\r\n\r\n");
    assert_eq!(read_answer(&mut slow).1, "ok\n");
    send(&mut slow, "GET /metrics HTTP/1.1\r\n");
    let (head, _) = read_answer(&mut slow);
    assert_eq!(head[0], "HTTP/1.1 408 Request Timeout");
    assert!(closed(&mut slow));
}

#[test]
fn the_idle_timeout_is_set_with_idle_timeout() {
    let help = crate::support::Credwatch::new()
        .args(["serve", "--help"])
        .run();
    help.assert_code(0);
    assert!(
        help.stdout.contains("--idle-timeout <DURATION>") && help.stdout.contains("[default: 75s]"),
        "{}",
        help.stdout
    );

    let (_s, config) = inventory();
    let exporter =
        Exporter::start_ready(&config, &["--idle-timeout", "3s", "--read-timeout", "1s"]);
    let stream = TcpStream::connect(exporter.addr).unwrap();
    // Far below the default idle timeout (75 s): only the one given closes it in time.
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut c = BufReader::new(stream);
    // Kept alive: a second request on the same connection is answered.
    for _ in 0..2 {
        send(&mut c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
        let (head, body) = read_answer(&mut c);
        assert!(
            !head.iter().any(|h| h.starts_with("Connection:")),
            "{head:?}"
        );
        assert_eq!(body, "ok\n");
    }
    // Then idle: the server closes it after the idle timeout (not the read timeout), without an
    // answer.
    let answered = Instant::now();
    assert!(closed(&mut c), "the idle connection was not closed");
    assert!(
        answered.elapsed() >= Duration::from_millis(2900),
        "{:?}",
        answered.elapsed()
    );
}

#[test]
fn idle_kept_alive_connections_give_way_to_a_new_scrape() {
    let server = InProcess::start(Limits {
        max_connections: 2,
        max_waiting: 4,
        read_timeout: Duration::from_secs(60),
        write_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(60),
    });
    // As many kept-alive connections as may wait at once, each idle after one answer.
    let mut idle: Vec<_> = (0..4)
        .map(|_| {
            let mut c = server.connect();
            send(&mut c, "GET /metrics HTTP/1.1\r\n\r\n");
            assert_eq!(read_answer(&mut c).1, "x 1\n");
            c
        })
        .collect();
    // New scrapes are answered long before any idle limit (60 s): each closes the connection
    // idle the longest (the new ones are kept alive in turn).
    let _scrapes: Vec<_> = (0..2)
        .map(|_| {
            let mut c = server.connect();
            send(&mut c, "GET /metrics HTTP/1.1\r\n\r\n");
            assert_eq!(read_answer(&mut c).1, "x 1\n");
            c
        })
        .collect();
    // Two of the idle ones were closed for them, and the other two are still kept alive. Which
    // two is the unit tests' to say (`exporter.rs`): here a client may read its answer before
    // the server has counted its connection idle, so the order the four became idle in is not
    // the order they were opened in.
    let answering: Vec<bool> = idle.iter_mut().map(still_answers).collect();
    assert_eq!(answering.iter().filter(|a| **a).count(), 2, "{answering:?}");
}

/// Whether a kept-alive connection still answers (`/healthz`), or was closed by the server.
fn still_answers(connection: &mut BufReader<TcpStream>) -> bool {
    let asked = connection
        .get_mut()
        .write_all(b"GET /healthz HTTP/1.1\r\n\r\n");
    let mut status = String::new();
    match (asked, connection.read_line(&mut status)) {
        (Ok(()), Ok(n)) if n > 0 => {
            assert_eq!(status, "HTTP/1.1 200 OK\r\n");
            true
        }
        _ => false,
    }
}
