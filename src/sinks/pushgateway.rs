//! Delivers the exposition text to a Prometheus Pushgateway.
//!
//! A complete run is PUT, replacing the whole group, so a credential removed from the inventory
//! disappears. An incomplete run is POSTed without the last-success family: the families sent are
//! replaced, the previous last-success timestamp stays, and the stale alert can fire.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use zeroize::Zeroizing;

use crate::config::Pushgateway;
use crate::credential::Secret;
use crate::env::{
    PUSHGATEWAY_PASSWORD, PUSHGATEWAY_PASSWORD_FILE, PUSHGATEWAY_TOKEN, PUSHGATEWAY_TOKEN_FILE,
    PUSHGATEWAY_USERNAME,
};
use crate::metrics::delivery::Held;
use crate::metrics::text::Series;
use crate::net::retry::{Failure, GaveUp, Policy, retry};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Put,
    Post,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Put => "PUT",
            Method::Post => "POST",
        }
    }
}

/// How the Pushgateway wants us to authenticate. Read from the environment or files, never argv.
#[derive(Debug)]
pub enum Auth {
    Basic { username: String, password: Secret },
    Bearer(Secret),
}

/// The URL of the group: `<base>/metrics/job/<job>[/<label>/<value>]…`. Values that are empty or
/// hold anything but unreserved URL characters use the `@base64` form (URL-safe alphabet).
pub fn group_url(
    base: &str,
    job: &str,
    grouping: &std::collections::BTreeMap<String, String>,
) -> String {
    let mut url = format!("{base}/metrics");
    url.push_str(&segment("job", job));
    for (name, value) in grouping {
        url.push_str(&segment(name, value));
    }
    url
}

fn segment(name: &str, value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    if plain {
        format!("/{name}/{value}")
    } else if value.is_empty() {
        // An empty base64 segment would make `//`, which the Pushgateway redirects.
        format!("/{name}@base64/=")
    } else {
        format!("/{name}@base64/{}", URL_SAFE.encode(value.as_bytes()))
    }
}

/// Finds the credentials for the Pushgateway: a bearer token or basic auth, each from an
/// environment variable or a file named in the config or the environment.
pub fn resolve_auth(
    config: &Pushgateway,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<Auth>, String> {
    let from_file = |path: &std::path::Path, what: &str| -> Result<Secret, String> {
        let text = crate::file::read_to_string(path, crate::file::SECRET).map_err(|e| {
            format!(
                "cannot read the Pushgateway {what} file `{}`: {e}",
                path.display()
            )
        })?;
        let value = text.trim_end_matches(['\n', '\r']).to_string();
        drop(Zeroizing::new(text));
        if value.is_empty() {
            return Err(format!(
                "the Pushgateway {what} file `{}` is empty",
                path.display()
            ));
        }
        Ok(Secret::new(value))
    };
    let token = match (
        env(PUSHGATEWAY_TOKEN),
        env(PUSHGATEWAY_TOKEN_FILE)
            .map(Into::into)
            .or(config.token_file.clone()),
    ) {
        (Some(t), _) if !t.is_empty() => Some(Secret::new(t)),
        (_, Some(path)) => Some(from_file(&path, "token")?),
        _ => None,
    };
    let username = env(PUSHGATEWAY_USERNAME)
        .filter(|u| !u.is_empty())
        .or(config.username.clone());
    let password = match (
        env(PUSHGATEWAY_PASSWORD),
        env(PUSHGATEWAY_PASSWORD_FILE)
            .map(Into::into)
            .or(config.password_file.clone()),
    ) {
        (Some(p), _) if !p.is_empty() => Some(Secret::new(p)),
        (_, Some(path)) => Some(from_file(&path, "password")?),
        _ => None,
    };
    match (token, username, password) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(
            "both a bearer token and basic auth are configured for the Pushgateway; keep one"
                .into(),
        ),
        (Some(t), None, None) => Ok(Some(Auth::Bearer(t))),
        (None, Some(username), Some(password)) => Ok(Some(Auth::Basic { username, password })),
        (None, Some(_), None) => Err(format!(
            "a Pushgateway username is set but no password: set {PUSHGATEWAY_PASSWORD}, {PUSHGATEWAY_PASSWORD_FILE} or `password_file`"
        )),
        (None, None, Some(_)) => Err(format!(
            "a Pushgateway password is set but no username: set {PUSHGATEWAY_USERNAME} or `username`"
        )),
        (None, None, None) => Ok(None),
    }
}

