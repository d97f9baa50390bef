//! `cargo bench --bench perf`: what credwatch costs, measured on this machine and printed as the
//! Markdown tables of docs/performance.md.
//!
//! 1. End to end: `credwatch check` and `credwatch push` (to a real Pushgateway started here) of
//!    the example configs, wall time (median of runs) and peak RSS (GNU time's `%M`), side by
//!    side with the shell CronJob they replace (`sh` + `curl` PUTting the same body).
//! 2. Assessment and encoding of 10k…100k synthetic credentials in-process (library calls), each
//!    size in a fresh child process so that its peak RSS is its own.
//! 3. `/metrics` latency (p50/p99) with 10k credentials loaded, under concurrent scrapes, while
//!    refreshes (10k files read, assessed, encoded) run back to back.
//!
//! Nothing is installed: a missing tool (`prometheus-pushgateway`, `curl`, `/usr/bin/time`) is
//! reported and its rows are skipped. Every loop is bounded; every server is on loopback.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use credwatch::assess;
use credwatch::config::MetricNames;
use credwatch::credential::{Basis, Credential, Evidence, Observation, PoolPolicy, Thresholds};
use credwatch::credential::{Collection, SourceStatus};
use credwatch::metrics::text;
use credwatch::metrics::{self, RunInfo};
use credwatch::serve::exporter::{self, Limits};
use credwatch::serve::refresh::Refresher;
use credwatch::serve::state::{Latest, Shutdown};
use jiff::{SignedDuration, Timestamp};

const CREDWATCH: &str = env!("CARGO_BIN_EXE_credwatch");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const RUNS: usize = 21;
const RSS_RUNS: usize = 5;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child-assess") {
        let n: usize = args[i + 1].parse().expect("a count");
        let pools = args.get(i + 2).is_some_and(|a| a == "pools");
        child_assess(n, pools);
        return;
    }
    // `cargo bench` passes `--bench`; a filter argument picks one part.
    let only = args.iter().skip(1).find(|a| !a.starts_with("--")).cloned();
    let wants = |part: &str| only.as_deref().is_none_or(|o| o == part);

    println!("## Machine\n\n{}", machine());
    if wants("e2e") {
        end_to_end();
    }
    if wants("assess") {
        assess_at_scale();
    }
    if wants("scrape") {
        scrape_latency();
    }
}

// ---------------------------------------------------------------------------------------------
// The machine.

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown".into());
    let cores = thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "- CPU: {model}, {cores} cores available\n- RAM: {:.1} GiB\n- Linux {}\n- credwatch {} (release build, `cargo bench` profile)\n",
        mem_kib as f64 / 1024.0 / 1024.0,
        kernel.trim(),
        env!("CARGO_PKG_VERSION"),
    )
}

