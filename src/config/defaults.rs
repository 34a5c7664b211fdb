//! The default of every config key, written once: the `Default` of each
//! section. Everything else reads them from here: a config file leaving a
//! key out, the engine's `Rules::default()` (built in `crate::rules`), and
//! `observer config --defaults`, whose commented YAML is tested to parse
//! back to exactly these values with every key present.

use super::file::{BreakerConfig, BudgetsConfig, EventsConfig, HealthConfig, NodesConfig, RetentionConfig};
use super::notify::NotifyConfig;
use crate::event::Outcome;

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

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 5,
            success_threshold: 2,
            timeout_s: 60,
            half_open_requests: 1,
            failure_outcomes: vec![Outcome::Critical, Outcome::Unknown],
            failure_http_statuses: Vec::new(),
            count_timeouts: true,
            excluded_exit_codes: Vec::new(),
        }
    }
}

impl Default for BudgetsConfig {
    fn default() -> Self {
        BudgetsConfig { probe_runs_per_minute: 120 }
    }
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig { enabled: true, give_up_after_s: 86_400, parallel: 4, channels: Vec::new() }
    }
}

/// The defaults as commented YAML (`observer config --defaults`). Written
/// by hand for its comments; the tests below keep it equal to the
/// `Default` impls above.
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

notify:
  # Off on a standby observer that folds the same events: only one delivers.
  enabled: true
  # Seconds of wall clock after the first attempt before an undelivered
  # notification is dead-lettered.
  give_up_after_s: 86400
  # Deliveries in flight at once, per channel.
  parallel: 4
  # Where notifications go: each a `hook` (argv) or a `webhook` (URL).
  channels: []
";

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::file::Config;

    #[test]
    fn the_printed_defaults_are_the_defaults() {
        assert_eq!(Config::parse(DEFAULTS_YAML, Path::new("x")).unwrap(), Config::default());
    }

    /// Parsing alone would accept a printed file that left a key out (it
    /// takes its default): compared as YAML, every key must be printed, with
    /// its default value, in the sections and order of the config.
    #[test]
    fn the_printed_defaults_show_every_key() {
        let printed: serde_yaml::Value = serde_yaml::from_str(DEFAULTS_YAML).unwrap();
        let defaults = serde_yaml::to_value(Config::default()).unwrap();
        assert_eq!(printed, defaults);
        let keys = |value: &serde_yaml::Value| -> Vec<String> {
            let Some(sections) = value.as_mapping() else { return Vec::new() };
            sections
                .iter()
                .flat_map(|(section, keys)| {
                    let section = section.as_str().unwrap_or_default().to_string();
                    let keys = keys.as_mapping().into_iter().flat_map(|keys| keys.keys());
                    keys.map(move |key| format!("{section}.{}", key.as_str().unwrap_or_default()))
                })
                .collect()
        };
        assert_eq!(keys(&printed), keys(&defaults));
    }
}
