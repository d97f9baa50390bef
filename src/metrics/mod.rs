//! The metrics contract and its wire format: [`encode_report`] maps a report onto the gauge
//! families credwatch exposes and writes them, through [`text`]'s encoder, as Prometheus text
//! format 0.0.4, straight from the report without holding every sample.

pub mod delivery;
mod families;
pub mod names;
pub mod text;

pub use families::{RunInfo, encode_report, encode_report_into, known_from_series};
