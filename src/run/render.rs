//! `render`: the flags of each `render` subcommand mapped onto its renderer's own options.

use anyhow::anyhow;

use super::{Context, ExitCode, collect_and_assess, load_with_text, out};
use crate::cli::RenderCommand;
use crate::{output, render};

pub(super) fn render(cx: &Context, what: &RenderCommand) -> anyhow::Result<ExitCode> {
    use crate::cli::{DashboardFormat, K8sMode, PolicyPurpose, RulesFormat};
    use render::{dashboard, k8s, rule_tests, rules, vault_k8s_role, vault_policy};

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
        RenderCommand::K8s(args) if matches!(args.mode, K8sMode::Sidecar | K8sMode::SidecarPatch) => {
            use render::sidecar;
            let opts = sidecar::Options {
                image: args.image.clone(),
                namespace: args.namespace.clone(),
                name: args.name.clone(),
                env_from_secret: args.env_from_secret.clone().ok_or_else(|| {
                    anyhow!("--env-from-secret: name the Secret the workload reads with `envFrom`; the sidecar reads the same one")
                })?,
                fingerprint_secret: args.fingerprint_secret.clone(),
                pod_monitor_labels: k8s::parse_labels(&args.service_monitor_labels)
                    .map_err(|e| anyhow!(e))?,
            };
            for warning in sidecar::warnings(&config) {
                eprintln!("warning: {warning}");
            }
            if args.mode == K8sMode::Sidecar {
                sidecar::render_objects(&config, &text, &opts)
            } else {
                sidecar::render_patch(&config, &opts)
            }
        }
        RenderCommand::K8s(args) => {
            let opts = k8s::Options {
                image: args.image.clone(),
                namespace: args.namespace.clone(),
                name: args.name.clone(),
                schedule: args.schedule.clone(),
                pushgateway_secret: args.pushgateway_secret.clone(),
                vault_secret: args.vault_secret.clone(),
                vault_ca: match (&args.vault_ca_secret, &args.vault_ca_configmap) {
                    (Some(secret), _) => Some(k8s::CaSource::Secret(secret.clone())),
                    (None, Some(config_map)) => Some(k8s::CaSource::ConfigMap(config_map.clone())),
                    (None, None) => None,
                },
                service_account_token: false,
                source_configmaps: k8s::parse_source_configmaps(&args.source_configmaps)
                    .map_err(|e| anyhow!(e))?,
                mode: match args.mode {
                    K8sMode::Cronjob => k8s::Mode::Cronjob,
                    K8sMode::Exporter => k8s::Mode::Exporter,
                    K8sMode::Sidecar | K8sMode::SidecarPatch => {
                        return Err(anyhow!("internal: the sidecar modes render above"));
                    }
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
        RenderCommand::VaultK8sRole(args) => vault_k8s_role::render(
            &config,
            &vault_k8s_role::Options {
                service_account: args.name.clone(),
                namespace: args.namespace.clone(),
                policy: args.policy.clone(),
                source: args.source.clone(),
                format: match args.format {
                    crate::cli::RoleFormat::Bao => vault_k8s_role::Format::Bao,
                    crate::cli::RoleFormat::Json => vault_k8s_role::Format::Json,
                },
            },
        ),
        RenderCommand::Dashboard(args) => dashboard::render(
            &config,
            &dashboard::Options {
                format: match args.format {
                    DashboardFormat::Json => dashboard::Format::Json,
                    DashboardFormat::Configmap => dashboard::Format::ConfigMap,
                },
                namespace: args.namespace.clone(),
            },
        ),
        RenderCommand::Calendar(args) => return calendar(cx, &config, args),
    }
    .map_err(|e| anyhow!(e))?;
    out!("{output}");
    Ok(ExitCode::Ok)
}

/// The one renderer that reads the sources: the feed is of expiries, not of the config. What
/// could not be read goes to stderr and makes the exit code 3, as with `push`.
fn calendar(
    cx: &Context,
    config: &crate::config::Config,
    args: &crate::cli::CalendarArgs,
) -> anyhow::Result<ExitCode> {
    let report = collect_and_assess(cx, config, super::now(&args.now)?);
    eprint!("{}", output::render_problems(&report));
    out!("{}", output::calendar::render_calendar(&report));
    Ok(if report.complete() {
        ExitCode::Ok
    } else {
        ExitCode::Unknown
    })
}
