//! How the time to read a certificate bundle grows with the number of certificates in it.
//!
//! `cargo bench --bench cert_bundle` builds PEM bundles of N certificates (16 distinct
//! self-signed ones, repeated; comment lines between them, as `cat` of a CA directory gives) and
//! times, in this process, the two passes a value takes: `x509::parse_certificates` (the expiry)
//! and `format::check` with the built-in `pem-certificate` profile (the format lint). A bundle of
//! 10k certificates is about 6 MB, over the 1 MiB a value file may hold (`src/file.rs`), so the
//! decoder is measured here rather than through a file.
//!
//! Prints one row per N (1k, 2k, 4k, 10k): the best of `CREDWATCH_BENCH_ROUNDS` (default 3) for
//! each pass and µs per certificate, then a verdict: linear when the per-certificate cost at
//! 10k is at most twice the one at 1k. It asserts nothing.

use std::time::{Duration, Instant};

use credwatch::decode::{format, x509};
use rcgen::{CertificateParams, DnType, KeyPair, date_time_ymd};

const SIZES: [usize; 4] = [1_000, 2_000, 4_000, 10_000];

fn rounds() -> usize {
    std::env::var("CREDWATCH_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(3)
}

fn distinct_certificates() -> Vec<String> {
    (0..16)
        .map(|i| {
            let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
            params
                .distinguished_name
                .push(DnType::CommonName, format!("bench-{i}.example"));
            params.not_before = date_time_ymd(2026, 1, 1);
            params.not_after = date_time_ymd(2027, 1, 1 + i);
            let key = KeyPair::generate().expect("key");
            params.self_signed(&key).expect("certificate").pem()
        })
        .collect()
}

fn bundle(certs: &[String], n: usize) -> String {
    let mut out = String::new();
    for i in 0..n {
        out.push_str(&format!("# certificate {i}\n"));
        out.push_str(&certs[i % certs.len()]);
    }
    out
}

fn best_of(rounds: usize, mut f: impl FnMut()) -> Duration {
    (0..rounds)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn main() {
    let rounds = rounds();
    let certs = distinct_certificates();
    let profile = format::builtin("pem-certificate").expect("the built-in profile");
    println!("certificate bundle, best of {rounds}");
    println!(
        "{:>7} {:>9} {:>12} {:>10} {:>12} {:>10}",
        "certs", "bytes", "parse", "µs/cert", "lint", "µs/cert"
    );
    let mut per_cert = Vec::new();
    for n in SIZES {
        let text = bundle(&certs, n);
        let parse = best_of(rounds, || {
            let parsed = x509::parse_certificates(text.as_bytes()).expect("the bundle parses");
            assert_eq!(parsed.len(), n);
        });
        let lint = best_of(rounds, || {
            format::check(&profile, &text).expect("the bundle passes its lint");
        });
        let us = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
        println!(
            "{n:>7} {:>9} {:>10.1}ms {:>10.2} {:>10.1}ms {:>10.2}",
            text.len(),
            parse.as_secs_f64() * 1e3,
            us(parse),
            lint.as_secs_f64() * 1e3,
            us(lint)
        );
        per_cert.push(us(parse) + us(lint));
    }
    let (first, last) = (per_cert[0], per_cert[per_cert.len() - 1]);
    let ratio = last / first;
    println!(
        "verdict: {} (µs per certificate at 10k is {ratio:.2}× the one at 1k; linear means ≤ 2×)",
        if ratio <= 2.0 { "linear" } else { "NOT linear" }
    );
}
