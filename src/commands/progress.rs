//! The progress bar of a long read: a pass with more than 8 MiB of events
//! to read (a `rebuild`, a first run, a run after a long pause) shows how
//! far it is on stderr, when stderr is a terminal and diagnostics are text.
//! Otherwise (cron, systemd, a pipe, `--log-format json`) nothing is
//! installed and nothing is drawn. The bar is cleared once the bytes are
//! read, so that it leaves no trace among the command's own lines.
//!
//! `OBSERVER_PROGRESS_MIN_BYTES` sets the 8 MiB threshold (tests use it to
//! see the bar without writing megabytes).

use std::io::IsTerminal;
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::store::events::progress::{self, Progress};

/// Bytes a pass must have to read before a bar is shown.
pub const MIN_BYTES: u64 = 8 * 1024 * 1024;

/// Installs the bar for this process when stderr is a terminal and
/// diagnostics are text.
pub fn install_if_terminal() {
    if !std::io::stderr().is_terminal() || crate::diagnostics::is_json() {
        return;
    }
    let min_bytes = std::env::var("OBSERVER_PROGRESS_MIN_BYTES").ok().and_then(|v| v.parse().ok()).unwrap_or(MIN_BYTES);
    progress::install(Box::new(Bar { min_bytes }));
}

/// Clears a bar still drawn (a pass that read less than it planned, say),
/// so that nothing is left on the terminal when the command ends.
pub fn clear() {
    if let Some(bar) = shown().take() {
        bar.finish_and_clear();
    }
}

/// The bar being drawn, if any.
static SHOWN: Mutex<Option<ProgressBar>> = Mutex::new(None);

fn shown() -> std::sync::MutexGuard<'static, Option<ProgressBar>> {
    SHOWN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

struct Bar {
    min_bytes: u64,
}

impl Progress for Bar {
    fn start(&self, total: u64) {
        let mut shown = shown();
        if let Some(old) = shown.take() {
            old.finish_and_clear();
        }
        if total < self.min_bytes {
            return;
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        let style =
            ProgressStyle::with_template("reading events [{bar:30}] {binary_bytes}/{binary_total_bytes}, {eta} left")
                .map(|style| style.progress_chars("=> "));
        if let Ok(style) = style {
            bar.set_style(style);
        }
        bar.tick();
        *shown = Some(bar);
    }

    fn advance(&self, bytes: u64) {
        let mut shown = shown();
        let Some(bar) = shown.as_ref() else { return };
        bar.inc(bytes);
        if bar.length().is_some_and(|length| bar.position() >= length) {
            bar.finish_and_clear();
            *shown = None;
        }
    }
}
