//! Event sources under `events/` and the per-file cursor.
//!
//! A cursor remembers how far a file was consumed (the offset after its last
//! complete line), how many lines that was, the file's size, device, inode,
//! times (modification, change and, where kept, birth) when last seen, and
//! fingerprints of the consumed prefix (its first and its last 4 KiB). A run
//! stats every file but opens only those whose size or identity changed, and
//! reads only their new bytes. A file that shrank, or
//! whose consumed prefix no longer matches, stops the run (guarantee 6).

use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::fingerprint::fnv1a;
use crate::event::{Event, Parsed, parse_event};
use crate::time::Ts;

/// Bytes fingerprinted at each end of a consumed prefix.
const PRINT_LEN: u64 = 4096;

/// In the checkpoint a cursor is an array, in the order of the fields:
/// `[offset, lines, size, dev, ino, mtime_ns, ctime_ns, btime_ns, head,
/// tail]`. A history of 50,000 single-event files has 50,000 cursors, and
/// a no-op run parses them all: as arrays they take half the bytes and
/// half the time of objects.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "CursorRecord", into = "CursorRecord")]
pub struct Cursor {
    /// Bytes consumed: the end of the last complete line (or the whole file
    /// for a `.json` event).
    pub offset: u64,
    /// Complete lines consumed, for line numbers in rejections.
    pub lines: u64,
    /// Size, device, inode, mtime and ctime when last read: if all are
    /// unchanged the file is not opened.
    pub size: u64,
    pub dev: u64,
    pub ino: u64,
    pub mtime_ns: i64,
    /// The inode change time, which unlike mtime cannot be set back: a file
    /// replaced by one of the same size, inode and mtime is still noticed.
    pub ctime_ns: i64,
    /// The birth time, where the file system keeps one (`None` where it does
    /// not): a file deleted and created again at the same path is a new file
    /// even when it gets the old inode number back, as it usually does at
    /// once.
    pub btime_ns: Option<i64>,
    /// FNV-1a of the first and of the last `min(offset, 4096)` consumed bytes.
    pub head: u64,
    pub tail: u64,
}

#[derive(Serialize, Deserialize)]
struct CursorRecord(u64, u64, u64, u64, u64, i64, i64, Option<i64>, u64, u64);

impl From<CursorRecord> for Cursor {
    fn from(r: CursorRecord) -> Cursor {
        let CursorRecord(offset, lines, size, dev, ino, mtime_ns, ctime_ns, btime_ns, head, tail) = r;
        Cursor { offset, lines, size, dev, ino, mtime_ns, ctime_ns, btime_ns, head, tail }
    }
}

impl From<Cursor> for CursorRecord {
    fn from(c: Cursor) -> CursorRecord {
        CursorRecord(c.offset, c.lines, c.size, c.dev, c.ino, c.mtime_ns, c.ctime_ns, c.btime_ns, c.head, c.tail)
    }
}

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
pub struct Positioned {
    pub ts: Ts,
    pub file: u32,
    pub position: u64,
    /// Boxed, as the boundary returns it: the list of a rebuild holds a
    /// million of these, and sorting moves small items faster than events.
    pub event: Box<Event>,
}

impl Positioned {
    pub fn key(&self) -> (Ts, u32, u64) {
        (self.ts, self.file, self.position)
    }
}

/// What a pass has to read, decided before anything is read: the listing,
/// which cursor each file continues, and which files changed.
pub struct Plan {
    /// Relative paths of the listed files; `Positioned::file` indexes this.
    pub paths: Vec<String>,
    /// Cursors of the files that need no reading, carried over as they
    /// are, in path order: the index of the path, and the cursor.
    carried: Vec<(u32, Cursor)>,
    /// Things the operator should know that are not errors (a replaced
    /// file): relative path and message.
    pub notices: Vec<(String, String)>,
    pub files_seen: usize,
    pending: Vec<Pending>,
}

/// A file that changed since its cursor (or has none): it is read.
struct Pending {
    index: u32,
    listed: Listed,
    cursor: Option<Cursor>,
}

impl Plan {
    /// True when no file needs reading and every cursor is the one
    /// `previous` holds: nothing under `events/` changed.
    pub fn is_unchanged_from(&self, previous: &BTreeMap<String, Cursor>) -> bool {
        self.pending.is_empty()
            && self.carried.len() == previous.len()
            && self
                .carried
                .iter()
                .zip(previous)
                .all(|((index, cursor), (path, old))| self.paths[*index as usize] == *path && cursor == old)
    }
}

/// What reading the changed files found besides the events.
#[derive(Default)]
pub struct Reading {
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
#[derive(Default)]
pub struct Scan {
    pub events: Vec<Positioned>,
    pub rejects: Vec<Reject>,
    pub cursors: BTreeMap<String, Cursor>,
    pub waiting: Vec<Reject>,
    pub notices: Vec<(String, String)>,
    pub paths: Vec<String>,
    pub files_seen: usize,
    pub files_read: usize,
    pub bytes_read: u64,
}

#[derive(Debug)]
pub enum SourceError {
    Shrank { file: PathBuf, from: u64, to: u64 },
    Changed { file: PathBuf },
    Io { path: PathBuf, error: std::io::Error },
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
                 or run `observer rebuild`",
                file.display()
            ),
            SourceError::Io { path, error } => write!(f, "cannot read {}: {error}", path.display()),
        }
    }
}

