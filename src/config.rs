//! Thresholds, from `--config`, `OBSERVER_CONFIG`, `<root>/observer.yaml` or
//! the built-in defaults. Unknown keys are errors, so a typo never silently
//! falls back to a default.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::engine::Rules;
use crate::problem::Problem;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub nodes: NodesConfig,
    pub retention: RetentionConfig,
    pub events: EventsConfig,
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
";

impl Config {
    pub fn rules(&self) -> Rules {
        Rules { retention_s: self.retention.days.saturating_mul(24 * 3600), dedup_window_s: self.events.dedup_window_s }
    }

    pub fn parse(text: &str, file: &Path) -> Result<Config, Problem> {
        if text.trim().is_empty() {
            return Ok(Config::default());
        }
        serde_yaml::from_str(text).map_err(|e| Problem::from_yaml(file, &e))
    }

    pub fn load(file: &Path) -> Result<Config, Problem> {
        let text = std::fs::read_to_string(file)
            .map_err(|e| Problem::new(file, None, format!("cannot read the config: {e}")))?;
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
