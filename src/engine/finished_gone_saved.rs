//! The index of the ids that left (`finished_gone.rs`) saved beside a
//! snapshot of the engine state, so that a load reads where each id is
//! instead of reading every id of every minute and filing its hash.
//!
//! Profiled on the busy 1,000,000-event history (a run folding 1,000
//! events, `perf` with frame pointers over 4 runs), the three sets' index
//! made at each load (~112,000 ids: each id read from its minute's text,
//! hashed, and put in a hash map on fresh pages) was ~14 ms of the ~100 ms
//! of CPU a run took at 15 kHz, on the two threads that parse the state
//! while both cores are busy (issue 11, twenty-ninth pass).
//!
//! What is saved, for each set, little-endian, made by [`Gone::save_index`]
//! (`finished_gone.rs`) when a snapshot is written (a rebuild, a
//! compaction), and nothing more often:
//! - the minutes it covers, in order, each with the XXH3 of its text as the
//!   snapshot holds it: a minute read with another text (a journal record
//!   changed it since) is read id by id at the load, as every minute was;
//! - the hash of every id of those minutes with its minute, in the order
//!   of the hashes, looked up by a binary search in the bytes as they were
//!   read (nothing is built);
//! - the hashes two of those ids share, looked for in every minute.
//!
//! The shell keeps these bytes in the file of the snapshot's entities
//! (`store::journal_index`), whose identity and sum are checked first:
//! they are a copy of what the minutes say, never the only record of
//! anything. Bytes that are not as written here are not used: the index is
//! then made from the minutes.

use std::ops::Range;
use std::sync::Arc;

use crate::time::Ts;

/// The version of this layout: raise it with any change.
const VERSION: u64 = 1;
/// A minute and the hash of its text; an id's hash and its minute.
const RECORD: usize = 16;

/// The saved index of one set, as read: empty when there is none.
#[derive(Clone, Default)]
pub(in crate::engine) struct SavedSet {
    bytes: Arc<Vec<u8>>,
    minutes: Range<usize>,
    entries: Range<usize>,
    shared: Range<usize>,
}

impl std::fmt::Debug for SavedSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = |range: &Range<usize>, size: usize| range.len() / size;
        f.debug_struct("SavedSet")
            .field("minutes", &count(&self.minutes, RECORD))
            .field("entries", &count(&self.entries, RECORD))
            .field("shared", &count(&self.shared, 8))
            .finish()
    }
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("eight bytes"))
}

fn record(bytes: &[u8], at: usize) -> (u64, u64) {
    (u64_at(bytes, at), u64_at(bytes, at + 8))
}

impl SavedSet {
    /// The minute the id of `hash` is filed under, as saved.
    pub(super) fn get(&self, hash: u64) -> Option<Ts> {
        let bytes = &self.bytes[self.entries.clone()];
        let (mut low, mut high) = (0, bytes.len() / RECORD);
        while low < high {
            let middle = (low + high) / 2;
            let (at, minute) = record(bytes, middle * RECORD);
            match at.cmp(&hash) {
                std::cmp::Ordering::Less => low = middle + 1,
                std::cmp::Ordering::Greater => high = middle,
                std::cmp::Ordering::Equal => return Some(Ts(minute as i64)),
            }
        }
        None
    }

    /// The hashes two saved ids shared.
    pub(super) fn shared(&self) -> impl Iterator<Item = u64> + '_ {
        self.bytes[self.shared.clone()].chunks_exact(8).map(|hash| u64::from_le_bytes(hash.try_into().expect("eight")))
    }

    /// Tells, minute by minute in order, which minutes this index covers.
    pub(super) fn covers(&self) -> Covers<'_> {
        Covers { minutes: &self.bytes[self.minutes.clone()] }
    }
}

/// The saved minutes not passed yet ([`SavedSet::covers`]).
pub(super) struct Covers<'a> {
    minutes: &'a [u8],
}

