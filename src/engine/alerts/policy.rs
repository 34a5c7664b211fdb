//! The notification policy (SPEC §6): what receivers are told, and when.
//!
//! Each key's receivers hold a page or not; [`AlertState::reconcile`] brings
//! that in line with the alert. A closed page opens (`firing`) when the
//! alert fires unsuppressed; an open page closes (`resolved`) when the alert
//! no longer fires, suppressed or not; an open page gets a `reminder` every
//! `ttl_s`. Whatever would come sooner than `cooldown_s` after the key's last
//! notification waits for it, and firings and reminders wait for room in the
//! budget. A notification that waits is re-decided when it may go: if the
//! alert moved back meanwhile, nothing is sent (a firing dropped with its
//! resolve, or a resolve dropped with the re-firing, the page staying open).
//! While a service flaps, its `service_unhealthy` / `service_degraded` pages
//! stay as they are; when it stops, they are brought in line.

use super::{
    AlertRules, AlertState, AlertStatus, Budget, Due, Held, HeldBy, Notification, NotificationKind, NotificationRef,
    Rule,
};
use crate::event::Severity;
use crate::time::Ts;

/// The budget's sliding window.
const BUDGET_WINDOW_S: u64 = 3600;
/// Reminders sent one by one when the clock jumps over them.
const MAX_CATCH_UP: i64 = 1000;
/// The key of the `budget_exhausted` notices.
pub const BUDGET_KEY: &str = "budget:notifications";

impl Budget {
    /// A firing or reminder sent at `now`. The sends before the window that
    /// ends at `now` go first, whether or not the budget is on: it is off by
    /// default (`notifications_per_hour: 0`), and the window was then never
    /// cut, so the state held every firing and reminder ever sent (~21,000
    /// instants, 535 KB, after two days of the busy history of issue 11,
    /// rewritten whole into the journal by every pass that sent one) and
    /// grew without bound, against guarantee 7.
    ///
    /// With the budget on, this cuts nothing: a firing or reminder is sent
    /// only by [`AlertState::try_send`], just after [`window_full`] cut the
    /// window at the same instant. With it off, nothing reads the window.
    /// So the decisions under one budget are the same as before. A budget
    /// switched on after a pass without one now counts what a budget on
    /// all along counts; before, it found every send since the start, which
    /// a firing sent at an instant in the past (`deployment_stuck` after a
    /// late `deployment_started`, `node_stale` after a late heartbeat) could
    /// count against.
    ///
    /// The sends are kept in time order, a send in the past among them
    /// where it falls: the window is cut from its front, and the budget's
    /// room comes back when its front leaves the window
    /// (`schedule_budget`). Appended at the end, such a send stood after
    /// later ones: the front was then not the oldest, and the pages held
    /// for room were released when the front left, up to an hour late.
    ///
    /// [`window_full`]: AlertState::window_full
    fn record_send(&mut self, now: Ts) {
        self.forget_sends(now);
        let at = self.sent.partition_point(|sent| *sent <= now);
        self.sent.insert(at, now);
    }

    /// Whether the window that ends at `now` has room under `rules`, asked
    /// without forgetting what it holds: the one count of the budget's
    /// room (`AlertState::window_full` forgets, then asks it).
    fn has_room(&self, rules: &AlertRules, now: Ts) -> bool {
        let horizon = now.minus_seconds(BUDGET_WINDOW_S);
        let within = self.sent.len() - self.sent.partition_point(|at| *at <= horizon);
        rules.notifications_per_hour == 0 || within < rules.notifications_per_hour as usize
    }

    /// The sends at or before the start of the window that ends at `now`
    /// are forgotten.
    fn forget_sends(&mut self, now: Ts) {
        let horizon = now.minus_seconds(BUDGET_WINDOW_S);
        while self.sent.front().is_some_and(|at| *at <= horizon) {
            self.sent.pop_front();
        }
    }
}

impl AlertState {
    /// Whether a service's flapping holds this key's pages as they are.
    fn frozen_by_flapping(&self, key: &str, rules: &AlertRules) -> bool {
        let Some(alert) = self.alerts.get(key) else { return false };
        if !matches!(alert.rule, Rule::ServiceUnhealthy | Rule::ServiceDegraded) {
            return false;
        }
        let Some(service) = key.split_once(':').map(|(_, s)| s) else { return false };
        rules.settings(Rule::Flapping, Some(service)).enabled && self.services.get(service).is_some_and(|w| w.flapping)
    }

