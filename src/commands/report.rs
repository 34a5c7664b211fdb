//! What a pass tells the people around it, shared by the commands that fold
//! (`run`, `probe`, `rebuild`): its warnings on stderr, the facts about the
//! run in `state/last-run.json` (or, when it failed, in
//! `state/last-failure.json`), and `world/metrics.prom`. Kept apart so that
//! no command has to borrow them from another.

use std::time::Instant;

use anyhow::Result;

use super::context::Context;
use super::{shown, warn, warn_with};
use crate::dirs::Dirs;
use crate::fold_pass::Report;
use crate::metrics::{self, RunFacts};
use crate::store::last_run::{LastFailure, LastRun};
use crate::store::lock::LockError;
use crate::time::Ts;

/// Rejections and refused diagnostics of this pass, on stderr.
pub fn warn_about(dirs: &Dirs, report: &Report) {
    for reject in &report.rejects {
        let file = shown(&dirs.events.join(&reject.file));
        warn_with(
            &format!("warning: rejected event at {file}:{}: {}", reject.line, reject.reason),
            &[("file", file.as_str().into()), ("line", reject.line.into()), ("reason", reject.reason.as_str().into())],
        );
    }
    if let Some(problem) = &report.index_problem {
        warn(&format!("warning: {problem}"));
    }
    for refused in &report.refused_diagnostics {
        warn(&format!(
            "warning: diagnostics path `{}` refused: {}",
            refused.path,
            refused.refused.as_deref().unwrap_or("refused")
        ));
    }
}

/// Counts the pass before the probes (of `run --probe` and `probe`) into
/// the last one, so that the run records all it folded, rejected and found
/// late: `check` reads those counts. Its warnings were printed already.
pub fn add_earlier_pass(report: &mut Report, earlier: Report) {
    report.folded += earlier.folded;
    report.duplicates += earlier.duplicates;
    report.late += earlier.late;
    let later = std::mem::replace(&mut report.rejects, earlier.rejects);
    report.rejects.extend(later);
}

/// Records the run of `command`, started at `at` (by its clock) and at
/// `started` (by the monotonic one, for the duration), that ended with the
/// pass `report`; a failure an earlier run recorded is then forgotten.
pub fn record_run(dirs: &Dirs, command: &str, at: Ts, started: Instant, report: &Report) -> Result<()> {
    let facts = LastRun {
        command: command.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        started_at: at,
        duration_ms: started.elapsed().as_millis(),
        events_folded: report.folded,
        rejected: report.rejects.len(),
        duplicates: report.duplicates,
        late: report.late,
        files_seen: report.files_seen,
        files_read: report.files_read,
        bytes_read: report.bytes_read,
        world_files_written: report.written.iter().map(|name| name.to_string()).collect(),
        as_of: report.as_of,
        recent: Vec::new(),
        scrub: report.scrub.clone(),
    };
    let path = dirs.last_run();
    facts.with_recent_from(LastRun::read(&path)).write(&path)?;
    LastFailure::clear(&dirs.state).map_err(|e| {
        anyhow::Error::new(e).context(format!("cannot remove {}", shown(&LastFailure::path(&dirs.state))))
    })?;
    Ok(())
}

/// Writes `world/metrics.prom` for the run that started at `at` (its
/// clock) and `started` (the monotonic one): the last thing a run does,
/// so that its duration covers delivery too.
pub fn record_metrics(dirs: &Dirs, at: Ts, started: Instant, report: &Report) -> Result<()> {
    let run = RunFacts { started_at: at, duration_s: started.elapsed().as_secs_f64() };
    for problem in metrics::write(dirs, run, report.notified.as_ref())? {
        warn(&format!("observer: warning: {}: {problem}", shown(&dirs.world.join(metrics::FILE_NAME))));
    }
    Ok(())
}

/// Passes `outcome` on, after recording a failure in
/// `state/last-failure.json` for `observer check`. Another run holding the
/// lock is no failure of this one, and is not recorded. Recording is best
/// effort: what failed the run (a full disk, say) may refuse it too, and
/// the run's own error is the one to report.
pub fn recording_failure(context: &Context, command: &str, outcome: Result<i32>) -> Result<i32> {
    let Err(error) = &outcome else { return outcome };
    if error.downcast_ref::<LockError>().is_some_and(|e| matches!(e, LockError::Held { .. })) {
        return outcome;
    }
    if let Ok(at) = context.now()
        && context.dirs.state.is_dir()
    {
        let failure = LastFailure {
            command: command.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            started_at: at,
            error: format!("{error:#}"),
        };
        let _ = failure.write(&context.dirs.state);
    }
    outcome
}
