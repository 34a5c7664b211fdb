//! emit, validate, status, rebuild --until, config, completions and the
//! conventions every command follows.

use std::process::Stdio;

use serde_json::json;

use crate::support::{Ev, Homelab, Stream, lines};

#[test]
fn emit_writes_one_valid_event_that_the_next_run_folds() {
    let lab = Homelab::new();
    let out = lab
        .observer([
            "emit",
            "--type",
            "service_unhealthy",
            "--node",
            "saturn",
            "--service",
            "mosquitto",
            "--severity",
            "error",
            "--ts",
            "2026-05-12T12:05:00+02:00",
            "--message",
            "port 1883 refused",
        ])
        .run()
        .success();
    let path = out.stdout.trim();
    assert!(path.contains("events/emit/") && path.ends_with(".json"), "{path}");
    let written: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(written["node"], "saturn");
    lab.run();
    assert_eq!(lab.json("world/services.json")["services"]["saturn/mosquitto"]["since"], "2026-05-12T10:05:00Z");
}

#[test]
fn emit_refuses_an_invalid_event_and_writes_nothing() {
    let lab = Homelab::new();
    lab.observer(["emit", "--type", "heartbeat"]).run().code(1).stderr_has("`heartbeat` events need a `node`");
    lab.observer(["emit", "--json", "-"])
        .stdin("{\"type\":\"tick\",\"ts\":\"soon\"}")
        .run()
        .code(1)
        .stderr_has("field `ts`");
    assert!(!lab.path("events/emit").exists() || std::fs::read_dir(lab.path("events/emit")).unwrap().next().is_none());
}

#[test]
fn concurrent_emits_never_tear_or_lose_an_event() {
    let lab = Homelab::new();
    let children: Vec<_> = (0..24)
        .map(|i| {
            let mut invocation = lab.observer([
                "emit".to_string(),
                "--json".to_string(),
                Ev::new("2026-05-12T12:00:00Z", "heartbeat").node(&format!("n{i}")).message(&"x".repeat(20_000)).json(),
            ]);
            invocation.command.stdout(Stdio::null()).stderr(Stdio::piped());
            invocation.command.spawn().unwrap()
        })
        .collect();
    for child in children {
        assert!(child.wait_with_output().unwrap().status.success());
    }
    lab.run();
    let summary = lab.summary();
    assert_eq!(summary["events"]["total"], 24);
    assert_eq!(summary["events"]["rejected"], 0);
    assert_eq!(summary["nodes"]["total"], 24);
}

#[test]
fn validate_lists_every_problem_with_file_and_line() {
    let lab = Homelab::new();
    lab.write("events/a.jsonl", &(Ev::new("2026-05-12T12:00:00Z", "tick").line() + "{oops\n"));
    lab.write("inventory/topology.yaml", "nodes:\n  saturn:\n    roles: [mqtt\n");
    lab.write("observer.yaml", "nodes:\n  stale_after_s: 300\nretention:\n  dayz: 3\n");
    let out = lab.observer(["validate"]).run().code(1);
    assert!(out.stdout.contains("a.jsonl:2: not valid JSON"), "{}", out.stdout);
    assert!(out.stdout.contains("topology.yaml:3:") || out.stdout.contains("topology.yaml:4:"), "{}", out.stdout);
    assert!(out.stdout.contains("observer.yaml:4: retention: unknown field `dayz`"), "{}", out.stdout);
    assert!(out.stderr.contains("3 problems"), "{}", out.stderr);
    // A run refuses a broken inventory instead of writing a world without it.
    std::fs::remove_file(lab.path("observer.yaml")).unwrap();
    lab.observer(["run", "--no-tick"]).run().code(1).stderr_has("the inventory has problems");
}

#[test]
fn validate_passes_a_clean_homelab() {
    let lab = Homelab::new();
    lab.write("events/a.jsonl", &Ev::new("2026-05-12T12:00:00Z", "tick").line());
    lab.observer(["validate"]).run().success();
}