/// Why a push did not land.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The Pushgateway refused the data (4xx); retrying would not help.
    #[error("the Pushgateway rejected the push with HTTP {status}: {message}")]
    Rejected { status: u16, message: String },
    /// Every attempt failed on the network or with a server error.
    #[error("the push did not land after {attempts} attempt(s) in {elapsed:.1}s: {last}")]
    GaveUp {
        attempts: u32,
        elapsed: f64,
        last: String,
    },
}

/// Sends `body` to `url`, retrying connection errors and 5xx with exponential backoff, all within
/// the configured overall timeout.
pub fn send(
    agent: &ureq::Agent,
    config: &Pushgateway,
    url: &str,
    method: Method,
    body: &str,
    auth: Option<&Auth>,
) -> Result<(), PushError> {
    send_with(agent, config, url, method, body, auth, &std::thread::sleep)
}

/// Why one attempt failed.
enum Attempt {
    Rejected { status: u16, message: String },
    Failed(String),
}

/// The retry policy of a push: `retries` further attempts, 500 ms doubling up to 8 s, none
/// whose wait would reach `deadline`.
fn policy(config: &Pushgateway, deadline: Instant) -> Policy {
    Policy {
        retries: config.retries,
        first_backoff: Duration::from_millis(500),
        max_backoff: Duration::from_secs(8),
        jitter: false,
        deadline: Some(deadline),
    }
}

/// [`send`], waiting between attempts with `sleep`.
fn send_with(
    agent: &ureq::Agent,
    config: &Pushgateway,
    url: &str,
    method: Method,
    body: &str,
    auth: Option<&Auth>,
    sleep: &dyn Fn(Duration),
) -> Result<(), PushError> {
    let start = Instant::now();
    let deadline = start + config.timeout.unsigned_abs();
    let header = auth.map(auth_header);
    let outcome = retry(
        &policy(config, deadline),
        sleep,
        |attempts| {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let request = match method {
                Method::Put => agent.put(url),
                Method::Post => agent.post(url),
            };
            let mut request = request
                .config()
                .timeout_global(Some(remaining.max(Duration::from_millis(1))))
                .build()
                .header("Content-Type", crate::metrics::text::CONTENT_TYPE);
            if let Some(h) = &header {
                request = request.header("Authorization", h.as_str());
            }
            log::debug!(
                "{} {url} (attempt {attempts}, {} bytes)",
                method.as_str(),
                body.len()
            );
            match request.send(body) {
                Ok(mut response) => {
                    let status = response.status().as_u16();
                    if (200..300).contains(&status) {
                        log::info!("pushed {} bytes to {url} with HTTP {status}", body.len());
                        return Ok(());
                    }
                    let message = response
                        .body_mut()
                        .with_config()
                        .limit(4096)
                        .read_to_string()
                        .unwrap_or_default()
                        .trim()
                        .to_string();
                    let message = if message.is_empty() {
                        "(no message)".to_string()
                    } else {
                        message
                    };
                    if (400..500).contains(&status) {
                        return Err(Failure::Permanent(Attempt::Rejected { status, message }));
                    }
                    Err(Failure::Transient(Attempt::Failed(format!(
                        "HTTP {status}: {message}"
                    ))))
                }
                Err(e) => Err(Failure::Transient(Attempt::Failed(describe(&e)))),
            }
        },
        |failed, attempts, backoff| {
            if let Attempt::Failed(last) = failed {
                log::warn!(
                    "push attempt {attempts} to {url} failed ({last}); retrying in {:.1}s",
                    backoff.as_secs_f64()
                );
            }
        },
    );
    match outcome {
        Ok(()) => Ok(()),
        Err(GaveUp {
            error: Attempt::Rejected { status, message },
            ..
        }) => Err(PushError::Rejected { status, message }),
        Err(GaveUp {
            error: Attempt::Failed(last),
            attempts,
        }) => Err(PushError::GaveUp {
            attempts,
            elapsed: start.elapsed().as_secs_f64(),
            last,
        }),
    }
}

