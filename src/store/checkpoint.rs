//! `state/observer_checkpoint.json`: the cursors, and what commits the
//! engine state, written atomically after the world files it describes.
//!
//! The file holds two JSON documents, one per line: a small header (format,
//! cursors, the engine clock, and a digest of what the world was projected
//! from besides the engine) and the body. Since format 4 the body is a few
//! bytes that name the engine state's files under `state/engine/` and how
//! much of them is committed (`store::journal`: a snapshot and an
//! append-only journal of changed entities, so that a pass that folds a few
//! events does not rewrite the whole state); the state document there, the
//! engine state and the recent rejections, is what format 3 kept in the
//! body itself. A checkpoint of format 3 is still read, and the next pass
//! that folds writes the current format (a first snapshot). Format 5 is
//! format 4 with the engine state's instants written as integers
//! (`time::in_state_form`); a checkpoint of format 4 is still read, its
//! state files as they are, and the next pass that folds writes the
//! current format. Format 6 is format 5 with each minute of ids that left
//! the hot view, and of the duplicate window, packed into one string
//! (`engine::finished::gone`); a checkpoint of format 5 is read the same
//! way.
//! A run reads the header line alone (and the file's last two bytes, to
//! notice a cut or padded file); when no file changed and the digest still
//! matches, the world is already current and the body is never read, so a
//! no-op run costs about the same on a long history as on a short one. To
//! keep the header small on a busy history, it lists only the deployments
//! whose disk facts a no-op must look at (`WorldInputs::marker_dirs`), and
//! it counts the committed notifications by kind (`notified`), so that
//! `metrics.prom` does not read the outbox either. Both are optional: a
//! header without them is still read, and the next pass that folds writes
//! them.
//!
//! The newest place in the processing order folded so far (the late rule's
//! key) sits inside the engine state; checkpoints of observer 0.1.0 kept it
//! beside the engine, as `last_folded` in the body, and are still read: the
//! key is moved into the engine as the body is parsed. Both layouts are
//! format 3, since an older observer reading the newer layout just misses
//! the key (and counts fewer events late), as it would after a rebuild. Both
//! are read by this observer.
//!
//! The header also records how much of `state/outbox.jsonl` the checkpoint
//! commits (`outbox`, see `store/outbox.rs`) and of each history file
//! (`history`, see `store/history.rs`); a checkpoint written before there
//! was an outbox or a history lacks them and commits empty ones.
//!
//! A missing checkpoint means "start from scratch" (SPEC §1). A checkpoint that
//! exists but cannot be read — empty, truncated, zeroed, or of another format
//! version — is never silently replaced: the run stops and points to
//! `observer rebuild`, which starts over deliberately.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::atomic::write_atomic;
use super::events::{Cursor, Reject};
use super::fault_injection;
pub use super::history::HistoryMarks;
use super::journal::{self, JournalError, StateRef, Stored};
use super::journal_cut;
/// How much of `state/outbox.jsonl` a checkpoint commits: kept in the
/// checkpoint's header, checked and extended by `store::outbox`.
pub use super::mark::FileMark as OutboxMark;
use crate::engine::alerts::NotificationKind;
use crate::engine::{Engine, SavedPart};
use crate::time::Ts;

pub const FILE_NAME: &str = "observer_checkpoint.json";
/// Bumped whenever the layout of the checkpoint changes.
pub const FORMAT: u32 = 7;
/// The format before the engine state's journal placed its records in the
/// snapshot (`"at"`, `store::journal_spans`, issue 11, thirty-first pass):
/// the same files, records without places, which a load finds by a scan
/// of the snapshot, as before. Still read; the next pass that folds writes
/// format 7 and places the records it appends. Bumped so that an observer
/// before it refuses the state by its format, not as damage (it reads no
/// `"at"`).
pub const FORMAT_WITHOUT_PLACES: u32 = 6;
/// The format before the engine state packed each minute of ids into one
/// string (`engine::finished::gone`, issue 11, twenty-seventh pass): the
/// same files, every minute as `[id, end]` pairs. Still read; the next
/// pass that folds writes the current format, and a minute it changes is
/// packed.
/// Bumped so that an observer before it refuses the state by its format,
/// not as damage.
pub const FORMAT_WITH_PAIRED_MINUTES: u32 = 5;
/// The format before the engine state wrote its instants as integers
/// (`time::in_state_form`): the same files, with instants in RFC 3339.
/// Still read; the next pass that folds writes the current format, and the
/// entities it writes hold integers. Bumped so that an observer before it
/// refuses the state by its format, not as damage.
pub const FORMAT_WITH_RFC3339_STATE: u32 = 4;
/// The format before the engine state moved to `state/engine/`: still read.
pub const FORMAT_WITH_STATE_INSIDE: u32 = 3;

