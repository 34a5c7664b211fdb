//! The engine state as entities, for `store::journal`: a JSON document cut
//! into the values found at paths of object keys, and put back together.
//!
//! An object is cut into its keys when it is longer than [`SPLIT_BYTES`]
//! (the document itself always is, and no deeper than [`MAX_DEPTH`]);
//! anything else — a small object, an array, a string, a number — is one
//! entity, kept as its raw JSON text. So a deployment of the hot view, a
//! node or an alert is an entity of its own (or a few, when it is long), and
//! a pass that changes one rewrites that one, while a map of thousands of
//! them is never an entity.
//!
//! A path is the object keys from the document down, as their raw JSON
//! tokens (quotes and escapes as written) joined by commas, so that
//! `[` + path + `]` is a JSON array of the keys: `"engine","nodes","venus"`.
//! Which objects are cut depends on their length, so one can be an entity in
//! one pass and cut in the next: the entities of a document never hold a
//! path and a path under it, and replaying a diff (removals first) of two
//! such sets gives the second set.
//!
//! The cutting is a byte scanner, not a parser: the engine state's own
//! deserialisation checks the assembled document, and a document the
//! scanner cannot follow is refused as damaged. A pass's save does not
//! scan the document it writes: the writer records the same cut as it
//! writes (`store::journal_cut`).

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasherDefault;

use super::journal_placed::Placed;
use super::journal_spans::{Place, past_key};
use crate::prehashed::StrHasher;

/// An object longer than this is cut into its keys.
pub const SPLIT_BYTES: usize = 1024;
/// Objects deeper than this are never cut.
pub const MAX_DEPTH: usize = 8;
/// How the scanner cuts a document into entities, writes their paths and
/// what is hashed of them: raise it with any change to that code (the two
/// constants above are in [`CUT`] already).
const CUT_VERSION: u64 = 1;
/// The cut as one number, for an index of entities to record
/// (`journal_index`): an index made under another (another version's) is
/// not this one's. Its version, [`SPLIT_BYTES`] and [`MAX_DEPTH`].
pub const CUT: u64 = (CUT_VERSION << 48) | ((SPLIT_BYTES as u64) << 16) | MAX_DEPTH as u64;

/// An entity: its path and its raw JSON value.
pub type Entity<'a> = (String, &'a str);

/// The entities of `doc`, a JSON object, in document order.
pub fn split(doc: &str) -> Result<Vec<Entity<'_>>, String> {
    let mut out = Vec::new();
    visit(doc, |path, raw| out.push((path.to_string(), raw)))?;
    Ok(out)
}

/// Calls `found` with each entity of `doc` (its path, its raw value), in
/// document order, without allocating for it: the path is only borrowed
/// for the call. An object is measured by skipping it before it is cut,
/// so the keys of a short one are never visited.
pub fn visit<'a>(doc: &'a str, mut found: impl FnMut(&str, &'a str)) -> Result<(), String> {
    let mut scanner = Scanner { text: doc, at: 0 };
    scanner.space();
    scanner.object(&mut String::new(), 0, MAX_DEPTH, &mut found)?;
    scanner.space();
    match scanner.at == doc.len() {
        true => Ok(()),
        false => Err(format!("unexpected text after the document at byte {}", scanner.at)),
    }
}

/// The keys of one JSON object (raw tokens, with their quotes) and their
/// raw values, without cutting any deeper.
pub fn fields(doc: &str) -> Result<Vec<Entity<'_>>, String> {
    let mut scanner = Scanner { text: doc, at: 0 };
    let mut out = Vec::new();
    scanner.space();
    scanner.object(&mut String::new(), 0, 1, &mut |path: &str, raw| out.push((path.to_string(), raw)))?;
    Ok(out)
}

/// Where the member `key` of the object that is the member `outer` of the
/// document `doc` begins: the offset of the `,` before it (keys are raw
/// tokens, with their quotes). `None` when `doc` is not an object, `outer`
/// is not an object in it, or `key` is not in that object after another
/// member. Each value before it is skipped as the scanner skips one, a
/// fraction of the time a parse takes (`store/checkpoint_doc.rs` splits the
/// state's parse there).
pub fn member_start(doc: &str, outer: &str, key: &str) -> Option<usize> {
    let mut scanner = Scanner { text: doc, at: 0 };
    scanner.space();
    scanner.find_member(outer)?;
    scanner.find_member(key)?
}

