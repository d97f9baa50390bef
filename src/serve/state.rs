//! What the two halves of `credwatch serve` share: the [`Latest`] published page and
//! [`Views`] (written by [`super::refresh`], read by [`super::exporter`]) and the [`Shutdown`] signal (triggered by the
//! signal handler, waited on by both). Neither half imports the other; both import this.
//!
//! A [`Page`] is gzipped once, when it is published, so that a scrape compresses nothing. Most
//! of a refresh's text is the text of the refresh before it (the credentials' series change when
//! a credential does; the run's own series, at the end, every time), so a page reuses the
//! compressed form of what it shares with the page it replaces ([`Page::after`]). The
//! [`Views`] are rendered from their report when first asked for, not by every refresh: the
//! status page and calendar of 10k credentials cost more than the refresh itself, and most
//! refreshes are scraped but never looked at.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError, RwLock};
use std::time::{Duration, Instant};

use flate2::write::GzEncoder;
use flate2::{Compress, Compression, Crc, FlushCompress, Status};

use crate::assess::Report;
use crate::output;

/// One published exposition text, plain and gzipped.
#[derive(Debug)]
pub struct Page {
    pub text: String,
    /// One gzip member (RFC 1952) that inflates to `text`.
    pub gzip: Vec<u8>,
    /// Where `gzip` can be split for the next page, if anywhere.
    reusable: Option<Reusable>,
    /// How many bytes of `text` were compressed for this page; the rest came compressed from
    /// the page before.
    compressed: usize,
}

/// The start of a page that the next page may share: the first `text` bytes of the text (a
/// whole number of lines) are compressed in `gzip[HEADER.len()..HEADER.len() + deflate]`,
/// which ends with a sync flush (byte-aligned, the stream left open), and their CRC-32 is
/// `crc`. A page whose text starts with the same bytes copies that part and compresses only
/// the rest, with a compressor of its own that refers to nothing before it; the concatenation
/// is one DEFLATE stream.
#[derive(Debug)]
struct Reusable {
    text: usize,
    deflate: usize,
    crc: Crc,
}

/// The gzip header: magic, DEFLATE, no flags, no modification time, no extra flags, OS
/// unknown; what flate2 writes at level 6.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// How much more than the shared start a page compresses before it compresses its whole text
/// again, to give the next page a longer start to share: after a change early in the text, the
/// pages that follow would otherwise each compress everything after it.
const RECOMPRESS_AFTER: usize = 64 << 10;

impl Page {
    /// Gzips `text` (the caller's thread pays for it, not a scrape).
    pub fn new(text: String) -> Page {
        Page::after(None, text)
    }

    /// The page of `text`, gzipped reusing what it shares with `previous`, the page it
    /// replaces. The gzip may differ from [`gzip`]'s in its bytes (the blocks are cut where the
    /// texts part), never in what it inflates to.
    pub fn after(previous: Option<&Page>, text: String) -> Page {
        let shared = previous.map_or(0, |p| shared_lines(&p.text, &text));
        let reuse = previous.and_then(|p| {
            let r = p.reusable.as_ref()?;
            (r.text <= shared && shared - r.text <= RECOMPRESS_AFTER).then_some((p, r))
        });
        let built = match reuse {
            Some((p, r)) => continued(&p.gzip[..HEADER.len() + r.deflate], r, &text),
            None => split(&text, shared),
        };
        let compressed = text.len() - reuse.map_or(0, |(_, r)| r.text);
        match built {
            Ok((gzip, reusable)) => Page {
                text,
                gzip,
                reusable,
                compressed,
            },
            // Compressing into memory does not fail; if it did, the one-shot gzip is as good.
            Err(e) => {
                debug_assert!(false, "gzip into memory failed: {e}");
                Page {
                    gzip: gzip(text.as_bytes()),
                    compressed: text.len(),
                    text,
                    reusable: None,
                }
            }
        }
    }
}

/// Pages are equal when they serve the same bytes.
impl PartialEq for Page {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text && self.gzip == other.gzip
    }
}

impl Eq for Page {}

