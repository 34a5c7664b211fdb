//! `services.json`: every service with its state, uptime statistics, and
//! what each of its probes says (debounced status and circuit breaker).

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{SCHEMA_VERSION, WorldFile};
use crate::engine::{
    BreakerState, Engine, Health, Pending, ProbeState, ServiceState, ServiceStatus, Transition, probes_of, service_key,
};
use crate::event::Outcome;
use crate::inventory::Inventory;
use crate::time::Ts;

/// The file as a whole: borrowed when written, owned when read back.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct ServicesFile<'a> {
    pub schema_version: u32,
    pub as_of: Option<Ts>,
    pub services: BTreeMap<Cow<'a, str>, ServiceView<'a>>,
}

impl WorldFile for ServicesFile<'_> {
    const NAME: &'static str = "services.json";
}

/// A service in `services.json`: its state, then what its probes say.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct ServiceView<'a> {
    #[serde(flatten)]
    pub state: Cow<'a, ServiceState>,
    pub checks: Checks,
    /// Per probe: its circuit breaker.
    pub breaker: BTreeMap<Cow<'a, str>, BreakerView<'a>>,
    /// Per probe: its debounced status, pending change and last result.
    pub probes: BTreeMap<Cow<'a, str>, ProbeView<'a>>,
}

/// Uptime statistics over a service's executed checks (skipped runs are not
/// checks); `successful` counts `ok` and `warning`.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct Checks {
    pub total: u64,
    pub successful: u64,
    pub uptime_percentage: Option<f64>,
    pub consecutive_failures: u64,
    pub last_latency_ms: Option<u64>,
}

#[derive(Serialize, Deserialize, JsonSchema)]
pub struct BreakerView<'a> {
    pub state: BreakerState,
    pub since: Option<Ts>,
    pub consecutive_failures: u32,
    pub consecutive_successes: u32,
    pub reason: Option<Cow<'a, str>>,
    pub transitions: Cow<'a, VecDeque<Transition>>,
}

#[derive(Serialize, Deserialize, JsonSchema)]
pub struct ProbeView<'a> {
    pub status: Health,
    pub since: Option<Ts>,
    pub pending: Option<Cow<'a, Pending>>,
    pub last_outcome: Option<Outcome>,
    pub last_checked_at: Option<Ts>,
    pub last_detail: Option<Cow<'a, str>>,
    pub total: u64,
    pub successful: u64,
    pub skipped: u64,
}

/// All services: those events spoke of, plus those only probed so far or
/// only declared in the inventory, shown as `unknown` until a status is
/// known.
pub fn all_services(engine: &Engine, inventory: &Inventory) -> BTreeMap<String, ServiceState> {
    let mut services: BTreeMap<String, ServiceState> =
        engine.services().iter_unordered().map(|(key, state)| (key.to_string(), state.clone())).collect();
    let from_probes = engine.probes().values().map(|p| (p.node.clone(), p.service.clone()));
    let declared = inventory.services.iter().flat_map(|(node, names)| names.iter().map(|n| (node.clone(), n.clone())));
    for (node, name) in from_probes.chain(declared) {
        services.entry(service_key(&node, &name).into()).or_insert_with(|| ServiceState {
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

/// All probes: those that ran, plus those declared in the inventory, which
/// show (as `unknown`) before their first run.
pub(super) fn all_probes(engine: &Engine, inventory: &Inventory) -> BTreeMap<String, ProbeState> {
    let mut probes = engine.probes().clone();
    for declared in &inventory.probes {
        probes.entry(declared.key()).or_insert_with(|| ProbeState {
            node: declared.node.clone(),
            service: declared.service.clone(),
            probe: declared.name.clone(),
            ..ProbeState::default()
        });
    }
    probes
}

pub(super) fn project<'a>(
    engine: &Engine,
    probes: &'a BTreeMap<String, ProbeState>,
    services: &'a BTreeMap<String, ServiceState>,
) -> ServicesFile<'a> {
    ServicesFile {
        schema_version: SCHEMA_VERSION,
        as_of: engine.clock(),
        services: services.iter().map(|(k, v)| (Cow::Borrowed(k.as_str()), service_view(probes, v))).collect(),
    }
}

fn service_view<'a>(probes: &'a BTreeMap<String, ProbeState>, state: &'a ServiceState) -> ServiceView<'a> {
    let probes: Vec<&ProbeState> = probes_of(probes, &state.node, &state.service).collect();
    let total: u64 = probes.iter().map(|p| p.total).sum();
    let successful: u64 = probes.iter().map(|p| p.successful).sum();
    let latest = probes.iter().filter(|p| p.last_checked_at.is_some()).max_by_key(|p| p.last_checked_at);
    ServiceView {
        state: Cow::Borrowed(state),
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
                    Cow::Borrowed(p.probe.as_str()),
                    BreakerView {
                        state: b.state,
                        since: b.since,
                        consecutive_failures: b.consecutive_failures,
                        consecutive_successes: b.consecutive_successes,
                        reason: b.last_reason().map(Cow::Borrowed),
                        transitions: Cow::Borrowed(&b.transitions),
                    },
                )
            })
            .collect(),
        probes: probes
            .iter()
            .map(|p| {
                (
                    Cow::Borrowed(p.probe.as_str()),
                    ProbeView {
                        status: p.debounce.status,
                        since: p.debounce.since,
                        pending: p.debounce.pending.as_ref().map(Cow::Borrowed),
                        last_outcome: p.last_outcome,
                        last_checked_at: p.last_checked_at,
                        last_detail: p.last_detail.as_deref().map(Cow::Borrowed),
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
