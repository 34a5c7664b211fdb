//! Given/when/then tests of the rules and the lifecycle: given these events
//! under these rules, then these alerts and these notifications. The
//! policy's tests are in `tests_policy`.

use super::*;
use crate::engine::given::event;
use crate::engine::{Engine, Input, Rules};

/// 2026-05-12T12:00:00Z: the stories' `t = 0`.
pub const BASE: i64 = 1_778_587_200;

/// An event line at `t` seconds after [`BASE`]; `rest` is the envelope
/// after `ts`.
pub fn line(t: i64, rest: &str) -> String {
    format!(r#"{{"ts":"{}",{rest}}}"#, Ts((BASE + t) * 1000).to_rfc3339())
}

/// The alert rules with SPEC §6's defaults, written here on purpose: the
/// tests pin the SPEC, whatever `crate::rules` builds.
pub fn spec_alert_rules() -> AlertRules {
    let rule = |for_s: u64, severity: Option<Severity>| RuleSettings {
        enabled: true,
        for_s,
        keep_firing_for_s: 0,
        severity,
        max_running_s: 3600,
        max_failed: 2,
        max_ratio_bp: 2000,
        min_checks: 10,
        window_s: 3600,
        flap_high_bp: 2000,
        flap_low_bp: 500,
    };
    let rules = [
        (Rule::NodeDown, rule(0, Some(Severity::Critical))),
        (Rule::NodeStale, rule(0, Some(Severity::Error))),
        (Rule::ServiceUnhealthy, rule(0, None)),
        (Rule::ServiceDegraded, rule(300, Some(Severity::Warning))),
        (Rule::BreakerOpen, rule(300, Some(Severity::Error))),
        (Rule::DeploymentStuck, rule(0, Some(Severity::Warning))),
        (Rule::DeploymentFailures, rule(0, Some(Severity::Error))),
        (Rule::FailureRate, rule(0, Some(Severity::Warning))),
        (Rule::DiskLow, rule(0, None)),
        (Rule::Flapping, rule(0, Some(Severity::Warning))),
    ]
    .into_iter()
    .collect();
    AlertRules {
        cooldown_s: 300,
        ttl_s: 3600,
        notifications_per_hour: 0,
        node_stale_after_s: 300,
        keep_resolved: 20,
        rules,
        service_overrides: BTreeMap::new(),
        node_depends_on: BTreeMap::new(),
        service_depends_on: BTreeMap::new(),
        disk_probes: BTreeSet::new(),
        runbooks: BTreeMap::new(),
        service_runbooks: BTreeMap::new(),
        escalations_s: Vec::new(),
    }
}

/// The engine's default rules with SPEC's alert rules, changed by `change`.
pub fn rules_with(change: impl FnOnce(&mut AlertRules)) -> Rules {
    let mut alerts = spec_alert_rules();
    change(&mut alerts);
    Rules { alerts, ..Rules::default() }
}

/// What a story left: the engine, and every pass's notifications in order.
pub struct Folded {
    pub engine: Engine,
    pub notes: Vec<Notification>,
}

impl Folded {
    /// `(id, ts - BASE)` of every notification.
    pub fn sent(&self) -> Vec<(String, i64)> {
        self.notes.iter().map(|n| (n.id.clone(), n.ts.unix_seconds() - BASE)).collect()
    }

    pub fn alert(&self, key: &str) -> &Alert {
        self.engine
            .alerts()
            .get(key)
            .unwrap_or_else(|| panic!("no alert {key}: {:?}", self.engine.alerts().keys().collect::<Vec<_>>()))
    }
}

/// The id of a notification of `key` whose episode fired at `t`.
pub fn id(key: &str, t: i64, kind: &str, n: u32) -> String {
    format!("{key}@{}:{kind}:{n}", BASE + t)
}

/// Folds `lines` from one file, starting a new pass before each index in
/// `cuts` (and before the first line).
pub fn fold_in_passes(rules: &Rules, lines: &[String], cuts: &[usize]) -> Folded {
    let mut starts: Vec<usize> = cuts.iter().copied().filter(|&cut| cut < lines.len()).collect();
    starts.sort_unstable();
    starts.dedup();
    let mut passes = Vec::new();
    let mut from = 0;
    for cut in starts {
        passes.push((rules, &lines[from..cut]));
        from = cut;
    }
    passes.push((rules, &lines[from..]));
    fold_passes(&passes)
}

/// Folds the lines of one file in passes, each under its own rules.
pub fn fold_passes(passes: &[(&Rules, &[String])]) -> Folded {
    let mut engine = Engine::default();
    let mut notes = Vec::new();
    let mut position = 0;
    for &(rules, lines) in passes {
        engine.apply(Input::PassStarted, rules);
        for text in lines {
            engine.apply(Input::Event { event: &event(text), file: "story.jsonl", position }, rules);
            position += 1;
        }
        notes.extend_from_slice(engine.notifications());
    }
    Folded { engine, notes }
}

pub fn fold(rules: &Rules, lines: &[String]) -> Folded {
    fold_in_passes(rules, lines, &[])
}

fn tick(t: i64) -> String {
    line(t, r#""type":"tick""#)
}

fn service(t: i64, kind: &str, extra: &str) -> String {
    line(t, &format!(r#""type":"{kind}","node":"saturn","service":"mosquitto"{extra}"#))
}

fn probe(t: i64, service: &str, probe: &str, outcome: &str) -> String {
    line(
        t,
        &format!(
            r#""type":"probe_result","node":"saturn","service":"{service}","payload":{{"probe":"{probe}","outcome":"{outcome}","detail":"92% used"}}"#
        ),
    )
}

#[test]
fn node_down_fires_at_once_and_resolves_when_the_node_is_back() {
    let rules = rules_with(|_| {});
    let folded = fold(
        &rules,
        &[line(0, r#""type":"node_down","node":"venus""#), line(600, r#""type":"node_up","node":"venus""#)],
    );
    let key = "node_down:venus";
    assert_eq!(folded.sent(), vec![(id(key, 0, "firing", 1), 0), (id(key, 0, "resolved", 1), 600)]);
    let firing = &folded.notes[0];
    assert_eq!((firing.severity, firing.priority), (Severity::Critical, 1));
    assert_eq!(firing.expires_at, Some(Ts((BASE + 3600) * 1000)));
    assert_eq!(firing.summary, "node venus is down");
    let alert = folded.alert(key);
    assert_eq!(alert.status, AlertStatus::Resolved);
    assert_eq!(
        alert.recent_episodes,
        vec![Episode {
            fired_at: Ts(BASE * 1000),
            resolved_at: Ts((BASE + 600) * 1000),
            severity: Severity::Critical,
            notified: true
        }]
    );
}

#[test]
fn node_stale_fires_at_the_instant_the_heartbeat_is_overdue_however_late_the_tick() {
    let rules = rules_with(|_| {});
    let folded = fold(&rules, &[line(0, r#""type":"heartbeat","node":"venus""#), tick(5000)]);
    let alert = folded.alert("node_stale:venus");
    assert_eq!(alert.status, AlertStatus::Firing);
    assert_eq!(alert.fired_at, Some(Ts((BASE + 300) * 1000 + 1)), "just after stale_after_s");
    assert_eq!(folded.sent()[0], (id("node_stale:venus", 300, "firing", 1), 300));
    assert_eq!(folded.sent()[1].1, 3900, "and its reminder");
}

#[test]
fn service_unhealthy_takes_the_incidents_severity() {
    let rules = rules_with(|_| {});
    let folded = fold(&rules, &[service(0, "service_unhealthy", r#","severity":"critical""#)]);
    let alert = folded.alert("service_unhealthy:saturn/mosquitto");
    assert_eq!((alert.status, alert.severity, alert.priority), (AlertStatus::Firing, Severity::Critical, 1));
    assert_eq!(alert.summary, format!("saturn/mosquitto is unhealthy (incident inc-{BASE}-saturn-mosquitto)"));
    assert_eq!(folded.notes.len(), 1);
}

#[test]
fn service_degraded_fires_after_for_s() {
    let rules = rules_with(|_| {});
    let lines: Vec<String> =
        (0..4).map(|i| probe(i * 60, "mosquitto", "port", "warning")).chain([tick(1000)]).collect();
    let folded = fold(&rules, &lines);
    let alert = folded.alert("service_degraded:saturn/mosquitto");
    assert_eq!(alert.status, AlertStatus::Firing);
    let since = alert.since;
    assert_eq!(alert.fired_at, Some(since.plus_seconds(300)), "exactly since + for_s");
    assert_eq!(
        folded.sent(),
        vec![(
            id("service_degraded:saturn/mosquitto", since.unix_seconds() - BASE + 300, "firing", 1),
            since.unix_seconds() - BASE + 300
        )]
    );
}

#[test]
fn breaker_open_fires_after_for_s_while_open_or_half_open() {
    let rules = rules_with(|_| {});
    let lines: Vec<String> =
        (0..5).map(|i| probe(i, "mosquitto", "port", "critical")).chain([tick(200), tick(400)]).collect();
    let folded = fold(&rules, &lines);
    let alert = folded.alert("breaker_open:saturn/mosquitto/port");
    assert_eq!(alert.status, AlertStatus::Firing, "half-open since 64 s still counts");
    assert_eq!(alert.fired_at, Some(Ts((BASE + 304) * 1000)));
    assert_eq!((alert.node.as_deref(), alert.service.as_deref()), (Some("saturn"), Some("mosquitto")));
}

#[test]
fn deployment_stuck_fires_once_running_longer_than_max_running_s() {
    let rules = rules_with(|_| {});
    let folded = fold(
        &rules,
        &[line(0, r#""type":"deployment_started","correlation_id":"deploy-1","node":"saturn""#), tick(7200)],
    );
    let alert = folded.alert("deployment_stuck:deploy-1");
    assert_eq!(alert.status, AlertStatus::Firing);
    assert_eq!(alert.fired_at, Some(Ts((BASE + 3600) * 1000 + 1)));
    assert_eq!(alert.node.as_deref(), Some("saturn"));
}

/// A run's later events find its recheck queued without asking the queue
/// only when the run started in the same pass (`hook.rs`,
/// `recheck_queued_in_pass`): a stage in a later pass, under rules that
/// switched the rule on or shortened `max_running_s`, still queues the
/// recheck those rules ask for.
#[test]
fn deployment_stuck_follows_rules_changed_between_the_start_and_a_stage() {
    let started = line(0, r#""type":"deployment_started","correlation_id":"deploy-1","node":"saturn""#);
    let stage = line(
        10,
        r#""type":"deployment_stage","correlation_id":"deploy-1","node":"saturn","payload":{"stage":"pull","status":"running"}"#,
    );
    let (start, rest) = (vec![started], vec![stage, tick(7200)]);
    let off = rules_with(|a| a.rules.get_mut(&Rule::DeploymentStuck).unwrap().enabled = false);
    let long = rules_with(|_| {});
    let short = rules_with(|a| a.rules.get_mut(&Rule::DeploymentStuck).unwrap().max_running_s = 600);
    for (first, then, fired_s) in [(&off, &long, 3600), (&long, &short, 600), (&short, &short, 600)] {
        let folded = fold_passes(&[(first, &start), (then, &rest)]);
        let alert = folded.alert("deployment_stuck:deploy-1");
        assert_eq!(alert.status, AlertStatus::Firing);
        assert_eq!(alert.fired_at, Some(Ts((BASE + fired_s) * 1000 + 1)), "fired at {fired_s} s");
    }
}

/// A run that ends takes its `deployment_stuck` recheck out of the queue
/// (`hook.rs`, `forget_recheck`): taken, it would find the run ended and
/// change nothing. One still running keeps its recheck and is stuck at its
/// instant, whether its start and its end came in one pass or two, and an
/// end folded before a late start (the run's earliest) keeps none either.
#[test]
fn a_run_that_ends_leaves_its_stuck_recheck_and_one_running_keeps_it() {
    let rules = rules_with(|_| {});
    let run = |t: i64, kind: &str, id: &str| {
        line(t, &format!(r#""type":"{kind}","correlation_id":"{id}","node":"saturn","service":"mosquitto""#))
    };
    let lines = [
        run(0, "deployment_started", "d1"),
        run(10, "deployment_started", "d2"),
        run(100, "deployment_succeeded", "d1"),
        run(200, "deployment_failed", "d3"),
        run(150, "deployment_started", "d3"),
        tick(300),
    ];
    for cut in 0..=lines.len() {
        let folded = fold_in_passes(&rules, &lines, &[cut]);
        let rechecks: Vec<(i64, &str)> = (folded.engine.alerts.deadlines.iter())
            .filter(|(_, due, _)| *due == Due::Recheck)
            .map(|(at, _, key)| (at.0 / 1000 - BASE, key.as_str()))
            .collect();
        assert_eq!(rechecks, [(3610, "deployment_stuck:d2")], "cut before line {cut}");
    }
    let folded = fold(&rules, &[&lines[..], &[tick(7200)]].concat());
    assert_eq!(folded.alert("deployment_stuck:d2").fired_at, Some(Ts((BASE + 3610) * 1000 + 1)));
    assert!(folded.engine.alerts().keys().all(|key| key == "deployment_stuck:d2"), "{:?}", folded.engine.alerts());
}

#[test]
fn deployment_failures_fire_above_max_failed_within_the_window_and_resolve_as_they_age() {
    let rules = rules_with(|_| {});
    let failed =
        |t: i64, n: u32| line(t, &format!(r#""type":"deployment_failed","correlation_id":"d{n}","node":"saturn""#));
    let folded = fold(&rules, &[failed(0, 1), failed(100, 2), failed(200, 3), tick(3500), tick(4000)]);
    let alert = folded.alert("deployment_failures:saturn");
    assert_eq!(alert.fired_at, Some(Ts((BASE + 200) * 1000)));
    assert_eq!(alert.resolved_at, Some(Ts((BASE + 3600) * 1000)), "the first failure left the window");
}

#[test]
fn failure_rate_fires_above_max_ratio_with_enough_checks() {
    let rules = rules_with(|_| {});
    let outcomes = ["ok", "ok", "critical", "ok", "ok", "critical", "ok", "ok", "critical", "ok"];
    let lines: Vec<String> = outcomes.iter().zip(0..).map(|(o, i)| probe(i * 60, "mosquitto", "port", o)).collect();
    let folded = fold(&rules, &lines);
    let alert = folded.alert("failure_rate:saturn/mosquitto");
    assert_eq!(alert.status, AlertStatus::Firing, "3 of 10 is over 20 %");
    assert_eq!(alert.fired_at, Some(Ts((BASE + 540) * 1000)), "not before the 10th check");
}

#[test]
fn disk_low_takes_the_outcomes_severity() {
    let rules = rules_with(|_| {});
    let folded = fold(&rules, &[probe(0, "nas", "disk", "warning"), probe(60, "nas", "disk", "critical")]);
    let alert = folded.alert("disk_low:saturn/nas/disk");
    assert_eq!((alert.status, alert.severity), (AlertStatus::Firing, Severity::Critical));
    assert_eq!(alert.summary, "disk probe saturn/nas/disk reports critical: 92% used");
    assert_eq!(folded.notes[0].severity, Severity::Warning, "it fired as a warning");
}

#[test]
fn flapping_fires_on_a_weighted_state_change_of_20_percent() {
    let rules = rules_with(|_| {});
    let kinds = ["service_unhealthy", "service_recovered"];
    let lines: Vec<String> = (0..5).map(|i| service(i * 10, kinds[i as usize % 2], "")).collect();
    let folded = fold(&rules, &lines);
    let alert = folded.alert("flapping:saturn/mosquitto");
    assert_eq!(alert.status, AlertStatus::Firing);
    assert_eq!(alert.fired_at, Some(Ts((BASE + 40) * 1000)), "the fourth change");
}

#[test]
fn a_pending_alert_that_clears_is_dropped_and_never_notified() {
    let rules = rules_with(|_| {});
    let mut lines: Vec<String> = (0..3).map(|i| probe(i, "mosquitto", "port", "warning")).collect();
    lines.extend((3..6).map(|i| probe(i * 30, "mosquitto", "port", "ok")));
    lines.push(tick(2000));
    let folded = fold(&rules, &lines);
    assert!(folded.engine.alerts().is_empty(), "{:?}", folded.engine.alerts());
    assert!(folded.notes.is_empty());
}

#[test]
fn keep_firing_for_holds_a_firing_alert_through_a_short_recovery() {
    let rules = rules_with(|a| a.rules.get_mut(&Rule::ServiceUnhealthy).unwrap().keep_firing_for_s = 120);
    let folded = fold(
        &rules,
        &[
            service(0, "service_unhealthy", ""),
            service(100, "service_recovered", ""),
            service(150, "service_unhealthy", ""),
            service(400, "service_recovered", ""),
            tick(1000),
        ],
    );
    let key = "service_unhealthy:saturn/mosquitto";
    assert_eq!(folded.sent(), vec![(id(key, 0, "firing", 1), 0), (id(key, 0, "resolved", 1), 520)]);
    assert_eq!(folded.alert(key).recent_episodes.len(), 1, "one episode");
}

/// The live hint of a service (`watch::LiveHint`) skips evaluations only
/// where they would change nothing: a resolved alert fires again when its
/// condition holds, and an engine saved and loaded at any point (every
/// hint set again) folds the rest of the story to the same state.
#[test]
fn the_live_hint_changes_nothing_a_fold_decides() {
    let rules = rules_with(|_| {});
    let lines = [
        service(0, "service_unhealthy", ""),
        service(60, "service_recovered", ""),
        service(120, "healthcheck_passed", ""),
        service(180, "healthcheck_passed", ""),
        service(240, "service_unhealthy", ""),
        service(300, "healthcheck_passed", ""),
        service(360, "service_recovered", ""),
    ];
    let whole = fold(&rules, &lines);
    let key = "service_unhealthy:saturn/mosquitto";
    assert_eq!(whole.alert(key).status, AlertStatus::Resolved);
    assert_eq!(whole.alert(key).recent_episodes.len(), 2, "fired again after its bit was cleared");
    for (cut, engine) in loaded_at_each_cut(&rules, &lines, &whole.engine) {
        assert_eq!(engine.alerts().get(key).map(|a| a.recent_episodes.len()), Some(2), "saved after {cut} lines");
    }
}

/// The engine folded from `lines`, saved and loaded after each of its
/// lines (a load sets every live hint again) and folded on to the end,
/// with the cut it was saved at: each checked to hold the state `whole`
/// holds, the state a checkpoint keeps (what a pass decided, its
/// notifications and where it started, is not part of it).
fn loaded_at_each_cut(rules: &Rules, lines: &[String], whole: &Engine) -> Vec<(usize, Engine)> {
    let state = |engine: &Engine| serde_json::to_value(engine).unwrap();
    (1..lines.len())
        .map(|cut| {
            let saved = serde_json::to_string(&fold(rules, &lines[..cut]).engine).unwrap();
            let mut engine: Engine = serde_json::from_str(&saved).unwrap();
            engine.apply(Input::PassStarted, rules);
            for (position, text) in lines.iter().enumerate().skip(cut) {
                let input = Input::Event { event: &event(text), file: "story.jsonl", position: position as u64 };
                engine.apply(input, rules);
            }
            assert_eq!(state(&engine), state(whole), "saved after {cut} lines");
            (cut, engine)
        })
        .collect()
}

/// The live hint of a node, as of a service: heartbeats of a node whose
/// `node_down` or `node_stale` alert resolved skip the rule, and the alert
/// still fires again when its condition holds; an engine saved and loaded
/// at any point folds the rest of the story to the same state.
#[test]
fn the_live_hint_of_a_node_changes_nothing_a_fold_decides() {
    let rules = rules_with(|_| {});
    let node = |t: i64, kind: &str| line(t, &format!(r#""type":"{kind}","node":"venus""#));
    let lines = [
        node(0, "heartbeat"),
        node(60, "node_down"),
        node(120, "node_up"),
        node(180, "heartbeat"),
        node(240, "heartbeat"),
        node(300, "node_down"),
        node(360, "node_up"),
        node(420, "heartbeat"),
        tick(5000),
        node(5060, "heartbeat"),
        node(5120, "heartbeat"),
        tick(10000),
        node(10060, "heartbeat"),
    ];
    let whole = fold(&rules, &lines);
    let (down, stale) = ("node_down:venus", "node_stale:venus");
    assert_eq!(whole.alert(down).status, AlertStatus::Resolved);
    assert_eq!(whole.alert(down).recent_episodes.len(), 2, "fired again after its bit was cleared");
    assert_eq!(whole.alert(stale).status, AlertStatus::Resolved);
    assert_eq!(whole.alert(stale).recent_episodes.len(), 2, "stale again after heartbeats that skipped it");
    loaded_at_each_cut(&rules, &lines, &whole.engine);
}

/// Rules changed between passes while an alert waits for an instant: a
/// pending alert fires at `since + for_s` under the new rules, and a
/// firing one whose condition cleared resolves at `false_since +
/// keep_firing_for_s` under them, however they moved. A deadline queued
/// under the old rules does nothing when taken; before the pass queued
/// them again, an alert pending when `for_s` changed never fired (a review
/// of issue 11's thirty-third pass).
#[test]
fn alerts_waiting_for_an_instant_take_it_under_rules_changed_between_passes() {
    let node = |t: i64, kind: &str| line(t, &format!(r#""type":"{kind}","node":"venus""#));
    let key = "node_down:venus";
    let with = |for_s: u64, keep_s: u64| {
        rules_with(move |a| {
            let down = a.rules.get_mut(&Rule::NodeDown).unwrap();
            down.for_s = for_s;
            down.keep_firing_for_s = keep_s;
        })
    };
    let at = |s: i64| Some(Ts((BASE + s) * 1000));
    // Pending at 50 under `for_s` 100; the next pass's `for_s` fires it.
    let (first, then) = ([node(0, "node_down"), tick(50)], [tick(5000)]);
    for (for_s, fired) in [(200, 200), (100, 100), (30, 30)] {
        let folded = fold_passes(&[(&with(100, 0), &first), (&with(for_s, 0), &then)]);
        assert_eq!(folded.alert(key).status, AlertStatus::Firing, "for_s {for_s}");
        assert_eq!(folded.alert(key).fired_at, at(fired), "for_s {for_s}");
    }
    // Firing since 0, clear since 100, due to resolve at 400 under
    // `keep_firing_for_s` 300; the next pass's keep resolves it.
    let (first, then) = ([node(0, "node_down"), node(100, "node_up"), tick(150)], [tick(5000)]);
    for (keep_s, resolved) in [(600, 700), (300, 400), (100, 200)] {
        let folded = fold_passes(&[(&with(0, 300), &first), (&with(0, keep_s), &then)]);
        assert_eq!(folded.alert(key).status, AlertStatus::Resolved, "keep {keep_s}");
        assert_eq!(folded.alert(key).resolved_at, at(resolved), "keep {keep_s}");
    }
}
