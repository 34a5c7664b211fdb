//! `observer validate`: check the config, the inventory and every event,
//! printing each problem as `file:line: message`. Exit 1 when there is any.
//! It reads everything from the start and changes nothing.

use std::collections::BTreeMap;

use anyhow::Result;

use super::{count, layout, print, shown, warn};
use crate::cli::PathArgs;
use crate::config::Config;
use crate::input_problem::InputProblem;
use crate::inventory::Inventory;
use crate::store::events::scan;

pub fn execute(paths: &PathArgs) -> Result<i32> {
    let layout = layout(paths);
    let mut problems: Vec<InputProblem> = Vec::new();
    if let Some(file) = &layout.config
        && let Err(problem) = Config::load(file)
    {
        problems.push(problem);
    }
    if let Some(dir) = &layout.inventory
        && let Err(found) = Inventory::load(dir)
    {
        problems.extend(found);
    }
    let mut events = 0;
    let mut notes = Vec::new();
    if let Err(error) = layout.require_events() {
        problems.push(InputProblem::new(&layout.events, None, error.to_string()));
    }
    match scan(&layout.events, &BTreeMap::new()) {
        Ok(scan) => {
            events = scan.events.len();
            for waiting in scan.outcome.waiting {
                notes.push(InputProblem::new(
                    &layout.events.join(&waiting.file),
                    Some(waiting.line),
                    format!("note: {}", waiting.reason),
                ));
            }
            for reject in scan.outcome.rejects {
                problems.push(InputProblem::new(&layout.events.join(&reject.file), Some(reject.line), reject.reason));
            }
        }
        Err(error) => problems.push(InputProblem::new(&layout.events, None, error.to_string())),
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
        shown(&layout.events),
        layout.config.as_deref().map_or("built-in defaults".into(), shown),
        layout.inventory.as_deref().map_or("none".into(), shown),
    ));
    Ok(if problems.is_empty() { crate::exit::SUCCESS } else { crate::exit::FAILURE })
}
