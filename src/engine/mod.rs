//! The pure fold: `Engine::apply(input)` — no IO, no wall clock, cannot fail.
//!
//! Time arrives inside events only. The engine clock is the largest `ts`
//! folded so far; everything time-driven (staleness, retention, the duplicate
//! window) reads it, so a replay of the same events reproduces the same state
//! whatever the batches were.
//!
//! `apply` is the only way to change the state: the IO shell hands it every
//! fact as an [`Input`] (a pass starting, an event at its place in the
//! processing order, a line the boundary refused), and reads the state back
//! through accessors only.

pub mod alerts;
mod breaker;
mod debounce;
mod deployments;
mod duplicates;
mod finished;
#[cfg(test)]
pub(crate) mod given;
mod halves;
mod incidents;
mod keyed;
mod late;
mod nodes;
mod probes;
mod services;
mod type_counts;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::event::{Detail, Event, Kind, Severity};
use crate::time::Ts;

pub use alerts::{Alert, AlertMap, AlertRules, AlertStatus, Episode, Notification, PastEpisode};

pub use breaker::{Breaker, BreakerRules, BreakerState, Transition};
pub use debounce::{Debounce, DebounceRules, Health, Pending};
pub use deployments::{Deployment, DeploymentStatus, Stage};
pub(crate) use halves::{Tail, headless, tail_from, tailless};
pub use incidents::{Incident, IncidentStatus};
pub use keyed::Keyed;
pub use late::OrderKey;
pub use nodes::{NodeState, NodeStatus};
pub use probes::{
    PROBE_BUDGET, PROBE_BUDGET_WINDOW_S, ProbeRules, ProbeState, aggregate, probe_key, probe_runs_within_window,
    probes_of,
};
pub use services::{ServiceState, ServiceStatus, service_key};
pub use type_counts::TypeCounts;

/// The thresholds the fold reads: a slice of the config, with the probes'
/// overrides from the inventory. Built by `crate::rules::build`; its
/// `Default` (the built-in config, no inventory) comes from there too, so
/// that the values are written once, in `config::defaults`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rules {
    /// Resolved incidents and finished deployments older than this (engine
    /// clock) leave the state for the history.
    pub retention_s: u64,
    /// `world.keep_finished`: finished deployments and resolved incidents
    /// the state keeps per node/service (`finished.rs`).
    pub keep_finished: usize,
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
    /// What the alert engine reads (SPEC §6).
    pub alerts: AlertRules,
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
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EventStats {
    /// Events folded (duplicates and rejects excluded).
    pub total: u64,
    #[schemars(with = "BTreeMap<String, u64>")]
    pub by_type: TypeCounts,
    pub rejected: u64,
    pub duplicates: u64,
    pub late: u64,
}

/// Session counters (`runtime-summary.counters`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Counters {
    pub ticks: u64,
    pub heartbeats: u64,
    /// Events whose severity is `error` or `critical`.
    pub errors: u64,
}

/// What left the hot view, taken from the engine ([`Engine::take_left`]):
/// each kind in the order its entries left.
#[derive(Debug, Default)]
pub struct LeftEntries {
    pub episodes: Vec<PastEpisode>,
    pub deployments: Vec<(crate::event::Name, Deployment)>,
    pub incidents: Vec<Incident>,
}

impl LeftEntries {
    pub fn is_empty(&self) -> bool {
        self.episodes.is_empty() && self.deployments.is_empty() && self.incidents.is_empty()
    }
}

