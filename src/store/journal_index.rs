//! The entities a committed engine state holds, for `store::journal`: the
//! hash of each entity's value, by its path, so that the next save appends
//! the entities whose bytes differ and the removals.
//!
//! Profiled on the busy history (a run folding 1,000 events, 150,000
//! entities), a map keyed by path strings was most of the save: one
//! allocation per path, and hashing and comparing the strings, each in its
//! own place on the heap. Here the paths are kept end to end in one string,
//! and the entries in one list, both in the order they were first set (a
//! snapshot's, read from the file beside it: its document's order);
//! a map keyed by the XXH3 of the path says where each entry is. A save
//! visits its document in that order, so the entry after the last one
//! found is compared first and the map is looked in only when it is not
//! the one (thirteenth pass: the lookups were then ~155 of the save
//! thread's ~570 samples, and after it ~7). The path's text is compared on
//! every hit, so two paths with the same hash are never taken for one (an
//! index that meets such a pair is refused, and the save writes a whole
//! snapshot instead).

use std::collections::HashMap;
use std::collections::hash_map::Entry as Slot;
use std::hash::BuildHasherDefault;
use std::sync::Arc;

use xxhash_rust::xxh3::{Xxh3, xxh3_64};

use super::journal_spans::{Spans, Tiler};
use crate::prehashed::Prehashed;

/// Paths and the hashes of their values.
#[derive(Clone, Default)]
pub struct EntityIndex {
    /// Where each live entry is in `list`, by the XXH3 of its path.
    places: HashMap<u64, u32, BuildHasherDefault<Prehashed>>,
    /// The entries in the order they were first set: a snapshot's in the
    /// order of its document (see [`set`](Self::set)). Removed ones stay,
    /// marked [`GONE`], until the list is compacted.
    list: Vec<Entry>,
    /// Every path, end to end; an entry points at its own.
    paths: String,
    /// Bytes of `paths` no live entry points at any more.
    dead: usize,
    /// Counts every [`set`](Self::set): an entry keeps the count of the
    /// last set of its path.
    sets: u64,
    /// The count when the current save began ([`next_round`](Self::next_round)).
    round: u64,
    /// The entry the next [`set`](Self::set) looks at first: the one after
    /// the entry the last set found.
    next: usize,
    /// Where the entities of the snapshot this index was made for are in
    /// it, for the journal's records to say where each goes; `None` when
    /// not known (an index file of a version before them, say): records
    /// are then written without places, and loads scan the snapshot.
    spans: Option<Arc<Spans>>,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    key: u64,
    value: u64,
    /// The count of the last set of this path ([`EntityIndex::sets`]).
    last_set: u64,
    /// Where the path is in `paths`; [`GONE`] once removed.
    at: u32,
    len: u32,
    /// For the caller: where the entity's value is (`load`'s list).
    slot: u32,
}

/// The path of `entry` in `paths` (a live entry's).
fn path_in<'a>(paths: &'a str, entry: &Entry) -> &'a str {
    &paths[entry.at as usize..(entry.at + entry.len) as usize]
}

/// Puts `path` at the end of `paths` and `entry` (pointed at it) at the
/// end of `list`: where it is in `list`. `None`, having changed nothing,
/// when either has outgrown the 32 bits an entry keeps of them.
fn new_entry(paths: &mut String, list: &mut Vec<Entry>, path: &str, mut entry: Entry) -> Option<u32> {
    let (at, place) = (u32::try_from(paths.len()).ok()?, u32::try_from(list.len()).ok()?);
    if at == GONE {
        return None;
    }
    paths.push_str(path);
    entry.at = at;
    list.push(entry);
    Some(place)
}

