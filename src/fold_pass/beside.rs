//! The work after the fold, on two threads: this one stages the history
//! and writes the world while a second serialises the outbox lines and
//! the engine state (issue 11, fifth pass), and writes the engine state's
//! files, which no checkpoint names until the pass commits them (sixth
//! pass). Every other file is written by the pass's own thread, in the
//! same order as before.

use crate::store::checkpoint::{CheckpointError, RenderedState};
use crate::store::outbox;

use super::PassError;

/// What [`beside`] made on its second thread.
pub(super) struct Rendered {
    pub(super) outbox: Result<outbox::Rendered, outbox::OutboxError>,
    /// `None` when the pass saves no checkpoint.
    pub(super) state: Option<Result<RenderedState, CheckpointError>>,
}

/// Runs `first` then `then` (given what `first` gave) on this thread, and
/// meanwhile `outbox` then `state` on a second one: after the fold, on a
/// busy rebuild, this thread stages the history (tens of MB of lines,
/// written and synced) and writes the world, while the outbox lines and
/// the engine state, which only need the folded engine, are serialised
/// beside it; the reading thread is done by then, so a second core is
/// idle (perf, issue 11). What `state` writes on the second thread is
/// uncommitted until the pass commits it (`RenderedState::write`).
///
/// The second thread starts once `first` returned, which frees the history
/// lines: the lines (~47 MB on a busy rebuild, while the engine is whole)
/// are not held with the outbox and the engine state, ~26 MB (made while
/// the lines were staged, they raised the peak by 17 MiB; row 5 of issue
/// 11). When `first` fails, nothing is made there (the error is returned,
/// as before). Where no thread can be started, `outbox` and `state` run
/// here after `then`.
pub(super) fn beside<S, T>(
    first: impl FnOnce() -> Result<S, PassError>,
    then: impl FnOnce(S) -> Result<T, PassError>,
    outbox: impl FnOnce() -> Result<outbox::Rendered, outbox::OutboxError> + Send,
    state: impl FnOnce() -> Option<Result<RenderedState, CheckpointError>> + Send,
) -> Result<(T, Rendered), PassError> {
    // Taken by the second thread, or here when it cannot be started.
    let jobs = std::sync::Mutex::new(Some((outbox, state)));
    let jobs = &jobs;
    let take = move || jobs.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
    std::thread::scope(|scope| {
        let (staged, wait) = std::sync::mpsc::sync_channel::<()>(1);
        let side = std::thread::Builder::new().name("observer-render".into()).spawn_scoped(scope, move || {
            let (outbox, state) = take()?;
            // A closed channel without a message: this thread's side failed,
            // and what is made here is not written.
            wait.recv().ok()?;
            Some(Rendered { outbox: outbox(), state: state() })
        });
        let Ok(side) = side else {
            let made = then(first()?)?;
            let (outbox, state) = take().expect("the jobs of a thread that never started");
            return Ok((made, Rendered { outbox: outbox(), state: state() }));
        };
        let made = first().and_then(|first| {
            let _ = staged.send(());
            then(first)
        });
        drop(staged);
        let rendered = side.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        let made = made?;
        Ok((made, rendered.expect("the second thread makes what it took once told to")))
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::fold_pass::create_dir;
    use crate::store::outbox::OutboxMark;

    fn rendered(made: &AtomicBool) -> Result<outbox::Rendered, outbox::OutboxError> {
        made.store(true, Ordering::SeqCst);
        outbox::Rendered::new(&[], &OutboxMark::default())
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
