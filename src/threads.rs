//! Work beside the calling thread, for the IO shell's passes where a
//! second core would otherwise wait: two pieces at once ([`both`]: listing
//! `events/` while the checkpoint is read, reading the index of the
//! state's entities while it is parsed, hashing history lines while they
//! are written), work started beside a thread and waited for at the end of
//! a scope ([`scope`]: the outbox and the engine state serialised while the
//! world is written), work started now and waited for later, anywhere
//! ([`later`]: the entities' index filed while the events are folded), and
//! freeing what a pass made once it is done ([`drop_beside`]), or leaving
//! it to the end of the process ([`leave`]).
//!
//! The work goes to a few workers started once, with the process
//! ([`start`]), not to a thread started for it (issue 11, twenty-seventh
//! pass). On this project's machine (a Firecracker VM whose kernel packs
//! new threads onto the core of the thread that started them), a new
//! thread first ran 1.5 to 4 ms after it was started while its parent
//! kept its core busy, and sometimes only once the parent waited for it:
//! each `both` of a pass lost that much of its second core. A thread
//! already parked on the other core ran 2 to 15 µs after it was unparked,
//! and a job given to this pool from a busy thread started after 40 to
//! 110 µs in most tries, 1 to 3 ms when a worker had just finished a job
//! and was still looking for another where the kernel had put it (timed in
//! scratch programs, 15 to 20 tries each). The pool is `rayon`'s, whose
//! scopes let the work borrow from the caller's stack as
//! `std::thread::scope` did, which this crate, free of `unsafe`, could not
//! give a pool of its own.
//!
//! Only work that is waited for goes to the workers (a run's history
//! lines staged beside the world are: the world waits for them before it
//! is made current). The fold's reading thread, the threads a fold feeds
//! ([`Fed`]: the stager of what left the hot view, `fold_pass::left`, and
//! the writer of a rebuild's outbox, `fold_pass::decided`), each world
//! file's sync and the free after a pass stay threads of their own: long-lived,
//! or not always waited for (a sync that hangs in the kernel, on a dead
//! network mount say, must not hold a worker the next pass needs).

use std::cell::RefCell;
use std::sync::OnceLock;

/// The workers; `None` when none could be started (the work then runs on
/// the calling thread, one piece after the other).
static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();

/// Four: a pass asks for three pieces beside its own at most (the history
/// staged, the outbox and the state beside the world), and a piece may ask
/// for one more (the state's parse in halves beside the read of its index;
/// the engine state's snapshot beside the index of its entities, which
/// asks for one more, the second part of the engine's index of the ids
/// that left; the history's lines hashed beside their write; a file's
/// halves read at once); a worker that waits for a piece runs others
/// meanwhile, so more pieces than workers only queue.
/// Parked workers cost no time.
const WORKERS: usize = 4;

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
/// both results. Without workers, `there` runs here after `here` (as a
/// [`scope`]'s work does); a panic of either goes on here once both are
/// done.
pub fn both<A, B: Send>(here: impl FnOnce() -> A, there: impl FnOnce() -> B + Send) -> (A, B) {
    let mut b = None;
    let a = scope(|side| {
        side.spawn(|| b = Some(there()));
        here()
    });
    (a, b.expect("the scope ends once the work beside is done"))
}

/// Runs `op` on this thread with a [`Side`] that starts work on the
/// workers, and returns once that work is done too (a panic there goes on
/// here). Without workers, the work runs here once `op` returned.
pub fn scope<'scope, R>(op: impl FnOnce(&Side<'_, 'scope>) -> R) -> R {
    match pool() {
        Some(pool) => pool.in_place_scope(|scope| op(&Side::Workers(scope))),
        None => {
            let side = Side::Here(RefCell::new(Vec::new()));
            let made = op(&side);
            if let Side::Here(later) = side {
                later.into_inner().into_iter().for_each(|job| job());
            }
            made
        }
    }
}

/// Starts work beside the thread of a [`scope`].
pub enum Side<'a, 'scope> {
    Workers(&'a rayon::Scope<'scope>),
    /// No workers: the jobs, to run once the scope's own work is done.
    Here(RefCell<Vec<Box<dyn FnOnce() + Send + 'scope>>>),
}

impl<'scope> Side<'_, 'scope> {
    /// Whether the work started here runs beside the scope's own: a scope's
    /// work that waits for it may do so only then.
    pub fn has_workers(&self) -> bool {
        matches!(self, Side::Workers(_))
    }

    /// Starts `job` on a worker (without workers, it runs once the scope's
    /// own work is done).
    pub fn spawn(&self, job: impl FnOnce() + Send + 'scope) {
        match self {
            Side::Workers(scope) => scope.spawn(|_| job()),
            Side::Here(later) => later.borrow_mut().push(Box::new(job)),
        }
    }
}

/// Starts `job` on a worker, for its result to be waited for later
/// ([`Later::wait`]), by this thread or another: the work the next save of
/// the engine state needs, made while the events are folded (the second
/// core is idle then; `store::journal`). Without workers, it runs when it
/// is waited for. Work that no one ends up waiting for (a pass that fails
/// before its save) still runs to its end on its worker.
pub fn later<T: Send + 'static>(job: impl FnOnce() -> T + Send + 'static) -> Later<T> {
    match pool() {
        Some(pool) => {
            let (made, taken) = std::sync::mpsc::sync_channel(1);
            pool.spawn(move || {
                let _ = made.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)));
            });
            Later::Started(taken)
        }
        None => Later::Here(Box::new(job)),
    }
}

/// Work started by [`later`].
pub enum Later<T> {
    Started(std::sync::mpsc::Receiver<std::thread::Result<T>>),
    Here(Box<dyn FnOnce() -> T + Send>),
}