/// Everything the fold knows. Serialized into the checkpoint.
///
/// The fields are private so that only [`Engine::apply`] changes them;
/// readers (the world projection, the prober) use the accessors below.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Engine {
    clock: Option<Ts>,
    /// By name: looked up by every heartbeat and again by the alert rules
    /// it wakes; hashed (`keyed.rs`), written in key order.
    nodes: Keyed<NodeState>,
    /// By `node/service`: looked up by every service event, and again by
    /// the alert rules it wakes; hashed (`keyed.rs`), written in key order.
    services: Keyed<ServiceState>,
    /// By id: looked up by every failure and recovery of a service with an
    /// active incident, by the alert rules, and removed from by the trim;
    /// hashed as the services are, written in key order. Boxed: the table
    /// holds a pointer per incident, so that growing it copies no incident
    /// and keeps the rebuild's peak (unboxed, it was ~3.5 MiB higher).
    incidents: Keyed<Box<Incident>>,
    deployments: Keyed<Deployment>,
    stats: EventStats,
    counters: Counters,
    /// Event ids seen within the duplicate window, with their `ts`, filed
    /// by minute as the ids that left the hot view are (`finished_gone.rs`).
    seen_ids: finished::Gone,
    /// The engine-clock hour in which history was last pruned.
    pruned_hour: i64,
    /// Probes, by `node/service/probe`.
    probes: BTreeMap<String, ProbeState>,
    /// What each service's probes last said, by `node/service`.
    probe_verdicts: BTreeMap<String, ServiceStatus>,
    /// Executed probe runs within the probe budget's window.
    probe_runs: VecDeque<Ts>,
    /// Budgets whose exhaustion was recorded and has not ended yet.
    budgets_exhausted: BTreeSet<String>,
    /// The earliest moment an open breaker becomes half-open.
    breaker_deadline: Option<Ts>,
    /// The newest place in the processing order folded so far (the late
    /// rule, `late.rs`). Absent from the engine state of checkpoints written
    /// before it moved here, which kept it beside the engine.
    #[serde(default)]
    last_folded: Option<OrderKey>,
    /// `last_folded` as the current pass started. Every pass sets it before
    /// it folds anything, so the checkpoint does not keep it.
    #[serde(skip)]
    last_folded_before_pass: Option<OrderKey>,
    /// Alerts, their deadlines and the notification policy's state. Absent
    /// from checkpoints written before alerting: it starts empty. A loaded
    /// state parses it beside the rest, with `finished` (`halves.rs`).
    #[serde(default, deserialize_with = "halves::tail_field")]
    alerts: alerts::AlertState,
    /// The finished deployments and incidents the hot view keeps, and the
    /// ids that left it (`finished.rs`). Absent from checkpoints written
    /// before the bound: built from the entries as the first pass starts.
    /// A loaded state parses it beside the rest (`halves.rs`).
    #[serde(default, deserialize_with = "halves::tail_field")]
    finished: finished::Finished,
}

/// The sets of ids [`Engine::saved_index`] saves: the deployments and the
/// incidents that left the hot view, and the duplicate window.
const GONE_SETS: usize = 3;

/// A part of [`Engine::saved_index`]: the head and the first set (the
/// deployments that left the hot view), then the rest (the incidents that
/// left it and the duplicate window). Joined in that order, they are the
/// index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SavedPart {
    First,
    Rest,
}

/// What the IO shell tells the engine, in the order it happens.
#[derive(Clone, Copy, Debug)]
pub enum Input<'a> {
    /// A pass starts under the rules given with it: a changed `timeout_s`
    /// applies to breakers that are already open, and the events of this
    /// pass are late when they sort before what earlier passes folded.
    PassStarted,
    /// An event the boundary accepted, at its place in the processing order
    /// (SPEC §3): its `ts`, then `file` (the path under `events/`), then
    /// `position` in that file.
    Event { event: &'a Event, file: &'a str, position: u64 },
    /// A line the boundary refused: counted, not folded.
    LineRejected,
    /// The shell has taken what left the hot view so far in this pass
    /// ([`Engine::left_hot_view`], [`Engine::left_deployments`],
    /// [`Engine::left_incidents`]) into the history lines it stages: the
    /// engine forgets those entries, so a pass that folds a long history
    /// does not hold every entry that left until it ends (peak memory,
    /// issue 11). Nothing else changes.
    LeftTaken,
}

/// What `apply` did with an input, for callers that report on a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// The event was folded; `late` when it was counted as late.
    Folded { late: bool },
    /// The event's id was seen within the duplicate window: counted, not
    /// folded; `late` when it was counted as late too.
    Duplicate { late: bool },
    /// A pass start or a rejected line: nothing was folded.
    Noted,
}

const HOUR_MS: i64 = 3_600_000;

impl Engine {
    /// The one entry point that changes the state. Never fails, never does
    /// IO.
    pub fn apply(&mut self, input: Input<'_>, rules: &Rules) -> Applied {
        match input {
            Input::PassStarted => {
                self.finished.on_pass_started(&self.deployments, &self.incidents);
                self.finished.trim(rules.keep_finished, &mut self.deployments, &mut self.incidents);
                probes::refresh_breaker_deadline(self, rules);
                late::on_pass_started(self);
                let clock = self.clock;
                let (state, facts) = self.alert_parts();
                alerts::on_pass_started(state, &rules.alerts, &facts, clock);
                Applied::Noted
            }
            Input::Event { event, file, position } => {
                let applied = self.fold(event, rules);
                let late_by_ts = applied == Applied::Folded { late: true };
                if !late::on_event(self, event.ts, file, position, late_by_ts) {
                    return applied;
                }
                self.stats.late += 1;
                match applied {
                    Applied::Duplicate { .. } => Applied::Duplicate { late: true },
                    _ => Applied::Folded { late: true },
                }
            }
            Input::LineRejected => {
                self.stats.rejected += 1;
                Applied::Noted
            }
            Input::LeftTaken => {
                drop(self.take_left());
                Applied::Noted
            }
        }
    }

