//! Incident detection, correlation and resolution (SPEC §4).

use std::collections::VecDeque;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Engine;
use crate::event::{Name, Severity};
use crate::time::Ts;

/// Failure timestamps kept per incident.
pub const MAX_INCIDENT_EVENTS: usize = 50;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IncidentStatus {
    Active,
    Resolved,
}

/// Field order is the order of `incidents.json` (SPEC §4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Incident {
    pub id: String,
    // Short names, kept inline as the events hold them (issue 11). A plain
    // comment: a doc comment would be the schema's description.
    #[schemars(with = "String")]
    pub node: Name,
    #[schemars(with = "String")]
    pub service: Name,
    pub status: IncidentStatus,
    pub severity: Severity,
    pub started_at: Ts,
    pub last_occurrence: Ts,
    pub occurrence_count: u64,
    pub events: VecDeque<Ts>,
    pub correlation_id: Option<String>,
    pub resolved_at: Option<Ts>,
}

/// One failure of a service: from a failure event (whose severity defaults
/// to `error`) or from a debounced probe transition.
pub struct Occurrence<'a> {
    pub ts: Ts,
    pub severity: Severity,
    pub correlation_id: Option<&'a str>,
}

/// Opens a new incident; the id is `inc-<unix seconds>-<node>-<service>`,
/// with `-2`, `-3`… appended when an earlier incident of the same service
/// started in the same second (in the state, or gone to the history within
/// retention).
pub(super) fn open(engine: &mut Engine, node: &str, service: &str, event: &Occurrence) -> String {
    let base = format!("inc-{}-{node}-{service}", event.ts.unix_seconds());
    let mut id = base.clone();
    let mut n = 2;
    while engine.incidents.contains_key(&id) || engine.finished.incident_left(&id) {
        id = format!("{base}-{n}");
        n += 1;
    }
    engine.incidents.insert(
        id.as_str().into(),
        Box::new(Incident {
            id: id.clone(),
            node: node.into(),
            service: service.into(),
            status: IncidentStatus::Active,
            severity: event.severity,
            started_at: event.ts,
            last_occurrence: event.ts,
            occurrence_count: 1,
            events: VecDeque::from([event.ts]),
            correlation_id: event.correlation_id.map(str::to_string),
            resolved_at: None,
        }),
    );
    id
}

/// Counts a failure into the incident `id`; false when the state holds no
/// such incident (it left the hot view), which the failure then opens anew.
pub(super) fn record_failure(engine: &mut Engine, id: &str, event: &Occurrence) -> bool {
    let Some(incident) = engine.incidents.get_mut(id) else { return false };
    incident.severity = incident.severity.max(event.severity);
    incident.last_occurrence = incident.last_occurrence.max(event.ts);
    incident.occurrence_count += 1;
    incident.events.push_back(event.ts);
    while incident.events.len() > MAX_INCIDENT_EVENTS {
        incident.events.pop_front();
    }
    true
}

pub(super) fn resolve(engine: &mut Engine, id: &str, at: Ts) {
    if let Some(incident) = engine.incidents.get_mut(id) {
        incident.status = IncidentStatus::Resolved;
        incident.resolved_at = Some(at);
        engine.finished.incident_resolved(incident, at);
    }
}

#[cfg(test)]
mod tests {
    use super::super::given::given;
    use super::*;

    const SPEC_STORY: [&str; 3] = [
        r#"{"ts":"2026-05-12T12:05:00Z","type":"service_unhealthy","node":"saturn","service":"mosquitto","correlation_id":"hc-1","severity":"error","message":"port 1883 refused"}"#,
        r#"{"ts":"2026-05-12T12:06:00Z","type":"healthcheck_failed","node":"saturn","service":"mosquitto","correlation_id":"hc-2","severity":"warning"}"#,
        r#"{"ts":"2026-05-12T12:10:00Z","type":"service_recovered","node":"saturn","service":"mosquitto"}"#,
    ];

    #[test]
    fn the_spec_incident_comes_out_exactly() {
        let engine = given(&SPEC_STORY);
        let json = serde_json::to_string(&engine.incidents).unwrap();
        assert_eq!(
            json,
            r#"{"inc-1778587500-saturn-mosquitto":{"id":"inc-1778587500-saturn-mosquitto","node":"saturn","service":"mosquitto","status":"resolved","severity":"error","started_at":"2026-05-12T12:05:00Z","last_occurrence":"2026-05-12T12:06:00Z","occurrence_count":2,"events":["2026-05-12T12:05:00Z","2026-05-12T12:06:00Z"],"correlation_id":"hc-1","resolved_at":"2026-05-12T12:10:00Z"}}"#
        );
    }

    #[test]
    fn a_failure_after_resolution_opens_a_new_incident() {
        let mut lines = SPEC_STORY.to_vec();
        lines.push(r#"{"ts":"2026-05-12T12:20:00Z","type":"service_unhealthy","node":"saturn","service":"mosquitto","severity":"critical"}"#);
        let engine = given(&lines);
        assert_eq!(engine.incidents.len(), 2);
        let new = &engine.incidents["inc-1778588400-saturn-mosquitto"];
        assert_eq!(new.status, IncidentStatus::Active);
        assert_eq!(new.severity, Severity::Critical);
        assert_eq!(new.correlation_id, None);
        assert_eq!(engine.services["saturn/mosquitto"].active_incident.as_deref(), Some(new.id.as_str()));
    }

    #[test]
    fn the_correlation_id_is_the_first_failures_or_null() {
        let engine = given(&[
            r#"{"ts":"2026-05-12T12:05:00Z","type":"service_unhealthy","node":"n","service":"s"}"#,
            r#"{"ts":"2026-05-12T12:06:00Z","type":"service_unhealthy","node":"n","service":"s","correlation_id":"hc-2"}"#,
        ]);
        assert_eq!(engine.incidents["inc-1778587500-n-s"].correlation_id, None);
    }

    #[test]
    fn incidents_in_the_same_second_get_distinct_ids() {
        let engine = given(&[
            r#"{"ts":"2026-05-12T12:05:00Z","type":"service_unhealthy","node":"n","service":"s"}"#,
            r#"{"ts":"2026-05-12T12:05:00.100Z","type":"service_recovered","node":"n","service":"s"}"#,
            r#"{"ts":"2026-05-12T12:05:00.200Z","type":"service_unhealthy","node":"n","service":"s"}"#,
        ]);
        assert!(engine.incidents.contains_key("inc-1778587500-n-s"));
        assert!(engine.incidents.contains_key("inc-1778587500-n-s-2"));
    }

    #[test]
    fn only_the_last_fifty_failure_times_are_kept() {
        let lines: Vec<String> = (0..60)
            .map(|i| {
                format!(r#"{{"ts":"2026-05-12T12:{i:02}:00Z","type":"service_unhealthy","node":"n","service":"s"}}"#)
            })
            .collect();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let engine = given(&refs);
        let incident = engine.incidents.values().next().unwrap();
        assert_eq!(incident.occurrence_count, 60);
        assert_eq!(incident.events.len(), MAX_INCIDENT_EVENTS);
        assert_eq!(incident.events[0], Ts::parse("2026-05-12T12:10:00Z").unwrap());
    }
}
