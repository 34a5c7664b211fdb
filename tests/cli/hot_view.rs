//! The hot view of SPEC §4 for deployments and incidents, through the real
//! binary: `deployments.json` and `incidents.json` hold what is live and,
//! per node/service, the last `world.keep_finished` finished entries; the
//! older ones move once to `world/history/<kind>-YYYY-MM.jsonl` (the month
//! of their end), however the runs are split, as a rebuild writes them
//! byte for byte; a deleted month stays deleted; `explain` and `rebuild
//! --until` still see what left; an older checkpoint that kept everything
//! hands its surplus to the history in its next run.

use serde_json::Value;

use crate::support::{Ev, Homelab, lines};

fn lab_keeping(keep: u32) -> Homelab {
    let lab = Homelab::new();
    lab.write("observer.yaml", &format!("world: {{keep_finished: {keep}}}\n"));
    lab
}

/// Deployment `d<k>` of saturn/mosquitto on `day` of May, 10:00 to 10:10.
pub(crate) fn deployment(lab: &Homelab, k: u32, day: u32) {
    let at = |time: &str| format!("2026-05-{day:02}T{time}Z");
    let id = format!("d{k}");
    let events = [
        Ev::new(&at("10:00:00"), "deployment_started").correlation(&id).node("saturn").service("mosquitto"),
        Ev::new(&at("10:10:00"), "deployment_succeeded").correlation(&id),
    ];
    lab.append("events/deploy.jsonl", &lines(&events));
}

/// An outage of saturn/mosquitto on `day` of `month`, 12:00 to 12:05.
fn outage(lab: &Homelab, month: u32, day: u32) {
    let at = |time: &str| format!("2026-{month:02}-{day:02}T{time}Z");
    let events = [
        Ev::new(&at("12:00:00"), "service_unhealthy").node("saturn").service("mosquitto"),
        Ev::new(&at("12:05:00"), "service_recovered").node("saturn").service("mosquitto"),
    ];
    lab.append("events/saturn.jsonl", &lines(&events));
}

fn keys(lab: &Homelab, file: &str, map: &str) -> Vec<String> {
    lab.json(&format!("world/{file}"))[map].as_object().unwrap().keys().cloned().collect()
}

fn field_of_lines(text: &str, field: &str) -> Vec<String> {
    text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()[field].as_str().unwrap().to_string()).collect()
}

#[test]
fn keep_finished_two_of_five_deployments_the_other_three_once_in_history_across_split_runs() {
    let lab = lab_keeping(2);
    deployment(&lab, 1, 1);
    deployment(&lab, 2, 2);
    lab.run();
    assert!(lab.history("world").is_empty(), "two finished, both kept");
    deployment(&lab, 3, 3);
    lab.run();
    deployment(&lab, 4, 4);
    deployment(&lab, 5, 5);
    lab.run();
    lab.run();
    assert_eq!(keys(&lab, "deployments.json", "deployments"), ["d4", "d5"]);
    let history = lab.history("world");
    assert_eq!(history.keys().collect::<Vec<_>>(), ["deployments-2026-05.jsonl"]);
    let month = &history["deployments-2026-05.jsonl"];
    assert_eq!(field_of_lines(month, "correlation_id"), ["d1", "d2", "d3"], "each once, oldest first");
    // The same fields as deployments.json, compact, one a line.
    let hot = lab.json("world/deployments.json");
    let first: Value = serde_json::from_str(month.lines().next().unwrap()).unwrap();
    let hot_keys: Vec<&String> = hot["deployments"]["d4"].as_object().unwrap().keys().collect();
    assert_eq!(first.as_object().unwrap().keys().collect::<Vec<_>>(), hot_keys);
    assert!(month.starts_with(
        "{\"correlation_id\":\"d1\",\"node\":\"saturn\",\"service\":\"mosquitto\",\"status\":\"succeeded\",\
         \"started_at\":\"2026-05-01T10:00:00Z\",\"ended_at\":\"2026-05-01T10:10:00Z\",\"duration_s\":600,"
    ));
    assert_eq!(hot["schema_version"], 2);
    lab.assert_world_equals_rebuild();
    lab.observer(["rebuild"]).run().success();
    assert_eq!(lab.history("world"), history, "a rebuild in place writes the same bytes");
}