/// An agent for one Pushgateway, kept for the whole run: the read-back before a partial push
/// and the push itself share its connection and TLS session, and its address is resolved once.
/// Timeouts are set per request.
pub fn agent() -> ureq::Agent {
    crate::net::agent(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("credwatch/", env!("CARGO_PKG_VERSION")))
            .build(),
    )
}

/// Picks the series of one group out of the Pushgateway's `GET /api/v1/metrics` answer. Pure.
/// The group is the one whose labels are exactly `job` plus `grouping`.
pub fn parse_group(
    json: &str,
    job: &str,
    grouping: &std::collections::BTreeMap<String, String>,
) -> Result<Vec<Series>, String> {
    let doc: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| format!("the Pushgateway's API answered with malformed JSON: {e}"))?;
    let groups = doc["data"]
        .as_array()
        .ok_or("the Pushgateway's API answer has no `data` list")?;
    let mut wanted = grouping.clone();
    wanted.insert("job".into(), job.into());
    let mut out = Vec::new();
    for group in groups {
        let labels: std::collections::BTreeMap<String, String> =
            serde_json::from_value(group["labels"].clone()).unwrap_or_default();
        let labels: std::collections::BTreeMap<String, String> =
            labels.into_iter().filter(|(_, v)| !v.is_empty()).collect();
        let wanted_nonempty: std::collections::BTreeMap<String, String> = wanted
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if labels != wanted_nonempty {
            continue;
        }
        let Some(families) = group.as_object() else {
            continue;
        };
        for (metric, family) in families {
            let Some(series) = family.get("metrics").and_then(|m| m.as_array()) else {
                continue;
            };
            for s in series {
                let Some(value) = s["value"].as_str().and_then(|v| v.parse::<f64>().ok()) else {
                    continue;
                };
                let mut labels: std::collections::BTreeMap<String, String> =
                    serde_json::from_value(s["labels"].clone()).unwrap_or_default();
                labels.retain(|k, v| !wanted.contains_key(k) && k != "instance" && !v.is_empty());
                out.push(Series {
                    metric: metric.clone(),
                    labels,
                    value,
                });
            }
        }
    }
    Ok(out)
}

/// Reads what the Pushgateway currently holds for this job's group, so that a partial run can
/// carry forward the last known expiry of what it could not read.
pub fn fetch_group(
    agent: &ureq::Agent,
    config: &Pushgateway,
    auth: Option<&Auth>,
) -> Result<Vec<Series>, String> {
    let url = format!("{}/api/v1/metrics", config.url);
    let mut request = agent
        .get(&url)
        .config()
        .timeout_global(Some(
            config.timeout.unsigned_abs().min(Duration::from_secs(10)),
        ))
        .build();
    let header = auth.map(auth_header);
    if let Some(h) = &header {
        request = request.header("Authorization", h.as_str());
    }
    let mut response = request
        .call()
        .map_err(|e| format!("cannot read `{url}`: {}", describe(&e)))?;
    let status = response.status().as_u16();
    if status != 200 {
        return Err(format!("cannot read `{url}`: HTTP {status}"));
    }
    let body = response
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_string()
        .map_err(|e| format!("cannot read `{url}`: {e}"))?;
    parse_group(&body, &config.job, &config.grouping)
}

