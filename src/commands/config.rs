//! `observer config`: the effective configuration, or `--defaults` as
//! commented YAML to start a config file from.

use anyhow::Result;

use super::{layout, load_config, print};
use crate::cli::{ConfigArgs, PathArgs};

pub fn execute(paths: &PathArgs, args: &ConfigArgs) -> Result<i32> {
    if args.defaults {
        print(crate::config::DEFAULTS_YAML)?;
        return Ok(crate::exit::SUCCESS);
    }
    let layout = layout(paths);
    let config = load_config(&layout)?;
    let source = match &layout.config {
        Some(file) => format!("# from {}\n", file.display()),
        None => "# built-in defaults (no config file)\n".to_string(),
    };
    print(&format!("{source}{}", serde_yaml::to_string(&config)?))?;
    Ok(crate::exit::SUCCESS)
}