/// The length of the longest run of whole lines that `a` and `b` both start with. Pure.
fn shared_lines(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let n = a.len().min(b.len());
    // Blocks first (a `memcmp` each), then the bytes of the first block that differs.
    const BLOCK: usize = 4096;
    let mut same = 0;
    while same + BLOCK <= n && a[same..same + BLOCK] == b[same..same + BLOCK] {
        same += BLOCK;
    }
    same += a[same..n]
        .iter()
        .zip(&b[same..n])
        .take_while(|(x, y)| x == y)
        .count();
    b[..same]
        .iter()
        .rposition(|&c| c == b'\n')
        .map_or(0, |i| i + 1)
}

/// A gzip member of `text` whose first `cut` bytes end with a sync flush, and how the next
/// page can reuse them (`None` when `cut` is 0).
fn split(text: &str, cut: usize) -> Result<(Vec<u8>, Option<Reusable>), flate2::CompressError> {
    let (start, rest) = text.as_bytes().split_at(cut);
    let mut out = Vec::with_capacity(text.len() / 4 + 64);
    out.extend_from_slice(&HEADER);
    let mut compress = Compress::new(Compression::new(6), false);
    let mut crc = Crc::new();
    let reusable = if cut > 0 {
        deflate(&mut compress, start, &mut out, FlushCompress::Sync)?;
        crc.update(start);
        Some(Reusable {
            text: cut,
            deflate: out.len() - HEADER.len(),
            crc: copy(&crc),
        })
    } else {
        None
    };
    // The same compressor goes on: this page's rest may refer back into its start.
    deflate(&mut compress, rest, &mut out, FlushCompress::Finish)?;
    crc.update(rest);
    trailer(&mut out, &crc);
    Ok((out, reusable))
}

/// A gzip member of `text` from `start`, the header and compressed start of a page whose text
/// starts as `text` does for `reusable.text` bytes; the rest is compressed by a fresh
/// compressor. The next page may reuse the same start.
fn continued(
    start: &[u8],
    reusable: &Reusable,
    text: &str,
) -> Result<(Vec<u8>, Option<Reusable>), flate2::CompressError> {
    let rest = &text.as_bytes()[reusable.text..];
    let mut out = Vec::with_capacity(start.len() + rest.len() / 4 + 64);
    out.extend_from_slice(start);
    deflate(
        &mut Compress::new(Compression::new(6), false),
        rest,
        &mut out,
        FlushCompress::Finish,
    )?;
    let mut crc = copy(&reusable.crc);
    let mut rest_crc = Crc::new();
    rest_crc.update(rest);
    crc.combine(&rest_crc);
    trailer(&mut out, &crc);
    Ok((
        out,
        Some(Reusable {
            text: reusable.text,
            deflate: reusable.deflate,
            crc: copy(&reusable.crc),
        }),
    ))
}

/// Compresses all of `input` onto `out`, then flushes as `flush` says: `Sync` ends on a byte
/// boundary with the stream left open, `Finish` ends the stream.
fn deflate(
    compress: &mut Compress,
    input: &[u8],
    out: &mut Vec<u8>,
    flush: FlushCompress,
) -> Result<(), flate2::CompressError> {
    let started = compress.total_in();
    loop {
        if out.capacity() - out.len() < 1024 {
            out.reserve(out.len() / 2 + 4096);
        }
        let consumed = (compress.total_in() - started) as usize;
        let status = compress.compress_vec(&input[consumed..], out, flush)?;
        let all_in = (compress.total_in() - started) as usize == input.len();
        match (flush, status) {
            (FlushCompress::Finish, Status::StreamEnd) => return Ok(()),
            // A flush is complete once it left room unused in `out`.
            (FlushCompress::Sync, _) if all_in && out.len() < out.capacity() => return Ok(()),
            _ => {}
        }
    }
}

/// The gzip trailer: the CRC-32 and the length (modulo 2^32) of the whole text.
fn trailer(out: &mut Vec<u8>, crc: &Crc) {
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&crc.amount().to_le_bytes());
}

/// A CRC equal to `crc` (flate2's is not `Clone`): the empty text's CRC (0) combined with it.
fn copy(crc: &Crc) -> Crc {
    let mut copy = Crc::new();
    copy.combine(crc);
    copy
}

/// What people look at, of the report of one refresh: the status page (`/`) with the policy it
/// needs, and the expiry calendar (`/calendar.ics`). Each is rendered once, by the first request
/// that needs it; the requests after it share that text.
#[derive(Debug)]
pub struct Views {
    report: Option<Arc<Report>>,
    html: OnceLock<String>,
    calendar: OnceLock<String>,
    /// The `Content-Security-Policy` header sent with the status page.
    pub csp: String,
}