/// The document the entities are the parts of; they come in any order.
///
/// Sorted by their paths' text, the entities under one object are next to
/// each other: a key token ends at its first unescaped quote, so a path
/// that begins with another path's first key and a comma has that first
/// key too (and so on down).
pub fn assemble(mut entities: Vec<(&str, &str)>) -> Result<String, String> {
    entities.sort_unstable_by_key(|(path, _)| *path);
    let mut items = Vec::with_capacity(entities.len());
    for (path, raw) in &entities {
        items.push((segments(path)?, *raw));
    }
    let size = entities.iter().map(|(path, raw)| path.len() + raw.len() + 2).sum();
    let mut out = String::with_capacity(size);
    level(&mut out, &items, 0)?;
    Ok(out)
}

/// What a journal changes of a document's entities, for [`placed`] and
/// [`spliced`]: the last record of each path, and, for the scan, the
/// objects its new entries make.
pub struct Edits<'a> {
    /// By path: the paths of the records, and in [`Structured`] edits
    /// every object above one (the document's members at any other path
    /// are copied as they are, not looked into).
    nodes: Paths<'a, Node<'a>>,
    /// The keys under each object that holds a value the records set, in
    /// key order, with the path each key makes (empty but in
    /// [`Structured`] edits).
    kids: Paths<'a, BTreeMap<&'a str, &'a str>>,
}

/// [`Edits`] with the objects above each path and the keys under each,
/// each path checked to be keys ([`Edits::structured`]): what a scan of
/// the document ([`spliced`]) reads, which only these can be given.
pub struct Structured<'a>(Edits<'a>);

impl<'a> std::ops::Deref for Structured<'a> {
    type Target = Edits<'a>;

    fn deref(&self) -> &Edits<'a> {
        &self.0
    }
}

type Paths<'a, V> = HashMap<&'a str, V, BuildHasherDefault<StrHasher>>;

#[derive(Default)]
struct Node<'a> {
    /// The last record of the path, if it has one (`Some(None)`: removed).
    set: Option<Option<&'a str>>,
    /// A value the records set lies under it.
    holds: bool,
    /// Written (or found in the document) by the splice.
    done: Cell<bool>,
    /// Where the last record of the path goes in the document, when it
    /// says ([`placed`]).
    place: Option<Place>,
}

impl<'a> Edits<'a> {
    /// The edits of `records` (each a path and its value, or `None`:
    /// removed), applied in order, with the objects their new entries make
    /// ([`Edits::structured`]): for [`spliced`], in the tests (a load
    /// makes [`Edits::flat`] and structures it only for a scan).
    #[cfg(test)]
    pub fn of(records: &[(&'a str, Option<&'a str>)]) -> Result<Structured<'a>, String> {
        Edits::flat(records, &[]).structured()
    }

    /// The last record of each path of `records`, with its place
    /// (`places`, in the order of `records`, when the records have them):
    /// all [`placed`] reads. The objects the records' new entries make,
    /// and the check of each path, come with [`Edits::structured`], which
    /// only a scan ([`spliced`]) needs.
    ///
    /// Profiled on the busy history (the eighth of the runs a timer makes
    /// after a rebuild, its journal 3.2 MB: ~10,000 records of ~5,100
    /// entities), making that structure for every load was a third of
    /// what the journal added to the load's thread (issue 11,
    /// thirty-eighth pass), while the places of the records fit and the
    /// scan never ran.
    pub fn flat(records: &[(&'a str, Option<&'a str>)], places: &[Option<Place>]) -> Edits<'a> {
        let mut nodes: Paths<Node> = Paths::with_capacity_and_hasher(records.len(), Default::default());
        for (n, &(path, raw)) in records.iter().enumerate() {
            let node = nodes.entry(path).or_default();
            node.set = Some(raw);
            node.place = places.get(n).copied().flatten();
        }
        Edits { nodes, kids: Paths::default() }
    }

    /// At least what a splice of these edits adds to a document, by
    /// their places ([`placed`]) or by a scan ([`spliced`]): for the room a
    /// load leaves before the snapshot, to splice it in place
    /// (`journal::read_snapshot_after`). Each path counted once, by its last record,
    /// as the splice writes it: a value set where its place says adds
    /// itself, a new member its key, a colon and a comma too; the scan may
    /// add one byte more for each (the comma or brace after a value it
    /// wrote cannot run on from the document's bytes), and one for a
    /// removal (the brace after a last member removed); a record without a
    /// place is spliced by the scan, which may write each key of its path
    /// and the punctuation of a member or an object it makes (the path's
    /// length bounds its keys, five times it their `,`, `:`, `{` and `}`).
    ///
    /// Counted by every record, with room for new objects whatever the
    /// place, the room of the eighth of the runs a timer makes on the busy
    /// history (~10,000 records of ~5,100 entities in a 3.2 MB journal) was
    /// 6.2 MB, written before the snapshot's read; it is 1.2 MB now (issue
    /// 11, thirty-eighth pass).
    pub fn room(&self) -> usize {
        let each = |(path, node): (&&str, &Node)| match (node.set, node.place) {
            (None, _) => 0,
            (Some(raw), Some(Place::Value(..))) => raw.map_or(1, |raw| raw.len() + 1),
            (Some(raw), Some(Place::Before(_))) => raw.map_or(1, |raw| raw.len() + path.len() + 3),
            (Some(None), Some(Place::Absent)) => 1,
            (Some(raw), _) => raw.map_or(0, str::len) + 6 * path.len() + 8,
        };
        self.nodes.iter().map(each).sum::<usize>() + 64
    }

    /// With the objects above each path (`Node::holds`) and the keys under
    /// each (`kids`), each path checked to be keys: what a scan of the
    /// document ([`spliced`]) reads.
    pub fn structured(mut self) -> Result<Structured<'a>, String> {
        let paths: Vec<(&str, bool)> = self.nodes.iter().map(|(p, n)| (*p, matches!(n.set, Some(Some(_))))).collect();
        for (path, set) in paths {
            let keys = match segments(path) {
                Ok(keys) => keys,
                // A removal of what no entity's path can be removes
                // nothing, as in the entities replayed.
                Err(_) if !set => continue,
                Err(reason) => return Err(reason),
            };
            let (mut parent, mut end) = ("", 0);
            for key in keys {
                end += usize::from(end > 0) + key.len();
                let child = &path[..end];
                if set {
                    self.kids.entry(parent).or_default().insert(key, child);
                }
                if child.len() < path.len() {
                    self.nodes.entry(child).or_default().holds |= set;
                }
                parent = child;
            }
        }
        Ok(Structured(self))
    }
}

