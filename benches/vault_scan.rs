//! How fast credwatch scans a KV v2 mount, next to what the server itself can serve.
//!
//! `cargo bench --bench vault_scan` starts an OpenBao dev server (or uses the one named by
//! `CREDWATCH_BENCH_VAULT_ADDR` and `CREDWATCH_BENCH_VAULT_TOKEN`), makes sure `N` secrets exist
//! under `secret/bench/` (in 100 folders), then measures:
//!
//! - credwatch: `list_recursive` + `read_metadata_many` with concurrency `C`, in secrets/s;
//! - raw: the same metadata GETs with the same token and concurrency from a minimal loop (one
//!   shared ureq agent, body read and dropped, nothing parsed): the server's own capacity here;
//!
//! and prints both, their ratio, and the peak RSS of this process (`VmHWM`).
//!
//! A second part measures credwatch's own side at the listing limit, where the server's speed
//! must not hide it: a canned KV v2 server on loopback (in this process; every metadata GET gets
//! the same answer) lists `L` keys, and the whole vault source (`sources::vault::read_source`:
//! discovery, metadata, evidence) is timed next to the bare scan (`list_recursive` +
//! `read_metadata_many`) over the same server. The difference is what the source does per path
//! after the requests (the lookups that used to be quadratic). Rows for `L/10` and `L`.
//!
//! Settings: `CREDWATCH_BENCH_SECRETS` (N, default 10000), `CREDWATCH_BENCH_CONCURRENCY` (C,
//! default 16), `CREDWATCH_BENCH_ROUNDS` (best of, default 3), `CREDWATCH_BENCH_LISTING` (L,
//! default 100000, the listing limit; 0 skips the part). It asserts nothing.

#[path = "../tests/support/openbao.rs"]
mod openbao;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use credwatch::config::parse_config;
use credwatch::credential::Secret;
use credwatch::sources::vault::read_source;
use credwatch::vault::{Client, ClientConfig};

const MOUNT: &str = "secret";
const PREFIX: &str = "bench";

fn setting(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a whole number, not `{v}`")),
        Err(_) => default,
    }
}

fn path_of(i: usize) -> String {
    format!("{PREFIX}/f{:02}/s{i:06}", i % 100)
}

fn agent(concurrency: usize) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .http_status_as_error(false)
        .max_idle_connections(concurrency + 4)
        .max_idle_connections_per_host(concurrency + 4)
        .proxy(None)
        .build()
        .into()
}

/// Runs `work(i)` for every `i < n` on `concurrency` threads; returns the elapsed time.
fn parallel(n: usize, concurrency: usize, work: impl Fn(usize) + Sync) -> Duration {
    let next = AtomicUsize::new(0);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..concurrency {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    work(i);
                }
            });
        }
    });
    start.elapsed()
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn rss() -> String {
    peak_rss_kib().map_or("unknown".into(), |k| {
        format!("{:.1} MiB", k as f64 / 1024.0)
    })
}

/// The metadata every canned GET answers with, in OpenBao's shape.
const CANNED_METADATA: &str = r#"{"request_id":"r","lease_id":"","renewable":false,"lease_duration":0,"data":{"cas_required":false,"created_time":"2026-01-01T00:00:00.000000Z","current_version":1,"custom_metadata":{"expires_at":"2027-01-01T00:00:00Z"},"delete_version_after":"0s","max_versions":0,"oldest_version":0,"updated_time":"2026-01-01T00:00:00.000000Z","versions":{"1":{"created_time":"2026-01-01T00:00:00.000000Z","deletion_time":"","destroyed":false}}},"wrap_info":null,"warnings":null,"auth":null}"#;

/// Starts a keep-alive KV v2 server on loopback whose folder `secret/large/` holds `n` keys
/// `s000000`… (paginated by `limit`/`after` as OpenBao does) and answers every other GET with
/// [`CANNED_METADATA`]. Its threads live until the process ends.
fn canned_server(n: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let url = format!("http://{}", listener.local_addr().expect("local address"));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || serve_canned(stream, n));
        }
    });
    url
}

