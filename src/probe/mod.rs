//! Live validity probes (opt-in per credential): ask the issuer whether a value still works, and
//! what it knows about its expiry. [`preset`] is the pure part (what to send, what an answer
//! means); this file sends the request (edge I/O) and keeps results for `[probes] interval`.
//!
//! Rules every probe follows: HTTPS only (plain HTTP only to a loopback address, checked when the
//! config is validated); no redirect is followed; one timeout for the whole exchange; at most
//! [`BODY_LIMIT`] bytes of the answer are read; the value goes only into the preset's header,
//! never into a URL, log, error or the recorded outcome.
//!
//! The cache: results live in this process's memory for `interval` (so `serve` probes each
//! credential at most once per interval whatever its `--interval`), keyed by credential, preset,
//! base URL and the value's fingerprint (a rotated value is probed at once). With
//! `[probes] cache_file`, one-shot runs (`check`, `push`, `textfile`, a CronJob) share them
//! through that JSON file, which holds outcomes and fingerprints, never values.

pub mod generic;
pub mod preset;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use jiff::{SignedDuration, Timestamp};

use crate::credential::{Basis, Evidence, IssuerExpiry, ProbeOutcome, ProbeVerdict, Secret};
pub use generic::GenericProbe;
pub use preset::Preset;
use preset::{HeaderSpec, Interpretation};

/// What to ask: a preset, or a generic probe spelt out in the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeKind {
    Preset(Preset),
    Generic(Box<GenericProbe>),
}

impl ProbeKind {
    /// The `probe` label: the preset's name, or `generic`.
    pub fn name(&self) -> &'static str {
        match self {
            ProbeKind::Preset(p) => p.name(),
            ProbeKind::Generic(_) => "generic",
        }
    }

    /// Whether an accepted answer can tell the expiry.
    pub fn tells_expiry(&self) -> bool {
        match self {
            ProbeKind::Preset(p) => p.tells_expiry(),
            ProbeKind::Generic(g) => g.expiry.is_some(),
        }
    }

    /// Method, URL and headers. For a generic probe `base` is the whole URL.
    fn request(&self, base: &str) -> (&str, String, Vec<HeaderSpec>) {
        match self {
            ProbeKind::Preset(p) => {
                let (url, headers) = p.request(base);
                ("GET", url, headers)
            }
            ProbeKind::Generic(g) => (g.method.as_str(), base.to_string(), g.headers.clone()),
        }
    }

    fn interpret(
        &self,
        status: u16,
        header: &dyn Fn(&str) -> Option<String>,
        body: &[u8],
    ) -> Interpretation {
        match self {
            ProbeKind::Preset(p) => p.interpret(status, header, body),
            ProbeKind::Generic(g) => g.interpret(status, header, body),
        }
    }
}

/// The most of an answer that is read.
pub const BODY_LIMIT: u64 = 64 << 10;

/// One credential's probe, as validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeSpec {
    pub kind: ProbeKind,
    /// Scheme, host and optional port (and path prefix) of the provider's API; for a generic
    /// probe, the whole URL.
    pub base: String,
    /// Trust only the CAs in this PEM file instead of the built-in roots.
    pub ca_file: Option<PathBuf>,
    pub timeout: SignedDuration,
    /// How long a result is kept before the issuer is asked again.
    pub interval: SignedDuration,
    /// Where one-shot runs keep results between runs.
    pub cache_file: Option<PathBuf>,
}

pub use crate::net::is_loopback_url;

/// The process-wide cache (see the module docs).
fn memory() -> &'static Mutex<BTreeMap<String, ProbeOutcome>> {
    static CACHE: OnceLock<Mutex<BTreeMap<String, ProbeOutcome>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

fn cache_key(credential: &str, spec: &ProbeSpec, fingerprint: &str) -> String {
    format!(
        "{credential} {} {} {fingerprint}",
        spec.kind.name(),
        spec.base
    )
}

/// The most a cache file may hold (about 50k outcomes).
const CACHE_FILE_LIMIT: u64 = 16 << 20;

fn read_cache_file(path: &Path) -> BTreeMap<String, ProbeOutcome> {
    // A regular file only, bounded in size (a FIFO or a huge file never hangs a run).
    let Ok(bytes) = crate::file::read(path, CACHE_FILE_LIMIT) else {
        return BTreeMap::new();
    };
    serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        log::warn!(
            "probe cache `{}` is unreadable ({e}); starting afresh",
            path.display()
        );
        BTreeMap::new()
    })
}

