//! The ids that left the hot view (`finished.rs`), with their end time,
//! until retention: tens of thousands on a busy history, asked about by
//! every deployment event whose run the hot view does not hold, added to by
//! the pass's trims and dropped by retention.
//!
//! Profiled on the busy 1,000,000-event history (a run folding 1,000
//! events), these ids were the largest part of the state's own read (14 %
//! of the run) and, written as one object keyed by id, 82,000 of the
//! journal's 150,000 entities, each cut, hashed and compared at every load
//! and save, for the few dozen a pass adds. So they are filed by the minute
//! their entries ended: the checkpoint holds, under `gone`, an object keyed
//! by that minute (one journal entity per minute), each value the minute's
//! ids in id order with their end times, packed into one string,
//! `["id offset id offset …"]`, the offset the milliseconds from the
//! minute's start ([`packed`]; issue 11, twenty-seventh pass: a third
//! shorter than pairs, and read in one sweep), or, when an id holds a
//! space, a quote, a backslash or a control character, as the sorted
//! array of `[id, end]` pairs (the form before it, still read; both forms
//! are read by their text in `finished_gone_text.rs`). A minute as it was
//! read is kept as its raw text, unparsed, and written back as it is; only
//! a minute a pass adds to or retention cuts is parsed. The lookup goes through the
//! hash of each id (its minute), then the minute's pairs, so an id is
//! never taken for another.
//!
//! A state written before this form held `gone` as an object from id to
//! end time; it is read (each value is then a string, not an array) and
//! written in the minute form by the next save.
//!
//! The engine's duplicate window (`duplicates.rs`, `seen_ids`: each event
//! id with the time it was first seen on the clock, tens of thousands on a
//! busy history) is held the same way, for the same reason: as a map by
//! id it was 30,000 of the state's 57,000 entities, and with the time
//! parsed and written for each id, about a tenth of a busy run that folds
//! 1,000 events. Its older form, an object from id to time, is this one's
//! older form, and is read as such.
//!
//! Where each id is (the index by the hash of each id) is made on first
//! use from the minutes, or by [`Gone::index_with`] with the index saved
//! beside the snapshot the state was read from (`finished_gone_saved.rs`):
//! then only the minutes whose text is not the one that index was made of
//! are read id by id. Profiled on the busy history (a run folding 1,000
//! events), reading every id of the three sets and filing its hash, at
//! every load, was ~14 of the ~100 ms of CPU the run took in `perf` at
//! 15 kHz (issue 11, twenty-ninth pass).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::BuildHasherDefault;
use std::sync::OnceLock;

use serde::de::{Error as _, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use xxhash_rust::xxh3::xxh3_64;

use crate::prehashed::{Prehashed, StrHasher};
use crate::time::Ts;

#[path = "finished_gone_text.rs"]
mod text;

#[path = "finished_gone_saved.rs"]
mod saved;

#[cfg(test)]
pub(in crate::engine) use self::saved::read as read_saved;
pub(in crate::engine) use self::saved::{SavedSet, read_in as read_saved_in, write_head as write_saved_head};

use self::text::{compact_pairs, packed, packed_ids, packed_pairs, packed_text};

const MINUTE_MS: i64 = 60_000;

/// Ids that left, with their end time.
#[derive(Clone, Debug, Default)]
pub(in crate::engine) struct Gone {
    /// By the minute their entries ended.
    minutes: BTreeMap<Ts, Minute>,
    /// Where each id is: made from the minutes at its first use, or by
    /// [`Gone::index_with`].
    index: OnceLock<Index>,
    /// The XXH3 of each minute's text as it was read, in the order read,
    /// taken as it passed, for [`Gone::index_with`] to tell the minutes a
    /// saved index covers without reading their text again.
    texts: Vec<(Ts, u64)>,
}

/// The minute of each id of a [`Gone`], by the XXH3 of the id.
///
/// Every id of a minute is found through `by_hash` or `saved`: the ids of
/// the minutes `saved` covers through it (it was made of their very text),
/// every other id through `by_hash`, which is looked in first. An entry of
/// `saved` can be stale (its id moved or forgotten since): the minute it
/// names is checked, as every answer is.
#[derive(Clone, Debug, Default)]
struct Index {
    /// Used as it is ([`Prehashed`]: SipHash of each, and the map's growth,
    /// were a third of reading the minutes).
    by_hash: HashMap<u64, Ts, BuildHasherDefault<Prehashed>>,
    /// The index saved beside the snapshot the state was read from.
    saved: SavedSet,
    /// Hashes that two ids shared: looked for in every minute.
    shared: HashSet<u64>,
}

#[derive(Clone, Debug)]
enum Minute {
    /// As read, packed or as `[id, end]` pairs: checked when the index is
    /// made ([`Index::of`]), or, when a saved index covers it, the very
    /// text that was checked when it was saved; its end times are read
    /// against the minute it is filed under.
    Raw(Box<RawValue>),
    /// Changed since it was read, by id, hashed: sorted when written.
    /// Profiled on the busy rebuild of 1,000,000 events, the duplicate
    /// window's insert of every event id into a minute kept in id order (a
    /// `BTreeMap`, hundreds of ids sharing long prefixes) was ~7 % of the
    /// fold's thread, most of it `memcmp`; a minute is written far less
    /// often than it is added to.
    Parsed(Ids),
}

type Ids = HashMap<String, Ts, BuildHasherDefault<StrHasher>>;

/// A parsed minute's pairs in id order, as they are written.
fn sorted(ids: &Ids) -> Vec<(&String, &Ts)> {
    let mut pairs: Vec<_> = ids.iter().collect();
    pairs.sort_unstable_by(|a, b| a.0.cmp(b.0));
    pairs
}

/// One `[id, end]` pair of a minute, borrowing the id when it has no escape.
#[derive(Deserialize)]
struct Pair<'a>(#[serde(borrow)] Cow<'a, str>, Ts);

