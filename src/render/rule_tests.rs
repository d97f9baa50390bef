//! placeholder
use crate::config::Config;
pub fn render_cli(_config: &Config, _args: &crate::cli::RuleTestsArgs) -> Result<String, String> {
    Err("not implemented yet".into())
}