/// Whether this observer reads a checkpoint of `format`.
fn readable(format: u32) -> bool {
    matches!(
        format,
        FORMAT
            | FORMAT_WITHOUT_PLACES
            | FORMAT_WITH_PAIRED_MINUTES
            | FORMAT_WITH_RFC3339_STATE
            | FORMAT_WITH_STATE_INSIDE
    )
}

/// Rejections kept for `validate`, `status` and `state/rejects.json`.
pub const MAX_REJECTS: usize = 1000;

#[derive(Clone, Debug, Default)]
pub struct Checkpoint {
    pub cursors: BTreeMap<String, Cursor>,
    /// What the world was last projected from, besides the engine.
    pub inputs: Option<WorldInputs>,
    /// How much of the outbox this checkpoint commits.
    pub outbox: OutboxMark,
    /// How much of each history file this checkpoint commits; `None` in a
    /// checkpoint written before the history (`store::history::Basis::Adopt`).
    pub history: Option<HistoryMarks>,
    /// The committed outbox's notifications, counted by kind as they are
    /// committed (for `metrics.prom`, which then never reads the outbox);
    /// `None` in a checkpoint written before the count was kept.
    pub notified: Option<BTreeMap<NotificationKind, u64>>,
    pub engine: Engine,
    /// The most recent rejections, oldest first.
    pub rejects: VecDeque<Reject>,
    /// The engine state's files this checkpoint was read from (`None` for
    /// a new one, a rebuild's, or one of format 3): the next save appends
    /// what changed since to their journal, or writes a new snapshot.
    pub stored: Option<Stored>,
}

/// The world is a function of the engine state and of these inputs: the
/// config, the inventory and the deployment files on disk. `deployments`
/// lists what to look at on disk (ids with their diagnostics paths), so that
/// a run can recompute the digest without the engine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorldInputs {
    pub digest: u64,
    pub deployments: Vec<(String, Vec<String>)>,
    /// Path, size, inode and times of the world files and `rejects.json` as
    /// this run left them: a file rewritten, removed or replaced by anyone
    /// else (or `--world` pointing elsewhere) makes the next run write again.
    pub written: u64,
    /// A hash of the names under `state/deployments/`
    /// (`deployment_files::marker_dirs_stamp`); when present, `deployments`
    /// lists only the deployments with a marker directory or diagnostics
    /// (`deployment_files::worth_watching`), and a changed stamp makes the
    /// next run project again. Checkpoints written before it list every
    /// deployment and have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker_dirs: Option<u64>,
}

/// The first document of the file.
#[derive(Debug, Deserialize)]
pub struct Header {
    pub format: u32,
    #[serde(deserialize_with = "map_in_bulk")]
    pub cursors: BTreeMap<String, Cursor>,
    pub clock: Option<Ts>,
    pub inputs: Option<WorldInputs>,
    #[serde(default)]
    pub outbox: OutboxMark,
    #[serde(default)]
    pub history: Option<HistoryMarks>,
    #[serde(default)]
    pub notified: Option<BTreeMap<NotificationKind, u64>>,
}

#[derive(Serialize)]
struct HeaderRef<'a> {
    format: u32,
    cursors: &'a BTreeMap<String, Cursor>,
    clock: Option<Ts>,
    inputs: &'a Option<WorldInputs>,
    outbox: &'a OutboxMark,
    #[serde(skip_serializing_if = "Option::is_none")]
    history: &'a Option<HistoryMarks>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notified: &'a Option<BTreeMap<NotificationKind, u64>>,
}

/// The body of format 4.
#[derive(Serialize, Deserialize)]
struct StateBody {
    state: StateRef,
}

/// The engine state of a checkpoint, serialised, and what of it is to be
/// written after the state that was read ([`Checkpoint::render_state`]);
/// or already written ([`RenderedState::write`]).
pub struct RenderedState(Made);

enum Made {
    Rendered { doc: String, found: journal::Diff },
    Written(Stored),
}

impl RenderedState {
    /// Writes the engine state's files: the records appended to the
    /// journal, or a new snapshot. No checkpoint names them until
    /// [`Checkpoint::save_rendered`] commits them, so they may be written
    /// while the pass writes the world (on a busy rebuild the snapshot,
    /// ~12 MB, was 30 ms of the pass's thread after the world; perf, issue
    /// 11): after a crash, an appended tail past the committed mark is
    /// never read and is cut by the next pass, and a snapshot of a
    /// generation no checkpoint names is removed by the next commit.
    ///
    /// `engine`: the engine it was rendered from, whose index of the ids
    /// that left a new snapshot keeps beside it, for its loads to read
    /// (`Engine::saved_index`), made while the snapshot is written.
    pub fn write(self, state_dir: &Path, engine: &Engine) -> Result<RenderedState, CheckpointError> {
        self.written(state_dir, engine).map(|stored| RenderedState(Made::Written(stored)))
    }

