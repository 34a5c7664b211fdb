//! One world generation at a time (SPEC §3, guarantee 4): the world files
//! of a pass are written together into a hidden directory of their own,
//! `world/..gen-N`, and made current by one `rename`, that of the symlink
//! `world/..data` → `..gen-N`. Each `world/<file>` is a symlink
//! `..data/<file>`, so `cat world/nodes.json` and `jq` read the current
//! generation, and a crash or a full disk at any point leaves the whole old
//! generation or the whole new one. The layout is that of the Kubernetes
//! AtomicWriter.
//!
//! - A file that did not change is hard-linked from the current generation
//!   (copied where the file system has no hard links), so a pass writes
//!   what changed and no more; a pass in which nothing changed makes no
//!   generation at all.
//! - The generation before the current one is kept until the next swap, so
//!   a reader that resolved `world/..data` once (opened `world/..data/`,
//!   or followed the link to `..gen-N`) reads all files of one generation
//!   even while the next pass writes.
//! - A world directory of an older version (regular files) is migrated by
//!   the first pass: its files are hard-linked into a first generation,
//!   made current, and then each regular file is replaced by its symlink
//!   (same bytes before and after, so a reader or a crash in the middle
//!   sees one generation); then the pass writes its own generation.
//! - `world/history/` (append-only) and `world/metrics.prom` (written each
//!   pass, outside guarantee 2) are not part of a generation.

