//! The engine state read in two halves at once: the finished entries and
//! the ids that left the hot view (`finished`, the [`Tail`]) on one thread,
//! every other field on another. The shell runs the two
//! (`store::checkpoint`); this module only says what each half is.
//!
//! Profiled on the busy 1,000,000-event history (a run folding 1,000
//! events), parsing the ~12 MB state was ~40 % of the run's samples, one
//! field after another on one thread, while the second core had finished
//! hashing the state's entities and waited. `finished` (4.6 of the 12 MB,
//! most of it the minutes of ids that left, `finished_gone.rs`) was the
//! last third of that parse. With `alerts` in the tail as well, the tail
//! was the longer half (the timeline of one run: the tail ended ~35 % after
//! the rest), so it holds `finished` alone.
//!
//! How: [`Engine`]'s `Deserialize` is the derived one; only its `finished`
//! field goes through [`tail_field`], which skips the value (reads over it,
//! checking it is JSON, building nothing) while the calling thread is
//! inside [`without_tail`]. So a whole document parses as before
//! everywhere else (tests, checkpoints of format 3), and the two halves of
//! one document are the fields of the whole, parsed by the same code.

use std::cell::Cell;

use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};

use super::{Engine, finished};

thread_local! {
    /// Set while this thread parses the half without the tail.
    static TAIL_SKIPPED: Cell<bool> = const { Cell::new(false) };
}

/// `finished` of [`Engine`]: parsed, or skipped inside [`without_tail`]
/// (its default, replaced by [`Engine::with_tail`]).
pub(super) fn tail_field<'de, D: Deserializer<'de>>(field: D) -> Result<finished::Finished, D::Error> {
    match TAIL_SKIPPED.get() {
        true => IgnoredAny::deserialize(field).map(|_| finished::Finished::default()),
        false => finished::Finished::deserialize(field),
    }
}

/// Runs `parse` (of a document holding an [`Engine`]) with the engine's
/// tail skipped: what it gives lacks the tail until [`Engine::with_tail`].
pub fn without_tail<T>(parse: impl FnOnce() -> T) -> T {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            TAIL_SKIPPED.set(self.0);
        }
    }
    let _reset = Reset(TAIL_SKIPPED.replace(true));
    parse()
}

/// The other half: the field [`without_tail`] skips, read from the same
/// engine object (every other field of it is skipped). Absent, it is
/// empty, as in [`Engine`] (checkpoints from before the bound).
#[derive(Debug, Default, Deserialize)]
pub struct Tail {
    #[serde(default)]
    finished: finished::Finished,
}

impl Engine {
    /// The engine of [`without_tail`] with its tail, parsed beside it.
    pub fn with_tail(mut self, tail: Tail) -> Engine {
        self.finished = tail.finished;
        self
    }
}