/// `doc` with `edits` made where their records place them (each record's
/// `journal_spans::Place`, as the save that wrote it found it in the
/// index of `doc`), without a scan of `doc`: the pieces [`spliced`] makes
/// of them, new members in the same order (by key, at the end of their
/// object). `None` when a record has no place, or a place does not fit
/// `doc` (the key before a value, the brace an object ends with, places
/// that overlap): the caller scans then.
///
/// A member removed takes the comma before it, or, first in its object,
/// the comma after it; a run of members removed side by side goes as one.
pub fn placed<'a>(doc: &'a str, edits: &Edits<'a>) -> Option<Spliced<'a>> {
    let bytes = doc.as_bytes();
    let mut edits_at: Vec<Edit> = Vec::new();
    for (&path, node) in &edits.nodes {
        let Some(set) = node.set else { continue };
        let key = &path[last_key_start(path)?..];
        match (node.place?, set) {
            (Place::Value(start, end), set) => {
                let (start, end) = (start as usize, end as usize);
                let key_at = start.checked_sub(key.len() + 1)?;
                let fits = doc.get(key_at..start - 1) == Some(key)
                    && bytes[start - 1] == b':'
                    && matches!(bytes.get(key_at.checked_sub(1)?), Some(b'{' | b','))
                    && start < end
                    && matches!(bytes.get(end), Some(b',' | b'}'));
                if !fits {
                    return None;
                }
                edits_at.push(match set {
                    Some(raw) => Edit { at: start, end, key, change: Change::Set(raw) },
                    None => Edit { at: key_at, end, key, change: Change::Remove },
                });
            }
            (Place::Before(brace), Some(raw)) => {
                let brace = brace as usize;
                if bytes.get(brace) != Some(&b'}') {
                    return None;
                }
                edits_at.push(Edit { at: brace, end: brace, key, change: Change::Add(raw) });
            }
            // Nothing of it is in the document.
            (Place::Before(_) | Place::Absent, None) => {}
            (Place::Absent, Some(_)) => return None,
        }
    }
    edits_at.sort_unstable_by(|a, b| (a.at, a.change.is_add(), a.key).cmp(&(b.at, b.change.is_add(), b.key)));
    let mut out = Spliced::new(doc);
    let (mut copied, mut next) = (0, 0);
    while let Some(edit) = edits_at.get(next) {
        next += 1;
        if edit.at < copied {
            return None;
        }
        match edit.change {
            // A value set where it is.
            Change::Set(raw) => {
                out.push(&doc[copied..edit.at]);
                out.push(raw);
                copied = edit.end;
            }
            // Members removed: this one and those right after it.
            Change::Remove => {
                let (first, mut end) = (edit.at, edit.end);
                while let Some(after) = edits_at.get(next)
                    && matches!(after.change, Change::Remove)
                    && after.at == end + 1
                    && bytes[end] == b','
                {
                    end = after.end;
                    next += 1;
                }
                let (from, to) = match (bytes[first - 1], bytes[end]) {
                    (b',', _) => (first - 1, end),
                    (_, b',') => (first, end + 1),
                    // Every member of an object removed: the scan removes
                    // the object too, unless a new member goes in it.
                    _ if edits_at.get(next).is_some_and(|e| e.change.is_add() && e.at == end) => (first, end),
                    _ => return None,
                };
                out.push(&doc[copied..from]);
                copied = to;
            }
            // New members, at the end of their object: the first without
            // a comma when nothing is left before it there.
            Change::Add(raw) => {
                out.push(&doc[copied..edit.at]);
                copied = edit.at;
                let (mut comma, mut member) = (out.last_byte() != Some(b'{'), (edit.key, raw));
                loop {
                    if comma {
                        out.push(",");
                    }
                    comma = true;
                    out.push(member.0);
                    out.push(":");
                    out.push(member.1);
                    match edits_at.get(next) {
                        Some(&Edit { at, key, change: Change::Add(raw), .. }) if at == edit.at => {
                            member = (key, raw);
                            next += 1;
                        }
                        _ => break,
                    }
                }
            }
        }
    }
    out.push(&doc[copied..]);
    Some(out)
}

