//! `state/last-run.json`: facts about the last run itself — when it started,
//! how long it took, which version made it, what it read and wrote. They are
//! kept out of the world (SPEC §3.8), which must be a pure function of the
//! events, and are replaced whole by every run that holds the lock.
//!
//! Besides the last run, the file keeps the recent runs that rejected
//! events or folded late ones ([`LastRun::recent`]), so that `observer
//! check`, which never writes, can count them over its own window. A run
//! that fails leaves `state/last-failure.json` ([`LastFailure`]) instead,
//! which the next successful run removes.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::store::atomic::write_atomic;
use crate::store::events::scrub::ScrubFacts;
use crate::time::Ts;

/// The file's content; the field order is the file's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LastRun {
    /// The subcommand: `run`, `probe` or `rebuild`.
    pub command: String,
    pub version: String,
    pub started_at: Ts,
    pub duration_ms: u128,
    pub events_folded: u64,
    pub rejected: usize,
    pub duplicates: u64,
    pub late: u64,
    pub files_seen: usize,
    pub files_read: usize,
    pub bytes_read: u64,
    pub world_files_written: Vec<String>,
    pub as_of: Option<Ts>,
    /// The runs of the last [`RECENT_HOURS`] hours (by their start) that
    /// rejected events or folded late ones, oldest first, this one
    /// included. A rebuild re-reads the whole history, so its counts are
    /// not news and it adds no entry. Absent from files written before it
    /// existed.
    #[serde(default)]
    pub recent: Vec<RecentRun>,
    /// What the scrub checked and where the next run goes on
    /// (`store/events/scrub.rs`); absent when the run did not scrub. Losing
    /// it (a rebuild, a deleted file) only starts the round again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrub: Option<ScrubFacts>,
}

/// How long [`LastRun::recent`] remembers a run: the longest window
/// `observer check --window` accepts.
pub const RECENT_HOURS: u64 = 24;
/// At most this many entries (one a minute for a day), however often runs
/// go wrong.
const RECENT_MAX: usize = 1440;

/// A run that rejected events or folded late ones.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentRun {
    pub started_at: Ts,
    pub rejected: u64,
    pub late: u64,
}

/// The file could not be replaced.
#[derive(Debug)]
pub struct LastRunError {
    pub path: PathBuf,
    pub error: std::io::Error,
}

impl fmt::Display for LastRunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot write {}", self.path.display())
    }
}

impl std::error::Error for LastRunError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl LastRun {
    /// Reads the file; `None` when it is missing or not what this version
    /// writes.
    pub fn read(path: &Path) -> Option<LastRun> {
        serde_json::from_slice(&std::fs::read(path).ok()?).ok()
    }

    /// Carries the recent runs of `previous` over, minus those older than
    /// [`RECENT_HOURS`] before this run, and adds this run when it rejected
    /// events or folded late ones (a rebuild never does, see `recent`).
    pub fn with_recent_from(mut self, previous: Option<LastRun>) -> LastRun {
        let horizon = self.started_at.minus_seconds(RECENT_HOURS * 3600);
        let mut recent: Vec<RecentRun> =
            previous.map(|p| p.recent).unwrap_or_default().into_iter().filter(|r| r.started_at > horizon).collect();
        if self.command != "rebuild" && (self.rejected > 0 || self.late > 0) {
            recent.push(RecentRun { started_at: self.started_at, rejected: self.rejected as u64, late: self.late });
        }
        let extra = recent.len().saturating_sub(RECENT_MAX);
        recent.drain(..extra);
        self.recent = recent;
        self
    }

    /// Replaces the file at `path` (`Dirs::last_run`) atomically, as
    /// pretty JSON with a final newline, like the world files.
    pub fn write(&self, path: &Path) -> Result<(), LastRunError> {
        let write = || -> std::io::Result<()> {
            let mut bytes = serde_json::to_vec_pretty(self)?;
            bytes.push(b'\n');
            write_atomic(path, &bytes)
        };
        write().map_err(|error| LastRunError { path: path.to_path_buf(), error })
    }
}

