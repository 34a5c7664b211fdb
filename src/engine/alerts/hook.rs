//! Where the fold calls the alert engine: before an event (the deadlines
//! the clock passes), after it (the subjects it changed), at a pass start
//! and when history is pruned. An event touches only its own subjects.

use std::collections::BTreeSet;

use super::conditions::{self, Facts};
use super::watch::{LiveHint, rule_bit};
use super::{AlertRules, AlertState, AlertStatus, Due, Rule};
use crate::engine::probe_key;
use crate::engine::{NodeStatus, ServiceStatus};
use crate::event::{Detail, Event, Kind, Outcome};
use crate::time::Ts;

/// The deadlines at or before `until` (the clock this event moves to),
/// each at its own instant, on the state before the event.
pub fn before_event(state: &mut AlertState, until: Ts, rules: &AlertRules, facts: &Facts) {
    if state.deadlines.first().is_some_and(|(at, _, _)| *at <= until) {
        state.run_deadlines(until, rules, facts);
    }
}

/// The subjects `event` changed, evaluated at `now` (the clock).
pub fn after_event(state: &mut AlertState, event: &Event, rules: &AlertRules, facts: &Facts, now: Ts) {
    let node = event.node.as_deref();
    match (event.kind, node) {
        (Kind::Heartbeat | Kind::NodeUp | Kind::NodeDown, Some(node)) => state.node_changed(node, rules, facts, now),
        (
            Kind::ServiceUnhealthy
            | Kind::HealthcheckFailed
            | Kind::ServiceHealthy
            | Kind::HealthcheckPassed
            | Kind::ServiceRecovered,
            Some(node),
        ) => {
            let Some(service) = event.service.as_deref() else { return };
            let check = match event.kind {
                Kind::HealthcheckFailed => Some(true),
                Kind::HealthcheckPassed => Some(false),
                _ => None,
            };
            // The key is written into a buffer kept for it, not a new
            // string per service event.
            let mut key = std::mem::take(&mut state.service_buffer);
            key.clear();
            key.push_str(node);
            key.push('/');
            key.push_str(service);
            state.service_changed(&key, check, rules, facts, now);
            state.service_buffer = key;
        }
        (Kind::ProbeResult, Some(node)) => {
            let (Some(service), Detail::Probe(report)) = (event.service.as_deref(), &event.detail) else { return };
            let probe = probe_key(node, service, &report.probe);
            let service_key = &probe[..probe.len() - report.probe.len() - 1];
            let present = state.services.get(service_key).map_or(0, |w| w.present);
            let found = facts.probes.get(&probe);
            let open = found.is_some_and(|p| p.breaker.state != crate::engine::BreakerState::Closed);
            let low = found.is_some_and(|p| matches!(p.last_outcome, Some(Outcome::Warning | Outcome::Critical)));
            if open || present & rule_bit(Rule::BreakerOpen) != 0 {
                state.evaluate(Rule::BreakerOpen, &probe, rules, facts, now);
            }
            if low || present & rule_bit(Rule::DiskLow) != 0 {
                state.evaluate(Rule::DiskLow, &probe, rules, facts, now);
            }
            let check = match report.outcome {
                Outcome::Skipped => None,
                Outcome::Critical | Outcome::Unknown => Some(true),
                Outcome::Ok | Outcome::Warning => Some(false),
            };
            state.service_changed(&probe[..probe.len() - report.probe.len() - 1], check, rules, facts, now);
        }
        (Kind::DeploymentStarted | Kind::DeploymentStage | Kind::DeploymentSucceeded | Kind::DeploymentFailed, _) => {
            let Some(id) = event.correlation_id.as_deref() else { return };
            state.deployment_changed(id, event.kind, event.ts, rules, facts, now);
        }
        (Kind::MaintenanceStarted | Kind::MaintenanceEnded, _) => state.maintenance_event(event, now, rules, facts),
        (Kind::AlertAcknowledged, _) => {
            if let Detail::Acknowledged { key, by } = &event.detail {
                state.acknowledge(key, by.as_deref().unwrap_or("unknown"), now);
            }
        }
        _ => {}
    }
}

