//! `render`: the flags of each `render` subcommand mapped onto its renderer's own options.

use anyhow::anyhow;

use super::{Context, ExitCode, load_with_text};
use crate::cli::RenderCommand;
use crate::render;

pub(super) fn render(cx: &Context, what: &RenderCommand) -> anyhow::Result<ExitCode> {
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
    }
    .map_err(|e| anyhow!(e))?;
    print!("{output}");
    Ok(ExitCode::Ok)
}
