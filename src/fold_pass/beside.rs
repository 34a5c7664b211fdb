//! The work after the fold, three pieces at once: this thread stages the
//! history and writes the world while the workers (`crate::threads`)
//! serialise the outbox lines and the engine state, each a job of its own
//! (issue 11, fifth pass; one thread for both before the sixth), and write
//! the engine state's files, which no checkpoint names until the pass
//! commits them (sixth pass). Every other file is written by the pass's own
//! thread, in the same order as before.

use crate::store::checkpoint::{CheckpointError, RenderedState};
use crate::store::outbox;

use super::PassError;

/// What [`beside`] made on its other threads.
pub(super) struct Rendered {
    pub(super) outbox: Result<outbox::Rendered, outbox::OutboxError>,
    /// `None` when the pass saves no checkpoint.
    pub(super) state: Option<Result<RenderedState, CheckpointError>>,
}

/// Runs `first` then `then` (given what `first` gave) on this thread, and
/// meanwhile `outbox` and `state` on the workers (`crate::threads`): after
/// the fold, on a busy rebuild, this thread stages the history and writes
/// the world, while the outbox lines and the engine state, which only need
/// the folded engine, are serialised beside it; the reading thread is done
/// by then. One thread did both one after the other until the sixth pass
/// of issue 11, and this thread waited ~90 ms for it after writing the
/// world (perf, busy rebuild: outbox ~35 ms, then the state ~45 ms and its
/// snapshot ~30 ms). What `state` writes is uncommitted until the pass
/// commits it (`RenderedState::write`).
///
/// The other two start once `first` returned, which frees the history
/// lines not yet written: they are not held with the outbox and the
/// engine state (~26 MB on a busy rebuild; made while the lines were
/// staged, they raised the peak by 17 MiB; row 5 of issue 11). When
/// `first` fails, nothing is made there (the error is returned, as
/// before). Without workers, both are made here after `then`.
/// Until the twenty-seventh pass they were two threads started before
/// `first` and told to go after it; a thread started then had often not
/// run yet when told (see `crate::threads`).
pub(super) fn beside<S, T>(
    first: impl FnOnce() -> Result<S, PassError>,
    then: impl FnOnce(S) -> Result<T, PassError>,
    outbox: impl FnOnce() -> Result<outbox::Rendered, outbox::OutboxError> + Send,
    state: impl FnOnce() -> Option<Result<RenderedState, CheckpointError>> + Send,
) -> Result<(T, Rendered), PassError> {
    let (mut outbox_made, mut state_made) = (None, None);
    let made = crate::threads::scope(|side| {
        let first = first()?;
        side.spawn(|| outbox_made = Some(outbox()));
        side.spawn(|| state_made = Some(state()));
        then(first)
    })?;
    let made_there = "a job started beside is done when its scope ends";
    let rendered = Rendered { outbox: outbox_made.expect(made_there), state: state_made.expect(made_there) };
    Ok((made, rendered))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::fold_pass::create_dir;
    use crate::store::outbox::OutboxMark;

    fn rendered(made: &AtomicBool) -> Result<outbox::Rendered, outbox::OutboxError> {
        made.store(true, Ordering::SeqCst);
        outbox::Rendered::new(&[], &OutboxMark::default())
    }

    #[test]
    fn the_outbox_and_the_state_are_made_on_the_workers() {
        let name = || std::thread::current().name().map(str::to_string);
        let (outbox_thread, state_thread) = (Mutex::new(None), Mutex::new(None));
        let (made, _) = beside(
            || Ok(1),
            |one| Ok(one + 1),
            || {
                *outbox_thread.lock().unwrap() = name();
                outbox::Rendered::new(&[], &OutboxMark::default())
            },
            || {
                *state_thread.lock().unwrap() = name();
                None
            },
        )
        .unwrap();
        assert_eq!(made, 2);
        let on_a_worker = |name: Option<String>| name.is_some_and(|name| name.starts_with("observer-worker-"));
        assert!(on_a_worker(outbox_thread.into_inner().unwrap()), "the outbox");
        assert!(on_a_worker(state_thread.into_inner().unwrap()), "the state");
    }

    #[test]
    fn beside_gives_what_both_threads_made_and_nothing_of_the_second_after_a_failure_of_the_first() {
        let (outbox_made, state_made) = (AtomicBool::new(false), AtomicBool::new(false));
        let (made, side) = beside(
            || Ok(2),
            |two| Ok(two * 3),
            || rendered(&outbox_made),
            || {
                state_made.store(true, Ordering::SeqCst);
                None
            },
        )
        .unwrap();
        assert_eq!(made, 6);
        assert!(side.outbox.is_ok() && side.state.is_none());
        assert!(outbox_made.load(Ordering::SeqCst) && state_made.load(Ordering::SeqCst));

        let (outbox_made, state_made) = (AtomicBool::new(false), AtomicBool::new(false));
        // Not a directory: the world cannot be made under it.
        let file = tempfile::NamedTempFile::new().unwrap();
        let failed = beside(
            || -> Result<u32, PassError> {
                create_dir(&file.path().join("world"), "the world directory")?;
                Ok(1)
            },
            |_| -> Result<u32, PassError> { panic!("`then` runs only after `first`") },
            || rendered(&outbox_made),
            || {
                state_made.store(true, Ordering::SeqCst);
                None
            },
        );
        assert!(matches!(failed, Err(PassError::Directory(_))));
        assert!(!outbox_made.load(Ordering::SeqCst) && !state_made.load(Ordering::SeqCst), "nothing made in vain");
    }
}
