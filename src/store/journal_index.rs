//! The entities a committed engine state holds, for `store::journal`: the
//! hash of each entity's value, by its path, so that the next save appends
//! the entities whose bytes differ and the removals.
//!
//! Profiled on the busy history (a run folding 1,000 events, 150,000
//! entities), a map keyed by path strings was most of the save: one
//! allocation per path, and hashing and comparing the strings, each in its
//! own place on the heap. Here the paths are kept end to end in one string,
//! in the order the document gives them, and the map is keyed by the XXH3
//! of the path; the path's text is still compared on every hit, so two
//! paths with the same hash are never taken for one (an index that meets
//! such a pair is refused, and the save writes a whole snapshot instead).

use std::collections::HashMap;
use std::collections::hash_map::Entry as Entry_;
use std::hash::BuildHasherDefault;

use xxhash_rust::xxh3::xxh3_64;

use crate::prehashed::Prehashed;

/// Paths and the hashes of their values.
#[derive(Clone, Default)]
pub struct EntityIndex {
    entries: HashMap<u64, Entry, BuildHasherDefault<Prehashed>>,
    /// Every path, end to end; an entry points at its own.
    paths: String,
    /// Bytes of `paths` no entry points at any more.
    dead: usize,
    /// Which save last saw an entry.
    round: u32,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    value: u64,
    at: u32,
    len: u32,
    round: u32,
    /// For the caller: where the entity's value is (`load`'s list).
    slot: u32,
}

/// Two different paths with the same hash: the index cannot tell them
/// apart, and is not used.
#[derive(Debug)]
pub struct Collision;

/// What [`EntityIndex::set`] found.
pub enum Set {
    /// A path the index did not hold, with the slot it was given.
    New,
    /// The path was there, with this slot; its value hash now differs.
    Changed(u32),
    /// The path was there with the same value hash.
    Same(u32),
}

impl EntityIndex {
    pub fn with_capacity(entities: usize) -> EntityIndex {
        EntityIndex::with_room(entities, entities * 64)
    }

