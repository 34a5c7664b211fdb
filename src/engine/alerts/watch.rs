//! What the alert engine keeps per node and per service beyond the engine's
//! own state: the sliding windows of `deployment_failures` and
//! `failure_rate`, and the status history of `flapping`.
//!
//! Flapping follows the idea of Nagios' percent state change: of the last
//! 21 statuses a service committed (one per check or health event), each of
//! the 20 transitions between them that changed the status counts with a
//! weight from 0.8 (oldest) to 1.2 (newest), and the sum is taken over 20.
//! The history is kept as a 20-bit mask of changes, newest in bit 0.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::engine::ServiceStatus;
use crate::time::Ts;

/// Transitions between the 21 statuses the flapping rule looks at.
const TRANSITIONS: u32 = 20;
/// Checks kept per service for `failure_rate`: a service checked more often
/// than this within the window is judged on its latest checks.
pub const MAX_CHECKS: usize = 4096;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeWatch {
    /// Rules with an alert of this node ([`rule_bit`]): the others need no
    /// look-up while their condition is false.
    pub present: u16,
    /// Whether the node was down or stale when last looked at: its service
    /// alerts are suppressed meanwhile.
    pub blocked: bool,
    /// The queued staleness check, if any (one per node at a time).
    pub stale_check: Option<Ts>,
    /// Failed deployments within the window.
    pub failures: VecDeque<Ts>,
    pub failures_check: Option<Ts>,
    /// Which node rules (`node_down`, `node_stale`) may have a live alert
    /// of this node, as [`ServiceWatch::live`] for the service rules: not
    /// in the checkpoint and never compared.
    #[serde(skip)]
    pub live: LiveHint,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceWatch {
    /// Rules with an alert of this service or one of its probes.
    pub present: u16,
    last_status: Option<ServiceStatus>,
    /// Which of the last 20 transitions changed the status; newest bit 0.
    changes: u32,
    /// Whether the service flaps (hysteresis between high and low).
    pub flapping: bool,
    /// The percent state change, in basis points, at the last status.
    pub change_bp: u32,
    /// Executed checks within the window, and whether each failed.
    pub checks: VecDeque<(Ts, bool)>,
    pub failed: u32,
    pub rate_check: Option<Ts>,
    /// Which service rules may have a live (pending or firing) alert of
    /// this service: not in the checkpoint and never compared.
    #[serde(skip)]
    pub live: LiveHint,
}

/// The rules ([`rule_bit`]) whose alert of one service (or node) may be live
/// (pending or firing). Every evaluation of such a rule sets its bit when
/// it leaves the alert live and clears it when not, and an alert becomes
/// live only through an evaluation, so a clear bit means "not live". A
/// watch starts with every bit set (after a load, or new): until a rule is
/// first evaluated its alert may be live. A condition that does not hold
/// under a clear bit leaves the state as it is (a resolved alert stays
/// resolved, no alert stays absent), so the fold skips its evaluation and
/// the look-up of a resolved alert kept in the hot view, which was most of
/// the alert engine's cost per service event on the busy history. The
/// nodes have one since issue 11's thirty-third pass: every heartbeat of a
/// node with a resolved `node_down` alert evaluated the rule and looked the
/// alert up (~83,000 evaluations on the busy rebuild, ~5 % of the alert
/// engine's time on the fold's thread, perf).
#[derive(Clone, Copy, Debug, Eq)]
pub struct LiveHint(u16);

impl LiveHint {
    pub fn may_be_live(self, rule: crate::engine::alerts::Rule) -> bool {
        self.0 & rule_bit(rule) != 0
    }

    /// Whether `rule` is to be evaluated for a subject whose alerts are
    /// `present` ([`rule_bit`]s): when its condition `holds`, or while its
    /// alert may be live. A condition that does not hold leaves a resolved
    /// alert as it is, and no alert absent.
    pub fn asks(self, present: u16, rule: crate::engine::alerts::Rule, holds: bool) -> bool {
        holds || (present & rule_bit(rule) != 0 && self.may_be_live(rule))
    }

    pub fn set(&mut self, rule: crate::engine::alerts::Rule, live: bool) {
        match live {
            true => self.0 |= rule_bit(rule),
            false => self.0 &= !rule_bit(rule),
        }
    }
}

impl Default for LiveHint {
    fn default() -> Self {
        LiveHint(u16::MAX)
    }
}

/// A hint, not state: two watches that differ only in it are the same.
impl PartialEq for LiveHint {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl ServiceWatch {
    /// Records a committed status and updates the flapping state with its
    /// hysteresis: it starts at `high_bp` or more, ends at `low_bp` or less.
    pub fn record_status(&mut self, status: ServiceStatus, high_bp: u32, low_bp: u32) {
        if let Some(last) = self.last_status {
            self.changes = (self.changes << 1 | u32::from(last != status)) & ((1 << TRANSITIONS) - 1);
        }
        self.last_status = Some(status);
        self.change_bp = percent_change_bp(self.changes);
        if !self.flapping && self.change_bp >= high_bp {
            self.flapping = true;
        } else if self.flapping && self.change_bp <= low_bp {
            self.flapping = false;
        }
    }

    /// Records one executed check at `ts`.
    pub fn record_check(&mut self, ts: Ts, failed: bool) {
        self.checks.push_back((ts, failed));
        self.failed += u32::from(failed);
        if self.checks.len() > MAX_CHECKS {
            self.pop_check();
        }
    }

    /// Forgets checks at or before `now - window_s`.
    pub fn prune_checks(&mut self, now: Ts, window_s: u64) {
        let horizon = now.minus_seconds(window_s);
        while self.checks.front().is_some_and(|(at, _)| *at <= horizon) {
            self.pop_check();
        }
    }

    fn pop_check(&mut self) {
        if let Some((_, failed)) = self.checks.pop_front() {
            self.failed -= u32::from(failed);
        }
    }
}

/// The bit of a rule in the `present` masks.
pub fn rule_bit(rule: crate::engine::alerts::Rule) -> u16 {
    1 << (rule as u16)
}

/// Forgets the failures at or before `now - window_s`.
pub fn prune_times(times: &mut VecDeque<Ts>, now: Ts, window_s: u64) {
    let horizon = now.minus_seconds(window_s);
    while times.front().is_some_and(|at| *at <= horizon) {
        times.pop_front();
    }
}

/// The weighted percent state change of a change mask, in basis points.
/// The weight of the transition in bit `b` is `0.8 + 0.4 * (19 - b) / 19`,
/// kept exact in units of 1/1900; the sum over 20 transitions of weight 1.2
/// down to 0.8 is 38000 units, which is 100 %.
pub fn percent_change_bp(changes: u32) -> u32 {
    let top = TRANSITIONS - 1;
    let units: u32 = (0..TRANSITIONS).filter(|b| changes >> b & 1 == 1).map(|b| 80 * top + 40 * (top - b)).sum();
    units * 10_000 / (100 * top * TRANSITIONS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_changes_weigh_most() {
        assert_eq!(percent_change_bp(0), 0);
        assert_eq!(percent_change_bp((1 << 20) - 1), 10_000);
        assert_eq!(percent_change_bp(1), 600, "the newest: 1.2 / 20");
        assert_eq!(percent_change_bp(1 << 19), 400, "the oldest: 0.8 / 20");
    }

    #[test]
    fn flapping_starts_high_and_ends_low() {
        let mut watch = ServiceWatch::default();
        let statuses = [ServiceStatus::Healthy, ServiceStatus::Unhealthy];
        for i in 0..4 {
            watch.record_status(statuses[i % 2], 2000, 500);
        }
        assert!(!watch.flapping, "3 changes: {}", watch.change_bp);
        watch.record_status(ServiceStatus::Unhealthy, 2000, 500);
        watch.record_status(ServiceStatus::Healthy, 2000, 500);
        assert!(watch.flapping, "4 changes: {}", watch.change_bp);
        for _ in 0..14 {
            watch.record_status(ServiceStatus::Healthy, 2000, 500);
        }
        assert!(watch.flapping, "still above low: {}", watch.change_bp);
        for _ in 0..6 {
            watch.record_status(ServiceStatus::Healthy, 2000, 500);
        }
        assert!(!watch.flapping, "{}", watch.change_bp);
    }

    #[test]
    fn the_live_hint_starts_set_and_follows_each_rule() {
        use crate::engine::alerts::Rule;
        let mut hint = LiveHint::default();
        assert!(Rule::ALL.iter().all(|rule| hint.may_be_live(*rule)), "unknown after a load: look");
        hint.set(Rule::ServiceUnhealthy, false);
        assert!(!hint.may_be_live(Rule::ServiceUnhealthy));
        assert!(hint.may_be_live(Rule::Flapping), "the other rules keep their bit");
        hint.set(Rule::ServiceUnhealthy, true);
        assert!(hint.may_be_live(Rule::ServiceUnhealthy));
    }

    #[test]
    fn the_live_hint_is_neither_written_nor_compared() {
        let mut watch = ServiceWatch::default();
        watch.live.set(crate::engine::alerts::Rule::Flapping, false);
        assert_eq!(watch, ServiceWatch::default());
        let json = serde_json::to_string(&watch).unwrap();
        assert!(!json.contains("live"), "{json}");
        let back: ServiceWatch = serde_json::from_str(&json).unwrap();
        assert!(back.live.may_be_live(crate::engine::alerts::Rule::Flapping), "a loaded watch looks again");
    }
}
