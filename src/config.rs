//! Thresholds, from `--config`, `OBSERVER_CONFIG`, `<root>/observer.yaml` or
//! the built-in defaults. Unknown keys are errors, so a typo never silently
//! falls back to a default.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::engine::{BreakerRules, DebounceRules, ProbeRules, Rules};
use crate::event::Outcome;
use crate::input_problem::InputProblem;
use crate::inventory::{Inventory, ProbeDef};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub nodes: NodesConfig,
    pub retention: RetentionConfig,
    pub events: EventsConfig,
    pub health: HealthConfig,
    pub breaker: BreakerRules,
    pub budgets: BudgetsConfig,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthConfig {
    /// Seconds a new probe status must hold before it is committed.
    pub debounce_s: u64,
    /// Consecutive results that commit a new probe status sooner.
    pub debounce_count: u32,
    /// Seconds between runs of a probe without its own `interval`.
    pub interval_s: u64,
    /// Seconds a probe without its own `timeout` may take.
    pub timeout_s: u64,
    /// What a probe that times out counts as, unless it says otherwise.
    pub timeout_outcome: Outcome,
    /// Probes run at the same time by `observer probe`.
    pub parallel: usize,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            debounce_s: 30,
            debounce_count: 3,
            interval_s: 60,
            timeout_s: 10,
            timeout_outcome: Outcome::Critical,
            parallel: 8,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BudgetsConfig {
    /// Probe runs allowed in any 60 s of engine clock; 0 disables the budget.
    pub probe_runs_per_minute: u32,
}

impl Default for BudgetsConfig {
    fn default() -> Self {
        BudgetsConfig { probe_runs_per_minute: 120 }
    }
}

/// A probe's own `breaker:` settings in `services.yaml`; each one replaces the
/// config's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerOverrides {
    pub failure_threshold: Option<u32>,
    pub success_threshold: Option<u32>,
    pub timeout_s: Option<u64>,
    pub half_open_requests: Option<u32>,
    pub failure_outcomes: Option<Vec<Outcome>>,
    pub failure_http_statuses: Option<Vec<u16>>,
    pub count_timeouts: Option<bool>,
    pub excluded_exit_codes: Option<Vec<i64>>,
}

/// A probe's own `debounce:` settings in `services.yaml`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DebounceOverrides {
    pub seconds: Option<u64>,
    pub count: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodesConfig {
    /// Seconds of engine clock without a heartbeat before an `up` node is `stale`.
    pub stale_after_s: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Days of engine clock that resolved incidents and finished deployments are kept.
    pub days: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    /// Seconds of engine clock an event `id` is remembered to drop duplicates.
    pub dedup_window_s: u64,
}

impl Default for NodesConfig {
    fn default() -> Self {
        NodesConfig { stale_after_s: 300 }
    }
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig { days: 30 }
    }
}

impl Default for EventsConfig {
    fn default() -> Self {
        EventsConfig { dedup_window_s: 7 * 24 * 3600 }
    }
}

/// The defaults as commented YAML (`observer config --defaults`). A test
/// checks that it parses back to `Config::default()`.
pub const DEFAULTS_YAML: &str = "\
# observer configuration. Every key is optional; these are the defaults.
# All durations are measured on the engine clock (the newest event's ts),
# never on the wall clock.

nodes:
  # Seconds without a heartbeat before an `up` node is reported `stale`.
  stale_after_s: 300

retention:
  # Days that resolved incidents and finished deployments stay in the world.
  days: 30

events:
  # Seconds an event `id` is remembered; a second event with the same id
  # within this window is counted as a duplicate and not folded.
  dedup_window_s: 604800

health:
  # A new probe status is committed once it held this many seconds...
  debounce_s: 30
  # ...or this many consecutive results, whichever comes first.
  debounce_count: 3
  # Defaults for probes that do not set `interval` or `timeout` (seconds).
  interval_s: 60
  timeout_s: 10
  # What a probe that times out counts as: ok, warning, critical or unknown.
  timeout_outcome: critical
  # Probes `observer probe` runs at the same time.
  parallel: 8

