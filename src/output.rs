//! Human and machine views of a [`Report`]: the `check` table and its JSON. Pure.

use std::fmt::Write;

use serde_json::{Value, json};

use crate::assess::{Report, Status};

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

pub fn render_table(report: &Report) -> String {
    let header = [
        "CREDENTIAL",
        "POOL",
        "SOURCE",
        "EXPIRES (UTC)",
        "DAYS LEFT",
        "STATUS",
    ];
    let rows: Vec<[String; 6]> = report
        .assessments
        .iter()
        .map(|a| {
            let c = &a.credential;
            [
                printable(&c.name),
                c.pool.as_deref().map_or("-".into(), printable),
                printable(&c.source),
                a.evidence.map_or("-".into(), |e| {
                    e.expires_at.strftime("%Y-%m-%d %H:%M").to_string()
                }),
                a.remaining.map_or("-".into(), |r| days_left(r.as_secs())),
                a.status.as_str().into(),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[String]| {
        let mut l = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                l.push_str(cell);
            } else {
                let pad = widths[i] - cell.chars().count();
                let _ = write!(l, "{cell}{}  ", " ".repeat(pad));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&header.map(String::from));
    for row in &rows {
        line(row);
    }

    let mut notes = String::new();
    for a in &report.assessments {
        if let Some(e) = &a.error {
            let _ = writeln!(
                notes,
                "  {}: {}",
                printable(&a.credential.name),
                printable(e)
            );
        }
    }
    for s in &report.sources {
        if let Some(e) = &s.error {
            let _ = writeln!(
                notes,
                "  source `{}` failed: {}",
                printable(&s.name),
                printable(e)
            );
        }
    }
    for p in &report.problems {
        let _ = writeln!(notes, "  {}", printable(p));
    }
    if !notes.is_empty() {
        out.push_str("\nproblems:\n");
        out.push_str(&notes);
    }

    let mut counts = Vec::new();
    for status in [
        Status::Ok,
        Status::Warning,
        Status::Critical,
        Status::Expired,
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
    let _ = writeln!(
        out,
        "\n{total} credential{}{}{}; overall {} at {}",
        if total == 1 { "" } else { "s" },
        if counts.is_empty() { "" } else { ": " },
        counts.join(", "),
        report.overall().as_str(),
        report.now.strftime("%Y-%m-%d %H:%M:%S UTC"),
    );
    out
}

pub fn render_json(report: &Report) -> String {
    let credentials: Vec<Value> = report
        .assessments
        .iter()
        .map(|a| {
            let c = &a.credential;
            json!({
                "name": c.name,
                "pool": c.pool,
                "source": c.source,
                "kind": a.evidence.map(|e| e.basis.label()),
                "labels": c.labels,
                "runbook": c.runbook,
                "status": a.status.as_str(),
                "expires_at": a.evidence.map(|e| e.expires_at.to_string()),
                "expires_at_unix": a.evidence.map(|e| e.expires_at.as_second()),
                "minted_at": a.evidence.and_then(|e| e.minted_at).map(|m| m.to_string()),
                "minted_at_unix": a.evidence.and_then(|e| e.minted_at).map(|m| m.as_second()),
                "remaining_seconds": a.remaining.map(|r| r.as_secs()),
                "remaining_days": a.remaining.map(|r| r.as_secs() as f64 / 86_400.0),
                "warn_before_seconds": c.thresholds.warn_before.as_secs(),
                "critical_before_seconds": c.thresholds.critical_before.as_secs(),
                "error": a.error,
            })
        })
        .collect();
    let sources: Vec<Value> = report
        .sources
        .iter()
        .map(|s| json!({ "name": s.name, "kind": s.kind, "up": s.error.is_none(), "error": s.error }))
        .collect();
    let doc = json!({
        "now": report.now.to_string(),
        "status": report.overall().as_str(),
        "complete": report.complete(),
        "credentials": credentials,
        "sources": sources,
        "problems": report.problems,
    });
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
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
    fn control_characters_are_escaped() {
        assert_eq!(printable("a\nb\tc ü"), "a\\nb\\tc ü");
    }
}