impl Covers<'_> {
    /// Whether the saved index covers `minute`, whose text hashes to
    /// `text` (XXH3): asked in the order of the minutes.
    pub(super) fn covers(&mut self, minute: Ts, text: u64) -> bool {
        while self.minutes.len() >= RECORD {
            let (at, hash) = record(self.minutes, 0);
            let at = at as i64;
            if at > minute.0 {
                return false;
            }
            self.minutes = &self.minutes[RECORD..];
            if at == minute.0 {
                return hash == text;
            }
        }
        false
    }
}

/// Writes the index of one set: `minutes` (in order, each with the hash of
/// its text), `entries` (each id's hash and minute, in the order of the
/// hashes, each hash once) and `shared`.
pub(super) fn write_set(minutes: &[(Ts, u64)], entries: &[(u64, Ts)], shared: &[u64], out: &mut Vec<u8>) {
    out.extend_from_slice(&(minutes.len() as u64).to_le_bytes());
    for (minute, hash) in minutes {
        out.extend_from_slice(&minute.0.to_le_bytes());
        out.extend_from_slice(&hash.to_le_bytes());
    }
    out.extend_from_slice(&(entries.len() as u64).to_le_bytes());
    for (hash, minute) in entries {
        out.extend_from_slice(&hash.to_le_bytes());
        out.extend_from_slice(&minute.0.to_le_bytes());
    }
    out.extend_from_slice(&(shared.len() as u64).to_le_bytes());
    for hash in shared {
        out.extend_from_slice(&hash.to_le_bytes());
    }
}

/// The head of what [`read`] reads: the layout's version and how many
/// sets follow.
pub(in crate::engine) fn write_head(sets: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(sets as u64).to_le_bytes());
}

/// The `sets` sets of `bytes`, as [`write_head`] and [`write_set`] wrote
/// them; `None` when the bytes are not that: another layout, a length that
/// does not fit, minutes or hashes out of order.
#[cfg(test)]
pub(in crate::engine) fn read(bytes: Vec<u8>, sets: usize) -> Option<Vec<SavedSet>> {
    let len = bytes.len();
    read_in(Arc::new(bytes), 0..len, sets)
}

/// [`read`] of the bytes `within` of `bytes`, which the sets share with
/// whoever else holds them (the index of the state's entities read from
/// the same file, `store::journal`), and keep.
pub(in crate::engine) fn read_in(bytes: Arc<Vec<u8>>, within: Range<usize>, sets: usize) -> Option<Vec<SavedSet>> {
    let head = bytes.get(within.clone())?;
    if head.len() < 16 || u64_at(head, 0) != VERSION || u64_at(head, 8) != sets as u64 {
        return None;
    }
    let mut at = within.start + 16;
    let mut take = |size: usize| -> Option<Range<usize>> {
        let count =
            usize::try_from(u64_at(bytes.get(at..at.checked_add(8).filter(|&end| end <= within.end)?)?, 0)).ok()?;
        let start = at + 8;
        let end = start.checked_add(count.checked_mul(size)?)?;
        (end <= within.end).then(|| {
            at = end;
            start..end
        })
    };
    let mut read = Vec::with_capacity(sets);
    for _ in 0..sets {
        let (minutes, entries, shared) = (take(RECORD)?, take(RECORD)?, take(8)?);
        read.push(SavedSet { bytes: bytes.clone(), minutes, entries, shared });
    }
    // Each record's first eight bytes strictly ascending: the minutes as
    // signed, the hashes as unsigned numbers.
    let firsts = |range: &Range<usize>| {
        bytes[range.clone()].chunks_exact(RECORD).map(|r| u64::from_le_bytes(r[..8].try_into().expect("eight")))
    };
    let ascending = |set: &SavedSet| {
        let minutes = firsts(&set.minutes).map(|minute| minute as i64);
        minutes.clone().zip(minutes.skip(1)).all(|(a, b)| a < b)
            && firsts(&set.entries).zip(firsts(&set.entries).skip(1)).all(|(a, b)| a < b)
    };
    let whole = at == within.end && read.iter().all(ascending);
    whole.then_some(read)
}
