//! `/metrics` over HTTP for `credwatch serve`: the last published exposition text, served from
//! memory, so a scrape never waits on a refresh (edge I/O).
//!
//! A deliberately small HTTP/1.1 server on `std::net`: GET and HEAD, the request head parsed by
//! `httparse` ([`parse_head`]). [`serve`] takes a bound listener and a [`Shutdown`], so tests
//! bind `127.0.0.1:0` and stop it deterministically. Each connection gets its own thread, at
//! most [`Limits::max_waiting`] (256) waiting for a request at once, beyond which new
//! connections wait in the kernel's backlog; requests that are in are answered at most
//! [`Limits::max_connections`] at once. A client has [`Limits::read_timeout`] to send its
//! request (then it gets a 408 and is disconnected), so new connections that send nothing cost
//! a waiting thread for at most that long (a kept-alive one, see below, for `idle_timeout`) and
//! never hold up a scrape whose request is in (short of hundreds of them at once). An answer gives its answering place back once composed, and is
//! written within [`Limits::write_timeout`] in all, so clients that do not read cannot hold up a
//! scrape either.
//!
//! Connections are kept alive (HTTP/1.1, as Prometheus and load generators use them), up to
//! [`MAX_REQUESTS`] answers each: a scrape then pays no TCP handshake, thread start or cold
//! socket buffers. A kept-alive connection waits at most [`Limits::idle_timeout`] for the first
//! byte of its next request, which then has `read_timeout` like a first one. Idle, it holds no
//! answering place, and it counts towards `max_waiting` only until a new connection needs the
//! place: then the connection idle the longest is closed, decided as the new one is counted in
//! (after `accept`, not before). A request being answered holds no waiting place and its
//! connection takes one again when the answer is written, so waiting connections can outnumber
//! `max_waiting` by at most the answers in flight. `Connection: close`, HTTP/1.0, a
//! request with a body (which is not read), a rejected request and shutdown end the connection
//! after the answer.
//! `tiny_http` was the first choice, but it gives every connection a thread without bound and
//! sets no read timeout, so neither limit could be enforced through it.
//!
//! The text is gzipped once, by the refresh that publishes it ([`Latest::publish`]), and the
//! gzipped copy is sent to clients that accept gzip (Prometheus does): a scrape of 10k
//! credentials moves a few hundred KiB instead of several MiB, and compresses nothing itself.
//!
//! | path | answer |
//! |---|---|
//! | `/metrics` | the last published text (`text/plain; version=0.0.4`), 503 before the first |
//! | `/healthz` | 200 while the process runs |
//! | `/-/ready` | 503 until the first collection was published, then 200 |
//! | `/` | the status page (`text/html`, with a strict `Content-Security-Policy`); the list of these paths before the first collection |
//! | `/calendar.ics` | the expiry calendar (`text/calendar`), 503 before the first collection |

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{self, IoSlice, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crate::metrics::text::CONTENT_TYPE;
use crate::serve::state::{Latest, Page, Shutdown, Views};

/// A request head (request line and headers) still incomplete after this many bytes is refused
/// with 431.
const MAX_HEAD: usize = 8 * 1024;
const TEXT: &str = "text/plain; charset=utf-8";

/// How much the server lets clients take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Requests answered at once.
    pub max_connections: usize,
    /// Connections still sending their request, each on its own thread until it arrives or
    /// `read_timeout` passes; further ones wait in the backlog. Kept well above
    /// `max_connections`, so that idle clients cannot keep a scrape waiting.
    pub max_waiting: usize,
    /// How long a client may take to send its request line and headers.
    pub read_timeout: Duration,
    /// How long writing one answer may take, in all (not per write: a client that reads a
    /// little every few seconds gets no longer than one that reads nothing).
    pub write_timeout: Duration,
    /// How long a kept-alive connection may wait for the first byte of its next request before
    /// it is closed (then `read_timeout` applies to the rest of that request).
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 16,
            max_waiting: 256,
            read_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(10),
            // Above Prometheus' default scrape interval (1 m), so that its connection is
            // reused; idle connections give way to new ones when `max_waiting` is reached.
            idle_timeout: Duration::from_secs(75),
        }
    }
}

/// Serves `latest` on `listener` until `shutdown` is triggered. Returns once the listener is
/// closed (the port is free again) and answers being written have finished; connections still
/// waiting for a request are cut.
pub fn serve(
    listener: TcpListener,
    latest: Arc<Latest>,
    shutdown: Arc<Shutdown>,
    limits: Limits,
) -> io::Result<()> {
    let addr = listener.local_addr()?;
    let connections = Arc::new(Connections::default());
    {
        let (shutdown, connections) = (shutdown.clone(), connections.clone());
        thread::Builder::new()
            .name("credwatch-stop".into())
            .spawn(move || {
                shutdown.wait();
                // Wake the acceptor: waiting for a free slot, or blocked in `accept`.
                drop(lock(&connections.tracked));
                connections.changed.notify_all();
                let _ = TcpStream::connect_timeout(&wake_address(addr), Duration::from_secs(1));
            })?;
    }
    let result = accept_loop(&listener, &latest, &shutdown, &connections, limits);
    drop(listener);
    connections.close_waiting_and_drain(limits.write_timeout + Duration::from_secs(1));
    result
}

