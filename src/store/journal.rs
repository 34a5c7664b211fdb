//! The engine state (and the recent rejections) on disk as a snapshot and
//! an append-only journal under `state/engine/`, so that a pass that folds a
//! few events writes what changed, not the whole state.
//!
//! - `snapshot-<N>.json`: the whole state as one JSON document, written
//!   once (temp file, fsync, rename) and never changed.
//! - `journal-<N>.jsonl`: what changed since, one line per entity
//!   (`store::journal_entities`): `{"p":[keys],"v":value}` sets the entity
//!   at that path, `{"p":[keys]}` removes it; either may end with
//!   `"at":[…]`, where its entity goes in the snapshot
//!   (`journal_spans::Place`). A pass appends its lines,
//!   the removals before the sets, in two writes (a crash between them
//!   leaves bytes past the committed mark, cut as any crashed pass's are),
//!   and syncs them.
//! - `entities-<N>.bin`: the hash of every entity of the snapshot and the
//!   span of its value, written with it ([`EntityIndex::around`]), with
//!   the snapshot's length and
//!   hash (`journal_index::snapshot_hash`, its halves' XXH3). A load reads
//!   it instead of cutting and hashing the whole snapshot, when it is whole and its snapshot's hash is that of the
//!   snapshot read; missing, damaged or another's, the snapshot is visited
//!   as before. It is a copy of what a visit finds, never the only record
//!   of anything, so it is not in the checkpoint's header. It also keeps,
//!   for the loads of its snapshot, the engine's index of the ids that
//!   left the hot view (`Engine::saved_index`, `finished_gone_saved.rs`),
//!   made when a snapshot is written and given to the engine as the state
//!   is read ([`Stored::take_saved_index`]): a copy too, of where the
//!   snapshot's minutes file each id.
//!
//! The checkpoint's header names generation N and commits the snapshot's
//! length and how much of the journal is committed, as a [`FileMark`] — the
//! outbox's protocol (`store::outbox`): bytes past the mark were appended
//! by a pass that crashed before its commit, are never read, and are cut
//! before the next append. Loading reads the snapshot and the committed
//! journal, splices the journal's last record of each entity into the
//! snapshot where that entity is (in the snapshot's own buffer; where the
//! record's place says, `journal_entities::placed`, else where a scan
//! finds it, `journal_entities::spliced`) and deserialises the result, while a
//! second thread replays the journal over the snapshot's entities (read
//! from `entities-<N>.bin`; without that file, or with one made for other
//! bytes, the snapshot is read again after the parse and its entities
//! found by visiting it); the hash of every entity is kept, and the next
//! save appends the entities whose bytes differ and the removals. Records
//! that do not fit the snapshot's cut are replayed and the document
//! assembled from the entities, as before the splice.
//!
//! The index beside the snapshot: profiled on the busy history (a run
//! folding 1,000 events just after a rebuild), cutting and hashing the
//! 12 MB snapshot took a third thread ~150 samples (at 15 kHz) while the
//! two halves of the parse ran (`engine::halves`), three threads on two
//! cores; read from the file, the ~30,800 entities (2.2 MB) took ~95. The
//! load alone (timed inside the binary) was 46 ms with the visit and 37 ms
//! without any index at all (medians of 12 alternated runs); the run was
//! 0.97x (medians of 25 alternated runs). A rebuild, which had no index to
//! write, visits its snapshot once to write one, beside the snapshot's
//! write (0.99x the rebuild's wall time, medians of 14 alternated runs).
//!
//! Compaction: when the journal would grow past half the snapshot (and past
//! [`MIN_COMPACT_BYTES`], so a small state is not rewritten at every other
//! pass), the pass writes a new snapshot `snapshot-<N+1>.json` instead, and
//! the header it commits names N+1. A first pass, a rebuild, and the first
//! pass after a checkpoint of format 3 (which kept the state in its own
//! body) write a new snapshot too. After the commit every other file in
//! `state/engine/` goes: older generations, and whatever a crash left
//! (a temp snapshot, a snapshot no header named). At every crash point the
//! committed header names files that are all there: a new generation is
//! complete on disk before the header names it, and the old one goes only
//! after.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use self::lines::{misread, placed_records, records, removal_line, set_line};
use self::read::{read_bytes, read_bytes_after, read_bytes_here};
use super::atomic::{InTemp, is_the_file_at, sync_dir, write_atomic, write_in_pieces, write_temp};
use super::fault_injection;
use super::journal_cut::Cut;
use super::journal_entities::{CUT, Edits, assemble, placed, spliced, split, visit};
use super::journal_index::{Collision, EntityIndex, Set, Written};
use super::journal_spans::{Spans, Tiler};
use super::mark::FileMark;

/// Under the state directory.
pub const DIR: &str = "engine";
/// The journal is compacted when it would pass half the snapshot and this.
pub const MIN_COMPACT_BYTES: u64 = 64 * 1024;

/// What a checkpoint commits of `state/engine/`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateRef {
    /// The generation N of `snapshot-<N>.json` and `journal-<N>.jsonl`.
    pub generation: u64,
    /// The snapshot's length.
    pub snapshot: u64,
    /// How much of the journal is committed.
    pub journal: FileMark,
}

