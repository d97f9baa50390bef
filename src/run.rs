//! Command entry points: parse the command line, read the environment once (into a
//! `Context`) and the clock once per command (or take `--now`), call the stage that does the
//! work, print its outcome and turn it into an exit code. `serve`'s refresh loop is the only
//! other place that reads the clock: each refresh is a run of its own.

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
use crate::env::{self, Env};
use crate::sinks::pushgateway;
use crate::sinks::{self, Delivered};
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
        Command::Push(args) => push(cx, args),
        Command::Serve(args) => serve(cx, args),
        Command::Textfile(args) => textfile(cx, args),
        Command::Render(what) => render(cx, what),
        Command::LintValue(args) => lint_value(cx, args),
        Command::Rotate(args) => rotate(cx, args),
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
    let text = match args.output {
        OutputFormat::Table => output::render_table(&report),
        OutputFormat::Json => output::render_json(&report),
    };
    print!("{text}");
    Ok(report.overall().into())
}

fn push(cx: &Context, args: &PushArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let config = load(cx)?;
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
    let report = collect_and_assess(cx, &config, now);
    let auth = if args.dry_run {
        None
    } else {
        pushgateway::resolve_auth(&target, cx.env.lookup()).map_err(|e| anyhow!(e))?
    };
    let mut group = pushgateway::Group::new(target, auth, args.dry_run);
    let delivered = sinks::deliver(&mut group, report, &config, now, started);
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
        println!("{summary}");
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
fn print_problems(report: &Report) {
    eprint!("{}", output::render_problems(report));
}

fn render(cx: &Context, what: &RenderCommand) -> anyhow::Result<ExitCode> {
    use crate::cli::{K8sMode, PolicyPurpose, RulesFormat};
    use render::{k8s, rule_tests, rules, vault_policy};

    let (config, text) = load_with_text(cx)?;
    let output = match what {
        RenderCommand::Rules(args) => {
            for w in rules::warnings(&config) {
                log::warn!("{w}");
            }
            let format = match args.format {
                RulesFormat::Rules => rules::Format::Rules,
                RulesFormat::Prometheusrule => rules::Format::PrometheusRule,
                RulesFormat::HelmValues => rules::Format::HelmValues,
            };
            rules::render(&config, format, &args.labels, args.namespace.as_deref())
        }
        RenderCommand::RuleTests(args) => rule_tests::render(&config, &args.rule_file),
        RenderCommand::K8s(args) => {
            let opts = k8s::Options {
                image: args.image.clone(),
                namespace: args.namespace.clone(),
                name: args.name.clone(),
                schedule: args.schedule.clone(),
                pushgateway_secret: args.pushgateway_secret.clone(),
                vault_secret: args.vault_secret.clone(),
                service_account_token: false,
                source_configmaps: k8s::parse_source_configmaps(&args.source_configmaps)
                    .map_err(|e| anyhow!(e))?,
                mode: match args.mode {
                    K8sMode::Cronjob => k8s::Mode::Cronjob,
                    K8sMode::Exporter => k8s::Mode::Exporter,
                },
                service_monitor: args.service_monitor,
                service_monitor_labels: k8s::parse_labels(&args.service_monitor_labels)
                    .map_err(|e| anyhow!(e))?,
            };
            let yaml = k8s::render(&config, &text, &opts);
            if yaml.is_ok() {
                for warning in k8s::pod_warnings(&config, &opts) {
                    eprintln!("warning: {warning}");
                }
            }
            yaml
        }
        RenderCommand::VaultPolicy(args) => vault_policy::render(
            &config,
            match args.purpose {
                PolicyPurpose::Monitor => vault_policy::Purpose::Monitor,
                PolicyPurpose::Rotate => vault_policy::Purpose::Rotate,
            },
            args.source.as_deref(),
        ),
    }
    .map_err(|e| anyhow!(e))?;
    print!("{output}");
    Ok(ExitCode::Ok)
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
    println!("{verdict}");
    Ok(if valid {
        ExitCode::Ok
    } else {
        ExitCode::Critical
    })
}

fn rotate(cx: &Context, args: &RotateArgs) -> anyhow::Result<ExitCode> {
    use crate::rotate;
    let (config, text) = load_with_text(cx)?;
    let Some(entry) = config.entry(&args.name) else {
        let report = collect_and_assess(cx, &config, Timestamp::now());
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
        return rotate_in_vault(cx, args, &config, entry);
    }
    let flag = |value: &Option<String>, flag: &str| {
        value
            .as_deref()
            .map(|t| time::parse_timestamp(t).map_err(|e| anyhow!("{flag}: {e}")))
            .transpose()
    };
    let times = rotate::Times {
        minted_at: flag(&args.minted_at, "--minted-at")?,
        expires_at: flag(&args.expires_at, "--expires-at")?,
        now: Timestamp::now(),
    };
    let rotate::InventoryEdit {
        key,
        at,
        text: edited,
        warnings,
    } = rotate::edit_inventory(&config, &text, entry, args.from.as_deref(), times)
        .map_err(|e| anyhow!(e))?;
    for warning in warnings {
        log::warn!("{warning}");
    }
    // Atomic, like the textfile: a reader never sees half a config.
    write_config(&config.path, &edited)?;
    println!(
        "recorded {} = {at} for `{}` in {}",
        key.as_str(),
        args.name,
        config.path.display()
    );
    push_after_rotation(cx, args, &config)
}

/// Pushes at once after a rotation, so the alert clears within minutes, not at the next run.
fn push_after_rotation(
    cx: &Context,
    args: &RotateArgs,
    config: &Config,
) -> anyhow::Result<ExitCode> {
    if args.no_push || config.pushgateway.is_none() {
        return Ok(ExitCode::Ok);
    }
    push(
        cx,
        &PushArgs {
            dry_run: false,
            pushgateway_url: None,
            now: None,
        },
    )
}

fn serve(cx: &Context, args: &crate::cli::ServeArgs) -> anyhow::Result<ExitCode> {
    use crate::serve::exporter::Limits;

    let path = config_path(cx)?;
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
    let announce = || {
        println!(
            "serving http://{addr}/metrics; every source is read every {} (+-10%)",
            args.interval
        );
        use std::io::Write;
        let _ = std::io::stdout().flush();
    };
    crate::serve::run(
        listener,
        path,
        config,
        cx.env.clone(),
        interval,
        limits,
        announce,
    )?;
    println!("stopped");
    Ok(ExitCode::Ok)
}

fn textfile(cx: &Context, args: &crate::cli::TextfileArgs) -> anyhow::Result<ExitCode> {
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

/// Rotation of a credential stored in Vault ([`crate::rotate::vault`]), then the config's own
/// `minted_at` kept true, then a push.
fn rotate_in_vault(
    cx: &Context,
    args: &RotateArgs,
    config: &Config,
    entry: &crate::config::InventoryEntry,
) -> anyhow::Result<ExitCode> {
    use crate::rotate::vault::{self as workflow, NewValue, Outcome, Request};

    let target = workflow::target(config, entry, args.from.as_deref()).map_err(|e| anyhow!(e))?;
    let (vault_source, path, field) = (target.source, target.path, target.field);
    let value = match target.spare {
        Some((name, path, field)) => NewValue::Spare { name, path, field },
        // The new value: stdin's, read once the server answered. Never argv or the environment.
        None => NewValue::Given(Box::new(|| read_new_value().map_err(|e| format!("{e:#}")))),
    };
    let minted_at = args
        .minted_at
        .as_deref()
        .map(|t| time::parse_timestamp(t).map_err(|e| anyhow!("--minted-at: {e}")))
        .transpose()?;
    let session = crate::sources::vault::Session(
        crate::sources::vault::connect(vault_source, cx.env.lookup())
            .map_err(|e| anyhow!("cannot log in to Vault: {e}"))?,
    );
    let mount = vault_source.mount.as_str();
    let store = workflow::Mounted {
        client: &session,
        mount,
    };
    let request = Request {
        name: &args.name,
        mount,
        path,
        field,
        format: target.format,
        value,
        minted_at,
        expect_version: args.expect_version,
        keys: crate::sources::vault::MetadataKeys {
            expires_at: &vault_source.expires_at_key,
            minted_at: &vault_source.minted_at_key,
            ttl: target.common.ttl,
        },
        rotated_by: workflow::rotated_by(cx.env.var(env::USER)),
        now: Timestamp::now(),
    };
    let (version, minted_at, promoted_from) =
        match workflow::rotate(&store, request).map_err(|e| anyhow!(e))? {
            Outcome::Written {
                version,
                minted_at,
                promoted_from,
            } => (version, minted_at, promoted_from),
            Outcome::Refused(message) | Outcome::Incomplete(message) => {
                eprintln!("error: {message}");
                return Ok(ExitCode::Unknown);
            }
        };
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
    push_after_rotation(cx, args, config)
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