    /// What a commit names: the files [`RenderedState::write`] wrote, or
    /// written now.
    fn written(self, state_dir: &Path, engine: &Engine) -> Result<Stored, CheckpointError> {
        match self.0 {
            Made::Rendered { doc, found } => journal::write(state_dir, &doc, found, || saved_index(engine))
                .map_err(|error| state_error(&Checkpoint::path(state_dir), error)),
            Made::Written(stored) => Ok(stored),
        }
    }
}

/// The engine's index of the ids that left the hot view, its two parts
/// made on two threads (`Engine::saved_index`).
fn saved_index(engine: &Engine) -> Vec<u8> {
    let (mut first, rest) =
        crate::threads::both(|| engine.saved_index(SavedPart::First), || engine.saved_index(SavedPart::Rest));
    first.extend_from_slice(&rest);
    first
}

/// Reads a map written in key order into a list and builds the tree from it
/// in bulk: with tens of thousands of cursors, inserting them one by one
/// was a tenth of a no-op run.
fn map_in_bulk<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<BTreeMap<String, Cursor>, D::Error> {
    struct Entries;
    impl<'de> serde::de::Visitor<'de> for Entries {
        type Value = BTreeMap<String, Cursor>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a map of cursors")
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
            while let Some(entry) = map.next_entry::<String, Cursor>()? {
                entries.push(entry);
            }
            Ok(BTreeMap::from_iter(entries))
        }
    }
    deserializer.deserialize_map(Entries)
}

/// A checkpoint whose header is read and parsed and whose body is not yet
/// read at all: the file stays open, and the body is read from it (the same
/// file, even if a rebuild renamed another over the path meanwhile) only
/// when the engine state is needed.
pub struct CheckpointFile {
    pub header: Header,
    file: std::fs::File,
    body_at: u64,
    len: u64,
    path: PathBuf,
}

impl CheckpointFile {
    /// Reads and parses the body and the engine state it commits: the
    /// whole checkpoint.
    pub fn to_checkpoint(&self) -> Result<Checkpoint, CheckpointError> {
        self.to_checkpoint_or_newer(true)
    }

    fn to_checkpoint_or_newer(&self, retry: bool) -> Result<Checkpoint, CheckpointError> {
        use std::os::unix::fs::FileExt as _;
        let mut bytes = vec![0; (self.len - self.body_at) as usize];
        self.file
            .read_exact_at(&mut bytes, self.body_at)
            .map_err(|error| CheckpointError::Io { path: self.path.clone(), error })?;
        let damaged = |e: serde_json::Error| unreadable(&self.path, format!("it is damaged: {e}"));
        let (body, mut stored): (Body, _) = match self.header.format {
            FORMAT_WITH_STATE_INSIDE => (serde_json::from_slice(&bytes).map_err(damaged)?, None),
            _ => {
                let at = serde_json::from_slice::<StateBody>(&bytes).map_err(damaged)?.state;
                let state_dir = self.path.parent().unwrap_or(Path::new("."));
                let (doc, body, mut stored) = match journal::load_and_parse(state_dir, &at, parse_body) {
                    Ok(loaded) => loaded,
                    // A reader without the state lock whose header was
                    // replaced meanwhile, and the files it named removed:
                    // the newer checkpoint is read instead, once.
                    Err(JournalError::Io { error, .. }) if retry && error.kind() == std::io::ErrorKind::NotFound => {
                        if let Ok(Some(newer)) = Checkpoint::read(state_dir) {
                            return newer.to_checkpoint_or_newer(false);
                        }
                        return Err(unreadable(&self.path, "the engine state it names is gone".into()));
                    }
                    Err(error) => return Err(unreadable(&self.path, format!("its engine state is damaged: {error}"))),
                };
                let body = body.map_err(|e| unreadable(&self.path, format!("its engine state is damaged: {e}")))?;
                stored.keep_buffer(doc);
                (body, Some(stored))
            }
        };
        let mut engine = body.engine.with_last_folded_of_old_checkpoint(body.last_folded);
        // Where each id that left is: from the index saved with the
        // snapshot, and the minutes it does not cover, checked here.
        let saved = stored.as_mut().and_then(journal::Stored::take_saved_index);
        engine
            .index_with_saved(saved)
            .map_err(|e| unreadable(&self.path, format!("its engine state is damaged: {e}")))?;
        Ok(Checkpoint {
            cursors: self.header.cursors.clone(),
            inputs: self.header.inputs.clone(),
            outbox: self.header.outbox,
            history: self.header.history.clone(),
            notified: self.header.notified.clone(),
            engine,
            rejects: body.rejects,
            stored,
        })
    }
}

