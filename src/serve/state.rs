//! What the two halves of `credwatch serve` share: the [`Latest`] published page and
//! [`Views`] (written by [`super::refresh`], read by [`super::exporter`]) and the [`Shutdown`] signal (triggered by the
//! signal handler, waited on by both). Neither half imports the other; both import this.
//!
//! A [`Page`] is gzipped once, when it is published, so that a scrape compresses nothing.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::write::GzEncoder;

/// One published exposition text, plain and gzipped.
#[derive(Debug, PartialEq, Eq)]
pub struct Page {
    pub text: String,
    pub gzip: Vec<u8>,
}

impl Page {
    /// Gzips `text` (the caller's thread pays for it, not a scrape).
    pub fn new(text: String) -> Page {
        let gzip = gzip(text.as_bytes());
        Page { text, gzip }
    }
}

/// What people look at, rendered by the refresh that published them: the status page (`/`) with
/// the policy it needs, and the expiry calendar (`/calendar.ics`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Views {
    pub html: String,
    /// The `Content-Security-Policy` header sent with `html`.
    pub csp: String,
    pub calendar: String,
}

/// The page that `/metrics` serves: replaced as a whole by each refresh, read without waiting
/// for one.
#[derive(Debug, Default)]
pub struct Latest {
    page: RwLock<Option<Arc<Page>>>,
    views: RwLock<Option<Arc<Views>>>,
}

impl Latest {
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes `text` what every following scrape gets. It is compressed before the swap, so a
    /// scrape waits at most for a pointer swap.
    pub fn publish(&self, text: String) {
        let page = Arc::new(Page::new(text));
        let replaced = self
            .page
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .replace(page);
        // The old page (megabytes) is freed after the lock is released, so that no scrape waits
        // for it; an answer still writing it holds its own reference.
        drop(replaced);
    }

    /// Makes `views` what `/` and `/calendar.ics` answer from now on.
    pub fn publish_views(&self, views: Views) {
        let replaced = self
            .views
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .replace(Arc::new(views));
        drop(replaced);
    }

    /// The last published views; `None` until the first collection finished.
    pub fn views(&self) -> Option<Arc<Views>> {
        self.views
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The last published page; `None` until the first collection finished.
    pub fn get(&self) -> Option<Arc<Page>> {
        self.page
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// A shutdown signal shared by the server, the refresh loop and the signal handler.
#[derive(Debug, Default)]
pub struct Shutdown {
    triggered: Mutex<bool>,
    changed: Condvar,
}

impl Shutdown {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn trigger(&self) {
        *lock(&self.triggered) = true;
        self.changed.notify_all();
    }

    pub fn is_triggered(&self) -> bool {
        *lock(&self.triggered)
    }

    /// Waits until shutdown is triggered.
    pub fn wait(&self) {
        let mut triggered = lock(&self.triggered);
        while !*triggered {
            triggered = self
                .changed
                .wait(triggered)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Waits at most `limit`; true when shutdown was triggered.
    pub fn wait_timeout(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut triggered = lock(&self.triggered);
        while !*triggered {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            triggered = self
                .changed
                .wait_timeout(triggered, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        *triggered
    }
}

/// `data` as one gzip member (RFC 1952) at compression level 6, with a bare header (no name, no
/// time, OS unknown), written by flate2. Pure.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(data.len() / 4 + 64), Compression::new(6));
    // Writing into a `Vec` cannot fail, so neither can the encoder.
    let written = encoder.write_all(data).and_then(|()| encoder.finish());
    debug_assert!(written.is_ok(), "gzip into memory failed: {written:?}");
    written.unwrap_or_default()
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::thread;

    use super::*;

    #[test]
    fn gzip_members_carry_the_crc_and_length_and_inflate_back() {
        let text = "credwatch_credential_read_ok{credential=\"a\"} 1\n".repeat(1000);
        let member = gzip(text.as_bytes());
        // Magic, DEFLATE, no flags, no modification time, no extra flags, OS unknown.
        assert_eq!(&member[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
        let n = member.len();
        let crc = {
            let mut crc = flate2::Crc::new();
            crc.update(text.as_bytes());
            crc.sum()
        };
        assert_eq!(member[n - 8..n - 4], crc.to_le_bytes());
        assert_eq!(member[n - 4..], (text.len() as u32).to_le_bytes());
        let mut inflated = String::new();
        flate2::read::GzDecoder::new(&member[..])
            .read_to_string(&mut inflated)
            .unwrap();
        assert_eq!(inflated, text);
        assert!(n < text.len() / 10, "{n} bytes");
        // The empty text is a valid member too.
        let empty = gzip(b"");
        assert_eq!(empty[empty.len() - 8..], [0; 8]);
    }

    #[test]
    fn a_published_page_replaces_the_last_one_whole() {
        let latest = Latest::new();
        assert_eq!(latest.get(), None);
        latest.publish("x 1\n".into());
        let first = latest.get().unwrap();
        latest.publish("x 2\n".into());
        assert_eq!(first.text, "x 1\n", "a page already taken stays as it was");
        let second = latest.get().unwrap();
        assert_eq!(*second, Page::new("x 2\n".into()));
    }

    #[test]
    fn shutdown_wakes_every_waiter() {
        let shutdown = Arc::new(Shutdown::new());
        assert!(!shutdown.wait_timeout(Duration::from_millis(1)));
        let waiter = {
            let s = shutdown.clone();
            thread::spawn(move || s.wait())
        };
        shutdown.trigger();
        waiter.join().unwrap();
        assert!(shutdown.is_triggered());
        assert!(shutdown.wait_timeout(Duration::from_secs(60)));
    }
}
