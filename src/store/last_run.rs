//! `state/last-run.json`: facts about the last run itself — when it started,
//! how long it took, which version made it, what it read and wrote. They are
//! kept out of the world (SPEC §3.8), which must be a pure function of the
//! events, and are replaced whole by every run that holds the lock.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::store::atomic::write_atomic;
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
