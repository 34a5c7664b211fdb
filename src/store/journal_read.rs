//! A committed file of `state/engine/` read whole into one buffer, for
//! `store::journal`: after room left free before it (for a splice in
//! place), in two halves at once when it is long, and hashed as it is read
//! ([`snapshot_hash`]) when asked. Missing, a symlink or not a regular file
//! is an error naming it.

use std::path::Path;

use xxhash_rust::xxh3::xxh3_64;

use super::JournalError;
use crate::store::journal_index::{halves_hash, snapshot_hash};

/// A committed journal, whole (in halves from [`JOURNAL_HALVES_BYTES`]);
/// missing or a symlink is an error.
pub(super) fn read_bytes(path: &Path) -> Result<Vec<u8>, JournalError> {
    Ok(read_split(path, 0, false, JOURNAL_HALVES_BYTES)?.0)
}

/// [`read_bytes`] on this thread alone, however long the file: for a file
/// read beside work that needs the workers more (the index beside the
/// snapshot, read while the state's tail is parsed on a worker).
pub(super) fn read_bytes_here(path: &Path) -> Result<Vec<u8>, JournalError> {
    let io = |error| JournalError::Io { path: path.to_path_buf(), error };
    let meta = regular(path)?;
    read_whole_after(path, meta.len(), 0).map_err(io)
}

/// The metadata of `path`, a regular file (no symlink is followed).
fn regular(path: &Path) -> Result<std::fs::Metadata, JournalError> {
    let meta = std::fs::symlink_metadata(path).map_err(|error| JournalError::Io { path: path.to_path_buf(), error })?;
    if !meta.is_file() {
        let reason = "it is not a regular file, and observer follows no symlink in state/".into();
        return Err(JournalError::Damaged { path: path.to_path_buf(), reason });
    }
    Ok(meta)
}

/// [`read_bytes`] after `room` bytes of zeros, and, when `hashed`, the
/// file's [`snapshot_hash`]: each half hashed by the thread that read it,
/// or, read whole, hashed here the same way.
pub(super) fn read_bytes_after(path: &Path, room: usize, hashed: bool) -> Result<(Vec<u8>, Option<u64>), JournalError> {
    read_split(path, room, hashed, HALVES_READ_BYTES)
}

/// [`read_bytes_after`], read in halves from `halves_from` bytes on.
fn read_split(
    path: &Path,
    room: usize,
    hashed: bool,
    halves_from: u64,
) -> Result<(Vec<u8>, Option<u64>), JournalError> {
    let io = |error| JournalError::Io { path: path.to_path_buf(), error };
    let meta = regular(path)?;
    let (bytes, hash) = match meta.len() {
        len if len >= halves_from => read_in_halves(path, len, room, hashed).map_err(io)?,
        len => (read_whole_after(path, len, room).map_err(io)?, None),
    };
    let hash = hash.or_else(|| hashed.then(|| snapshot_hash(&bytes[room..])));
    Ok((bytes, hash))
}