/// The `at` of a removed entry.
const GONE: u32 = u32::MAX;

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
            places: HashMap::with_capacity_and_hasher(entities, BuildHasherDefault::default()),
            list: Vec::with_capacity(entities),
            paths: String::with_capacity(path_bytes),
            ..EntityIndex::default()
        }
    }

    pub fn len(&self) -> usize {
        self.places.len()
    }

    pub fn is_empty(&self) -> bool {
        self.places.is_empty()
    }

    fn path(&self, entry: &Entry) -> &str {
        path_in(&self.paths, entry)
    }

    /// Where the snapshot's entities are ([`Spans`]), when known.
    pub fn spans(&self) -> Option<&Arc<Spans>> {
        self.spans.as_ref()
    }

    /// Keeps `spans` as where the entities of the snapshot this index is
    /// for are (`None`: not known).
    pub fn set_spans(&mut self, spans: Option<Spans>) {
        self.spans = spans.map(Arc::new);
    }

    /// Sets the value hash of `path`; a new path gets `slot`.
    ///
    /// The entry after the one the last call found is compared first, and
    /// the hash table is looked in only when it is not `path`'s. A save
    /// sets the entities of its document in the document's order, and the
    /// list holds them in the order of the document it was made from (the
    /// snapshot's, read from the file beside it), so nearly every set
    /// reads the list and the paths from start to end. Profiled on the
    /// busy history (a run folding 1,000 events), looking every path up in
    /// the table (~30,800 of them, each a miss in the cache for its slot
    /// and one for its path) was a quarter of the save's thread.
    pub fn set(&mut self, path: &str, value: u64, slot: u32) -> Result<Set, Collision> {
        let sets = self.sets;
        self.sets += 1;
        let found = match self.list.get(self.next) {
            Some(entry) if entry.at != GONE && self.path(entry) == path => self.next,
            _ => {
                let key = xxh3_64(path.as_bytes());
                match self.places.entry(key) {
                    Slot::Occupied(found) => {
                        let at = *found.get() as usize;
                        if path_in(&self.paths, &self.list[at]) != path {
                            return Err(Collision);
                        }
                        at
                    }
                    Slot::Vacant(vacant) => {
                        let entry = Entry { key, value, last_set: sets, at: 0, len: path.len() as u32, slot };
                        let place = new_entry(&mut self.paths, &mut self.list, path, entry).ok_or(Collision)?;
                        vacant.insert(place);
                        self.next = self.list.len();
                        return Ok(Set::New);
                    }
                }
            }
        };
        self.next = found + 1;
        let entry = &mut self.list[found];
        entry.last_set = sets;
        match entry.value == value {
            true => Ok(Set::Same(entry.slot)),
            false => {
                entry.value = value;
                Ok(Set::Changed(entry.slot))
            }
        }
    }

    /// Files `path`, whose XXH3 is `key`, with the value hash `value` and
    /// slot 0, as a [`set`](Self::set) of a path the index does not hold
    /// would; `false`, having filed nothing, when `key` is filed already
    /// (the path again, or another with its hash). For an index filed from
    /// a file, whose paths are each new: one look in the table, not the
    /// list's next entry first and then the table.
    fn add(&mut self, key: u64, path: &str, value: u64) -> bool {
        let Slot::Vacant(vacant) = self.places.entry(key) else { return false };
        let entry = Entry { key, value, last_set: self.sets, at: 0, len: path.len() as u32, slot: 0 };
        let Some(place) = new_entry(&mut self.paths, &mut self.list, path, entry) else { return false };
        vacant.insert(place);
        self.sets += 1;
        self.next = self.list.len();
        true
    }

    /// Removes `path`; its slot, when it was there.
    pub fn remove(&mut self, path: &str) -> Result<Option<u32>, Collision> {
        let key = xxh3_64(path.as_bytes());
        let Some(&place) = self.places.get(&key) else { return Ok(None) };
        if self.path(&self.list[place as usize]) != path {
            return Err(Collision);
        }
        self.places.remove(&key);
        let slot = self.list[place as usize].slot;
        self.bury(place as usize);
        self.compact_when_half_dead();
        Ok(Some(slot))
    }

    /// Marks the entry at `place` removed (it is out of `places` already).
    fn bury(&mut self, place: usize) {
        let entry = &mut self.list[place];
        self.dead += entry.len as usize;
        entry.at = GONE;
    }

    /// Starts a save: entries [`set`](Self::set) from now on are seen.
    pub fn next_round(&mut self) {
        self.round = self.sets;
        self.next = 0;
    }

    fn is_seen(&self, entry: &Entry) -> bool {
        entry.last_set >= self.round
    }

    /// Removes the entries not seen since [`next_round`](Self::next_round),
    /// giving each path to `gone`.
    pub fn remove_unseen(&mut self, mut gone: impl FnMut(&str)) {
        for place in 0..self.list.len() {
            let entry = self.list[place];
            if entry.at == GONE || self.is_seen(&entry) {
                continue;
            }
            gone(self.path(&entry));
            self.places.remove(&entry.key);
            self.bury(place);
        }
        self.compact_when_half_dead();
    }

    /// How many entries were seen since [`next_round`](Self::next_round).
    #[cfg(test)]
    pub fn seen(&self) -> usize {
        self.live().filter(|entry| self.is_seen(entry)).count()
    }

    fn live(&self) -> impl Iterator<Item = &Entry> {
        self.list.iter().filter(|entry| entry.at != GONE)
    }

    /// Each path with its slot, in the list's order.
    pub fn slots(&self) -> impl Iterator<Item = (&str, u32)> {
        self.live().map(|entry| (self.path(entry), entry.slot))
    }

    fn compact_when_half_dead(&mut self) {
        // The entries of `list` that are not in `places` are the removed ones.
        let removed = self.list.len() - self.places.len();
        if self.dead * 2 >= self.paths.len() || removed * 2 >= self.list.len().max(1) {
            self.compact();
        }
    }

    /// Drops the removed entries and the paths no entry points at, keeping
    /// the order of the others.
    fn compact(&mut self) {
        let mut paths = String::with_capacity(self.paths.len() - self.dead);
        let mut list = Vec::with_capacity(self.places.len());
        for entry in self.live() {
            list.push(Entry { at: paths.len() as u32, ..*entry });
            paths.push_str(self.path(entry));
        }
        for (place, entry) in list.iter().enumerate() {
            self.places.insert(entry.key, place as u32);
        }
        (self.list, self.paths, self.dead, self.next) = (list, paths, 0, 0);
    }

    fn value_of(&self, path: &str) -> Option<u64> {
        let entry = &self.list[*self.places.get(&xxh3_64(path.as_bytes()))? as usize];
        (self.path(entry) == path).then_some(entry.value)
    }
}