fn accept_loop(
    listener: &TcpListener,
    latest: &Arc<Latest>,
    shutdown: &Shutdown,
    connections: &Arc<Connections>,
    limits: Limits,
) -> io::Result<()> {
    let max = limits.max_waiting.max(1);
    loop {
        connections.wait_for_place(max, shutdown);
        if shutdown.is_triggered() {
            return Ok(());
        }
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // Out of file descriptors, a connection reset before it was accepted: wait a
                // little and go on.
                log::warn!(
                    "cannot accept a connection on `{:?}`: {e}",
                    listener.local_addr()
                );
                if shutdown.wait_timeout(Duration::from_millis(100)) {
                    return Ok(());
                }
                continue;
            }
        };
        if shutdown.is_triggered() {
            return Ok(());
        }
        let slot = Slot::take(connections, &stream, max);
        let latest = latest.clone();
        let spawned = thread::Builder::new()
            .name("credwatch-http".into())
            .spawn(move || handle(stream, slot, &latest, limits));
        if let Err(e) = spawned {
            log::warn!("cannot start a thread for a connection: {e}");
        }
    }
}

/// The connections being served: how many, and the ones still waiting for their request (which
/// shutdown cuts).
#[derive(Debug, Default)]
struct Connections {
    tracked: Mutex<Tracked>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct Tracked {
    active: usize,
    /// Connections whose request is in and being answered.
    answering: usize,
    /// Answers composed and being written (they hold no answering place: a client that does
    /// not read cannot keep a scrape waiting).
    writing: usize,
    next_id: u64,
    /// Connections waiting for a request (their first, or the next on a kept-alive
    /// connection), which shutdown cuts.
    waiting: HashMap<u64, Waiting>,
    /// Shutdown has cut the waiting connections: no connection is kept alive after its answer.
    stopping: bool,
}

#[derive(Debug)]
struct Waiting {
    stream: TcpStream,
    /// Since when a kept-alive connection has been waiting with no byte of its next request.
    idle_since: Option<Instant>,
}

impl Tracked {
    /// Whether the waiting places are all taken: connections still sending their request and
    /// answers still being written share the bound, so neither can take the threads the other
    /// needs without limit. Idle kept-alive connections count too.
    fn full(&self, max: usize) -> bool {
        self.waiting.len() + self.writing >= max
    }

    fn any_idle(&self) -> bool {
        self.waiting.values().any(|w| w.idle_since.is_some())
    }

