//! One pass as `run` makes it once and `watch` makes it at every wake-up:
//! with the state lock held, fold what producers wrote, run the due probes
//! (when asked), append a tick (when asked), fold again, record the run,
//! deliver what the commit decided and write `world/metrics.prom`. One
//! function, so that the two commands cannot drift apart.

use std::time::Instant;

use anyhow::Result;

use super::context::Context;
use super::notify::deliver_after_commit;
use super::report::{add_earlier_pass, record_metrics, record_run, warn_about};
use super::{count, shown};
use crate::config::Config;
use crate::dirs::Dirs;
use crate::fold_pass::{self, Afterwards, Mode, Report};
use crate::inventory::Inventory;
use crate::own_events::Tick;
use crate::probe::round::{RoundOptions, round};
use crate::store::append::append_events;
use crate::store::last_run::LastRun;
use crate::store::lock::StateLock;
use crate::time::Ts;

/// What a pass does besides folding.
pub struct PassOptions<'a> {
    /// The command, as `state/last-run.json` and the tick's source name it.
    pub command: &'a str,
    /// Run the due probes (the round of `run --probe`).
    pub probe: bool,
    /// Append a tick with the clock's reading.
    pub tick: bool,
    /// What becomes of the state the last pass folded: left to the end of
    /// a command that ends after it (`run`), freed in one that goes on
    /// (`watch`). A pass before the probes' round frees its own.
    pub afterwards: Afterwards,
}

/// What a pass did, for the command to tell.
pub struct Pass {
    pub report: Report,
    /// One line per probe of the round, when there was one.
    pub probe_lines: Vec<String>,
}

/// One pass; the caller holds `_lock`. `show` tells people what the pass
/// did once it is committed, before delivery: a closed stdout stops neither
/// delivery nor the metrics, and is returned last.
pub fn pass(
    context: &Context,
    config: &Config,
    inventory: &Inventory,
    _lock: &StateLock,
    options: &PassOptions,
    show: impl FnOnce(&Pass) -> std::io::Result<()>,
) -> Result<Pass> {
    let dirs = &context.dirs;
    let started = Instant::now();
    let at = context.now()?;
    // With the probes: fold what producers wrote, run the due probes, then
    // append the tick and fold again. The results and the tick share the
    // round's time; the probes file sorts before the ticks file, so this is
    // the order a rebuild folds them in too (none of them is late).
    let mut probe_lines = Vec::new();
    let mut earlier = None;
    if options.probe {
        let report = fold_pass::run(dirs, config, inventory, &Mode::Incremental, Afterwards::Free)?;
        warn_about(dirs, &report);
        earlier = Some(report);
        probe_lines = round(dirs, config, inventory, at, &RoundOptions::default())?;
    }
    if options.tick {
        let line = serde_json::to_string(&Tick::new(at, &format!("observer {}", options.command)))?;
        append_events(&dirs.observer_events(), "ticks", at, &[line])?;
    }
    // The scrub goes on where the last run left it (`state/last-run.json`).
    let scrub_from = LastRun::read(&dirs.last_run()).and_then(|run| run.scrub).map(|s| s.next).unwrap_or_default();
    let mut report = fold_pass::run_scrubbing(dirs, config, inventory, &scrub_from, options.afterwards)?;
    warn_about(dirs, &report);
    if let Some(earlier) = earlier {
        add_earlier_pass(&mut report, earlier);
    }
    record_run(dirs, options.command, at, started, &report)?;
    let done = Pass { report, probe_lines };
    let shown = show(&done);
    // After the commit, still under the lock: what the fold decided goes out.
    deliver_after_commit(context, &config.notify);
    record_metrics(dirs, at, started, &done.report)?;
    shown?;
    Ok(done)
}

/// The lines `run` prints for a pass: the probes' lines, then the summary.
pub fn summary(dirs: &Dirs, pass: &Pass) -> String {
    let report = &pass.report;
    let mut text: String = pass.probe_lines.iter().map(|line| format!("{line}\n")).collect();
    text.push_str(&format!(
        "folded {} ({} rejected, {}, {} late) from {} of {}; world as of {} in {} ({} changed)\n",
        count(report.folded, "new event"),
        report.rejects.len(),
        count(report.duplicates, "duplicate"),
        report.late,
        report.files_read,
        count(report.files_seen as u64, "file"),
        report.as_of.map_or_else(|| "(no events yet)".into(), |ts: Ts| ts.to_string()),
        shown(&dirs.world),
        count(report.written.len() as u64, "file"),
    ));
    text
}
