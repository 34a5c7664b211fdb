//! The consumed prefix of an event file and its fingerprints: the first and
//! the last 4 KiB of what a cursor consumed, hashed. They say whether a file
//! still begins as it did (guarantee 6: an event log only grows), and which
//! file a cursor belongs to after a rename or a copy ([`super::identity`]).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use super::SourceError;
use super::blocks::BlockHashes;
use super::cursor::{Cursor, PRINT_LEN};
use super::listing::EventFile;
use crate::store::fingerprint::fnv1a;

pub(super) fn io_error(path: &Path) -> impl Fn(std::io::Error) -> SourceError + '_ {
    move |error| SourceError::Io { path: path.to_path_buf(), error }
}

/// Opens a listed file; `None` if it was deleted since the listing, which
/// leaves nothing to consume.
fn open_if_present(path: &Path) -> Result<Option<File>, SourceError> {
    match File::open(path) {
        Ok(file) => Ok(Some(file)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(path)(e)),
    }
}

/// Reads `len` bytes (or to the end) from `from`.
pub(super) fn read_range(file: &mut File, path: &Path, from: u64, len: Option<u64>) -> Result<Vec<u8>, SourceError> {
    file.seek(SeekFrom::Start(from)).map_err(io_error(path))?;
    let mut buf = Vec::new();
    match len {
        Some(len) => {
            file.take(len).read_to_end(&mut buf).map_err(io_error(path))?;
        }
        None => {
            file.read_to_end(&mut buf).map_err(io_error(path))?;
        }
    }
    Ok(buf)
}

/// Whether the file begins with the prefix a cursor consumed (same first and
/// last 4 KiB of it). A file that vanished meanwhile does not match.
pub(super) fn prefix_matches(file: &EventFile, cursor: &Cursor) -> Result<bool, SourceError> {
    Ok(read_prefix_ends(file, cursor)?.is_some_and(|(head, tail)| head == cursor.head && tail == cursor.tail))
}

/// Whether the file begins with the same first bytes as the consumed prefix:
/// the identity of a log (SPEC: a fingerprint of the first bytes).
/// A shorter file still matches if its head does (it shrank: the append-only
/// check reports that).
pub(super) fn head_matches(file: &EventFile, cursor: &Cursor) -> Result<bool, SourceError> {
    let len = cursor.offset.min(PRINT_LEN);
    if file.meta.size < len {
        return Ok(false);
    }
    let Some(mut opened) = open_if_present(&file.path)? else { return Ok(false) };
    Ok(fnv1a(&read_range(&mut opened, &file.path, 0, Some(len))?) == cursor.head)
}

/// Hashes of the first and last `min(offset, 4 KiB)` bytes of the file's
/// first `cursor.offset` bytes; `None` if the file is shorter or gone.
fn read_prefix_ends(file: &EventFile, cursor: &Cursor) -> Result<Option<(u64, u64)>, SourceError> {
    let path = &file.path;
    if file.meta.size < cursor.offset {
        return Ok(None);
    }
    let Some(mut opened) = open_if_present(path)? else { return Ok(None) };
    let len = cursor.offset.min(PRINT_LEN);
    let head = fnv1a(&read_range(&mut opened, path, 0, Some(len))?);
    if head != cursor.head {
        return Ok(Some((head, 0)));
    }
    let tail = fnv1a(&read_range(&mut opened, path, cursor.offset - len, Some(len))?);
    Ok(Some((head, tail)))
}

/// Opens a file that changed, checking first that it did not shrink and that
/// the consumed prefix is intact; `None` if it is gone.
pub(super) fn open_checked(file: &EventFile, cursor: Option<&Cursor>) -> Result<Option<File>, SourceError> {
    let path = &file.path;
    let offset = cursor.map_or(0, |c| c.offset);
    if file.meta.size < offset {
        return Err(SourceError::Shrank { file: path.clone(), from: offset, to: file.meta.size });
    }
    let Some(mut opened) = open_if_present(path)? else { return Ok(None) };
    if let Some(c) = cursor {
        let len = offset.min(PRINT_LEN);
        let tail = read_range(&mut opened, path, offset - len, Some(len))?;
        if (tail.len() as u64) < len {
            return Err(SourceError::Shrank { file: path.clone(), from: offset, to: offset - len + tail.len() as u64 });
        }
        let head =
            if offset <= PRINT_LEN { fnv1a(&tail) } else { fnv1a(&read_range(&mut opened, path, 0, Some(len))?) };
        if head != c.head || fnv1a(&tail) != c.tail {
            return Err(SourceError::Changed { file: path.clone() });
        }
    }
    Ok(Some(opened))
}

/// The cursor of a file consumed up to `offset` (`lines` lines): the
/// fingerprints are read back from the file, which is still open; the block
/// hashes were built as the bytes were consumed (kept only beyond what the
/// head fingerprint covers).
pub(super) fn cursor_at(
    file: &EventFile,
    old: Option<&Cursor>,
    opened: &mut File,
    offset: u64,
    lines: u64,
    blocks: Option<BlockHashes>,
) -> Result<Cursor, SourceError> {
    let len = offset.min(PRINT_LEN);
    let head = match old {
        Some(c) if c.offset >= PRINT_LEN => c.head,
        _ => fnv1a(&read_range(opened, &file.path, 0, Some(len))?),
    };
    let tail = fnv1a(&read_range(opened, &file.path, offset - len, Some(len))?);
    let blocks = blocks.filter(|_| offset > PRINT_LEN);
    Ok(Cursor { offset, lines, meta: file.meta, head, tail, blocks })
}