    /// Brings the receivers' page of `key` in line with its alert.
    pub(super) fn reconcile(&mut self, key: &str, now: Ts, rules: &AlertRules) {
        let frozen = self.frozen_by_flapping(key, rules);
        let Some(alert) = self.alerts.get_mut(key) else { return };
        if frozen && alert.status == AlertStatus::Firing && alert.suppressed_by.is_none() {
            alert.suppressed_by = Some(format!("flapping:{}", key.split_once(':').map_or("", |(_, s)| s)));
        }
        let firing = alert.status == AlertStatus::Firing;
        let want_open = firing && (alert.page_open || alert.suppressed_by.is_none());
        // Flapping holds the receivers' page as it is while the alert
        // fires, as any suppression holds its firing; once the alert has
        // resolved, an open page gets its resolve (SPEC §6: "a page already
        // open still gets its resolve"), whether the service still flaps
        // or not: a service that reports only its changes may never end
        // its flapping.
        // (A page not wanted open is one whose alert no longer fires.)
        let wanted = match (want_open, alert.page_open) {
            (false, true) => Some(NotificationKind::Resolved),
            _ if frozen => None,
            (true, false) => Some(NotificationKind::Firing),
            _ => None,
        };
        match wanted {
            Some(kind) => self.try_send(key, kind, now, rules),
            None => {
                if self
                    .alerts
                    .get(key)
                    .and_then(|a| a.held.as_ref())
                    .is_some_and(|h| h.kind != NotificationKind::Reminder)
                {
                    self.release(key);
                }
                if firing && self.alerts.get(key).is_some_and(|a| a.page_open) {
                    self.episode_covered(key);
                }
            }
        }
        // A page that opened, or stopped being suppressed, after its
        // escalation instant escalates now.
        if firing {
            self.escalate(key, now, rules);
        }
    }

    fn episode_covered(&mut self, key: &str) {
        if let Some(alert) = self.alerts.get_mut(key) {
            alert.episode_notified = true;
        }
    }

    /// Sends `kind` now, or holds it for the cooldown or the budget.
    fn try_send(&mut self, key: &str, kind: NotificationKind, now: Ts, rules: &AlertRules) {
        let Some(alert) = self.alerts.get(key) else { return };
        // An acknowledged alert gets no more reminders, nor any alert under
        // a TTL of 0 (one held by the cooldown or the budget when the TTL
        // was made 0 between passes: `release` forgot its instant).
        if kind == NotificationKind::Reminder && (alert.acknowledged_at.is_some() || rules.ttl_s == 0) {
            return;
        }
        if let Some(held) = &alert.held
            && held.kind == kind
        {
            return;
        }
        self.release(key);
        let Some(alert) = self.alerts.get_mut(key) else { return };
        if let Some(free) = alert.last_sent.map(|at| at.plus_seconds(rules.cooldown_s))
            && free > now
        {
            alert.held = Some(Held { kind, by: HeldBy::Cooldown(free) });
            self.held.insert(key.to_string());
            self.deadlines.insert((free, Due::Cooldown, key.to_string()));
            return;
        }
        if kind != NotificationKind::Resolved && self.budget_full(rules, now) {
            let Some(alert) = self.alerts.get_mut(key) else { return };
            let priority = alert.priority;
            alert.held = Some(Held { kind, by: HeldBy::Budget { priority, since: now } });
            self.held.insert(key.to_string());
            self.budget.queue.insert((priority, now, key.to_string()));
            self.announce_exhaustion(rules, now);
            self.schedule_budget(now);
            return;
        }
        self.send(key, kind, now, rules);
    }

    /// Forgets what `key` holds.
    pub(super) fn release(&mut self, key: &str) {
        let Some(alert) = self.alerts.get_mut(key) else { return };
        let Some(held) = alert.held.take() else { return };
        // A reminder let go unsent is not due any more: the page's next
        // send, or its next firing (`lifecycle::fire`), queues the next.
        if held.kind == NotificationKind::Reminder {
            alert.reminder_due = None;
        }
        self.held.remove(key);
        if let HeldBy::Budget { priority, since } = held.by {
            self.budget.queue.remove(&(priority, since, key.to_string()));
        }
    }