    /// Closes the kept-alive connection idle the longest, so that a new connection gets its
    /// place under [`Limits::max_waiting`]. It stays counted until its thread sees the close
    /// and gives the place back. A client that sends its next request just then sees the
    /// connection closed, which HTTP clients take as a reason to retry a GET.
    fn close_longest_idle(&mut self) {
        let longest = self
            .waiting
            .values_mut()
            .filter(|w| w.idle_since.is_some())
            .min_by_key(|w| w.idle_since);
        if let Some(waiting) = longest {
            waiting.idle_since = None;
            let _ = waiting.stream.shutdown(std::net::Shutdown::Both);
        }
    }
}

impl Connections {
    fn close_waiting_and_drain(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let mut tracked = lock(&self.tracked);
        tracked.stopping = true;
        for waiting in tracked.waiting.values() {
            let _ = waiting.stream.shutdown(std::net::Shutdown::Both);
        }
        while tracked.active > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                log::warn!(
                    "{} connection(s) still open at shutdown; leaving them",
                    tracked.active
                );
                break;
            }
            tracked = self
                .changed
                .wait_timeout(tracked, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

impl Connections {
    /// Waits until a new connection can have a waiting place: one is free, or an idle
    /// kept-alive connection can give its own, or shutdown has begun. Whether the connection
    /// accepted next takes an idle one's place is decided once it is in ([`Slot::take`]):
    /// places come and go while `accept` waits (a request whose head is in gives its place
    /// back while it is answered, and takes one again when its answer is written).
    fn wait_for_place(&self, max: usize, shutdown: &Shutdown) {
        let mut tracked = lock(&self.tracked);
        while tracked.full(max) && !tracked.any_idle() && !shutdown.is_triggered() {
            tracked = self
                .changed
                .wait(tracked)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// One of the [`Limits::max_connections`] slots, given back when dropped.
struct Slot {
    connections: Arc<Connections>,
    id: u64,
    answering: bool,
    writing: bool,
}

impl Slot {
    /// A new connection's slot, waiting for its first request. When the waiting places are
    /// all taken as it comes in, the connection idle the longest is closed for it, decided
    /// under the same lock that counts it in.
    fn take(connections: &Arc<Connections>, stream: &TcpStream, max: usize) -> Slot {
        let mut tracked = lock(&connections.tracked);
        if tracked.full(max) {
            tracked.close_longest_idle();
        }
        tracked.active += 1;
        tracked.next_id += 1;
        let id = tracked.next_id;
        if let Ok(stream) = stream.try_clone() {
            let waiting = Waiting {
                stream,
                idle_since: None,
            };
            tracked.waiting.insert(id, waiting);
        }
        Slot {
            connections: connections.clone(),
            id,
            answering: false,
            writing: false,
        }
    }

    /// The request is in: waits for one of the `max` answering places; from then on shutdown
    /// lets the answer finish.
    fn answering(&mut self, max: usize) {
        let mut tracked = lock(&self.connections.tracked);
        tracked.waiting.remove(&self.id);
        self.connections.changed.notify_all();
        while tracked.answering >= max.max(1) {
            tracked = self
                .connections
                .changed
                .wait(tracked)
                .unwrap_or_else(PoisonError::into_inner);
        }
        tracked.answering += 1;
        self.answering = true;
    }

    /// The answer is composed: its answering place goes to the next request while it is
    /// written.
    fn writing(&mut self) {
        let mut tracked = lock(&self.connections.tracked);
        if self.answering {
            tracked.answering -= 1;
            self.answering = false;
        }
        tracked.writing += 1;
        self.writing = true;
        drop(tracked);
        self.connections.changed.notify_all();
    }

    /// The answer is written and the connection is kept alive: it waits for its next request
    /// again, idle (and cut by shutdown) until its first byte arrives, unless that request has
    /// `begun` (its first bytes came with the one before). `false` once shutdown has begun:
    /// then the connection is closed instead.
    fn idle(&mut self, stream: &TcpStream, begun: bool) -> bool {
        let mut tracked = lock(&self.connections.tracked);
        if self.writing {
            tracked.writing -= 1;
            self.writing = false;
        }
        let kept = !tracked.stopping;
        if kept && let Ok(stream) = stream.try_clone() {
            let waiting = Waiting {
                stream,
                idle_since: (!begun).then(Instant::now),
            };
            tracked.waiting.insert(self.id, waiting);
        }
        drop(tracked);
        self.connections.changed.notify_all();
        kept
    }

    /// The first byte of a kept-alive connection's next request is in: it is no longer idle,
    /// so it is not closed to make room for a new connection.
    fn busy(&self) {
        if let Some(waiting) = lock(&self.connections.tracked).waiting.get_mut(&self.id) {
            waiting.idle_since = None;
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut tracked = lock(&self.connections.tracked);
        tracked.waiting.remove(&self.id);
        tracked.active -= 1;
        if self.answering {
            tracked.answering -= 1;
        }
        if self.writing {
            tracked.writing -= 1;
        }
        drop(tracked);
        self.connections.changed.notify_all();
    }
}

/// Requests answered on one connection before it is closed (the client then opens another).
pub const MAX_REQUESTS: u32 = 10_000;

fn handle(mut stream: TcpStream, mut slot: Slot, latest: &Latest, limits: Limits) {
    let _ = stream.set_nodelay(true);
    let write_limit = limits.write_timeout;
    // What the client sent and is not answered yet: the next head starts here (a client may send
    // it before reading the answer to the one before).
    let mut data = Vec::with_capacity(512);
    for served in 1..=MAX_REQUESTS {
        // A new connection has `read_timeout` from its start; a kept-alive one may wait up to
        // `idle_timeout` for the first byte of its next request, then gets `read_timeout`.
        let idle = (served > 1).then_some(limits.idle_timeout);
        let length = match read_head(&mut stream, &mut data, idle, limits.read_timeout, &slot) {
            Ok(length) => length,
            Err(refused @ (HeadError::TimedOut | HeadError::TooLarge)) => {
                let answer = if refused == HeadError::TimedOut {
                    Response::text(408, "request timeout\n")
                } else {
                    Response::text(431, "request header fields too large\n")
                };
                let _ = write_response(&mut stream, &answer, false, false, write_limit);
                return;
            }
            Err(HeadError::Closed | HeadError::Idle) => return,
        };
        slot.answering(limits.max_connections);
        let (response, head_only, keep_alive) = match parse_head(&data[..length]) {
            Ok(Some(request)) => (
                respond_view(request.method, request.path, latest.views()).unwrap_or_else(|| {
                    respond(request.method, request.path, latest.get(), request.gzip)
                }),
                request.method == "HEAD",
                request.keep_alive && served < MAX_REQUESTS,
            ),
            Err(e) => (Response::text(400, e), false, false),
            // `read_head` returns only heads that are complete or rejected.
            Ok(None) => (Response::text(400, BAD_SHAPE), false, false),
        };
        slot.writing();
        if let Err(e) = write_response(&mut stream, &response, head_only, keep_alive, write_limit) {
            log::debug!("cannot answer a request: {e}");
            return;
        }
        drop(response);
        data.drain(..length);
        // What is left is the start of the next request, sent with this one.
        if !keep_alive || !slot.idle(&stream, !data.is_empty()) {
            break;
        }
    }
    let _ = stream.shutdown(std::net::Shutdown::Write);
    drop(slot);
}

#[derive(Debug, PartialEq, Eq)]
enum HeadError {
    TimedOut,
    TooLarge,
    Closed,
    /// A kept-alive connection sent nothing within the idle limit, or was closed to make room.
    Idle,
}

/// Reads onto `data` until [`parse_head`] has a request or a rejection, and returns the length
/// of that head in `data`. With `idle`, the connection is kept alive and may take that long to
/// send the first byte; the head is then due within `limit` of that byte, otherwise within
/// `limit` in total (not per read: a client that sends one byte a second gets no longer than
/// one that sends nothing). At most [`MAX_HEAD`] bytes.
fn read_head(
    stream: &mut TcpStream,
    data: &mut Vec<u8>,
    idle: Option<Duration>,
    limit: Duration,
    slot: &Slot,
) -> Result<usize, HeadError> {
    if let Some(idle) = idle {
        // A kept-alive connection is idle until the first byte of its next request, which may
        // already be here (sent with the one before it).
        if data.is_empty() {
            match read_some(stream, data, idle) {
                Ok(()) => {}
                Err(HeadError::TimedOut | HeadError::Closed) => return Err(HeadError::Idle),
                Err(e) => return Err(e),
            }
        }
        slot.busy();
    }
    let deadline = Instant::now() + limit;
    loop {
        if let Some(length) = head_length(data) {
            return Ok(length);
        }
        if data.len() > MAX_HEAD {
            return Err(HeadError::TooLarge);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(HeadError::TimedOut);
        }
        read_some(stream, data, left)?;
    }
}

/// The length of the head at the start of `data` once [`parse_head`] has a request or a
/// rejection (a rejection ends the connection, so its length does not matter).
fn head_length(data: &[u8]) -> Option<usize> {
    match parse_head(data) {
        Ok(None) => None,
        Ok(Some(request)) => Some(request.length),
        Err(_) => Some(data.len()),
    }
}

/// One read onto `data`, waiting at most `limit`.
fn read_some(stream: &mut TcpStream, data: &mut Vec<u8>, limit: Duration) -> Result<(), HeadError> {
    let mut buf = [0u8; 1024];
    stream
        .set_read_timeout(Some(limit.max(Duration::from_millis(1))))
        .map_err(|_| HeadError::Closed)?;
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Err(HeadError::Closed),
            Ok(n) => {
                data.extend_from_slice(&buf[..n]);
                return Ok(());
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(HeadError::TimedOut);
            }
            Err(_) => return Err(HeadError::Closed),
        }
    }
}

const BAD_TEXT: &str = "bad request: the request line is not text\n";
const BAD_SHAPE: &str = "bad request: expected `METHOD /path HTTP/1.1`\n";
const BAD_METHOD: &str = "bad request: malformed method\n";
const BAD_VERSION: &str = "bad request: only HTTP/1.x is spoken here\n";
const BAD_TARGET: &str = "bad request: the target must be a path such as `/metrics`\n";

/// What the exporter reads of a request head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    /// `GET`, `HEAD`, … (upper-case letters only).
    pub method: &'a str,
    /// The target's path, without query or fragment.
    pub path: &'a str,
    /// Whether `Accept-Encoding` takes gzip (and does not refuse it with `q=0`).
    pub gzip: bool,
    /// Whether the connection may carry another request after this one's answer: HTTP/1.1
    /// without `Connection: close`, and no body (which is not read, so its bytes could not be
    /// told from the next request). HTTP/1.0 connections are closed after one answer.
    pub keep_alive: bool,
    /// The length of the head in bytes; what follows it is the next request.
    pub length: usize,
}

/// A request head parsed by httparse: `Ok(None)` while it is incomplete, `Err` with the body
/// of the 400 answer when it cannot be a request. Header lines httparse finds invalid are
/// ignored, as the exporter reads no header but `Accept-Encoding`. Pure.
pub fn parse_head(data: &[u8]) -> Result<Option<Request<'_>>, &'static str> {
    // Each header line takes at least three bytes (`a:\n`), so httparse never runs out of
    // slots; a head is at most a few KiB (`MAX_HEAD`).
    let mut headers = vec![httparse::EMPTY_HEADER; data.len() / 3 + 1];
    let mut request = httparse::Request::new(&mut headers);
    let mut config = httparse::ParserConfig::default();
    config.ignore_invalid_headers_in_requests(true);
    match config.parse_request(&mut request, data) {
        Ok(httparse::Status::Partial) => Ok(None),
        Ok(httparse::Status::Complete(length)) => {
            let (Some(method), Some(target)) = (request.method, request.path) else {
                return Err(BAD_SHAPE);
            };
            if !method.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(BAD_METHOD);
            }
            if !target.starts_with('/') {
                return Err(BAD_TARGET);
            }
            let path = target.split(['?', '#']).next().unwrap_or(target);
            let gzip = request.headers.iter().any(|h| {
                h.name.eq_ignore_ascii_case("accept-encoding")
                    && std::str::from_utf8(h.value).is_ok_and(takes_gzip)
            });
            let ends = request.headers.iter().any(|h| {
                (h.name.eq_ignore_ascii_case("connection")
                    && h.value
                        .split(|&b| b == b',')
                        .any(|token| token.trim_ascii().eq_ignore_ascii_case(b"close")))
                    || h.name.eq_ignore_ascii_case("transfer-encoding")
                    || (h.name.eq_ignore_ascii_case("content-length")
                        && h.value.trim_ascii() != b"0")
            });
            let keep_alive = request.version == Some(1) && !ends;
            Ok(Some(Request {
                method,
                path,
                gzip,
                keep_alive,
                length,
            }))
        }
        Err(e) => rejection(data, e),
    }
}

/// The answer to a head httparse rejected: the 400 body of the first check the request line
/// fails, in this order: text, three fields, method, version, target. It waits for the whole
/// request line, so that the answer does not depend on how the line arrived in pieces.
fn rejection(data: &[u8], error: httparse::Error) -> Result<Option<Request<'_>>, &'static str> {
    // httparse skips blank lines before the request line.
    let start = data
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(data.len());
    let Some(len) = data[start..].iter().position(|&b| b == b'\n') else {
        return Ok(None);
    };
    let Ok(line) = std::str::from_utf8(&data[start..start + len]) else {
        return Err(BAD_TEXT);
    };
    let fields: Vec<&str> = line.trim_end_matches('\r').split(' ').collect();
    let [method, target, version] = fields[..] else {
        return Err(BAD_SHAPE);
    };
    Err(
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
            BAD_METHOD
        } else if !version.starts_with("HTTP/1.") || error == httparse::Error::Version {
            BAD_VERSION
        } else if !target.starts_with('/') {
            BAD_TARGET
        } else {
            // Bytes httparse does not take in a target, a malformed line end.
            BAD_SHAPE
        },
    )
}

/// Whether an `Accept-Encoding` value takes gzip (and does not refuse it with `q=0`). Pure.
pub fn takes_gzip(value: &str) -> bool {
    value.split(',').any(|coding| {
        let mut parts = coding.split(';').map(str::trim);
        let name = parts.next().unwrap_or_default();
        let refused = parts.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.parse::<f64>().ok())
                .is_some_and(|q| q == 0.0)
        });
        (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
    })
}

