//! Appending a pass's history lines: [`stage`] before the world that drops
//! their entries is written, [`Staged::settle`] after it (see the module
//! above for why the order and the kept tail).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::{FileMark, HistoryError, HistoryMarks, Line, listing};
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
/// and verifying what a crashed pass left past the marks of `basis`.
pub fn stage(dir: &Path, basis: Basis, lines: &[Line]) -> Result<Staged, HistoryError> {
    let mut produced: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for line in lines {
        produced.entry(line.file_name()).or_default().extend_from_slice(&line.json);
    }
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
    let found = listed.files;
    let (committed, live) = match basis {
        Basis::Committed(marks) => (Some(&marks.files), Some(marks)),
        Basis::Scratch(live) => (None, live),
        Basis::Adopt => (None, None),
    };
    let mut deleted = live.map(|m| m.deleted.clone()).unwrap_or_default();
    // A file the live checkpoint commits and that is gone: the user deleted
    // it. Without the directory (the world deleted, or `--world` moved) the
    // history starts again instead: no month is taken for deleted, and
    // `observer rebuild` writes them all from the events.
    let present = dir.is_dir();
    let committed = committed.filter(|_| present);
    let live_files = live.filter(|_| present).into_iter().flat_map(|m| m.files.keys());
    deleted.extend(live_files.filter(|n| !found.contains_key(*n)).cloned());
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
    let names: BTreeSet<&String> = found.keys().chain(produced.keys()).collect();
    for name in names {
        let new = produced.get(name).map_or(&[][..], Vec::as_slice);
        if staged.marks.deleted.contains(name) {
            staged.dropped += new.iter().filter(|b| **b == b'\n').count() as u64;
            continue;
        }
        let base = committed.and_then(|files| files.get(name)).copied();
        let path = dir.join(name);
        let Some(&size) = found.get(name) else {
            appends.push((path, 0, new));
            staged.marks.files.insert(name.clone(), FileMark::of(new));
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
                let bytes = read_from(&path, 0)?;
                staged.marks.files.insert(name.clone(), FileMark::of(&bytes));
                staged.touched.insert(name.clone());
            }
            continue;
        }
        let committed_mark = base.unwrap_or_default();
        let tail = committed_tail(&path, &committed_mark)?;
        staged.touched.insert(name.clone());
        if new.starts_with(&tail) {
            appends.push((path, size, &new[tail.len()..]));
            staged.marks.files.insert(name.clone(), committed_mark.after(new));
        } else {
            // Kept until the world that follows these lines is written.
            appends.push((path, size, new));
            staged.settle.push(Settle { name: name.clone(), base, new: new.to_vec() });
        }
    }
    for (path, size, bytes) in appends {
        append(dir, &path, size, bytes)?;
    }
    Ok(staged)
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
                    let mut bytes = read_from(&path, 0)?;
                    bytes.truncate(base.bytes as usize);
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

/// The marks of every history file in `dir`, each committed whole.
fn adopt(dir: &Path) -> Result<HistoryMarks, HistoryError> {
    let mut marks = HistoryMarks::default();
    for name in listing(dir)?.files.into_keys() {
        let bytes = read_from(&dir.join(&name), 0)?;
        marks.files.insert(name, FileMark::of(&bytes));
    }
    Ok(marks)
}

/// What follows the committed part of the file at `path`, once that part
/// is checked: by the mark's stamp when the file is untouched since, else
/// by hashing it.
fn committed_tail(path: &Path, mark: &FileMark) -> Result<Vec<u8>, HistoryError> {
    if mark.bytes == 0 || mark.is_untouched(path) {
        return read_from(path, mark.bytes);
    }
    let mut bytes = read_from(path, 0)?;
    if !mark.commits_prefix_of(&bytes) {
        return Err(HistoryError::Changed { path: path.to_path_buf() });
    }
    Ok(bytes.split_off(mark.bytes as usize))
}

