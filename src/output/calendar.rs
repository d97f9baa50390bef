//! The expiry calendar: an iCalendar (RFC 5545) feed of a [`Report`], one all-day event per
//! credential expiry and per pool runway end, each with alarms when its warning and critical
//! windows open. Served by `serve` at `/calendar.ics` and printed by `render calendar`. Pure.
//!
//! UIDs depend only on what the event is about (`credential` or `pool` and its name), so a
//! calendar app that subscribes to the feed moves an event when a credential is rotated instead
//! of adding a second one. Only names, dates, sources, pools and runbooks appear: no value, no
//! fingerprint.

use std::fmt::Write;

use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};

use crate::assess::Report;

/// The domain part of every UID.
const UID_DOMAIN: &str = "credwatch";

/// A stable UID for the event about `name` of `kind` (`credential` or `pool`): a digest, so that
/// any name (slashes, quotes, non-ASCII) gives a plain token.
pub fn uid(kind: &str, name: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(kind.as_bytes());
    hasher.update([0]);
    hasher.update(name.as_bytes());
    let digest = hasher.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("{kind}-{hex}@{UID_DOMAIN}")
}

/// Escapes a TEXT value (RFC 5545 3.3.11).
fn text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Appends one content line, folded at 75 octets (never inside a UTF-8 character), ending in
/// CRLF.
fn line(out: &mut String, content: &str) {
    let mut width = 0;
    for c in content.chars() {
        let len = c.len_utf8();
        if width + len > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += len;
    }
    out.push_str("\r\n");
}

fn date(t: Timestamp) -> String {
    t.strftime("%Y%m%d").to_string()
}

fn date_time(t: Timestamp) -> String {
    t.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// One event: what it is about, when it happens, and its alarms `(before, label)`.
struct Event<'a> {
    uid: String,
    summary: String,
    description: String,
    at: Timestamp,
    alarms: Vec<(SignedDuration, &'a str)>,
}

fn write_event(out: &mut String, e: &Event<'_>, stamp: Timestamp) {
    line(out, "BEGIN:VEVENT");
    line(out, &format!("UID:{}", e.uid));
    line(out, &format!("DTSTAMP:{}", date_time(stamp)));
    line(out, &format!("DTSTART;VALUE=DATE:{}", date(e.at)));
    let next =
        e.at.checked_add(SignedDuration::from_hours(24))
            .unwrap_or(e.at);
    line(out, &format!("DTEND;VALUE=DATE:{}", date(next)));
    line(out, &format!("SUMMARY:{}", text(&e.summary)));
    line(out, &format!("DESCRIPTION:{}", text(&e.description)));
    line(out, "TRANSP:TRANSPARENT");
    for (before, label) in &e.alarms {
        let Ok(trigger) = e.at.checked_sub(*before) else {
            continue;
        };
        line(out, "BEGIN:VALARM");
        line(out, "ACTION:DISPLAY");
        line(
            out,
            &format!("TRIGGER;VALUE=DATE-TIME:{}", date_time(trigger)),
        );
        line(
            out,
            &format!(
                "DESCRIPTION:{}",
                text(&format!(
                    "{} ({label}: {} left)",
                    e.summary,
                    crate::time::format_duration(*before)
                ))
            ),
        );
        line(out, "END:VALARM");
    }
    line(out, "END:VEVENT");
}

/// The whole feed. Credentials without a known expiry (unreadable, or never expiring) and pools
/// without a runway end have no event.
pub fn render_calendar(report: &Report) -> String {
    let mut events = Vec::new();
    for a in &report.assessments {
        let Some(at) = a
            .evidence
            .as_ref()
            .and_then(|e| e.expires_at)
            .filter(|t| *t != Timestamp::MAX)
        else {
            continue;
        };
        let c = &a.credential;
        let mut description = format!(
            "Credential {} expires at {} (source {}",
            c.name,
            at.strftime("%Y-%m-%d %H:%M UTC"),
            c.source
        );
        if let Some(pool) = &c.pool {
            let _ = write!(description, ", pool {pool}");
        }
        description.push_str(").");
        // The runbook goes into the text only: a URL property must be a valid URI, and a
        // runbook may be a template.
        if let Some(runbook) = &c.runbook {
            let _ = write!(description, "\nRunbook: {runbook}");
        }
        events.push(Event {
            uid: uid("credential", &c.name),
            summary: format!("{} expires", c.name),
            description,
            at,
            alarms: vec![
                (c.thresholds.warn_before, "warning"),
                (c.thresholds.critical_before, "critical"),
            ],
        });
    }
    for p in &report.pools {
        let Some(at) = p.runway_until.filter(|t| *t != Timestamp::MAX) else {
            continue;
        };
        events.push(Event {
            uid: uid("pool", &p.name),
            summary: format!("pool {} runs out", p.name),
            description: format!(
                "The last usable credential of pool {} ({} member{}) expires at {}.",
                p.name,
                p.members.len(),
                if p.members.len() == 1 { "" } else { "s" },
                at.strftime("%Y-%m-%d %H:%M UTC")
            ),
            at,
            alarms: vec![(p.runway_warn_before, "runway warning")],
        });
    }

    let mut out = String::new();
    line(&mut out, "BEGIN:VCALENDAR");
    line(&mut out, "VERSION:2.0");
    line(
        &mut out,
        &format!(
            "PRODID:-//credwatch//credwatch {}//EN",
            env!("CARGO_PKG_VERSION")
        ),
    );
    line(&mut out, "CALSCALE:GREGORIAN");
    line(&mut out, "METHOD:PUBLISH");
    line(&mut out, "X-WR-CALNAME:credwatch expiries");
    for e in &events {
        write_event(&mut out, e, report.now);
    }
    line(&mut out, "END:VCALENDAR");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_values_escape_what_rfc5545_says() {
        assert_eq!(text("a;b,c\\d\ne"), "a\\;b\\,c\\\\d\\ne");
    }

    #[test]
    fn long_lines_fold_at_75_octets_between_characters() {
        let mut out = String::new();
        line(&mut out, &format!("SUMMARY:{}", "名".repeat(40)));
        for l in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(l.len() <= 75, "{l:?} is {} octets", l.len());
        }
        let unfolded = out.replace("\r\n ", "");
        assert_eq!(unfolded, format!("SUMMARY:{}\r\n", "名".repeat(40)));
    }

    #[test]
    fn uids_depend_on_kind_and_name_only() {
        assert_eq!(uid("credential", "a"), uid("credential", "a"));
        assert_ne!(uid("credential", "a"), uid("pool", "a"));
        assert_ne!(uid("credential", "a"), uid("credential", "b"));
        assert!(uid("credential", "<x>/\"").starts_with("credential-"));
    }
}
