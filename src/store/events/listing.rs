//! Listing `events/`: which files are event sources (SPEC §1), and what each
//! looks like on disk, in the path order that breaks `ts` ties (SPEC §3).
//!
//! One implementation for every Unix. Each directory is opened once and
//! each file is looked at relative to the directory's descriptor: with
//! 50,000 single-event files, listing and looking at them is most of a run
//! with nothing new, and a lookup by full path costs a walk of every
//! component. The only platform difference is [`look_at`]: Linux keeps the
//! birth time behind `statx`, other systems put it in `stat`.

use std::ffi::{CStr, OsStr};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use rustix::fd::{AsFd, BorrowedFd};
use rustix::fs::{AtFlags, CWD, Dir, FileType, Mode, OFlags, openat, statat};
use rustix::io::Errno;

use super::SourceError;
use super::cursor::FileMeta;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum FileKind {
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

/// An event file as the listing found it.
#[derive(Clone, Debug)]
pub(super) struct EventFile {
    /// The path relative to `events/`, the key of its cursor.
    pub rel: String,
    pub path: PathBuf,
    pub kind: FileKind,
    pub meta: FileMeta,
}

/// Lists event files in path order. Hidden directories and files, temp
/// names, other extensions and symlinks are skipped: symlinks are not
/// followed, so nothing outside `events/` is ever read as an event.
pub(super) fn list(events_dir: &Path) -> Result<Vec<EventFile>, SourceError> {
    let mut out = Vec::new();
    if !events_dir.exists() {
        return Ok(out);
    }
    // `events/` itself may be a symlink (to a bigger disk); nothing under it is followed.
    let mut stack = vec![(events_dir.to_path_buf(), String::new(), OFlags::empty())];
    while let Some((dir, rel_dir, no_follow)) = stack.pop() {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | no_follow;
        let fd = match openat(CWD, &dir, flags, Mode::empty()) {
            Ok(fd) => fd,
            // Gone, or replaced by a link, since its parent was read.
            Err(Errno::NOENT | Errno::LOOP | Errno::NOTDIR) => continue,
            Err(error) => return Err(io(&dir, error)),
        };
        let names = Names::read(&fd, &dir)?;
        let place = Place { fd: fd.as_fd(), dir: &dir, rel_dir: &rel_dir };
        // Profiled on a no-op run over 50,000 single-event files in one
        // directory: looking at each file (`statx`, nearly all of it the
        // kernel's look-up of the name) was the critical path, one file
        // after another, while the other core had finished reading the
        // checkpoint. So a big directory's files are looked at in two
        // halves, the second on a worker (`crate::threads`).
        let (mut found, subdirs) = if names.entries.len() >= LOOK_ON_TWO_THREADS_AT {
            let (first, second) = names.entries.split_at(names.entries.len() / 2);
            let (a, b) = crate::threads::both(
                || place.look_at_each(&names.bytes, first),
                || place.look_at_each(&names.bytes, second),
            );
            let (mut a, b) = (a?, b?);
            a.0.extend(b.0);
            a.1.extend(b.1);
            a
        } else {
            place.look_at_each(&names.bytes, &names.entries)?
        };
        out.append(&mut found);
        for name in subdirs {
            let os_name = OsStr::from_bytes(name);
            stack.push((dir.join(os_name), format!("{rel_dir}{}/", path_key(os_name)), OFlags::NOFOLLOW));
        }
    }
    Ok(in_path_order(out))
}

/// A directory with at least this many entries to look at is looked at on
/// two threads; below it, a thread costs more than it saves.
const LOOK_ON_TWO_THREADS_AT: usize = 4096;

fn io(path: &Path, error: Errno) -> SourceError {
    SourceError::Io { path: path.to_path_buf(), error: error.into() }
}

/// The entries of one directory that may be event files or directories,
/// their names in one buffer (each ending with its NUL), read before any
/// is looked at.
struct Names {
    bytes: Vec<u8>,
    entries: Vec<Named>,
}

#[derive(Clone, Copy)]
struct Named {
    /// Where the name starts in [`Names::bytes`], and where its NUL ends.
    start: u32,
    end: u32,
    file_type: FileType,
    kind: Option<FileKind>,
}

impl Names {
    fn read(fd: &rustix::fd::OwnedFd, dir: &Path) -> Result<Names, SourceError> {
        let mut names = Names { bytes: Vec::new(), entries: Vec::new() };
        let mut entries = Dir::read_from(fd).map_err(|e| io(dir, e))?;
        while let Some(entry) = entries.read() {
            let entry = entry.map_err(|e| io(dir, e))?;
            let name = entry.file_name();
            let bytes = name.to_bytes();
            if bytes.starts_with(b".") {
                continue; // hidden, and `.` and `..`
            }
            let file_type = entry.file_type();
            let kind = kind_of(&OsStr::from_bytes(bytes).to_string_lossy());
            // The directory entry tells the type on most file systems, so
            // only event files, directories and entries of unknown type are kept.
            let wanted = match file_type {
                FileType::Unknown | FileType::Directory => true,
                FileType::RegularFile => kind.is_some(),
                _ => false,
            };
            if !wanted {
                continue;
            }
            let start = u32::try_from(names.bytes.len()).map_err(|_| io(dir, Errno::NAMETOOLONG))?;
            names.bytes.extend_from_slice(name.to_bytes_with_nul());
            let end = u32::try_from(names.bytes.len()).map_err(|_| io(dir, Errno::NAMETOOLONG))?;
            names.entries.push(Named { start, end, file_type, kind });
        }
        Ok(names)
    }
}

/// One directory being listed: its descriptor, its path, and its path
/// relative to `events/` (empty, or ending with `/`).
#[derive(Clone, Copy)]
struct Place<'a> {
    fd: BorrowedFd<'a>,
    dir: &'a Path,
    rel_dir: &'a str,
}

