//! `deployments.json`: the hot view of the deployment runs (SPEC §4) —
//! running ones and, per node/service, the last `world.keep_finished`
//! finished ones — each with its stages, the stage markers found on disk
//! merged in, and its diagnostics files as checked against `logs/`.

use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{SCHEMA_VERSION, WorldFile};
use crate::engine::{Deployment, DeploymentStatus, Engine, Stage};
use crate::store::deployment_files::{DiagnosticFile, DiskFacts};
use crate::time::{Ts, duration_seconds};

/// The file as a whole: borrowed when written, owned when read back.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct DeploymentsFile<'a> {
    pub schema_version: u32,
    pub as_of: Option<Ts>,
    pub deployments: BTreeMap<Cow<'a, str>, DeploymentView<'a>>,
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
    pub stages: Vec<Stage>,
    pub diagnostics: Vec<DiagnosticFile>,
}

pub(super) fn project<'a>(engine: &'a Engine, disk: &DiskFacts) -> DeploymentsFile<'a> {
    DeploymentsFile {
        schema_version: SCHEMA_VERSION,
        as_of: engine.clock(),
        deployments: engine
            .deployments()
            .iter_unordered()
            .map(|(id, run)| (Cow::Borrowed(id.as_str()), deployment_view(id, run, disk)))
            .collect(),
    }
}

pub(super) fn deployment_view<'a>(id: &'a str, run: &'a Deployment, disk: &DiskFacts) -> DeploymentView<'a> {
    let mut stages = run.stages.clone();
    if let Some(markers) = disk.markers.get(id) {
        for marker in markers {
            if !stages.iter().any(|s| s.name == marker.name) {
                stages.push(marker.clone());
            }
        }
    }
    // In time order; stages without a time (markers without `ts`) last, by
    // name. The sort is stable, so equal times keep the order of the events.
    stages.sort_by(|a, b| match (a.ts, b.ts) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.name.cmp(&b.name),
    });
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
