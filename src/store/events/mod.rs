//! Event sources under `events/` and the cursor of each file.
//!
//! A cursor ([`cursor`]) remembers how far a file was consumed, what the
//! file looked like then, and fingerprints of the consumed prefix. A pass
//! lists every file ([`listing`]), matches each to the cursor it continues,
//! across renames and rotations ([`identity`]), and plans to open only the
//! files whose size or identity changed ([`plan`]). Those are read from
//! their cursor ([`reader`]) and merged in processing order ([`merge`]),
//! in a pass on a thread beside the fold ([`prefetch`]).
//! A file that shrank, or whose consumed prefix ([`prefix`]) no longer
//! matches, stops the run (guarantee 6). Block hashes of the consumed bytes
//! ([`blocks`]) are kept in each cursor; the [`scrub`] checks a bounded part
//! of them each run, and `observer verify` all of them.

pub mod blocks;
mod cursor;
mod identity;
mod listing;
mod merge;
mod plan;
mod prefetch;
mod prefix;
pub mod progress;
mod reader;
pub mod scrub;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use cursor::{Cursor, FileMeta};
pub use merge::{Merge, ReadError};
pub use plan::{Listing, ReadPlan, plan};
pub use prefetch::Prefetch;

use crate::event::Event;
use crate::time::Ts;

/// A rejected event with where it was found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reject {
    /// Path relative to `events/`.
    pub file: String,
    pub line: u64,
    pub reason: String,
}

/// An accepted event with its place in the processing order (SPEC §3):
/// `(ts, file, byte position)`, where files are numbered in path order.
pub struct OrderedEvent {
    pub ts: Ts,
    /// The index of its file in [`ReadPlan::paths`].
    pub file: u32,
    pub position: u64,
    /// Its line number in the file (1 for a `.json` file), for the event
    /// index that `explain` reads (`store/event_index.rs`).
    pub line: u64,
    /// Held inline: its names need no allocation (`event::Name`), so an
    /// event costs the reading thread none. Batches of these go to the
    /// fold and come back to be refilled (`prefetch.rs`).
    pub event: Event,
}

impl OrderedEvent {
    pub fn key(&self) -> (Ts, u32, u64) {
        (self.ts, self.file, self.position)
    }
}

/// What reading the changed files found besides the events.
#[derive(Default)]
pub struct ReadOutcome {
    pub rejects: Vec<Reject>,
    /// Cursors for every file still present, ready to be committed.
    pub cursors: BTreeMap<String, Cursor>,
    /// Files with an incomplete tail left for a later run: relative path,
    /// line number and what is missing.
    pub waiting: Vec<Reject>,
    pub files_read: usize,
    pub bytes_read: u64,
}

/// Everything a scan found, with the events collected (for `validate` and
/// tests; a pass streams them instead, through [`Merge`]).
pub struct Scan {
    pub events: Vec<OrderedEvent>,
    pub plan: ReadPlan,
    pub outcome: ReadOutcome,
}

/// Reads what is new under `events_dir` since `previous`, collecting every
/// event (in no particular order).
pub fn scan(events_dir: &Path, previous: &BTreeMap<String, Cursor>) -> Result<Scan, SourceError> {
    let plan = plan(events_dir, previous)?;
    let mut merge = Merge::open(&plan, &HashSet::new(), false)?;
    let mut events = Vec::new();
    loop {
        match merge.next() {
            Ok(Some(event)) => events.push(event),
            Ok(None) => break,
            Err(ReadError::Source(error)) => return Err(error),
            Err(ReadError::Unsorted { .. }) => unreachable!("the order is not checked"),
        }
    }
    Ok(Scan { events, outcome: merge.finish(), plan })
}

/// How producers should rotate, said wherever an edited log stops a run.
const ROTATE: &str = "Producers should rotate by starting a new dated file (app-2026-05-12.jsonl) or by \
                      renaming the old one to another event file name, never by editing or rewriting a file.";

/// Why the event files cannot be read as they are.
#[derive(Debug)]
pub enum SourceError {
    Shrank {
        file: PathBuf,
        from: u64,
        to: u64,
    },
    Changed {
        file: PathBuf,
    },
    /// Another file, with other bytes, took the path of a consumed one and
    /// the old one is not among the event files under another name.
    Replaced {
        file: PathBuf,
        consumed: u64,
    },
    /// Consumed bytes `[from, to)` (one block) no longer hash as they did
    /// when they were folded: an in-place edit, found by the scrub or by
    /// the partial block re-read when the file grew.
    Edited {
        file: PathBuf,
        from: u64,
        to: u64,
    },
    /// A file read in chunks, closed between them (more files than the
    /// open-file limit allows), no longer under its path when opened
    /// again: removed, or renamed with another file in its place.
    Moved {
        file: PathBuf,
        /// No file at the path (otherwise another file).
        removed: bool,
    },
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
}

impl std::fmt::Display for SourceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceError::Shrank { file, from, to } => write!(
                f,
                "{} shrank from {from} to {to} bytes since the last run; event logs are append-only, \
                 so the events already folded can no longer be trusted — restore the file, or run `observer rebuild`",
                file.display()
            ),
            SourceError::Changed { file } => write!(
                f,
                "{} changed in the part already read; event logs are append-only — restore the file, \
                 or run `observer rebuild`. {ROTATE}",
                file.display()
            ),
            SourceError::Replaced { file, consumed } => write!(
                f,
                "{} was replaced by a file whose bytes differ from the {consumed} bytes already folded (an edit such \
                 as `sed -i`, or an editor's save); the events folded from the old file can no longer be \
                 trusted, and nothing was committed — restore the file, or run `observer rebuild` to fold \
                 the files as they are now. {ROTATE}",
                file.display()
            ),
            SourceError::Edited { file, from, to } => write!(
                f,
                "{} was edited in place: bytes {from}..{to} (block {} of 64 KiB) differ from what was folded; the \
                 events folded from it can no longer be trusted, and nothing was committed — restore the file, \
                 or run `observer rebuild` to fold the files as they are now (`observer verify` lists every \
                 difference). {ROTATE}",
                file.display(),
                from / blocks::BLOCK
            ),
            SourceError::Moved { file, removed } => write!(
                f,
                "{} was {} while this pass read it (with more event files than the open-file limit allows, \
                 files are closed between reads and opened again), and nothing was committed — run again \
                 (a file renamed to another event file's name is read under that name), or raise `ulimit -n`",
                file.display(),
                if *removed { "removed" } else { "replaced by another file" }
            ),
            SourceError::Io { path, error } => write!(f, "cannot read {}: {error}", path.display()),
        }
    }
}

impl std::error::Error for SourceError {}
