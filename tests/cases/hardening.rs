//! Reads that could never return or never end (issue: every read bounded in time and size): a
//! FIFO, a device or an oversized file where a file is expected is refused at once; the
//! credential or source it belongs to is unreadable with the reason, and everything else is
//! still reported. Each run is watched: a run that hangs fails the test instead of hanging it.

use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::support::{Scratch, clean_command};

/// How long a run may take before the test calls it hung.
const HUNG: Duration = Duration::from_secs(20);

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs credwatch with `args` in `dir`, killing it (and failing) if it does not end within
/// [`HUNG`].
fn run_watched(dir: &Scratch, args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let mut command: Command = clean_command();
    command
        .current_dir(dir.dir.path())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let child = command.spawn().expect("start credwatch");
    let pid = child.id();
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    match finished.recv_timeout(HUNG) {
        Ok(output) => {
            let output = output.expect("wait for credwatch");
            Outcome {
                code: output.status.code().expect("exit code"),
                stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            }
        }
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("credwatch {args:?} hung for {HUNG:?}");
        }
    }
}

fn mkfifo(dir: &Scratch, name: &str) -> String {
    let path = dir.path(name);
    let status = Command::new("mkfifo").arg(&path).status().expect("mkfifo");
    assert!(status.success());
    path.to_string_lossy().into_owned()
}

const GOOD: &str = "[[credential]]\nname = \"good\"\nexpires_at = \"2030-01-01T00:00:00Z\"\n";

#[test]
fn a_fifo_value_makes_only_its_credential_unknown() {
    let dir = Scratch::new();
    mkfifo(&dir, "tok");
    dir.write(
        "credwatch.toml",
        &format!("{GOOD}\n[[credential]]\nname = \"v\"\nfile = \"tok\"\n"),
    );
    let r = run_watched(&dir, &["check", "--now", "2026-12-01T00:00:00Z"], &[]);
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    let good = r
        .stdout
        .lines()
        .find(|l| l.starts_with("good "))
        .expect("good is reported");
    assert!(good.ends_with("OK"), "{good}");
    assert!(
        r.stdout.contains("it is a FIFO, not a regular file"),
        "{}",
        r.stdout
    );
}

#[test]
fn a_device_or_an_oversized_value_is_refused_with_the_limit() {
    let dir = Scratch::new();
    let big = dir.path("big.pem");
    // A sparse file: 1 GiB on paper, nothing on disk.
    std::fs::File::create(&big)
        .and_then(|f| f.set_len(1 << 30))
        .expect("sparse file");
    dir.write(
        "credwatch.toml",
        &format!(
            "{GOOD}\n[[credential]]\nname = \"zero\"\nfile = \"/dev/zero\"\n\n[[credential]]\nname = \"big\"\nfile = \"big.pem\"\n"
        ),
    );
    let r = run_watched(
        &dir,
        &["check", "--output", "json", "--now", "2026-12-01T00:00:00Z"],
        &[],
    );
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("it is a device, not a regular file"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("it is larger than 1 MiB, the most this kind of file may hold"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("\"good\""), "{}", r.stdout);
}

#[test]
fn an_oversized_directory_entry_is_refused_and_its_neighbours_read() {
    let dir = Scratch::new();
    dir.write("cm/ok", "1808064429\n");
    std::fs::File::create(dir.path("cm/huge"))
        .and_then(|f| f.set_len(1 << 30))
        .expect("sparse file");
    mkfifo(&dir, "cm/pipe");
    dir.write(
        "credwatch.toml",
        "[[source]]\nkind = \"directory\"\nname = \"cm\"\npath = \"cm\"\n",
    );
    let r = run_watched(&dir, &["check", "--now", "2026-12-01T00:00:00Z"], &[]);
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with("ok ") && l.ends_with("OK")),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("larger than 4 KiB"), "{}", r.stdout);
    assert!(r.stdout.contains("is not a regular file"), "{}", r.stdout);
}

