//! `observer probe` and `observer run --probe` against real things on
//! loopback: a TCP listener that closes, an HTTP server that starts failing,
//! Nagios-style scripts, a script that hangs, a command that is missing.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::support::Homelab;

fn at(minute: u32, second: u32) -> String {
    format!("2026-05-12T12:{minute:02}:{second:02}Z")
}

/// Runs `observer probe` at a given wall-clock time; returns stdout.
fn probe_at(lab: &Homelab, when: &str) -> String {
    lab.observer(["probe"]).env("OBSERVER_NOW", when).run().success().stdout
}

fn service(lab: &Homelab, key: &str) -> serde_json::Value {
    lab.json("world/services.json")["services"][key].clone()
}

fn declare(lab: &Homelab, service: &str, probes_yaml: &str) {
    lab.write("inventory/hosts/saturn/services.yaml", &format!("services:\n  {service}:\n    probes:\n{probes_yaml}"));
}

#[test]
fn a_tcp_listener_that_closes_turns_the_service_unhealthy_then_circuit_open() {
    let lab = Homelab::new();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    declare(
        &lab,
        "mosquitto",
        &format!(
            "      - name: port\n        tcp: {{host: 127.0.0.1, port: {port}}}\n        interval: 30s\n        timeout: 2s\n"
        ),
    );
    let out = probe_at(&lab, &at(0, 0));
    assert!(out.contains("saturn/mosquitto/port: ok"), "{out}");
    assert_eq!(service(&lab, "saturn/mosquitto")["status"], "unknown", "one result is pending, not committed");
    probe_at(&lab, &at(0, 30));
    assert_eq!(service(&lab, "saturn/mosquitto")["status"], "healthy");
    drop(listener);
    let mut statuses = Vec::new();
    for i in 2..=7 {
        let out = probe_at(&lab, &at(i / 2, (i % 2) * 30));
        assert!(out.contains("critical") || out.contains("skipped"), "{out}");
        statuses.push(service(&lab, "saturn/mosquitto")["status"].as_str().unwrap().to_string());
    }
    assert_eq!(statuses, ["healthy", "unhealthy", "unhealthy", "unhealthy", "circuit_open", "circuit_open"]);
    let s = service(&lab, "saturn/mosquitto");
    assert_eq!(s["checks"]["total"], 7, "the skipped run while open is not a check");
    assert_eq!(s["breaker"]["port"]["state"], "open");
    assert!(s["active_incident"].is_string());
    lab.assert_world_equals_rebuild();
}

#[test]
fn probes_are_not_run_before_their_interval() {
    let lab = Homelab::new();
    declare(&lab, "tool", "      - name: true\n        command: [/bin/true]\n        interval: 5m\n");
    assert!(probe_at(&lab, &at(0, 0)).contains("saturn/tool/true: ok"));
    let out = probe_at(&lab, &at(4, 59));
    assert!(out.contains("no probe is due; the next is due at 2026-05-12T12:05:00Z"), "{out}");
    assert!(probe_at(&lab, &at(5, 0)).contains("saturn/tool/true: ok"));
    assert!(lab.observer(["probe", "--all"]).env("OBSERVER_NOW", &at(5, 1)).run().success().stdout.contains("ok"));
}

