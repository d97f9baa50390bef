//! `cargo bench --bench perf`: assessment and encoding of 10k…100k synthetic credentials
//! in-process (library calls), each size in a fresh child process so that its peak RSS is its own,
//! printed as a Markdown table. `scripts/bench memory` runs the same child mode next to the
//! comparisons with outside tools (benches/compare.py); everything measured against a tool
//! credwatch did not write lives there.
//!
//! `--child-assess N [pools]` is the child: it builds the observations, times assessment +
//! metrics + encoding and prints `assess_ms encode_ms text_bytes peak_kib baseline_kib input_kib`.
//! Nothing is installed, nothing listens, nothing is asserted about speed.

use std::process::Command;
use std::time::Instant;

use credwatch::assess;
use credwatch::config::MetricNames;
use credwatch::credential::{Basis, Credential, Evidence, Observation, PoolPolicy, Thresholds};
use credwatch::credential::{Collection, SourceStatus};
use credwatch::metrics::{self, RunInfo};
use jiff::{SignedDuration, Timestamp};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child-assess") {
        let n: usize = args[i + 1].parse().expect("a count");
        let pools = args.get(i + 2).is_some_and(|a| a == "pools");
        child_assess(n, pools);
        return;
    }
    assess_at_scale();
}

// ---------------------------------------------------------------------------------------------
// Assessment and encoding at scale.

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
    // The path every command takes: the text written straight from the report.
    let finished_at = Timestamp::from_second(NOW).unwrap();
    let text = metrics::encode_report(
        &report,
        &MetricNames::default(),
        RunInfo {
            finished_at,
            duration_seconds: 1.0,
        },
        Some(finished_at),
    );
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
    println!("## Assessment + encoding, in-process\n");
    println!(
        "Each row runs in a fresh child process. _assess_ is `assess::assess` (statuses, sorting, pools); \
         _encode_ is `metrics::encode_report` (the text straight from the report). Peak RSS is the child's VmHWM, which \
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