impl Views {
    /// The views of `report`, rendered when first asked for.
    pub fn of(report: Arc<Report>) -> Self {
        Views {
            report: Some(report),
            html: OnceLock::new(),
            calendar: OnceLock::new(),
            csp: output::html::content_security_policy(),
        }
    }

    /// Views whose texts are given (tests of the answers).
    #[cfg(test)]
    pub fn fixed(html: &str, csp: &str, calendar: &str) -> Self {
        Views {
            report: None,
            html: OnceLock::from(html.to_string()),
            calendar: OnceLock::from(calendar.to_string()),
            csp: csp.to_string(),
        }
    }

    /// The status page.
    pub fn html(&self) -> &str {
        self.html.get_or_init(|| {
            self.report
                .as_deref()
                .map(output::html::render_html)
                .unwrap_or_default()
        })
    }

    /// The expiry calendar.
    pub fn calendar(&self) -> &str {
        self.calendar.get_or_init(|| {
            self.report
                .as_deref()
                .map(output::calendar::render_calendar)
                .unwrap_or_default()
        })
    }
}

impl PartialEq for Views {
    fn eq(&self, other: &Self) -> bool {
        self.csp == other.csp && self.html() == other.html() && self.calendar() == other.calendar()
    }
}

impl Eq for Views {}

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
        // The new page reuses what it shares with the one it replaces. Only the refresh thread
        // publishes; were another page published in between, this one would only reuse less.
        let previous = self.get();
        let page = Arc::new(Page::after(previous.as_deref(), text));
        drop(previous);
        log::debug!(
            "published {} bytes, {} of them compressed anew, gzipped to {}",
            page.text.len(),
            page.compressed,
            page.gzip.len()
        );
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

    /// What a gzip member inflates to, after checking that it is one whole member: its trailer
    /// holds the CRC-32 and length of what it inflates to, and nothing follows it.
    fn inflate(member: &[u8]) -> String {
        let mut decoder = flate2::bufread::GzDecoder::new(member);
        let mut text = String::new();
        decoder.read_to_string(&mut text).unwrap();
        assert!(decoder.into_inner().is_empty(), "bytes after the member");
        let n = member.len();
        let mut crc = Crc::new();
        crc.update(text.as_bytes());
        assert_eq!(member[n - 8..n - 4], crc.sum().to_le_bytes());
        assert_eq!(member[n - 4..], (text.len() as u32).to_le_bytes());
        text
    }

    /// A text like a refresh's: `credentials` lines of series (the `changed`th with another
    /// value), then the run's own series.
    fn refresh_text(credentials: usize, changed: Option<usize>, run: u64) -> String {
        let mut text = String::from("# TYPE credwatch_credential_expiry_timestamp_seconds gauge\n");
        for i in 0..credentials {
            let expiry = 1_800_000_000 + 86_400 * (i % 300) + usize::from(changed == Some(i));
            text += &format!(
                "credwatch_credential_expiry_timestamp_seconds{{credential=\"credential-{i:06}\",source=\"configmap\"}} {expiry}\n"
            );
        }
        text + &format!(
            "# TYPE credwatch_last_run_timestamp_seconds gauge\ncredwatch_last_run_timestamp_seconds {run}\n"
        )
    }

    #[test]
    fn each_page_inflates_to_its_own_text_whatever_it_shares_with_the_last() {
        let big = |changed, run| refresh_text(5000, changed, run);
        let texts = [
            big(None, 1_800_000_000),
            // Only the run's series change: the credentials are compressed once.
            big(None, 1_800_000_001),
            big(None, 1_800_000_002),
            big(None, 1_800_000_002) + "x 1\n",
            big(None, 1_800_000_002),
            // The same text again.
            big(None, 1_800_000_002),
            // A change in the first line, in the middle, just before the run's series.
            big(Some(0), 1_800_000_003),
            big(Some(2500), 1_800_000_004),
            big(Some(4999), 1_800_000_005),
            big(Some(4999), 1_800_000_006),
            // Shorter than the start the last page shares, then empty, then no line ends.
            refresh_text(100, None, 1_800_000_007),
            String::new(),
            "x 1".into(),
            "x 12".into(),
            "x 1\ny 2".into(),
            "x 1\ny 3".into(),
            big(None, 1_800_000_008),
            big(None, 1_800_000_009),
        ];
        let mut previous: Option<Page> = None;
        for (i, text) in texts.into_iter().enumerate() {
            let page = Page::after(previous.as_ref(), text.clone());
            assert_eq!(inflate(&page.gzip), text, "page {i}");
            assert_eq!(page.text, text);
            // About as small as the text gzipped in one go.
            let whole = gzip(text.as_bytes()).len();
            assert!(
                page.gzip.len() <= whole + 64,
                "page {i}: {} > {whole}",
                page.gzip.len()
            );
            previous = Some(page);
        }
    }

    #[test]
    fn a_page_copies_the_compressed_credentials_of_the_last_and_compresses_only_the_rest() {
        let first = Page::new(refresh_text(5000, None, 1_800_000_000));
        assert!(first.reusable.is_none(), "nothing to share it with yet");
        let second = Page::after(Some(&first), refresh_text(5000, None, 1_800_000_001));
        assert_eq!(
            second.compressed,
            second.text.len(),
            "the first to share: whole"
        );
        let start = second.reusable.as_ref().unwrap();
        let text = refresh_text(5000, None, 0);
        let credentials = text
            .rfind("credwatch_last_run_timestamp_seconds 0")
            .unwrap();
        assert_eq!(start.text, credentials, "every whole line the two share");
        let shared = HEADER.len() + start.deflate;
        for run in 2..5 {
            let next = Page::after(Some(&second), refresh_text(5000, None, 1_800_000_000 + run));
            assert_eq!(next.gzip[..shared], second.gzip[..shared]);
            assert_eq!(next.compressed, next.text.len() - credentials);
            assert_eq!(next.reusable.as_ref().unwrap().text, credentials);
            assert_eq!(inflate(&next.gzip), next.text);
        }
        // A credential changed: the start it shares is shorter, and compressed again.
        let changed = Page::after(Some(&second), refresh_text(5000, Some(10), 1_800_000_005));
        assert_eq!(inflate(&changed.gzip), changed.text);
        assert_eq!(changed.compressed, changed.text.len());
        let start = changed.reusable.as_ref().unwrap();
        assert!(start.text < 2000, "{}", start.text);
        // The next page, with the change kept, shares all of its credentials again rather than
        // compressing what follows the change on every refresh.
        let after = Page::after(Some(&changed), refresh_text(5000, Some(10), 1_800_000_006));
        assert_eq!(after.reusable.as_ref().unwrap().text, credentials);
        assert_eq!(after.compressed, after.text.len());
        assert_eq!(inflate(&after.gzip), after.text);
        let again = Page::after(Some(&after), refresh_text(5000, Some(10), 1_800_000_007));
        assert_eq!(again.compressed, again.text.len() - credentials);
        assert_eq!(inflate(&again.gzip), again.text);
    }

    #[test]
    fn a_published_page_shares_the_start_of_the_one_it_replaces() {
        let latest = Latest::new();
        for run in 0..3 {
            let text = refresh_text(1000, None, 1_800_000_000 + run);
            latest.publish(text.clone());
            let page = latest.get().unwrap();
            assert_eq!(inflate(&page.gzip), text);
            assert_eq!(page.reusable.is_some(), run > 0, "run {run}");
            // From the third on, only the run's series are compressed.
            assert_eq!(
                page.compressed < 100,
                run > 1,
                "run {run}: {}",
                page.compressed
            );
        }
    }

    proptest::proptest! {
        /// Pages made of a few distinct lines (with and without a last line end), one after
        /// another, each inflate to their own text.
        #[test]
        fn any_run_of_pages_inflates_to_their_texts(
            texts in proptest::collection::vec(
                (proptest::collection::vec(0u8..4, 0..30), proptest::bool::ANY), 1..8),
        ) {
            let mut previous: Option<Page> = None;
            for (lines, open_end) in texts {
                let mut text: String = lines.iter().map(|l| format!("series{{l=\"{l}\"}} {l}\n")).collect();
                if open_end {
                    text.push_str("tail 1");
                }
                let page = Page::after(previous.as_ref(), text.clone());
                proptest::prop_assert_eq!(inflate(&page.gzip), text);
                previous = Some(page);
            }
        }
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