/// The hash a saved index records of a minute's text, as the state holds it.
fn text_hash(text: &str) -> u64 {
    xxh3_64(text.as_bytes())
}

fn minute_of(at: Ts) -> Ts {
    Ts(at.0.div_euclid(MINUTE_MS) * MINUTE_MS)
}

impl Minute {
    /// The pairs of a raw minute filed under `minute`, their ids borrowed
    /// where they can be: from its packed text, or parsed pair by pair.
    fn pairs(raw: &RawValue, minute: Ts) -> Vec<Pair<'_>> {
        match packed_text(raw.get()) {
            Some(text) => packed_pairs(text, minute).collect(),
            // Checked when the index was made, or saved (`Minute::Raw`):
            // cannot fail.
            None => serde_json::from_str(raw.get()).unwrap_or_default(),
        }
    }

    /// The pairs of a raw minute, owned.
    fn entries_of(raw: &RawValue, minute: Ts) -> impl Iterator<Item = (String, Ts)> {
        Minute::pairs(raw, minute).into_iter().map(|pair| (pair.0.into_owned(), pair.1))
    }

    /// The time filed with `id` in this minute, `minute`.
    fn get(&self, minute: Ts, id: &str) -> Option<Ts> {
        match self {
            Minute::Raw(raw) => Minute::pairs(raw, minute).iter().find(|pair| pair.0 == id).map(|pair| pair.1),
            Minute::Parsed(ids) => ids.get(id).copied(),
        }
    }

    fn contains(&self, minute: Ts, id: &str) -> bool {
        self.get(minute, id).is_some()
    }

    /// Checks this minute, filed under `minute`, and gives the XXH3 of each
    /// of its ids to `hashes`.
    fn hashes(&self, minute: Ts, hashes: &mut Vec<u64>) -> Result<(), String> {
        let raw = match self {
            Minute::Parsed(ids) => {
                hashes.extend(ids.keys().map(|id| xxh3_64(id.as_bytes())));
                return Ok(());
            }
            Minute::Raw(raw) => raw.get(),
        };
        if let Some(text) = packed_text(raw) {
            // Offsets count from the minute's start: a key that is not
            // one would file ids outside the minute retention cuts by.
            if minute_of(minute) != minute || !packed_ids(text, hashes) {
                return Err(format!("the minute {minute} is not in the packed form"));
            }
            return Ok(());
        }
        let start = hashes.len();
        if compact_pairs(raw, minute, hashes) {
            return Ok(());
        }
        // Not in the forms read by their text: pair by pair.
        hashes.truncate(start);
        let pairs: Vec<Pair> = serde_json::from_str(raw).map_err(|e| e.to_string())?;
        for Pair(id, at) in &pairs {
            if minute_of(*at) != minute {
                return Err(format!("the id {id:?} left at {at}, not in the minute {minute} it is filed under"));
            }
            hashes.push(xxh3_64(id.as_bytes()));
        }
        Ok(())
    }

    fn parsed(&mut self, minute: Ts) -> &mut Ids {
        if let Minute::Raw(raw) = self {
            *self = Minute::Parsed(Minute::entries_of(raw, minute).collect());
        }
        match self {
            Minute::Parsed(ids) => ids,
            Minute::Raw(_) => unreachable!("parsed just above"),
        }
    }

    fn entries(&self, minute: Ts) -> Vec<(String, Ts)> {
        match self {
            Minute::Raw(raw) => Minute::entries_of(raw, minute).collect(),
            Minute::Parsed(ids) => sorted(ids).into_iter().map(|(id, at)| (id.clone(), *at)).collect(),
        }
    }
}