fn write_cache_file(path: &Path, entries: &BTreeMap<String, ProbeOutcome>) {
    let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
    let written = serde_json::to_vec(entries)
        .map_err(|e| e.to_string())
        .and_then(|bytes| std::fs::write(&tmp, bytes).map_err(|e| e.to_string()))
        .and_then(|()| std::fs::rename(&tmp, path).map_err(|e| e.to_string()));
    if let Err(e) = written {
        log::warn!("cannot write the probe cache `{}`: {e}", path.display());
        let _ = std::fs::remove_file(&tmp);
    }
}

/// The outcome of probing `value` at `now`: a cached one younger than `interval`, else a new
/// probe (then cached). `fingerprint` identifies the value in the cache.
pub fn probe_cached(
    credential: &str,
    spec: &ProbeSpec,
    value: &Secret,
    fingerprint: &str,
    now: Timestamp,
) -> ProbeOutcome {
    let key = cache_key(credential, spec, fingerprint);
    let fresh = |o: &ProbeOutcome| o.at <= now && now.duration_since(o.at) < spec.interval;
    let mut file_entries = spec.cache_file.as_deref().map(read_cache_file);
    let cached = memory()
        .lock()
        .ok()
        .and_then(|m| m.get(&key).cloned())
        .filter(fresh)
        .or_else(|| {
            file_entries
                .as_ref()
                .and_then(|f| f.get(&key).cloned())
                .filter(fresh)
        });
    if let Some(outcome) = cached {
        log::debug!("probe of `{credential}`: cached from {}", outcome.at);
        return outcome;
    }
    log::info!(
        "probing `{credential}` with the `{}` preset",
        spec.kind.name()
    );
    let outcome = probe(spec, value, now);
    if let Ok(mut m) = memory().lock() {
        m.insert(key.clone(), outcome.clone());
    }
    if let (Some(path), Some(entries)) = (&spec.cache_file, file_entries.as_mut()) {
        // Outcomes older than a day past their interval are dropped.
        entries.retain(|_, o| {
            now.duration_since(o.at) < spec.interval + SignedDuration::from_hours(24)
        });
        entries.insert(key, outcome.clone());
        write_cache_file(path, entries);
    }
    outcome
}

/// Probes once (edge I/O).
pub fn probe(spec: &ProbeSpec, value: &Secret, now: Timestamp) -> ProbeOutcome {
    let stamp = |status: Option<u16>, i: Interpretation| ProbeOutcome {
        preset: spec.kind.name().to_string(),
        at: now,
        verdict: i.verdict,
        http_status: status,
        reason: i.reason,
        expiry: i.expiry,
        note: i.note,
    };
    match send(spec, value) {
        Ok((status, headers, body)) => {
            let header = |name: &str| headers.get(name).cloned();
            stamp(Some(status), spec.kind.interpret(status, &header, &body))
        }
        Err(reason) => stamp(None, Interpretation::failed(scrub(&reason, value))),
    }
}

/// Removes the value from a message, in case a lower layer quoted it.
fn scrub(message: &str, value: &Secret) -> String {
    let v = value.expose().trim();
    if v.len() >= 4 && message.contains(v) {
        message.replace(v, "<redacted>")
    } else {
        message.to_string()
    }
}

type Answer = (u16, BTreeMap<String, String>, Vec<u8>);

fn send(spec: &ProbeSpec, value: &Secret) -> Result<Answer, String> {
    let timeout = spec.timeout.unsigned_abs();
    let mut builder = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(concat!("credwatch/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = &spec.ca_file {
        let roots = crate::net::read_ca_file(path, "probe")?;
        builder = builder.tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&roots))
                .build(),
        );
    }
    let agent: ureq::Agent = builder.build().into();
    let (method, url, headers) = spec.kind.request(&spec.base);
    let sent = match method {
        "HEAD" => with_headers(agent.head(&url), &headers, value)?.call(),
        "POST" => with_headers(agent.post(&url), &headers, value)?.send_empty(),
        _ => with_headers(agent.get(&url), &headers, value)?.call(),
    };
    let mut response = sent.map_err(|e| match e {
        ureq::Error::Timeout(_) => format!(
            "timed out after {}",
            crate::time::format_duration(spec.timeout)
        ),
        ureq::Error::Io(e) => format!("cannot reach `{}`: {}", spec.base, e.kind()),
        ureq::Error::HostNotFound => format!("cannot resolve the host of `{}`", spec.base),
        ureq::Error::ConnectionFailed => format!("cannot connect to `{}`", spec.base),
        ureq::Error::Tls(t) => format!("TLS with `{}` failed: {t}", spec.base),
        other => format!("request to `{}` failed: {other}", spec.base),
    })?;
    let status = response.status().as_u16();
    let headers: BTreeMap<String, String> = response
        .headers()
        .iter()
        .filter_map(|(k, v)| {
            Some((
                k.as_str().to_ascii_lowercase(),
                v.to_str().ok()?.to_string(),
            ))
        })
        .collect();
    let mut body = Vec::new();
    let read = response
        .body_mut()
        .as_reader()
        .take(BODY_LIMIT)
        .read_to_end(&mut body);
    if let Err(e) = read {
        if e.kind() == std::io::ErrorKind::TimedOut {
            return Err(format!(
                "timed out after {} reading the answer",
                crate::time::format_duration(spec.timeout)
            ));
        }
        // A body cut short still has a status worth reading.
        log::debug!("probe answer from `{}` cut short: {}", spec.base, e.kind());
    }
    Ok((status, headers, body))
}

