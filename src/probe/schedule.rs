//! Deciding what `observer probe` runs now, from the folded state only: a
//! probe is due when its interval has passed since its last run; an open
//! breaker skips it; the probe budget caps how many run in any minute.

use crate::config::Config;
use crate::engine::{Engine, PROBE_BUDGET, Rules, probe_runs_within_window};
use crate::event::Outcome;
use crate::inventory::{Inventory, ProbeDef};
use crate::time::Ts;

/// What happens to one due probe in this round.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Run,
    /// Not run; a `skipped` result with this detail is recorded.
    Skip(String),
}

/// A probe due in this round, and what happens to it.
#[derive(Clone, Debug)]
pub struct Due<'a> {
    pub probe: &'a ProbeDef,
    pub action: Action,
}

/// One round's decisions, in the order the probes go.
#[derive(Debug, Default)]
pub struct Schedule<'a> {
    pub probes: Vec<Due<'a>>,
    /// The probe budget ran out in this round and that is not recorded yet.
    pub budget_exhausted: bool,
}

/// Milliseconds between runs of a probe.
pub fn interval_ms(probe: &ProbeDef, config: &Config) -> u64 {
    probe.interval_ms.unwrap_or(config.health.interval_s.saturating_mul(1000))
}

pub fn timeout_ms(probe: &ProbeDef, config: &Config) -> u64 {
    probe.timeout_ms.unwrap_or(config.health.timeout_s.saturating_mul(1000)).max(1)
}

pub fn timeout_outcome(probe: &ProbeDef, config: &Config) -> Outcome {
    probe.timeout_outcome.unwrap_or(config.health.timeout_outcome)
}

/// Schedules a round at `now` (the wall clock). `all` runs every selected probe
/// whatever its schedule; `only` selects probes whose `node/service/probe`
/// key starts with it.
pub fn schedule<'a>(
    inventory: &'a Inventory,
    engine: &Engine,
    config: &Config,
    rules: &Rules,
    now: Ts,
    all: bool,
    only: Option<&str>,
) -> Schedule<'a> {
    let mut schedule = Schedule::default();
    let limit = config.budgets.probe_runs_per_minute as usize;
    let mut budget_left =
        if limit == 0 { usize::MAX } else { limit.saturating_sub(probe_runs_within_window(engine.probe_runs(), now)) };
    // A round that starts with room and runs out begins a new exhaustion:
    // it is recorded even if the last one's flag is still set.
    let started_with_room = budget_left > 0;
    let mut due: Vec<&ProbeDef> = inventory
        .probes
        .iter()
        .filter(|probe| only.is_none_or(|prefix| probe.key().starts_with(prefix)))
        .filter(|probe| {
            all || engine.probes().get(&probe.key()).and_then(|s| s.last_run_at).is_none_or(|last| {
                now.0 >= last.0.saturating_add(i64::try_from(interval_ms(probe, config)).unwrap_or(i64::MAX))
            })
        })
        .collect();
    // Probes checked longest ago go first, so that a budget too small for
    // all of them never starves the same ones.
    due.sort_by_key(|probe| engine.probes().get(&probe.key()).and_then(|s| s.last_checked_at));
    for probe in due {
        let key = probe.key();
        let state = engine.probes().get(&key);
        let admitted = state.map_or(Ok(()), |s| s.breaker.admits(now, &rules.probe(&key).breaker));
        let action = match admitted {
            Err(reason) => Action::Skip(reason),
            Ok(()) if budget_left == 0 => {
                schedule.budget_exhausted = started_with_room || !engine.budgets_exhausted().contains(PROBE_BUDGET);
                Action::Skip(format!("probe budget exhausted ({limit} runs per minute)"))
            }
            Ok(()) => {
                budget_left = budget_left.saturating_sub(1);
                Action::Run
            }
        };
        schedule.probes.push(Due { probe, action });
    }
    schedule
}
