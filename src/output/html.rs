//! The status page: one self-contained HTML document of a [`Report`] (credentials, an expiry
//! timeline in inline SVG, pools with their runway, sources), served by `serve` at `/` and
//! written by `check --output html`. Pure.
//!
//! Built with maud, which escapes every interpolated value, so a credential named `<script>` is
//! text. The page needs no JavaScript and loads nothing: its one stylesheet is inline and allowed
//! by its hash in [`content_security_policy`], which `serve` sends as a header and the page
//! repeats in a `<meta>` element (for a copy opened from disk). No element carries a `style`
//! attribute, which that policy would block; SVG geometry is set with presentation attributes.
//!
//! A section appears only when it has something to show (pools, sources, problems), so that
//! states other stages add later (consumers, probes) slot in as further optional sections.

use base64::Engine;
use jiff::{SignedDuration, Timestamp};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use sha2::{Digest, Sha256};

use crate::assess::{Assessment, Pool, Report, Status};
use crate::output::{days_left, expires_cell, summary};

/// The page's only stylesheet, inlined and allowed by its hash.
const STYLE: &str = include_str!("status.css");

/// The timeline's coordinate system (SVG user units; the SVG scales to its box).
pub mod timeline {
    /// Width of the whole drawing.
    pub const WIDTH: f64 = 1000.0;
    /// Where the time axis starts and ends; names sit left of `X0`.
    pub const X0: f64 = 240.0;
    pub const X1: f64 = 985.0;
    /// Height of the axis band at the top and of each credential's row.
    pub const AXIS: f64 = 28.0;
    pub const ROW: f64 = 22.0;
    /// The axis starts this long before now, so that what expired lately is still on it.
    pub const BEFORE_DAYS: i64 = 30;
    /// It ends at least this long after now, or a month after the latest expiry, but never
    /// more than `MAX_AFTER_DAYS` after now (later expiries sit at the right edge).
    pub const MIN_AFTER_DAYS: i64 = 182;
    pub const MAX_AFTER_DAYS: i64 = 730;
}

/// The `Content-Security-Policy` the page works under: nothing may load, no script may run,
/// and the only style is the page's own stylesheet.
pub fn content_security_policy() -> String {
    format!("{}; frame-ancestors 'none'", meta_policy())
}

/// The policy as a `<meta>` element can carry it (`frame-ancestors` works only as a header).
fn meta_policy() -> String {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLE));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; img-src data:; base-uri 'none'; form-action 'none'"
    )
}

/// The class that colours a status (the text is always shown next to the colour).
fn status_class(status: Status) -> &'static str {
    match status {
        Status::Ok => "s-ok",
        Status::NoExpiry => "s-noexpiry",
        // No verdict from the issuer: a warning, coloured as one.
        Status::Warning | Status::ProbeFailing => "s-warning",
        Status::Unknown => "s-unknown",
        Status::Critical => "s-critical",
        Status::Invalid => "s-invalid",
        // Rejected by the issuer: as dead as an expired one.
        Status::Expired | Status::Revoked => "s-expired",
    }
}

fn badge(status: Status) -> Markup {
    html! { span class={ "badge " (status_class(status)) } { (status.as_str()) } }
}

fn utc(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

/// The whole page.
pub fn render_html(report: &Report) -> String {
    let overall = report.overall();
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta http-equiv="Content-Security-Policy" content=(meta_policy());
                // Without an icon of its own, a browser asks the server for /favicon.ico.
                link rel="icon" href="data:,";
                title { "credwatch: " (overall.as_str()) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    h1 { "credwatch " (badge(overall)) }
                    p class="meta" {
                        "Refreshed " time datetime=(report.now.to_string()) { (utc(report.now)) }
                        " · " (summary(report))
                        @if !report.complete() {
                            " · something could not be read"
                        }
                    }
                }
                main {
                    (credentials(report))
                    (timeline_section(report))
                    @if let Some(pools) = pools(report) { (pools) }
                    @if let Some(sources) = sources(report) { (sources) }
                    @if let Some(problems) = problems(report) { (problems) }
                }
                footer { "credwatch " (env!("CARGO_PKG_VERSION")) }
            }
        }
    };
    let mut text = page.into_string();
    text.push('\n');
    text
}

/// What a row cannot show in a cell: why it could not be read, a format problem, a replacement.
fn notes(a: &Assessment) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(e) = &a.error {
        notes.push(e.clone());
    }
    if let Some(e) = &a.evidence {
        if let Some(subject) = &e.subject {
            notes.push(subject.clone());
        }
        if let Some(f) = &e.format
            && let Some(problem) = &f.problem
        {
            notes.push(format!("not a valid `{}` value: {problem}", f.profile));
        }
    }
    if a.status != Status::Ok && a.status != Status::NoExpiry && a.credential.pool.is_some() {
        notes.push(match &a.replacement {
            Some(r) => format!("{r} in the same pool can replace it"),
            None => "no healthy replacement in its pool".into(),
        });
    }
    notes
}