fn auth_header(auth: &Auth) -> Zeroizing<String> {
    Zeroizing::new(match auth {
        Auth::Bearer(t) => format!("Bearer {}", t.expose()),
        Auth::Basic { username, password } => {
            let pair = Zeroizing::new(format!("{username}:{}", password.expose()));
            format!("Basic {}", STANDARD.encode(pair.as_bytes()))
        }
    })
}

fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => "timed out waiting for the Pushgateway".into(),
        ureq::Error::ConnectionFailed => {
            "connection failed (is the Pushgateway running and the URL right?)".into()
        }
        ureq::Error::HostNotFound => "host not found (check the Pushgateway URL)".into(),
        ureq::Error::Io(io) => format!("{io}"),
        other => other.to_string(),
    }
}

/// A Pushgateway group as a [`super::Destination`]: a complete run is PUT, an incomplete one
/// POSTed after reading the group back; `dry_run` keeps what would be sent instead.
pub struct Group {
    pub target: Pushgateway,
    pub auth: Option<Auth>,
    pub url: String,
    pub dry_run: bool,
    /// What a dry run would have sent, for the command to print.
    pub dry_run_output: Option<String>,
    agent: ureq::Agent,
}

impl Group {
    pub fn new(target: Pushgateway, auth: Option<Auth>, dry_run: bool) -> Self {
        let url = group_url(&target.url, &target.job, &target.grouping);
        Group {
            target,
            auth,
            url,
            dry_run,
            dry_run_output: None,
            agent: agent(),
        }
    }
}

impl super::Destination for Group {
    fn held(&mut self, config: &crate::config::Config, now: jiff::Timestamp) -> Held {
        if self.dry_run {
            return Held::default();
        }
        // A failed read must not erase what the Pushgateway already knows.
        let asked = Instant::now();
        let held = match fetch_group(&self.agent, &self.target, self.auth.as_ref()) {
            Ok(series) => Held {
                // A POST keeps the group's last-success series: it need not be sent back.
                last_success: None,
                ..Held::from_series(&series, &config.metrics, config.defaults.thresholds, now)
            },
            Err(e) => {
                log::warn!("cannot carry forward the last known expiries: {e}");
                Held::default()
            }
        };
        // `timeout` bounds the whole delivery: what reading back took is not given again.
        let spent = jiff::SignedDuration::try_from(asked.elapsed()).unwrap_or_default();
        self.target.timeout = (self.target.timeout - spent).max(jiff::SignedDuration::from_secs(1));
        held
    }

