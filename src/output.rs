//! Human and machine views of a [`Report`]: the `check` table and its JSON here, the status page
//! in [`html`], the expiry calendar in [`calendar`]. Pure.

use std::collections::HashSet;
use std::fmt::Write;

use crate::assess::{Assessment, Report, Status};
use crate::credential::Basis;

pub mod calendar;
pub mod html;

/// Days left with one decimal, rounded down so that the number never looks safer than the status
/// (6.96 days shows as `6.9`, not `7.0`).
pub fn days_left(seconds: i64) -> String {
    let tenths = (seconds as i128 * 10).div_euclid(86_400);
    let sign = if tenths < 0 { "-" } else { "" };
    let abs = tenths.abs();
    format!("{sign}{}.{}", abs / 10, abs % 10)
}

/// Shows control characters in names (a newline in a file name, say) as escapes, so that one
/// credential stays on one line.
fn printable(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

pub(crate) fn expires_cell(a: &Assessment) -> String {
    match &a.evidence {
        None => "-".into(),
        Some(e) => e
            .expires_at
            .map_or("never".into(), |t| t.strftime("%Y-%m-%d %H:%M").to_string()),
    }
}

/// Lays out rows in columns two spaces apart; the last column is not padded.
fn columns(rows: &[Vec<String>]) -> String {
    let mut widths = vec![0; rows.first().map_or(0, Vec::len)];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut l = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                l.push_str(cell);
            } else {
                let pad = widths[i] - cell.chars().count();
                let _ = write!(l, "{cell}{}  ", " ".repeat(pad));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    }
    out
}

/// What the table cannot show in a cell: certificate subjects, format problems, replacements.
fn credential_notes(report: &Report) -> String {
    let mut notes = String::new();
    for a in &report.assessments {
        let name = printable(&a.credential.name);
        let Some(e) = &a.evidence else { continue };
        if let Some(subject) = &e.subject {
            let _ = writeln!(notes, "  {name}: {}", printable(subject));
        }
        if let Some(f) = &e.format
            && let Some(problem) = &f.problem
        {
            let _ = writeln!(
                notes,
                "  {name}: not a valid `{}` value: {}",
                f.profile,
                printable(problem)
            );
        }
        if let Some(p) = &e.probe {
            let _ = writeln!(
                notes,
                "  {name}: `{}` probe at {}: {}",
                p.preset,
                p.at.strftime("%Y-%m-%d %H:%M UTC"),
                printable(&p.reason)
            );
        }
        if e.expires_at.is_none() {
            let what = match e.basis {
                Basis::ProbeIssuer => "the issuer reports no expiry",
                _ => "the value carries no expiry",
            };
            let _ = writeln!(notes, "  {name}: {what}");
        }
        if a.status != Status::Ok && a.status != Status::NoExpiry && a.credential.pool.is_some() {
            match &a.replacement {
                Some(r) => {
                    let _ = writeln!(
                        notes,
                        "  {name}: {} in the same pool is healthy and can replace it",
                        printable(r)
                    );
                }
                None => {
                    let _ = writeln!(notes, "  {name}: no healthy replacement in its pool");
                }
            }
        }
    }
    notes
}

fn pool_notes(report: &Report) -> String {
    let mut out = String::new();
    let unknown: HashSet<&str> = report
        .assessments
        .iter()
        .filter(|a| a.status == Status::Unknown)
        .map(|a| a.credential.name.as_str())
        .collect();
    for p in &report.pools {
        // Members that could not be read (a sealed Vault) may well be usable: the runway is
        // unknown, not over.
        let unread = p
            .members
            .iter()
            .filter(|m| unknown.contains(m.as_str()))
            .count();
        let runway = match (p.runway_until, p.runway(report.now)) {
            (None, _) if unread > 0 => {
                format!("runway unknown ({unread} member(s) could not be read)")
            }
            (None, _) => "no usable member".to_string(),
            (Some(_), None) => "a member never expires".to_string(),
            (Some(t), Some(r)) => {
                format!(
                    "runway {} days (until {})",
                    days_left(r.as_secs()),
                    t.strftime("%Y-%m-%d %H:%M")
                )
            }
        };
        let low = if p.low(report.now) && !(p.runway_until.is_none() && unread > 0) {
            " LOW"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  {}: {} member{}{}, {runway}{low}",
            printable(&p.name),
            p.members.len(),
            if p.members.len() == 1 { "" } else { "s" },
            if p.fingerprinted > 0 {
                format!(", {} distinct", p.distinct)
            } else {
                String::new()
            },
        );
        for (dup, original) in &p.duplicates {
            let _ = writeln!(
                out,
                "    {} is the same token as {}: the pool has {} distinct credential{}, not {}",
                printable(dup),
                printable(original),
                p.distinct,
                if p.distinct == 1 { "" } else { "s" },
                p.members.len()
            );
        }
        for (member, other) in &p.no_runway {
            let _ = writeln!(
                out,
                "    {} expires within {} of {}: it adds less than that to the runway",
                printable(member),
                crate::time::format_duration(p.spread),
                printable(other)
            );
        }
    }
    out
}

