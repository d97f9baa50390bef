//! Edge I/O for one-shot runs: where encoded metrics go (a Pushgateway, node_exporter's
//! textfile collector).

pub mod pushgateway;
pub mod textfile;
