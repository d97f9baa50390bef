//! The status page in a real browser: `credwatch serve` on a loopback port with a fixture of
//! every status (and a pool holding a copy, a name that needs escaping, a source that is down),
//! loaded by headless Chromium. The DOM holds every credential with its status text, the
//! timeline has one mark per dated credential where its expiry falls, nothing is requested but
//! the page, the page's policy is met, and screenshots at 1280×800 and 390×844 are written to
//! `target/screenshots/` for review.

use std::path::PathBuf;

use jiff::{SignedDuration, Timestamp};

use crate::support::chromium::{self, png_size};
use crate::support::exporter::Exporter;
use crate::support::{Credwatch, Scratch, http_agent, repo_root};

/// A name with every character HTML must escape.
pub const ODD: &str = "<b>odd</b> & \"quoted\" 'name'";

/// One credential of the fixture: its name, its expiry (none when it cannot be read) and the
/// status it must have.
pub struct Expected {
    pub name: &'static str,
    pub expires: Option<Timestamp>,
    pub status: &'static str,
    pub warn_before_days: i64,
    pub critical_before_days: i64,
}

pub struct Fixture {
    pub scratch: Scratch,
    pub config: PathBuf,
    pub credentials: Vec<Expected>,
    /// The pool and when its runway ends.
    pub pool: (&'static str, Timestamp),
}

fn days(n: i64) -> SignedDuration {
    SignedDuration::from_hours(24 * n)
}

/// Every status as of `now` (whole seconds), a pool `agent` whose spare holds the primary's
/// token, a credential whose file is missing (UNKNOWN), [`ODD`], and a directory source whose
/// folder does not exist. With `complete`, the two unreadable parts are left out, so a run reads
/// everything.
pub fn fixture(now: Timestamp, complete: bool) -> Fixture {
    let now = Timestamp::from_second(now.as_second()).unwrap();
    let scratch = Scratch::new();
    scratch.write("values/primary.token", "test-token-agent-0001\n");
    scratch.write("values/spare.token", "test-token-agent-0001\n");
    let at = |d: i64| now.checked_add(days(d)).unwrap();
    let mut credentials = vec![
        ("ok-token", Some(at(200)), "OK"),
        ("warning-token", Some(at(20)), "WARNING"),
        ("critical-token", Some(at(3)), "CRITICAL"),
        ("expired-token", Some(at(-5)), "EXPIRED"),
        (ODD, Some(at(90)), "OK"),
        ("agent-primary", Some(at(150)), "OK"),
        ("agent-spare", Some(at(240)), "OK"),
    ];
    if !complete {
        credentials.push(("unknown-token", None, "UNKNOWN"));
    }
    let mut toml = format!(
        r#"[defaults]
warn_before = "30d"
critical_before = "7d"
pool_warn_before = "60d"

[pushgateway]
url = "http://127.0.0.1:9"
job = "credwatch-views"

[[credential]]
name = "ok-token"
expires_at = "{ok}"
runbook = "https://runbooks.example/rotate?a=1&b=<2>"

[[credential]]
name = "warning-token"
expires_at = "{warning}"

[[credential]]
name = "critical-token"
expires_at = "{critical}"

[[credential]]
name = "expired-token"
expires_at = "{expired}"

[[credential]]
name = "{odd_name}"
expires_at = "{odd}"

[[credential]]
name = "agent-primary"
pool = "agent"
expires_at = "{primary}"
file = "values/primary.token"

[[credential]]
name = "agent-spare"
pool = "agent"
expires_at = "{spare}"
file = "values/spare.token"
"#,
        odd_name = ODD.replace('"', "\\\""),
        ok = at(200),
        warning = at(20),
        critical = at(3),
        expired = at(-5),
        odd = at(90),
        primary = at(150),
        spare = at(240),
    );
    if !complete {
        toml.push_str(
            r#"
[[credential]]
name = "unknown-token"
minted_at = "2026-01-01T00:00:00Z"
file = "values/missing.token"

[[source]]
kind = "directory"
name = "configmap"
path = "no-such-folder"
"#,
        );
    }
    let config = scratch.write("credwatch.toml", &toml);
    Fixture {
        scratch,
        config,
        credentials: credentials
            .into_iter()
            .map(|(name, expires, status)| Expected {
                name,
                expires,
                status,
                warn_before_days: 30,
                critical_before_days: 7,
            })
            .collect(),
        // The spare holds the primary's token, so the pool's runway ends with the primary.
        pool: ("agent", at(150)),
    }
}

fn header(url: &str, name: &str) -> Option<String> {
    let response = http_agent().get(url).call().ok()?;
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

#[test]
fn the_status_page_in_headless_chromium() {
    let fx = fixture(Timestamp::now(), false);
    let exporter = Exporter::start_ready(&fx.config, &[]);
    let page = format!("{}/", exporter.url);

    let answer = exporter.get("/");
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.content_type, "text/html; charset=utf-8");
    let csp = header(&page, "content-security-policy").expect("a Content-Security-Policy header");
    assert!(
        csp.starts_with("default-src 'none'; style-src 'sha256-") && !csp.contains("unsafe"),
        "{csp}"
    );
    assert!(
        !answer.body.contains("<b>odd</b>") && answer.body.contains("&lt;b&gt;odd&lt;/b&gt;"),
        "the odd name is escaped"
    );

    let visit = chromium::visit(&page, "http://127.0.0.1");
    assert_eq!(
        visit.requests,
        vec![page.clone()],
        "the page requested something besides itself"
    );
    assert!(
        !visit.log.contains("Content Security Policy"),
        "the page broke its own policy:\n{}",
        visit
            .log
            .lines()
            .filter(|l| l.contains("Content Security Policy"))
            .collect::<Vec<_>>()
            .join("\n")
    );

    let dir = tempfile::tempdir().unwrap();
    let dom_path = dir.path().join("dom.html");
    std::fs::write(&dom_path, &visit.dom).unwrap();
    let dom = chromium::read_with_python(&["dom", dom_path.to_str().unwrap()]);
    assert_eq!(dom["scripts"], 0, "no script");
    assert_eq!(
        dom["style_attributes"], 0,
        "no style attribute (the policy blocks them)"
    );
    assert_eq!(dom["loads"], serde_json::json!([]), "nothing to load");

    // Every credential, once, with its status as text.
    let rows = dom["rows"].as_array().unwrap();
    assert_eq!(rows.len(), fx.credentials.len(), "{rows:#?}");
    for c in &fx.credentials {
        let row = rows
            .iter()
            .find(|r| r["credential"] == c.name)
            .unwrap_or_else(|| panic!("no row for `{}` in {rows:#?}", c.name));
        assert_eq!(row["status"], c.status, "status text of `{}`", c.name);
    }

    // One mark per credential with an expiry, where its expiry falls on the axis.
    let svg = &dom["svg"];
    let (start, end) = (
        svg["data-start"].as_f64().unwrap(),
        svg["data-end"].as_f64().unwrap(),
    );
    let (x0, x1) = (
        svg["data-x0"].as_f64().unwrap(),
        svg["data-x1"].as_f64().unwrap(),
    );
    let now = dom["now"]["at"].as_f64().unwrap();
    assert!(
        (start - (now - 30.0 * 86_400.0)).abs() < 1.0,
        "the axis starts 30 days before now"
    );
    assert!(
        end > now + 240.0 * 86_400.0,
        "the latest expiry is on the axis"
    );
    let x = |t: f64| x0 + (x1 - x0) * (t - start) / (end - start);
    assert!((dom["now"]["x"].as_f64().unwrap() - x(now)).abs() <= 0.06);
    let marks = dom["marks"].as_array().unwrap();
    let dated: Vec<&Expected> = fx
        .credentials
        .iter()
        .filter(|c| c.expires.is_some())
        .collect();
    assert_eq!(marks.len(), dated.len(), "{marks:#?}");
    for c in dated {
        let expires = c.expires.unwrap().as_second() as f64;
        let found: Vec<_> = marks.iter().filter(|m| m["credential"] == c.name).collect();
        assert_eq!(found.len(), 1, "marks of `{}`", c.name);
        let cx = found[0]["cx"].as_f64().unwrap();
        assert!(
            (cx - x(expires)).abs() <= 0.06,
            "`{}` is marked at x={cx}, its expiry is at x={}",
            c.name,
            x(expires)
        );
    }
    // Marks are ordered in time like the expiries.
    let mut by_x: Vec<_> = marks
        .iter()
        .map(|m| (m["cx"].as_f64().unwrap(), m["expires"].as_i64().unwrap()))
        .collect();
    by_x.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(by_x.windows(2).all(|w| w[0].1 <= w[1].1));

    // The pool with its copy, the source that is down, the time of the refresh.
    for text in [
        "agent-spare is the same token as agent-primary",
        "1 distinct",
        "DOWN",
        "no-such-folder",
        "Refreshed",
    ] {
        assert!(visit.dom.contains(text), "the page does not say `{text}`");
    }
    // Values are never shown, fingerprints not either.
    assert!(!visit.dom.contains("test-token-agent"));
    assert!(!visit.dom.contains("sha256:"));

    // Screenshots for review.
    let shots = repo_root().join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    for (w, h) in [(1280, 800), (390, 844)] {
        let path = shots.join(format!("status-{w}x{h}.png"));
        let _ = std::fs::remove_file(&path);
        chromium::screenshot(&page, w, h, &path);
        let png = std::fs::read(&path).unwrap();
        assert_eq!(png_size(&png), Some((w, h)), "{}", path.display());
        eprintln!("screenshot: {}", path.display());
    }
}

#[test]
fn check_output_html_writes_the_status_page() {
    let fx = fixture(Timestamp::now(), false);
    let now = Timestamp::now().to_string();
    let r = Credwatch::new()
        .args(["--config", fx.config.to_str().unwrap()])
        .args(["check", "--output", "html", "--now", &now])
        .run();
    // EXPIRED is the worst status.
    r.assert_code(2);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("status.html");
    std::fs::write(&file, &r.stdout).unwrap();
    let dom = chromium::read_with_python(&["dom", file.to_str().unwrap()]);
    let rows = dom["rows"].as_array().unwrap();
    for c in &fx.credentials {
        assert!(
            rows.iter()
                .any(|r| r["credential"] == c.name && r["status"] == c.status),
            "`{}` with {} in {rows:#?}",
            c.name,
            c.status
        );
    }
    // The file carries the policy itself, for when it is opened from disk.
    assert!(r.stdout.contains("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'sha256-"));
    drop(fx.scratch);
}
