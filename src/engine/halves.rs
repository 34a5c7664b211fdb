//! The engine state read in two halves at once: the alerts, the finished
//! entries and the ids that left the hot view (`alerts` and `finished`, the
//! [`Tail`]) on one thread, every other field on another. The shell runs
//! the two (`store/checkpoint_doc.rs`); this module only says what each half is.
//!
//! Profiled on the busy 1,000,000-event history (a run folding 1,000
//! events), parsing the ~12 MB state was ~40 % of the run's samples, one
//! field after another on one thread, while the second core had finished
//! hashing the state's entities and waited. `finished` (4.6 of the 12 MB,
//! most of it the minutes of ids that left, `finished_gone.rs`) was the
//! last third of that parse. With `alerts` (2.5 MB) in the tail as well,
//! the tail was then the longer half (the timeline of one run: it ended
//! ~35 % after the rest), so it held `finished` alone. Once the entities'
//! hashes were read from the file written beside the snapshot instead of
//! being found by a third thread that shared the two cores with the halves
//! (`store::journal`, twelfth pass), the rest was the longer half: the
//! samples of the rest were deployments 123, alerts 116, the duplicate
//! window 77, incidents 69 and skipping the tail 44, against 229 for
//! `finished` and 85 for skipping the rest. With `alerts` moved to the
//! tail, the run was 0.94x and 0.92x the wall time of the tail of
//! `finished` alone (medians of two sets of 25 alternated runs); the
//! duplicate window moved instead was 0.98x, and `alerts` 0.96x of that
//! (30 alternated pairs).
//!
//! How: [`Engine`]'s `Deserialize` is the derived one; only its `alerts`
//! and `finished` fields go through [`tail_field`], which skips the value
//! (reads over it, checking it is JSON, building nothing) while the calling
//! thread is inside [`headless`]. So a whole document parses as before
//! everywhere else (tests, checkpoints of format 3), and the two halves of
//! one document are the fields of the whole, parsed by the same code. What
//! [`headless`] gives is usable only through [`Headless::with_tail`]: a
//! default `finished` would pass for the state of a version before the
//! bound, which the first pass rebuilds from the entries, forgetting the
//! ids that left, and default `alerts` for one before alerting.
//!
//! Where the document is as the engine's own `Serialize` writes it, the
//! shell finds where the tail begins and gives each half only its own
//! bytes ([`tail_from`] reads the tail; thirteenth pass): skipping the other
//! half's bytes was ~90 and ~110 samples of the two threads'. The head is
//! then parsed inside [`tailless`], where a tail field among the others is
//! an error (a second one, as in a whole parse); any other document is
//! parsed in two halves that read over each other, as above.
//!
//! A thread-local mode (parse, skip, refuse), not state of the fold: it
//! changes how a document is read, never what the engine does with its
//! inputs.

use std::cell::Cell;

use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};

use super::{Engine, alerts::AlertState, finished::Finished};

/// What this thread's parse of an [`Engine`] does with a field of its tail.
#[derive(Clone, Copy)]
enum TailMode {
    Parse,
    /// Inside [`headless`].
    Skip,
    /// Inside [`tailless`].
    Refuse,
}

thread_local! {
    static TAIL_MODE: Cell<TailMode> = const { Cell::new(TailMode::Parse) };
}

/// A field of the tail of [`Engine`] (`alerts`, `finished`): parsed;
/// skipped inside [`headless`] (its default, which [`Headless::with_tail`]
/// replaces); an error inside [`tailless`].
pub(super) fn tail_field<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(field: D) -> Result<T, D::Error> {
    match TAIL_MODE.get() {
        TailMode::Parse => T::deserialize(field),
        TailMode::Skip => IgnoredAny::deserialize(field).map(|_| T::default()),
        TailMode::Refuse => Err(serde::de::Error::custom("a field of the engine's tail before the tail")),
    }
}

/// What `parse` gave of a document holding an [`Engine`], its tail
/// skipped or absent: to be completed by [`Headless::with_tail`].
pub(crate) struct Headless<T>(T);

/// Runs `parse` (of a document holding an [`Engine`]) with the engine's
/// tail skipped on this thread.
pub(crate) fn headless<T, E>(parse: impl FnOnce() -> Result<T, E>) -> Result<Headless<T>, E> {
    in_mode(TailMode::Skip, parse)
}

/// Runs `parse` of a document holding an [`Engine`] cut before its tail
/// (the split parse of `store/checkpoint_doc.rs`, which reads the tail apart):
/// a field of the tail in it would be a second one, and is an error, as
/// it is in a whole parse.
pub(crate) fn tailless<T, E>(parse: impl FnOnce() -> Result<T, E>) -> Result<Headless<T>, E> {
    in_mode(TailMode::Refuse, parse)
}

fn in_mode<T, E>(mode: TailMode, parse: impl FnOnce() -> Result<T, E>) -> Result<Headless<T>, E> {
    struct Reset(TailMode);
    impl Drop for Reset {
        fn drop(&mut self) {
            TAIL_MODE.set(self.0);
        }
    }
    let _reset = Reset(TAIL_MODE.replace(mode));
    parse().map(Headless)
}

impl<T> Headless<T> {
    /// The document with its engine's tail (`engine_of` finds the engine).
    pub(crate) fn with_tail(mut self, tail: Tail, engine_of: impl FnOnce(&mut T) -> &mut Engine) -> T {
        let engine = engine_of(&mut self.0);
        engine.alerts = tail.alerts;
        engine.finished = tail.finished;
        self.0
    }
}

/// The other half: the fields [`headless`] skips, read from the same
/// engine object (every other field of it is skipped). Absent, each is
/// empty, as in [`Engine`] (checkpoints from before alerting, or before the
/// bound).
#[derive(Deserialize)]
pub(crate) struct Tail {
    #[serde(default)]
    alerts: AlertState,
    #[serde(default)]
    finished: Finished,
}

/// The tail as the end of a state document written by the engine's own
/// `Serialize` (the fields in their order, nothing between them): `text`
/// is what follows `,"alerts":`, that is `…,"finished":…}` and what follows
/// the engine object (the caller has checked the key, and may have changed
/// the bytes before it). The tail, and the text after the engine's `}`;
/// `None` when `text` is not that (the caller then reads the document as a
/// whole, which tells what is wrong with it). For the shell's parse of a
/// document split where the tail begins (`store/checkpoint_doc.rs`): each
/// half then reads only its own bytes.
pub(crate) fn tail_from(text: &str) -> Option<(Tail, &str)> {
    let (alerts, text) = value(text)?;
    let (finished, text) = value(text.strip_prefix(",\"finished\":")?)?;
    Some((Tail { alerts, finished }, text.strip_prefix('}')?))
}

/// The value at the start of `text`, and the text after it.
fn value<'a, T: Deserialize<'a>>(text: &'a str) -> Option<(T, &'a str)> {
    let mut values = serde_json::Deserializer::from_str(text).into_iter::<T>();
    let value = values.next()?.ok()?;
    Some((value, &text[values.byte_offset()..]))
}
