//! Checks a rendered custom resource (PrometheusRule, PodMonitor) against its CRD's schema, which
//! the workplace keeps outside the repository (`../shared/schemas/`); `crd_check.py` does the
//! validation. Where the schema is absent the check is skipped, and says so on stderr.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::repo_root;

/// The CRD schema file `name` (e.g. `monitoring.coreos.com_podmonitors.yaml`), or `None`, said on
/// stderr, when it is absent.
pub fn schema(name: &str) -> Option<PathBuf> {
    let schema = repo_root().join("../shared/schemas").join(name);
    if schema.exists() {
        return Some(schema);
    }
    // Written to stderr directly, past the harness's capture, so that it shows in every run.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED the CRD schema check of {name}: the schema is absent at {}",
        schema.display()
    );
    None
}

/// Whether `doc` (one YAML document) passes the schema, and what the check said.
pub fn check(schema: &std::path::Path, doc: &str) -> (bool, String) {
    let script = repo_root().join("tests/support/crd_check.py");
    let mut child = Command::new("python3")
        .arg(&script)
        .arg(schema)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run python3 ({e}); run ./scripts/test"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(doc.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success() && said.contains("valid"), said)
}