impl Place<'_> {
    /// The event files among `entries`, and the names of the directories.
    fn look_at_each<'n>(
        self,
        bytes: &'n [u8],
        entries: &[Named],
    ) -> Result<(Vec<EventFile>, Vec<&'n [u8]>), SourceError> {
        let mut files = Vec::with_capacity(entries.len());
        let mut subdirs = Vec::new();
        let dir_bytes = self.dir.as_os_str().as_bytes();
        let sep = !dir_bytes.is_empty() && !dir_bytes.ends_with(b"/");
        for entry in entries {
            let with_nul = &bytes[entry.start as usize..entry.end as usize];
            let name = CStr::from_bytes_with_nul(with_nul).expect("a directory entry's name ends with its NUL");
            let bytes = name.to_bytes();
            let os_name = OsStr::from_bytes(bytes);
            let mut file_type = entry.file_type;
            if file_type == FileType::Unknown || (file_type == FileType::RegularFile && entry.kind.is_some()) {
                let meta;
                (file_type, meta) = match look_at(self.fd, name) {
                    Ok(found) => found,
                    Err(Errno::NOENT) => continue,
                    Err(error) => return Err(io(&self.dir.join(os_name), error)),
                };
                if file_type == FileType::RegularFile
                    && let Some(kind) = entry.kind
                {
                    let rel = match os_name.to_str() {
                        Some(text) => {
                            let mut rel = String::with_capacity(self.rel_dir.len() + text.len());
                            rel.push_str(self.rel_dir);
                            rel.push_str(text);
                            rel
                        }
                        None => format!("{}{}", self.rel_dir, path_key(os_name)),
                    };
                    let path = PathBuf::from(std::ffi::OsString::from_vec(joined(dir_bytes, sep, bytes)));
                    files.push(EventFile { rel, path, kind, meta });
                    continue;
                }
            }
            if file_type == FileType::Directory {
                subdirs.push(bytes);
            }
        }
        Ok((files, subdirs))
    }
}

/// A file's full path, its name appended to its directory's, in one
/// allocation of the exact size: with 50,000 files, `format!` and
/// `Path::join` (which grows its buffer) were a tenth of the listing.
fn joined(base: &[u8], sep: bool, name: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(base.len() + usize::from(sep) + name.len());
    bytes.extend_from_slice(base);
    if sep {
        bytes.push(b'/');
    }
    bytes.extend_from_slice(name);
    bytes
}