/// The committed state files, with the hash of every entity of the state
/// they hold (none when it was written without being cut into entities:
/// the next save then writes a snapshot).
#[derive(Debug, Default)]
pub struct Stored {
    pub at: StateRef,
    /// Behind a lock so that a copy ([`Clone`]) can wait for hashes being
    /// filed, and keep them.
    hashes: std::sync::Mutex<Hashes>,
    /// The memory of the document that was read, empty, for the next
    /// save to write its document into (see [`Stored::take_buffer`]);
    /// behind a lock so that it can be taken through a shared reference,
    /// by a thread that serialises the state beside another.
    buffer: std::sync::Mutex<Vec<u8>>,
    /// What the snapshot's index file kept beside its entities (the
    /// engine's index of the ids that left, `Engine::saved_index`), when it
    /// is the snapshot's own: for the load to take ([`Stored::take_saved_index`]).
    saved_index: Option<Saved>,
}

/// The hashes of the entities of the committed state, as far as they are
/// known.
#[derive(Debug)]
enum Hashes {
    Known(Option<EntityIndex>),
    /// Being filed on a worker from the index file beside the snapshot, the
    /// journal replayed over them ([`filed_later`]), for the next save;
    /// the number of entries the file holds.
    Filing(crate::threads::Later<Option<EntityIndex>>, usize),
}

impl Default for Hashes {
    fn default() -> Hashes {
        Hashes::Known(None)
    }
}

impl Hashes {
    /// The hashes, once they are filed.
    fn known(self) -> Option<EntityIndex> {
        match self {
            Hashes::Known(index) => index,
            Hashes::Filing(later, _) => later.wait(),
        }
    }
}

/// Bytes of the index file read at a load that the engine keeps (what the
/// file kept beside its entities, `Engine::saved_index`), where they are
/// in what was read: the file's bytes are shared with the filing of its
/// entries ([`filed_later`]), not copied, and held whole as long as the
/// engine keeps them (the busy run's peak memory ~2 MB higher than when
/// the entries' part was given back after a filing in the load).
pub type Saved = (Arc<Vec<u8>>, std::ops::Range<usize>);

/// A copy without the buffer (it is memory to reuse, not state) and
/// without what the load takes; it waits for hashes being filed.
impl Clone for Stored {
    fn clone(&self) -> Stored {
        Stored::new(self.at, self.known_hashes())
    }
}

#[derive(Debug)]
pub enum JournalError {
    /// A committed file is not what was committed.
    Damaged {
        path: PathBuf,
        reason: String,
    },
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
}

impl std::fmt::Display for JournalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JournalError::Damaged { path, reason } => write!(f, "{}: {reason}", path.display()),
            JournalError::Io { path, error } => write!(f, "cannot access {}: {error}", path.display()),
        }
    }
}

impl std::error::Error for JournalError {}

pub fn dir(state: &Path) -> PathBuf {
    state.join(DIR)
}

pub fn snapshot_path(state: &Path, generation: u64) -> PathBuf {
    dir(state).join(format!("snapshot-{generation}.json"))
}

pub fn journal_path(state: &Path, generation: u64) -> PathBuf {
    dir(state).join(format!("journal-{generation}.jsonl"))
}

/// The hash of every entity of `snapshot-<N>.json`, written beside it
/// ([`EntityIndex::around`]).
pub fn entities_path(state: &Path, generation: u64) -> PathBuf {
    dir(state).join(format!("entities-{generation}.bin"))
}

impl Stored {
    /// The files `at` commits, with the hashes of their entities.
    fn new(at: StateRef, hashes: Option<EntityIndex>) -> Stored {
        Stored::with_hashes(at, Hashes::Known(hashes))
    }

    /// A copy of the hashes, once they are filed (they are kept filed).
    fn known_hashes(&self) -> Option<EntityIndex> {
        let mut hashes = self.hashes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let known = std::mem::take(&mut *hashes).known();
        *hashes = Hashes::Known(known.clone());
        known
    }

    #[cfg(test)]
    pub(super) fn hashes(&self) -> Option<EntityIndex> {
        self.known_hashes()
    }

    fn with_hashes(at: StateRef, hashes: Hashes) -> Stored {
        Stored { at, hashes: std::sync::Mutex::new(hashes), buffer: Default::default(), saved_index: None }
    }

    fn with_saved_index(self, saved_index: Option<Saved>) -> Stored {
        Stored { saved_index, ..self }
    }

    /// The engine's index of the ids that left, as the snapshot read was
    /// written with it (`Engine::saved_index`); `None` when its index file
    /// was missing, damaged or another snapshot's.
    pub fn take_saved_index(&mut self) -> Option<Saved> {
        self.saved_index.take()
    }

    /// Keeps the memory of `doc`, the document read, for the next save.
    pub fn keep_buffer(&mut self, doc: String) {
        let mut buffer = doc.into_bytes();
        buffer.clear();
        self.buffer = std::sync::Mutex::new(buffer);
    }

