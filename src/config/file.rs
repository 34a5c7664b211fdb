//! The keys of `observer.yaml`, section by section, and reading the file.
//! Every key is optional: the value of one left out is in `defaults`.
//! This is the file's schema only; the engine reads its own rules, built
//! from it by `crate::rules`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::alerts::AlertsConfig;
use super::notify::NotifyConfig;
use crate::event::Outcome;
use crate::input_problem::InputProblem;

/// Not `Eq`: the alert rules hold ratios and percents as written.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub nodes: NodesConfig,
    pub retention: RetentionConfig,
    pub world: WorldConfig,
    pub events: EventsConfig,
    pub health: HealthConfig,
    pub breaker: BreakerConfig,
    pub budgets: BudgetsConfig,
    pub alerts: AlertsConfig,
    pub notify: NotifyConfig,
    pub watch: WatchConfig,
    pub integrity: IntegrityConfig,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodesConfig {
    /// Seconds of engine clock without a heartbeat before an `up` node is `stale`.
    #[serde(deserialize_with = "super::alerts::seconds")]
    pub stale_after_s: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Days of engine clock that resolved incidents and finished deployments are kept.
    pub days: u64,
}

/// The `world:` section: how much the hot view keeps (SPEC §4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorldConfig {
    /// Finished entries the hot view keeps: deployments and resolved
    /// incidents per node/service, resolved episodes per alert key; older
    /// ones move to `world/history/<kind>-YYYY-MM.jsonl`.
    pub keep_finished: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    /// Seconds of engine clock an event `id` is remembered to drop duplicates.
    #[serde(deserialize_with = "super::alerts::seconds")]
    pub dedup_window_s: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthConfig {
    /// Seconds a new probe status must hold before it is committed.
    #[serde(deserialize_with = "super::alerts::seconds")]
    pub debounce_s: u64,
    /// Consecutive results that commit a new probe status sooner.
    #[serde(deserialize_with = "super::alerts::count")]
    pub debounce_count: u32,
    /// Seconds between runs of a probe without its own `interval`.
    #[serde(deserialize_with = "super::alerts::seconds")]
    pub interval_s: u64,
    /// Seconds a probe without its own `timeout` may take.
    #[serde(deserialize_with = "super::alerts::seconds")]
    pub timeout_s: u64,
    /// What a probe that times out counts as, unless it says otherwise.
    pub timeout_outcome: Outcome,
    /// Probes run at the same time by `observer probe`.
    pub parallel: usize,
}

/// The `breaker:` section: every probe's circuit breaker, unless the probe
/// overrides a key in `services.yaml`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerConfig {
    /// Consecutive failures that open a closed breaker.
    #[serde(deserialize_with = "super::alerts::count")]
    pub failure_threshold: u32,
    /// Successes in `half_open` that close it.
    #[serde(deserialize_with = "super::alerts::count")]
    pub success_threshold: u32,
    /// Seconds an open breaker waits before admitting a probe again.
    #[serde(deserialize_with = "super::alerts::seconds")]
    pub timeout_s: u64,
    /// Probes admitted per probe run while `half_open`.
    #[serde(deserialize_with = "super::alerts::count")]
    pub half_open_requests: u32,
    /// Outcomes that count as failures.
    pub failure_outcomes: Vec<Outcome>,
    /// When not empty, an HTTP result that has a status counts as a failure
    /// only if its status is listed (connection errors and timeouts still do).
    pub failure_http_statuses: Vec<u16>,
    /// Whether a timed-out probe counts as a failure.
    pub count_timeouts: bool,
    /// Exit codes of command probes that never count as failures.
    pub excluded_exit_codes: Vec<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BudgetsConfig {
    /// Probe runs allowed in any 60 s of engine clock; 0 disables the budget.
    #[serde(deserialize_with = "super::alerts::count")]
    pub probe_runs_per_minute: u32,
    /// Firing and reminder notifications in any hour of engine clock; 0
    /// disables the budget.
    #[serde(deserialize_with = "super::alerts::count")]
    pub notifications_per_hour: u32,
    /// Warning lines on stderr in one wall-clock minute; the rest are
    /// counted and one line says how many were left out. 0 is unlimited.
    #[serde(deserialize_with = "super::alerts::count")]
    pub log_lines_per_minute: u32,
}

