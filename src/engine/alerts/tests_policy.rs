//! Given/when/then tests of the notification policy: cooldown, reminders,
//! budget, suppression, flapping, and ids that any rebuild gives again.

use proptest::prelude::*;

use super::tests::{fold, fold_in_passes, fold_passes, id, line, rules_with};
use super::*;
use crate::engine::Rules;

/// Node stories here use `node_up` without heartbeats: staleness is
/// another rule's story.
fn without_staleness(alerts: &mut AlertRules) {
    if let Some(stale) = alerts.rules.get_mut(&Rule::NodeStale) {
        stale.enabled = false;
    }
}

/// A budget of `budget` sends an hour (0: none), with no reminders and no
/// staleness, for the budget's stories.
fn budget_without_reminders(budget: u32) -> Rules {
    rules_with(|a| {
        a.notifications_per_hour = budget;
        a.ttl_s = 0;
        without_staleness(a);
    })
}

fn down(t: i64, node: &str) -> String {
    line(t, &format!(r#""type":"node_down","node":"{node}""#))
}

fn up(t: i64, node: &str) -> String {
    line(t, &format!(r#""type":"node_up","node":"{node}""#))
}

fn tick(t: i64) -> String {
    line(t, r#""type":"tick""#)
}

fn unhealthy(t: i64, node: &str, service: &str) -> String {
    line(t, &format!(r#""type":"service_unhealthy","node":"{node}","service":"{service}""#))
}

fn recovered(t: i64, node: &str, service: &str) -> String {
    line(t, &format!(r#""type":"service_recovered","node":"{node}","service":"{service}""#))
}

#[test]
fn cooldown_holds_a_firing_until_its_alert_resolves_and_then_neither_is_sent() {
    let rules = rules_with(without_staleness);
    let key = "node_down:a";
    let lines = [down(0, "a"), up(10, "a"), down(400, "a"), tick(450)];
    let held = fold(&rules, &lines);
    assert_eq!(held.sent(), vec![(id(key, 0, "firing", 1), 0), (id(key, 0, "resolved", 1), 300)]);
    assert_eq!(held.engine.notifications_held(), 1, "the second firing waits until 600");
    let folded = fold(&rules, &[lines.to_vec(), vec![up(500, "a"), tick(2000)]].concat());
    assert_eq!(folded.sent(), held.sent(), "dropped with its resolve");
    assert_eq!(folded.engine.notifications_held(), 0);
    assert!(!folded.alert(key).recent_episodes[1].notified);
}

#[test]
fn cooldown_drops_a_resolve_and_the_re_firing_and_the_page_stays_open() {
    let rules = rules_with(without_staleness);
    let key = "node_down:a";
    let folded = fold(&rules, &[down(0, "a"), up(10, "a"), down(100, "a"), tick(4000), up(5000, "a")]);
    assert_eq!(
        folded.sent(),
        vec![(id(key, 0, "firing", 1), 0), (id(key, 0, "reminder", 1), 3600), (id(key, 0, "resolved", 1), 5000)],
        "one page from 0 to 5000"
    );
    let alert = folded.alert(key);
    assert_eq!(alert.recent_episodes.len(), 2);
    assert!(alert.recent_episodes.iter().all(|e| e.notified));
}

#[test]
fn a_reminder_goes_out_at_each_ttl_and_expires_one_ttl_later() {
    let rules = rules_with(|_| {});
    let key = "node_down:a";
    let folded = fold(&rules, &[down(0, "a"), tick(3 * 3600 + 1)]);
    assert_eq!(
        folded.sent(),
        vec![
            (id(key, 0, "firing", 1), 0),
            (id(key, 0, "reminder", 1), 3600),
            (id(key, 0, "reminder", 2), 7200),
            (id(key, 0, "reminder", 3), 10800),
        ]
    );
    assert!(folded.notes.iter().all(|n| n.expires_at == Some(n.ts.plus_seconds(3600))));
}

#[test]
fn the_budget_holds_by_priority_then_age_and_resolves_pass() {
    let rules = budget_without_reminders(2);
    let folded = fold(
        &rules,
        &[
            down(0, "a"),
            down(1, "b"),
            line(2, r#""type":"service_unhealthy","node":"c","service":"s","severity":"warning""#),
            down(3, "d"),
            up(400, "a"),
            tick(5000),
        ],
    );
    assert_eq!(
        folded.sent(),
        vec![
            (id("node_down:a", 0, "firing", 1), 0),
            (id("node_down:b", 1, "firing", 1), 1),
            (format!("budget:notifications@{}:budget_exhausted:1", super::tests::BASE + 2), 2),
            (id("node_down:a", 0, "resolved", 1), 400),
            (id("node_down:d", 3, "firing", 1), 3600),
            (id("service_unhealthy:c/s", 2, "firing", 1), 3601),
        ],
        "d (critical) before c (warning) though c waited longer; a's resolve never waited"
    );
    assert_eq!(folded.engine.notifications_held(), 0);
}

#[test]
fn a_node_down_suppresses_its_services_but_an_open_page_still_gets_its_resolve() {
    let rules = rules_with(|_| {});
    let folded = fold(
        &rules,
        &[unhealthy(0, "n", "s"), down(10, "n"), unhealthy(20, "n", "t"), recovered(400, "n", "s"), tick(500)],
    );
    assert_eq!(folded.alert("service_unhealthy:n/t").suppressed_by.as_deref(), Some("node_down:n"));
    assert_eq!(folded.alert("service_unhealthy:n/t").status, AlertStatus::Firing);
    assert_eq!(
        folded.sent(),
        vec![
            (id("service_unhealthy:n/s", 0, "firing", 1), 0),
            (id("node_down:n", 10, "firing", 1), 10),
            (id("service_unhealthy:n/s", 0, "resolved", 1), 400),
        ]
    );
}

#[test]
fn the_window_of_sends_holds_the_last_hour_whether_or_not_the_budget_is_on() {
    let sends_kept = |budget: u32| {
        let rules = rules_with(|a| {
            a.notifications_per_hour = budget;
            without_staleness(a);
        });
        // A firing at 0 and a reminder each hour: 3600, 7200, 10800.
        let folded = fold(&rules, &[down(0, "a"), tick(3 * 3600 + 1)]);
        let kept: Vec<i64> =
            folded.engine.alerts.budget.sent.iter().map(|at| at.unix_seconds() - super::tests::BASE).collect();
        (folded.sent(), kept)
    };
    let (sent, kept) = sends_kept(0);
    assert_eq!(sent.len(), 4, "a firing and three reminders: {sent:?}");
    assert_eq!(kept, [10800], "the budget is off (the default), and only the last hour is kept");
    assert_eq!(sends_kept(10), (sent, kept), "the same sends, and the same window, with a budget");
}

/// A firing can be sent at an instant before the last send: a late
/// `deployment_started` makes `deployment_stuck` fire at its start plus
/// `max_running_s`, in the past. A budget switched on after a pass without
/// one then counts the sends of the window that a budget on all along
/// counts: the window is cut at each send, not only when a budget checks
/// it (before, the pass without a budget left every send in the window,
/// and the back-dated firing was held for want of room).
#[test]
fn a_budget_switched_on_counts_what_a_budget_on_all_along_counts() {
    let first = [down(200, "a"), down(4000, "b")];
    let late_start = line(100, r#""type":"deployment_started","node":"c","service":"web","correlation_id":"d""#);
    let passes = |first_budget: u32| {
        let (first_rules, then) = (budget_without_reminders(first_budget), budget_without_reminders(2));
        let folded = fold_passes(&[(&first_rules, &first[..]), (&then, std::slice::from_ref(&late_start))]);
        let notes: Vec<(String, i64)> =
            folded.notes.iter().map(|n| (n.id.clone(), n.ts.0 - super::tests::BASE * 1000)).collect();
        (notes, folded.engine.alerts.budget)
    };
    let (on_all_along, window) = passes(2);
    let stuck = on_all_along.iter().find(|(id, _)| id.starts_with("deployment_stuck:d@"));
    assert_eq!(stuck.map(|(_, at)| *at), Some(3_700_001), "fired in the past, and sent: {on_all_along:?}");
    assert_eq!(passes(0), (on_all_along, window), "switched on after a pass without a budget");
}

/// A send in the past takes its place in the window by its time: room in
/// the budget comes back when the oldest send leaves the window, not when
/// the send recorded first does.
#[test]
fn a_send_in_the_past_frees_the_budget_when_it_leaves_the_window() {
    let rules = budget_without_reminders(2);
    let lines = [
        down(4000, "a"),
        // Late: `deployment_stuck` fires at 100 s + 3600 s, before a's firing.
        line(100, r#""type":"deployment_started","node":"c","service":"web","correlation_id":"d""#),
        down(4100, "b"),
        tick(8000),
    ];
    let folded = fold(&rules, &lines);
    let at = |prefix: &str| {
        let found = folded.notes.iter().find(|n| n.id.starts_with(prefix) && n.kind == NotificationKind::Firing);
        found.map(|n| n.ts.0 - super::tests::BASE * 1000)
    };
    assert_eq!(at("deployment_stuck:d@"), Some(3_700_001), "sent in the past: {:?}", folded.sent());
    assert_eq!(
        at("node_down:b@"),
        Some(7_300_001),
        "held for room, and sent when the send at 3700.001 s leaves the window, not the one at 4000 s: {:?}",
        folded.sent()
    );
    let window: Vec<i64> = folded.engine.alerts.budget.sent.iter().map(|t| t.0 - super::tests::BASE * 1000).collect();
    assert!(window.is_sorted(), "{window:?}");
}

#[test]
fn depends_on_suppresses_the_dependents_of_a_node_and_of_a_service() {
    let rules = rules_with(|a| {
        a.node_depends_on.insert("venus".into(), vec!["router".into()]);
        a.service_depends_on.insert("saturn/zigbee2mqtt".into(), vec!["saturn/mosquitto".into()]);
    });
    let folded = fold(
        &rules,
        &[
            down(0, "router"),
            down(10, "venus"),
            unhealthy(20, "saturn", "mosquitto"),
            unhealthy(30, "saturn", "zigbee2mqtt"),
        ],
    );
    assert_eq!(folded.alert("node_down:venus").suppressed_by.as_deref(), Some("dependency:node_down:router"));
    assert_eq!(
        folded.alert("service_unhealthy:saturn/zigbee2mqtt").suppressed_by.as_deref(),
        Some("dependency:service_unhealthy:saturn/mosquitto")
    );
    let keys: Vec<&str> = folded.notes.iter().map(|n| n.key.as_str()).collect();
    assert_eq!(keys, ["node_down:router", "service_unhealthy:saturn/mosquitto"]);
}

/// A `depends_on` changed between two runs takes effect at the second
/// run's start (`suppression::queue_dependency_changes`), not at the next
/// event of the dependent, which may be long in coming: added while what
/// it names fires, it suppresses the dependent's firing alert, whose
/// escalation, due in the second run, does not go; removed, it lets the
/// alert it held back page at the second run's start, and escalate after.
/// Under the same rules in both runs, two passes decide what one does.
#[test]
fn a_depends_on_changed_between_passes_suppresses_or_releases_at_the_next_pass_start() {
    let story = [down(0, "router"), down(10, "venus")];
    let later = [tick(3000)];
    let plain = rules_with(|a| a.escalations_s = vec![600]);
    let dependent = rules_with(|a| {
        a.escalations_s = vec![600];
        a.node_depends_on.insert("venus".into(), vec!["router".into()]);
    });
    let router = |t: i64, kind: &str, n: u32| (id("node_down:router", 0, kind, n), t);
    let venus = |t: i64, kind: &str, n: u32| (id("node_down:venus", 10, kind, n), t);

    let added = fold_passes(&[(&plain, &story), (&dependent, &later)]);
    assert_eq!(added.alert("node_down:venus").suppressed_by.as_deref(), Some("dependency:node_down:router"));
    assert_eq!(
        added.sent(),
        [router(0, "firing", 1), venus(10, "firing", 1), router(600, "escalation", 600)],
        "venus's page stays open, not escalated"
    );

    let removed = fold_passes(&[(&dependent, &story), (&plain, &later)]);
    assert_eq!(removed.alert("node_down:venus").suppressed_by, None);
    assert_eq!(
        removed.sent(),
        [router(0, "firing", 1), venus(10, "firing", 1), router(600, "escalation", 600), venus(610, "escalation", 600)],
        "venus pages at the second pass's start (the clock, 10 s), and escalates at 610 s"
    );
    let in_second: Vec<&str> = removed.notes[1..].iter().map(|n| n.key.as_str()).collect();
    assert_eq!(in_second, ["node_down:venus", "node_down:router", "node_down:venus"], "in the second pass");

    for rules in [&plain, &dependent] {
        let all = [&story[..], &later[..]].concat();
        let one = fold_passes(&[(rules, &all)]);
        let two = fold_passes(&[(rules, &story), (rules, &later)]);
        assert_eq!(two.notes, one.notes);
        assert!(two.engine.alerts == one.engine.alerts, "the alert state");
    }
}

/// A stuck deployment's alert gives way to what suppresses its service
/// (`suppression::suppressor`), and is recomputed with the service's
/// alerts (`refresh_service`): when the service's maintenance starts, when
/// a dependency of the service starts to fire, and when a `depends_on` is
/// added to it between runs (a review of issue 11's thirty-fifth pass).
#[test]
fn a_stuck_deployment_of_a_service_gives_way_with_the_service_s_alerts() {
    let started = line(0, r#""type":"deployment_started","correlation_id":"d1","node":"saturn","service":"caddy""#);
    let key = "deployment_stuck:d1";
    let plain = rules_with(|a| {
        a.escalations_s = vec![600];
        a.rules.get_mut(&Rule::DeploymentStuck).unwrap().max_running_s = 60;
    });
    let dependent = rules_with(|a| {
        a.escalations_s = vec![600];
        a.rules.get_mut(&Rule::DeploymentStuck).unwrap().max_running_s = 60;
        a.service_depends_on.insert("saturn/caddy".into(), vec!["saturn/mosquitto".into()]);
    });
    let escalated = |folded: &super::tests::Folded| {
        folded.sent().iter().any(|(id, _)| id.starts_with(&format!("{key}@")) && id.contains(":escalation:"))
    };

    // Stuck at 60.001 s; mosquitto fails at 100 s; caddy depends on it.
    let lines = [started.clone(), unhealthy(100, "saturn", "mosquitto"), tick(2000)];
    let folded = fold(&dependent, &lines);
    assert_eq!(folded.alert(key).suppressed_by.as_deref(), Some("dependency:service_unhealthy:saturn/mosquitto"));
    assert!(!escalated(&folded), "{:?}", folded.sent());

    // The dependency added between runs, after mosquitto fired.
    let first = [started.clone(), unhealthy(100, "saturn", "mosquitto"), tick(200)];
    let folded = fold_passes(&[(&plain, &first), (&dependent, &[tick(2000)])]);
    assert_eq!(folded.alert(key).suppressed_by.as_deref(), Some("dependency:service_unhealthy:saturn/mosquitto"));
    assert!(!escalated(&folded), "{:?}", folded.sent());

    // caddy's maintenance, started after the run was stuck.
    let maintenance = line(100, r#""type":"maintenance_started","node":"saturn","service":"caddy""#);
    let folded = fold(&plain, &[started, maintenance, tick(2000)]);
    assert_eq!(folded.alert(key).suppressed_by.as_deref(), Some("maintenance:saturn/caddy"));
    assert!(!escalated(&folded), "{:?}", folded.sent());
}

#[test]
fn a_problem_still_there_when_maintenance_ends_is_sent_then() {
    let rules = rules_with(|_| {});
    let until = Ts((super::tests::BASE + 1800) * 1000).to_rfc3339();
    let start = line(
        0,
        &format!(r#""type":"maintenance_started","node":"n","payload":{{"until":"{until}","reason":"kernel"}}"#),
    );
    let by_until = fold(&rules, &[start.clone(), down(60, "n"), tick(2000)]);
    assert_eq!(by_until.sent(), vec![(id("node_down:n", 60, "firing", 1), 1800)]);
    let ended = line(900, r#""type":"maintenance_ended","node":"n""#);
    let by_event = fold(&rules, &[start.clone(), down(60, "n"), tick(800)]);
    assert_eq!(by_event.alert("node_down:n").suppressed_by.as_deref(), Some("maintenance:n"));
    assert!(by_event.notes.is_empty());
    let by_event = fold(&rules, &[start, down(60, "n"), ended, tick(2000)]);
    assert_eq!(by_event.sent(), vec![(id("node_down:n", 60, "firing", 1), 900)]);
}

#[test]
fn flapping_gives_way_to_one_alert_and_the_current_state_is_sent_when_it_ends() {
    let rules = rules_with(|a| a.cooldown_s = 0);
    let mut lines: Vec<String> =
        (0..5).map(|i| if i % 2 == 0 { unhealthy(i * 10, "n", "s") } else { recovered(i * 10, "n", "s") }).collect();
    lines.push(recovered(50, "n", "s"));
    lines.push(unhealthy(60, "n", "s"));
    lines.extend((7..40).map(|i| line(i * 10, r#""type":"healthcheck_failed","node":"n","service":"s""#)));
    let folded = fold(&rules, &lines);
    let key = "service_unhealthy:n/s";
    let flap = "flapping:n/s";
    let sent: Vec<(String, i64)> =
        folded.sent().into_iter().filter(|(id, _)| id.starts_with(key) || id.starts_with(flap)).collect();
    assert_eq!(
        sent[..5],
        [
            (id(key, 0, "firing", 1), 0),
            (id(key, 0, "resolved", 1), 10),
            (id(key, 20, "firing", 1), 20),
            (id(key, 20, "resolved", 1), 30),
            (id(flap, 40, "firing", 1), 40),
        ],
        "nothing of {key} while it flaps"
    );
    let flap_end = folded.alert(flap).resolved_at.expect("flapping ended").unix_seconds() - super::tests::BASE;
    assert_eq!(sent[5..], [(id(flap, 40, "resolved", 1), flap_end), (id(key, 60, "firing", 1), flap_end)]);
    assert_eq!(folded.alert(key).suppressed_by, None);
}

/// SPEC §6: under suppression "a page already open still gets its
/// resolve", flapping too. A page opened before its service started to
/// flap, and kept open into the flapping (each recovery inside the
/// cooldown), was never closed: the flapping held its resolve until
/// flapping ended, and a service that reports only its changes never ends
/// it, so the page stayed open (and reminded) after the service had
/// recovered for good (review of issue 11's thirty-seventh pass). Now the
/// page is closed at the first recovery the cooldown lets through; the
/// failures after it, while the service flaps, give way to the `flapping`
/// alert.
#[test]
fn a_page_open_when_its_service_starts_to_flap_gets_its_resolve_when_the_service_recovers() {
    let rules = rules_with(|_| {});
    let mut lines: Vec<String> =
        (0..24).map(|i| if i % 2 == 0 { unhealthy(i * 60, "n", "s") } else { recovered(i * 60, "n", "s") }).collect();
    lines.push(unhealthy(30 * 60, "n", "s"));
    lines.push(tick(90 * 60));
    lines.push(recovered(200 * 60, "n", "s"));
    lines.push(tick(660 * 60));
    let key = "service_unhealthy:n/s";
    let folded = fold(&rules, &lines);
    let flap_fired =
        folded.alert("flapping:n/s").fired_at.expect("the service flaps").unix_seconds() - super::tests::BASE;
    assert!(flap_fired < 300, "flapping started before the cooldown let the resolve go: {flap_fired}");
    let of_key: Vec<(String, i64)> = folded.sent().into_iter().filter(|(id, _)| id.starts_with(key)).collect();
    assert_eq!(of_key, [(id(key, 0, "firing", 1), 0), (id(key, 0, "resolved", 1), 300)]);
    assert!(!folded.alert(key).page_open);
    assert_eq!(folded.alert(key).suppressed_by.as_deref(), Some("flapping:n/s"), "flapping still holds its firings");
    // The same in runs cut anywhere.
    let runs = fold_in_passes(&rules, &lines, &[5, 24, 25, 26, 27]);
    assert_eq!(runs.notes, folded.notes);
}

/// A rule switched on between passes (or a service's override that had it
/// off, removed) evaluates its subjects at the next pass's start: a node
/// down, stale, a service unhealthy or a deployment running since the last
/// pass pages then, without waiting for the subject's next event, which
/// may never come (a node that is down sends nothing). Before, the rule
/// looked only at subjects with new events, and the node stayed down with
/// no alert (review of issue 11's thirty-seventh pass).
#[test]
fn a_rule_switched_on_between_passes_pages_what_holds_at_the_next_start() {
    let on = rules_with(without_staleness);
    let switched = |rule: Rule| {
        rules_with(move |a| {
            without_staleness(a);
            a.rules.get_mut(&rule).unwrap().enabled = false;
        })
    };
    // node_down: venus went down while the rule was off.
    let off = switched(Rule::NodeDown);
    let folded = fold_passes(&[(&off, &[down(0, "venus"), tick(100)]), (&on, &[tick(200)])]);
    assert_eq!(folded.sent(), [(id("node_down:venus", 100, "firing", 1), 100)]);
    // Off while firing (resolved at once), then on again: a new episode,
    // with ids of its own, so no receiver takes it for the one it closed
    // (the resolve and the new firing wait for the cooldown, 300).
    let folded = fold_passes(&[(&on, &[down(0, "venus"), tick(50)]), (&off, &[tick(400)]), (&on, &[tick(1000)])]);
    assert_eq!(
        folded.sent(),
        [
            (id("node_down:venus", 0, "firing", 1), 0),
            (id("node_down:venus", 0, "resolved", 1), 300),
            (id("node_down:venus", 400, "firing", 1), 600),
        ]
    );
    // node_stale: venus's last heartbeat at 0, stale from 300; the rule
    // switched on at 1000 fires at once, its firing dated at the instant
    // its condition began to hold, as every transition is.
    let stale_off = rules_with(|a| a.rules.get_mut(&Rule::NodeStale).unwrap().enabled = false);
    let stale_on = rules_with(|_| {});
    let heartbeat = line(0, r#""type":"heartbeat","node":"venus""#);
    let folded = fold_passes(&[(&stale_off, &[heartbeat.clone(), tick(1000)]), (&stale_on, &[tick(1100)])]);
    assert_eq!(folded.sent(), [(id("node_stale:venus", 300, "firing", 1), 300)]);
    // Not stale yet when switched on: its staleness check is queued.
    let folded = fold_passes(&[(&stale_off, &[heartbeat.clone(), tick(100)]), (&stale_on, &[tick(1100)])]);
    assert_eq!(folded.sent(), [(id("node_stale:venus", 300, "firing", 1), 300)]);
    // A service's override that had service_unhealthy off, removed.
    let overridden = rules_with(|a| {
        without_staleness(a);
        let over = RuleOverride {
            enabled: Some(false),
            for_s: None,
            keep_firing_for_s: None,
            severity: None,
            max_ratio_bp: None,
            min_checks: None,
        };
        a.service_overrides.entry("n/s".into()).or_default().insert(Rule::ServiceUnhealthy, over);
    });
    let folded = fold_passes(&[(&overridden, &[unhealthy(0, "n", "s"), tick(100)]), (&on, &[tick(200)])]);
    let key = "service_unhealthy:n/s";
    assert_eq!(
        folded.sent().into_iter().filter(|(id, _)| id.starts_with(key)).collect::<Vec<_>>(),
        [(id(key, 100, "firing", 1), 100)]
    );
    // deployment_stuck: a run started while the rule was off, and no event
    // of it after: its recheck is queued when the rule is switched on.
    let started = line(0, r#""type":"deployment_started","correlation_id":"d1","node":"saturn""#);
    let stuck_off = switched(Rule::DeploymentStuck);
    let folded = fold_passes(&[(&stuck_off, &[started, tick(100)]), (&on, &[tick(5000)])]);
    let alert = folded.alert("deployment_stuck:d1");
    assert_eq!(alert.status, AlertStatus::Firing);
    assert_eq!(alert.fired_at, Some(Ts((super::tests::BASE + 3600) * 1000 + 1)));
    // Switched off and on inside no pass: nothing else changes; unchanged
    // rules in two passes are one pass.
    let lines = [down(0, "venus"), tick(100), tick(200)];
    assert_eq!(fold_in_passes(&on, &lines, &[2]).notes, fold(&on, &lines).notes);
}

/// A history touching every rule, for the rebuild tests.
fn busy_history() -> Vec<String> {
    let mut lines = Vec::new();
    for i in 0..200 {
        let t = i * 97;
        lines.push(match i % 9 {
            0 => down(t, "a"),
            1 => up(t, "a"),
            2 => unhealthy(t, "b", "s"),
            3 => recovered(t, "b", "s"),
            4 => line(t, r#""type":"heartbeat","node":"c""#),
            5 => line(t, &format!(r#""type":"deployment_failed","correlation_id":"d{i}","node":"c""#)),
            6 => line(
                t,
                r#""type":"probe_result","node":"b","service":"s","payload":{"probe":"disk","outcome":"warning"}"#,
            ),
            7 => line(t, r#""type":"maintenance_started","node":"a""#),
            _ => line(t, r#""type":"maintenance_ended","node":"a""#),
        });
    }
    lines
}

#[test]
fn notification_ids_are_the_same_after_a_rebuild_in_one_pass() {
    let rules = rules_with(|a| a.notifications_per_hour = 5);
    let lines = busy_history();
    let rebuild = fold(&rules, &lines);
    let runs = fold_in_passes(&rules, &lines, &[1, 17, 50, 51, 120, 199]);
    assert!(rebuild.notes.len() > 10, "{}", rebuild.notes.len());
    assert_eq!(runs.notes, rebuild.notes);
    assert_eq!(runs.engine.alerts(), rebuild.engine.alerts());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_histories_in_one_pass_or_many_decide_the_same(
        steps in prop::collection::vec((0u8..12, 0u8..3, 1i64..900, prop::bool::weighted(0.25)), 1..80),
        cuts in prop::collection::btree_set(1usize..80, 0..20),
        budget in 0u32..4,
        ttl_s in prop::sample::select(vec![60u64, 3600]),
    ) {
        let rules = rules_with(|a| {
            a.notifications_per_hour = budget;
            // Under 60 reminders wait for the cooldown (300) too.
            a.ttl_s = ttl_s;
            a.node_depends_on.insert("n1".into(), vec!["n0".into()]);
            a.escalations_s = vec![60, 600, 1800];
        });
        let mut t = 0;
        let lines: Vec<String> = steps.iter().map(|(kind, who, gap, late)| {
            // A late event (a quarter) is stamped before the clock and does
            // not move it: a node_stale may then fire at an instant before
            // the clock, and its escalation fall due before it too.
            let t = if *late { t - gap } else { t += gap; t };
            let node = format!("n{who}");
            match kind {
                0 => down(t, &node),
                1 => up(t, &node),
                2 => line(t, &format!(r#""type":"heartbeat","node":"{node}""#)),
                3 => unhealthy(t, &node, "s"),
                4 => recovered(t, &node, "s"),
                5 => line(t, &format!(r#""type":"probe_result","node":"{node}","service":"s","payload":{{"probe":"disk","outcome":"critical"}}"#)),
                6 => line(t, &format!(r#""type":"probe_result","node":"{node}","service":"s","payload":{{"probe":"disk","outcome":"ok"}}"#)),
                7 => line(t, &format!(r#""type":"maintenance_started","node":"{node}""#)),
                8 => line(t, &format!(r#""type":"maintenance_ended","node":"{node}""#)),
                10 => line(t, &format!(r#""type":"alert_acknowledged","payload":{{"key":"node_down:{node}"}}"#)),
                11 => line(t, &format!(r#""type":"alert_acknowledged","payload":{{"key":"service_unhealthy:{node}/s"}}"#)),
                _ => tick(t),
            }
        }).collect();
        let cuts: Vec<usize> = cuts.into_iter().collect();
        let rebuild = fold(&rules, &lines);
        let runs = fold_in_passes(&rules, &lines, &cuts);
        prop_assert_eq!(&runs.notes, &rebuild.notes);
        prop_assert_eq!(runs.engine.alerts(), rebuild.engine.alerts());
        // The whole alert state the checkpoint keeps: the window of sends,
        // cut at each send, is the same in one pass or many.
        prop_assert!(runs.engine.alerts == rebuild.engine.alerts, "the alert state of the passes and of the rebuild");
        // Every open page of an alert firing, unacknowledged and not held
        // has its next reminder queued.
        let state = &rebuild.engine.alerts;
        for (key, alert) in state.alerts.iter() {
            if alert.status == AlertStatus::Firing && alert.page_open && alert.acknowledged_at.is_none() && alert.held.is_none() {
                let queued = alert.reminder_due.is_some_and(|at| state.deadlines.contains(&(at, Due::Reminder, key.clone())));
                prop_assert!(queued, "{} has no reminder queued ({:?})", key, alert.reminder_due);
            }
        }
        // Per key: never a resolve without an open page, never two firings
        // in a row, an escalation only of an open page and once per page
        // and `after_s`.
        let mut open: BTreeMap<&str, bool> = BTreeMap::new();
        let mut escalations = BTreeSet::new();
        for note in &rebuild.notes {
            let was = open.get(note.key.as_str()).copied().unwrap_or(false);
            match note.kind {
                NotificationKind::Firing => prop_assert!(!was, "{}", note.id),
                NotificationKind::Reminder | NotificationKind::Resolved => prop_assert!(was, "{}", note.id),
                NotificationKind::Escalation => {
                    prop_assert!(was, "{}", note.id);
                    prop_assert!(escalations.insert(note.id.clone()), "{} twice", note.id);
                }
                NotificationKind::BudgetExhausted => {}
            }
            open.insert(&note.key, note.kind != NotificationKind::Resolved);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// `cooldown_s` and `notifications_per_hour` redrawn for each pass
    /// (issue 11, thirty-sixth pass), and `node_down` switched off in some
    /// (thirty-seventh): a notification that waits always has its wake-up
    /// queued, nothing waits for a budget that is off, no id goes twice, a
    /// page is never resolved unopened nor opened twice, and in the end
    /// exactly the nodes that are down have their page open.
    #[test]
    fn what_waits_under_a_cooldown_budget_or_rule_changed_between_passes_always_has_its_wake_up(
        steps in prop::collection::vec((0u8..6, 0u8..3, 1i64..900, prop::bool::weighted(0.2)), 1..60),
        passes in prop::collection::vec((1usize..60, prop::sample::select(vec![0u64, 60, 300, 1800]), 0u32..4, prop::bool::weighted(0.3)), 1..6),
    ) {
        let mut t = 0;
        let lines: Vec<String> = steps.iter().map(|(kind, who, gap, late)| {
            let t = if *late { t - gap } else { t += gap; t };
            let node = format!("n{who}");
            match kind {
                0 | 1 => down(t, &node),
                2 | 3 => up(t, &node),
                4 => unhealthy(t, &node, "s"),
                _ => recovered(t, &node, "s"),
            }
        }).collect();
        let mut cuts: Vec<usize> = passes.iter().map(|(cut, _, _, _)| (*cut).min(lines.len())).collect();
        cuts.sort_unstable();
        // `node_down` is switched off in some passes, never in the last
        // (thirty-seventh pass): the receivers' view converges to the world.
        let last_pass = passes.len() - 1;
        let rules: Vec<Rules> = passes.iter().enumerate().map(|(n, &(_, cooldown_s, budget, off))| rules_with(move |a| {
            (a.cooldown_s, a.notifications_per_hour, a.ttl_s) = (cooldown_s, budget, 600);
            without_staleness(a);
            a.rules.get_mut(&Rule::NodeDown).unwrap().enabled = !off || n == last_pass;
        })).collect();
        let mut folded_passes = Vec::new();
        let mut from = 0;
        for (cut, rules) in cuts.iter().zip(&rules) {
            folded_passes.push((rules, &lines[from..*cut]));
            from = *cut;
        }
        // The last pass's rules fold the rest and a tick a day later.
        let rest: Vec<String> = lines[from..].iter().cloned().chain([tick(t + 86_400)]).collect();
        let last = rules.last().unwrap();
        folded_passes.push((last, &rest));
        let folded = fold_passes(&folded_passes);
        let state = &folded.engine.alerts;
        let clock = folded.engine.clock().unwrap();
        // Each notification that waits has its wake-up queued, after the
        // clock: the last pass ends with a tick that is not late, and a
        // wake-up at or before an event is taken before it. None waits for
        // the budget when the last pass has none.
        for key in &state.held {
            let held = state.alerts.get(key).and_then(|a| a.held.clone());
            match held.map(|h| h.by) {
                Some(HeldBy::Cooldown(until)) => {
                    prop_assert!(state.deadlines.contains(&(until, Due::Cooldown, key.clone())), "{} waits for nothing", key);
                    prop_assert!(until > clock, "{} waits for {:?}, before the clock", key, until);
                }
                Some(HeldBy::Budget { .. }) => {
                    prop_assert!(last.alerts.notifications_per_hour > 0, "{} waits for a budget that is off", key);
                    let at = state.budget.release_at;
                    prop_assert!(at.is_some_and(|at| at > clock && state.deadlines.contains(&(at, Due::Budget, String::new()))), "{} waits for no room", key);
                }
                None => prop_assert!(false, "{} is listed as held and holds nothing", key),
            }
        }
        let mut ids = BTreeSet::new();
        let mut open: BTreeMap<&str, bool> = BTreeMap::new();
        for note in &folded.notes {
            prop_assert!(ids.insert(note.id.clone()), "{} twice", note.id);
            let was = open.get(note.key.as_str()).copied().unwrap_or(false);
            match note.kind {
                NotificationKind::Firing => prop_assert!(!was, "{} opened twice", note.id),
                NotificationKind::Reminder | NotificationKind::Resolved => prop_assert!(was, "{} of a closed page", note.id),
                _ => {}
            }
            if note.kind != NotificationKind::BudgetExhausted {
                open.insert(&note.key, note.kind != NotificationKind::Resolved);
            }
        }
        // A day after the last event, every node that is down has its
        // page open, and only those: whatever the passes switched off.
        for (node, state) in folded.engine.nodes().sorted() {
            let key = format!("node_down:{node}");
            let down = state.status == crate::engine::NodeStatus::Down;
            prop_assert_eq!(open.get(key.as_str()).copied().unwrap_or(false), down, "{} is down: {}", node, down);
        }
    }
}

#[test]
fn reminders_follow_a_ttl_changed_between_passes() {
    let ttl = |ttl_s: u64| {
        rules_with(move |a| {
            a.ttl_s = ttl_s;
            without_staleness(a);
        })
    };
    let key = "node_down:venus";
    let firing = (id(key, 0, "firing", 1), 0);
    let reminder = |n: u32, t: i64| (id(key, 0, "reminder", n), t);
    // TTL before, the first pass's ticks, TTL after, what is sent.
    type Case<'a> = (u64, &'a [i64], u64, Vec<(String, i64)>);
    let cases: [Case; 4] = [
        // Reminders off, then on: the page open gets them from its firing.
        (0, &[100], 3600, vec![firing.clone(), reminder(1, 3600), reminder(2, 7200)]),
        // On once the first was due: at once (5000), then every hour.
        (0, &[5000], 3600, vec![firing.clone(), reminder(1, 5000), reminder(2, 8600)]),
        // On, then off: none more, not even the one queued.
        (3600, &[100], 0, vec![firing.clone()]),
        // The same TTL: every hour, as in one pass.
        (3600, &[100], 3600, vec![firing.clone(), reminder(1, 3600), reminder(2, 7200)]),
    ];
    for (before, ticks, after, sent) in cases {
        let first: Vec<String> = std::iter::once(down(0, "venus")).chain(ticks.iter().map(|&t| tick(t))).collect();
        let then = [tick(9000)];
        let folded = fold_passes(&[(&ttl(before), &first), (&ttl(after), &then)]);
        assert_eq!(folded.sent(), sent, "TTL {before} then {after}");
        if before == after {
            let lines: Vec<String> = first.iter().chain(&then).cloned().collect();
            let one = fold(&ttl(after), &lines);
            let state = |f: &super::tests::Folded| serde_json::to_string(&f.engine).unwrap();
            assert_eq!(state(&folded), state(&one));
        }
    }
}

/// A notification waiting for the cooldown or the budget when
/// `cooldown_s` or `notifications_per_hour` changes between runs takes its
/// instant under the new setting, at the next pass's start (its clock, 100
/// here) if that has passed; under the same setting, nothing changes.
#[test]
fn a_cooldown_or_budget_changed_between_passes_releases_what_waits_under_the_new_one() {
    let with = |cooldown_s: u64, budget: u32| {
        rules_with(move |a| {
            (a.ttl_s, a.cooldown_s, a.notifications_per_hour) = (0, cooldown_s, budget);
            without_staleness(a);
        })
    };
    let one_pass_state = |rules: &Rules, lines: &[String]| serde_json::to_string(&fold(rules, lines).engine).unwrap();
    // a pages at 0 and recovers at 10: its resolve waits for the cooldown
    // (300 after the page).
    let key = "node_down:a";
    let first = [down(0, "a"), up(10, "a"), tick(100)];
    let then = [tick(1000)];
    for (cooldown_s, resolved_at) in [(300, 300), (200, 200), (600, 600), (60, 100), (0, 100)] {
        let folded = fold_passes(&[(&with(300, 0), &first), (&with(cooldown_s, 0), &then)]);
        let sent = vec![(id(key, 0, "firing", 1), 0), (id(key, 0, "resolved", 1), resolved_at)];
        assert_eq!(folded.sent(), sent, "cooldown 300, then {cooldown_s}");
        assert_eq!(folded.engine.notifications_held(), 0);
        assert!(folded.engine.alerts.deadlines.iter().all(|(_, due, _)| *due != Due::Cooldown), "no stale wake-up");
    }
    let lines: Vec<String> = first.iter().chain(&then).cloned().collect();
    let same = fold_passes(&[(&with(300, 0), &first), (&with(300, 0), &then)]);
    assert_eq!(serde_json::to_string(&same.engine).unwrap(), one_pass_state(&with(300, 0), &lines));

    // A budget of one an hour: a pages at 0, b's page waits for room (3600).
    let first = [down(0, "a"), down(1, "b"), tick(100)];
    let then = [tick(5000)];
    let exhausted = (format!("budget:notifications@{}:budget_exhausted:1", super::tests::BASE + 1), 1);
    for (budget, paged_at) in [(1, 3600), (2, 100), (0, 100)] {
        let folded = fold_passes(&[(&with(0, 1), &first), (&with(0, budget), &then)]);
        let sent = vec![(id(key, 0, "firing", 1), 0), exhausted.clone(), (id("node_down:b", 1, "firing", 1), paged_at)];
        assert_eq!(folded.sent(), sent, "a budget of 1, then {budget}");
        assert_eq!(folded.engine.notifications_held(), 0);
        assert!(folded.engine.alerts.budget.queue.is_empty() && !folded.engine.alerts.budget.announced);
    }
    let lines: Vec<String> = first.iter().chain(&then).cloned().collect();
    let same = fold_passes(&[(&with(0, 1), &first), (&with(0, 1), &then)]);
    assert_eq!(serde_json::to_string(&same.engine).unwrap(), one_pass_state(&with(0, 1), &lines));
}

/// From a review of the change above: a late heartbeat at the end of a
/// pass fires `node_stale` in the past, its page waits for the budget and
/// its release falls before the clock. A budget raised or switched off
/// before the next pass does not move that release to the pass's start,
/// later than under the same budget.
#[test]
fn a_budget_changed_between_passes_never_delays_a_release_already_due() {
    let with = |budget: u32| {
        rules_with(move |a| {
            (a.ttl_s, a.notifications_per_hour) = (0, budget);
        })
    };
    let heartbeat = |t: i64, node: &str| line(t, &format!(r#""type":"heartbeat","node":"{node}""#));
    // The last line is late: b, silent since 100, was stale from 400.001.
    let first = [down(0, "a"), heartbeat(3650, "a"), tick(3700), heartbeat(100, "b")];
    for budget in [1, 2, 0] {
        let folded = fold_passes(&[(&with(1), &first), (&with(budget), &[tick(3800)])]);
        let stale = folded.sent().into_iter().find(|(id, _)| id.starts_with("node_stale:b@"));
        assert_eq!(stale.map(|(_, at)| at), Some(3600), "a budget of 1, then {budget}: {:?}", folded.sent());
    }
}

/// From a review: a reminder waiting for the cooldown or the budget when
/// the TTL is made 0 is not sent either.
#[test]
fn a_held_reminder_is_not_sent_once_the_ttl_is_0() {
    let with = |ttl_s: u64, cooldown_s: u64, budget: u32| {
        rules_with(move |a| {
            (a.ttl_s, a.cooldown_s, a.notifications_per_hour) = (ttl_s, cooldown_s, budget);
            without_staleness(a);
        })
    };
    let key = "node_down:venus";
    // Due at 60, held by the cooldown until 300.
    let folded = fold_passes(&[(&with(60, 300, 0), &[down(0, "venus"), tick(100)]), (&with(0, 300, 0), &[tick(400)])]);
    assert_eq!(folded.sent(), vec![(id(key, 0, "firing", 1), 0)]);
    // Due at 600, held by a budget of one an hour until 3600.
    let folded = fold_passes(&[(&with(600, 0, 1), &[down(0, "venus"), tick(1000)]), (&with(0, 0, 1), &[tick(4000)])]);
    assert!(folded.sent().iter().all(|(id, _)| !id.contains(":reminder:")), "{:?}", folded.sent());
    // Made 3600 again: the page's reminders start again from its firing.
    let folded = fold_passes(&[
        (&with(60, 300, 0), &[down(0, "venus"), tick(100)]),
        (&with(0, 300, 0), &[tick(400)]),
        (&with(3600, 300, 0), &[tick(9000)]),
    ]);
    assert_eq!(folded.sent()[1..], [(id(key, 0, "reminder", 1), 3600), (id(key, 0, "reminder", 2), 7200)]);
}

/// From a review, older than the TTL's changes: a page open when its alert
/// fires again, after its reminder came due while the alert was not firing
/// (its resolve held by the cooldown) or was let go unsent, got no
/// reminder ever again.
#[test]
fn a_page_kept_open_across_a_resolve_held_by_the_cooldown_keeps_its_reminders() {
    let with = |ttl_s: u64| {
        rules_with(move |a| {
            (a.ttl_s, a.cooldown_s) = (ttl_s, 300);
            without_staleness(a);
        })
    };
    let key = "node_down:venus";
    // The reminder due at 60 waits for the cooldown (300); the resolve at
    // 110 takes its place and waits too; the firing at 150 drops both.
    let folded = fold(&with(60), &[down(0, "venus"), tick(100), up(110, "venus"), down(150, "venus"), tick(700)]);
    assert_eq!(
        folded.sent(),
        vec![(id(key, 0, "firing", 1), 0), (id(key, 0, "reminder", 1), 300), (id(key, 0, "reminder", 2), 600)]
    );
    // Flapping (three outages in 50 s) no longer holds the resolve of 50
    // back (it held the page open for good when no status came after it):
    // the resolve goes when the cooldown lets it, at 300. The outage from
    // 4100 is a new episode, held while the service still flaps and sent
    // when the flapping ends (at 4380, the failed checks having made the
    // statuses steady), then reminded.
    let mut lines: Vec<String> =
        (0..3).flat_map(|i| [unhealthy(i * 20, "b", "s"), recovered(i * 20 + 10, "b", "s")]).collect();
    lines.extend([tick(4000), unhealthy(4100, "b", "s")]);
    lines.extend((0..60).map(|i| line(4200 + i * 10, r#""type":"healthcheck_failed","node":"b","service":"s""#)));
    lines.push(tick(12_000));
    let folded = fold(&rules_with(without_staleness), &lines);
    let key = "service_unhealthy:b/s";
    let of_key: Vec<(String, i64)> = folded.sent().into_iter().filter(|(id, _)| id.starts_with(key)).collect();
    assert_eq!(
        of_key,
        vec![
            (id(key, 0, "firing", 1), 0),
            (id(key, 0, "resolved", 1), 300),
            (id(key, 4100, "firing", 1), 4380),
            (id(key, 4100, "reminder", 1), 7980),
            (id(key, 4100, "reminder", 2), 11_580)
        ]
    );
}
