//! One probe round, as `observer probe` and `observer run --probe` make it:
//! schedule from the committed checkpoint, run what is due, append the results
//! as `probe_result` events to `events/observer/probes-<day>.jsonl`. The
//! fold, run afterwards by the command, turns them into health.
//!
//! Probe failures are results, never errors: a round fails only when the
//! checkpoint cannot be read or the results cannot be appended.

use std::fmt;
use std::time::Duration;

use crate::config::Config;
use crate::dirs::Dirs;
use crate::event::Outcome;
use crate::inventory::Inventory;
use crate::inventory::ProbeDef;
use crate::own_events::{BudgetExhausted, ProbeResult, ProbeResultPayload};
use crate::probe::schedule::{Action, interval_ms, schedule, timeout_ms, timeout_outcome};
use crate::probe::{Execution, execute_all};
use crate::store::append::{AppendError, append_events};
use crate::store::checkpoint::{Checkpoint, CheckpointError};
use crate::time::Ts;

/// Which probes a round considers.
#[derive(Default)]
pub struct RoundOptions {
    /// Every selected probe, due or not.
    pub all: bool,
    /// Only probes whose `node/service/probe` key starts with this.
    pub only: Option<String>,
    /// Probes run at the same time (default: the config's `health.parallel`).
    pub jobs: Option<usize>,
}

/// Why a round could not be made or recorded.
#[derive(Debug)]
pub enum RoundError {
    Checkpoint(CheckpointError),
    /// A result could not be turned into its event line.
    Encode(serde_json::Error),
    /// The results could not be appended.
    Append(AppendError),
}

impl fmt::Display for RoundError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RoundError::Checkpoint(error) => error.fmt(f),
            RoundError::Encode(error) => error.fmt(f),
            RoundError::Append(error) => error.fmt(f),
        }
    }
}

/// Each variant stands for the error it holds: the message and its causes
/// are that error's own.
impl std::error::Error for RoundError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RoundError::Checkpoint(error) => error.source(),
            RoundError::Encode(error) => error.source(),
            RoundError::Append(error) => error.source(),
        }
    }
}

/// One round at `at`. Returns one line per probe for people.
pub fn round(
    dirs: &Dirs,
    config: &Config,
    inventory: &Inventory,
    at: Ts,
    options: &RoundOptions,
) -> Result<Vec<String>, RoundError> {
    let engine = Checkpoint::load(&dirs.state).map_err(RoundError::Checkpoint)?.unwrap_or_default().engine;
    let rules = crate::rules::build(config, inventory);
    let due = schedule(inventory, &engine, config, &rules, at, options.all, options.only.as_deref());
    let jobs: Vec<_> = due
        .probes
        .iter()
        .filter(|p| p.action == Action::Run)
        .map(|p| {
            (
                p.probe.check.clone(),
                Duration::from_millis(timeout_ms(p.probe, config)),
                timeout_outcome(p.probe, config),
            )
        })
        .collect();
    let mut executions = execute_all(&jobs, options.jobs.unwrap_or(config.health.parallel)).into_iter();
    let mut events = Vec::new();
    let mut shown_lines = Vec::new();
    for entry in &due.probes {
        let probe = entry.probe;
        let execution = match &entry.action {
            Action::Run => executions.next().unwrap_or_else(|| Execution::new(Outcome::Unknown, 0, "not run")),
            Action::Skip(reason) => Execution::new(Outcome::Skipped, 0, reason.clone()),
        };
        shown_lines.push(format!(
            "{}: {} ({} ms) {}",
            probe.key(),
            outcome_name(execution.outcome),
            execution.latency_ms,
            execution.detail
        ));
        events.push(encode(&result_event(probe, &execution, at))?);
    }
    if due.budget_exhausted {
        let limit = config.budgets.probe_runs_per_minute;
        events.push(encode(&BudgetExhausted::probe_runs(at, limit))?);
        shown_lines.push(format!("warning: probe budget exhausted ({limit} runs per minute)"));
    }
    append_events(&dirs.observer_events(), "probes", at, &events).map_err(RoundError::Append)?;
    if due.probes.is_empty() {
        let next = inventory
            .probes
            .iter()
            .filter_map(|p| {
                engine
                    .probes()
                    .get(&p.key())
                    .and_then(|s| s.last_run_at)
                    .map(|last| last.0.saturating_add(i64::try_from(interval_ms(p, config)).unwrap_or(i64::MAX)))
            })
            .min();
        shown_lines.push(match (inventory.probes.is_empty(), next) {
            (true, _) => "no probes are declared in the inventory".to_string(),
            (false, Some(next)) => format!("no probe is due; the next is due at {}", Ts(next)),
            (false, None) => "no probe is due".to_string(),
        });
    }
    Ok(shown_lines)
}

/// The `probe_result` event of one run.
fn result_event<'a>(probe: &'a ProbeDef, execution: &'a Execution, at: Ts) -> ProbeResult<'a> {
    let payload = ProbeResultPayload {
        probe: &probe.name,
        outcome: execution.outcome,
        latency_ms: execution.latency_ms,
        detail: &execution.detail,
        target: probe.check.target(),
        timed_out: execution.timed_out,
        exit_code: execution.exit_code,
        http_status: execution.http_status,
        perfdata: execution.perfdata.as_deref(),
    };
    ProbeResult::new(at, &probe.node, &probe.service, payload)
}

fn encode(event: &impl serde::Serialize) -> Result<String, RoundError> {
    serde_json::to_string(event).map_err(RoundError::Encode)
}

fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Ok => "ok",
        Outcome::Warning => "warning",
        Outcome::Critical => "critical",
        Outcome::Unknown => "unknown",
        Outcome::Skipped => "skipped",
    }
}
