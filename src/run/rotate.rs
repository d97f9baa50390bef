//! `rotate`: an inventory credential's config edit, or a Vault credential's check-and-set write,
//! then a push so the alert clears at once.

use anyhow::anyhow;
use jiff::Timestamp;

use super::deliver::push;
use super::{Context, ExitCode, collect_and_assess, load_with_text, out};
use crate::cli::{PushArgs, RecordArgs, RotateArgs};
use crate::config::Config;
use crate::env;
use crate::time;

pub(super) fn rotate(cx: &Context, args: &RotateArgs) -> anyhow::Result<ExitCode> {
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
                Some(a) => match config
                    .sources
                    .iter()
                    .find(|s| s.name() == a.credential.source)
                    .and_then(|s| s.kind.as_vault())
                {
                    // A secret a vault source found: rotating it needs to know its field.
                    Some(v) => anyhow!(
                        "credential `{name}` is found by vault source `{source}` (secret `{mount}/{name}`); to rotate it, declare it in `{file}` (and add `exclude = [\"{name}\"]` to that source so it is reported once):\n  [[credential]]\n  name = \"{short}\"\n  vault = {{ source = \"{source}\", path = \"{name}\", field = \"{field}\" }}\nthen run `credwatch rotate {short}`",
                        name = args.name,
                        short = args.name.rsplit('/').next().unwrap_or(&args.name),
                        source = a.credential.source,
                        mount = v.mount,
                        file = config.path.display(),
                        field = v.value.as_ref().map_or("FIELD", |f| f.field.as_str()),
                    ),
                    None => anyhow!(
                        "credential `{}` comes from source `{}`, not from `{}`: update it where that source reads it",
                        args.name,
                        a.credential.source,
                        config.path.display()
                    ),
                },
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
    out!(
        "recorded {} = {at} for `{}` in {}\n",
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
    // Checked before anything is written.
    let wait = match &args.wait {
        None => None,
        Some(text) => {
            let d = time::parse_duration(text).map_err(|e| anyhow!("--wait: {e}"))?;
            let url = config
                .prometheus_url
                .clone()
                .or_else(|| cx.env.non_empty(env::PROMETHEUS_URL))
                .ok_or_else(|| {
                    anyhow!(
                        "--wait asks Prometheus what the consumers hold: set `[prometheus] url` in `{}` or {}",
                        config.path.display(),
                        env::PROMETHEUS_URL
                    )
                })?;
            Some((d.unsigned_abs(), url))
        }
    };
    let key = fingerprint_key(cx, config);
    let session = crate::sources::vault::Session(
        crate::sources::vault::connect(vault_source, cx.env.lookup())
            .map_err(|e| anyhow!("cannot log in to Vault: {e}"))?,
    );
    let mount = vault_source.mount.as_str();
    let store = workflow::Mounted {
        client: &session,
        mount,
    };
    let keys = crate::sources::vault::MetadataKeys {
        expires_at: &vault_source.expires_at_key,
        minted_at: &vault_source.minted_at_key,
        ttl: target.common.ttl,
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
        keys,
        rotated_by: workflow::rotated_by(args.by.clone().or_else(|| cx.env.var(env::USER))),
        fingerprint_key: key.as_ref().map(crate::credential::Secret::expose_bytes),
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
    out!(
        "wrote version {version} of `{mount}/{path}` (field `{field}`){}; recorded {} = {minted_at}\n",
        promoted_from
            .as_ref()
            .map_or(String::new(), |s| format!(" from `{s}`")),
        vault_source.minted_at_key
    );
    // A lifetime stated in credwatch.toml wins over Vault's metadata: keep it true as well.
    if let Some(declared) = &entry.declared {
        use crate::credential::Basis;
        if declared.basis == Basis::MintedAtPlusTtl {
            let text = crate::file::read_to_string(&config.path, crate::file::CONFIG)
                .map_err(|e| anyhow!("cannot read `{}`: {e}", config.path.display()))?;
            let edited =
                crate::rotate::set_time(&text, &args.name, crate::rotate::Key::MintedAt, minted_at)
                    .map_err(|e| anyhow!(e))?;
            write_config(&config.path, &edited)?;
            out!(
                "recorded minted_at = {minted_at} for `{}` in {}\n",
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
    let pushed = push_after_rotation(cx, args, config)?;
    let Some((deadline, url)) = wait else {
        return Ok(pushed);
    };
    // What the store recorded now: the new value current, the replaced ones with their expiry.
    let meta = crate::rotate::vault::Store::read_metadata(&store, path)
        .map_err(|e| anyhow!("cannot read back the metadata of `{mount}/{path}`: {e}"))?;
    let stored = crate::sources::vault::stored_values(&args.name, &meta, None, &keys);
    let code = wait_for_consumers(&args.name, &stored, deadline, url, config);
    Ok(if code == ExitCode::Ok { pushed } else { code })
}

/// `rotate --wait`: polls Prometheus until every consumer holds the new value.
fn wait_for_consumers(
    name: &str,
    stored: &[crate::credential::StoredValue],
    deadline: std::time::Duration,
    url: String,
    config: &Config,
) -> ExitCode {
    use crate::rotate::wait::{self, Schedule, Waited};
    use std::time::Duration;
    let api = crate::rotate::prometheus::Api {
        url,
        credential_label: config.metrics.credential_label.clone(),
        timeout: Duration::from_secs(10),
    };
    let started = std::time::Instant::now();
    let waited = wait::wait(
        &api,
        name,
        stored,
        Schedule {
            deadline,
            // Every 10s, more often for a short wait.
            every: (deadline / 10).clamp(Duration::from_millis(500), Duration::from_secs(10)),
            elapsed: &|| started.elapsed(),
            sleep: &std::thread::sleep,
        },
        &mut |line| eprintln!("{line}"),
    );
    match waited {
        Waited::AllCurrent(consumers) => {
            out!(
                "every consumer of `{name}` holds the new value: {}\n",
                consumers.join(", ")
            );
            ExitCode::Ok
        }
        Waited::NotCurrent(behind) => {
            let behind: Vec<&(String, crate::assess::consumer::State)> = behind.iter().collect();
            eprintln!(
                "error: after {}, consumers of `{name}` still hold another value: {}; restart them so they read the new one",
                time::format_duration(jiff::SignedDuration::try_from(deadline).unwrap_or_default()),
                wait::describe(&behind)
            );
            ExitCode::Warning
        }
        Waited::NoConsumers(why) => {
            eprintln!(
                "error: no consumer of `{name}` reported to Prometheus{}; is the sidecar scraped?",
                why.map_or(String::new(), |w| format!(" ({w})"))
            );
            ExitCode::Unknown
        }
    }
}

/// The fingerprint key, or none with a warning (fingerprints are then unkeyed).
fn fingerprint_key(cx: &Context, config: &Config) -> Option<crate::credential::Secret> {
    crate::sources::fingerprint_key(config, &cx.env).unwrap_or_else(|e| {
        log::warn!("{e}");
        None
    })
}

/// `record`: the mint time (and fingerprint) of what a Vault credential stores now.
pub(super) fn record(cx: &Context, args: &RecordArgs) -> anyhow::Result<ExitCode> {
    use crate::rotate::vault::{self as workflow, RecordRequest};
    let config = super::load(cx)?;
    let minted_at =
        time::parse_timestamp(&args.minted_at).map_err(|e| anyhow!("--minted-at: {e}"))?;
    let entry = config.entry(&args.name).ok_or_else(|| {
        anyhow!(
            "no `[[credential]]` named `{}` in `{}`: declare it with `vault = {{ path = \"…\", field = \"…\" }}` to record it",
            args.name,
            config.path.display()
        )
    })?;
    let Some(crate::config::ValueFrom::Vault { .. }) = entry.value.as_ref().map(|v| &v.from) else {
        return Err(anyhow!(
            "credential `{}` is not stored in Vault: `record` writes Vault metadata; for an inventory credential use `credwatch rotate {} --minted-at TIME`",
            args.name,
            args.name
        ));
    };
    let target = workflow::target(&config, entry, None).map_err(|e| anyhow!(e))?;
    let key = fingerprint_key(cx, &config);
    let session = crate::sources::vault::Session(
        crate::sources::vault::connect(target.source, cx.env.lookup())
            .map_err(|e| anyhow!("cannot log in to Vault: {e}"))?,
    );
    let mount = target.source.mount.as_str();
    let store = workflow::Mounted {
        client: &session,
        mount,
    };
    let done = workflow::record(
        &store,
        RecordRequest {
            mount,
            path: target.path,
            field: Some(target.field),
            minted_at,
            minted_at_key: &target.source.minted_at_key,
            recorded_by: workflow::rotated_by(args.by.clone().or_else(|| cx.env.var(env::USER))),
            fingerprint_key: key.as_ref().map(crate::credential::Secret::expose_bytes),
        },
    )
    .map_err(|e| anyhow!(e))?;
    let minted_at = Timestamp::from_second(minted_at.as_second()).unwrap_or(minted_at);
    out!(
        "recorded {} = {minted_at} for version {} of `{mount}/{}`{}\n",
        target.source.minted_at_key,
        done.version,
        target.path,
        done.fingerprint
            .as_ref()
            .map_or(String::new(), |f| format!(" (fingerprint {f})"))
    );
    if let Some(why) = done.unread {
        eprintln!(
            "warning: the value could not be read ({why}); no fingerprint was recorded, so consumers of `{}` show as unknown",
            args.name
        );
    }
    Ok(ExitCode::Ok)
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
