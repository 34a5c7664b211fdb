//! Where a snapshot's entities are in its text, so that each record of
//! the journal that follows it says where it goes ([`Place`]), and a load
//! splices the records in without a scan of the snapshot
//! (`journal_entities::placed`).
//!
//! Profiled on the busy history (the run after one that wrote a journal,
//! `perf` with frame pointers at 15 kHz), the splice's scan of the 8 MB
//! snapshot for the ~2,400 paths the records name was ~150 samples of the
//! load's thread, and the second thread waited for the spliced document
//! before it could parse the engine's tail (issue 11, thirty-first pass).
//! The snapshot's entities and where they are were known when it was
//! written: the index file beside it keeps each entity's span, and the
//! save that writes a record looks its place up here.
//!
//! A place is a hint the load checks against the text (the key before a
//! value, the brace an object ends with); a record without one, or one
//! that does not fit, sends the load to the scan, as before.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use xxhash_rust::xxh3::xxh3_64;

use crate::prehashed::Prehashed;

/// Where the entity of a journal record goes in the snapshot the journal
/// follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// The entity is a member of the snapshot, its value the snapshot's
    /// bytes `start..end`: a record sets it there, or removes the member.
    Value(u32, u32),
    /// Not in the snapshot: a new member of the object whose closing brace
    /// is at this byte.
    Before(u32),
    /// Nothing of it is in the snapshot: a removal that removes nothing
    /// there (of an entity a record before it added).
    Absent,
}

impl Place {
    /// As a journal record writes it, after `"at":`: `[start,end]`,
    /// `[brace]` or `[]`.
    pub fn write(self, out: &mut String) {
        use std::fmt::Write;
        let _ = match self {
            Place::Value(start, end) => write!(out, "[{start},{end}]"),
            Place::Before(brace) => write!(out, "[{brace}]"),
            Place::Absent => write!(out, "[]"),
        };
    }

    /// What [`write`](Self::write) wrote; `None` for anything else.
    pub fn read(raw: &str) -> Option<Place> {
        let inner = raw.strip_prefix('[')?.strip_suffix(']')?;
        let number = |digits: &str| match digits.bytes().all(|b| b.is_ascii_digit()) {
            true => digits.parse::<u32>().ok(),
            false => None,
        };
        match inner.split_once(',') {
            _ if inner.is_empty() => Some(Place::Absent),
            Some((start, end)) => Some(Place::Value(number(start)?, number(end)?)),
            None => Some(Place::Before(number(inner)?)),
        }
    }
}

/// Keys in a path at most: deeper paths are not placed (the entities are
/// cut no deeper than `journal_entities::MAX_DEPTH`).
const MAX_KEYS: usize = 16;

/// The spans of a snapshot's entities and the closing braces of the
/// objects cut around them, by the XXH3 of their paths.
#[derive(Clone, Default)]
pub struct Spans {
    values: HashMap<u64, (u32, u32), BuildHasherDefault<Prehashed>>,
    /// The document's own (the empty path) and every object cut.
    ends: HashMap<u64, u32, BuildHasherDefault<Prehashed>>,
}

impl Spans {
    pub fn with_capacity(entities: usize) -> Spans {
        Spans {
            values: HashMap::with_capacity_and_hasher(entities, BuildHasherDefault::default()),
            ends: HashMap::with_capacity_and_hasher(entities / 8, BuildHasherDefault::default()),
        }
    }