impl std::error::Error for SourceError {}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FileKind {
    /// `.json`: exactly one event per file.
    Single,
    /// `.jsonl` / `.ndjson`: one event per line.
    Lines,
}

/// Which files under `events/` are event sources (SPEC §1).
fn kind_of(name: &str) -> Option<FileKind> {
    if name.starts_with('.') || name.ends_with(".tmp") || name.ends_with(".partial") {
        return None;
    }
    if name.ends_with(".json") {
        Some(FileKind::Single)
    } else if name.ends_with(".jsonl") || name.ends_with(".ndjson") {
        Some(FileKind::Lines)
    } else {
        None
    }
}

#[derive(Clone)]
struct Listed {
    rel: String,
    path: PathBuf,
    kind: FileKind,
    meta: FileMeta,
}

#[derive(Clone, Copy)]
struct FileMeta {
    size: u64,
    dev: u64,
    ino: u64,
    mtime_ns: i64,
    ctime_ns: i64,
    btime_ns: Option<i64>,
}

impl FileMeta {
    #[cfg(any(test, not(target_os = "linux")))]
    fn of(meta: &std::fs::Metadata) -> FileMeta {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            FileMeta {
                size: meta.len(),
                dev: meta.dev(),
                ino: meta.ino(),
                mtime_ns: nanos(meta.mtime(), meta.mtime_nsec()),
                ctime_ns: nanos(meta.ctime(), meta.ctime_nsec()),
                btime_ns: birth_ns(meta),
            }
        }
        #[cfg(not(unix))]
        {
            FileMeta { size: meta.len(), dev: 0, ino: 0, mtime_ns: 0, ctime_ns: 0, btime_ns: birth_ns(meta) }
        }
    }

    #[cfg(target_os = "linux")]
    fn of_statx(stat: &rustix::fs::Statx) -> FileMeta {
        let ns = |t: &rustix::fs::StatxTimestamp| nanos(t.tv_sec, i64::from(t.tv_nsec));
        let has_birth = stat.stx_mask & rustix::fs::StatxFlags::BTIME.bits() != 0;
        FileMeta {
            size: stat.stx_size,
            dev: rustix::fs::makedev(stat.stx_dev_major, stat.stx_dev_minor),
            ino: stat.stx_ino,
            mtime_ns: ns(&stat.stx_mtime),
            ctime_ns: ns(&stat.stx_ctime),
            btime_ns: has_birth.then(|| ns(&stat.stx_btime)),
        }
    }

    /// Whether a cursor was taken of this very file: the same device and
    /// inode, born at the same time where both birth times are known.
    fn is_file_of(&self, cursor: &Cursor) -> bool {
        (cursor.dev, cursor.ino) == (self.dev, self.ino)
            && match (cursor.btime_ns, self.btime_ns) {
                (Some(then), Some(now)) => then == now,
                _ => true,
            }
    }
}

/// A file time in nanoseconds since the epoch: exact from 1678 to 2262, and
/// saturated outside (only equality matters to a cursor).
fn nanos(seconds: i64, nanoseconds: i64) -> i64 {
    seconds.saturating_mul(1_000_000_000).saturating_add(nanoseconds)
}

/// Nanoseconds since the epoch of the file's birth, if the file system
/// records it.
#[cfg(any(test, not(target_os = "linux")))]
fn birth_ns(meta: &std::fs::Metadata) -> Option<i64> {
    let born = meta.created().ok()?;
    match born.duration_since(std::time::UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_nanos()).ok(),
        Err(before) => i64::try_from(before.duration().as_nanos()).ok().map(|n| -n),
    }
}

