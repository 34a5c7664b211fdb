//! `observer explain ID`: the events behind one entity, in fold order,
//! and what each changed.
//!
//! How: the ID is looked up in the world files and the history
//! ([`target`]), which gives the entity's stretch of engine time (an
//! incident's `started_at` to `resolved_at`, say). The events of that
//! stretch, and of a lead-in of [`LEAD_IN_S`] before it, are read through
//! the event index ([`read`]) and folded, all of them, into a fresh engine
//! with the live rules. Before and after each `apply` the part of the state
//! the entity covers is copied and compared ([`changes`]), so what is shown
//! is what the engine did, not a second reading of its rules.
//!
//! Limits, said plainly: the replay starts from an empty engine at the
//! start of the lead-in. Whatever the entity's state owes to events before
//! it (a breaker's failure count built up over more than an hour, a node
//! that went down earlier and suppresses an alert, a duplicate `id` first
//! seen earlier) is not in the replay. The explanation says so when its
//! replayed record differs from the world's (`agrees_with_world`). It
//! explains the processing order of a rebuild, which is the live one unless
//! events arrived late. It reads files and never takes the lock or writes.

mod changes;
mod read;
mod target;

use std::path::Path;

use serde::Serialize;

pub use changes::Change;
use changes::{CoveringAlerts, Snapshot};

use crate::engine::{Engine, Incident, Input, Rules};
use crate::event::Severity;
use crate::store::event_index_log;
use crate::store::events::SourceError;
use crate::time::Ts;

/// How long before the entity's stretch the replay starts: what a probe's
/// debounce and breaker did before an incident opened shows there.
pub const LEAD_IN_S: u64 = 3600;

/// The kinds of ID, in the order they are looked up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Incident,
    Alert,
    Deployment,
    Service,
    Node,
}

/// What of the engine state an entity covers.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    node: Option<String>,
    service: Option<String>,
    incident: Option<String>,
    deployment: Option<String>,
    alert: Option<String>,
    /// A node's own events and alerts (no service).
    node_level: bool,
}

impl Scope {
    fn service(node: Option<String>, service: Option<String>) -> Scope {
        Scope { node, service, ..Scope::default() }
    }

    fn deployment(id: &str) -> Scope {
        Scope { deployment: Some(id.to_string()), ..Scope::default() }
    }

    fn with_incident(mut self, id: Option<String>) -> Scope {
        self.incident = id;
        self
    }

    fn with_alert(mut self, key: &str) -> Scope {
        self.alert = Some(key.to_string());
        self
    }

    fn service_key(&self) -> Option<String> {
        Some(format!("{}/{}", self.node.as_ref()?, self.service.as_ref()?))
    }

    fn node_itself(&self) -> Option<&str> {
        self.node.as_deref().filter(|_| self.node_level)
    }

    fn covers_incident(&self, id: &str, incident: &Incident) -> bool {
        match &self.incident {
            Some(wanted) => wanted == id,
            None => {
                self.service.is_some()
                    && self.alert.is_none()
                    && self.node.as_deref() == Some(&incident.node)
                    && self.service.as_deref() == Some(&incident.service)
            }
        }
    }

    fn covers_alert(&self, key: &str, node: Option<&str>, service: Option<&str>) -> bool {
        if let Some(wanted) = &self.alert {
            return wanted == key;
        }
        if let Some(id) = &self.deployment {
            return key.strip_suffix(id.as_str()).is_some_and(|rest| rest.ends_with(':'));
        }
        node.is_some() && node == self.node.as_deref() && service == self.service.as_deref()
    }

    /// Whether the event speaks of the entity.
    fn concerns(&self, event: &crate::event::Event) -> bool {
        if let Some(id) = &self.deployment {
            return event.correlation_id.as_deref() == Some(id);
        }
        event.node.is_some()
            && event.node.as_deref() == self.node.as_deref()
            && event.service.as_deref() == self.service.as_deref()
    }
}

/// The explanation, as `--json` prints it.
#[derive(Debug, Serialize)]
pub struct Explanation {
    pub id: String,
    pub kind: Kind,
    /// Where the ID was found, relative to the world directory.
    pub found_in: String,
    /// The entity's stretch of engine time.
    pub from: Ts,
    pub to: Ts,
    /// Where the replay started: `from` less the lead-in.
    pub replay_from: Ts,
    /// Whether the replay ends with the record the world holds, for an
    /// incident or a deployment (null for the other kinds).
    pub agrees_with_world: Option<bool>,
    pub events: Vec<Step>,
    /// What the replay read, to show that its cost follows the entity.
    pub read: ReadStats,
}

/// One event and what it changed.
#[derive(Debug, Serialize)]
pub struct Step {
    pub ts: Ts,
    /// Relative to the event directory.
    pub file: String,
    pub line: u64,
    #[serde(rename = "type")]
    pub type_name: String,
    pub node: Option<String>,
    pub service: Option<String>,
    pub correlation_id: Option<String>,
    pub severity: Option<Severity>,
    pub changes: Vec<Change>,
}

