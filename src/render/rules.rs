//! placeholder
use crate::config::Config;
pub fn render_cli(_config: &Config, _args: &crate::cli::RulesArgs) -> Result<String, String> {
    Err("not implemented yet".into())
}
