//! `observer rebuild`: the world from all events, from nothing.
//!
//! Without `--out` it replaces the live checkpoint and world (under the state
//! lock). With `--out DIR` (and optionally `--until TS`) it writes the world
//! as of that moment to DIR and touches nothing else.

use std::path::Path;
use std::time::Instant;

use anyhow::{Result, bail};

use super::context::Context;
use super::report::{record_run, warn_about};
use super::{count, print, shown};
use crate::cli::RebuildArgs;
use crate::dirs::Dirs;
use crate::fold_pass::{self, Mode};

pub fn execute(context: &Context, args: &RebuildArgs) -> Result<i32> {
    let config = context.config()?;
    let inventory = context.inventory()?;
    let dirs = &context.dirs;
    let until = args.until;
    let started = Instant::now();
    let (report, target) = match &args.out {
        Some(out) => {
            refuse_live_directories(dirs, out)?;
            context.require_events()?;
            let mode = Mode::Replay { until, out: out.clone() };
            (fold_pass::run(dirs, &config, &inventory, &mode)?, out.clone())
        }
        None => {
            let _lock = context.lock("rebuild", args.wait)?;
            context.require_events()?;
            let report = fold_pass::run(dirs, &config, &inventory, &Mode::Rebuild)?;
            record_run(dirs, "rebuild", context.now()?, started, &report)?;
            (report, dirs.world.clone())
        }
    };
    warn_about(dirs, &report);
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
fn refuse_live_directories(dirs: &Dirs, out: &Path) -> Result<()> {
    let real = |path: &Path| path.canonicalize().ok();
    // `out` may not exist yet: judge by its nearest existing ancestor.
    let existing = out.ancestors().find(|p| p.exists()).and_then(real);
    let Some(existing) = existing else { return Ok(()) };
    let missing_part = out.ancestors().take_while(|p| !p.exists()).count();
    for (name, dir) in [("world", &dirs.world), ("events", &dirs.events), ("state", &dirs.state), ("logs", &dirs.logs)]
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