    /// Where a record of `path` goes: set (`set`) or removed. `None` when
    /// it cannot be placed: `path` is an object cut in the snapshot, or
    /// lies inside an entity of it, or is set under an object the snapshot
    /// does not have (the cut changed since the snapshot was written).
    pub fn place(&self, path: &str, set: bool) -> Option<Place> {
        if let Some(&(start, end)) = self.values.get(&xxh3_64(path.as_bytes())) {
            return Some(Place::Value(start, end));
        }
        let mut ends = [0; MAX_KEYS];
        let depth = key_ends(path, &mut ends)?;
        if self.ends.contains_key(&xxh3_64(path.as_bytes())) {
            return None;
        }
        if ends[..depth - 1].iter().any(|&end| self.values.contains_key(&xxh3_64(&path.as_bytes()[..end]))) {
            return None;
        }
        if !set {
            return Some(Place::Absent);
        }
        let parent = &path[..if depth == 1 { 0 } else { ends[depth - 2] }];
        self.ends.get(&xxh3_64(parent.as_bytes())).map(|&brace| Place::Before(brace))
    }

    /// The span of the entity `key` names, a byte later: for the tests of
    /// spans that do not fit.
    #[cfg(test)]
    pub fn shift(&mut self, key: u64) {
        if let Some((start, end)) = self.values.get_mut(&key) {
            (*start, *end) = (*start + 1, *end + 1);
        }
    }

    /// The span of the entity `key` names (the XXH3 of its path).
    pub fn value(&self, key: u64) -> Option<(u32, u32)> {
        self.values.get(&key).copied()
    }
}

impl Spans {
    /// The spans of the entities `found` (each its value's start and end
    /// and its path, in any order) of a snapshot of `len` bytes, with the
    /// braces of its objects, when they make it up whole ([`Tiler`]).
    /// Each entity is given with the XXH3 of its path.
    pub fn tiled(found: &mut [(u32, u32, &str, u64)], len: u64) -> Option<Spans> {
        if !found.is_sorted_by_key(|&(start, ..)| start) {
            found.sort_unstable_by_key(|&(start, ..)| start);
        }
        let mut tiler = Tiler::new(found.len());
        for &(start, end, path, key) in found.iter() {
            tiler.keyed(path, key, start, end);
        }
        tiler.finish(len)
    }
}

/// Finds the spans of a snapshot's entities given in its order, and
/// checks that they make it up whole, by the cut's rule: every byte not in
/// a value is the punctuation and keys that the paths say come between
/// (the braces of the objects closed, a comma, the keys of the objects
/// opened, the entity's key; the snapshot is compact JSON). An index that
/// lacks an entity of its snapshot, or holds one more, leaves a gap or an
/// overlap that does not fit, and its spans are not used: a record placed
/// by them could then add a member its object already has. The brace that
/// closes each object is where its last entity ends, and a byte a level.
pub struct Tiler {
    spans: Spans,
    /// The path of the last entity, and where each of its keys ends: the
    /// objects open after it are its keys but the last.
    open: String,
    open_ends: [usize; MAX_KEYS],
    open_keys: usize,
    /// Past the last entity's value (past the document's `{` at first).
    at: u64,
    first: bool,
    whole: bool,
}

impl Tiler {
    pub fn new(entities: usize) -> Tiler {
        Tiler {
            spans: Spans::with_capacity(entities),
            open: String::new(),
            open_ends: [0; MAX_KEYS],
            open_keys: 0,
            at: 1,
            first: true,
            whole: true,
        }
    }

    /// The next entity in the snapshot's order, at `path`, its value the
    /// bytes `start..end`.
    pub fn entity(&mut self, path: &str, start: u32, end: u32) {
        self.keyed(path, xxh3_64(path.as_bytes()), start, end);
    }

    /// [`entity`](Self::entity) of the path whose XXH3 is `key`.
    pub fn keyed(&mut self, path: &str, key: u64, start: u32, end: u32) {
        if !self.first && self.whole && self.sibling(path, key, start, end) {
            return;
        }
        self.read_whole(path, key, start, end);
    }

