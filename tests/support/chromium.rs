//! Debian's `chromium`, headless, as this machine allows it (DESIGN.md §9: no sandbox as root,
//! no background networking), each run with a fresh profile, bounded by `timeout`. What it
//! rendered comes back as the DOM, its console log and the URLs pages asked for (from its
//! NetLog, read by `status_dom.py`).

use std::path::Path;
use std::process::Command;

use tempfile::TempDir;

/// What one headless visit saw.
pub struct Visit {
    /// The DOM after load, as `--dump-dom` serializes it.
    pub dom: String,
    /// Chromium's stderr, console messages (CSP violations among them) included.
    pub log: String,
    /// Every URL requested on behalf of a page of the visited site.
    pub requests: Vec<String>,
}

const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
];

fn chromium(profile: &Path, args: &[String]) -> (bool, String, String) {
    let binary = super::require("chromium");
    let out = Command::new("timeout")
        .args(["--kill-after=5", "90"])
        .arg(binary)
        .args(FLAGS)
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("run chromium");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `tests/support/status_dom.py` with `args` and parses the JSON it prints.
pub fn read_with_python(args: &[&str]) -> serde_json::Value {
    super::python_json("status_dom.py", args)
}

/// Loads `url` and dumps its DOM; `site` (`http://127.0.0.1`) is whose requests are reported.
pub fn visit(url: &str, site: &str) -> Visit {
    let dir = TempDir::new().unwrap();
    let netlog = dir.path().join("net.json");
    let (ok, dom, log) = chromium(
        &dir.path().join("profile"),
        &[
            format!("--log-net-log={}", netlog.display()),
            "--dump-dom".into(),
            url.into(),
        ],
    );
    assert!(
        ok && !dom.is_empty(),
        "chromium --dump-dom {url} failed:\n{log}"
    );
    let requests = read_with_python(&["netlog", netlog.to_str().unwrap(), site]);
    Visit {
        dom,
        log,
        requests: requests
            .as_array()
            .expect("a list of URLs")
            .iter()
            .map(|u| u.as_str().unwrap_or_default().to_string())
            .collect(),
    }
}

/// Writes a PNG screenshot of `url` at `width`×`height` to `path`.
pub fn screenshot(url: &str, width: u32, height: u32, path: &Path) {
    let dir = TempDir::new().unwrap();
    let (ok, _, log) = chromium(
        &dir.path().join("profile"),
        &[
            format!("--window-size={width},{height}"),
            format!("--screenshot={}", path.display()),
            url.into(),
        ],
    );
    assert!(
        ok && path.is_file(),
        "chromium --screenshot {url} failed:\n{log}"
    );
}

/// Width and height from a PNG's IHDR chunk.
pub fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.len() < 24 || &bytes[..8] != b"\x89PNG\r\n\x1a\n" || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    Some((be(&bytes[16..20]), be(&bytes[20..24])))
}