/// An answer, before it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Static(&'static str),
    Text(Arc<Page>),
    Gzip(Arc<Page>),
    /// The status page, sent with its `Content-Security-Policy`.
    Html(Arc<Views>),
    Calendar(Arc<Views>),
}

impl Body {
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Body::Static(s) => s.as_bytes(),
            Body::Text(page) => page.text.as_bytes(),
            Body::Gzip(page) => &page.gzip,
            Body::Html(views) => views.html().as_bytes(),
            Body::Calendar(views) => views.calendar().as_bytes(),
        }
    }
}

impl Response {
    fn text(status: u16, body: &'static str) -> Response {
        Response {
            status,
            content_type: TEXT,
            body: Body::Static(body),
        }
    }
}

/// The answer for the status page and the calendar, once a collection has published them;
/// `None` for every other request (and before the first collection, when `/` lists the paths
/// and `/calendar.ics` is not there yet). Pure.
pub fn respond_view(method: &str, path: &str, views: Option<Arc<Views>>) -> Option<Response> {
    if method != "GET" && method != "HEAD" {
        return None;
    }
    match (path, views) {
        ("/", Some(views)) => Some(Response {
            status: 200,
            content_type: "text/html; charset=utf-8",
            body: Body::Html(views),
        }),
        ("/calendar.ics", Some(views)) => Some(Response {
            status: 200,
            content_type: "text/calendar; charset=utf-8",
            body: Body::Calendar(views),
        }),
        ("/calendar.ics", None) => Some(Response::text(
            503,
            "no collection has finished yet; see /-/ready\n",
        )),
        _ => None,
    }
}

