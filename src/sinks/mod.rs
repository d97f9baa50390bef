//! Edge I/O: where encoded metrics go.

pub mod exporter;
pub mod pushgateway;
pub mod textfile;
