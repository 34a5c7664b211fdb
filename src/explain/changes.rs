//! What one event changed of an entity, read from the engine itself: the
//! part of the state the entity covers is copied before and after each
//! `Engine::apply`, and the two copies are compared. No rule is written
//! twice; this file only names what differs.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Scope;
use crate::engine::{AlertStatus, BreakerState, Debounce, DeploymentStatus, Engine, Incident, IncidentStatus};
use crate::engine::{NodeStatus, ServiceStatus};
use crate::world::word;

/// One change: what it is about, a short name for agents, a line for
/// people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    /// `incident <id>`, `service <node/service>`, `probe <key>`,
    /// `alert <key>`, `node <name>`, `deployment <id>`, `notification <id>`.
    pub subject: String,
    /// `opened`, `updated`, `resolved`, `forgotten`, `status`,
    /// `debounce_pending`, `debounce_committed`, `breaker`, `pending`,
    /// `firing`, `dropped`, `suppressed`, `unsuppressed`, `started`,
    /// `stage`, `decided`.
    pub change: &'static str,
    pub text: String,
}

impl Change {
    /// Debounce and breaker changes: what a probe's history before the
    /// span explained leads up to.
    pub fn is_probe_state(&self) -> bool {
        self.subject.starts_with("probe ")
    }
}

/// The state an entity covers, at one moment.
#[derive(Default, PartialEq)]
pub struct Snapshot {
    incidents: BTreeMap<String, Incident>,
    services: BTreeMap<String, ServiceStatus>,
    probes: BTreeMap<String, (Debounce, BreakerState, Option<String>)>,
    alerts: BTreeMap<String, (AlertStatus, Option<String>)>,
    nodes: BTreeMap<String, NodeStatus>,
    deployments: BTreeMap<String, (DeploymentStatus, Vec<(String, String)>)>,
    notifications: usize,
}

/// The keys of the alerts a scope covers, looked for again only when a key
/// entered or left the alert map (`AlertMap::key_changes`): an alert's
/// node and service come with its key, so a key that covers keeps
/// covering while it is there. Walking every alert after each replayed
/// event was 13 % of `explain` on a busy history (issue 11, row 9).
#[derive(Default)]
pub struct CoveringAlerts {
    seen: Option<u64>,
    keys: Vec<String>,
}

impl Snapshot {
    pub fn of(engine: &Engine, scope: &Scope, covering: &mut CoveringAlerts) -> Snapshot {
        let mut snapshot = Snapshot { notifications: engine.notifications().len(), ..Snapshot::default() };
        // The replay keeps every finished incident, so on a busy lab the
        // map grows with the replay: an incident's scope is looked up by
        // its id, not found by walking the map at every event.
        match &scope.incident {
            Some(wanted) => {
                if let Some(incident) = engine.incidents().get(wanted) {
                    snapshot.incidents.insert(wanted.clone(), Incident::clone(incident));
                }
            }
            None => {
                for (id, incident) in engine.incidents().iter_unordered() {
                    if scope.covers_incident(id, incident) {
                        snapshot.incidents.insert(id.to_string(), Incident::clone(incident));
                    }
                }
            }
        }
        if let Some(key) = scope.service_key() {
            if let Some(state) = engine.services().get(&key) {
                snapshot.services.insert(key.clone(), state.status);
            }
            let prefix = format!("{key}/");
            for (probe, state) in engine.probes().range(prefix.clone()..).take_while(|(k, _)| k.starts_with(&prefix)) {
                let reason = state.breaker.last_reason().map(str::to_string);
                snapshot.probes.insert(probe.clone(), (state.debounce.clone(), state.breaker.state, reason));
            }
        }
        match &scope.alert {
            Some(wanted) => {
                if let Some(alert) = engine.alerts().get(wanted) {
                    snapshot.alerts.insert(wanted.clone(), (alert.status, alert.suppressed_by.clone()));
                }
            }
            None => {
                let alerts = engine.alerts();
                if covering.seen != Some(alerts.key_changes()) {
                    // Into a sorted map below: the walk need not be in key
                    // order.
                    covering.keys = alerts
                        .iter_unordered()
                        .filter(|(key, alert)| scope.covers_alert(key, alert.node.as_deref(), alert.service.as_deref()))
                        .map(|(key, _)| key.clone())
                        .collect();
                    covering.seen = Some(alerts.key_changes());
                }
                for key in &covering.keys {
                    if let Some(alert) = alerts.get(key) {
                        snapshot.alerts.insert(key.clone(), (alert.status, alert.suppressed_by.clone()));
                    }
                }
            }
        }
        if let Some(node) = scope.node_itself()
            && let Some(state) = engine.nodes().get(node)
        {
            snapshot.nodes.insert(node.to_string(), state.status);
        }
        if let Some(id) = &scope.deployment
            && let Some(deployment) = engine.deployments().get(id)
        {
            let stages = deployment.stages.iter().map(|s| (s.name.to_string(), s.status.to_string())).collect();
            snapshot.deployments.insert(id.clone(), (deployment.status, stages));
        }
        snapshot
    }