/// Lists event files in path order. Hidden directories and files, temp
/// names, other extensions and symlinks are skipped: symlinks are not
/// followed, so nothing outside `events/` is ever read as an event.
///
/// On Linux each directory is read once and each file is looked at with
/// `statx` relative to its directory's descriptor: with 50,000 single-event
/// files, listing and looking at them is most of a run with nothing new,
/// and a lookup by full path costs a walk of every component.
#[cfg(target_os = "linux")]
fn list(events_dir: &Path) -> Result<Vec<Listed>, SourceError> {
    use rustix::fs::{AtFlags, CWD, Dir, FileType, Mode, OFlags, StatxFlags, openat, statx};
    let mut out = Vec::new();
    if !events_dir.exists() {
        return Ok(out);
    }
    let io = |path: &Path, error: rustix::io::Errno| SourceError::Io { path: path.to_path_buf(), error: error.into() };
    // `events/` itself may be a symlink (to a bigger disk); nothing under it is followed.
    let mut stack = vec![(events_dir.to_path_buf(), String::new(), OFlags::empty())];
    while let Some((dir, rel_dir, no_follow)) = stack.pop() {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | no_follow;
        let fd = match openat(CWD, &dir, flags, Mode::empty()) {
            Ok(fd) => fd,
            // Gone, or replaced by a link, since its parent was read.
            Err(rustix::io::Errno::NOENT | rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR) => continue,
            Err(error) => return Err(io(&dir, error)),
        };
        let mut entries = Dir::read_from(&fd).map_err(|e| io(&dir, e))?;
        while let Some(entry) = entries.read() {
            let entry = entry.map_err(|e| io(&dir, e))?;
            let name = entry.file_name();
            let bytes = name.to_bytes();
            if bytes.starts_with(b".") {
                continue; // hidden, and `.` and `..`
            }
            let os_name = <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(bytes);
            let mut file_type = entry.file_type();
            let kind = kind_of(&os_name.to_string_lossy());
            if file_type == FileType::Unknown || (file_type == FileType::RegularFile && kind.is_some()) {
                let stat =
                    match statx(&fd, name, AtFlags::SYMLINK_NOFOLLOW, StatxFlags::BASIC_STATS | StatxFlags::BTIME) {
                        Ok(stat) => stat,
                        Err(rustix::io::Errno::NOENT) => continue,
                        Err(error) => return Err(io(&dir.join(os_name), error)),
                    };
                file_type = FileType::from_raw_mode(u32::from(stat.stx_mode));
                if file_type == FileType::RegularFile
                    && let Some(kind) = kind
                {
                    let rel = format!("{rel_dir}{}", path_key(os_name));
                    out.push(Listed { rel, path: dir.join(os_name), kind, meta: FileMeta::of_statx(&stat) });
                    continue;
                }
            }
            if file_type == FileType::Directory {
                stack.push((dir.join(os_name), format!("{rel_dir}{}/", path_key(os_name)), OFlags::NOFOLLOW));
            }
        }
    }
    // Byte order of the relative path is the tie-break order of SPEC §3.
    out.sort_unstable_by(|a, b| a.rel.cmp(&b.rel));
    Ok(out)
}

/// Lists event files in path order (elsewhere than on Linux): as above,
/// with a lookup by path for each file.
#[cfg(not(target_os = "linux"))]
fn list(events_dir: &Path) -> Result<Vec<Listed>, SourceError> {
    let mut out = Vec::new();
    if !events_dir.exists() {
        return Ok(out);
    }
    // Not sorted by walkdir: the list is sorted by relative path below.
    let walker = walkdir::WalkDir::new(events_dir)
        .follow_links(false)
        .into_iter()
        .filter_entry(|entry| entry.depth() == 0 || !entry.file_name().to_string_lossy().starts_with('.'));
    for entry in walker {
        let entry = entry.map_err(|e| SourceError::Io {
            path: e.path().map(Path::to_path_buf).unwrap_or_else(|| events_dir.to_path_buf()),
            error: e.into(),
        })?;
        if !entry.file_type().is_file() {
            continue;
        }
        let Some(kind) = kind_of(&entry.file_name().to_string_lossy()) else { continue };
        let meta = match entry.metadata() {
            Ok(meta) => meta,
            Err(e) if e.io_error().is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound) => continue,
            Err(e) => return Err(SourceError::Io { path: entry.path().to_path_buf(), error: e.into() }),
        };
        let rel_path = entry.path().strip_prefix(events_dir).unwrap_or(entry.path());
        let rel = match rel_path.to_str() {
            Some(text) => text.to_string(),
            None => rel_path.components().map(|c| path_key(c.as_os_str())).collect::<Vec<_>>().join("/"),
        };
        out.push(Listed { rel, path: entry.path().to_path_buf(), kind, meta: FileMeta::of(&meta) });
    }
    // Byte order of the relative path is the tie-break order of SPEC §3.
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(out)
}

/// A file name as a cursor key: UTF-8 as is, any other byte as `\xNN`, so
/// that two names never share a key.
fn path_key(name: &std::ffi::OsStr) -> String {
    if let Some(text) = name.to_str() {
        return text.to_string();
    }
    let mut key = String::new();
    for chunk in name.as_encoded_bytes().utf8_chunks() {
        key.push_str(chunk.valid());
        for byte in chunk.invalid() {
            key.push_str(&format!("\\x{byte:02x}"));
        }
    }
    key
}

/// Lists `events_dir`, matches each file to the cursor it continues and
/// decides which files need reading. Files whose size, identity and times
/// are those of their cursor are not opened.
pub fn plan(events_dir: &Path, previous: &BTreeMap<String, Cursor>) -> Result<Plan, SourceError> {
    let listed = list(events_dir)?;
    let mut notices = Vec::new();
    let cursors = match_cursors(&listed, previous, &mut notices)?;
    let mut plan = Plan {
        paths: listed.iter().map(|l| l.rel.clone()).collect(),
        carried: Vec::new(),
        notices,
        files_seen: listed.len(),
        pending: Vec::new(),
    };
    for (index, (file, cursor)) in listed.into_iter().zip(cursors).enumerate() {
        let index = u32::try_from(index).unwrap_or(u32::MAX);
        if let Some(c) = &cursor
            && c.size == file.meta.size
            && c.dev == file.meta.dev
            && c.ino == file.meta.ino
            && c.mtime_ns == file.meta.mtime_ns
            && c.ctime_ns == file.meta.ctime_ns
            && c.btime_ns == file.meta.btime_ns
        {
            plan.carried.push((index, c.clone()));
            continue;
        }
        plan.pending.push(Pending { index, listed: file, cursor });
    }
    Ok(plan)
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
    let reading = merge.finish();
    Ok(Scan {
        events,
        rejects: reading.rejects,
        cursors: reading.cursors,
        waiting: reading.waiting,
        notices: plan.notices,
        paths: plan.paths,
        files_seen: plan.files_seen,
        files_read: reading.files_read,
        bytes_read: reading.bytes_read,
    })
}

