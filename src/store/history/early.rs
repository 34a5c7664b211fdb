//! History lines written while the fold runs, for the files a pass makes.
//!
//! A rebuild's lines are the whole history (~47 MB on a busy lab), and
//! [`stage`](super::stage) wrote them all after the fold: ~200 ms on the
//! thread the pass waits for, mostly the kernel's copy into the page cache
//! (perf, issue 11), while during the fold a second core was half idle. A
//! file absent when the pass starts holds nothing to keep or verify, so its
//! lines can go to disk as they are made and be freed: [`Early`] appends
//! each chunk's lines to such files on the thread that makes them, and
//! hashes them on the way. The marks are those `stage` would give (the
//! running hash of the same bytes), and every file is synced before the
//! fold is done, so the world that drops their entries still follows them
//! (SPEC §4: in one place or both, never in neither).
//!
//! A pass from nothing (`Basis::Scratch`: a rebuild) over a history that is
//! there gives, month by month, the lines the files already hold: the same
//! ~47 MB, kept until `stage` compared them with the files (a rebuild over
//! a live history peaked ~20 MB above one from nothing, heaptrack, issue
//! 11). So the lines of a file there at the start are compared with its
//! bytes as they are made, on the same thread, and those found equal are
//! dropped, leaving their mark ([`Compared`]). When the lines run to the
//! file's end, `stage` has the mark and appends what follows; when they
//! differ from it or stop short of its end, it puts the bytes compared back
//! in front of the rest (read from the file) and does as before.
//!
//! Anything else is left to `stage` as before: a file on disk at the start
//! of an incremental pass (a committed month, a crashed pass's tail to
//! verify), a month the live marks say was deleted (its lines are dropped
//! there), and every file when
//! the directory is gone but the live marks name files (the pass that
//! writes the first file would make the directory, and the live files not
//! yet written would look deleted to a pass after a crash).
//!
//! A file written here and not yet committed is what a crashed pass leaves
//! past the marks: the next pass compares it with its own lines, or removes
//! it (`stage`). When the pass stops before the history is staged (a read
//! error, a fold started over, a refusal, an error here), the files made
//! here are removed again.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};

use super::{Basis, FileMark, HistoryError, Lines, deleted_months, listing};
use crate::store::atomic::{self, sync_dir};
use crate::store::fault_injection;
use crate::store::mark::stamp_of;

/// Writes the lines of the files absent when the pass started as they are
/// made (see the module).
pub struct Early {
    dir: PathBuf,
    /// Whether the directory was there when the pass started.
    present: bool,
    /// Names not written here: the files there at the start, and the
    /// months deleted.
    kept: BTreeSet<String>,
    /// The files there at the start whose lines are compared with them
    /// (a pass from nothing; none deleted).
    compare: BTreeSet<String>,
    /// Each file seen so far: written here, compared, or left to `stage`.
    files: BTreeMap<String, Target>,
    /// The files made here, removed again unless [`Early::finish`] gives
    /// them to the pass.
    made: BTreeSet<String>,
    /// The directory could not be made: everything is left to `stage`,
    /// which reports it as before.
    off: bool,
    /// Whether this made the directory.
    made_dir: bool,
}

enum Target {
    Left,
    Write(Open),
    Compare(Compared),
}

struct Open {
    file: File,
    mark: FileMark,
}

/// A file there at the start, read along as this pass's lines for it are
/// made ([`Compared::take`]), then given to `stage` with what was dropped.
pub(super) struct Compared {
    /// The file, as it was opened.
    file: File,
    /// Its size then.
    size: u64,
    /// Its stamp then (device, inode, size, modification and change
    /// times): a file written over in place, even to the same size, is
    /// not taken for the one compared.
    stamp: Option<u64>,
    /// This pass's first lines for it, found equal to its first bytes and
    /// dropped from the lines.
    pub(super) mark: FileMark,
    /// The lines differed from the file, went on past its end, or it could
    /// not be read: the rest stays in the lines.
    stopped: bool,
    buffer: Vec<u8>,
}

