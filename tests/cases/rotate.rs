//! `credwatch rotate` for inventory credentials: the config is edited in place, comments and
//! all, and the new expiry is pushed at once.

use serde_json::json;

use crate::cases::values::claude_token;
use crate::support::lossy_proxy::{Loss, LossyProxy};
use crate::support::openbao::OpenBao;
use crate::support::{Credwatch, Pushgateway, Run, Scratch};

const CONFIG: &str = r#"# Agent tokens; rotate with `credwatch rotate NAME`.
[pushgateway]
url = "http://unused.invalid"   # overridden in tests

[[credential]]
name = "primary"        # live
pool = "agent"
minted_at = "2025-12-10T00:00:00Z"   # claude setup-token, laptop of A.

[[credential]]
name = "spare-1"
pool = "agent"
minted_at = "2026-11-01T00:00:00Z"

[[credential]]
name = "github-pat"
expires_at = "2026-12-20T00:00:00Z"
"#;

fn cw(config: &std::path::Path, _pg: &Pushgateway, args: &[&str]) -> crate::support::Run {
    Credwatch::new()
        .args([std::ffi::OsStr::new("--config"), config.as_os_str()])
        .args(args)
        .run()
}

#[test]
fn rotate_records_the_mint_time_keeps_comments_and_pushes_at_once() {
    let pg = Pushgateway::start();
    let s = Scratch::new();
    let config = s.write(
        "credwatch.toml",
        &CONFIG.replace("http://unused.invalid", &pg.url),
    );
    cw(&config, &pg, &["push"]).assert_code(0);
    let expiry = |name: &str| {
        pg.value(
            "credwatch",
            "credwatch_credential_expiry_timestamp_seconds",
            "credential",
            name,
        )
    };
    assert_eq!(expiry("primary").as_deref(), Some("1796860800")); // 2026-12-10 + 0: 10 days left

    let run = cw(
        &config,
        &pg,
        &["rotate", "primary", "--minted-at", "2026-11-30T12:00:00Z"],
    );
    run.assert_code(0);
    assert!(
        run.stdout
            .contains("recorded minted_at = 2026-11-30T12:00:00Z for `primary`"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("pushed 3 credential(s)"),
        "{}",
        run.stdout
    );
    let text = std::fs::read_to_string(&config).unwrap();
    assert_eq!(
        text,
        CONFIG.replace("http://unused.invalid", &pg.url).replace(
            "minted_at = \"2025-12-10T00:00:00Z\"   # claude",
            "minted_at = \"2026-11-30T12:00:00Z\"   # claude"
        )
    );
    // 2026-11-30T12:00:00Z + 365d, pushed without waiting for the next CronJob run.
    assert_eq!(expiry("primary").as_deref(), Some("1827576000"));

    // Promoting a spare copies its lifetime.
    cw(&config, &pg, &["rotate", "primary", "--from", "spare-1"]).assert_code(0);
    assert_eq!(expiry("primary"), expiry("spare-1"));

    // A credential with a stated expiry needs the new one.
    let run = cw(&config, &pg, &["rotate", "github-pat"]);
    run.assert_code(3);
    assert!(run.stderr.contains("pass --expires-at"), "{}", run.stderr);
    cw(
        &config,
        &pg,
        &[
            "rotate",
            "github-pat",
            "--expires-at",
            "2027-12-20T00:00:00Z",
            "--no-push",
        ],
    )
    .assert_code(0);
    assert!(
        std::fs::read_to_string(&config)
            .unwrap()
            .contains("expires_at = \"2027-12-20T00:00:00Z\"")
    );

    // Mistakes change nothing.
    let before = std::fs::read_to_string(&config).unwrap();
    let run = cw(&config, &pg, &["rotate", "nope"]);
    run.assert_code(3);
    assert!(
        run.stderr.contains("no credential named `nope`"),
        "{}",
        run.stderr
    );
    let run = cw(
        &config,
        &pg,
        &["rotate", "primary", "--minted-at", "yesterday"],
    );
    run.assert_code(3);
    assert!(
        run.stderr
            .contains("--minted-at: expected an RFC 3339 time"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), before);
    let leftovers: Vec<_> = std::fs::read_dir(s.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    assert_eq!(leftovers, [std::ffi::OsString::from("credwatch.toml")]);
}

#[test]
fn rotate_through_a_symlinked_config_edits_the_file_it_points_at() {
    let pg = Pushgateway::start();
    let s = Scratch::new();
    let real = s.write(
        "real/credwatch.toml",
        &CONFIG.replace("http://unused.invalid", &pg.url),
    );
    let link = s.path("credwatch.toml");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    cw(
        &link,
        &pg,
        &[
            "rotate",
            "primary",
            "--minted-at",
            "2026-11-30T12:00:00Z",
            "--no-push",
        ],
    )
    .assert_code(0);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link stays a link"
    );
    assert!(
        std::fs::read_to_string(&real)
            .unwrap()
            .contains("minted_at = \"2026-11-30T12:00:00Z\"   # claude")
    );
}

/// The KV v2 data write of `secret/agent` (a PATCH onto a version, a POST for a first one).
fn is_the_data_write(method: &str, path: &str) -> bool {
    matches!(method, "PATCH" | "POST" | "PUT") && path.starts_with("/v1/secret/data/agent")
}

/// `credwatch rotate primary` of `secret/agent` through `proxy`, the new value on stdin.
fn rotate_through(proxy: &LossyProxy, bao: &OpenBao, value: &str) -> Run {
    let s = Scratch::new();
    let config = s.write(
        "credwatch.toml",
        "[[source]]\nkind = \"vault\"\npaths = []\nprefix = \"\"\n\
         [[credential]]\nname = \"primary\"\nvault = { path = \"agent\", field = \"oauth_token\" }\nformat = \"claude-oauth\"\n",
    );
    Credwatch::new()
        .args([std::ffi::OsStr::new("--config"), config.as_os_str()])
        .args([
            "rotate",
            "primary",
            "--minted-at",
            "2026-11-30T12:00:00Z",
            "--no-push",
        ])
        .env("VAULT_ADDR", &proxy.url)
        .env("VAULT_TOKEN", &bao.root_token)
        .run_with_stdin(&format!("{value}\n"))
}

#[test]
fn a_write_whose_answer_is_lost_after_openbao_applied_it_is_not_called_unwritten() {
    let bao = OpenBao::start();
    let (old, new) = (claude_token(41, 108), claude_token(42, 108));
    bao.write_secret("agent", json!({ "oauth_token": old, "note": "keep me" }));
    bao.write_custom_metadata("agent", json!({ "minted_at": "2025-12-10T00:00:00Z" }));
    let proxy = LossyProxy::start(&bao.url, Loss::AfterForwarding, is_the_data_write);

    let run = rotate_through(&proxy, &bao, &new);
    assert_eq!(proxy.lost(), 1, "the proxy lost the write's answer");
    run.assert_code(3);
    let err = &run.stderr;
    assert!(!err.contains("nothing was written"), "{err}");
    assert!(
        err.contains(
            "the answer was lost, but the write landed: `secret/agent` moved from version 1 to 2, \
             which holds the new value"
        ),
        "{err}"
    );
    assert!(
        err.contains("run `credwatch record primary --minted-at 2026-11-30T12:00:00Z`"),
        "{err}"
    );
    assert!(
        !err.contains(&new[20..40]),
        "the value is never printed: {err}"
    );

    // OpenBao really holds the new value at version 2; the mint time is what is missing.
    let data = bao.api("GET", "secret/data/agent", None)["data"].clone();
    assert_eq!(data["metadata"]["version"], 2);
    assert_eq!(
        data["data"],
        json!({ "oauth_token": new, "note": "keep me" })
    );
    let custom = bao.api("GET", "secret/metadata/agent", None)["data"]["custom_metadata"].clone();
    assert_eq!(custom["minted_at"], "2025-12-10T00:00:00Z");

    // The command it names completes the rotation (run against OpenBao directly).
    let s = Scratch::new();
    let config = s.write(
        "credwatch.toml",
        "[[source]]\nkind = \"vault\"\npaths = []\nprefix = \"\"\n\
         [[credential]]\nname = \"primary\"\nvault = { path = \"agent\", field = \"oauth_token\" }\n",
    );
    Credwatch::new()
        .args([std::ffi::OsStr::new("--config"), config.as_os_str()])
        .args(["record", "primary", "--minted-at", "2026-11-30T12:00:00Z"])
        .env("VAULT_ADDR", &bao.url)
        .env("VAULT_TOKEN", &bao.root_token)
        .run()
        .assert_code(0);
    let custom = bao.api("GET", "secret/metadata/agent", None)["data"]["custom_metadata"].clone();
    assert_eq!(custom["minted_at"], "2026-11-30T12:00:00Z");
}

#[test]
fn a_write_reset_before_it_reached_openbao_says_nothing_was_written_and_nothing_was() {
    let bao = OpenBao::start();
    let (old, new) = (claude_token(43, 108), claude_token(44, 108));
    bao.write_secret("agent", json!({ "oauth_token": old }));
    bao.write_custom_metadata("agent", json!({ "minted_at": "2025-12-10T00:00:00Z" }));
    let before = bao.api("GET", "secret/metadata/agent", None)["data"].clone();
    let proxy = LossyProxy::start(&bao.url, Loss::BeforeForwarding, is_the_data_write);

    let run = rotate_through(&proxy, &bao, &new);
    assert_eq!(proxy.lost(), 1, "the proxy reset the write");
    run.assert_code(3);
    assert!(
        run.stderr
            .contains("Vault is still at version 1 of `secret/agent`: nothing was written"),
        "{}",
        run.stderr
    );
    let data = bao.api("GET", "secret/data/agent", None)["data"].clone();
    assert_eq!(data["metadata"]["version"], 1);
    assert_eq!(data["data"], json!({ "oauth_token": old }));
    let after = bao.api("GET", "secret/metadata/agent", None)["data"].clone();
    assert_eq!(after["custom_metadata"], before["custom_metadata"]);
    assert_eq!(after["updated_time"], before["updated_time"]);
}
