//! `observer rebuild`: the world from all events, from nothing.
//!
//! Without `--out` it replaces the live checkpoint and world (under the state
//! lock). With `--out DIR` (and optionally `--until TS`) it writes the world
//! as of that moment to DIR and touches nothing else.

use std::time::Instant;

use anyhow::{Context, Result};

use super::run::{record_run, warn_about};
use super::{count, layout, load_config, load_inventory, now, print, shown};
use crate::cli::{PathArgs, RebuildArgs};
use crate::pass::{Mode, run_pass};
use crate::store::lock::StateLock;
use crate::time::Ts;

pub fn execute(paths: &PathArgs, args: &RebuildArgs) -> Result<i32> {
    let layout = layout(paths);
    let config = load_config(&layout)?;
    let inventory = load_inventory(&layout)?;
    let until = match &args.until {
        Some(text) => Some(Ts::parse(text).map_err(anyhow::Error::msg).context("--until")?),
        None => None,
    };
    let started = Instant::now();
    let (report, target) = match &args.out {
        Some(out) => {
            let mode = Mode::Replay { until, out: out.clone() };
            (run_pass(&layout, &config, &inventory, &mode)?, out.clone())
        }
        None => {
            let _lock = StateLock::acquire(&layout.state, "rebuild", args.wait)?;
            let report = run_pass(&layout, &config, &inventory, &Mode::Rebuild)?;
            record_run(&layout, "rebuild", now()?, started, &report)?;
            (report, layout.world.clone())
        }
    };
    warn_about(&layout, &report);
    print(&format!(
        "rebuilt from {} ({} rejected, {}) in {}; world as of {} in {}\n",
        count(report.folded, "event"),
        report.rejects.len(),
        count(report.duplicates, "duplicate"),
        count(report.files_seen as u64, "file"),
        report.as_of.map_or_else(|| "(no events)".into(), |ts| ts.to_string()),
        shown(&target),
    ))?;
    Ok(crate::exit::SUCCESS)
}
