//! credwatch: knows when each credential expires and tells Prometheus before it does.
//!
//! The data flows one way. [`config`] validates `credwatch.toml`; [`sources`] read the inventory
//! and the configured sources into observations; [`assess`] (pure, `now` passed in) turns them into
//! a [`assess::Report`]; [`output`] renders it as a table or JSON, [`metrics`] maps it onto the
//! metrics contract and [`exposition`] encodes that as Prometheus text; [`sinks`] deliver the text
//! (Pushgateway, `/metrics`, node_exporter's textfile). For `serve`, [`refresh`] runs the pipeline
//! on an interval and [`last_known`] keeps what a refresh could not read.
//! [`net`] holds the mechanics the clients of servers share (retries, a worker pool, an HTTP agent
//! that resolves once).
//! [`run`] wires a command line onto that pipeline and picks the exit code.

pub mod assess;
pub mod cli;
pub mod config;
pub mod credential;
pub mod decode;
pub mod env;
pub mod metrics;
pub mod net;
pub mod output;
pub mod render;
pub mod rotate;
pub mod run;
pub mod serve;
pub mod sinks;
pub mod sources;
pub mod time;
pub mod vault;

pub use run::{ExitCode, run};