#[derive(Debug, Serialize)]
pub struct ReadStats {
    pub files: usize,
    pub bytes: u64,
    pub events_folded: usize,
}

/// Why there is no explanation.
#[derive(Debug)]
pub enum ExplainError {
    /// No world files yet: nothing has been folded.
    NoWorld {
        world: std::path::PathBuf,
    },
    Unknown {
        id: String,
        close: Vec<String>,
    },
    Source(SourceError),
}

impl std::fmt::Display for ExplainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExplainError::Unknown { id, close } => {
                write!(
                    f,
                    "no incident, alert, deployment, node/service or node named `{id}` in the world files or \
                     world/history/; explain takes an incident id (inc-…), an alert key (rule:subject), a \
                     deployment or correlation id, node/service, or a node"
                )?;
                if !close.is_empty() {
                    write!(f, "; close matches: {}", close.join(", "))?;
                }
                Ok(())
            }
            ExplainError::NoWorld { world } => write!(
                f,
                "there is no world in {} yet, so nothing to explain; run `observer run` first",
                world.display()
            ),
            ExplainError::Source(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for ExplainError {}

/// Explains `id` from the world in `world` and the events in `events`,
/// folded with `rules`; `state` holds the event index.
pub fn explain(
    world: &Path,
    events: &Path,
    state: &Path,
    rules: &Rules,
    id: &str,
) -> Result<Explanation, ExplainError> {
    if !world.join("runtime-summary.json").exists() {
        return Err(ExplainError::NoWorld { world: world.to_path_buf() });
    }
    let target = target::resolve(world, id).map_err(|close| ExplainError::Unknown { id: id.to_string(), close })?;
    let replay_from = target.from.minus_seconds(LEAD_IN_S);
    let index = event_index_log::read(state).map(|read| read.index);
    let mut span = read::span(events, index.as_ref(), replay_from, target.to).map_err(ExplainError::Source)?;
    // What fell due at `to` itself (a held resolve, the end of
    // `keep_firing_for_s`) is taken by the first event at or after it.
    if target.through_next && span.events.last().is_none_or(|last| last.event.ts < target.to) {
        read::with_next(&mut span, events, index.as_ref(), target.to, target.as_of).map_err(ExplainError::Source)?;
    }
    // The replay keeps every finished entry: the target may be one that
    // the live world has long pushed out to the history.
    let rules = &Rules { keep_finished: usize::MAX, ..rules.clone() };
    let mut engine = Engine::default();
    engine.apply(Input::PassStarted, rules);
    let scope = &target.scope;
    let mut steps = Vec::new();
    let mut covering = CoveringAlerts::default();
    let mut before = Snapshot::of(&engine, scope, &mut covering);
    for located in &span.events {
        let event = &located.event;
        let file = &span.paths[located.file as usize];
        engine.apply(Input::Event { event, file, position: located.position }, rules);
        let after = Snapshot::of(&engine, scope, &mut covering);
        let mut changes = if after == before { Vec::new() } else { before.changes(&after, &engine, scope) };
        before = after;
        let in_stretch = event.ts >= target.from;
        if !in_stretch {
            changes.retain(Change::is_probe_state);
        }
        if changes.is_empty() && !(in_stretch && scope.concerns(event)) {
            continue;
        }
        steps.push(Step {
            ts: event.ts,
            file: file.clone(),
            line: located.line,
            type_name: event.type_name.to_string(),
            node: event.node.as_deref().map(str::to_string),
            service: event.service.as_deref().map(str::to_string),
            correlation_id: event.correlation_id.as_deref().map(str::to_string),
            severity: event.severity,
            changes,
        });
    }
    let agrees_with_world = agreement(&target, &engine);
    Ok(Explanation {
        id: target.id,
        kind: target.kind,
        found_in: target.found_in,
        from: target.from,
        to: target.to,
        replay_from,
        agrees_with_world,
        events: steps,
        read: ReadStats { files: span.files_read, bytes: span.bytes_read, events_folded: span.events.len() },
    })
}

/// Whether the replayed incident or deployment has the fields the world's
/// record has, with the same values.
fn agreement(target: &target::Target, engine: &Engine) -> Option<bool> {
    let record = target.record.as_ref()?;
    let replayed = match target.kind {
        Kind::Incident => engine.incidents().get(&target.id).map(serde_json::to_value),
        Kind::Deployment => engine.deployments().get(&target.id).map(serde_json::to_value),
        _ => return None,
    };
    let Some(Ok(replayed)) = replayed else { return Some(false) };
    let fields = ["status", "severity", "started_at", "ended_at", "resolved_at", "occurrence_count", "correlation_id"];
    Some(fields.iter().all(|field| match (record.get(field), replayed.get(field)) {
        (Some(a), Some(b)) => a == b,
        (None, _) | (_, None) => true,
    }))
}