    /// [`keyed`](Self::keyed) with every key of `path` read.
    fn read_whole(&mut self, path: &str, key: u64, start: u32, end: u32) {
        let mut ends = [0; MAX_KEYS];
        let keys = match key_ends(path, &mut ends) {
            Some(keys) if self.whole => keys,
            _ => {
                self.whole = false;
                return;
            }
        };
        // The keys this path shares with the objects open: those that end
        // within the bytes both paths begin with, where both end.
        let same = path.bytes().zip(self.open.bytes()).take_while(|(a, b)| a == b).count();
        let common =
            (0..self.open_keys.min(keys - 1)).take_while(|&k| ends[k] <= same && ends[k] == self.open_ends[k]).count();
        self.close(common);
        let mut gap = (self.open_keys - common) as u64 + u64::from(!self.first);
        for k in common..keys {
            let from = if k == 0 { 0 } else { ends[k - 1] + 1 };
            // `"key":{` for an object opened, `"key":` for the entity's own.
            gap += (ends[k] - from) as u64 + if k + 1 < keys { 2 } else { 1 };
        }
        if self.at + gap != u64::from(start) || start >= end {
            self.whole = false;
            return;
        }
        self.spans.values.insert(key, (start, end));
        self.open.clear();
        self.open.push_str(path);
        (self.open_ends, self.open_keys, self.at, self.first) = (ends, keys - 1, u64::from(end), false);
    }

    /// [`keyed`](Self::keyed) of an entity in the same object as the last
    /// one, the usual case (the members of one map, in turn): its path is
    /// the last one's but for its own key, so no object closes or opens
    /// and only its key is read. `false`, having changed nothing, for any
    /// other path: [`keyed`](Self::keyed) then reads it whole. Profiled on
    /// the busy history (the run after one that wrote a journal, `perf`
    /// at 15 kHz), filing the ~30,500 spans of the index file with every
    /// path read whole was ~75 samples of a worker the fold's reader and
    /// the state's serialisation wait for (issue 11, thirty-second pass).
    fn sibling(&mut self, path: &str, key: u64, start: u32, end: u32) -> bool {
        // The objects open, and the comma after the last one's key.
        let shared = match self.open_keys {
            0 => 0,
            open => self.open_ends[open - 1] + 1,
        };
        let (Some(head), Some(own)) = (path.as_bytes().get(..shared), path.as_bytes().get(shared..)) else {
            return false;
        };
        if head != &self.open.as_bytes()[..shared] || !is_one_key(own) {
            return false;
        }
        // A comma, the key, a colon.
        if self.at + own.len() as u64 + 2 != u64::from(start) || start >= end {
            return false;
        }
        self.spans.values.insert(key, (start, end));
        self.open.truncate(shared);
        self.open.push_str(&path[shared..]);
        self.at = u64::from(end);
        true
    }

    /// [`entity`](Self::entity) of a value `raw` that is a slice of the
    /// document `doc` (as a visit of it gives): an empty span past 4 GiB,
    /// which never tiles.
    pub fn value_in(&mut self, doc: &str, path: &str, raw: &str) {
        let start = raw.as_ptr() as usize - doc.as_ptr() as usize;
        match (u32::try_from(start), u32::try_from(start + raw.len())) {
            (Ok(start), Ok(end)) => self.entity(path, start, end),
            _ => self.entity(path, 0, 0),
        }
    }

    /// The braces of the open objects below the first `keep` keys.
    fn close(&mut self, keep: usize) {
        for k in (keep..self.open_keys).rev() {
            let brace = self.at + (self.open_keys - 1 - k) as u64;
            let path = &self.open.as_bytes()[..self.open_ends[k]];
            self.spans.ends.insert(xxh3_64(path), brace as u32);
        }
    }

    /// The spans, when the entities made up a document of `len` bytes.
    pub fn finish(mut self, len: u64) -> Option<Spans> {
        if !self.whole {
            return None;
        }
        self.close(0);
        let root = self.at + self.open_keys as u64;
        self.spans.ends.insert(xxh3_64(b""), u32::try_from(root).ok()?);
        (root + 1 == len).then_some(self.spans)
    }
}

/// Whether `bytes` is one key of a path, as [`key_ends`] reads them.
fn is_one_key(bytes: &[u8]) -> bool {
    past_key(bytes, 0) == Some(bytes.len())
}

