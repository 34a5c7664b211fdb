//! The default of every config key, written once: the `Default` of each
//! section. Everything else reads them from here: a config file leaving a
//! key out, the engine's `Rules::default()` (built in `crate::rules`), and
//! `observer config --defaults`, whose commented YAML is tested to parse
//! back to exactly these values with every key present.

use super::alerts::{AlertsConfig, default_rule};
use super::file::{
    BreakerConfig, BudgetsConfig, EventsConfig, HealthConfig, IntegrityConfig, NodesConfig, RetentionConfig,
    WatchConfig, WorldConfig,
};
use super::notify::NotifyConfig;
use crate::engine::alerts::Rule;
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

impl Default for WorldConfig {
    fn default() -> Self {
        WorldConfig { keep_finished: 20 }
    }
}

impl Default for EventsConfig {
    fn default() -> Self {
        EventsConfig { dedup_window_s: 7 * 24 * 3600 }
    }
}

impl Default for IntegrityConfig {
    fn default() -> Self {
        IntegrityConfig { scrub_bytes_per_run: 4 * 1024 * 1024 }
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
        BudgetsConfig { probe_runs_per_minute: 120, notifications_per_hour: 0, log_lines_per_minute: 60 }
    }
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig { enabled: true, give_up_after_s: 86_400, parallel: 4, channels: Vec::new() }
    }
}

impl Default for WatchConfig {
    fn default() -> Self {
        WatchConfig { tick_s: 60, rescan_s: 60, notify_wakeups: true }
    }
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            cooldown_s: crate::engine::alerts::DEFAULT_COOLDOWN_S,
            ttl_s: 3600,
            rules: Rule::ALL.into_iter().map(|rule| (rule, default_rule(rule))).collect(),
        }
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
  # Days that resolved incidents and finished deployments stay in the world;
  # then they move to world/history/ (if keep_finished did not move them first).
  days: 30

world:
  # Finished entries the hot view keeps: per node/service in deployments.json
  # and incidents.json, per key in alerts.json. An older one moves, once, to
  # world/history/<kind>-YYYY-MM.jsonl (the month it ended).
  keep_finished: 20

events:
  # Seconds an event `id` is remembered; a second event with the same id
  # within this window is counted as a duplicate and not folded. An id seen
  # again after the window is folded like a new event.
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
  # Firing and reminder notifications in any hour of engine clock; when
  # spent, the rest wait (most severe first) and one budget_exhausted notice
  # goes out. Resolves are never held. 0 disables the budget.
  notifications_per_hour: 0
  # Warning lines on stderr in one wall-clock minute (a pass with thousands
  # of rejected lines, say); then one line says how many were left out.
  # Errors and notes are never left out. 0 is unlimited.
  log_lines_per_minute: 60

alerts:
  # Seconds two notifications of one alert are at least apart.
  cooldown_s: 300
  # Seconds between reminders while a notified alert keeps firing, and how
  # long a page lives (expires_at = ts + ttl_s); 0: no reminders.
  ttl_s: 3600
  # Every rule has enabled, for_s (seconds the condition holds before the
  # alert fires; pending until then), keep_firing_for_s (seconds it stays
  # false before the alert resolves) and severity, plus its own thresholds.
  # Services override rules in their services.yaml (`alerts:`). A rule may
  # have a runbook: an http(s) URL or a path inside the inventory; a
  # service's own `runbook:` wins.
  rules:
    # A node is down.
    node_down: {enabled: true, for_s: 0, keep_firing_for_s: 0, severity: critical}
    # A node sent no heartbeat for nodes.stale_after_s.
    node_stale: {enabled: true, for_s: 0, keep_firing_for_s: 0, severity: error}
    # A service is unhealthy; severity: the incident's, unless set here.
    service_unhealthy: {enabled: true, for_s: 0, keep_firing_for_s: 0}
    # A service is degraded (a probe reports warning).
    service_degraded: {enabled: true, for_s: 300, keep_firing_for_s: 0, severity: warning}
    # A probe's circuit breaker is open or half-open.
    breaker_open: {enabled: true, for_s: 300, keep_firing_for_s: 0, severity: error}
    # A deployment runs longer than max_running_s seconds.
    deployment_stuck: {enabled: true, for_s: 0, keep_firing_for_s: 0, severity: warning, max_running_s: 3600}
    # More than max_failed deployments of a node failed in window_s seconds.
    deployment_failures:
      {enabled: true, for_s: 0, keep_firing_for_s: 0, severity: error, max_failed: 2, window_s: 3600}
    # More than max_ratio (a share, 0 to 1) of a service's executed checks
    # failed in window_s seconds, once there were at least min_checks.
    failure_rate:
      {enabled: true, for_s: 0, keep_firing_for_s: 0, severity: warning, max_ratio: 0.2, min_checks: 10, window_s: 3600}
    # A disk probe reports warning or critical; severity: the outcome's.
    disk_low: {enabled: true, for_s: 0, keep_firing_for_s: 0}
    # A service's percent state change over its last 21 statuses reaches
    # high (percent); it ends at or below low.
    flapping: {enabled: true, for_s: 0, keep_firing_for_s: 0, severity: warning, high: 20.0, low: 5.0}