/// `5 credentials: 1 OK, 2 WARNING, …`, the statuses from best to worst.
pub(crate) fn summary(report: &Report) -> String {
    let mut counts = Vec::new();
    for status in [
        Status::Ok,
        Status::NoExpiry,
        Status::Warning,
        Status::ProbeFailing,
        Status::Critical,
        Status::Invalid,
        Status::Expired,
        Status::Revoked,
        Status::Unknown,
    ] {
        let n = report
            .assessments
            .iter()
            .filter(|a| a.status == status)
            .count();
        if n > 0 {
            counts.push(format!("{n} {}", status.as_str()));
        }
    }
    let total = report.assessments.len();
    format!(
        "{total} credential{}{}{}",
        if total == 1 { "" } else { "s" },
        if counts.is_empty() { "" } else { ": " },
        counts.join(", ")
    )
}

pub fn render_table(report: &Report) -> String {
    let fingerprints = report
        .assessments
        .iter()
        .any(|a| a.evidence.as_ref().is_some_and(|e| e.fingerprint.is_some()));
    let mut header: Vec<String> = [
        "CREDENTIAL",
        "POOL",
        "SOURCE",
        "EXPIRES (UTC)",
        "DAYS LEFT",
        "STATUS",
    ]
    .map(String::from)
    .to_vec();
    if fingerprints {
        header.push("FINGERPRINT".into());
    }
    let mut rows = vec![header];
    for a in &report.assessments {
        let c = &a.credential;
        let mut row = vec![
            printable(&c.name),
            c.pool.as_deref().map_or("-".into(), printable),
            printable(&c.source),
            expires_cell(a),
            a.remaining.map_or("-".into(), |r| days_left(r.as_secs())),
            a.status.as_str().into(),
        ];
        if fingerprints {
            row.push(
                a.evidence
                    .as_ref()
                    .and_then(|e| e.fingerprint.clone())
                    .unwrap_or_else(|| "-".into()),
            );
        }
        rows.push(row);
    }
    let mut out = columns(&rows);

    let notes = credential_notes(report);
    if !notes.is_empty() {
        out.push_str("\nnotes:\n");
        out.push_str(&notes);
    }
    let pools = pool_notes(report);
    if !pools.is_empty() {
        out.push_str("\npools:\n");
        out.push_str(&pools);
    }

    let mut problems = String::new();
    for a in &report.assessments {
        if let Some(e) = &a.error {
            let _ = writeln!(
                problems,
                "  {}: {}",
                printable(&a.credential.name),
                printable(e)
            );
        }
    }
    for s in &report.sources {
        if let Some(e) = &s.error {
            let _ = writeln!(
                problems,
                "  source `{}` failed: {}",
                printable(&s.name),
                printable(e)
            );
        }
    }
    for p in &report.problems {
        let _ = writeln!(problems, "  {}", printable(p));
    }
    if !problems.is_empty() {
        out.push_str("\nproblems:\n");
        out.push_str(&problems);
    }

    let _ = writeln!(
        out,
        "\n{}; overall {} at {}",
        summary(report),
        report.overall().as_str(),
        report.now.strftime("%Y-%m-%d %H:%M:%S UTC"),
    );
    out
}

/// Writes the `check --output json` document to `out`, one credential at a time: no tree of
/// the whole document is built first.
pub fn write_json(report: &Report, out: impl std::io::Write) -> std::io::Result<()> {
    use std::io::Write;
    // A buffer of its own type: the serializer's many short writes are then copies it can
    // inline, not calls through whatever `out` is (stdout is a `dyn Write`).
    let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
    serde_json::to_writer_pretty(&mut out, &json::Document::of(report))?;
    out.write_all(b"\n")?;
    out.flush()
}

/// The shape of the JSON document, borrowed from the report. Every struct declares its fields
/// in alphabetical order: the order the document's keys have always had.
mod json {
    use jiff::Timestamp;
    use serde::{Serialize, Serializer};