/// The file at `path`, about `len` bytes long, read whole into one buffer
/// after `room` bytes of zeros.
fn read_whole_after(path: &Path, len: u64, room: usize) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut bytes = Vec::with_capacity(room.saturating_add(usize::try_from(len).unwrap_or(0)));
    bytes.resize(room, 0);
    std::fs::File::open(path)?.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Files at least this long are read by [`read_in_halves`] (the journal
/// from [`JOURNAL_HALVES_BYTES`]).
pub(super) const HALVES_READ_BYTES: u64 = 4 << 20;

/// A journal at least this long is read by [`read_in_halves`]: it is read
/// before anything else of the state, the second core idle, and grows
/// towards half the snapshot between compactions. Profiled on the busy
/// history (the eighth of the runs a timer makes after a rebuild, its
/// journal 3.2 MB), its read into fresh memory on one thread was ~130
/// samples at 15 kHz of the load's thread (issue 11, thirty-eighth pass).
pub(super) const JOURNAL_HALVES_BYTES: u64 = 1 << 20;

/// The file at `path`, `len` bytes by its metadata, read as two halves at
/// once, the second on a worker (`crate::threads`): profiled on the busy history
/// (a run folding 1,000 events), reading the 12 MB snapshot into fresh
/// memory (the kernel's copy, and the pages it faults in) was ~9 ms of one
/// thread before either half of the parse could start, with the second
/// core idle. A file that is not `len` bytes when read is read again
/// whole: a snapshot never changes once written, but a journal this long
/// may be growing (a pass appending to it while `observer check` reads
/// the state without the lock).
fn read_in_halves(path: &Path, len: u64, room: usize, hashed: bool) -> std::io::Result<(Vec<u8>, Option<u64>)> {
    let file = std::fs::File::open(path)?;
    match halves_of(&file, len, room, hashed) {
        Some(read) => Ok(read),
        None => Ok((read_whole_after(path, len, room)?, None)),
    }
}

/// The `len` bytes of `file` after `room` bytes of zeros, read as two
/// halves at once; `None` when it cannot be read so or is not `len` bytes
/// long.
pub(super) fn halves_of(file: &std::fs::File, len: u64, room: usize, hashed: bool) -> Option<(Vec<u8>, Option<u64>)> {
    use std::os::unix::fs::FileExt as _;
    let size = usize::try_from(len).ok()?;
    let mut bytes = vec![0; room.checked_add(size)?];
    // Written, not only zeroed: fresh zeroed memory is the kernel's zero
    // page until written, and the room, read as it is checked as text and
    // written by the splice after, took a copy-on-write fault a page, each
    // a TLB shootdown of the other core while it read the index beside
    // (~5 ms of the busy run's load, `perf`, issue 11, thirty-first pass).
    std::hint::black_box(&mut bytes[..room]).fill(0);
    let (first, second) = bytes[room..].split_at_mut(size / 2);
    // Each half hashed by the thread that read it, while it is in the cache.
    let read = |half: &mut [u8], at: usize| file.read_exact_at(half, at as u64).map(|()| hashed.then(|| xxh3_64(half)));
    let (a, b) = crate::threads::both(|| read(first, 0), || read(second, size / 2));
    let (a, b) = (a.ok()?, b.ok()?);
    let whole = file.read_at(&mut [0], len).is_ok_and(|more| more == 0);
    let hash = a.zip(b).map(|(a, b)| halves_hash(size, a, b));
    whole.then_some((bytes, hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file long enough to be read in two halves at once: the halves give
    /// it as one read does, whatever its length's parity, and give nothing for
    /// a length it does not have (its reader then reads it whole);
    /// [`read_bytes`] gives it too; not a regular file, it is refused. Hashed as
    /// it is read, in halves or whole, after room or not, it has its
    /// [`snapshot_hash`], which differs from the hash of its bytes whole and
    /// from that of the same bytes split elsewhere.
    #[test]
    fn a_long_file_read_in_halves_is_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("long");
        for extra in [0, 1, 7] {
            let bytes: Vec<u8> = (0..HALVES_READ_BYTES as usize + extra).map(|n| (n % 251) as u8).collect();
            std::fs::write(&path, &bytes).unwrap();
            let len = bytes.len() as u64;
            let file = std::fs::File::open(&path).unwrap();
            let hash = snapshot_hash(&bytes);
            assert!(halves_of(&file, len, 0, false) == Some((bytes.clone(), None)), "{extra} bytes past the threshold");
            assert!(halves_of(&file, len, 0, true) == Some((bytes.clone(), Some(hash))), "{extra}: hashed");
            assert!(halves_of(&file, len + 1, 0, true).is_none() && halves_of(&file, len - 1, 0, true).is_none());
            assert!(read_bytes(&path).unwrap() == bytes);
            // After room for a splice in place: zeros, then the file.
            let (after, hashed) = read_bytes_after(&path, 5, true).unwrap();
            assert!(after[..5] == [0; 5] && after[5..] == bytes[..], "{extra} bytes past the threshold, after room");
            assert_eq!(hashed, Some(hash));
            let (first, second) = bytes.split_at(bytes.len() / 2 + 1);
            assert_ne!(hash, halves_hash(bytes.len(), xxh3_64(first), xxh3_64(second)), "split elsewhere");
            assert_ne!(hash, xxh3_64(&bytes));
        }
        // A short file, read whole, after room too, hashed as a long one is.
        std::fs::write(&path, b"short").unwrap();
        let (short, hash) = read_bytes_after(&path, 3, true).unwrap();
        assert_eq!((short, hash), (b"\0\0\0short".to_vec(), Some(halves_hash(5, xxh3_64(b"sh"), xxh3_64(b"ort")))));
        assert!(matches!(read_bytes(dir.path()), Err(JournalError::Damaged { .. })));
    }
}
