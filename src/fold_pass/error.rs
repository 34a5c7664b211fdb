//! [`PassError`]: why a pass stopped, and what it left behind.

use std::fmt;
use std::path::PathBuf;

use crate::store::atomic::CreateDirError;
use crate::store::checkpoint::CheckpointError;
use crate::store::events::SourceError;
use crate::store::history::HistoryError;
use crate::store::outbox::OutboxError;
use crate::world;

/// Why a pass stopped. Each message says what state was left behind.
#[derive(Debug)]
pub enum PassError {
    Checkpoint(CheckpointError),
    Source(SourceError),
    /// The world or state directory cannot be created.
    Directory(CreateDirError),
    WorldFile {
        path: PathBuf,
        error: std::io::Error,
    },
    Rejects {
        path: PathBuf,
        error: std::io::Error,
    },
    /// A world file cannot be rendered; the world's files are as they were
    /// (the files of the new generation written before it are removed).
    Render(world::RenderError),
    /// The rejections cannot be rendered; the world is written, the
    /// checkpoint is not.
    Serialise {
        path: PathBuf,
        error: serde_json::Error,
    },
    /// The history cannot be checked; nothing was written.
    History(HistoryError),
    /// The history cannot be written; the world and the checkpoint are not.
    HistoryWrite(HistoryError),
    /// The world is written, the history not settled, the checkpoint not
    /// committed.
    HistorySettle(HistoryError),
    /// The outbox cannot be checked or repaired; nothing was written.
    Outbox(OutboxError),
    /// The outbox cannot be written; the world is, the checkpoint is not.
    OutboxWrite(OutboxError),
    /// The world is written, the checkpoint is not.
    Commit(CheckpointError),
}

impl fmt::Display for PassError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PassError::Checkpoint(error) => error.fmt(f),
            PassError::Source(error) => error.fmt(f),
            PassError::Directory(error) => error.fmt(f),
            PassError::WorldFile { path, .. } => {
                write!(f, "cannot write {}; the checkpoint was not committed, so the next run retries", path.display())
            }
            PassError::Rejects { path, .. } => {
                write!(f, "cannot write {}; the previous state is intact", path.display())
            }
            PassError::Render(error) => error.fmt(f),
            PassError::Serialise { path, .. } => write!(f, "cannot serialise {}", path.display()),
            PassError::History(error) => error.fmt(f),
            PassError::HistoryWrite(_) => write!(
                f,
                "cannot append to the history; neither the world nor the checkpoint was written, so the next run \
                 folds the same events again"
            ),
            PassError::HistorySettle(_) => write!(
                f,
                "the world was written but the history could not be set right, nor the checkpoint committed; the \
                 next run folds the same events again"
            ),
            PassError::Outbox(error) => error.fmt(f),
            PassError::OutboxWrite(_) => write!(
                f,
                "the world was written but the outbox was not, nor the checkpoint; the next run decides the \
                 same notifications again"
            ),
            PassError::Commit(_) => {
                write!(f, "the world was written but the checkpoint was not; the next run folds the same events again")
            }
        }
    }
}

/// The first three variants stand for the error they hold (its message and
/// causes are theirs); the others add what was left behind to their cause.
impl std::error::Error for PassError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PassError::Checkpoint(error) => error.source(),
            PassError::Source(error) => error.source(),
            PassError::Directory(error) => error.source(),
            PassError::WorldFile { error, .. } | PassError::Rejects { error, .. } => Some(error),
            PassError::Render(error) => error.source(),
            PassError::Serialise { error, .. } => Some(error),
            PassError::History(error) => error.source(),
            PassError::HistoryWrite(error) | PassError::HistorySettle(error) => Some(error),
            PassError::Outbox(error) => error.source(),
            PassError::OutboxWrite(error) => Some(error),
            PassError::Commit(error) => Some(error),
        }
    }
}