/// Why a merge stopped.
#[derive(Debug)]
pub enum ReadError {
    Source(SourceError),
    /// A `.jsonl` file whose events do not come in time order (the file
    /// index of the plan): the merge cannot stream it. The caller starts
    /// over with that file read whole and sorted ([`Merge::open`]).
    Unsorted {
        file: u32,
    },
}

impl From<SourceError> for ReadError {
    fn from(error: SourceError) -> ReadError {
        ReadError::Source(error)
    }
}

/// The new events of a plan, in processing order `(ts, path, position)`
/// (SPEC §3), streamed: each changed `.jsonl` file is read in chunks from
/// its cursor, and the files are merged by their next event. Producers
/// append in time order, so a file is a sorted run, and a rebuild of any
/// history holds one event per file at a time instead of the history.
/// Single-event `.json` files, and `.jsonl` files found out of order, are
/// read whole and sorted first.
pub struct Merge {
    sources: Vec<Source>,
    /// The next event of each source, keyed for the smallest first.
    heads: BinaryHeap<Head>,
    check_order: bool,
    reading: Reading,
}

enum Source {
    Lines(Box<LineReader>),
    Sorted(std::vec::IntoIter<Positioned>),
}

struct Head {
    event: Positioned,
    source: usize,
}

impl PartialEq for Head {
    fn eq(&self, other: &Head) -> bool {
        self.event.key() == other.event.key()
    }
}

impl Eq for Head {}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Head) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Head {
    /// Reversed: `BinaryHeap` is a max-heap, the merge wants the smallest.
    fn cmp(&self, other: &Head) -> std::cmp::Ordering {
        other.event.key().cmp(&self.event.key())
    }
}

impl Merge {
    /// Opens the changed files of `plan`. Files in `whole` (indexes of the
    /// plan) are read whole and sorted, as are single-event files. With
    /// `check_order`, a `.jsonl` file whose time goes back stops the merge
    /// with [`ReadError::Unsorted`]; without it, events come in no
    /// particular order.
    pub fn open(plan: &Plan, whole: &HashSet<u32>, check_order: bool) -> Result<Merge, SourceError> {
        let mut merge =
            Merge { sources: Vec::new(), heads: BinaryHeap::new(), check_order, reading: Reading::default() };
        // In path order, so the map is built in bulk.
        merge.reading.cursors =
            plan.carried.iter().map(|(index, cursor)| (plan.paths[*index as usize].clone(), cursor.clone())).collect();
        let mut sorted = Vec::new();
        for pending in &plan.pending {
            match pending.listed.kind {
                FileKind::Single => {
                    if let Some(event) = read_single(pending, &mut merge.reading)? {
                        sorted.push(event);
                    }
                }
                FileKind::Lines => {
                    let Some(mut reader) = LineReader::open(pending)? else { continue };
                    if whole.contains(&pending.index) {
                        while let Some(event) = reader.next_event(&mut merge.reading)? {
                            sorted.push(event);
                        }
                    } else {
                        merge.sources.push(Source::Lines(Box::new(reader)));
                    }
                }
            }
        }
        sorted.sort_unstable_by_key(Positioned::key);
        merge.sources.push(Source::Sorted(sorted.into_iter()));
        for source in 0..merge.sources.len() {
            if let Some(event) = merge.pull(source)? {
                merge.heads.push(Head { event, source });
            }
        }
        Ok(merge)
    }

    fn pull(&mut self, source: usize) -> Result<Option<Positioned>, SourceError> {
        match &mut self.sources[source] {
            Source::Lines(reader) => reader.next_event(&mut self.reading),
            Source::Sorted(events) => Ok(events.next()),
        }
    }

    /// The next event in processing order, or `None` when every file is read.
    #[allow(clippy::should_implement_trait)] // fallible, unlike Iterator::next
    pub fn next(&mut self) -> Result<Option<Positioned>, ReadError> {
        let Some(Head { event, source }) = self.heads.pop() else { return Ok(None) };
        if let Some(following) = self.pull(source)? {
            if self.check_order && following.ts < event.ts {
                return Err(ReadError::Unsorted { file: event.file });
            }
            self.heads.push(Head { event: following, source });
        }
        Ok(Some(event))
    }

    /// What the reading found besides the events: rejections in file and
    /// line order, the files waiting for the rest of a line, and the cursors
    /// to commit. Call it once [`Merge::next`] returned `None`.
    pub fn finish(self) -> Reading {
        let mut reading = self.reading;
        reading.rejects.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        reading.waiting.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        reading
    }
}