impl Checkpoint {
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join(FILE_NAME)
    }

    /// Reads the file and parses its header; `Ok(None)` when there is no
    /// checkpoint yet.
    pub fn read(state_dir: &Path) -> Result<Option<CheckpointFile>, CheckpointError> {
        let path = Checkpoint::path(state_dir);
        // Only a regular file is read: a symlink planted in state/ is not
        // followed (a rebuild replaces it), and a FIFO or device is not read.
        match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(CheckpointError::Io { path, error }),
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(unreadable(&path, "it is a symlink, and observer follows none in state/".into()));
            }
            Ok(meta) if !meta.is_file() => {
                let error = std::io::Error::other("it is not a regular file; move it away");
                return Err(CheckpointError::Io { path, error });
            }
            Ok(_) => {}
        }
        let file = match std::fs::File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(CheckpointError::Io { path, error }),
        };
        let (line, len, tail) =
            read_header_line(&file).map_err(|error| CheckpointError::Io { path: path.clone(), error })?;
        if line.iter().all(|b| b.is_ascii_whitespace() || *b == 0) && len == line.len() as u64 {
            return Err(unreadable(&path, "it is empty".into()));
        }
        let damaged = |e: serde_json::Error| unreadable(&path, format!("it is damaged: {e}"));
        // Only the first line, the header, is read and parsed (it holds a
        // cursor for every event file, so this is most of a no-op run);
        // only when that fails is it read as plain JSON, to tell another
        // format version from damage.
        let header = match serde_json::from_slice::<Header>(&line) {
            Ok(header) if readable(header.format) => header,
            Ok(header) => return Err(other_format(&path, header.format)),
            Err(error) => {
                #[derive(Deserialize)]
                struct Version {
                    format: u32,
                }
                let first = serde_json::Deserializer::from_slice(&line).into_iter::<serde_json::Value>().next();
                if let Some(Ok(first)) = first
                    && let Ok(version) = Version::deserialize(&first)
                    && !readable(version.format)
                {
                    return Err(other_format(&path, version.format));
                }
                if line.iter().all(|b| b.is_ascii_whitespace() || *b == 0) {
                    return Err(unreadable(&path, "it is empty".into()));
                }
                return Err(damaged(error));
            }
        };
        // The body is one line and the file ends with it, so a checkpoint
        // cut short or padded anywhere after its header is caught here, from
        // the file's length and its last two bytes, even by a run that stops
        // after the header and never reads the body.
        let body_at = line.len() as u64 + 1;
        if len <= body_at + 1 || tail != *b"}\n" {
            return Err(unreadable(&path, "it is damaged: it ends before its engine state does".into()));
        }
        Ok(Some(CheckpointFile { header, file, body_at, len, path }))
    }

    /// Reads the whole checkpoint; `Ok(None)` when there is none yet.
    pub fn load(state_dir: &Path) -> Result<Option<Checkpoint>, CheckpointError> {
        Checkpoint::read(state_dir)?.map(|stored| stored.to_checkpoint()).transpose()
    }

    /// Writes the engine state (`store::journal`: what changed appended to
    /// the journal, or a new snapshot), then the checkpoint that commits it,
    /// then removes the engine state files it no longer names.
    pub fn save(&mut self, state_dir: &Path) -> Result<(), CheckpointError> {
        let stored = self.stored.take();
        let state = self.render_state(state_dir, stored);
        self.save_rendered(state_dir, state)
    }

    /// The engine state (and the rejects) as [`Checkpoint::save`] writes
    /// them, and what of it changed since `stored` (taken from this
    /// checkpoint: the state that was read, see [`journal::diff`]): made
    /// apart, so that a pass can make both on a second thread while it
    /// writes the world, once the engine and the rejects are final. On a
    /// busy rebuild the serialising was 57 ms of the fold's thread; on a
    /// busy run folding 1,000 events, the diff was 15 ms of its ~100, with
    /// the second thread idle (perf, issue 11). Without `stored`, the whole
    /// state is written as a new snapshot.
    pub fn render_state(&self, state_dir: &Path, stored: Option<Stored>) -> Result<RenderedState, CheckpointError> {
        let path = Checkpoint::path(state_dir);
        let io = |e: serde_json::Error| CheckpointError::Io { path: path.clone(), error: e.into() };
        // Sized from the state that was read: grown by doubling from
        // nothing, the 12 MB state of a busy history was copied into a new
        // buffer a dozen times over, each on fresh pages.
        let read = stored.as_ref().map_or(0, |s| s.at.snapshot + s.at.journal.bytes) as usize;
        let mut doc = stored.as_ref().map_or_else(Vec::new, |stored| stored.take_buffer(read + read / 8));
        // Its instants as integers (`time::in_state_form`).
        // Cut into its entities as it is written (`journal_cut`), when
        // there is a state read to diff it against. Without one (a first
        // save, a rebuild), a new snapshot is written whole and no diff is
        // made: recorded all the same, the cut raised the busy rebuild's
        // peak memory by up to ~7 MB (its vectors grown by doubling beside
        // the document's, five alternated rebuilds each).
        let body = BodyRef { engine: &self.engine, rejects: &self.rejects };
        let entities = stored.as_ref().and_then(Stored::entities);
        let cut = crate::time::in_state_form(|| match entities {
            Some(entities) => journal_cut::serialize(&body, &mut doc, entities),
            None => serde_json::to_writer(&mut doc, &body).map(|()| None),
        })
        .map_err(io)?;
        let doc = String::from_utf8(doc).map_err(|e| io(<serde_json::Error as serde::ser::Error>::custom(e)))?;
        let found = journal::diff(state_dir, &doc, cut.as_ref(), stored).map_err(|error| state_error(&path, error))?;
        Ok(RenderedState(Made::Rendered { doc, found }))
    }

    /// [`Checkpoint::save`] with the engine state `render_state` made (or
    /// its error) of this checkpoint as it is now, written here unless
    /// [`RenderedState::write`] wrote it.
    pub fn save_rendered(
        &mut self,
        state_dir: &Path,
        state: Result<RenderedState, CheckpointError>,
    ) -> Result<(), CheckpointError> {
        let path = Checkpoint::path(state_dir);
        let io = |e: serde_json::Error| CheckpointError::Io { path: path.clone(), error: e.into() };
        let stored = state?.written(state_dir, &self.engine)?;
        fault_injection::crash_at("after-engine-state");
        let header = HeaderRef {
            format: FORMAT,
            cursors: &self.cursors,
            clock: self.engine.clock(),
            inputs: &self.inputs,
            outbox: &self.outbox,
            history: &self.history,
            notified: &self.notified,
        };
        let mut bytes = serde_json::to_vec(&header).map_err(io)?;
        bytes.push(b'\n');
        serde_json::to_writer(&mut bytes, &StateBody { state: stored.at }).map_err(io)?;
        bytes.push(b'\n');
        write_atomic(&path, &bytes).map_err(|error| CheckpointError::Io { path, error })?;
        fault_injection::crash_at("before-clean");
        journal::clean(state_dir, &stored.at);
        self.stored = Some(stored);
        Ok(())
    }

    /// Keeps the latest rejections; the engine counts them
    /// (`Input::LineRejected`).
    pub fn push_rejects(&mut self, rejects: impl IntoIterator<Item = Reject>) {
        for reject in rejects {
            self.rejects.push_back(reject);
        }
        while self.rejects.len() > MAX_REJECTS {
            self.rejects.pop_front();
        }
    }
}

/// A journal error while the engine state is saved, as the checkpoint's.
fn state_error(path: &Path, error: JournalError) -> CheckpointError {
    match error {
        JournalError::Io { path, error } => CheckpointError::Io { path, error },
        damaged => unreadable(path, format!("its engine state cannot be written: {damaged}")),
    }
}

/// The first line of `file` (without its newline), the file's length and
/// its last two bytes.
fn read_header_line(file: &std::fs::File) -> std::io::Result<(Vec<u8>, u64, [u8; 2])> {
    use std::io::BufRead as _;
    use std::os::unix::fs::FileExt as _;
    let len = file.metadata()?.len();
    let mut line = Vec::new();
    std::io::BufReader::with_capacity(64 * 1024, file).read_until(b'\n', &mut line)?;
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    let mut tail = [0; 2];
    if len >= 2 {
        file.read_exact_at(&mut tail, len - 2)?;
    }
    Ok((line, len, tail))
}

#[path = "checkpoint_doc.rs"]
mod doc;
use doc::{Body, BodyRef, parse_body};

#[path = "checkpoint_error.rs"]
mod error;
pub use error::CheckpointError;
use error::{other_format, unreadable};

#[cfg(test)]
#[path = "checkpoint_tests.rs"]
mod tests;
