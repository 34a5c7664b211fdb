//! `observer config`: the effective configuration, or `--defaults` as
//! commented YAML to start a config file from.

use anyhow::Result;

use super::context::Context;
use super::print;
use crate::cli::ConfigArgs;

pub fn execute(context: &Context, args: &ConfigArgs) -> Result<i32> {
    if args.defaults {
        print(crate::config::DEFAULTS_YAML)?;
        return Ok(crate::exit::SUCCESS);
    }
    let config = context.config()?;
    let source = match &context.dirs.config {
        Some(file) => format!("# from {}\n", file.display()),
        None => "# built-in defaults (no config file)\n".to_string(),
    };
    print(&format!("{source}{}", serde_yaml::to_string(&config)?))?;
    Ok(crate::exit::SUCCESS)
}
