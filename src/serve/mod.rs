//! `credwatch serve`: a long-running exporter. [`refresh`] runs the pipeline on an interval and
//! publishes the encoded text; [`exporter`] serves the last published text over HTTP.

pub mod exporter;
pub mod refresh;
