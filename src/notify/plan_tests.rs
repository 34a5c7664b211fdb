use super::*;
use crate::event::Severity;
use crate::notify::alerts_now::AlertNow;
use crate::notify::ledger::{Attempt, AttemptOutcome};

const FIRED: i64 = 1_778_580_000;

fn n(key: &str, kind: NotificationKind, minute: i64) -> Notification {
    let ts = Ts((FIRED + minute * 60) * 1000);
    Notification {
        id: format!("{key}@{FIRED}:{}:1", kind.name()),
        kind,
        ts,
        expires_at: None,
        key: key.to_string(),
        rule: key.split(':').next().unwrap_or_default().to_string(),
        node: Some("venus".to_string()),
        service: None,
        severity: Severity::Error,
        priority: 2,
        summary: format!("{key} {}", kind.name()),
        fired_at: Some(Ts(FIRED * 1000)),
        resolved_at: None,
        runbook: None,
    }
}

fn channel() -> ChannelConfig {
    serde_yaml::from_str("{name: web, webhook: 'http://127.0.0.1:9/'}").unwrap()
}

fn attempt(n: &Notification, outcome: AttemptOutcome, next: Option<Ts>) -> Attempt {
    Attempt {
        id: n.id.clone(),
        channel: "web".to_string(),
        at: n.ts,
        attempt: 1,
        outcome,
        http_status: None,
        exit_code: None,
        error: None,
        next_attempt_at: next,
        notification: n.clone(),
    }
}

fn ids(queues: &[Queue]) -> Vec<Vec<String>> {
    queues.iter().map(|q| q.items.iter().map(|i| i.notification.id.clone()).collect()).collect()
}

fn inputs<'a>(outbox: &'a [Notification], ledger: &'a Ledger, alerts: Option<&'a AlertsNow>) -> Inputs<'a> {
    Inputs { outbox, ledger, alerts, rebuild_horizon: None, now: Ts((FIRED + 3600) * 1000) }
}

#[test]
fn a_key_queues_in_outbox_order_behind_its_undelivered_head() {
    let firing = n("node_down:venus", NotificationKind::Firing, 0);
    let resolved = n("node_down:venus", NotificationKind::Resolved, 5);
    let other = n("node_down:mars", NotificationKind::Firing, 1);
    let outbox = [firing.clone(), other.clone(), resolved.clone()];
    let mut ledger = Ledger::default();
    let later = Ts((FIRED + 7200) * 1000);
    ledger.record(attempt(&firing, AttemptOutcome::Retry, Some(later)));
    let queues = plan(&channel(), &inputs(&outbox, &ledger, None));
    assert_eq!(ids(&queues), [vec![firing.id.clone(), resolved.id.clone()], vec![other.id.clone()]]);
    assert_eq!(queues[0].items[0].due_at(), Some(later), "the head waits, and the resolve behind it");
}

#[test]
fn delivered_and_dead_lettered_ids_are_settled() {
    let firing = n("node_down:venus", NotificationKind::Firing, 0);
    let other = n("node_down:mars", NotificationKind::Firing, 1);
    let mut ledger = Ledger::default();
    ledger.record(attempt(&firing, AttemptOutcome::Delivered, None));
    ledger.record(attempt(&other, AttemptOutcome::DeadLetter, None));
    let outbox = [firing, other];
    assert!(plan(&channel(), &inputs(&outbox, &ledger, None)).is_empty());
}

#[test]
fn an_orphaned_page_gets_one_resolve_even_past_the_filters() {
    let firing = n("disk_low:venus/data", NotificationKind::Firing, 0);
    let mut ledger = Ledger::default();
    ledger.record(attempt(&firing, AttemptOutcome::Delivered, None));
    let mut strict = channel();
    strict.min_severity = Some(Severity::Critical);
    let none_firing = AlertsNow::default();
    let queues = plan(&strict, &inputs(&[], &ledger, Some(&none_firing)));
    assert_eq!(ids(&queues), [vec![format!("disk_low:venus/data@{FIRED}:resolved:1")]]);
    // Unknown alerts (no alerts.json): nothing is closed on a guess.
    assert!(plan(&strict, &inputs(&[], &ledger, None)).is_empty());
    // The key fires again: the page stays open.
    let fires = AlertsNow::from_alerts([(
        firing.key.clone(),
        AlertNow {
            key: None,
            status: "firing".into(),
            fired_at: Some(Ts(FIRED * 1000 + 600_000)),
            last_notification: None,
        },
    )]);
    assert!(plan(&strict, &inputs(&[], &ledger, Some(&fires))).is_empty());
}

#[test]
fn before_the_rebuild_horizon_only_what_converges_goes() {
    let ended = n("node_down:venus", NotificationKind::Firing, 0);
    let ended_resolve = n("node_down:venus", NotificationKind::Resolved, 5);
    let still = n("node_down:mars", NotificationKind::Firing, 1);
    let reminder = n("node_down:mars", NotificationKind::Reminder, 2);
    let outbox = [ended, still.clone(), reminder, ended_resolve];
    let alerts = AlertsNow::from_alerts([(
        still.key.clone(),
        AlertNow { key: None, status: "firing".into(), fired_at: still.fired_at, last_notification: None },
    )]);
    let ledger = Ledger::default();
    let inputs = Inputs { rebuild_horizon: Some(Ts((FIRED + 600) * 1000)), ..inputs(&outbox, &ledger, Some(&alerts)) };
    assert_eq!(ids(&plan(&channel(), &inputs)), [vec![still.id]]);
}

#[test]
fn a_firing_from_before_the_horizon_goes_when_its_episode_goes_on_after_it() {
    // Fired and never delivered before a rebuild (the receiver was down);
    // a reminder and the resolve were decided after it. The episode fires no
    // more now, yet its reminder and resolve go: so does its firing, first,
    // and the receiver never gets a reminder or a resolve without a page.
    let firing = n("node_stale:saturn", NotificationKind::Firing, 0);
    let reminder = n("node_stale:saturn", NotificationKind::Reminder, 4);
    let resolved = n("node_stale:saturn", NotificationKind::Resolved, 6);
    let ended = n("node_down:venus", NotificationKind::Firing, 1);
    let outbox = [firing.clone(), ended.clone(), reminder.clone(), resolved.clone()];
    let mut ledger = Ledger::default();
    ledger.record(attempt(&firing, AttemptOutcome::Retry, Some(firing.ts)));
    ledger.record(attempt(&ended, AttemptOutcome::Retry, Some(ended.ts)));
    let none_firing = AlertsNow::default();
    let horizon = Some(Ts((FIRED + 120) * 1000));
    let inputs = Inputs { rebuild_horizon: horizon, ..inputs(&outbox, &ledger, Some(&none_firing)) };
    assert_eq!(ids(&plan(&channel(), &inputs)), [vec![firing.id, reminder.id, resolved.id]]);
}