impl Gone {
    pub(super) fn contains(&self, id: &str) -> bool {
        self.get(id).is_some()
    }

    /// The time filed with `id`.
    pub(in crate::engine) fn get(&self, id: &str) -> Option<Ts> {
        let index = self.index.get_or_init(|| Index::unchecked(&self.minutes));
        let hash = xxh3_64(id.as_bytes());
        if index.shared.contains(&hash) {
            return self.minutes.iter().find_map(|(at, minute)| minute.get(*at, id));
        }
        let held = |at: Ts| self.minutes.get(&at)?.get(at, id);
        index.by_hash.get(&hash).and_then(|&at| held(at)).or_else(|| index.saved.get(hash).and_then(held))
    }

    /// Makes the index of the ids from `saved` (the index saved beside the
    /// snapshot the state was read from, [`Gone::save_index`]) and the minutes
    /// it does not cover, read id by id and checked; nothing when the
    /// index is made already (a lookup before this made it, unchecked: the
    /// shell calls this as the state is read, before anything else). A
    /// minute that is not as this version writes it is the error.
    pub(in crate::engine) fn index_with(&mut self, saved: SavedSet) -> Result<(), String> {
        let mut texts = std::mem::take(&mut self.texts);
        if self.index.get().is_some() {
            return Ok(());
        }
        if !texts.is_sorted() {
            texts.sort_unstable();
        }
        let (index, damage) = Index::of(&self.minutes, &texts, saved);
        self.index = OnceLock::from(index);
        damage.map_or(Ok(()), Err)
    }

    /// Drops the index (made again at its next use).
    pub(in crate::engine) fn forget_index(&mut self) {
        self.index = OnceLock::new();
    }

    /// The index made at first use when no other was.
    fn index_mut(&mut self) -> &mut Index {
        let minutes = &self.minutes;
        self.index.get_or_init(|| Index::unchecked(minutes));
        self.index.get_mut().expect("made just above")
    }

    /// How many ids the index filed one by one (read from their minutes,
    /// or filed by a pass), when it is made.
    #[cfg(test)]
    pub(in crate::engine) fn filed_one_by_one(&self) -> Option<usize> {
        self.index.get().map(|index| index.by_hash.len())
    }

    #[cfg(test)]
    pub(super) fn is_empty(&self) -> bool {
        self.minutes.is_empty()
    }

    /// `id` left at `at` (an id that left before moves to `at`).
    pub(in crate::engine) fn insert(&mut self, id: String, at: Ts) {
        let minute = minute_of(at);
        self.file(&id, minute);
        self.minutes.entry(minute).or_insert_with(|| Minute::Parsed(Ids::default())).parsed(minute).insert(id, at);
    }

    /// Files `id` under `minute` in the hash index, removing it from the
    /// minute it was in.
    fn file(&mut self, id: &str, minute: Ts) {
        let hash = xxh3_64(id.as_bytes());
        self.index_mut();
        let Gone { minutes, index, .. } = self;
        let index = index.get_mut().expect("made just above");
        let holds = |at: &Ts| minutes.get(at).is_some_and(|held| held.contains(*at, id));
        let filed = index.by_hash.get(&hash).copied();
        let before = match filed {
            Some(at) if holds(&at) => Some(at),
            _ => {
                if filed.is_some_and(|at| minutes.contains_key(&at)) {
                    // Another id with this hash is filed there (a stale
                    // entry of the saved index is only passed over).
                    index.shared.insert(hash);
                }
                // A hash two ids share: the id is looked for in every
                // minute, as `get` looks for it, so that it is never left
                // in two.
                index.saved.get(hash).filter(holds).or_else(|| match index.shared.contains(&hash) {
                    true => minutes.keys().copied().find(holds),
                    false => None,
                })
            }
        };
        if let Some(before) = before
            && let Some(held) = minutes.get_mut(&before)
        {
            held.parsed(before).remove(id);
            if matches!(held, Minute::Parsed(ids) if ids.is_empty()) {
                minutes.remove(&before);
            }
        }
        index.by_hash.insert(hash, minute);
    }

