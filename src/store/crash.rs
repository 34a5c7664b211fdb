//! Fault injection for the crash tests: when `OBSERVER_TEST_CRASH_AT` names a
//! point (optionally `point:N` for its N-th passage), the process aborts there
//! as abruptly as `kill -9`. Unset in normal use, where this costs one lookup.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

static TARGET: OnceLock<Option<(String, u64)>> = OnceLock::new();
static PASSED: AtomicU64 = AtomicU64::new(0);

pub fn point(name: &str) {
    let target = TARGET.get_or_init(|| {
        let spec = std::env::var("OBSERVER_TEST_CRASH_AT").ok()?;
        match spec.split_once(':') {
            Some((point, n)) => Some((point.to_string(), n.parse().unwrap_or(1))),
            None => Some((spec, 1)),
        }
    });
    if let Some((point, nth)) = target
        && point == name
        && PASSED.fetch_add(1, Ordering::SeqCst) + 1 == *nth
    {
        std::process::abort();
    }
}
