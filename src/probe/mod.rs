//! Running real probes: each check is executed with a timeout and turned
//! into an [`Execution`], which `observer probe` writes as a `probe_result`
//! event. Nothing here decides health: the engine folds the results. What a
//! probe checks is declared in the inventory ([`Check`]); which probes run
//! now is [`schedule`]'s decision.
//!
//! Executing a check never fails and never panics: a refused connection, a
//! missing command or a hung file system are outcomes with a detail.

pub mod command;
pub mod disk;
mod execution;
pub mod http;
pub mod path;
pub mod round;
pub mod schedule;
pub mod tcp;
pub(crate) mod timing;

use std::time::Duration;

pub use crate::event::Outcome;
use crate::inventory::Check;
pub use execution::Execution;

/// Executes a check once. `timeout_outcome` is what a check that does not
/// finish in time counts as (by default `critical`).
pub fn execute(check: &Check, timeout: Duration, timeout_outcome: Outcome) -> Execution {
    match check {
        Check::Tcp(c) => tcp::execute(&c.host, c.port, timeout, timeout_outcome),
        Check::Http(c) => http::execute(c, timeout, timeout_outcome),
        Check::Command(c) => command::execute(&c.argv, timeout, timeout_outcome),
        Check::Path(c) => path::execute(&c.path, timeout, timeout_outcome),
        Check::Disk(c) => disk::execute(
            &c.path,
            disk::DiskLimits {
                min_free_percent: c.min_free_percent,
                min_free_bytes: c.min_free_bytes,
                warn_free_percent: c.warn_free_percent,
            },
            timeout,
            timeout_outcome,
        ),
    }
}

/// Executes each job on at most `parallel` threads at once, returning the
/// executions in the jobs' order.
pub fn execute_all(jobs: &[(Check, Duration, Outcome)], parallel: usize) -> Vec<Execution> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: std::sync::Mutex<Vec<Option<Execution>>> = std::sync::Mutex::new(vec![None; jobs.len()]);
    std::thread::scope(|scope| {
        for _ in 0..parallel.clamp(1, jobs.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((check, timeout, timeout_outcome)) = jobs.get(i) else { break };
                    let execution = execute(check, *timeout, *timeout_outcome);
                    if let Ok(mut results) = results.lock() {
                        results[i] = Some(execution);
                    }
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .map(|e| e.unwrap_or_else(|| Execution::new(Outcome::Unknown, 0, "the probe did not report")))
        .collect()
}