#[test]
fn keep_finished_two_of_five_incidents_the_other_three_once_in_history_across_split_runs() {
    let lab = lab_keeping(2);
    outage(&lab, 4, 29);
    outage(&lab, 4, 30);
    lab.run();
    outage(&lab, 5, 1);
    outage(&lab, 5, 2);
    lab.run();
    // Active: stays whatever the bound.
    lab.append(
        "events/saturn.jsonl",
        &Ev::new("2026-05-03T12:00:00Z", "service_unhealthy").node("saturn").service("mosquitto").line(),
    );
    lab.run();
    lab.append(
        "events/saturn.jsonl",
        &Ev::new("2026-05-03T12:05:00Z", "service_recovered").node("saturn").service("mosquitto").line(),
    );
    lab.append(
        "events/other.jsonl",
        &Ev::new("2026-05-04T00:00:00Z", "service_unhealthy").node("venus").service("db").line(),
    );
    lab.run();
    let kept = keys(&lab, "incidents.json", "incidents");
    assert_eq!(kept, ["inc-1777723200-saturn-mosquitto", "inc-1777809600-saturn-mosquitto", "inc-1777852800-venus-db"]);
    let history = lab.history("world");
    let months: Vec<&String> = history.keys().filter(|name| name.starts_with("incidents-")).collect();
    assert_eq!(months, ["incidents-2026-04.jsonl", "incidents-2026-05.jsonl"]);
    assert_eq!(field_of_lines(&history["incidents-2026-04.jsonl"], "id").len(), 2);
    assert_eq!(field_of_lines(&history["incidents-2026-05.jsonl"], "id"), ["inc-1777636800-saturn-mosquitto"]);
    assert_eq!(
        history["incidents-2026-04.jsonl"].lines().next().unwrap(),
        "{\"id\":\"inc-1777464000-saturn-mosquitto\",\"node\":\"saturn\",\"service\":\"mosquitto\",\
         \"status\":\"resolved\",\"severity\":\"error\",\"started_at\":\"2026-04-29T12:00:00Z\",\
         \"last_occurrence\":\"2026-04-29T12:00:00Z\",\"occurrence_count\":1,\"events\":[\"2026-04-29T12:00:00Z\"],\
         \"correlation_id\":null,\"resolved_at\":\"2026-04-29T12:05:00Z\"}"
    );
    // The node still names its active incident; the summary counts the hot view.
    assert_eq!(lab.json("world/nodes.json")["nodes"]["venus"]["active_incidents"][0], "inc-1777852800-venus-db");
    assert_eq!(lab.summary()["incidents"]["resolved"], 2);
    lab.assert_world_equals_rebuild();
    lab.observer(["rebuild"]).run().success();
    assert_eq!(lab.history("world"), history);
}

#[test]
fn a_deleted_deployments_month_stays_deleted() {
    let lab = lab_keeping(1);
    deployment(&lab, 1, 1);
    deployment(&lab, 2, 2);
    lab.run();
    assert_eq!(lab.history("world")["deployments-2026-05.jsonl"].lines().count(), 1);
    std::fs::remove_file(lab.path("world/history/deployments-2026-05.jsonl")).unwrap();
    deployment(&lab, 3, 3);
    lab.run();
    assert!(lab.history("world").is_empty(), "d2 left for the deleted month: dropped");
    assert_eq!(keys(&lab, "deployments.json", "deployments"), ["d3"]);
    lab.observer(["rebuild"]).run().success();
    assert!(lab.history("world").is_empty(), "a rebuild does not bring it back");
}

#[test]
fn explain_and_rebuild_until_still_see_what_left_the_hot_view() {
    let lab = lab_keeping(0);
    deployment(&lab, 1, 1);
    outage(&lab, 5, 2);
    deployment(&lab, 2, 3);
    lab.run();
    assert!(keys(&lab, "deployments.json", "deployments").is_empty());
    assert!(keys(&lab, "incidents.json", "incidents").is_empty());
    for id in ["d1", "inc-1777723200-saturn-mosquitto"] {
        let out = lab.observer(["explain", id, "--json"]).run().success();
        let explained: Value = serde_json::from_str(&out.stdout).unwrap();
        assert!(explained["found_in"].as_str().unwrap().starts_with("history/"), "{explained}");
        assert_eq!(explained["agrees_with_world"], true, "{id}: {explained}");
    }
    let out = lab.path("past");
    lab.observer(["rebuild", "--until", "2026-05-02T12:01:00Z", "--out", out.to_str().unwrap()]).run().success();
    assert_eq!(lab.history("past")["deployments-2026-05.jsonl"].lines().count(), 1, "d1 had left by then");
    assert!(!lab.history("past").contains_key("incidents-2026-05.jsonl"), "the outage was still active");
    assert_eq!(lab.json("past/incidents.json")["incidents"]["inc-1777723200-saturn-mosquitto"]["status"], "active");
}