    /// Re-decides what `key` held, now that it may go.
    fn redecide(&mut self, key: &str, kind: NotificationKind, now: Ts, rules: &AlertRules) {
        if kind == NotificationKind::Reminder {
            let Some(alert) = self.alerts.get(key) else { return };
            if alert.page_open && alert.status == AlertStatus::Firing {
                self.try_send(key, kind, now, rules);
                return;
            }
        }
        self.reconcile(key, now, rules);
    }

    pub(super) fn cooldown_due(&mut self, key: &str, at: Ts, rules: &AlertRules) {
        let Some(held) = self.alerts.get(key).and_then(|a| a.held.clone()) else { return };
        if held.by != HeldBy::Cooldown(at) {
            return;
        }
        self.release(key);
        self.redecide(key, held.kind, at, rules);
    }

    /// A reminder of an open page. When the clock jumps over more than
    /// [`MAX_CATCH_UP`] reminders at once (a far-future `ts`, or months
    /// without events), only the last reminder of the gap is sent: a
    /// receiver needs the latest, and the fold must not spin through years
    /// of hours.
    pub(super) fn reminder_due(&mut self, key: &str, at: Ts, until: Ts, rules: &AlertRules) {
        let Some(alert) = self.alerts.get_mut(key) else { return };
        if alert.reminder_due != Some(at) {
            return;
        }
        // Due while the page is closed or its alert not firing (its resolve
        // held by the cooldown or frozen by flapping), or queued under a TTL
        // that is 0 (no reminders) since: forgotten, so that the page's next
        // firing queues its next reminder (`lifecycle::fire`). Left as it
        // was, an open page firing again got no reminder at all (a review
        // of issue 11's thirty-fourth pass).
        if !alert.page_open || alert.status != AlertStatus::Firing || rules.ttl_s == 0 {
            alert.reminder_due = None;
            return;
        }
        let ttl_ms = (rules.ttl_s as i64).saturating_mul(1000).max(1);
        let behind = (until.0 - at.0) / ttl_ms;
        if behind > MAX_CATCH_UP {
            let last = Ts(at.0 + behind * ttl_ms);
            alert.reminder_due = Some(last);
            self.deadlines.insert((last, Due::Reminder, key.to_string()));
            return;
        }
        self.try_send(key, NotificationKind::Reminder, at, rules);
    }

    /// The reminders of the pages open when a pass starts (`now`, the
    /// engine clock then), under its TTL. Under the TTL they were sent
    /// under, each open, unacknowledged page of a firing alert has its
    /// reminder queued (at `last_sent + ttl`, or where a catch-up moved it)
    /// or held, and this changes nothing (a page kept open while its alert
    /// is not firing gets its next one when the alert fires again,
    /// `lifecycle::fire`). A TTL that was 0 queued none: under one that is not,
    /// the page's next reminder is due `ttl` after its last send, at the
    /// pass's start if that has passed (as a page kept open by a new
    /// firing, `lifecycle::fire`). A TTL made 0 since is seen where the
    /// queued reminder falls due ([`AlertState::reminder_due`]); a TTL
    /// changed between two that are not 0 keeps the instant decided (the
    /// receiver's page holds until `expires_at`, decided under the old one).
    pub(super) fn queue_reminders(&mut self, rules: &AlertRules, now: Ts) {
        if rules.ttl_s == 0 || now == Ts::MAX {
            return;
        }
        for alert in self.alerts.values_mut_unordered() {
            let open = alert.status == AlertStatus::Firing && alert.page_open && alert.reminder_due.is_none();
            if !open || alert.acknowledged_at.is_some() || alert.held.is_some() {
                continue;
            }
            let Some(sent) = alert.last_sent else { continue };
            let at = sent.plus_seconds(rules.ttl_s).max(now);
            alert.reminder_due = Some(at);
            self.deadlines.insert((at, Due::Reminder, alert.key.clone()));
        }
    }