    /// Retention: the ids that left before `horizon` are forgotten.
    pub(in crate::engine) fn forget_before(&mut self, horizon: Ts) {
        let boundary = minute_of(horizon);
        let kept = self.minutes.split_off(&boundary);
        let mut dropped = std::mem::replace(&mut self.minutes, kept);
        if let Some(minute) = self.minutes.get_mut(&boundary) {
            let ids = minute.parsed(boundary);
            let before: Vec<String> = ids.iter().filter(|(_, at)| **at < horizon).map(|(id, _)| id.clone()).collect();
            let early: Ids = before.into_iter().filter_map(|id| ids.remove_entry(&id)).collect();
            if ids.is_empty() {
                self.minutes.remove(&boundary);
            }
            dropped.insert(boundary, Minute::Parsed(early));
        }
        // Without an index yet, the one made at first use is made of the
        // minutes kept.
        let Some(index) = self.index.get_mut() else { return };
        // An index entry of an id that went is dropped; one left behind
        // (a hash two ids shared, an entry of the saved index) finds
        // nothing, as the minute is checked. The ids are hashed where they
        // are, not copied out (the duplicate window drops every event id
        // this way, a million on a busy rebuild).
        for (minute, ids) in &dropped {
            let mut drop_hash = |id: &str| {
                let hash = xxh3_64(id.as_bytes());
                if index.by_hash.get(&hash) == Some(minute) && !index.shared.contains(&hash) {
                    index.by_hash.remove(&hash);
                }
            };
            match ids {
                Minute::Raw(raw) => Minute::pairs(raw, *minute).iter().for_each(|pair| drop_hash(&pair.0)),
                Minute::Parsed(ids) => ids.keys().for_each(|id| drop_hash(id)),
            }
        }
    }

    /// Writes the index of these minutes for the loads of the snapshot
    /// they are written in ([`Gone::index_with`], `finished_gone_saved.rs`)
    /// at the end of `out`: each minute in the form this version writes,
    /// with the hash of that text, and the hash of each of its ids. A
    /// minute a pass changed whose ids are not all plain (written as pairs
    /// in the state's own form of instants) is left to be read at the load;
    /// a raw one is covered by its text, whatever its form. `entries`: room
    /// to sort the ids' hashes in, kept by the caller for the next set.
    pub(in crate::engine) fn save_index(&self, out: &mut Vec<u8>, entries: &mut Vec<(u64, Ts)>) {
        let (mut minutes, mut hashes) = (Vec::new(), Vec::new());
        entries.clear();
        for (&minute, held) in &self.minutes {
            let text = match held {
                Minute::Raw(raw) => Some(text_hash(raw.get())),
                // The text `Serialize` writes for it, `["…"]`.
                Minute::Parsed(ids) => {
                    packed(ids, minute).and_then(|text| serde_json::to_string(&[text]).ok()).map(|t| text_hash(&t))
                }
            };
            hashes.clear();
            if let Some(text) = text
                && held.hashes(minute, &mut hashes).is_ok()
            {
                minutes.push((minute, text));
                entries.extend(hashes.iter().map(|&hash| (hash, minute)));
            }
        }
        entries.sort_unstable_by_key(|&(hash, _)| hash);
        let mut shared = Vec::new();
        entries.dedup_by(|later, kept| {
            let twice = later.0 == kept.0;
            if twice && shared.last() != Some(&kept.0) {
                shared.push(kept.0);
            }
            twice
        });
        saved::write_set(&minutes, entries, &shared, out);
    }

    /// At least the bytes [`Gone::save_index`] writes, without reading a
    /// minute: a raw minute holds at most an id per 4 bytes of its text.
    pub(in crate::engine) fn save_index_room(&self) -> usize {
        let ids = |(_, held): (&Ts, &Minute)| match held {
            Minute::Raw(raw) => raw.get().len() / 4 + 1,
            Minute::Parsed(ids) => ids.len(),
        };
        24 + 16 * self.minutes.len() + 24 * self.minutes.iter().map(ids).sum::<usize>()
    }

    /// Every id with its end time, by minute, then by id.
    fn entries(&self) -> impl Iterator<Item = (String, Ts)> + '_ {
        self.minutes.iter().flat_map(|(at, minute)| minute.entries(*at))
    }
}

