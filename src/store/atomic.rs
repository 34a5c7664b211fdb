//! Atomic replacement of a file: write a temp file beside it, fsync it,
//! rename it over the target, fsync the directory. A reader (or a crash) sees
//! the old content or the new, never a mix.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::fault_injection;

/// Replaces `path` with `bytes`. The temp file is created with `create_new`,
/// so a symlink planted at its name is never followed; the rename replaces a
/// symlink at `path` itself rather than writing through it.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_temp(path, |file| write_in_pieces(file, bytes))?.put_in_place()
}

/// The size of the pieces [`write_in_pieces`] hands the kernel (the
/// outbox's streamed chunks are about as large: a line past it at most).
pub const PIECE: usize = 256 << 10;

/// `bytes` written to `file` a [`PIECE`] at a time: every write of a buffer
/// that can be large (a world file, a snapshot, a journal or history
/// append) goes through here.
///
/// One `write` of 2 MiB or more lets Linux (6.18 here, ext4, which caches
/// files in large folios) back it with 2 MiB folios, and on a virtual
/// machine whose host takes back the guest's free memory (virtio-balloon
/// free page reporting hands over free blocks of that size, as on the
/// project's own machine) such a folio is often memory the host must fault
/// in again. Measured there (issue 11, twenty-sixth pass;
/// 8 MiB to a new file, 30 tries of each size): in writes of 2 MiB, 23 tries
/// took over 10 ms (median 69 ms); in one write of 8 MiB, 9 did (up to
/// 99 ms); in writes of 1 MiB or 256 KiB, none (at most 2.9 ms). The busy
/// history's first run after a rebuild spent 68 ms on its world thread
/// with the three large world files written whole, 30 ms in pieces
/// (medians of 12 alternated runs). Elsewhere the pieces cost a few more
/// system calls: 32 for 8 MiB.
pub fn write_in_pieces(file: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    bytes.chunks(PIECE).try_for_each(|piece| file.write_all(piece))
}

/// [`write_atomic`] in two steps: the new bytes, written by `fill`, are in
/// `path`'s temp file and synced; [`InTemp::put_in_place`] renames it over
/// `path` later, maybe on another thread. So a big file can be written as it
/// is made, beside other work, and still appear at its turn in a pass's
/// order of writes. Dropped before it is put in place (an error, a pass
/// that stops), the temp file goes.
pub fn write_temp(path: &Path, fill: impl FnOnce(&mut File) -> io::Result<()>) -> io::Result<InTemp> {
    let (temp, mut file) = open_temp(path)?;
    fill(&mut file)?;
    file.sync_all()?;
    Ok(temp)
}

/// [`write_temp`] for a file filled over a while (the outbox a rebuild
/// writes as its fold decides it): `path`'s temp file, new and empty, and
/// the [`InTemp`] that puts it in place once the caller has filled and
/// synced it.
pub fn open_temp(path: &Path) -> io::Result<(InTemp, File)> {
    let temp = InTemp { temp: temp_path(path), path: path.to_path_buf(), placed: false };
    // A temp file a crash left behind; usually there is none. If it cannot
    // be removed, `create_new` below fails and says so.
    let _ = fs::remove_file(&temp.temp);
    let file = OpenOptions::new().write(true).create_new(true).open(&temp.temp)?;
    fault_injection::fail_at("write")?;
    Ok((temp, file))
}

/// A file's new bytes in its temp file, synced, not yet in place (see
/// [`write_temp`]).
#[derive(Debug)]
#[must_use]
pub struct InTemp {
    temp: PathBuf,
    path: PathBuf,
    placed: bool,
}

impl InTemp {
    /// Renames the temp file over the file and syncs the directory.
    pub fn put_in_place(mut self) -> io::Result<()> {
        fault_injection::crash_at("before-rename");
        fs::rename(&self.temp, &self.path)?;
        self.placed = true;
        let dir = self.path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        sync_dir(dir)
    }
}

impl Drop for InTemp {
    fn drop(&mut self) {
        if !self.placed {
            // Best effort: a temp file left here is hidden from the scan
            // and removed by the next write.
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// The hidden temp name used for `path` (`.name.tmp`), which event scanning
/// ignores and the next write removes.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp"))
}

/// Whether an open file is the one at `path` itself, not one at the end of
/// a symlink there: for files that are written in place (the lock, the
/// observer's own event logs), checked after opening and before writing.
pub fn is_the_file_at(file: &File, path: &Path) -> bool {
    let (Ok(opened), Ok(there)) = (file.metadata(), fs::symlink_metadata(path)) else { return false };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        !there.file_type().is_symlink() && (opened.dev(), opened.ino()) == (there.dev(), there.ino())
    }
    #[cfg(not(unix))]
    {
        !there.file_type().is_symlink() && opened.len() == there.len()
    }
}

/// A directory that cannot be created, with what it was for ("the world
/// directory", say), so that the message says what to do.
#[derive(Debug)]
pub struct CreateDirError {
    pub what: String,
    pub dir: PathBuf,
    pub cause: CreateDirCause,
}

#[derive(Debug)]
pub enum CreateDirCause {
    /// A file in the place of the directory, or of one of its parents.
    NotADirectory(PathBuf),
    Io(io::Error),
}

impl std::fmt::Display for CreateDirError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (what, dir) = (&self.what, self.dir.display());
        match &self.cause {
            CreateDirCause::NotADirectory(file) => {
                write!(f, "cannot create {what} {dir}: {} is not a directory; move it away", file.display())
            }
            CreateDirCause::Io(error) => write!(f, "cannot create {what} {dir}: {error}"),
        }
    }
}