/// An edit of [`placed`], where it begins in the document.
struct Edit<'a> {
    at: usize,
    /// Where what it replaces or removes ends (`at` for a new member).
    end: usize,
    key: &'a str,
    change: Change<'a>,
}

/// What an [`Edit`] does there.
#[derive(Clone, Copy)]
enum Change<'a> {
    /// The value replaced by this one (`at..end` is the value).
    Set(&'a str),
    /// The member removed (`at..end` is its key and value).
    Remove,
    /// A new member with this value, before the brace at `at`.
    Add(&'a str),
}

impl Change<'_> {
    /// At one place, sets and removals come before new members.
    fn is_add(self) -> bool {
        matches!(self, Change::Add(_))
    }
}

/// Where the last key of `path` begins.
fn last_key_start(path: &str) -> Option<usize> {
    let bytes = path.as_bytes();
    let mut start = 0;
    loop {
        let end = past_key(bytes, start)?;
        match bytes.get(end) {
            None => return Some(start),
            Some(b',') => start = end + 1,
            Some(_) => return None,
        }
    }
}

/// [`spliced`], made in a new `String`: for the tests, which compare it
/// with a replay and with the document made in place.
#[cfg(test)]
pub fn splice(doc: &str, edits: &Structured) -> Result<Option<String>, String> {
    let Some(spliced) = spliced(doc, edits)? else { return Ok(None) };
    let made = spliced.placed().into_string(doc.as_bytes());
    made.map(Some).map_err(|super::journal_placed::JournalDamage| "the spliced document is not UTF-8".to_string())
}

/// `doc` with `edits` made, in one scan of it, as the pieces of the
/// document it makes ([`Spliced`]): each entity kept, replaced or left out
/// where it is, and new entities written at the end of the object they go
/// in (keys in any order: the document is parsed, never compared).
/// `Ok(None)` when an edit does not fit the document's cut (an object cut
/// in it replaced whole, say): [`assemble`] then does it, and says when
/// the edits do not fit at all.
///
/// Profiled on the busy history (a run folding 1,000 events after one
/// that wrote a journal), assembling the document from every entity,
/// sorted, was a fifth of reading the state; the journal changes a few
/// thousand of its 150,000 entities.
pub fn spliced<'a>(doc: &'a str, edits: &Structured<'a>) -> Result<Option<Spliced<'a>>, String> {
    let mut out = Spliced::new(doc);
    let mut scanner = Scanner { text: doc, at: 0 };
    scanner.space();
    if scanner.rewrite(&mut String::new(), 0, edits, &mut out)?.is_none() {
        return Ok(None);
    }
    scanner.space();
    if scanner.at != doc.len() {
        return Err(format!("unexpected text after the document at byte {}", scanner.at));
    }
    let placed = edits.nodes.values().all(|n| n.done.get() || !matches!(n.set, Some(Some(_))));
    Ok(placed.then_some(out))
}

