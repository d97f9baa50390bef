//! Folders listed ahead of a recursive walk's turn, on background threads, so that the walk
//! waits at most for the folder it needs next, not for a batch. The walk itself stays
//! sequential: it takes the listings one by one in its own order, so its result and its first
//! error are those of a walk that lists one folder at a time. Edge I/O mechanics only: what a
//! listing is belongs to the caller (`list`).

use std::collections::{HashMap, HashSet, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use super::error::VaultError;

/// The keys of one folder, or why they could not be listed.
pub(super) type Listing = Result<Vec<String>, VaultError>;

/// Lists `folder` refusing more than `cap` keys (a [`VaultError::LimitExceeded`] then).
pub(super) type List<'a> = dyn Fn(&str, usize) -> Listing + Sync + 'a;

/// Folders asked for at most at once per worker: the one the walk waits for and those next in
/// line.
const AHEAD_PER_WORKER: usize = 4;

/// Runs `walk` with a [`Lister`] whose `workers` threads list folders ahead of its turn, at most
/// `AHEAD_PER_WORKER × workers` folders asked for at once. `budget` is the walk's limit on
/// keys (`max_entries`): the folder the walk waits for is listed under it, a folder listed ahead
/// under an equal share of it, so that what waits to be taken is bounded by `budget` keys. A
/// folder over its share is listed again, under the whole budget, when its turn comes. When
/// `walk` returns, the listings not yet started are dropped and those under way are waited for.
pub(super) fn with_lister<R>(
    workers: usize,
    budget: usize,
    list: &List<'_>,
    walk: impl FnOnce(&mut Lister<'_>) -> R,
) -> R {
    let workers = workers.max(1);
    let bound = AHEAD_PER_WORKER * workers;
    let shared = Shared {
        state: Mutex::new(State::default()),
        work: Condvar::new(),
        done: Condvar::new(),
    };
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| shared.serve(list));
        }
        let mut lister = Lister {
            shared: &shared,
            budget,
            share: (budget / bound).max(1),
            bound,
        };
        // Closed however `walk` ends, a panic included, so that the workers stop.
        struct Close<'s>(&'s Shared);
        impl Drop for Close<'_> {
            fn drop(&mut self) {
                let mut state = self.0.lock();
                state.closed = true;
                state.queue.clear();
                self.0.work.notify_all();
            }
        }
        let _close = Close(&shared);
        walk(&mut lister)
    })
}

/// What the walk holds: a way to take the listing of the folder whose turn it is.
pub(super) struct Lister<'s> {
    shared: &'s Shared,
    budget: usize,
    share: usize,
    bound: usize,
}