fn serve_canned(stream: std::net::TcpStream, n: usize) {
    let _ = stream.set_nodelay(true);
    let Ok(mut out) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            if header.trim_end().is_empty() {
                break;
            }
        }
        let target = line.split(' ').nth(1).unwrap_or("");
        let body = match target.split_once('?') {
            Some((_, query)) if query.contains("list=true") => {
                let arg = |name: &str| {
                    query
                        .split('&')
                        .find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
                };
                let start = arg("after")
                    .and_then(|a| a.trim_start_matches('s').parse::<usize>().ok())
                    .map_or(0, |i| i + 1);
                let limit = arg("limit").and_then(|l| l.parse().ok()).unwrap_or(n);
                let keys: Vec<String> = (start..n.min(start.saturating_add(limit)))
                    .map(|i| format!("\"s{i:06}\""))
                    .collect();
                format!(r#"{{"data":{{"keys":[{}]}}}}"#, keys.join(","))
            }
            _ => CANNED_METADATA.to_string(),
        };
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        if out.write_all(head.as_bytes()).is_err() || out.write_all(body.as_bytes()).is_err() {
            return;
        }
    }
}

/// The vault source over the canned server next to the bare scan, at `n` listed keys.
fn listing_row(n: usize, concurrency: usize, rounds: usize) {
    let url = canned_server(n);
    let text = format!(
        "[[source]]\nkind = \"vault\"\nname = \"large\"\naddress = \"{url}\"\nmount = \"secret\"\n\
         prefix = \"large\"\nconcurrency = {concurrency}\nretries = 0\ntimeout = \"30s\"\n"
    );
    let config = parse_config(&text, std::path::Path::new("bench.toml")).expect("bench config");
    let Some((common, source)) = config
        .sources
        .first()
        .and_then(|s| Some((&s.common, s.kind.as_vault()?)))
    else {
        panic!("the bench config has no vault source");
    };
    let env = |k: &str| (k == "BAO_TOKEN").then(|| "s.bench".to_string());
    let now = "2026-06-01T00:00:00Z".parse().expect("a timestamp");
    let mut client_config = ClientConfig::new(&url);
    client_config.concurrency = concurrency;
    client_config.timeout = Duration::from_secs(30);
    let client = Client::new(client_config, Secret::new("s.bench".into())).expect("client");
    let (mut best_source, mut best_scan) = (f64::MAX, f64::MAX);
    for _ in 0..rounds {
        let start = Instant::now();
        let read = read_source(common, source, &[], now, None, env);
        let elapsed = start.elapsed().as_secs_f64();
        assert!(read.error.is_none(), "{:?}", read.error);
        assert_eq!(read.observations.len(), n);
        best_source = best_source.min(elapsed);

        let start = Instant::now();
        let paths = client.list_recursive("secret", "large").expect("list");
        let results = client.read_metadata_many("secret", &paths, concurrency);
        assert_eq!(results.len(), n);
        best_scan = best_scan.min(start.elapsed().as_secs_f64());
    }
    println!(
        "listing {n:>6} (canned server): vault source {best_source:.3}s, bare scan {best_scan:.3}s, \
         the source's own work {:+.3}s ({:.2} µs per path)",
        best_source - best_scan,
        (best_source - best_scan) * 1e6 / n as f64
    );
}

