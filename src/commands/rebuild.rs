//! `observer rebuild`: the world from all events, from nothing.
//!
//! Without `--out` it replaces the live checkpoint and world (under the state
//! lock). With `--out DIR` (and optionally `--until TS`) it writes the world
//! as of that moment to DIR and touches nothing else.

use std::time::Instant;

use std::path::Path;

use anyhow::{Result, bail};

use super::run::{record_run, warn_about};
use super::{count, layout, load_config, load_inventory, now, print, shown};
use crate::cli::{PathArgs, RebuildArgs};
use crate::layout::Layout;
use crate::pass::{Mode, run_pass};
use crate::store::lock::StateLock;

pub fn execute(paths: &PathArgs, args: &RebuildArgs) -> Result<i32> {
    let layout = layout(paths);
    let config = load_config(&layout)?;
    let inventory = load_inventory(&layout)?;
    let until = args.until;
    let started = Instant::now();
    let (report, target) = match &args.out {
        Some(out) => {
            refuse_live_directories(&layout, out)?;
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

/// `--out` is for a copy of the world: never the live world, nor a place
/// whose files the observer reads (events, state, logs).
fn refuse_live_directories(layout: &Layout, out: &Path) -> Result<()> {
    let real = |path: &Path| path.canonicalize().ok();
    // `out` may not exist yet: judge by its nearest existing ancestor.
    let existing = out.ancestors().find(|p| p.exists()).and_then(real);
    let Some(existing) = existing else { return Ok(()) };
    let missing_part = out.ancestors().take_while(|p| !p.exists()).count();
    for (name, dir) in
        [("world", &layout.world), ("events", &layout.events), ("state", &layout.state), ("logs", &layout.logs)]
    {
        let Some(dir) = real(dir) else { continue };
        let inside = existing.starts_with(&dir);
        let same = missing_part == 0 && existing == dir;
        if (name == "world" && same) || (name != "world" && inside) {
            bail!(
                "--out {} {} the live {name} directory; give a directory of its own, e.g. /tmp/world-past",
                out.display(),
                if same { "is" } else { "is inside" }
            );
        }
    }
    Ok(())
}