    /// An empty buffer with room for at least `bytes`: the memory of the
    /// document read when it was kept. Profiled on the busy history (a run
    /// folding 1,000 events), a fifth of the run was the kernel giving out
    /// fresh pages; the document to save is about the size of the one read,
    /// and writing it where that one was needs none.
    pub fn take_buffer(&self, bytes: usize) -> Vec<u8> {
        let mut buffer = std::mem::take(&mut *self.buffer.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        buffer.reserve(bytes);
        buffer
    }

    /// How many entities the document that was read holds, when known:
    /// about as many as the next save's ([`super::journal_cut::serialize`]
    /// sizes its record by it). `None` when its entities' hashes are not
    /// known, and then [`diff`] makes no diff (a new snapshot is due).
    pub fn entities(&self) -> Option<usize> {
        match &*self.hashes.lock().unwrap_or_else(std::sync::PoisonError::into_inner) {
            Hashes::Known(index) => index.as_ref().map(EntityIndex::len),
            // The snapshot's count: the records change a few of them.
            Hashes::Filing(_, count) => Some(*count),
        }
    }
}

/// The snapshot `at` commits, checked against its committed length, and
/// its `journal_index::snapshot_hash`, taken as it was read.
fn read_snapshot(state: &Path, at: &StateRef) -> Result<(String, u64), JournalError> {
    let (bytes, hash) = read_snapshot_after(state, at, 0)?;
    Ok((text(&snapshot_path(state, at.generation), bytes)?, hash))
}

/// [`load`], and the document given to `parse`: the document, what `parse`
/// made of it, and what the next save diffs against.
///
/// `parse` may change a few bytes of the document for its time, and gives
/// it back as it was (`store/checkpoint_doc.rs` closes the first half of
/// the state in place).
///
/// When no journal is committed (the first pass after a rebuild or a
/// compaction), the document is the snapshot, and the index file beside
/// it is read on a second thread while `parse` reads it, and checked
/// against the snapshot's length and
/// `journal_index::snapshot_hash`, taken by the threads that read its
/// halves (hashed whole after the parse, ~1.2 ms of the busy run's load,
/// issue 11, twenty-fifth pass). Without
/// an index of its own (a state of a version before it, another cut's, a
/// damaged file), the snapshot is visited then, after the parse rather
/// than beside it: profiled on the busy history (a run folding 1,000
/// events), the visit and the parse were a tenth and a quarter of the run.
/// When one is, the document is the snapshot with the journal's records
/// spliced in where their places say (`journal_entities::placed`), or,
/// for records without places that fit, where a scan of the snapshot
/// finds their entities (`journal_entities::spliced`), made in the buffer the
/// snapshot was read into, behind room for what the records add
/// (`journal_placed::Placed::apply`), and parsed, while the second
/// thread reads the index beside the snapshot. That index is checked
/// against the length and the hash of the snapshot taken as it was read,
/// so the second thread never holds the snapshot's text and the splice
/// need not wait for it (issue 11: a splice into new memory took ~2,000 more page
/// faults on the busy history, and a splice in place that waited for the
/// second thread gained nothing). Without an index of its own, the
/// snapshot is read again once the parse is done, and its entities
/// visited. Damage the entities show is reported before what `parse`
/// found, as [`load`] does. An index of the snapshot's own is filed (and
/// the records replayed over it) on a worker after the load, while the
/// events are folded ([`filed_later`]).
pub fn load_and_parse<T, E>(
    state: &Path,
    at: &StateRef,
    parse: impl FnOnce(&mut String) -> Result<T, E>,
) -> Result<(String, Result<T, E>, Stored), JournalError> {
    let damaged = |path: PathBuf, reason: String| JournalError::Damaged { path, reason };
    if at.journal.bytes == 0 {
        let (mut snapshot, hash) = read_snapshot(state, at)?;
        // `parse` may change the text for its time (`store/checkpoint_doc.rs`):
        // the index beside is read meanwhile, and checked against the hash
        // the snapshot's read took.
        let (parsed, written) = crate::threads::both(|| parse(&mut snapshot), || read_written_index(state, at));
        let stored = match own(written, snapshot.len(), hash) {
            Some((written, bytes)) => filed_later(at, written, bytes, None),
            None => Stored::new(
                *at,
                index_of(&snapshot).map_err(|reason| damaged(snapshot_path(state, at.generation), reason))?,
            ),
        };
        return Ok((snapshot, parsed, stored));
    }
    // The journal is read first, for the room its records need before the
    // snapshot (`read_snapshot_after`); the snapshot's damage is still told
    // before the journal's, as when it was read first.
    let journal = journal_path(state, at.generation);
    let snapshot_first = |error| read_snapshot(state, at).err().unwrap_or(error);
    let committed = read_journal(state, at).map_err(snapshot_first)?;
    let (records, places) = placed_records(&journal, &committed).map_err(snapshot_first)?;
    let edits = Edits::flat(&records, &places);
    let room = edits.room();
    let snapshot_damaged = |reason| damaged(snapshot_path(state, at.generation), reason);
    let (buf, snapshot_hash) = read_snapshot_after(state, at, room)?;
    let buf = String::from_utf8(buf).map_err(|_| snapshot_damaged("it is not UTF-8".into()))?;
    // The index beside is checked against the snapshot's length and hash,
    // taken as it was read: the snapshot's buffer is then the splice's
    // alone, and the second thread reads and replays the index while the
    // document is spliced and parsed, rather than the parse waiting for it.
    let snapshot_len = buf.len() - room;
    let (made, written) = crate::threads::both(
        move || made_in_place(buf, room, edits, parse),
        || own(read_written_index(state, at), snapshot_len, snapshot_hash),
    );
    // The engine's index saved with the snapshot holds for the snapshot's
    // minutes; the minutes the records changed are told by their text.
    match made {
        Made::Parsed(doc, parsed) => {
            misread_first(&parsed, &journal, &committed)?;
            let stored = match written {
                Some((written, bytes)) => filed_later(at, written, bytes, Some((journal, committed))),
                // No index of the snapshot's own: its entities visited, in
                // the snapshot read again, as its buffer holds the splice.
                None => Stored::new(*at, replay(&read_snapshot(state, at)?.0, &records).map_err(snapshot_damaged)?.0),
            };
            Ok((doc, parsed, stored))
        }
        // The edits do not fit the snapshot's cut: assembled instead, from
        // the values of a replay over the snapshot's own entities.
        Made::Unfit(parse, buf) => {
            let text = &buf[room..];
            let (index, values) = replay(text, &records).map_err(snapshot_damaged)?;
            let mut doc =
                assembled(text, &records, index.as_ref(), values).map_err(|reason| damaged(journal.clone(), reason))?;
            let parsed = parse(&mut doc);
            misread_first(&parsed, &journal, &committed)?;
            let saved = written.and_then(|(written, bytes)| saved_of(&written, &bytes));
            Ok((doc, parsed, Stored::new(*at, index).with_saved_index(saved)))
        }
        Made::NotUtf8 => Err(damaged(journal, "the state spliced from it is not UTF-8".into())),
    }
}

/// A framed record's value is not scanned ([`misread`]): when the
/// document spliced from `committed` did not parse, a record the scanner
/// reads otherwise is told, at its line, before what the parse found.
fn misread_first<T, E>(parsed: &Result<T, E>, journal: &Path, committed: &str) -> Result<(), JournalError> {
    match parsed.as_ref().err().and_then(|_| misread(journal, committed)) {
        Some(damage) => Err(damage),
        None => Ok(()),
    }
}

/// What [`made_in_place`] made of a snapshot and a journal's edits.
enum Made<P, T, E> {
    /// The spliced document, and what `parse` made of it.
    Parsed(String, Result<T, E>),
    /// The edits do not fit the snapshot's cut: `parse`, not called, and
    /// the snapshot's buffer, untouched.
    Unfit(P, String),
    /// Cannot happen with the snapshot the pieces were made from.
    NotUtf8,
}

/// The snapshot `buf[room..]` with `edits` spliced in, made in `buf`
/// itself (its pages touched already by the read: issue 11, the fresh
/// memory of a new document was most of a splice), and parsed.
fn made_in_place<T, E, P>(buf: String, room: usize, edits: Edits, parse: P) -> Made<P, T, E>
where
    P: FnOnce(&mut String) -> Result<T, E>,
{
    let text = &buf[room..];
    // Where the records say (their places fit the text), or found by a
    // scan of the snapshot.
    let pieces = match placed(text, &edits) {
        Some(pieces) => {
            #[cfg(debug_assertions)]
            pieces.assert_scanned(text, &edits.structured().expect("a placed record's path is keys"));
            Some(pieces)
        }
        // A path that is not keys (`Edits::structured`): the document
        // assembled below tells it, naming the journal.
        None => edits.structured().ok().and_then(|edits| spliced(text, &edits).ok().flatten()),
    };
    let Some(placed) = pieces.map(|spliced| spliced.placed()) else {
        return Made::Unfit(parse, buf);
    };
    let made = match placed.apply(buf.into_bytes(), room) {
        Ok(bytes) => String::from_utf8(bytes).ok(),
        // Less room than the pieces add: made in new memory.
        Err((placed, buf)) => placed.into_string(&buf[room..]).ok(),
    };
    match made {
        Some(mut doc) => {
            let parsed = parse(&mut doc);
            Made::Parsed(doc, parsed)
        }
        None => Made::NotUtf8,
    }
}

/// Sized from the snapshot (the busy history's state holds an entity per
/// 390 bytes): a table sized for five times as many was spread over fresh
/// pages, each faulted in by the first entry that fell on it.
fn index_for(snapshot: &str) -> EntityIndex {
    EntityIndex::with_capacity(snapshot.len() / 256)
}

/// The index file written beside the snapshot `at` commits, checked
/// whole, and its bytes; `None` when it is missing or damaged. It is a
/// copy of what a visit finds, never the only record of anything.
fn read_written_index(state: &Path, at: &StateRef) -> Option<(Written, Arc<Vec<u8>>)> {
    let bytes = read_bytes_here(&entities_path(state, at.generation)).ok()?;
    let written = Written::check(&bytes)?;
    Some((written, Arc::new(bytes)))
}

/// What [`read_written_index`] read, when it was made for the snapshot of
/// `len` bytes whose `journal_index::snapshot_hash` is `hash` ([`is_own`]).
fn own(written: Option<(Written, Arc<Vec<u8>>)>, len: usize, hash: u64) -> Option<(Written, Arc<Vec<u8>>)> {
    written.filter(|(written, _)| is_own(written, len, hash))
}

/// The bytes an index file kept beside its entities, when there are any.
fn saved_of(written: &Written, bytes: &Arc<Vec<u8>>) -> Option<Saved> {
    (!written.beside.is_empty()).then(|| (bytes.clone(), written.beside.clone()))
}

/// The files `at` commits, their entities' hashes filed from the snapshot's
/// own index file (`written`, read into `bytes`) on a worker while the
/// pass goes on ([`crate::threads::later`]), with the records of the
/// committed journal (its path and text) replayed over them, for the next
/// save ([`diff`]) to wait for; and the bytes the file kept beside, for the
/// engine. Entries that do not file (two paths with one hash) or records
/// that no longer read leave the hashes unknown: the next save then writes
/// a new snapshot, as it does for a state read without an index.
fn filed_later(at: &StateRef, written: Written, bytes: Arc<Vec<u8>>, journal: Option<(PathBuf, String)>) -> Stored {
    let saved = saved_of(&written, &bytes);
    let count = written.count();
    let later = crate::threads::later(move || {
        let index = written.file(&bytes)?;
        match journal {
            Some((path, committed)) => replay_over(index, &records(&path, &committed).ok()?),
            None => Some(index),
        }
    });
    Stored::with_hashes(*at, Hashes::Filing(later, count)).with_saved_index(saved)
}

/// Whether `written` was made, under this version's cut, for the snapshot
/// as read (at the committed length: `read_snapshot`), of `len` bytes and
/// whose `journal_index::snapshot_hash` is `hash`: the length, the hash
/// and [`CUT`] are the ones it records. Another snapshot's or another
/// cut's is not used.
fn is_own(written: &Written, len: usize, hash: u64) -> bool {
    written.cut == CUT && written.snapshot_len == len as u64 && written.snapshot_hash == hash
}

/// The records replayed over the index of the snapshot they follow, as
/// [`replay`] does over the entities it visits: the hash of every entity
/// after them, `None` when two paths share one.
fn replay_over(mut index: EntityIndex, records: &[(&str, Option<&str>)]) -> Option<EntityIndex> {
    for &(path, raw) in records {
        let fits = match raw {
            Some(raw) => index.set(path, xxh3_64(raw.as_bytes()), 0).is_ok(),
            None => index.remove(path).is_ok(),
        };
        if !fits {
            return None;
        }
    }
    Some(index)
}

/// The hash of every entity of `snapshot`, and where each is in it
/// ([`Spans`]); `None` when two of its paths share one.
fn index_of(snapshot: &str) -> Result<Option<EntityIndex>, String> {
    let mut index = Some(index_for(snapshot));
    let mut tiler = Tiler::new(snapshot.len() / 256);
    visit(snapshot, |path, raw| {
        if let Some(entities) = &mut index
            && entities.set(path, xxh3_64(raw.as_bytes()), 0).is_err()
        {
            index = None;
        }
        tiler.value_in(snapshot, path, raw);
    })?;
    Ok(index.map(|mut index| {
        index.set_spans(tiler.finish(snapshot.len() as u64));
        index
    }))
}

/// Where the entities of `snapshot` are in it: `None` when that cannot be
/// told (a snapshot past 4 GiB).
fn spans_of(snapshot: &str) -> Option<Spans> {
    let mut tiler = Tiler::new(snapshot.len() / 256);
    visit(snapshot, |path, raw| tiler.value_in(snapshot, path, raw)).ok()?;
    tiler.finish(snapshot.len() as u64)
}

/// The state document `at` commits, and what the next save diffs against.
pub fn load(state: &Path, at: &StateRef) -> Result<(String, Stored), JournalError> {
    let (snapshot, _) = read_snapshot(state, at)?;
    let damaged = |path: PathBuf, reason: String| JournalError::Damaged { path, reason };
    let committed = match at.journal.bytes {
        0 => String::new(),
        _ => read_journal(state, at)?,
    };
    let journal = journal_path(state, at.generation);
    let records = records(&journal, &committed)?;
    let (index, values) =
        replay(&snapshot, &records).map_err(|reason| damaged(snapshot_path(state, at.generation), reason))?;
    if at.journal.bytes == 0 {
        drop(values);
        return Ok((snapshot, Stored::new(*at, index)));
    }
    let doc = assembled(&snapshot, &records, index.as_ref(), values).map_err(|reason| damaged(journal, reason))?;
    Ok((doc, Stored::new(*at, index)))
}

/// The committed part of the journal `at` names, checked against its mark.
fn read_journal(state: &Path, at: &StateRef) -> Result<String, JournalError> {
    let path = journal_path(state, at.generation);
    let damaged = |reason: String| JournalError::Damaged { path: path.clone(), reason };
    let mut journal = read_bytes(&path)?;
    if (journal.len() as u64) < at.journal.bytes {
        return Err(damaged(format!("it holds {} bytes, but {} were committed", journal.len(), at.journal.bytes)));
    }
    if !at.journal.is_untouched(&path) && !at.journal.commits_prefix_of(&journal) {
        return Err(damaged("its committed part changed since it was written".into()));
    }
    // What follows the mark is a crashed pass's, and never read.
    journal.truncate(at.journal.bytes as usize);
    text(&path, journal)
}

/// The records replayed over the entities of `snapshot`: the hash of each
/// entity (`None` when two paths share one), and the value of each by the
/// slot its index entry names. An error is the snapshot's: the records
/// were checked as they were read.
#[allow(clippy::type_complexity)]
fn replay<'a>(
    snapshot: &'a str,
    records: &[(&'a str, Option<&'a str>)],
) -> Result<(Option<EntityIndex>, Vec<Option<&'a str>>), String> {
    let mut index = Some(index_for(snapshot));
    let mut values: Vec<Option<&str>> = Vec::new();
    let mut tiler = Tiler::new(snapshot.len() / 256);
    visit(snapshot, |p, raw| {
        set(&mut index, &mut values, p, raw);
        tiler.value_in(snapshot, p, raw);
    })?;
    if let Some(index) = &mut index {
        index.set_spans(tiler.finish(snapshot.len() as u64));
    }
    for &(entity, raw) in records {
        match raw {
            Some(raw) => set(&mut index, &mut values, entity, raw),
            None => remove(&mut index, &mut values, entity),
        }
    }
    Ok((index, values))
}

