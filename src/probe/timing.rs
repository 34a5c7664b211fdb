//! Time, as every probe needs it: waiting at most a timeout for work that
//! may hang (name resolution, a dead NFS server), the latency it reports,
//! and a timeout written for people.
//!
//! Bounded waiting runs the work on its own thread and abandons it at the
//! timeout: the thread may linger, the prober does not.

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use super::execution::Execution;
use crate::event::Outcome;

/// Runs `f` on a new thread and waits at most `timeout` for its result;
/// `None` when it did not finish in time (the thread is abandoned and its
/// result dropped whenever it arrives) or no thread could be started.
pub(crate) fn run_with_timeout<T, F>(timeout: Duration, f: F) -> Option<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (tx, rx) = mpsc::sync_channel(1);
    let spawned = thread::Builder::new().name("observer-probe".to_string()).spawn(move || {
        // The receiver is gone once the caller gave up: nothing to do then.
        let _ = tx.send(f());
    });
    match spawned {
        Ok(_) => rx.recv_timeout(timeout).ok(),
        // The closure was dropped with the failed spawn; there is nothing
        // left to run inline, so report it as not finished.
        Err(_) => None,
    }
}

/// Whole milliseconds since `start`.
pub(super) fn elapsed_ms(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// A timeout for people: "5s", "1.5s", "500ms".
pub(super) fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{}s", ms as f64 / 1000.0)
    }
}

/// The execution of a check that did not finish within `timeout`; `why`
/// follows the time in the detail ("; file system not responding").
pub(super) fn timed_out(start: Instant, timeout: Duration, timeout_outcome: Outcome, why: &str) -> Execution {
    let detail = format!("timed out after {}{why}", format_duration(timeout));
    Execution { timed_out: true, ..Execution::new(timeout_outcome, elapsed_ms(start), detail) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_formatted_for_people() {
        assert_eq!(format_duration(Duration::from_secs(5)), "5s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
    }

    #[test]
    fn a_hung_call_is_abandoned_at_the_timeout() {
        let start = Instant::now();
        let result = run_with_timeout(Duration::from_millis(50), || thread::sleep(Duration::from_secs(5)));
        assert!(result.is_none());
        assert!(start.elapsed() < Duration::from_secs(2));
        assert_eq!(run_with_timeout(Duration::from_secs(5), || 7), Some(7));
    }
}
