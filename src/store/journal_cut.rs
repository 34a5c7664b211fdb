//! The engine state serialised and cut into its entities at once: the
//! cut of [`journal_entities::visit`] (same paths, same values, same order),
//! recorded by the JSON writer as it writes each object, instead of found
//! by a scan of the finished document.
//!
//! Profiled on the busy 1,000,000-event history (a run folding 1,000
//! events, `perf` with frame pointers over 6 runs), the diff of the state
//! against what was read (`store::journal::diff`) was ~11 ms of the state's
//! thread, most of it the scanner's walk of the 9.3 MB document to find
//! where each entity begins and ends (`Scanner::object`), twice the time of
//! the serialisation that had just written those bytes. The writer knows
//! where every object, key and value begins and ends as it writes them, so
//! the cut costs a few comparisons per object member here.
//!
//! How: a [`serde_json::ser::Formatter`] writes compact JSON (its default
//! methods, the bytes of `serde_json::to_writer`) through a writer that
//! counts them, and follows the objects that can be cut (every object from
//! the document down to [`MAX_DEPTH`], outside any array). Whether an object
//! is cut depends on its length (more than [`SPLIT_BYTES`]), known once it
//! has grown past that or ended: its members are held until then, and
//! written out as entities when it is cut, or dropped when it ends short
//! (it is then one entity of the object it is in). An object longer than
//! [`SPLIT_BYTES`] is inside objects that are longer still, so an object
//! found to be cut has every object around it cut too: they are cut first,
//! which keeps the entities in document order.
//!
//! A raw value (`RawValue`, written as its text) is not looked into: the
//! state's raw values are arrays (the ids that left the hot view, by
//! minute, `engine/finished_gone.rs`), which the scanner does not cut
//! either. A raw object where an object could be cut, or calls the writer
//! does not pair (an end without its beginning), give no cut: the scanner
//! cuts the document then, as it did before.

use std::cell::Cell;
use std::io;

use serde::Serialize;
use serde_json::ser::Formatter;

use super::journal_entities::{MAX_DEPTH, SPLIT_BYTES};

/// The entities of a document [`serialize`] wrote, as offsets into it.
///
/// Kept small: each entity is the path of the object it is in (shared by
/// every entity of that object), its key and its value, as 32-bit offsets.
/// A run on the busy history records ~30,500 entities; a key per entity
/// and level of its path, in `usize` pairs, raised the run's peak memory
/// by ~8 MB.
#[derive(Debug, Default)]
pub struct Cut {
    entities: Vec<Found>,
    /// The paths of the objects cut, each its parent's path and its key.
    paths: Vec<Path>,
}

#[derive(Debug)]
struct Found {
    /// The path of the object it is in ([`Cut::paths`]); none for the
    /// document's own members.
    path: Option<u32>,
    key: Span,
    value: Span,
}

#[derive(Debug)]
struct Path {
    parent: Option<u32>,
    key: Span,
}

type Span = (u32, u32);

impl Cut {
    /// Calls `found` with each entity of `doc` (its path, its raw value), in
    /// document order, as [`journal_entities::visit`] does: `doc` is the
    /// text [`serialize`] wrote when it made this cut.
    pub fn visit<'a>(&self, doc: &'a str, mut found: impl FnMut(&str, &'a str)) {
        let text = |(start, end): Span| &doc[start as usize..end as usize];
        let (mut path, mut keys) = (String::new(), Vec::new());
        for entity in &self.entities {
            keys.clear();
            let mut at = entity.path;
            while let Some(index) = at {
                let outer = &self.paths[index as usize];
                keys.push(outer.key);
                at = outer.parent;
            }
            path.clear();
            for &key in keys.iter().rev() {
                path.push_str(text(key));
                path.push(',');
            }
            path.push_str(text(entity.key));
            found(&path, text(entity.value));
        }
    }

