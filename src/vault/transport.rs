//! HTTP to one Vault/OpenBao server: one [`ureq::Agent`] for every request and every thread
//! (keep-alive pool at least as large as the configured concurrency, the address resolved once),
//! a timeout per request, retries through [`crate::net::retry`], and the mapping of answers and
//! transport failures onto [`VaultError`]. What the requests mean is the KV client's business.
//!
//! Reads and logins are retried with exponential backoff after a connection failure, a 5xx
//! (other than "sealed") or a 429; writes only when the request never reached the server
//! (connection refused, host not found). 4xx answers are never retried. Small bounded answers
//! (metadata) are read whole and parsed from the buffer, larger ones (listings, data reads) are
//! parsed as they stream in and then drained; either way the connection goes back to the pool.
//! Error bodies are read up to a small bound.

use std::io::{self, BufReader, Read};
use std::sync::Arc;
use std::time::Duration;

use ureq::http::Response;
use zeroize::Zeroizing;

use super::config::ClientConfig;
use super::error::VaultError;
use super::model;
use crate::credential::Secret;
use crate::net::retry::{self, Failure, Policy};

/// How much of an error answer is read, and of an answer drained for reuse.
const ERROR_BODY_LIMIT: u64 = 64 << 10;
const DRAIN_LIMIT: u64 = 1 << 20;

/// The size of each connection's input and output buffers; see [`Transport::new`].
const BUFFER_SIZE: usize = 64 << 10;

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// How the transport waits between attempts: `std::thread::sleep` unless a test says otherwise.
pub(crate) type Sleep = Arc<dyn Fn(Duration) + Send + Sync>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Post,
    Patch,
}

/// One request and how to treat its failures. Built with [`Request::get`], [`Request::post`]
/// or [`Request::patch`]; the defaults are those of a read: authenticated, safe to send twice,
/// the server's error text quoted.
pub(crate) struct Request<'a> {
    /// What is being done, for messages: "read metadata of `secret/a`".
    op: &'a str,
    method: Method,
    /// After `/v1/`, already percent-encoded.
    path: &'a str,
    /// Without the `?`; may be empty.
    query: &'a str,
    body: Option<&'a [u8]>,
    merge_patch: bool,
    authenticated: bool,
    /// Safe to send twice: retry 5xx, 429 and broken connections.
    idempotent: bool,
    /// The server's error text may appear in errors (never for data reads).
    quote_errors: bool,
    /// A further secret to scrub from error texts (a login credential).
    scrub: Option<&'a str>,
}

impl<'a> Request<'a> {
    fn new(method: Method, op: &'a str, path: &'a str, body: Option<&'a [u8]>) -> Request<'a> {
        Request {
            op,
            method,
            path,
            query: "",
            body,
            merge_patch: false,
            authenticated: true,
            idempotent: true,
            quote_errors: true,
            scrub: None,
        }
    }

    pub(crate) fn get(op: &'a str, path: &'a str) -> Request<'a> {
        Request::new(Method::Get, op, path, None)
    }

    /// A POST of a JSON body (empty for `None`).
    pub(crate) fn post(op: &'a str, path: &'a str, body: Option<&'a [u8]>) -> Request<'a> {
        Request::new(Method::Post, op, path, body)
    }

    /// A PATCH as a JSON merge patch (`application/merge-patch+json`).
    pub(crate) fn patch(op: &'a str, path: &'a str, body: &'a [u8]) -> Request<'a> {
        Request {
            merge_patch: true,
            ..Request::new(Method::Patch, op, path, Some(body))
        }
    }

    pub(crate) fn query(self, query: &'a str) -> Request<'a> {
        Request { query, ..self }
    }

    /// Sent without the client token (a login).
    pub(crate) fn unauthenticated(self) -> Request<'a> {
        Request {
            authenticated: false,
            ..self
        }
    }

    /// Not safe to send twice (a write): retried only when it never reached the server.
    pub(crate) fn once(self) -> Request<'a> {
        Request {
            idempotent: false,
            ..self
        }
    }

    /// The server's error text stays out of errors (a data read's body may hold the secret).
    pub(crate) fn unquoted(self) -> Request<'a> {
        Request {
            quote_errors: false,
            ..self
        }
    }