/// What a request gets, given the page published last (`None` before the first) and whether the
/// client takes gzip. Pure.
pub fn respond(method: &str, path: &str, latest: Option<Arc<Page>>, gzip: bool) -> Response {
    if method != "GET" && method != "HEAD" {
        return Response::text(405, "method not allowed: use GET or HEAD\n");
    }
    match (path, latest) {
        ("/metrics", Some(page)) => Response {
            status: 200,
            content_type: CONTENT_TYPE,
            body: if gzip {
                Body::Gzip(page)
            } else {
                Body::Text(page)
            },
        },
        ("/metrics", None) => Response::text(503, "no collection has finished yet; see /-/ready\n"),
        ("/healthz", _) => Response::text(200, "ok\n"),
        ("/-/ready", Some(_)) => Response::text(200, "ready\n"),
        ("/-/ready", None) => {
            Response::text(503, "not ready: the first collection has not finished\n")
        }
        ("/", _) => Response::text(
            200,
            "credwatch exporter (the status page appears here once the first collection finished)\n/metrics        the credentials' expiry, as Prometheus text\n/calendar.ics   the expiries as an iCalendar feed\n/healthz        200 while the process runs\n/-/ready        200 once the first collection finished\n",
        ),
        _ => Response::text(404, "not found: try /metrics\n"),
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "",
    }
}

