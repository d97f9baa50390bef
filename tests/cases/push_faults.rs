//! `credwatch push` when the Pushgateway is down, failing, refusing or hanging: a clear message,
//! bounded time and a non-zero exit.

use std::time::Duration;

use crate::support::{Credwatch, Fault, FaultServer, Scratch, free_port};

fn config(s: &Scratch, timeout: &str, retries: u32) -> std::path::PathBuf {
    s.write(
        "credwatch.toml",
        &format!(
            "[pushgateway]\nurl = \"http://unused.invalid\"\ntimeout = \"{timeout}\"\nretries = {retries}\n\
             [[credential]]\nname = \"a\"\nexpires_at = 1808064429\n"
        ),
    )
}

fn push_to(config: &std::path::Path, url: &str) -> crate::support::Run {
    Credwatch::new()
        .args([std::ffi::OsStr::new("--config"), config.as_os_str()])
        .args(["push", "--pushgateway-url", url])
        .run()
}

#[test]
fn an_unreachable_pushgateway_fails_after_bounded_retries() {
    let s = Scratch::new();
    let url = format!("http://127.0.0.1:{}", free_port());
    let run = push_to(&config(&s, "20s", 2), &url);
    run.assert_code(4);
    assert!(
        run.stderr.contains("did not land after 3 attempt(s)"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("connection failed") || run.stderr.contains("refused"),
        "{}",
        run.stderr
    );
    assert!(run.elapsed < Duration::from_secs(15), "{:?}", run.elapsed);
}

#[test]
fn server_errors_are_retried_then_reported() {
    let server = FaultServer::start(Fault::Status(503, "overloaded, try later"));
    let s = Scratch::new();
    let run = push_to(&config(&s, "20s", 2), &server.url);
    run.assert_code(4);
    assert_eq!(server.request_count(), 3);
    assert!(
        run.stderr.contains("HTTP 503: overloaded, try later"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_rejection_prints_the_pushgateways_message_and_is_not_retried() {
    let server = FaultServer::start(Fault::Status(
        400,
        "pushed metrics are invalid or inconsistent with existing metrics: collected metric has help \"x\" but should have \"y\"",
    ));
    let s = Scratch::new();
    let run = push_to(&config(&s, "20s", 3), &server.url);
    run.assert_code(4);
    assert_eq!(server.request_count(), 1);
    assert!(
        run.stderr.contains(
            "rejected the push with HTTP 400: pushed metrics are invalid or inconsistent"
        ),
        "{}",
        run.stderr
    );
    let request = server.requests.lock().unwrap()[0].clone();
    assert!(
        request.starts_with("PUT /metrics/job/credwatch HTTP/1.1"),
        "{request}"
    );
    assert!(
        request
            .to_lowercase()
            .contains("content-type: text/plain; version=0.0.4; charset=utf-8"),
        "{request}"
    );
}

#[test]
fn a_pushgateway_that_never_answers_times_out_within_the_configured_bound() {
    let server = FaultServer::start(Fault::Silence);
    let s = Scratch::new();
    let run = push_to(&config(&s, "2s", 5), &server.url);
    run.assert_code(4);
    assert!(run.stderr.contains("timed out"), "{}", run.stderr);
    assert!(
        run.elapsed < Duration::from_secs(6),
        "took {:?}",
        run.elapsed
    );
}

#[test]
fn a_bearer_token_is_sent_from_a_file_and_never_printed() {
    let server = FaultServer::start(Fault::Status(202, ""));
    let s = Scratch::new();
    let token = "tok-5f1d9a7c3e2b8046";
    let token_file = s.write("token", &format!("{token}\n"));
    let run = Credwatch::new()
        .args([
            std::ffi::OsStr::new("--config"),
            config(&s, "5s", 0).as_os_str(),
        ])
        .args(["-vv", "push", "--pushgateway-url", &server.url])
        .env("CREDWATCH_PUSHGATEWAY_TOKEN_FILE", &token_file)
        .run();
    run.assert_code(0);
    let request = server.requests.lock().unwrap()[0].clone();
    assert!(
        request.contains(&format!("authorization: Bearer {token}\r\n")),
        "{request}"
    );
    assert!(!run.stdout.contains("tok-5f1d") && !run.stderr.contains("tok-5f1d"));
    assert!(!run.stderr.contains("9a7c3e2b"));
}

#[test]
fn a_missing_pushgateway_table_is_a_config_error() {
    let s = Scratch::new();
    let path = s.write(
        "credwatch.toml",
        "[[credential]]\nname = \"a\"\nexpires_at = 1808064429\n",
    );
    let run = Credwatch::new()
        .args([std::ffi::OsStr::new("--config"), path.as_os_str()])
        .arg_push()
        .run();
    run.assert_code(3);
    assert!(
        run.stderr.contains("has no [pushgateway] table"),
        "{}",
        run.stderr
    );
}

trait PushArg {
    fn arg_push(self) -> Self;
}

impl PushArg for Credwatch {
    fn arg_push(self) -> Self {
        self.args(["push"])
    }
}
