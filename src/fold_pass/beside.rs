//! The work after the fold, on three threads: this one stages the history
//! and writes the world while a second serialises the outbox lines and a
//! third the engine state (issue 11, fifth pass; one thread for both
//! before the sixth), and writes the engine state's files, which no
//! checkpoint names until the pass commits them (sixth pass). Every other
//! file is written by the pass's own thread, in the same order as before.

use std::sync::mpsc::{Receiver, sync_channel};
use std::sync::{Mutex, PoisonError};
use std::thread::{Scope, ScopedJoinHandle};

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
/// meanwhile `outbox` on a second thread and `state` on a third: after the
/// fold, on a busy rebuild, this thread stages the history and writes the
/// world, while the outbox lines and the engine state, which only need the
/// folded engine, are serialised beside it; the reading thread is done by
/// then. One thread did both one after the other until the sixth pass of
/// issue 11, and this thread waited ~90 ms for it after writing the world
/// (perf, busy rebuild: outbox ~35 ms, then the state ~45 ms and its
/// snapshot ~30 ms). What `state` writes is uncommitted until the pass
/// commits it (`RenderedState::write`).
///
/// The other threads start once `first` returned, which frees the history
/// lines not yet written: they are not held with the outbox and the
/// engine state (~26 MB on a busy rebuild; made while the lines were
/// staged, they raised the peak by 17 MiB; row 5 of issue 11). When
/// `first` fails, nothing is made there (the error is returned, as
/// before). A job whose thread cannot be started runs here after `then`.
pub(super) fn beside<S, T>(
    first: impl FnOnce() -> Result<S, PassError>,
    then: impl FnOnce(S) -> Result<T, PassError>,
    outbox: impl FnOnce() -> Result<outbox::Rendered, outbox::OutboxError> + Send,
    state: impl FnOnce() -> Option<Result<RenderedState, CheckpointError>> + Send,
) -> Result<(T, Rendered), PassError> {
    // Each job is taken by its thread, or here when none was started.
    let (outbox_job, state_job) = (Mutex::new(Some(outbox)), Mutex::new(Some(state)));
    std::thread::scope(|scope| {
        let (outbox_go, outbox_wait) = sync_channel::<()>(1);
        let (state_go, state_wait) = sync_channel::<()>(1);
        let outbox_side = waiting(scope, "observer-outbox", &outbox_job, outbox_wait);
        let state_side = waiting(scope, "observer-render", &state_job, state_wait);
        let made = first().and_then(|first| {
            let _ = outbox_go.send(());
            let _ = state_go.send(());
            then(first)
        });
        // Closed without a message: that thread makes nothing.
        drop((outbox_go, state_go));
        let outbox = joined(outbox_side);
        let state = joined(state_side);
        let made = made?;
        let outbox = outbox.unwrap_or_else(|| here(&outbox_job));
        let state = state.unwrap_or_else(|| here(&state_job));
        Ok((made, Rendered { outbox, state }))
    })
}

/// A thread that takes `job` and runs it once told to; `None` when no
/// thread could be started (the job is then still there to take).
fn waiting<'scope, R: Send + 'scope, F: FnOnce() -> R + Send + 'scope>(
    scope: &'scope Scope<'scope, '_>,
    name: &str,
    job: &'scope Mutex<Option<F>>,
    wait: Receiver<()>,
) -> Option<ScopedJoinHandle<'scope, Option<R>>> {
    let thread = std::thread::Builder::new().name(name.into()).spawn_scoped(scope, move || {
        let job = job.lock().unwrap_or_else(PoisonError::into_inner).take()?;
        // A closed channel without a message: the pass failed, and what
        // would be made here would not be written.
        wait.recv().ok()?;
        Some(job())
    });
    thread.ok()
}

/// What the thread made, once it ends (a panic there goes on here); `None`
/// when it made nothing or never started.
fn joined<R>(thread: Option<ScopedJoinHandle<'_, Option<R>>>) -> Option<R> {
    thread?.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Runs here a job no thread took.
fn here<R>(job: &Mutex<Option<impl FnOnce() -> R>>) -> R {
    let job = job.lock().unwrap_or_else(PoisonError::into_inner).take();
    job.expect("a job that no thread ran is still here")()
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
    fn the_outbox_and_the_state_are_made_each_on_a_thread_of_its_own() {
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
        assert_eq!(outbox_thread.into_inner().unwrap().as_deref(), Some("observer-outbox"));
        assert_eq!(state_thread.into_inner().unwrap().as_deref(), Some("observer-render"));
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
