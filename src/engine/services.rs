//! Service health from failure and recovery events, and the incidents they
//! open and resolve.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Engine;
use super::incidents::{self, Occurrence};
use crate::event::{Event, Name, Severity};
use crate::time::Ts;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServiceStatus {
    Healthy,
    Degraded,
    Unhealthy,
    Unknown,
    CircuitOpen,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ServiceState {
    pub node: String,
    pub service: String,
    pub status: ServiceStatus,
    /// When `status` last changed; null while unknown.
    pub since: Option<Ts>,
    pub last_event: Option<Ts>,
    pub active_incident: Option<String>,
}

/// Services are keyed `node/service` in the engine and in `services.json`:
/// a [`Name`], the engine's key type (`engine::Keyed`), so that the key made
/// for every service event is inline (no allocation) when short.
pub fn service_key(node: &str, service: &str) -> Name {
    // Pushed rather than `format!`ed: made for every service event, where
    // the formatting machinery was ~2 % of the busy rebuild's fold.
    let mut key = Name::with_capacity(node.len() + 1 + service.len());
    key.push_str(node);
    key.push('/');
    key.push_str(service);
    key
}

fn entry<'a>(engine: &'a mut Engine, node: &str, service: &str) -> &'a mut ServiceState {
    entry_of(engine, service_key(node, service), node, service)
}

/// The state of the service `key` (`node/service`), made when new.
fn entry_of<'a>(engine: &'a mut Engine, key: Name, node: &str, service: &str) -> &'a mut ServiceState {
    engine.services.entry(key).or_insert_with(|| new_state(node, service))
}

fn new_state(node: &str, service: &str) -> ServiceState {
    ServiceState {
        node: node.to_string(),
        service: service.to_string(),
        status: ServiceStatus::Unknown,
        since: None,
        last_event: None,
        active_incident: None,
    }
}

fn set_status(state: &mut ServiceState, status: ServiceStatus, ts: Ts) {
    if state.status != status {
        state.status = status;
        state.since = Some(ts);
    }
    state.last_event = Some(state.last_event.map_or(ts, |last| last.max(ts)));
}

/// `service_unhealthy` / `healthcheck_failed`: the service is failing; its
/// active incident is opened or updated.
pub(super) fn failure(engine: &mut Engine, event: &Event) {
    let (Some(node), Some(service)) = (event.node.as_deref(), event.service.as_deref()) else { return };
    let occurrence = Occurrence {
        ts: event.ts,
        severity: event.severity.unwrap_or(Severity::Error),
        correlation_id: event.correlation_id.as_deref(),
    };
    fail(engine, node, service, &occurrence);
}

/// A failure of a service, from an event or a debounced probe transition.
pub(super) fn fail(engine: &mut Engine, node: &str, service: &str, occurrence: &Occurrence) {
    // One key for both look-ups of the service, copied only for a service
    // seen for the first time (a failure event wrote it twice).
    let key = service_key(node, service);
    // Taken, not cloned (a copy of the id per failure event): it is put
    // back below, or the new incident's id takes its place.
    let active = match engine.services.get_mut(&key) {
        Some(state) => state.active_incident.take(),
        None => {
            engine.services.insert(key.clone(), new_state(node, service));
            None
        }
    };
    // One look-up of the active incident (its id is long and shares its
    // prefix with its neighbours': `memcmp` down the tree), not two.
    let id = match active {
        Some(id) if incidents::record_failure(engine, &id, occurrence) => id,
        _ => incidents::open(engine, node, service, occurrence),
    };
    // Incidents leave the service map as it was.
    let state = entry_of(engine, key, node, service);
    set_status(state, ServiceStatus::Unhealthy, occurrence.ts);
    state.active_incident = Some(id);
}

/// `service_healthy` / `healthcheck_passed` (a passing check alone does not
/// resolve) and `service_recovered` (which does).
pub(super) fn healthy(engine: &mut Engine, event: &Event, resolves: bool) {
    let (Some(node), Some(service)) = (event.node.as_deref(), event.service.as_deref()) else { return };
    recover(engine, node, service, event.ts, resolves);
}

/// The service is healthy; with `resolves`, its active incident is resolved.
pub(super) fn recover(engine: &mut Engine, node: &str, service: &str, ts: Ts, resolves: bool) {
    let state = entry(engine, node, service);
    set_status(state, ServiceStatus::Healthy, ts);
    if resolves && let Some(id) = state.active_incident.take() {
        incidents::resolve(engine, &id, ts);
    }
}

/// A status that opens or resolves nothing (`degraded`, `circuit_open`).
pub(super) fn mark(engine: &mut Engine, node: &str, service: &str, status: ServiceStatus, ts: Ts) {
    set_status(entry(engine, node, service), status, ts);
}

#[cfg(test)]
mod tests {
    use super::super::given::given;
    use super::*;

    #[test]
    fn a_passing_check_does_not_resolve_the_incident() {
        let engine = given(&[
            r#"{"ts":"2026-05-12T12:05:00Z","type":"healthcheck_failed","node":"n","service":"s"}"#,
            r#"{"ts":"2026-05-12T12:06:00Z","type":"healthcheck_passed","node":"n","service":"s"}"#,
        ]);
        let state = &engine.services["n/s"];
        assert_eq!(state.status, ServiceStatus::Healthy);
        assert_eq!(state.since, Ts::parse("2026-05-12T12:06:00Z").ok());
        assert!(state.active_incident.is_some());
    }

    #[test]
    fn since_moves_only_when_status_changes() {
        let engine = given(&[
            r#"{"ts":"2026-05-12T12:05:00Z","type":"service_unhealthy","node":"n","service":"s"}"#,
            r#"{"ts":"2026-05-12T12:07:00Z","type":"service_unhealthy","node":"n","service":"s"}"#,
        ]);
        let state = &engine.services["n/s"];
        assert_eq!(state.since, Ts::parse("2026-05-12T12:05:00Z").ok());
        assert_eq!(state.last_event, Ts::parse("2026-05-12T12:07:00Z").ok());
    }
}
