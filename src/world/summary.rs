//! `runtime-summary.json`: the world at a glance — counts by status, the
//! overall health, breakers, budgets, alerts and the event statistics.
//! `status` reads it first.

use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::nodes::NodeView;
use super::{SCHEMA_VERSION, WorldFile};
use crate::config::Config;
use crate::engine::alerts::AlertStatus;
use crate::engine::{
    BreakerState, Counters, DeploymentStatus, Engine, EventStats, Incident, NodeStatus, PROBE_BUDGET, ProbeState,
    ServiceState, ServiceStatus, probe_runs_within_window,
};
use crate::event::Severity;
use crate::time::Ts;

/// The file as a whole: borrowed when written, owned when read back.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct Summary<'a> {
    pub schema_version: u32,
    pub as_of: Option<Ts>,
    pub overall_health: OverallHealth,
    pub nodes: NodeCounts,
    pub services: ServiceCounts,
    pub incidents: IncidentCounts,
    pub deployments: DeploymentCounts,
    pub active_incidents: Vec<Cow<'a, str>>,
    pub running_deployments: Vec<Cow<'a, str>>,
    pub breakers: BreakerCounts,
    pub budgets: BTreeMap<Cow<'a, str>, BudgetView>,
    /// Absent from worlds written before alerts existed; read as zeros.
    #[serde(default)]
    pub alerts: AlertCounts,
    pub events: Cow<'a, EventStats>,
    pub counters: Cow<'a, Counters>,
}

impl WorldFile for Summary<'_> {
    const NAME: &'static str = "runtime-summary.json";
}

/// `healthy` when every service that has reported is healthy, `unhealthy`
/// when none is, `degraded` in between, and `unknown` while no service has
/// reported at all (services only declared in the inventory do not count).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OverallHealth {
    Healthy,
    Degraded,
    Unhealthy,
    Unknown,
}

#[derive(Serialize, Deserialize, JsonSchema, Default)]
pub struct NodeCounts {
    pub total: usize,
    pub up: usize,
    pub down: usize,
    pub stale: usize,
    pub unknown: usize,
}

#[derive(Serialize, Deserialize, JsonSchema, Default)]
pub struct ServiceCounts {
    pub total: usize,
    pub healthy: usize,
    pub degraded: usize,
    pub unhealthy: usize,
    pub unknown: usize,
    pub circuit_open: usize,
}

/// The incidents of `incidents.json`, the hot view: resolved ones are the
/// last `world.keep_finished` per node/service (older ones are counted in
/// no file but `world/history/`).
#[derive(Serialize, Deserialize, JsonSchema, Default)]
pub struct IncidentCounts {
    pub active: usize,
    pub resolved: usize,
}

/// The runs of `deployments.json`, the hot view: finished ones are the last
/// `world.keep_finished` per node/service.
#[derive(Serialize, Deserialize, JsonSchema, Default)]
pub struct DeploymentCounts {
    pub running: usize,
    pub succeeded: usize,
    pub failed: usize,
}

#[derive(Serialize, Deserialize, JsonSchema, Default)]
pub struct BreakerCounts {
    pub closed: usize,
    pub open: usize,
    pub half_open: usize,
}

/// The alerts of `alerts.json` by status, the firing ones by severity, and
/// the notifications decided but waiting (on a cooldown or the budget).
#[derive(Serialize, Deserialize, JsonSchema, Default)]
pub struct AlertCounts {
    pub pending: usize,
    pub firing: usize,
    pub resolved: usize,
    pub firing_by_severity: SeverityCounts,
    /// Pending and firing alerts whose notifications are suppressed.
    pub suppressed: usize,
    pub notifications_waiting: usize,
}

/// Every severity, most severe first, so the shape never changes.
#[derive(Serialize, Deserialize, JsonSchema, Default)]
pub struct SeverityCounts {
    pub critical: usize,
    pub error: usize,
    pub warning: usize,
    pub info: usize,
}

#[derive(Serialize, Deserialize, JsonSchema)]
pub struct BudgetView {
    pub limit: u32,
    pub used: usize,
    pub exhausted: bool,
}