    /// `secret` is scrubbed from error texts as well as the token.
    pub(crate) fn scrub(self, secret: &'a str) -> Request<'a> {
        Request {
            scrub: Some(secret),
            ..self
        }
    }
}

/// The HTTP side of one server. `Send + Sync`: one instance serves many threads.
pub(crate) struct Transport {
    agent: ureq::Agent,
    /// `http(s)://host:port`, normalized.
    address: String,
    namespace: Option<String>,
    timeout: Duration,
    retries: u32,
    sleep: Sleep,
}

impl Transport {
    /// An agent for `config.address` (already normalized) with a pool of `concurrency + 4`
    /// idle connections and `timeout` per request.
    pub(crate) fn new(config: &ClientConfig) -> Result<Transport, VaultError> {
        let pool = config.concurrency.max(1) + 4;
        let mut builder = ureq::Agent::config_builder()
            .timeout_global(Some(config.timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("credwatch/", env!("CARGO_PKG_VERSION")))
            .accept("application/json")
            .max_idle_connections(pool)
            .max_idle_connections_per_host(pool)
            // Each pooled connection holds both buffers, zero-filled, for the whole run (128 KiB
            // each by default: 4 MiB at 16 connections). The input buffer stays as large as the
            // largest response head ureq accepts (64 KiB); a request head is a URL and a few
            // headers, and bodies stream through either buffer in pieces.
            .input_buffer_size(BUFFER_SIZE)
            .output_buffer_size(BUFFER_SIZE);
        if let Some(path) = &config.ca_file {
            let roots = read_ca_file(path)?;
            builder = builder.tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(ureq::tls::RootCerts::new_with_certs(&roots))
                    .build(),
            );
        }
        Ok(Transport {
            agent: crate::net::agent(builder.build()),
            address: config.address.clone(),
            namespace: config.namespace.clone(),
            timeout: config.timeout,
            retries: config.retries,
            sleep: Arc::new(std::thread::sleep),
        })
    }

    pub(crate) fn set_sleep(&mut self, sleep: Sleep) {
        self.sleep = sleep;
    }

    /// The retry policy of every request: `retries` further attempts, 100 ms doubling up to
    /// 2 s, jittered.
    fn policy(&self) -> Policy {
        Policy {
            retries: self.retries,
            first_backoff: FIRST_BACKOFF,
            max_backoff: MAX_BACKOFF,
            jitter: true,
            deadline: None,
        }
    }

    /// Sends a request, retrying as its kind allows; an answer other than 2xx is an error.
    /// `token` goes into `X-Vault-Token` unless the request is unauthenticated, and is scrubbed
    /// from every error text.
    pub(crate) fn execute(
        &self,
        request: &Request,
        token: &Secret,
    ) -> Result<Response<ureq::Body>, VaultError> {
        retry::retry(
            &self.policy(),
            &*self.sleep,
            |_| {
                self.send(request, token).map_err(|(error, retryable)| {
                    if retryable {
                        Failure::Transient(error)
                    } else {
                        Failure::Permanent(error)
                    }
                })
            },
            |error, attempt, backoff| {
                log::debug!(
                    "{error} (attempt {attempt}); retrying in {}ms",
                    backoff.as_millis()
                )
            },
        )
        .map_err(|gave_up| {
            log::debug!("{} (attempt {})", gave_up.error, gave_up.attempts);
            gave_up.error
        })
    }

