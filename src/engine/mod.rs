//! The pure fold: `Engine::apply(event)` — no IO, no wall clock, cannot fail.
//!
//! Time arrives inside events only. The engine clock is the largest `ts`
//! folded so far; everything time-driven (staleness, retention, the duplicate
//! window) reads it, so a replay of the same events reproduces the same state
//! whatever the batches were.

mod breaker;
mod debounce;
mod deployments;
mod incidents;
mod nodes;
mod probes;
mod services;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::event::{Detail, Event, Kind, Severity};
use crate::time::Ts;

pub use breaker::{Breaker, BreakerRules, BreakerState, Transition};
pub use debounce::{Debounce, DebounceRules, Health, Pending};
pub use deployments::{Deployment, DeploymentStatus, Stage};
pub use incidents::{Incident, IncidentStatus};
pub use nodes::{NodeState, NodeStatus};
pub use probes::{
    PROBE_BUDGET, PROBE_BUDGET_WINDOW_S, ProbeRules, ProbeState, aggregate, probe_key, probe_runs_within_window,
    probes_of,
};
pub use services::{ServiceState, ServiceStatus, service_key};

/// The thresholds the fold reads: a slice of the config, with the probes'
/// overrides from the inventory. Built by `crate::rules::build`; its
/// `Default` (the built-in config, no inventory) comes from there too, so
/// that the values are written once, in `config::defaults`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rules {
    /// Resolved incidents and finished deployments older than this (engine
    /// clock) are forgotten.
    pub retention_s: u64,
    /// How long an event `id` is remembered for duplicate detection.
    pub dedup_window_s: u64,
    /// Debounce and breaker rules of probes without overrides.
    pub probe_defaults: ProbeRules,
    /// Rules of probes with overrides, by `node/service/probe`.
    pub probes: BTreeMap<String, ProbeRules>,
    /// `budgets.probe_runs_per_minute`; 0 disables the budget.
    pub probe_runs_per_minute: u32,
    /// Probes the inventory declares, by `node/service/probe`.
    pub declared_probes: BTreeSet<String>,
}

impl Rules {
    pub fn probe(&self, key: &str) -> &ProbeRules {
        self.probes.get(key).unwrap_or(&self.probe_defaults)
    }

    /// The declared probes of one service (empty when it declares none).
    pub fn declared_probes_of(&self, node: &str, service: &str) -> BTreeSet<String> {
        let prefix = format!("{node}/{service}/");
        self.declared_probes.range(prefix.clone()..).take_while(|key| key.starts_with(&prefix)).cloned().collect()
    }
}

/// Counts about the event stream itself (`runtime-summary.events`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventStats {
    /// Events folded (duplicates and rejects excluded).
    pub total: u64,
    pub by_type: BTreeMap<String, u64>,
    pub rejected: u64,
    pub duplicates: u64,
    pub late: u64,
}

/// Session counters (`runtime-summary.counters`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub ticks: u64,
    pub heartbeats: u64,
    /// Events whose severity is `error` or `critical`.
    pub errors: u64,
}

/// Everything the fold knows. Serialized into the checkpoint.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Engine {
    pub clock: Option<Ts>,
    pub nodes: BTreeMap<String, NodeState>,
    pub services: BTreeMap<String, ServiceState>,
    pub incidents: BTreeMap<String, Incident>,
    pub deployments: BTreeMap<String, Deployment>,
    pub stats: EventStats,
    pub counters: Counters,
    /// Event ids seen within the duplicate window, with their `ts`.
    pub seen_ids: HashMap<String, Ts>,
    /// The engine-clock hour in which history was last pruned.
    pub pruned_hour: i64,
    /// Probes, by `node/service/probe`.
    pub probes: BTreeMap<String, ProbeState>,
    /// What each service's probes last said, by `node/service`.
    pub probe_verdicts: BTreeMap<String, ServiceStatus>,
    /// Executed probe runs within the probe budget's window.
    pub probe_runs: VecDeque<Ts>,
    /// Budgets whose exhaustion was recorded and has not ended yet.
    pub budgets_exhausted: BTreeSet<String>,
    /// The earliest moment an open breaker becomes half-open.
    pub breaker_deadline: Option<Ts>,
}

/// What `apply` did with an event, for callers that report on a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    Folded { late: bool },
    Duplicate,
}