impl Lister<'_> {
    /// The listing of `folder` (under the whole budget), waiting for it if need be; first it
    /// asks for `folder` if not yet asked for, before any other, and for the folders of
    /// `next_in_line` (in the walk's order) not yet asked for, as far as the bound allows.
    pub(super) fn take<'f>(
        &mut self,
        folder: &str,
        next_in_line: impl Iterator<Item = &'f str>,
    ) -> Listing {
        let mut state = self.shared.lock();
        state.ask_first(folder, self.budget);
        for next in next_in_line {
            if state.asked.len() >= self.bound {
                break;
            }
            if next != folder && !state.asked.contains(next) {
                state.asked.insert(next.to_string());
                state.queue.push_back((next.to_string(), self.share));
            }
        }
        self.shared.work.notify_all();
        loop {
            if let Some(panic) = state.panic.take() {
                drop(state);
                resume_unwind(panic);
            }
            if let Some((cap, listing)) = state.done.remove(folder) {
                state.asked.remove(folder);
                // Over its share: listed again now, under the whole budget.
                if cap < self.budget && matches!(listing, Err(VaultError::LimitExceeded { .. })) {
                    state.ask_first(folder, self.budget);
                    self.shared.work.notify_one();
                    continue;
                }
                return listing;
            }
            state = self
                .shared
                .done
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

struct Shared {
    state: Mutex<State>,
    /// Workers wait here for a folder to list; the walk waits on `done` for a listing.
    work: Condvar,
    done: Condvar,
}

#[derive(Default)]
struct State {
    /// Folders to list, with the most keys each may hold; the front first.
    queue: VecDeque<(String, usize)>,
    /// Listings finished and not yet taken, with the cap each was listed under.
    done: HashMap<String, (usize, Listing)>,
    /// Folders asked for and not yet taken (queued, being listed, or done).
    asked: HashSet<String>,
    closed: bool,
    /// A listing that panicked, for the walk to carry on.
    panic: Option<Box<dyn std::any::Any + Send>>,
}

impl State {
    /// Makes `folder` the next one listed, under `cap`, unless it is being listed or done.
    fn ask_first(&mut self, folder: &str, cap: usize) {
        if let Some(at) = self.queue.iter().position(|(f, _)| f == folder) {
            self.queue.remove(at);
        } else if self.asked.contains(folder) {
            return;
        }
        self.asked.insert(folder.to_string());
        self.queue.push_front((folder.to_string(), cap));
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A worker: lists the queue's front folder until the walk is over.
    fn serve(&self, list: &List<'_>) {
        let mut state = self.lock();
        loop {
            if state.closed {
                return;
            }
            let Some((folder, cap)) = state.queue.pop_front() else {
                state = self
                    .work
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            };
            drop(state);
            let listed = catch_unwind(AssertUnwindSafe(|| list(&folder, cap)));
            state = self.lock();
            match listed {
                Ok(listing) => {
                    state.done.insert(folder, (cap, listing));
                }
                Err(panic) => state.panic = Some(panic),
            }
            self.done.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn too_many(folder: &str, cap: usize) -> VaultError {
        VaultError::LimitExceeded {
            op: format!("list `{folder}`"),
            detail: format!("more than {cap} keys"),
        }
    }

    /// A tree of `width` folders of `keys` keys each, listed by name (`f3/` has `f3/k0`, …).
    fn tree(width: usize, keys: usize) -> impl Fn(&str, usize) -> Listing + Sync {
        move |folder: &str, cap: usize| {
            if folder.is_empty() {
                return Ok((0..width).map(|i| format!("f{i}/")).collect());
            }
            let listed: Vec<String> = (0..keys).map(|k| format!("{folder}k{k}")).collect();
            if listed.len() > cap {
                return Err(too_many(folder, cap));
            }
            Ok(listed)
        }
    }

    #[test]
    fn the_walk_takes_every_listing_in_its_own_order() {
        for workers in [1, 2, 7] {
            let list = tree(40, 3);
            let calls = AtomicUsize::new(0);
            let counted = |f: &str, cap: usize| {
                calls.fetch_add(1, Ordering::SeqCst);
                list(f, cap)
            };
            let taken = with_lister(workers, 1000, &counted, |lister| {
                let mut stack = vec![String::new()];
                let mut order = Vec::new();
                while let Some(folder) = stack.pop() {
                    let keys = lister
                        .take(&folder, stack.iter().rev().map(String::as_str))
                        .unwrap();
                    order.push((folder, keys.len()));
                    stack.extend(keys.into_iter().filter(|k| k.ends_with('/')));
                }
                order
            });
            let mut wanted = vec![(String::new(), 40)];
            wanted.extend((0..40).rev().map(|i| (format!("f{i}/"), 3)));
            assert_eq!(taken, wanted, "{workers}");
            // Each folder listed once: none was over its share.
            assert_eq!(calls.load(Ordering::SeqCst), 41, "{workers}");
        }
    }

    #[test]
    fn a_folder_over_its_share_is_listed_again_under_the_whole_budget() {
        // 2 workers: 8 folders asked for at once, a share of 40 / 8 = 5 keys each.
        let list = tree(10, 6);
        let caps = Mutex::new(Vec::new());
        let seen = |f: &str, cap: usize| {
            caps.lock().unwrap().push((f.to_string(), cap));
            list(f, cap)
        };
        let listed = with_lister(2, 40, &seen, |lister| {
            let root = lister.take("", std::iter::empty()).unwrap();
            let folders: Vec<&str> = root.iter().map(String::as_str).collect();
            let mut out = Vec::new();
            for (i, f) in folders.iter().enumerate() {
                out.push(lister.take(f, folders[i + 1..].iter().copied()).unwrap());
            }
            out
        });
        assert!(listed.iter().all(|keys| keys.len() == 6));
        let caps = caps.into_inner().unwrap();
        // The first folder in its turn, the others ahead under the share, then again.
        assert!(caps.contains(&("f0/".to_string(), 40)), "{caps:?}");
        assert!(caps.contains(&("f1/".to_string(), 5)), "{caps:?}");
        assert!(caps.contains(&("f1/".to_string(), 40)), "{caps:?}");
        // Never more than the bound asked for beyond the one waited for.
        assert!(caps.len() <= 1 + 2 * 10, "{caps:?}");
    }

    #[test]
    fn an_error_is_the_walks_own_and_the_workers_stop_when_it_returns() {
        let list = |f: &str, _cap: usize| -> Listing {
            match f {
                "" => Ok(vec!["a/".into(), "b/".into()]),
                "b/" => Err(too_many(f, 0)),
                _ => Ok(vec![format!("{f}x")]),
            }
        };
        let err = with_lister(3, 100, &list, |lister| {
            lister.take("", std::iter::empty())?;
            lister.take("b/", ["a/"].into_iter())?;
            lister.take("a/", std::iter::empty())
        })
        .unwrap_err();
        assert_eq!(err.reason(), "limit_exceeded");
    }

    #[test]
    fn a_panicking_listing_reaches_the_walk() {
        let list = |f: &str, _cap: usize| -> Listing {
            assert!(!f.is_empty(), "boom");
            Ok(Vec::new())
        };
        let caught = catch_unwind(AssertUnwindSafe(|| {
            with_lister(2, 10, &list, |lister| lister.take("", std::iter::empty()))
        }));
        assert!(caught.is_err());
    }
}
