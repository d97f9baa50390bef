//! The metrics contract and its wire format: [`families`] maps a report onto the gauge families
//! credwatch exposes, [`text`] writes them as Prometheus text format 0.0.4.

pub mod delivery;
mod families;
pub mod names;
pub mod text;

pub use families::{RunInfo, families, known_from_series};
