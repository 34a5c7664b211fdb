//! `observer run`: one pass for cron — tick, fold what is new, write, commit.

use anyhow::Result;

use super::context::Context;
use super::pass::{PassOptions, pass, summary};
use super::print;
use super::report::recording_failure;
use crate::cli::RunArgs;
use crate::fold_pass::Afterwards;

pub fn execute(context: &Context, args: &RunArgs) -> Result<i32> {
    recording_failure(context, "run", run(context, args))
}

fn run(context: &Context, args: &RunArgs) -> Result<i32> {
    let config = context.config()?;
    let inventory = context.inventory()?;
    context.require_events()?;
    let lock = context.lock("run", args.wait)?;
    let options = PassOptions { command: "run", probe: args.probe, tick: !args.no_tick, afterwards: Afterwards::Leave };
    pass(context, &config, &inventory, &lock, &options, |done| print(&summary(&context.dirs, done)))?;
    Ok(crate::exit::SUCCESS)
}
