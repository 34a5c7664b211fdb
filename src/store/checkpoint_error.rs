//! Why a checkpoint cannot be used: damage and other formats point to
//! `observer rebuild`.

use std::path::{Path, PathBuf};

use super::FORMAT;

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

pub(super) fn other_format(path: &Path, format: u32) -> CheckpointError {
    unreadable(path, format!("it has format version {format}, this observer reads versions 3 to {FORMAT}"))
}

pub(super) fn unreadable(path: &Path, reason: String) -> CheckpointError {
    CheckpointError::Unreadable { path: path.to_path_buf(), reason }
}
