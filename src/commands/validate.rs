//! `observer validate`: check the config, the inventory and every event,
//! printing each problem as `file:line: message`. Exit 1 when there is any.
//! It reads everything from the start and changes nothing.

use std::collections::BTreeMap;

use anyhow::Result;

use super::context::Context;
use super::{count, print, shown, warn};
use crate::config::{Config, check_runbooks, hook_problems};
use crate::input_problem::InputProblem;
use crate::inventory::Inventory;
use crate::store::events::scan;

pub fn execute(context: &Context) -> Result<i32> {
    let dirs = &context.dirs;
    let mut problems: Vec<InputProblem> = Vec::new();
    let mut notes = Vec::new();
    if let Some(file) = &dirs.config {
        match Config::load_all(file) {
            Ok((config, older_names)) => {
                notes.extend(older_names);
                problems.extend(check_runbooks(&config, file, dirs.inventory.as_deref()).err());
                problems.extend(hook_problems(&config.notify.channels, file));
            }
            Err(found) => problems.extend(found),
        }
    }
    if let Some(dir) = &dirs.inventory
        && let Err(found) = Inventory::load(dir)
    {
        problems.extend(found);
    }
    let mut events = 0;
    if let Err(error) = dirs.require_events() {
        problems.push(InputProblem::new(&dirs.events, None, error.to_string()));
    }
    match scan(&dirs.events, &BTreeMap::new()) {
        Ok(scan) => {
            events = scan.events.len();
            for waiting in scan.outcome.waiting {
                notes.push(InputProblem::new(
                    &dirs.events.join(&waiting.file),
                    Some(waiting.line),
                    format!("note: {}", waiting.reason),
                ));
            }
            for reject in scan.outcome.rejects {
                problems.push(InputProblem::new(&dirs.events.join(&reject.file), Some(reject.line), reject.reason));
            }
        }
        Err(error) => problems.push(InputProblem::new(&dirs.events, None, error.to_string())),
    }
    let text: String = problems
        .iter()
        .chain(&notes)
        .map(|problem| format!("{}\n", InputProblem { file: shown(&problem.file).into(), ..problem.clone() }))
        .collect();
    // The exit code is the answer: a closed stdout (`validate | head -1`)
    // must not turn problems into success.
    if let Err(error) = print(&text)
        && error.kind() != std::io::ErrorKind::BrokenPipe
    {
        return Err(error.into());
    }
    warn(&format!(
        "{}, {} ({} in {}; config: {}; inventory: {})",
        count(problems.len() as u64, "problem"),
        count(notes.len() as u64, "note"),
        count(events as u64, "valid event"),
        shown(&dirs.events),
        dirs.config.as_deref().map_or("built-in defaults".into(), shown),
        dirs.inventory.as_deref().map_or("none".into(), shown),
    ));
    Ok(if problems.is_empty() { crate::exit::SUCCESS } else { crate::exit::FAILURE })
}
