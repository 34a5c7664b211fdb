//! `observer explain ID`: the events behind an entity in fold order, with
//! file:line and what each changed, read through the event index.

use serde_json::{Value, json};

use crate::support::{Ev, Homelab, lines};

/// The SPEC §4 incident, with events of other entities around it in the
/// same file and in another one.
fn spec_story(lab: &Homelab) {
    lab.append(
        "events/saturn.jsonl",
        &lines(&[
            Ev::new("2026-05-12T12:04:00Z", "heartbeat").node("saturn"),
            Ev::new("2026-05-12T12:05:00Z", "service_unhealthy")
                .node("saturn")
                .service("mosquitto")
                .correlation("hc-1")
                .severity("error")
                .message("port 1883 refused")
                .payload(json!({})),
            Ev::new("2026-05-12T12:05:30Z", "service_healthy").node("saturn").service("grafana"),
            Ev::new("2026-05-12T12:06:00Z", "healthcheck_failed")
                .node("saturn")
                .service("mosquitto")
                .severity("warning"),
            Ev::new("2026-05-12T12:08:00Z", "heartbeat").node("saturn"),
            Ev::new("2026-05-12T12:10:00Z", "service_recovered").node("saturn").service("mosquitto"),
        ]),
    );
    lab.append(
        "events/jupiter.jsonl",
        &lines(&[
            Ev::new("2026-05-12T12:05:10Z", "heartbeat").node("jupiter"),
            Ev::new("2026-05-12T12:07:00Z", "deployment_started")
                .correlation("deploy-caddy-7")
                .node("jupiter")
                .service("caddy"),
            Ev::new("2026-05-12T12:07:30Z", "deployment_stage")
                .correlation("deploy-caddy-7")
                .node("jupiter")
                .service("caddy")
                .payload(json!({"stage": "pull", "status": "ok"})),
            Ev::new("2026-05-12T12:09:00Z", "deployment_succeeded")
                .correlation("deploy-caddy-7")
                .node("jupiter")
                .service("caddy"),
        ]),
    );
}

const INCIDENT: &str = "inc-1778587500-saturn-mosquitto";

fn explain_json(lab: &Homelab, id: &str) -> Value {
    let out = lab.observer(["explain", id, "--json"]).run().success();
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("explain --json is not JSON: {e}\n{}", out.stdout))
}

