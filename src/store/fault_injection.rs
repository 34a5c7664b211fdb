//! Fault injection for the crash and fault tests, enabled only through
//! environment variables that nothing but the tests sets:
//!
//! - `OBSERVER_TEST_CRASH_AT=point[:N]` aborts the process, as abruptly as
//!   `kill -9`, at the N-th passage (default the first) of a named point.
//! - `OBSERVER_TEST_FAIL_AT=point[:N]` makes that passage fail with ENOSPC
//!   ("No space left on device"), as a full disk would.
//!
//! Unset, each point costs one cached lookup.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

struct Target {
    point: String,
    nth: u64,
    passed: AtomicU64,
}

impl Target {
    fn from_env(name: &str) -> Option<Target> {
        let spec = std::env::var(name).ok()?;
        let (point, nth) = match spec.split_once(':') {
            Some((point, n)) => (point.to_string(), n.parse().unwrap_or(1)),
            None => (spec, 1),
        };
        Some(Target { point, nth, passed: AtomicU64::new(0) })
    }

    fn hit(&self, name: &str) -> bool {
        self.point == name && self.passed.fetch_add(1, Ordering::SeqCst) + 1 == self.nth
    }
}

static CRASH: OnceLock<Option<Target>> = OnceLock::new();
static FAIL: OnceLock<Option<Target>> = OnceLock::new();

/// A place where a crash test may kill the process.
pub fn crash_at(name: &str) {
    if CRASH.get_or_init(|| Target::from_env("OBSERVER_TEST_CRASH_AT")).as_ref().is_some_and(|t| t.hit(name)) {
        std::process::abort();
    }
}

/// A place where a fault test may make a write fail as on a full disk.
pub fn fail_at(name: &str) -> std::io::Result<()> {
    if FAIL.get_or_init(|| Target::from_env("OBSERVER_TEST_FAIL_AT")).as_ref().is_some_and(|t| t.hit(name)) {
        return Err(std::io::Error::from_raw_os_error(28));
    }
    Ok(())
}
