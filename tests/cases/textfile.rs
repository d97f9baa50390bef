//! `credwatch textfile`: what node_exporter's textfile collector reads — the series `push` sends,
//! valid for `promtool check metrics`, no timestamps, written atomically even when killed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::exporter::sample;
use crate::support::{Credwatch, Run, Scratch, poll, repo_root};

const NOW: &str = "1796000000";

fn textfile(config: &Path, target: &Path, extra: &[&str]) -> Run {
    Credwatch::new()
        .args([std::ffi::OsStr::new("--config"), config.as_os_str()])
        .args([
            std::ffi::OsStr::new("textfile"),
            "--path".as_ref(),
            target.as_os_str(),
        ])
        .args(extra)
        .run()
}

/// Runs `promtool check metrics` on `text` (as node_exporter would serve it).
fn promtool_check_metrics(text: &str) {
    use std::io::Write;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool; ./scripts/test installs it");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The sample lines, without the run duration (a measurement that differs between runs).
fn samples_but_duration(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("credwatch_run_duration_seconds "))
        .collect()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn the_file_holds_what_push_sends_without_timestamps_and_passes_promtool() {
    let s = Scratch::new();
    let target = s.path("textfile/credwatch.prom");
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    let config = repo_root().join("examples/credwatch.toml");
    let run = textfile(&config, &target, &["--now", NOW]);
    run.assert_code(0);
    assert_eq!(
        run.stdout,
        format!("wrote 4 credential(s) to {}\n", target.display())
    );
    let text = std::fs::read_to_string(&target).unwrap();
    promtool_check_metrics(&text);
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let after_labels = line.rsplit_once('}').map_or(line, |(_, rest)| rest);
        let fields: Vec<&str> = after_labels.split_whitespace().collect();
        assert!(
            fields.len() == 1 || (fields.len() == 2 && !line.contains('{')),
            "a timestamp or stray field in `{line}`"
        );
    }
    assert_eq!(
        sample(&text, "credwatch_last_success_timestamp_seconds", &[]).as_deref(),
        Some(NOW)
    );

    let dry = Credwatch::new()
        .args([std::ffi::OsStr::new("--config"), config.as_os_str()])
        .args(["push", "--dry-run", "--now", NOW])
        .run();
    dry.assert_code(0);
    let pushed = dry.stdout.split_once('\n').unwrap().1;
    assert_eq!(samples_but_duration(&text), samples_but_duration(pushed));
    assert_eq!(files_in(target.parent().unwrap()), ["credwatch.prom"]);
}

/// A config with one inventory credential and a directory source of two.
fn inventory(s: &Scratch) -> PathBuf {
    s.write("cm/primary", "1808064429\n");
    s.write("cm/spare-1", "1808064581\n");
    s.write(
        "credwatch.toml",
        "[[credential]]\nname = \"pat\"\nexpires_at = 1803859200\n\
         [[source]]\nkind = \"directory\"\nname = \"cm\"\npath = \"cm\"\n",
    )
}

#[test]
fn an_unreadable_entry_keeps_its_last_expiry_with_read_ok_0_and_exits_3() {
    let s = Scratch::new();
    let config = inventory(&s);
    let target = s.path("credwatch.prom");
    textfile(&config, &target, &["--now", NOW]).assert_code(0);

    s.write("cm/spare-1", "garbage\n");
    let run = textfile(&config, &target, &["--now", "1796021600"]);
    run.assert_code(3);
    assert_eq!(
        run.stdout,
        format!(
            "wrote 3 credential(s) to {} (last success not advanced: something could not be read)\n",
            target.display()
        )
    );
    assert!(
        run.stderr.contains("problem: credential `spare-1`: "),
        "{}",
        run.stderr
    );
    let text = std::fs::read_to_string(&target).unwrap();
    promtool_check_metrics(&text);
    let of = |metric: &str, name: &str| sample(&text, metric, &[&format!("credential=\"{name}\"")]);
    let expiry = "credwatch_credential_expiry_timestamp_seconds";
    assert_eq!(of(expiry, "spare-1").as_deref(), Some("1808064581"));
    assert_eq!(of(expiry, "primary").as_deref(), Some("1808064429"));
    assert_eq!(
        of("credwatch_credential_read_ok", "spare-1").as_deref(),
        Some("0")
    );
    assert_eq!(
        of("credwatch_credential_read_ok", "primary").as_deref(),
        Some("1")
    );
    assert_eq!(
        sample(&text, "credwatch_last_success_timestamp_seconds", &[]).as_deref(),
        Some(NOW),
        "the last success stays"
    );
    assert_eq!(
        sample(&text, "credwatch_last_run_timestamp_seconds", &[]).as_deref(),
        Some("1796021600")
    );

    // Fixed: read, and the last success advances.
    s.write("cm/spare-1", "1839600581\n");
    textfile(&config, &target, &["--now", "1796043200"]).assert_code(0);
    let text = std::fs::read_to_string(&target).unwrap();
    assert_eq!(
        sample(&text, "credwatch_last_success_timestamp_seconds", &[]).as_deref(),
        Some("1796043200")
    );
}