/// Answers the first two requests with 200, every later one with 503.
fn flaky_http_server() -> (u16, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let stop = Arc::new(AtomicBool::new(false));
    let stop_flag = stop.clone();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let mut served = 0;
        let deadline = Instant::now() + Duration::from_secs(60);
        while !stop_flag.load(Ordering::Relaxed) && Instant::now() < deadline {
            match listener.accept() {
                Ok((mut stream, _)) => {
                    stream.set_nonblocking(false).unwrap();
                    stream.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                    let mut buf = [0u8; 4096];
                    let _ = stream.read(&mut buf);
                    let (status, body) =
                        if served < 2 { ("200 OK", "all good") } else { ("503 Service Unavailable", "down") };
                    served += 1;
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    (port, stop)
}

#[test]
fn an_http_server_that_answers_200_then_503() {
    let lab = Homelab::new();
    let (port, stop) = flaky_http_server();
    declare(
        &lab,
        "grafana",
        &format!(
            "      - name: web\n        http: {{url: \"http://127.0.0.1:{port}/health\", expect_status: [200], body_contains: good}}\n        interval: 30s\n        timeout: 3s\n        debounce: {{count: 2}}\n"
        ),
    );
    assert!(probe_at(&lab, &at(0, 0)).contains("saturn/grafana/web: ok"));
    probe_at(&lab, &at(0, 30));
    assert_eq!(service(&lab, "saturn/grafana")["status"], "healthy");
    let out = probe_at(&lab, &at(1, 0));
    assert!(out.contains("critical") && out.contains("503"), "{out}");
    let s = service(&lab, "saturn/grafana");
    assert_eq!(s["status"], "healthy", "one failure is pending, not committed");
    assert_eq!(s["probes"]["web"]["pending"]["status"], "failing");
    probe_at(&lab, &at(1, 30));
    assert_eq!(service(&lab, "saturn/grafana")["status"], "unhealthy");
    stop.store(true, Ordering::Relaxed);
    let events = lab.read("events/observer/probes-2026-05-12.jsonl");
    assert!(events.contains(r#""http_status":503"#), "{events}");
}

fn script(lab: &Homelab, name: &str, body: &str) -> String {
    let path = lab.path(&format!("plugins/{name}"));
    lab.write(&format!("plugins/{name}"), &format!("#!/bin/sh\n{body}\n"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    path.display().to_string()
}

#[test]
fn nagios_plugins_map_exit_codes_and_a_hanging_one_is_killed() {
    let lab = Homelab::new();
    let state = lab.path("plugin-exit");
    std::fs::write(&state, "0").unwrap();
    let check = script(
        &lab,
        "check_thing",
        &format!("code=$(cat {})\necho \"THING $code | load=0.5;1;2\"\nexit $code", state.display()),
    );
    let hang = script(&lab, "check_hang", "sleep 30\necho never");
    declare(
        &lab,
        "thing",
        &format!(
            "      - name: plugin\n        command: [{check}]\n        interval: 10s\n      - name: hang\n        command: [{hang}]\n        interval: 10s\n        timeout: 1s\n      - name: missing\n        command: [/nonexistent/check_nothing]\n        interval: 10s\n"
        ),
    );
    let mut outcomes = Vec::new();
    for (i, code) in ["0", "1", "2", "3"].iter().enumerate() {
        std::fs::write(&state, code).unwrap();
        let started = Instant::now();
        let out = probe_at(&lab, &at(i as u32, 0));
        assert!(started.elapsed() < Duration::from_secs(10), "the hanging plugin is killed at its timeout");
        assert!(out.contains("saturn/thing/hang: critical"), "{out}");
        assert!(out.contains("timed out after 1s"), "{out}");
        assert!(out.contains("saturn/thing/missing: unknown") && out.contains("command not found"), "{out}");
        outcomes.push(service(&lab, "saturn/thing")["probes"]["plugin"]["last_outcome"].as_str().unwrap().to_string());
    }
    assert_eq!(outcomes, ["ok", "warning", "critical", "unknown"]);
    let events = lab.read("events/observer/probes-2026-05-12.jsonl");
    assert!(events.contains(r#""perfdata":"load=0.5;1;2""#), "{events}");
    assert!(events.contains(r#""timed_out":true"#));
}

#[test]
fn run_with_probe_ticks_folds_probes_and_never_fails_on_a_probe_failure() {
    let lab = Homelab::new();
    declare(&lab, "thing", "      - name: missing\n        command: [/nonexistent/plugin]\n");
    let out = lab.observer(["run", "--probe"]).env("OBSERVER_NOW", &at(0, 0)).run().success();
    assert!(out.stdout.contains("saturn/thing/missing: unknown"), "{}", out.stdout);
    let summary = lab.summary();
    assert_eq!(summary["counters"]["ticks"], 1);
    assert_eq!(summary["events"]["by_type"]["probe_result"], 1);
    let s = service(&lab, "saturn/thing");
    assert_eq!(s["probes"]["missing"]["last_outcome"], "unknown");
    assert_eq!(s["probes"]["missing"]["pending"]["status"], "failing");
    lab.observer(["run", "--probe"]).env("OBSERVER_NOW", &at(1, 0)).run().success();
    assert_eq!(service(&lab, "saturn/thing")["status"], "unhealthy");
    assert_eq!(lab.summary()["events"]["late"], 0, "the results and the tick are folded in rebuild order");
    lab.assert_world_equals_rebuild();
}

#[test]
fn the_probe_budget_skips_runs_and_is_recorded_once() {
    let lab = Homelab::new();
    lab.write("observer.yaml", "budgets:\n  probe_runs_per_minute: 2\n");
    let probes: String =
        (0..4).map(|i| format!("      - name: t{i}\n        command: [/bin/true]\n        interval: 10s\n")).collect();
    declare(&lab, "tool", &probes);
    let out = probe_at(&lab, &at(0, 0));
    assert_eq!(out.matches(": ok").count(), 2, "{out}");
    assert_eq!(out.matches("skipped").count(), 2, "{out}");
    assert!(out.contains("probe budget exhausted"), "{out}");
    probe_at(&lab, &at(0, 10));
    let summary = lab.summary();
    assert_eq!(summary["events"]["by_type"]["budget_exhausted"], 1, "one warning per exhaustion");
    assert_eq!(summary["budgets"]["probe_runs_per_minute"]["exhausted"], true);
    lab.observer(["probe", "--only", "saturn/tool/t0"]).env("OBSERVER_NOW", &at(1, 10)).run().success();
    assert_eq!(lab.summary()["budgets"]["probe_runs_per_minute"]["exhausted"], false, "the window slid");
}

#[test]
fn validate_reports_bad_probe_definitions_with_file_and_line() {
    let lab = Homelab::new();
    lab.write(
        "inventory/hosts/saturn/services.yaml",
        "services:\n  mosquitto:\n    probes:\n      - name: port\n        tcp: {host: x, port: 1}\n        http: {url: \"http://x/\"}\n      - name: slow\n        command: [/bin/true]\n        interval: soon\n",
    );
    let out = lab.observer(["validate"]).run().code(1);
    assert!(
        out.stdout.contains("services.yaml:4:")
            || out.stdout.contains("services.yaml:5:")
            || out.stdout.contains("services.yaml:6:"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("exactly one of tcp, http, command, path, disk"), "{}", out.stdout);
}

#[test]
fn every_exhaustion_of_the_probe_budget_is_recorded_and_no_probe_starves() {
    let lab = Homelab::new();
    lab.write("observer.yaml", "budgets:\n  probe_runs_per_minute: 2\n");
    let probes: String =
        ["a", "b", "c"].iter().map(|n| format!("      - name: {n}\n        path: /\n        interval: 1s\n")).collect();
    declare(&lab, "tool", &probes);
    let mut ran_c = false;
    for minute in [0, 2, 4] {
        let out = probe_at(&lab, &at(minute, 0));
        ran_c |= out.contains("saturn/tool/c: ok");
        assert_eq!(lab.summary()["budgets"]["probe_runs_per_minute"]["exhausted"], true, "{out}");
    }
    assert!(ran_c, "the probe cut first gets its turn");
    assert_eq!(lab.summary()["events"]["by_type"]["budget_exhausted"], 3);
}

#[test]
fn a_huge_interval_does_not_panic() {
    let lab = Homelab::new();
    declare(&lab, "tool", "      - name: t\n        path: /\n        interval: 9223372036854775\n");
    probe_at(&lab, &at(0, 0));
    assert!(probe_at(&lab, &at(0, 10)).contains("no probe is due"));
}

#[test]
fn a_skipped_timeout_outcome_is_refused_in_the_config() {
    let lab = Homelab::new();
    lab.write("observer.yaml", "health:\n  timeout_outcome: skipped\n");
    lab.observer(["validate"]).run().code(1).stdout_has("timeout_outcome");
}

#[test]
fn the_same_host_in_both_inventory_layouts_is_a_problem_not_twice_the_probes() {
    let lab = Homelab::new();
    let yaml = "services:\n  tool:\n    probes:\n      - path: /\n";
    lab.write("inventory/hosts/saturn/services.yaml", yaml);
    lab.write("inventory/inventory/hosts/saturn/services.yaml", yaml);
    lab.observer(["validate"]).run().code(1).stdout_has("is also declared in");
}
