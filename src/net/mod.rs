//! How credwatch talks to servers, whatever the server: retrying with backoff ([`retry`]), a
//! bounded pool of worker threads over an ordered list ([`pool`]), and an HTTP agent that
//! resolves each target once and keeps its connections alive ([`agent`]), and whether a URL
//! points at this machine ([`url`]). Edge I/O mechanics
//! only; what a request means belongs to the client that sends it (`vault`, `sinks`).

pub mod agent;
pub mod pool;
pub mod retry;
pub mod url;

pub use agent::{agent, read_ca_file};
pub use pool::map_ordered;
pub use retry::{Failure, GaveUp, Policy, retry};
pub use url::is_loopback_url;