pub(super) fn summarize<'a>(
    engine: &'a Engine,
    config: &Config,
    probes: &BTreeMap<String, ProbeState>,
    nodes: &BTreeMap<Cow<str>, NodeView>,
    services: &BTreeMap<String, ServiceState>,
    active: &[&'a Incident],
) -> Summary<'a> {
    let mut node_counts = NodeCounts { total: nodes.len(), ..NodeCounts::default() };
    for node in nodes.values() {
        match node.status {
            NodeStatus::Up => node_counts.up += 1,
            NodeStatus::Down => node_counts.down += 1,
            NodeStatus::Stale => node_counts.stale += 1,
            NodeStatus::Unknown => node_counts.unknown += 1,
        }
    }
    let mut service_counts = ServiceCounts { total: services.len(), ..ServiceCounts::default() };
    for service in services.values() {
        match service.status {
            ServiceStatus::Healthy => service_counts.healthy += 1,
            ServiceStatus::Degraded => service_counts.degraded += 1,
            ServiceStatus::Unhealthy => service_counts.unhealthy += 1,
            ServiceStatus::Unknown => service_counts.unknown += 1,
            ServiceStatus::CircuitOpen => service_counts.circuit_open += 1,
        }
    }
    let mut deployment_counts = DeploymentCounts::default();
    for run in engine.deployments().values() {
        match run.status {
            DeploymentStatus::Running => deployment_counts.running += 1,
            DeploymentStatus::Succeeded => deployment_counts.succeeded += 1,
            DeploymentStatus::Failed => deployment_counts.failed += 1,
        }
    }
    let active_incidents: Vec<Cow<str>> = active.iter().map(|i| Cow::Borrowed(i.id.as_str())).collect();
    let resolved = engine.incidents().len() - active_incidents.len();
    Summary {
        schema_version: SCHEMA_VERSION,
        as_of: engine.clock(),
        overall_health: overall_health(&service_counts),
        nodes: node_counts,
        services: service_counts,
        incidents: IncidentCounts { active: active_incidents.len(), resolved },
        deployments: deployment_counts,
        active_incidents,
        running_deployments: engine
            .deployments()
            .sorted()
            .into_iter()
            .filter(|(_, run)| run.status == DeploymentStatus::Running)
            .map(|(id, _)| Cow::Borrowed(id.as_str()))
            .collect(),
        breakers: {
            let mut counts = BreakerCounts::default();
            for probe in probes.values() {
                match probe.breaker.state {
                    BreakerState::Closed => counts.closed += 1,
                    BreakerState::Open => counts.open += 1,
                    BreakerState::HalfOpen => counts.half_open += 1,
                }
            }
            counts
        },
        budgets: [(
            Cow::Borrowed(PROBE_BUDGET),
            BudgetView {
                limit: config.budgets.probe_runs_per_minute,
                used: engine.clock().map_or(0, |clock| probe_runs_within_window(engine.probe_runs(), clock)),
                exhausted: engine.budgets_exhausted().contains(PROBE_BUDGET),
            },
        )]
        .into(),
        alerts: alert_counts(engine),
        events: Cow::Borrowed(engine.stats()),
        counters: Cow::Borrowed(engine.counters()),
    }
}

fn alert_counts(engine: &Engine) -> AlertCounts {
    let mut counts = AlertCounts { notifications_waiting: engine.notifications_held(), ..AlertCounts::default() };
    for alert in engine.alerts().values() {
        match alert.status {
            AlertStatus::Pending => counts.pending += 1,
            AlertStatus::Firing => counts.firing += 1,
            AlertStatus::Resolved => counts.resolved += 1,
        }
        if alert.status == AlertStatus::Firing {
            let by = &mut counts.firing_by_severity;
            match alert.severity {
                Severity::Critical => by.critical += 1,
                Severity::Error => by.error += 1,
                Severity::Warning => by.warning += 1,
                Severity::Info => by.info += 1,
            }
        }
        if alert.status != AlertStatus::Resolved && alert.suppressed_by.is_some() {
            counts.suppressed += 1;
        }
    }
    counts
}

pub fn overall_health(counts: &ServiceCounts) -> OverallHealth {
    let reported = counts.total - counts.unknown;
    if reported == 0 {
        OverallHealth::Unknown
    } else if counts.healthy == reported {
        OverallHealth::Healthy
    } else if counts.healthy == 0 {
        OverallHealth::Unhealthy
    } else {
        OverallHealth::Degraded
    }
}
