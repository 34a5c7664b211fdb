//! `path` probe: the path exists. A file system call can hang indefinitely
//! (a dead NFS server), so it runs with a bounded wait.

use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use super::execution::{Execution, short_io_error};
use super::timing::{elapsed_ms, run_with_timeout, timed_out};
use crate::event::Outcome;

/// `path` exists (as anything, a dangling symlink included).
pub fn execute(path: &Path, timeout: Duration, timeout_outcome: Outcome) -> Execution {
    let start = Instant::now();
    let owned = path.to_path_buf();
    let Some(found) = run_with_timeout(timeout, move || std::fs::symlink_metadata(owned)) else {
        return timed_out(start, timeout, timeout_outcome, "; file system not responding");
    };
    let latency = elapsed_ms(start);
    match found {
        Ok(_) => Execution::new(Outcome::Ok, latency, "exists"),
        Err(e) if is_absent(&e) => Execution::new(Outcome::Critical, latency, "does not exist"),
        // Permission denied on a parent directory and the like: the check
        // cannot tell whether the path exists.
        Err(e) => Execution::new(Outcome::Unknown, latency, format!("cannot check: {}", short_io_error(&e))),
    }
}

fn is_absent(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory)
}
