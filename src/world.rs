//! Projection of the engine state to the world files (SPEC §4).
//!
//! Pure: the same engine, inventory, config and disk facts always give the
//! same bytes — keys sorted, fields in a fixed order, pretty-printed with a
//! trailing newline. Facts about the run itself never appear here.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::Serialize;

use crate::config::Config;
use crate::engine::{
    BreakerState, Deployment, DeploymentStatus, Engine, Health, Incident, IncidentStatus, NodeStatus, PROBE_BUDGET,
    Pending, ProbeState, ServiceState, ServiceStatus, Stage, Transition, probe_runs_within_window, probes_of,
    service_key,
};
use crate::event::Outcome;
use crate::inventory::Inventory;
use crate::store::deployment_files::{DiagnosticFile, DiskFacts};
use crate::time::{Ts, duration_seconds};

pub const SCHEMA_VERSION: u32 = 1;

/// The world files, in the order they are written.
pub const FILES: [&str; 5] =
    ["nodes.json", "services.json", "deployments.json", "incidents.json", "runtime-summary.json"];

#[derive(Serialize)]
struct File<'a, T: Serialize> {
    schema_version: u32,
    as_of: Option<Ts>,
    #[serde(flatten)]
    body: BTreeMap<&'a str, T>,
}

#[derive(Serialize)]
struct NodeView<'a> {
    roles: &'a [String],
    status: NodeStatus,
    last_seen: Option<Ts>,
    services: Vec<&'a str>,
    active_incidents: Vec<&'a str>,
}

#[derive(Serialize)]
struct DeploymentView<'a> {
    correlation_id: &'a str,
    node: Option<&'a str>,
    service: Option<&'a str>,
    status: DeploymentStatus,
    started_at: Option<Ts>,
    ended_at: Option<Ts>,
    duration_s: Option<serde_json::Number>,
    stages: Vec<Stage>,
    diagnostics: Vec<DiagnosticFile>,
}

/// A service in `services.json`: its state, then what its probes say.
#[derive(Serialize)]
struct ServiceView<'a> {
    #[serde(flatten)]
    state: &'a ServiceState,
    checks: Checks,
    /// Per probe: its circuit breaker.
    breaker: BTreeMap<&'a str, BreakerView<'a>>,
    /// Per probe: its debounced status, pending change and last result.
    probes: BTreeMap<&'a str, ProbeView<'a>>,
}

/// Uptime statistics over a service's executed checks (skipped runs are not
/// checks); `successful` counts `ok` and `warning`.
#[derive(Serialize)]
struct Checks {
    total: u64,
    successful: u64,
    uptime_percentage: Option<f64>,
    consecutive_failures: u64,
    last_latency_ms: Option<u64>,
}

#[derive(Serialize)]
struct BreakerView<'a> {
    state: BreakerState,
    since: Option<Ts>,
    consecutive_failures: u32,
    consecutive_successes: u32,
    reason: Option<&'a str>,
    transitions: &'a VecDeque<Transition>,
}

#[derive(Serialize)]
struct ProbeView<'a> {
    status: Health,
    since: Option<Ts>,
    pending: Option<&'a Pending>,
    last_outcome: Option<Outcome>,
    last_checked_at: Option<Ts>,
    last_detail: Option<&'a str>,
    total: u64,
    successful: u64,
    skipped: u64,
}

fn service_view<'a>(probes: &'a BTreeMap<String, ProbeState>, state: &'a ServiceState) -> ServiceView<'a> {
    let probes: Vec<&ProbeState> = probes_of(probes, &state.node, &state.service).collect();
    let total: u64 = probes.iter().map(|p| p.total).sum();
    let successful: u64 = probes.iter().map(|p| p.successful).sum();
    let latest = probes.iter().filter(|p| p.last_checked_at.is_some()).max_by_key(|p| p.last_checked_at);
    ServiceView {
        state,
        checks: Checks {
            total,
            successful,
            uptime_percentage: uptime(successful, total),
            consecutive_failures: probes.iter().map(|p| p.consecutive_failures).max().unwrap_or(0),
            last_latency_ms: latest.and_then(|p| p.last_latency_ms),
        },
        breaker: probes
            .iter()
            .map(|p| {
                let b = &p.breaker;
                (
                    p.probe.as_str(),
                    BreakerView {
                        state: b.state,
                        since: b.since,
                        consecutive_failures: b.consecutive_failures,
                        consecutive_successes: b.consecutive_successes,
                        reason: b.last_reason(),
                        transitions: &b.transitions,
                    },
                )
            })
            .collect(),
        probes: probes
            .iter()
            .map(|p| {
                (
                    p.probe.as_str(),
                    ProbeView {
                        status: p.debounce.status,
                        since: p.debounce.since,
                        pending: p.debounce.pending.as_ref(),
                        last_outcome: p.last_outcome,
                        last_checked_at: p.last_checked_at,
                        last_detail: p.last_detail.as_deref(),
                        total: p.total,
                        successful: p.successful,
                        skipped: p.skipped,
                    },
                )
            })
            .collect(),
    }
}