/// Past the key that begins at `at` in `bytes` (a JSON string as a path
/// holds it: a quote, then bytes up to the next quote not after a
/// backslash); `None` when no key begins there or it does not end.
pub(super) fn past_key(bytes: &[u8], mut at: usize) -> Option<usize> {
    if bytes.get(at) != Some(&b'"') {
        return None;
    }
    at += 1;
    loop {
        match *bytes.get(at)? {
            b'"' => return Some(at + 1),
            b'\\' => at += 2,
            _ => at += 1,
        }
    }
}

/// Where each key of `path` ends (past its closing quote), into `ends`:
/// how many keys it has. `None` when it is not keys (JSON strings) joined
/// by commas, or has more than [`MAX_KEYS`].
fn key_ends(path: &str, ends: &mut [usize; MAX_KEYS]) -> Option<usize> {
    let bytes = path.as_bytes();
    let (mut at, mut keys) = (0, 0);
    loop {
        if keys == MAX_KEYS {
            return None;
        }
        at = past_key(bytes, at)?;
        ends[keys] = at;
        keys += 1;
        match bytes.get(at) {
            None => return Some(keys),
            Some(b',') => at += 1,
            Some(_) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::journal_entities::{Edits, SPLIT_BYTES, placed, splice, spliced, visit};

    /// Spans with the XXH3 of each path, as an index file's are filed.
    fn keyed<'a>(spans: &[(u32, u32, &'a str)]) -> Vec<(u32, u32, &'a str, u64)> {
        spans.iter().map(|&(start, end, path)| (start, end, path, xxh3_64(path.as_bytes()))).collect()
    }

    /// The spans of `doc`'s entities, as a snapshot's save finds them.
    fn spans_of(doc: &str) -> Spans {
        let mut tiler = Tiler::new(8);
        visit(doc, |path, raw| tiler.value_in(doc, path, raw)).unwrap();
        tiler.finish(doc.len() as u64).expect("a document's own entities make it up")
    }

    /// `records` spliced into `doc` where `places` say, or `None` when they
    /// do not fit; `Some` only with the text the scan makes of them.
    fn placed_text(doc: &str, records: &[(&str, Option<&str>)], places: &[Option<Place>]) -> Option<String> {
        let edits = Edits::flat(records, places).structured().unwrap();
        // The room a load leaves for them, counted by their places, is
        // room enough for the pieces of their places and for those of the
        // scan, which runs when a place does not fit.
        let room = edits.room();
        // (A scan marks the edits it made: its own edits.)
        let for_scan = Edits::flat(records, places).structured().unwrap();
        if let Some(scanned) = spliced(doc, &for_scan).unwrap() {
            assert!(room >= scanned.placed().room(), "{records:?} at {places:?}: scanned");
        }
        let pieces = placed(doc, &edits)?.placed();
        assert!(room >= pieces.room(), "{records:?} at {places:?}");
        let made = pieces.into_string(doc.as_bytes()).unwrap();
        assert_eq!(Some(&made), splice(doc, &edits).unwrap().as_ref(), "{records:?} at {places:?}");
        Some(made)
    }

    /// Records placed by the spans of the snapshot they follow are spliced
    /// where they say, into the text the scan makes: values set in place,
    /// members removed with the comma before them, or after them when
    /// first (a run of them side by side as one), new members at the end of
    /// their object in key order. What the places cannot do alone (every
    /// member of an object removed, which removes the object) and places
    /// that do not fit the text are left to the scan.
    #[test]
    fn records_placed_by_the_snapshots_spans_splice_as_the_scan_does() {
        let long = "\"".to_string() + &"l".repeat(SPLIT_BYTES) + "\"";
        let members: Vec<String> = (0..8).map(|n| format!(r#""m{n}":{n}"#)).collect();
        let doc = format!(r#"{{"a":{{"l":{long},{}}},"b":[1],"c":{{"k":{long}}}}}"#, members.join(","));
        let spans = spans_of(&doc);
        let m = |n: usize| format!(r#""a","m{n}""#);
        let (l, k, b) = (r#""a","l""#.to_string(), r#""c","k""#.to_string(), r#""b""#.to_string());
        let removed = |ns: &[usize]| ns.iter().map(|&n| (m(n), None)).collect::<Vec<_>>();
        let mut cases: Vec<Vec<(String, Option<&str>)>> = vec![
            removed(&[0]),
            removed(&[0, 1]),
            removed(&[3]),
            removed(&[3, 4, 5]),
            removed(&[7]),
            removed(&[6, 7]),
            removed(&[1, 3, 5]),
            vec![(m(2), Some("[2]")), (m(1), None), (m(3), None)],
            vec![(r#""a","z""#.into(), Some("1")), (r#""a","y""#.into(), Some("2")), (b.clone(), Some("{}"))],
            vec![(r#""t""#.into(), Some("0")), (r#""nowhere""#.into(), None), (r#""a","nowhere""#.into(), None)],
            vec![(k.clone(), None), (r#""c","n""#.into(), Some("3"))],
            vec![(l.clone(), None), (m(4), Some("4")), (m(4), None), (m(5), None), (m(5), Some("5"))],
        ];
        let mut all = removed(&[0, 1, 2, 3, 4, 5, 6, 7]);
        all.push((l.clone(), None));
        cases.push([all.clone(), vec![(r#""a","n""#.into(), Some("9"))]].concat());
        // Many new members: each adds its key, a colon and a comma, which
        // the room a load leaves counts (`Edits::room`).
        cases.push((0..40).map(|n| (format!(r#""a","new{n}""#), Some("1"))).collect());
        for records in &cases {
            let records: Vec<(&str, Option<&str>)> = records.iter().map(|(p, raw)| (p.as_str(), *raw)).collect();
            let places: Vec<Option<Place>> = records.iter().map(|(p, raw)| spans.place(p, raw.is_some())).collect();
            assert!(places.iter().all(Option::is_some), "{records:?}");
            assert!(placed_text(&doc, &records, &places).is_some(), "{records:?}");
        }
        // Many values set side by side: the scan writes the comma after
        // each as its own, which the room a load leaves counts too.
        let wide = format!("{{{}}}", (0..100).map(|n| format!(r#""k{n}":{n}"#)).collect::<Vec<_>>().join(","));
        let wide_spans = spans_of(&wide);
        let keys: Vec<String> = (0..100).map(|n| format!(r#""k{n}""#)).collect();
        let records: Vec<(&str, Option<&str>)> = keys.iter().map(|key| (key.as_str(), Some("[9]"))).collect();
        let places: Vec<Option<Place>> = records.iter().map(|(p, raw)| wide_spans.place(p, raw.is_some())).collect();
        assert!(placed_text(&wide, &records, &places).is_some());
        // Left to the scan.
        let records: Vec<(&str, Option<&str>)> = all.iter().map(|(p, raw)| (p.as_str(), *raw)).collect();
        let places: Vec<Option<Place>> = records.iter().map(|(p, raw)| spans.place(p, raw.is_some())).collect();
        assert_eq!(placed_text(&doc, &records, &places), None, "an object emptied goes, which a place cannot say");
        let one = |path: &str, raw: Option<&'static str>, place: Option<Place>| {
            let records = [(path, raw)];
            placed_text(&doc, &records, &[place])
        };
        let at = |path: &str| spans.place(path, true);
        assert_eq!(one(&m(2), Some("0"), at(&m(1))), None, "a place whose key is another's");
        assert_eq!(one(&m(2), Some("0"), Some(Place::Absent)), None, "set where nothing is");
        assert_eq!(one(&m(2), Some("0"), None), None, "no place");
        assert_eq!(one(&m(2), Some("0"), Some(Place::Value(1, 4_000_000))), None, "past the end");
        assert_eq!(one(r#""a","n""#, Some("0"), Some(Place::Before(3))), None, "no brace there");
        assert!(one(&m(2), Some("0"), at(&m(2))).is_some());
        let value = at(&m(2));
        let (m2, m3) = (m(2), m(3));
        let records = [(m2.as_str(), Some("0")), (m3.as_str(), Some("0"))];
        assert_eq!(placed_text(&doc, &records, &[value, value]), None, "two records at one place");
    }

    /// The entities of a document tile it; one missing, one too many, one
    /// moved or a document of another length do not.
    #[test]
    fn the_entities_of_a_document_tile_it_and_a_missing_one_does_not() {
        let doc = r#"{"a":{"x":1,"y":{"p":2,"q":[3]}},"b":[3],"c":{"q\"":4}}"#;
        let entities = [
            (r#""a","x""#, "1"),
            (r#""a","y","p""#, "2"),
            (r#""a","y","q""#, "[3]"),
            (r#""b""#, "[3]"),
            (r#""c","q\"""#, "4"),
        ];
        let mut from = 0;
        let mut spans: Vec<(u32, u32, &str)> = Vec::new();
        for (path, raw) in entities {
            let start = from + doc[from..].find(&format!(":{raw}")).unwrap() + 1;
            from = start + raw.len();
            spans.push((start as u32, from as u32, path));
        }
        let len = doc.len() as u64;
        assert!(Spans::tiled(&mut keyed(&spans), len).is_some());
        let mut backward: Vec<_> = keyed(&spans).into_iter().rev().collect();
        assert!(Spans::tiled(&mut backward, len).is_some(), "in any order");
        assert!(Spans::tiled(&mut keyed(&spans), len + 1).is_none(), "another length");
        for missing in 0..spans.len() {
            let mut fewer = spans.clone();
            fewer.remove(missing);
            assert!(Spans::tiled(&mut keyed(&fewer), len).is_none(), "without {}", spans[missing].2);
        }
        let mut more = spans.clone();
        more.push((spans[0].0, spans[0].1, r#""a","z""#));
        assert!(Spans::tiled(&mut keyed(&more), len).is_none(), "one more");
        let mut moved = spans.clone();
        moved[1].0 += 1;
        assert!(Spans::tiled(&mut keyed(&moved), len).is_none(), "a value's start moved");
        assert!(Spans::tiled(&mut [], 2).is_some(), "`{{}}`");
    }

    /// An entity in the same object as the one before it is filed without
    /// its path read whole: the spans and braces are those every path read
    /// whole gives, on a document with such runs at every depth, keys with
    /// escaped quotes and backslashes, and entities that open and close
    /// objects between them; with one such entity moved, neither tiles.
    #[test]
    fn members_of_one_object_in_turn_file_as_their_paths_read_whole_do() {
        let long = "\"".to_string() + &"l".repeat(SPLIT_BYTES) + "\"";
        let doc = format!(
            r#"{{"a":{{"x":1,"y\"":{{"p":{long},"q\\":[2],"r":3,"s":{{}}}},"z":{long},"z\\\"":7}},"b":4,"c\\\"":5,"d":{{"k":{long},"k2":6}}}}"#
        );
        let mut found = Vec::new();
        visit(&doc, |path, raw| {
            let start = raw.as_ptr() as usize - doc.as_ptr() as usize;
            found.push((start as u32, (start + raw.len()) as u32, path.to_string()));
        })
        .unwrap();
        assert_eq!(found.len(), 11, "{found:?}");
        let tile = |whole: bool, found: &[(u32, u32, String)]| {
            let mut tiler = Tiler::new(8);
            for (start, end, path) in found {
                let key = xxh3_64(path.as_bytes());
                match whole {
                    true => tiler.read_whole(path, key, *start, *end),
                    false => tiler.keyed(path, key, *start, *end),
                }
            }
            tiler.finish(doc.len() as u64)
        };
        let (fast, whole) = (tile(false, &found).unwrap(), tile(true, &found).unwrap());
        assert!(fast.values == whole.values && fast.ends == whole.ends);
        assert_eq!((fast.values.len(), fast.ends.len()), (11, 4), "every entity, and the document, a, a/y and d");
        for moved in 1..found.len() {
            let mut found = found.clone();
            found[moved].0 -= 1;
            assert!(tile(false, &found).is_none() && tile(true, &found).is_none(), "{:?} moved", found[moved]);
        }
    }

    #[test]
    fn a_place_reads_back_as_written_and_nothing_else_reads() {
        for place in [Place::Value(3, 17), Place::Before(0), Place::Absent, Place::Value(u32::MAX, 0)] {
            let mut out = String::new();
            place.write(&mut out);
            assert_eq!(Place::read(&out), Some(place), "{out}");
        }
        for raw in ["", "[", "[1,2,3]", "[-1]", "[1, 2]", "[4294967296]", "{}", "[\"1\"]", "[+1]", "[,]"] {
            assert_eq!(Place::read(raw), None, "{raw}");
        }
    }

    /// The document `{"a":{"x":1,"y":{"p":2}},"b":[3],"c":{"q\"":4}}`, with
    /// `a` and `c` cut: the braces of its objects, the places of records
    /// set and removed, and what cannot be placed.
    #[test]
    fn braces_are_found_from_the_last_entity_of_each_object_whatever_the_order() {
        let doc = r#"{"a":{"x":1,"y":{"p":2}},"b":[3],"c":{"q\"":4}}"#;
        let entities = [(r#""a","x""#, "1"), (r#""a","y""#, r#"{"p":2}"#), (r#""b""#, "[3]"), (r#""c","q\"""#, "4")];
        let span = |raw: &str| {
            let start = doc.find(raw).unwrap();
            (start as u32, (start + raw.len()) as u32)
        };
        let mut found: Vec<(u32, u32, &str)> =
            entities.iter().map(|&(path, raw)| (span(raw).0, span(raw).1, path)).collect();
        let forward = Spans::tiled(&mut keyed(&found), doc.len() as u64).expect("the entities make up the document");
        found.reverse();
        let backward = Spans::tiled(&mut keyed(&found), doc.len() as u64).expect("in any order");
        for spans in [&forward, &backward] {
            let brace = |path: &str| spans.ends[&xxh3_64(path.as_bytes())] as usize;
            assert_eq!(&doc[brace("")..], "}");
            assert_eq!(&doc[brace(r#""a""#)..brace(r#""a""#) + 2], "},");
            assert_eq!(&doc[..brace(r#""c""#) + 1], &doc[..doc.len() - 1]);
            assert_eq!(
                spans.place(r#""a","y""#, false),
                Some(Place::Value(span(r#"{"p":2}"#).0, span(r#"{"p":2}"#).1))
            );
            assert_eq!(spans.place(r#""a","z""#, true), Some(Place::Before(brace(r#""a""#) as u32)));
            assert_eq!(spans.place(r#""d""#, true), Some(Place::Before(brace("") as u32)));
            assert_eq!(spans.place(r#""d""#, false), Some(Place::Absent));
            assert_eq!(spans.place(r#""c","r""#, true), Some(Place::Before(brace(r#""c""#) as u32)));
            // An object cut, set or removed whole; a path inside an entity;
            // a key under an object the snapshot does not have.
            assert_eq!(spans.place(r#""a""#, true), None);
            assert_eq!(spans.place(r#""a""#, false), None);
            assert_eq!(spans.place(r#""a","y","p""#, false), None);
            assert_eq!(spans.place(r#""b","z""#, true), None);
            assert_eq!(spans.place(r#""e","f""#, true), None);
            assert_eq!(spans.place(r#""e","f""#, false), Some(Place::Absent));
            assert_eq!(spans.place("not keys", true), None);
        }
    }
}
