//! One file per subcommand. Each turns its arguments into library calls and
//! returns the exit code; errors carry a message a user can act on.

pub mod completions;
pub mod config;
pub mod emit;
pub mod probe;
pub mod rebuild;
pub mod run;
pub mod status;
pub mod validate;

use std::io::Write;

use anyhow::{Context, Result, bail};

use crate::cli::PathArgs;
use crate::config::Config;
use crate::inventory::Inventory;
use crate::layout::Layout;
use crate::time::Ts;

/// Turns the path flags into a layout: each flag overrides its part of the root.
pub fn layout(paths: &PathArgs) -> Layout {
    let mut layout = Layout::under(&paths.root);
    if let Some(dir) = &paths.events {
        layout.events = dir.clone();
    }
    if let Some(dir) = &paths.state {
        layout.state = dir.clone();
    }
    if let Some(dir) = &paths.world {
        layout.world = dir.clone();
    }
    if let Some(dir) = &paths.logs {
        layout.logs = dir.clone();
    }
    if let Some(dir) = &paths.inventory {
        layout.inventory = Some(dir.clone());
    }
    if let Some(file) = &paths.config {
        layout.config = Some(file.clone());
    }
    layout
}

pub fn load_config(layout: &Layout) -> Result<Config> {
    match &layout.config {
        Some(file) => Ok(Config::load(file)?),
        None => Ok(Config::default()),
    }
}

pub fn load_inventory(layout: &Layout) -> Result<Inventory> {
    let Some(dir) = &layout.inventory else { return Ok(Inventory::default()) };
    match Inventory::load(dir) {
        Ok(inventory) => Ok(inventory),
        Err(problems) => {
            let list: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
            bail!("the inventory has problems; nothing was changed:\n{}", list.join("\n"))
        }
    }
}

/// The wall clock. `OBSERVER_NOW` (RFC 3339) replaces it, so that tests and
/// demos get stable output.
pub fn now() -> Result<Ts> {
    match std::env::var("OBSERVER_NOW") {
        Ok(text) => Ts::parse(&text).map_err(anyhow::Error::msg).context("OBSERVER_NOW"),
        Err(_) => Ok(Ts::from_datetime(chrono::Utc::now())),
    }
}

/// Writes data to stdout. A closed pipe is reported to the caller as an
/// `io::Error` of kind `BrokenPipe`, which `main` treats as success.
pub fn print(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// Writes a diagnostic line to stderr. A closed stderr is not an error: the
/// message is dropped, the command goes on.
pub fn warn(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{text}");
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
