//! `credwatch serve`: a long-running exporter. [`refresh`] runs the pipeline on an interval and
//! publishes the encoded text into [`state::Latest`]; [`exporter`] serves the last published text
//! over HTTP. The two share only what [`state`] holds, and neither imports the other.

pub mod exporter;
pub mod refresh;
pub mod state;
