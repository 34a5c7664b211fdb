//! `observer explain ID [--json]`: the events behind an entity and what
//! each changed (`crate::explain`). Reads the world, the history, the
//! event index and the events; never takes the lock, never writes.
//!
//! The text form: a header with the entity and its stretch of time, then
//! one block per event (time, file:line, type, subject) with one indented
//! line per change.

use std::fmt::Write as _;

use anyhow::Result;

use super::context::Context;
use super::{count, print, shown, word};
use crate::cli::ExplainArgs;
use crate::exit;
use crate::explain::{self, Explanation, Kind};

pub fn execute(context: &Context, args: &ExplainArgs) -> Result<i32> {
    let config = context.config()?;
    let inventory = context.inventory()?;
    context.require_events()?;
    let rules = crate::rules::build(&config, &inventory);
    let dirs = &context.dirs;
    let explanation = explain::explain(&dirs.world, &dirs.events, &dirs.state, &rules, &args.id)?;
    let out = if args.json {
        String::from_utf8_lossy(&crate::world::render(&explanation)?).into_owned()
    } else {
        text(&explanation, |file| shown(&dirs.events.join(file)))
    };
    print(&out)?;
    Ok(exit::SUCCESS)
}

/// The explanation for people; `file` shows an event file's path (relative
/// to the event directory) as the user knows it.
pub fn text(explanation: &Explanation, file: impl Fn(&str) -> String) -> String {
    let mut out = String::new();
    let kind = match explanation.kind {
        Kind::Incident => "incident",
        Kind::Alert => "alert",
        Kind::Deployment => "deployment",
        Kind::Service => "service",
        Kind::Node => "node",
    };
    let _ = writeln!(out, "{kind} {} (from world/{})", explanation.id, explanation.found_in);
    let _ = writeln!(
        out,
        "events from {} to {}, replayed from {} ({} min lead-in)",
        explanation.from,
        explanation.to,
        explanation.replay_from,
        explain::LEAD_IN_S / 60
    );
    let _ = match explanation.agrees_with_world {
        Some(true) => writeln!(out, "the replay ends with the {kind} as the world records it"),
        Some(false) => writeln!(
            out,
            "note: the replay does not end with the {kind} as the world records it: part of its state comes from \
             events before the lead-in"
        ),
        None => Ok(()),
    };
    for step in &explanation.events {
        let subject = match (&step.node, &step.service) {
            (Some(node), Some(service)) => format!(" {node}/{service}"),
            (Some(node), None) => format!(" {node}"),
            _ => String::new(),
        };
        let mut notes = Vec::new();
        if let Some(severity) = step.severity {
            notes.push(word(severity));
        }
        if let Some(id) = &step.correlation_id {
            notes.push(format!("correlation {id}"));
        }
        let notes = if notes.is_empty() { String::new() } else { format!(" ({})", notes.join(", ")) };
        let _ = writeln!(out, "\n{}  {}:{}  {}{subject}{notes}", step.ts, file(&step.file), step.line, step.type_name);
        if step.changes.is_empty() {
            let _ = writeln!(out, "    (no change)");
        }
        for change in &step.changes {
            let _ = writeln!(out, "    {}: {}", change.subject, change.text);
        }
    }
    let _ = writeln!(out, "\n{}", count(explanation.events.len() as u64, "event"));
    out
}
