//! The engine state document (`state/engine/`, the body of a checkpoint of
//! format 3): its shape, `{"engine":{…},"rejects":[…]}`, written whole by
//! [`BodyRef`], and read by [`parse_body`] in two halves at once, the
//! engine's tail (`alerts` and `finished`, `engine::halves`) on a second
//! thread.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::engine::{Engine, OrderKey};
use crate::store::events::Reject;

/// The state document as it is written.
#[derive(Serialize)]
pub(super) struct BodyRef<'a> {
    pub(super) engine: &'a Engine,
    pub(super) rejects: &'a VecDeque<Reject>,
}

/// The state document (the body of format 3).
#[derive(Deserialize)]
pub(super) struct Body {
    pub(super) engine: Engine,
    pub(super) rejects: VecDeque<Reject>,
    /// Where observer 0.1.0 kept the engine's order key.
    #[serde(default)]
    pub(super) last_folded: Option<OrderKey>,
}

/// The engine under `engine`, for the half of [`parse_body`] that reads
/// its tail.
#[derive(Deserialize)]
struct TailBody {
    engine: crate::engine::Tail,
}

/// A state document, its engine's tail (`alerts` and `finished`) parsed on
/// a second thread while this one parses the rest (`engine::halves`); each
/// from its own bytes when the document is as this version writes it
/// ([`parse_split`]), else each reading over the other's. The two halves,
/// each reading over the other's bytes, were 0.92-0.94x the wall time of
/// one parse on the busy history's run that folds 1,000 events (medians of
/// 10 and 16 alternated pairs, with `finished` alone in the tail). An
/// error of the first half is told before one of the tail; both give their
/// place in `doc`.
pub(super) fn parse_body(doc: &mut String) -> Result<Body, serde_json::Error> {
    if let Some(body) = parse_split(doc) {
        return Ok(body);
    }
    let doc = doc.as_str();
    let (body, tail) = crate::threads::both(
        || crate::engine::headless(|| serde_json::from_str::<Body>(doc)),
        || serde_json::from_str::<TailBody>(doc),
    );
    Ok(body?.with_tail(tail?.engine, |body| &mut body.engine))
}

/// The state document cut before its engine's tail, for [`parse_split`]:
/// the engine without it. Nothing else: the document begins with the
/// engine, so a member beside it here means the cut is not in the engine
/// ([`tail_start`]).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HeadBody {
    engine: Engine,
}

/// The members of the state document after the engine. A second `engine`
/// among them is refused, as a whole parse refuses it.
#[derive(Deserialize)]
struct AfterEngine {
    rejects: VecDeque<Reject>,
    #[serde(default)]
    last_folded: Option<OrderKey>,
    /// Any value, `null` too, makes it a second one.
    #[serde(default, deserialize_with = "present")]
    engine: bool,
}

/// `true` for any value: the member is there.
fn present<'de, D: serde::Deserializer<'de>>(value: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(value).map(|_| true)
}