    /// One attempt: the answer if 2xx, else the error and whether another attempt may help.
    fn send(
        &self,
        request: &Request,
        token: &Secret,
    ) -> Result<Response<ureq::Body>, (VaultError, bool)> {
        let mut url = String::with_capacity(
            self.address.len() + request.path.len() + request.query.len() + 5,
        );
        url.push_str(&self.address);
        url.push_str("/v1/");
        url.push_str(request.path);
        if !request.query.is_empty() {
            url.push('?');
            url.push_str(request.query);
        }
        let body = request.body.unwrap_or_default();
        let result = match request.method {
            Method::Get => self.headers(self.agent.get(&url), request, token).call(),
            Method::Post => self
                .headers(self.agent.post(&url), request, token)
                .header("Content-Type", "application/json")
                .send(body),
            Method::Patch => self
                .headers(self.agent.patch(&url), request, token)
                .header(
                    "Content-Type",
                    if request.merge_patch {
                        "application/merge-patch+json"
                    } else {
                        "application/json"
                    },
                )
                .send(body),
        };
        let op = || request.op.to_string();
        let response = match result {
            Ok(response) => response,
            Err(e) => return Err(self.transport_error(request, e)),
        };
        let status = response.status().as_u16();
        log::trace!("{}: HTTP {status}", request.op);
        if (200..300).contains(&status) {
            return Ok(response);
        }
        let location = response
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .map(str::to_string);
        let message = error_message(response, [Some(token.expose()), request.scrub]);
        let sealed = message.to_lowercase().contains("sealed");
        let quoted = if request.quote_errors {
            message
        } else {
            String::new()
        };
        Err(match status {
            503 => (
                VaultError::Sealed {
                    op: op(),
                    detail: quoted,
                },
                request.idempotent && !sealed,
            ),
            403 => (
                VaultError::Denied {
                    op: op(),
                    detail: quoted,
                },
                false,
            ),
            404 => (
                VaultError::NotFound {
                    op: op(),
                    detail: quoted,
                },
                false,
            ),
            300..=399 => (
                VaultError::Http {
                    op: op(),
                    status,
                    message: format!(
                        "redirect to `{}` not followed (point the address at the active node)",
                        location.unwrap_or_default()
                    ),
                },
                false,
            ),
            429 | 500 | 502..=599 => (
                VaultError::Http {
                    op: op(),
                    status,
                    message: quoted,
                },
                request.idempotent,
            ),
            _ => (
                VaultError::Http {
                    op: op(),
                    status,
                    message: quoted,
                },
                false,
            ),
        })
    }

    fn headers<B>(
        &self,
        mut builder: ureq::RequestBuilder<B>,
        request: &Request,
        token: &Secret,
    ) -> ureq::RequestBuilder<B> {
        if request.authenticated && !token.expose().is_empty() {
            builder = builder.header("X-Vault-Token", token.expose());
        }
        if let Some(namespace) = &self.namespace {
            builder = builder.header("X-Vault-Namespace", namespace.as_str());
        }
        builder
    }

    fn transport_error(&self, request: &Request, e: ureq::Error) -> (VaultError, bool) {
        let op = request.op.to_string();
        let address = &self.address;
        match describe_transport(e) {
            Failed::Timeout => (
                VaultError::Timeout {
                    op,
                    after: self.timeout,
                },
                false,
            ),
            // Nothing reached the server: safe to retry any request.
            Failed::NotConnected(why) => (
                VaultError::Unreachable {
                    op,
                    detail: format!("{why} (`{address}`)"),
                },
                true,
            ),
            Failed::Broken(why) => (
                VaultError::Unreachable {
                    op,
                    detail: format!("{why} (`{address}`)"),
                },
                request.idempotent,
            ),
            Failed::Fatal(why) => (
                VaultError::Unreachable {
                    op,
                    detail: format!("{why} (`{address}`)"),
                },
                false,
            ),
            Failed::Garbled(why) => (VaultError::Malformed { op, detail: why }, false),
        }
    }