/// A spliced document as its pieces, in order: the bytes of the document
/// it was spliced from, as spans of it, and the rest (the records' values,
/// new keys, punctuation the document does not have there) as text. Text
/// that the document holds right after the span before it (punctuation,
/// or a key or value the same as the document's there) joins that span,
/// so the members no record touches run on into long spans: a busy
/// history's splice is a few thousand pieces.
///
/// So the document can be made in the buffer the original was read into
/// ([`Placed::apply`]) rather than in fresh memory: on the busy history (a
/// run folding 500 events after one that wrote a journal), copying the
/// 9.3 MB snapshot into a new `String` took ~7.9 ms, most of it the first
/// touch of its pages, more than half of the splice (issue 11).
pub struct Spliced<'a> {
    doc: &'a str,
    pieces: Vec<Piece<'a>>,
    /// The document's length.
    len: usize,
    /// The bytes of its text pieces.
    added: usize,
}

#[derive(Clone, Copy, Debug)]
enum Piece<'a> {
    /// `doc[start..end]`.
    Span(usize, usize),
    Text(&'a str),
}

impl<'a> Spliced<'a> {
    fn new(doc: &'a str) -> Spliced<'a> {
        Spliced { doc, pieces: Vec::new(), len: 0, added: 0 }
    }

    fn push(&mut self, text: &'a str) {
        if text.is_empty() {
            return;
        }
        let doc = self.doc;
        let (base, at) = (doc.as_ptr() as usize, text.as_ptr() as usize);
        let span = (at >= base && at + text.len() <= base + doc.len()).then(|| (at - base, at - base + text.len()));
        self.len += text.len();
        match (self.pieces.last_mut(), span) {
            (Some(Piece::Span(_, end)), Some((start, stop))) if *end == start => *end = stop,
            (Some(Piece::Span(_, end)), None) if doc.as_bytes()[*end..].starts_with(text.as_bytes()) => {
                *end += text.len();
            }
            (_, Some((start, stop))) => self.pieces.push(Piece::Span(start, stop)),
            (_, None) => {
                self.added += text.len();
                self.pieces.push(Piece::Text(text));
            }
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    /// The last byte of what was pushed.
    fn last_byte(&self) -> Option<u8> {
        match self.pieces.last()? {
            Piece::Span(_, end) => self.doc.as_bytes().get(end.checked_sub(1)?).copied(),
            Piece::Text(text) => text.as_bytes().last().copied(),
        }
    }

    /// Panics unless the scan of `doc` ([`spliced`]) makes the same text of
    /// `edits` as these pieces, which [`placed`] made: a debug build checks
    /// every placed splice so (as `journal_cut` checks its cut).
    #[cfg(debug_assertions)]
    pub fn assert_scanned(&self, doc: &str, edits: &Structured) {
        let text = |spliced: &Spliced| spliced.placed().into_string(doc.as_bytes()).ok();
        let scanned = spliced(doc, edits).ok().flatten();
        assert_eq!(scanned.as_ref().and_then(text), text(self), "the records' places and the scan differ");
    }

    /// Back to the first `len` bytes: always a length it had, between two
    /// pushes, so a text piece (one push each) goes whole or stays whole,
    /// and only a span that ran on past it is shortened.
    fn truncate(&mut self, len: usize) {
        while self.len > len {
            let excess = self.len - len;
            match self.pieces.last_mut() {
                Some(Piece::Span(start, end)) if *end - *start > excess => {
                    *end -= excess;
                    self.len = len;
                }
                Some(Piece::Span(start, end)) => {
                    self.len -= *end - *start;
                    self.pieces.pop();
                }
                Some(Piece::Text(text)) => {
                    self.len -= text.len();
                    self.added -= text.len();
                    self.pieces.pop();
                }
                None => break,
            }
        }
    }

    /// The pieces with their texts copied out, borrowing nothing: for
    /// [`Placed::apply`] once the document is no longer borrowed.
    pub fn placed(&self) -> Placed {
        let mut added = String::with_capacity(self.added);
        let pieces = self
            .pieces
            .iter()
            .map(|piece| match *piece {
                Piece::Span(start, end) => (true, start, end),
                Piece::Text(text) => {
                    added.push_str(text);
                    (false, added.len() - text.len(), added.len())
                }
            })
            .collect();
        Placed { pieces, added, len: self.len }
    }
}

/// Writes `key:value` as the next member of an object.
fn member<'a>(out: &mut Spliced<'a>, first: &mut bool, key: &'a str, value: &'a str) {
    if !std::mem::take(first) {
        out.push(",");
    }
    out.push(key);
    out.push(":");
    out.push(value);
}

/// Writes `key:{…}`, an object made of the new members at `path` (see
/// [`new_members`]); `false` when they do not fit.
fn new_object<'a>(out: &mut Spliced<'a>, first: &mut bool, key: &'a str, path: &str, edits: &Edits<'a>) -> bool {
    member(out, first, key, "{");
    let mut inner = true;
    let fits = new_members(out, &mut inner, path, edits);
    out.push("}");
    fits
}

/// Writes the new members of the object at `path`: the keys under it the
/// edits set and the document did not hold. `false` when a key is both
/// set and an object holding set values.
fn new_members<'a>(out: &mut Spliced<'a>, first: &mut bool, path: &str, edits: &Edits<'a>) -> bool {
    let Some(kids) = edits.kids.get(path) else { return true };
    for (key, child) in kids {
        let Some(node) = edits.nodes.get(child) else { continue };
        if node.done.get() {
            continue;
        }
        node.done.set(true);
        match (node.set, node.holds) {
            (Some(Some(raw)), false) => member(out, first, key, raw),
            (_, true) if !matches!(node.set, Some(Some(_))) => {
                if !new_object(out, first, key, child, edits) {
                    return false;
                }
            }
            _ => return false,
        }
    }
    true
}

