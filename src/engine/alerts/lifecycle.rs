//! The lifecycle of one key: pending while the condition has held for less
//! than `for_s`, firing, resolved once it has been false for
//! `keep_firing_for_s`. A pending alert whose condition clears is dropped.
//! Every transition that falls due between events is a deadline, taken at
//! its own instant (`fired_at = since + for_s` exactly).

use super::conditions::{self, Facts, Holds, Kept};
use super::{
    Alert, AlertRules, AlertState, AlertStatus, Due, Episode, IdCounters, PastEpisode, Rule, RuleSettings, priority,
};
use crate::time::Ts;

impl AlertState {
    /// Evaluates `rule` for `subject` at `now` and moves its alert; true
    /// when the alert is live (pending or firing) afterwards.
    pub(super) fn evaluate(&mut self, rule: Rule, subject: &str, rules: &AlertRules, facts: &Facts, now: Ts) -> bool {
        let settings = rules.settings(rule, conditions::service_of(rule, subject));
        let kept = Kept { nodes: &self.nodes, services: &self.services };
        // The summary and the key are written into buffers kept for them:
        // most evaluations change nothing and need no string of their own.
        let mut summary = std::mem::take(&mut self.summary_buffer);
        let holds = conditions::evaluate(rule, subject, &settings, rules, facts, &kept, now, &mut summary);
        // A condition that does not hold needs the key's alert only when
        // the rule has any.
        if holds.is_none() && !self.rule_has_alerts(rule) {
            self.summary_buffer = summary;
            return false;
        }
        let key = self.buffered_key(rule, subject);
        let live = self.observe(
            &key,
            rule,
            subject,
            holds.map(|holds| (holds, summary.as_str())),
            &settings,
            facts,
            now,
            rules,
        );
        debug_assert_eq!(live, self.alerts.get(&key).is_some_and(|a| a.status != AlertStatus::Resolved), "{key}");
        // A service rule's alert becomes live only here: its bit in the
        // service's live hint follows (`watch::LiveHint`).
        if conditions::service_of(rule, subject) == Some(subject)
            && let Some(watch) = self.services.get_mut(subject)
        {
            watch.live.set(rule, live);
        }
        // A node rule's the same, in the node's hint.
        if matches!(rule, Rule::NodeDown | Rule::NodeStale)
            && let Some(watch) = self.nodes.get_mut(subject)
        {
            watch.live.set(rule, live);
        }
        self.key_buffer = key;
        self.summary_buffer = summary;
        live
    }

    /// The key of `rule` for `subject`, written into the key buffer, which
    /// the caller puts back (`self.key_buffer = key`) when done with it.
    pub(super) fn buffered_key(&mut self, rule: Rule, subject: &str) -> String {
        let mut key = std::mem::take(&mut self.key_buffer);
        key.clear();
        key.push_str(rule.name());
        key.push(':');
        key.push_str(subject);
        key
    }

    /// Whether any alert of `rule` is in the map, from counts kept beside
    /// it (`AlertState::per_rule`), made from the map after a load.
    pub(super) fn rule_has_alerts(&mut self, rule: Rule) -> bool {
        let alerts = &self.alerts;
        let counts = self.per_rule.get_or_insert_with(|| count_per_rule(alerts));
        counts[rule as usize] > 0
    }

    /// An alert of `rule` entered (`true`) or left the map.
    pub(super) fn count_alert(&mut self, rule: Rule, entered: bool) {
        if let Some(counts) = &mut self.per_rule {
            let count = &mut counts[rule as usize];
            *count = if entered { *count + 1 } else { count.saturating_sub(1) };
        }
    }

