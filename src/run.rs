//! Command entry points: the only place that reads the clock, the environment and the command
//! line, and the place that turns outcomes into exit codes.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::anyhow;
use clap::Parser;
use jiff::Timestamp;

use crate::assess::{self, Report, Status};
use crate::cli::{
    CheckArgs, Cli, Command, LintValueArgs, OutputFormat, PushArgs, RenderCommand, RotateArgs,
};
use crate::config::{self, Config};
use crate::metrics::text;
use crate::metrics::{self, RunInfo};
use crate::sinks::pushgateway::{self, Method};
use crate::{output, render, sources, time};

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
            Status::Warning => ExitCode::Warning,
            Status::Critical | Status::Invalid | Status::Expired => ExitCode::Critical,
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

pub fn run(cli: Cli) -> ExitCode {
    init_logging(cli.verbose);
    let result = match &cli.command {
        Command::Check(args) => check(&cli, args),
        Command::Push(args) => push(&cli, args),
        Command::Serve(args) => serve(&cli, args),
        Command::Textfile(args) => textfile(&cli, args),
        Command::Render(what) => render(&cli, what),
        Command::LintValue(args) => lint_value(&cli, args),
        Command::Rotate(args) => rotate(&cli, args),
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        ExitCode::Unknown
    })
}

fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = std::env::var("CREDWATCH_LOG").or_else(|_| std::env::var("RUST_LOG"));
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

fn config_path(cli: &Cli) -> anyhow::Result<PathBuf> {
    if let Some(p) = &cli.config {
        return Ok(p.clone());
    }
    if let Some(p) = std::env::var_os("CREDWATCH_CONFIG").filter(|p| !p.is_empty()) {
        return Ok(p.into());
    }
    let local = PathBuf::from("credwatch.toml");
    if local.exists() {
        return Ok(local);
    }
    Err(anyhow!(
        "no config file: pass --config FILE, set CREDWATCH_CONFIG, or create ./credwatch.toml (see examples/credwatch.toml)"
    ))
}

fn load(cli: &Cli) -> anyhow::Result<Config> {
    Ok(load_with_text(cli)?.0)
}