    /// Checks that this cut of `doc` is the scanner's
    /// ([`journal_entities::split`]), naming the first entity where they
    /// part: debug builds at every save (`journal::diff`), and the tests.
    /// Gives the entities' paths.
    #[cfg(any(test, debug_assertions))]
    pub fn assert_scanned(&self, doc: &str) -> Vec<String> {
        let mut recorded = Vec::new();
        self.visit(doc, |path, raw| recorded.push((path.to_string(), raw)));
        let scanned = super::journal_entities::split(doc).expect("the state as written is JSON the scanner follows");
        let parted = recorded.iter().zip(&scanned).position(|(a, b)| a != b);
        let brief = |entity: Option<&(String, &str)>| {
            entity.map(|(path, raw)| (path.clone(), raw.chars().take(80).collect::<String>()))
        };
        assert!(
            parted.is_none() && recorded.len() == scanned.len(),
            "the recorded cut ({} entities) is not the scanner's ({}): at entity {:?}, {:?} against {:?}",
            recorded.len(),
            scanned.len(),
            parted,
            brief(parted.and_then(|n| recorded.get(n))),
            brief(parted.and_then(|n| scanned.get(n))),
        );
        recorded.into_iter().map(|(path, _)| path).collect()
    }
}

/// A recorded offset: [`serialize`] gives no cut when one does not fit.
fn span((start, end): (usize, usize)) -> Span {
    (start as u32, end as u32)
}

/// Writes `value` as compact JSON at the end of `out` (the bytes of
/// `serde_json::to_writer`), and the cut of what it wrote (`None` when the
/// document is 4 GiB or longer, which the cut's offsets cannot hold, or
/// when the cut cannot be followed, see the module: the scanner then cuts
/// it): `value` is a JSON object, and `out` was empty. `entities`: about
/// how many it holds (the state read before), so that the record is made
/// at its size at once.
pub fn serialize<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
    entities: usize,
) -> serde_json::Result<Option<Cut>> {
    let at = Cell::new(out.len());
    let writer = Counted { out, at: &at };
    let cut = Cut { entities: Vec::with_capacity(entities + entities / 16), paths: Vec::new() };
    let mut cutter = Cutter { at: &at, frames: Vec::new(), opaque: 0, pending: Vec::new(), cut, lost: false };
    value.serialize(&mut serde_json::Serializer::with_formatter(writer, &mut cutter))?;
    Ok((u32::try_from(at.get()).is_ok() && !cutter.lost).then_some(cutter.cut))
}

/// A writer that tells how many bytes are in `out`, after each write.
struct Counted<'a> {
    out: &'a mut Vec<u8>,
    at: &'a Cell<usize>,
}

impl io::Write for Counted<'_> {
    #[inline]
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.out.extend_from_slice(bytes);
        self.at.set(self.out.len());
        Ok(bytes.len())
    }

    #[inline]
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write(bytes).map(drop)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// An object being written that could be cut.
struct Frame {
    /// Where its `{` is. Its depth is its place in [`Cutter::frames`].
    start: usize,
    /// Known to be cut (the document always is).
    cut: bool,
    /// The key of the member being written.
    key: (usize, usize),
    /// Where that member's value begins.
    value_start: usize,
    /// That member's value is an object that was cut.
    value_cut: bool,
    /// Where its members held in [`Cutter::pending`] begin.
    pending_from: usize,
    /// Its path in [`Cut::paths`], once an entity in it was found.
    path: Option<u32>,
}

/// A member written, whose object is not known to be cut yet.
struct Member {
    key: (usize, usize),
    value: (usize, usize),
}

struct Cutter<'a> {
    at: &'a Cell<usize>,
    /// The objects being written that could be cut, outermost first.
    frames: Vec<Frame>,
    /// How deep the writer is in arrays and objects that are never cut.
    opaque: usize,
    /// The members of the objects not known to be cut, each object's after
    /// those of the objects around it.
    pending: Vec<Member>,
    cut: Cut,
    /// The cut cannot be followed (see the module): none is given.
    lost: bool,
}