/// successful / total × 100, rounded to 2 decimals; null before any check.
pub fn uptime(successful: u64, total: u64) -> Option<f64> {
    (total > 0).then(|| (successful as f64 * 10_000.0 / total as f64).round() / 100.0)
}

#[derive(Serialize, Default)]
struct BreakerCounts {
    closed: usize,
    open: usize,
    half_open: usize,
}

#[derive(Serialize)]
struct BudgetView {
    limit: u32,
    used: usize,
    exhausted: bool,
}

#[derive(Serialize, Default)]
struct NodeCounts {
    total: usize,
    up: usize,
    down: usize,
    stale: usize,
    unknown: usize,
}

#[derive(Serialize, Default)]
struct ServiceCounts {
    total: usize,
    healthy: usize,
    degraded: usize,
    unhealthy: usize,
    unknown: usize,
    circuit_open: usize,
}

#[derive(Serialize, Default)]
struct DeploymentCounts {
    running: usize,
    succeeded: usize,
    failed: usize,
}

#[derive(Serialize)]
struct Summary<'a> {
    schema_version: u32,
    as_of: Option<Ts>,
    overall_health: &'static str,
    nodes: NodeCounts,
    services: ServiceCounts,
    incidents: BTreeMap<&'static str, usize>,
    deployments: DeploymentCounts,
    active_incidents: Vec<&'a str>,
    running_deployments: Vec<&'a str>,
    breakers: BreakerCounts,
    budgets: BTreeMap<&'static str, BudgetView>,
    events: &'a crate::engine::EventStats,
    counters: &'a crate::engine::Counters,
}

/// The status of a node as of the clock: `up` turns `stale` when its last
/// heartbeat is older than `stale_after_s`.
pub fn node_status(engine: &Engine, name: &str, config: &Config) -> NodeStatus {
    let Some(state) = engine.nodes().get(name) else { return NodeStatus::Unknown };
    match (state.status, state.last_seen, engine.clock()) {
        (NodeStatus::Up, Some(seen), Some(clock)) if seen < clock.minus_seconds(config.nodes.stale_after_s) => {
            NodeStatus::Stale
        }
        (status, _, _) => status,
    }
}

/// All services: those events spoke of, plus those only probed so far or
/// only declared in the inventory, shown as `unknown` until a status is
/// known.
pub fn all_services(engine: &Engine, inventory: &Inventory) -> BTreeMap<String, ServiceState> {
    let mut services = engine.services().clone();
    let from_probes = engine.probes().values().map(|p| (p.node.clone(), p.service.clone()));
    let declared = inventory.services.iter().flat_map(|(node, names)| names.iter().map(|n| (node.clone(), n.clone())));
    for (node, name) in from_probes.chain(declared) {
        services.entry(service_key(&node, &name)).or_insert_with(|| ServiceState {
            node: node.clone(),
            service: name.clone(),
            status: ServiceStatus::Unknown,
            since: None,
            last_event: None,
            active_incident: None,
        });
    }
    services
}