    /// Moves the alert of `key` on what its condition says now; true when
    /// it is live (pending or firing) afterwards.
    #[allow(clippy::too_many_arguments)]
    fn observe(
        &mut self,
        key: &str,
        rule: Rule,
        subject: &str,
        holds: Option<(Holds, &str)>,
        settings: &RuleSettings,
        facts: &Facts,
        now: Ts,
        rules: &AlertRules,
    ) -> bool {
        let Some(alert) = self.alerts.get_mut(key) else {
            let Some((holds, summary)) = holds else { return false };
            let who = conditions::subject(rule, subject, facts);
            let mut alert = new_alert(key, rule, who, holds, summary);
            alert.runbook = rules.runbook(rule, alert.node.as_deref(), alert.service.as_deref()).map(str::to_string);
            self.alerts.insert(key.to_string(), alert);
            self.count_alert(rule, true);
            self.mark_present(rule, subject, true);
            self.pending(key, settings.for_s, rules, facts, now);
            return true;
        };
        match (alert.status, holds) {
            (AlertStatus::Resolved, None) => false,
            (AlertStatus::Resolved, Some((holds, summary))) => {
                alert.status = AlertStatus::Pending;
                alert.since = holds.since;
                alert.fired_at = None;
                alert.resolved_at = None;
                alert.false_since = None;
                alert.episode_notified = false;
                alert.acknowledged_by = None;
                alert.acknowledged_at = None;
                update(alert, holds, summary);
                self.pending(key, settings.for_s, rules, facts, now);
                true
            }
            (AlertStatus::Pending, Some((holds, summary))) => {
                update(alert, holds, summary);
                true
            }
            (AlertStatus::Pending, None) => {
                self.drop_pending(key);
                false
            }
            (AlertStatus::Firing, Some((holds, summary))) => {
                alert.false_since = None;
                update(alert, holds, summary);
                true
            }
            (AlertStatus::Firing, None) => {
                let since = *alert.false_since.get_or_insert(now);
                let at = since.plus_seconds(settings.keep_firing_for_s);
                if at <= now {
                    self.resolve(key, now, rules, facts);
                    false
                } else {
                    self.deadlines.insert((at, Due::Resolve, key.to_string()));
                    true
                }
            }
        }
    }

    /// A new episode's condition holds: it fires now when `for_s` has
    /// passed since it began, else at that instant.
    fn pending(&mut self, key: &str, for_s: u64, rules: &AlertRules, facts: &Facts, now: Ts) {
        let Some(alert) = self.alerts.get(key) else { return };
        let at = alert.since.plus_seconds(for_s);
        if at <= now {
            self.fire(key, at, rules, facts);
        } else {
            self.deadlines.insert((at, Due::Fire, key.to_string()));
        }
    }

    /// A pending alert whose condition cleared: dropped, never notified.
    /// The key shows its last resolved episode again, if it had one.
    fn drop_pending(&mut self, key: &str) {
        let Some(alert) = self.alerts.get_mut(key) else { return };
        match alert.recent_episodes.last().cloned() {
            Some(episode) => {
                alert.status = AlertStatus::Resolved;
                alert.since = episode.fired_at;
                alert.fired_at = Some(episode.fired_at);
                alert.resolved_at = Some(episode.resolved_at);
                alert.severity = episode.severity;
                alert.priority = priority(episode.severity);
            }
            None if !alert.page_open && alert.held.is_none() => {
                if let Some(gone) = self.alerts.remove(key) {
                    self.count_alert(gone.rule, false);
                }
                if let Some((rule, subject)) = conditions::split_key(key) {
                    let subject = subject.to_string();
                    self.mark_present(rule, &subject, false);
                }
            }
            None => alert.status = AlertStatus::Resolved,
        }
    }

    /// Keeps the `present` masks: a node's or service's rules that have an
    /// alert. Probe rules share their service's bit, which is never cleared
    /// (another probe may still have one): a set bit only costs a look-up.
    fn mark_present(&mut self, rule: Rule, subject: &str, on: bool) {
        let bit = super::watch::rule_bit(rule);
        let mask = match rule {
            Rule::NodeDown | Rule::NodeStale | Rule::DeploymentFailures => {
                self.nodes.get_or_insert_default(subject).map(|w| &mut w.present)
            }
            Rule::DeploymentStuck => None,
            _ => {
                let Some(service) = conditions::service_of(rule, subject) else { return };
                self.services.get_or_insert_default(service).map(|w| &mut w.present)
            }
        };
        match mask {
            Some(mask) if on => *mask |= bit,
            Some(mask) if !matches!(rule, Rule::BreakerOpen | Rule::DiskLow) => *mask &= !bit,
            _ => {}
        }
    }