breaker:
  # Consecutive failures that open a probe's circuit breaker.
  failure_threshold: 5
  # Successes while half-open that close it again.
  success_threshold: 2
  # Seconds an open breaker waits before admitting a probe (half-open).
  timeout_s: 60
  # Runs admitted per `observer probe` while half-open. Each probe has its own
  # breaker and runs at most once per round, so any value from 1 admits it.
  half_open_requests: 1
  # Which results count as failures: outcomes...
  failure_outcomes: [critical, unknown]
  # ...HTTP statuses (empty: any failing HTTP result counts)...
  failure_http_statuses: []
  # ...timeouts...
  count_timeouts: true
  # ...except these exit codes of command probes.
  excluded_exit_codes: []

budgets:
  # Probe runs in any 60 s of engine clock; 0 disables the budget.
  probe_runs_per_minute: 120
";

impl Config {
    /// The rules of the fold: these thresholds, with each probe's
    /// overrides from the inventory.
    pub fn rules(&self, inventory: &Inventory) -> Rules {
        let probe_defaults = ProbeRules {
            debounce: DebounceRules { debounce_s: self.health.debounce_s, debounce_count: self.health.debounce_count },
            breaker: self.breaker.clone(),
        };
        let probes = inventory
            .probes
            .iter()
            .filter(|probe| {
                probe.breaker != BreakerOverrides::default() || probe.debounce != DebounceOverrides::default()
            })
            .map(|probe| (probe.key(), self.probe_rules(&probe_defaults, &probe.breaker, &probe.debounce)))
            .collect();
        Rules {
            retention_s: self.retention.days.saturating_mul(24 * 3600),
            dedup_window_s: self.events.dedup_window_s,
            probe_defaults,
            probes,
            probe_runs_per_minute: self.budgets.probe_runs_per_minute,
            declared_probes: inventory.probes.iter().map(ProbeDef::key).collect(),
        }
    }

    fn probe_rules(
        &self,
        defaults: &ProbeRules,
        breaker: &BreakerOverrides,
        debounce: &DebounceOverrides,
    ) -> ProbeRules {
        let base = &defaults.breaker;
        ProbeRules {
            debounce: DebounceRules {
                debounce_s: debounce.seconds.unwrap_or(defaults.debounce.debounce_s),
                debounce_count: debounce.count.unwrap_or(defaults.debounce.debounce_count),
            },
            breaker: BreakerRules {
                failure_threshold: breaker.failure_threshold.unwrap_or(base.failure_threshold),
                success_threshold: breaker.success_threshold.unwrap_or(base.success_threshold),
                timeout_s: breaker.timeout_s.unwrap_or(base.timeout_s),
                half_open_requests: breaker.half_open_requests.unwrap_or(base.half_open_requests),
                failure_outcomes: breaker.failure_outcomes.clone().unwrap_or_else(|| base.failure_outcomes.clone()),
                failure_http_statuses: breaker
                    .failure_http_statuses
                    .clone()
                    .unwrap_or_else(|| base.failure_http_statuses.clone()),
                count_timeouts: breaker.count_timeouts.unwrap_or(base.count_timeouts),
                excluded_exit_codes: breaker
                    .excluded_exit_codes
                    .clone()
                    .unwrap_or_else(|| base.excluded_exit_codes.clone()),
            },
        }
    }

    pub fn parse(text: &str, file: &Path) -> Result<Config, InputProblem> {
        if text.trim().is_empty() {
            return Ok(Config::default());
        }
        let config: Config = serde_yaml::from_str(text).map_err(|e| InputProblem::from_yaml(file, &e))?;
        if config.health.timeout_outcome == Outcome::Skipped {
            return Err(InputProblem::new(
                file,
                None,
                "health.timeout_outcome may be ok, warning, critical or unknown",
            ));
        }
        Ok(config)
    }

    pub fn load(file: &Path) -> Result<Config, InputProblem> {
        let text = std::fs::read_to_string(file)
            .map_err(|e| InputProblem::new(file, None, format!("cannot read the config: {e}")))?;
        Config::parse(&text, file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_printed_defaults_are_the_defaults() {
        assert_eq!(Config::parse(DEFAULTS_YAML, Path::new("x")).unwrap(), Config::default());
    }

    #[test]
    fn unknown_keys_are_reported_with_their_line() {
        let problem = Config::parse("nodes:\n  stale_after: 10\n", Path::new("observer.yaml")).unwrap_err();
        assert_eq!(problem.line, Some(2));
        assert!(problem.message.contains("stale_after"), "{}", problem.message);
    }
}
