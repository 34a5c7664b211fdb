//! Given/when/then tests of runbooks, acknowledgement and escalation
//! (SPEC §6): given these events under these rules, then these
//! notifications and these alerts.

use super::tests::{BASE, fold, fold_in_passes, id, line, rules_with};
use super::*;

/// Node stories use `node_up` without heartbeats: staleness is another
/// rule's story. Escalation channels after 1800 s.
fn escalating(alerts: &mut AlertRules) {
    if let Some(stale) = alerts.rules.get_mut(&Rule::NodeStale) {
        stale.enabled = false;
    }
    alerts.escalations_s = vec![1800];
}

fn down(t: i64) -> String {
    line(t, r#""type":"node_down","node":"a""#)
}

fn up(t: i64) -> String {
    line(t, r#""type":"node_up","node":"a""#)
}

fn tick(t: i64) -> String {
    line(t, r#""type":"tick""#)
}

fn ack(t: i64, key: &str) -> String {
    line(t, &format!(r#""type":"alert_acknowledged","payload":{{"key":"{key}","reason":"on it","by":"alice"}}"#))
}

const KEY: &str = "node_down:a";

fn at(t: i64) -> Ts {
    Ts((BASE + t) * 1000)
}

#[test]
fn a_services_runbook_wins_over_its_rules_in_notifications_and_alerts() {
    let rules = rules_with(|alerts| {
        alerts.runbooks.insert(Rule::ServiceUnhealthy, "https://wiki.lan/unhealthy".into());
        alerts.service_runbooks.insert("saturn/mosquitto".into(), "runbooks/mosquitto.md".into());
    });
    let unhealthy = |t: i64, service: &str| {
        line(t, &format!(r#""type":"service_unhealthy","node":"saturn","service":"{service}","severity":"error""#))
    };
    let folded = fold(&rules, &[unhealthy(0, "mosquitto"), unhealthy(10, "caddy"), tick(20)]);
    let runbook_of = |key: &str| folded.notes.iter().find(|n| n.key == key).and_then(|n| n.runbook.clone());
    assert_eq!(runbook_of("service_unhealthy:saturn/mosquitto").as_deref(), Some("runbooks/mosquitto.md"));
    assert_eq!(runbook_of("service_unhealthy:saturn/caddy").as_deref(), Some("https://wiki.lan/unhealthy"));
    assert_eq!(folded.alert("service_unhealthy:saturn/mosquitto").runbook.as_deref(), Some("runbooks/mosquitto.md"));
    let node = fold(&rules, &[line(0, r#""type":"node_down","node":"venus""#)]);
    assert_eq!(node.notes[0].runbook, None, "node_down has no runbook here");
}

#[test]
fn a_changed_runbook_shows_in_the_next_pass() {
    let before = rules_with(|_| {});
    let after = rules_with(|alerts| {
        alerts.runbooks.insert(Rule::NodeDown, "runbooks/node.md".into());
    });
    let mut engine = crate::engine::Engine::default();
    engine.apply(crate::engine::Input::PassStarted, &before);
    let event = crate::engine::given::event(&down(0));
    engine.apply(crate::engine::Input::Event { event: &event, file: "story.jsonl", position: 0 }, &before);
    assert_eq!(engine.alerts()[KEY].runbook, None);
    engine.apply(crate::engine::Input::PassStarted, &after);
    assert_eq!(engine.alerts()[KEY].runbook.as_deref(), Some("runbooks/node.md"));
}

#[test]
fn an_alert_escalates_at_exactly_n_seconds() {
    let rules = rules_with(escalating);
    let folded = fold(&rules, &[down(0), tick(1799)]);
    assert_eq!(folded.sent(), vec![(id(KEY, 0, "firing", 1), 0)], "not yet at N - 1");
    let folded = fold(&rules, &[down(0), tick(4000)]);
    assert_eq!(
        folded.sent(),
        vec![(id(KEY, 0, "firing", 1), 0), (id(KEY, 0, "escalation", 1800), 1800), (id(KEY, 0, "reminder", 1), 3600)],
        "at its own instant, whenever the next event comes"
    );
    let escalation = &folded.notes[1];
    assert_eq!(escalation.kind, NotificationKind::Escalation);
    assert_eq!(escalation.expires_at, Some(at(1800 + 3600)));
    assert_eq!(escalation.fired_at, Some(at(0)));
}

#[test]
fn an_alert_resolved_at_n_minus_one_never_escalates() {
    let rules = rules_with(escalating);
    let folded = fold(&rules, &[down(0), up(1799), tick(5000)]);
    assert_eq!(folded.sent(), vec![(id(KEY, 0, "firing", 1), 0), (id(KEY, 0, "resolved", 1), 1799)]);
}

#[test]
fn an_ack_stops_reminders_and_the_resolve_is_still_sent() {
    let rules = rules_with(|alerts| {
        if let Some(stale) = alerts.rules.get_mut(&Rule::NodeStale) {
            stale.enabled = false;
        }
    });
    let folded = fold(&rules, &[down(0), tick(3700), ack(4000, KEY), tick(20_000), up(21_000)]);
    assert_eq!(
        folded.sent(),
        vec![(id(KEY, 0, "firing", 1), 0), (id(KEY, 0, "reminder", 1), 3600), (id(KEY, 0, "resolved", 1), 21_000)],
        "no reminder after the ack at 4000; the resolve goes"
    );
    let alert = folded.alert(KEY);
    assert_eq!(alert.status, AlertStatus::Resolved);
    assert_eq!((alert.acknowledged_by.as_deref(), alert.acknowledged_at), (Some("alice"), Some(at(4000))));
}

#[test]
fn an_ack_before_n_prevents_the_escalation() {
    let rules = rules_with(escalating);
    let folded = fold(&rules, &[down(0), ack(1000, KEY), tick(10_000), up(11_000)]);
    assert_eq!(folded.sent(), vec![(id(KEY, 0, "firing", 1), 0), (id(KEY, 0, "resolved", 1), 11_000)]);
}

#[test]
fn a_new_episode_after_an_acked_one_is_unacknowledged() {
    let rules = rules_with(escalating);
    let folded = fold(&rules, &[down(0), ack(100, KEY), up(1000), down(2000), tick(2000 + 3601)]);
    assert_eq!(
        folded.sent(),
        vec![
            (id(KEY, 0, "firing", 1), 0),
            (id(KEY, 0, "resolved", 1), 1000),
            (id(KEY, 2000, "firing", 1), 2000),
            (id(KEY, 2000, "escalation", 1800), 3800),
            (id(KEY, 2000, "reminder", 1), 5600),
        ],
        "reminders and escalation again"
    );
    let alert = folded.alert(KEY);
    assert_eq!((alert.acknowledged_by.as_ref(), alert.acknowledged_at), (None, None));
}

#[test]
fn a_page_kept_open_from_an_acked_episode_gets_reminders_again() {
    // The resolve at 10 waits for the cooldown (300 s after the firing);
    // the alert fires again at 100, so both drop and the page stays open.
    let rules = rules_with(escalating);
    let folded = fold(&rules, &[down(0), ack(5, KEY), up(10), down(100), tick(7300)]);
    assert_eq!(
        folded.sent(),
        vec![
            (id(KEY, 0, "firing", 1), 0),
            (id(KEY, 0, "escalation", 1800), 1900),
            (id(KEY, 0, "reminder", 1), 3600),
            (id(KEY, 0, "reminder", 2), 7200),
        ],
        "the page of episode 0 escalates and reminds for the new, unacknowledged episode"
    );
}

#[test]
fn an_ack_of_a_key_that_does_not_fire_changes_nothing() {
    let rules = rules_with(escalating);
    let lines = [down(0), up(10), tick(400), down(1000), tick(5000)];
    let plain = fold(&rules, &lines);
    for stray in [ack(500, KEY), ack(500, "node_down:nobody"), ack(500, "no_such_rule:x")] {
        let mut with = lines.to_vec();
        with.insert(3, stray.clone());
        let folded = fold(&rules, &with);
        assert_eq!(folded.sent(), plain.sent(), "{stray}");
        assert_eq!(folded.engine.alerts(), plain.engine.alerts(), "{stray}");
        assert_eq!(folded.engine.stats().total, plain.engine.stats().total + 1, "counted as an event");
    }
}

#[test]
fn an_escalation_held_by_suppression_goes_when_the_maintenance_ends() {
    let rules = rules_with(escalating);
    let maintenance = |t: i64, kind: &str| line(t, &format!(r#""type":"{kind}","node":"a""#));
    let folded = fold(
        &rules,
        &[down(0), maintenance(1000, "maintenance_started"), maintenance(2500, "maintenance_ended"), tick(2600)],
    );
    assert_eq!(folded.sent(), vec![(id(KEY, 0, "firing", 1), 0), (id(KEY, 0, "escalation", 1800), 2500)]);
}

#[test]
fn an_escalation_waits_for_a_firing_held_by_the_cooldown() {
    let rules = rules_with(|alerts| {
        escalating(alerts);
        alerts.escalations_s = vec![60];
    });
    // Episode 0 resolves at 10 (its resolve waits until 300): no
    // escalation. The firing of the episode from 400 waits until 600, past
    // its escalation instant 460: both go then.
    let folded = fold(&rules, &[down(0), up(10), tick(300), down(400), tick(700)]);
    assert_eq!(
        folded.sent(),
        vec![
            (id(KEY, 0, "firing", 1), 0),
            (id(KEY, 0, "resolved", 1), 300),
            (id(KEY, 400, "firing", 1), 600),
            (id(KEY, 400, "escalation", 60), 600),
        ]
    );
}

#[test]
fn an_escalation_neither_waits_for_nor_moves_the_cooldown() {
    let rules = rules_with(|alerts| {
        escalating(alerts);
        alerts.escalations_s = vec![60];
    });
    let folded = fold(&rules, &[down(0), tick(30), up(61), tick(400)]);
    assert_eq!(
        folded.sent(),
        vec![(id(KEY, 0, "firing", 1), 0), (id(KEY, 0, "escalation", 60), 60), (id(KEY, 0, "resolved", 1), 300)],
        "the resolve waits 300 s after the firing, not after the escalation"
    );
}

#[test]
fn ids_with_acks_and_escalations_are_the_same_in_one_pass_or_many() {
    let rules = rules_with(|alerts| {
        escalating(alerts);
        alerts.escalations_s = vec![600, 1800];
    });
    let other = "node_down:b";
    let lines = [
        down(0),
        line(100, r#""type":"node_down","node":"b""#),
        ack(700, other),
        tick(2000),
        up(2100),
        down(2500),
        line(3000, r#""type":"node_up","node":"b""#),
        tick(9000),
    ];
    let one = fold(&rules, &lines);
    assert!(one.sent().contains(&(id(KEY, 0, "escalation", 600), 600)));
    assert!(one.sent().contains(&(id(other, 100, "escalation", 600), 700)), "the escalation goes before the ack");
    assert!(!one.sent().iter().any(|(id, _)| id.starts_with(&format!("{other}@{}:escalation:1800", BASE + 100))));
    for cuts in [vec![1], vec![2, 3], vec![1, 2, 3, 4, 5, 6, 7]] {
        let many = fold_in_passes(&rules, &lines, &cuts);
        assert_eq!(many.sent(), one.sent(), "cuts {cuts:?}");
        assert_eq!(many.notes, one.notes, "cuts {cuts:?}");
    }
}

#[test]
fn an_escalation_channel_added_between_passes_escalates_the_episodes_firing_then() {
    let none = rules_with(|alerts| {
        escalating(alerts);
        alerts.escalations_s.clear();
    });
    let with = rules_with(escalating);
    let maintenance = |t: i64, kind: &str| line(t, &format!(r#""type":"{kind}","node":"a""#));
    let firing = (id(KEY, 0, "firing", 1), 0);
    let escalation = |t: i64| (id(KEY, 0, "escalation", 1800), t);
    type Case<'a> = (&'a [String], &'a [String], Vec<(String, i64)>);
    let cases: [Case; 4] = [
        // Added before its instant: at its instant, 1800.
        (&[down(0), tick(100)], &[tick(3000)], vec![firing.clone(), escalation(1800)]),
        // Added after it: at the pass's start, the clock then (2000).
        (&[down(0), tick(2000)], &[tick(3000)], vec![firing.clone(), escalation(2000)]),
        // After it, in maintenance then: when the maintenance ends.
        (
            &[down(0), maintenance(1000, "maintenance_started"), tick(2000)],
            &[maintenance(2500, "maintenance_ended"), tick(3000)],
            vec![firing.clone(), escalation(2500)],
        ),
        // Acknowledged: never.
        (&[down(0), ack(10, KEY), tick(2000)], &[tick(3000)], vec![firing.clone()]),
    ];
    for (first, then, sent) in cases {
        let folded = super::tests::fold_passes(&[(&none, first), (&with, then)]);
        assert_eq!(folded.sent(), sent, "{first:?} then {then:?}");
        // Under the channels it fired under, the same in one pass or two.
        let lines: Vec<String> = first.iter().chain(then).cloned().collect();
        let one = fold(&with, &lines);
        let two = fold_in_passes(&with, &lines, &[first.len()]);
        assert_eq!(two.notes, one.notes, "{first:?} then {then:?}");
        let state = |folded: &super::tests::Folded| serde_json::to_string(&folded.engine).unwrap();
        assert_eq!(state(&two), state(&one), "{first:?} then {then:?}");
    }
}

/// From a review: an episode fired late (at an instant before the clock)
/// has its escalation queued at its instant, and a pass cut just after it
/// must not send it at the next pass's start instead; and an escalation
/// owed under new channels goes after the deadlines before it, so that a
/// resolve the new rules put earlier wins.
#[test]
fn escalations_owed_at_a_pass_start_keep_their_place_in_time() {
    let with = |keep_s: u64, escalations: Vec<u64>| {
        rules_with(move |alerts| {
            alerts.rules.get_mut(&Rule::NodeDown).unwrap().keep_firing_for_s = keep_s;
            alerts.escalations_s = escalations.clone();
        })
    };
    // node_stale fires late, at 300.001, when a late node_up tells when a
    // was last seen; its escalation after 60 is due at 360.001, before the
    // clock (400).
    let rules = with(0, vec![60]);
    let lines = [down(0), tick(400), up(0), tick(500)];
    let one = fold(&rules, &lines);
    assert!(one.sent().iter().any(|(id, _)| id.contains("node_stale:a@") && id.ends_with(":escalation:60")));
    for cut in 1..lines.len() {
        assert_eq!(fold_in_passes(&rules, &lines, &[cut]).notes, one.notes, "cut at {cut}");
    }
    // Firing since 0, clear since 100; the next pass resolves it at 100 and
    // adds a channel after 1800: no escalation.
    let folded = super::tests::fold_passes(&[
        (&with(3600, vec![]), &[down(0), up(100), tick(2000)]),
        (&with(0, vec![1800]), &[tick(2100)]),
    ]);
    assert!(folded.sent().iter().all(|(id, _)| !id.contains(":escalation:")), "{:?}", folded.sent());
    assert_eq!(folded.alert(KEY).resolved_at, Some(at(100)));
}