    fn write(&mut self, text: &super::Text<'_>, complete: bool) -> Result<(), String> {
        let method = if complete { Method::Put } else { Method::Post };
        let text = &text.to_text();
        if self.dry_run {
            self.dry_run_output = Some(format!("# {} {}\n{text}", method.as_str(), self.url));
            return Ok(());
        }
        send(
            &self.agent,
            &self.target,
            &self.url,
            method,
            text,
            self.auth.as_ref(),
        )
        .map_err(|e| format!("push to `{}` failed: {e}", self.url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn group_urls_encode_odd_values_in_base64() {
        let mut g = BTreeMap::new();
        assert_eq!(
            group_url("http://pg:9091", "credwatch", &g),
            "http://pg:9091/metrics/job/credwatch"
        );
        g.insert("cluster".to_string(), "eu/west 1".to_string());
        g.insert("empty".to_string(), String::new());
        g.insert("zone".to_string(), "a-1".to_string());
        assert_eq!(
            group_url("http://pg:9091", "a/b", &g),
            "http://pg:9091/metrics/job@base64/YS9i/cluster@base64/ZXUvd2VzdCAx/empty@base64/=/zone/a-1"
        );
    }

    fn pg() -> Pushgateway {
        Pushgateway {
            url: "http://pg".into(),
            job: "j".into(),
            grouping: BTreeMap::new(),
            timeout: jiff::SignedDuration::from_secs(1),
            retries: 0,
            username: None,
            password_file: None,
            token_file: None,
        }
    }

    /// A loopback server answering every request with `status` and closing; returns its base
    /// URL and a handle yielding the request lines it saw.
    fn answering(status: u16, requests: usize) -> (String, std::thread::JoinHandle<Vec<String>>) {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for _ in 0..requests {
                let (stream, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(stream);
                let (mut line, mut length) = (String::new(), 0);
                reader.read_line(&mut line).unwrap();
                seen.push(line.trim_end().to_string());
                loop {
                    let mut header = String::new();
                    reader.read_line(&mut header).unwrap();
                    if let Some(v) = header.to_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                    if header.trim_end().is_empty() {
                        break;
                    }
                }
                reader.read_exact(&mut vec![0; length]).unwrap();
                let body = "overloaded";
                write!(
                    reader.get_mut(),
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
                .unwrap();
            }
            seen
        });
        (url, server)
    }

    #[test]
    fn server_errors_are_retried_with_doubling_waits_and_rejections_are_not() {
        let (url, server) = answering(503, 3);
        let config = Pushgateway {
            url: url.clone(),
            timeout: jiff::SignedDuration::from_secs(60),
            retries: 2,
            ..pg()
        };
        let waits = std::cell::RefCell::new(Vec::new());
        let err = send_with(
            &agent(),
            &config,
            &format!("{url}/metrics/job/j"),
            Method::Put,
            "a 1\n",
            None,
            &|d| waits.borrow_mut().push(d),
        )
        .unwrap_err();
        assert_eq!(server.join().unwrap(), ["PUT /metrics/job/j HTTP/1.1"; 3]);
        assert_eq!(
            waits.into_inner(),
            [Duration::from_millis(500), Duration::from_secs(1)]
        );
        assert!(
            err.to_string()
                .starts_with("the push did not land after 3 attempt(s) in "),
            "{err}"
        );
        assert!(err.to_string().ends_with(": HTTP 503: overloaded"), "{err}");

        let (url, server) = answering(400, 1);
        let config = Pushgateway {
            url: url.clone(),
            retries: 3,
            ..config
        };
        let err = send_with(
            &agent(),
            &config,
            &format!("{url}/metrics/job/j"),
            Method::Post,
            "a 1\n",
            None,
            &|_| panic!("a rejection is not retried"),
        )
        .unwrap_err();
        assert_eq!(server.join().unwrap(), ["POST /metrics/job/j HTTP/1.1"]);
        assert_eq!(
            err.to_string(),
            "the Pushgateway rejected the push with HTTP 400: overloaded"
        );
    }

    #[test]
    fn auth_comes_from_the_environment() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert!(resolve_auth(&pg(), env(&[])).unwrap().is_none());
        match resolve_auth(&pg(), env(&[(PUSHGATEWAY_TOKEN, "tok")])).unwrap() {
            Some(Auth::Bearer(t)) => assert_eq!(t.expose(), "tok"),
            other => panic!("{other:?}"),
        }
        match resolve_auth(
            &pg(),
            env(&[(PUSHGATEWAY_USERNAME, "u"), (PUSHGATEWAY_PASSWORD, "p")]),
        )
        .unwrap()
        {
            Some(Auth::Basic { username, password }) => {
                assert_eq!((username.as_str(), password.expose()), ("u", "p"))
            }
            other => panic!("{other:?}"),
        }
        assert!(
            resolve_auth(&pg(), env(&[(PUSHGATEWAY_USERNAME, "u")]))
                .unwrap_err()
                .contains("no password")
        );
        assert!(
            resolve_auth(
                &pg(),
                env(&[(PUSHGATEWAY_TOKEN, "t"), (PUSHGATEWAY_USERNAME, "u")])
            )
            .unwrap_err()
            .contains("keep one")
        );
        let err = resolve_auth(
            &pg(),
            env(&[(PUSHGATEWAY_TOKEN_FILE, "/nonexistent/token")]),
        )
        .unwrap_err();
        assert!(err.contains("/nonexistent/token"), "{err}");
    }
}