    /// Streams a 2xx answer of at most `limit` bytes through `parse`, then drains what is left
    /// so the connection can be reused.
    pub(crate) fn parse<T>(
        &self,
        op: &str,
        response: Response<ureq::Body>,
        limit: u64,
        parse: impl FnOnce(&mut Watched<BufReader<ureq::BodyReader<'_>>>) -> Result<T, String>,
    ) -> Result<T, VaultError> {
        let mut body = response.into_body();
        let mut reader = Watched {
            inner: BufReader::new(body.with_config().limit(limit).reader()),
            failed: None,
        };
        let parsed = parse(&mut reader);
        if parsed.is_ok() {
            let _ = io::copy(&mut reader.inner, &mut io::sink());
        }
        match (parsed, reader.failed) {
            (Ok(value), _) => Ok(value),
            (Err(_), Some(failed)) => Err(self.broken_answer(op, failed)),
            (Err(detail), None) => Err(VaultError::Malformed {
                op: op.to_string(),
                detail,
            }),
        }
    }

    /// Reads a 2xx answer of at most `limit` bytes into memory, then parses it from the slice:
    /// for the small answers a scan makes by the thousand (metadata, about 600 bytes) this is
    /// much cheaper than parsing through a reader. Reading to the end hands the connection back
    /// to the pool.
    pub(crate) fn parse_buffered<T>(
        &self,
        op: &str,
        response: Response<ureq::Body>,
        limit: u64,
        parse: impl FnOnce(&[u8]) -> Result<T, String>,
    ) -> Result<T, VaultError> {
        let mut body = response.into_body();
        // The announced length (bounded) sizes the buffer, so a usual answer is one allocation.
        let expected = body.content_length().unwrap_or(1 << 10).min(limit);
        let mut bytes = Vec::with_capacity(usize::try_from(expected).unwrap_or(1 << 10) + 1);
        let mut reader = Watched {
            inner: body.with_config().limit(limit).reader(),
            failed: None,
        };
        let read = reader.read_to_end(&mut bytes);
        match (read, reader.failed) {
            (Ok(_), _) => parse(&bytes).map_err(|detail| VaultError::Malformed {
                op: op.to_string(),
                detail,
            }),
            (Err(_), Some(failed)) => Err(self.broken_answer(op, failed)),
            (Err(e), None) => Err(VaultError::Unreachable {
                op: op.to_string(),
                detail: format!("the answer broke off: {e}"),
            }),
        }
    }

    /// The error of an answer whose reading failed (a timeout, a dropped connection, a body
    /// over its limit) rather than one that was read and found wrong.
    fn broken_answer(&self, op: &str, failed: Failed) -> VaultError {
        match failed {
            Failed::Timeout => VaultError::Timeout {
                op: op.to_string(),
                after: self.timeout,
            },
            Failed::Garbled(why) => VaultError::Malformed {
                op: op.to_string(),
                detail: why,
            },
            Failed::NotConnected(why) | Failed::Broken(why) | Failed::Fatal(why) => {
                VaultError::Unreachable {
                    op: op.to_string(),
                    detail: format!("the answer broke off: {why}"),
                }
            }
        }
    }
}

/// The server's message from an error answer, bounded, with known secrets scrubbed.
fn error_message(response: Response<ureq::Body>, secrets: [Option<&str>; 2]) -> String {
    let mut body = response.into_body();
    let bytes = body
        .with_config()
        .limit(ERROR_BODY_LIMIT)
        .read_to_vec()
        .unwrap_or_default();
    let mut text = model::parse_error_message(&bytes);
    drop(Zeroizing::new(bytes));
    for secret in secrets.into_iter().flatten() {
        text = crate::credential::redact(&text, secret);
    }
    text
}

/// Reads what is left of an answer so the connection goes back to the pool.
pub(crate) fn drain(response: Response<ureq::Body>) {
    let mut body = response.into_body();
    let _ = io::copy(
        &mut body.with_config().limit(DRAIN_LIMIT).reader(),
        &mut io::sink(),
    );
}

/// A body reader that remembers why reading failed, so that a timeout or a dropped connection
/// in the middle of an answer is not reported as bad JSON.
pub(crate) struct Watched<R> {
    inner: R,
    failed: Option<Failed>,
}

impl<R: Read> Read for Watched<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            let kind = e.kind();
            let copy = io::Error::new(kind, e.to_string());
            // ureq wraps its own errors (timeouts, the body limit) in `io::Error::other`.
            let failed = match e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<ureq::Error>())
            {
                Some(ureq::Error::Timeout(_)) => Failed::Timeout,
                Some(ureq::Error::BodyExceedsLimit(n)) => {
                    Failed::Garbled(format!("the answer is larger than {n} bytes"))
                }
                _ => describe_transport(ureq::Error::Io(copy)),
            };
            self.failed = Some(failed);
        })
    }
}