#[test]
fn a_file_that_cannot_be_written_exits_4_and_a_name_the_collector_skips_exits_3() {
    let s = Scratch::new();
    let config = inventory(&s);
    let missing = s.path("no/such/folder/credwatch.prom");
    let run = textfile(&config, &missing, &["--now", NOW]);
    run.assert_code(4);
    assert!(
        run.stderr.starts_with(&format!(
            "error: cannot create `{}/.credwatch.prom.",
            missing.parent().unwrap().display()
        )),
        "{}",
        run.stderr
    );

    let wrong = s.path("credwatch.txt");
    let run = textfile(&config, &wrong, &[]);
    run.assert_code(3);
    assert_eq!(
        run.stderr,
        format!(
            "error: --path: `{}` does not end in `.prom`; node_exporter's textfile collector reads only `*.prom` files\n",
            wrong.display()
        )
    );
    assert!(!wrong.exists());
}

#[test]
fn a_run_killed_before_its_rename_leaves_the_old_file_whole() {
    let s = Scratch::new();
    let config = inventory(&s);
    let dir = s.path("textfile");
    std::fs::create_dir_all(&dir).unwrap();
    let target = dir.join("credwatch.prom");
    textfile(&config, &target, &["--now", NOW]).assert_code(0);
    let old = std::fs::read_to_string(&target).unwrap();

    // The next run has news, and stops (test hook) after writing its temporary file.
    s.write("cm/spare-1", "1839600581\n");
    let mut child = Command::new(env!("CARGO_BIN_EXE_credwatch"))
        .env_clear()
        .env("CREDWATCH_TEST_PAUSE_BEFORE_RENAME_MS", "60000")
        .arg("--config")
        .arg(&config)
        .arg("textfile")
        .arg("--path")
        .arg(&target)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let temp = dir.join(format!(".credwatch.prom.{}.tmp", child.id()));
    let new = poll::until(Duration::from_secs(20), Duration::from_millis(20), || {
        let text = std::fs::read_to_string(&temp).unwrap_or_default();
        // The encoder writes the build info last: the temporary file is complete.
        if text.contains("credwatch_build_info{") && text.ends_with('\n') {
            return Some(text);
        }
        assert_eq!(std::fs::read_to_string(&target).unwrap(), old);
        None
    })
    .unwrap_or_else(|| panic!("no complete `{}` within 20 s", temp.display()));
    assert!(new.contains("credential=\"spare-1\",source=\"cm\",kind=\"expires_at\"} 1839600581"));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), old);

    // SIGKILL: no handler, no cleanup.
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        old,
        "the target is the old file, whole"
    );
    promtool_check_metrics(&old);
    // What is left behind is a dot-file that does not end in `.prom`: the collector skips it.
    let leftover = temp.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(
        files_in(&dir),
        [leftover.clone(), "credwatch.prom".to_string()]
    );
    assert!(leftover.starts_with('.') && !leftover.ends_with(".prom"));

    // The next run replaces the file.
    textfile(&config, &target, &["--now", "1796021600"]).assert_code(0);
    let replaced = std::fs::read_to_string(&target).unwrap();
    assert!(replaced.contains("} 1839600581\n"), "{replaced}");
}