/// `files` sorted by the byte order of their relative paths, the tie-break
/// order of SPEC §3.
///
/// The listing comes in each directory's hash order. With 50,000 files in
/// one directory, sorting the entries themselves (~120 bytes each, compared
/// with `memcmp` past a long common prefix such as `inbox/event-00`) was
/// 7.6 % of a no-op run. So (key, index) pairs are sorted instead, the key
/// being the 8 bytes after the prefix all paths share, big-endian, zero
/// padded (a path holds no NUL byte, so a shorter path sorts first, as in
/// byte order); only paths whose 8 bytes are equal are compared whole.
fn in_path_order(files: Vec<EventFile>) -> Vec<EventFile> {
    let Some(first) = files.first() else { return files };
    let first = first.rel.as_bytes();
    let mut common = first.len();
    for file in &files[1..] {
        let rel = file.rel.as_bytes();
        common = first[..common].iter().zip(rel).take_while(|(a, b)| a == b).count();
    }
    let key = |rel: &str| {
        let rest = &rel.as_bytes()[common..];
        let mut window = [0u8; 8];
        let n = rest.len().min(8);
        window[..n].copy_from_slice(&rest[..n]);
        u64::from_be_bytes(window)
    };
    let mut order: Vec<(u64, u32)> =
        files.iter().enumerate().map(|(i, f)| (key(&f.rel), u32::try_from(i).unwrap_or(u32::MAX))).collect();
    order.sort_unstable_by(|a, b| {
        a.0.cmp(&b.0).then_with(|| files[a.1 as usize].rel.as_bytes().cmp(files[b.1 as usize].rel.as_bytes()))
    });
    // The order applied in place, one cycle of the permutation at a time:
    // position `p` takes the file at `from[p]`. Moving the files into a new
    // list instead allocated and filled two more of ~120 bytes per file.
    let mut from: Vec<u32> = order.into_iter().map(|(_, i)| i).collect();
    let mut files = files;
    for start in 0..from.len() {
        let mut at = start;
        loop {
            let source = from[at] as usize;
            from[at] = at as u32;
            if source == start {
                break;
            }
            files.swap(at, source);
            at = source;
        }
    }
    files
}

/// The type and [`FileMeta`] of `name` in `dir`, without following a
/// symlink. On Linux `statx` is the only call that gives the birth time;
/// where the kernel lacks it (before 4.11, or filtered by a sandbox),
/// `statat` gives everything else. Either is one system call per file.
fn look_at(dir: BorrowedFd<'_>, name: &CStr) -> Result<(FileType, FileMeta), Errno> {
    look_at_with(dir, name, AtFlags::SYMLINK_NOFOLLOW)
}

/// The [`FileMeta`] of a file already open, as the listing would see it
/// under its name: what tells it from a file that later takes that name
/// ([`FileMeta::is_same_file`]).
pub(super) fn meta_of_open(file: &std::fs::File) -> std::io::Result<FileMeta> {
    Ok(look_at_with(file.as_fd(), c"", AtFlags::EMPTY_PATH)?.1)
}

fn look_at_with(dir: BorrowedFd<'_>, name: &CStr, flags: AtFlags) -> Result<(FileType, FileMeta), Errno> {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{StatxFlags, statx};
        match statx(dir, name, flags, StatxFlags::BASIC_STATS | StatxFlags::BTIME) {
            Ok(stat) => return Ok(of_statx(&stat)),
            Err(Errno::NOSYS) => {}
            Err(error) => return Err(error),
        }
    }
    statat(dir, name, flags).map(|stat| of_stat(&stat))
}

#[cfg(target_os = "linux")]
fn of_statx(stat: &rustix::fs::Statx) -> (FileType, FileMeta) {
    let ns = |t: &rustix::fs::StatxTimestamp| nanos(t.tv_sec, i64::from(t.tv_nsec));
    let has_birth = stat.stx_mask & rustix::fs::StatxFlags::BTIME.bits() != 0;
    let meta = FileMeta {
        size: stat.stx_size,
        dev: rustix::fs::makedev(stat.stx_dev_major, stat.stx_dev_minor),
        ino: stat.stx_ino,
        mtime_ns: ns(&stat.stx_mtime),
        ctime_ns: ns(&stat.stx_ctime),
        btime_ns: has_birth.then(|| ns(&stat.stx_btime)),
    };
    (FileType::from_raw_mode(u32::from(stat.stx_mode)), meta)
}