/// Writes the object of the entities that share the first `depth` keys.
fn level(out: &mut String, items: &[(Vec<&str>, &str)], depth: usize) -> Result<(), String> {
    out.push('{');
    let mut i = 0;
    while i < items.len() {
        let Some(key) = items[i].0.get(depth) else { return Err(inconsistent(&items[i].0)) };
        let end = i + items[i..].iter().take_while(|item| item.0.get(depth) == Some(key)).count();
        if i > 0 {
            out.push(',');
        }
        out.push_str(key);
        out.push(':');
        if end == i + 1 && items[i].0.len() == depth + 1 {
            out.push_str(items[i].1);
        } else if items[i].0.len() == depth + 1 {
            return Err(inconsistent(&items[i].0));
        } else {
            level(out, &items[i..end], depth + 1)?;
        }
        i = end;
    }
    out.push('}');
    Ok(())
}

fn inconsistent(path: &[&str]) -> String {
    format!("the entity [{}] is both a value and an object", path.join(","))
}

/// The raw key tokens of a path.
fn segments(path: &str) -> Result<Vec<&str>, String> {
    let mut scanner = Scanner { text: path, at: 0 };
    let mut keys = Vec::new();
    loop {
        let start = scanner.at;
        scanner.string()?;
        keys.push(&path[start..scanner.at]);
        match scanner.byte() {
            None => return Ok(keys),
            Some(b',') => scanner.at += 1,
            Some(_) => return Err(format!("a path is keys joined by commas, not {path}")),
        }
    }
}

