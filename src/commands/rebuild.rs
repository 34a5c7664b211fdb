//! `observer rebuild`: the world from all events, from nothing.
//!
//! Without `--out` it replaces the live checkpoint and world (under the state
//! lock). With `--out DIR` (and optionally `--until TS`) it writes the world,
//! its `history/` and `outbox.jsonl` as of that moment to DIR, touches nothing else and
//! sends nothing. With a config named on the command line too, that is a
//! what-if: it also prints how many notifications, by kind, the candidate
//! config would have sent, against the live outbox over the same span of
//! engine time.

use std::path::Path;
use std::time::Instant;

use anyhow::{Result, bail};

use super::context::Context;
use super::report::{record_metrics, record_run, recording_failure, warn_about};
use super::{count, print, shown};
use crate::cli::RebuildArgs;
use crate::dirs::Dirs;
use crate::engine::alerts::NotificationKind;
use crate::fold_pass::{self, Afterwards, Mode, Report};
use crate::store::checkpoint::Checkpoint;
use crate::store::outbox;
use crate::time::Ts;

pub fn execute(context: &Context, args: &RebuildArgs) -> Result<i32> {
    let outcome = rebuild(context, args);
    // A rebuild to --out leaves the live state alone, failed or not.
    if args.out.is_some() { outcome } else { recording_failure(context, "rebuild", outcome) }
}

fn rebuild(context: &Context, args: &RebuildArgs) -> Result<i32> {
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
            (fold_pass::run(dirs, &config, &inventory, &mode, Afterwards::Leave)?, out.clone())
        }
        None => {
            let _lock = context.lock("rebuild", args.wait)?;
            context.require_events()?;
            let report = fold_pass::run(dirs, &config, &inventory, &Mode::Rebuild, Afterwards::Leave)?;
            let at = context.now()?;
            record_run(dirs, "rebuild", at, started, &report)?;
            record_metrics(dirs, at, started, &report)?;
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
    if args.out.is_some() && context.config_named {
        print(&what_if(dirs, &report, until)?)?;
    }
    // Left to the end of the process, which ends now (the notifications
    // it held, ~15 ms to free on a busy history, are freed as they are
    // written since issue 11's thirty-fifth pass).
    crate::threads::leave(report);
    Ok(crate::exit::SUCCESS)
}

/// The candidate's notifications against the live outbox's, by kind, up
/// to the end of the shorter span: the live checkpoint's clock, or the
/// candidate's (`--until`, else its last event).
fn what_if(dirs: &Dirs, report: &Report, until: Option<Ts>) -> Result<String> {
    let live_clock = Checkpoint::read(&dirs.state)?.and_then(|stored| stored.header.clock);
    let live = outbox::read_committed(&dirs.state)
        .map_err(|error| anyhow::Error::new(error).context("cannot compare with the live outbox"))?;
    let candidate_end = until.or(report.as_of);
    let end = match (live_clock, candidate_end) {
        (Some(live), Some(candidate)) => Some(live.min(candidate)),
        (live, candidate) => live.or(candidate),
    };
    let live: Vec<(NotificationKind, Ts)> = live.iter().map(|n| (n.kind, n.ts)).collect();
    let within = |all: &[(NotificationKind, Ts)]| -> Vec<NotificationKind> {
        all.iter().filter(|(_, ts)| end.is_some_and(|end| *ts <= end)).map(|(kind, _)| *kind).collect()
    };
    Ok(format!(
        "what-if up to {}: this config would have sent {}; the live outbox holds {}; nothing was sent\n",
        end.map_or_else(|| "(no events)".into(), |t| t.to_string()),
        by_kind(&within(&report.notifications)),
        by_kind(&within(&live)),
    ))
}

/// "3 notifications (2 firing, 0 reminder, 1 resolved, 0 budget_exhausted, 0 escalation)".
fn by_kind(kinds: &[NotificationKind]) -> String {
    let all = [
        NotificationKind::Firing,
        NotificationKind::Reminder,
        NotificationKind::Resolved,
        NotificationKind::BudgetExhausted,
        NotificationKind::Escalation,
    ];
    let parts: Vec<String> =
        all.iter().map(|kind| format!("{} {}", kinds.iter().filter(|k| *k == kind).count(), kind.name())).collect();
    format!("{} ({})", count(kinds.len() as u64, "notification"), parts.join(", "))
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