/// A checkpoint of the release before the bound kept every finished entry
/// and no index of them: it loads, and its next run hands the surplus to
/// the history, as a rebuild writes it.
#[test]
fn a_checkpoint_that_kept_every_entry_loads_and_its_next_run_moves_the_surplus_to_history() {
    let lab = lab_keeping(100);
    for k in 1..=4 {
        deployment(&lab, k, k);
        outage(&lab, 5, k);
    }
    lab.run();
    assert!(lab.history("world").is_empty());
    let (header, mut body) = lab.checkpoint_as_format_3();
    let engine = body["engine"].as_object_mut().unwrap();
    assert!(engine.remove("finished").is_some(), "the index is in the engine state");
    lab.write("state/observer_checkpoint.json", &format!("{header}\n{body}\n"));
    lab.write("observer.yaml", "world: {keep_finished: 1}\n");
    deployment(&lab, 5, 5);
    lab.run();
    assert_eq!(keys(&lab, "deployments.json", "deployments"), ["d5"]);
    assert_eq!(keys(&lab, "incidents.json", "incidents"), ["inc-1777896000-saturn-mosquitto"]);
    let history = lab.history("world");
    assert_eq!(field_of_lines(&history["deployments-2026-05.jsonl"], "correlation_id"), ["d1", "d2", "d3", "d4"]);
    assert_eq!(history["incidents-2026-05.jsonl"].lines().count(), 3);
    // As a rebuild under the new config writes them (alerts.json, whose
    // episodes the changed keep_finished bounds too, aside).
    let out = lab.path("rebuilt");
    lab.observer(["rebuild", "--out", out.to_str().unwrap()]).run().success();
    for file in ["deployments.json", "incidents.json"] {
        assert_eq!(lab.read(&format!("rebuilt/{file}")), lab.read(&format!("world/{file}")), "{file}");
    }
    let rebuilt = lab.history("rebuilt");
    for month in ["deployments-2026-05.jsonl", "incidents-2026-05.jsonl"] {
        assert_eq!(rebuilt[month], history[month], "{month}");
    }
}

/// A run that fails and leaves the hot view in the same pass (keep 0): its
/// refused diagnostics are still warned about, and its history line shows
/// its diagnostics and stage markers as checked when it left.
#[test]
fn a_deployment_that_leaves_at_once_is_still_checked_against_logs_and_its_markers() {
    let lab = lab_keeping(0);
    lab.write("logs/deploy/d1.log", "pull failed\n");
    lab.write("state/deployments/d1/verify.json", "{\"status\":\"skipped\"}");
    let events = [
        Ev::new("2026-05-12T12:00:00Z", "deployment_started").correlation("d1").node("saturn").service("mosquitto"),
        Ev::new("2026-05-12T12:01:00Z", "deployment_failed")
            .correlation("d1")
            .payload(serde_json::json!({"diagnostics": ["deploy/d1.log", "../secret.txt"]})),
    ];
    lab.write("events/deploy.jsonl", &lines(&events));
    let out = lab.observer(["run", "--no-tick"]).run().success();
    assert!(out.stderr.contains("`../secret.txt` refused"), "{}", out.stderr);
    assert!(keys(&lab, "deployments.json", "deployments").is_empty());
    let line: Value = serde_json::from_str(&lab.read("world/history/deployments-2026-05.jsonl")).unwrap();
    assert_eq!(line["status"], "failed");
    assert_eq!(line["diagnostics"][0]["exists"], true);
    assert_eq!(line["diagnostics"][0]["size"], 12);
    assert!(line["diagnostics"][1]["refused"].as_str().unwrap().contains(".."));
    assert_eq!(line["stages"][0]["name"], "verify");
    assert_eq!(line["stages"][0]["status"], "skipped");
    lab.assert_world_equals_rebuild();
}