/// Which previous cursor, if any, each listed file continues. Paths are the
/// first guess and device/inode a hint; the consumed prefix decides:
/// - same path, same inode (and the same birth time, where known): the same
///   file;
/// - a file whose inode had a cursor under another name: renamed (rotation
///   or a move), it keeps that cursor, and its old path, if it holds a new
///   file now, starts from zero;
/// - same path, a new file (a new inode, or the old inode number reused by a
///   file born later), old inode gone: if the file begins as the old one
///   did, it is the same file copied in place and the append-only check
///   decides; otherwise it replaced the old one (rotation with the old file
///   renamed out of `events/`) and is read from the start, with a notice;
/// - a new path whose content begins with the consumed prefix of a file that
///   vanished: moved by copy and delete, it keeps that cursor.
fn match_cursors(
    listed: &[Listed],
    previous: &BTreeMap<String, Cursor>,
    notices: &mut Vec<(String, String)>,
) -> Result<Vec<Option<Cursor>>, SourceError> {
    // Both are in path order, so each file's own cursor is found by walking
    // them side by side; the maps by inode are built only if some file is
    // not the one its own cursor was taken of (a rename, a replacement).
    let mut own_cursors = previous.iter().peekable();
    let mut by_inode: Option<HashMap<(u64, u64), &str>> = None;
    let mut listed_inodes: Option<HashSet<(u64, u64)>> = None;
    let mut claimed: HashSet<&str> = HashSet::new();
    let mut owned = 0;
    let mut out = Vec::with_capacity(listed.len());
    for file in listed {
        while own_cursors.next_if(|(rel, _)| rel.as_str() < file.rel.as_str()).is_some() {}
        let own = own_cursors.next_if(|(rel, _)| **rel == file.rel).map(|(_, c)| c);
        owned += usize::from(own.is_some());
        if let Some(c) = own
            && file.meta.is_file_of(c)
        {
            out.push(Some(c.clone()));
            continue;
        }
        let id = (file.meta.dev, file.meta.ino);
        let by_inode =
            by_inode.get_or_insert_with(|| previous.iter().map(|(rel, c)| ((c.dev, c.ino), rel.as_str())).collect());
        let cursor = match by_inode.get(&id) {
            Some(other) if *other != file.rel && prefix_matches(file, &previous[*other])? => {
                claimed.insert(other);
                Some(previous[*other].clone())
            }
            _ => match own {
                // Its old inode is another listed file now: renamed.
                Some(c)
                    if (c.dev, c.ino) != id
                        && listed_inodes
                            .get_or_insert_with(|| listed.iter().map(|l| (l.meta.dev, l.meta.ino)).collect())
                            .contains(&(c.dev, c.ino)) =>
                {
                    None
                }
                Some(c) if head_matches(file, c)? => Some(c.clone()),
                Some(_) => {
                    notices.push((
                        file.rel.clone(),
                        "was replaced by a different file (a new file at that path, with different first \
                         bytes); it is read from the start, and anything the old file got after the last run \
                         is not read"
                            .to_string(),
                    ));
                    None
                }
                None => None,
            },
        };
        out.push(cursor);
    }
    if owned == previous.len() {
        // Every cursor's path is still listed: nothing vanished.
        return Ok(out);
    }
    let present: HashSet<&str> = listed.iter().map(|l| l.rel.as_str()).collect();
    // Moves by copy and delete: new paths against the cursors of vanished
    // files, compared by content. Bounded: a mass deletion is not searched.
    let vanished: Vec<(&str, &Cursor)> = previous
        .iter()
        .filter(|(rel, c)| c.offset > 0 && !present.contains(rel.as_str()) && !claimed.contains(rel.as_str()))
        .map(|(rel, c)| (rel.as_str(), c))
        .collect();
    if vanished.is_empty() || vanished.len() > 256 {
        return Ok(out);
    }
    let mut taken: HashSet<&str> = HashSet::new();
    for (file, cursor) in listed.iter().zip(out.iter_mut()) {
        if cursor.is_some() || previous.contains_key(&file.rel) {
            continue;
        }
        for (rel, candidate) in &vanished {
            if !taken.contains(rel) && candidate.offset <= file.meta.size && prefix_matches(file, candidate)? {
                taken.insert(rel);
                *cursor = Some((*candidate).clone());
                break;
            }
        }
    }
    Ok(out)
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> SourceError + '_ {
    move |error| SourceError::Io { path: path.to_path_buf(), error }
}

/// Opens a listed file; `None` if it was deleted since the listing, which
/// leaves nothing to consume.
fn open_if_present(path: &Path) -> Result<Option<File>, SourceError> {
    match File::open(path) {
        Ok(file) => Ok(Some(file)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(path)(e)),
    }
}

fn read_range(file: &mut File, path: &Path, from: u64, len: Option<u64>) -> Result<Vec<u8>, SourceError> {
    file.seek(SeekFrom::Start(from)).map_err(io_error(path))?;
    let mut buf = Vec::new();
    match len {
        Some(len) => {
            file.take(len).read_to_end(&mut buf).map_err(io_error(path))?;
        }
        None => {
            file.read_to_end(&mut buf).map_err(io_error(path))?;
        }
    }
    Ok(buf)
}

/// Whether the file begins with the prefix a cursor consumed (same first and
/// last 4 KiB of it). A file that vanished meanwhile does not match.
fn prefix_matches(listed: &Listed, cursor: &Cursor) -> Result<bool, SourceError> {
    Ok(read_prefix_ends(listed, cursor)?.is_some_and(|(head, tail)| head == cursor.head && tail == cursor.tail))
}