/// A pass starts: its notifications and the episodes that leave the hot
/// view are its own, rules it switched off resolve their alerts, and the
/// instants under its rules are queued: each waiting alert's fire or
/// resolve, the escalations its channels owe the firing ones, the
/// reminders of the pages open, the suppression of the subjects whose
/// `depends_on` changed (one that has passed, at the pass's start; all
/// are taken with its first event, in time order).
pub fn on_pass_started(state: &mut AlertState, rules: &AlertRules, facts: &Facts, clock: Option<Ts>) {
    state.notifications.clear();
    state.left.clear();
    state.pass_clock = Some(clock.unwrap_or(Ts::MIN));
    state.refresh_runbooks(rules);
    state.trim_episodes(rules);
    let off_before = std::mem::replace(&mut state.rules_off, rules_off(rules));
    if let Some(now) = clock {
        state.retire_disabled(rules, facts, now);
        state.wake_enabled(&off_before, rules, facts, now);
        state.queue_escalations(rules, now);
        state.queue_reminders(rules, now);
    }
    state.queue_policy_changes(rules, clock);
    state.queue_dependency_changes(rules, clock);
    state.queue_timers(rules);
}

/// Where `rules` switch a rule off, as the alert state keeps it: the
/// rule's name when it is off, and `<rule>@<node/service>` for a service
/// whose override makes it otherwise (on where the rule is off, off where
/// it is on). Empty when every rule is on everywhere.
fn rules_off(rules: &AlertRules) -> BTreeSet<String> {
    let mut off = BTreeSet::new();
    for rule in Rule::ALL {
        if !rules.settings(rule, None).enabled {
            off.insert(rule.name().to_string());
        }
    }
    for (service, overrides) in &rules.service_overrides {
        for rule in overrides.keys() {
            if rules.settings(*rule, Some(service)).enabled != rules.settings(*rule, None).enabled {
                off.insert(format!("{}@{service}", rule.name()));
            }
        }
    }
    off
}

/// Whether `off` ([`rules_off`]) has `rule` off for a subject of `service`.
fn is_off(off: &BTreeSet<String>, rule: Rule, service: Option<&str>) -> bool {
    let globally = off.contains(rule.name());
    let otherwise = service.is_some_and(|service| off.contains(&format!("{}@{service}", rule.name())));
    globally != otherwise
}

/// Whether `rule`'s part of two [`rules_off`] differs: an entry of it in
/// one and not the other.
fn rule_changed(before: &BTreeSet<String>, now: &BTreeSet<String>, rule: Rule) -> bool {
    before.symmetric_difference(now).any(|entry| entry.split('@').next() == Some(rule.name()))
}

/// Resolved alerts older than `horizon` are forgotten, like incidents,
/// unless a receiver still waits for their resolve. Their episodes leave
/// the hot view, oldest first, keys in order.
pub fn prune(state: &mut AlertState, horizon: Ts) {
    let left = &mut state.left;
    let counts = &mut state.per_rule;
    state.alerts.retain(|_, alert| {
        let keep = alert.status != AlertStatus::Resolved
            || alert.page_open
            || alert.held.is_some()
            || alert.resolved_at.is_none_or(|at| at >= horizon);
        if !keep {
            if let Some(counts) = counts {
                counts[alert.rule as usize] = counts[alert.rule as usize].saturating_sub(1);
            }
            super::PastEpisode::leave(alert, 0, left);
        }
        keep
    });
    state.nodes.retain(|_, watch| watch.blocked || watch.stale_check.is_some() || !watch.failures.is_empty());
}

impl AlertState {
    /// Each alert's runbook under the pass's rules (they change only
    /// between passes; a new alert takes its own when it starts).
    fn refresh_runbooks(&mut self, rules: &AlertRules) {
        for alert in self.alerts.values_mut_unordered() {
            let runbook = rules.runbook(alert.rule, alert.node.as_deref(), alert.service.as_deref());
            if alert.runbook.as_deref() != runbook {
                alert.runbook = runbook.map(str::to_string);
            }
        }
    }

