//! The health engine replayed from recorded `probe_result` events, with no
//! prober: breaker, debounce, uptime, service status and incidents (SPEC §5).

use serde_json::json;

use crate::support::{Ev, Homelab};

/// A probe result of `saturn/mosquitto/port` at 12:MM:SS.
fn result(at: &str, outcome: &str) -> String {
    mosquitto(at).payload(json!({"probe": "port", "outcome": outcome, "latency_ms": 3})).line()
}

/// A result of another probe of `saturn/mosquitto`, without a latency.
fn probe_result(at: &str, probe: &str, outcome: &str) -> Ev {
    mosquitto(at).payload(json!({"probe": probe, "outcome": outcome}))
}

fn mosquitto(at: &str) -> Ev {
    Ev::new(&format!("2026-05-12T{at}Z"), "probe_result").node("saturn").service("mosquitto")
}

fn tick(at: &str) -> String {
    Ev::new(&format!("2026-05-12T{at}Z"), "tick").line()
}

fn service(lab: &Homelab) -> serde_json::Value {
    lab.json("world/services.json")["services"]["saturn/mosquitto"].clone()
}

fn breaker_state(lab: &Homelab) -> String {
    service(lab)["breaker"]["port"]["state"].as_str().unwrap().to_string()
}

#[test]
fn the_breaker_opens_half_opens_reopens_and_closes() {
    let lab = Homelab::new();
    lab.append("events/probes.jsonl", &result("12:00:00", "ok"));
    for (i, at) in ["12:01:00", "12:02:00", "12:03:00", "12:04:00"].iter().enumerate() {
        lab.append("events/probes.jsonl", &result(at, "critical"));
        lab.run();
        assert_eq!(breaker_state(&lab), "closed", "{} failures", i + 1);
    }
    lab.append("events/probes.jsonl", &result("12:05:00", "critical"));
    lab.run();
    let s = service(&lab);
    assert_eq!(s["breaker"]["port"]["state"], "open");
    assert_eq!(s["breaker"]["port"]["reason"], "5 consecutive failures");
    assert_eq!(s["status"], "circuit_open");
    // Skipped runs while open are not checks.
    lab.append("events/probes.jsonl", &result("12:05:30", "skipped"));
    lab.append("events/probes.jsonl", &tick("12:05:59"));
    lab.run();
    assert_eq!(breaker_state(&lab), "open", "59 s is not yet the 60 s timeout");
    assert_eq!(service(&lab)["checks"]["total"], 6);
    lab.append("events/probes.jsonl", &tick("12:06:00"));
    lab.run();
    assert_eq!(breaker_state(&lab), "half_open", "timeout_s passed: one request is admitted");
    lab.append("events/probes.jsonl", &result("12:06:10", "critical"));
    lab.run();
    assert_eq!(breaker_state(&lab), "open", "a failure while half-open opens it again");
    assert_eq!(service(&lab)["breaker"]["port"]["reason"], "a probe failed while half-open");
    lab.append("events/probes.jsonl", &(result("12:07:10", "ok") + &result("12:07:40", "ok")));
    lab.run();
    let s = service(&lab);
    assert_eq!(s["breaker"]["port"]["state"], "closed", "two successes close it");
    assert_eq!(s["breaker"]["port"]["reason"], "2 consecutive successes while half-open");
    let reasons: Vec<&str> =
        s["breaker"]["port"]["transitions"].as_array().unwrap().iter().map(|t| t["to"].as_str().unwrap()).collect();
    assert_eq!(reasons, ["open", "half_open", "open", "half_open", "closed"]);
    assert_eq!(s["status"], "healthy");
    let incidents = lab.json("world/incidents.json");
    let incident = incidents["incidents"].as_object().unwrap().values().next().unwrap();
    assert_eq!(incident["status"], "resolved", "the debounced recovery resolves the incident");
    assert_eq!(incident["resolved_at"], "2026-05-12T12:07:40Z");
    assert_eq!(lab.summary()["breakers"], json!({"closed": 1, "open": 0, "half_open": 0}));
    lab.assert_world_equals_rebuild();
}

