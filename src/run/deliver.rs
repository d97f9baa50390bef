//! `push`, `textfile` and `serve`: where a run's metrics go, and the exit code of a delivery.

use std::time::Instant;

use anyhow::anyhow;

use super::{Context, ExitCode, collect_and_assess, config_path, load, now, out};
use crate::assess::Report;
use crate::cli::{PushArgs, ServeArgs, TextfileArgs};
use crate::config;
use crate::env;
use crate::output;
use crate::sinks::{self, Delivered, pushgateway};
use crate::time;

pub(super) fn push(cx: &Context, args: &PushArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let config = load(cx)?;
    let now = now(&args.now)?;
    let flag_url = args
        .pushgateway_url
        .as_deref()
        .map(|url| config::check_url(url).map_err(|e| anyhow!("--pushgateway-url: {e}")))
        .transpose()?;
    let target = match (config.pushgateway.clone(), flag_url) {
        (Some(target), Some(url)) => config::Pushgateway { url, ..target },
        (Some(target), None) => target,
        // The flag alone: the default job, no grouping, no auth.
        (None, Some(url)) => config::Pushgateway::at(url),
        (None, None) => {
            return Err(anyhow!(
                "`{}` has no [pushgateway] table; add one with `url` (or pass --pushgateway-url)",
                config.path.display()
            ));
        }
    };
    let report = collect_and_assess(cx, &config, now);
    let auth = if args.dry_run {
        None
    } else {
        pushgateway::resolve_auth(&target, cx.env.lookup()).map_err(|e| anyhow!(e))?
    };
    let mut group = pushgateway::Group::new(target, auth, args.dry_run);
    let delivered = sinks::deliver(&mut group, report, &config, now, started);
    if let Some(text) = &group.dry_run_output {
        out!("{text}");
    }
    let (url, count) = (&group.url, delivered.report.assessments.len());
    let summary = match (args.dry_run, delivered.complete) {
        (true, _) => None,
        (false, true) => Some(format!("pushed {count} credential(s) to {url} (PUT)")),
        (false, false) => Some(format!(
            "pushed {count} credential(s) to {url} (POST, last success not advanced: something could not be read)"
        )),
    };
    Ok(finished(&delivered, summary))
}

/// The exit code of a delivery: 4 when nothing landed, 3 when something was unreadable, else 0.
/// Prints `summary` and, after it, what could not be read; a dry run has no summary.
fn finished(delivered: &Delivered, summary: Option<String>) -> ExitCode {
    if let Err(e) = &delivered.written {
        eprintln!("error: {e}");
        print_problems(&delivered.report);
        return ExitCode::Undelivered;
    }
    if let Some(summary) = &summary {
        out!("{summary}\n");
    }
    if delivered.complete {
        return ExitCode::Ok;
    }
    if summary.is_some() {
        print_problems(&delivered.report);
    }
    ExitCode::Unknown
}

/// Lists on stderr what could not be read, for the Job's log.
pub(super) fn print_problems(report: &Report) {
    eprint!("{}", output::render_problems(report));
}

pub(super) fn serve(cx: &Context, args: &ServeArgs) -> anyhow::Result<ExitCode> {
    use crate::serve::exporter::Limits;

    let path = config_path(cx)?;
    let (config, text) = config::read_config_text(&path)?;
    let duration = |text: &str, flag: &str| {
        time::parse_duration(text)
            .map(|d| d.unsigned_abs())
            .map_err(|e| anyhow!("{flag}: {e}"))
    };
    let interval = duration(&args.interval, "--interval")?;
    let limits = Limits {
        max_connections: args.max_connections,
        read_timeout: duration(&args.read_timeout, "--read-timeout")?,
        idle_timeout: duration(&args.idle_timeout, "--idle-timeout")?,
        ..Limits::default()
    };
    if limits.max_connections == 0 {
        return Err(anyhow!("--max-connections: expected at least 1, found `0`"));
    }
    let listener = std::net::TcpListener::bind(&args.listen)
        .map_err(|e| anyhow!("cannot listen on `{}`: {e}", args.listen))?;
    let addr = listener.local_addr()?;
    let announce = || {
        out!(
            "serving http://{addr}/metrics; every source is read every {} (+-10%)\n",
            args.interval
        );
        use std::io::Write;
        let _ = std::io::stdout().flush();
    };
    let refresher = crate::serve::Refresher::new(path, config, &text, cx.env.clone());
    crate::serve::run(listener, refresher, interval, limits, announce)?;
    out!("stopped\n");
    Ok(ExitCode::Ok)
}

pub(super) fn textfile(cx: &Context, args: &TextfileArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    sinks::textfile::check_path(&args.path).map_err(|e| anyhow!(e))?;
    let config = load(cx)?;
    let now = now(&args.now)?;
    let report = collect_and_assess(cx, &config, now);
    // A test hook, in debug builds only: a release binary ignores it.
    let pause = cx
        .env
        .var(env::TEST_PAUSE_BEFORE_RENAME_MS)
        .filter(|_| cfg!(debug_assertions))
        .and_then(|ms| ms.parse().ok())
        .map(std::time::Duration::from_millis);
    let before_rename = |_: &std::path::Path| {
        if let Some(pause) = pause {
            std::thread::sleep(pause);
        }
    };
    let mut file = sinks::textfile::Textfile {
        path: &args.path,
        before_rename: &before_rename,
    };
    let delivered = sinks::deliver(&mut file, report, &config, now, started);
    let (path, count) = (args.path.display(), delivered.report.assessments.len());
    let summary = if delivered.complete {
        format!("wrote {count} credential(s) to {path}")
    } else {
        format!(
            "wrote {count} credential(s) to {path} (last success not advanced: something could not be read)"
        )
    };
    Ok(finished(&delivered, Some(summary)))
}