fn load_with_text(cli: &Cli) -> anyhow::Result<(Config, String)> {
    let path = config_path(cli)?;
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

/// Merges what an earlier run delivered (read back as `series`) into a partial report, the way
/// `serve` merges its previous report: what could not be read keeps its last known value.
fn carry_forward(report: Report, series: &[text::Series], config: &Config) -> Report {
    let known = metrics::known_from_series(series, &config.metrics, config.defaults.thresholds);
    let previous = crate::assess::carry::previous_report(known, report.now);
    crate::assess::carry::merge(&previous, report, config.defaults.pools)
}

fn collect_and_assess(config: &Config, now: Timestamp) -> Report {
    assess::assess(sources::collect(config, now), now, config.defaults.pools)
}

fn check(cli: &Cli, args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let config = load(cli)?;
    let now = now(&args.now)?;
    let report = collect_and_assess(&config, now);
    let text = match args.output {
        OutputFormat::Table => output::render_table(&report),
        OutputFormat::Json => output::render_json(&report),
    };
    print!("{text}");
    Ok(report.overall().into())
}

fn push(cli: &Cli, args: &PushArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let config = load(cli)?;
    let now = now(&args.now)?;
    let mut target = config.pushgateway.clone().ok_or_else(|| {
        anyhow!(
            "`{}` has no [pushgateway] table; add one with `url` (or pass --pushgateway-url)",
            config.path.display()
        )
    })?;
    if let Some(url) = &args.pushgateway_url {
        target.url = config::check_url(url).map_err(|e| anyhow!("--pushgateway-url: {e}"))?;
    }

    let mut report = collect_and_assess(&config, now);
    let complete = report.complete();
    let auth = if args.dry_run {
        None
    } else {
        pushgateway::resolve_auth(&target, |k| std::env::var(k).ok()).map_err(|e| anyhow!(e))?
    };
    if !complete && !args.dry_run {
        // A failed read must not erase what the Pushgateway already knows.
        let asked = Instant::now();
        match pushgateway::fetch_group(&target, auth.as_ref()) {
            Ok(held) => {
                report = carry_forward(report, &held, &config);
            }
            Err(e) => log::warn!("cannot carry forward the last known expiries: {e}"),
        }
        // `timeout` bounds the whole delivery: what reading back took is not given again.
        let spent = jiff::SignedDuration::try_from(asked.elapsed()).unwrap_or_default();
        target.timeout = (target.timeout - spent).max(jiff::SignedDuration::from_secs(1));
    }
    let run = RunInfo {
        finished_at: now,
        duration_seconds: started.elapsed().as_secs_f64(),
    };
    let mut families = metrics::families(&report, &config.metrics, run);
    let method = if complete {
        Method::Put
    } else {
        families.retain(|f| f.name != config.metrics.last_success);
        Method::Post
    };
    let body = text::encode(&families);
    let url = pushgateway::group_url(&target.url, &target.job, &target.grouping);

    if args.dry_run {
        print!("# {} {url}\n{body}", method.as_str());
        return Ok(if complete {
            ExitCode::Ok
        } else {
            ExitCode::Unknown
        });
    }

    if let Err(e) = pushgateway::send(&target, &url, method, &body, auth.as_ref()) {
        eprintln!("error: push to `{url}` failed: {e}");
        print_problems(&report);
        return Ok(ExitCode::Undelivered);
    }
    if complete {
        println!(
            "pushed {} credential(s) to {url} (PUT)",
            report.assessments.len()
        );
        return Ok(ExitCode::Ok);
    }
    println!(
        "pushed {} credential(s) to {url} (POST, last success not advanced: something could not be read)",
        report.assessments.len()
    );
    print_problems(&report);
    Ok(ExitCode::Unknown)
}

/// Lists on stderr what could not be read, for the Job's log.
fn print_problems(report: &Report) {
    for a in report.assessments.iter().filter(|a| a.error.is_some()) {
        eprintln!(
            "problem: credential `{}`: {}",
            a.credential.name,
            a.error.as_deref().unwrap_or_default()
        );
    }
    for s in report.sources.iter().filter(|s| s.error.is_some()) {
        eprintln!(
            "problem: source `{}`: {}",
            s.name,
            s.error.as_deref().unwrap_or_default()
        );
    }
    for p in &report.problems {
        eprintln!("problem: {p}");
    }
}

fn render(cli: &Cli, what: &RenderCommand) -> anyhow::Result<ExitCode> {
    let (config, text) = load_with_text(cli)?;
    let output = match what {
        RenderCommand::Rules(args) => render::rules::render_cli(&config, args),
        RenderCommand::RuleTests(args) => render::rule_tests::render_cli(&config, args),
        RenderCommand::K8s(args) => render::k8s::render_cli(&config, &text, args),
        RenderCommand::VaultPolicy(args) => render::vault_policy::render(
            &config,
            match args.purpose {
                crate::cli::PolicyPurpose::Monitor => render::vault_policy::Purpose::Monitor,
                crate::cli::PolicyPurpose::Rotate => render::vault_policy::Purpose::Rotate,
            },
            args.source.as_deref(),
        ),
    }
    .map_err(|e| anyhow!(e))?;
    print!("{output}");
    Ok(ExitCode::Ok)
}

fn lint_value(cli: &Cli, args: &LintValueArgs) -> anyhow::Result<ExitCode> {
    use std::io::Read;
    let profile = match crate::decode::format::builtin(&args.format) {
        Some(p) => p,
        None => {
            // Custom formats live in the config file, when there is one.
            let config = load(cli).map_err(|e| {
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
    if !args.exact {
        let len = bytes.len();
        if bytes.ends_with(b"\r\n") {
            bytes.truncate(len - 2);
        } else if bytes.ends_with(b"\n") {
            bytes.truncate(len - 1);
        }
    }
    let value = crate::credential::Secret::from_bytes(std::mem::take(&mut *bytes));
    let Ok(text) = std::str::from_utf8(value.expose_bytes()) else {
        println!("invalid: the value is not text");
        return Ok(ExitCode::Critical);
    };
    match crate::decode::format::check(&profile, text) {
        Ok(()) => {
            println!(
                "ok: a valid `{}` value ({} characters, fingerprint {})",
                profile.name,
                text.chars().count(),
                crate::decode::fingerprint::fingerprint(text.trim().as_bytes(), None)
            );
            Ok(ExitCode::Ok)
        }
        Err(problem) => {
            println!("invalid: not a valid `{}` value: {problem}", profile.name);
            Ok(ExitCode::Critical)
        }
    }
}

fn rotate(cli: &Cli, args: &RotateArgs) -> anyhow::Result<ExitCode> {
    use crate::rotate;
    let (config, text) = load_with_text(cli)?;
    let find = |name: &str| config.inventory.iter().find(|e| e.credential.name == name);
    let Some(entry) = find(&args.name) else {
        let report = collect_and_assess(&config, Timestamp::now());
        return Err(
            match report
                .assessments
                .iter()
                .find(|a| a.credential.name == args.name)
            {
                Some(a) => anyhow!(
                    "credential `{}` comes from source `{}`, not from `{}`: update it where that source reads it",
                    args.name,
                    a.credential.source,
                    config.path.display()
                ),
                None => anyhow!(
                    "no credential named `{}` in `{}`",
                    args.name,
                    config.path.display()
                ),
            },
        );
    };
    if let Some(crate::config::ValueFrom::Vault { .. }) = entry.value.as_ref().map(|v| &v.from) {
        return rotate_in_vault(cli, args, &config, entry);
    }
    let Some(declared) = &entry.declared else {
        return Err(anyhow!(
            "the expiry of `{}` is read from its value: replace the value, then run `credwatch push`",
            args.name
        ));
    };
    let spare = match &args.from {
        None => None,
        Some(spare) => {
            let other =
                find(spare).ok_or_else(|| anyhow!("--from: no [[credential]] named `{spare}`"))?;
            if other.credential.pool != entry.credential.pool {
                log::warn!("`{spare}` is not in the pool of `{}`", args.name);
            }
            Some((spare.as_str(), other.declared.as_ref()))
        }
    };
    let flag = |value: &Option<String>, flag: &str| {
        value
            .as_deref()
            .map(|t| time::parse_timestamp(t).map_err(|e| anyhow!("{flag}: {e}")))
            .transpose()
    };
    let (key, at) = rotate::plan(
        &args.name,
        declared,
        spare,
        flag(&args.minted_at, "--minted-at")?,
        flag(&args.expires_at, "--expires-at")?,
        Timestamp::now(),
    )
    .map_err(|e| anyhow!(e))?;
    let edited = rotate::set_time(&text, &args.name, key, at).map_err(|e| anyhow!(e))?;
    // The edited file must still be a valid config before it replaces the old one.
    config::parse_config(&edited, &config.path)
        .map_err(|e| anyhow!("the edit would break the config:\n{e}"))?;
    // Atomic, like the textfile: a reader never sees half a config.
    write_config(&config.path, &edited)?;
    println!(
        "recorded {} = {at} for `{}` in {}",
        key.as_str(),
        args.name,
        config.path.display()
    );
    push_after_rotation(cli, args, &config)
}

/// Pushes at once after a rotation, so the alert clears within minutes, not at the next run.
fn push_after_rotation(cli: &Cli, args: &RotateArgs, config: &Config) -> anyhow::Result<ExitCode> {
    if args.no_push || config.pushgateway.is_none() {
        return Ok(ExitCode::Ok);
    }
    push(
        cli,
        &PushArgs {
            dry_run: false,
            pushgateway_url: None,
            now: None,
        },
    )
}

fn serve(cli: &Cli, args: &crate::cli::ServeArgs) -> anyhow::Result<ExitCode> {
    use std::sync::Arc;

    use crate::serve::exporter::{self, Latest, Limits, Shutdown};
    use crate::serve::refresh::{self, Refresher};

    let path = config_path(cli)?;
    let config = config::read_config(&path)?;
    let duration = |text: &str, flag: &str| {
        time::parse_duration(text)
            .map(|d| d.unsigned_abs())
            .map_err(|e| anyhow!("{flag}: {e}"))
    };
    let interval = duration(&args.interval, "--interval")?;
    let limits = Limits {
        max_connections: args.max_connections,
        read_timeout: duration(&args.read_timeout, "--read-timeout")?,
        ..Limits::default()
    };
    if limits.max_connections == 0 {
        return Err(anyhow!("--max-connections: expected at least 1, found `0`"));
    }
    let listener = std::net::TcpListener::bind(&args.listen)
        .map_err(|e| anyhow!("cannot listen on `{}`: {e}", args.listen))?;
    let addr = listener.local_addr()?;

    let latest = Arc::new(Latest::new());
    let shutdown = Arc::new(Shutdown::new());
    stop_on_signals(shutdown.clone())?;
    {
        let (latest, shutdown) = (latest.clone(), shutdown.clone());
        let mut refresher = Refresher::new(path, config);
        std::thread::Builder::new()
            .name("credwatch-refresh".into())
            .spawn(move || refresh::run(&mut refresher, &latest, &shutdown, interval))?;
    }
    println!(
        "serving http://{addr}/metrics; every source is read every {} (+-10%)",
        args.interval
    );
    use std::io::Write;
    let _ = std::io::stdout().flush();
    exporter::serve(listener, latest, shutdown, limits)
        .map_err(|e| anyhow!("serving on `{addr}` failed: {e}"))?;
    println!("stopped");
    Ok(ExitCode::Ok)
}

/// The first SIGTERM or SIGINT stops the exporter cleanly; a second one stops it at once.
fn stop_on_signals(
    shutdown: std::sync::Arc<crate::serve::exporter::Shutdown>,
) -> anyhow::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])
        .map_err(|e| anyhow!("cannot handle SIGTERM and SIGINT: {e}"))?;
    std::thread::Builder::new()
        .name("credwatch-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                if shutdown.is_triggered() {
                    std::process::exit(128 + signal);
                }
                log::info!("signal {signal}: shutting down");
                shutdown.trigger();
            }
        })?;
    Ok(())
}