    /// Folds one validated event; its `ts` alone decides whether it is late
    /// here, its place in the order is the late rule's (`late.rs`).
    fn fold(&mut self, event: &Event, rules: &Rules) -> Applied {
        if let Some(id) = event.id.as_deref() {
            if duplicates::is_duplicate(self, id, event.ts, rules) {
                self.stats.duplicates += 1;
                return Applied::Duplicate { late: false };
            }
            duplicates::remember(self, id, event.ts);
        }
        let late = self.clock.is_some_and(|clock| event.ts < clock);
        if late {
            self.stats.late += 1;
        }
        let now = self.clock.map_or(event.ts, |clock| clock.max(event.ts));
        let (state, facts) = self.alert_parts();
        alerts::before_event(state, now, &rules.alerts, &facts);
        self.advance_clock(event.ts, rules);
        self.stats.total += 1;
        self.stats.by_type.add(event.kind, &event.type_name);
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
            Kind::MaintenanceStarted | Kind::MaintenanceEnded | Kind::AlertAcknowledged | Kind::Other => {}
        }
        let (state, facts) = self.alert_parts();
        alerts::after_event(state, event, &rules.alerts, &facts, now);
        // After the alert rules have seen the entry that finished.
        self.finished.trim(rules.keep_finished, &mut self.deployments, &mut self.incidents);
        Applied::Folded { late }
    }

    /// The alert engine's state beside the engine state its rules read.
    fn alert_parts(&mut self) -> (&mut alerts::AlertState, alerts::Facts<'_>) {
        let facts = alerts::Facts {
            nodes: &self.nodes,
            services: &self.services,
            incidents: &self.incidents,
            deployments: &self.deployments,
            probes: &self.probes,
        };
        (&mut self.alerts, facts)
    }

    /// A checkpoint written before the order key moved into the engine
    /// (observer 0.1.0) keeps the key beside the engine state; this puts the
    /// two back together as the state is read, before anything is folded.
    /// A key the state already holds wins.
    pub(crate) fn with_last_folded_of_old_checkpoint(mut self, key: Option<OrderKey>) -> Engine {
        if self.last_folded.is_none() {
            self.last_folded = key;
        }
        self
    }

    /// The sets of ids filed by minute, in the order [`Engine::saved_index`]
    /// saves them: the deployments and the incidents that left the hot
    /// view, and the duplicate window.
    fn gone_sets(&self) -> [&finished::Gone; GONE_SETS] {
        let [deployments, incidents] = self.finished.gone();
        [deployments, incidents, &self.seen_ids]
    }

    fn gone_sets_mut(&mut self) -> [&mut finished::Gone; GONE_SETS] {
        let [deployments, incidents] = self.finished.gone_mut();
        [deployments, incidents, &mut self.seen_ids]
    }

    /// The index of the ids that left the hot view and of the duplicate
    /// window (where each id is filed), for the loads of a snapshot of this
    /// state to read instead of filing every id again
    /// (`finished_gone_saved.rs`): made when a snapshot is written, as two
    /// parts ([`SavedPart`]) that the caller may make on two threads and
    /// join, the first then the second. Profiled on the busy history, made
    /// whole it was ~15 ms of a compacting run's last thread, the
    /// deployments that left about half of it (issue 11, thirty-eighth
    /// pass).
    pub fn saved_index(&self, part: SavedPart) -> Vec<u8> {
        // Room for the most the sets can take, reserved once, for the
        // rest too in the first part, which the rest is joined to: only
        // the pages written are memory (on the busy rebuild, a buffer
        // grown by doubling, and every set's ids held at once, raised the
        // peak).
        let all = self.gone_sets();
        let room = |sets: &[&finished::Gone]| sets.iter().map(|gone| gone.save_index_room()).sum::<usize>();
        let (sets, reserve) = match part {
            SavedPart::First => (&all[..1], 16 + room(&all)),
            SavedPart::Rest => (&all[1..], room(&all[1..])),
        };
        let mut out = Vec::with_capacity(reserve);
        if part == SavedPart::First {
            finished::write_saved_head(GONE_SETS, &mut out);
        }
        let mut entries = Vec::new();
        for gone in sets {
            gone.save_index(&mut out, &mut entries);
        }
        out
    }

    /// Frees where each id that left the hot view (and of the duplicate
    /// window) is filed, made again at its next use.
    pub fn forget_gone_index(&mut self) {
        for gone in self.gone_sets_mut() {
            gone.forget_index();
        }
    }

    /// Makes the index of the ids that left the hot view and of the
    /// duplicate window from `saved` (what [`Engine::saved_index`] wrote for
    /// the snapshot this state was read from), where it is whole, and from
    /// the minutes it does not cover, read and checked. A minute that is
    /// not as this version writes it is the error. Without it, each index
    /// is made, unchecked, at its first use.
    /// `saved` is the bytes of a file the index was read from (shared, and
    /// kept as long as the index is) and where the index is in them.
    pub fn index_with_saved(
        &mut self,
        saved: Option<(std::sync::Arc<Vec<u8>>, std::ops::Range<usize>)>,
    ) -> Result<(), String> {
        let sets = saved.and_then(|(bytes, within)| finished::read_saved_in(bytes, within, GONE_SETS));
        let sets = sets.unwrap_or_else(|| vec![finished::SavedSet::default(); GONE_SETS]);
        for (gone, set) in self.gone_sets_mut().into_iter().zip(sets) {
            gone.index_with(set)?;
        }
        Ok(())
    }

    /// How many ids of the sets [`Engine::saved_index`] saves were filed
    /// one by one (`None` for a set whose index is not made yet).
    #[cfg(test)]
    pub(crate) fn ids_filed_one_by_one(&self) -> [Option<usize>; GONE_SETS] {
        self.gone_sets().map(|gone| gone.filed_one_by_one())
    }

    /// The largest `ts` folded so far; `None` before the first event.
    pub fn clock(&self) -> Option<Ts> {
        self.clock
    }

    pub fn nodes(&self) -> &Keyed<NodeState> {
        &self.nodes
    }

    pub fn services(&self) -> &Keyed<ServiceState> {
        &self.services
    }

    pub fn incidents(&self) -> &Keyed<Box<Incident>> {
        &self.incidents
    }

    pub fn deployments(&self) -> &Keyed<Deployment> {
        &self.deployments
    }

    pub fn stats(&self) -> &EventStats {
        &self.stats
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Probes, by `node/service/probe`.
    pub fn probes(&self) -> &BTreeMap<String, ProbeState> {
        &self.probes
    }

    /// Executed probe runs within the probe budget's window.
    pub fn probe_runs(&self) -> &VecDeque<Ts> {
        &self.probe_runs
    }

    /// Budgets whose exhaustion was recorded and has not ended yet.
    pub fn budgets_exhausted(&self) -> &BTreeSet<String> {
        &self.budgets_exhausted
    }

    /// The newest place in the processing order folded so far.
    pub fn last_folded(&self) -> Option<&OrderKey> {
        self.last_folded.as_ref()
    }

    /// Every alert of the hot view, by key: pending and firing ones, and
    /// the latest resolved episode of the others (SPEC §6).
    pub fn alerts(&self) -> &AlertMap {
        self.alerts.alerts()
    }

    /// The notifications decided by the current pass, in decision order:
    /// what the shell appends to the outbox after the fold.
    pub fn notifications(&self) -> &[Notification] {
        self.alerts.notifications()
    }

    /// Takes the notifications decided in the current pass (leaving none):
    /// the shell's, once they need not be decided again, without a copy.
    pub fn take_notifications(&mut self) -> Vec<Notification> {
        self.alerts.take_notifications()
    }

    /// The resolved alert episodes that left the hot view in the current
    /// pass, in the order they left: what the shell appends to the history
    /// (SPEC §4) before it writes the world that no longer shows them.
    pub fn left_hot_view(&self) -> &[PastEpisode] {
        self.alerts.left_hot_view()
    }

    /// The finished deployments that left the hot view in the current pass
    /// (pushed out beyond `world.keep_finished` or at retention), in the
    /// order they left: for the history, like [`Engine::left_hot_view`].
    pub fn left_deployments(&self) -> &[(crate::event::Name, Deployment)] {
        self.finished.left_deployments()
    }

    /// The resolved incidents that left the hot view in the current pass.
    pub fn left_incidents(&self) -> &[Incident] {
        self.finished.left_incidents()
    }

    /// How many entries that left the hot view wait to be taken.
    pub fn left_waiting(&self) -> usize {
        self.left_hot_view().len() + self.left_deployments().len() + self.left_incidents().len()
    }

    /// Hands the shell what left the hot view so far in this pass, by
    /// value, and forgets it: the same change to the state as
    /// `Input::LeftTaken` after reading [`Engine::left_hot_view`],
    /// [`Engine::left_deployments`] and [`Engine::left_incidents`] (those
    /// entries are no part of the state, `#[serde(skip)]`), without copying
    /// them. The shell turns them into history lines on a thread of its own
    /// while the fold goes on (`fold_pass/left.rs`).
    pub fn take_left(&mut self) -> LeftEntries {
        let (deployments, incidents) = self.finished.take_left();
        LeftEntries { episodes: self.alerts.take_left(), deployments, incidents }
    }

    /// Decided notifications that wait for a cooldown or the budget.
    pub fn notifications_held(&self) -> usize {
        self.alerts.notifications_held()
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
        self.finished.prune(horizon, &mut self.deployments, &mut self.incidents);
        alerts::prune(&mut self.alerts, horizon);
        duplicates::forget_outside_window(self, clock, rules);
    }
}

#[cfg(test)]
mod tests;
