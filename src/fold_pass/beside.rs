//! The work after the fold, pieces at once: this thread writes the world
//! while the workers (`crate::threads`) serialise the outbox lines and the
//! engine state, each a job of its own (issue 11, fifth pass; one thread
//! for both before the sixth), and write the engine state's files, which no
//! checkpoint names until the pass commits them (sixth pass). The history
//! is staged first on this thread, or, when its lines are few, on a worker
//! of its own while the world is written (twenty-eighth pass). Every other
//! file is written by the pass's own thread, in the same order as before.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::mpsc;

use crate::store::checkpoint::{CheckpointError, RenderedState};
use crate::store::outbox;

use super::PassError;

/// What [`beside`] made on its other threads.
pub(super) struct Rendered {
    pub(super) outbox: Result<outbox::Rendered, outbox::OutboxError>,
    /// `None` when the pass saves no checkpoint.
    pub(super) state: Option<Result<RenderedState, CheckpointError>>,
}

/// History lines still to write up to this many bytes are staged beside
/// the world (`at_once`): a run's are a few tens of KB on a busy lab; a
/// rebuild writes most of its lines while it folds (`history::Early`),
/// and what is left of them is staged beside too when it is this small.
/// Held while the outbox and the state are made, tens of MB of them
/// raised a rebuild's peak (row 5 of issue 11).
pub(super) const AT_ONCE_BYTES: usize = 1 << 20;

/// What `first` gave, or how it panicked.
type Made<S> = std::thread::Result<Result<S, PassError>>;

/// What `first` gave, for `then` to wait for where it needs it.
pub(super) struct Staging<S>(Stage<S>);

enum Stage<S> {
    /// Being made on a worker.
    Coming(mpsc::Receiver<Made<S>>),
    /// Made (on this thread, or waited for).
    Here(S),
    /// `first` failed, and its error was given to a [`Staging::wait`].
    Told,
}

impl<S> Staging<S> {
    /// Waits until `first` is done (at once when it ran here; a panic on
    /// the worker goes on here, as it was). Its error is given once, to the
    /// first call; any later call is `Ok`.
    pub(super) fn wait(&mut self) -> Result<(), PassError> {
        let Stage::Coming(made) = &self.0 else { return Ok(()) };
        match made.recv() {
            Ok(Ok(Ok(made))) => {
                self.0 = Stage::Here(made);
                Ok(())
            }
            Ok(Ok(Err(error))) => {
                self.0 = Stage::Told;
                Err(error)
            }
            Ok(Err(panic)) => resume_unwind(panic),
            // The worker sends before it ends, whatever `first` did.
            Err(mpsc::RecvError) => unreachable!("the job beside ended without a word"),
        }
    }

    /// What `first` gave, once it is done. Not after its error was given
    /// to [`wait`](Self::wait): `then` returns that error instead.
    pub(super) fn take(mut self) -> Result<S, PassError> {
        self.wait()?;
        match self.0 {
            Stage::Here(made) => Ok(made),
            _ => unreachable!("what `first` gave is taken after its error was returned"),
        }
    }
}