/// A config and its notes: keys under an older name ([`super::renamed`]).
pub type Noted = (Config, Vec<InputProblem>);
/// The `watch:` section: the clocks of `observer watch` (wall clock, read
/// once when it starts).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WatchConfig {
    /// Seconds between the ticks `watch` appends; 0: no ticks.
    pub tick_s: u64,
    /// Seconds between full rescans of `events/`, besides the notify
    /// wake-ups; at least 1.
    pub rescan_s: u64,
    /// Whether file-system notifications (inotify) wake `watch` up; off,
    /// only the rescan finds new events.
    pub notify_wakeups: bool,
}

/// The `integrity:` section: the scrub of consumed event bytes (guarantee 6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntegrityConfig {
    /// Consumed event bytes each run checks against their block hashes,
    /// round-robin over every file (each file opened counts 4096 more); 0:
    /// no scrub (`observer verify` still checks everything).
    pub scrub_bytes_per_run: u64,
}

impl Config {
    /// The config in `text`, or its first problem; when there are more, the
    /// message says how many and that `observer validate` lists them.
    pub fn parse(text: &str, file: &Path) -> Result<Config, InputProblem> {
        Config::parse_all(text, file).map(|(config, _)| config).map_err(first_of)
    }

    /// The config in `text` with its notes, or every problem in it
    /// ([`crate::yaml_problems`]).
    pub fn parse_all(text: &str, file: &Path) -> Result<Noted, Vec<InputProblem>> {
        // Nothing but comments (the file `observer init` writes) is the
        // defaults too.
        if text.lines().all(|line| line.trim().is_empty() || line.trim_start().starts_with('#')) {
            return Ok((Config::default(), Vec::new()));
        }
        let (text, notes) = super::renamed::rename_older_keys(text, file);
        let config: Config = crate::yaml_problems::parse_all(&text, file)?;
        if config.health.timeout_outcome == Outcome::Skipped {
            return Err(vec![InputProblem::new(
                file,
                None,
                "health.timeout_outcome may be ok, warning, critical or unknown",
            )]);
        }
        if config.watch.rescan_s == 0 {
            return Err(vec![InputProblem::new(
                file,
                crate::input_problem::line_of_key_value(&text, "rescan_s", "0", 1),
                "watch.rescan_s must be at least 1: the rescan is what finds the events a notification missed",
            )]);
        }
        Ok((config, notes))
    }

    /// The config file with its notes, or its first problem.
    pub fn load(file: &Path) -> Result<Noted, InputProblem> {
        Config::load_all(file).map_err(first_of)
    }

    /// [`Config::load`] with every problem (for `observer validate`).
    pub fn load_all(file: &Path) -> Result<Noted, Vec<InputProblem>> {
        let text = std::fs::read_to_string(file)
            .map_err(|e| vec![InputProblem::new(file, None, format!("cannot read the config: {e}"))])?;
        Config::parse_all(&text, file)
    }
}

/// The first problem, saying how many more there are.
fn first_of(problems: Vec<InputProblem>) -> InputProblem {
    let more = problems.len().saturating_sub(1);
    let mut first = problems.into_iter().next().unwrap_or_else(|| InputProblem::new(Path::new(""), None, ""));
    if more > 0 {
        let noun = if more == 1 { "problem" } else { "problems" };
        first.message =
            format!("{} ({more} more {noun} in this file: `observer validate` lists them all)", first.message);
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_reported_with_their_line() {
        let problem = Config::parse("nodes:\n  stale_after_minutes: 10\n", Path::new("observer.yaml")).unwrap_err();
        assert_eq!(problem.line, Some(2));
        assert!(problem.message.contains("stale_after_minutes"), "{}", problem.message);
    }

    #[test]
    fn the_first_problem_says_how_many_more_there_are() {
        let text = "nodes:\n  stale_after_minutes: 10\nhealth:\n  debounce_s: soon\n  parallel: -1\n";
        let all = Config::parse_all(text, Path::new("observer.yaml")).unwrap_err();
        assert_eq!(all.len(), 3);
        assert_eq!(all.iter().map(|p| p.line).collect::<Vec<_>>(), [Some(2), Some(4), Some(5)], "{all:?}");
        let first = Config::parse(text, Path::new("observer.yaml")).unwrap_err();
        assert_eq!(first.line, Some(2));
        assert!(first.message.ends_with("(2 more problems in this file: `observer validate` lists them all)"));
    }

    #[test]
    fn an_unknown_breaker_key_is_refused() {
        let problem = Config::parse("breaker:\n  threshold: 3\n", Path::new("observer.yaml")).unwrap_err();
        assert_eq!(problem.line, Some(2));
        assert!(problem.message.contains("threshold"), "{}", problem.message);
    }
}