/// The field types of `struct stat` differ between systems (and between
/// word sizes), so each field is cast to the width the cursor keeps, as
/// std's `MetadataExt` does; on some systems a cast is a no-op.
#[allow(clippy::unnecessary_cast)]
fn of_stat(stat: &rustix::fs::Stat) -> (FileType, FileMeta) {
    let meta = FileMeta {
        size: stat.st_size as u64,
        dev: stat.st_dev as u64,
        ino: stat.st_ino as u64,
        mtime_ns: nanos(stat.st_mtime as i64, stat.st_mtime_nsec as i64),
        ctime_ns: nanos(stat.st_ctime as i64, stat.st_ctime_nsec as i64),
        btime_ns: birth_of(stat),
    };
    (FileType::from_raw_mode(stat.st_mode as rustix::fs::RawMode), meta)
}

/// The birth time, on the systems whose `stat` carries one.
#[cfg(any(target_vendor = "apple", target_os = "freebsd"))]
#[allow(clippy::unnecessary_cast)]
fn birth_of(stat: &rustix::fs::Stat) -> Option<i64> {
    Some(nanos(stat.st_birthtime as i64, stat.st_birthtime_nsec as i64))
}

#[cfg(not(any(target_vendor = "apple", target_os = "freebsd")))]
fn birth_of(_stat: &rustix::fs::Stat) -> Option<i64> {
    None
}

/// A file time in nanoseconds since the epoch: exact from 1678 to 2262, and
/// saturated outside (only equality matters to a cursor).
fn nanos(seconds: i64, nanoseconds: i64) -> i64 {
    seconds.saturating_mul(1_000_000_000).saturating_add(nanoseconds)
}