    use crate::assess::{Assessment, Pool, Report};
    use crate::credential::{FormatResult, Labels, ProbeOutcome, ProbeVerdict, SourceStatus};

    /// A value written through its `Display` as a JSON string, without a `String` in between.
    struct Shown<T>(T);

    impl<T: std::fmt::Display> Serialize for Shown<T> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_str(&self.0)
        }
    }

    #[derive(Serialize)]
    pub(super) struct Document<'a> {
        complete: bool,
        credentials: Credentials<'a>,
        now: Shown<Timestamp>,
        pools: Vec<PoolView<'a>>,
        problems: &'a [String],
        sources: Vec<Source<'a>>,
        status: &'static str,
    }

    impl<'a> Document<'a> {
        pub(super) fn of(report: &'a Report) -> Self {
            Document {
                complete: report.complete(),
                credentials: Credentials(&report.assessments),
                now: Shown(report.now),
                pools: report
                    .pools
                    .iter()
                    .map(|p| PoolView::of(p, report.now))
                    .collect(),
                problems: &report.problems,
                sources: report.sources.iter().map(Source::of).collect(),
                status: report.overall().as_str(),
            }
        }
    }

    /// Every assessment, each turned into its row as it is written.
    struct Credentials<'a>(&'a [Assessment]);

    impl Serialize for Credentials<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(self.0.iter().map(Credential::of))
        }
    }

    #[derive(Serialize)]
    struct Credential<'a> {
        critical_before_seconds: i64,
        error: Option<&'a str>,
        expires_at: Option<Shown<Timestamp>>,
        expires_at_unix: Option<i64>,
        fingerprint: Option<&'a str>,
        format: Option<Format<'a>>,
        kind: Option<&'static str>,
        labels: &'a Labels,
        minted_at: Option<Shown<Timestamp>>,
        minted_at_unix: Option<i64>,
        name: &'a str,
        pool: Option<&'a str>,
        /// Only for probed credentials, so that other rows keep their shape.
        #[serde(skip_serializing_if = "Option::is_none")]
        probe: Option<Probe<'a>>,
        remaining_days: Option<f64>,
        remaining_seconds: Option<i64>,
        replacement: Option<&'a str>,
        runbook: Option<&'a str>,
        source: &'a str,
        status: &'static str,
        subject: Option<&'a str>,
        warn_before_seconds: i64,
    }

    impl<'a> Credential<'a> {
        fn of(a: &'a Assessment) -> Self {
            let c = &a.credential;
            let e = a.evidence.as_ref();
            let expires_at = e.and_then(|e| e.expires_at);
            let minted_at = e.and_then(|e| e.minted_at);
            Credential {
                critical_before_seconds: c.thresholds.critical_before.as_secs(),
                error: a.error.as_deref(),
                expires_at: expires_at.map(Shown),
                expires_at_unix: expires_at.map(Timestamp::as_second),
                fingerprint: e.and_then(|e| e.fingerprint.as_deref()),
                format: e.and_then(|e| e.format.as_deref()).map(Format::of),
                kind: e.map(|e| e.basis.label()),
                labels: &c.labels,
                minted_at: minted_at.map(Shown),
                minted_at_unix: minted_at.map(Timestamp::as_second),
                name: &c.name,
                pool: c.pool.as_deref(),
                probe: e.and_then(|e| e.probe.as_deref()).map(Probe::of),
                remaining_days: a.remaining.map(|r| r.as_secs() as f64 / 86_400.0),
                remaining_seconds: a.remaining.map(|r| r.as_secs()),
                replacement: a.replacement.as_deref(),
                runbook: c.runbook.as_deref(),
                source: &c.source,
                status: a.status.as_str(),
                subject: e.and_then(|e| e.subject.as_deref()),
                warn_before_seconds: c.thresholds.warn_before.as_secs(),
            }
        }
    }

    #[derive(Serialize)]
    struct Format<'a> {
        ok: bool,
        problem: Option<&'a str>,
        profile: &'a str,
    }

    impl<'a> Format<'a> {
        fn of(f: &'a FormatResult) -> Self {
            Format {
                ok: f.problem.is_none(),
                problem: f.problem.as_deref(),
                profile: &f.profile,
            }
        }
    }

    #[derive(Serialize)]
    struct Probe<'a> {
        at: Shown<Timestamp>,
        http_status: Option<u16>,
        preset: &'a str,
        reason: &'a str,
        verdict: &'static str,
    }

    impl<'a> Probe<'a> {
        fn of(p: &'a ProbeOutcome) -> Self {
            Probe {
                at: Shown(p.at),
                http_status: p.http_status,
                preset: &p.preset,
                reason: &p.reason,
                verdict: match p.verdict {
                    ProbeVerdict::Accepted => "accepted",
                    ProbeVerdict::Rejected { expired: true } => "rejected_expired",
                    ProbeVerdict::Rejected { expired: false } => "rejected",
                    ProbeVerdict::Failed => "failed",
                },
            }
        }
    }

    #[derive(Serialize)]
    struct PoolView<'a> {
        distinct: usize,
        duplicates: Vec<Duplicate<'a>>,
        low: bool,
        members: &'a [String],
        name: &'a str,
        never_expires: bool,
        no_runway: Vec<NoRunway<'a>>,
        runway_seconds: Option<i64>,
        runway_until: Option<Shown<Timestamp>>,
    }

    #[derive(Serialize)]
    struct Duplicate<'a> {
        member: &'a str,
        same_as: &'a str,
    }

    #[derive(Serialize)]
    struct NoRunway<'a> {
        member: &'a str,
        within_spread_of: &'a str,
    }

    impl<'a> PoolView<'a> {
        fn of(p: &'a Pool, now: Timestamp) -> Self {
            PoolView {
                distinct: p.distinct,
                duplicates: p
                    .duplicates
                    .iter()
                    .map(|(member, same_as)| Duplicate { member, same_as })
                    .collect(),
                low: p.low(now),
                members: &p.members,
                name: &p.name,
                never_expires: p.runway_until == Some(Timestamp::MAX),
                no_runway: p
                    .no_runway
                    .iter()
                    .map(|(member, other)| NoRunway {
                        member,
                        within_spread_of: other,
                    })
                    .collect(),
                runway_seconds: p.runway(now).map(|r| r.as_secs()),
                runway_until: p.runway_until.filter(|t| *t != Timestamp::MAX).map(Shown),
            }
        }
    }

    #[derive(Serialize)]
    struct Source<'a> {
        error: Option<&'a str>,
        kind: &'static str,
        name: &'a str,
        up: bool,
    }

    impl<'a> Source<'a> {
        fn of(s: &'a SourceStatus) -> Self {
            Source {
                error: s.error.as_deref(),
                kind: s.kind,
                name: &s.name,
                up: s.error.is_none(),
            }
        }
    }
}

