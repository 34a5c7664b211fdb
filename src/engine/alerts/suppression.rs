//! Suppression (SPEC §6): an alert that fires while something explains it
//! keeps firing in `alerts.json`, with `suppressed_by`, but its firing is
//! not sent. What explains it: maintenance of its node or service; for a
//! service's (and its probes') alerts, its node being down or stale; a
//! firing alert of something it `depends_on`. Flapping is the fourth kind
//! and lives in `policy` (it holds resolves too).
//!
//! Suppression is recomputed only for the alerts a change can touch: a node
//! going down or coming back, an alert starting or ending to fire (its
//! dependents), a maintenance window opening or closing.

use super::conditions::{self, Facts};
use std::collections::BTreeSet;

use super::{AlertRules, AlertState, AlertStatus, Dependencies, Due, Maintenance, Rule};
use crate::engine::NodeStatus;
use crate::event::{Detail, Event, Kind};
use crate::time::Ts;

/// The service rules a dependent service gives way to.
const SERVICE_DEPENDENCY_RULES: [Rule; 4] =
    [Rule::ServiceUnhealthy, Rule::ServiceDegraded, Rule::Flapping, Rule::FailureRate];

impl AlertState {
    /// What suppresses `key` now, if anything.
    fn suppressor(&self, key: &str, rules: &AlertRules, facts: &Facts, now: Ts) -> Option<String> {
        let alert = self.alerts.get(key)?;
        let node = alert.node.as_deref()?;
        let service = alert.service.as_deref().map(|s| crate::engine::service_key(node, s));
        if self.maintenance.contains_key(node) {
            return Some(format!("maintenance:{node}"));
        }
        if let Some(service) = service.as_deref().filter(|s| self.maintenance.contains_key(*s)) {
            return Some(format!("maintenance:{service}"));
        }
        if service.is_some()
            && let Some(state) = facts.nodes.get(node)
        {
            if state.status == NodeStatus::Down {
                return Some(format!("node_down:{node}"));
            }
            if conditions::stale_from(state, rules.node_stale_after_s).is_some_and(|at| at <= now) {
                return Some(format!("node_stale:{node}"));
            }
        }
        for dependency in rules.node_depends_on.get(node).into_iter().flatten() {
            for rule in [Rule::NodeDown, Rule::NodeStale] {
                let dep_key = rule.key(dependency);
                if self.is_firing(&dep_key) {
                    return Some(format!("dependency:{dep_key}"));
                }
            }
        }
        for dependency in service.as_ref().and_then(|s| rules.service_depends_on.get(s.as_str())).into_iter().flatten()
        {
            for rule in SERVICE_DEPENDENCY_RULES {
                let dep_key = rule.key(dependency);
                if self.is_firing(&dep_key) {
                    return Some(format!("dependency:{dep_key}"));
                }
            }
        }
        None
    }

    fn is_firing(&self, key: &str) -> bool {
        self.alerts.get(key).is_some_and(|a| a.status == AlertStatus::Firing)
    }

    /// Recomputes what suppresses `key` and brings its receivers' view in
    /// line.
    pub(super) fn refresh(&mut self, key: &str, now: Ts, rules: &AlertRules, facts: &Facts) {
        let suppressor = self.suppressor(key, rules, facts, now);
        let Some(alert) = self.alerts.get_mut(key) else { return };
        if alert.suppressed_by != suppressor {
            alert.suppressed_by = suppressor;
        }
        self.reconcile(key, now, rules);
    }

    /// Refreshes every alert of `node`: its own, its services' and probes',
    /// and the deployments that ran on it.
    pub(super) fn refresh_node(&mut self, node: &str, now: Ts, rules: &AlertRules, facts: &Facts) {
        let keys = self.keys_under(node, |a| a.node.as_deref() == Some(node));
        for key in keys {
            self.refresh(&key, now, rules, facts);
        }
    }

    /// Refreshes the alerts of one service (`node/service`), its probes'
    /// and those of the deployments that ran it: [`Self::suppressor`]
    /// gives a deployment's alert the suppressors of its service too (a
    /// review of issue 11's thirty-fifth pass found them left out here, so
    /// that a service's maintenance, or a dependency of it starting to
    /// fire or added between runs, did not suppress a stuck deployment of
    /// it, which went on escalating).
    pub(super) fn refresh_service(&mut self, service: &str, now: Ts, rules: &AlertRules, facts: &Facts) {
        let (node, name) = service.split_once('/').unwrap_or((service, ""));
        let keys = self.keys_under(service, |a| a.node.as_deref() == Some(node) && a.service.as_deref() == Some(name));
        for key in keys {
            self.refresh(&key, now, rules, facts);
        }
    }

    /// The keys whose subject is `prefix` or lies under `prefix/`, and the
    /// deployment alerts that `also` picks.
    fn keys_under(&self, prefix: &str, also: impl Fn(&super::Alert) -> bool) -> Vec<String> {
        let mut keys = Vec::new();
        for rule in Rule::ALL {
            let exact = rule.key(prefix);
            let under = format!("{exact}/");
            if self.alerts.contains_key(&exact) {
                keys.push(exact);
            }
            keys.extend(self.alerts.keys_with_prefix(&under).cloned());
        }
        let deployments = "deployment_stuck:";
        keys.extend(
            self.alerts
                .keys_with_prefix(deployments)
                .filter(|key| self.alerts.get(key.as_str()).is_some_and(&also))
                .cloned(),
        );
        keys.sort();
        keys.dedup();
        keys
    }