/// Whether the file begins with the same first bytes as the consumed prefix:
/// the identity of a log (SPEC: a fingerprint of the first bytes).
/// A shorter file still matches if its head does (it shrank: the append-only
/// check reports that).
fn head_matches(listed: &Listed, cursor: &Cursor) -> Result<bool, SourceError> {
    let len = cursor.offset.min(PRINT_LEN);
    if listed.meta.size < len {
        return Ok(false);
    }
    let Some(mut file) = open_if_present(&listed.path)? else { return Ok(false) };
    Ok(fnv1a(&read_range(&mut file, &listed.path, 0, Some(len))?) == cursor.head)
}

/// Hashes of the first and last `min(offset, 4 KiB)` bytes of the file's
/// first `cursor.offset` bytes; `None` if the file is shorter or gone.
fn read_prefix_ends(listed: &Listed, cursor: &Cursor) -> Result<Option<(u64, u64)>, SourceError> {
    let path = &listed.path;
    if listed.meta.size < cursor.offset {
        return Ok(None);
    }
    let Some(mut file) = open_if_present(path)? else { return Ok(None) };
    let len = cursor.offset.min(PRINT_LEN);
    let head = fnv1a(&read_range(&mut file, path, 0, Some(len))?);
    if head != cursor.head {
        return Ok(Some((head, 0)));
    }
    let tail = fnv1a(&read_range(&mut file, path, cursor.offset - len, Some(len))?);
    Ok(Some((head, tail)))
}

/// Opens a file that changed, checking first that it did not shrink and that
/// the consumed prefix is intact; `None` if it is gone.
fn open_checked(listed: &Listed, cursor: Option<&Cursor>) -> Result<Option<File>, SourceError> {
    let path = &listed.path;
    let offset = cursor.map_or(0, |c| c.offset);
    if listed.meta.size < offset {
        return Err(SourceError::Shrank { file: path.clone(), from: offset, to: listed.meta.size });
    }
    let Some(mut file) = open_if_present(path)? else { return Ok(None) };
    if let Some(c) = cursor {
        let len = offset.min(PRINT_LEN);
        let tail = read_range(&mut file, path, offset - len, Some(len))?;
        if (tail.len() as u64) < len {
            return Err(SourceError::Shrank { file: path.clone(), from: offset, to: offset - len + tail.len() as u64 });
        }
        let head = if offset <= PRINT_LEN { fnv1a(&tail) } else { fnv1a(&read_range(&mut file, path, 0, Some(len))?) };
        if head != c.head || fnv1a(&tail) != c.tail {
            return Err(SourceError::Changed { file: path.clone() });
        }
    }
    Ok(Some(file))
}

/// The cursor of a file consumed up to `offset` (`lines` lines): the
/// fingerprints are read back from the file, which is still open.
fn cursor_at(
    listed: &Listed,
    old: Option<&Cursor>,
    file: &mut File,
    offset: u64,
    lines: u64,
) -> Result<Cursor, SourceError> {
    let len = offset.min(PRINT_LEN);
    let head = match old {
        Some(c) if c.offset >= PRINT_LEN => c.head,
        _ => fnv1a(&read_range(file, &listed.path, 0, Some(len))?),
    };
    let tail = fnv1a(&read_range(file, &listed.path, offset - len, Some(len))?);
    Ok(Cursor {
        offset,
        lines,
        size: listed.meta.size,
        dev: listed.meta.dev,
        ino: listed.meta.ino,
        mtime_ns: listed.meta.mtime_ns,
        ctime_ns: listed.meta.ctime_ns,
        btime_ns: listed.meta.btime_ns,
        head,
        tail,
    })
}

/// Bytes read from a `.jsonl` file at once. Lines longer than this (a
/// rejected 1 MiB line, say) grow the buffer for as long as they last.
const CHUNK: usize = 256 * 1024;

/// Reads the new lines of one `.jsonl` file, a chunk at a time.
struct LineReader {
    file: File,
    index: u32,
    listed: Listed,
    old: Option<Cursor>,
    buf: Vec<u8>,
    /// `buf[at..]` is not consumed yet; `buf[..at]` is.
    at: usize,
    /// The file offset of `buf[0]`.
    buf_offset: u64,
    lines: u64,
    eof: bool,
    done: bool,
}

impl LineReader {
    fn open(pending: &Pending) -> Result<Option<LineReader>, SourceError> {
        let Some(mut file) = open_checked(&pending.listed, pending.cursor.as_ref())? else { return Ok(None) };
        let offset = pending.cursor.as_ref().map_or(0, |c| c.offset);
        file.seek(SeekFrom::Start(offset)).map_err(io_error(&pending.listed.path))?;
        Ok(Some(LineReader {
            file,
            index: pending.index,
            listed: pending.listed.clone(),
            old: pending.cursor.clone(),
            buf: Vec::with_capacity(CHUNK),
            at: 0,
            buf_offset: offset,
            lines: pending.cursor.as_ref().map_or(0, |c| c.lines),
            eof: false,
            done: false,
        }))
    }