impl Compared {
    /// Opens the file at `path` to compare lines with it.
    fn open(path: &Path) -> std::io::Result<Compared> {
        let file = File::open(path)?;
        let size = file.metadata()?.len();
        // Taken before any byte is read: a change after it changes it.
        let stamp = stamp_of(path);
        Ok(Compared { file, size, stamp, mark: FileMark::default(), stopped: false, buffer: Vec::new() })
    }

    /// Compares `bytes` with what follows in the file, and drops what is
    /// equal from them.
    fn take(&mut self, bytes: &mut Vec<u8>) {
        if self.stopped {
            return;
        }
        let within = usize::try_from(self.size - self.mark.bytes).unwrap_or(usize::MAX).min(bytes.len());
        self.buffer.clear();
        let read = (&mut self.file).take(within as u64).read_to_end(&mut self.buffer);
        // A read error, or a file cut meanwhile: `stage` reads it again.
        if read.is_err() || self.buffer[..] != bytes[..within] {
            self.stopped = true;
            return;
        }
        self.mark = self.mark.after(&bytes[..within]);
        bytes.drain(..within);
        self.stopped = !bytes.is_empty();
    }

    /// Whether the file at `path`, of `size` bytes, is the one compared and
    /// holds exactly the lines dropped: this pass's lines for it are then
    /// those bytes followed by the ones left.
    pub(super) fn is_whole(&self, path: &Path, size: u64) -> bool {
        self.mark.bytes == self.size
            && size == self.size
            && atomic::is_the_file_at(&self.file, path)
            && self.stamp.is_some()
            && stamp_of(path) == self.stamp
    }

    /// The lines dropped, read back from the file (through the handle
    /// opened to compare them, so a file removed or replaced since is
    /// still read). A file changed in place where they were compared is
    /// an error: those bytes were the only copy of the lines, and a
    /// rebuild run again makes them again.
    pub(super) fn read_back(mut self, path: &Path) -> Result<Vec<u8>, HistoryError> {
        let io = |error| HistoryError::Io { path: path.to_path_buf(), error };
        let mut bytes = Vec::new();
        std::io::Seek::rewind(&mut self.file).map_err(io)?;
        (&mut self.file).take(self.mark.bytes).read_to_end(&mut bytes).map_err(io)?;
        if FileMark::of(&bytes).content() != self.mark.content() {
            let changed = std::io::Error::other("the file changed while this pass compared its lines with it");
            return Err(io(changed));
        }
        Ok(bytes)
    }
}

/// The files [`Early`] wrote, synced, with their marks; what
/// [`stage_after`](super::stage_after) takes. Dropped before it was
/// staged, its files are removed.
#[derive(Default)]
pub struct Streamed {
    dir: PathBuf,
    /// The marks of the files written, by name.
    pub(super) files: BTreeMap<String, FileMark>,
    /// The files there at the start whose first lines were compared and
    /// dropped, by name.
    pub(super) compared: BTreeMap<String, Compared>,
    /// Whether the directory was there when the pass started (`None`:
    /// nothing was written early, ask the directory).
    pub(super) present: Option<bool>,
    made_dir: bool,
    kept: bool,
}

impl Early {
    /// What may be written early under `dir` in a pass on `basis`: `None`
    /// when nothing may (the directory cannot be listed, or it is gone while
    /// the live marks name files), and `stage` does all.
    pub fn at(dir: &Path, basis: Basis) -> Option<Early> {
        let found = listing(dir).ok()?.files;
        let present = dir.is_dir();
        let live = match basis {
            Basis::Committed(marks) => Some(marks),
            Basis::Scratch(live) => live,
            // The first pass after a checkpoint without history marks takes
            // every history file there is as committed whole: a file written
            // early by a pass killed before its commit would be taken so by
            // the next, and its lines appended to it again.
            Basis::Adopt => return None,
        };
        if !present && live.is_some_and(|marks| !marks.files.is_empty()) {
            return None;
        }
        let mut kept = deleted_months(live, present, &found);
        let compare = match basis {
            Basis::Scratch(_) => found.keys().filter(|name| !kept.contains(*name)).cloned().collect(),
            _ => BTreeSet::new(),
        };
        kept.extend(found.into_keys());
        Some(Early {
            dir: dir.to_path_buf(),
            present,
            kept,
            compare,
            files: BTreeMap::new(),
            made: BTreeSet::new(),
            off: false,
            made_dir: false,
        })
    }