/// The document of the replayed entities (by the slots of `index`), or,
/// when their paths could not be told apart, of the snapshot and the
/// journal's records replayed by their text.
fn assembled(
    snapshot: &str,
    records: &[(&str, Option<&str>)],
    index: Option<&EntityIndex>,
    values: Vec<Option<&str>>,
) -> Result<String, String> {
    let Some(index) = index else {
        // Two paths with one hash: replayed by their text instead.
        return replay_by_path(snapshot, records);
    };
    let entities = index.slots().filter_map(|(p, slot)| Some((p, values[slot as usize]?))).collect();
    assemble(entities)
}

/// Replay: `path` is set to `raw`.
fn set<'a>(index: &mut Option<EntityIndex>, values: &mut Vec<Option<&'a str>>, path: &str, raw: &'a str) {
    let Some(entities) = index else { return };
    match entities.set(path, xxh3_64(raw.as_bytes()), values.len() as u32) {
        Ok(Set::New) => values.push(Some(raw)),
        Ok(Set::Changed(slot) | Set::Same(slot)) => values[slot as usize] = Some(raw),
        Err(Collision) => *index = None,
    }
}

/// Replay: `path` is removed.
fn remove(index: &mut Option<EntityIndex>, values: &mut [Option<&str>], path: &str) {
    let Some(entities) = index else { return };
    match entities.remove(path) {
        Ok(Some(slot)) => values[slot as usize] = None,
        Ok(None) => {}
        Err(Collision) => *index = None,
    }
}