fn read_from(path: &Path, offset: u64) -> Result<Vec<u8>, HistoryError> {
    let io = |error| HistoryError::Io { path: path.to_path_buf(), error };
    let mut file = File::open(path).map_err(io)?;
    file.seek(SeekFrom::Start(offset)).map_err(io)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(io)?;
    Ok(bytes)
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
    file.write_all(bytes).map_err(io)?;
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
    use crate::time::Ts;

    fn line(month: &str, text: &str) -> Line {
        let at = Ts::parse(&format!("2026-{month}-10T00:00:00Z")).unwrap();
        Line::new("alerts", at, &text).unwrap()
    }

    fn read(dir: &Path, name: &str) -> String {
        std::fs::read_to_string(dir.join(name)).unwrap_or_else(|_| "(missing)".into())
    }

    /// One pass: stage, "write the world", settle.
    fn pass(dir: &Path, basis: Basis, lines: &[Line]) -> HistoryMarks {
        stage(dir, basis, lines).unwrap().settle().unwrap()
    }

    #[test]
    fn lines_go_to_their_months_and_a_crashed_pass_tail_is_kept_when_decided_again() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("history");
        let first = pass(&dir, Basis::Committed(&HistoryMarks::default()), &[line("04", "a"), line("05", "b")]);
        assert_eq!(
            (read(&dir, "alerts-2026-04.jsonl"), read(&dir, "alerts-2026-05.jsonl")),
            ("\"a\"\n".into(), "\"b\"\n".into())
        );
        assert!(is_settled(&dir, Some(&first)));
        // A pass that crashed after its append: its lines stay past the marks.
        let crashed = stage(&dir, Basis::Committed(&first), &[line("05", "c"), line("06", "d")]).unwrap();
        drop(crashed);
        assert!(!is_settled(&dir, Some(&first)), "a tail makes a no-op run fold");
        let inode = std::fs::metadata(dir.join("alerts-2026-05.jsonl")).unwrap();
        let again = pass(&dir, Basis::Committed(&first), &[line("05", "c"), line("06", "d"), line("06", "e")]);
        assert_eq!(read(&dir, "alerts-2026-05.jsonl"), "\"b\"\n\"c\"\n");
        assert_eq!(read(&dir, "alerts-2026-06.jsonl"), "\"d\"\n\"e\"\n");
        let after = std::fs::metadata(dir.join("alerts-2026-05.jsonl")).unwrap();
        assert_eq!(std::os::unix::fs::MetadataExt::ino(&inode), std::os::unix::fs::MetadataExt::ino(&after));
        assert!(is_settled(&dir, Some(&again)));
        // The same lines from nothing: the files are kept as they are.
        let lines = [line("04", "a"), line("05", "b"), line("05", "c"), line("06", "d"), line("06", "e")];
        let rebuilt = pass(&dir, Basis::Scratch(Some(&again)), &lines);
        let content = |m: &HistoryMarks| m.files.iter().map(|(n, m)| (n.clone(), m.content())).collect::<Vec<_>>();
        assert_eq!(content(&rebuilt), content(&again));
    }

    #[test]
    fn a_tail_decided_otherwise_stays_until_the_world_is_written_then_goes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("history");
        let first = pass(&dir, Basis::Committed(&HistoryMarks::default()), &[line("05", "a")]);
        drop(stage(&dir, Basis::Committed(&first), &[line("05", "x"), line("06", "y")]).unwrap());
        let staged = stage(&dir, Basis::Committed(&first), &[line("05", "b")]).unwrap();
        // Before the world is written, every line of both passes is there.
        assert_eq!(read(&dir, "alerts-2026-05.jsonl"), "\"a\"\n\"x\"\n\"b\"\n");
        assert_eq!(read(&dir, "alerts-2026-06.jsonl"), "\"y\"\n");
        let marks = staged.settle().unwrap();
        assert_eq!(read(&dir, "alerts-2026-05.jsonl"), "\"a\"\n\"b\"\n");
        assert_eq!(read(&dir, "alerts-2026-06.jsonl"), "(missing)", "the crashed pass's own file goes");
        assert_eq!(marks.files["alerts-2026-05.jsonl"].content(), FileMark::of(b"\"a\"\n\"b\"\n"));
        assert!(is_settled(&dir, Some(&marks)));
        // A tail no pass decides again is cut back to the committed part.
        drop(stage(&dir, Basis::Committed(&marks), &[line("05", "z")]).unwrap());
        let marks = pass(&dir, Basis::Committed(&marks), &[]);
        assert_eq!(read(&dir, "alerts-2026-05.jsonl"), "\"a\"\n\"b\"\n");
        assert!(is_settled(&dir, Some(&marks)));
    }

    #[test]
    fn a_deleted_month_stays_deleted_and_a_changed_one_points_to_rebuild() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("history");
        let first = pass(&dir, Basis::Committed(&HistoryMarks::default()), &[line("04", "a"), line("05", "b")]);
        std::fs::remove_file(dir.join("alerts-2026-04.jsonl")).unwrap();
        let staged = stage(&dir, Basis::Committed(&first), &[line("04", "late"), line("05", "c")]).unwrap();
        assert_eq!(staged.dropped, 1);
        let marks = staged.settle().unwrap();
        assert_eq!(read(&dir, "alerts-2026-04.jsonl"), "(missing)");
        assert!(marks.deleted.contains("alerts-2026-04.jsonl"));
        // A rebuild that knows the live marks leaves it deleted too.
        let rebuilt = pass(&dir, Basis::Scratch(Some(&marks)), &[line("04", "a"), line("05", "b"), line("05", "c")]);
        assert_eq!(read(&dir, "alerts-2026-04.jsonl"), "(missing)");
        assert_eq!(read(&dir, "alerts-2026-05.jsonl"), "\"b\"\n\"c\"\n");
        assert!(rebuilt.deleted.contains("alerts-2026-04.jsonl"));
        // Without them, every month the events give comes back.
        pass(&dir, Basis::Scratch(None), &[line("04", "a"), line("05", "b"), line("05", "c")]);
        assert_eq!(read(&dir, "alerts-2026-04.jsonl"), "\"a\"\n");
        // An edit of a committed line, or a cut, stops the pass and changes nothing.
        for bad in ["\"B\"\n\"c\"\n", "\"b\"\n"] {
            std::fs::write(dir.join("alerts-2026-05.jsonl"), bad).unwrap();
            let error = stage(&dir, Basis::Committed(&rebuilt), &[line("05", "d")]).err().expect("refused");
            assert!(error.to_string().contains("observer rebuild"), "{error}");
            assert_eq!(read(&dir, "alerts-2026-05.jsonl"), bad);
        }
    }
}
