//! `state/observer_checkpoint.json`: the cursors and the engine state,
//! committed atomically after the world files it describes.
//!
//! A missing checkpoint means "start from scratch" (SPEC §1). A checkpoint that
//! exists but cannot be read — empty, truncated, zeroed, or of another format
//! version — is never silently replaced: the run stops and points to
//! `observer rebuild`, which starts over deliberately.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::atomic::write_atomic;
use super::sources::{Cursor, Reject};
use crate::engine::Engine;

pub const FILE_NAME: &str = "observer_checkpoint.json";
/// Bumped whenever the layout of the checkpoint changes.
pub const FORMAT: u32 = 1;
/// Rejections kept for `validate`, `status` and `state/rejects.json`.
pub const MAX_REJECTS: usize = 1000;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Checkpoint {
    pub format: u32,
    pub cursors: BTreeMap<String, Cursor>,
    pub engine: Engine,
    /// The most recent rejections, oldest first.
    pub rejects: VecDeque<Reject>,
    /// The greatest processing-order key folded so far.
    pub last_folded: Option<FoldedKey>,
}

/// A position in the processing order of SPEC §3: `(ts, path, position)`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FoldedKey {
    pub ts: crate::time::Ts,
    pub file: String,
    pub position: u64,
}

#[derive(Debug)]
pub enum CheckpointError {
    Unreadable { path: PathBuf, reason: String },
    Io { path: PathBuf, error: std::io::Error },
}

impl std::fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckpointError::Unreadable { path, reason } => write!(
                f,
                "the checkpoint {} cannot be used ({reason}); nothing was changed. \
                 Run `observer rebuild` to rebuild the state from the events",
                path.display()
            ),
            CheckpointError::Io { path, error } => write!(f, "cannot access {}: {error}", path.display()),
        }
    }
}

impl std::error::Error for CheckpointError {}

impl Checkpoint {
    pub fn new() -> Checkpoint {
        Checkpoint { format: FORMAT, ..Checkpoint::default() }
    }

    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join(FILE_NAME)
    }

    /// `Ok(None)` when there is no checkpoint yet.
    pub fn load(state_dir: &Path) -> Result<Option<Checkpoint>, CheckpointError> {
        let path = Checkpoint::path(state_dir);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(CheckpointError::Io { path, error }),
        };
        #[derive(Deserialize)]
        struct Version {
            format: u32,
        }
        let unreadable = |reason: String| CheckpointError::Unreadable { path: path.clone(), reason };
        if bytes.iter().all(|b| b.is_ascii_whitespace() || *b == 0) {
            return Err(unreadable("it is empty".into()));
        }
        let version: Version = serde_json::from_slice(&bytes).map_err(|e| unreadable(format!("it is damaged: {e}")))?;
        if version.format != FORMAT {
            return Err(unreadable(format!(
                "it has format version {}, this observer reads version {FORMAT}",
                version.format
            )));
        }
        let checkpoint = serde_json::from_slice(&bytes).map_err(|e| unreadable(format!("it is damaged: {e}")))?;
        Ok(Some(checkpoint))
    }

    pub fn save(&self, state_dir: &Path) -> Result<(), CheckpointError> {
        let path = Checkpoint::path(state_dir);
        let bytes =
            serde_json::to_vec(self).map_err(|e| CheckpointError::Io { path: path.clone(), error: e.into() })?;
        write_atomic(&path, &bytes).map_err(|error| CheckpointError::Io { path, error })
    }

    pub fn push_rejects(&mut self, rejects: impl IntoIterator<Item = Reject>) {
        for reject in rejects {
            self.engine.note_rejected();
            self.rejects.push_back(reject);
        }
        while self.rejects.len() > MAX_REJECTS {
            self.rejects.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_is_none_and_damaged_points_to_rebuild() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Checkpoint::load(dir.path()).unwrap().is_none());
        Checkpoint::new().save(dir.path()).unwrap();
        assert!(Checkpoint::load(dir.path()).unwrap().is_some());
        for bad in [&b""[..], b"\0\0\0\0", b"{\"format\":1,\"cur", b"{\"format\":99}"] {
            std::fs::write(Checkpoint::path(dir.path()), bad).unwrap();
            let message = Checkpoint::load(dir.path()).unwrap_err().to_string();
            assert!(message.contains("observer rebuild"), "{message}");
        }
    }
}