/// Adds the headers; the value goes only where a header asks for it, from a zeroized buffer.
fn with_headers<B>(
    mut request: ureq::RequestBuilder<B>,
    headers: &[HeaderSpec],
    value: &Secret,
) -> Result<ureq::RequestBuilder<B>, String> {
    for h in headers {
        request = if h.with_value {
            let v = value.expose().trim();
            if v.is_empty() || v.bytes().any(|b| b.is_ascii_control()) {
                return Err("the value is empty or holds control characters; not sent".into());
            }
            let mut text = zeroize::Zeroizing::new(String::with_capacity(
                h.before.len() + v.len() + h.after.len(),
            ));
            text.push_str(&h.before);
            text.push_str(v);
            text.push_str(&h.after);
            request.header(h.name.as_str(), text.as_str())
        } else {
            request.header(h.name.as_str(), h.before.as_str())
        };
    }
    Ok(request)
}

/// The evidence once the issuer has spoken: its expiry wins over a recorded one (`kind` becomes
/// `probe_issuer`), its verdict is attached. `pending` is true when nothing else knows the
/// expiry; then a failed probe leaves it unknown (an error), never "no expiry". Pure.
pub fn apply(
    mut evidence: Evidence,
    outcome: ProbeOutcome,
    pending: bool,
) -> Result<Evidence, String> {
    match outcome.expiry {
        IssuerExpiry::At(t) => {
            evidence.expires_at = Some(t);
            evidence.basis = Basis::ProbeIssuer;
        }
        IssuerExpiry::Never => {
            evidence.expires_at = None;
            evidence.basis = Basis::ProbeIssuer;
        }
        IssuerExpiry::NotSaid if pending && outcome.verdict == ProbeVerdict::Failed => {
            return Err(format!(
                "the expiry is known only from the `{}` probe, which failed: {}",
                outcome.preset, outcome.reason
            ));
        }
        IssuerExpiry::NotSaid => {}
    }
    if let Some(note) = &outcome.note {
        evidence.subject = Some(match evidence.subject.take() {
            Some(s) => format!("{s}; {note}"),
            None => note.clone(),
        });
    }
    evidence.probe = Some(Box::new(outcome));
    Ok(evidence)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(verdict: ProbeVerdict, expiry: IssuerExpiry) -> ProbeOutcome {
        ProbeOutcome {
            preset: "github".into(),
            at: Timestamp::UNIX_EPOCH,
            verdict,
            http_status: Some(200),
            reason: "r".into(),
            expiry,
            note: None,
        }
    }

    #[test]
    fn the_issuer_wins_and_a_failed_probe_never_invents_an_expiry() {
        let t: Timestamp = "2027-01-01T00:00:00Z".parse().unwrap();
        let recorded = Evidence::declared(
            None,
            "2030-01-01T00:00:00Z".parse().unwrap(),
            Basis::ExpiresAt,
        );
        let e = apply(
            recorded.clone(),
            outcome(ProbeVerdict::Accepted, IssuerExpiry::At(t)),
            false,
        )
        .unwrap();
        assert_eq!((e.expires_at, e.basis), (Some(t), Basis::ProbeIssuer));
        let e = apply(
            recorded.clone(),
            outcome(ProbeVerdict::Accepted, IssuerExpiry::Never),
            false,
        )
        .unwrap();
        assert_eq!(e.expires_at, None);
        let e = apply(
            recorded.clone(),
            outcome(ProbeVerdict::Failed, IssuerExpiry::NotSaid),
            false,
        )
        .unwrap();
        assert_eq!(
            (e.expires_at, e.basis),
            (recorded.expires_at, Basis::ExpiresAt)
        );
        let mut nothing = recorded.clone();
        nothing.expires_at = None;
        let err = apply(
            nothing.clone(),
            outcome(ProbeVerdict::Failed, IssuerExpiry::NotSaid),
            true,
        )
        .unwrap_err();
        assert!(
            err.contains("known only from the `github` probe, which failed: r"),
            "{err}"
        );
        let e = apply(
            nothing,
            outcome(
                ProbeVerdict::Rejected { expired: false },
                IssuerExpiry::NotSaid,
            ),
            true,
        )
        .unwrap();
        assert!(e.probe.is_some());
    }
}