    /// The subjects of the rules switched on since the last pass (off in
    /// `before`, on under `rules`; a service's override too), evaluated at
    /// the pass's start `now`: a condition that holds then fires without
    /// waiting for its subject's next event, as a rule switched off is
    /// resolved at once (`retire_disabled`). What a rule off did not keep
    /// up is queued too: the staleness check of a node not stale yet, the
    /// recheck of a running deployment not stuck yet, the window check of
    /// a live `failure_rate` or `deployment_failures`. In the order of
    /// `Rule::ALL`, subjects in key order.
    fn wake_enabled(&mut self, before: &BTreeSet<String>, rules: &AlertRules, facts: &Facts, now: Ts) {
        if *before == self.rules_off {
            return;
        }
        for rule in Rule::ALL {
            if !rule_changed(before, &self.rules_off, rule) {
                continue;
            }
            let subjects: Vec<String> = match rule {
                Rule::NodeDown | Rule::NodeStale => {
                    facts.nodes.sorted().into_iter().map(|(n, _)| n.to_string()).collect()
                }
                Rule::DeploymentFailures => self.nodes.sorted().into_iter().map(|(n, _)| n.to_string()).collect(),
                Rule::ServiceUnhealthy | Rule::ServiceDegraded => {
                    facts.services.sorted().into_iter().map(|(s, _)| s.to_string()).collect()
                }
                Rule::FailureRate | Rule::Flapping => {
                    self.services.sorted().into_iter().map(|(s, _)| s.to_string()).collect()
                }
                Rule::BreakerOpen | Rule::DiskLow => facts.probes.keys().cloned().collect(),
                Rule::DeploymentStuck => facts
                    .deployments
                    .sorted()
                    .into_iter()
                    .filter(|(_, run)| run.status == crate::engine::DeploymentStatus::Running)
                    .map(|(id, _)| id.to_string())
                    .collect(),
            };
            for subject in subjects {
                let service = conditions::service_of(rule, &subject);
                if is_off(before, rule, service) && !is_off(&self.rules_off, rule, service) {
                    self.switched_on(rule, &subject, rules, facts, now);
                }
            }
        }
    }

    /// One subject of a rule switched on: evaluated at `now`, and what a
    /// rule off left unqueued, queued.
    fn switched_on(&mut self, rule: Rule, subject: &str, rules: &AlertRules, facts: &Facts, now: Ts) {
        let live = self.evaluate(rule, subject, rules, facts, now);
        match rule {
            Rule::NodeStale => self.schedule_stale_check(subject, rules, facts, now),
            Rule::FailureRate | Rule::DeploymentFailures if live => {
                self.schedule_window_check(rule, subject, rules, now)
            }
            Rule::DeploymentStuck => {
                let max_running_s = rules.settings(rule, None).max_running_s;
                if let Some(at) =
                    facts.deployments.get(subject).and_then(|run| conditions::stuck_from(run, max_running_s))
                    && at > now
                {
                    self.queue_recheck(at, rule, subject);
                }
            }
            _ => {}
        }
    }

    /// A node event, or its staleness check. The common case (a heartbeat
    /// of an up node with no live alert) costs two look-ups.
    fn node_changed(&mut self, node: &str, rules: &AlertRules, facts: &Facts, now: Ts) {
        let Some(state) = facts.nodes.get(node) else { return };
        let down = state.status == NodeStatus::Down;
        let stale_at = conditions::stale_from(state, rules.node_stale_after_s);
        let stale = stale_at.is_some_and(|at| at <= now);
        let (present, live, blocked, queued) =
            self.nodes.get(node).map_or((0, LiveHint::default(), false, false), |w| {
                (w.present, w.live, w.blocked, w.stale_check.is_some())
            });
        let look = |rule: Rule, holds: bool| live.asks(present, rule, holds);
        if look(Rule::NodeDown, down) {
            self.evaluate(Rule::NodeDown, node, rules, facts, now);
        }
        if look(Rule::NodeStale, stale) {
            self.evaluate(Rule::NodeStale, node, rules, facts, now);
        }
        if !queued && stale_at.is_some_and(|at| at > now) {
            self.schedule_stale_check(node, rules, facts, now);
        }
        if blocked != (down || stale) {
            self.node_blocked(node, now, rules, facts);
        }
    }

    /// One staleness check per node is queued at a time: at the instant the
    /// node would go stale without another heartbeat.
    fn schedule_stale_check(&mut self, node: &str, rules: &AlertRules, facts: &Facts, now: Ts) {
        let Some(at) = facts.nodes.get(node).and_then(|n| conditions::stale_from(n, rules.node_stale_after_s)) else {
            return;
        };
        if at <= now {
            return;
        }
        let Some(watch) = self.nodes.get_or_insert_default(node) else { return };
        if watch.stale_check.is_none() {
            watch.stale_check = Some(at);
            self.deadlines.insert((at, Due::Recheck, Rule::NodeStale.key(node)));
        }
    }