const HOUR_MS: i64 = 3_600_000;

impl Engine {
    /// Folds one validated event. Never fails, never does IO.
    pub fn apply(&mut self, event: &Event, rules: &Rules) -> Applied {
        if let Some(id) = &event.id {
            if self.is_duplicate(id, rules) {
                self.stats.duplicates += 1;
                return Applied::Duplicate;
            }
            // Remembered from when it was first seen on the clock, so that a
            // back-filled event is remembered for the whole window too.
            let seen = self.clock.map_or(event.ts, |clock| clock.max(event.ts));
            self.seen_ids.insert(id.clone(), seen);
        }
        let late = self.clock.is_some_and(|clock| event.ts < clock);
        if late {
            self.stats.late += 1;
        }
        self.advance_clock(event.ts, rules);
        self.stats.total += 1;
        match self.stats.by_type.get_mut(event.type_name.as_ref()) {
            Some(count) => *count += 1,
            None => {
                self.stats.by_type.insert(event.type_name.to_string(), 1);
            }
        }
        if matches!(event.severity, Some(Severity::Error | Severity::Critical)) {
            self.counters.errors += 1;
        }
        match event.kind {
            Kind::Tick => self.counters.ticks += 1,
            Kind::Heartbeat | Kind::NodeUp | Kind::NodeDown => nodes::apply(self, event),
            Kind::ServiceUnhealthy | Kind::HealthcheckFailed => services::failure(self, event),
            Kind::ServiceHealthy | Kind::HealthcheckPassed => services::healthy(self, event, false),
            Kind::ServiceRecovered => services::healthy(self, event, true),
            Kind::DeploymentStarted | Kind::DeploymentStage | Kind::DeploymentSucceeded | Kind::DeploymentFailed => {
                deployments::apply(self, event)
            }
            Kind::ProbeResult => {
                if let Detail::Probe(report) = &event.detail {
                    probes::apply(self, event, report, rules);
                }
            }
            Kind::BudgetExhausted => {
                if let Detail::Budget(name) = &event.detail {
                    self.budgets_exhausted.insert(name.clone());
                }
            }
            Kind::Other => {}
        }
        Applied::Folded { late }
    }

    /// Counts an event as late that its `ts` alone does not show to be: the
    /// shell saw that it sorts before events folded by an earlier pass, so a
    /// rebuild could fold it in another order.
    pub fn note_out_of_order(&mut self) {
        self.stats.late += 1;
    }

    /// Called once per pass before folding: the breaker deadline is
    /// recomputed under the current rules (a changed `timeout_s` applies to
    /// breakers that are already open).
    pub fn prepare(&mut self, rules: &Rules) {
        probes::refresh_breaker_deadline(self, rules);
    }

    /// Counts an event the boundary refused; it is otherwise not folded.
    pub fn note_rejected(&mut self) {
        self.stats.rejected += 1;
    }

    /// An id is a duplicate while its first sighting (on the engine clock) is
    /// within the window of the current clock; the test reads only folded state, so it gives the
    /// same answer however the events were batched.
    fn is_duplicate(&self, id: &str, rules: &Rules) -> bool {
        match (self.seen_ids.get(id), self.clock) {
            (Some(_), None) => true,
            (Some(first), Some(clock)) => *first >= clock.minus_seconds(rules.dedup_window_s),
            (None, _) => false,
        }
    }

    fn advance_clock(&mut self, ts: Ts, rules: &Rules) {
        let clock = self.clock.map_or(ts, |clock| clock.max(ts));
        self.clock = Some(clock);
        // Pruning happens when the clock enters a new hour, a point fixed by
        // the event sequence alone, so incremental runs and a rebuild forget
        // exactly the same things at the same moment.
        probes::on_clock(self, clock, rules);
        let hour = clock.0.div_euclid(HOUR_MS);
        if hour != self.pruned_hour {
            self.pruned_hour = hour;
            self.prune(clock, rules);
        }
    }

    fn prune(&mut self, clock: Ts, rules: &Rules) {
        let horizon = clock.minus_seconds(rules.retention_s);
        self.incidents.retain(|_, incident| incident.resolved_at.is_none_or(|at| at >= horizon));
        self.deployments.retain(|_, deployment| deployment.ended_at.is_none_or(|at| at >= horizon));
        let id_horizon = clock.minus_seconds(rules.dedup_window_s);
        self.seen_ids.retain(|_, seen| *seen >= id_horizon);
    }
}

