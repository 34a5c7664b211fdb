//! Alerts and notifications (SPEC §6), decided by the pure fold on engine
//! time, so that a replay decides the same: which rule holds for which
//! subject, the lifecycle pending → firing → resolved, and the notifications
//! that follow under the policy (cooldown, reminders, budget, suppression,
//! flapping). Delivery is not here: it only carries out what the outbox
//! holds (`crate::notify`).
//!
//! Cost: an event touches only the subjects it changed (`hook`), and
//! everything time-driven (a `for_s` running out, a node going stale, a
//! cooldown ending) is a deadline in one ordered queue, processed at its own
//! instant before the event that moved the clock past it. Nothing here scans
//! all nodes, services or alerts per event.

mod acknowledgement;
mod conditions;
mod escalation;
mod hook;
mod lifecycle;
mod map;
mod notification;
mod policy;
mod rules;
mod suppression;
mod watch;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_escalation;
#[cfg(test)]
mod tests_history;
#[cfg(test)]
mod tests_policy;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::event::Severity;
use crate::time::Ts;

pub use conditions::Facts;
pub use map::AlertMap;
pub use notification::{Notification, NotificationKind, NotificationRef, priority};
pub use rules::{AlertRules, DEFAULT_COOLDOWN_S, Rule, RuleOverride, RuleSettings};

pub(super) use hook::{after_event, before_event, on_pass_started, prune};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    Pending,
    Firing,
    Resolved,
}

/// One resolved episode of a key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Episode {
    pub fired_at: Ts,
    pub resolved_at: Ts,
    pub severity: Severity,
    /// Whether a receiver held a page for it.
    pub notified: bool,
}

/// A resolved episode that left the hot view (SPEC §4): pushed out of its
/// key's `recent_episodes` by a newer one beyond `world.keep_finished`, or
/// forgotten with its alert at retention. The shell appends it, once, to
/// `world/history/alerts-YYYY-MM.jsonl` (the month of `resolved_at`): the
/// fields of `alerts.json` that describe one resolved episode, in that
/// file's order. `summary`, `since`, `suppressed_by` and
/// `last_notification` describe a key's current state, not its past
/// episodes, so `recent_episodes` does not keep them and neither does this.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PastEpisode {
    pub key: String,
    pub rule: Rule,
    pub node: Option<String>,
    pub service: Option<String>,
    /// Always `resolved`: what `alerts.json` showed for the episode.
    pub status: AlertStatus,
    pub severity: Severity,
    pub priority: u8,
    pub fired_at: Ts,
    pub resolved_at: Ts,
    /// Whether a receiver held a page for it.
    pub notified: bool,
}

impl PastEpisode {
    /// Hands the resolved episodes of `alert` past its newest `keep` to
    /// `left`, oldest first: the one way an episode leaves the hot view (a
    /// newer one resolved, the bound lowered, the alert forgotten at
    /// retention with `keep` 0).
    fn leave(alert: &mut Alert, keep: usize, left: &mut Vec<PastEpisode>) {
        let surplus = alert.recent_episodes.len().saturating_sub(keep);
        if surplus > 0 {
            let oldest: Vec<Episode> = alert.recent_episodes.drain(..surplus).collect();
            left.extend(oldest.into_iter().map(|episode| PastEpisode::of(alert, episode)));
        }
    }

    fn of(alert: &Alert, episode: Episode) -> PastEpisode {
        PastEpisode {
            key: alert.key.clone(),
            rule: alert.rule,
            node: alert.node.clone(),
            service: alert.service.clone(),
            status: AlertStatus::Resolved,
            severity: episode.severity,
            priority: priority(episode.severity),
            fired_at: episode.fired_at,
            resolved_at: episode.resolved_at,
            notified: episode.notified,
        }
    }
}