    /// An alert started or stopped firing: the alerts that depend on its
    /// subject are refreshed.
    pub(super) fn firing_changed(&mut self, key: &str, now: Ts, rules: &AlertRules, facts: &Facts) {
        let Some((rule, subject)) = conditions::split_key(key) else { return };
        if matches!(rule, Rule::NodeDown | Rule::NodeStale) {
            let dependents: Vec<String> = rules
                .node_depends_on
                .iter()
                .filter(|(_, deps)| deps.iter().any(|d| d == subject))
                .map(|(node, _)| node.clone())
                .collect();
            for node in dependents {
                self.refresh_node(&node, now, rules, facts);
            }
        } else if SERVICE_DEPENDENCY_RULES.contains(&rule) {
            let dependents: Vec<String> = rules
                .service_depends_on
                .iter()
                .filter(|(_, deps)| deps.iter().any(|d| d == subject))
                .map(|(service, _)| service.clone())
                .collect();
            for service in dependents {
                self.refresh_service(&service, now, rules, facts);
            }
        }
    }

    /// Whether a node is down or stale changed: its services' alerts are
    /// refreshed.
    pub(super) fn node_blocked(&mut self, node: &str, now: Ts, rules: &AlertRules, facts: &Facts) {
        let blocked = facts.nodes.get(node).is_some_and(|state| {
            state.status == NodeStatus::Down
                || conditions::stale_from(state, rules.node_stale_after_s).is_some_and(|at| at <= now)
        });
        let watch = match self.nodes.get_mut(node) {
            Some(watch) => watch,
            None if !blocked => return,
            None => self.nodes.entry(node.into()).or_default(),
        };
        if watch.blocked != blocked {
            watch.blocked = blocked;
            self.refresh_node(node, now, rules, facts);
        }
    }

    /// `maintenance_started` / `maintenance_ended` for a node or a service.
    pub(super) fn maintenance_event(&mut self, event: &Event, now: Ts, rules: &AlertRules, facts: &Facts) {
        let Some(node) = event.node.as_deref() else { return };
        let service = event.service.as_deref();
        let started = event.kind == Kind::MaintenanceStarted;
        let detail = &event.detail;
        let scope = service.map_or_else(|| node.to_string(), |s| crate::engine::service_key(node, s).into());
        let (until, reason) = match detail {
            Detail::Maintenance { until, reason } => (*until, reason.clone()),
            _ => (None, None),
        };
        if started && until.is_none_or(|until| until > now) {
            if let Some(until) = until {
                self.deadlines.insert((until, Due::MaintenanceEnd, scope.clone()));
            }
            let window = Maintenance {
                node: node.to_string(),
                service: service.map(str::to_string),
                started_at: now,
                until,
                reason,
            };
            self.maintenance.insert(scope.clone(), window);
        } else {
            self.maintenance.remove(&scope);
        }
        self.refresh_scope(&scope, now, rules, facts);
    }

    /// A window's `until` came: it ends unless it was ended or renewed.
    pub(super) fn maintenance_due(&mut self, scope: &str, at: Ts, rules: &AlertRules, facts: &Facts) {
        let Some(window) = self.maintenance.get(scope) else { return };
        if window.until != Some(at) {
            return;
        }
        self.maintenance.remove(scope);
        self.refresh_scope(scope, at, rules, facts);
    }

    /// A pass starts under `rules` at the engine clock `now`: each node and
    /// service whose `depends_on` changed since the last pass (added,
    /// removed or edited in the inventory between runs) has the
    /// suppression of its alerts recomputed at `now`, queued like any
    /// deadline, so that it is taken in time order with the pass's first
    /// event (after the deadlines that late events put before `now`). A
    /// dependency added while what it names fires suppresses the alerts of
    /// its dependent from then on (no escalation of them goes, and a page
    /// not sent yet is not sent); one removed lets a firing alert it held
    /// back page then. Unchanged, nothing is queued, so a pass's start
    /// changes nothing one pass would not do. Before the first event
    /// (`now` is `None`) there is no alert to recompute: they are recorded.
    pub(super) fn queue_dependency_changes(&mut self, rules: &AlertRules, now: Option<Ts>) {
        let (nodes, services) = (&rules.node_depends_on, &rules.service_depends_on);
        let before = &self.depends_on;
        if before.nodes == *nodes && before.services == *services {
            return;
        }
        if let Some(now) = now {
            let mut changed = BTreeSet::new();
            for (was, is) in [(&before.nodes, nodes), (&before.services, services)] {
                let scopes = was.keys().chain(is.keys());
                changed.extend(scopes.filter(|scope| was.get(*scope) != is.get(*scope)).cloned());
            }
            self.deadlines.extend(changed.into_iter().map(|scope| (now, Due::Dependencies, scope)));
        }
        self.depends_on = Dependencies { nodes: nodes.clone(), services: services.clone() };
    }

    /// Refreshes the alerts of a node, or of a service (`node/service`:
    /// no name holds a `/`: `inventory/name.rs`, `event/validate.rs`).
    pub(super) fn refresh_scope(&mut self, scope: &str, now: Ts, rules: &AlertRules, facts: &Facts) {
        if scope.contains('/') {
            self.refresh_service(scope, now, rules, facts);
        } else {
            self.refresh_node(scope, now, rules, facts);
        }
    }
}
