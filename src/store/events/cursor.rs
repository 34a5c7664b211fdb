//! The cursor of one event file: how far it was consumed, what the file
//! looked like then ([`FileMeta`]), and fingerprints of the consumed prefix.
//!
//! A run compares each listed file's [`FileMeta`] with its cursor's: when
//! they are equal the file is not opened at all, which is what keeps a run
//! with nothing new cheap. The checkpoint stores cursors in a compact array
//! form that must not change, or old checkpoints would no longer load.

use serde::de::{SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::blocks::BlockHashes;

/// Bytes fingerprinted at each end of a consumed prefix (`head`, `tail`).
pub(super) const PRINT_LEN: u64 = 4096;

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
/// tail]`, then the block hashes when there are any. A history of 50,000
/// single-event files has 50,000 cursors, and a no-op run parses them all:
/// as arrays they take half the bytes and half the time of objects.
///
/// Checkpoints written before the block hashes (ten elements) still load:
/// their cursors have `blocks: None`. Such a file gets its hashes when the
/// scrub first reaches it (it reads the consumed bytes as they are then,
/// as a rebuild would, and the run commits the hashes); until then
/// `observer verify` checks it by its head and tail fingerprints and by the
/// rebuild it compares with the live world.
#[derive(Clone, Debug, PartialEq, Eq)]
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
    /// The block hashes of `[0, offset)` ([`super::blocks`]); `None` when
    /// `head` already covers every consumed byte (`offset` ≤ 4096) or the
    /// cursor comes from a checkpoint written before block hashes.
    pub blocks: Option<BlockHashes>,
}

impl Cursor {
    /// Whether every consumed byte is covered by a stored hash: the head
    /// fingerprint for a small file, the block hashes for a larger one.
    pub fn is_hashed(&self) -> bool {
        self.offset <= PRINT_LEN || self.blocks.as_ref().is_some_and(|b| b.covers(self.offset))
    }
}

impl Serialize for Cursor {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let FileMeta { size, dev, ino, mtime_ns, ctime_ns, btime_ns } = self.meta;
        let mut tuple = serializer.serialize_tuple(if self.blocks.is_some() { 11 } else { 10 })?;
        tuple.serialize_element(&self.offset)?;
        tuple.serialize_element(&self.lines)?;
        tuple.serialize_element(&size)?;
        tuple.serialize_element(&dev)?;
        tuple.serialize_element(&ino)?;
        tuple.serialize_element(&mtime_ns)?;
        tuple.serialize_element(&ctime_ns)?;
        tuple.serialize_element(&btime_ns)?;
        tuple.serialize_element(&self.head)?;
        tuple.serialize_element(&self.tail)?;
        if let Some(blocks) = &self.blocks {
            tuple.serialize_element(blocks)?;
        }
        tuple.end()
    }
}

impl<'de> Deserialize<'de> for Cursor {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Cursor, D::Error> {
        struct Elements;
        impl<'de> Visitor<'de> for Elements {
            type Value = Cursor;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a cursor: an array of 10 or 11 elements")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Cursor, A::Error> {
                fn next<'de, A: SeqAccess<'de>, T: Deserialize<'de>>(seq: &mut A, at: usize) -> Result<T, A::Error> {
                    seq.next_element()?.ok_or_else(|| serde::de::Error::invalid_length(at, &Elements))
                }
                let offset = next(&mut seq, 0)?;
                let lines = next(&mut seq, 1)?;
                let meta = FileMeta {
                    size: next(&mut seq, 2)?,
                    dev: next(&mut seq, 3)?,
                    ino: next(&mut seq, 4)?,
                    mtime_ns: next(&mut seq, 5)?,
                    ctime_ns: next(&mut seq, 6)?,
                    btime_ns: next(&mut seq, 7)?,
                };
                let head = next(&mut seq, 8)?;
                let tail = next(&mut seq, 9)?;
                let blocks = seq.next_element()?;
                if seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    return Err(serde::de::Error::invalid_length(12, &Elements));
                }
                Ok(Cursor { offset, lines, meta, head, tail, blocks })
            }
        }
        deserializer.deserialize_seq(Elements)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checkpoint_form_is_the_compact_array_old_checkpoints_hold() {
        let meta = FileMeta { size: 3, dev: 4, ino: 5, mtime_ns: -6, ctime_ns: 7, btime_ns: None };
        let cursor = Cursor { offset: 1, lines: 2, meta, head: 9, tail: 10, blocks: None };
        let text = serde_json::to_string(&cursor).unwrap();
        assert_eq!(text, "[1,2,3,4,5,-6,7,null,9,10]");
        assert_eq!(serde_json::from_str::<Cursor>(&text).unwrap(), cursor);
        let born: Cursor = serde_json::from_str("[1,2,3,4,5,6,7,8,9,10]").unwrap();
        assert_eq!(born.meta.btime_ns, Some(8));
        assert_eq!((born.head, born.tail), (9, 10));
        assert_eq!(born.blocks, None, "a cursor of an older checkpoint has no block hashes");
    }

    #[test]
    fn block_hashes_are_an_eleventh_element_and_nothing_more_is_accepted() {
        let text = r#"[5000,2,5000,4,5,6,7,null,9,10,"00000000000000ff"]"#;
        let cursor: Cursor = serde_json::from_str(text).unwrap();
        assert_eq!(cursor.blocks.as_ref().and_then(|b| b.get(0)), Some(255));
        assert!(cursor.is_hashed());
        assert_eq!(serde_json::to_string(&cursor).unwrap(), text);
        assert!(!Cursor { blocks: None, ..cursor.clone() }.is_hashed(), "5000 bytes: beyond the head");
        assert!(serde_json::from_str::<Cursor>(r#"[1,2,3,4,5,6,7,null,9,10,"",11]"#).is_err());
        assert!(serde_json::from_str::<Cursor>("[1,2,3,4,5,6,7,null,9]").is_err());
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
