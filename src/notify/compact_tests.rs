use proptest::prelude::*;

use super::*;
use crate::config::ChannelConfig;
use crate::engine::alerts::{Notification, NotificationKind};
use crate::event::Severity;
use crate::notify::alerts_now::AlertsNow;
use crate::notify::ledger::LedgerWriter;
use crate::notify::plan::{Inputs, plan};
use crate::time::Ts;

const KEYS: [&str; 3] = ["node_down:venus", "node_down:mars", "service_unhealthy:saturn/mosquitto"];
const KINDS: [NotificationKind; 3] = [NotificationKind::Firing, NotificationKind::Reminder, NotificationKind::Resolved];

fn notification(key: usize, kind_index: usize) -> Notification {
    let kind = KINDS[kind_index];
    Notification {
        id: format!("{}@100:{}:1", KEYS[key], kind.name()),
        kind,
        ts: Ts(100_000 + key as i64 * 1000 + kind_index as i64),
        expires_at: None,
        key: KEYS[key].to_string(),
        rule: KEYS[key].split(':').next().unwrap_or_default().to_string(),
        node: None,
        service: None,
        severity: Severity::Error,
        priority: 2,
        summary: String::new(),
        fired_at: Some(Ts(100_000)),
        resolved_at: None,
        runbook: None,
    }
}

/// Attempts as delivery makes them: per (channel, id), numbered from 1 on
/// an increasing wall clock, nothing after a delivery or a dead letter but
/// (now and then) a copy after a crash.
fn attempts(plan: &[(u8, usize, usize, u8)]) -> Vec<Attempt> {
    let mut count: HashMap<(String, String), u32> = HashMap::new();
    let mut out = Vec::new();
    for (i, &(channel, key, kind, outcome)) in plan.iter().enumerate() {
        let notification = notification(key, kind);
        let channel = ["web", "phone"][channel as usize % 2].to_string();
        let n = count.entry((channel.clone(), notification.id.clone())).or_default();
        *n += 1;
        let outcome = match outcome {
            0..=5 => AttemptOutcome::Retry,
            6..=8 => AttemptOutcome::Delivered,
            _ => AttemptOutcome::DeadLetter,
        };
        let at = Ts(1_000_000 + i as i64 * 1000);
        out.push(Attempt {
            id: notification.id.clone(),
            channel,
            at,
            attempt: *n,
            outcome,
            http_status: Some(if outcome == AttemptOutcome::Delivered { 200 } else { 503 }),
            exit_code: None,
            error: None,
            next_attempt_at: (outcome == AttemptOutcome::Retry).then(|| Ts(at.0 + 5000)),
            notification,
        });
    }
    out
}

fn channel(name: &str) -> ChannelConfig {
    serde_yaml::from_str(&format!("{{name: {name}, webhook: 'http://127.0.0.1:9/'}}")).unwrap()
}

/// What delivery would do with `ledger`: every channel's queues, with each
/// item's tries, after a rebuild horizon (so open pages and settled ids
/// both count) and with no alert firing (every open page gets its resolve).
fn decisions(ledger: &Ledger) -> String {
    let outbox: Vec<Notification> = (0..3).flat_map(|k| (0..3).map(move |kind| notification(k, kind))).collect();
    let alerts = AlertsNow::default();
    let mut text = String::new();
    for name in ["web", "phone"] {
        for horizon in [None, Some(Ts(100_001))] {
            let inputs =
                Inputs { outbox: &outbox, ledger, alerts: Some(&alerts), rebuild_horizon: horizon, now: Ts(0) };
            for queue in plan(&channel(name), &inputs) {
                for item in queue.items {
                    text.push_str(&format!("{name} {horizon:?} {} {:?}\n", item.notification.id, item.tries));
                }
            }
        }
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_kept_lines_decide_as_the_whole_ledger(
        plan in prop::collection::vec((0u8..2, 0usize..3, 0usize..3, 0u8..10), 0..200)
    ) {
        let all = attempts(&plan);
        let keep = kept(&all);
        let compacted: Vec<Attempt> = keep.iter().map(|&i| all[i].clone()).collect();
        let (whole, small) = (Ledger::from_attempts(all.clone()), Ledger::from_attempts(compacted));
        prop_assert!(whole.same_decisions(&small));
        prop_assert_eq!(decisions(&whole), decisions(&small));
        let ids = whole.size().1;
        prop_assert!(keep.len() <= 5 * ids, "{} lines kept for {} ids", keep.len(), ids);
    }
}

fn write_ledger(dir: &Path, attempts: &[Attempt]) {
    let mut writer = LedgerWriter::open(dir).unwrap();
    for attempt in attempts {
        writer.append(attempt).unwrap();
    }
}

#[test]
fn a_ledger_grown_past_the_threshold_is_rewritten_with_what_delivery_needs() {
    let dir = tempfile::tempdir().unwrap();
    // Five notifications retried 300 times each on one channel, then
    // three of them delivered and one dead-lettered.
    let mut plan: Vec<(u8, usize, usize, u8)> = Vec::new();
    for _ in 0..300 {
        plan.extend([(0, 0, 0, 0), (0, 1, 0, 0), (0, 2, 0, 0), (0, 0, 1, 0), (0, 1, 1, 0)]);
    }
    plan.extend([(0, 0, 0, 6), (0, 1, 0, 6), (0, 2, 0, 9), (0, 0, 1, 7)]);
    let all = attempts(&plan);
    write_ledger(dir.path(), &all);
    let before = Ledger::load(dir.path()).unwrap();
    let (lines, ids) = before.size();
    assert!(worth_a_look(lines, ids), "{lines} lines for {ids} ids");
    let done = compact(dir.path()).unwrap().expect("compacted");
    assert_eq!(done, Compacted { before: 1504, after: 10 });
    let after = Ledger::load(dir.path()).unwrap();
    assert!(before.same_decisions(&after));
    assert_eq!(decisions(&before), decisions(&after));
    assert!(!dir.path().join(".deliveries.jsonl.tmp").exists());
    // Compacted, it is not compacted again; appends go on after it.
    assert_eq!(compact(dir.path()).unwrap(), None);
    write_ledger(dir.path(), &attempts(&[(1, 2, 2, 6)]));
    assert_eq!(Ledger::load(dir.path()).unwrap().size(), (11, 6));
}

#[test]
fn a_small_or_tight_ledger_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(compact(dir.path()).unwrap(), None, "no ledger");
    let few: Vec<(u8, usize, usize, u8)> = (0..MIN_LINES - 1).map(|_| (0, 0, 0, 0)).collect();
    write_ledger(dir.path(), &attempts(&few));
    let text = std::fs::read(ledger::path(dir.path())).unwrap();
    assert_eq!(compact(dir.path()).unwrap(), None, "under MIN_LINES");
    assert_eq!(std::fs::read(ledger::path(dir.path())).unwrap(), text, "untouched");
}