fn write_response(
    stream: &mut TcpStream,
    response: &Response,
    head_only: bool,
    keep_alive: bool,
    limit: Duration,
) -> io::Result<()> {
    let body = response.body.as_bytes();
    let mut extra = String::new();
    if response.status == 405 {
        extra.push_str("Allow: GET, HEAD\r\n");
    }
    match &response.body {
        Body::Gzip(_) => extra.push_str("Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n"),
        Body::Text(_) => extra.push_str("Vary: Accept-Encoding\r\n"),
        Body::Html(views) => {
            let _ = write!(
                extra,
                "Content-Security-Policy: {}\r\nX-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n",
                views.csp
            );
        }
        Body::Calendar(_) => extra.push_str("X-Content-Type-Options: nosniff\r\n"),
        Body::Static(_) => {}
    }
    // HTTP/1.1 connections persist unless either side says otherwise.
    if !keep_alive {
        extra.push_str("Connection: close\r\n");
    }
    let head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n{extra}\r\n",
        response.status,
        reason(response.status),
        response.content_type,
        body.len()
    );
    let deadline = Instant::now() + limit;
    let body = if head_only { &[][..] } else { body };
    write_before(stream, [head.as_bytes(), body], deadline)?;
    stream.flush()
}

/// Writes the head and then the body by `deadline`, each send given only the time left. Both
/// go in one vectored send, straight from the shared page (nothing is copied or cut into
/// pieces here), so that an answer the socket buffer takes whole costs one system call; a
/// client that reads slowly gets what it read so far and then a timeout.
fn write_before(stream: &mut TcpStream, parts: [&[u8]; 2], deadline: Instant) -> io::Result<()> {
    let mut slices = parts.map(IoSlice::new);
    let mut rest = &mut slices[..];
    while !rest.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client did not read the answer in time",
            ));
        }
        stream.set_write_timeout(Some(left))?;
        match stream.write_vectored(rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut rest, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Where to connect to reach `addr`, the listener's own address: an unspecified address (all
/// interfaces) is reached on loopback. Pure.
pub fn wake_address(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A kept-alive connection whose next request came in with the one before is not idle: when
    /// a new connection needs a waiting place, only a connection that is idle gives it, even if
    /// the other has waited longer.
    #[test]
    fn a_connection_whose_next_request_has_begun_is_not_closed_as_idle() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(Connections::default());
        let pair = || {
            let client = TcpStream::connect(addr).unwrap();
            let (server, _) = listener.accept().unwrap();
            let slot = Slot::take(&connections, &server, 2);
            (client, server, slot)
        };
        let (mut begun_client, begun_server, mut begun) = pair();
        let (mut idle_client, idle_server, mut idle) = pair();
        // Both answered their first request; the first was kept alive first, with part of its
        // next request already read.
        for (slot, stream, next_begun) in [
            (&mut begun, &begun_server, true),
            (&mut idle, &idle_server, false),
        ] {
            slot.answering(2);
            slot.writing();
            assert!(slot.idle(stream, next_begun));
        }
        // A new connection finds both waiting places taken.
        let _newcomer = pair();

        let mut byte = [0u8; 1];
        idle_client
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        assert_eq!(
            idle_client.read(&mut byte).unwrap(),
            0,
            "the idle one is closed"
        );
        begun_client
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let kept = begun_client.read(&mut byte).unwrap_err().kind();
        assert!(
            matches!(kept, io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut),
            "the one whose request has begun stays open: {kept:?}"
        );
    }

    /// Whether a new connection takes an idle one's place is decided once it is accepted: a
    /// request being answered gives its waiting place back while the acceptor waits in
    /// `accept`, and takes one again when its answer is written, before the new connection is
    /// in.
    #[test]
    fn a_new_connection_that_finds_the_waiting_places_full_closes_the_longest_idle_one() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(Connections::default());
        let shutdown = Shutdown::new();
        let pair = || {
            let client = TcpStream::connect(addr).unwrap();
            let (server, _) = listener.accept().unwrap();
            let slot = Slot::take(&connections, &server, 2);
            (client, server, slot)
        };
        // Of the two waiting places, one is held by a kept-alive connection, idle, and one by
        // a connection whose first request is still coming.
        let (mut idle_client, idle_server, mut idle) = pair();
        idle.answering(2);
        idle.writing();
        assert!(idle.idle(&idle_server, false));
        let (_busy_client, _busy_server, mut busy) = pair();
        // Its request is in and being answered: a place is free, so the acceptor goes on to
        // `accept` (it would wait here if the places were full with none idle).
        busy.answering(2);
        connections.wait_for_place(2, &shutdown);
        // The answer is written, taking a place again, and then the new connection comes in.
        busy.writing();
        let _newcomer = pair();

        idle_client
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut byte = [0u8; 1];
        assert_eq!(
            idle_client.read(&mut byte).unwrap(),
            0,
            "the idle connection gave its place to the new one"
        );
        let tracked = lock(&connections.tracked);
        assert!(!tracked.any_idle(), "{tracked:?}");
        // Counted until its thread sees the close: the one closed, the new one, the answer.
        assert_eq!((tracked.waiting.len(), tracked.writing), (2, 1));
    }

    /// The method and path of a complete head.
    fn method_and_path(head: &[u8]) -> Result<Option<(&str, &str)>, &'static str> {
        parse_head(head).map(|r| r.map(|r| (r.method, r.path)))
    }

    #[test]
    fn request_lines_give_method_and_path() {
        let ok = [
            (
                &b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"[..],
                ("GET", "/metrics"),
            ),
            (b"HEAD /-/ready HTTP/1.0\n\n", ("HEAD", "/-/ready")),
            (
                b"GET /metrics?name[]=x HTTP/1.1\r\n\r\n",
                ("GET", "/metrics"),
            ),
            (b"GET /metrics#top HTTP/1.1\r\n\r\n", ("GET", "/metrics")),
            (b"POST / HTTP/1.1\r\n\r\n", ("POST", "/")),
            // A header line that is no header is ignored, as before httparse.
            (
                b"GET /healthz HTTP/1.1\r\nno header here\r\n\r\n",
                ("GET", "/healthz"),
            ),
        ];
        for (head, wanted) in ok {
            assert_eq!(method_and_path(head), Ok(Some(wanted)), "{head:?}");
        }
        for (bad, wanted) in [
            (&b"GET\r\n\r\n"[..], BAD_SHAPE),
            (b"GET /metrics\r\n\r\n", BAD_SHAPE),
            (b"GET  /metrics HTTP/1.1\r\n\r\n", BAD_SHAPE),
            (b"GET /metrics HTTP/1.1 \r\n\r\n", BAD_SHAPE),
            (b"GET /metrics HTTP/2\r\n\r\n", BAD_VERSION),
            (b"GET /metrics HTTP/1.2\r\n\r\n", BAD_VERSION),
            (b"GET http://x/metrics HTTP/1.1\r\n\r\n", BAD_TARGET),
            (b"GET * HTTP/1.1\r\n\r\n", BAD_TARGET),
            (b"get /metrics HTTP/1.1\r\n\r\n", BAD_METHOD),
            (b"get /metrics HTTP/2\r\n\r\n", BAD_METHOD),
            (b"G@T /metrics HTTP/1.1\r\n\r\n", BAD_METHOD),
            (b" /metrics HTTP/1.1\r\n\r\n", BAD_METHOD),
            (b"GET /\xff HTTP/1.1\r\n\r\n", BAD_TEXT),
            // Rejected as soon as the request line is in, without waiting for the blank line.
            (b"GET /metrics HTTP/2\r\nHost: x\r\n", BAD_VERSION),
        ] {
            assert_eq!(method_and_path(bad), Err(wanted), "{bad:?}");
        }
    }

    #[test]
    fn a_head_is_complete_at_the_first_blank_line() {
        for complete in [
            &b"GET / HTTP/1.1\r\nA: b\r\n\r\nbody"[..],
            b"GET / HTTP/1.1\n\n",
            // Blank lines before the request line are skipped (RFC 9112, section 2.2).
            b"\r\nGET / HTTP/1.1\r\n\r\n",
        ] {
            assert_eq!(
                method_and_path(complete),
                Ok(Some(("GET", "/"))),
                "{complete:?}"
            );
        }
        for incomplete in [
            &b"GET / HTTP/1.1\r\nA: b\r\n"[..],
            b"GET / HTTP/1.1",
            b"GET /metr",
            b"",
            b"\r\n\r\n",
            // A bad line is answered once it is whole: its answer must not depend on where
            // the client's writes split it.
            b"G@T",
            b"GET /metrics HTTP/2",
        ] {
            assert_eq!(method_and_path(incomplete), Ok(None), "{incomplete:?}");
        }
    }

    #[test]
    fn http_1_1_connections_are_kept_alive_unless_closed_or_carrying_a_body() {
        let keep = |head: &str| parse_head(head.as_bytes()).map(|r| r.map(|r| r.keep_alive));
        for (head, wanted) in [
            ("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", true),
            (
                "GET /metrics HTTP/1.1\r\nConnection: keep-alive\r\n\r\n",
                true,
            ),
            ("GET /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", true),
            ("GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n", false),
            (
                "GET /metrics HTTP/1.1\r\nconnection: Upgrade, CLOSE\r\n\r\n",
                false,
            ),
            ("GET /metrics HTTP/1.0\r\n\r\n", false),
            (
                "GET /metrics HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
                false,
            ),
            (
                "POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
                false,
            ),
            (
                "POST /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                false,
            ),
        ] {
            assert_eq!(keep(head), Ok(Some(wanted)), "{head}");
        }
        // The next request starts where the head ends.
        let two = b"GET / HTTP/1.1\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n";
        let first = parse_head(two).unwrap().unwrap();
        assert_eq!(first.length, 18);
        assert_eq!(
            parse_head(&two[first.length..]).unwrap().unwrap().path,
            "/healthz"
        );
    }

    #[test]
    fn gzip_is_taken_when_the_client_accepts_it() {
        let head = |accept: &str| format!("GET /metrics HTTP/1.1\r\nHost: x\r\n{accept}\r\n\r\n");
        let gzip = |head: &[u8]| parse_head(head).map(|r| r.map(|r| r.gzip));
        for (accept, wanted) in [
            ("Accept-Encoding: gzip", true),
            ("accept-encoding: deflate, GZIP;q=0.5", true),
            ("Accept-Encoding: *", true),
            ("Accept-Encoding:gzip", true),
            ("Accept-Encoding: identity\r\nAccept-Encoding: gzip", true),
            ("Accept-Encoding: gzip;q=0", false),
            ("Accept-Encoding: br, deflate", false),
            ("Accept-Encoding: identity", false),
            ("X-Accept-Encoding: gzip", false),
            ("", false),
        ] {
            assert_eq!(gzip(head(accept).as_bytes()), Ok(Some(wanted)), "{accept}");
        }
        // The request line is no header.
        assert_eq!(
            gzip(b"GET /accept-encoding:gzip HTTP/1.1\r\n\r\n"),
            Ok(Some(false))
        );
    }

    #[test]
    fn the_status_page_and_calendar_once_published() {
        let views = Arc::new(Views::fixed(
            "<!DOCTYPE html>",
            "default-src 'none'",
            "BEGIN:VCALENDAR",
        ));
        let page = respond_view("GET", "/", Some(views.clone())).unwrap();
        assert_eq!(
            (page.status, page.content_type),
            (200, "text/html; charset=utf-8")
        );
        assert_eq!(page.body.as_bytes(), b"<!DOCTYPE html>");
        let head = respond_view("HEAD", "/calendar.ics", Some(views.clone())).unwrap();
        assert_eq!(
            (head.status, head.content_type),
            (200, "text/calendar; charset=utf-8")
        );
        assert_eq!(
            respond_view("GET", "/calendar.ics", None).unwrap().status,
            503
        );
        // Before the first collection `/` lists the paths; other paths and methods are not views.
        assert_eq!(respond_view("GET", "/", None), None);
        assert_eq!(respond_view("POST", "/", Some(views.clone())), None);
        assert_eq!(respond_view("GET", "/metrics", Some(views)), None);
    }

    #[test]
    fn each_path_gets_its_answer() {
        let text = Arc::new(Page::new("x 1\n".to_string()));
        type Case<'a> = (&'a str, &'a str, Option<Arc<Page>>, u16, &'a str);
        let cases: [Case; 10] = [
            ("GET", "/metrics", Some(text.clone()), 200, CONTENT_TYPE),
            ("HEAD", "/metrics", Some(text.clone()), 200, CONTENT_TYPE),
            ("GET", "/metrics", None, 503, TEXT),
            ("GET", "/healthz", None, 200, TEXT),
            ("GET", "/healthz", Some(text.clone()), 200, TEXT),
            ("GET", "/-/ready", None, 503, TEXT),
            ("GET", "/-/ready", Some(text.clone()), 200, TEXT),
            ("GET", "/", None, 200, TEXT),
            ("GET", "/metricz", Some(text.clone()), 404, TEXT),
            ("POST", "/metrics", Some(text.clone()), 405, TEXT),
        ];
        for (method, path, latest, status, content_type) in cases {
            for gzip in [false, true] {
                let r = respond(method, path, latest.clone(), gzip);
                assert_eq!(
                    (r.status, r.content_type),
                    (status, content_type),
                    "{method} {path}"
                );
            }
        }
        assert_eq!(
            respond("GET", "/metrics", Some(text.clone()), false).body,
            Body::Text(text.clone())
        );
        assert_eq!(
            respond("GET", "/metrics", Some(text.clone()), true).body,
            Body::Gzip(text.clone())
        );
        // Only /metrics is worth compressing.
        assert_eq!(
            respond("GET", "/healthz", Some(text), true).body,
            Body::Static("ok\n")
        );
        assert_eq!(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
    }

    #[test]
    fn all_interfaces_are_woken_on_loopback() {
        let cases = [
            ("0.0.0.0:9819", "127.0.0.1:9819"),
            ("[::]:9819", "[::1]:9819"),
            ("127.0.0.1:1234", "127.0.0.1:1234"),
            ("[::1]:1234", "[::1]:1234"),
        ];
        for (listen, wanted) in cases {
            assert_eq!(
                wake_address(listen.parse().unwrap()),
                wanted.parse().unwrap()
            );
        }
    }
}
