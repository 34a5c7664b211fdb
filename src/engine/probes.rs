//! Folding `probe_result` events: uptime statistics, the breaker and the
//! debounce of each probe, and the service status and incidents that follow
//! from them — exactly as explicit events would drive them (SPEC §5).

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::breaker::{Breaker, BreakerRules, BreakerState};
use super::debounce::{Debounce, DebounceRules, Health};
use super::incidents::Occurrence;
use super::{Engine, ServiceStatus, services};
use crate::event::{Event, Outcome, ProbeReport, Severity};
use crate::time::Ts;

/// The window of `budgets.probe_runs_per_minute`.
pub const PROBE_BUDGET_WINDOW_S: u64 = 60;
pub const PROBE_BUDGET: &str = "probe_runs_per_minute";
const MAX_DETAIL: usize = 300;

/// How one probe's results are judged. Built by `crate::rules`, where its
/// `Default` (a probe without overrides under the built-in config) is too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeRules {
    pub debounce: DebounceRules,
    pub breaker: BreakerRules,
}

/// Everything folded about one probe, keyed `node/service/probe`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeState {
    pub node: String,
    pub service: String,
    pub probe: String,
    pub debounce: Debounce,
    pub breaker: Breaker,
    /// Executed checks (skipped runs are not checks).
    pub total: u64,
    /// Checks whose outcome was `ok` or `warning`.
    pub successful: u64,
    /// Checks in a row whose outcome was `critical` or `unknown`.
    pub consecutive_failures: u64,
    pub skipped: u64,
    pub last_outcome: Option<Outcome>,
    pub last_latency_ms: Option<u64>,
    pub last_detail: Option<String>,
    /// The last executed check.
    pub last_checked_at: Option<Ts>,
    /// The last run, executed or skipped: what the prober's schedule reads.
    pub last_run_at: Option<Ts>,
}

pub fn probe_key(node: &str, service: &str, probe: &str) -> String {
    format!("{node}/{service}/{probe}")
}

pub(super) fn apply(engine: &mut Engine, event: &Event, report: &ProbeReport, rules: &super::Rules) {
    let (Some(node), Some(service)) = (event.node.as_deref(), event.service.as_deref()) else { return };
    let key = probe_key(node, service, &report.probe);
    let probe_rules = rules.probe(&key);
    let state = engine.probes.entry(key).or_insert_with(|| ProbeState {
        node: node.to_string(),
        service: service.to_string(),
        probe: report.probe.clone(),
        ..ProbeState::default()
    });
    state.last_run_at = Some(state.last_run_at.map_or(event.ts, |at| at.max(event.ts)));
    let Some(health) = Health::of(report.outcome) else {
        state.skipped += 1;
        return;
    };
    state.total += 1;
    if health == Health::Failing {
        state.consecutive_failures += 1;
    } else {
        state.successful += 1;
        state.consecutive_failures = 0;
    }
    state.last_outcome = Some(report.outcome);
    state.last_latency_ms = report.latency_ms;
    state.last_detail = report.detail.as_ref().map(|d| d.chars().take(MAX_DETAIL).collect());
    state.last_checked_at = Some(event.ts);
    let breaker_before = state.breaker.state;
    state.breaker.on_result(event.ts, probe_rules.breaker.is_failure(report), &probe_rules.breaker);
    let breaker_changed = state.breaker.state != breaker_before;
    // What the debounce committed (its return value) is not needed: the
    // service's verdict below is recomputed from every declared probe and
    // compared with the last one, so a change committed here reaches the
    // service, and so do changes the debounce does not see (this result
    // moving the breaker, the inventory declaring other probes since).
    state.debounce.on_result(event.ts, health, &probe_rules.debounce);

    engine.probe_runs.push_back(event.ts);
    prune_budget(engine);
    if (engine.probe_runs.len() as u64) < u64::from(rules.probe_runs_per_minute) {
        engine.budgets_exhausted.remove(PROBE_BUDGET);
    }
    if breaker_changed {
        refresh_breaker_deadline(engine, rules);
    }
    let severity = if report.outcome == Outcome::Critical { Severity::Critical } else { Severity::Error };
    update_service(engine, node, service, event.ts, severity, rules);
}

