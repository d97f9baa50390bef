//! End-to-end tests: the built binary against real servers started on loopback ports.

mod cases;
mod support;