/// `state/last-failure.json`: the last run that failed, for `observer
/// check`. Written (best effort: a full disk may refuse it too) when a run,
/// probe or rebuild fails for any reason but another run holding the lock,
/// and removed by the next run that succeeds, so its presence means "the
/// last run failed".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastFailure {
    pub command: String,
    pub version: String,
    pub started_at: Ts,
    /// The message the command printed, causes included.
    pub error: String,
}

impl LastFailure {
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join("last-failure.json")
    }

    pub fn read(state_dir: &Path) -> Option<LastFailure> {
        serde_json::from_slice(&std::fs::read(LastFailure::path(state_dir)).ok()?).ok()
    }

    /// Writes the file into `state_dir`, which must exist: a run that
    /// failed on a mistyped `--root` creates nothing there.
    pub fn write(&self, state_dir: &Path) -> std::io::Result<()> {
        let mut bytes = serde_json::to_vec_pretty(self)?;
        bytes.push(b'\n');
        write_atomic(&LastFailure::path(state_dir), &bytes)
    }

    /// Forgets the failure once a run succeeded; none is fine.
    pub fn clear(state_dir: &Path) -> std::io::Result<()> {
        match std::fs::remove_file(LastFailure::path(state_dir)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(command: &str, at: &str, rejected: usize, late: u64) -> LastRun {
        LastRun {
            command: command.into(),
            version: "0".into(),
            started_at: Ts::parse(at).unwrap(),
            duration_ms: 1,
            events_folded: 0,
            rejected,
            duplicates: 0,
            late,
            files_seen: 0,
            files_read: 0,
            bytes_read: 0,
            world_files_written: Vec::new(),
            as_of: None,
            recent: Vec::new(),
            scrub: None,
        }
    }

    #[test]
    fn recent_keeps_a_day_of_runs_that_rejected_or_were_late() {
        let first = run("run", "2026-05-12T12:00:00Z", 2, 0).with_recent_from(None);
        let quiet = run("run", "2026-05-12T12:01:00Z", 0, 0).with_recent_from(Some(first));
        assert_eq!(quiet.recent.len(), 1, "a quiet run adds nothing and keeps the earlier one");
        let late = run("probe", "2026-05-13T11:00:00Z", 0, 1).with_recent_from(Some(quiet));
        assert_eq!(late.recent.iter().map(|r| (r.rejected, r.late)).collect::<Vec<_>>(), [(2, 0), (0, 1)]);
        let rebuild = run("rebuild", "2026-05-13T12:30:00Z", 5, 0).with_recent_from(Some(late));
        assert_eq!(rebuild.recent.len(), 1, "past 24 hours the first one goes; a rebuild adds none");
        assert_eq!(rebuild.recent[0].late, 1);
    }

    #[test]
    fn recent_is_bounded() {
        let mut last = None;
        for minute in 0..(RECENT_MAX + 10) {
            let at = Ts::parse("2026-05-12T00:00:00Z").unwrap().plus_seconds(minute as u64 * 30);
            let mut this = run("run", "2026-05-12T00:00:00Z", 1, 0);
            this.started_at = at;
            last = Some(this.with_recent_from(last));
        }
        assert_eq!(last.unwrap().recent.len(), RECENT_MAX);
    }

    #[test]
    fn a_failure_is_written_read_and_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        LastFailure::clear(&state).unwrap();
        let failure = LastFailure {
            command: "run".into(),
            version: "0".into(),
            started_at: Ts::parse("2026-05-12T12:00:00Z").unwrap(),
            error: "events/a.jsonl shrank".into(),
        };
        assert!(failure.write(&state).is_err(), "no state directory is created");
        std::fs::create_dir(&state).unwrap();
        failure.write(&state).unwrap();
        assert_eq!(LastFailure::read(&state), Some(failure));
        LastFailure::clear(&state).unwrap();
        assert_eq!(LastFailure::read(&state), None);
    }
}
