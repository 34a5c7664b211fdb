//! Escalation (SPEC §6): a channel with `after_s: N` is paged once an
//! alert has fired for N seconds of engine time. The fold decides it, so a
//! rebuild decides the same: for an episode that fires and whose page is
//! open at receivers (its firing went out), unacknowledged, unsuppressed
//! and unresolved at `fired_at + N`, one `escalation` notification, id
//! `<key>@<fired>:escalation:<N>`, at that instant (a deadline, whatever
//! the ticks). If the firing has not gone out by then (held by the
//! cooldown or the budget, suppressed, in maintenance), the escalation goes
//! when all of that first holds later, if ever.
//!
//! The channels may change between passes. A pass queues, at its start,
//! the escalations its channels owe each firing episode
//! ([`AlertState::queue_escalations`]): an `after_s` added since the
//! episode fired escalates at `fired_at + N` if that is still ahead, and at
//! the pass's start (the engine clock then, the first instant the new
//! channel exists) if it has passed, when the page may escalate; if it may
//! not, it goes when it first may, as above.
//!
//! Escalations are exempt from the cooldown and the budget: they neither
//! wait for them nor count in them (a page that waited for N seconds must
//! not wait again), and they do not move the key's cooldown. Delivery gives
//! them only to the channels with that `after_s` (`crate::notify::plan`),
//! which then get the episode's reminders and resolve.

use super::{AlertRules, AlertState, AlertStatus, Due, NotificationKind, NotificationRef};
use crate::time::Ts;

impl AlertState {
    /// Queues the escalation deadlines of an episode that fired at `at`.
    pub(super) fn schedule_escalations(&mut self, key: &str, at: Ts, rules: &AlertRules) {
        for after_s in &rules.escalations_s {
            let due = at.plus_seconds(*after_s);
            if due > at {
                self.deadlines.insert((due, Due::Escalation, key.to_string()));
            }
        }
    }

    /// The escalations the pass's channels owe each firing episode, queued
    /// at the pass's start (`now`, the engine clock then). Under the
    /// channels the episode fired under, each is queued already (at its
    /// instant, even one before the clock: an episode fired late, at an
    /// instant in the past) or taken (an instant that passed while the page
    /// could not escalate is taken again whenever the page may,
    /// `policy::reconcile`), and this changes nothing. An `after_s` added
    /// since is queued at `fired_at + N`, or, when that has passed and the
    /// page may escalate, at `now`: taken with the pass's first event, after
    /// the deadlines before it (a resolve the new rules put earlier goes
    /// first, and the escalation then does nothing). A review of issue 11's
    /// thirty-third pass found such an `after_s` went out only with the
    /// episode's next escalation due, if any.
    pub(super) fn queue_escalations(&mut self, rules: &AlertRules, now: Ts) {
        if rules.escalations_s.is_empty() {
            return;
        }
        let mut due = Vec::new();
        for (key, alert) in self.alerts.iter_unordered() {
            let Some(fired_at) = alert.fired_at else { continue };
            if alert.status != AlertStatus::Firing || alert.acknowledged_at.is_some() {
                continue;
            }
            let may_escalate = alert.page_open && alert.suppressed_by.is_none();
            for after_s in &rules.escalations_s {
                let at = fired_at.plus_seconds(*after_s);
                if at <= fired_at || alert.ids.escalated.contains(after_s) {
                    continue;
                }
                let queued = || self.deadlines.contains(&(at, Due::Escalation, key.clone()));
                if at > now {
                    due.push((at, key.clone()));
                } else if may_escalate && !queued() {
                    due.push((now, key.clone()));
                }
            }
        }
        self.deadlines.extend(due.into_iter().map(|(at, key)| (at, Due::Escalation, key)));
    }

    /// Sends every escalation of `key` that is due at `now` and not sent
    /// for its page yet, when the alert may escalate.
    pub(super) fn escalate(&mut self, key: &str, now: Ts, rules: &AlertRules) {
        if rules.escalations_s.is_empty() || self.acknowledged(key) {
            return;
        }
        let Some(alert) = self.alerts.get(key) else { return };
        if alert.status != AlertStatus::Firing || !alert.page_open || alert.suppressed_by.is_some() {
            return;
        }
        let Some(fired_at) = alert.fired_at else { return };
        let due: Vec<u64> = rules
            .escalations_s
            .iter()
            .copied()
            .filter(|after_s| fired_at.plus_seconds(*after_s) <= now && !alert.ids.escalated.contains(after_s))
            .collect();
        for after_s in due {
            self.send_escalation(key, after_s, fired_at, now, rules);
        }
    }

    fn send_escalation(&mut self, key: &str, after_s: u64, fired_at: Ts, now: Ts, rules: &AlertRules) {
        let Some(alert) = self.alerts.get_mut(key) else { return };
        alert.ids.escalated.push(after_s);
        let kind = NotificationKind::Escalation;
        let id = format!("{key}@{}:{}:{after_s}", alert.ids.secs, kind.name());
        alert.last_notification = Some(NotificationRef { id: id.clone(), kind, ts: now });
        let expires_at = (rules.ttl_s > 0).then(|| now.plus_seconds(rules.ttl_s));
        let mut notification = alert.notification(id, kind, now, expires_at, fired_at);
        notification.summary = format!("{} (escalated: {after_s}s unacknowledged)", alert.summary);
        self.notifications.push(notification);
    }
}