    /// What changed from `self` to `after`, in a fixed order: incident,
    /// service, probes, alerts, notifications, node, deployment.
    pub fn changes(&self, after: &Snapshot, engine: &Engine, scope: &Scope) -> Vec<Change> {
        let mut out = Vec::new();
        for_each_key(&self.incidents, &after.incidents, |id, old, new| incident(&mut out, id, old, new));
        for_each_key(&self.services, &after.services, |key, old, new| {
            if let Some(new) = new.filter(|new| old != Some(*new)) {
                let old = old.map_or("unknown".into(), word);
                out.push(change(format!("service {key}"), "status", format!("{old} → {}", word(new))));
            }
        });
        for_each_key(&self.probes, &after.probes, |key, old, new| probe(&mut out, key, old, new));
        for_each_key(&self.alerts, &after.alerts, |key, old, new| alert(&mut out, key, old, new));
        for notification in engine.notifications().get(self.notifications..).unwrap_or_default() {
            if scope.covers_alert(&notification.key, notification.node.as_deref(), notification.service.as_deref()) {
                let text = format!("decided ({})", word(notification.kind));
                out.push(change(format!("notification {}", notification.id), "decided", text));
            }
        }
        for_each_key(&self.nodes, &after.nodes, |node, old, new| {
            if let Some(new) = new.filter(|new| old != Some(*new)) {
                let old = old.map_or("unknown".into(), word);
                out.push(change(format!("node {node}"), "status", format!("{old} → {}", word(new))));
            }
        });
        for_each_key(&self.deployments, &after.deployments, |id, old, new| deployment(&mut out, id, old, new));
        out
    }
}

fn change(subject: String, change: &'static str, text: String) -> Change {
    Change { subject, change, text }
}

/// Calls `each` for every key of either map whose values differ.
fn for_each_key<V: PartialEq>(
    before: &BTreeMap<String, V>,
    after: &BTreeMap<String, V>,
    mut each: impl FnMut(&str, Option<&V>, Option<&V>),
) {
    let keys: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    for key in keys {
        let (old, new) = (before.get(key), after.get(key));
        if old != new {
            each(key, old, new);
        }
    }
}

fn incident(out: &mut Vec<Change>, id: &str, old: Option<&Incident>, new: Option<&Incident>) {
    let subject = format!("incident {id}");
    match (old, new) {
        (None, Some(new)) => {
            out.push(change(subject, "opened", format!("opened, severity {}", word(new.severity))));
        }
        (Some(_), None) => out.push(change(subject, "forgotten", "forgotten (older than retention)".into())),
        (Some(old), Some(new)) => {
            if new.occurrence_count != old.occurrence_count || new.severity != old.severity {
                let text = format!("updated: {} occurrences, severity {}", new.occurrence_count, word(new.severity));
                out.push(change(subject.clone(), "updated", text));
            }
            if new.status == IncidentStatus::Resolved && old.status != IncidentStatus::Resolved {
                out.push(change(subject, "resolved", "resolved".into()));
            }
        }
        (None, None) => {}
    }
}

type ProbeParts = (Debounce, BreakerState, Option<String>);

fn probe(out: &mut Vec<Change>, key: &str, old: Option<&ProbeParts>, new: Option<&ProbeParts>) {
    let Some((debounce, breaker, reason)) = new else { return };
    let subject = format!("probe {key}");
    let old_debounce = old.map(|o| &o.0);
    if debounce.pending != old_debounce.and_then(|d| d.pending.clone())
        && let Some(pending) = &debounce.pending
    {
        let text = format!(
            "debounce pending: {} ({} result{} since {})",
            word(pending.status),
            pending.count,
            if pending.count == 1 { "" } else { "s" },
            pending.since
        );
        out.push(change(subject.clone(), "debounce_pending", text));
    }
    if old_debounce.is_none_or(|d| d.status != debounce.status) {
        out.push(change(
            subject.clone(),
            "debounce_committed",
            format!("debounce committed: {}", word(debounce.status)),
        ));
    }
    let old_breaker = old.map(|o| o.1);
    if old_breaker.is_some_and(|b| b != *breaker) || (old_breaker.is_none() && *breaker != BreakerState::Closed) {
        let from = old_breaker.map_or("closed".into(), word);
        let why = reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
        out.push(change(subject, "breaker", format!("breaker {from} → {}{why}", word(breaker))));
    }
}

type AlertParts = (AlertStatus, Option<String>);

fn alert(out: &mut Vec<Change>, key: &str, old: Option<&AlertParts>, new: Option<&AlertParts>) {
    let subject = format!("alert {key}");
    let Some((status, suppressed)) = new else {
        out.push(change(subject, "dropped", "dropped while pending (its condition cleared)".into()));
        return;
    };
    if old.is_none_or(|o| o.0 != *status) {
        let name = match status {
            AlertStatus::Pending => "pending",
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        };
        out.push(change(subject.clone(), name, name.to_string()));
    }
    let was = old.and_then(|o| o.1.as_ref());
    match (was, suppressed) {
        (was, Some(why)) if was != Some(why) => out.push(change(subject, "suppressed", format!("suppressed: {why}"))),
        (Some(_), None) => out.push(change(subject, "unsuppressed", "no longer suppressed".into())),
        _ => {}
    }
}

type DeploymentParts = (DeploymentStatus, Vec<(String, String)>);

fn deployment(out: &mut Vec<Change>, id: &str, old: Option<&DeploymentParts>, new: Option<&DeploymentParts>) {
    let subject = format!("deployment {id}");
    let Some((status, stages)) = new else {
        out.push(change(subject, "forgotten", "forgotten (older than retention)".into()));
        return;
    };
    if old.is_none() {
        out.push(change(subject.clone(), "started", format!("recorded, {}", word(status))));
    } else if old.is_some_and(|o| o.0 != *status) {
        out.push(change(subject.clone(), "status", word(status)));
    }
    let before = old.map(|o| o.1.as_slice()).unwrap_or_default();
    for stage in stages.iter().filter(|stage| !before.contains(stage)) {
        out.push(change(subject.clone(), "stage", format!("stage {}: {}", stage.0, stage.1)));
    }
}
