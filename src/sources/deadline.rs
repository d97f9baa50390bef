//! A bound on how long a local read may take. Opening files without blocking (`crate::file`)
//! stops a FIFO from hanging a run, but a read of a regular file on a hung NFS or FUSE mount (or a
//! stuck CSI driver) can still never return. Such a read runs on its own thread and is abandoned
//! at its deadline: the credential or source it was for is reported unreadable and the run goes
//! on. While an abandoned read still hangs, the same read is not started again (a long-running
//! `serve` would otherwise pile up one stuck thread per refresh).

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::Duration;

/// How long the local reads of one source (a directory, or one inventory value) may take.
pub const LOCAL_READS: Duration = Duration::from_secs(30);

/// Reads abandoned at their deadline that have not returned yet, by key.
static STUCK: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

fn stuck() -> std::sync::MutexGuard<'static, BTreeSet<String>> {
    STUCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs `read` on its own thread and waits at most `limit` for it. `key` names the read (the
/// path it reads) in the message and in the bookkeeping of reads still stuck.
pub fn within<T: Send + 'static>(
    key: &str,
    limit: Duration,
    read: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    if stuck().contains(key) {
        return Err(format!(
            "an earlier read of `{key}` is still stuck (a hung mount?); not read again until it returns"
        ));
    }
    let (sender, receiver) = mpsc::channel();
    let owned_key = key.to_string();
    let spawned = std::thread::Builder::new()
        .name("credwatch-read".into())
        .spawn(move || {
            let value = read();
            // Sending fails only when the waiter gave up: the read is no longer stuck.
            if sender.send(value).is_err() {
                stuck().remove(&owned_key);
            }
        });
    if let Err(e) = spawned {
        return Err(format!("cannot start reading `{key}`: {e}"));
    }
    match receiver.recv_timeout(limit) {
        Ok(value) => Ok(value),
        Err(_) => {
            stuck().insert(key.to_string());
            // The thread may have finished between the timeout and the insert.
            if let Ok(value) = receiver.try_recv() {
                stuck().remove(key);
                return Ok(value);
            }
            Err(format!(
                "reading `{key}` did not finish within {}s (a hung mount?); abandoned",
                limit.as_secs_f64()
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_that_returns_in_time_gives_its_value() {
        assert_eq!(within("fast", Duration::from_secs(10), || 42), Ok(42));
    }

    #[test]
    fn a_read_that_hangs_is_abandoned_and_not_started_again_until_it_returns() {
        let (release, hold) = mpsc::channel::<()>();
        let (done, finished) = mpsc::channel::<()>();
        let err = within("/mnt/hung/token", Duration::from_millis(50), move || {
            let _ = hold.recv();
            let _ = done.send(());
            7
        })
        .unwrap_err();
        assert_eq!(
            err,
            "reading `/mnt/hung/token` did not finish within 0.05s (a hung mount?); abandoned"
        );
        let again = within("/mnt/hung/token", Duration::from_secs(10), || 8).unwrap_err();
        assert!(again.contains("is still stuck"), "{again}");
        // Other reads are not held up.
        assert_eq!(
            within("/mnt/ok/token", Duration::from_secs(10), || 9),
            Ok(9)
        );

        release.send(()).unwrap();
        finished.recv_timeout(Duration::from_secs(10)).unwrap();
        // The stuck read returned: once its thread has cleared it, the path is read again.
        let mut value = Err(String::new());
        for _ in 0..1000 {
            value = within("/mnt/hung/token", Duration::from_secs(10), || 10);
            if value.is_ok() {
                break;
            }
            std::thread::yield_now();
        }
        assert_eq!(value, Ok(10));
    }
}