#[test]
fn the_spec_incident_is_explained_by_exactly_its_three_events_and_what_they_changed() {
    let lab = Homelab::new();
    spec_story(&lab);
    lab.run();
    let text = lab.observer(["explain", INCIDENT]).run().success();
    insta::assert_snapshot!("explain_spec_incident", text.transcript(&lab));
    let json = explain_json(&lab, INCIDENT);
    let mut shown = json.clone();
    shown["read"] = json!("[redacted: depends on the index]");
    insta::assert_snapshot!("explain_spec_incident_json", serde_json::to_string_pretty(&shown).unwrap());

    let events = json["events"].as_array().unwrap();
    let places: Vec<(&str, u64, &str)> = events
        .iter()
        .map(|e| (e["file"].as_str().unwrap(), e["line"].as_u64().unwrap(), e["type"].as_str().unwrap()))
        .collect();
    assert_eq!(
        places,
        [
            ("saturn.jsonl", 2, "service_unhealthy"),
            ("saturn.jsonl", 4, "healthcheck_failed"),
            ("saturn.jsonl", 6, "service_recovered")
        ]
    );
    let changes = |n: usize| -> Vec<(String, String)> {
        events[n]["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["subject"].as_str().unwrap().to_string(), c["change"].as_str().unwrap().to_string()))
            .collect()
    };
    let incident = format!("incident {INCIDENT}");
    let alert = "alert service_unhealthy:saturn/mosquitto".to_string();
    assert!(changes(0).contains(&(incident.clone(), "opened".into())));
    assert!(changes(0).contains(&(alert.clone(), "firing".into())));
    assert!(changes(0).iter().any(|(s, c)| s.ends_with(":firing:1") && c == "decided"), "the page is decided");
    assert_eq!(changes(1)[0], (incident.clone(), "updated".into()));
    assert!(changes(2).contains(&(incident, "resolved".into())));
    assert!(changes(2).contains(&(alert, "resolved".into())));
    assert_eq!(json["agrees_with_world"], true);
}

#[test]
fn each_kind_of_id_resolves() {
    let lab = Homelab::new();
    spec_story(&lab);
    lab.run();
    for (id, kind, first_type) in [
        (INCIDENT, "incident", "service_unhealthy"),
        ("hc-1", "incident", "service_unhealthy"),
        ("service_unhealthy:saturn/mosquitto", "alert", "service_unhealthy"),
        ("deploy-caddy-7", "deployment", "deployment_started"),
        ("saturn/mosquitto", "service", "service_unhealthy"),
        ("jupiter", "node", "heartbeat"),
    ] {
        let json = explain_json(&lab, id);
        assert_eq!(json["kind"], kind, "{id}");
        assert_eq!(json["events"][0]["type"], first_type, "{id}: {json:#}");
    }
    let deployment = explain_json(&lab, "deploy-caddy-7");
    let types: Vec<&str> =
        deployment["events"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["deployment_started", "deployment_stage", "deployment_succeeded"]);
    assert_eq!(deployment["agrees_with_world"], true);
    // An alert that left the hot view (older than retention) is found in
    // world/history/, and explained from the events of its time.
    let old = Homelab::new();
    old.append(
        "events/venus.jsonl",
        &lines(&[
            Ev::new("2026-04-01T12:00:00Z", "service_unhealthy").node("venus").service("db").severity("error"),
            Ev::new("2026-04-01T12:10:00Z", "service_recovered").node("venus").service("db"),
            Ev::new("2026-05-12T12:00:00Z", "heartbeat").node("venus"),
        ]),
    );
    old.run();
    let key = "service_unhealthy:venus/db";
    assert!(old.json("world/alerts.json")["alerts"].get(key).is_none(), "it left the hot view");
    let found = explain_json(&old, key);
    assert_eq!(found["found_in"], "history/alerts-2026-04.jsonl");
    let changes: Vec<&str> = found["events"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["changes"].as_array().unwrap())
        .map(|c| c["change"].as_str().unwrap())
        .collect();
    assert_eq!(changes, ["status", "firing", "decided", "status", "resolved", "decided"]);
}

/// The history is read only for an ID the hot view lacks, only the files
/// of the kind looked up, newest month first, and only lines that contain
/// the ID are parsed (`explain::target`): an incident that left the hot view
/// is still found by its id and by its correlation id, in the newest month
/// that holds it, and the incidents of other months do not match.
#[test]
fn an_incident_that_left_the_hot_view_is_found_in_its_month_by_id_and_by_correlation_id() {
    let lab = Homelab::new();
    lab.append(
        "events/venus.jsonl",
        &lines(&[
            Ev::new("2026-03-01T12:00:00Z", "service_unhealthy").node("venus").service("db").correlation("hc-march"),
            Ev::new("2026-03-01T12:10:00Z", "service_recovered").node("venus").service("db"),
            Ev::new("2026-04-01T12:00:00Z", "service_unhealthy").node("venus").service("db").correlation("hc-\"q\""),
            Ev::new("2026-04-01T12:10:00Z", "service_recovered").node("venus").service("db"),
            Ev::new("2026-05-12T12:00:00Z", "heartbeat").node("venus"),
        ]),
    );
    lab.run();
    let april = "inc-1775044800-venus-db";
    assert!(lab.json("world/incidents.json")["incidents"].get(april).is_none(), "it left the hot view");
    let by_id = explain_json(&lab, april);
    assert_eq!(
        (by_id["kind"].as_str(), by_id["found_in"].as_str()),
        (Some("incident"), Some("history/incidents-2026-04.jsonl"))
    );
    assert_eq!(by_id["from"], "2026-04-01T12:00:00Z");
    assert_eq!(by_id["events"][0]["type"], "service_unhealthy");
    // A correlation id that JSON escapes (quotes) is still found.
    let by_correlation = explain_json(&lab, "hc-\"q\"");
    assert_eq!(by_correlation["id"], april);
    let march = explain_json(&lab, "hc-march");
    assert_eq!(march["found_in"], "history/incidents-2026-03.jsonl");
    assert_eq!(march["from"], "2026-03-01T12:00:00Z");
}

#[test]
fn an_unknown_id_is_a_clear_error_with_close_matches() {
    let lab = Homelab::new();
    spec_story(&lab);
    lab.run();
    let out = lab.observer(["explain", "satrun/mosquitto"]).run().code(1);
    assert!(out.stdout.is_empty());
    for part in [
        "`satrun/mosquitto`",
        "incident id",
        "alert key",
        "correlation id",
        "node/service",
        "close matches: saturn/mosquitto",
    ] {
        assert!(out.stderr.contains(part), "{part} missing from: {}", out.stderr);
    }
    let none = lab.observer(["explain", "zzzzzzzz"]).run().code(1);
    assert!(!none.stderr.contains("close matches"), "{}", none.stderr);
    let fresh = Homelab::new();
    fresh.observer(["explain", INCIDENT]).run().code(1).stderr_has("run `observer run` first");
    assert!(!fresh.path("world").exists() && !fresh.path("state").exists(), "explain creates nothing");
}

#[test]
fn probe_results_show_debounce_pending_and_committed_and_breaker_transitions_with_reasons() {
    let lab = Homelab::new();
    let result = |at: &str, outcome: &str| {
        Ev::new(&format!("2026-05-12T{at}Z"), "probe_result")
            .node("saturn")
            .service("mosquitto")
            .payload(json!({"probe": "port", "outcome": outcome, "latency_ms": 3}))
    };
    let story = [
        result("12:00:00", "ok"),
        result("12:01:00", "critical"),
        result("12:02:00", "critical"),
        result("12:03:00", "critical"),
        result("12:04:00", "critical"),
        result("12:05:00", "critical"),
    ];
    lab.append("events/probes.jsonl", &lines(&story));
    lab.run();
    let json = explain_json(&lab, "saturn/mosquitto");
    let all: Vec<(String, String)> = json["events"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["changes"].as_array().unwrap().iter())
        .map(|c| (c["change"].as_str().unwrap().to_string(), c["text"].as_str().unwrap().to_string()))
        .collect();
    assert!(all.iter().any(|(c, t)| c == "debounce_pending" && t.starts_with("debounce pending: failing")), "{all:?}");
    assert!(all.iter().any(|(c, t)| c == "debounce_committed" && t == "debounce committed: failing"), "{all:?}");
    assert!(all.iter().any(|(c, t)| c == "breaker" && t == "breaker closed → open: 5 consecutive failures"), "{all:?}");
    assert!(all.iter().any(|(c, _)| c == "opened"), "the debounced failure opens an incident: {all:?}");
}

#[test]
fn explain_after_a_history_split_across_runs_equals_explain_after_a_rebuild_and_without_the_index() {
    let lab = Homelab::new();
    // Enough heartbeats before the incident that the index has several
    // blocks and explain reads only some of them.
    let mut early = Vec::new();
    for n in 0..3000 {
        let (h, m, s) = (8 + n / 1200, (n / 20) % 60, (n % 20) * 3);
        early.push(Ev::new(&format!("2026-05-12T{h:02}:{m:02}:{s:02}Z"), "heartbeat").node("saturn"));
    }
    lab.append("events/saturn.jsonl", &lines(&early));
    lab.run();
    lab.append(
        "events/saturn.jsonl",
        &lines(&[Ev::new("2026-05-12T12:05:00Z", "service_unhealthy")
            .node("saturn")
            .service("mosquitto")
            .correlation("hc-1")]),
    );
    lab.run();
    lab.append(
        "events/saturn.jsonl",
        &lines(&[Ev::new("2026-05-12T12:06:00Z", "healthcheck_failed").node("saturn").service("mosquitto")]),
    );
    lab.append("events/other.jsonl", &lines(&[Ev::new("2026-05-12T12:06:30Z", "heartbeat").node("venus")]));
    lab.run();
    lab.append(
        "events/saturn.jsonl",
        &lines(&[Ev::new("2026-05-12T12:10:00Z", "service_recovered").node("saturn").service("mosquitto")]),
    );
    lab.run();
    let split = lab.observer(["explain", INCIDENT]).run().success().stdout;
    let split_json = explain_json(&lab, INCIDENT);
    let size = std::fs::metadata(lab.path("events/saturn.jsonl")).unwrap().len();
    assert!(
        split_json["read"]["bytes"].as_u64().unwrap() < size / 2,
        "explain reads only the blocks around the incident: {} of {size} bytes",
        split_json["read"]["bytes"]
    );
    assert_eq!(split_json["events"].as_array().unwrap().len(), 3);

    lab.observer(["rebuild"]).run().success();
    assert_eq!(lab.observer(["explain", INCIDENT]).run().success().stdout, split, "after a rebuild");
    std::fs::remove_file(lab.path("state/event-index.jsonl")).unwrap();
    let whole = explain_json(&lab, INCIDENT);
    assert_eq!(
        whole["read"]["bytes"].as_u64().unwrap(),
        size + std::fs::metadata(lab.path("events/other.jsonl")).unwrap().len()
    );
    assert_eq!(lab.observer(["explain", INCIDENT]).run().success().stdout, split, "without the index");
}

#[test]
fn explain_never_takes_the_lock_nor_writes() {
    let lab = Homelab::new();
    spec_story(&lab);
    lab.run();
    let before = lab.world_files("world");
    let index = lab.read("state/event-index.jsonl");
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(lab.path("state/.observer.lock"))
        .unwrap();
    lock.try_lock().unwrap();
    lab.observer(["explain", INCIDENT]).run().success();
    lab.observer(["run", "--no-tick"]).run().code(75);
    assert_eq!(lab.world_files("world"), before);
    assert_eq!(lab.read("state/event-index.jsonl"), index);
}

/// A resolved alert's explanation runs to its last notification and the
/// event that let it go: venus's resolve waited for the cooldown (its page
/// went at 12:01, so not before 12:06) and was decided when the 12:07
/// heartbeat moved the clock past it. Before, the stretch ended at
/// `resolved_at` (12:03) and `explain` never showed whether the resolve
/// went out (review of issue 11's thirty-seventh pass).
#[test]
fn a_resolved_alert_is_explained_through_the_resolve_it_waited_to_send() {
    let lab = Homelab::new();
    lab.write("observer.yaml", "alerts:\n  rules:\n    node_stale: {enabled: false}\n");
    lab.append(
        "events/venus.jsonl",
        &lines(&[
            Ev::new("2026-05-12T12:01:00Z", "node_down").node("venus"),
            Ev::new("2026-05-12T12:03:00Z", "heartbeat").node("venus"),
            Ev::new("2026-05-12T12:07:00Z", "heartbeat").node("venus"),
            Ev::new("2026-05-12T12:30:00Z", "heartbeat").node("venus"),
        ]),
    );
    lab.run();
    let key = "node_down:venus";
    let alert = &lab.json("world/alerts.json")["alerts"][key];
    assert_eq!(alert["resolved_at"], "2026-05-12T12:03:00Z");
    assert_eq!(alert["last_notification"]["id"], "node_down:venus@1778587260:resolved:1");
    let json = explain_json(&lab, key);
    let steps: Vec<(&str, Vec<String>)> = json["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let changes = e["changes"].as_array().unwrap();
            let said =
                changes.iter().map(|c| format!("{} {}", c["subject"].as_str().unwrap(), c["change"].as_str().unwrap()));
            (e["ts"].as_str().unwrap(), said.collect())
        })
        .collect();
    let last = steps.last().unwrap();
    assert_eq!(last.0, "2026-05-12T12:07:00Z", "{steps:?}");
    assert!(last.1.iter().any(|c| c.contains("node_down:venus@1778587260:resolved:1")), "{steps:?}");
    assert!(steps.iter().all(|(ts, _)| *ts != "2026-05-12T12:30:00Z"), "only the event that let it go: {steps:?}");

    // Resolved at the end of `keep_firing_for_s` (12:13), taken by the next
    // event, 67 minutes later and of another node.
    let lab = Homelab::new();
    lab.write(
        "observer.yaml",
        "alerts:\n  rules:\n    node_stale: {enabled: false}\n    service_unhealthy: {keep_firing_for_s: 180}\n",
    );
    lab.append(
        "events/saturn.jsonl",
        &lines(&[
            Ev::new("2026-05-12T12:00:00Z", "service_unhealthy").node("saturn").service("a"),
            Ev::new("2026-05-12T12:10:00Z", "service_recovered").node("saturn").service("a"),
            Ev::new("2026-05-12T13:20:00Z", "heartbeat").node("venus"),
        ]),
    );
    lab.run();
    let json = explain_json(&lab, "service_unhealthy:saturn/a");
    let last = json["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["ts"], "2026-05-12T13:20:00Z", "{json:#}");
    let said: Vec<&str> = last["changes"].as_array().unwrap().iter().map(|c| c["change"].as_str().unwrap()).collect();
    assert!(said.contains(&"resolved"), "{json:#}");
}