#[test]
fn rebuild_until_shows_a_past_moment_without_touching_live_state() {
    let lab = Homelab::new();
    let events = [
        Ev::new("2026-05-12T12:05:00Z", "service_unhealthy").node("saturn").service("mosquitto"),
        Ev::new("2026-05-12T12:10:00Z", "service_recovered").node("saturn").service("mosquitto"),
    ];
    lab.write("events/a.jsonl", &lines(&events));
    lab.run();
    let live = lab.world_files("world");
    let checkpoint = lab.read("state/observer_checkpoint.json");
    let out = lab.path("past");
    lab.observer(["rebuild", "--until", "2026-05-12T12:07:00Z", "--out", out.to_str().unwrap()]).run().success();
    let past = lab.json("past/incidents.json");
    assert_eq!(past["as_of"], "2026-05-12T12:05:00Z");
    assert_eq!(past["incidents"]["inc-1778587500-saturn-mosquitto"]["status"], "active");
    assert_eq!(lab.world_files("world"), live);
    assert_eq!(lab.read("state/observer_checkpoint.json"), checkpoint);
    // --until without --out would overwrite the live world with the past: refused.
    lab.observer(["rebuild", "--until", "2026-05-12T12:07:00Z"]).run().code(2);
}

#[test]
fn status_summarizes_problems_and_freshness() {
    let lab = Homelab::new();
    let events = [
        Ev::new("2026-05-12T12:00:00Z", "heartbeat").node("saturn"),
        Ev::new("2026-05-12T12:05:00Z", "service_unhealthy").node("saturn").service("mosquitto").severity("critical"),
        Ev::new("2026-05-12T12:06:00Z", "service_healthy").node("saturn").service("grafana"),
        Ev::new("2026-05-12T12:07:00Z", "deployment_started").correlation("dep-7").node("saturn").service("grafana"),
    ];
    lab.write("events/a.jsonl", &(lines(&events) + "nope\n"));
    lab.run();
    let out = lab.observer(["status"]).run().success();
    for expected in [
        "overall health: degraded",
        "saturn/mosquitto: unhealthy since 2026-05-12T12:05:00Z",
        "inc-1778587500-saturn-mosquitto (critical, 1 occurrence since",
        "dep-7 (saturn/grafana",
        "saturn: stale",
        "1 rejected",
        "53m behind the wall clock",
    ] {
        assert!(out.stdout.contains(expected), "status lacks {expected:?}:\n{}", out.stdout);
    }
    let json: serde_json::Value =
        serde_json::from_str(&lab.observer(["status", "--json"]).run().success().stdout).unwrap();
    assert_eq!(json["overall_health"], "degraded");
    assert_eq!(json["active_incidents"][0]["id"], "inc-1778587500-saturn-mosquitto");
    assert_eq!(json["running_deployments"][0]["correlation_id"], "dep-7");
    assert_eq!(json["seconds_behind"], 53 * 60);
    assert_eq!(json["recent_rejects"][0]["line"], 5);
}

#[test]
fn status_without_a_world_says_what_to_do() {
    Homelab::new().observer(["status"]).run().code(1).stderr_has("run `observer run`");
}

#[test]
fn a_closed_stdout_is_not_an_error() {
    // `observer status | true`: the reader is gone before the command
    // starts, so its first write to stdout fails with EPIPE.
    let lab = Homelab::new();
    lab.write("events/a.jsonl", &Ev::new("2026-05-12T12:00:00Z", "heartbeat").node("saturn").line());
    lab.run();
    for args in [&["completions", "bash"][..], &["config", "--defaults"], &["status"], &["status", "--json"]] {
        let out = lab.observer(args).run_with_closed(Stream::Stdout);
        assert_eq!(out.code, Some(0), "{args:?}: a closed stdout is success: {}", out.stderr);
        assert_eq!(out.stderr, "", "{args:?}: and says nothing about it");
    }
}

#[test]
fn usage_errors_exit_2() {
    Homelab::new().observer(["frobnicate"]).run().code(2);
    Homelab::new().observer(["run", "--bogus"]).run().code(2);
}