/// One key's alert as the hot view (`alerts.json`) shows it; the private
/// fields after the public ones are the policy's bookkeeping.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub key: String,
    pub rule: Rule,
    pub node: Option<String>,
    pub service: Option<String>,
    pub status: AlertStatus,
    pub severity: Severity,
    pub priority: u8,
    pub summary: String,
    /// When the condition of the current episode began to hold.
    pub since: Ts,
    pub fired_at: Option<Ts>,
    pub resolved_at: Option<Ts>,
    pub suppressed_by: Option<String>,
    pub last_notification: Option<NotificationRef>,
    /// The latest resolved episodes, newest last.
    pub recent_episodes: Vec<Episode>,
    /// The rule's or the service's runbook, as configured.
    #[serde(default)]
    pub runbook: Option<String>,
    /// Who acknowledged the current episode (`observer ack`), and when; a
    /// new episode starts unacknowledged.
    #[serde(default)]
    pub acknowledged_by: Option<String>,
    #[serde(default)]
    pub acknowledged_at: Option<Ts>,
    /// While firing: since when the condition has been false.
    false_since: Option<Ts>,
    /// Whether a page of this key is open at receivers (their last word is
    /// a firing or reminder).
    page_open: bool,
    /// Whether a receiver held a page during the current episode.
    episode_notified: bool,
    /// Counters of the notification ids of the page's episode.
    ids: IdCounters,
    /// The last notification sent of this key, for the cooldown.
    last_sent: Option<Ts>,
    /// A decided notification that waits (cooldown or budget).
    held: Option<Held>,
    /// When the next reminder is due while the page is open.
    reminder_due: Option<Ts>,
}

/// The numbering of ids within one episode: `<key>@<secs>:<kind>:<n>`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct IdCounters {
    secs: i64,
    firing: u32,
    reminder: u32,
    resolved: u32,
    /// The `after_s` this page was escalated for.
    #[serde(default)]
    escalated: Vec<u64>,
}

/// Why a notification waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum HeldBy {
    /// Until this instant (the last one sent + `cooldown_s`).
    Cooldown(Ts),
    /// In the budget's queue, under this place.
    Budget { priority: u8, since: Ts },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Held {
    kind: NotificationKind,
    by: HeldBy,
}

/// What falls due at a deadline. The order is the order of processing
/// within one instant: conditions first, then the lifecycle, then the
/// notifications that follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Due {
    /// A time-driven condition may have changed (staleness, windows).
    Recheck,
    /// A maintenance window's `until`.
    MaintenanceEnd,
    /// The `depends_on` of a node or a service (`node/service`) changed
    /// between passes: the suppression of its alerts is recomputed.
    Dependencies,
    /// A pending alert's `for_s` ran out.
    Fire,
    /// A firing alert's `keep_firing_for_s` ran out.
    Resolve,
    /// A cooldown ended.
    Cooldown,
    /// An escalation channel's `after_s` since the alert fired.
    Escalation,
    /// A reminder of an open page.
    Reminder,
    /// Room in the budget's window.
    Budget,
}

/// The inventory's `depends_on`, as a pass ran under it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Dependencies {
    /// Node → the nodes it depends on.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    nodes: BTreeMap<String, Vec<String>>,
    /// `node/service` → the `node/service`s it depends on.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    services: BTreeMap<String, Vec<String>>,
}

impl Dependencies {
    fn is_empty(&self) -> bool {
        self.nodes.is_empty() && self.services.is_empty()
    }
}

/// A maintenance window, from `maintenance_started` to `maintenance_ended`
/// or its `until`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Maintenance {
    node: String,
    service: Option<String>,
    started_at: Ts,
    until: Option<Ts>,
    reason: Option<String>,
}

/// The notification budget: firing and reminder sends within the last hour,
/// and what waits for room.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Budget {
    sent: VecDeque<Ts>,
    /// Waiting keys in release order: priority, then oldest first.
    queue: BTreeSet<(u8, Ts, String)>,
    /// Whether this exhaustion was announced.
    announced: bool,
    /// The second of the last notice and how many went out in it (ids).
    notice_secs: i64,
    notice_n: u32,
    release_at: Option<Ts>,
}

