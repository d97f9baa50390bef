//! placeholder: Kubernetes manifests (being written)
use crate::config::Config;
pub fn render_cli(_config: &Config, _config_text: &str, _args: &crate::cli::K8sArgs) -> Result<String, String> {
    Err("not implemented yet".into())
}