    /// A service event or check. The common case (a healthy service with
    /// no alert) costs two look-ups and no key.
    fn service_changed(&mut self, service: &str, check: Option<bool>, rules: &AlertRules, facts: &Facts, now: Ts) {
        let status = facts.services.get(service).map(|s| s.status);
        if status.is_none() && check.is_none() {
            return;
        }
        let flap = rules.settings(Rule::Flapping, Some(service));
        let rate = rules.settings(Rule::FailureRate, Some(service));
        let Some(watch) = self.services.get_or_insert_default(service) else { return };
        let was_flapping = watch.flapping;
        if let Some(status) = status {
            watch.record_status(status, flap.flap_high_bp, flap.flap_low_bp);
        }
        if let Some(failed) = check {
            watch.record_check(now, failed);
            watch.prune_checks(now, rate.window_s);
        }
        let checks = watch.checks.len() as u64;
        let rate_high = checks >= u64::from(rate.min_checks)
            && u64::from(watch.failed) * 10_000 > u64::from(rate.max_ratio_bp) * checks;
        let (present, live, flapping) = (watch.present, watch.live, watch.flapping);
        let look = |rule: Rule, holds: bool| live.asks(present, rule, holds);
        if look(Rule::ServiceUnhealthy, status == Some(ServiceStatus::Unhealthy)) {
            self.evaluate(Rule::ServiceUnhealthy, service, rules, facts, now);
        }
        if look(Rule::ServiceDegraded, status == Some(ServiceStatus::Degraded)) {
            self.evaluate(Rule::ServiceDegraded, service, rules, facts, now);
        }
        if look(Rule::FailureRate, rate_high) && self.evaluate(Rule::FailureRate, service, rules, facts, now) {
            self.schedule_window_check(Rule::FailureRate, service, rules, now);
        }
        if look(Rule::Flapping, flapping) {
            self.evaluate(Rule::Flapping, service, rules, facts, now);
        }
        if flapping != was_flapping {
            for rule in [Rule::ServiceUnhealthy, Rule::ServiceDegraded] {
                let key = rule.key(service);
                if self.alerts.contains_key(&key) {
                    self.refresh(&key, now, rules, facts);
                }
            }
        }
    }

    fn deployment_changed(&mut self, id: &str, kind: Kind, ts: Ts, rules: &AlertRules, facts: &Facts, now: Ts) {
        let Some(run) = facts.deployments.get(id) else { return };
        let stuck = rules.settings(Rule::DeploymentStuck, None);
        let stuck_from = conditions::stuck_from(run, stuck.max_running_s);
        if stuck.enabled
            && let Some(at) = stuck_from
            && at > now
        {
            if run.ended_at.is_some() {
                // The run's end: its recheck, still to come, would find it
                // ended and change nothing (an end is never undone, and a
                // run that has left the facts does not hold either). It
                // leaves the queue now, while its key is at hand. Profiled
                // on the busy rebuild (1,000,000 events): 66,235 of the
                // 182,099 rechecks taken were of ended runs, each a pop, a
                // first touch of its key and a look-up of its run, ~3 % of
                // the fold's thread.
                if matches!(kind, Kind::DeploymentSucceeded | Kind::DeploymentFailed) {
                    self.forget_recheck(at, Rule::DeploymentStuck, id);
                }
            } else if self.recheck_queued_in_pass(kind, run.started_at) {
                debug_assert!(self.deadlines.contains(&(at, Due::Recheck, Rule::DeploymentStuck.key(id))), "{id}");
            } else {
                self.queue_recheck(at, Rule::DeploymentStuck, id);
            }
        }
        // The condition of `deployment_stuck`, read from the run at hand:
        // while it does not hold and the rule has no alert, evaluating it
        // (another look-up of the run and of its key) changes nothing.
        let may_hold = stuck.enabled
            && run.status == crate::engine::DeploymentStatus::Running
            && stuck_from.is_some_and(|at| at <= now);
        if may_hold || self.rule_has_alerts(Rule::DeploymentStuck) {
            self.evaluate(Rule::DeploymentStuck, id, rules, facts, now);
        }
        let Some(node) = run.node.as_deref().filter(|_| kind == Kind::DeploymentFailed) else { return };
        let window_s = rules.settings(Rule::DeploymentFailures, None).window_s;
        if let Some(watch) = self.nodes.get_or_insert_default(node) {
            let at = watch.failures.partition_point(|t| *t <= ts);
            watch.failures.insert(at, ts);
            super::watch::prune_times(&mut watch.failures, now, window_s);
        }
        if self.evaluate(Rule::DeploymentFailures, node, rules, facts, now) {
            self.schedule_window_check(Rule::DeploymentFailures, node, rules, now);
        }
    }