#[test]
fn a_single_failed_check_among_successes_changes_nothing() {
    let lab = Homelab::new();
    let text = ["12:00:00", "12:00:30", "12:01:00"].iter().map(|at| result(at, "ok")).collect::<String>()
        + &result("12:01:30", "critical")
        + &result("12:02:00", "ok")
        + &result("12:02:30", "ok");
    lab.write("events/probes.jsonl", &text);
    lab.run();
    let s = service(&lab);
    assert_eq!(s["status"], "healthy");
    assert_eq!(s["since"], "2026-05-12T12:00:30Z", "committed once two results held 30 s; never changed after");
    assert_eq!(s["active_incident"], serde_json::Value::Null);
    assert_eq!(lab.json("world/incidents.json")["incidents"], json!({}));
    assert_eq!(s["checks"]["total"], 6);
    assert_eq!(s["checks"]["successful"], 5);
}

#[test]
fn a_failure_that_holds_is_committed_and_opens_an_incident_then_pending_is_visible() {
    let lab = Homelab::new();
    lab.write("events/probes.jsonl", &result("12:00:00", "ok"));
    lab.run();
    assert_eq!(service(&lab)["status"], "unknown", "a first result alone commits nothing");
    assert_eq!(service(&lab)["probes"]["port"]["pending"]["status"], "ok");
    lab.append("events/probes.jsonl", &(result("12:00:30", "ok") + &result("12:00:40", "critical")));
    lab.run();
    let s = service(&lab);
    assert_eq!(s["status"], "healthy");
    assert_eq!(
        s["probes"]["port"]["pending"],
        json!({"status": "failing", "since": "2026-05-12T12:00:40Z", "count": 1})
    );
    lab.append("events/probes.jsonl", &result("12:01:10", "critical"));
    lab.run();
    let s = service(&lab);
    assert_eq!(s["status"], "unhealthy", "held for debounce_s (30 s)");
    assert_eq!(s["probes"]["port"]["pending"], serde_json::Value::Null);
    let incident_id = s["active_incident"].as_str().unwrap().to_string();
    assert_eq!(incident_id, "inc-1778587270-saturn-mosquitto");
    let incident = &lab.json("world/incidents.json")["incidents"][&incident_id];
    assert_eq!(incident["severity"], "critical");
    assert_eq!(incident["status"], "active");
    lab.assert_world_equals_rebuild();
}

#[test]
fn warnings_make_a_service_degraded_without_an_incident() {
    let lab = Homelab::new();
    let text = result("12:00:00", "ok")
        + &result("12:00:30", "ok")
        + &result("12:00:40", "warning")
        + &result("12:00:50", "warning")
        + &result("12:01:00", "warning");
    lab.write("events/probes.jsonl", &text);
    lab.run();
    assert_eq!(service(&lab)["status"], "degraded");
    assert_eq!(lab.summary()["overall_health"], "unhealthy", "no service is healthy");
    assert_eq!(lab.json("world/incidents.json")["incidents"], json!({}));
}

#[test]
fn uptime_counts_executed_checks_only_to_two_decimals() {
    let lab = Homelab::new();
    let text = result("12:00:00", "ok")
        + &result("12:00:30", "ok")
        + &result("12:01:00", "critical")
        + &result("12:01:30", "skipped")
        + &result("12:02:00", "skipped");
    lab.write("events/probes.jsonl", &text);
    lab.run();
    let checks = &service(&lab)["checks"];
    assert_eq!(checks["total"], 3);
    assert_eq!(checks["successful"], 2);
    assert_eq!(checks["uptime_percentage"], 66.67);
    assert_eq!(checks["last_latency_ms"], 3);
    assert_eq!(service(&lab)["probes"]["port"]["skipped"], 2);
}

#[test]
fn probe_overrides_from_the_inventory_change_the_thresholds() {
    let lab = Homelab::new();
    lab.write(
        "inventory/hosts/saturn/services.yaml",
        "services:\n  mosquitto:\n    probes:\n      - name: port\n        tcp: {host: 127.0.0.1, port: 1883}\n        breaker: {failure_threshold: 2}\n        debounce: {count: 1}\n",
    );
    let text = result("12:00:00", "ok") + &result("12:00:05", "critical") + &result("12:00:06", "critical");
    lab.write("events/probes.jsonl", &text);
    lab.run();
    let s = service(&lab);
    assert_eq!(s["breaker"]["port"]["state"], "open");
    assert_eq!(s["probes"]["port"]["status"], "failing");
}