/// Everything the alert engine keeps: part of the engine, so of the
/// checkpoint.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AlertState {
    alerts: AlertMap,
    deadlines: BTreeSet<(Ts, Due, String)>,
    /// By node: looked up by every heartbeat (`engine::keyed`).
    nodes: crate::engine::Keyed<watch::NodeWatch>,
    /// Looked up several times per event of a service (`engine::keyed`).
    services: crate::engine::Keyed<watch::ServiceWatch>,
    /// Maintenance windows, by `node` or `node/service`.
    maintenance: BTreeMap<String, Maintenance>,
    budget: Budget,
    /// Keys with a held notification.
    held: BTreeSet<String>,
    /// The `depends_on` the last pass ran under, so that a pass can tell
    /// which changed since (`suppression::queue_dependency_changes`). Not
    /// written when there is none, so a state without it (one written
    /// before it was kept, too) had none.
    #[serde(default, skip_serializing_if = "Dependencies::is_empty")]
    depends_on: Dependencies,
    /// The `alerts.cooldown_s` and `budgets.notifications_per_hour` the
    /// last pass ran under, so that a pass can tell whether they changed
    /// since (`policy::queue_policy_changes`). Written only when they are
    /// not the defaults (300 and 0), so a state under the defaults is byte
    /// for byte what it was, and a state written before they were kept is
    /// taken as having run under the defaults.
    #[serde(default, skip_serializing_if = "CooldownRan::is_default")]
    cooldown_s: CooldownRan,
    #[serde(default, skip_serializing_if = "is_zero")]
    notifications_per_hour: u32,
    /// Where the rules were switched off in the last pass
    /// (`hook::rules_off`), so that a pass can tell which were switched on
    /// since and evaluate their subjects at its start. Not written when
    /// every rule was on, so a state without it (one written before it
    /// was kept, too) had every rule on.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    rules_off: BTreeSet<String>,
    /// Decided by the current pass, in decision order.
    #[serde(skip)]
    notifications: Vec<Notification>,
    /// Resolved episodes that left the hot view in the current pass, in
    /// the order they left.
    #[serde(skip)]
    left: Vec<PastEpisode>,
    /// Reused to write keys without an allocation per event.
    #[serde(skip)]
    key_buffer: String,
    /// Reused to write the `node/service` key of a service event.
    #[serde(skip)]
    service_buffer: String,
    /// Reused to write the summary of a condition that holds.
    #[serde(skip)]
    summary_buffer: String,
    /// How many alerts of each rule `alerts` holds (`Rule as usize`), so
    /// that a rule with none skips the look-up of a key whose condition
    /// does not hold. Not in the checkpoint: counted from `alerts` when
    /// first needed after a load (`None` until then), kept in step as
    /// alerts enter and leave the map.
    #[serde(skip)]
    per_rule: Option<[u32; Rule::ALL.len()]>,
    /// The engine clock when the current pass started (`Ts::MIN` before
    /// the first event), `None` until a pass has started in this process.
    /// A run that started after it had its `deployment_stuck` recheck
    /// queued in this pass, under the pass's rules (`hook.rs`,
    /// `deployment_changed`). Not in the checkpoint: a loaded state asks
    /// the queue as before.
    #[serde(skip)]
    pass_clock: Option<Ts>,
}

/// The `alerts.cooldown_s` a pass ran under: the default until one has
/// (so a new state and one read without it are alike).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
struct CooldownRan(u64);

impl Default for CooldownRan {
    fn default() -> CooldownRan {
        CooldownRan(DEFAULT_COOLDOWN_S)
    }
}

impl CooldownRan {
    fn is_default(&self) -> bool {
        *self == CooldownRan::default()
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The state, without what the checkpoint does not keep: the pass's
/// notifications (already in the outbox), its episodes that left the hot
/// view (already in the history) and the key buffer.
impl PartialEq for AlertState {
    fn eq(&self, other: &Self) -> bool {
        self.alerts == other.alerts
            && self.deadlines == other.deadlines
            && self.nodes == other.nodes
            && self.services == other.services
            && self.maintenance == other.maintenance
            && self.budget == other.budget
            && self.held == other.held
            && self.depends_on == other.depends_on
            && self.cooldown_s == other.cooldown_s
            && self.notifications_per_hour == other.notifications_per_hour
    }
}

impl AlertState {
    pub fn alerts(&self) -> &AlertMap {
        &self.alerts
    }

    pub fn notifications(&self) -> &[Notification] {
        &self.notifications
    }

    pub fn take_notifications(&mut self) -> Vec<Notification> {
        std::mem::take(&mut self.notifications)
    }

    pub fn notifications_held(&self) -> usize {
        self.held.len()
    }

    pub fn left_hot_view(&self) -> &[PastEpisode] {
        &self.left
    }

    /// `Engine::take_left`: the shell takes the episodes that left.
    pub(in crate::engine) fn take_left(&mut self) -> Vec<PastEpisode> {
        std::mem::take(&mut self.left)
    }
}
