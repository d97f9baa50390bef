//! Command entry points: parse the command line, read the environment once (into a
//! `Context`) and the clock once per command (or take `--now`), call the stage that does the
//! work, print its outcome and turn it into an exit code. `serve`'s refresh loop is the only
//! other place that reads the clock: each refresh is a run of its own.

use std::path::PathBuf;

use anyhow::anyhow;
use clap::Parser;
use jiff::Timestamp;

mod deliver;
mod render;
mod rotate;

use crate::assess::{self, Report, Status};
use crate::cli::{CheckArgs, Cli, Command, LintValueArgs, OutputFormat};
use crate::config::{self, Config};
use crate::env::{self, Env};
use crate::{output, sources, time};

/// `print!` that ends quietly when stdout is closed (`credwatch check | head -1`): the command
/// still exits with its own code.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::run::write_stdout(&format!($($arg)*))
    };
}
pub(crate) use out;

/// Writes `text` to stdout; a closed pipe is not an error, anything else is logged.
pub(crate) fn write_stdout(text: &str) {
    stream_stdout(|out| out.write_all(text.as_bytes()));
}

/// Lets `write` stream into a buffered stdout; a closed pipe is not an error, anything else is
/// logged.
fn stream_stdout(write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>) {
    use std::io::Write;
    let mut stdout = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    if let Err(e) = write(&mut stdout).and_then(|()| stdout.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        log::error!("cannot write to stdout: {e}");
    }
}

/// Exit codes. 0–3 follow the monitoring-plugin convention used by `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    Ok = 0,
    Warning = 1,
    Critical = 2,
    /// Something could not be read, or the config or command line is wrong.
    Unknown = 3,
    /// Data did not reach its destination (the push failed).
    Undelivered = 4,
}

impl From<Status> for ExitCode {
    fn from(status: Status) -> Self {
        match status {
            Status::Ok | Status::NoExpiry => ExitCode::Ok,
            Status::Warning | Status::ProbeFailing => ExitCode::Warning,
            Status::Critical | Status::Invalid | Status::Expired | Status::Revoked => {
                ExitCode::Critical
            }
            Status::Unknown => ExitCode::Unknown,
        }
    }
}

/// Parses the command line; usage errors exit 3 (UNKNOWN), not clap's 2, which means CRITICAL here.
pub fn parse_args() -> Result<Cli, ExitCode> {
    Cli::try_parse().map_err(|e| {
        let _ = e.print();
        if e.use_stderr() {
            ExitCode::Unknown
        } else {
            ExitCode::Ok
        }
    })
}

/// What every command starts from: its command line and the environment, read once here.
struct Context {
    cli: Cli,
    env: Env,
}

pub fn run(cli: Cli) -> ExitCode {
    let cx = Context {
        cli,
        env: Env::from_process(),
    };
    init_logging(cx.cli.verbose, &cx.env);
    let cx = &cx;
    let result = match &cx.cli.command {
        Command::Check(args) => check(cx, args),
        Command::Push(args) => deliver::push(cx, args),
        Command::Serve(args) => deliver::serve(cx, args),
        Command::Textfile(args) => deliver::textfile(cx, args),
        Command::Render(what) => render::render(cx, what),
        Command::LintValue(args) => lint_value(cx, args),
        Command::Rotate(args) => rotate::rotate(cx, args),
        Command::Record(args) => rotate::record(cx, args),
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        ExitCode::Unknown
    })
}

fn init_logging(verbose: u8, env: &Env) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = env.var(env::LOG).or_else(|| env.var(env::RUST_LOG));
    let mut builder = env_logger::Builder::new();
    builder.parse_filters(filter.as_deref().unwrap_or(level));
    // The HTTP and TLS libraries log raw traffic (headers, bodies) at debug and trace: tokens,
    // passwords and secret values. Whatever the filter asks, they say no more than info.
    for module in ["ureq", "ureq_proto", "rustls"] {
        builder.filter_module(module, log::LevelFilter::Info);
    }
    builder.format_timestamp(None).format_target(false);
    let _ = builder.try_init();
}

fn config_path(cx: &Context) -> anyhow::Result<PathBuf> {
    if let Some(p) = &cx.cli.config {
        return Ok(p.clone());
    }
    if let Some(p) = cx.env.bytes(env::CONFIG).filter(|p| !p.is_empty()) {
        use std::os::unix::ffi::OsStrExt;
        return Ok(std::ffi::OsStr::from_bytes(p).into());
    }
    let local = PathBuf::from("credwatch.toml");
    if local.exists() {
        return Ok(local);
    }
    Err(anyhow!(
        "no config file: pass --config FILE, set CREDWATCH_CONFIG, or create ./credwatch.toml (see examples/credwatch.toml)"
    ))
}

fn load(cx: &Context) -> anyhow::Result<Config> {
    Ok(load_with_text(cx)?.0)
}

fn load_with_text(cx: &Context) -> anyhow::Result<(Config, String)> {
    let path = config_path(cx)?;
    let (config, text) = config::read_config_text(&path)?;
    log::info!(
        "loaded `{}`: {} inventory credential(s), {} source(s)",
        path.display(),
        config.inventory.len(),
        config.sources.len()
    );
    Ok((config, text))
}

fn now(flag: &Option<String>) -> anyhow::Result<Timestamp> {
    match flag {
        Some(text) => time::parse_timestamp(text).map_err(|e| anyhow!("--now: {e}")),
        None => Ok(Timestamp::now()),
    }
}

fn collect_and_assess(cx: &Context, config: &Config, now: Timestamp) -> Report {
    assess::assess(
        sources::collect(config, now, &cx.env),
        now,
        config.defaults.pools,
    )
}

fn check(cx: &Context, args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let config = load(cx)?;
    let now = now(&args.now)?;
    let report = collect_and_assess(cx, &config, now);
    // The report holds all that is shown: a large inventory need not stay alive beside it.
    drop(config);
    match args.output {
        OutputFormat::Table => out!("{}", output::render_table(&report)),
        // Streamed: the document of a large inventory is never held whole.
        OutputFormat::Json => stream_stdout(|out| output::write_json(&report, out)),
        OutputFormat::Html => out!("{}", output::html::render_html(&report)),
    }
    Ok(report.overall().into())
}

fn lint_value(cx: &Context, args: &LintValueArgs) -> anyhow::Result<ExitCode> {
    use std::io::Read;
    let profile = match crate::decode::format::builtin(&args.format) {
        Some(p) => p,
        None => {
            // Custom formats live in the config file, when there is one.
            let config = load(cx).map_err(|e| {
                anyhow!("`{}` is not a built-in format, and the config that might define it could not be loaded: {e:#}", args.format)
            })?;
            config.formats.get(&args.format).cloned().ok_or_else(|| {
                anyhow!(
                    "unknown format `{}`; built in: {}; or a `[[format]]` in `{}`",
                    args.format,
                    crate::decode::format::builtin_names().join(", "),
                    config.path.display()
                )
            })?
        }
    };
    let mut bytes = zeroize::Zeroizing::new(Vec::new());
    std::io::stdin()
        .read_to_end(&mut bytes)
        .map_err(|e| anyhow!("cannot read the value from stdin: {e}"))?;
    let value = crate::credential::Secret::from_bytes(std::mem::take(&mut *bytes));
    let (valid, verdict) = crate::decode::format::lint(&profile, &value, args.exact);
    out!("{verdict}\n");
    Ok(if valid {
        ExitCode::Ok
    } else {
        ExitCode::Critical
    })
}