/// The bytes of an entry before its path: its value hash, the length of
/// its path and its span.
const ENTRY_BYTES: usize = 20;

/// The first bytes of an index written by [`EntityIndex::around`]. The
/// second version records the [`snapshot_hash`] of its snapshot where the
/// first recorded the XXH3 of its bytes; the third holds the bytes kept
/// beside the entities (the engine's index of the ids that left, issue 11,
/// twenty-ninth pass); the fourth, the span of each entity in the
/// snapshot (`journal_spans`, thirty-first pass). An earlier version's file
/// is not read (the snapshot is visited instead, until the next
/// compaction).
const MAGIC: &[u8; 8] = b"obsidx04";

/// What an index records of its snapshot's bytes: the XXH3 of its first
/// half and of its second (split at half its length, as
/// `journal::read_in_halves` reads them), combined with its length
/// ([`halves_hash`]). Each reading thread hashes its own half while it is
/// in the cache: profiled on the busy history (the run folding 1,000
/// events after a rebuild, a build printing its steps), the 9.3 MB
/// snapshot hashed whole once its parse was done took the load's thread
/// ~1.2 ms before the state was loaded (issue 11, twenty-fifth pass).
pub fn snapshot_hash(bytes: &[u8]) -> u64 {
    let (first, second) = bytes.split_at(bytes.len() / 2);
    halves_hash(bytes.len(), xxh3_64(first), xxh3_64(second))
}

/// [`snapshot_hash`] of `len` bytes whose halves hash to `first` and `second`.
pub fn halves_hash(len: usize, first: u64, second: u64) -> u64 {
    let mut all = [0; 24];
    all[..8].copy_from_slice(&(len as u64).to_le_bytes());
    all[8..16].copy_from_slice(&first.to_le_bytes());
    all[16..].copy_from_slice(&second.to_le_bytes());
    xxh3_64(&all)
}