    /// Reads more bytes after what is not consumed yet; false at the end.
    fn fill(&mut self, reading: &mut Reading) -> Result<bool, SourceError> {
        if self.eof {
            return Ok(false);
        }
        self.buf.drain(..self.at);
        self.buf_offset += self.at as u64;
        self.at = 0;
        let kept = self.buf.len();
        self.buf.resize(kept + CHUNK, 0);
        let read = loop {
            match self.file.read(&mut self.buf[kept..]) {
                Ok(read) => break read,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_error(&self.listed.path)(e)),
            }
        };
        self.buf.truncate(kept + read);
        reading.bytes_read += read as u64;
        self.eof = read == 0;
        Ok(read > 0)
    }

    /// The next valid event; rejected lines go to `reading` on the way. At
    /// the end of the file its cursor (and a waiting last line) goes there
    /// too, and `None` comes back.
    fn next_event(&mut self, reading: &mut Reading) -> Result<Option<Positioned>, SourceError> {
        if self.done {
            return Ok(None);
        }
        loop {
            let Some(len) = self.buf[self.at..].iter().position(|b| *b == b'\n') else {
                if self.fill(reading)? {
                    continue;
                }
                return self.finish(reading).map(|()| None);
            };
            let start = self.at;
            self.at += len + 1;
            self.lines += 1;
            let position = self.buf_offset + start as u64;
            let mut line = &self.buf[start..start + len];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            if position == 0 && line.starts_with(b"\xEF\xBB\xBF") {
                line = &line[3..];
            }
            // NUL bytes before an event are what a crash can leave in a file
            // (its size reached the disk, its data did not): padding, skipped
            // so that the event appended after them is not lost with them.
            line = &line[line.iter().take_while(|b| **b == 0).count()..];
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let reason = match parse_event(line) {
                Parsed::Event(event) => {
                    return Ok(Some(Positioned { ts: event.ts, file: self.index, position, event }));
                }
                Parsed::Rejected(reason) => reason.0,
                Parsed::Incomplete => "not valid JSON: the line ends before the event does".into(),
            };
            reading.rejects.push(Reject { file: self.listed.rel.clone(), line: self.lines, reason });
        }
    }

    fn finish(&mut self, reading: &mut Reading) -> Result<(), SourceError> {
        self.done = true;
        reading.files_read += 1;
        let rest = &self.buf[self.at..];
        if !rest.iter().all(|b| b.is_ascii_whitespace() || *b == 0) {
            reading.waiting.push(Reject {
                file: self.listed.rel.clone(),
                line: self.lines + 1,
                reason: "the last line has no newline yet; it is read once it is complete".into(),
            });
        }
        let end = self.buf_offset + self.at as u64;
        let cursor = cursor_at(&self.listed, self.old.as_ref(), &mut self.file, end, self.lines)?;
        reading.cursors.insert(self.listed.rel.clone(), cursor);
        self.buf = Vec::new();
        Ok(())
    }
}

/// Reads a changed single-event `.json` file: its event, if it has a new
/// one; its cursor and what it rejects or waits for go to `reading`.
fn read_single(pending: &Pending, reading: &mut Reading) -> Result<Option<Positioned>, SourceError> {
    let listed = &pending.listed;
    let rel = &listed.rel;
    if let Some(c) = pending.cursor.as_ref().filter(|c| c.offset > 0) {
        // Already consumed. Trailing white space (a producer's late newline)
        // is accepted; any other change to a single-event file is a rewrite.
        let Some(mut file) = open_checked(listed, Some(c))? else { return Ok(None) };
        let rest = read_range(&mut file, &listed.path, c.offset, None)?;
        if !rest.iter().all(u8::is_ascii_whitespace) {
            return Err(SourceError::Changed { file: listed.path.clone() });
        }
        let cursor = Cursor {
            size: listed.meta.size,
            dev: listed.meta.dev,
            ino: listed.meta.ino,
            mtime_ns: listed.meta.mtime_ns,
            ctime_ns: listed.meta.ctime_ns,
            btime_ns: listed.meta.btime_ns,
            ..c.clone()
        };
        reading.cursors.insert(rel.clone(), cursor);
        return Ok(None);
    }
    let Some(mut file) = open_checked(listed, None)? else { return Ok(None) };
    let data = read_range(&mut file, &listed.path, 0, None)?;
    reading.files_read += 1;
    reading.bytes_read += data.len() as u64;
    let mut body: &[u8] = &data;
    if body.starts_with(b"\xEF\xBB\xBF") {
        body = &body[3..];
    }
    let line = 1 + body.iter().take_while(|b| b.is_ascii_whitespace()).filter(|b| **b == b'\n').count() as u64;
    let event = match parse_event(body) {
        // Not complete yet (or empty): no cursor, so the next run looks again.
        Parsed::Incomplete => {
            reading.waiting.push(Reject {
                file: rel.clone(),
                line,
                reason: "the event does not parse yet (an incomplete write?); it is read once it is complete".into(),
            });
            return Ok(None);
        }
        Parsed::Event(event) => Some(Positioned { ts: event.ts, file: pending.index, position: 0, event }),
        Parsed::Rejected(reason) => {
            reading.rejects.push(Reject { file: rel.clone(), line, reason: reason.0 });
            None
        }
    };
    let cursor = cursor_at(listed, None, &mut file, data.len() as u64, 1)?;
    reading.cursors.insert(rel.clone(), cursor);
    Ok(event)
}

#[cfg(all(test, unix))]
mod tests {
    use std::io::Write;