    /// Appends the lines gathered in `lines` for the files written here,
    /// and empties them there (their memory is kept for the next chunk);
    /// drops those equal to what the files compared here hold. After an
    /// error, the pass stops: see [`Early::finish`].
    pub fn write(&mut self, lines: &mut Lines) -> Result<(), HistoryError> {
        if self.off {
            return Ok(());
        }
        for (name, bytes) in lines.files.iter_mut().filter(|(_, bytes)| !bytes.is_empty()) {
            if !self.files.contains_key(name) {
                let open = self.open(name)?;
                if self.off {
                    return Ok(());
                }
                self.files.insert(name.clone(), open);
            }
            match self.files.get_mut(name) {
                Some(Target::Write(open)) => {
                    let io = |error| HistoryError::Io { path: self.dir.join(name), error };
                    atomic::write_in_pieces(&mut open.file, bytes).map_err(io)?;
                    open.mark = open.mark.after(bytes);
                    bytes.clear();
                }
                Some(Target::Compare(compare)) => {
                    compare.take(bytes);
                    if compare.stopped && compare.mark.bytes == 0 {
                        // Nothing dropped: `stage` does all, and the file
                        // is not kept open.
                        self.files.insert(name.clone(), Target::Left);
                    }
                }
                Some(Target::Left) | None => {}
            }
        }
        Ok(())
    }

    /// Creates the file `name` when it is to be written here, or opens it
    /// when it is to be compared.
    fn open(&mut self, name: &str) -> Result<Target, HistoryError> {
        if self.compare.contains(name) {
            // One that cannot be opened is left to `stage`, which says why.
            return Ok(Compared::open(&self.dir.join(name)).map_or(Target::Left, Target::Compare));
        }
        if self.kept.contains(name) {
            return Ok(Target::Left);
        }
        if !self.made_dir && !self.dir.is_dir() {
            if let Err(error) = atomic::create_dir(&self.dir, "the history directory") {
                if !self.made.is_empty() {
                    // Gone since files were written in it: those would be
                    // given to `stage` without the lines gathered from here
                    // on, so the pass stops instead.
                    return Err(HistoryError::Directory(error));
                }
                // `stage` makes it again, and reports why it cannot.
                self.off = true;
                return Ok(Target::Left);
            }
            self.made_dir = !self.present;
        }
        let path = self.dir.join(name);
        let io = |error| HistoryError::Io { path: path.clone(), error };
        // Never through a symlink, never over a file: it was absent.
        let file = OpenOptions::new().write(true).create_new(true).open(&path).map_err(io)?;
        self.made.insert(name.to_string());
        fault_injection::fail_at("history-append").map_err(io)?;
        Ok(Target::Write(Open { file, mark: FileMark::default() }))
    }

