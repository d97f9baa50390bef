//! The metrics contract and its wire format: [`families`] maps a report onto the gauge families
//! credwatch exposes, [`text`] writes them as Prometheus text format 0.0.4; [`encode_report`]
//! goes from a report to the text without holding every sample.

pub mod delivery;
mod families;
pub mod names;
pub mod text;

pub use families::{RunInfo, encode_report, encode_report_into, families, known_from_series};