/// What the bytes of an index file ([`EntityIndex::around`]) say, checked
/// whole ([`Written::check`]: the magic, the sum, the lengths), its entries
/// not filed yet ([`Written::file`]).
///
/// Apart because the two are needed at different times: a load needs what
/// the file says of its snapshot and the bytes kept beside at once, the
/// entries only when the next save diffs against them. Profiled on the
/// busy history (the run folding 1,000 events after one that wrote a
/// journal, 15 kHz), filing the ~150,000 entries (and replaying the
/// journal over them) was ~55 samples a run of the second thread while
/// the state loaded, both cores busy, against an idle second core while
/// the events were folded after it (issue 11, thirtieth pass).
#[derive(Debug)]
pub struct Written {
    /// The rule the entities were cut by (`journal_entities::CUT`).
    pub cut: u64,
    /// The snapshot's length and its [`snapshot_hash`]: the index is its
    /// snapshot's only when both are the snapshot's own.
    pub snapshot_len: u64,
    pub snapshot_hash: u64,
    /// Where the bytes kept beside the entities are in what was read.
    pub beside: std::ops::Range<usize>,
    /// Where the entries are, and how many.
    entries: std::ops::Range<usize>,
    count: usize,
}

impl EntityIndex {
    /// The index as bytes, for the file beside the snapshot `snapshot`
    /// (`store::journal`), whose entities were cut by the rule `cut`, with
    /// `beside` (bytes the file keeps for another reader of the snapshot,
    /// read back as they are): a header (magic, the rule, the snapshot's
    /// length and [`snapshot_hash`]), the length of `beside` and `beside`,
    /// the number of entries, then each entry's value hash, path length,
    /// the span of its value in the snapshot (two `u32`, both `u32::MAX`
    /// when not known) and path, then the XXH3 of all that. Little-endian.
    #[cfg(test)]
    pub fn to_bytes(&self, snapshot: &str, cut: u64, beside: &[u8]) -> Vec<u8> {
        let [head, tail] = self.around(snapshot, cut, beside);
        [&head[..], beside, &tail].concat()
    }

    /// The bytes of the file (what `to_bytes` gives, in
    /// the tests) as the bytes before `beside` and the bytes after it, for
    /// a writer to write the three in turn: `beside` is not copied (on the busy rebuild, a copy of its ~1.9 MB and the
    /// index's ~2.1 MB into one buffer raised the peak memory).
    pub fn around(&self, snapshot: &str, cut: u64, beside: &[u8]) -> [Vec<u8>; 2] {
        let mut head = Vec::with_capacity(40);
        head.extend_from_slice(MAGIC);
        head.extend_from_slice(&cut.to_le_bytes());
        head.extend_from_slice(&(snapshot.len() as u64).to_le_bytes());
        head.extend_from_slice(&snapshot_hash(snapshot.as_bytes()).to_le_bytes());
        head.extend_from_slice(&(beside.len() as u64).to_le_bytes());
        let live = self.paths.len() - self.dead;
        let mut out = Vec::with_capacity(16 + self.len() * ENTRY_BYTES + live);
        out.extend_from_slice(&(self.len() as u64).to_le_bytes());
        // In the order they were last set: the index of a visit of the
        // snapshot, or of a save's diff of it (every entity set, in the
        // document's order), is written in the snapshot's order, which is
        // the order `set` looks in first when the loads of this generation
        // read it back.
        let mut entries: Vec<&Entry> = self.live().collect();
        if !entries.is_sorted_by_key(|entry| entry.last_set) {
            entries.sort_by_key(|entry| entry.last_set);
        }
        for entry in entries {
            let (start, end) = self.spans().and_then(|spans| spans.value(entry.key)).unwrap_or((u32::MAX, u32::MAX));
            out.extend_from_slice(&entry.value.to_le_bytes());
            out.extend_from_slice(&entry.len.to_le_bytes());
            out.extend_from_slice(&start.to_le_bytes());
            out.extend_from_slice(&end.to_le_bytes());
            out.extend_from_slice(self.path(entry).as_bytes());
        }
        let mut sum = Xxh3::new();
        for piece in [&head[..], beside, &out] {
            sum.update(piece);
        }
        out.extend_from_slice(&sum.digest().to_le_bytes());
        [head, out]
    }