    /// Syncs the files written here and the directories that name them,
    /// and gives their marks.
    pub fn finish(mut self) -> Result<Streamed, HistoryError> {
        // From here on, `streamed` removes what was made when dropped.
        let mut streamed = Streamed {
            dir: self.dir.clone(),
            files: std::mem::take(&mut self.made).into_iter().map(|name| (name, FileMark::default())).collect(),
            compared: BTreeMap::new(),
            present: Some(self.present),
            made_dir: std::mem::take(&mut self.made_dir),
            kept: false,
        };
        for (name, target) in std::mem::take(&mut self.files) {
            let open = match target {
                Target::Write(open) => open,
                Target::Compare(compared) if compared.mark.bytes > 0 => {
                    streamed.compared.insert(name, compared);
                    continue;
                }
                Target::Compare(_) | Target::Left => continue,
            };
            let path = self.dir.join(&name);
            open.file.sync_data().map_err(|error| HistoryError::Io { path, error })?;
            streamed.files.insert(name, open.mark);
        }
        if !streamed.files.is_empty() {
            let io = |error| HistoryError::Io { path: self.dir.clone(), error };
            sync_dir(&self.dir).map_err(io)?;
            if let Some(world) = self.dir.parent() {
                sync_dir(world).map_err(io)?;
            }
        }
        Ok(streamed)
    }
}

impl Drop for Early {
    /// A pass that stopped before its history was staged: the files made
    /// here go again.
    fn drop(&mut self) {
        remove(&self.dir, self.made.iter(), self.made_dir);
    }
}

impl Streamed {
    /// The files are the history's from now on: not removed when dropped.
    pub(super) fn keep(&mut self) {
        self.kept = true;
    }
}

impl Drop for Streamed {
    fn drop(&mut self) {
        if !self.kept {
            remove(&self.dir, self.files.keys(), self.made_dir);
        }
    }
}

