//! Edge I/O: where encoded metrics go.

pub mod pushgateway;