#[test]
fn fifos_as_key_token_and_password_files_fail_fast_with_the_reason() {
    let dir = Scratch::new();
    let key = mkfifo(&dir, "fp-key");
    let token = mkfifo(&dir, "vault-token");
    let password = mkfifo(&dir, "pg-password");
    dir.write(
        "credwatch.toml",
        &format!(
            "[fingerprint]\nkey_file = \"{key}\"\n\n[pushgateway]\nurl = \"http://127.0.0.1:1\"\nusername = \"u\"\npassword_file = \"{password}\"\n\n{GOOD}\n[[source]]\nkind = \"vault\"\naddress = \"http://127.0.0.1:1\"\npaths = [\"a\"]\nauth = {{ method = \"token\", token_file = \"{token}\" }}\n"
        ),
    );
    let r = run_watched(&dir, &["check", "--now", "2026-12-01T00:00:00Z"], &[]);
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with("good ") && l.ends_with("OK")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("fingerprint key: cannot read file") && r.stdout.contains("it is a FIFO"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("cannot read the Vault token file"),
        "{}",
        r.stdout
    );

    let r = run_watched(&dir, &["push", "--now", "2026-12-01T00:00:00Z"], &[]);
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("cannot read the Pushgateway password file")
            && r.stderr.contains("it is a FIFO"),
        "{}",
        r.stderr
    );
}

#[test]
fn textfile_over_a_fifo_does_not_hang_reading_it_back() {
    let dir = Scratch::new();
    let path = mkfifo(&dir, "credwatch.prom");
    dir.write(
        "credwatch.toml",
        &format!("{GOOD}\n[[credential]]\nname = \"v\"\nfile = \"missing\"\n"),
    );
    let r = run_watched(
        &dir,
        &["textfile", "--path", &path, "--now", "2026-12-01T00:00:00Z"],
        &[],
    );
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("cannot read the previous"),
        "{}",
        r.stderr
    );
    let written = std::fs::read_to_string(&path).expect("the file replaced the FIFO");
    assert!(
        written.contains("credwatch_credential_read_ok{credential=\"v\"} 0"),
        "{written}"
    );
}