struct Scanner<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Scanner<'a> {
    fn byte(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn space(&mut self) {
        while self.byte().is_some_and(|b| b.is_ascii_whitespace()) {
            self.at += 1;
        }
    }

    fn expect(&mut self, wanted: u8) -> Result<(), String> {
        match self.byte() {
            Some(b) if b == wanted => {
                self.at += 1;
                Ok(())
            }
            found => {
                Err(format!("expected `{}` at byte {}, found {:?}", wanted as char, self.at, found.map(char::from)))
            }
        }
    }

    /// An object at `depth`, its entities given to `found` under `path`.
    fn object(
        &mut self,
        path: &mut String,
        depth: usize,
        max: usize,
        found: &mut dyn FnMut(&str, &'a str),
    ) -> Result<(), String> {
        if !self.open_object()? {
            return Ok(());
        }
        let base = path.len();
        loop {
            self.key(path, base)?;
            let start = self.at;
            if self.cut_here(depth, max)? {
                self.object(path, depth + 1, max, found)?;
            } else {
                found(path, &self.text[start..self.at]);
            }
            path.truncate(base);
            if !self.next_member()? {
                return Ok(());
            }
        }
    }

    /// [`spliced`] of the object at `depth` under `path`: whether it holds
    /// any member now, or `None` when an edit does not fit.
    fn rewrite(
        &mut self,
        path: &mut String,
        depth: usize,
        edits: &Edits<'a>,
        out: &mut Spliced<'a>,
    ) -> Result<Option<bool>, String> {
        out.push("{");
        let mut first = true;
        if self.open_object()? {
            let base = path.len();
            loop {
                let key = self.key(path, base)?;
                let start = self.at;
                match edits.nodes.get(path.as_str()) {
                    None => {
                        // Nothing edited at or under it: copied as it is.
                        self.value()?;
                        member(out, &mut first, key, &self.text[start..self.at]);
                    }
                    Some(node) => {
                        node.done.set(true);
                        if !self.rewrite_member(node, key, path, depth, edits, out, &mut first)? {
                            return Ok(None);
                        }
                    }
                }
                path.truncate(base);
                if !self.next_member()? {
                    break;
                }
            }
        }
        if !new_members(out, &mut first, path, edits) {
            return Ok(None);
        }
        out.push("}");
        Ok(Some(!first))
    }

    /// [`spliced`] of the member `key` at `path`, which an edit touches
    /// (`node`): `false` when the edit does not fit.
    #[allow(clippy::too_many_arguments)]
    fn rewrite_member(
        &mut self,
        node: &Node<'a>,
        key: &'a str,
        path: &mut String,
        depth: usize,
        edits: &Edits<'a>,
        out: &mut Spliced<'a>,
        first: &mut bool,
    ) -> Result<bool, String> {
        let start = self.at;
        let cut = self.cut_here(depth, MAX_DEPTH)?;
        match (node.set, node.holds, cut) {
            // A removal of the path of an object cut here changes
            // nothing by itself, as in the entities replayed.
            (None | Some(None), _, true) => {
                let (at, was_first) = (out.len(), *first);
                member(out, first, key, "");
                match self.rewrite(path, depth + 1, edits, out)? {
                    None => return Ok(false),
                    // Every entity under it removed: it goes too, as it
                    // does from the entities replayed.
                    Some(false) => {
                        out.truncate(at);
                        *first = was_first;
                    }
                    Some(true) => {}
                }
            }
            (None, false, false) => member(out, first, key, &self.text[start..self.at]),
            (Some(Some(raw)), false, false) => member(out, first, key, raw),
            (Some(None), false, false) => {}
            // An entity that became an object of entities.
            (Some(None), true, false) => return Ok(new_object(out, first, key, path, edits)),
            (Some(Some(raw)), false, true) => {
                // An object cut here that became one entity: every entity
                // under it must be removed (nothing left to write), else
                // the edits do not fit.
                let mut left = Spliced::new(self.text);
                match self.rewrite(path, depth + 1, edits, &mut left)? {
                    Some(false) => member(out, first, key, raw),
                    _ => return Ok(false),
                }
            }
            // An entity kept or set with entities under it.
            (None | Some(Some(_)), true, _) => return Ok(false),
        }
        Ok(true)
    }

    /// Past the `{` of an object: whether it has members (past its `}`
    /// when it has none).
    fn open_object(&mut self) -> Result<bool, String> {
        self.expect(b'{')?;
        self.space();
        if self.byte() == Some(b'}') {
            self.at += 1;
            return Ok(false);
        }
        Ok(true)
    }

    /// A member's key, added to `path` (cut back to `base` first by the
    /// caller), and its `:`; the key's raw token.
    fn key(&mut self, path: &mut String, base: usize) -> Result<&'a str, String> {
        let key = self.raw_key()?;
        if base > 0 {
            path.push(',');
        }
        path.push_str(key);
        Ok(key)
    }

    /// A member's key (its raw token) and its `:`.
    fn raw_key(&mut self) -> Result<&'a str, String> {
        self.space();
        let start = self.at;
        self.string()?;
        let key = &self.text[start..self.at];
        self.space();
        self.expect(b':')?;
        self.space();
        Ok(key)
    }

    /// Whether the value here is an object to cut into its keys (one at
    /// `depth`, below `max`, longer than [`SPLIT_BYTES`]): then the scanner
    /// stays at its start; otherwise it is past the value, one entity.
    fn cut_here(&mut self, depth: usize, max: usize) -> Result<bool, String> {
        let start = self.at;
        if self.byte() == Some(b'{') && depth + 1 < max {
            // A short object is one entity; a longer one is cut.
            if self.skip(start + SPLIT_BYTES)? {
                return Ok(false);
            }
            self.at = start;
            return Ok(true);
        }
        self.value()?;
        Ok(false)
    }

    /// Past the key of the member `wanted` of the object here, and its
    /// `:`: the offset of the `,` before that member (`None` inside when it
    /// is the first). `None` when there is no object here, or no such
    /// member in it.
    fn find_member(&mut self, wanted: &str) -> Option<Option<usize>> {
        if !self.open_object().ok()? {
            return None;
        }
        let mut comma = None;
        loop {
            if self.raw_key().ok()? == wanted {
                return Some(comma);
            }
            self.value().ok()?;
            self.space();
            comma = Some(self.at);
            if !self.next_member().ok()? {
                return None;
            }
        }
    }

    /// Past the `,` after a member (`true`) or the `}` that ends the
    /// object (`false`).
    fn next_member(&mut self) -> Result<bool, String> {
        self.space();
        match self.byte() {
            Some(b',') => {
                self.at += 1;
                Ok(true)
            }
            Some(b'}') => {
                self.at += 1;
                Ok(false)
            }
            found => Err(format!("expected `,` or `}}` at byte {}, found {:?}", self.at, found.map(char::from))),
        }
    }

    /// A string token, from its opening quote past its closing one.
    fn string(&mut self) -> Result<(), String> {
        self.expect(b'"')?;
        match string_end(self.text.as_bytes(), self.at) {
            Some(end) => {
                self.at = end;
                Ok(())
            }
            None => Err("a string does not end".into()),
        }
    }

    /// Any value, skipped whole.
    fn value(&mut self) -> Result<(), String> {
        self.skip(usize::MAX).map(|_| ())
    }

    /// Skips a value, or stops once past `limit`: whether it ended there
    /// or before.
    fn skip(&mut self, limit: usize) -> Result<bool, String> {
        let bytes = self.text.as_bytes();
        match self.byte() {
            Some(b'"') => self.string().map(|()| self.at <= limit),
            Some(b'{' | b'[') => {
                // A local position, not the field: the loop keeps it in a
                // register (the scanner was a tenth of a busy run).
                let (mut depth, mut at) = (0usize, self.at);
                while let Some(&b) = bytes.get(at) {
                    if at > limit {
                        self.at = at;
                        return Ok(false);
                    }
                    match b {
                        b'"' => {
                            at = string_end(bytes, at + 1).ok_or("a string does not end")?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.at = at + 1;
                                return Ok(self.at <= limit);
                            }
                        }
                        _ => {
                            at = structural_from(bytes, at + 1);
                            continue;
                        }
                    }
                    at += 1;
                }
                Err("an object or array does not end".into())
            }
            Some(_) => {
                let start = self.at;
                while self.byte().is_some_and(|b| !matches!(b, b',' | b'}' | b']') && !b.is_ascii_whitespace()) {
                    self.at += 1;
                }
                match self.at > start {
                    true => Ok(self.at <= limit),
                    false => Err(format!("expected a value at byte {start}")),
                }
            }
            None => Err("the document ends before a value".into()),
        }
    }
}

