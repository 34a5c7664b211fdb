//! `--node` and `--service`, as `status` and `deployments` take them: what
//! matches, the counts of what matches, and the note for a name the world
//! does not know.
//!
//! A name the world does not know is not an error: the answer is empty
//! (exit 0, so a script sees "nothing there"), and a note on stderr names
//! what the world does know, so that a typo is seen at once.

use std::collections::BTreeSet;

use crate::engine::alerts::AlertStatus;
use crate::engine::{NodeStatus, ServiceStatus};
use crate::event::Severity;
use crate::world::{AlertCounts, AlertView, NodeCounts, ServiceCounts};

/// The filter of one command; both parts empty matches everything.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Subject {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

impl Subject {
    pub fn new(node: Option<&str>, service: Option<&str>) -> Subject {
        Subject { node: node.map(str::to_string), service: service.map(str::to_string) }
    }

    pub fn is_everything(&self) -> bool {
        self.node.is_none() && self.service.is_none()
    }

    /// Whether something of `node` and `service` (either may be unknown
    /// to it, as an alert about a whole node has no service) matches. A
    /// part the filter names must be there and equal.
    pub fn matches(&self, node: Option<&str>, service: Option<&str>) -> bool {
        let part = |wanted: &Option<String>, have: Option<&str>| wanted.as_deref().is_none_or(|w| have == Some(w));
        part(&self.node, node) && part(&self.service, service)
    }

    /// "node saturn, service mosquitto", for the heading of a filtered view.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(node) = &self.node {
            parts.push(format!("node {node}"));
        }
        if let Some(service) = &self.service {
            parts.push(format!("service {service}"));
        }
        parts.join(", ")
    }

    /// The note for each named part that is not among the `nodes` and
    /// `services` the world knows.
    pub fn unknown_notes(&self, nodes: &BTreeSet<&str>, services: &BTreeSet<&str>) -> Vec<String> {
        let mut notes = Vec::new();
        if let Some(node) = self.node.as_deref().filter(|n| !nodes.contains(n)) {
            notes.push(format!("note: the world knows no node `{node}` (nodes: {})", listed(nodes)));
        }
        if let Some(service) = self.service.as_deref().filter(|s| !services.contains(s)) {
            notes.push(format!("note: the world knows no service `{service}` (services: {})", listed(services)));
        }
        notes
    }
}

fn listed(names: &BTreeSet<&str>) -> String {
    if names.is_empty() {
        return "none".into();
    }
    names.iter().copied().collect::<Vec<_>>().join(", ")
}

/// The node counts of `statuses`, as runtime-summary.json counts them.
pub fn node_counts(statuses: impl Iterator<Item = NodeStatus>) -> NodeCounts {
    let mut counts = NodeCounts::default();
    for status in statuses {
        counts.total += 1;
        match status {
            NodeStatus::Up => counts.up += 1,
            NodeStatus::Down => counts.down += 1,
            NodeStatus::Stale => counts.stale += 1,
            NodeStatus::Unknown => counts.unknown += 1,
        }
    }
    counts
}

/// The service counts of `statuses`, as runtime-summary.json counts them.
pub fn service_counts(statuses: impl Iterator<Item = ServiceStatus>) -> ServiceCounts {
    let mut counts = ServiceCounts::default();
    for status in statuses {
        counts.total += 1;
        match status {
            ServiceStatus::Healthy => counts.healthy += 1,
            ServiceStatus::Degraded => counts.degraded += 1,
            ServiceStatus::Unhealthy => counts.unhealthy += 1,
            ServiceStatus::Unknown => counts.unknown += 1,
            ServiceStatus::CircuitOpen => counts.circuit_open += 1,
        }
    }
    counts
}

/// The alert counts of `alerts`; the notifications held by the budget are
/// the whole observer's (`waiting`), as they are not kept per alert.
pub fn alert_counts<'a>(alerts: impl Iterator<Item = &'a AlertView>, waiting: usize) -> AlertCounts {
    let mut counts = AlertCounts { notifications_waiting: waiting, ..AlertCounts::default() };
    for alert in alerts {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_part_must_be_there_and_equal() {
        let everything = Subject::default();
        assert!(everything.matches(None, None));
        let saturn = Subject::new(Some("saturn"), None);
        assert!(saturn.matches(Some("saturn"), Some("mosquitto")));
        assert!(saturn.matches(Some("saturn"), None));
        assert!(!saturn.matches(Some("jupiter"), Some("mosquitto")));
        assert!(!saturn.matches(None, Some("mosquitto")));
        let both = Subject::new(Some("saturn"), Some("mosquitto"));
        assert!(both.matches(Some("saturn"), Some("mosquitto")));
        assert!(!both.matches(Some("saturn"), None));
        assert!(!both.matches(Some("saturn"), Some("grafana")));
    }

    #[test]
    fn unknown_names_are_noted_with_what_is_known() {
        let nodes: BTreeSet<&str> = ["jupiter", "saturn"].into();
        let services: BTreeSet<&str> = ["mosquitto"].into();
        let notes = Subject::new(Some("saturnn"), Some("mosquitto")).unknown_notes(&nodes, &services);
        assert_eq!(notes, vec!["note: the world knows no node `saturnn` (nodes: jupiter, saturn)"]);
        assert!(Subject::new(Some("saturn"), None).unknown_notes(&nodes, &services).is_empty());
    }
}
