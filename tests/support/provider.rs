//! A loopback HTTPS stand-in for providers the tests cannot reach (Anthropic, GitHub, GitLab). It
//! answers only what their documentation says (see the README's "Probes" section for which
//! answers and which documents), chosen per request by a handler, and records every request so
//! that tests can check what was sent. Its certificate comes from a CA generated here; the CA's PEM
//! is written to a file the probe trusts (`ca_file`). Stopped (and its thread joined) on drop.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    /// Path and query.
    pub target: String,
    /// Lowercase names.
    pub headers: BTreeMap<String, String>,
}

/// What the stand-in answers.
pub enum Reply {
    Answer {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Say nothing until the server stops (a provider that hangs).
    Hang,
}

impl Reply {
    pub fn json(status: u16, body: &str) -> Reply {
        Reply::Answer {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
        }
    }
}

type Handler = dyn Fn(&Received) -> Reply + Send + Sync;

pub struct Provider {
    pub url: String,
    pub ca_file: PathBuf,
    received: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
    /// Dropped on stop: wakes hanging answers.
    wake: Option<Sender<()>>,
    addr: SocketAddr,
    thread: Option<JoinHandle<()>>,
}

fn tls_config(dir: &Path) -> (Arc<rustls::ServerConfig>, PathBuf) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let params = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    let ca_file = dir.join("provider-ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    (Arc::new(config), ca_file)
}

impl Provider {
    /// Starts on a free loopback port; the CA file goes into `dir`.
    pub fn start(
        dir: &Path,
        handler: impl Fn(&Received) -> Reply + Send + Sync + 'static,
    ) -> Provider {
        let (tls, ca_file) = tls_config(dir);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (wake, woken) = channel::<()>();
        let woken = Arc::new(Mutex::new(woken));
        let handler: Arc<Handler> = Arc::new(handler);
        let thread = {
            let (received, stop) = (received.clone(), stop.clone());
            thread::spawn(move || {
                let mut workers = Vec::new();
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let (tls, received, handler, woken) = (
                        tls.clone(),
                        received.clone(),
                        handler.clone(),
                        woken.clone(),
                    );
                    workers.push(thread::spawn(move || {
                        serve_one(stream, tls, &received, &*handler, &woken)
                    }));
                }
                for w in workers {
                    let _ = w.join();
                }
            })
        };
        Provider {
            url: format!("https://{addr}"),
            ca_file,
            received,
            stop,
            wake: Some(wake),
            addr,
            thread: Some(thread),
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

fn serve_one(
    stream: TcpStream,
    tls: Arc<rustls::ServerConfig>,
    received: &Mutex<Vec<Received>>,
    handler: &Handler,
    woken: &Mutex<Receiver<()>>,
) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(conn) = rustls::ServerConnection::new(tls) else {
        return;
    };
    let mut tls = rustls::StreamOwned::new(conn, stream);
    let mut reader = BufReader::new(&mut tls);
    let mut head = Vec::new();
    // The request head: lines until an empty one, at most 64 KiB.
    while head.len() < 64 << 10 {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line == "\r\n" => break,
            Ok(_) => head.push(line),
        }
    }
    drop(reader);
    let Some(first) = head.first() else { return };
    let mut words = first.split_whitespace();
    let (method, target) = (
        words.next().unwrap_or_default().to_string(),
        words.next().unwrap_or_default().to_string(),
    );
    let headers = head[1..]
        .iter()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.trim().to_ascii_lowercase(), v.trim().to_string()))
        })
        .collect();
    let request = Received {
        method,
        target,
        headers,
    };
    let reply = handler(&request);
    received.lock().unwrap().push(request);
    match reply {
        Reply::Hang => {
            // Until the server stops (the sender is dropped), bounded by a deadline.
            let _ = woken.lock().unwrap().recv_timeout(Duration::from_secs(30));
        }
        Reply::Answer {
            status,
            headers,
            body,
        } => {
            let mut out = format!(
                "HTTP/1.1 {status} Stand-in\r\ncontent-length: {}\r\nconnection: close\r\n",
                body.len()
            );
            for (k, v) in headers {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
            out.push_str("\r\n");
            let _ = tls.write_all(out.as_bytes());
            let _ = tls.write_all(&body);
            let _ = tls.flush();
            tls.conn.send_close_notify();
            let _ = tls.flush();
            let mut rest = [0u8; 64];
            let _ = tls.read(&mut rest);
        }
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.wake.take();
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
