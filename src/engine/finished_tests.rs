//! Given/when/then tests of the hot view's bound for deployments and
//! incidents (`finished.rs`): what stays, what leaves, once, whatever the
//! passes, and a state written before the bound.

use super::Finished;
use crate::engine::given::event;
use crate::engine::{Engine, Input, Rules};

/// `n` deployments of saturn/mosquitto, an hour apart, each ten minutes
/// long; the third one fails.
fn deployments(n: usize) -> Vec<String> {
    (0..n)
        .flat_map(|k| {
            let end = if k == 2 { "deployment_failed" } else { "deployment_succeeded" };
            [
                format!(
                    r#"{{"ts":"2026-05-12T{k:02}:00:00Z","type":"deployment_started","correlation_id":"d{k}","node":"saturn","service":"mosquitto"}}"#
                ),
                format!(r#"{{"ts":"2026-05-12T{k:02}:10:00Z","type":"{end}","correlation_id":"d{k}"}}"#),
            ]
        })
        .collect()
}

/// `n` outages of saturn/mosquitto, an hour apart, five minutes long.
fn outages(n: usize) -> Vec<String> {
    (0..n)
        .flat_map(|k| {
            ["service_unhealthy", "service_recovered"].into_iter().zip(["00", "05"]).map(move |(kind, minute)| {
                format!(
                    r#"{{"ts":"2026-05-12T{k:02}:{minute}:00Z","type":"{kind}","node":"saturn","service":"mosquitto"}}"#
                )
            })
        })
        .collect()
}

/// What the checkpoint keeps of an engine.
fn state(engine: &Engine) -> serde_json::Value {
    serde_json::to_value(engine).unwrap()
}

fn keeping(keep: usize) -> Rules {
    Rules { keep_finished: keep, ..Rules::default() }
}

/// The engine after `lines`, a pass starting before each index in
/// `cuts`, and the ids of what left, in order, over all passes.
fn fold(rules: &Rules, lines: &[String], cuts: &[usize]) -> (Engine, Vec<String>) {
    let mut engine = Engine::default();
    let mut left = Vec::new();
    let mut take = |engine: &Engine| {
        left.extend(engine.left_deployments().iter().map(|(id, _)| id.to_string()));
        left.extend(engine.left_incidents().iter().map(|i| i.id.clone()));
    };
    engine.apply(Input::PassStarted, rules);
    for (position, text) in lines.iter().enumerate() {
        if cuts.contains(&position) {
            take(&engine);
            engine.apply(Input::PassStarted, rules);
        }
        let event = event(text);
        engine.apply(Input::Event { event: &event, file: "story.jsonl", position: position as u64 }, rules);
    }
    take(&engine);
    (engine, left)
}

#[test]
fn the_finished_deployments_past_keep_leave_once_oldest_first_whatever_the_passes() {
    let lines = deployments(5);
    let (engine, left) = fold(&keeping(2), &lines, &[]);
    assert_eq!(left, ["d0", "d1", "d2"]);
    assert_eq!(engine.deployments().keys().collect::<Vec<_>>(), ["d3", "d4"]);
    for cuts in [vec![3], vec![1, 4, 7], (1..10).collect()] {
        let (again, left_again) = fold(&keeping(2), &lines, &cuts);
        assert_eq!(left_again, left, "passes cut at {cuts:?}");
        assert_eq!(state(&again), state(&engine), "passes cut at {cuts:?}");
    }
    // A running deployment stays whatever the bound.
    let mut running = lines.clone();
    running.push(
        r#"{"ts":"2026-05-12T06:00:00Z","type":"deployment_started","correlation_id":"d9","node":"saturn","service":"mosquitto"}"#.into(),
    );
    let (engine, _) = fold(&keeping(0), &running, &[]);
    assert_eq!(engine.deployments().keys().collect::<Vec<_>>(), ["d9"]);
}

#[test]
fn a_late_event_for_a_deployment_that_left_changes_nothing() {
    let mut lines = deployments(3);
    lines.push(
        r#"{"ts":"2026-05-12T00:05:00Z","type":"deployment_stage","correlation_id":"d0","payload":{"stage":"pull"}}"#
            .into(),
    );
    let (engine, left) = fold(&keeping(1), &lines, &[]);
    assert_eq!(left, ["d0", "d1"]);
    assert_eq!(engine.deployments().keys().collect::<Vec<_>>(), ["d2"], "d0 does not come back as running");
}

#[test]
fn the_resolved_incidents_past_keep_leave_and_ids_stay_unique() {
    let (engine, left) = fold(&keeping(2), &outages(5), &[]);
    assert_eq!(
        left,
        ["inc-1778544000-saturn-mosquitto", "inc-1778547600-saturn-mosquitto", "inc-1778551200-saturn-mosquitto"]
    );
    assert_eq!(engine.incidents().len(), 2);
    // Opened and resolved in one second, again and again: each id is new.
    let flaps: Vec<String> = (0..4)
        .flat_map(|k| {
            ["service_unhealthy", "service_recovered"].map(|kind| {
                format!(r#"{{"ts":"2026-05-12T12:00:00.{k}00Z","type":"{kind}","node":"n","service":"s"}}"#)
            })
        })
        .collect();
    let (_, left) = fold(&keeping(0), &flaps, &[]);
    let base = "inc-1778587200-n-s";
    assert_eq!(left, [base.to_string(), format!("{base}-2"), format!("{base}-3"), format!("{base}-4")]);
}

#[test]
fn at_retention_what_the_hot_view_still_holds_leaves_and_the_active_stays() {
    let lines = [
        r#"{"ts":"2026-04-01T12:00:00Z","type":"service_unhealthy","node":"a","service":"s"}"#,
        r#"{"ts":"2026-04-01T12:10:00Z","type":"service_recovered","node":"a","service":"s"}"#,
        r#"{"ts":"2026-04-01T12:00:00Z","type":"deployment_started","correlation_id":"d"}"#,
        r#"{"ts":"2026-04-01T12:30:00Z","type":"deployment_succeeded","correlation_id":"d"}"#,
        r#"{"ts":"2026-04-20T12:00:00Z","type":"service_unhealthy","node":"a","service":"t"}"#,
        r#"{"ts":"2026-05-15T12:00:00Z","type":"tick"}"#,
    ]
    .map(String::from);
    let (engine, left) = fold(&keeping(20), &lines, &[5]);
    assert_eq!(engine.incidents().len(), 1, "the active one stays");
    assert!(engine.deployments().is_empty());
    assert_eq!(left, ["d", "inc-1775044800-a-s"], "both leave, once");
    assert!(engine.finished.deployments.gone.is_empty() && engine.finished.incidents.groups.is_empty());
}

#[test]
fn the_alert_rules_see_a_finished_deployment_before_it_leaves() {
    let lines = deployments(5);
    let many = |keep| fold(&keeping(keep), &lines, &[]).0.alerts().clone();
    assert_eq!(many(0), many(20), "deployment_failures and deployment_stuck as if it stayed");
}

#[test]
fn a_state_written_before_the_bound_hands_its_surplus_out_as_the_next_pass_starts() {
    let lines: Vec<String> = deployments(4).into_iter().chain(outages(4)).collect();
    let (mut old, _) = fold(&keeping(usize::MAX), &lines, &[]);
    old.finished = Finished::default();
    let text = serde_json::to_string(&old).unwrap();
    let mut old: Engine = serde_json::from_str(&text.replace(
        r#","finished":{"indexed":false,"deployments":{"groups":{},"gone":{}},"incidents":{"groups":{},"gone":{}}}"#,
        "",
    ))
    .unwrap();
    assert!(!old.finished.indexed, "read as a state without the bound");
    old.apply(Input::PassStarted, &keeping(1));
    let left: Vec<&str> = old.left_deployments().iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(left, ["d0", "d1", "d2"]);
    assert_eq!(old.left_incidents().len(), 3);
    let (new, _) = fold(&keeping(1), &lines, &[]);
    assert_eq!(state(&old), state(&new), "then it is the state this release would have written");
}

/// The ids that left are written by the minute they ended
/// (`finished_gone.rs`); after a load a late event for a run that left
/// still changes nothing.
#[test]
fn the_ids_that_left_are_written_by_minute_and_found_after_a_load() {
    let (engine, left) = fold(&keeping(1), &deployments(6), &[]);
    assert_eq!(left, ["d0", "d1", "d2", "d3", "d4"]);
    let written = state(&engine);
    let gone = written["finished"]["deployments"]["gone"].as_object().unwrap();
    let minutes: Vec<&String> = gone.keys().collect();
    assert_eq!(minutes[0], "2026-05-12T00:10:00Z");
    assert_eq!(gone[minutes[2]], serde_json::json!(["d2 0"]), "packed: the id, its milliseconds into the minute");
    let ids: Vec<&str> = gone.values().map(|packed| packed[0].as_str().unwrap().split(' ').next().unwrap()).collect();
    assert_eq!(ids, ["d0", "d1", "d2", "d3", "d4"]);
    let text = serde_json::to_string(&engine).unwrap();
    let mut loaded: Engine = serde_json::from_str(&text).unwrap();
    assert_eq!(serde_json::to_string(&loaded).unwrap(), text, "written again byte for byte");
    let late =
        r#"{"ts":"2026-05-12T09:00:00Z","type":"deployment_stage","correlation_id":"d3","payload":{"stage":"pull"}}"#;
    let rules = keeping(1);
    loaded.apply(Input::PassStarted, &rules);
    loaded.apply(Input::Event { event: &event(late), file: "late.jsonl", position: 0 }, &rules);
    assert!(!loaded.deployments().contains_key("d3"), "a run that left does not come back");
}

/// A state written before the ids that left were filed by minute held them
/// as one object from id to end time: it is read as the same state, and
/// written in the minute form.
#[test]
fn a_state_with_the_ids_that_left_by_id_is_read() {
    let (engine, _) = fold(&keeping(1), &deployments(6).into_iter().chain(outages(4)).collect::<Vec<_>>(), &[]);
    let mut older = state(&engine);
    for kind in ["deployments", "incidents"] {
        let gone = &mut older["finished"][kind]["gone"];
        let by_id: serde_json::Map<String, serde_json::Value> = gone
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(minute, packed)| {
                let minute = crate::time::Ts::parse(minute).unwrap();
                let tokens: Vec<&str> = packed[0].as_str().unwrap().split(' ').collect();
                let pairs = tokens.chunks(2).map(|pair| (pair[0], pair[1].parse::<i64>().unwrap())).collect::<Vec<_>>();
                pairs.into_iter().map(move |(id, offset)| {
                    (id.to_string(), serde_json::to_value(crate::time::Ts(minute.0 + offset)).unwrap())
                })
            })
            .collect();
        assert!(!by_id.is_empty(), "{kind}");
        *gone = by_id.into();
    }
    let loaded: Engine = serde_json::from_str(&older.to_string()).unwrap();
    assert_eq!(state(&loaded), state(&engine));
    assert_eq!(serde_json::to_string(&loaded).unwrap(), serde_json::to_string(&engine).unwrap());
}

#[test]
fn the_groups_are_written_in_key_order_as_the_sorted_map_was() {
    let services = ["zigbee", "adguard", "mosquitto", "paperless", "gitea"];
    let lines: Vec<String> = services
        .iter()
        .enumerate()
        .flat_map(|(k, service)| {
            [
                format!(
                    r#"{{"ts":"2026-05-12T{k:02}:00:00Z","type":"deployment_started","correlation_id":"d{k}","node":"saturn","service":"{service}"}}"#
                ),
                format!(r#"{{"ts":"2026-05-12T{k:02}:10:00Z","type":"deployment_succeeded","correlation_id":"d{k}"}}"#),
            ]
        })
        .collect();
    let (engine, _) = fold(&keeping(5), &lines, &[]);
    let groups = &engine.finished.deployments.groups;
    assert_eq!(groups.len(), services.len());
    let sorted: std::collections::BTreeMap<&crate::event::Name, _> = groups.iter_unordered().collect();
    let written = serde_json::to_string(groups).unwrap();
    assert_eq!(written, serde_json::to_string(&sorted).unwrap());
    assert!(written.starts_with(r#"{"saturn/adguard":"#), "{written}");
    let read: super::Kept =
        serde_json::from_str(&serde_json::to_string(&engine.finished.deployments).unwrap()).unwrap();
    assert_eq!(read, engine.finished.deployments);
}
