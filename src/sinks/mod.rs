//! Edge I/O for one-shot runs: where encoded metrics go (a Pushgateway, node_exporter's
//! textfile collector). [`deliver`] is the one workflow both follow: ask the destination what it
//! holds when the run is incomplete, apply the partial-run rule ([`delivery::merge`]), encode,
//! write.

pub mod pushgateway;
pub mod textfile;

use std::time::Instant;

use jiff::Timestamp;

use crate::assess::Report;
use crate::config::{Config, MetricNames};
use crate::metrics::RunInfo;
use crate::metrics::delivery::{self, Held, Merged};

/// A place a run's exposition text goes.
pub trait Destination {
    /// What the destination holds now. Asked only when the run could not read everything; a
    /// destination that cannot tell answers [`Held::default`].
    fn held(&mut self, config: &Config, now: Timestamp) -> Held;
    /// Writes the text; `complete` says whether the run read everything.
    fn write(&mut self, text: &Text<'_>, complete: bool) -> Result<(), String>;
}

/// The exposition text of a delivery, encoded when the destination writes it: a file takes it
/// through a buffer, never holding the text of every series at once (for 100k credentials, more
/// than the report itself).
pub struct Text<'a> {
    report: &'a Report,
    names: &'a MetricNames,
    run: RunInfo,
    last_success: Option<Timestamp>,
}

impl Text<'_> {
    /// Encodes the text into `out`.
    pub fn write_to(&self, out: &mut impl std::fmt::Write) {
        crate::metrics::encode_report_into(
            self.report,
            self.names,
            self.run,
            self.last_success,
            out,
        );
    }

    /// The whole text, for a destination that sends it in one piece.
    pub fn to_text(&self) -> String {
        crate::metrics::encode_report(self.report, self.names, self.run, self.last_success)
    }
}

/// What a run delivered, for the command to report.
#[derive(Debug)]
pub struct Delivered {
    /// The report as delivered (last known values merged in).
    pub report: Report,
    pub complete: bool,
    /// `Err` when the text did not reach the destination.
    pub written: Result<(), String>,
}

/// Delivers one run's `report` to `destination`. `started` is when the run began: the duration
/// series covers everything up to the write.
pub fn deliver(
    destination: &mut dyn Destination,
    report: Report,
    config: &Config,
    now: Timestamp,
    started: Instant,
) -> Delivered {
    let complete = report.complete();
    let held = if complete {
        Held::default()
    } else {
        destination.held(config, now)
    };
    let run = RunInfo {
        finished_at: now,
        duration_seconds: started.elapsed().as_secs_f64(),
    };
    let Merged {
        report,
        last_success,
        ..
    } = delivery::merge(report, held, config.defaults.pools, run);
    let text = Text {
        report: &report,
        names: &config.metrics,
        run,
        last_success,
    };
    let written = destination.write(&text, complete);
    Delivered {
        report,
        complete,
        written,
    }
}