/// The snapshot with the journal's records replayed over it, keyed by path
/// text: for the state whose paths [`EntityIndex`] cannot tell apart. The
/// records as [`records`] reads them (a removal is `None`, placed or not:
/// read from each line's second member, a placed removal's `"at"` was
/// taken for its value; found by a review, thirty-seventh pass of issue 11).
fn replay_by_path(snapshot: &str, records: &[(&str, Option<&str>)]) -> Result<String, String> {
    let entities = split(snapshot)?;
    let mut map: HashMap<&str, &str> = entities.iter().map(|(path, raw)| (path.as_str(), *raw)).collect();
    for &(path, raw) in records {
        match raw {
            Some(raw) => map.insert(path, raw),
            None => map.remove(path),
        };
    }
    assemble(map.into_iter().collect())
}

/// Writes the state document `doc` after `stored` (the files the live
/// checkpoint commits, `None` when there are none): the changed entities
/// appended to the journal, or a new snapshot. Returns what the checkpoint
/// is to commit; the caller commits it, then calls [`clean`].
///
/// The index of `stored` is updated in place, so an entity that did not
/// change costs its hash and one lookup, and no allocation.
pub fn save(state: &Path, doc: &str, stored: Option<Stored>) -> Result<Stored, JournalError> {
    let found = diff(state, doc, None, stored)?;
    write(state, doc, found, Vec::new)
}

