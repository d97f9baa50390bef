//! `credwatch serve`: a long-running exporter. [`refresh`] runs the pipeline on an interval and
//! publishes the encoded text into [`state::Latest`]; [`exporter`] serves the last published text
//! over HTTP. The two share only what [`state`] holds, and neither imports the other; [`run`]
//! wires them together with the signal handling.
//!
//! The refresh is background work and scrapes are not: on Linux the refresh thread runs
//! [`REFRESH_NICER_BY`] (10) nicer than the process, so that a scrape arriving while a refresh
//! reads, encodes and gzips is answered first. The refresh still gets its share of a busy
//! machine (nice 10 weighs about a tenth of nice 0), so it is slowed there, never stopped.

pub mod exporter;
pub mod refresh;
pub mod state;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;

use exporter::Limits;
pub use refresh::Refresher;
use state::{Latest, Shutdown};

/// Serves `/metrics` on `listener` until SIGTERM or SIGINT, refreshing with `refresher` every
/// `interval` in a background thread. `ready` runs once the refresh thread and the signal
/// handler are in place, before the first request is accepted.
pub fn run(
    listener: TcpListener,
    mut refresher: Refresher,
    interval: Duration,
    limits: Limits,
    ready: impl FnOnce(),
) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    let latest = Arc::new(Latest::new());
    let shutdown = Arc::new(Shutdown::new());
    stop_on_signals(shutdown.clone())?;
    {
        let (latest, shutdown) = (latest.clone(), shutdown.clone());
        std::thread::Builder::new()
            .name("credwatch-refresh".into())
            .spawn(move || {
                lower_priority();
                refresh::run(&mut refresher, &latest, &shutdown, interval)
            })?;
    }
    ready();
    exporter::serve(listener, latest, shutdown, limits)
        .map_err(|e| anyhow!("serving on `{addr}` failed: {e}"))
}

/// The first SIGTERM or SIGINT stops the exporter cleanly; a second one stops it at once.
fn stop_on_signals(shutdown: Arc<Shutdown>) -> anyhow::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])
        .map_err(|e| anyhow!("cannot handle SIGTERM and SIGINT: {e}"))?;
    std::thread::Builder::new()
        .name("credwatch-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                if shutdown.is_triggered() {
                    std::process::exit(128 + signal);
                }
                log::info!("signal {signal}: shutting down");
                shutdown.trigger();
            }
        })?;
    Ok(())
}

/// How much nicer than the process the refresh thread runs. 10 rather than 19: at 10k
/// credentials a refresh takes about a tenth of a core, which nice 10 still gets when scrapes
/// keep both cores busy.
pub const REFRESH_NICER_BY: i32 = 10;

/// Lowers the calling thread's scheduling priority by [`REFRESH_NICER_BY`] (to at most 19). On
/// Linux a thread has a nice value of its own (`getpriority`/`setpriority` on its thread id);
/// elsewhere those calls would renice the whole process, so they are not made. Lowering a
/// priority needs no privilege; a failure is only logged.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: system calls on the calling thread, with no pointers passed; errno is the
        // calling thread's own.
        let set = unsafe {
            let tid = libc::gettid() as libc::id_t;
            // -1 is a valid nice value: errno tells it from a failure.
            *libc::__errno_location() = 0;
            let now = libc::getpriority(libc::PRIO_PROCESS, tid);
            if now == -1 && *libc::__errno_location() != 0 {
                -1
            } else {
                libc::setpriority(libc::PRIO_PROCESS, tid, (now + REFRESH_NICER_BY).min(19))
            }
        };
        if set != 0 {
            log::debug!(
                "cannot lower the refresh thread's priority: {}",
                std::io::Error::last_os_error()
            );
        }
    }
}