use std::fs::{self, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::atomic::{sync_dir, temp_path, write_in_pieces};
use super::fault_injection;

/// The symlink naming the current generation.
pub const DATA: &str = "..data";
const PREFIX: &str = "..gen-";

/// A world file that could not be written, with its path as users know it
/// (`world/nodes.json`).
#[derive(Debug)]
pub struct WriteError {
    pub path: PathBuf,
    pub error: io::Error,
}

/// The directory that holds `generation` of the world in `world`
/// (`world/..gen-N`), or `world` itself for `None` (a world of an older
/// version, or none).
fn dir_of(world: &Path, generation: Option<u64>) -> PathBuf {
    match generation {
        Some(n) => world.join(gen_name(n)),
        None => world.to_path_buf(),
    }
}

/// How many times [`read_whole`] reads again from a newer generation before
/// it keeps what it read.
const READ_ATTEMPTS: usize = 4;

/// Reads several files of one generation: `read` gets the directory of the
/// current generation ([`dir_of`]) and reads them all from it. A pass
/// keeps the generation before its own and removes older ones, so a reader
/// slower than two passes would find its generation removed under it (a
/// file missing, or some of them); when the generation it read is no
/// longer kept after the read, `read` gets the new current one, up to
/// [`READ_ATTEMPTS`] times in all (passes back to back, each shorter than
/// the read), and the last read is kept. A generation still kept after
/// the read was kept throughout it (generations only grow), so one pass
/// during the read costs no second one.
pub fn read_whole<T>(world: &Path, mut read: impl FnMut(&Path) -> T) -> T {
    let mut generation = current(world);
    let mut attempts = 1;
    loop {
        let value = read(&dir_of(world, generation));
        if attempts == READ_ATTEMPTS || kept(world, generation) {
            return value;
        }
        generation = current(world);
        attempts += 1;
    }
}

/// Whether `generation` is still the current one or the one before it,
/// which [`prune_old`] keeps (`None`, the world itself: whether the world
/// still has no generations).
fn kept(world: &Path, generation: Option<u64>) -> bool {
    let now = current(world);
    generation == now || now.is_some_and(|now| generation.is_some() && previous(world, now) == generation)
}

/// The generation before `current`: the greatest below it.
fn previous(dir: &Path, current: u64) -> Option<u64> {
    generations(dir).into_iter().filter(|&g| g < current).max()
}

/// Why [`write_rendered`] wrote no generation: a file could not be
/// written, or `render` failed.
#[derive(Debug)]
pub enum Failed<E> {
    Write(WriteError),
    Render(E),
}

impl<E> From<WriteError> for Failed<E> {
    fn from(error: WriteError) -> Self {
        Failed::Write(error)
    }
}

/// Makes the files `names` the world in `dir`, returning the names whose
/// bytes changed; nothing changed (and the layout in place): nothing is
/// written. Each file is rendered by `render` into one buffer (emptied
/// before each) and written, or found unchanged, before the next is
/// rendered: the files are never all held at once (fresh memory is dear,
/// issue 11). The generation directory is made at the first file that
/// changed, and the unchanged files before it are linked into it then. An
/// error of `render` leaves the world's files as they were, as an error of
/// a write does (what runs before the first render: an older version's
/// world migrated, the links mended, the generations a crash left pruned,
/// changes the layout, not the content).
///
/// `before_swap` runs once every file of the new generation is written
/// (their syncs waited for after it), before it is made current, and only
/// when one is made: a pass waits there for what must be
/// on disk before the world that follows it (the history lines of what
/// left the hot view, SPEC §4). Its error is told as one of `render`, and
/// leaves the world as it was too.
///
/// Once a new generation is current, three may be in `dir`: the caller
/// removes the oldest with [`prune_old`] (the next call does otherwise).
pub fn write_rendered<E>(
    dir: &Path,
    names: &[&'static str],
    mut render: impl FnMut(&'static str, &mut Vec<u8>) -> Result<(), E>,
    before_swap: impl FnOnce() -> Result<(), E>,
) -> Result<Vec<&'static str>, Failed<E>> {
    let at = |name: &str| {
        let path = dir.join(name);
        move |error| WriteError { path, error }
    };
    refuse_a_data_directory(dir).map_err(at(DATA))?;
    remove_temps(dir, names);
    let mut current = current(dir);
    if current.is_none() && names.iter().any(|name| is_regular(&dir.join(name))) {
        // An older version's world: its files become the first generation.
        prune(dir, &[])?;
        let first = 1;
        let mut filling = Filling::new(dir.join(gen_name(first)))?;
        for name in names {
            filling.old(name, &dir.join(name))?;
        }
        filling.finish()?;
        swap(dir, first).map_err(at(DATA))?;
        current = Some(first);
    }
    for name in names {
        link(dir, name).map_err(at(name))?;
    }
    // Generations after the current one are what a crash left.
    prune_old(dir)?;
    let old_dir = current.map(|n| dir.join(gen_name(n)));
    let next = current.map_or(1, |n| n + 1);
    // The length of each file of the generation before, when it is a
    // regular file: looked at once, for the buffer's size and for the
    // check of each file rendered against it.
    let old_lengths: Vec<Option<u64>> = names
        .iter()
        .map(|name| {
            let old = old_dir.as_ref()?.join(name);
            fs::symlink_metadata(old).ok().filter(|m| m.is_file()).map(|m| m.len())
        })
        .collect();
    let (mut filling, mut changed, mut bytes): (Option<Filling>, _, _) =
        (None, Vec::new(), Vec::with_capacity(room_for(&old_lengths)));
    for (i, &name) in names.iter().enumerate() {
        bytes.clear();
        render(name, &mut bytes).map_err(Failed::Render)?;
        let unchanged = |old: &PathBuf| old_lengths[i] == Some(bytes.len() as u64) && holds(old, &bytes);
        if let Some(old) = old_dir.as_ref().map(|old| old.join(name)).filter(unchanged) {
            if let Some(filling) = &mut filling {
                filling.old(name, &old)?;
            }
            continue;
        }
        let filling = match &mut filling {
            Some(filling) => filling,
            None => {
                let mut first = Filling::new(dir.join(gen_name(next)))?;
                for earlier in &names[..i] {
                    let old = old_dir.as_ref().expect("a file found unchanged has an old generation");
                    first.old(earlier, &old.join(earlier))?;
                }
                filling.insert(first)
            }
        };
        filling.new_file(name, &bytes)?;
        changed.push(name);
    }
    drop(bytes);
    let filling = match filling {
        Some(filling) => filling,
        None if current.is_some() => return Ok(changed),
        None => Filling::new(dir.join(gen_name(next)))?,
    };
    // Dropped on its error, the generation is removed.
    before_swap().map_err(Failed::Render)?;
    filling.finish()?;
    fault_injection::crash_at("before-swap");
    swap(dir, next).map_err(at(DATA))?;
    fault_injection::crash_at("after-swap");
    Ok(changed)
}

/// Removes every generation directory of the world in `dir` but the
/// current one and the one before it (which a reader that resolved
/// `..data` before the last swap may still be reading); an error names the
/// one that could not be removed. [`write_rendered`] runs it before it
/// writes (removing what a crash left), and leaves the generation its swap
/// made the one before the one before to its caller: a pass removes it on
/// a worker while it commits the rest (`fold_pass`). Profiled on the busy
/// history (the run after one that wrote a journal), the removal of its
/// ~6 MB of files was the last 2 to 5 ms of the pass's thread in the
/// world's write, the second core idle by then (issue 11, thirty-second
/// pass).
pub fn prune_old(dir: &Path) -> Result<(), WriteError> {
    let current = current(dir);
    let previous = current.and_then(|n| previous(dir, n));
    prune(dir, &[current, previous].into_iter().flatten().collect::<Vec<_>>())
}

/// A generation directory being written, whole and durably: each file
/// written (or linked) in turn, its sync started as soon as it is written
/// ([`Syncing`]), then all waited for and the directory synced
/// ([`Filling::finish`]). Dropped before that, on an error, it is removed
/// again (best effort: the next pass removes what is left). Errors name
/// the file as `world/<file>` (how users know it).
struct Filling<'a> {
    dir: PathBuf,
    syncing: Vec<(&'a str, Syncing)>,
    finished: bool,
}

impl<'a> Filling<'a> {
    fn new(dir: PathBuf) -> Result<Filling<'a>, WriteError> {
        let made = (|| {
            if dir.exists() {
                fs::remove_dir_all(&dir)?;
            }
            fs::create_dir(&dir)
        })();
        made.map_err(|error| WriteError { path: dir.clone(), error })?;
        Ok(Filling { dir, syncing: Vec::new(), finished: false })
    }

    /// `world/<name>`, as users know it.
    fn world_path(&self, name: &str) -> PathBuf {
        self.dir.parent().unwrap_or(Path::new(".")).join(name)
    }

    /// The file `old` (of the previous generation, or of an older version's
    /// world) as `name`: hard-linked, or copied where the file system has
    /// no hard links; nothing when `old` is no regular file.
    fn old(&mut self, name: &'a str, old: &Path) -> Result<(), WriteError> {
        let path = self.dir.join(name);
        if !fs::symlink_metadata(old).is_ok_and(|m| m.is_file()) || fs::hard_link(old, &path).is_ok() {
            return Ok(());
        }
        let file = fs::copy(old, &path)
            .and_then(|_| fs::File::open(&path))
            .map_err(|error| WriteError { path: self.world_path(name), error })?;
        self.start_sync(name, file);
        Ok(())
    }

    /// `bytes` as the file `name`.
    fn new_file(&mut self, name: &'a str, bytes: &[u8]) -> Result<(), WriteError> {
        let path = self.dir.join(name);
        let file = (|| {
            let mut file = OpenOptions::new().write(true).create_new(true).open(&path)?;
            fault_injection::fail_at("write")?;
            write_in_pieces(&mut file, bytes)?;
            Ok(file)
        })()
        .map_err(|error| WriteError { path: self.world_path(name), error })?;
        fault_injection::crash_at("after-world-file");
        self.start_sync(name, file);
        Ok(())
    }

    fn start_sync(&mut self, name: &'a str, file: fs::File) {
        self.syncing.push((name, Syncing::start(file)));
    }

    /// Every file's sync is waited for (the first error, in the order the
    /// files were written, names its file), then the directory is synced.
    fn finish(mut self) -> Result<(), WriteError> {
        for (name, syncing) in std::mem::take(&mut self.syncing) {
            syncing.wait().map_err(|error| WriteError { path: self.world_path(name), error })?;
        }
        sync_dir(&self.dir).map_err(|error| WriteError { path: self.dir.clone(), error })?;
        self.finished = true;
        Ok(())
    }
}

impl Drop for Filling<'_> {
    fn drop(&mut self) {
        if !self.finished {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// The sync of one file of a generation, started as soon as the file is
/// written, on a thread of its own, so that it runs while the next file is
/// rendered (issue 11, twenty-third pass: the busy run's six world files,
/// each synced on a thread of its own but all only after the last was
/// written, were ~5 ms of waiting at the end of the pass; started each as
/// it is written, the pass ended ~3 ms sooner, medians of alternated
/// runs). Where no thread can be started, the file is synced at once. A
/// sync not waited for (an earlier file's failed, or a render after it)
/// finishes on its own: it holds only its open file, and touches no path.
enum Syncing {
    Beside(std::thread::JoinHandle<io::Result<()>>),
    /// Synced where no thread could be started, or failed by a fault test.
    Done(io::Result<()>),
}

impl Syncing {
    fn start(file: fs::File) -> Syncing {
        // Decided here, in the order the files are written, whether a
        // thread can be started or not.
        if let Err(injected) = fault_injection::fail_at("world-sync") {
            return Syncing::Done(Err(injected));
        }
        let file = Arc::new(file);
        let beside = Arc::clone(&file);
        match std::thread::Builder::new().name("observer-sync".into()).spawn(move || beside.sync_all()) {
            Ok(thread) => Syncing::Beside(thread),
            Err(_) => Syncing::Done(file.sync_all()),
        }
    }

    fn wait(self) -> io::Result<()> {
        match self {
            Syncing::Beside(thread) => thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Syncing::Done(result) => result,
        }
    }
}

/// Points `world/..data` at generation `n` by the rename of a temp symlink,
/// and makes that durable.
fn swap(dir: &Path, n: u64) -> io::Result<()> {
    let temp = temp_path(&dir.join(DATA));
    let _ = fs::remove_file(&temp);
    symlink(&gen_name(n), &temp)?;
    fault_injection::crash_at("before-rename");
    let result = fs::rename(&temp, dir.join(DATA)).and_then(|()| sync_dir(dir));
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Makes `world/<name>` the symlink `..data/<name>` if it is anything else
/// (a regular file of an older version, a missing file, another link).
fn link(dir: &Path, name: &str) -> io::Result<()> {
    let path = dir.join(name);
    let target = Path::new(DATA).join(name);
    if fs::read_link(&path).is_ok_and(|now| now == target) {
        return Ok(());
    }
    let temp = temp_path(&path);
    let _ = fs::remove_file(&temp);
    symlink(&target.to_string_lossy(), &temp)?;
    fault_injection::crash_at("before-link");
    fs::rename(&temp, &path).inspect_err(|_| {
        let _ = fs::remove_file(&temp);
    })?;
    sync_dir(dir)
}

/// The generation `world/..data` names, if it names one.
fn current(dir: &Path) -> Option<u64> {
    let target = fs::read_link(dir.join(DATA)).ok()?;
    let n = parse(target.to_str()?)?;
    // A real directory: a symlink planted in its place is never read from.
    fs::symlink_metadata(dir.join(gen_name(n))).is_ok_and(|m| m.is_dir()).then_some(n)
}

fn generations(dir: &Path) -> Vec<u64> {
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    entries.flatten().filter_map(|entry| parse(entry.file_name().to_str()?)).collect()
}

/// Removes every generation directory but those in `keep`; an error names
/// the one that could not be removed.
fn prune(dir: &Path, keep: &[u64]) -> Result<(), WriteError> {
    for n in generations(dir) {
        let path = dir.join(gen_name(n));
        if !keep.contains(&n) {
            fs::remove_dir_all(&path).map_err(|error| WriteError { path, error })?;
        }
    }
    Ok(())
}

fn gen_name(n: u64) -> String {
    format!("{PREFIX}{n}")
}

fn parse(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(PREFIX)?;
    digits.bytes().all(|b| b.is_ascii_digit()).then(|| digits.parse().ok()).flatten()
}

/// Room for the largest file of the generation before (`old_lengths`), and
/// a little more: the one buffer the files are rendered into then grows
/// once at most, not by doubling from nothing.
fn room_for(old_lengths: &[Option<u64>]) -> usize {
    let largest = usize::try_from(old_lengths.iter().flatten().max().copied().unwrap_or(0)).unwrap_or(0);
    largest + largest / 16
}

/// Whether the file at `path`, of the length of `bytes` when its length was
/// looked at, holds exactly `bytes`.
fn holds(path: &Path, bytes: &[u8]) -> bool {
    fs::read(path).is_ok_and(|existing| existing == bytes)
}

fn is_regular(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.is_file())
}

/// A directory at `world/..data` is not ours to replace; say so.
fn refuse_a_data_directory(dir: &Path) -> io::Result<()> {
    if fs::symlink_metadata(dir.join(DATA)).is_ok_and(|m| m.is_dir()) {
        return Err(io::Error::other("a directory is in the place of the generation link; move it away"));
    }
    Ok(())
}

/// Temp names a crash left: the generation link's, and each file's (its
/// link's now, or the temp file of an older version's write).
fn remove_temps(dir: &Path, names: &[&str]) {
    for name in names.iter().copied().chain([DATA]) {
        let _ = fs::remove_file(temp_path(&dir.join(name)));
    }
}

#[cfg(unix)]
fn symlink(target: &str, link: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(not(unix))]
fn symlink(_target: &str, _link: &Path) -> io::Result<()> {
    Err(io::Error::other("world generations need symlinks, which this platform lacks"))
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    /// The directory of the current generation, as a reader finds it.
    fn current_dir(dir: &Path) -> PathBuf {
        dir_of(dir, current(dir))
    }

    /// The files given, made the world in `dir` ([`write_rendered`] of
    /// bytes already rendered).
    fn write(dir: &Path, files: &[(&'static str, Vec<u8>)]) -> Result<Vec<&'static str>, WriteError> {
        let names: Vec<&'static str> = files.iter().map(|(name, _)| *name).collect();
        let given = |name: &str, bytes: &mut Vec<u8>| {
            let (_, file) = files.iter().find(|(given, _)| *given == name).expect("a name of `files`");
            bytes.extend_from_slice(file);
            Ok::<(), std::convert::Infallible>(())
        };
        write_rendered(dir, &names, given, || Ok(())).map_err(|failed| match failed {
            Failed::Write(error) => error,
            Failed::Render(never) => match never {},
        })
    }

    fn world_with(nodes: &str, summary: &str) -> Vec<(&'static str, Vec<u8>)> {
        vec![("nodes.json", nodes.as_bytes().to_vec()), ("summary.json", summary.as_bytes().to_vec())]
    }

    fn gens(dir: &Path) -> Vec<u64> {
        let mut all = generations(dir);
        all.sort_unstable();
        all
    }

    #[test]
    fn each_write_that_changes_something_is_one_new_generation_behind_one_link() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        assert_eq!(write(dir, &world_with("n1", "s1")).unwrap(), ["nodes.json", "summary.json"]);
        assert_eq!(fs::read_link(dir.join(DATA)).unwrap(), Path::new("..gen-1"));
        assert_eq!(fs::read_link(dir.join("nodes.json")).unwrap(), Path::new("..data/nodes.json"));
        assert_eq!(fs::read_to_string(dir.join("nodes.json")).unwrap(), "n1");
        assert_eq!(current_dir(dir), dir.join("..gen-1"));

        // Nothing changed: no generation.
        assert!(write(dir, &world_with("n1", "s1")).unwrap().is_empty());
        assert_eq!(gens(dir), [1]);

        // One file changed: the other is the same inode, hard-linked.
        assert_eq!(write(dir, &world_with("n1", "s2")).unwrap(), ["summary.json"]);
        assert_eq!(gens(dir), [1, 2], "the previous generation is kept until the next swap");
        let ino = |p: &str| fs::metadata(dir.join(p)).unwrap().ino();
        assert_eq!(ino("..gen-1/nodes.json"), ino("..gen-2/nodes.json"));
        assert_eq!(fs::read_to_string(dir.join("summary.json")).unwrap(), "s2");
        assert_eq!(fs::read_to_string(dir.join("..gen-1/summary.json")).unwrap(), "s1");

        write(dir, &world_with("n3", "s3")).unwrap();
        assert_eq!(gens(dir), [1, 2, 3], "the oldest is left to `prune_old`");
        assert_eq!(current_dir(dir), dir.join("..gen-3"));
        prune_old(dir).unwrap();
        assert_eq!(gens(dir), [2, 3], "the current one and the one before");
        prune_old(dir).unwrap();
        assert_eq!(gens(dir), [2, 3]);
        // Left unpruned, the next write removes it before it writes.
        write(dir, &world_with("n4", "s4")).unwrap();
        write(dir, &world_with("n5", "s5")).unwrap();
        assert_eq!(gens(dir), [3, 4, 5]);
    }

    #[test]
    fn a_read_of_several_files_whose_generation_passes_removed_reads_the_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        let file = |generation: &Path, name: &str| fs::read_to_string(generation.join(name)).ok();
        let pass = |n: u32| {
            write(dir, &world_with(&format!("n{n}"), &format!("s{n}"))).unwrap();
            prune_old(dir).unwrap();
        };
        pass(1);
        // Reads `nodes.json`, lets `passes` run, then reads `summary.json`
        // (the first read only): what it got, and in how many reads.
        let read_during = |passes: &[u32]| {
            let mut reads = 0;
            let got = read_whole(dir, |generation| {
                reads += 1;
                let nodes = file(generation, "nodes.json");
                if reads == 1 {
                    passes.iter().for_each(|&n| pass(n));
                }
                (nodes, file(generation, "summary.json"))
            });
            (got, reads)
        };
        // One pass during the read: its generation is kept, one read.
        assert_eq!(read_during(&[2]), ((Some("n1".into()), Some("s1".into())), 1));
        // Two: its generation is removed half-way; read again from the new one.
        assert_eq!(read_during(&[3, 4]), ((Some("n4".into()), Some("s4".into())), 2));
        // Passes back to back, each shorter than the read: the last is kept.
        let (mut reads, mut n) = (0, 4);
        read_whole(dir, |_| {
            reads += 1;
            n += 2;
            pass(n - 1);
            pass(n);
        });
        assert_eq!(reads, READ_ATTEMPTS);
    }

    /// Three files rendered one at a time: what `render` gives for each.
    fn rendered(dir: &Path, texts: [&str; 3]) -> Result<Vec<&'static str>, Failed<String>> {
        let names = ["a.json", "b.json", "c.json"];
        let seen = std::cell::RefCell::new(Vec::new());
        let result = write_rendered(
            dir,
            &names,
            |name, bytes| {
                assert!(bytes.is_empty(), "each file is rendered into an emptied buffer");
                seen.borrow_mut().push(name);
                let text = texts[names.iter().position(|n| *n == name).unwrap()];
                match text.strip_prefix("fail:") {
                    Some(why) => Err(why.to_string()),
                    None => {
                        bytes.extend_from_slice(text.as_bytes());
                        Ok(())
                    }
                }
            },
            || Ok(()),
        );
        assert!(result.is_err() || *seen.borrow() == names, "every file is rendered, in order");
        result
    }

    #[test]
    fn files_rendered_one_at_a_time_link_the_unchanged_ones_before_and_after_the_first_change() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        assert_eq!(rendered(dir, ["a1", "b1", "c1"]).unwrap(), ["a.json", "b.json", "c.json"]);
        assert!(rendered(dir, ["a1", "b1", "c1"]).unwrap().is_empty());
        assert_eq!(gens(dir), [1], "nothing changed: no generation");
        let names = ["a.json", "b.json", "c.json"];
        let mut written_before = None;
        let changed = write_rendered(
            dir,
            &names,
            |name, bytes| {
                if name == "c.json" {
                    written_before = Some(dir.join("..gen-2/b.json").is_file());
                }
                let text = match name {
                    "a.json" => "a1",
                    "b.json" => "b2",
                    _ => "c1",
                };
                bytes.extend_from_slice(text.as_bytes());
                Ok::<(), String>(())
            },
            || Ok(()),
        );
        assert_eq!(changed.unwrap(), ["b.json"]);
        assert_eq!(written_before, Some(true), "b.json is written before c.json is rendered");
        let ino = |p: &str| fs::metadata(dir.join(p)).unwrap().ino();
        assert_eq!(ino("..gen-1/a.json"), ino("..gen-2/a.json"), "unchanged before the first change: linked");
        assert_eq!(ino("..gen-1/c.json"), ino("..gen-2/c.json"), "unchanged after it: linked");
        assert_eq!(fs::read_to_string(dir.join("b.json")).unwrap(), "b2");
    }

    #[test]
    fn what_runs_before_the_swap_sees_every_file_written_and_its_error_leaves_the_world_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        let names = ["a.json", "b.json"];
        let text = |a: &'static str, b: &'static str| {
            move |name: &'static str, bytes: &mut Vec<u8>| {
                bytes.extend_from_slice(if name == "a.json" { a } else { b }.as_bytes());
                Ok::<(), String>(())
            }
        };
        let mut seen = None;
        let before_swap = || {
            seen = Some((fs::read_to_string(dir.join("..gen-1/b.json")).ok(), dir.join(DATA).exists()));
            Ok(())
        };
        write_rendered(dir, &names, text("a1", "b1"), before_swap).unwrap();
        assert_eq!(seen, Some((Some("b1".to_string()), false)), "written, not yet current");
        let failed = write_rendered(dir, &names, text("a2", "b2"), || Err("history not written".to_string()));
        assert!(matches!(failed, Err(Failed::Render(why)) if why == "history not written"));
        assert_eq!(gens(dir), [1], "the generation that was not made current is removed");
        assert_eq!(fs::read_to_string(dir.join("a.json")).unwrap(), "a1");
        let mut called = false;
        let unchanged = write_rendered(dir, &names, text("a1", "b1"), || {
            called = true;
            Ok(())
        });
        assert!(unchanged.unwrap().is_empty() && !called, "nothing changed: no swap, nothing before it");
    }

    #[test]
    fn a_render_that_fails_after_a_file_was_written_leaves_the_world_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        rendered(dir, ["a1", "b1", "c1"]).unwrap();
        match rendered(dir, ["a2", "b2", "fail:no view"]) {
            Err(Failed::Render(why)) => assert_eq!(why, "no view"),
            other => panic!("expected the render's error, got {other:?}"),
        }
        assert_eq!(gens(dir), [1], "the half-written generation is removed");
        assert_eq!(fs::read_to_string(dir.join("a.json")).unwrap(), "a1");
        assert_eq!(fs::read_to_string(dir.join("c.json")).unwrap(), "c1");
        assert_eq!(rendered(dir, ["a2", "b1", "c1"]).unwrap(), ["a.json"]);
        assert_eq!(gens(dir), [1, 2]);
    }

    #[test]
    fn an_older_versions_world_becomes_the_first_generation_then_the_new_one_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        fs::write(dir.join("nodes.json"), "old n").unwrap();
        fs::write(dir.join("summary.json"), "old s").unwrap();
        fs::write(temp_path(&dir.join("nodes.json")), "a temp file an older version's crash left").unwrap();
        assert_eq!(current_dir(dir), dir, "no generations yet: the directory itself");
        write(dir, &world_with("n", "s")).unwrap();
        assert_eq!(gens(dir), [1, 2]);
        assert_eq!(fs::read_to_string(dir.join("..gen-1/nodes.json")).unwrap(), "old n");
        assert_eq!(fs::read_to_string(dir.join("nodes.json")).unwrap(), "n");
        assert!(fs::symlink_metadata(dir.join("summary.json")).unwrap().file_type().is_symlink());
        assert!(!temp_path(&dir.join("nodes.json")).exists());
    }

    #[test]
    fn what_a_crash_left_is_removed_and_never_made_current() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        write(dir, &world_with("n1", "s1")).unwrap();
        // A generation written but not swapped in, a temp link, a lost link.
        fs::create_dir(dir.join("..gen-2")).unwrap();
        fs::write(dir.join("..gen-2/nodes.json"), "half").unwrap();
        symlink("..gen-2", &temp_path(&dir.join(DATA))).unwrap();
        fs::remove_file(dir.join("summary.json")).unwrap();
        assert!(write(dir, &world_with("n1", "s1")).unwrap().is_empty(), "the current generation is still whole");
        assert_eq!(gens(dir), [1]);
        assert!(!temp_path(&dir.join(DATA)).exists());
        assert_eq!(fs::read_to_string(dir.join("summary.json")).unwrap(), "s1");
        write(dir, &world_with("n2", "s1")).unwrap();
        assert_eq!(gens(dir), [1, 2]);
        assert_eq!(fs::read_to_string(dir.join("..gen-2/nodes.json")).unwrap(), "n2");
    }

    #[test]
    fn a_generation_that_is_a_planted_symlink_is_never_read_from_nor_emptied() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("nodes.json"), "precious").unwrap();
        let world = dir.path().join("world");
        fs::create_dir(&world).unwrap();
        symlink(&outside.to_string_lossy(), &world.join("..gen-5")).unwrap();
        symlink("..gen-5", &world.join(DATA)).unwrap();
        assert_eq!(current_dir(&world), world, "the planted link is not a generation");
        write(&world, &world_with("n", "s")).unwrap();
        assert_eq!(fs::read_to_string(outside.join("nodes.json")).unwrap(), "precious");
        assert_eq!(gens(&world), [1]);
        assert_eq!(fs::read_to_string(world.join("nodes.json")).unwrap(), "n");
    }

    #[test]
    fn a_directory_in_the_place_of_the_link_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        fs::create_dir(dir.join(DATA)).unwrap();
        let error = write(dir, &world_with("n", "s")).unwrap_err();
        assert_eq!(error.path, dir.join(DATA));
        assert!(error.error.to_string().contains("move it away"), "{}", error.error);
        assert!(dir.join(DATA).is_dir());
    }
}
