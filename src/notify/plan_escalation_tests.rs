//! Delivery to an escalation channel beside an ordinary one, over random
//! histories folded by the real engine (with acks and two nodes): per
//! channel and episode, a page opens (a firing on the ordinary channel, an
//! escalation on the escalating one), then reminders, then at most one
//! resolve; never a resolve or a reminder without the page, never a firing
//! on the escalating channel nor an escalation on the ordinary one.

use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;

use super::*;
use crate::config::Config;
use crate::engine::given::event;
use crate::engine::{Engine, Input};
use crate::inventory::Inventory;
use crate::notify::ledger::{Attempt, AttemptOutcome};

const CONFIG: &str = "alerts:\n  rules:\n    node_stale: {enabled: false}\n\
    notify:\n  channels:\n    - {name: pager, webhook: 'http://127.0.0.1:9/'}\n    \
    - {name: oncall, webhook: 'http://127.0.0.1:9/', after_s: 1200}\n";

/// The notifications of `lines`, folded in one pass.
fn outbox(config: &Config, lines: &[String]) -> Vec<Notification> {
    let rules = crate::rules::build(config, &Inventory::default());
    let mut engine = Engine::default();
    engine.apply(Input::PassStarted, &rules);
    for (position, line) in lines.iter().enumerate() {
        let event = event(line);
        engine.apply(Input::Event { event: &event, file: "story.jsonl", position: position as u64 }, &rules);
    }
    engine.notifications().to_vec()
}

/// Delivers what `plan` gives `channel`, in queue order, each delivered.
fn deliver(channel: &ChannelConfig, outbox: &[Notification], ledger: &mut Ledger) -> Vec<Notification> {
    let inputs = Inputs { outbox, ledger, alerts: None, rebuild_horizon: None, now: Ts(0) };
    let queues = plan(channel, &inputs);
    let mut sent = Vec::new();
    for item in queues.into_iter().flat_map(|q| q.items) {
        sent.push(item.notification.clone());
        ledger.record(Attempt {
            id: item.notification.id.clone(),
            channel: channel.name.clone(),
            at: Ts(0),
            attempt: 1,
            outcome: AttemptOutcome::Delivered,
            http_status: Some(200),
            exit_code: None,
            error: None,
            next_attempt_at: None,
            notification: item.notification,
        });
    }
    sent
}

fn line(t: i64, rest: &str) -> String {
    format!(r#"{{"ts":"{}",{rest}}}"#, Ts((1_778_587_200 + t) * 1000).to_rfc3339())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn each_channel_gets_its_page_then_reminders_then_one_resolve_per_episode(
        steps in prop::collection::vec((0u8..5, 0u8..2, 1i64..1500), 1..60),
    ) {
        let config = Config::parse(CONFIG, Path::new("observer.yaml")).unwrap();
        let mut t = 0;
        let lines: Vec<String> = steps.iter().map(|(kind, who, gap)| {
            t += gap;
            let node = format!("n{who}");
            match kind {
                0 => line(t, &format!(r#""type":"node_down","node":"{node}""#)),
                1 => line(t, &format!(r#""type":"node_up","node":"{node}""#)),
                2 => line(t, &format!(r#""type":"alert_acknowledged","payload":{{"key":"node_down:{node}"}}"#)),
                _ => line(t, r#""type":"tick""#),
            }
        }).collect();
        let outbox = outbox(&config, &lines);
        let mut ledger = Ledger::default();
        for channel in &config.notify.channels {
            let escalating = channel.after_s.is_some();
            let opener = if escalating { NotificationKind::Escalation } else { NotificationKind::Firing };
            // Per episode (`key@fired`): whether its page is open, closed.
            let mut pages: BTreeMap<String, bool> = BTreeMap::new();
            for n in deliver(channel, &outbox, &mut ledger) {
                let episode = n.id.rsplitn(3, ':').nth(2).unwrap_or_default().to_string();
                let open = pages.get(&episode).copied();
                match n.kind {
                    kind if kind == opener => prop_assert_eq!(open, None, "{} opened twice", n.id),
                    NotificationKind::Reminder | NotificationKind::Resolved => {
                        prop_assert_eq!(open, Some(true), "{} without an open page on {}", n.id, channel.name)
                    }
                    _ => prop_assert!(false, "{} on {}", n.id, channel.name),
                }
                pages.insert(episode, n.kind != NotificationKind::Resolved);
            }
            // Every escalation of the outbox reached the escalating channel.
            let escalations = outbox.iter().filter(|n| n.kind == NotificationKind::Escalation).count();
            let opened = pages.len();
            if escalating {
                prop_assert_eq!(opened, escalations);
            }
            // A second round sends nothing.
            prop_assert!(deliver(channel, &outbox, &mut ledger).is_empty());
        }
    }
}
