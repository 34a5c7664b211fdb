//! The circuit breaker of one probe (SPEC §5): `closed` → `open` after
//! `failure_threshold` consecutive failures; `open` → `half_open` once
//! `timeout_s` of engine clock has passed; `half_open` admits
//! `half_open_requests` probes at a time, `success_threshold` successes close
//! it and any failure opens it again. Every transition is kept with its reason.

use std::collections::VecDeque;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::event::{Outcome, ProbeReport};
use crate::time::Ts;

/// Transitions kept per breaker.
const MAX_TRANSITIONS: usize = 20;

/// The breaker thresholds and what counts as a failure: the config's
/// `breaker:` section with a probe's overrides, built by `crate::rules`
/// (where its `Default`, the built-in section, comes from too).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BreakerRules {
    /// Consecutive failures that open a closed breaker.
    pub failure_threshold: u32,
    /// Successes in `half_open` that close it.
    pub success_threshold: u32,
    /// Seconds an open breaker waits before admitting a probe again.
    pub timeout_s: u64,
    /// Probes admitted per probe run while `half_open`.
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

impl BreakerRules {
    /// Whether an executed result counts as a failure for the breaker.
    pub fn is_failure(&self, report: &ProbeReport) -> bool {
        if report.timed_out {
            return self.count_timeouts;
        }
        if !self.failure_outcomes.contains(&report.outcome) {
            return false;
        }
        if let Some(code) = report.exit_code
            && self.excluded_exit_codes.contains(&code)
        {
            return false;
        }
        match report.http_status {
            Some(status) if !self.failure_http_statuses.is_empty() => self.failure_http_statuses.contains(&status),
            _ => true,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Transition {
    pub at: Ts,
    pub from: BreakerState,
    pub to: BreakerState,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Breaker {
    pub state: BreakerState,
    /// When the current state began; null while it never left `closed`.
    pub since: Option<Ts>,
    pub consecutive_failures: u32,
    pub consecutive_successes: u32,
    /// Results received since entering `half_open`.
    pub half_open_results: u32,
    pub transitions: VecDeque<Transition>,
}

impl Default for Breaker {
    fn default() -> Self {
        Breaker {
            state: BreakerState::Closed,
            since: None,
            consecutive_failures: 0,
            consecutive_successes: 0,
            half_open_results: 0,
            transitions: VecDeque::new(),
        }
    }
}

impl Breaker {
    /// When an open breaker becomes half-open, if it is open.
    pub fn reopens_at(&self, rules: &BreakerRules) -> Option<Ts> {
        match (self.state, self.since) {
            (BreakerState::Open, Some(since)) => Some(since.plus_seconds(rules.timeout_s)),
            _ => None,
        }
    }

    /// Moves an open breaker to `half_open` once its timeout has passed on
    /// the clock. Returns whether it did.
    pub(super) fn on_clock(&mut self, clock: Ts, rules: &BreakerRules) -> bool {
        match self.reopens_at(rules) {
            Some(at) if clock >= at => {
                let reason = format!("{}s passed since it opened; admitting a probe", rules.timeout_s);
                self.transition(at, BreakerState::HalfOpen, reason);
                true
            }
            _ => false,
        }
    }

    /// Folds one executed result (skipped runs never reach the breaker).
    pub(super) fn on_result(&mut self, at: Ts, failed: bool, rules: &BreakerRules) {
        self.on_clock(at, rules);
        if failed {
            self.consecutive_failures += 1;
            self.consecutive_successes = 0;
        } else {
            self.consecutive_successes += 1;
            self.consecutive_failures = 0;
        }
        match self.state {
            BreakerState::Closed if failed && self.consecutive_failures >= rules.failure_threshold => {
                let reason = format!("{} consecutive failures", self.consecutive_failures);
                self.transition(at, BreakerState::Open, reason);
            }
            BreakerState::HalfOpen => {
                self.half_open_results += 1;
                if failed {
                    self.transition(at, BreakerState::Open, "a probe failed while half-open".into());
                } else if self.consecutive_successes >= rules.success_threshold {
                    let reason = format!("{} consecutive successes while half-open", self.consecutive_successes);
                    self.transition(at, BreakerState::Closed, reason);
                }
            }
            // A result while open (a probe run by hand, or before the prober
            // saw the breaker open) counts, but does not move the breaker.
            _ => {}
        }
    }

    fn transition(&mut self, at: Ts, to: BreakerState, reason: String) {
        self.transitions.push_back(Transition { at, from: self.state, to, reason });
        while self.transitions.len() > MAX_TRANSITIONS {
            self.transitions.pop_front();
        }
        self.state = to;
        self.since = Some(at);
        self.half_open_results = 0;
        if to == BreakerState::HalfOpen {
            self.consecutive_successes = 0;
        }
    }

    pub fn last_reason(&self) -> Option<&str> {
        self.transitions.back().map(|t| t.reason.as_str())
    }

    /// Whether the prober may run the probe now, and why not. Each probe has
    /// its own breaker and runs at most once per `observer probe`, so a
    /// half-open breaker admits that one run (`half_open_requests` bounds the
    /// results it waits for before deciding, see `on_result`).
    pub fn admits(&self, now: Ts, rules: &BreakerRules) -> Result<(), String> {
        match self.state {
            BreakerState::Closed | BreakerState::HalfOpen => Ok(()),
            BreakerState::Open => match self.reopens_at(rules) {
                Some(at) if now >= at => Ok(()),
                _ => Err(format!("circuit open: {}", self.last_reason().unwrap_or("too many failures"))),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Ts {
        Ts(s * 1000)
    }

    #[test]
    fn the_full_cycle() {
        let rules = BreakerRules::default();
        let mut b = Breaker::default();
        for i in 0..4 {
            b.on_result(at(i), true, &rules);
            assert_eq!(b.state, BreakerState::Closed);
        }
        b.on_result(at(4), true, &rules);
        assert_eq!(b.state, BreakerState::Open);
        assert_eq!(b.last_reason(), Some("5 consecutive failures"));
        assert!(!b.on_clock(at(63), &rules));
        assert!(b.on_clock(at(64), &rules));
        assert_eq!(b.state, BreakerState::HalfOpen);
        b.on_result(at(65), true, &rules);
        assert_eq!(b.state, BreakerState::Open, "a failure while half-open opens it again");
        b.on_result(at(130), false, &rules);
        assert_eq!(b.state, BreakerState::HalfOpen, "the timeout passed before this result");
        b.on_result(at(131), false, &rules);
        assert_eq!(b.state, BreakerState::Closed);
        assert_eq!(b.transitions.len(), 5);
    }

    #[test]
    fn failure_conditions_are_configurable() {
        let report = |outcome, http_status, exit_code, timed_out| ProbeReport {
            probe: "p".into(),
            outcome,
            latency_ms: None,
            detail: None,
            timed_out,
            exit_code,
            http_status,
            perfdata: None,
            target: None,
        };
        let rules = BreakerRules {
            failure_http_statuses: vec![502, 503],
            excluded_exit_codes: vec![3],
            count_timeouts: false,
            ..BreakerRules::default()
        };
        assert!(rules.is_failure(&report(Outcome::Critical, Some(503), None, false)));
        assert!(!rules.is_failure(&report(Outcome::Critical, Some(404), None, false)));
        assert!(rules.is_failure(&report(Outcome::Critical, None, None, false)), "connection errors count");
        assert!(!rules.is_failure(&report(Outcome::Unknown, None, Some(3), false)));
        assert!(!rules.is_failure(&report(Outcome::Critical, None, None, true)));
        assert!(!rules.is_failure(&report(Outcome::Warning, None, Some(1), false)));
    }
}