/// Removes the files `names` under `dir`, and `dir` when it was made for
/// them and is empty; best effort: a file that stays is a crashed pass's
/// leftover to the next pass.
fn remove<'a>(dir: &Path, names: impl Iterator<Item = &'a String>, made_dir: bool) {
    let mut removed = false;
    for name in names {
        removed |= std::fs::remove_file(dir.join(name)).is_ok();
    }
    if made_dir {
        removed |= std::fs::remove_dir(dir).is_ok();
    }
    if removed {
        let _ = sync_dir(if made_dir { dir.parent().unwrap_or(dir) } else { dir });
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::super::{HistoryMarks, is_settled, stage, stage_after};
    use super::*;

    use super::super::alert_lines as lines;

    /// `n` lines over three months, a few hundred bytes each.
    fn story(n: usize) -> Vec<(&'static str, String)> {
        (0..n).map(|k| (["04", "05", "06"][k % 7 % 3], format!("line {k} {}", "x".repeat(k % 300)))).collect()
    }

    /// Writes `items` through `early` in chunks of `chunk` lines, as the
    /// stager does, and gives what is left for `stage`.
    fn streamed(early: &mut Early, items: &[(&str, String)], chunk: usize) -> Result<Lines, HistoryError> {
        let mut all = Lines::default();
        for part in items.chunks(chunk) {
            let part: Vec<(&str, &str)> = part.iter().map(|(m, t)| (*m, t.as_str())).collect();
            for (name, bytes) in lines(&part).files {
                all.files.entry(name).or_default().extend(bytes);
            }
            early.write(&mut all)?;
        }
        Ok(all)
    }

    fn contents(marks: &HistoryMarks) -> Vec<(String, FileMark)> {
        marks.files.iter().map(|(name, mark)| (name.clone(), mark.content())).collect()
    }

    /// The files of `dir` by name, length and hash: a difference reads in
    /// one line.
    fn marked(dir: &Path) -> Vec<(String, FileMark)> {
        files(dir).into_iter().map(|(name, bytes)| (name, FileMark::of(&bytes))).collect()
    }

    /// `dir` made, holding a copy of the files of `from`.
    fn copy_of(from: &Path, dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        for (name, bytes) in files(from) {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }

    /// The May alerts file of [`story`].
    const MAY: &str = "alerts-2026-05.jsonl";

    /// A history staged whole from `story(n)` under `tmp/whole/history`,
    /// for rebuilds over copies of it.
    struct Staged {
        items: Vec<(&'static str, String)>,
        tmp: tempfile::TempDir,
        whole: PathBuf,
    }

    impl Staged {
        fn new(n: usize) -> Staged {
            let items = story(n);
            let tmp = tempfile::tempdir().unwrap();
            let whole = tmp.path().join("whole/history");
            stage(&whole, Basis::Scratch(None), lines(&Staged::all_of(&items))).unwrap().settle().unwrap();
            Staged { items, tmp, whole }
        }

        fn all_of<'a>(items: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
            items.iter().map(|(m, t)| (*m, t.as_str())).collect()
        }

        /// [`MAY`]'s bytes as staged.
        fn may(&self) -> Vec<u8> {
            std::fs::read(self.whole.join(MAY)).unwrap()
        }
    }

    fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map(|entries| {
                entries.map(|e| e.unwrap()).map(|e| (e.file_name().into_string().unwrap(), e.path())).collect()
            })
            .unwrap_or_else(|_| Vec::new())
            .into_iter()
            .map(|(name, path)| (name, std::fs::read(path).unwrap()))
            .collect();
        files.sort();
        files
    }

    #[test]
    fn lines_written_while_the_fold_runs_give_the_files_and_marks_of_one_stage() {
        let items = story(3000);
        let all: Vec<(&str, &str)> = items.iter().map(|(m, t)| (*m, t.as_str())).collect();
        let tmp = tempfile::tempdir().unwrap();
        let whole = tmp.path().join("whole/history");
        let once = stage(&whole, Basis::Scratch(None), lines(&all)).unwrap().settle().unwrap();
        for chunk in [1, 7, 1000, 5000] {
            let dir = tmp.path().join(format!("early-{chunk}/history"));
            let mut early = Early::at(&dir, Basis::Scratch(None)).expect("from nothing, every file is written early");
            let left = streamed(&mut early, &items, chunk).unwrap();
            assert!(left.files.values().all(Vec::is_empty), "every line written and freed");
            let marks =
                stage_after(&dir, Basis::Scratch(None), left, early.finish().unwrap()).unwrap().settle().unwrap();
            assert_eq!(files(&dir), files(&whole), "chunks of {chunk}");
            assert_eq!(contents(&marks), contents(&once), "chunks of {chunk}");
            assert!(marks.files.values().all(|mark| mark.stamp.is_some()), "stamped as `stage` stamps");
            assert!(is_settled(&dir, Some(&marks)));
        }
    }

    #[test]
    fn only_files_absent_at_the_start_are_written_early_and_deleted_months_not_at_all() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("history");
        let first = stage(&dir, Basis::Scratch(None), lines(&[("04", "a"), ("05", "b")])).unwrap().settle().unwrap();
        std::fs::remove_file(dir.join("alerts-2026-04.jsonl")).unwrap();
        // A rebuild over the live marks: April was deleted, May is there.
        let mut early = Early::at(&dir, Basis::Scratch(Some(&first))).unwrap();
        let items: Vec<(&str, String)> =
            [("04", "a"), ("05", "b"), ("05", "c"), ("06", "d")].iter().map(|(m, t)| (*m, t.to_string())).collect();
        let left = streamed(&mut early, &items, 2).unwrap();
        assert_eq!(std::fs::read(dir.join("alerts-2026-06.jsonl")).unwrap(), b"\"d\"\n", "June: absent, written");
        assert!(!dir.join("alerts-2026-04.jsonl").exists(), "April: deleted, not written");
        assert_eq!(std::fs::read(dir.join("alerts-2026-05.jsonl")).unwrap(), b"\"b\"\n", "May: left to `stage`");
        assert_eq!(left.files["alerts-2026-04.jsonl"], b"\"a\"\n");
        // May's first line is what the file holds: compared and dropped.
        assert_eq!(left.files["alerts-2026-05.jsonl"], b"\"c\"\n");
        assert!(left.files["alerts-2026-06.jsonl"].is_empty());
        let staged = stage_after(&dir, Basis::Scratch(Some(&first)), left, early.finish().unwrap()).unwrap();
        assert_eq!(staged.dropped, 1, "April's line is dropped there");
        let marks = staged.settle().unwrap();
        assert!(marks.deleted.contains("alerts-2026-04.jsonl") && !dir.join("alerts-2026-04.jsonl").exists());
        assert_eq!(std::fs::read(dir.join("alerts-2026-05.jsonl")).unwrap(), b"\"b\"\n\"c\"\n");
        assert_eq!(marks.files["alerts-2026-06.jsonl"].content(), FileMark::of(b"\"d\"\n"));
        // The directory gone while the live marks name files: nothing early.
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(Early::at(&dir, Basis::Scratch(Some(&marks))).is_none());
        assert!(Early::at(&dir, Basis::Committed(&marks)).is_none());
    }

    /// A rebuild over a history that is there: each file's lines are
    /// compared with it as they are made, and those it holds are dropped
    /// (a busy lab's ~47 MB). Whatever the file holds (the same lines, a
    /// crashed pass's beginning of them, more, other lines, a line cut
    /// short), the files and marks are those of `stage` given every line.
    #[test]
    fn a_rebuild_over_a_history_drops_the_lines_the_files_hold_and_ends_as_stage_does() {
        let staged = Staged::new(600);
        let full = staged.may();
        let Staged { items, tmp, whole } = staged;
        let (all, may) = (Staged::all_of(&items), MAY);
        let cut = |n: usize| full[..n].to_vec();
        let mut other = full.clone();
        other[full.len() / 2] = b'#';
        let variants: [(&str, Vec<u8>); 6] = [
            ("the same", full.clone()),
            ("a beginning", cut(full.len() / 3)),
            ("a line cut short", cut(full.len() / 2 + 3)),
            ("more", [full.clone(), b"\"extra\"\n".to_vec()].concat()),
            ("other lines", other),
            ("nothing", Vec::new()),
        ];
        for (what, there) in variants {
            let [by_stage, compared] = ["stage", "compared"].map(|way| {
                let dir = tmp.path().join(format!("{what}-{way}/history"));
                copy_of(&whole, &dir);
                std::fs::write(dir.join(may), &there).unwrap();
                dir
            });
            let want = stage(&by_stage, Basis::Scratch(None), lines(&all)).unwrap().settle().unwrap();
            let mut early = Early::at(&compared, Basis::Scratch(None)).unwrap();
            let left = streamed(&mut early, &items, 7).unwrap();
            let held = |name: &str| left.files.get(name).map_or(0, Vec::len);
            assert_eq!(held("alerts-2026-04.jsonl"), 0, "{what}: April is the file's, all dropped");
            if what == "the same" {
                assert_eq!(held(may), 0, "{what}: every line dropped");
            }
            let got =
                stage_after(&compared, Basis::Scratch(None), left, early.finish().unwrap()).unwrap().settle().unwrap();
            assert_eq!(marked(&compared), marked(&by_stage), "{what}");
            assert_eq!(marked(&compared), marked(&whole), "{what}");
            assert_eq!(contents(&got), contents(&want), "{what}");
            assert!(is_settled(&compared, Some(&got)), "{what}");
        }
    }

    /// A history an incremental pass appends to is not compared: its few
    /// lines stay for `stage`, which checks the committed part first.
    #[test]
    fn an_incremental_pass_compares_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("history");
        let marks = stage(&dir, Basis::Scratch(None), lines(&[("05", "a")])).unwrap().settle().unwrap();
        let mut early = Early::at(&dir, Basis::Committed(&marks)).unwrap();
        let left = streamed(&mut early, &[("05", "a".into())], 1).unwrap();
        assert_eq!(left.files["alerts-2026-05.jsonl"], b"\"a\"\n");
        assert!(early.finish().unwrap().compared.is_empty());
    }

    /// A history file written over while a rebuild compares its lines
    /// with it: never taken for the one compared. Written over in place
    /// (same inode, same size), the lines it held were their only copy and
    /// the pass stops with an error (a rebuild run again makes them again);
    /// replaced by another file, the one compared is still read through
    /// its handle, and the files are those of `stage`.
    #[test]
    fn a_history_file_written_over_during_a_rebuild_is_never_taken_for_the_one_compared() {
        let staged = Staged::new(300);
        let full = staged.may();
        let Staged { items, tmp, whole } = staged;
        let may = MAY;
        let mut other = full.clone();
        other[10] = b'#';
        let rebuilt = |name: &str, overwrite: &dyn Fn(&Path)| {
            let dir = tmp.path().join(format!("{name}/history"));
            copy_of(&whole, &dir);
            let mut early = Early::at(&dir, Basis::Scratch(None)).unwrap();
            let left = streamed(&mut early, &items, 7).unwrap();
            assert!(left.files.values().all(Vec::is_empty), "{name}: every line dropped");
            overwrite(&dir.join(may));
            (dir.clone(), stage_after(&dir, Basis::Scratch(None), left, early.finish().unwrap()))
        };
        let in_place = |path: &Path| {
            std::thread::sleep(std::time::Duration::from_millis(20));
            OpenOptions::new().write(true).open(path).unwrap().write_all(&other).unwrap();
        };
        let error = rebuilt("in-place", &in_place).1.err().expect("stopped");
        assert!(error.to_string().contains("changed while this pass compared"), "{error}");
        let replaced = |path: &Path| {
            std::fs::remove_file(path).unwrap();
            std::fs::write(path, &other).unwrap();
        };
        let (dir, staged) = rebuilt("replaced", &replaced);
        let marks = staged.unwrap().settle().unwrap();
        assert_eq!(marked(&dir), marked(&whole));
        assert!(is_settled(&dir, Some(&marks)));
    }

    /// The directory gone in the middle of a fold, after files were written
    /// early in it: the lines gathered from then on would be lost to
    /// `stage`, so the write fails and the pass stops.
    #[test]
    fn a_directory_gone_after_files_were_written_early_stops_the_pass() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("history");
        std::fs::create_dir(&dir).unwrap();
        let mut early = Early::at(&dir, Basis::Scratch(None)).unwrap();
        streamed(&mut early, &[("04", "a".to_string())], 1).unwrap();
        assert!(dir.join("alerts-2026-04.jsonl").exists());
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::write(&dir, "not a directory").unwrap();
        let later = streamed(&mut early, &[("05", "b".to_string())], 1);
        assert!(matches!(later, Err(HistoryError::Directory(_))), "{:?}", later.err());
    }

    /// The first pass after a checkpoint without history marks adopts every
    /// history file as committed whole: one written early by a pass killed
    /// before its commit would be adopted by the next, which would append
    /// the same lines again. So that pass writes nothing early.
    #[test]
    fn a_pass_that_adopts_the_history_writes_nothing_early() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("history");
        assert!(Early::at(&dir, Basis::Adopt).is_none());
        stage(&dir, Basis::Scratch(None), lines(&[("04", "a")])).unwrap().settle().unwrap();
        assert!(Early::at(&dir, Basis::Adopt).is_none());
    }

    #[test]
    fn an_error_while_writing_early_removes_what_was_made_and_keeps_what_was_there() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("history");
        let mut early = Early::at(&dir, Basis::Scratch(None)).unwrap();
        let items: Vec<(&str, String)> = [("04", "a"), ("05", "b")].iter().map(|(m, t)| (*m, t.to_string())).collect();
        streamed(&mut early, &items, 1).unwrap();
        // A file made meanwhile by someone else is never written over.
        std::fs::write(dir.join("alerts-2026-06.jsonl"), "theirs\n").unwrap();
        let error = streamed(&mut early, &[("06", "c".to_string())], 1).expect_err("refused");
        assert!(matches!(&error, HistoryError::Io { error, .. } if error.kind() == std::io::ErrorKind::AlreadyExists));
        drop(early);
        assert_eq!(files(&dir), [("alerts-2026-06.jsonl".to_string(), b"theirs\n".to_vec())]);
        // A refusal of `stage` removes the files written early as well.
        let dir = tmp.path().join("again/history");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("alerts-2026-04.jsonl"), "\"a\"\n").unwrap();
        let marks = HistoryMarks {
            files: [("alerts-2026-04.jsonl".to_string(), FileMark::of(b"\"A\"\n"))].into(),
            deleted: Default::default(),
        };
        let mut early = Early::at(&dir, Basis::Committed(&marks)).unwrap();
        let left = streamed(&mut early, &[("04", "b".into()), ("05", "c".into())], 1).unwrap();
        assert!(dir.join("alerts-2026-05.jsonl").exists());
        let refused =
            stage_after(&dir, Basis::Committed(&marks), left, early.finish().unwrap()).err().expect("refused");
        assert!(refused.to_string().contains("observer rebuild"), "{refused}");
        assert_eq!(files(&dir), [("alerts-2026-04.jsonl".to_string(), b"\"a\"\n".to_vec())]);
        // A directory that cannot be made: everything is left to `stage`.
        let world = tmp.path().join("world");
        assert!(Early::at(&dir.join("alerts-2026-04.jsonl/history"), Basis::Scratch(None)).is_none(), "unlisted");
        let mut early = Early::at(&world.join("history"), Basis::Scratch(None)).unwrap();
        std::fs::write(&world, "").unwrap();
        let left = streamed(&mut early, &items, 1).unwrap();
        assert_eq!(left.files["alerts-2026-04.jsonl"], b"\"a\"\n");
        assert!(early.finish().unwrap().files.is_empty());
    }

    #[test]
    fn files_written_early_by_a_pass_killed_before_its_commit_are_set_right_by_the_next() {
        let items = story(500);
        let all: Vec<(&str, &str)> = items.iter().map(|(m, t)| (*m, t.as_str())).collect();
        let tmp = tempfile::tempdir().unwrap();
        let whole = tmp.path().join("whole/history");
        let once = stage(&whole, Basis::Scratch(None), lines(&all)).unwrap().settle().unwrap();
        let committed = HistoryMarks::default();
        for (killed_after, next) in [(100, items.len()), (300, 250)] {
            let dir = tmp.path().join(format!("killed-{killed_after}-{next}/history"));
            std::fs::create_dir_all(&dir).unwrap();
            // Killed mid-fold: nothing synced, nothing removed.
            let mut early = Early::at(&dir, Basis::Committed(&committed)).unwrap();
            streamed(&mut early, &items[..killed_after], 7).unwrap();
            std::mem::forget(early);
            assert!(!is_settled(&dir, Some(&committed)), "what it wrote makes the next run fold");
            // The next pass decides the same lines (all of them), or other
            // ones (the first `next`, then others): the files are its lines.
            let mut again: Vec<(&str, String)> = items[..next].to_vec();
            again.push(("05", "other".into()));
            let mut early = Early::at(&dir, Basis::Committed(&committed)).unwrap();
            let left = streamed(&mut early, &again, 7).unwrap();
            let marks = stage_after(&dir, Basis::Committed(&committed), left, early.finish().unwrap())
                .unwrap()
                .settle()
                .unwrap();
            let expected: Vec<(&str, &str)> = again.iter().map(|(m, t)| (*m, t.as_str())).collect();
            let want = tmp.path().join(format!("want-{killed_after}-{next}/history"));
            let want_marks = stage(&want, Basis::Scratch(None), lines(&expected)).unwrap().settle().unwrap();
            assert_eq!(files(&dir), files(&want), "killed after {killed_after}");
            assert_eq!(contents(&marks), contents(&want_marks));
            assert!(is_settled(&dir, Some(&marks)));
        }
        assert_eq!(contents(&once).len(), 3);
    }
}
