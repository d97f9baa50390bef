//! What was stored, recorded: `rotate` and `record` against a real OpenBao keep the value's
//! fingerprint, the version and a short history in custom_metadata (other keys kept, never a
//! secret), and a value changed by hand is reported as changed outside credwatch.

use serde_json::{Value, json};

use crate::cases::values::{assert_no_substring, claude_token};
use crate::support::openbao::OpenBao;
use crate::support::{Credwatch, Run, Scratch};

const KEY: &str = "a-long-random-fingerprint-key-for-tests-0123456789";

/// credwatch's keyed fingerprint, computed independently (HMAC-SHA-256, first 8 bytes in hex).
pub fn hmac_fingerprint(value: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, KEY.as_bytes());
    let tag = ring::hmac::sign(&key, value.as_bytes());
    let hex: String = tag.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("hmac-sha256:{hex}")
}

fn custom(bao: &OpenBao, path: &str) -> Value {
    bao.api("GET", &format!("secret/metadata/{path}"), None)["data"]["custom_metadata"].clone()
}

const CONFIG: &str = r#"
[[source]]
kind = "vault"
paths = []
prefix = ""

[[credential]]
name = "primary"
vault = { path = "agent", field = "oauth_token" }
format = "claude-oauth"
"#;

#[test]
fn record_imports_a_mint_time_rotate_keeps_a_history_and_a_hand_change_is_reported() {
    let bao = OpenBao::start();
    let (old, new, theirs) = (
        claude_token(41, 108),
        claude_token(42, 108),
        claude_token(43, 108),
    );
    bao.write_secret("agent", json!({ "oauth_token": old, "note": "keep me" }));
    bao.write_custom_metadata("agent", json!({ "owner": "platform" }));
    let s = Scratch::new();
    let config = s.write("credwatch.toml", CONFIG);
    let policy = Credwatch::new()
        .args([std::ffi::OsStr::new("--config"), config.as_os_str()])
        .args(["render", "vault-policy", "--for", "rotate"])
        .run();
    bao.write_policy("credwatch-rotate", &policy.stdout);
    let token = bao.create_token(&["credwatch-rotate"]);
    let cw = |args: &[&str], stdin: &str| -> Run {
        Credwatch::new()
            .args([std::ffi::OsStr::new("--config"), config.as_os_str()])
            .args(args)
            .env("VAULT_ADDR", &bao.url)
            .env("VAULT_TOKEN", &token)
            .env("CREDWATCH_FINGERPRINT_KEY", KEY)
            .env("USER", "ops")
            .run_with_stdin(stdin)
    };

    // Import a known mint time: a merge patch, the other keys kept.
    let recorded = cw(
        &[
            "record",
            "primary",
            "--minted-at",
            "2026-04-18T16:07:09Z",
            "--by",
            "importer",
        ],
        "",
    );
    recorded.assert_code(0);
    assert!(
        recorded
            .stdout
            .contains("recorded minted_at = 2026-04-18T16:07:09Z for version 1 of `secret/agent`"),
        "{}",
        recorded.stdout
    );
    let c = custom(&bao, "agent");
    assert_eq!(c["owner"], "platform");
    assert_eq!(c["minted_at"], "2026-04-18T16:07:09Z");
    assert_eq!(c["recorded_version"], "1");
    assert_eq!(c["recorded_by"], "importer via credwatch");
    assert_eq!(c["fingerprint"], hmac_fingerprint(&old));

    // Rotate: the new value's fingerprint and version, the old one in the history.
    let rotated = cw(
        &[
            "rotate",
            "primary",
            "--minted-at",
            "2026-11-30T12:00:00Z",
            "--no-push",
        ],
        &format!("{new}\n"),
    );
    rotated.assert_code(0);
    let c = custom(&bao, "agent");
    assert_eq!(c["owner"], "platform");
    assert_eq!(c["fingerprint"], hmac_fingerprint(&new));
    assert_eq!(c["recorded_version"], "2");
    assert_eq!(c["rotated_by"], "ops via credwatch");
    let previous = c["previous_1"].as_str().unwrap();
    assert!(
        previous.starts_with(&format!(
            "version=1 fingerprint={} minted_at=2026-04-18T16:07:09Z expires_at=2027-04-18T16:07:09Z replaced_at=",
            hmac_fingerprint(&old)
        )),
        "{previous}"
    );

    // A hand change (what `bao kv patch` does): version 3, not recorded by credwatch.
    let (status, _) = bao.request(
        Some(&bao.root_token),
        "PATCH",
        "secret/data/agent",
        Some(json!({ "data": { "oauth_token": theirs } })),
    );
    assert_eq!(status, 200);
    let created =
        bao.api("GET", "secret/metadata/agent", None)["data"]["versions"]["3"]["created_time"]
            .as_str()
            .unwrap()
            .to_string();
    let check = cw(&["check", "-o", "json"], "");
    assert!(
        check.stderr.contains("changed outside credwatch at")
            && check
                .stderr
                .contains("run `credwatch record primary --minted-at TIME` to confirm"),
        "{}",
        check.stderr
    );
    let doc: Value = serde_json::from_str(&check.stdout).unwrap();
    let primary = doc["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "primary")
        .unwrap()
        .clone();
    assert_eq!(
        primary["kind"], "assumed_changed_out_of_band",
        "{primary:#}"
    );
    assert_eq!(primary["minted_at"], created.as_str(), "{primary:#}");

    // Confirming it with `record` ends the finding.
    cw(
        &["record", "primary", "--minted-at", "2026-12-01T00:00:00Z"],
        "",
    )
    .assert_code(0);
    let check = cw(&["check", "-o", "json"], "");
    assert!(
        !check.stderr.contains("changed outside"),
        "{}",
        check.stderr
    );
    assert_eq!(
        custom(&bao, "agent")["fingerprint"],
        hmac_fingerprint(&theirs)
    );

    // No value, nor any part of one, in what was printed or stored.
    let stored = custom(&bao, "agent").to_string();
    for text in [
        &recorded.stdout,
        &recorded.stderr,
        &rotated.stdout,
        &rotated.stderr,
        &check.stdout,
        &check.stderr,
        &stored,
    ] {
        for t in [&old, &new, &theirs] {
            assert_no_substring(
                &text.replace("sk-ant-oat01-", ""),
                &t["sk-ant-oat01-".len()..],
            );
        }
    }
}
