//! The health engine replayed from recorded `probe_result` events, with no
//! prober: breaker, debounce, uptime, service status and incidents (SPEC §5).

use crate::support::Homelab;

/// A probe result of `saturn/mosquitto/port` at 12:MM:SS.
fn result(at: &str, outcome: &str) -> String {
    format!(
        r#"{{"ts":"2026-05-12T{at}Z","type":"probe_result","node":"saturn","service":"mosquitto","payload":{{"probe":"port","outcome":"{outcome}","latency_ms":3}}}}"#
    ) + "\n"
}

fn tick(at: &str) -> String {
    format!(r#"{{"ts":"2026-05-12T{at}Z","type":"tick"}}"#) + "\n"
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
    assert_eq!(lab.summary()["breakers"], serde_json::json!({"closed": 1, "open": 0, "half_open": 0}));
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
    assert_eq!(s["since"], "2026-05-12T12:00:00Z", "the status never changed");
    assert_eq!(s["active_incident"], serde_json::Value::Null);
    assert_eq!(lab.json("world/incidents.json")["incidents"], serde_json::json!({}));
    assert_eq!(s["checks"]["total"], 6);
    assert_eq!(s["checks"]["successful"], 5);
}

#[test]
fn a_failure_that_holds_is_committed_and_opens_an_incident_then_pending_is_visible() {
    let lab = Homelab::new();
    lab.write("events/probes.jsonl", &(result("12:00:00", "ok") + &result("12:00:10", "critical")));
    lab.run();
    let s = service(&lab);
    assert_eq!(s["status"], "healthy");
    assert_eq!(
        s["probes"]["port"]["pending"],
        serde_json::json!({"status": "failing", "since": "2026-05-12T12:00:10Z", "count": 1})
    );
    lab.append("events/probes.jsonl", &result("12:00:40", "critical"));
    lab.run();
    let s = service(&lab);
    assert_eq!(s["status"], "unhealthy", "held for debounce_s (30 s)");
    assert_eq!(s["probes"]["port"]["pending"], serde_json::Value::Null);
    let incident_id = s["active_incident"].as_str().unwrap().to_string();
    assert_eq!(incident_id, "inc-1778587240-saturn-mosquitto");
    let incident = &lab.json("world/incidents.json")["incidents"][&incident_id];
    assert_eq!(incident["severity"], "critical");
    assert_eq!(incident["status"], "active");
    lab.assert_world_equals_rebuild();
}

#[test]
fn warnings_make_a_service_degraded_without_an_incident() {
    let lab = Homelab::new();
    let text = result("12:00:00", "ok")
        + &result("12:00:10", "warning")
        + &result("12:00:20", "warning")
        + &result("12:00:30", "warning");
    lab.write("events/probes.jsonl", &text);
    lab.run();
    assert_eq!(service(&lab)["status"], "degraded");
    assert_eq!(lab.summary()["overall_health"], "unhealthy", "no service is healthy");
    assert_eq!(lab.json("world/incidents.json")["incidents"], serde_json::json!({}));
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