    /// Empty, with room for `entities` whose paths take `path_bytes`.
    fn with_room(entities: usize, path_bytes: usize) -> EntityIndex {
        EntityIndex {
            entries: HashMap::with_capacity_and_hasher(entities, BuildHasherDefault::default()),
            paths: String::with_capacity(path_bytes),
            dead: 0,
            round: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Sets the value hash of `path`; a new path gets `slot`.
    pub fn set(&mut self, path: &str, value: u64, slot: u32) -> Result<Set, Collision> {
        let EntityIndex { entries, paths, round, .. } = self;
        match entries.entry(xxh3_64(path.as_bytes())) {
            Entry_::Occupied(mut found) => {
                let entry = found.get_mut();
                if &paths[entry.at as usize..(entry.at + entry.len) as usize] != path {
                    return Err(Collision);
                }
                entry.round = *round;
                match entry.value == value {
                    true => Ok(Set::Same(entry.slot)),
                    false => {
                        entry.value = value;
                        Ok(Set::Changed(entry.slot))
                    }
                }
            }
            Entry_::Vacant(vacant) => {
                let at = u32::try_from(paths.len()).map_err(|_| Collision)?;
                paths.push_str(path);
                vacant.insert(Entry { value, at, len: path.len() as u32, round: *round, slot });
                Ok(Set::New)
            }
        }
    }

    /// Removes `path`; its slot, when it was there.
    pub fn remove(&mut self, path: &str) -> Result<Option<u32>, Collision> {
        let key = xxh3_64(path.as_bytes());
        match self.entries.get(&key) {
            None => Ok(None),
            Some(entry) if &self.paths[entry.at as usize..(entry.at + entry.len) as usize] != path => Err(Collision),
            Some(entry) => {
                let entry = *entry;
                self.entries.remove(&key);
                self.dead += entry.len as usize;
                if self.dead * 2 >= self.paths.len() {
                    self.compact();
                }
                Ok(Some(entry.slot))
            }
        }
    }

    /// Starts a save: entries [`set`](Self::set) from now on are seen.
    pub fn next_round(&mut self) {
        self.round = self.round.wrapping_add(1);
    }

    /// Removes the entries not seen since [`next_round`](Self::next_round),
    /// giving each path to `gone`.
    pub fn remove_unseen(&mut self, mut gone: impl FnMut(&str)) {
        let (round, paths) = (self.round, &self.paths);
        let mut dead = 0;
        self.entries.retain(|_, entry| {
            let seen = entry.round == round;
            if !seen {
                gone(&paths[entry.at as usize..(entry.at + entry.len) as usize]);
                dead += entry.len as usize;
            }
            seen
        });
        self.dead += dead;
        if self.dead * 2 >= self.paths.len() {
            self.compact();
        }
    }

    /// How many entries were seen since [`next_round`](Self::next_round).
    pub fn seen(&self) -> usize {
        self.entries.values().filter(|entry| entry.round == self.round).count()
    }

    /// Each path with its slot, in no particular order.
    pub fn slots(&self) -> impl Iterator<Item = (&str, u32)> {
        self.entries.values().map(|e| (&self.paths[e.at as usize..(e.at + e.len) as usize], e.slot))
    }

    /// Drops the paths no entry points at.
    fn compact(&mut self) {
        let mut paths = String::with_capacity(self.paths.len() - self.dead);
        for entry in self.entries.values_mut() {
            let at = paths.len() as u32;
            paths.push_str(&self.paths[entry.at as usize..(entry.at + entry.len) as usize]);
            entry.at = at;
        }
        self.paths = paths;
        self.dead = 0;
    }

    fn value_of(&self, path: &str) -> Option<u64> {
        let entry = self.entries.get(&xxh3_64(path.as_bytes()))?;
        (&self.paths[entry.at as usize..(entry.at + entry.len) as usize] == path).then_some(entry.value)
    }
}

/// The first bytes of an index written by [`EntityIndex::to_bytes`].
const MAGIC: &[u8; 8] = b"obsidx01";

/// An index read back by [`EntityIndex::from_bytes`], with what it says of
/// the snapshot it was made for.
pub struct Persisted {
    pub index: EntityIndex,
    /// The rule the entities were cut by (`journal_entities::CUT`).
    pub cut: u64,
    /// The snapshot's length and the XXH3 of its bytes: the index is its
    /// snapshot's only when both are the snapshot's own.
    pub snapshot_len: u64,
    pub snapshot_hash: u64,
}

impl EntityIndex {
    /// The index as bytes, for the file beside the snapshot `snapshot`
    /// (`store::journal`), whose entities were cut by the rule `cut`: a
    /// header (magic, the rule, the snapshot's length and XXH3, the number
    /// of entries), then each entry's value hash, path length and path,
    /// then the XXH3 of all that. Little-endian.
    pub fn to_bytes(&self, snapshot: &str, cut: u64) -> Vec<u8> {
        let live = self.paths.len() - self.dead;
        let mut out = Vec::with_capacity(48 + self.entries.len() * 12 + live);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&cut.to_le_bytes());
        out.extend_from_slice(&(snapshot.len() as u64).to_le_bytes());
        out.extend_from_slice(&xxh3_64(snapshot.as_bytes()).to_le_bytes());
        out.extend_from_slice(&(self.entries.len() as u64).to_le_bytes());
        for entry in self.entries.values() {
            out.extend_from_slice(&entry.value.to_le_bytes());
            out.extend_from_slice(&entry.len.to_le_bytes());
            out.extend_from_slice(&self.paths.as_bytes()[entry.at as usize..(entry.at + entry.len) as usize]);
        }
        let sum = xxh3_64(&out);
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }

    /// What [`to_bytes`](Self::to_bytes) wrote; `None` when the bytes are
    /// not whole (a wrong magic or sum, a short or long body, a path that
    /// is not UTF-8) or two of their paths share a hash.
    pub fn from_bytes(bytes: &[u8]) -> Option<Persisted> {
        let (body, sum) = bytes.split_at_checked(bytes.len().checked_sub(8)?)?;
        if xxh3_64(body) != u64::from_le_bytes(sum.try_into().ok()?) {
            return None;
        }
        let mut reader = Reader(body);
        if reader.take(8)? != MAGIC {
            return None;
        }
        let (cut, snapshot_len, snapshot_hash) = (reader.u64()?, reader.u64()?, reader.u64()?);
        let count = usize::try_from(reader.u64()?).ok()?;
        // At least 12 bytes an entry, and a byte of the snapshot: a count
        // the body or the snapshot cannot hold is damage, and is refused
        // before anything is sized by it.
        let paths = reader.0.len().checked_sub(count.checked_mul(12)?)?;
        if count as u64 > snapshot_len {
            return None;
        }
        let mut index = EntityIndex::with_room(count, paths);
        for _ in 0..count {
            let value = reader.u64()?;
            let len = u32::from_le_bytes(reader.take(4)?.try_into().ok()?);
            let path = std::str::from_utf8(reader.take(len as usize)?).ok()?;
            if !matches!(index.set(path, value, 0), Ok(Set::New)) {
                return None;
            }
        }
        reader.0.is_empty().then_some(Persisted { index, cut, snapshot_len, snapshot_hash })
    }
}

/// The bytes of [`EntityIndex::from_bytes`] not read yet.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}

/// The same paths with the same value hashes.
impl PartialEq for EntityIndex {
    fn eq(&self, other: &EntityIndex) -> bool {
        self.len() == other.len() && self.slots().all(|(path, _)| self.value_of(path) == other.value_of(path))
    }
}

impl std::fmt::Debug for EntityIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EntityIndex({} entities)", self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_set_seen_and_removed_by_path_and_the_paths_are_compacted() {
        let mut index = EntityIndex::with_capacity(4);
        assert!(matches!(index.set("\"a\"", 1, 0), Ok(Set::New)));
        assert!(matches!(index.set("\"b\"", 2, 1), Ok(Set::New)));
        assert!(matches!(index.set("\"c\",\"d\"", 3, 2), Ok(Set::New)));
        index.next_round();
        assert!(matches!(index.set("\"a\"", 1, 9), Ok(Set::Same(0))));
        assert!(matches!(index.set("\"b\"", 5, 9), Ok(Set::Changed(1))));
        assert_eq!(index.seen(), 2);
        let mut gone = Vec::new();
        index.remove_unseen(|path| gone.push(path.to_string()));
        assert_eq!(gone, ["\"c\",\"d\""]);
        assert_eq!((index.len(), index.value_of("\"b\""), index.value_of("\"c\",\"d\"")), (2, Some(5), None));
        assert_eq!(index.remove("\"a\"").unwrap(), Some(0));
        assert_eq!(index.remove("\"a\"").unwrap(), None);
        assert_eq!(index.paths, "\"b\"", "half of the paths were dead: compacted");
        let mut other = EntityIndex::with_capacity(1);
        other.set("\"b\"", 5, 7).unwrap();
        assert_eq!(index, other, "the slots are the caller's, not part of what is equal");
    }

    #[test]
    fn an_index_written_as_bytes_reads_back_equal_and_damaged_bytes_read_as_nothing() {
        let mut index = EntityIndex::with_capacity(4);
        for (n, path) in ["\"a\"", "\"b\",\"c\"", "\"d\""].iter().enumerate() {
            index.set(path, n as u64 * 7 + 1, 0).unwrap();
        }
        // A dead path (removed) is not written.
        index.remove("\"d\"").unwrap();
        let snapshot = r#"{"a":1,"b":{"c":8}}"#;
        let bytes = index.to_bytes(snapshot, 5);
        let read = EntityIndex::from_bytes(&bytes).unwrap();
        assert_eq!(read.index, index);
        assert_eq!((read.index.len(), read.cut), (2, 5));
        assert_eq!((read.snapshot_len, read.snapshot_hash), (snapshot.len() as u64, xxh3_64(snapshot.as_bytes())));
        // Any byte changed, or the bytes cut anywhere: nothing.
        for at in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x20;
            assert!(EntityIndex::from_bytes(&damaged).is_none(), "byte {at} changed");
            assert!(EntityIndex::from_bytes(&bytes[..at]).is_none(), "cut at {at}");
        }
        // A body that its own sum covers but that does not parse: nothing.
        let mut forged = bytes[..bytes.len() - 8].to_vec();
        forged.push(0);
        let sum = xxh3_64(&forged);
        forged.extend_from_slice(&sum.to_le_bytes());
        assert!(EntityIndex::from_bytes(&forged).is_none(), "a byte past the last entry");
        // A count no snapshot of its length could hold, under a sum of its
        // own: refused before anything is sized by it.
        let mut forged = bytes[..bytes.len() - 8].to_vec();
        forged[32..40].copy_from_slice(&u64::MAX.to_le_bytes());
        let sum = xxh3_64(&forged);
        forged.extend_from_slice(&sum.to_le_bytes());
        assert!(EntityIndex::from_bytes(&forged).is_none(), "a count of u64::MAX");
        // Three entries, each whole and of its own path, for a snapshot of
        // two bytes: refused for the snapshot, which cannot hold them.
        let mut three = EntityIndex::with_capacity(3);
        for path in ["a", "b", "c"] {
            three.set(path, 1, 0).unwrap();
        }
        assert!(EntityIndex::from_bytes(&three.to_bytes("{}", 5)).is_none(), "3 entries for a snapshot of 2 bytes");
        assert_eq!(EntityIndex::from_bytes(&three.to_bytes("{\"a\":1}", 5)).unwrap().index, three);
    }

    #[test]
    fn two_paths_with_one_hash_are_refused_not_confused() {
        let mut index = EntityIndex::with_capacity(1);
        index.set("\"a\"", 1, 0).unwrap();
        // Plant another path under the same key, as a collision would.
        let key = xxh3_64(b"\"a\"");
        index.entries.get_mut(&key).unwrap().len = 0;
        assert!(index.set("\"a\"", 1, 0).is_err());
        assert!(index.remove("\"a\"").is_err());
    }
}
