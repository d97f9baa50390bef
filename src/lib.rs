//! credwatch: knows when each credential expires and tells Prometheus before it does.
//!
//! The data flows one way, and the modules are named by stage:
//! [`config`] validates `credwatch.toml` (and [`env`] snapshots the environment once);
//! [`sources`] read the inventory and the configured sources into observations (over the
//! [`vault`] client and the [`net`] mechanics every client shares); [`decode`] says what a value
//! itself tells (JWT, X.509, format, fingerprint); [`assess`] (pure, `now` passed in) turns the
//! observations into an [`assess::Report`] and carries last known values forward; [`output`]
//! renders a report as a table or JSON; [`metrics`] maps it onto the metrics contract (every name
//! in [`metrics::names`]), applies the partial-run rule and encodes Prometheus text; [`sinks`]
//! deliver the text of one-shot runs (Pushgateway, node_exporter's textfile) and [`serve`] runs
//! the pipeline on an interval behind `/metrics`. [`render`] turns a config into what operators
//! deploy; [`rotate`] records a replaced credential. [`run`] wires a command line onto all of it
//! and picks the exit code. `docs/architecture.md` has the dependency rule.

pub mod assess;
pub mod cli;
pub mod config;
pub mod credential;
pub mod decode;
pub mod env;
pub mod file;
pub mod metrics;
pub mod net;
pub mod output;
pub mod probe;
pub mod recorded;
pub mod render;
pub mod rotate;
pub mod run;
pub mod serve;
pub mod sinks;
pub mod sources;
#[cfg(test)]
pub(crate) mod test_bounds;
pub mod time;
pub mod vault;

pub use run::{ExitCode, run};
