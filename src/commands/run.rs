//! `observer run`: one pass for cron — tick, fold what is new, write, commit.

use std::time::Instant;

use anyhow::Result;

use super::context::Context;
use super::notify::deliver_after_commit;
use super::report::{add_earlier_pass, record_metrics, record_run, recording_failure, warn_about};
use super::{count, print, shown};
use crate::cli::RunArgs;
use crate::dirs::Dirs;
use crate::fold_pass::{self, Mode};
use crate::own_events::Tick;
use crate::probe::round::{RoundOptions, round};
use crate::store::append::append_events;
use crate::time::Ts;

pub fn execute(context: &Context, args: &RunArgs) -> Result<i32> {
    recording_failure(context, "run", run(context, args))
}

fn run(context: &Context, args: &RunArgs) -> Result<i32> {
    let config = context.config()?;
    let inventory = context.inventory()?;
    context.require_events()?;
    let _lock = context.lock("run", args.wait)?;
    let dirs = &context.dirs;
    let started = Instant::now();
    let at = context.now()?;
    // With --probe: fold what producers wrote, run the due probes, then
    // append the tick and fold again. The results and the tick share the
    // round's time; the probes file sorts before the ticks file, so this is
    // the order a rebuild folds them in too (none of them is late).
    let mut probe_lines = Vec::new();
    let mut earlier = None;
    if args.probe {
        let report = fold_pass::run(dirs, &config, &inventory, &Mode::Incremental)?;
        warn_about(dirs, &report);
        earlier = Some(report);
        probe_lines = round(dirs, &config, &inventory, at, &RoundOptions::default())?;
    }
    if !args.no_tick {
        append_tick(dirs, at)?;
    }
    let mut report = fold_pass::run(dirs, &config, &inventory, &Mode::Incremental)?;
    warn_about(dirs, &report);
    if let Some(earlier) = earlier {
        add_earlier_pass(&mut report, earlier);
    }
    record_run(dirs, "run", at, started, &report)?;
    // A closed stdout stops neither delivery nor the metrics.
    let printed = print_summary(dirs, &probe_lines, &report);
    // After the commit, still under the lock: what the fold decided goes out.
    deliver_after_commit(context, &config.notify);
    record_metrics(dirs, at, started)?;
    printed?;
    Ok(crate::exit::SUCCESS)
}

fn print_summary(dirs: &Dirs, probe_lines: &[String], report: &crate::fold_pass::Report) -> std::io::Result<()> {
    for line in probe_lines {
        print(&format!("{line}\n"))?;
    }
    print(&format!(
        "folded {} ({} rejected, {}, {} late) from {} of {}; world as of {} in {} ({} changed)\n",
        count(report.folded, "new event"),
        report.rejects.len(),
        count(report.duplicates, "duplicate"),
        report.late,
        report.files_read,
        count(report.files_seen as u64, "file"),
        report.as_of.map_or_else(|| "(no events yet)".into(), |ts| ts.to_string()),
        shown(&dirs.world),
        count(report.written.len() as u64, "file"),
    ))
}

/// Appends the wall-clock reading as a `tick` event to today's ticks file.
fn append_tick(dirs: &Dirs, at: Ts) -> Result<()> {
    let line = serde_json::to_string(&Tick::new(at, "observer run"))?;
    append_events(&dirs.observer_events(), "ticks", at, &[line])?;
    Ok(())
}