/// The same ids with the same end times, however each minute is held.
impl PartialEq for Gone {
    fn eq(&self, other: &Gone) -> bool {
        self.entries().eq(other.entries())
    }
}

impl Eq for Gone {}

impl Serialize for Gone {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.minutes.len()))?;
        for (minute, ids) in &self.minutes {
            match ids {
                Minute::Raw(raw) => map.serialize_entry(minute, raw)?,
                Minute::Parsed(ids) => match packed(ids, *minute) {
                    Some(text) => map.serialize_entry(minute, &[text])?,
                    None => map.serialize_entry(minute, &sorted(ids))?,
                },
            }
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Gone {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Gone, D::Error> {
        deserializer.deserialize_map(GoneVisitor)
    }
}

struct GoneVisitor;

impl<'de> Visitor<'de> for GoneVisitor {
    type Value = Gone;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("the ids that left, by the minute they ended")
    }

    /// The minutes as they are read, raw: checked, and their ids filed,
    /// when the index is made ([`Gone::index_with`], or at first use).
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Gone, A::Error> {
        let mut gone = Gone::default();
        let mut older = Vec::new();
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            let raw: Box<RawValue> = map.next_value()?;
            if raw.get().starts_with('"') {
                // The form before minutes: id to end time.
                let at: Ts = serde_json::from_str(raw.get()).map_err(A::Error::custom)?;
                older.push((key.into_owned(), at));
                continue;
            }
            let minute = Ts::parse_stored(&key).map_err(A::Error::custom)?;
            gone.texts.push((minute, text_hash(raw.get())));
            if gone.minutes.insert(minute, Minute::Raw(raw)).is_some() {
                return Err(A::Error::custom(format!("the minute {minute} is there twice")));
            }
        }
        if !older.is_empty() {
            // Filed as a pass files them: the minutes read with them are
            // checked here.
            gone.index_with(SavedSet::default()).map_err(A::Error::custom)?;
            for (id, at) in older {
                gone.insert(id, at);
            }
        }
        Ok(gone)
    }
}

impl Index {
    /// The index of `minutes`: `saved` for the minutes it covers, every
    /// other minute read id by id (and checked: the first minute that is
    /// not as this version writes it, if any, is told beside the index,
    /// which leaves its ids out).
    /// `texts`: the hash of each raw minute's text, in the order of the
    /// minutes ([`Gone::texts`]).
    fn of(minutes: &BTreeMap<Ts, Minute>, texts: &[(Ts, u64)], saved: SavedSet) -> (Index, Option<String>) {
        let mut index = Index { shared: saved.shared().collect(), saved, ..Index::default() };
        let (mut hashes, mut damage) = (Vec::new(), None);
        // Each id's hash with its minute, filed once all are read: the index
        // is then made at its size at once (grown minute by minute, its
        // rehashes were a quarter of reading the minutes of a busy history).
        let mut filed: Vec<(u64, Ts)> = Vec::new();
        let mut covered = Vec::new();
        let mut covers = index.saved.covers();
        for (&minute, held) in minutes {
            let text = texts.binary_search_by_key(&minute, |&(at, _)| at).ok().map(|at| texts[at].1);
            if let (Minute::Raw(_), Some(text)) = (held, text)
                && covers.covers(minute, text)
            {
                covered.push(minute);
                continue;
            }
            hashes.clear();
            match held.hashes(minute, &mut hashes) {
                Ok(()) => filed.extend(hashes.iter().map(|&hash| (hash, minute))),
                Err(reason) => {
                    damage.get_or_insert(reason);
                }
            }
        }
        index.by_hash.reserve(filed.len());
        for (hash, minute) in filed {
            // Two ids with one hash, or one id twice (here, or here and in
            // a minute the saved index covers): both looked for everywhere.
            let twice = index.by_hash.insert(hash, minute).is_some()
                || index.saved.get(hash).is_some_and(|at| covered.binary_search(&at).is_ok());
            if twice {
                index.shared.insert(hash);
            }
        }
        (index, damage)
    }

    /// The index of `minutes` alone, their damage left unsaid: made at a
    /// first use that comes before [`Gone::index_with`].
    fn unchecked(minutes: &BTreeMap<Ts, Minute>) -> Index {
        Index::of(minutes, &[], SavedSet::default()).0
    }
}

#[cfg(test)]
#[path = "finished_gone_tests.rs"]
mod tests;
