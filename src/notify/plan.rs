//! What is due on one channel: a pure function of the outbox, the ledger,
//! the alerts firing now, the rebuild horizon and the wall clock.
//!
//! The rules, in order:
//! 1. A notification the channel's filters do not take is not for it
//!    (`budget_exhausted` notices pass every filter).
//! 2. What the ledger holds as delivered or dead-lettered on the channel
//!    (by id) is settled: never sent again.
//! 3. A notification decided after the rebuild horizon (or when there was
//!    no rebuild) goes out, retried until delivered or dead-lettered.
//! 4. One decided at or before the horizon (before the latest rebuild)
//!    goes out only to make receivers converge: a `firing` if its episode
//!    fires now, or goes on after the horizon (a reminder or its resolve
//!    decided since, which goes too and must not come without it), and the
//!    receiver holds no page of that episode (the first such firing only);
//!    a `resolved` if the receiver holds a page of its episode. Reminders
//!    and budget notices from before a rebuild never go.
//! 5. A page open at the receiver (the ledger's newest delivered
//!    notification of the key is a firing or a reminder) whose key fires
//!    no more, and whose resolve the fold does not mean to send itself
//!    (the alert's last notification is not that page's episode still
//!    open), gets one `resolved`, id `<key>@<fired>:resolved:1`, whatever
//!    the channel's filters say now.
//! 6. Per key, the due notifications form a queue in outbox order (a
//!    page's closing resolve last): only its head may be attempted, so
//!    nothing later for a key overtakes an earlier one still undelivered.
//!
//! An escalation channel (`after_s: N`) takes, before rule 2, only the
//! `escalation` notifications with its N, and the reminders and resolve of
//! each episode it was escalated to (an escalation of that episode seen
//! earlier in the outbox, or a page of that episode open at its receivers
//! by the ledger); never a firing, and no second escalation of an episode
//! whose page it already holds (after a rebuild with another `after_s`).
//! An `escalation` opens a page like a firing (rules 4 and 5 treat it so).
//! A channel without `after_s` never gets `escalation` notifications.

use std::collections::{BTreeMap, HashSet};

use super::alerts_now::AlertsNow;
use super::ledger::{Ledger, Tries, is_page};
use crate::config::ChannelConfig;
use crate::engine::alerts::{Notification, NotificationKind};
use crate::time::Ts;

/// One notification in a key's queue.
#[derive(Clone, Debug)]
pub struct Item {
    pub notification: Notification,
    /// Earlier attempts on this channel.
    pub tries: Option<Tries>,
}

impl Item {
    /// When it may be attempted (now, if never tried).
    pub fn due_at(&self) -> Option<Ts> {
        self.tries.as_ref().and_then(|t| t.next_attempt_at)
    }
}

/// The due notifications of one key, oldest first.
#[derive(Clone, Debug)]
pub struct Queue {
    pub key: String,
    pub items: Vec<Item>,
}

/// What the fold decided before the rebuild, and what it decides now.
pub struct Inputs<'a> {
    pub outbox: &'a [Notification],
    pub ledger: &'a Ledger,
    /// `None` when `world/alerts.json` cannot be read: rules 4 (firing) and
    /// 5 then send nothing.
    pub alerts: Option<&'a AlertsNow>,
    pub rebuild_horizon: Option<Ts>,
    pub now: Ts,
}

/// The queues of `channel`, in the order their keys first appear.
pub fn plan(channel: &ChannelConfig, inputs: &Inputs<'_>) -> Vec<Queue> {
    let name = channel.name.as_str();
    let ledger = inputs.ledger;
    let mut order: Vec<String> = Vec::new();
    let mut queues: BTreeMap<String, Vec<Item>> = BTreeMap::new();
    let mut queued: HashSet<&str> = HashSet::new();
    let mut old_firing_queued: HashSet<(String, String)> = HashSet::new();
    // The episodes with notifications for this channel after the horizon.
    let goes_on: HashSet<(&str, Option<String>)> = match inputs.rebuild_horizon {
        Some(horizon) => inputs
            .outbox
            .iter()
            .filter(|n| n.ts > horizon && n.kind != NotificationKind::Firing && takes(channel, n))
            .map(|n| (n.key.as_str(), episode(n)))
            .collect(),
        None => HashSet::new(),
    };
    let mut push = |n: &Notification, order: &mut Vec<String>| {
        if !queues.contains_key(&n.key) {
            order.push(n.key.clone());
        }
        let tries = ledger.tries(name, &n.id).cloned();
        queues.entry(n.key.clone()).or_default().push(Item { notification: n.clone(), tries });
    };

    let mut escalated: HashSet<(&str, String)> = HashSet::new();
    for n in inputs.outbox {
        if !takes(channel, n) || !escalation_takes(channel, n, ledger, &mut escalated) {
            continue;
        }
        if ledger.settled(name, &n.id) || queued.contains(n.id.as_str()) {
            continue;
        }
        let before_rebuild = inputs.rebuild_horizon.is_some_and(|horizon| n.ts <= horizon);
        if before_rebuild {
            let page = ledger.open_page(name, &n.key);
            let page_of_episode = page.is_some_and(|p| episode(p) == episode(n));
            let goes = match n.kind {
                NotificationKind::Firing | NotificationKind::Escalation => {
                    let fires = inputs.alerts.and_then(|a| a.firing(&n.key));
                    let episode_fires = fires.is_some_and(|at| Some(at.unix_seconds().to_string()) == episode(n));
                    (episode_fires || goes_on.contains(&(n.key.as_str(), episode(n))))
                        && !page_of_episode
                        && old_firing_queued.insert((n.key.clone(), episode(n).unwrap_or_default()))
                }
                NotificationKind::Resolved => page_of_episode,
                NotificationKind::Reminder | NotificationKind::BudgetExhausted => false,
            };
            if !goes {
                continue;
            }
        }
        queued.insert(&n.id);
        push(n, &mut order);
    }

    if let Some(alerts) = inputs.alerts {
        for page in ledger.open_pages(name) {
            if alerts.firing(&page.key).is_some() || fold_closes_it(alerts, page) {
                continue;
            }
            let resolve = closing_resolve(page, inputs.now);
            if queued.contains(resolve.id.as_str()) || ledger.settled(name, &resolve.id) {
                continue;
            }
            push(&resolve, &mut order);
        }
    }

    order.into_iter().filter_map(|key| queues.remove(&key).map(|items| Queue { key, items })).collect()
}

