//! Work beside the calling thread, for the IO shell's passes where a
//! second core would otherwise wait: two pieces at once ([`both`]: listing
//! `events/` while the checkpoint is read, reading or replaying the index
//! of the state's entities while it is parsed, hashing history lines while
//! they are written), work started beside a thread and waited for at the
//! end of a scope ([`scope`]: the outbox and the engine state serialised
//! while the world is written) or later ([`start_beside`]: each world
//! file's sync), and
//! freeing what a pass made once it is done ([`drop_beside`]), or leaving
//! it to the end of the process ([`leave`]).
//!
//! The work goes to a few workers started once, with the process
//! ([`start`]), not to a thread started for it (issue 11, twenty-seventh
//! pass). On this project's machine (a Firecracker VM whose kernel packs
//! new threads onto the core of the thread that started them), a new
//! thread first ran 1.5 to 4 ms after it was started while its parent
//! kept its core busy, and sometimes only once the parent waited for it:
//! each `both` of a pass lost that much of its second core. A worker
//! parked in the pool is woken in 2 to 15 µs (timed in a scratch program,
//! 20 tries each). The pool is `rayon`'s, whose scopes let the work borrow
//! from the caller's stack as `std::thread::scope` did, which this crate,
//! free of `unsafe`, could not give a pool of its own.

use std::sync::OnceLock;

/// The workers; `None` when none could be started (the work then runs on
/// the calling thread, one piece after the other).
static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();

/// Eight, more than the machines observer runs on have cores: a pass asks
/// for two pieces beside its own at most, each of which may ask for one
/// more (the state's parse in halves beside the read of its index; the
/// engine state's snapshot beside the index of its entities), and while
/// the world is written each file's sync waits in the kernel on a worker
/// of its own, as it did on a thread of its own. Parked workers cost no
/// time.
const WORKERS: usize = 8;

/// Starts the workers, so that they are parked and ready by the time a
/// pass asks for them (`main` calls it first): a worker started on demand
/// would cost the first piece the wait above.
pub fn start() {
    let _ = pool();
}

fn pool() -> Option<&'static rayon::ThreadPool> {
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(WORKERS)
            .thread_name(|n| format!("observer-worker-{n}"))
            .build()
            .ok()
    })
    .as_ref()
}

/// Runs `here` on this thread while `there` runs on a worker, and gives
/// both results. Without workers, `there` runs here after `here`; a panic
/// of either goes on here once both are done.
pub fn both<A, B: Send>(here: impl FnOnce() -> A, there: impl FnOnce() -> B + Send) -> (A, B) {
    if pool().is_none() {
        let a = here();
        return (a, there());
    }
    let mut b = None;
    let a = scope(|side| {
        side.spawn(|| b = Some(there()));
        here()
    });
    (a, b.expect("the scope ends once the work beside is done"))
}

/// Runs `op` on this thread with a [`Side`] that starts work on the
/// workers, and returns once that work is done too (a panic there goes on
/// here).
pub fn scope<'scope, R>(op: impl FnOnce(&Side<'_, 'scope>) -> R) -> R {
    match pool() {
        Some(pool) => pool.in_place_scope(|scope| op(&Side(Some(scope)))),
        None => op(&Side(None)),
    }
}

/// Starts work beside the thread of a [`scope`].
pub struct Side<'a, 'scope>(Option<&'a rayon::Scope<'scope>>);

impl<'scope> Side<'_, 'scope> {
    /// Starts `job` on a worker; without workers, runs it here at once.
    pub fn spawn(&self, job: impl FnOnce() + Send + 'scope) {
        match self.0 {
            Some(scope) => scope.spawn(|_| job()),
            None => job(),
        }
    }
}

