//! Waiting on state that only shows from outside (a server's HTTP answers, a file another process
//! writes), where there is no thread to join nor line to read: ask again, with a deadline and a
//! bounded number of tries. Every wait of the suite that no event ends goes through here (and
//! `openbao.rs`, which stands alone, writes the same loop out).

use std::thread;
use std::time::{Duration, Instant};

/// Calls `probe` until it gives `Some`, every `every`, for at most `limit` and at most
/// `limit / every + 1` times; `None` when it never did.
pub fn until<T>(
    limit: Duration,
    every: Duration,
    mut probe: impl FnMut() -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + limit;
    let tries = limit.as_millis() / every.as_millis().max(1) + 1;
    for _ in 0..tries {
        if let Some(found) = probe() {
            return Some(found);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        thread::sleep(every.min(left));
    }
    None
}

#[test]
fn polling_stops_at_the_first_answer_or_the_deadline() {
    let mut calls = 0;
    let found = until(Duration::from_secs(10), Duration::from_millis(1), || {
        calls += 1;
        (calls == 3).then_some(calls)
    });
    assert_eq!(found, Some(3));

    let mut calls = 0;
    let start = Instant::now();
    let never: Option<()> = until(Duration::from_millis(50), Duration::from_millis(10), || {
        calls += 1;
        None
    });
    assert_eq!(never, None);
    assert!(calls <= 6, "{calls} tries");
    assert!(start.elapsed() < Duration::from_secs(5));
}