/// With `at_once` and workers to run it: `first` on a worker of its own,
/// `outbox` and `state` on others, and `then` here at once, given the
/// [`Staging`] to wait for `first` where it must. On a busy run (a few
/// tens of KB of history lines) the history's stage was ~1.0 to 1.4 ms
/// before the world could start, most of it waiting for three
/// `fdatasync`s (issue 11, twenty-eighth pass, a build printing its
/// steps). `then` makes nothing current that follows `first`'s lines
/// before it has waited for them (`fold_pass`: the world's generation is
/// made current only then, SPEC §4). When `first` fails, the outbox and
/// the state were made for nothing: the state's files stay uncommitted
/// (no checkpoint names them, and the next commit removes them).
///
/// Else runs `first` then `then` (given what `first` gave) on this thread, and
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
pub(super) fn beside<S: Send, T>(
    at_once: bool,
    first: impl FnOnce() -> Result<S, PassError> + Send,
    then: impl FnOnce(Staging<S>) -> Result<T, PassError>,
    outbox: impl FnOnce() -> Result<outbox::Rendered, outbox::OutboxError> + Send,
    state: impl FnOnce() -> Option<Result<RenderedState, CheckpointError>> + Send,
) -> Result<(T, Rendered), PassError> {
    let (mut outbox_made, mut state_made) = (None, None);
    let made = crate::threads::scope(|side| {
        let staging = if at_once && side.has_workers() {
            let (sent, made) = mpsc::sync_channel(1);
            side.spawn(move || {
                // Sent whatever `first` did, a panic too: `then` waits for
                // it. It may have stopped waiting (an error of its own).
                let _ = sent.send(catch_unwind(AssertUnwindSafe(first)));
            });
            Staging(Stage::Coming(made))
        } else {
            Staging(Stage::Here(first()?))
        };
        side.spawn(|| outbox_made = Some(outbox()));
        side.spawn(|| state_made = Some(state()));
        then(staging)
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

    /// A directory that cannot be made: the error of a `first` that fails.
    fn an_error() -> PassError {
        let file = tempfile::NamedTempFile::new().unwrap();
        create_dir(&file.path().join("world"), "the world directory").unwrap_err()
    }

    fn rendered(made: &AtomicBool) -> Result<outbox::Rendered, outbox::OutboxError> {
        made.store(true, Ordering::SeqCst);
        outbox::Rendered::new(&[], &OutboxMark::default())
    }

    #[test]
    fn the_outbox_and_the_state_are_made_on_the_workers() {
        let name = || std::thread::current().name().map(str::to_string);
        let (outbox_thread, state_thread) = (Mutex::new(None), Mutex::new(None));
        let (made, _) = beside(
            false,
            || Ok(1),
            |one| Ok(one.take()? + 1),
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
            false,
            || Ok(2),
            |two| Ok(two.take()? * 3),
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
            false,
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
    #[test]
    fn at_once_first_runs_on_a_worker_while_then_runs_and_then_waits_for_it() {
        let (started, go) = std::sync::mpsc::channel::<()>();
        let first_thread = Mutex::new(None);
        let thread_of_first = &first_thread;
        let (made, side) = beside(
            true,
            move || {
                *thread_of_first.lock().unwrap() = std::thread::current().name().map(str::to_string);
                // Only `then`, running meanwhile, lets it go on: one after
                // the other, this would wait the whole timeout and fail.
                go.recv_timeout(std::time::Duration::from_secs(30)).map_err(|_| an_error())?;
                Ok(5)
            },
            |five| {
                started.send(()).unwrap();
                Ok(five.take()? * 2)
            },
            || outbox::Rendered::new(&[], &OutboxMark::default()),
            || None,
        )
        .unwrap();
        assert_eq!(made, 10);
        assert!(side.outbox.is_ok() && side.state.is_none());
        let on_a_worker = first_thread.into_inner().unwrap().is_some_and(|name| name.starts_with("observer-worker-"));
        assert!(on_a_worker, "`first` ran on a worker");

        // Its error is what `then` gets where it waits.
        let failed = beside(
            true,
            || -> Result<u32, PassError> { Err(an_error()) },
            |staged| staged.take(),
            || outbox::Rendered::new(&[], &OutboxMark::default()),
            || None,
        );
        assert!(matches!(failed, Err(PassError::Directory(_))));
    }

    #[test]
    fn at_once_a_panic_of_first_goes_on_where_then_waits_with_its_own_message() {
        let panicked = std::panic::catch_unwind(|| {
            beside(
                true,
                || -> Result<u32, PassError> { panic!("the stage broke") },
                |staged| staged.take(),
                || outbox::Rendered::new(&[], &OutboxMark::default()),
                || None,
            )
        });
        let Err(payload) = panicked else { panic!("the panic goes on") };
        let message = payload.downcast_ref::<&str>().copied().unwrap_or_default();
        assert_eq!(message, "the stage broke");
    }
}