/// Starts `job` on a worker, to be waited for with [`Beside::wait`]
/// whenever the caller needs it; `None` when there are no workers.
pub fn start_beside<T: Send + 'static>(job: impl FnOnce() -> T + Send + 'static) -> Option<Beside<T>> {
    let pool = pool()?;
    let (done, wait) = std::sync::mpsc::sync_channel(1);
    pool.spawn(move || {
        let _ = done.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)));
    });
    Some(Beside(wait))
}

/// What [`start_beside`] started.
pub struct Beside<T>(std::sync::mpsc::Receiver<std::thread::Result<T>>);

impl<T> Beside<T> {
    /// What the job made, once it is done (a panic there goes on here).
    pub fn wait(self) -> T {
        match self.0.recv() {
            Ok(made) => made.unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Err(_) => unreachable!("a job sends what it made, or its panic, before it ends"),
        }
    }
}

/// Drops `value` on a thread of its own, named `observer-free`: what a pass
/// made of a busy history (its engine, ~100 MB in small allocations; a
/// rebuild's 34,000 notifications) took the command tens of ms to free
/// before it could end (perf, issue 11). The process may end before that
/// thread does, which frees nothing more than the end of the process does.
/// With no thread to be had, it is dropped here.
pub fn drop_beside<T: Send + 'static>(value: T) {
    // A failed spawn drops the closure, and `value` with it, here.
    let _ = std::thread::Builder::new().name("observer-free".into()).spawn(move || drop(value));
}

/// Leaves `value` to the end of the process, which gives back every page
/// it holds at once: for what a command made that it holds until it ends
/// (the last pass's state, `fold_pass::Afterwards::Leave`; a rebuild's
/// report). Never for a process that goes on (`watch`): what it leaves is
/// never freed.
pub fn leave<T>(value: T) {
    std::mem::forget(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_pieces_run_once_and_give_their_results() {
        let name = || std::thread::current().name().map(str::to_string);
        let caller = name();
        let (a, b) = both(|| (2 + 2, name()), name);
        assert_eq!(a, (4, caller), "the first piece runs on the calling thread");
        assert!(b.is_some_and(|b| b.starts_with("observer-worker-")), "the second piece runs on a worker");
    }

    #[test]
    fn work_started_beside_is_done_by_a_worker_and_waited_for() {
        let name = || std::thread::current().name().map(str::to_string);
        let mut made = Vec::new();
        let mine = scope(|side| {
            side.spawn(|| made.push(name()));
            7
        });
        assert_eq!(mine, 7);
        assert!(made[0].as_deref().is_some_and(|n| n.starts_with("observer-worker-")), "{made:?}");
        let later = start_beside(name).expect("workers");
        assert!(later.wait().is_some_and(|n| n.starts_with("observer-worker-")));
        let panicked = std::panic::catch_unwind(|| start_beside(|| panic!("in the job")).expect("workers").wait());
        assert!(panicked.is_err(), "a job's panic goes on where it is waited for");
    }

    #[test]
    fn a_value_left_to_the_end_of_the_process_is_never_dropped() {
        let (tell, told) = std::sync::mpsc::channel::<()>();
        leave(tell);
        let waited = told.recv_timeout(std::time::Duration::from_millis(100));
        assert_eq!(waited, Err(std::sync::mpsc::RecvTimeoutError::Timeout), "its sender is still there");
    }

    #[test]
    fn a_value_dropped_beside_is_dropped_once_on_its_own_thread() {
        struct Told(std::sync::mpsc::Sender<Option<String>>);
        impl Drop for Told {
            fn drop(&mut self) {
                let _ = self.0.send(std::thread::current().name().map(str::to_string));
            }
        }
        let (tell, told) = std::sync::mpsc::channel();
        drop_beside(Told(tell));
        assert_eq!(told.recv().unwrap().as_deref(), Some("observer-free"));
        assert!(told.recv().is_err(), "dropped once");
    }

    #[test]
    fn a_panic_beside_goes_on_here() {
        let caught = std::panic::catch_unwind(|| both(|| 1, || -> u32 { panic!("beside") }));
        assert!(caught.is_err());
    }
}