    pub(super) fn fire(&mut self, key: &str, at: Ts, rules: &AlertRules, facts: &Facts) {
        let Some(alert) = self.alerts.get_mut(key) else { return };
        alert.status = AlertStatus::Firing;
        alert.fired_at = Some(at);
        alert.episode_notified = alert.page_open;
        // A page kept open from an acknowledged episode (its resolve and
        // this firing dropped by the cooldown) gets reminders again.
        if alert.page_open && alert.reminder_due.is_none() && rules.ttl_s > 0 && at < Ts::MAX {
            let due = alert.last_sent.map_or(at, |sent| sent.plus_seconds(rules.ttl_s)).max(at);
            alert.reminder_due = Some(due);
            self.deadlines.insert((due, Due::Reminder, key.to_string()));
        }
        self.schedule_escalations(key, at, rules);
        self.refresh(key, at, rules, facts);
        self.firing_changed(key, at, rules, facts);
    }

    pub(super) fn resolve(&mut self, key: &str, at: Ts, rules: &AlertRules, facts: &Facts) {
        let Some(alert) = self.alerts.get_mut(key) else { return };
        alert.status = AlertStatus::Resolved;
        alert.resolved_at = Some(at);
        alert.false_since = None;
        alert.recent_episodes.push(Episode {
            fired_at: alert.fired_at.unwrap_or(alert.since),
            resolved_at: at,
            severity: alert.severity,
            notified: alert.episode_notified,
        });
        PastEpisode::leave(alert, rules.keep_resolved, &mut self.left);
        self.reconcile(key, at, rules);
        self.firing_changed(key, at, rules, facts);
    }

    /// Takes every deadline due at or before `until`, in time order, each at
    /// its own instant.
    pub(super) fn run_deadlines(&mut self, until: Ts, rules: &AlertRules, facts: &Facts) {
        while self.deadlines.first().is_some_and(|(at, _, _)| *at <= until) {
            let Some((at, due, key)) = self.deadlines.pop_first() else { break };
            self.take_deadline(at, due, &key, until, rules, facts);
        }
    }

    /// One deadline. A deadline that no longer matches the state (the alert
    /// moved on since it was queued) does nothing.
    ///
    /// The alert is looked up only by the deadlines that read it here: most
    /// are rechecks (one per deployment run, `deployment_stuck`), whose key
    /// often has no alert, and the look-up (hashing a long key) was ~2 % of
    /// the busy rebuild's fold thread.
    fn take_deadline(&mut self, at: Ts, due: Due, key: &str, until: Ts, rules: &AlertRules, facts: &Facts) {
        match due {
            Due::Recheck => self.recheck(key, at, rules, facts),
            Due::MaintenanceEnd => self.maintenance_due(key, at, rules, facts),
            Due::Dependencies => self.refresh_scope(key, at, rules, facts),
            Due::Fire => {
                let Some(alert) = self.alerts.get(key) else { return };
                let Some((rule, subject)) = conditions::split_key(key) else { return };
                let for_s = rules.settings(rule, conditions::service_of(rule, subject)).for_s;
                if alert.status == AlertStatus::Pending && alert.since.plus_seconds(for_s) == at {
                    self.fire(key, at, rules, facts);
                }
            }
            Due::Resolve => {
                let Some(alert) = self.alerts.get(key) else { return };
                let Some((rule, subject)) = conditions::split_key(key) else { return };
                let keep = rules.settings(rule, conditions::service_of(rule, subject)).keep_firing_for_s;
                if alert.status == AlertStatus::Firing && alert.false_since.is_some_and(|s| s.plus_seconds(keep) <= at)
                {
                    self.resolve(key, at, rules, facts);
                }
            }
            Due::Cooldown => self.cooldown_due(key, at, rules),
            Due::Escalation => self.escalate(key, at, rules),
            Due::Reminder => self.reminder_due(key, at, until, rules),
            Due::Budget => self.budget_due(at, rules),
        }
    }

