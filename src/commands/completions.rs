//! `observer completions SHELL`: shell completions from the clap definitions.

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};

pub fn execute(args: &CompletionsArgs) -> Result<i32> {
    let mut command = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut command, "observer", &mut out);
    super::print(&String::from_utf8_lossy(&out))?;
    Ok(crate::exit::SUCCESS)
}
