//! Appending a pass's history lines: [`stage`] before the world that drops
//! their entries is written, [`Staged::settle`] after it (see the module
//! above for why the order and the kept tail).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::early::Streamed;
use super::{FileMark, HistoryError, HistoryMarks, Lines, deleted_months, listing};
use crate::store::atomic::{self, is_the_file_at, sync_dir, write_atomic};
use crate::store::fault_injection;

/// What a pass's lines are appended after.
#[derive(Clone, Copy, Debug)]
pub enum Basis<'a> {
    /// An incremental pass: what the live checkpoint commits.
    Committed(&'a HistoryMarks),
    /// An incremental pass after a checkpoint written before the history,
    /// which has no marks: every history file there is counts as committed
    /// whole (read and hashed once).
    Adopt,
    /// Every line again, from nothing (a rebuild, a run without a
    /// checkpoint, `rebuild --out`), with the live checkpoint's marks when
    /// there is one: they tell the months the user deleted, and which files
    /// a crashed pass left. A file the events no longer give (its events
    /// were removed, say) is kept as it is.
    Scratch(Option<&'a HistoryMarks>),
}

/// The lines are on disk (synced); the world may now be written, then
/// [`Staged::settle`] gives the marks to commit.
#[must_use]
pub struct Staged {
    dir: PathBuf,
    marks: HistoryMarks,
    /// Files whose tail was not what this pass decides, to set right once
    /// the world is written.
    settle: Vec<Settle>,
    /// Files written or read here, to stamp again.
    touched: BTreeSet<String>,
    /// Lines not written because their month was deleted.
    pub dropped: u64,
}

struct Settle {
    name: String,
    /// The committed mark (`None`: the checkpoint does not know the file).
    base: Option<FileMark>,
    /// This pass's lines for the file.
    new: Vec<u8>,
}

/// Appends `lines` to their files under `dir`, each file synced, keeping
/// and verifying what a crashed pass left past the marks of `basis`. The
/// lines are freed on return, but for those of a file to settle.
pub fn stage(dir: &Path, basis: Basis, lines: Lines) -> Result<Staged, HistoryError> {
    stage_after(dir, basis, lines, Streamed::default())
}

/// [`stage`], after the files of `streamed` were written while the fold
/// ran: they are taken as this pass's whole lines of their months (their
/// lines in `lines`, if any, are not written again). On an error, those
/// files are removed, as they were absent when the pass started.
pub fn stage_after(dir: &Path, basis: Basis, mut lines: Lines, mut streamed: Streamed) -> Result<Staged, HistoryError> {
    let adopted;
    let basis = match basis {
        Basis::Adopt => {
            adopted = adopt(dir)?;
            Basis::Committed(&adopted)
        }
        basis => basis,
    };
    let listed = listing(dir)?;
    for temp in &listed.temps {
        // Usually there is none; one that cannot be removed stays hidden,
        // and the next settle of its file replaces it.
        let _ = std::fs::remove_file(temp);
    }
    let mut found = listed.files;
    found.retain(|name, _| !streamed.files.contains_key(name));
    // The files whose first lines were compared while the fold ran: when
    // they hold those lines and no more, their mark is known, and what
    // follows is appended; else the lines dropped are put back in front.
    let mut whole: BTreeMap<String, FileMark> = BTreeMap::new();
    for (name, compared) in std::mem::take(&mut streamed.compared) {
        let path = dir.join(&name);
        if found.get(&name).is_some_and(|&size| compared.is_whole(&path, size)) {
            whole.insert(name, compared.mark);
            continue;
        }
        let mut bytes = compared.read_back(&path)?;
        bytes.extend(lines.files.remove(&name).unwrap_or_default());
        lines.files.insert(name, bytes);
    }
    let produced = &lines.files;
    let (committed, live) = match basis {
        Basis::Committed(marks) => (Some(&marks.files), Some(marks)),
        Basis::Scratch(live) => (None, live),
        Basis::Adopt => (None, None),
    };
    // Whether the directory was there when the pass started: the files
    // written during the fold may have made it.
    let present = streamed.present.unwrap_or_else(|| dir.is_dir());
    let deleted = deleted_months(live, present, &found);
    let committed = committed.filter(|_| present);
    let mut staged = Staged {
        dir: dir.to_path_buf(),
        marks: HistoryMarks { files: BTreeMap::new(), deleted },
        settle: Vec::new(),
        touched: BTreeSet::new(),
        dropped: 0,
    };
    // Every file is checked before anything is appended, so that a refusal
    // changes nothing.
    let mut appends: Vec<(PathBuf, u64, &[u8])> = Vec::new();
    // The settles that take this pass's lines of their file, once appended.
    let mut to_fill = Vec::new();
    // Files whose mark is that of this pass's lines alone, hashed while
    // the appends are written.
    let mut of_new: Vec<&String> = Vec::new();
    let names: BTreeSet<&String> = found.keys().chain(produced.keys()).collect();
    for name in names {
        if let Some(mark) = streamed.files.get(name) {
            staged.marks.files.insert(name.clone(), *mark);
            staged.touched.insert(name.clone());
            continue;
        }
        if let (Some(mark), Some(&size)) = (whole.get(name), found.get(name)) {
            let rest = produced.get(name).map_or(&[][..], Vec::as_slice);
            appends.push((dir.join(name), size, rest));
            staged.marks.files.insert(name.clone(), mark.after(rest));
            staged.touched.insert(name.clone());
            continue;
        }
        let new = produced.get(name).map_or(&[][..], Vec::as_slice);
        if staged.marks.deleted.contains(name) {
            staged.dropped += new.iter().filter(|b| **b == b'\n').count() as u64;
            continue;
        }
        let base = committed.and_then(|files| files.get(name)).copied();
        let path = dir.join(name);
        let Some(&size) = found.get(name) else {
            appends.push((path, 0, new));
            of_new.push(name);
            staged.touched.insert(name.clone());
            continue;
        };
        if let Some(base) = base {
            if size < base.bytes {
                return Err(HistoryError::Shorter { path, committed: base.bytes, found: size });
            }
            if size == base.bytes && new.is_empty() {
                staged.marks.files.insert(name.clone(), base);
                continue;
            }
        } else if new.is_empty() {
            // Not committed and not written by this pass: a crashed pass's
            // file goes (after the world is written); anything else stays.
            let leftover = present && live.is_some_and(|m| !m.files.contains_key(name));
            if leftover {
                staged.settle.push(Settle { name: name.clone(), base: None, new: Vec::new() });
            } else {
                staged.marks.files.insert(name.clone(), mark_of_file(&path)?);
                staged.touched.insert(name.clone());
            }
            continue;
        }
        let committed_mark = base.unwrap_or_default();
        staged.touched.insert(name.clone());
        if let Some(tail) = tail_begins(&path, &committed_mark, new)? {
            appends.push((path, size, &new[tail..]));
            match base {
                Some(base) => {
                    staged.marks.files.insert(name.clone(), base.after(new));
                }
                None => of_new.push(name),
            }
        } else {
            // Kept until the world that follows these lines is written.
            appends.push((path, size, new));
            to_fill.push(staged.settle.len());
            staged.settle.push(Settle { name: name.clone(), base, new: Vec::new() });
        }
    }
    let wanted: Vec<(&String, &[u8])> =
        of_new.into_iter().map(|name| (name, produced.get(name).map_or(&[][..], Vec::as_slice))).collect();
    let marks = hashed_beside(&wanted, || {
        for (path, size, bytes) in appends {
            append(dir, &path, size, bytes)?;
        }
        Ok(())
    })?;
    staged.marks.files.extend(marks);
    // Committed with the others from here on.
    streamed.keep();
    for at in to_fill {
        let settle = &mut staged.settle[at];
        settle.new = lines.files.remove(&settle.name).unwrap_or_default();
    }
    Ok(staged)
}

/// Above this many bytes of lines to hash, they are hashed on a worker
/// (`crate::threads`) while the lines are written.
const HASH_BESIDE_BYTES: usize = 1 << 20;

/// The marks of `files` (names and their bytes), hashed while `write` runs
/// here: a rebuild's lines are the whole history (~47 MB on a busy lab),
/// and hashing them took as long as writing and syncing them, one after the
/// other, on the thread the pass waits for (80 ms, perf, issue 11). The
/// largest files, about half the bytes, are hashed on a worker from the
/// start; the others here once `write` is done, which is quicker than the
/// hashing. Few bytes are hashed here after `write`, and without workers
/// all are.
fn hashed_beside(
    files: &[(&String, &[u8])],
    write: impl FnOnce() -> Result<(), HistoryError>,
) -> Result<Vec<(String, FileMark)>, HistoryError> {
    let hash = |files: &[(&String, &[u8])]| {
        files.iter().map(|(name, bytes)| ((*name).clone(), FileMark::of(bytes))).collect::<Vec<_>>()
    };
    let bytes: usize = files.iter().map(|(_, bytes)| bytes.len()).sum();
    // The largest first: those go beside until they hold half the bytes.
    let mut files = files.to_vec();
    files.sort_by_key(|(_, bytes)| std::cmp::Reverse(bytes.len()));
    let mut beside_bytes = 0;
    let split = files
        .iter()
        .position(|(_, b)| {
            let enough = beside_bytes * 2 >= bytes;
            beside_bytes += b.len();
            enough
        })
        .unwrap_or(files.len());
    let (far, near) = files.split_at(split);
    let mut marks = if bytes > HASH_BESIDE_BYTES {
        let (written, marks) = crate::threads::both(write, || hash(far));
        written?;
        marks
    } else {
        write()?;
        hash(far)
    };
    marks.extend(hash(near));
    Ok(marks)
}

impl Staged {
    /// Once the world is written: each file whose tail was not this pass's
    /// is set to its committed part and this pass's lines (in one atomic
    /// replace; a file the checkpoint does not know and this pass does not
    /// write goes), and every file touched is stamped. Returns the marks
    /// the checkpoint commits.
    pub fn settle(mut self) -> Result<HistoryMarks, HistoryError> {
        for settle in std::mem::take(&mut self.settle) {
            let path = self.dir.join(&settle.name);
            let io = |error| HistoryError::Io { path: path.clone(), error };
            match (settle.base, settle.new.is_empty()) {
                (None, true) => {
                    std::fs::remove_file(&path).map_err(io)?;
                    sync_dir(&self.dir).map_err(io)?;
                    self.touched.remove(&settle.name);
                }
                (Some(base), true) => {
                    let file = OpenOptions::new().write(true).open(&path).map_err(io)?;
                    file.set_len(base.bytes).map_err(io)?;
                    file.sync_all().map_err(io)?;
                    self.marks.files.insert(settle.name, base);
                }
                (base, false) => {
                    let base = base.unwrap_or_default();
                    // The committed part alone is read (none in a rebuild):
                    // the stale tail may be most of the file.
                    let mut bytes = read_prefix(&path, base.bytes)?;
                    bytes.extend_from_slice(&settle.new);
                    write_atomic(&path, &bytes).map_err(io)?;
                    self.marks.files.insert(settle.name, base.after(&settle.new));
                }
            }
        }
        for name in &self.touched {
            if let Some(mark) = self.marks.files.get_mut(name) {
                *mark = mark.stamped(&self.dir.join(name));
            }
        }
        Ok(self.marks)
    }
}

/// The marks of every history file in `dir`, each committed whole (a pass
/// that adopts writes nothing early: `Early::at`).
fn adopt(dir: &Path) -> Result<HistoryMarks, HistoryError> {
    let mut marks = HistoryMarks::default();
    for name in listing(dir)?.files.into_keys() {
        let mark = mark_of_file(&dir.join(&name))?;
        marks.files.insert(name, mark);
    }
    Ok(marks)
}

/// When the file at `path` holds the committed part of `mark` followed by
/// a beginning of `new` (a crashed pass's lines that this pass decides
/// again, or nothing), the length of that tail; `None` when its tail is
/// anything else. The committed part is checked first: by the mark's stamp
/// when the file is untouched since, else by hashing it. The file is read
/// in chunks, never whole: a rebuild over a live history compares files of
/// tens of MB this way.
fn tail_begins(path: &Path, mark: &FileMark, new: &[u8]) -> Result<Option<usize>, HistoryError> {
    let io = |error| HistoryError::Io { path: path.to_path_buf(), error };
    let mut file = BufReader::with_capacity(256 * 1024, File::open(path).map_err(io)?);
    if mark.bytes == 0 || mark.is_untouched(path) {
        file.seek(SeekFrom::Start(mark.bytes)).map_err(io)?;
    } else if hashed(&mut file, mark.bytes).map_err(io)?.content() != mark.content() {
        // Shorter than its committed part, or other bytes there.
        return Err(HistoryError::Changed { path: path.to_path_buf() });
    }
    let mut tail = 0;
    loop {
        let chunk = file.fill_buf().map_err(io)?;
        if chunk.is_empty() {
            return Ok(Some(tail));
        }
        if new.get(tail..tail + chunk.len()) != Some(chunk) {
            return Ok(None);
        }
        let n = chunk.len();
        tail += n;
        file.consume(n);
    }
}

/// The first `bytes` bytes of the file at `path` (fewer if it is shorter).
fn read_prefix(path: &Path, bytes: u64) -> Result<Vec<u8>, HistoryError> {
    let io = |error| HistoryError::Io { path: path.to_path_buf(), error };
    let mut prefix = Vec::new();
    File::open(path).map_err(io)?.take(bytes).read_to_end(&mut prefix).map_err(io)?;
    Ok(prefix)
}

/// The mark of the whole file at `path`, hashed as it is read, a chunk at
/// a time (a month of a busy lab is tens of MB).
fn mark_of_file(path: &Path) -> Result<FileMark, HistoryError> {
    let io = |error| HistoryError::Io { path: path.to_path_buf(), error };
    let mut file = BufReader::with_capacity(256 * 1024, File::open(path).map_err(io)?);
    hashed(&mut file, u64::MAX).map_err(io)
}

/// The mark of the next `limit` bytes of `file` (fewer where it ends),
/// read a chunk at a time.
fn hashed(file: &mut BufReader<File>, limit: u64) -> std::io::Result<FileMark> {
    let mut mark = FileMark::default();
    while mark.bytes < limit {
        let chunk = file.fill_buf()?;
        if chunk.is_empty() {
            break;
        }
        let n = chunk.len().min(usize::try_from(limit - mark.bytes).unwrap_or(usize::MAX));
        mark = mark.after(&chunk[..n]);
        file.consume(n);
    }
    Ok(mark)
}

/// Appends `bytes` to the file at `path`, which holds `size` bytes (or is
/// created), and syncs it.
fn append(dir: &Path, path: &Path, size: u64, bytes: &[u8]) -> Result<(), HistoryError> {
    if bytes.is_empty() {
        return Ok(());
    }
    let io = |error| HistoryError::Io { path: path.to_path_buf(), error };
    atomic::create_dir(dir, "the history directory").map_err(HistoryError::Directory)?;
    let created = size == 0 && !path.exists();
    let mut file = OpenOptions::new().append(true).create(true).open(path).map_err(io)?;
    if !is_the_file_at(&file, path) {
        return Err(HistoryError::NotAFile { path: path.to_path_buf() });
    }
    if file.metadata().map_err(io)?.len() != size {
        // Listed under the lock a moment ago: a writer the lock does not know.
        return Err(HistoryError::Changed { path: path.to_path_buf() });
    }
    fault_injection::fail_at("history-append").map_err(io)?;
    atomic::write_in_pieces(&mut file, bytes).map_err(io)?;
    file.sync_data().map_err(io)?;
    if created {
        sync_dir(dir).map_err(io)?;
        if let Some(world) = dir.parent() {
            sync_dir(world).map_err(io)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::is_settled;
    use super::*;

    use super::super::alert_lines as lines;

    fn read(dir: &Path, name: &str) -> String {
        std::fs::read_to_string(dir.join(name)).unwrap_or_else(|_| "(missing)".into())
    }

    /// One pass: stage, "write the world", settle.
    fn pass(dir: &Path, basis: Basis, lines: Lines) -> HistoryMarks {
        stage(dir, basis, lines).unwrap().settle().unwrap()
    }

    #[test]
    fn lines_hashed_beside_their_write_are_marked_as_the_files_they_make() {
        // Over `HASH_BESIDE_BYTES` in all: hashed on a thread of their own.
        let long = "x".repeat(1000);
        let items: Vec<(&str, &str)> =
            (0..1500).map(|k| (if k % 3 == 0 { "04" } else { "05" }, long.as_str())).collect();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("history");
        let marks = pass(&dir, Basis::Scratch(None), lines(&items));
        for name in ["alerts-2026-04.jsonl", "alerts-2026-05.jsonl"] {
            let bytes = std::fs::read(dir.join(name)).unwrap();
            assert!(bytes.len() > 300_000, "{name}");
            assert_eq!(marks.files[name].content(), FileMark::of(&bytes), "{name}");
        }
        // Again over the files, as a rebuild over a live history: the same.
        let again = pass(&dir, Basis::Scratch(Some(&marks)), lines(&items));
        assert_eq!(
            again.files.values().map(|m| m.content()).collect::<Vec<_>>(),
            marks.files.values().map(|m| m.content()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn lines_go_to_their_months_and_a_crashed_pass_tail_is_kept_when_decided_again() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("history");
        let first = pass(&dir, Basis::Committed(&HistoryMarks::default()), lines(&[("04", "a"), ("05", "b")]));
        assert_eq!(
            (read(&dir, "alerts-2026-04.jsonl"), read(&dir, "alerts-2026-05.jsonl")),
            ("\"a\"\n".into(), "\"b\"\n".into())
        );
        assert!(is_settled(&dir, Some(&first)));
        // A pass that crashed after its append: its lines stay past the marks.
        let crashed = stage(&dir, Basis::Committed(&first), lines(&[("05", "c"), ("06", "d")])).unwrap();
        drop(crashed);
        assert!(!is_settled(&dir, Some(&first)), "a tail makes a no-op run fold");
        let inode = std::fs::metadata(dir.join("alerts-2026-05.jsonl")).unwrap();
        let again = pass(&dir, Basis::Committed(&first), lines(&[("05", "c"), ("06", "d"), ("06", "e")]));
        assert_eq!(read(&dir, "alerts-2026-05.jsonl"), "\"b\"\n\"c\"\n");
        assert_eq!(read(&dir, "alerts-2026-06.jsonl"), "\"d\"\n\"e\"\n");
        let after = std::fs::metadata(dir.join("alerts-2026-05.jsonl")).unwrap();
        assert_eq!(std::os::unix::fs::MetadataExt::ino(&inode), std::os::unix::fs::MetadataExt::ino(&after));
        assert!(is_settled(&dir, Some(&again)));
        // The same lines from nothing: the files are kept as they are.
        let all = lines(&[("04", "a"), ("05", "b"), ("05", "c"), ("06", "d"), ("06", "e")]);
        let rebuilt = pass(&dir, Basis::Scratch(Some(&again)), all);
        let content = |m: &HistoryMarks| m.files.iter().map(|(n, m)| (n.clone(), m.content())).collect::<Vec<_>>();
        assert_eq!(content(&rebuilt), content(&again));
    }

    #[test]
    fn a_tail_decided_otherwise_stays_until_the_world_is_written_then_goes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("history");
        let first = pass(&dir, Basis::Committed(&HistoryMarks::default()), lines(&[("05", "a")]));
        drop(stage(&dir, Basis::Committed(&first), lines(&[("05", "x"), ("06", "y")])).unwrap());
        let staged = stage(&dir, Basis::Committed(&first), lines(&[("05", "b")])).unwrap();
        // Before the world is written, every line of both passes is there.
        assert_eq!(read(&dir, "alerts-2026-05.jsonl"), "\"a\"\n\"x\"\n\"b\"\n");
        assert_eq!(read(&dir, "alerts-2026-06.jsonl"), "\"y\"\n");
        let marks = staged.settle().unwrap();
        assert_eq!(read(&dir, "alerts-2026-05.jsonl"), "\"a\"\n\"b\"\n");
        assert_eq!(read(&dir, "alerts-2026-06.jsonl"), "(missing)", "the crashed pass's own file goes");
        assert_eq!(marks.files["alerts-2026-05.jsonl"].content(), FileMark::of(b"\"a\"\n\"b\"\n"));
        assert!(is_settled(&dir, Some(&marks)));
        // A tail no pass decides again is cut back to the committed part.
        drop(stage(&dir, Basis::Committed(&marks), lines(&[("05", "z")])).unwrap());
        let marks = pass(&dir, Basis::Committed(&marks), lines(&[]));
        assert_eq!(read(&dir, "alerts-2026-05.jsonl"), "\"a\"\n\"b\"\n");
        assert!(is_settled(&dir, Some(&marks)));
    }

    #[test]
    fn files_longer_than_a_read_are_checked_and_compared_in_chunks() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("history");
        let long =
            |c: char, n: usize| -> Vec<String> { (0..n).map(|i| format!("{c}{i}{}", "x".repeat(200))).collect() };
        let (committed, crashed) = (long('a', 3000), long('b', 3000));
        let items =
            |texts: &[String]| -> Lines { lines(&texts.iter().map(|text| ("05", text.as_str())).collect::<Vec<_>>()) };
        let first = pass(&dir, Basis::Committed(&HistoryMarks::default()), items(&committed));
        assert!(first.files["alerts-2026-05.jsonl"].bytes > 2 * 256 * 1024);
        // Without its stamp the committed part is hashed, chunk by chunk.
        let unstamped = |marks: &HistoryMarks| HistoryMarks {
            files: marks.files.iter().map(|(name, mark)| (name.clone(), mark.content())).collect(),
            deleted: marks.deleted.clone(),
        };
        drop(stage(&dir, Basis::Committed(&unstamped(&first)), items(&crashed)).unwrap());
        let size = std::fs::metadata(dir.join("alerts-2026-05.jsonl")).unwrap().len();
        // The crashed pass's tail, longer than a read, decided again: only
        // the rest is appended.
        let mut again = crashed.clone();
        again.push("c".into());
        let staged = stage(&dir, Basis::Committed(&unstamped(&first)), items(&again)).unwrap();
        assert_eq!(std::fs::metadata(dir.join("alerts-2026-05.jsonl")).unwrap().len(), size + 4);
        let settled = staged.settle().unwrap();
        let expected: String = committed.iter().chain(&again).map(|text| format!("\"{text}\"\n")).collect();
        assert_eq!(read(&dir, "alerts-2026-05.jsonl"), expected);
        // A tail that differs past its first read is settled away.
        let mut other = again.clone();
        other[2000] = "changed".into();
        drop(stage(&dir, Basis::Committed(&first), items(&crashed)).unwrap());
        pass(&dir, Basis::Committed(&unstamped(&first)), items(&other));
        let expected: String = committed.iter().chain(&other).map(|text| format!("\"{text}\"\n")).collect();
        assert_eq!(read(&dir, "alerts-2026-05.jsonl"), expected);
        // A committed part changed past its first read points to rebuild.
        let mut bytes = std::fs::read(dir.join("alerts-2026-05.jsonl")).unwrap();
        bytes[300 * 1024] = b'y';
        std::fs::write(dir.join("alerts-2026-05.jsonl"), &bytes).unwrap();
        let error = stage(&dir, Basis::Committed(&settled), items(&["d".to_string()])).err().expect("refused");
        assert!(error.to_string().contains("observer rebuild"), "{error}");
        // A file marked whole (adopted, or kept by a rebuild that gives it
        // no line) is hashed as it is read, chunk by chunk.
        let path = dir.join("alerts-2026-05.jsonl");
        assert_eq!(mark_of_file(&path).unwrap(), FileMark::of(&std::fs::read(&path).unwrap()));
        // A settle reads only the committed part of a file.
        assert_eq!(read_prefix(&path, 5).unwrap(), std::fs::read(&path).unwrap()[..5]);
    }

    #[test]
    fn a_deleted_month_stays_deleted_and_a_changed_one_points_to_rebuild() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("history");
        let first = pass(&dir, Basis::Committed(&HistoryMarks::default()), lines(&[("04", "a"), ("05", "b")]));
        std::fs::remove_file(dir.join("alerts-2026-04.jsonl")).unwrap();
        let staged = stage(&dir, Basis::Committed(&first), lines(&[("04", "late"), ("05", "c")])).unwrap();
        assert_eq!(staged.dropped, 1);
        let marks = staged.settle().unwrap();
        assert_eq!(read(&dir, "alerts-2026-04.jsonl"), "(missing)");
        assert!(marks.deleted.contains("alerts-2026-04.jsonl"));
        // A rebuild that knows the live marks leaves it deleted too.
        let rebuilt = pass(&dir, Basis::Scratch(Some(&marks)), lines(&[("04", "a"), ("05", "b"), ("05", "c")]));
        assert_eq!(read(&dir, "alerts-2026-04.jsonl"), "(missing)");
        assert_eq!(read(&dir, "alerts-2026-05.jsonl"), "\"b\"\n\"c\"\n");
        assert!(rebuilt.deleted.contains("alerts-2026-04.jsonl"));
        // Without them, every month the events give comes back.
        pass(&dir, Basis::Scratch(None), lines(&[("04", "a"), ("05", "b"), ("05", "c")]));
        assert_eq!(read(&dir, "alerts-2026-04.jsonl"), "\"a\"\n");
        // An edit of a committed line, or a cut, stops the pass and changes nothing.
        for bad in ["\"B\"\n\"c\"\n", "\"b\"\n"] {
            std::fs::write(dir.join("alerts-2026-05.jsonl"), bad).unwrap();
            let error = stage(&dir, Basis::Committed(&rebuilt), lines(&[("05", "d")])).err().expect("refused");
            assert!(error.to_string().contains("observer rebuild"), "{error}");
            assert_eq!(read(&dir, "alerts-2026-05.jsonl"), bad);
        }
    }
}
