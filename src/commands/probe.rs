//! `observer probe`: run the probes that are due and record each run as a
//! `probe_result` event; the fold turns them into health. `observer run
//! --probe` makes the same round (`probe::round`) within a run.

use std::time::Instant;

use anyhow::Result;

use super::context::Context;
use super::report::{add_earlier_pass, record_metrics, record_run, recording_failure, warn_about};
use super::{print, shown};
use crate::cli::ProbeArgs;
use crate::fold_pass::{self, Afterwards, Mode};
use crate::probe::round::{RoundOptions, round};

pub fn execute(context: &Context, args: &ProbeArgs) -> Result<i32> {
    recording_failure(context, "probe", probe(context, args))
}

fn probe(context: &Context, args: &ProbeArgs) -> Result<i32> {
    let config = context.config()?;
    let inventory = context.inventory()?;
    context.require_events()?;
    let _lock = context.lock("probe", args.wait)?;
    let dirs = &context.dirs;
    let started = Instant::now();
    let earlier = fold_pass::run(dirs, &config, &inventory, &Mode::Incremental, Afterwards::Free)?;
    warn_about(dirs, &earlier);
    let at = context.now()?;
    let options = RoundOptions { all: args.all, only: args.only.clone(), jobs: args.jobs };
    let lines = round(dirs, &config, &inventory, at, &options)?;
    let mut report = fold_pass::run(dirs, &config, &inventory, &Mode::Incremental, Afterwards::Leave)?;
    add_earlier_pass(&mut report, earlier);
    record_run(dirs, "probe", at, started, &report)?;
    record_metrics(dirs, at, started, &report)?;
    let mut text = lines.join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    text.push_str(&format!(
        "world as of {} in {}\n",
        report.as_of.map_or("(no events)".into(), |t| t.to_string()),
        shown(&dirs.world)
    ));
    print(&text)?;
    Ok(crate::exit::SUCCESS)
}
