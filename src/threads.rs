//! Work beside the calling thread, for the IO shell's passes where a
//! second core would otherwise wait: two pieces at once ([`both`]: listing
//! `events/` while the checkpoint is read, reading or replaying the index
//! of the state's entities while it is parsed, hashing history lines while
//! they are written), and
//! freeing what a pass made once it is done ([`drop_beside`]), or leaving
//! it to the end of the process ([`leave`]).

use std::sync::{Mutex, PoisonError};

/// Runs `here` on this thread while `there` runs on a thread named `name`,
/// and gives both results. Where no thread can be started, `there` runs
/// here after `here`; a panic on the second thread goes on here.
pub fn both<A, B: Send>(name: &str, here: impl FnOnce() -> A, there: impl FnOnce() -> B + Send) -> (A, B) {
    // Taken by the thread, or here when none could be started (a failed
    // spawn drops the closure it was given).
    let there = Mutex::new(Some(there));
    let take = || there.lock().unwrap_or_else(PoisonError::into_inner).take();
    std::thread::scope(|scope| {
        let thread = std::thread::Builder::new().name(name.into()).spawn_scoped(scope, || take().map(|work| work()));
        let a = here();
        let b = match thread {
            Ok(thread) => thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Err(_) => None,
        };
        (a, b.unwrap_or_else(|| take().map(|work| work()).expect("the work beside is taken once")))
    })
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
        let (a, b) = both("test-both", || 2 + 2, || std::thread::current().name().map(str::to_string));
        assert_eq!(a, 4);
        assert_eq!(b.as_deref(), Some("test-both"), "the second piece runs on its own thread");
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
        let caught = std::panic::catch_unwind(|| both("test-panic", || 1, || -> u32 { panic!("beside") }));
        assert!(caught.is_err());
    }
}