    /// What [`around`](Self::around) wrote, read back whole: for the
    /// tests ([`Written::check`], then [`Written::file`]).
    #[cfg(test)]
    pub fn from_bytes(bytes: &[u8]) -> Option<(Written, EntityIndex)> {
        let written = Written::check(bytes)?;
        let index = written.file(bytes)?;
        Some((written, index))
    }
}

impl Written {
    /// What [`EntityIndex::around`] wrote (the bytes beside and the entries
    /// as where they are in `bytes`); `None` when the bytes are not whole
    /// (a wrong magic or sum, a short body, a count of entries the body or
    /// the snapshot cannot hold).
    pub fn check(bytes: &[u8]) -> Option<Written> {
        let (body, sum) = bytes.split_at_checked(bytes.len().checked_sub(8)?)?;
        if xxh3_64(body) != u64::from_le_bytes(sum.try_into().ok()?) {
            return None;
        }
        let mut reader = Reader(body);
        if reader.take(8)? != MAGIC {
            return None;
        }
        let (cut, snapshot_len, snapshot_hash) = (reader.u64()?, reader.u64()?, reader.u64()?);
        let beside_len = usize::try_from(reader.u64()?).ok()?;
        let beside_at = body.len() - reader.0.len();
        reader.take(beside_len)?;
        let beside = beside_at..beside_at + beside_len;
        let count = usize::try_from(reader.u64()?).ok()?;
        // At least `ENTRY_BYTES` an entry, and a byte of the snapshot: a
        // count the body or the snapshot cannot hold is damage, and is
        // refused before anything is sized by it.
        reader.0.len().checked_sub(count.checked_mul(ENTRY_BYTES)?)?;
        if count as u64 > snapshot_len {
            return None;
        }
        let entries = body.len() - reader.0.len()..body.len();
        Some(Written { cut, snapshot_len, snapshot_hash, beside, entries, count })
    }

    /// How many entries the file holds.
    pub fn count(&self) -> usize {
        self.count
    }

    /// The entries of `bytes` (the bytes [`check`](Self::check) checked),
    /// filed, with their spans in the snapshot when every entry has one;
    /// `None` when they do not parse (a short or long body, a path that is
    /// not UTF-8) or two of their paths share a hash.
    pub fn file(&self, bytes: &[u8]) -> Option<EntityIndex> {
        let entries = bytes.get(self.entries.clone())?;
        let paths = entries.len().saturating_sub(self.count * ENTRY_BYTES);
        let mut index = EntityIndex::with_room(self.count, paths);
        // Tiled as they are filed: a file lists its snapshot's entities in
        // the snapshot's order (`around`), so no list of them is made and
        // sorted first (its ~1 MB of fresh pages faulted in on the busy
        // history, issue 11, thirty-second pass); a file whose entities are
        // not in that order has them listed and sorted.
        let (mut tiler, mut in_order, mut last) = (Tiler::new(self.count), true, 0);
        let filed = each_entry(entries, self.count, |value, (start, end), path, key| {
            in_order &= start >= last;
            last = start;
            if in_order {
                tiler.keyed(path, key, start, end);
            }
            index.add(key, path, value)
        })?;
        // Used only when they make up the snapshot whole: not when one is
        // unknown (`u32::MAX` twice) or out of place.
        let spans = match in_order {
            true => tiler.finish(self.snapshot_len),
            false => {
                let mut found = Vec::with_capacity(self.count);
                each_entry(entries, self.count, |_, (start, end), path, key| {
                    found.push((start, end, path, key));
                    true
                })?;
                Spans::tiled(&mut found, self.snapshot_len)
            }
        };
        index.set_spans(spans);
        filed.then_some(index)
    }
}