/// What could not be read, one `problem: …` line each (credentials, sources, then the rest),
/// for the log of a run that delivered metrics.
pub fn render_problems(report: &Report) -> String {
    let mut out = String::new();
    for a in report.assessments.iter().filter(|a| a.error.is_some()) {
        let _ = writeln!(
            out,
            "problem: credential `{}`: {}",
            a.credential.name,
            a.error.as_deref().unwrap_or_default()
        );
    }
    for s in report.sources.iter().filter(|s| s.error.is_some()) {
        let _ = writeln!(
            out,
            "problem: source `{}`: {}",
            s.name,
            s.error.as_deref().unwrap_or_default()
        );
    }
    for p in &report.problems {
        let _ = writeln!(out, "problem: {p}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_left_round_down_to_one_decimal() {
        let day = 86_400;
        assert_eq!(days_left(365 * day + day / 5), "365.2");
        assert_eq!(days_left(7 * day - 1), "6.9");
        assert_eq!(days_left(0), "0.0");
        assert_eq!(days_left(-1), "-0.1");
        assert_eq!(days_left(-3 * day), "-3.0");
    }

    #[test]
    fn a_pool_whose_members_cannot_be_read_has_an_unknown_runway_not_a_low_one() {
        use crate::credential::{Collection, Credential, Observation, PoolPolicy, Thresholds};
        let member = |name: &str| Observation {
            credential: Credential {
                name: name.into(),
                pool: Some("agent".into()),
                source: "vault".into(),
                labels: Default::default(),
                runbook: None,
                thresholds: Thresholds {
                    warn_before: jiff::SignedDuration::from_hours(720),
                    critical_before: jiff::SignedDuration::from_hours(168),
                },
            },
            evidence: Err("the server is sealed".into()),
        };
        let report = crate::assess::assess(
            Collection {
                observations: vec![member("a"), member("b"), member("c")],
                ..Collection::default()
            },
            "2026-12-01T00:00:00Z".parse().unwrap(),
            PoolPolicy::default(),
        );
        let notes = pool_notes(&report);
        assert!(
            notes.contains("agent: 3 members, runway unknown (3 member(s) could not be read)\n"),
            "{notes}"
        );
        assert!(!notes.contains("LOW"), "{notes}");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(printable("a\nb\tc ü"), "a\\nb\\tc ü");
    }
}