#[test]
fn config_defaults_round_trip_and_are_used() {
    let lab = Homelab::new();
    let defaults = lab.observer(["config", "--defaults"]).run().success().stdout;
    assert!(defaults.contains("stale_after_s: 300"));
    lab.write("observer.yaml", &defaults.replace("stale_after_s: 300", "stale_after_s: 60"));
    lab.observer(["config"]).run().success().stdout_has("stale_after_s: 60");
    lab.write(
        "events/a.jsonl",
        &lines(&[Ev::new("2026-05-12T12:00:00Z", "heartbeat").node("a"), Ev::new("2026-05-12T12:01:01Z", "tick")]),
    );
    lab.run();
    assert_eq!(lab.json("world/nodes.json")["nodes"]["a"]["status"], "stale");
}

#[test]
fn world_files_are_deterministic_json_with_a_trailing_newline() {
    let files = [
        ("events/b.jsonl", Ev::new("2026-05-12T14:00:00.5+02:00", "heartbeat").node("zeta").line()),
        ("events/a.jsonl", Ev::new("2026-05-12T12:00:00Z", "heartbeat").node("alpha").line()),
        (
            "events/c.jsonl",
            lines(&[
                Ev::new("2026-05-12T12:01:00Z", "service_unhealthy").node("mid").service("mqtt").severity("error"),
                Ev::new("2026-05-12T12:02:00Z", "deployment_started").correlation("d1").node("mid"),
                Ev::new("2026-05-12T12:03:00Z", "backup_finished").node("mid").payload(json!({"bytes": 7})),
            ]),
        ),
    ];
    let lab = Homelab::new();
    for (file, text) in &files {
        lab.write(file, text);
    }
    lab.run();
    // The same events in another root, the files created in the other
    // order, run at another wall-clock time: the same bytes.
    let other = Homelab::new();
    for (file, text) in files.iter().rev() {
        other.write(file, text);
    }
    other.observer(["run", "--no-tick"]).env("OBSERVER_NOW", "2027-01-01T00:00:00Z").run().success();
    for ((name, one), (_, two)) in lab.world_files("world").into_iter().zip(other.world_files("world")) {
        assert_eq!(one, two, "world/{name} differs between two roots with the same events");
    }
    lab.assert_world_equals_rebuild();
    let nodes = lab.world("nodes.json");
    assert!(nodes.ends_with("}\n"));
    assert!(nodes.find("\"alpha\"").unwrap() < nodes.find("\"zeta\"").unwrap(), "keys sorted");
    assert!(
        nodes.contains("\"last_seen\": \"2026-05-12T12:00:00.500Z\""),
        "UTC, Z, millis only when non-zero:\n{nodes}"
    );
    assert!(nodes.contains("\"last_seen\": \"2026-05-12T12:00:00Z\""));
    for name in crate::support::WORLD_FILES {
        let text = lab.world(name);
        assert!(text.ends_with("}\n"), "{name} ends with a newline");
        assert!(!text.contains("duration_ms") && !text.contains("\"version\""), "run facts stay out of {name}");
    }
}

#[test]
fn validate_notes_files_waiting_for_the_rest_of_a_write() {
    let lab = Homelab::new();
    lab.write("events/a.jsonl", &(Ev::new("2026-05-12T12:00:00Z", "tick").line() + "{\"ts\":"));
    lab.write("events/b.json", "{\"ts\":");
    let out = lab.observer(["validate"]).run().success();
    assert!(out.stdout.contains("a.jsonl:2: note: the last line has no newline yet"), "{}", out.stdout);
    assert!(out.stdout.contains("b.json:1: note: the event does not parse yet"), "{}", out.stdout);
    assert!(out.stderr.contains("0 problems, 2 notes"), "{}", out.stderr);
}

#[test]
fn a_root_without_events_is_an_error_not_an_empty_world() {
    let lab = Homelab::new();
    std::fs::remove_dir(lab.path("events")).unwrap();
    lab.observer(["run"]).run().code(1).stderr_has("there is no event directory");
    assert!(!lab.path("state").exists() && !lab.path("world").exists() && !lab.path("events").exists());
}