impl Cutter<'_> {
    /// The member `key: value` of the object `frame` (which is cut) is an
    /// entity. Offsets past 4 GiB wrap, and [`serialize`] then gives no cut.
    fn found(&mut self, frame: usize, key: (usize, usize), value: (usize, usize)) {
        let path = self.path_of(frame);
        self.cut.entities.push(Found { path, key: span(key), value: span(value) });
    }

    /// The path of the object `frame`, made at its first entity (the
    /// document's is empty).
    fn path_of(&mut self, frame: usize) -> Option<u32> {
        if frame == 0 {
            return None;
        }
        if self.frames[frame].path.is_none() {
            let parent = self.path_of(frame - 1);
            let key = span(self.frames[frame - 1].key);
            self.cut.paths.push(Path { parent, key });
            self.frames[frame].path = Some((self.cut.paths.len() - 1) as u32);
        }
        self.frames[frame].path
    }

    /// The object `frame` is cut, and so is every object around it: the
    /// members each held are entities, outermost first.
    fn cut_at(&mut self, frame: usize) {
        let first = self.frames[..=frame].iter().position(|f| !f.cut).unwrap_or(frame + 1);
        for index in first..=frame {
            self.frames[index].cut = true;
            let end = self.frames.get(index + 1).map_or(self.pending.len(), |inner| inner.pending_from);
            for held in self.frames[index].pending_from..end {
                let Member { key, value } = self.pending[held];
                self.found(index, key, value);
            }
        }
    }
}

impl Formatter for &mut Cutter<'_> {
    #[inline]
    fn begin_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        let start = self.at.get();
        writer.write_all(b"{")?;
        if self.opaque > 0 {
            self.opaque += 1;
            return Ok(());
        }
        // Its depth: the objects around it. An object is cut only below
        // the deepest (`Scanner::cut_here`).
        let depth = self.frames.len();
        if depth >= MAX_DEPTH {
            self.opaque = 1;
            return Ok(());
        }
        self.frames.push(Frame {
            start,
            cut: depth == 0,
            key: (start, start),
            value_start: start,
            value_cut: false,
            pending_from: self.pending.len(),
            path: None,
        });
        Ok(())
    }

    #[inline]
    fn end_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b"}")?;
        if self.opaque > 0 {
            self.opaque -= 1;
            return Ok(());
        }
        let Some(last) = self.frames.len().checked_sub(1) else {
            self.lost = true;
            return Ok(());
        };
        let frame = &self.frames[last];
        let cut = frame.cut || self.at.get() - frame.start > SPLIT_BYTES;
        if cut {
            self.cut_at(last);
        }
        let frame = self.frames.pop().expect("an object was begun");
        self.pending.truncate(frame.pending_from);
        if let Some(outer) = self.frames.last_mut() {
            outer.value_cut = cut;
        }
        Ok(())
    }

    #[inline]
    fn begin_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.opaque += 1;
        writer.write_all(b"[")
    }

    #[inline]
    fn end_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        match self.opaque.checked_sub(1) {
            Some(opaque) => self.opaque = opaque,
            None => self.lost = true,
        }
        writer.write_all(b"]")
    }

    fn write_raw_fragment<W: ?Sized + io::Write>(&mut self, writer: &mut W, fragment: &str) -> io::Result<()> {
        if self.opaque == 0 && (self.frames.is_empty() || fragment.trim_start().starts_with('{')) {
            self.lost = true;
        }
        writer.write_all(fragment.as_bytes())
    }

    #[inline]
    fn begin_object_key<W: ?Sized + io::Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        if !first {
            writer.write_all(b",")?;
        }
        if self.opaque == 0
            && let Some(frame) = self.frames.last_mut()
        {
            let at = self.at.get();
            frame.key = (at, at);
            frame.value_cut = false;
        }
        Ok(())
    }

    #[inline]
    fn end_object_key<W: ?Sized + io::Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        if self.opaque == 0
            && let Some(frame) = self.frames.last_mut()
        {
            frame.key.1 = self.at.get();
        }
        Ok(())
    }

    #[inline]
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b":")?;
        if self.opaque == 0
            && let Some(frame) = self.frames.last_mut()
        {
            frame.value_start = self.at.get();
        }
        Ok(())
    }

    #[inline]
    fn end_object_value<W: ?Sized + io::Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        if self.opaque > 0 || self.frames.is_empty() {
            return Ok(());
        }
        let last = self.frames.len() - 1;
        let at = self.at.get();
        let frame = &self.frames[last];
        let member = Member { key: frame.key, value: (frame.value_start, at) };
        match (frame.value_cut, frame.cut) {
            // Its entities are written already.
            (true, _) => {}
            (false, true) => self.found(last, member.key, member.value),
            (false, false) => {
                let long = at - frame.start > SPLIT_BYTES;
                self.pending.push(member);
                if long {
                    self.cut_at(last);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "journal_cut_tests.rs"]
mod tests;