/// Calls `each` with every one of the `count` entries of `entries` (as
/// [`EntityIndex::around`] wrote them): its value hash, its span in the
/// snapshot, its path and the path's XXH3. Whether each call gave `true`
/// and the entries were the whole of `entries`; `None` when they do not
/// read (short, or a path that is not UTF-8).
fn each_entry<'a>(
    entries: &'a [u8],
    count: usize,
    mut each: impl FnMut(u64, (u32, u32), &'a str, u64) -> bool,
) -> Option<bool> {
    let mut reader = Reader(entries);
    for _ in 0..count {
        let value = reader.u64()?;
        let len = reader.u32()?;
        let span = (reader.u32()?, reader.u32()?);
        let path = std::str::from_utf8(reader.take(len as usize)?).ok()?;
        if !each(value, span, path, xxh3_64(path.as_bytes())) {
            return Some(false);
        }
    }
    Some(reader.0.is_empty())
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

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
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

    /// Where the entry after the last one found is compared first: a
    /// removed one there is not found, a path set again keeps its place
    /// and slot, and the bytes list the entries in the order they were
    /// last set (a save's document order), which a load reads back.
    #[test]
    fn a_removed_entry_is_not_found_in_passing_and_the_bytes_keep_the_order_last_set() {
        let mut index = EntityIndex::with_capacity(4);
        for (n, path) in ["\"c\"", "\"a\"", "\"b\"", "\"d\""].iter().enumerate() {
            assert!(matches!(index.set(path, 1, n as u32), Ok(Set::New)));
        }
        assert_eq!(index.remove("\"b\"").unwrap(), Some(2));
        index.next_round();
        assert!(matches!(index.set("\"a\"", 1, 9), Ok(Set::Same(1))));
        assert!(matches!(index.set("\"b\"", 1, 7), Ok(Set::New)), "the removed entry after `a` is not `b`");
        assert!(matches!(index.set("\"c\"", 2, 9), Ok(Set::Changed(0))));
        assert!(matches!(index.set("\"d\"", 1, 9), Ok(Set::Same(3))));
        assert_eq!(index.len(), 4);
        let order = |index: &EntityIndex| index.slots().map(|(path, _)| path.to_string()).collect::<Vec<_>>();
        assert_eq!(order(&index), ["\"c\"", "\"a\"", "\"d\"", "\"b\""], "the list keeps the first order");
        let read = EntityIndex::from_bytes(&index.to_bytes("{\"a\":1,\"b\":2,\"c\":3,\"d\":4}", 5, &[])).unwrap().1;
        assert_eq!(order(&read), ["\"a\"", "\"b\"", "\"c\"", "\"d\""], "written in the order last set");
        assert_eq!(read, index);
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
        let bytes = index.to_bytes(snapshot, 5, b"beside");
        let (read, read_index) = EntityIndex::from_bytes(&bytes).unwrap();
        assert_eq!(read_index, index);
        assert_eq!((read_index.len(), read.cut), (2, 5));
        assert_eq!(&bytes[read.beside.clone()], b"beside", "the bytes beside, as they were given");
        assert_eq!(
            (read.snapshot_len, read.snapshot_hash),
            (snapshot.len() as u64, snapshot_hash(snapshot.as_bytes()))
        );
        // Any byte changed, or the bytes cut anywhere: nothing.
        for at in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x20;
            assert!(EntityIndex::from_bytes(&damaged).is_none(), "byte {at} changed");
            assert!(EntityIndex::from_bytes(&bytes[..at]).is_none(), "cut at {at}");
        }
        // An index of an earlier version (the second kept nothing beside
        // its entries), its sum whole: nothing.
        let mut first = bytes[..bytes.len() - 8].to_vec();
        first[..8].copy_from_slice(b"obsidx02");
        let sum = xxh3_64(&first);
        first.extend_from_slice(&sum.to_le_bytes());
        assert!(EntityIndex::from_bytes(&first).is_none(), "an earlier version's index");
        // A body that its own sum covers but that does not parse: nothing.
        let mut forged = bytes[..bytes.len() - 8].to_vec();
        forged.push(0);
        let sum = xxh3_64(&forged);
        forged.extend_from_slice(&sum.to_le_bytes());
        assert!(EntityIndex::from_bytes(&forged).is_none(), "a byte past the last entry");
        // A count no snapshot of its length could hold, under a sum of its
        // own: refused before anything is sized by it.
        let mut forged = bytes[..bytes.len() - 8].to_vec();
        forged[46..54].copy_from_slice(&u64::MAX.to_le_bytes());
        let sum = xxh3_64(&forged);
        forged.extend_from_slice(&sum.to_le_bytes());
        assert!(EntityIndex::from_bytes(&forged).is_none(), "a count of u64::MAX");
        // Three entries, each whole and of its own path, for a snapshot of
        // two bytes: refused for the snapshot, which cannot hold them.
        let mut three = EntityIndex::with_capacity(3);
        for path in ["a", "b", "c"] {
            three.set(path, 1, 0).unwrap();
        }
        assert!(
            EntityIndex::from_bytes(&three.to_bytes("{}", 5, &[])).is_none(),
            "3 entries for a snapshot of 2 bytes"
        );
        assert_eq!(EntityIndex::from_bytes(&three.to_bytes("{\"a\":1}", 5, &[])).unwrap().1, three);
    }

    /// The spans an index keeps are read back with it, whether its entries
    /// were last set in the snapshot's order (filed and tiled at once) or
    /// not (listed and sorted first); spans that do not make up the
    /// snapshot are not kept.
    #[test]
    fn the_spans_are_read_back_in_the_snapshots_order_or_another() {
        use crate::store::journal_entities::{SPLIT_BYTES, visit};
        use crate::store::journal_spans::Place;
        let long = "l".repeat(SPLIT_BYTES);
        let snapshot = &format!(r#"{{"a":1,"b":{{"c":"{long}","e":[9]}},"d":[2]}}"#);
        let mut found = Vec::new();
        let mut tiler = Tiler::new(4);
        visit(snapshot, |path, raw| {
            tiler.value_in(snapshot, path, raw);
            let start = raw.as_ptr() as usize - snapshot.as_ptr() as usize;
            found.push((path.to_string(), (start as u32, (start + raw.len()) as u32)));
        })
        .unwrap();
        let spans = tiler.finish(snapshot.len() as u64).unwrap();
        for order in [[0, 1, 2, 3], [3, 0, 2, 1]] {
            let mut index = EntityIndex::with_capacity(4);
            for n in order {
                index.set(&found[n].0, n as u64, 0).unwrap();
            }
            index.set_spans(Some(spans.clone()));
            let read = EntityIndex::from_bytes(&index.to_bytes(snapshot, 5, &[])).unwrap().1;
            let kept = read.spans().unwrap_or_else(|| panic!("in the order {order:?}"));
            for (path, span) in &found {
                assert_eq!(kept.value(xxh3_64(path.as_bytes())), Some(*span), "{path} in the order {order:?}");
            }
            let brace = snapshot.find("]}").unwrap() as u32 + 1;
            assert_eq!(kept.place(r#""b","z""#, true), Some(Place::Before(brace)));
            // One span moved: the spans are not kept.
            let mut moved = spans.clone();
            moved.shift(xxh3_64(found[order[2]].0.as_bytes()));
            index.set_spans(Some(moved));
            let read = EntityIndex::from_bytes(&index.to_bytes(snapshot, 5, &[])).unwrap().1;
            assert!(read.spans().is_none(), "{order:?}, {} moved", found[order[2]].0);
        }
    }

    #[test]
    fn two_paths_with_one_hash_are_refused_not_confused() {
        let mut index = EntityIndex::with_capacity(1);
        index.set("\"a\"", 1, 0).unwrap();
        // Plant another path under the same key, as a collision would.
        let key = xxh3_64(b"\"a\"");
        let place = index.places[&key] as usize;
        index.list[place].len = 0;
        assert!(index.set("\"a\"", 1, 0).is_err());
        assert!(index.remove("\"a\"").is_err());
    }
}