/// [`parse_body`] with each half reading only its own bytes, when the
/// document is as this version writes it: the engine first, its tail
/// (`alerts` and `finished`, `engine::halves`) last in it. What a whole
/// parse refuses, this refuses too: a tail field among the others
/// (`engine::tailless`), a second `engine` or `rejects` after the first.
/// Where the tail begins is found by its text ([`tail_start`]). The `,"` before
/// the tail's first key is made `}}` for the time of the parse, which
/// closes what comes before it in place: this thread parses that, while
/// the second parses the tail, from its first value on, and the members
/// after the engine where they are; the two bytes are put back before
/// this returns, whatever the halves gave, and on a panic of either
/// ([`Closed`]). Profiled on the busy history
/// (a run folding 1,000 events), each half of [`parse_body`] otherwise
/// spent a fifth to a quarter of its time reading over the other's bytes
/// (~90 and ~110 samples at 15 kHz of the 5 MB before the tail and the
/// 7 MB of it); a closed copy of the 5 MB before the tail (thirteenth
/// pass) then took this thread 2-6 ms (its fresh pages) before its parse
/// could start. `None` when the document is not so, or either half does
/// not parse: [`parse_body`] then reads it as before, and tells what is
/// wrong.
pub(super) fn parse_split(doc: &mut String) -> Option<Body> {
    if !doc.starts_with(r#"{"engine":"#) {
        return None;
    }
    let at = tail_start(doc)?;
    if !doc[at..].starts_with(TAIL_KEY) {
        return None;
    }
    let closed = Closed::at(doc, at);
    let text = closed.doc.as_str();
    let (head, tail) = crate::threads::both(
        || crate::engine::tailless(|| serde_json::from_str::<HeadBody>(&text[..at + 2])).ok(),
        || {
            let (tail, after) = crate::engine::tail_from(&text[at + TAIL_KEY.len()..])?;
            // `,"rejects":…}`: the document's members after the engine.
            let after = after.strip_prefix(',')?;
            let mut members = String::with_capacity(after.len() + 1);
            members.push('{');
            members.push_str(after);
            let after = serde_json::from_str::<AfterEngine>(&members).ok().filter(|after| !after.engine)?;
            Some((tail, after))
        },
    );
    drop(closed);
    let ((tail, after), head) = (tail?, head?);
    let head = head.with_tail(tail, |head| &mut head.engine);
    Some(Body { engine: head.engine, rejects: after.rejects, last_folded: after.last_folded })
}

/// The key the engine's tail begins with, after the member before it.
const TAIL_KEY: &str = ",\"alerts\":";

/// [`TAIL_KEY`] and the first key of the alert state after it, as the
/// engine's `Serialize` writes them.
const TAIL_TEXT: &str = ",\"alerts\":{\"alerts\":";

/// Where the engine's tail begins in `doc`: the first [`TAIL_TEXT`], found
/// by a vectorised search, or, when there is none, by skipping the
/// engine's members before it (`journal_entities::member_start`).
/// Profiled on the busy history (a run folding 1,000 events, timed inside
/// the binary), the members' skip over the ~5 MB before the tail was
/// ~2.4 ms of the pass's thread before either half of the parse could
/// start; the search takes a fraction of that.
///
/// The text found is always where the engine's tail begins, or the halves
/// fail and [`parse_body`] reads the document whole: in JSON, a `"` after a
/// `,` opens a string (inside one a quote is escaped, and a closing quote
/// is never followed by a letter), and a string followed by `:` is a key.
/// So the text is a key `alerts` whose value is an object with the key
/// `alerts` first. If that key is not a member of the engine, the `}}`
/// that closes the part before the tail ([`Closed`]) closes the wrong
/// objects and the first half does not parse: deeper in the engine, the
/// part is left open; in a member of the document after the engine, that
/// member is in the part, beside the engine, which [`HeadBody`] refuses.
/// If it is a member of the engine, it is the engine's one `alerts` (an
/// earlier one is refused by `engine::tailless`). No key the engine writes
/// before its tail holds such an object.
fn tail_start(doc: &str) -> Option<usize> {
    memchr::memmem::find(doc.as_bytes(), TAIL_TEXT.as_bytes())
        .or_else(|| crate::store::journal_entities::member_start(doc, "\"engine\"", "\"alerts\""))
}

/// A state document whose part before the engine's tail is closed in
/// place: the `,"` of [`TAIL_KEY`] made `}}` until this is dropped, which
/// puts them back, on a panic of either half too.
struct Closed<'a> {
    doc: &'a mut String,
    at: usize,
}

impl<'a> Closed<'a> {
    /// `doc`, where [`TAIL_KEY`] is at `at`.
    fn at(doc: &'a mut String, at: usize) -> Closed<'a> {
        doc.replace_range(at..at + 2, "}}");
        Closed { doc, at }
    }
}

impl Drop for Closed<'_> {
    fn drop(&mut self) {
        self.doc.replace_range(self.at..self.at + 2, &TAIL_KEY[..2]);
    }
}