fn find_binary(name: &str) -> Option<PathBuf> {
    if name.starts_with('/') {
        return Path::new(name).is_file().then(|| PathBuf::from(name));
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

// ---------------------------------------------------------------------------------------------
// 1. End to end.

/// One command line to measure.
struct Case {
    name: &'static str,
    program: PathBuf,
    args: Vec<String>,
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn run_once(case: &Case) -> Duration {
    let start = Instant::now();
    let status = Command::new(&case.program)
        .args(&case.args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run the case");
    let elapsed = start.elapsed();
    assert!(
        status.code().is_some_and(|c| c <= 1),
        "{} exited with {status}",
        case.name
    );
    elapsed
}

/// The largest peak RSS (KiB) over a few runs under GNU time: that of the process, or of its
/// largest descendant (curl, for the shell), not their sum.
fn peak_rss_kib(case: &Case, time: &Path, scratch: &Path) -> u64 {
    let out = scratch.join("time.out");
    (0..RSS_RUNS)
        .map(|_| {
            let status = Command::new(time)
                .args(["-f", "%M", "-o"])
                .arg(&out)
                .arg(&case.program)
                .args(&case.args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("run GNU time");
            assert!(status.code().is_some_and(|c| c <= 1), "{}", case.name);
            std::fs::read_to_string(&out)
                .unwrap_or_default()
                .lines()
                .last()
                .and_then(|l| l.trim().parse().ok())
                .unwrap_or(0)
        })
        .max()
        .unwrap_or(0)
}

struct Pushgateway {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Pushgateway {
    fn start(binary: &Path) -> Option<Pushgateway> {
        for _attempt in 0..3 {
            let port = TcpListener::bind("127.0.0.1:0")
                .ok()?
                .local_addr()
                .ok()?
                .port();
            let dir = tempfile::tempdir().ok()?;
            let child = Command::new(binary)
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg("--persistence.file=")
                .arg("--log.level=error")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .ok()?;
            let mut pg = Pushgateway {
                child,
                url: format!("http://127.0.0.1:{port}"),
                _dir: dir,
            };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = pg.child.try_wait() {
                    break;
                }
                if ureq::get(format!("{}/-/ready", pg.url)).call().is_ok() {
                    return Some(pg);
                }
                thread::sleep(Duration::from_millis(50));
            }
            let _ = pg.child.kill();
        }
        None
    }
}

impl Drop for Pushgateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The replaced CronJob's script: one line per ConfigMap file, plus the last-push series, PUT with
/// curl. It builds the same body as `credwatch push` of examples/migrate-from-shell-cronjob.
const SHELL_CRONJOB: &str = r#"set -eu
dir=$1
url=$2
body=""
for f in "$dir"/*; do
  body="${body}claude_oauth_token_expiry_timestamp{path=\"$(basename "$f")\"} $(cat "$f")
"
done
body="${body}claude_oauth_expiry_monitor_last_push_timestamp $(date +%s)
"
printf '%s' "$body" | curl -sS --fail --max-time 30 -X PUT --data-binary @- "$url/metrics/job/claude-oauth-expiry-monitor"
"#;

fn end_to_end() {
    println!("\n## 1. End to end: `check`, `push` and the shell CronJob\n");
    let scratch = tempfile::tempdir().unwrap();
    let example = format!("{ROOT}/examples/credwatch.toml");
    let migration = format!("{ROOT}/examples/migrate-from-shell-cronjob/credwatch.toml");
    let credwatch = PathBuf::from(CREDWATCH);
    let mut cases = vec![Case {
        name: "`credwatch check` (examples/credwatch.toml, 4 credentials)",
        program: credwatch.clone(),
        args: vec!["--config".into(), example.clone(), "check".into()],
    }];

    let pushgateway = find_binary("prometheus-pushgateway").and_then(|b| Pushgateway::start(&b));
    match &pushgateway {
        None => println!(
            "_`prometheus-pushgateway` is not installed or did not start: the push rows are skipped._\n"
        ),
        Some(pg) => {
            cases.push(Case {
                name: "`credwatch push` (examples/credwatch.toml, 4 credentials)",
                program: credwatch.clone(),
                args: vec![
                    "--config".into(),
                    example.clone(),
                    "push".into(),
                    "--pushgateway-url".into(),
                    pg.url.clone(),
                ],
            });
            cases.push(Case {
                name: "`credwatch push` (migrate-from-shell-cronjob, 3 files, same body as the shell)",
                program: credwatch.clone(),
                args: vec![
                    "--config".into(),
                    migration.clone(),
                    "push".into(),
                    "--pushgateway-url".into(),
                    pg.url.clone(),
                ],
            });
            match (find_binary("sh"), find_binary("curl")) {
                (Some(sh), Some(_)) => {
                    let script = scratch.path().join("push-expiry.sh");
                    std::fs::write(&script, SHELL_CRONJOB).unwrap();
                    cases.push(Case {
                        name: "shell CronJob: `sh` + `curl -X PUT` (same 3 files)",
                        program: sh,
                        args: vec![
                            script.display().to_string(),
                            format!("{ROOT}/examples/migrate-from-shell-cronjob/expiry"),
                            pg.url.clone(),
                        ],
                    });
                }
                _ => println!("_`curl` (or `sh`) is not installed: the shell row is skipped._\n"),
            }
        }
    }

    let time = find_binary("/usr/bin/time");
    if time.is_none() {
        println!("_GNU time (`/usr/bin/time`) is not installed: peak RSS is not measured._\n");
    }
    println!("| what | wall time, median of {RUNS} | min – max | peak RSS |");
    println!("|---|---|---|---|");
    for case in &cases {
        run_once(case); // warm the page cache
        let times: Vec<Duration> = (0..RUNS).map(|_| run_once(case)).collect();
        let (min, max) = (*times.iter().min().unwrap(), *times.iter().max().unwrap());
        let rss = time
            .as_deref()
            .map(|t| {
                format!(
                    "{:.1} MiB",
                    peak_rss_kib(case, t, scratch.path()) as f64 / 1024.0
                )
            })
            .unwrap_or_else(|| "n/a".into());
        println!(
            "| {} | {:.1} ms | {:.1} – {:.1} ms | {rss} |",
            case.name,
            ms(median(times)),
            ms(min),
            ms(max)
        );
    }
    drop(pushgateway);
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

// ---------------------------------------------------------------------------------------------
// 2. Assessment and encoding at scale.

const DAY: i64 = 86_400;
const NOW: i64 = 1_796_000_000;

/// `n` credentials as a directory source would deliver them: one in 50 unreadable, and (with
/// `pools`) in pools of 3 (a primary and two spares).
fn synthetic(n: usize, pools: bool) -> Collection {
    let thresholds = Thresholds {
        warn_before: SignedDuration::from_secs(30 * DAY),
        critical_before: SignedDuration::from_secs(7 * DAY),
    };
    let observations = (0..n)
        .map(|i| {
            let minted = Timestamp::from_second(NOW - (i as i64 % 360) * DAY).unwrap();
            let credential = Credential {
                name: format!("credential-{i:06}"),
                pool: pools.then(|| format!("pool-{:05}", i / 3)),
                source: "configmap".into(),
                labels: [("team".to_string(), format!("team-{}", i % 17))].into(),
                runbook: None,
                thresholds,
            };
            let evidence = if i % 50 == 49 {
                Err(format!(
                    "`/etc/expiry/credential-{i:06}`: expected unix seconds"
                ))
            } else {
                let mut e = Evidence::declared(
                    Some(minted),
                    minted
                        .checked_add(SignedDuration::from_secs(365 * DAY))
                        .unwrap(),
                    Basis::MintedAtPlusTtl,
                );
                e.fingerprint = Some(format!("{:016x}", i as u64 * 0x9e37_79b9_7f4a_7c15));
                Ok(e)
            };
            Observation {
                credential,
                evidence,
            }
        })
        .collect();
    Collection {
        observations,
        sources: vec![SourceStatus {
            name: "configmap".into(),
            kind: "directory",
            error: None,
            reason: None,
        }],
        problems: vec![],
        copies: Default::default(),
    }
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// In a child process: builds the observations, then times assessment + metrics + encoding and
/// prints `build_ms assess_ms encode_ms bytes peak_kib baseline_kib`.
fn child_assess(n: usize, pools: bool) {
    let baseline = vm_hwm_kib();
    let collection = synthetic(n, pools);
    let built = vm_hwm_kib();
    let start = Instant::now();
    let report = assess::assess(
        collection,
        Timestamp::from_second(NOW).unwrap(),
        PoolPolicy::default(),
    );
    let assessed = start.elapsed();
    let families = metrics::families(
        &report,
        &MetricNames::default(),
        RunInfo {
            finished_at: Timestamp::from_second(NOW).unwrap(),
            duration_seconds: 1.0,
        },
    );
    let text = text::encode(&families);
    let total = start.elapsed();
    println!(
        "{} {} {} {} {} {}",
        assessed.as_secs_f64() * 1000.0,
        (total - assessed).as_secs_f64() * 1000.0,
        text.len(),
        vm_hwm_kib(),
        baseline,
        built,
    );
}

fn assess_at_scale() {
    println!("\n## 2. Assessment + encoding, in-process\n");
    println!(
        "Each row runs in a fresh child process. _assess_ is `assess::assess` (statuses, sorting, pools); \
         _encode_ is `metrics::families` + `text::encode`. Peak RSS is the child's VmHWM, which \
         includes the synthetic input (the _input_ column: VmHWM once the observations are built).\n"
    );
    println!(
        "| credentials | pools of 3 | assess | encode | total per credential | text | peak RSS | input |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let me = std::env::current_exe().unwrap();
    for pools in [false, true] {
        for n in [10_000usize, 25_000, 50_000, 100_000] {
            let out = Command::new(&me)
                .args(["--child-assess", &n.to_string()])
                .args(pools.then_some("pools"))
                .output()
                .expect("run the child");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let line = String::from_utf8_lossy(&out.stdout);
            let v: Vec<f64> = line
                .split_whitespace()
                .map(|x| x.parse().unwrap())
                .collect();
            let (assess_ms, encode_ms, bytes, peak, input) = (v[0], v[1], v[2], v[3], v[5]);
            println!(
                "| {n} | {} | {assess_ms:.1} ms | {encode_ms:.1} ms | {:.2} µs | {:.1} MiB | {:.1} MiB | {:.1} MiB |",
                if pools { "yes" } else { "no" },
                (assess_ms + encode_ms) * 1000.0 / n as f64,
                bytes / 1024.0 / 1024.0,
                peak / 1024.0,
                input / 1024.0,
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 3. /metrics latency under load.

const SCRAPE_CREDENTIALS: usize = 10_000;
const CLIENTS: usize = 4;
const SCRAPES_PER_CLIENT: usize = 250;

/// One scrape over a fresh connection, as Prometheus makes it when the server closes after each
/// answer: connect, GET, read to the end. Returns the time and the bytes received.
fn scrape(addr: SocketAddr, buf: &mut Vec<u8>, gzip: bool) -> (Duration, usize) {
    buf.clear();
    let request: &[u8] = if gzip {
        b"GET /metrics HTTP/1.1\r\nHost: bench\r\nAccept-Encoding: gzip\r\n\r\n"
    } else {
        b"GET /metrics HTTP/1.1\r\nHost: bench\r\n\r\n"
    };
    let start = Instant::now();
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(request).unwrap();
    stream.read_to_end(buf).expect("read the answer");
    let elapsed = start.elapsed();
    assert!(buf.starts_with(b"HTTP/1.1 200 OK\r\n"), "a failed scrape");
    (elapsed, buf.len())
}

/// Scrapes from `CLIENTS` threads at once; returns every latency, sorted, and the answer size.
fn scrape_round(addr: SocketAddr, gzip: bool) -> (Vec<Duration>, usize) {
    let all = Arc::new(Mutex::new(Vec::new()));
    let size = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (all, size) = (all.clone(), size.clone());
            thread::spawn(move || {
                let mut buf = Vec::with_capacity(16 << 20);
                let mut mine = Vec::with_capacity(SCRAPES_PER_CLIENT);
                for _ in 0..SCRAPES_PER_CLIENT {
                    let (d, n) = scrape(addr, &mut buf, gzip);
                    size.store(n, Ordering::Relaxed);
                    mine.push(d);
                }
                all.lock().unwrap().extend(mine);
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    let mut all = Arc::try_unwrap(all).unwrap().into_inner().unwrap();
    all.sort();
    (all, size.load(Ordering::Relaxed))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn scrape_latency() {
    println!("\n## 3. `/metrics` latency, {SCRAPE_CREDENTIALS} credentials\n");
    // A config whose directory source holds 10k files, as a big ConfigMap would.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("cm")).unwrap();
    for i in 0..SCRAPE_CREDENTIALS {
        let expiry = NOW + 30 * DAY + (i as i64 % 300) * DAY;
        std::fs::write(
            dir.path().join(format!("cm/credential-{i:06}")),
            format!("{expiry}\n"),
        )
        .unwrap();
    }
    let config_path = dir.path().join("credwatch.toml");
    std::fs::write(
        &config_path,
        "[[source]]\nkind = \"directory\"\nname = \"configmap\"\npath = \"cm\"\nlabels = { team = \"platform\" }\n",
    )
    .unwrap();
    let config = credwatch::config::read_config(&config_path).unwrap();
    let mut refresher = Refresher::new(config_path, config, credwatch::env::Env::from_process());

    let latest = Arc::new(Latest::new());
    let first = Instant::now();
    latest.publish(refresher.refresh());
    let one_refresh = first.elapsed();

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = Arc::new(Shutdown::new());
    let server = {
        let (latest, shutdown) = (latest.clone(), shutdown.clone());
        thread::spawn(move || exporter::serve(listener, latest, shutdown, Limits::default()))
    };

    let (idle, size) = scrape_round(addr, false);
    let (idle_gzip, gzip_size) = scrape_round(addr, true);

    // Refreshes back to back (no interval) while the clients scrape.
    let stop = Arc::new(AtomicBool::new(false));
    let refreshes = Arc::new(AtomicUsize::new(0));
    let refreshing = {
        let (latest, stop, refreshes) = (latest.clone(), stop.clone(), refreshes.clone());
        thread::spawn(move || {
            // Bounded: the clients finish in seconds; this stops when they do.
            for _ in 0..100_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                latest.publish(refresher.refresh());
                refreshes.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let busy_start = Instant::now();
    let (busy, _) = scrape_round(addr, false);
    let (busy_gzip, _) = scrape_round(addr, true);
    let busy_time = busy_start.elapsed();
    stop.store(true, Ordering::Relaxed);
    refreshing.join().unwrap();
    shutdown.trigger();
    server.join().unwrap().unwrap();

    println!(
        "{CLIENTS} clients scrape at once, {SCRAPES_PER_CLIENT} scrapes each, a new connection per \
         scrape (the exporter closes after each answer). The answer is {:.2} MiB of text, or \
         {:.2} MiB gzipped for clients that accept gzip (Prometheus does). One refresh (read 10k \
         files, assess, encode, gzip, publish) takes {:.0} ms here.\n",
        size as f64 / 1024.0 / 1024.0,
        gzip_size as f64 / 1024.0 / 1024.0,
        ms(one_refresh)
    );
    let refreshing = format!(
        "refreshes back to back ({} in {:.1} s)",
        refreshes.load(Ordering::Relaxed),
        busy_time.as_secs_f64()
    );
    println!("| while | encoding | scrapes | p50 | p99 | max |");
    println!("|---|---|---|---|---|---|");
    for (what, encoding, latencies) in [
        ("idle", "gzip", &idle_gzip),
        ("idle", "identity", &idle),
        (refreshing.as_str(), "gzip", &busy_gzip),
        (refreshing.as_str(), "identity", &busy),
    ] {
        println!(
            "| {what} | {encoding} | {} | {:.2} ms | {:.2} ms | {:.2} ms |",
            latencies.len(),
            ms(percentile(latencies, 0.5)),
            ms(percentile(latencies, 0.99)),
            ms(*latencies.last().unwrap())
        );
    }
    serve_rss(dir.path());
}

/// Peak RSS of the real `credwatch serve` holding the same 10k credentials, refreshing every
/// second and scraped meanwhile.
fn serve_rss(dir: &Path) {
    use std::io::BufRead;
    let mut child = Command::new(CREDWATCH)
        .arg("--config")
        .arg(dir.join("credwatch.toml"))
        .args(["serve", "--listen", "127.0.0.1:0", "--interval", "1s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start credwatch serve");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr: SocketAddr = line
        .strip_prefix("serving http://")
        .and_then(|r| r.split('/').next())
        .and_then(|a| a.parse().ok())
        .expect("the address line");
    let deadline = Instant::now() + Duration::from_secs(30);
    while ureq::get(format!("http://{addr}/-/ready")).call().is_err() {
        assert!(Instant::now() < deadline, "serve did not get ready");
        thread::sleep(Duration::from_millis(50));
    }
    let mut buf = Vec::with_capacity(16 << 20);
    let until = Instant::now() + Duration::from_secs(6);
    let mut scrapes = 0;
    while Instant::now() < until {
        scrape(addr, &mut buf, scrapes % 2 == 0);
        scrapes += 1;
    }
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    let kib = |key: &str| -> f64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0)
    };
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    println!(
        "\n`credwatch serve` holding these {SCRAPE_CREDENTIALS} credentials, refreshing every second \
         for 6 s while scraped {scrapes} times: peak RSS {:.1} MiB (now {:.1} MiB).",
        kib("VmHWM:") / 1024.0,
        kib("VmRSS:") / 1024.0
    );
}