/// Executed probe runs within the budget window of the clock.
fn prune_budget(engine: &mut Engine) {
    let Some(clock) = engine.clock else { return };
    let horizon = clock.minus_seconds(PROBE_BUDGET_WINDOW_S);
    while engine.probe_runs.front().is_some_and(|at| *at <= horizon) {
        engine.probe_runs.pop_front();
    }
}

/// Runs counted against `budgets.probe_runs_per_minute` at `now`.
pub fn probe_runs_within_window(runs: &VecDeque<Ts>, now: Ts) -> usize {
    let horizon = now.minus_seconds(PROBE_BUDGET_WINDOW_S);
    runs.iter().filter(|at| **at > horizon).count()
}

/// Open breakers whose timeout has passed on the clock become half-open.
pub(super) fn on_clock(engine: &mut Engine, clock: Ts, rules: &super::Rules) {
    if engine.breaker_deadline.is_none_or(|deadline| clock < deadline) {
        return;
    }
    for (key, state) in engine.probes.iter_mut() {
        state.breaker.on_clock(clock, &rules.probe(key).breaker);
    }
    refresh_breaker_deadline(engine, rules);
}

pub(super) fn refresh_breaker_deadline(engine: &mut Engine, rules: &super::Rules) {
    engine.breaker_deadline =
        engine.probes.iter().filter_map(|(key, state)| state.breaker.reopens_at(&rules.probe(key).breaker)).min();
}

/// The status a service's probes speak for, if they speak at all.
pub fn aggregate<'a>(probes: impl Iterator<Item = &'a ProbeState>) -> Option<ServiceStatus> {
    let mut worst: Option<ServiceStatus> = None;
    let rank = |status: ServiceStatus| match status {
        ServiceStatus::Healthy => 0,
        ServiceStatus::Degraded => 1,
        ServiceStatus::Unhealthy => 2,
        ServiceStatus::CircuitOpen => 3,
        ServiceStatus::Unknown => -1,
    };
    for probe in probes {
        let status = if probe.breaker.state != BreakerState::Closed {
            ServiceStatus::CircuitOpen
        } else {
            match probe.debounce.status {
                Health::Ok => ServiceStatus::Healthy,
                Health::Warning => ServiceStatus::Degraded,
                Health::Failing => ServiceStatus::Unhealthy,
                Health::Unknown => continue,
            }
        };
        if worst.is_none_or(|w| rank(status) > rank(w)) {
            worst = Some(status);
        }
    }
    worst
}

pub fn probes_of<'a>(
    probes: &'a BTreeMap<String, ProbeState>,
    node: &str,
    service: &str,
) -> impl Iterator<Item = &'a ProbeState> {
    let prefix = format!("{node}/{service}/");
    probes.range(prefix.clone()..).take_while(move |(key, _)| key.starts_with(&prefix)).map(|(_, state)| state)
}

/// Applies a change of the probes' verdict to the service, as the matching
/// explicit event would: failing opens or updates the incident, healthy
/// resolves it, degraded and circuit_open only set the status.
///
/// Only the probes the inventory declares for the service count when it
/// declares any, so a removed probe (whose breaker may be stuck open) stops
/// speaking for it. Moving between `circuit_open` and `unhealthy` changes the
/// status only: it is the same failure, not a new occurrence.
fn update_service(engine: &mut Engine, node: &str, service: &str, ts: Ts, severity: Severity, rules: &super::Rules) {
    let declared = rules.declared_probes_of(node, service);
    let verdict = aggregate(
        probes_of(&engine.probes, node, service)
            .filter(|p| declared.is_empty() || declared.contains(&probe_key(&p.node, &p.service, &p.probe))),
    );
    let Some(status) = verdict else { return };
    // Owned only for a service's first verdict: made for every probe result.
    let key = super::service_key(node, service);
    let previous = match engine.probe_verdicts.get_mut(key.as_str()) {
        Some(verdict) => Some(std::mem::replace(verdict, status)),
        None => engine.probe_verdicts.insert(key.into(), status),
    };
    if previous == Some(status) {
        return;
    }
    let was_failing = matches!(previous, Some(ServiceStatus::Unhealthy | ServiceStatus::CircuitOpen));
    match status {
        ServiceStatus::Unhealthy if !was_failing => {
            services::fail(engine, node, service, &Occurrence { ts, severity, correlation_id: None })
        }
        ServiceStatus::Healthy => services::recover(engine, node, service, ts, true),
        other => services::mark(engine, node, service, other, ts),
    }
}