    /// What waits for the cooldown or the budget when a pass starts (`now`,
    /// the engine clock then; `None` before the first event), under the
    /// pass's `cooldown_s` and `notifications_per_hour`. Under the ones the
    /// last pass ran under, nothing changes. When they changed between
    /// runs, a held notification takes its instant under the new ones
    /// (issue 11, thirty-sixth pass; before, each waited out the old
    /// setting, which a budget switched off while pages waited made up to
    /// an hour):
    /// - a key held by the cooldown is released at its last send plus the
    ///   new `cooldown_s`, at the pass's start if that has passed;
    /// - pages held by the budget go at the pass's start when its window has
    ///   room under the new `notifications_per_hour` (all of them when it was
    ///   switched off), in the budget's order, as when room comes back.
    ///
    /// A wake-up due already, before the clock (queued by a late event at
    /// the end of the last pass), is left to be taken at its instant with
    /// the pass's first event: moved to the clock it would go later (a
    /// review of this pass).
    ///
    /// Only a change is acted on: under the same settings, the window can
    /// have room at a pass's start while pages still wait (a send recorded
    /// at a late event's instant moved its front), and one pass lets them
    /// wait for the room it scheduled; so must many.
    pub(super) fn queue_policy_changes(&mut self, rules: &AlertRules, clock: Option<Ts>) {
        let cooldown_changed =
            std::mem::replace(&mut self.cooldown_s, super::CooldownRan(rules.cooldown_s)).0 != rules.cooldown_s;
        let budget_changed = std::mem::replace(&mut self.notifications_per_hour, rules.notifications_per_hour)
            != rules.notifications_per_hour;
        let Some(now) = clock else { return };
        if cooldown_changed {
            self.move_cooldown_holds(rules, now);
        }
        if budget_changed {
            self.release_budget_at_start(rules, now);
        }
    }

    /// Each key held by the cooldown waits until its last send plus the
    /// pass's `cooldown_s`, or the pass's start (`now`) if that has passed.
    fn move_cooldown_holds(&mut self, rules: &AlertRules, now: Ts) {
        let mut moved = Vec::new();
        for key in &self.held {
            let Some(alert) = self.alerts.get(key) else { continue };
            let (Some(held), Some(sent)) = (&alert.held, alert.last_sent) else { continue };
            let HeldBy::Cooldown(until) = held.by else { continue };
            // Due already (a late event's past instant): taken at that
            // instant with the pass's first event, as it would have been;
            // moved to the clock it would go later.
            if until <= now {
                continue;
            }
            let free = sent.plus_seconds(rules.cooldown_s).max(now);
            if free != until {
                moved.push((key.clone(), until, free));
            }
        }
        for (key, until, free) in moved {
            self.deadlines.remove(&(until, Due::Cooldown, key.clone()));
            if let Some(held) = self.alerts.get_mut(&key).and_then(|alert| alert.held.as_mut()) {
                held.by = HeldBy::Cooldown(free);
            }
            self.deadlines.insert((free, Due::Cooldown, key));
        }
    }

    /// The budget's queue goes at the pass's start (`now`) when the
    /// window has room under the pass's `notifications_per_hour`.
    fn release_budget_at_start(&mut self, rules: &AlertRules, now: Ts) {
        let room = !self.budget.queue.is_empty() && self.budget.has_room(rules, now);
        // A release due already (before the clock, after a late event) is
        // taken at its instant with the pass's first event: moved to the
        // clock, a budget raised or switched off would send later.
        if room && self.budget.release_at.is_none_or(|at| at > now) {
            if let Some(at) = self.budget.release_at.take() {
                self.deadlines.remove(&(at, Due::Budget, String::new()));
            }
            self.budget.release_at = Some(now);
            self.deadlines.insert((now, Due::Budget, String::new()));
        }
    }

    /// Whether a firing or reminder must wait for the budget: its window is
    /// full, or others wait already (they go first).
    fn budget_full(&mut self, rules: &AlertRules, now: Ts) -> bool {
        !self.budget.queue.is_empty() || self.window_full(rules, now)
    }

    /// Whether the window that ends at `now` is full, once the sends
    /// before it are forgotten ([`Budget::has_room`] asks the same without
    /// forgetting).
    fn window_full(&mut self, rules: &AlertRules, now: Ts) -> bool {
        if rules.notifications_per_hour == 0 {
            return false;
        }
        self.budget.forget_sends(now);
        !self.budget.has_room(rules, now)
    }

