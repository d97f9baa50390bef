//! A loopback TCP proxy in front of a real server that loses the answer to chosen requests:
//! it resets the client's connection either after the server applied the request or before
//! forwarding it. A stand-in for a fault a real server cannot be made to produce (OpenBao always
//! answers a write it applied); every other request is passed through unchanged, one request per
//! connection (`Connection: close` upstream and back).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// When the answer of a matching request is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// The request is forwarded and fully answered by the server; the client gets a reset.
    AfterForwarding,
    /// The client gets a reset before anything is forwarded.
    BeforeForwarding,
}

/// Which requests lose their answer: `(method, path)` → lose it.
pub type Matcher = fn(&str, &str) -> bool;

pub struct LossyProxy {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    addr: std::net::SocketAddr,
    stop: Arc<AtomicBool>,
    lost: Arc<AtomicUsize>,
    accept: Option<JoinHandle<()>>,
}

/// Every read and write of the proxy gives up after this long, so nothing in a test hangs.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// A request head larger than this is refused (the proxy is for small API requests).
const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 1024 * 1024;
const MAX_ANSWER: usize = 16 * 1024 * 1024;

impl LossyProxy {
    /// Proxies to `upstream` (`http://host:port`), losing the answer of requests `lose` matches.
    pub fn start(upstream: &str, loss: Loss, lose: Matcher) -> LossyProxy {
        let upstream = upstream
            .strip_prefix("http://")
            .expect("a plain-HTTP upstream")
            .trim_end_matches('/')
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let stop = Arc::new(AtomicBool::new(false));
        let lost = Arc::new(AtomicUsize::new(0));
        let (stop_in, lost_in) = (stop.clone(), lost.clone());
        let accept = std::thread::spawn(move || {
            for client in listener.incoming() {
                if stop_in.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let (upstream, lost) = (upstream.clone(), lost_in.clone());
                std::thread::spawn(move || {
                    serve_one(client, &upstream, loss, lose, &lost);
                });
            }
        });
        LossyProxy {
            url: format!("http://{addr}"),
            addr,
            stop,
            lost,
            accept: Some(accept),
        }
    }

    /// How many answers were lost so far.
    pub fn lost(&self) -> usize {
        self.lost.load(Ordering::SeqCst)
    }
}

impl Drop for LossyProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, IO_TIMEOUT);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

/// One request on one client connection.
fn serve_one(mut client: TcpStream, upstream: &str, loss: Loss, lose: Matcher, lost: &AtomicUsize) {
    let _ = client.set_read_timeout(Some(IO_TIMEOUT));
    let _ = client.set_write_timeout(Some(IO_TIMEOUT));
    let Some((head, body)) = read_request(&mut client) else {
        return;
    };
    let mut words = head.split(' ');
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let losing = lose(method, path);
    if losing && loss == Loss::BeforeForwarding {
        lost.fetch_add(1, Ordering::SeqCst);
        reset(client);
        return;
    }
    let Some(answer) = forward(upstream, &head, &body) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    if losing {
        lost.fetch_add(1, Ordering::SeqCst);
        reset(client);
        return;
    }
    let _ = client.write_all(&answer);
    let _ = client.shutdown(Shutdown::Both);
}

/// Reads a request head and its `Content-Length` body; `None` on EOF, a timeout or a request
/// this proxy does not handle (a chunked body).
fn read_request(client: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
        let n = client.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).ok()?;
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    };
    assert!(
        header("transfer-encoding").is_none(),
        "the lossy proxy handles Content-Length bodies only: {head}"
    );
    let length: usize = header("content-length").map_or(Some(0), |v| v.parse().ok())?;
    if length > MAX_BODY {
        return None;
    }
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = client.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Some((head, body))
}

/// Sends the request upstream with `Connection: close` and reads the whole answer.
fn forward(upstream: &str, head: &str, body: &[u8]) -> Option<Vec<u8>> {
    let mut server = TcpStream::connect(upstream).ok()?;
    let _ = server.set_read_timeout(Some(IO_TIMEOUT));
    let _ = server.set_write_timeout(Some(IO_TIMEOUT));
    let mut out = String::new();
    for line in head.trim_end().split("\r\n") {
        let name = line.split(':').next().unwrap_or("").trim();
        if name.eq_ignore_ascii_case("connection") || name.eq_ignore_ascii_case("keep-alive") {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    server.write_all(out.as_bytes()).ok()?;
    server.write_all(body).ok()?;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = server.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&chunk[..n]);
        if answer.len() > MAX_ANSWER {
            return None;
        }
    }
    Some(answer)
}

/// Closes with a TCP reset (`SO_LINGER` 0) instead of an orderly close.
fn reset(stream: TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket descriptor owned by `stream`, a correctly sized `linger`.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "set SO_LINGER");
    drop(stream);
}
