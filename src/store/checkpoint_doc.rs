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
pub(super) fn parse_body(doc: &str) -> Result<Body, serde_json::Error> {
    if let Some(body) = parse_split(doc) {
        return Ok(body);
    }
    let (body, tail) = crate::threads::both(
        "observer-state",
        || crate::engine::headless(|| serde_json::from_str::<Body>(doc)),
        || serde_json::from_str::<TailBody>(doc),
    );
    Ok(body?.with_tail(tail?.engine, |body| &mut body.engine))
}

/// The state document cut before its engine's tail, for [`parse_split`]:
/// the engine without it.
#[derive(Deserialize)]
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
/// Where the tail begins is found by skipping the members before it as the
/// entity scanner does (`journal_entities::member_start`); this thread then
/// parses a copy of what comes before, closed, while the second parses the
/// tail and the members after the engine where they are. Profiled on the busy history
/// (a run folding 1,000 events), each half of [`parse_body`] otherwise
/// spent a fifth to a quarter of its time reading over the other's bytes
/// (~90 and ~110 samples at 15 kHz of the 5 MB before the tail and the
/// 7 MB of it). `None` when the document is not so, or either half does not
/// parse: [`parse_body`] then reads it as before, and tells what is wrong.
pub(super) fn parse_split(doc: &str) -> Option<Body> {
    if !doc.starts_with(r#"{"engine":"#) {
        return None;
    }
    let at = crate::store::journal_entities::member_start(doc, "\"engine\"", "\"alerts\"")?;
    let (head, tail) = crate::threads::both(
        "observer-state",
        || {
            let mut head = String::with_capacity(at + 2);
            head.push_str(&doc[..at]);
            head.push_str("}}");
            let parsed = crate::engine::tailless(|| serde_json::from_str::<HeadBody>(&head)).ok();
            // Its 5 MB (the busy history's) were ~8 samples of this thread
            // to give back, at the end of the head half; a small one is
            // not worth a thread.
            if head.capacity() >= 1 << 20 {
                crate::threads::drop_beside(head);
            }
            parsed
        },
        || {
            let (tail, after) = crate::engine::tail_from(&doc[at..])?;
            // `,"rejects":…}`: the document's members after the engine.
            let after = after.strip_prefix(',')?;
            let mut members = String::with_capacity(after.len() + 1);
            members.push('{');
            members.push_str(after);
            let after = serde_json::from_str::<AfterEngine>(&members).ok().filter(|after| !after.engine)?;
            Some((tail, after))
        },
    );
    let ((tail, after), head) = (tail?, head?);
    let head = head.with_tail(tail, |head| &mut head.engine);
    Some(Body { engine: head.engine, rejects: after.rejects, last_folded: after.last_folded })
}