    /// The instant each pending alert fires and each firing one whose
    /// condition cleared resolves, under `rules`, queued at a pass's start.
    /// The rules may have changed since those deadlines were queued
    /// (`for_s`, `keep_firing_for_s`), and a deadline taken under other
    /// rules does nothing (its instant no longer matches): an alert pending
    /// when `for_s` changed never fired, and one waiting to resolve when
    /// `keep_firing_for_s` grew stayed firing until its subject's next
    /// event (a review of issue 11's thirty-third pass). Under the same
    /// rules each is queued already, and queuing it again changes nothing.
    /// An instant the new rules put before the pass's clock is taken at the
    /// pass's first deadline or event, at that instant, as any deadline is.
    pub(super) fn queue_timers(&mut self, rules: &AlertRules) {
        let due: Vec<(Ts, Due, String)> = self
            .alerts
            .iter_unordered()
            .map(|(_, alert)| alert)
            .filter_map(|alert| {
                let (at, due) = match (alert.status, alert.false_since) {
                    (AlertStatus::Pending, _) => (alert.since, Due::Fire),
                    (AlertStatus::Firing, Some(since)) => (since, Due::Resolve),
                    _ => return None,
                };
                let (rule, subject) = conditions::split_key(&alert.key)?;
                let settings = rules.settings(rule, conditions::service_of(rule, subject));
                let wait = if due == Due::Fire { settings.for_s } else { settings.keep_firing_for_s };
                Some((at.plus_seconds(wait), due, alert.key.clone()))
            })
            .collect();
        self.deadlines.extend(due);
    }

    /// Resolves the live alerts of rules that were switched off, and starts
    /// no new ones: a pass under new rules begins where the old ones left.
    pub(super) fn retire_disabled(&mut self, rules: &AlertRules, facts: &Facts, now: Ts) {
        let live: Vec<(String, Rule, String)> = self
            .alerts
            .iter()
            .filter(|(_, a)| a.status != AlertStatus::Resolved)
            .filter_map(|(key, a)| {
                let (rule, subject) = conditions::split_key(key)?;
                let off = !rules.settings(rule, conditions::service_of(rule, subject)).enabled;
                off.then(|| (key.clone(), a.rule, subject.to_string()))
            })
            .collect();
        for (key, rule, subject) in live {
            let settings = rules.settings(rule, conditions::service_of(rule, &subject));
            self.observe(&key, rule, &subject, None, &settings, facts, now, rules);
        }
    }

    /// A lowered `world.keep_finished` taken at once, as the deployments
    /// and incidents take it (`engine::finished`): the resolved episodes a
    /// key holds past `keep_resolved` leave for the history when the pass
    /// starts, oldest first, keys in order, not at the key's next resolve
    /// (which a quiet key may never have). Under an unchanged setting no
    /// key holds more, and nothing leaves.
    pub(super) fn trim_episodes(&mut self, rules: &AlertRules) {
        let keep = rules.keep_resolved;
        if self.alerts.iter_unordered().all(|(_, alert)| alert.recent_episodes.len() <= keep) {
            return;
        }
        let left = &mut self.left;
        self.alerts.retain(|_, alert| {
            PastEpisode::leave(alert, keep, left);
            true
        });
    }
}

/// How many alerts of each rule `alerts` holds, by `Rule as usize`.
pub(super) fn count_per_rule(alerts: &super::AlertMap) -> [u32; Rule::ALL.len()] {
    let mut counts = [0; Rule::ALL.len()];
    for alert in alerts.values() {
        counts[alert.rule as usize] += 1;
    }
    counts
}

fn new_alert(key: &str, rule: Rule, who: conditions::Subject, holds: Holds, summary: &str) -> Alert {
    Alert {
        key: key.to_string(),
        rule,
        node: who.node,
        service: who.service,
        status: AlertStatus::Pending,
        severity: holds.severity,
        priority: priority(holds.severity),
        summary: summary.to_string(),
        since: holds.since,
        fired_at: None,
        resolved_at: None,
        suppressed_by: None,
        last_notification: None,
        recent_episodes: Vec::new(),
        runbook: None,
        acknowledged_by: None,
        acknowledged_at: None,
        false_since: None,
        page_open: false,
        episode_notified: false,
        ids: IdCounters::default(),
        last_sent: None,
        held: None,
        reminder_due: None,
    }
}

fn update(alert: &mut Alert, holds: Holds, summary: &str) {
    alert.severity = holds.severity;
    alert.priority = priority(holds.severity);
    if alert.summary != summary {
        summary.clone_into(&mut alert.summary);
    }
}
