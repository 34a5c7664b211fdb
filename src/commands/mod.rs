//! One file per subcommand. Each starts from the [`context::Context`] made
//! from the flags, turns its arguments into library calls and returns the
//! exit code; errors carry a message a user can act on. Besides the
//! subcommands: `context` (flags to a ready context), `report` (what a
//! pass tells people) and `pass` (the pass of `run` and `watch`), which the
//! subcommands share instead of calling each
//! other, and the few output helpers below.

pub mod ack;
pub mod alerts;
pub mod check;
pub mod completions;
pub mod config;
pub mod context;
pub mod deployments;
pub mod emit;
pub mod explain;
pub mod filter;
pub mod init;
pub mod maintenance;
pub mod notify;
pub mod pass;
pub mod probe;
pub mod progress;
pub mod rebuild;
pub mod relay;
pub mod report;
pub mod run;
pub mod schema;
pub mod status;
pub mod validate;
pub mod verify;
pub mod watch;

use std::io::Write;

use serde_json::Value;

use crate::world::AlertView;

/// Writes data to stdout. A closed pipe is reported to the caller as an
/// `io::Error` of kind `BrokenPipe`, which `main` treats as success.
pub fn print(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// Writes a diagnostic line to stderr, as text or as a JSON line
/// (`--log-format`); its level is what its prefix says (`error:`,
/// `warning:`, else information) and warnings are bounded by
/// `budgets.log_lines_per_minute` (see [`crate::diagnostics`]). A closed
/// stderr is not an error: the message is dropped, the command goes on.
pub fn warn(text: &str) {
    crate::diagnostics::emit(crate::diagnostics::Level::of_line(text), text, &[]);
}

/// [`warn`] with fields for the JSON form (`file`, `line`, `reason`…).
pub fn warn_with(text: &str, fields: &[(&str, Value)]) {
    crate::diagnostics::emit(crate::diagnostics::Level::of_line(text), text, fields);
}

/// Makes a path readable in messages: relative to the current directory
/// where possible.
pub fn shown(path: &std::path::Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(|p| p.display().to_string()))
        .unwrap_or_else(|| path.display().to_string())
}

/// "1 event", "2 events".
pub fn count(n: impl Into<u64>, noun: &str) -> String {
    let n = n.into();
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

/// A status, health or severity as the world files spell it (kept in
/// `world`, which `explain` shares it from too).
pub use crate::world::word;

/// One alert: key, severity and when, its summary, why it is suppressed
/// when it is, who acknowledged it, and its runbook on a line of its own.
pub fn alert_line(alert: &AlertView, when: Option<String>) -> String {
    let when = when.map(|w| format!(", {w}")).unwrap_or_default();
    let suppressed = alert.suppressed_by.as_ref().map(|why| format!(" [suppressed: {why}]")).unwrap_or_default();
    let acknowledged = match (&alert.acknowledged_by, alert.acknowledged_at) {
        (Some(by), Some(at)) => format!(" [acknowledged by {by} at {at}]"),
        _ => String::new(),
    };
    let runbook = alert.runbook.as_ref().map(|r| format!("    runbook: {r}\n")).unwrap_or_default();
    format!("  {} ({}{when}): {}{suppressed}{acknowledged}\n{runbook}", alert.key, word(alert.severity), alert.summary)
}
