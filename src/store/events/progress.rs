//! The progress hook of reading events: a pass says how many bytes it is
//! about to read and, a chunk (256 KiB) at a time, how many it read. What
//! listens (a progress bar on a terminal, see `commands::progress`) is
//! installed once per process; without one, each call is one atomic load.

use std::sync::OnceLock;

/// What hears about the bytes a pass reads.
pub trait Progress: Send + Sync {
    /// A pass is about to read `total` bytes of events (new bytes of
    /// changed files, from their cursors).
    fn start(&self, total: u64);
    /// `bytes` more were read.
    fn advance(&self, bytes: u64);
}

static HOOK: OnceLock<Box<dyn Progress>> = OnceLock::new();

/// Installs the listener for the rest of the process; a second one is
/// ignored.
pub fn install(hook: Box<dyn Progress>) {
    let _ = HOOK.set(hook);
}

pub(super) fn start(total: u64) {
    if let Some(hook) = HOOK.get() {
        hook.start(total);
    }
}

pub(super) fn advance(bytes: u64) {
    if let Some(hook) = HOOK.get() {
        hook.advance(bytes);
    }
}
