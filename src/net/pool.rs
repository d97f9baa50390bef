//! A bounded pool of scoped worker threads over an ordered list, results in the list's order,
//! and a [`Gate`] that bounds how many of several pools' requests are in flight at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

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

/// At most `places` holders at once, whichever threads or pools they come from. A holder that
/// goes [`Gate::first`] (work that finds more work, such as a listing) gets the next free place
/// before the others waiting.
pub struct Gate {
    state: Mutex<GateState>,
    /// Where those going first wait, and the others.
    first: Condvar,
    others: Condvar,
}

struct GateState {
    free: usize,
    first_waiting: usize,
    /// Holders waiting, first or not.
    waiting: usize,
}

/// A place taken in a [`Gate`], given back when dropped.
pub struct Pass<'a>(&'a Gate);

impl Gate {
    /// A gate of `places` places (at least one).
    pub fn new(places: usize) -> Gate {
        Gate {
            state: Mutex::new(GateState {
                free: places.max(1),
                first_waiting: 0,
                waiting: 0,
            }),
            first: Condvar::new(),
            others: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for a free place, after those going first.
    pub fn enter(&self) -> Pass<'_> {
        let mut state = self.lock();
        state.waiting += 1;
        while state.free == 0 || state.first_waiting > 0 {
            state = self
                .others
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.free -= 1;
        state.waiting -= 1;
        Pass(self)
    }

    /// Waits for a free place, before the others waiting.
    pub fn first(&self) -> Pass<'_> {
        let mut state = self.lock();
        state.first_waiting += 1;
        state.waiting += 1;
        while state.free == 0 {
            state = self
                .first
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.free -= 1;
        state.first_waiting -= 1;
        state.waiting -= 1;
        // The last one going first lets the others see a place left free.
        if state.first_waiting == 0 && state.free > 0 {
            self.others.notify_one();
        }
        Pass(self)
    }
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.free += 1;
        if state.first_waiting > 0 {
            self.0.first.notify_one();
        } else {
            self.0.others.notify_one();
        }
    }
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

    #[test]
    fn a_gate_lets_no_more_than_its_places_through_from_any_pool() {
        let gate = Gate::new(3);
        let running = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let items: Vec<usize> = (0..300).collect();
        let work = |first: bool| {
            let _pass = if first { gate.first() } else { gate.enter() };
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            std::thread::yield_now();
            running.fetch_sub(1, Ordering::SeqCst);
        };
        std::thread::scope(|s| {
            s.spawn(|| map_ordered(&items, 8, |_| work(false)));
            s.spawn(|| map_ordered(&items, 8, |i| work(i % 2 == 0)));
        });
        assert!(peak.load(Ordering::SeqCst) <= 3, "{peak:?}");
        assert_eq!(running.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn those_going_first_get_the_next_free_place() {
        let gate = Gate::new(1);
        let order = Mutex::new(Vec::new());
        let held = gate.enter();
        // Bounded: `n` holders are seen waiting within 10 s, or the test fails.
        let waiting = |n: usize| {
            for _ in 0..10_000 {
                if gate.lock().waiting == n {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            panic!("{n} holders never waited");
        };
        std::thread::scope(|s| {
            s.spawn(|| {
                let _p = gate.enter();
                order.lock().unwrap().push("other");
            });
            waiting(1);
            s.spawn(|| {
                let _p = gate.first();
                order.lock().unwrap().push("first");
            });
            waiting(2);
            drop(held);
        });
        assert_eq!(*order.lock().unwrap(), ["first", "other"]);
    }
}