    fn schedule_budget(&mut self, now: Ts) {
        let free = self.budget.sent.front().map(|at| at.plus_seconds(BUDGET_WINDOW_S));
        let Some(free) = free.filter(|free| *free > now) else { return };
        if self.budget.release_at.is_none_or(|at| at > free) {
            self.budget.release_at = Some(free);
            self.deadlines.insert((free, Due::Budget, String::new()));
        }
    }

    /// Room in the budget: what waits goes, by priority then oldest first.
    pub(super) fn budget_due(&mut self, at: Ts, rules: &AlertRules) {
        if self.budget.release_at != Some(at) {
            return;
        }
        self.budget.release_at = None;
        while !self.window_full(rules, at) {
            let Some((_, _, key)) = self.budget.queue.first().cloned() else { break };
            let Some(held) = self.alerts.get(&key).and_then(|a| a.held.clone()) else {
                self.budget.queue.pop_first();
                continue;
            };
            self.release(&key);
            // The rest of the queue is set aside while this one is decided,
            // so that it does not wait behind itself.
            let mut waiting = std::mem::take(&mut self.budget.queue);
            self.redecide(&key, held.kind, at, rules);
            self.budget.queue.append(&mut waiting);
        }
        if self.budget.queue.is_empty() {
            self.budget.announced = false;
        } else {
            self.schedule_budget(at);
        }
    }

    /// One `budget_exhausted` notice per exhaustion.
    fn announce_exhaustion(&mut self, rules: &AlertRules, now: Ts) {
        if self.budget.announced {
            return;
        }
        self.budget.announced = true;
        let secs = now.unix_seconds();
        if self.budget.notice_secs != secs {
            self.budget.notice_secs = secs;
            self.budget.notice_n = 0;
        }
        self.budget.notice_n += 1;
        self.notifications.push(Notification {
            id: format!("{BUDGET_KEY}@{secs}:budget_exhausted:{}", self.budget.notice_n),
            kind: NotificationKind::BudgetExhausted,
            ts: now,
            expires_at: None,
            key: BUDGET_KEY.to_string(),
            rule: "budget".to_string(),
            node: None,
            service: None,
            severity: Severity::Warning,
            priority: super::priority(Severity::Warning),
            summary: format!(
                "the notification budget of {} per hour is spent: pages wait for room",
                rules.notifications_per_hour
            ),
            fired_at: Some(now),
            resolved_at: None,
            runbook: None,
        });
    }

    /// Decides one notification of `key`.
    fn send(&mut self, key: &str, kind: NotificationKind, now: Ts, rules: &AlertRules) {
        let Some(alert) = self.alerts.get_mut(key) else { return };
        let fired_at = alert.fired_at.unwrap_or(alert.since);
        if kind == NotificationKind::Firing {
            let secs = fired_at.unix_seconds();
            if alert.ids.secs != secs {
                alert.ids = super::IdCounters { secs, ..Default::default() };
            }
        }
        let n = match kind {
            NotificationKind::Firing => &mut alert.ids.firing,
            NotificationKind::Reminder => &mut alert.ids.reminder,
            _ => &mut alert.ids.resolved,
        };
        *n += 1;
        let id = format!("{key}@{}:{}:{n}", alert.ids.secs, kind.name());
        let lasting = kind != NotificationKind::Resolved;
        let expires_at = (lasting && rules.ttl_s > 0).then(|| now.plus_seconds(rules.ttl_s));
        alert.page_open = lasting;
        alert.last_sent = Some(now);
        alert.reminder_due = None;
        if lasting {
            alert.episode_notified = true;
            self.budget.record_send(now);
            // Never at the end of time itself, where it would fall due again
            // and again at the same instant; never for an acknowledged alert.
            if rules.ttl_s > 0 && now < Ts::MAX && alert.acknowledged_at.is_none() {
                let due = now.plus_seconds(rules.ttl_s);
                alert.reminder_due = Some(due);
                self.deadlines.insert((due, Due::Reminder, key.to_string()));
            }
        }
        alert.last_notification = Some(NotificationRef { id: id.clone(), kind, ts: now });
        let mut notification = alert.notification(id, kind, now, expires_at, fired_at);
        if !lasting {
            notification.resolved_at = alert.resolved_at;
        }
        self.notifications.push(notification);
    }
}