/// The channel's filters: `min_severity` and `rules`. Budget notices pass.
pub fn takes(channel: &ChannelConfig, n: &Notification) -> bool {
    if n.kind == NotificationKind::BudgetExhausted {
        return true;
    }
    let severe_enough = channel.min_severity.is_none_or(|min| n.severity >= min);
    let rule_listed = channel.rules.as_ref().is_none_or(|rules| rules.contains(&n.rule));
    severe_enough && rule_listed
}

/// What an escalation channel (or an ordinary one, as to `escalation`
/// notifications) takes of the outbox; `escalated` gathers, in outbox
/// order, the episodes `(key, fired)` escalated to this channel.
fn escalation_takes<'a>(
    channel: &ChannelConfig,
    n: &'a Notification,
    ledger: &Ledger,
    escalated: &mut HashSet<(&'a str, String)>,
) -> bool {
    let Some(after_s) = channel.after_s else { return n.kind != NotificationKind::Escalation };
    let episode = episode(n).unwrap_or_default();
    let page = ledger.open_page(&channel.name, &n.key).filter(|p| self::episode(p).as_ref() == Some(&episode));
    match n.kind {
        NotificationKind::BudgetExhausted => true,
        NotificationKind::Firing => false,
        NotificationKind::Escalation => {
            if !n.id.ends_with(&format!(":escalation:{after_s}")) {
                return false;
            }
            escalated.insert((n.key.as_str(), episode));
            page.is_none_or(|p| p.id == n.id)
        }
        NotificationKind::Reminder | NotificationKind::Resolved => {
            page.is_some() || escalated.contains(&(n.key.as_str(), episode))
        }
    }
}

/// The episode a notification belongs to: the `<unix seconds it fired>` of
/// its id `<key>@<fired>:<kind>:<n>`.
fn episode(n: &Notification) -> Option<String> {
    episode_of(&n.id, &n.key)
}

fn episode_of(id: &str, key: &str) -> Option<String> {
    let rest = id.strip_prefix(key)?.strip_prefix('@')?;
    Some(rest.split_once(':').map_or(rest, |(fired, _)| fired).to_string())
}

/// The fold still holds `page` open itself (its last notification of the
/// key is that episode's firing or reminder, e.g. a resolve waiting out the
/// cooldown), so it will send the resolve, or keep the page open on
/// purpose if the alert fires again.
fn fold_closes_it(alerts: &AlertsNow, page: &Notification) -> bool {
    alerts
        .last_notification(&page.key)
        .is_some_and(|last| is_page(last.kind) && episode_of(&last.id, &page.key) == episode(page))
}

/// The one `resolved` that closes `page` when the rebuilt world no longer
/// fires its key. Its id is the one the fold gives a resolve of that
/// episode, so a receiver that got the fold's own resolve drops it.
pub fn closing_resolve(page: &Notification, now: Ts) -> Notification {
    let fired = episode(page).unwrap_or_else(|| page.fired_at.unwrap_or(page.ts).unix_seconds().to_string());
    Notification {
        id: format!("{}@{fired}:resolved:1", page.key),
        kind: NotificationKind::Resolved,
        ts: now,
        expires_at: None,
        key: page.key.clone(),
        rule: page.rule.clone(),
        node: page.node.clone(),
        service: page.service.clone(),
        severity: page.severity,
        priority: page.priority,
        summary: format!("no longer alerting: {}", page.summary),
        fired_at: page.fired_at,
        resolved_at: Some(now),
        runbook: page.runbook.clone(),
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "plan_escalation_tests.rs"]
mod escalation_tests;