    use super::*;

    fn stat(path: &Path) -> FileMeta {
        FileMeta::of(&std::fs::metadata(path).unwrap())
    }

    fn line(ts: &str) -> String {
        format!("{{\"ts\":\"{ts}\",\"type\":\"tick\"}}\n")
    }

    fn keys(merge: &mut Merge) -> Result<Vec<(String, u32, u64)>, ReadError> {
        let mut out = Vec::new();
        while let Some(event) = merge.next()? {
            out.push((event.ts.to_rfc3339(), event.file, event.position));
        }
        Ok(out)
    }

    #[test]
    fn the_merge_gives_events_in_processing_order_across_files_and_kinds() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: String| std::fs::write(dir.path().join(name), text).unwrap();
        write("a.jsonl", [line("2026-05-12T12:00:00Z"), line("2026-05-12T12:02:00Z")].concat());
        write("b.jsonl", [line("2026-05-12T12:00:00Z"), line("2026-05-12T12:01:00Z")].concat());
        write("c.json", line("2026-05-12T12:01:00Z"));
        let plan = plan(dir.path(), &BTreeMap::new()).unwrap();
        let mut merge = Merge::open(&plan, &HashSet::new(), true).unwrap();
        let a_second = line("2026-05-12T12:00:00Z").len() as u64;
        assert_eq!(
            keys(&mut merge).unwrap(),
            [
                ("2026-05-12T12:00:00Z".to_string(), 0, 0),
                ("2026-05-12T12:00:00Z".to_string(), 1, 0),
                ("2026-05-12T12:01:00Z".to_string(), 1, a_second),
                ("2026-05-12T12:01:00Z".to_string(), 2, 0),
                ("2026-05-12T12:02:00Z".to_string(), 0, a_second),
            ]
        );
        assert_eq!(merge.finish().cursors.len(), 3);
    }

    #[test]
    fn a_file_out_of_time_order_stops_the_merge_and_is_sorted_when_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let text = [line("2026-05-12T12:05:00Z"), line("2026-05-12T12:00:00Z")].concat();
        std::fs::write(dir.path().join("a.jsonl"), &text).unwrap();
        std::fs::write(dir.path().join("b.jsonl"), line("2026-05-12T12:01:00Z")).unwrap();
        let plan = plan(dir.path(), &BTreeMap::new()).unwrap();
        let mut merge = Merge::open(&plan, &HashSet::new(), true).unwrap();
        assert!(matches!(keys(&mut merge), Err(ReadError::Unsorted { file: 0 })));
        let mut merge = Merge::open(&plan, &HashSet::from([0]), true).unwrap();
        let times: Vec<String> = keys(&mut merge).unwrap().into_iter().map(|k| k.0).collect();
        assert_eq!(times, ["2026-05-12T12:00:00Z", "2026-05-12T12:01:00Z", "2026-05-12T12:05:00Z"]);
        assert_eq!(merge.finish().cursors["a.jsonl"].offset, text.len() as u64);
    }

    #[test]
    fn lines_longer_than_a_chunk_are_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let long = format!(
            "{{\"ts\":\"2026-05-12T12:00:00Z\",\"type\":\"tick\",\"message\":\"{}\"}}\n",
            "x".repeat(CHUNK * 2 + 17)
        );
        let text = [long, line("2026-05-12T12:01:00Z"), "{\"ts\":".to_string()].concat();
        std::fs::write(dir.path().join("a.jsonl"), &text).unwrap();
        let scan = scan(dir.path(), &BTreeMap::new()).unwrap();
        assert_eq!(scan.events.len(), 2);
        assert_eq!(scan.waiting.len(), 1, "the unfinished last line waits");
        assert_eq!(scan.cursors["a.jsonl"].offset, text.len() as u64 - "{\"ts\":".len() as u64);
        assert_eq!(scan.bytes_read, text.len() as u64);
    }

    #[test]
    fn a_consumed_json_file_given_a_late_newline_is_not_opened_again_on_every_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        std::fs::write(&path, r#"{"ts":"2026-05-12T12:00:00Z","type":"tick"}"#).unwrap();
        let first = scan(dir.path(), &BTreeMap::new()).unwrap();
        assert_eq!(first.events.len(), 1);
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"\n").unwrap();
        let second = scan(dir.path(), &first.cursors).unwrap();
        assert!(second.events.is_empty());
        let cursor = &second.cursors["a.json"];
        let now = stat(&path);
        assert_eq!((cursor.size, cursor.mtime_ns, cursor.ctime_ns), (now.size, now.mtime_ns, now.ctime_ns));
    }

    #[test]
    fn nul_padding_before_an_event_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let event = br#"{"ts":"2026-05-12T12:00:00Z","type":"tick"}"#;
        let text = [&b"\0\0\0\0\n"[..], b"\0\0", event, b"\n", b"\0\0\0"].concat();
        std::fs::write(dir.path().join("a.jsonl"), text).unwrap();
        let scan = scan(dir.path(), &BTreeMap::new()).unwrap();
        assert_eq!(scan.events.len(), 1);
        assert!(scan.rejects.is_empty());
        assert!(scan.waiting.is_empty(), "trailing NUL bytes are padding, not a line in the making");
    }
}
