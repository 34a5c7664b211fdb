//! Debounce of one probe's health (SPEC §5): a change of status is committed
//! only after it has held for `debounce_s` of engine clock or for
//! `debounce_count` consecutive results, in both directions. Until then the
//! candidate is exposed as `pending`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::event::Outcome;
use crate::time::Ts;

/// The health a probe result speaks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    Unknown,
    Ok,
    Warning,
    Failing,
}

impl Health {
    /// `skipped` says nothing about health.
    pub fn of(outcome: Outcome) -> Option<Health> {
        match outcome {
            Outcome::Ok => Some(Health::Ok),
            Outcome::Warning => Some(Health::Warning),
            Outcome::Critical | Outcome::Unknown => Some(Health::Failing),
            Outcome::Skipped => None,
        }
    }
}

/// `health.debounce_s` and `health.debounce_count`, or a probe's own
/// `debounce:` settings (built by `crate::rules`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DebounceRules {
    pub debounce_s: u64,
    pub debounce_count: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Pending {
    pub status: Health,
    pub since: Ts,
    pub count: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Debounce {
    /// The committed status.
    pub status: Health,
    /// When `status` was committed.
    pub since: Option<Ts>,
    pub pending: Option<Pending>,
}

impl Default for Debounce {
    fn default() -> Self {
        Debounce { status: Health::Unknown, since: None, pending: None }
    }
}

impl Debounce {
    /// Folds one result's health. Returns the newly committed status when
    /// the result committed a change. Leaving `unknown` is a change like any
    /// other: a probe's first result alone commits nothing.
    pub(super) fn on_result(&mut self, at: Ts, health: Health, rules: &DebounceRules) -> Option<Health> {
        if health == self.status {
            self.pending = None;
            return None;
        }
        let pending = match self.pending.take() {
            Some(mut pending) if pending.status == health => {
                pending.count += 1;
                pending
            }
            _ => Pending { status: health, since: at, count: 1 },
        };
        let held_long_enough = at >= pending.since.plus_seconds(rules.debounce_s);
        if pending.count >= rules.debounce_count.max(1) || held_long_enough {
            return self.commit(at, health);
        }
        self.pending = Some(pending);
        None
    }

    fn commit(&mut self, at: Ts, health: Health) -> Option<Health> {
        self.status = health;
        self.since = Some(at);
        self.pending = None;
        Some(health)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: DebounceRules = DebounceRules { debounce_s: 30, debounce_count: 3 };

    fn at(s: i64) -> Ts {
        Ts(s * 1000)
    }

    #[test]
    fn the_first_result_is_debounced_too() {
        let mut d = Debounce::default();
        assert_eq!(d.on_result(at(0), Health::Failing, &RULES), None);
        assert_eq!(d.status, Health::Unknown);
        assert_eq!(d.on_result(at(30), Health::Failing, &RULES), Some(Health::Failing));
    }

    #[test]
    fn one_failure_among_successes_changes_nothing() {
        let mut d = Debounce::default();
        d.on_result(at(0), Health::Ok, &RULES);
        assert_eq!(d.on_result(at(30), Health::Ok, &RULES), Some(Health::Ok));
        assert_eq!(d.on_result(at(40), Health::Failing, &RULES), None);
        assert_eq!(d.pending.as_ref().map(|p| p.status), Some(Health::Failing));
        assert_eq!(d.on_result(at(50), Health::Ok, &RULES), None);
        assert_eq!(d.pending, None);
        assert_eq!(d.status, Health::Ok);
    }

    #[test]
    fn a_change_commits_by_count_or_by_time_in_both_directions() {
        let mut d = Debounce { status: Health::Ok, since: Some(at(0)), pending: None };
        assert_eq!(d.on_result(at(1), Health::Failing, &RULES), None);
        assert_eq!(d.on_result(at(2), Health::Failing, &RULES), None);
        assert_eq!(d.on_result(at(3), Health::Failing, &RULES), Some(Health::Failing), "third result");
        assert_eq!(d.on_result(at(10), Health::Ok, &RULES), None);
        assert_eq!(d.on_result(at(40), Health::Ok, &RULES), Some(Health::Ok), "held 30 s");
        assert_eq!(d.since, Some(at(40)));
    }
}