impl std::error::Error for CreateDirError {}

/// Creates `dir` and its parents; the error says what is wrong and what to
/// do, naming `what` ("the world directory", say) and the path. A file in
/// the place of the directory, or of one of its parents, is named as such.
pub fn create_dir(dir: &Path, what: &str) -> Result<(), CreateDirError> {
    let Err(error) = fs::create_dir_all(dir) else {
        return Ok(());
    };
    let in_the_way = dir.ancestors().find(|p| fs::symlink_metadata(p).is_ok_and(|m| !m.is_dir()));
    let cause = match in_the_way {
        Some(file) => CreateDirCause::NotADirectory(file.to_path_buf()),
        None => CreateDirCause::Io(error),
    };
    Err(CreateDirError { what: what.to_string(), dir: dir.to_path_buf(), cause })
}

pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Writes `bytes` only when the file does not already hold exactly them.
/// Returns whether it wrote. Only a regular file of the same length is read
/// to compare: a symlink, a FIFO or a device in its place is replaced
/// without being read (reading could block or never end).
///
/// A temp file that a crash left for `path` goes either way: written or
/// not, the file is current, and its temp would otherwise stay until the
/// file changes (after a killed rebuild, that can be a long time).
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> io::Result<bool> {
    let same_length = fs::symlink_metadata(path).is_ok_and(|m| m.is_file() && m.len() == bytes.len() as u64);
    if same_length && fs::read(path).is_ok_and(|existing| existing == bytes) {
        // Usually there is none; one that stays is hidden and harmless.
        let _ = fs::remove_file(temp_path(path));
        return Ok(false);
    }
    write_atomic(path, bytes).map(|()| true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes every byte it is given and remembers how many each `write` had.
    #[derive(Default)]
    struct Writes {
        bytes: Vec<u8>,
        sizes: Vec<usize>,
    }

    impl Write for Writes {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.bytes.extend_from_slice(bytes);
            self.sizes.push(bytes.len());
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_large_buffer_reaches_the_kernel_in_pieces_of_at_most_a_piece_and_whole() {
        let bytes: Vec<u8> = (0..5 * PIECE + 17).map(|k| (k % 251) as u8).collect();
        let mut writes = Writes::default();
        write_in_pieces(&mut writes, &bytes).unwrap();
        assert_eq!(writes.bytes, bytes);
        assert_eq!(writes.sizes, [PIECE, PIECE, PIECE, PIECE, PIECE, 17]);
        // Well under the 2 MiB of a large folio (see `write_in_pieces`).
        const { assert!(PIECE < 2 << 20) };

        let mut writes = Writes::default();
        write_in_pieces(&mut writes, b"").unwrap();
        assert!(writes.sizes.is_empty());

        // Through `write_atomic`, the file is the bytes.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.json");
        write_atomic(&path, &bytes).unwrap();
        assert_eq!(fs::read(&path).unwrap(), bytes);
    }

    #[test]
    fn a_file_written_to_its_temp_appears_whole_when_put_in_place_and_a_failed_or_dropped_one_never() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        fs::write(&path, b"old").unwrap();
        let in_temp = write_temp(&path, |file| file.write_all(b"new")).unwrap();
        assert_eq!(fs::read(temp_path(&path)).unwrap(), b"new");
        assert_eq!(fs::read(&path).unwrap(), b"old");
        in_temp.put_in_place().unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert!(!temp_path(&path).exists());
        let failed = write_temp(&path, |file| {
            file.write_all(b"half")?;
            Err(io::Error::other("full"))
        });
        assert_eq!(failed.unwrap_err().to_string(), "full");
        drop(write_temp(&path, |file| file.write_all(b"never")).unwrap());
        assert!(!temp_path(&path).exists());
        assert_eq!(fs::read(&path).unwrap(), b"new");
    }

    #[test]
    fn replaces_content_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert!(!temp_path(&path).exists());
        assert!(!write_if_changed(&path, b"two").unwrap());
        assert!(write_if_changed(&path, b"three").unwrap());
        // A temp file a crash left goes even when the file is not written.
        fs::write(temp_path(&path), b"left by a crash").unwrap();
        assert!(!write_if_changed(&path, b"three").unwrap());
        assert!(!temp_path(&path).exists());
    }

    #[cfg(unix)]
    #[test]
    fn never_writes_through_a_planted_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        fs::write(&outside, b"keep").unwrap();
        let path = dir.path().join("world.json");
        std::os::unix::fs::symlink(&outside, &path).unwrap();
        write_if_changed(&path, b"keep").unwrap();
        assert_eq!(fs::read(&outside).unwrap(), b"keep");
        assert!(!fs::symlink_metadata(&path).unwrap().file_type().is_symlink());
    }
}
