//! `credwatch rotate` for inventory credentials: the config is edited in place, comments and
//! all, and the new expiry is pushed at once.

use crate::support::{Credwatch, Pushgateway, Scratch};

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
