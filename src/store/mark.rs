//! How much of an append-only file a checkpoint commits: the outbox
//! (`state/outbox.jsonl`) and each history month (`world/history/`). A
//! mark holds the committed bytes, lines and a running hash of those bytes,
//! so an append extends it from the appended bytes alone.
//!
//! Checking the committed part by its hash reads the whole file, and those
//! files only grow. So a mark also keeps a stamp of the file as its pass
//! left it: device, inode, size, modification and change time. While the
//! file's stamp is the same, nobody wrote to it since, and the hash is not
//! recomputed. Any write, truncation, `touch`, rename over it or `chmod`
//! moves the change time (which no user can set back), and then the whole
//! committed part is hashed as before. A mark without a stamp (written
//! before stamps, or by hand) is always hashed.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::fingerprint::{FNV1A_EMPTY, fnv1a, fnv1a_continue};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileMark {
    pub bytes: u64,
    pub lines: u64,
    /// FNV-1a of those bytes, continued over each append.
    pub digest: u64,
    /// The file's identity, size and times when its pass left it, hashed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<u64>,
}

/// An empty file; also what a checkpoint written before the file existed
/// commits.
impl Default for FileMark {
    fn default() -> FileMark {
        FileMark { bytes: 0, lines: 0, digest: FNV1A_EMPTY, stamp: None }
    }
}

impl FileMark {
    /// The mark after `appended` (whole lines) follows what this one covers.
    pub fn after(self, appended: &[u8]) -> FileMark {
        FileMark {
            bytes: self.bytes + appended.len() as u64,
            lines: self.lines + appended.iter().filter(|b| **b == b'\n').count() as u64,
            digest: fnv1a_continue(self.digest, appended),
            stamp: None,
        }
    }

    /// The mark of exactly `bytes`.
    pub fn of(bytes: &[u8]) -> FileMark {
        FileMark::default().after(bytes)
    }

    /// The same content, with the stamp of the file at `path` as it is now
    /// (none when it cannot be read, which only costs a hash later).
    pub fn stamped(self, path: &Path) -> FileMark {
        FileMark { stamp: stamp_of(path), ..self }
    }

    /// The committed content, without the stamp: what two passes that wrote
    /// the same bytes agree on.
    pub fn content(self) -> FileMark {
        FileMark { stamp: None, ..self }
    }

    /// Whether the file at `path` is, by its stamp, exactly as the pass
    /// that made this mark left it; false whenever in doubt.
    pub fn is_untouched(&self, path: &Path) -> bool {
        self.stamp.is_some() && stamp_of(path) == self.stamp
    }

    /// Whether `bytes` (the file's content) begins with what this mark
    /// commits.
    pub fn commits_prefix_of(&self, bytes: &[u8]) -> bool {
        bytes.len() as u64 >= self.bytes && FileMark::of(&bytes[..self.bytes as usize]).content() == self.content()
    }
}

/// A file's device, inode, size and times, hashed; `None` when it cannot
/// be read.
pub(crate) fn stamp_of(path: &Path) -> Option<u64> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.is_file() {
        return None;
    }
    Some(fnv1a(identity(&meta).as_bytes()))
}

#[cfg(unix)]
fn identity(meta: &std::fs::Metadata) -> String {
    use std::os::unix::fs::MetadataExt;
    let (dev, ino, size) = (meta.dev(), meta.ino(), meta.size());
    let (mtime, mtime_ns, ctime, ctime_ns) = (meta.mtime(), meta.mtime_nsec(), meta.ctime(), meta.ctime_nsec());
    format!("{dev}|{ino}|{size}|{mtime}.{mtime_ns}|{ctime}.{ctime_ns}")
}

/// Without a change time the user cannot set, every check hashes.
#[cfg(not(unix))]
fn identity(_meta: &std::fs::Metadata) -> String {
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_holds_until_the_file_is_written_even_when_its_size_and_mtime_come_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.jsonl");
        std::fs::write(&path, b"one\n").unwrap();
        let mark = FileMark::of(b"one\n").stamped(&path);
        assert!(mark.is_untouched(&path));
        assert!(mark.commits_prefix_of(b"one\ntwo\n") && !mark.commits_prefix_of(b"One\n"));
        assert!(!FileMark::of(b"one\n").is_untouched(&path), "no stamp, no shortcut");
        let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&path, b"One\n").unwrap();
        std::fs::File::options().write(true).open(&path).unwrap().set_modified(mtime).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), mtime);
        assert!(!mark.is_untouched(&path), "same size and mtime, but the change time moved");
        assert!(!mark.is_untouched(&dir.path().join("missing")));
    }
}
