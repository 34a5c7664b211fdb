//! `deployments.json`: the hot view of the deployment runs (SPEC §4) —
//! running ones and, per node/service, the last `world.keep_finished`
//! finished ones — each with its stages, the stage markers found on disk
//! merged in, and its diagnostics files as checked against `logs/`.

use std::borrow::Cow;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{InOrder, SCHEMA_VERSION, WorldFile};
use crate::engine::{Deployment, DeploymentStatus, Engine, Stage};
use crate::store::deployment_files::{DiagnosticFile, DiskFacts};
use crate::time::{Ts, duration_seconds};

/// The file as a whole: borrowed when written, owned when read back.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct DeploymentsFile<'a> {
    pub schema_version: u32,
    pub as_of: Option<Ts>,
    pub deployments: InOrder<'a, DeploymentView<'a>>,
}

impl WorldFile for DeploymentsFile<'_> {
    const NAME: &'static str = "deployments.json";
}

#[derive(Serialize, Deserialize, JsonSchema)]
pub struct DeploymentView<'a> {
    pub correlation_id: Cow<'a, str>,
    pub node: Option<Cow<'a, str>>,
    pub service: Option<Cow<'a, str>>,
    pub status: DeploymentStatus,
    pub started_at: Option<Ts>,
    pub ended_at: Option<Ts>,
    pub duration_s: Option<serde_json::Number>,
    pub stages: Cow<'a, [Stage]>,
    pub diagnostics: Vec<DiagnosticFile>,
}

pub(super) fn project<'a>(engine: &'a Engine, disk: &DiskFacts) -> DeploymentsFile<'a> {
    DeploymentsFile {
        schema_version: SCHEMA_VERSION,
        as_of: engine.clock(),
        // Sorted as references first, so that the views are made in key
        // order and kept where they are made (`InOrder`): a view is ~200
        // bytes, and a sort of the views moves each at every merge (issue
        // 11, nineteenth and twenty-eighth passes).
        deployments: engine
            .deployments()
            .sorted()
            .into_iter()
            .map(|(id, run)| (Cow::Borrowed(id.as_str()), deployment_view(id, run, disk)))
            .collect(),
    }
}

pub(super) fn deployment_view<'a>(id: &'a str, run: &'a Deployment, disk: &DiskFacts) -> DeploymentView<'a> {
    // In time order; stages without a time (markers without `ts`) last, by
    // name. The sort is stable, so equal times keep the order of the events.
    let order = |a: &Stage, b: &Stage| match (a.ts, b.ts) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.name.cmp(&b.name),
    };
    let markers = disk.markers.get(id).map_or(&[][..], Vec::as_slice);
    let new_marker = |marker: &&Stage| !run.stages.iter().any(|s| s.name == marker.name);
    // Borrowed when there is nothing to add or reorder, as for nearly every
    // deployment: cloning every run's stages was a seventh of projecting a
    // busy world (perf, issue 11), and the same again for each history line.
    let stages = if !markers.iter().any(|m| new_marker(&m)) && run.stages.is_sorted_by(|a, b| order(a, b).is_le()) {
        Cow::Borrowed(run.stages.as_slice())
    } else {
        let mut stages = run.stages.clone();
        for marker in markers {
            if !stages.iter().any(|s| s.name == marker.name) {
                stages.push(marker.clone());
            }
        }
        stages.sort_by(order);
        Cow::Owned(stages)
    };
    DeploymentView {
        correlation_id: Cow::Borrowed(id),
        node: run.node.as_deref().map(Cow::Borrowed),
        service: run.service.as_deref().map(Cow::Borrowed),
        status: run.status,
        started_at: run.started_at,
        ended_at: run.ended_at,
        duration_s: match (run.started_at, run.ended_at) {
            (Some(start), Some(end)) => Some(duration_seconds(start, end)),
            _ => None,
        },
        stages,
        diagnostics: run
            .diagnostics
            .iter()
            .map(|path| {
                disk.diagnostics.get(path).cloned().unwrap_or(DiagnosticFile {
                    path: path.clone(),
                    exists: false,
                    size: None,
                    refused: None,
                })
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(name: &str, ts: Option<&str>) -> Stage {
        Stage { name: name.into(), status: "ok".into(), ts: ts.map(|t| Ts::parse(t).unwrap()) }
    }

    fn run(stages: Vec<Stage>) -> Deployment {
        Deployment {
            node: Some("venus".into()),
            service: None,
            status: DeploymentStatus::Running,
            started_at: None,
            ended_at: None,
            stages,
            diagnostics: Vec::new(),
        }
    }

    fn names<'a>(view: &'a DeploymentView<'a>) -> Vec<&'a str> {
        view.stages.iter().map(|s| s.name.as_str()).collect()
    }

    #[test]
    fn stages_in_order_are_shown_as_they_are_and_others_are_sorted_with_the_markers() {
        let ordered =
            run(vec![stage("pull", Some("2026-05-01T10:00:00Z")), stage("start", Some("2026-05-01T10:01:00Z"))]);
        let none = DiskFacts::default();
        let view = deployment_view("d1", &ordered, &none);
        assert!(matches!(view.stages, Cow::Borrowed(_)));
        assert_eq!(names(&view), ["pull", "start"]);

        let unordered =
            run(vec![stage("start", Some("2026-05-01T10:01:00Z")), stage("pull", Some("2026-05-01T10:00:00Z"))]);
        assert_eq!(names(&deployment_view("d1", &unordered, &none)), ["pull", "start"]);

        // A marker without a time goes last; one named as a stage is not
        // added twice.
        let mut disk = DiskFacts::default();
        disk.markers.insert("d1".into(), vec![stage("verify", None), stage("pull", None), stage("verify", None)]);
        let view = deployment_view("d1", &ordered, &disk);
        assert!(matches!(view.stages, Cow::Owned(_)));
        assert_eq!(names(&view), ["pull", "start", "verify"]);
    }
}