#[cfg(test)]
pub(crate) mod given {
    //! given(events).then(...) helpers for testing the fold without IO.
    use super::*;
    use crate::event::{Parsed, parse_event};

    pub fn event(json: &str) -> Event {
        match parse_event(json.as_bytes()) {
            Parsed::Event(e) => *e,
            other => panic!("test event did not parse: {other:?}"),
        }
    }

    pub fn given(lines: &[&str]) -> Engine {
        let mut engine = Engine::default();
        for line in lines {
            engine.apply(&event(line), &Rules::default());
        }
        engine
    }
}

#[cfg(test)]
mod tests {
    use super::given::*;
    use super::*;

    #[test]
    fn the_clock_is_the_largest_ts_and_older_events_are_late() {
        let engine = given(&[
            r#"{"ts":"2026-05-12T12:05:00Z","type":"tick"}"#,
            r#"{"ts":"2026-05-12T12:01:00Z","type":"tick"}"#,
        ]);
        assert_eq!(engine.clock, Some(Ts::parse("2026-05-12T12:05:00Z").unwrap()));
        assert_eq!(engine.stats.late, 1);
        assert_eq!(engine.stats.total, 2);
        assert_eq!(engine.counters.ticks, 2);
    }

    #[test]
    fn a_repeated_id_is_a_duplicate_and_not_folded() {
        let engine = given(&[
            r#"{"ts":"2026-05-12T12:05:00Z","type":"heartbeat","node":"a","id":"x"}"#,
            r#"{"ts":"2026-05-12T12:06:00Z","type":"heartbeat","node":"a","id":"x"}"#,
        ]);
        assert_eq!(engine.stats.duplicates, 1);
        assert_eq!(engine.counters.heartbeats, 1);
        assert_eq!(engine.nodes["a"].last_seen, Ts::parse("2026-05-12T12:05:00Z").ok());
    }

    #[test]
    fn a_back_filled_id_is_remembered_for_the_whole_window() {
        let engine = given(&[
            r#"{"ts":"2026-05-20T12:00:00Z","type":"tick"}"#,
            r#"{"ts":"2026-05-10T12:00:00Z","type":"service_unhealthy","node":"n","service":"s","id":"b"}"#,
            r#"{"ts":"2026-05-10T12:00:00Z","type":"service_unhealthy","node":"n","service":"s","id":"b"}"#,
        ]);
        assert_eq!(engine.stats.duplicates, 1);
    }

    #[test]
    fn ids_are_forgotten_after_the_window() {
        let engine = given(&[
            r#"{"ts":"2026-05-01T12:00:00Z","type":"tick","id":"x"}"#,
            r#"{"ts":"2026-05-20T12:00:00Z","type":"tick"}"#,
            r#"{"ts":"2026-05-20T12:01:00Z","type":"tick","id":"x"}"#,
        ]);
        assert_eq!(engine.stats.duplicates, 0);
        assert_eq!(engine.counters.ticks, 3);
    }

    #[test]
    fn resolved_history_is_pruned_after_retention() {
        let engine = given(&[
            r#"{"ts":"2026-04-01T12:00:00Z","type":"service_unhealthy","node":"a","service":"s"}"#,
            r#"{"ts":"2026-04-01T12:10:00Z","type":"service_recovered","node":"a","service":"s"}"#,
            r#"{"ts":"2026-04-01T12:00:00Z","type":"deployment_started","correlation_id":"d"}"#,
            r#"{"ts":"2026-04-01T12:30:00Z","type":"deployment_succeeded","correlation_id":"d"}"#,
            r#"{"ts":"2026-04-20T12:00:00Z","type":"service_unhealthy","node":"a","service":"t"}"#,
        ]);
        assert_eq!(engine.incidents.len(), 2, "still within 30 days");
        let mut engine = engine;
        engine.apply(&event(r#"{"ts":"2026-05-15T12:00:00Z","type":"tick"}"#), &Rules::default());
        assert_eq!(engine.incidents.len(), 1, "the resolved one is forgotten, the active one kept");
        assert!(engine.deployments.is_empty());
    }
}