/// What went wrong below HTTP.
enum Failed {
    Timeout,
    /// The request never reached the server.
    NotConnected(String),
    /// The connection broke; the server may have seen the request.
    Broken(String),
    /// Retrying cannot help (TLS, a bad address).
    Fatal(String),
    /// The server did not speak HTTP, or sent too much.
    Garbled(String),
}

fn describe_transport(e: ureq::Error) -> Failed {
    use io::ErrorKind as K;
    match e {
        ureq::Error::Timeout(_) => Failed::Timeout,
        ureq::Error::ConnectionFailed => Failed::NotConnected("connection failed".into()),
        ureq::Error::HostNotFound => Failed::NotConnected("host not found".into()),
        ureq::Error::Io(io) => match io.kind() {
            K::TimedOut | K::WouldBlock => Failed::Timeout,
            K::ConnectionRefused => Failed::NotConnected("connection refused".into()),
            K::AddrNotAvailable | K::NetworkUnreachable | K::HostUnreachable => {
                Failed::NotConnected(io.to_string())
            }
            _ => Failed::Broken(io.to_string()),
        },
        ureq::Error::Protocol(p) => Failed::Garbled(format!("not an HTTP answer: {p}")),
        ureq::Error::BodyExceedsLimit(n) => {
            Failed::Garbled(format!("the answer is larger than {n} bytes"))
        }
        ureq::Error::Tls(why) => Failed::Fatal(format!("TLS: {why}")),
        other => Failed::Fatal(other.to_string()),
    }
}

fn read_ca_file(
    path: &std::path::Path,
) -> Result<Vec<ureq::tls::Certificate<'static>>, VaultError> {
    crate::net::read_ca_file(path, "Vault").map_err(VaultError::Config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn requests_default_to_authenticated_idempotent_quoted_reads() {
        let r = Request::get("op", "secret/metadata/a").query("list=true");
        assert_eq!(
            (r.method, r.query, r.body),
            (Method::Get, "list=true", None)
        );
        assert!(r.authenticated && r.idempotent && r.quote_errors && !r.merge_patch);
        let r = Request::patch("op", "p", b"{}")
            .once()
            .unquoted()
            .scrub("s3cr3t");
        assert_eq!((r.method, r.body), (Method::Patch, Some(&b"{}"[..])));
        assert!(r.merge_patch && !r.idempotent && !r.quote_errors);
        assert_eq!(r.scrub, Some("s3cr3t"));
        let r = Request::post("op", "auth/x/login", None).unauthenticated();
        assert!(!r.authenticated && r.idempotent);
    }

    #[test]
    fn refused_requests_are_retried_with_the_injected_sleep() {
        // A port nothing listens on: every attempt is refused, so every attempt is retried.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let mut config = ClientConfig::new(format!("http://127.0.0.1:{port}"));
        config.retries = 3;
        let mut transport = Transport::new(&config).unwrap();
        let waits = Arc::new(Mutex::new(Vec::new()));
        let record = waits.clone();
        transport.set_sleep(Arc::new(move |d| record.lock().unwrap().push(d)));
        let request = Request::post("write `k` of `secret/x`", "secret/data/x", None).once();
        let err = transport
            .execute(&request, &Secret::new("t0ken".into()))
            .unwrap_err();
        assert_eq!(err.reason(), "unreachable", "{err}");
        let waits = waits.lock().unwrap();
        let ms = Duration::from_millis;
        assert_eq!(waits.len(), 3, "{waits:?}");
        for (wait, nominal) in waits.iter().zip([ms(100), ms(200), ms(400)]) {
            assert!(
                *wait >= nominal && *wait < nominal + nominal / 4,
                "{waits:?}"
            );
        }
    }
}
