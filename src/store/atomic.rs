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
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let temp = temp_path(path);
    // A temp file a crash left behind; usually there is none. If it cannot
    // be removed, `create_new` below fails and says so.
    let _ = fs::remove_file(&temp);
    let result = (|| {
        let mut file = OpenOptions::new().write(true).create_new(true).open(&temp)?;
        fault_injection::fail_at("write")?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fault_injection::crash_at("before-rename");
        fs::rename(&temp, path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        // Best effort: the error that matters is `result`, and a temp file
        // left here is hidden from the scan and removed by the next write.
        let _ = fs::remove_file(&temp);
    }
    result
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