    /// Whether an event of a running deployment other than its start finds
    /// the run's `deployment_stuck` recheck queued already, without asking
    /// the queue. Only a `deployment_started` sets `started_at` (the
    /// earliest one), so the recheck's instant is the one computed when that
    /// start was folded; a start later than the clock at the pass's start
    /// was folded in this pass, under the same rules, with the run not
    /// ended (an end is never undone) and the instant after the clock then
    /// (the clock only moves on): it was queued then, and is not due yet.
    /// Profiled on the busy rebuild of 1,000,000 events (`perf record -g`),
    /// asking the queue on every stage of a run (a search down a tree of
    /// ~2,000 deadlines) was ~5 % of the fold's thread.
    fn recheck_queued_in_pass(&self, kind: Kind, started_at: Option<Ts>) -> bool {
        kind != Kind::DeploymentStarted
            && self.pass_clock.is_some_and(|clock| started_at.is_some_and(|started| started > clock))
    }

    /// Queues a recheck of `rule` for `subject` at `at`, once: every event
    /// of a running deployment asks for the same one, so its key is written
    /// into the key buffer and only a recheck not queued yet takes a string
    /// of its own (a copy: the buffer stays).
    fn queue_recheck(&mut self, at: Ts, rule: Rule, subject: &str) {
        let deadline = (at, Due::Recheck, self.buffered_key(rule, subject));
        if !self.deadlines.contains(&deadline) {
            // A copy of its own, the buffer kept: handing the buffer over
            // left an empty one that the next key grew again, a few
            // reallocations per deployment run.
            self.deadlines.insert((at, Due::Recheck, deadline.2.clone()));
        }
        self.key_buffer = deadline.2;
    }

    /// Takes the recheck of `rule` for `subject` at `at` out of the queue,
    /// if it is there (one queued under other rules stays, and does
    /// nothing when taken).
    fn forget_recheck(&mut self, at: Ts, rule: Rule, subject: &str) {
        let deadline = (at, Due::Recheck, self.buffered_key(rule, subject));
        self.deadlines.remove(&deadline);
        self.key_buffer = deadline.2;
    }

    /// While a window rule's alert is live, it is checked again when its
    /// oldest entry leaves the window (one check queued at a time; none at
    /// the end of time, where it would never leave).
    fn schedule_window_check(&mut self, rule: Rule, subject: &str, rules: &AlertRules, now: Ts) {
        let window_s = rules.settings(rule, conditions::service_of(rule, subject)).window_s;
        let (oldest, queued) = match rule {
            Rule::FailureRate => {
                let Some(watch) = self.services.get_mut(subject) else { return };
                (watch.checks.front().map(|(at, _)| *at), &mut watch.rate_check)
            }
            _ => {
                let Some(watch) = self.nodes.get_mut(subject) else { return };
                (watch.failures.front().copied(), &mut watch.failures_check)
            }
        };
        let Some(at) = oldest.map(|at| at.plus_seconds(window_s)).filter(|at| *at > now) else { return };
        // The key is written only for a check not queued yet: a live
        // failure_rate alert asks on every check of its service.
        if queued.is_none() {
            *queued = Some(at);
            self.deadlines.insert((at, Due::Recheck, rule.key(subject)));
        }
    }

    /// A time-driven condition's deadline. `key` is the deadline's own
    /// (taken from the queue), so the subject is read from it in place.
    pub(super) fn recheck(&mut self, key: &str, at: Ts, rules: &AlertRules, facts: &Facts) {
        let Some((rule, subject)) = conditions::split_key(key) else { return };
        match rule {
            Rule::NodeStale => {
                if let Some(watch) = self.nodes.get_mut(subject) {
                    watch.stale_check = None;
                }
                self.node_changed(subject, rules, facts, at);
            }
            Rule::FailureRate => {
                let window_s = rules.settings(rule, Some(subject)).window_s;
                if let Some(watch) = self.services.get_mut(subject) {
                    watch.rate_check = None;
                    watch.prune_checks(at, window_s);
                }
                if self.evaluate(rule, subject, rules, facts, at) {
                    self.schedule_window_check(rule, subject, rules, at);
                }
            }
            Rule::DeploymentFailures => {
                let window_s = rules.settings(rule, None).window_s;
                if let Some(watch) = self.nodes.get_mut(subject) {
                    watch.failures_check = None;
                    super::watch::prune_times(&mut watch.failures, at, window_s);
                }
                if self.evaluate(rule, subject, rules, facts, at) {
                    self.schedule_window_check(rule, subject, rules, at);
                }
            }
            _ => {
                self.evaluate(rule, subject, rules, facts, at);
            }
        }
    }
}
