//! What a pass tells the people around it, shared by the commands that fold
//! (`run`, `probe`, `rebuild`): its warnings on stderr, and the facts about
//! the run in `state/last-run.json`. Kept apart so that no command has to
//! borrow them from another.

use std::time::Instant;

use anyhow::Result;

use super::{shown, warn};
use crate::dirs::Dirs;
use crate::fold_pass::Report;
use crate::store::last_run::LastRun;
use crate::time::Ts;

/// Rejections, replaced files and refused diagnostics of this pass, on stderr.
pub fn warn_about(dirs: &Dirs, report: &Report) {
    for reject in &report.rejects {
        let file = shown(&dirs.events.join(&reject.file));
        warn(&format!("warning: rejected event at {file}:{}: {}", reject.line, reject.reason));
    }
    for (file, message) in &report.notices {
        warn(&format!("warning: {} {message}", shown(&dirs.events.join(file))));
    }
    for refused in &report.refused_diagnostics {
        warn(&format!(
            "warning: diagnostics path `{}` refused: {}",
            refused.path,
            refused.refused.as_deref().unwrap_or("refused")
        ));
    }
}

/// Records the run of `command`, started at `at` (by its clock) and at
/// `started` (by the monotonic one, for the duration), that ended with the
/// pass `report`.
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
    };
    Ok(facts.write(&dirs.last_run())?)
}