impl<T> Later<T> {
    /// The work's result, once it is done (a panic there goes on here).
    pub fn wait(self) -> T {
        match self {
            Later::Started(taken) => match taken.recv() {
                Ok(Ok(made)) => made,
                Ok(Err(panic)) => std::panic::resume_unwind(panic),
                Err(std::sync::mpsc::RecvError) => panic!("a worker dropped the work it was given"),
            },
            Later::Here(job) => job(),
        }
    }
}

impl<T> std::fmt::Debug for Later<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Later::Started(_) => "Later::Started",
            Later::Here(_) => "Later::Here",
        })
    }
}

/// A thread of its own, fed batches while the caller goes on: the fold's
/// stager of what left the hot view (`fold_pass::left`) and the writer of
/// a rebuild's outbox (`fold_pass::decided`). At most `in_flight` batches
/// wait besides the one it works on (the caller waits rather than hold
/// more); each comes back once done, to be freed on the thread that made
/// it ([`Fed::free_done`]), as soon as it is back (peak memory). Its state
/// comes back at [`Fed::stop`], where a panic of the thread goes on.
/// Not on the workers: it lives as long as the fold, which would hold one
/// of them all that time.
pub struct Fed<T, S> {
    batches: std::sync::mpsc::SyncSender<T>,
    done: std::sync::mpsc::Receiver<T>,
    /// Batches sent and not yet back.
    out: usize,
    thread: std::thread::JoinHandle<S>,
}

impl<T: Send + 'static, S: Send + 'static> Fed<T, S> {
    /// Starts the thread, named `name`, which gives each batch to `each`
    /// with `state`. `None` when no thread can be started (`state` is then
    /// gone with it).
    pub fn start(
        name: &str,
        in_flight: usize,
        mut state: S,
        mut each: impl FnMut(&mut S, &T) + Send + 'static,
    ) -> Option<Fed<T, S>> {
        let (batches, receiver) = std::sync::mpsc::sync_channel::<T>(in_flight);
        let (back, done) = std::sync::mpsc::channel::<T>();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                for batch in receiver {
                    each(&mut state, &batch);
                    // The caller has stopped when this fails: freed here.
                    let _ = back.send(batch);
                }
                state
            })
            .ok()?;
        Some(Fed { batches, done, out: 0, thread })
    }

    /// Hands `batch` to the thread, waiting while `in_flight` others wait.
    pub fn send(&mut self, batch: T) {
        // A send fails only when the thread is gone, which is a panic:
        // `stop` passes it on.
        let _ = self.batches.send(batch);
        self.out += 1;
    }

    /// Frees a batch that came back, if one did: called after each event
    /// of a fold, so the channel is asked only while a batch is out.
    pub fn free_done(&mut self) {
        if self.out > 0
            && let Ok(batch) = self.done.try_recv()
        {
            self.out -= 1;
            drop(batch);
        }
    }

    /// The state, once every batch sent is done. A panic of the thread
    /// goes on here.
    pub fn stop(self) -> S {
        drop(self.batches);
        self.thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
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
    fn work_started_for_later_runs_on_a_worker_and_its_result_or_panic_comes_to_who_waits() {
        let name = || std::thread::current().name().map(str::to_string);
        let started = later(move || (6 * 7, name()));
        // Waited for on another thread than the one that started it.
        let (made, ran_on) = std::thread::spawn(move || started.wait()).join().unwrap();
        assert_eq!(made, 42);
        assert!(ran_on.is_some_and(|n| n.starts_with("observer-worker-")), "it runs on a worker");
        let failing = later(|| -> u8 { panic!("the work failed") });
        let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| failing.wait())).unwrap_err();
        assert_eq!(panic.downcast_ref::<&str>(), Some(&"the work failed"));
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
        let panicked = std::panic::catch_unwind(|| scope(|side| side.spawn(|| panic!("in the job"))));
        assert!(panicked.is_err(), "a job's panic goes on here once the scope's work is done");
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
    fn a_fed_thread_takes_the_batches_in_order_sends_each_back_and_gives_its_state_or_panic() {
        let each = |seen: &mut Vec<(u32, Option<String>)>, batch: &Vec<u32>| {
            let name = std::thread::current().name().map(str::to_string);
            seen.extend(batch.iter().map(|n| (*n, name.clone())));
        };
        let mut fed = Fed::start("observer-fed", 1, Vec::new(), each).expect("a thread");
        let mut back = 0;
        for k in 0..50u32 {
            fed.send(vec![2 * k, 2 * k + 1]);
            let out = fed.out;
            fed.free_done();
            back += out - fed.out;
            assert!(fed.out <= 3, "at most the one worked on, one waiting and one not yet freed");
        }
        while fed.out > 0 {
            let out = fed.out;
            fed.free_done();
            back += out - fed.out;
        }
        assert_eq!(back, 50, "every batch came back");
        let seen = fed.stop();
        assert_eq!(seen.iter().map(|(n, _)| *n).collect::<Vec<_>>(), (0..100).collect::<Vec<_>>(), "in order");
        assert!(seen.iter().all(|(_, name)| name.as_deref() == Some("observer-fed")), "on its own thread");
        let mut failing = Fed::start("observer-fed", 1, (), |_: &mut (), _: &u8| panic!("in the batch")).unwrap();
        failing.send(1);
        let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| failing.stop())).unwrap_err();
        assert_eq!(panic.downcast_ref::<&str>(), Some(&"in the batch"), "the panic goes on at the stop");
    }

    #[test]
    fn a_panic_beside_goes_on_here() {
        let caught = std::panic::catch_unwind(|| both(|| 1, || -> u32 { panic!("beside") }));
        assert!(caught.is_err());
    }
}
