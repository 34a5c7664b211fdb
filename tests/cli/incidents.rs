//! SPEC §4: the incident of the design documents, exactly.

use serde_json::json;

use crate::support::{Ev, Homelab, lines};

const SPEC_INCIDENT: &str = r#"{"id":"inc-1778587500-saturn-mosquitto","node":"saturn","service":"mosquitto",
 "status":"resolved","severity":"error","started_at":"2026-05-12T12:05:00Z",
 "last_occurrence":"2026-05-12T12:06:00Z","occurrence_count":2,
 "events":["2026-05-12T12:05:00Z","2026-05-12T12:06:00Z"],
 "correlation_id":"hc-1","resolved_at":"2026-05-12T12:10:00Z"}"#;

fn spec_story(lab: &Homelab) {
    lab.append(
        "events/saturn.jsonl",
        &lines(&[
            Ev::new("2026-05-12T12:05:00Z", "service_unhealthy")
                .node("saturn")
                .service("mosquitto")
                .correlation("hc-1")
                .severity("error")
                .message("port 1883 refused")
                .payload(json!({})),
            Ev::new("2026-05-12T12:06:00Z", "healthcheck_failed")
                .node("saturn")
                .service("mosquitto")
                .severity("warning"),
            Ev::new("2026-05-12T12:10:00Z", "service_recovered").node("saturn").service("mosquitto"),
        ]),
    );
}

#[test]
fn the_spec_incident_comes_out_exactly() {
    let lab = Homelab::new();
    spec_story(&lab);
    lab.run();
    let incidents = lab.json("world/incidents.json");
    let expected: serde_json::Value = serde_json::from_str(SPEC_INCIDENT).unwrap();
    assert_eq!(incidents["incidents"]["inc-1778587500-saturn-mosquitto"], expected);
    // Field order is part of the contract, not only the values.
    let text = lab.world("incidents.json");
    let order = [
        "\"id\"",
        "\"node\"",
        "\"service\"",
        "\"status\"",
        "\"severity\"",
        "\"started_at\"",
        "\"last_occurrence\"",
        "\"occurrence_count\"",
        "\"events\"",
        "\"correlation_id\"",
        "\"resolved_at\"",
    ];
    let positions: Vec<usize> = order.iter().map(|key| text.find(key).unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "fields out of order:\n{text}");
}

#[test]
fn a_failure_after_resolution_opens_a_new_incident() {
    let lab = Homelab::new();
    spec_story(&lab);
    lab.run();
    lab.append(
        "events/saturn.jsonl",
        &Ev::new("2026-05-12T12:30:00Z", "service_unhealthy").node("saturn").service("mosquitto").line(),
    );
    lab.run();
    let incidents = &lab.json("world/incidents.json")["incidents"];
    assert_eq!(incidents["inc-1778587500-saturn-mosquitto"]["status"], "resolved");
    let new = &incidents["inc-1778589000-saturn-mosquitto"];
    assert_eq!(new["status"], "active");
    assert_eq!(new["occurrence_count"], 1);
    assert_eq!(new["severity"], "error");
    assert_eq!(new["resolved_at"], serde_json::Value::Null);
    let services = lab.json("world/services.json");
    assert_eq!(services["services"]["saturn/mosquitto"]["status"], "unhealthy");
    assert_eq!(services["services"]["saturn/mosquitto"]["active_incident"], "inc-1778589000-saturn-mosquitto");
    lab.assert_world_equals_rebuild();
}

#[test]
fn inventory_services_are_unknown_until_an_event_speaks_of_them() {
    let lab = Homelab::new();
    lab.write("inventory/topology.yaml", "nodes:\n  saturn:\n    roles: [mqtt]\n  venus:\n    roles: [media]\n");
    lab.write("inventory/hosts/saturn/services.yaml", "services:\n  mosquitto: {}\n  zigbee2mqtt: {}\n");
    lab.append("events/a.jsonl", &Ev::new("2026-05-12T12:00:00Z", "heartbeat").node("saturn").line());
    lab.append(
        "events/a.jsonl",
        &Ev::new("2026-05-12T12:00:10Z", "service_healthy").node("saturn").service("mosquitto").line(),
    );
    lab.observer(["--inventory", lab.path("inventory").to_str().unwrap(), "run", "--no-tick"]).run().success();
    let services = lab.json("world/services.json");
    assert_eq!(services["services"]["saturn/zigbee2mqtt"]["status"], "unknown");
    assert_eq!(services["services"]["saturn/mosquitto"]["status"], "healthy");
    let nodes = lab.json("world/nodes.json");
    assert_eq!(nodes["nodes"]["saturn"]["roles"], json!(["mqtt"]));
    assert_eq!(nodes["nodes"]["saturn"]["status"], "up");
    assert_eq!(nodes["nodes"]["venus"]["status"], "unknown");
    assert_eq!(nodes["nodes"]["saturn"]["services"], json!(["mosquitto", "zigbee2mqtt"]));
}