#[test]
fn probe_results_split_across_runs_equal_a_rebuild() {
    let lab = Homelab::new();
    let outcomes = [
        "ok", "critical", "critical", "warning", "critical", "critical", "critical", "ok", "skipped", "ok", "ok",
        "unknown",
    ];
    for (i, outcome) in outcomes.iter().enumerate() {
        lab.append("events/probes.jsonl", &result(&format!("12:{:02}:{:02}", i * 41 / 60, (i * 41) % 60), outcome));
        if i % 3 == 0 {
            lab.run();
        }
    }
    lab.append("events/probes.jsonl", &tick("12:30:00"));
    lab.run();
    lab.assert_world_equals_rebuild();
}

#[test]
fn a_breaker_closing_while_still_failing_adds_no_occurrence() {
    let lab = Homelab::new();
    let mut text = result("12:00:00", "ok") + &result("12:00:30", "ok");
    for at in ["12:01:00", "12:01:10", "12:01:20", "12:01:30", "12:01:40"] {
        text += &result(at, "critical");
    }
    text += &tick("12:02:40");
    text += &(result("12:02:45", "ok") + &result("12:02:50", "ok"));
    lab.write("events/probes.jsonl", &text);
    lab.run();
    let s = service(&lab);
    assert_eq!(s["breaker"]["port"]["state"], "closed");
    assert_eq!(s["status"], "unhealthy", "the debounced status is still failing");
    let incident = &lab.json("world/incidents.json")["incidents"][s["active_incident"].as_str().unwrap()];
    assert_eq!(incident["occurrence_count"], 1, "closing the breaker is not a new failure");
}

#[test]
fn a_removed_probe_with_an_open_breaker_stops_speaking_for_its_service() {
    let lab = Homelab::new();
    let declare = |probes: &str| {
        lab.write("inventory/hosts/saturn/services.yaml", &format!("services:\n  mosquitto:\n    probes:\n{probes}"));
    };
    declare("      - name: port\n        tcp: {host: 127.0.0.1, port: 1}\n      - name: alive\n        path: /\n");
    let mut text = String::new();
    for at in ["12:00:00", "12:00:30", "12:01:00", "12:01:30", "12:02:00"] {
        text += &result(at, "critical");
        text += &probe_result(at, "alive", "ok").line();
    }
    lab.write("events/probes.jsonl", &text);
    lab.run();
    assert_eq!(service(&lab)["status"], "circuit_open");
    declare("      - name: alive\n        path: /\n");
    lab.append("events/probes.jsonl", &probe_result("12:02:30", "alive", "ok").line());
    lab.run();
    assert_eq!(service(&lab)["status"], "healthy");
    assert_eq!(service(&lab)["active_incident"], serde_json::Value::Null);
}

#[test]
fn a_lowered_breaker_timeout_applies_to_a_breaker_already_open() {
    let lab = Homelab::new();
    lab.write("observer.yaml", "breaker:\n  timeout_s: 600\n");
    let text: String =
        ["12:00:00", "12:00:01", "12:00:02", "12:00:03", "12:00:04"].iter().map(|at| result(at, "critical")).collect();
    lab.write("events/probes.jsonl", &text);
    lab.run();
    assert_eq!(breaker_state(&lab), "open");
    lab.write("observer.yaml", "breaker:\n  timeout_s: 60\n");
    lab.append("events/probes.jsonl", &tick("12:02:00"));
    lab.run();
    assert_eq!(breaker_state(&lab), "half_open");
    lab.assert_world_equals_rebuild();
}

/// Regression (issue 9): `status` read the world as untyped JSON, and its
/// services line had drifted from `runtime-summary.json`: a service held by
/// an open breaker was listed, but not counted.
#[test]
fn status_counts_a_service_held_by_an_open_breaker() {
    let lab = Homelab::new();
    let text: String =
        ["12:00:00", "12:00:01", "12:00:02", "12:00:03", "12:00:04"].iter().map(|at| result(at, "critical")).collect();
    lab.write("events/probes.jsonl", &text);
    lab.run();
    assert_eq!(service(&lab)["status"], "circuit_open");
    lab.observer(["status"])
        .run()
        .success()
        .stdout_has("services: 1 total, 0 healthy, 0 degraded, 0 unhealthy, 0 unknown, 1 circuit_open\n")
        .stdout_has("  saturn/mosquitto: circuit_open since 2026-05-12T12:00:04Z\n");
    let json: serde_json::Value =
        serde_json::from_str(&lab.observer(["status", "--json"]).run().success().stdout).unwrap();
    assert_eq!(json["services"]["circuit_open"], 1);
    assert_eq!(json["services_not_healthy"][0]["status"], "circuit_open");
}