fn credentials(report: &Report) -> Markup {
    html! {
        section id="credentials" {
            h2 { "Credentials" }
            @if report.assessments.is_empty() {
                p { "No credentials are configured." }
            } @else {
                table class="credentials" {
                    thead { tr {
                        th scope="col" { "Credential" }
                        th scope="col" { "Status" }
                        th scope="col" class="num" { "Days left" }
                        th scope="col" { "Expires" }
                        th scope="col" { "Source" }
                        th scope="col" { "Pool" }
                    } }
                    tbody {
                        @for a in &report.assessments {
                            tr class=(status_class(a.status)) data-credential=(a.credential.name) {
                                td data-label="Credential" {
                                    span class="name" { (a.credential.name) }
                                    @for note in notes(a) { small { (note) } }
                                    @if let Some(r) = &a.credential.runbook {
                                        small { "runbook: " (r) }
                                    }
                                }
                                td data-label="Status" class="status" { (badge(a.status)) }
                                td data-label="Days left" class="num" {
                                    (a.remaining.map_or("-".into(), |r| days_left(r.as_secs())))
                                }
                                td data-label="Expires" { (expires_cell(a)) }
                                td data-label="Source" { (a.credential.source) }
                                td data-label="Pool" { (a.credential.pool.as_deref().unwrap_or("-")) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The time axis: `[start, end]` mapped onto `[X0, X1]`.
#[derive(Debug, Clone, Copy)]
struct Axis {
    start: Timestamp,
    end: Timestamp,
}

impl Axis {
    fn for_report(report: &Report) -> Axis {
        use timeline::{BEFORE_DAYS, MAX_AFTER_DAYS, MIN_AFTER_DAYS};
        let now = report.now;
        let day = |d: i64| SignedDuration::from_hours(24 * d);
        let at = |d: i64| now.checked_add(day(d)).unwrap_or(now);
        let latest = report
            .assessments
            .iter()
            .filter_map(expiry)
            .filter(|t| *t != Timestamp::MAX)
            .max()
            .and_then(|t| t.checked_add(day(30)).ok());
        let end = latest
            .unwrap_or(now)
            .clamp(at(MIN_AFTER_DAYS), at(MAX_AFTER_DAYS));
        Axis {
            start: at(-BEFORE_DAYS),
            end,
        }
    }

    /// The horizontal position of `t`, kept on the axis.
    fn x(&self, t: Timestamp) -> f64 {
        use timeline::{X0, X1};
        let span = self.end.as_second() - self.start.as_second();
        let offset = t
            .as_second()
            .clamp(self.start.as_second(), self.end.as_second())
            - self.start.as_second();
        X0 + (X1 - X0) * offset as f64 / span.max(1) as f64
    }

    /// The first day of every month within the axis.
    fn months(&self) -> Vec<jiff::civil::Date> {
        let tz = jiff::tz::TimeZone::UTC;
        let first = tz.to_datetime(self.start).date().first_of_month();
        let end = tz.to_datetime(self.end).date();
        let mut months = Vec::new();
        let mut month = first;
        // At most MAX_AFTER_DAYS + BEFORE_DAYS days: bounded by 26 months or so.
        while month <= end && months.len() < 40 {
            if let Ok(m) = month.checked_add(jiff::Span::new().months(1)) {
                months.push(m);
                month = m;
            } else {
                break;
            }
        }
        months.retain(|m| *m <= end);
        months
    }
}

fn expiry(a: &Assessment) -> Option<Timestamp> {
    a.evidence.as_ref().and_then(|e| e.expires_at)
}

/// A name cut to fit the timeline's label column (the full name is in the row's title).
fn short(name: &str) -> String {
    const MAX: usize = 30;
    if name.chars().count() <= MAX {
        name.to_string()
    } else {
        let mut s: String = name.chars().take(MAX - 1).collect();
        s.push('…');
        s
    }
}

fn fmt(x: f64) -> String {
    format!("{x:.1}")
}

fn timeline_section(report: &Report) -> Markup {
    use timeline::{AXIS, ROW, WIDTH, X0, X1};
    let axis = Axis::for_report(report);
    let rows = report.assessments.len().max(1) as f64;
    let height = AXIS + ROW * rows + 6.0;
    let now_x = axis.x(report.now);
    html! {
        section id="timeline" {
            h2 { "Timeline" }
            p class="legend" {
                span class="key k-warn" {} "warning window "
                span class="key k-crit" {} "critical window "
                span class="key k-mark" {} "expiry "
                span class="key k-now" {} "today"
            }
            div class="scroll" {
                svg class="timeline" xmlns="http://www.w3.org/2000/svg" role="img"
                    viewBox={ "0 0 " (fmt(WIDTH)) " " (fmt(height)) }
                    width=(fmt(WIDTH)) height=(fmt(height))
                    data-start=(axis.start.as_second()) data-end=(axis.end.as_second())
                    data-x0=(fmt(X0)) data-x1=(fmt(X1)) {
                    title { "Expiries from " (utc(axis.start)) " to " (utc(axis.end)) }
                    @for m in axis.months() {
                        @let x = axis.x(jiff::tz::TimeZone::UTC.to_timestamp(m.to_datetime(jiff::civil::Time::midnight())).unwrap_or(axis.start));
                        line class="grid" x1=(fmt(x)) x2=(fmt(x)) y1="18" y2=(fmt(height)) {}
                        text class="month" x=(fmt(x + 3.0)) y="14" { (m.strftime("%b %Y")) }
                    }
                    @for (i, a) in report.assessments.iter().enumerate() {
                        @let y = AXIS + ROW * i as f64;
                        @let mid = y + ROW / 2.0;
                        g class={ "row " (status_class(a.status)) } data-credential=(a.credential.name) {
                            title { (a.credential.name) ": " (a.status.as_str()) @if let Some(t) = expiry(a) { ", expires " (utc(t)) } }
                            text class="label" x=(fmt(X0 - 8.0)) y=(fmt(mid + 4.0)) { (short(&a.credential.name)) }
                            @if let Some(t) = expiry(a).filter(|t| *t != Timestamp::MAX) {
                                @let th = a.credential.thresholds;
                                @let warn = axis.x(t.checked_sub(th.warn_before).unwrap_or(t));
                                @let crit = axis.x(t.checked_sub(th.critical_before).unwrap_or(t));
                                @let x = axis.x(t);
                                rect class="warn" x=(fmt(warn)) y=(fmt(y + 4.0)) width=(fmt((crit - warn).max(0.0))) height=(fmt(ROW - 8.0)) {}
                                rect class="crit" x=(fmt(crit)) y=(fmt(y + 4.0)) width=(fmt((x - crit).max(0.0))) height=(fmt(ROW - 8.0)) {}
                                circle class="mark" cx=(fmt(x)) cy=(fmt(mid)) r="5" data-credential=(a.credential.name) data-expires=(t.as_second()) {}
                            } @else {
                                text class="none" x=(fmt(X0 + 4.0)) y=(fmt(mid + 4.0)) {
                                    @if a.status == Status::NoExpiry { "never expires" } @else { "expiry unknown" }
                                }
                            }
                        }
                    }
                    line class="now" x1=(fmt(now_x)) x2=(fmt(now_x)) y1="18" y2=(fmt(height)) data-now=(report.now.as_second()) {}
                    text class="nowlabel" x=(fmt(now_x + 3.0)) y=(fmt(height - 2.0)) { "today" }
                }
            }
        }
    }
}

/// Seconds of runway the pool bars span: a year, or the longest runway or twice a pool's
/// warning when that is more, so that bars compare across pools and a short runway looks short.
fn runway_scale(report: &Report) -> f64 {
    report
        .pools
        .iter()
        .flat_map(|p| {
            [
                p.runway(report.now).map_or(0.0, |r| r.as_secs_f64()),
                p.runway_warn_before.as_secs_f64() * 2.0,
            ]
        })
        .fold(365.0 * 86_400.0, f64::max)
}

fn pools(report: &Report) -> Option<Markup> {
    if report.pools.is_empty() {
        return None;
    }
    let scale = runway_scale(report);
    let bar = |seconds: f64| fmt((seconds.max(0.0) / scale * 100.0).min(100.0));
    Some(html! {
        section id="pools" {
            h2 { "Pools" }
            @for p in &report.pools {
                (pool(report, p, &bar))
            }
        }
    })
}

fn pool(report: &Report, p: &Pool, bar: &dyn Fn(f64) -> String) -> Markup {
    let low = p.low(report.now);
    let runway = p.runway(report.now);
    let text = match (p.runway_until, runway) {
        (None, _) => "no usable member".to_string(),
        (Some(_), None) => "a member never expires".to_string(),
        (Some(t), Some(r)) => format!("runway {} days (until {})", days_left(r.as_secs()), utc(t)),
    };
    let filled = match (p.runway_until, runway) {
        (Some(_), None) => 100.0_f64.to_string(),
        (_, r) => bar(r.map_or(0.0, |r| r.as_secs_f64())),
    };
    html! {
        div class={ "pool" @if low { " low" } } data-pool=(p.name) {
            h3 {
                (p.name) " "
                @if low { span class="badge s-critical" { "LOW" } } @else { span class="badge s-ok" { "OK" } }
            }
            p {
                (p.members.len()) " member" @if p.members.len() != 1 { "s" }
                @if p.fingerprinted > 0 { ", " (p.distinct) " distinct" }
                " · " (text)
            }
            svg class="bar" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 6"
                preserveAspectRatio="none" role="img" {
                title { (p.name) ": " (text) }
                rect class="track" x="0" y="0" width="100" height="6" {}
                rect class="fill" x="0" y="0" width=(filled) height="6" {}
                @let warn = bar(p.runway_warn_before.as_secs_f64());
                rect class="threshold" x=(warn) y="0" width="0.4" height="6" {}
            }
            @if !p.duplicates.is_empty() || !p.no_runway.is_empty() {
                ul {
                    @for (dup, original) in &p.duplicates {
                        li { (dup) " is the same token as " (original) }
                    }
                    @for (member, other) in &p.no_runway {
                        li { (member) " expires within " (crate::time::format_duration(p.spread)) " of " (other) " and adds no runway" }
                    }
                }
            }
        }
    }
}

fn sources(report: &Report) -> Option<Markup> {
    if report.sources.is_empty() {
        return None;
    }
    Some(html! {
        section id="sources" {
            h2 { "Sources" }
            table class="sources" {
                thead { tr { th scope="col" { "Source" } th scope="col" { "Kind" } th scope="col" { "Health" } th scope="col" { "Error" } } }
                tbody {
                    @for s in &report.sources {
                        tr data-source=(s.name) {
                            td data-label="Source" { (s.name) }
                            td data-label="Kind" { (s.kind) }
                            td data-label="Health" {
                                @if s.error.is_none() { span class="badge s-ok" { "UP" } }
                                @else { span class="badge s-critical" { "DOWN" } }
                            }
                            td data-label="Error" { (s.error.as_deref().unwrap_or("-")) }
                        }
                    }
                }
            }
        }
    })
}

fn problems(report: &Report) -> Option<Markup> {
    if report.problems.is_empty() {
        return None;
    }
    Some(html! {
        section id="problems" {
            h2 { "Problems" }
            ul { @for p in &report.problems { li { (p) } } }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn the_axis_maps_its_ends_and_clamps() {
        let axis = Axis {
            start: at(0),
            end: at(1000),
        };
        assert_eq!(axis.x(at(0)), timeline::X0);
        assert_eq!(axis.x(at(1000)), timeline::X1);
        assert_eq!(axis.x(at(5000)), timeline::X1);
        assert_eq!(axis.x(at(-5)), timeline::X0);
        assert!((axis.x(at(500)) - (timeline::X0 + timeline::X1) / 2.0).abs() < 1e-9);
    }

    #[test]
    fn long_names_are_cut_on_characters() {
        assert_eq!(short("short"), "short");
        let long = "名".repeat(40);
        assert_eq!(short(&long).chars().count(), 30);
        assert!(short(&long).ends_with('…'));
    }

    #[test]
    fn names_are_text_and_nothing_is_styled_inline() {
        use crate::credential::{Credential, Thresholds};
        let credential = Credential {
            name: "<script>alert(1)</script>".into(),
            pool: None,
            source: "a\"b&c".into(),
            labels: Default::default(),
            runbook: None,
            thresholds: Thresholds {
                warn_before: SignedDuration::from_hours(24 * 30),
                critical_before: SignedDuration::from_hours(24 * 7),
            },
        };
        let report = Report {
            now: at(1_800_000_000),
            assessments: vec![Assessment {
                credential,
                evidence: None,
                error: Some("cannot read `<x>`".into()),
                status: Status::Unknown,
                remaining: None,
                replacement: None,
            }],
            pools: Vec::new(),
            sources: Vec::new(),
            problems: Vec::new(),
            copies: Default::default(),
        };
        let page = render_html(&report);
        assert!(!page.contains("<script>"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("a&quot;b&amp;c"));
        assert!(page.contains("cannot read `&lt;x&gt;`"));
        assert!(!page.contains(" style="));
        // No pools, sources or problems: no such sections.
        assert!(!page.contains("id=\"pools\"") && !page.contains("id=\"sources\""));
        assert!(page.contains("expiry unknown"));
    }

    #[test]
    fn the_policy_allows_exactly_the_inline_stylesheet() {
        let csp = content_security_policy();
        assert!(csp.starts_with("default-src 'none'; style-src 'sha256-"));
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLE));
        assert!(csp.contains(&hash));
        assert!(!csp.contains("unsafe"));
    }
}
