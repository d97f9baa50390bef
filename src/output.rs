//! Human and machine views of a [`Report`]: the `check` table and its JSON here, the status page
//! in [`html`], the expiry calendar in [`calendar`]. Pure.

use std::fmt::Write;

use serde_json::{Value, json};

use crate::assess::{Assessment, Report, Status};
use crate::credential::{Basis, ProbeVerdict};

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
    for p in &report.pools {
        // Members that could not be read (a sealed Vault) may well be usable: the runway is
        // unknown, not over.
        let unread = report
            .assessments
            .iter()
            .filter(|a| p.members.contains(&a.credential.name) && a.status == Status::Unknown)
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

pub fn render_json(report: &Report) -> String {
    let credentials: Vec<Value> = report
        .assessments
        .iter()
        .map(|a| {
            let c = &a.credential;
            let e = a.evidence.as_ref();
            let mut row = json!({
                "name": c.name,
                "pool": c.pool,
                "source": c.source,
                "kind": e.map(|e| e.basis.label()),
                "labels": c.labels,
                "runbook": c.runbook,
                "status": a.status.as_str(),
                "expires_at": e.and_then(|e| e.expires_at).map(|t| t.to_string()),
                "expires_at_unix": e.and_then(|e| e.expires_at).map(|t| t.as_second()),
                "minted_at": e.and_then(|e| e.minted_at).map(|m| m.to_string()),
                "minted_at_unix": e.and_then(|e| e.minted_at).map(|m| m.as_second()),
                "remaining_seconds": a.remaining.map(|r| r.as_secs()),
                "remaining_days": a.remaining.map(|r| r.as_secs() as f64 / 86_400.0),
                "warn_before_seconds": c.thresholds.warn_before.as_secs(),
                "critical_before_seconds": c.thresholds.critical_before.as_secs(),
                "fingerprint": e.and_then(|e| e.fingerprint.clone()),
                "format": e.and_then(|e| e.format.as_ref()).map(|f| json!({
                    "profile": f.profile,
                    "ok": f.problem.is_none(),
                    "problem": f.problem,
                })),
                "subject": e.and_then(|e| e.subject.clone()),
                "replacement": a.replacement,
                "error": a.error,
            });
            // Only for probed credentials, so that other rows keep their shape.
            if let (Some(p), Some(map)) = (e.and_then(|e| e.probe.as_ref()), row.as_object_mut()) {
                map.insert(
                    "probe".into(),
                    json!({
                        "preset": p.preset,
                        "at": p.at.to_string(),
                        "verdict": match p.verdict {
                            ProbeVerdict::Accepted => "accepted",
                            ProbeVerdict::Rejected { expired: true } => "rejected_expired",
                            ProbeVerdict::Rejected { expired: false } => "rejected",
                            ProbeVerdict::Failed => "failed",
                        },
                        "http_status": p.http_status,
                        "reason": p.reason,
                    }),
                );
            }
            row
        })
        .collect();
    let pools: Vec<Value> = report
        .pools
        .iter()
        .map(|p| {
            let runway_until = p.runway_until.filter(|t| *t != jiff::Timestamp::MAX);
            json!({
                "name": p.name,
                "members": p.members,
                "distinct": p.distinct,
                "duplicates": p.duplicates.iter().map(|(d, o)| json!({"member": d, "same_as": o})).collect::<Vec<_>>(),
                "runway_until": runway_until.map(|t| t.to_string()),
                "runway_seconds": p.runway(report.now).map(|r| r.as_secs()),
                "never_expires": p.runway_until == Some(jiff::Timestamp::MAX),
                "low": p.low(report.now),
                "no_runway": p.no_runway.iter().map(|(m, o)| json!({"member": m, "within_spread_of": o})).collect::<Vec<_>>(),
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
        "pools": pools,
        "sources": sources,
        "problems": report.problems,
    });
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
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