/// What a save of a document writes: found by [`diff`] without touching
/// the disk, written by [`write`].
pub struct Diff(Due);

impl Diff {
    /// Whether [`write`] writes a new snapshot.
    pub fn writes_snapshot(&self) -> bool {
        matches!(self.0, Due::Snapshot { .. })
    }
}

enum Due {
    /// A new generation above `live`, with the hashes of the document's
    /// entities when they are known.
    Snapshot { live: u64, hashes: Option<EntityIndex> },
    /// The records to append to the journal `at` commits: the removals,
    /// then the entities set. Kept apart and written one after the other:
    /// joined, the sets (~1.2 MB in a busy run) were copied into fresh
    /// pages, ~300 page faults of the save's thread (perf, issue 11).
    Append { at: StateRef, removals: String, sets: String, hashes: EntityIndex },
}

/// The first half of [`save`]: what it is to write of `doc` after `stored`
/// (the changed entities and the removals, or a new snapshot), found
/// without reading or writing a file, so that a pass can find it on a
/// second thread while it writes the world, and [`write`] it in its turn.
/// `state` only names the files in an error.
///
/// `cut`: the entities of `doc` as the writer that wrote it recorded them
/// (`store::journal_cut`, a pass's save); without it, `doc` is cut by the
/// scanner ([`visit`]).
pub fn diff(state: &Path, doc: &str, cut: Option<&Cut>, stored: Option<Stored>) -> Result<Diff, JournalError> {
    let known = stored.and_then(|s| {
        let hashes = s.hashes.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
        hashes.known().map(|h| (s.at, h))
    });
    let Some((at, mut index)) = known else {
        return Ok(Diff(Due::Snapshot { live: 0, hashes: None }));
    };
    let damaged = |reason| JournalError::Damaged { path: snapshot_path(state, at.generation), reason };
    index.next_round();
    let (mut sets, mut visited, mut collided) = (String::new(), 0usize, false);
    // Where each record's entity goes in the snapshot, when known.
    let spans = index.spans().cloned();
    let place = |path: &str, set: bool| spans.as_ref().and_then(|spans| spans.place(path, set));
    let each = |path: &str, raw: &str| {
        visited += 1;
        match index.set(path, xxh3_64(raw.as_bytes()), 0) {
            Ok(Set::Same(_)) => {}
            Ok(_) => set_line(&mut sets, path, raw, place(path, true)),
            Err(Collision) => collided = true,
        }
    };
    match cut {
        Some(cut) => {
            #[cfg(debug_assertions)]
            cut.assert_scanned(doc);
            cut.visit(doc, each);
        }
        None => visit(doc, each).map_err(damaged)?,
    }
    if collided {
        return Ok(Diff(Due::Snapshot { live: at.generation, hashes: None }));
    }
    let mut removals = String::new();
    if visited < index.len() {
        index.remove_unseen(|path| removal_line(&mut removals, path, place(path, false)));
    }
    let grown = at.journal.bytes + (removals.len() + sets.len()) as u64;
    if grown > MIN_COMPACT_BYTES && grown > at.snapshot / 2 {
        // `doc` is the new snapshot: where its entities are, from the cut
        // the writer recorded (a scan of `doc` without it).
        let spans = match cut {
            Some(cut) => {
                let mut tiler = Tiler::new(index.len());
                cut.visit(doc, |path, raw| tiler.value_in(doc, path, raw));
                tiler.finish(doc.len() as u64)
            }
            None => spans_of(doc),
        };
        index.set_spans(spans);
        return Ok(Diff(Due::Snapshot { live: at.generation, hashes: Some(index) }));
    }
    Ok(Diff(Due::Append { at, removals, sets, hashes: index }))
}