/// Renders every world file; the result is what `FILES` names, in order.
pub fn project(
    engine: &Engine,
    inventory: &Inventory,
    config: &Config,
    disk: &DiskFacts,
) -> Vec<(&'static str, Vec<u8>)> {
    let services = all_services(engine, inventory);
    // Probes declared in the inventory show (as `unknown`) before their first run.
    let mut probes = engine.probes().clone();
    for declared in &inventory.probes {
        probes.entry(declared.key()).or_insert_with(|| ProbeState {
            node: declared.node.clone(),
            service: declared.service.clone(),
            probe: declared.name.clone(),
            ..ProbeState::default()
        });
    }
    let as_of = engine.clock();

    let mut node_names: BTreeSet<&str> = inventory.nodes.keys().map(String::as_str).collect();
    node_names.extend(engine.nodes().keys().map(String::as_str));
    node_names.extend(services.values().map(|s| s.node.as_str()));
    let no_roles: Vec<String> = Vec::new();
    let mut nodes = BTreeMap::new();
    for name in &node_names {
        let state = engine.nodes().get(*name);
        nodes.insert(
            *name,
            NodeView {
                roles: inventory.nodes.get(*name).unwrap_or(&no_roles),
                status: node_status(engine, name, config),
                last_seen: state.and_then(|s| s.last_seen),
                services: services.values().filter(|s| s.node == *name).map(|s| s.service.as_str()).collect(),
                active_incidents: engine
                    .incidents()
                    .values()
                    .filter(|i| i.node == *name && i.status == IncidentStatus::Active)
                    .map(|i| i.id.as_str())
                    .collect(),
            },
        );
    }

    let service_views: BTreeMap<&str, ServiceView> =
        services.iter().map(|(k, v)| (k.as_str(), service_view(&probes, v))).collect();
    let incidents: BTreeMap<&str, &Incident> = engine.incidents().iter().map(|(k, v)| (k.as_str(), v)).collect();
    let deployments: BTreeMap<&str, DeploymentView> =
        engine.deployments().iter().map(|(id, run)| (id.as_str(), deployment_view(id, run, disk))).collect();

    let summary = summarize(engine, config, &probes, &nodes, &services);
    vec![
        ("nodes.json", render(&File { schema_version: SCHEMA_VERSION, as_of, body: [("nodes", nodes)].into() })),
        (
            "services.json",
            render(&File { schema_version: SCHEMA_VERSION, as_of, body: [("services", service_views)].into() }),
        ),
        (
            "deployments.json",
            render(&File { schema_version: SCHEMA_VERSION, as_of, body: [("deployments", deployments)].into() }),
        ),
        (
            "incidents.json",
            render(&File { schema_version: SCHEMA_VERSION, as_of, body: [("incidents", incidents)].into() }),
        ),
        ("runtime-summary.json", render(&summary)),
    ]
}

fn deployment_view<'a>(id: &'a str, run: &'a Deployment, disk: &DiskFacts) -> DeploymentView<'a> {
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
        correlation_id: id,
        node: run.node.as_deref(),
        service: run.service.as_deref(),
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

fn summarize<'a>(
    engine: &'a Engine,
    config: &Config,
    probes: &BTreeMap<String, ProbeState>,
    nodes: &BTreeMap<&str, NodeView>,
    services: &BTreeMap<String, ServiceState>,
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
    let active_incidents: Vec<&str> =
        engine.incidents().values().filter(|i| i.status == IncidentStatus::Active).map(|i| i.id.as_str()).collect();
    let resolved = engine.incidents().len() - active_incidents.len();
    Summary {
        schema_version: SCHEMA_VERSION,
        as_of: engine.clock(),
        overall_health: overall_health(&service_counts),
        nodes: node_counts,
        services: service_counts,
        incidents: [("active", active_incidents.len()), ("resolved", resolved)].into(),
        deployments: deployment_counts,
        active_incidents,
        running_deployments: engine
            .deployments()
            .iter()
            .filter(|(_, run)| run.status == DeploymentStatus::Running)
            .map(|(id, _)| id.as_str())
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
            PROBE_BUDGET,
            BudgetView {
                limit: config.budgets.probe_runs_per_minute,
                used: engine.clock().map_or(0, |clock| probe_runs_within_window(engine.probe_runs(), clock)),
                exhausted: engine.budgets_exhausted().contains(PROBE_BUDGET),
            },
        )]
        .into(),
        events: engine.stats(),
        counters: engine.counters(),
    }
}

/// `healthy` when every service that has reported is healthy, `unhealthy`
/// when none is, `degraded` in between, and `unknown` while no service has
/// reported at all (services only declared in the inventory do not count).
fn overall_health(counts: &ServiceCounts) -> &'static str {
    let reported = counts.total - counts.unknown;
    if reported == 0 {
        "unknown"
    } else if counts.healthy == reported {
        "healthy"
    } else if counts.healthy == 0 {
        "unhealthy"
    } else {
        "degraded"
    }
}

/// Pretty JSON with two-space indentation and a trailing newline.
pub fn render<T: Serialize>(value: &T) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}").into_bytes());
    bytes.push(b'\n');
    bytes
}