/// A test hook (not in `--help`): milliseconds `textfile` sleeps between writing its temporary
/// file and renaming it, so that a test can kill it in that window. Debug builds only: a release
/// binary ignores it.
const TEXTFILE_PAUSE_ENV: &str = "CREDWATCH_TEST_PAUSE_BEFORE_RENAME_MS";

fn textfile(cli: &Cli, args: &crate::cli::TextfileArgs) -> anyhow::Result<ExitCode> {
    use crate::sinks::textfile;

    let started = Instant::now();
    textfile::check_path(&args.path).map_err(|e| anyhow!(e))?;
    let config = load(cli)?;
    let now = now(&args.now)?;
    let mut report = collect_and_assess(&config, now);
    let complete = report.complete();

    // An incomplete run keeps what the previous file knew: last known expiries (`read_ok` 0)
    // and the last-success time, as a POST to the Pushgateway would.
    let previous = if complete {
        Vec::new()
    } else {
        match std::fs::read_to_string(&args.path) {
            Ok(text) => textfile::parse_series(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                log::warn!("cannot read the previous `{}`: {e}", args.path.display());
                Vec::new()
            }
        }
    };
    if !complete {
        report = carry_forward(report, &previous, &config);
    }
    let run = RunInfo {
        finished_at: now,
        duration_seconds: started.elapsed().as_secs_f64(),
    };
    let mut families = metrics::families(&report, &config.metrics, run);
    if !complete {
        let last_success = previous
            .iter()
            .find(|s| s.metric == config.metrics.last_success && s.labels.is_empty())
            .map(|s| s.value);
        for family in families
            .iter_mut()
            .filter(|f| f.name == config.metrics.last_success)
        {
            family.samples.clear();
            if let Some(value) = last_success {
                family.push(vec![], value);
            }
        }
    }
    let text = text::encode(&families);

    let pause = std::env::var(TEXTFILE_PAUSE_ENV)
        .ok()
        .filter(|_| cfg!(debug_assertions))
        .and_then(|ms| ms.parse().ok())
        .map(std::time::Duration::from_millis);
    let written = textfile::write_atomically(&args.path, &text, |_| {
        if let Some(pause) = pause {
            std::thread::sleep(pause);
        }
    });
    if let Err(e) = written {
        eprintln!("error: {e}");
        print_problems(&report);
        return Ok(ExitCode::Undelivered);
    }
    let path = args.path.display();
    let count = report.assessments.len();
    if complete {
        println!("wrote {count} credential(s) to {path}");
        return Ok(ExitCode::Ok);
    }
    println!(
        "wrote {count} credential(s) to {path} (last success not advanced: something could not be read)"
    );
    print_problems(&report);
    Ok(ExitCode::Unknown)
}