/// The second half of [`save`]: writes what [`diff`] found of `doc`, and
/// syncs it.
///
/// A pass writes it beside the world's files (`fold_pass`). Until the
/// twenty-third pass of issue 11, records appended to the journal were
/// synced only once the world's files were written: on ext4 a sync commits
/// the file system's journal, and a write to a new file that came while
/// that commit ran waited for it (strace, a busy run: the journal's sync
/// held up the write of `alerts.json` or `deployments.json` for 14–20 ms).
/// Since each world file's sync starts as soon as it is written
/// (`store::generation`), commits run while the world is written anyway,
/// and that wait only made the journal's sync the pass's last: synced at
/// once, the busy run ended 3–5 % sooner (medians of 20 alternated runs,
/// twice).
///
/// `beside`: what a new snapshot keeps in its index file for its loads
/// ([`Stored::take_saved_index`]; a pass gives the engine's index of the
/// ids that left, `Engine::saved_index`), made while the snapshot is
/// written; neither a diff that appends to the journal nor a snapshot
/// whose index could not be made (it is then visited by its loads) calls
/// it.
pub fn write(
    state: &Path,
    doc: &str,
    found: Diff,
    beside: impl FnOnce() -> Vec<u8> + Send,
) -> Result<Stored, JournalError> {
    let (at, removals, sets, hashes) = match found.0 {
        Due::Snapshot { live, hashes } => {
            return snapshot(state, doc, hashes, beside, next_generation(state, live));
        }
        Due::Append { at, removals, sets, hashes } => (at, removals, sets, hashes),
    };
    let path = journal_path(state, at.generation);
    let io = |error| JournalError::Io { path: path.clone(), error };
    if removals.is_empty() && sets.is_empty() && at.journal.is_untouched(&path) {
        return Ok(Stored::new(at, Some(hashes)));
    }
    let created = !path.exists();
    let mut file = OpenOptions::new().append(true).create(true).open(&path).map_err(io)?;
    if !is_the_file_at(&file, &path) {
        return Err(JournalError::Damaged { path, reason: "it is a symlink, and observer follows none".into() });
    }
    let length = file.metadata().map_err(io)?.len();
    if length < at.journal.bytes {
        let reason = format!("it holds {length} bytes, but {} were committed", at.journal.bytes);
        return Err(JournalError::Damaged { path, reason });
    }
    if length > at.journal.bytes {
        // Appended by a pass that crashed before its commit.
        file.set_len(at.journal.bytes).map_err(io)?;
    }
    fault_injection::fail_at("journal-append").map_err(io)?;
    // Removals first: a replay applies them before the sets.
    write_in_pieces(&mut file, removals.as_bytes()).map_err(io)?;
    write_in_pieces(&mut file, sets.as_bytes()).map_err(io)?;
    file.sync_data().map_err(io)?;
    if created {
        sync_dir(&dir(state)).map_err(io)?;
    }
    let journal = at.journal.after(removals.as_bytes()).after(sets.as_bytes()).stamped(&path);
    Ok(Stored::new(StateRef { journal, ..at }, Some(hashes)))
}

