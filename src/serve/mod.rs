//! `credwatch serve`: a long-running exporter. [`refresh`] runs the pipeline on an interval and
//! publishes the encoded text into [`state::Latest`]; [`exporter`] serves the last published text
//! over HTTP. The two share only what [`state`] holds, and neither imports the other; [`run`]
//! wires them together with the signal handling.

pub mod exporter;
pub mod refresh;
pub mod state;

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;

use crate::config::Config;
use crate::env::Env;
use exporter::Limits;
use refresh::Refresher;
use state::{Latest, Shutdown};

/// Serves `/metrics` on `listener` until SIGTERM or SIGINT, refreshing from the config at `path`
/// (validated at startup as `config`) with the environment `env` every `interval` in a background thread. `ready` runs once
/// the refresh thread and the signal handler are in place, before the first request is accepted.
pub fn run(
    listener: TcpListener,
    path: PathBuf,
    config: Config,
    env: Env,
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
        let mut refresher = Refresher::new(path, config, env);
        std::thread::Builder::new()
            .name("credwatch-refresh".into())
            .spawn(move || refresh::run(&mut refresher, &latest, &shutdown, interval))?;
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