#[test]
fn a_closed_stdout_ends_the_run_quietly_with_its_own_exit_code() {
    let dir = Scratch::new();
    // Enough rows to fill a pipe's buffer, so the write surely meets the closed end.
    let config: String = (0..3000)
        .map(|i| format!("[[credential]]\nname = \"credential-{i:05}\"\nexpires_at = \"2030-01-01T00:00:00Z\"\n"))
        .collect();
    dir.write("credwatch.toml", &config);
    for args in [
        &["check", "--now", "2026-12-01T00:00:00Z"][..],
        &["push", "--dry-run", "--now", "2026-12-01T00:00:00Z"][..],
    ] {
        dir.write(
            "credwatch.toml",
            &format!("[pushgateway]\nurl = \"http://127.0.0.1:9091\"\n{config}"),
        );
        let mut child = clean_command()
            .current_dir(dir.dir.path())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start credwatch");
        // `| head -0`: the reader goes away before reading anything.
        drop(child.stdout.take());
        let (done, finished) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = done.send(child.wait_with_output());
        });
        let output = finished
            .recv_timeout(HUNG)
            .expect("credwatch ended")
            .expect("wait");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn pushgateway_url_alone_pushes_under_the_default_job() {
    let pg = crate::support::Pushgateway::start();
    let dir = Scratch::new();
    dir.write("credwatch.toml", GOOD);
    let r = run_watched(&dir, &["push", "--pushgateway-url", &pg.url], &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(
        pg.value(
            "credwatch",
            "credwatch_credential_expiry_timestamp_seconds",
            "credential",
            "good"
        )
        .as_deref(),
        Some("1893456000")
    );
    let r = run_watched(&dir, &["push"], &[]);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr.contains("has no [pushgateway] table"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_renamed_series_that_collides_with_a_built_in_one_is_refused_at_load() {
    let dir = Scratch::new();
    dir.write(
        "credwatch.toml",
        &format!("[metrics]\nexpiry_metric = \"credwatch_source_up\"\n{GOOD}"),
    );
    let r = run_watched(&dir, &["push", "--dry-run"], &[]);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr.contains(
            "`credwatch_source_up` is a series credwatch (or the Pushgateway) already exports"
        ),
        "{}",
        r.stderr
    );
}

#[test]
fn a_refused_url_with_a_password_is_not_echoed_in_the_excerpt() {
    let dir = Scratch::new();
    dir.write(
        "credwatch.toml",
        &format!("[pushgateway]\nurl = \"http://user:Hunter2Secret@pg:9091\"\n{GOOD}"),
    );
    let r = run_watched(&dir, &["check"], &[]);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr.contains("credentials in the URL are not allowed"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("http://user:***@pg:9091"), "{}", r.stderr);
    assert!(!r.stderr.contains("Hunter2"), "{}", r.stderr);
}

#[test]
fn textfile_writes_through_a_symlink_and_keeps_the_link() {
    let dir = Scratch::new();
    dir.write("credwatch.toml", GOOD);
    let target = dir.write("real/credwatch.prom", "old 1\n");
    let link = dir.path("credwatch.prom");
    std::os::unix::fs::symlink(&target, &link).expect("symlink");
    let link_arg = link.to_string_lossy().into_owned();
    let r = run_watched(
        &dir,
        &[
            "textfile",
            "--path",
            &link_arg,
            "--now",
            "2026-12-01T00:00:00Z",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let written = std::fs::read_to_string(&target).unwrap();
    assert!(written.contains("credential=\"good\""), "{written}");
}

#[test]
fn an_empty_grouping_value_that_does_not_sort_last_still_lands() {
    let pg = crate::support::Pushgateway::start();
    let dir = Scratch::new();
    dir.write(
        "credwatch.toml",
        &format!(
            "[pushgateway]\nurl = \"{}\"\ngrouping = {{ a = \"\", b = \"x\" }}\n{GOOD}",
            pg.url
        ),
    );
    let r = run_watched(&dir, &["push"], &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let group = pg
        .groups()
        .into_iter()
        .find(|g| g["labels"]["b"] == "x")
        .expect("the group landed");
    assert_eq!(group["labels"]["job"], "credwatch");
    assert!(
        group["labels"]["a"].as_str().unwrap_or_default().is_empty(),
        "{group}"
    );
}

/// A stand-in for a Vault whose LIST answers hold keys no real server should send (OpenBao
/// normalizes paths, so it cannot be made to answer like this). Like HashiCorp Vault, it has no
/// detailed listing (`detailed-metadata/` is an unsupported path, 404 with a message).
fn odd_listing(request: &str) -> (u16, String) {
    let line = request.lines().next().unwrap_or_default();
    if line.contains("/detailed-metadata/") {
        return (
            404,
            r#"{"errors":["1 error occurred:\n\t* unsupported path\n\n"]}"#.into(),
        );
    }
    let metadata = |version: u32| {
        serde_json::json!({"data": {
            "created_time": "2026-06-01T00:00:00Z",
            "updated_time": "2026-06-01T00:00:00Z",
            "current_version": version,
            "custom_metadata": {"expires_at": "2030-01-01T00:00:00Z"},
            "versions": {version.to_string(): {"created_time": "2026-06-01T00:00:00Z", "deletion_time": "", "destroyed": false}}
        }})
        .to_string()
    };
    if line.contains("list=true") {
        let keys = if line.contains("/metadata/agents/sub/") {
            serde_json::json!(["deep"])
        } else {
            serde_json::json!(["good", "../", "", "/abs", "x/../../y", "sub/"])
        };
        (200, serde_json::json!({"data": {"keys": keys}}).to_string())
    } else if line.contains("/metadata/agents/good ") || line.contains("/metadata/agents/sub/deep ")
    {
        (200, metadata(1))
    } else {
        (404, r#"{"errors":[]}"#.into())
    }
}

#[test]
fn malformed_keys_in_a_vault_listing_fail_alone_and_nothing_leaves_the_folder() {
    let vault = crate::support::FaultServer::start(crate::support::Fault::Answer(odd_listing));
    let dir = Scratch::new();
    dir.write(
        "credwatch.toml",
        &format!(
            "[[source]]\nkind = \"vault\"\naddress = \"{}\"\nprefix = \"agents\"\nretries = 0\n",
            vault.url
        ),
    );
    let r = run_watched(
        &dir,
        &["check", "--output", "json", "--now", "2026-12-01T00:00:00Z"],
        &[("BAO_TOKEN", "s.standin")],
    );
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    let report: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    let credentials = report["credentials"].as_array().expect("credentials");
    let status = |name: &str| {
        credentials
            .iter()
            .find(|c| c["name"] == name)
            .map(|c| c["status"].as_str().unwrap_or_default().to_string())
    };
    assert_eq!(status("agents/good").as_deref(), Some("OK"), "{}", r.stdout);
    assert_eq!(
        status("agents/sub/deep").as_deref(),
        Some("OK"),
        "{}",
        r.stdout
    );
    let unknown = credentials
        .iter()
        .filter(|c| c["status"] == "UNKNOWN")
        .count();
    assert_eq!(unknown, 4, "{}", r.stdout);
    let requests = vault.requests.lock().unwrap();
    for request in requests.iter() {
        let line = request.lines().next().unwrap_or_default();
        assert!(!line.contains(".."), "a request left the folder: {line}");
        assert!(
            line.contains("/v1/secret/metadata/agents/")
                || line.contains("/v1/secret/detailed-metadata/agents/?"),
            "{line}"
        );
    }
    // The missing detailed listing is found out once, not once per folder.
    let detailed = requests
        .iter()
        .filter(|r| r.contains("/detailed-metadata/"))
        .count();
    assert_eq!(detailed, 1, "{requests:?}");
}

#[test]
fn a_file_name_that_is_not_utf8_is_reported_not_skipped() {
    use std::os::unix::ffi::OsStrExt;
    let dir = Scratch::new();
    dir.write("cm/ok", "1808064429\n");
    let odd = dir
        .path("cm")
        .join(std::ffi::OsStr::from_bytes(b"token-\xff"));
    std::fs::write(odd, "1808064429\n").unwrap();
    dir.write(
        "credwatch.toml",
        "[[source]]\nkind = \"directory\"\nname = \"cm\"\npath = \"cm\"\n",
    );
    let r = run_watched(&dir, &["check", "--now", "2026-12-01T00:00:00Z"], &[]);
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("is not UTF-8; rename the file"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with("ok ") && l.ends_with("OK")),
        "{}",
        r.stdout
    );
}

#[test]
fn a_push_to_a_closed_port_reports_what_happened_last_within_its_timeout() {
    let port = crate::support::free_port();
    let dir = Scratch::new();
    dir.write(
        "credwatch.toml",
        &format!("[pushgateway]\nurl = \"http://127.0.0.1:{port}\"\ntimeout = \"2s\"\nretries = 10\n{GOOD}"),
    );
    let start = std::time::Instant::now();
    let r = run_watched(&dir, &["push"], &[]);
    let took = start.elapsed();
    assert_eq!(r.code, 4, "{}{}", r.stdout, r.stderr);
    let error = r
        .stderr
        .lines()
        .find(|l| l.starts_with("error: push to"))
        .expect("an error line");
    assert!(error.to_lowercase().contains("refused"), "{error}");
    assert!(!error.contains("timed out"), "{error}");
    // The overall timeout bounds the whole push, the last attempt included (1 s for the
    // process itself under load).
    assert!(took < Duration::from_secs(3), "took {took:?}");
}

/// A server that echoes most of the token it was sent in its error (a real OpenBao does not).
fn echoes_the_token(request: &str) -> (u16, String) {
    let token = request
        .lines()
        .find_map(|l| {
            l.strip_prefix("x-vault-token: ")
                .or_else(|| l.strip_prefix("X-Vault-Token: "))
        })
        .unwrap_or_default()
        .trim();
    let partial = &token[..token.len().saturating_sub(2)];
    (
        403,
        serde_json::json!({"errors": [format!("permission denied for token {partial}")]})
            .to_string(),
    )
}

#[test]
fn a_server_echoing_most_of_the_token_does_not_get_it_printed() {
    let vault = crate::support::FaultServer::start(crate::support::Fault::Answer(echoes_the_token));
    let dir = Scratch::new();
    dir.write(
        "credwatch.toml",
        &format!(
            "{GOOD}\n[[source]]\nkind = \"vault\"\naddress = \"{}\"\npaths = [\"a\"]\nretries = 0\n",
            vault.url
        ),
    );
    let token = "s.PartialEchoSecret0123456789";
    let r = run_watched(&dir, &["check", "-vv"], &[("BAO_TOKEN", token)]);
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    // The echo reached credwatch, and was redacted.
    assert!(
        r.stdout.contains("permission denied for token <redacted>"),
        "{}",
        r.stdout
    );
    for text in [&r.stdout, &r.stderr] {
        assert!(!text.contains("PartialEcho"), "{text}");
    }
    assert!(vault.request_count() >= 1);
}

#[test]
fn a_config_that_is_not_utf8_names_the_line_of_the_first_bad_byte() {
    let dir = Scratch::new();
    let mut text = GOOD.as_bytes().to_vec();
    text.extend_from_slice(b"\n# caf\xe9 (Latin-1)\n");
    std::fs::write(dir.path("credwatch.toml"), &text).unwrap();
    let r = run_watched(&dir, &["check"], &[]);
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("cannot read config file `credwatch.toml`: it is not UTF-8 text: the first invalid byte is on line 5, column 6"),
        "{}",
        r.stderr
    );
}