/// A file name as a cursor key: UTF-8 as is, any other byte as `\xNN`, so
/// that two names never share a key.
fn path_key(name: &OsStr) -> String {
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

/// The [`FileMeta`] of one file, looked at as the listing looks at it.
#[cfg(test)]
pub(super) fn meta_of(path: &Path) -> FileMeta {
    let (dir, name) = (path.parent().unwrap(), path.file_name().unwrap());
    let fd = openat(CWD, dir, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).unwrap();
    look_at(fd.as_fd(), &std::ffi::CString::new(name.as_bytes()).unwrap()).unwrap().1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_event_files_in_byte_order_and_skips_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for dir in ["b", "a", ".hidden", "lnk-target"] {
            std::fs::create_dir(root.join(dir)).unwrap();
        }
        for file in ["b/x.jsonl", "a/y.json", "a/z.ndjson", "top.json", ".h.json", "n.txt", "t.json.tmp"] {
            std::fs::write(root.join(file), b"").unwrap();
        }
        std::fs::write(root.join(".hidden/in.json"), b"").unwrap();
        std::fs::write(root.join("lnk-target/in.json"), b"").unwrap();
        std::fs::write(root.join("a/p.json.partial"), b"").unwrap();
        std::os::unix::fs::symlink(root.join("top.json"), root.join("link.json")).unwrap();
        std::os::unix::fs::symlink(root.join("lnk-target"), root.join("linked")).unwrap();
        std::fs::write(root.join(OsStr::from_bytes(b"bad\xff.json")), b"").unwrap();
        let listed = list(root).unwrap();
        let rels: Vec<&str> = listed.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(rels, ["a/y.json", "a/z.ndjson", "b/x.jsonl", "bad\\xff.json", "lnk-target/in.json", "top.json"]);
        let kinds: Vec<FileKind> = listed.iter().map(|f| f.kind).collect();
        assert_eq!(kinds[..3], [FileKind::Single, FileKind::Lines, FileKind::Lines]);
        assert!(list(&root.join("missing")).unwrap().is_empty());
    }

    #[test]
    fn a_big_directory_looked_at_on_two_threads_lists_every_file_once_and_its_subdirectories() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let files = LOOK_ON_TWO_THREADS_AT + 101;
        for n in 0..files {
            std::fs::write(root.join(format!("e-{n:05}.json")), n.to_string()).unwrap();
        }
        // Skipped without a look, and so not counted in either half.
        for n in 0..50 {
            std::fs::write(root.join(format!("note-{n}.txt")), b"").unwrap();
        }
        for sub in ["a", "z"] {
            std::fs::create_dir(root.join(sub)).unwrap();
            std::fs::write(root.join(sub).join("in.jsonl"), b"{}\n").unwrap();
        }
        let listed = list(root).unwrap();
        let mut expected: Vec<String> = (0..files).map(|n| format!("e-{n:05}.json")).collect();
        expected.insert(0, "a/in.jsonl".into());
        expected.push("z/in.jsonl".into());
        let rels: Vec<&str> = listed.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(rels, expected);
        for file in listed.iter().step_by(997) {
            assert_eq!(file.meta, meta_of(&file.path), "{}", file.rel);
        }
        assert_eq!(listed[1].meta.size, 1);
        assert_eq!(listed[files].meta.size, (files - 1).to_string().len() as u64);
    }

    #[test]
    fn each_path_is_the_directory_joined_with_the_name_whatever_the_directory_is_given_as() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        for file in ["a/b/deep.jsonl", "a/mid.json", "top.ndjson"] {
            std::fs::write(root.join(file), b"{}").unwrap();
        }
        std::fs::write(root.join(OsStr::from_bytes(b"a/raw\xfe.json")), b"{}").unwrap();
        let mut slashed = root.as_os_str().to_owned();
        slashed.push("/");
        for given in [root.to_path_buf(), PathBuf::from(slashed)] {
            let listed = list(&given).unwrap();
            let rels: Vec<&str> = listed.iter().map(|f| f.rel.as_str()).collect();
            assert_eq!(rels, ["a/b/deep.jsonl", "a/mid.json", "a/raw\\xfe.json", "top.ndjson"]);
            for file in &listed {
                let name = file.path.strip_prefix(root).unwrap();
                assert!(file.path.is_file(), "{}", file.path.display());
                assert_eq!(file.meta, meta_of(&file.path), "{}", file.rel);
                if file.rel.is_ascii() && !file.rel.contains('\\') {
                    assert_eq!(name, Path::new(&file.rel));
                }
            }
            assert_eq!(listed[2].path, root.join(OsStr::from_bytes(b"a/raw\xfe.json")));
        }
    }

    #[test]
    fn the_sort_by_a_window_after_the_common_prefix_is_byte_order() {
        let meta = FileMeta { size: 0, dev: 0, ino: 0, mtime_ns: 0, ctime_ns: 0, btime_ns: None };
        let file =
            |rel: &str| EventFile { rel: rel.to_string(), path: PathBuf::from(rel), kind: FileKind::Single, meta };
        let sets: [&[&str]; 5] = [
            &["inbox/event-0000003.json", "inbox/event-0000001.json", "inbox/event-0000010.json"],
            // Equal windows (the first 8 bytes after the prefix), then a tail decides.
            &["p/abcdefghZ.json", "p/abcdefghA.json", "p/abcdefgh.json", "p/abcdefghA.jsonl"],
            // Shorter paths, a directory against a file of the same stem,
            // and bytes above ASCII.
            &["a.json", "a/b.json", "a", "a.jsonl", "é.json", "e.json", "z/\u{ff}.json", "z/x.json"],
            &["same.json"],
            &[],
        ];
        for set in sets {
            let sorted: Vec<String> =
                in_path_order(set.iter().map(|rel| file(rel)).collect()).into_iter().map(|f| f.rel).collect();
            let mut expected: Vec<String> = set.iter().map(|rel| rel.to_string()).collect();
            expected.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            assert_eq!(sorted, expected);
        }
    }

    #[test]
    fn the_portable_look_agrees_with_the_one_in_use() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.jsonl"), b"0123456789").unwrap();
        let fd = openat(CWD, dir.path(), OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap();
        let (file_type, meta) = look_at(fd.as_fd(), c"a.jsonl").unwrap();
        let (portable_type, portable) = of_stat(&statat(&fd, c"a.jsonl", AtFlags::SYMLINK_NOFOLLOW).unwrap());
        assert_eq!((file_type, portable_type), (FileType::RegularFile, FileType::RegularFile));
        assert_eq!(meta.size, 10);
        assert_eq!(FileMeta { btime_ns: meta.btime_ns, ..portable }, meta, "all but the birth time");
        let std_meta = std::fs::symlink_metadata(dir.path().join("a.jsonl")).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(meta.inode(), (std_meta.dev(), std_meta.ino()));
        assert_eq!(meta.mtime_ns, nanos(std_meta.mtime(), std_meta.mtime_nsec()));
    }
}