/// Rotation of a credential stored in Vault: the new value (stdin, or a spare's) is checked
/// against the credential's format, written with check-and-set on the current version (other
/// fields kept), its mint time recorded in custom_metadata (other keys kept), then pushed.
fn rotate_in_vault(
    cli: &Cli,
    args: &RotateArgs,
    config: &Config,
    entry: &crate::config::InventoryEntry,
) -> anyhow::Result<ExitCode> {
    use crate::config::ValueFrom;
    use std::collections::BTreeMap;

    let spec = entry
        .value
        .as_ref()
        .ok_or_else(|| anyhow!("internal: no value"))?;
    let ValueFrom::Vault {
        source,
        path,
        field,
    } = &spec.from
    else {
        return Err(anyhow!("internal: not a vault value"));
    };
    let field = field.as_deref().ok_or_else(|| {
        anyhow!("credential `{}` names no `vault.field`: rotate needs to know which key of the secret holds the value", args.name)
    })?;
    let (common, vault_source) = config
        .sources
        .iter()
        .find(|s| s.name() == source)
        .and_then(|s| Some((&s.common, s.kind.as_vault()?)))
        .ok_or_else(|| anyhow!("no vault source `{source}`"))?;
    let client = crate::sources::vault::Session(
        crate::sources::vault::connect(vault_source, |k| std::env::var(k).ok())
            .map_err(|e| anyhow!("cannot log in to Vault: {e}"))?,
    );
    let mount = &vault_source.mount;

    // The new value: a spare's, or stdin's. Never argv, never the environment.
    let (value, minted_at, promoted_from) = match &args.from {
        Some(spare) => {
            let other = config
                .inventory
                .iter()
                .find(|e| e.credential.name == *spare)
                .ok_or_else(|| anyhow!("--from: no [[credential]] named `{spare}`"))?;
            let Some(ValueFrom::Vault {
                source: s2,
                path: p2,
                field: f2,
            }) = other.value.as_ref().map(|v| &v.from)
            else {
                return Err(anyhow!("--from: `{spare}` is not stored in Vault"));
            };
            if s2 != source {
                return Err(anyhow!(
                    "--from: `{spare}` is in vault source `{s2}`, `{}` in `{source}`",
                    args.name
                ));
            }
            let f2 = f2.as_deref().unwrap_or(field);
            let value = client
                .read_field(mount, p2, f2)
                .map_err(|e| anyhow!("--from: {e}"))?;
            // The spare keeps its own mint time: it was minted then, not now.
            let meta = client
                .read_metadata(mount, p2)
                .map_err(|e| anyhow!("--from: {e}"))?;
            let keys = crate::decode::evidence::MetadataKeys {
                expires_at: &vault_source.expires_at_key,
                minted_at: &vault_source.minted_at_key,
                ttl: common.ttl,
            };
            let minted = crate::decode::evidence::from_metadata(&meta, &keys, Timestamp::now())
                .ok()
                .and_then(|e| e.minted_at);
            (value, minted, Some(spare.clone()))
        }
        None => (read_new_value()?, None, None),
    };
    if let Some(profile) = &spec.format {
        let text = std::str::from_utf8(value.expose_bytes()).unwrap_or_default();
        if let Err(problem) = crate::decode::format::check(profile, text) {
            eprintln!(
                "error: refusing to store the new value of `{}`: not a valid `{}` value: {problem}; nothing was written",
                args.name, profile.name
            );
            return Ok(ExitCode::Unknown);
        }
    }
    let minted_at = match (&args.minted_at, minted_at) {
        (Some(t), _) => time::parse_timestamp(t).map_err(|e| anyhow!("--minted-at: {e}"))?,
        (None, Some(m)) => m,
        (None, None) => Timestamp::now(),
    };
    let minted_at = Timestamp::from_second(minted_at.as_second()).unwrap_or(minted_at);

    let current = client
        .read_metadata(mount, path)
        .map_err(|e| anyhow!("{e}"))?
        .current_version;
    let cas = args.expect_version.unwrap_or(current);
    let fields = BTreeMap::from([(field.to_string(), value)]);
    let version = match client.write_cas(mount, path, &fields, cas) {
        Ok(v) => v,
        Err(e @ crate::vault::VaultError::Cas { .. }) => {
            eprintln!(
                "error: {e}; nothing was written. Check who rotated it (`credwatch check`) and retry."
            );
            return Ok(ExitCode::Unknown);
        }
        Err(e) => {
            eprintln!("error: {e}; nothing was written");
            return Ok(ExitCode::Unknown);
        }
    };
    let mut custom = BTreeMap::from([
        (vault_source.minted_at_key.clone(), minted_at.to_string()),
        (
            "rotated_by".to_string(),
            std::env::var("USER")
                .ok()
                .filter(|u| !u.is_empty())
                .map_or_else(|| "credwatch".into(), |u| format!("{u} via credwatch")),
        ),
    ]);
    if let Some(spare) = &promoted_from {
        custom.insert("promoted_from".into(), spare.clone());
    }
    if let Err(e) = client.patch_custom_metadata(mount, path, &custom) {
        eprintln!(
            "error: version {version} of `{mount}/{path}` was written, but recording its mint time failed: {e}; \
             set custom_metadata `{}` = `{minted_at}` by hand",
            vault_source.minted_at_key
        );
        return Ok(ExitCode::Unknown);
    }
    println!(
        "wrote version {version} of `{mount}/{path}` (field `{field}`){}; recorded {} = {minted_at}",
        promoted_from
            .as_ref()
            .map_or(String::new(), |s| format!(" from `{s}`")),
        vault_source.minted_at_key
    );
    // A lifetime stated in credwatch.toml wins over Vault's metadata: keep it true as well.
    if let Some(declared) = &entry.declared {
        use crate::credential::Basis;
        if declared.basis == Basis::MintedAtPlusTtl {
            let text = std::fs::read_to_string(&config.path)
                .map_err(|e| anyhow!("cannot read `{}`: {e}", config.path.display()))?;
            let edited =
                crate::rotate::set_time(&text, &args.name, crate::rotate::Key::MintedAt, minted_at)
                    .map_err(|e| anyhow!(e))?;
            write_config(&config.path, &edited)?;
            println!(
                "recorded minted_at = {minted_at} for `{}` in {}",
                args.name,
                config.path.display()
            );
        } else {
            eprintln!(
                "warning: `{}` states `expires_at` in {}, which wins over Vault's metadata; run `credwatch rotate {} --expires-at TIME` for the new value",
                args.name,
                config.path.display(),
                args.name
            );
        }
    }
    push_after_rotation(cli, args, config)
}

/// Replaces the config file atomically, through a symlink to the file it points at (a config
/// mounted or linked into place stays a link).
fn write_config(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    crate::sinks::textfile::write_atomically(&target, text, |_| {}).map_err(|e| anyhow!(e))
}

/// Reads a new secret value from stdin: without echo from a terminal, else the whole input;
/// one trailing newline is dropped.
fn read_new_value() -> anyhow::Result<crate::credential::Secret> {
    use std::io::{IsTerminal, Read};
    let mut text = if std::io::stdin().is_terminal() {
        zeroize::Zeroizing::new(
            rpassword::prompt_password("new value (not echoed): ")
                .map_err(|e| anyhow!("cannot read the new value: {e}"))?,
        )
    } else {
        let mut s = zeroize::Zeroizing::new(String::new());
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| anyhow!("cannot read the new value from stdin: {e}"))?;
        s
    };
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    if text.is_empty() {
        return Err(anyhow!(
            "no new value on stdin; pipe it in: `credwatch rotate NAME < new-token.txt`"
        ));
    }
    Ok(crate::credential::Secret::new(std::mem::take(&mut *text)))
}