/// Past the closing quote of the string whose contents begin at `at`.
///
/// Eight bytes at a time while no quote or backslash is among them: most
/// of the state's bytes are inside strings (ids, names, instants), and
/// this loop, a byte at a time, was most of the scanner's share of a busy
/// run (the state is cut at every load and every save).
fn string_end(bytes: &[u8], mut at: usize) -> Option<usize> {
    loop {
        while let Some(chunk) = bytes.get(at..at + 8) {
            let word = u64::from_le_bytes(chunk.try_into().ok()?);
            let stops = holds(word, b'"') | holds(word, b'\\');
            if stops != 0 {
                // The lowest flag is exact (a false one only follows a true one).
                at += (stops.trailing_zeros() / 8) as usize;
                break;
            }
            at += 8;
        }
        let &b = bytes.get(at)?;
        at += 1;
        match b {
            b'"' => return Some(at),
            b'\\' => at += 1,
            _ => {}
        }
    }
}

/// The first byte from `at` on that a skip over an object or array stops
/// at (a quote or a bracket), or the end of `bytes`.
///
/// Eight bytes at a time, as [`string_end`] reads strings: between the
/// strings of the engine state are mostly numbers, its instants 13 digits
/// each (`time::in_state_form`), which the skip read a byte at a time
/// (profiled on the busy history, the splice's scan of the snapshot was
/// ~130 samples of the load's thread at 15 kHz, issue 11, thirtieth pass).
/// `{` and `[` differ only in the bit `0x20`, as `}` and `]` do, and no
/// other byte with that bit set is either.
fn structural_from(bytes: &[u8], mut at: usize) -> usize {
    const CASE: u64 = 0x2020_2020_2020_2020;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let stops = holds(word, b'"') | holds(word | CASE, b'{') | holds(word | CASE, b'}');
        if stops != 0 {
            // Each flag's lowest is exact, so the lowest of all three is.
            return at + (stops.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    while bytes.get(at).is_some_and(|b| !matches!(b, b'"' | b'{' | b'[' | b'}' | b']')) {
        at += 1;
    }
    at
}

/// The high bit of each byte of `word` that equals `b` (and perhaps of
/// bytes above such a one).
fn holds(word: u64, b: u8) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let x = word ^ (ONES * u64::from(b));
    x.wrapping_sub(ONES) & !x & (ONES << 7)
}

#[cfg(test)]
#[path = "journal_entities_tests.rs"]
mod tests;
