//! A bounded pool of scoped worker threads over an ordered list, results in the list's order.

use std::sync::atomic::{AtomicUsize, Ordering};

/// `f` over `items` on at most `workers` scoped threads (at least one), results in the order of
/// `items`. Workers take the next item as they become free, so a slow item holds up only its
/// own worker. A panic in `f` is propagated to the caller.
pub fn map_ordered<T: Sync, R: Send>(
    items: &[T],
    workers: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    if items.is_empty() {
        return Vec::new();
    }
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else { break };
            done.push((i, f(item)));
        }
        done
    };
    // Each worker takes rising indices and keeps its own results: no lock, no empty slot.
    let mut indexed: Vec<(usize, R)> = Vec::with_capacity(items.len());
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers.clamp(1, items.len()))
            .map(|_| scope.spawn(work))
            .collect();
        for handle in handles {
            match handle.join() {
                Ok(done) => indexed.extend(done),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
    indexed.sort_unstable_by_key(|(i, _)| *i);
    indexed.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::Mutex;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn results_come_in_input_order_whatever_the_worker_count() {
        let items: Vec<u64> = (0..1000).collect();
        for workers in [0, 1, 3, 16, 5000] {
            let out = map_ordered(&items, workers, |n| n * 2);
            assert_eq!(
                out,
                items.iter().map(|n| n * 2).collect::<Vec<_>>(),
                "{workers}"
            );
        }
        assert!(map_ordered(&[] as &[u8], 4, |b| *b).is_empty());
    }

    #[test]
    fn no_more_threads_than_asked_work_at_once() {
        let items: Vec<usize> = (0..200).collect();
        let running = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let threads = Mutex::new(HashSet::new());
        map_ordered(&items, 4, |_| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            if let Ok(mut t) = threads.lock() {
                t.insert(std::thread::current().id());
            }
            std::thread::yield_now();
            running.fetch_sub(1, Ordering::SeqCst);
        });
        assert!(peak.load(Ordering::SeqCst) <= 4);
        assert!(threads.lock().unwrap().len() <= 4);
    }

    #[test]
    fn a_panic_in_a_worker_reaches_the_caller() {
        let items = [1, 2, 3];
        let caught = std::panic::catch_unwind(|| {
            map_ordered(&items, 2, |n| {
                assert_ne!(*n, 2, "boom");
                *n
            })
        });
        assert!(caught.is_err());
    }
}
