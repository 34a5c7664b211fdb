//! `observer run`: one pass for cron — tick, fold what is new, write, commit.

use std::time::Instant;

use anyhow::{Context, Result};
use serde::Serialize;

use super::{count, layout, load_config, load_inventory, now, print, shown, warn};
use crate::cli::{PathArgs, RunArgs};
use crate::layout::Layout;
use crate::pass::{Mode, Report, run_pass};
use crate::store::append::append_events;
use crate::store::atomic::write_atomic;
use crate::store::lock::StateLock;
use crate::time::Ts;

pub fn execute(paths: &PathArgs, args: &RunArgs) -> Result<i32> {
    let layout = layout(paths);
    let config = load_config(&layout)?;
    let inventory = load_inventory(&layout)?;
    layout.require_events()?;
    let _lock = StateLock::acquire(&layout.state, "run", args.wait)?;
    let started = Instant::now();
    let at = now()?;
    // With --probe: fold what producers wrote, run the due probes, then
    // append the tick and fold again. The results and the tick share the
    // round's time; the probes file sorts before the ticks file, so this is
    // the order a rebuild folds them in too (none of them is late).
    let mut probe_lines = Vec::new();
    let mut folded_before = 0;
    if args.probe {
        let report = run_pass(&layout, &config, &inventory, &Mode::Incremental)?;
        warn_about(&layout, &report);
        folded_before = report.folded;
        probe_lines = super::probe::round(&layout, &config, &inventory, at, &super::probe::RoundOptions::default())?;
    }
    if !args.no_tick {
        append_tick(&layout, at)?;
    }
    let mut report = run_pass(&layout, &config, &inventory, &Mode::Incremental)?;
    report.folded += folded_before;
    warn_about(&layout, &report);
    record_run(&layout, "run", at, started, &report)?;
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
        shown(&layout.world),
        count(report.written.len() as u64, "file"),
    ))?;
    Ok(crate::exit::SUCCESS)
}

/// Appends the wall-clock reading as a `tick` event to today's ticks file.
fn append_tick(layout: &Layout, at: Ts) -> Result<()> {
    let line = format!("{{\"ts\":\"{at}\",\"type\":\"tick\",\"payload\":{{\"source\":\"observer run\"}}}}");
    Ok(append_events(&layout.observer_events(), "ticks", at, &[line])?)
}

/// Facts about the run itself, kept out of the world (SPEC §3.8).
#[derive(Serialize)]
struct LastRun<'a> {
    command: &'a str,
    version: &'a str,
    started_at: Ts,
    duration_ms: u128,
    events_folded: u64,
    rejected: usize,
    duplicates: u64,
    late: u64,
    files_seen: usize,
    files_read: usize,
    bytes_read: u64,
    world_files_written: &'a [&'static str],
    as_of: Option<Ts>,
}

pub fn record_run(layout: &Layout, command: &str, at: Ts, started: Instant, report: &Report) -> Result<()> {
    let facts = LastRun {
        command,
        version: env!("CARGO_PKG_VERSION"),
        started_at: at,
        duration_ms: started.elapsed().as_millis(),
        events_folded: report.folded,
        rejected: report.rejects.len(),
        duplicates: report.duplicates,
        late: report.late,
        files_seen: report.files_seen,
        files_read: report.files_read,
        bytes_read: report.bytes_read,
        world_files_written: &report.written,
        as_of: report.as_of,
    };
    let path = layout.last_run();
    write_atomic(&path, &crate::world::render(&facts)?).with_context(|| format!("cannot write {}", path.display()))
}

/// Rejections, replaced files and refused diagnostics of this pass, on stderr.
pub fn warn_about(layout: &Layout, report: &Report) {
    for reject in &report.rejects {
        let file = shown(&layout.events.join(&reject.file));
        warn(&format!("warning: rejected event at {file}:{}: {}", reject.line, reject.reason));
    }
    for (file, message) in &report.notices {
        warn(&format!("warning: {} {message}", shown(&layout.events.join(file))));
    }
    for refused in &report.refused_diagnostics {
        warn(&format!(
            "warning: diagnostics path `{}` refused: {}",
            refused.path,
            refused.refused.as_deref().unwrap_or("refused")
        ));
    }
}
