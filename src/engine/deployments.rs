//! Deployment runs keyed by `correlation_id`. A finished run stays while
//! it is among the last `world.keep_finished` of its node/service
//! (`finished.rs`); an event for a run that left changes nothing.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Engine, finished};
use crate::event::{Detail, Event, Kind, Name};
use crate::time::Ts;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentStatus {
    Running,
    Succeeded,
    Failed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Stage {
    // Stage names and statuses are short words: kept inline, a busy state's
    // ~19,000 stages cost its load no allocation each (issue 11). A plain
    // comment: a doc comment would be the schema's description.
    #[schemars(with = "String")]
    pub name: Name,
    #[schemars(with = "String")]
    pub status: Name,
    pub ts: Option<Ts>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    // The node and the service: short names, kept inline as the events
    // hold them, no allocation each for a busy state's ~3,700 runs.
    pub node: Option<Name>,
    pub service: Option<Name>,
    pub status: DeploymentStatus,
    /// Null when the run's `deployment_started` was never seen.
    pub started_at: Option<Ts>,
    pub ended_at: Option<Ts>,
    /// Stages from `deployment_stage` events, in order of first appearance;
    /// a later event for the same stage updates it.
    pub stages: Vec<Stage>,
    /// Paths from failures' `payload.diagnostics`, relative to `logs/`, as
    /// given; they are checked against the disk when the world is written.
    pub diagnostics: Vec<String>,
}

pub(super) fn apply(engine: &mut Engine, event: &Event) {
    let Some(id) = event.correlation_id.as_deref() else { return };
    // One look-up for a run already known (every event after its first),
    // and no copy of its id. A run the hot view holds has not left it (an
    // id that left is never taken back), so only an id it does not hold is
    // asked about.
    let (before, after) = match engine.deployments.get_mut(id) {
        Some(run) => {
            // Its place among the finished runs is written out (a group
            // name, allocated) only when something it depends on changed;
            // most events (stages) change none of it.
            let was = Was::of(run);
            update(run, event);
            if Was::of(run) == was {
                return;
            }
            (was.place(run), finished::deployment_place(run))
        }
        None if engine.finished.deployment_left(id) => return,
        None => {
            let mut run = Deployment {
                node: None,
                service: None,
                status: DeploymentStatus::Running,
                started_at: None,
                ended_at: None,
                stages: Vec::new(),
                diagnostics: Vec::new(),
            };
            update(&mut run, event);
            let after = finished::deployment_place(&run);
            engine.deployments.insert(id.into(), run);
            (None, after)
        }
    };
    engine.finished.deployment_moved(id, before, after);
}

/// What a run's place among the finished ones depends on
/// (`finished::deployment_place`), as cheap to take as to compare. A run's node and service are set once
/// and never change after, so the place before an event can be rebuilt
/// from the run after it.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Was {
    node: bool,
    service: bool,
    status: DeploymentStatus,
    ended_at: Option<Ts>,
}

impl Was {
    fn of(run: &Deployment) -> Was {
        Was { node: run.node.is_some(), service: run.service.is_some(), status: run.status, ended_at: run.ended_at }
    }

    /// The place the run had when it was as `self` says.
    fn place(self, run: &Deployment) -> Option<(String, Ts)> {
        let node = run.node.as_deref().filter(|_| self.node);
        let service = run.service.as_deref().filter(|_| self.service);
        finished::place(node, service, self.status, self.ended_at)
    }
}

/// What one event says about its run.
fn update(run: &mut Deployment, event: &Event) {
    if run.node.is_none() {
        run.node = event.node.clone();
    }
    if run.service.is_none() {
        run.service = event.service.clone();
    }
    match event.kind {
        Kind::DeploymentStarted => {
            run.started_at = Some(run.started_at.map_or(event.ts, |at| at.min(event.ts)));
        }
        Kind::DeploymentStage => {
            if let Detail::Stage { name, status } = &event.detail {
                match run.stages.iter_mut().find(|stage| stage.name == *name) {
                    Some(stage) => {
                        if stage.status != *status {
                            stage.status = status.clone();
                        }
                        stage.ts = Some(event.ts);
                    }
                    None => run.stages.push(Stage { name: name.clone(), status: status.clone(), ts: Some(event.ts) }),
                }
            }
        }
        Kind::DeploymentSucceeded | Kind::DeploymentFailed => {
            run.status = if event.kind == Kind::DeploymentSucceeded {
                DeploymentStatus::Succeeded
            } else {
                DeploymentStatus::Failed
            };
            run.ended_at = Some(event.ts);
            if let Detail::Diagnostics(paths) = &event.detail {
                for path in paths {
                    if !run.diagnostics.contains(path) {
                        run.diagnostics.push(path.clone());
                    }
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::given::given;
    use super::*;

    #[test]
    fn a_run_goes_from_started_through_stages_to_failed() {
        let engine = given(&[
            r#"{"ts":"2026-05-12T13:00:00Z","type":"deployment_started","correlation_id":"d1","node":"n","service":"s"}"#,
            r#"{"ts":"2026-05-12T13:01:00Z","type":"deployment_stage","correlation_id":"d1","payload":{"stage":"pull"}}"#,
            r#"{"ts":"2026-05-12T13:02:00Z","type":"deployment_stage","correlation_id":"d1","payload":{"stage":"pull","status":"failed"}}"#,
            r#"{"ts":"2026-05-12T13:03:00Z","type":"deployment_failed","correlation_id":"d1","payload":{"diagnostics":"deploy/d1.log"}}"#,
        ]);
        let run = &engine.deployments["d1"];
        assert_eq!(run.status, DeploymentStatus::Failed);
        assert_eq!(run.node.as_deref(), Some("n"));
        assert_eq!(run.stages.len(), 1);
        assert_eq!(run.stages[0].status, "failed");
        assert_eq!(run.ended_at, Ts::parse("2026-05-12T13:03:00Z").ok());
        assert_eq!(run.diagnostics, vec!["deploy/d1.log".to_string()]);
    }
}
