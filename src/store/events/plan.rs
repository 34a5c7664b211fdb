//! The read plan of a pass, decided before anything is read: the listing,
//! which cursor each file continues, and which files changed since their
//! cursor and must be opened. A file whose [`FileMeta`] equals its
//! cursor's is carried over without being opened.
//!
//! [`FileMeta`]: super::FileMeta

use std::collections::BTreeMap;
use std::path::Path;

use super::SourceError;
use super::cursor::Cursor;
use super::identity::match_cursors;
use super::listing::{EventFile, list};

/// What a pass has to read.
pub struct ReadPlan {
    /// Relative paths of the listed files, in path order;
    /// [`OrderedEvent::file`](super::OrderedEvent::file) indexes this.
    pub paths: Vec<String>,
    /// Cursors of the files that need no reading, carried over as they
    /// are, in path order: the index of the path, and the cursor.
    pub(super) carried: Vec<(u32, Cursor)>,
    pub(super) changed: Vec<ChangedFile>,
}

/// A file that changed since its cursor (or has none): it is read.
pub(super) struct ChangedFile {
    /// Its index in [`ReadPlan::paths`].
    pub index: u32,
    pub file: EventFile,
    pub cursor: Option<Cursor>,
}

impl ReadPlan {
    /// The bytes this plan reads at most: each changed file from its
    /// cursor to its size when listed.
    pub fn bytes_to_read(&self) -> u64 {
        self.changed.iter().map(|c| c.file.meta.size.saturating_sub(c.cursor.as_ref().map_or(0, |c| c.offset))).sum()
    }

    /// How many event files the listing found.
    pub fn files_seen(&self) -> usize {
        self.paths.len()
    }

    /// True when no file needs reading and every cursor is the one
    /// `previous` holds: nothing under `events/` changed.
    pub fn is_unchanged_from(&self, previous: &BTreeMap<String, Cursor>) -> bool {
        self.changed.is_empty()
            && self.carried.len() == previous.len()
            && self
                .carried
                .iter()
                .zip(previous)
                .all(|((index, cursor), (path, old))| self.paths[*index as usize] == *path && cursor == old)
    }
}

/// The event files under `events/`, in path order, each with what it
/// looked like when listed: the first half of a [`plan`], which needs no
/// cursor, so a pass can list while it reads the checkpoint
/// ([`Listing::plan`]).
pub struct Listing(Vec<EventFile>);

impl Listing {
    /// Lists `events_dir` (see [`list`] for what is skipped).
    pub fn of(events_dir: &Path) -> Result<Listing, SourceError> {
        list(events_dir).map(Listing)
    }

    /// Matches each listed file to the cursor it continues and decides
    /// which files need reading. Files whose size, identity and times are
    /// those of their cursor are not opened.
    pub fn plan(self, previous: &BTreeMap<String, Cursor>) -> Result<ReadPlan, SourceError> {
        let listed = self.0;
        let cursors = match_cursors(&listed, previous)?;
        let mut plan = ReadPlan {
            paths: Vec::with_capacity(listed.len()),
            carried: Vec::with_capacity(listed.len()),
            changed: Vec::new(),
        };
        for (index, (file, cursor)) in listed.into_iter().zip(cursors).enumerate() {
            let index = u32::try_from(index).unwrap_or(u32::MAX);
            match cursor {
                // A carried file's relative path moves into `paths`: nothing
                // else of it is kept, and a copy would be one more allocation
                // per file (50,000 in a no-op run over single-event files).
                Some(c) if c.meta == file.meta => {
                    plan.paths.push(file.rel);
                    plan.carried.push((index, c));
                }
                cursor => {
                    plan.paths.push(file.rel.clone());
                    plan.changed.push(ChangedFile { index, file, cursor });
                }
            }
        }
        Ok(plan)
    }
}

/// Lists `events_dir`, matches each file to the cursor it continues and
/// decides which files need reading ([`Listing::plan`]).
pub fn plan(events_dir: &Path, previous: &BTreeMap<String, Cursor>) -> Result<ReadPlan, SourceError> {
    Listing::of(events_dir)?.plan(previous)
}