/// Removes every file of `state/engine/` but those `at` names: older
/// generations and what a crash left. Best effort, after the commit: a file
/// left here is never read, and the next pass tries again.
pub fn clean(state: &Path, at: &StateRef) {
    let keep =
        [snapshot_path(state, at.generation), journal_path(state, at.generation), entities_path(state, at.generation)];
    for entry in std::fs::read_dir(dir(state)).into_iter().flatten().flatten() {
        if !keep.contains(&entry.path()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// A new generation: the whole document as its snapshot, an empty journal.
fn snapshot(
    state: &Path,
    doc: &str,
    hashes: Option<EntityIndex>,
    beside: impl FnOnce() -> Vec<u8> + Send,
    generation: u64,
) -> Result<Stored, JournalError> {
    let dir = dir(state);
    let io = |error| JournalError::Io { path: dir.clone(), error };
    if !dir.is_dir() {
        crate::store::atomic::create_dir(&dir, "the engine state directory")
            .map_err(|error| io(std::io::Error::other(error.to_string())))?;
        sync_dir(state).map_err(io)?;
    }
    let path = snapshot_path(state, generation);
    // The index of its entities, for the loads of this generation to read
    // instead of visiting the snapshot, made while the snapshot is written:
    // a first snapshot (a rebuild's) has none yet, and is visited here, on
    // the second core (profiled on the busy rebuild, after the snapshot's
    // write it was ~15 ms at the end of the pass, with the other core
    // idle). An index of entities that could not be told apart is not
    // written: a load without it visits the snapshot, as it did before
    // there was one.
    // Where its entities are in it: found by the same visit when the index
    // is made here (a compaction's diff found them already, `diff`). What
    // the index keeps beside is made on that thread too: profiled on the
    // busy history, the engine's index of the ids that left, made before
    // the write, was ~15 ms of a compacting run's last thread with the
    // other core idle (issue 11, thirty-eighth pass).
    let (written, hashes) = crate::threads::both(
        || write_atomic(&path, doc.as_bytes()),
        || {
            let index = hashes.or_else(|| index_of(doc).ok().flatten())?;
            let beside = beside();
            Some((index.around(doc, CUT, &beside), index, beside))
        },
    );
    written.map_err(|error| JournalError::Io { path, error })?;
    // Its write fails the pass as any write under `state/` does (a full
    // disk is told, and the committed state stays), though a load that
    // does not find it only visits the snapshot.
    let hashes = match hashes {
        Some(([head, tail], index, beside)) => {
            let path = entities_path(state, generation);
            write_temp(&path, |file| {
                [&head[..], &beside, &tail].into_iter().try_for_each(|p| write_in_pieces(file, p))
            })
            .and_then(InTemp::put_in_place)
            .map_err(|error| JournalError::Io { path, error })?;
            Some(index)
        }
        None => None,
    };
    let at = StateRef { generation, snapshot: doc.len() as u64, journal: FileMark::default() };
    Ok(Stored::new(at, hashes))
}

/// A generation above `live` and above any file in `state/engine/`, so that
/// a new snapshot never replaces a file a committed header names.
fn next_generation(state: &Path, live: u64) -> u64 {
    let mut top = live;
    for entry in std::fs::read_dir(dir(state)).into_iter().flatten().flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let digits: String =
            name.chars().skip_while(|c| !c.is_ascii_digit()).take_while(char::is_ascii_digit).collect();
        top = top.max(digits.parse().unwrap_or(0));
    }
    top + 1
}

/// The committed snapshot of `at`, read into a buffer after `room` free
/// bytes (zeros) and checked against its committed length, and its
/// `journal_index::snapshot_hash`; its text is checked by the caller.
fn read_snapshot_after(state: &Path, at: &StateRef, room: usize) -> Result<(Vec<u8>, u64), JournalError> {
    let path = snapshot_path(state, at.generation);
    let (bytes, hash) = read_bytes_after(&path, room, true)?;
    if (bytes.len() - room) as u64 != at.snapshot {
        let reason = format!("it holds {} bytes, but {} were committed", bytes.len() - room, at.snapshot);
        return Err(JournalError::Damaged { path, reason });
    }
    Ok((bytes, hash.expect("read_bytes_after hashes what it is asked to")))
}

fn text(path: &Path, bytes: Vec<u8>) -> Result<String, JournalError> {
    String::from_utf8(bytes)
        .map_err(|_| JournalError::Damaged { path: path.to_path_buf(), reason: "it is not UTF-8".into() })
}

#[path = "journal_read.rs"]
mod read;

#[path = "journal_lines.rs"]
mod lines;

#[cfg(test)]
#[path = "journal_tests.rs"]
mod tests;