fn main() {
    // `cargo bench` passes `--bench`; anything else (a filter) is ignored.
    let n = setting("CREDWATCH_BENCH_SECRETS", 10_000);
    let concurrency = setting("CREDWATCH_BENCH_CONCURRENCY", 16).max(1);
    let rounds = setting("CREDWATCH_BENCH_ROUNDS", 3).max(1);
    let listing = setting("CREDWATCH_BENCH_LISTING", 100_000);

    let (server, url, token) = match std::env::var("CREDWATCH_BENCH_VAULT_ADDR") {
        Ok(url) => {
            let token = std::env::var("CREDWATCH_BENCH_VAULT_TOKEN")
                .expect("CREDWATCH_BENCH_VAULT_TOKEN must be set with CREDWATCH_BENCH_VAULT_ADDR");
            (None, url.trim_end_matches('/').to_string(), token)
        }
        Err(_) => {
            let bao = openbao::OpenBao::start();
            let (url, token) = (bao.url.clone(), bao.root_token.clone());
            (Some(bao), url, token)
        }
    };
    println!(
        "vault_scan: {url} ({}), {n} secrets, concurrency {concurrency}, best of {rounds}",
        if server.is_some() {
            "OpenBao dev server started for this run"
        } else {
            "external server"
        }
    );

    let mut config = ClientConfig::new(&url);
    config.concurrency = concurrency;
    config.timeout = Duration::from_secs(30);
    config.max_entries = n.max(100_000);
    let client = Client::new(config, Secret::new(token.clone())).expect("client");

    // Setup: write the secrets that are not there yet.
    let existing = client.list_recursive(MOUNT, PREFIX).expect("list bench/");
    if existing.len() < n {
        let raw = agent(concurrency);
        let elapsed = parallel(n, concurrency, |i| {
            let body = format!(r#"{{"data":{{"token":"bench-value-{i}"}}}}"#);
            let mut response = raw
                .post(format!("{url}/v1/{MOUNT}/data/{}", path_of(i)))
                .header("X-Vault-Token", &token)
                .header("Content-Type", "application/json")
                .send(&body)
                .expect("write a bench secret");
            assert!(
                response.status().is_success(),
                "writing {}: HTTP {}",
                path_of(i),
                response.status()
            );
            // Read to the end so the connection is reused.
            let _ = std::io::copy(&mut response.body_mut().as_reader(), &mut std::io::sink());
        });
        println!(
            "setup: wrote {n} secrets in {:.2}s ({:.0}/s)",
            elapsed.as_secs_f64(),
            n as f64 / elapsed.as_secs_f64()
        );
    }

    // (a) credwatch: discovery + metadata of everything found.
    let mut best_client = f64::MAX;
    let mut best_list = f64::MAX;
    let mut best_metadata = f64::MAX;
    let mut found = 0;
    for _ in 0..rounds {
        let start = Instant::now();
        let paths = client.list_recursive(MOUNT, PREFIX).expect("list");
        let listed = start.elapsed();
        let results = client.read_metadata_many(MOUNT, &paths, concurrency);
        let elapsed = start.elapsed();
        let failed = results.iter().filter(|(_, r)| r.is_err()).count();
        assert_eq!(failed, 0, "{failed} metadata reads failed");
        found = results.len();
        best_client = best_client.min(elapsed.as_secs_f64());
        best_list = best_list.min(listed.as_secs_f64());
        best_metadata = best_metadata.min((elapsed - listed).as_secs_f64());
    }
    let rss_after_client = rss();

    // (b) raw: the same GETs, no parsing.
    let paths = client.list_recursive(MOUNT, PREFIX).expect("list");
    let raw = agent(concurrency);
    let mut best_raw = f64::MAX;
    for _ in 0..rounds {
        let elapsed = parallel(paths.len(), concurrency, |i| {
            let mut response = raw
                .get(format!("{url}/v1/{MOUNT}/metadata/{}", paths[i]))
                .header("X-Vault-Token", &token)
                .call()
                .expect("metadata GET");
            assert!(response.status().is_success());
            let _ = std::io::copy(&mut response.body_mut().as_reader(), &mut std::io::sink());
        });
        best_raw = best_raw.min(elapsed.as_secs_f64());
    }

    let client_rate = found as f64 / best_client;
    let raw_rate = paths.len() as f64 / best_raw;
    println!(
        "credwatch: {found} secrets in {best_client:.3}s (list {best_list:.3}s): {client_rate:.0} secrets/s"
    );
    println!(
        "raw GETs:  {} secrets in {best_raw:.3}s: {raw_rate:.0} secrets/s",
        paths.len()
    );
    println!(
        "ratio credwatch/raw: {:.2} (metadata reads alone: {:.2})",
        client_rate / raw_rate.max(f64::MIN_POSITIVE),
        (found as f64 / best_metadata) / raw_rate.max(f64::MIN_POSITIVE)
    );
    println!(
        "peak RSS (VmHWM): {rss_after_client} after the credwatch scan, {} at the end",
        rss()
    );

    if listing > 0 {
        for size in [listing / 10, listing] {
            listing_row(size, concurrency, rounds);
        }
    }
    println!("peak RSS (VmHWM) at the end: {}", rss());
}
