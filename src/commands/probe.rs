//! `observer probe`: run the probes that are due and record each run as a
//! `probe_result` event; the fold turns them into health. `observer run
//! --probe` does the same within a run.

use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::json;

use super::run::{record_run, warn_about};
use super::{layout, load_config, load_inventory, now, print, shown};
use crate::cli::{PathArgs, ProbeArgs};
use crate::config::Config;
use crate::engine::PROBE_BUDGET;
use crate::event::Outcome;
use crate::inventory::Inventory;
use crate::layout::Layout;
use crate::pass::{Mode, run_pass};
use crate::probe::schedule::{Action, interval_ms, schedule, timeout_ms, timeout_outcome};
use crate::probe::{Execution, execute_all};
use crate::store::append::append_events;
use crate::store::checkpoint::Checkpoint;
use crate::store::lock::StateLock;
use crate::time::Ts;

pub fn execute(paths: &PathArgs, args: &ProbeArgs) -> Result<i32> {
    let layout = layout(paths);
    let config = load_config(&layout)?;
    let inventory = load_inventory(&layout)?;
    layout.require_events()?;
    let _lock = StateLock::acquire(&layout.state, "probe", args.wait)?;
    let started = Instant::now();
    let report = run_pass(&layout, &config, &inventory, &Mode::Incremental)?;
    warn_about(&layout, &report);
    let at = now()?;
    let lines = round(&layout, &config, &inventory, at, &RoundOptions::from(args))?;
    let report = run_pass(&layout, &config, &inventory, &Mode::Incremental)?;
    record_run(&layout, "probe", at, started, &report)?;
    let mut text = lines.join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    text.push_str(&format!(
        "world as of {} in {}\n",
        report.as_of.map_or("(no events)".into(), |t| t.to_string()),
        shown(&layout.world)
    ));
    print(&text)?;
    Ok(crate::exit::SUCCESS)
}

/// Which probes a round considers.
#[derive(Default)]
pub struct RoundOptions {
    pub all: bool,
    pub only: Option<String>,
    pub jobs: Option<usize>,
}

impl From<&ProbeArgs> for RoundOptions {
    fn from(args: &ProbeArgs) -> RoundOptions {
        RoundOptions { all: args.all, only: args.only.clone(), jobs: args.jobs }
    }
}

/// One round at `at`: plans from the committed checkpoint, runs what is due,
/// appends the results to `events/observer/probes-<day>.jsonl`. Returns one
/// line per probe for people. Probe failures are results, never errors.
pub fn round(
    layout: &Layout,
    config: &Config,
    inventory: &Inventory,
    at: Ts,
    options: &RoundOptions,
) -> Result<Vec<String>> {
    let engine = Checkpoint::load(&layout.state)?.unwrap_or_default().engine;
    let rules = crate::rules::build(config, inventory);
    let plan = schedule(inventory, &engine, config, &rules, at, options.all, options.only.as_deref());
    let jobs: Vec<_> = plan
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
    for due in &plan.probes {
        let probe = due.probe;
        let execution = match &due.action {
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
        events.push(result_event(probe, &execution, at).to_string());
    }
    if plan.budget_exhausted {
        events.push(
            json!({
                "ts": at.to_string(),
                "type": "budget_exhausted",
                "severity": "warning",
                "message": format!("probe budget exhausted: {} runs per minute", config.budgets.probe_runs_per_minute),
                "payload": {"budget": PROBE_BUDGET, "limit": config.budgets.probe_runs_per_minute, "window_s": 60},
            })
            .to_string(),
        );
        shown_lines.push(format!(
            "warning: probe budget exhausted ({} runs per minute)",
            config.budgets.probe_runs_per_minute
        ));
    }
    append_events(&layout.observer_events(), "probes", at, &events)?;
    if plan.probes.is_empty() {
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

fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Ok => "ok",
        Outcome::Warning => "warning",
        Outcome::Critical => "critical",
        Outcome::Unknown => "unknown",
        Outcome::Skipped => "skipped",
    }
}

/// The `probe_result` event of one run.
fn result_event(probe: &crate::inventory::ProbeDef, execution: &Execution, at: Ts) -> serde_json::Value {
    let severity = match execution.outcome {
        Outcome::Ok | Outcome::Skipped => "info",
        Outcome::Warning => "warning",
        Outcome::Unknown => "error",
        Outcome::Critical => "critical",
    };
    let mut payload = json!({
        "probe": probe.name,
        "outcome": outcome_name(execution.outcome),
        "latency_ms": execution.latency_ms,
        "detail": execution.detail,
        "target": probe.check.target(),
    });
    if execution.timed_out {
        payload["timed_out"] = json!(true);
    }
    if let Some(code) = execution.exit_code {
        payload["exit_code"] = json!(code);
    }
    if let Some(status) = execution.http_status {
        payload["http_status"] = json!(status);
    }
    if let Some(perfdata) = &execution.perfdata {
        payload["perfdata"] = json!(perfdata);
    }
    json!({
        "ts": at.to_string(),
        "type": "probe_result",
        "node": probe.node,
        "service": probe.service,
        "severity": severity,
        "message": execution.detail,
        "payload": payload,
    })
}
