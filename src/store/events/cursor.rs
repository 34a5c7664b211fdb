//! The cursor of one event file: how far it was consumed, what the file
//! looked like then ([`FileMeta`]), and fingerprints of the consumed prefix.
//!
//! A run compares each listed file's [`FileMeta`] with its cursor's: when
//! they are equal the file is not opened at all, which is what keeps a run
//! with nothing new cheap. The checkpoint stores cursors in a compact array
//! form that must not change, or old checkpoints would no longer load.

use serde::{Deserialize, Serialize};

/// What a file looked like when it was looked at: size, identity and
/// times. If all of them are unchanged since its cursor was taken, the file
/// is not opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileMeta {
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
}

impl FileMeta {
    /// Device and inode: where the file lives, whatever its name.
    pub fn inode(&self) -> (u64, u64) {
        (self.dev, self.ino)
    }

    /// Whether both describe the very same file: the same device and inode,
    /// born at the same time where both birth times are known.
    pub fn is_same_file(&self, other: &FileMeta) -> bool {
        self.inode() == other.inode()
            && match (self.btime_ns, other.btime_ns) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

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
    /// The file when it was last read.
    pub meta: FileMeta,
    /// FNV-1a of the first and of the last `min(offset, 4096)` consumed bytes.
    pub head: u64,
    pub tail: u64,
}

#[derive(Serialize, Deserialize)]
struct CursorRecord(u64, u64, u64, u64, u64, i64, i64, Option<i64>, u64, u64);

impl From<CursorRecord> for Cursor {
    fn from(r: CursorRecord) -> Cursor {
        let CursorRecord(offset, lines, size, dev, ino, mtime_ns, ctime_ns, btime_ns, head, tail) = r;
        Cursor { offset, lines, meta: FileMeta { size, dev, ino, mtime_ns, ctime_ns, btime_ns }, head, tail }
    }
}

impl From<Cursor> for CursorRecord {
    fn from(c: Cursor) -> CursorRecord {
        let FileMeta { size, dev, ino, mtime_ns, ctime_ns, btime_ns } = c.meta;
        CursorRecord(c.offset, c.lines, size, dev, ino, mtime_ns, ctime_ns, btime_ns, c.head, c.tail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checkpoint_form_is_the_compact_array_old_checkpoints_hold() {
        let meta = FileMeta { size: 3, dev: 4, ino: 5, mtime_ns: -6, ctime_ns: 7, btime_ns: None };
        let cursor = Cursor { offset: 1, lines: 2, meta, head: 9, tail: 10 };
        let text = serde_json::to_string(&cursor).unwrap();
        assert_eq!(text, "[1,2,3,4,5,-6,7,null,9,10]");
        assert_eq!(serde_json::from_str::<Cursor>(&text).unwrap(), cursor);
        let born: Cursor = serde_json::from_str("[1,2,3,4,5,6,7,8,9,10]").unwrap();
        assert_eq!(born.meta.btime_ns, Some(8));
        assert_eq!((born.head, born.tail), (9, 10));
    }

    #[test]
    fn a_file_born_again_at_the_same_inode_is_another_file() {
        let then = FileMeta { size: 1, dev: 1, ino: 2, mtime_ns: 0, ctime_ns: 0, btime_ns: Some(10) };
        assert!(then.is_same_file(&FileMeta { size: 9, ..then }));
        assert!(!then.is_same_file(&FileMeta { btime_ns: Some(11), ..then }));
        assert!(then.is_same_file(&FileMeta { btime_ns: None, ..then }), "no birth time: the inode decides");
        assert!(!then.is_same_file(&FileMeta { ino: 3, ..then }));
    }
}