notify:
  # Off on a standby observer that folds the same events: only one
  # observer should deliver.
  enabled: true
  # Seconds (wall clock) after which an undelivered notification is
  # dead-lettered; status and check say so.
  give_up_after_s: 86400
  # Deliveries in flight at once, per channel.
  parallel: 4
  # Where notifications go. Each channel has a name and exactly one of:
  # - hook: an argv, run without a shell (an absolute path, or a program
  #   found in PATH), the notification as JSON on stdin; exit 0 = delivered;
  # - webhook: an http(s) URL, POSTed with `Idempotency-Key: <id>`, in
  #   format observer (default), alertmanager or ntfy.
  # Optional: timeout_s (10), min_severity, rules (only these rules), and
  # after_s: an escalation channel, paged only once an alert has fired
  # that many seconds unacknowledged, then with its reminders and resolve.
  #   - name: phone
  #     hook: [/usr/local/bin/page-me, --quiet]
  #     min_severity: error
  #   - name: ntfy
  #     webhook: https://ntfy.example.lan/homelab
  #     format: ntfy
  #   - name: oncall
  #     hook: [/usr/local/bin/page-oncall]
  #     after_s: 1800
  channels: []

watch:
  # `observer watch` only; wall-clock seconds, read when it starts.
  # Seconds between the ticks it appends (0: none, the clock then moves
  # only with other events).
  tick_s: 60
  # Seconds between full rescans of events/, which find what file-system
  # notifications missed: a full inotify queue, the watch limit, files
  # written on another machine of a network file system. At least 1.
  rescan_s: 60
  # Whether inotify wakes watch up as soon as a file changes (false: only
  # the rescan finds new events, as on a network file system).
  notify_wakeups: true

integrity:
  # Consumed event bytes each run (a no-op run too) checks against the block
  # hashes kept in the state, round-robin over all files, each file opened
  # counting 4096 bytes more: an edit in place is found within
  # ceil(sum over files of (consumed bytes + 4096) / this) runs. 0: no scrub;
  # `observer verify` checks every byte at once.
  scrub_bytes_per_run: 4194304
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
        fn keys(prefix: &str, value: &serde_yaml::Value, out: &mut Vec<String>) {
            let Some(map) = value.as_mapping() else { return };
            for (key, value) in map {
                let path = format!("{prefix}{}", key.as_str().unwrap_or_default());
                keys(&format!("{path}."), value, out);
                out.push(path);
            }
        }
        let (mut printed_keys, mut default_keys) = (Vec::new(), Vec::new());
        keys("", &printed, &mut printed_keys);
        keys("", &defaults, &mut default_keys);
        assert!(printed_keys.contains(&"alerts.rules.failure_rate.max_ratio".to_string()));
        assert_eq!(printed_keys, default_keys);
    }
}