#[test]
fn a_node_without_heartbeat_for_five_minutes_of_engine_clock_is_stale() {
    let lab = Homelab::new();
    lab.append("events/a.jsonl", &Ev::new("2026-05-12T12:00:00Z", "heartbeat").node("venus").line());
    lab.append("events/a.jsonl", &Ev::new("2026-05-12T12:00:00Z", "heartbeat").node("mars").line());
    lab.append("events/a.jsonl", &Ev::new("2026-05-12T12:05:00Z", "heartbeat").node("mars").line());
    lab.run();
    assert_eq!(lab.json("world/nodes.json")["nodes"]["venus"]["status"], "up", "exactly 5 minutes is not yet stale");
    lab.append("events/a.jsonl", &Ev::new("2026-05-12T12:05:01Z", "heartbeat").node("mars").line());
    lab.run();
    let nodes = lab.json("world/nodes.json");
    assert_eq!(nodes["nodes"]["venus"]["status"], "stale");
    assert_eq!(nodes["nodes"]["mars"]["status"], "up");
    assert_eq!(lab.summary()["nodes"]["stale"], 1);
}

#[test]
fn deployments_track_stages_markers_and_diagnostics() {
    let lab = Homelab::new();
    lab.write("logs/deploy/d1.log", "boom\n");
    lab.write("state/deployments/d1/migrate.json", r#"{"status":"failed","ts":"2026-05-12T12:03:00Z"}"#);
    lab.write("state/deployments/d1/backup", "");
    let events = [
        Ev::new("2026-05-12T12:00:00Z", "deployment_started").correlation("d1").node("jupiter").service("grafana"),
        Ev::new("2026-05-12T12:01:00Z", "deployment_stage")
            .correlation("d1")
            .payload(json!({"stage": "pull", "status": "completed"})),
        Ev::new("2026-05-12T12:05:30Z", "deployment_failed")
            .correlation("d1")
            .payload(json!({"diagnostics": ["deploy/d1.log", "deploy/none.log"]})),
        Ev::new("2026-05-12T12:06:00Z", "deployment_started").correlation("d2").node("jupiter"),
    ];
    lab.write("events/deploy.jsonl", &lines(&events));
    lab.run();
    let d = lab.json("world/deployments.json");
    let d1 = &d["deployments"]["d1"];
    assert_eq!(d1["status"], "failed");
    assert_eq!(d1["duration_s"], 330);
    assert_eq!(d1["node"], "jupiter");
    let stages: Vec<&str> = d1["stages"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(stages, ["pull", "migrate", "backup"], "in time order, untimed markers last");
    assert_eq!(d1["stages"][1]["status"], "failed");
    assert_eq!(d1["diagnostics"][0], json!({"path":"deploy/d1.log","exists":true,"size":5,"refused":null}));
    assert_eq!(d1["diagnostics"][1]["exists"], false);
    assert_eq!(d["deployments"]["d2"]["status"], "running");
    assert_eq!(lab.summary()["running_deployments"], json!(["d2"]));
}

#[test]
fn a_marker_directory_made_after_a_run_is_seen_by_the_next_run() {
    // The checkpoint lists only the deployments with a marker directory or
    // diagnostics, for no-op runs to look at; a new marker directory for any
    // other deployment changes the stamp of `state/deployments/`.
    let lab = Homelab::new();
    let events = [
        Ev::new("2026-05-12T12:00:00Z", "deployment_started").correlation("d1").node("jupiter").service("grafana"),
        Ev::new("2026-05-12T12:02:00Z", "deployment_succeeded").correlation("d1"),
    ];
    lab.write("events/deploy.jsonl", &lines(&events));
    lab.run();
    assert_eq!(lab.json("world/deployments.json")["deployments"]["d1"]["stages"], json!([]));
    lab.write("state/deployments/d1/verify.json", r#"{"status":"completed","ts":"2026-05-12T12:01:00Z"}"#);
    lab.observer(["run", "--no-tick"]).run().success();
    let stages = &lab.json("world/deployments.json")["deployments"]["d1"]["stages"];
    assert_eq!(stages[0]["name"], "verify", "{stages}");
    // And a marker written into a directory that is already there.
    lab.write("state/deployments/d1/smoke", "");
    lab.observer(["run", "--no-tick"]).run().success();
    let stages = &lab.json("world/deployments.json")["deployments"]["d1"]["stages"];
    assert_eq!(stages[1]["name"], "smoke", "{stages}");
}

#[cfg(unix)]
#[test]
fn diagnostics_that_leave_logs_are_refused_and_reported_never_read() {
    let lab = Homelab::new();
    lab.write("secret.txt", "password\n");
    std::os::unix::fs::symlink(lab.path("secret.txt"), lab.path("logs/escape.log")).unwrap();
    // A FIFO blocks whoever opens it: the run finishing proves diagnostics
    // are only looked at, never read.
    let fifo = lab.path("logs/fifo.log");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    lab.write(
        "events/deploy.jsonl",
        &Ev::new("2026-05-12T12:00:00Z", "deployment_failed")
            .correlation("d1")
            .payload(json!({"diagnostics": ["../secret.txt", "escape.log", "fifo.log"]}))
            .line(),
    );
    let out = lab.observer(["run", "--no-tick"]).run().success();
    assert!(out.stderr.contains("`../secret.txt` refused"), "{}", out.stderr);
    assert!(out.stderr.contains("`escape.log` refused"), "{}", out.stderr);
    let diagnostics = &lab.json("world/deployments.json")["deployments"]["d1"]["diagnostics"];
    assert!(diagnostics[0]["refused"].as_str().unwrap().contains(".."));
    assert!(diagnostics[1]["refused"].as_str().unwrap().contains("symlink"));
    assert_eq!(diagnostics[1]["exists"], false);
    assert_eq!(diagnostics[1]["size"], serde_json::Value::Null, "the size of the outside file must not leak");
    assert_eq!(diagnostics[2]["exists"], true);
    assert!(!lab.world("deployments.json").contains("password"));
}
