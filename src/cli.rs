//! The command line, as clap sees it. No logic lives here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const CONFIG_HELP: &str = "\
CONFIGURATION (credwatch.toml; found via --config, $CREDWATCH_CONFIG, then ./credwatch.toml):
  [defaults]        ttl = \"365d\", warn_before = \"30d\", critical_before = \"7d\"
  [[credential]]    name (unique), exactly one of minted_at (expiry = minted_at + ttl) or
                    expires_at; optional pool, labels = { k = \"v\" }, runbook, ttl,
                    warn_before, critical_before
  [[source]]        kind = \"directory\", path (one file per credential: file name = name,
                    content = unix seconds), content = \"expires_at\" | \"minted_at\", name,
                    ttl, pool, labels, runbook, warn_before, critical_before
Times are RFC 3339 with an offset or unix seconds; durations look like 365d, 12h, 90m.
Relative paths are resolved against the config file's folder.";

const PUSH_HELP: &str = "\
PUSHGATEWAY ([pushgateway] in credwatch.toml):
  url               base URL, e.g. http://prometheus-pushgateway.monitoring:9091
  job               job name (default credwatch); grouping = { k = \"v\" } adds grouping labels
  timeout           overall time for the push including retries (default 30s)
  retries           retries on connection errors and HTTP 5xx (default 3)
  username, password_file, token_file
                    basic auth or bearer token; also from the environment:
                    CREDWATCH_PUSHGATEWAY_USERNAME, CREDWATCH_PUSHGATEWAY_PASSWORD(_FILE),
                    CREDWATCH_PUSHGATEWAY_TOKEN(_FILE). Never on the command line.
METRIC NAMES ([metrics]):
  expiry_metric, last_success_metric, credential_label
                    rename the series alert rules depend on
  extra_series      false emits only the expiry and last-success series

A complete run PUTs the group (credentials removed from the inventory disappear). If a source
or credential could not be read, the other families are POSTed without the last-success series,
so the stale alert can fire, and credwatch exits 3.

EXIT CODES: 0 pushed, every credential read; 3 config error or something unread;
            4 the push did not land.";

const CHECK_HELP: &str = "\
EXIT CODES (monitoring-plugin convention): 0 OK, 1 WARNING, 2 CRITICAL or EXPIRED,
3 UNKNOWN (a credential or source could not be read) or a config/usage error.";

/// Tells you, weeks ahead, that a credential is about to expire.
#[derive(Debug, Parser)]
#[command(name = "credwatch", version, about, after_long_help = CONFIG_HELP)]
pub struct Cli {
    /// Config file [default: $CREDWATCH_CONFIG, then ./credwatch.toml]
    #[arg(long, short = 'c', global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// More logging on stderr (-v info, -vv debug); CREDWATCH_LOG or RUST_LOG take a filter
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show every credential's expiry and status; the exit code is the worst status
    #[command(after_long_help = format!("{CHECK_HELP}\n\n{CONFIG_HELP}"))]
    Check(CheckArgs),
    /// Push the metrics to a Prometheus Pushgateway (run it from a CronJob)
    #[command(after_long_help = format!("{PUSH_HELP}\n\n{CONFIG_HELP}"))]
    Push(PushArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Output format
    #[arg(long, short = 'o', value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,

    /// Assess as of this time instead of now (RFC 3339 or unix seconds)
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// Print the method, URL and exact body instead of sending them
    #[arg(long)]
    pub dry_run: bool,

    /// Pushgateway base URL, overriding `[pushgateway] url`
    #[arg(long, value_name = "URL")]
    pub pushgateway_url: Option<String>,

    /// Take this time as now (RFC 3339 or unix seconds); for tests and reproducible runs
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
}
