//! Alerts and the outbox through the real binary (issue 12, the wiring):
//! `state/outbox.jsonl` committed exactly once with the checkpoint,
//! `world/alerts.json`, `observer alerts`, what `status` adds, and the
//! what-if of `rebuild --out DIR --config CANDIDATE.yaml`.
//!
//! The tests at the end run the real fold's decisions; the others fabricate
//! what the fold would have committed (an outbox and its mark in the
//! checkpoint header, or `world/alerts.json`), so that the shell around the
//! fold is tested on its own.

use serde_json::json;

use crate::support::{Ev, Homelab, lines};

/// `observer ARGS` in `lab`, one command after the other, as in a terminal.
fn session(lab: &Homelab, commands: &[&[&str]]) -> String {
    commands
        .iter()
        .map(|args| {
            format!("$ observer {}\n{}", lab.redact(&args.join(" ")), lab.observer(*args).run().transcript(lab))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Heartbeats only: no rule fires, with or without the alert engine.
fn quiet(lab: &Homelab, minute: u32) {
    lab.append(
        "events/saturn.jsonl",
        &lines(&[Ev::new(&format!("2026-05-12T12:{minute:02}:00Z"), "heartbeat").node("saturn")]),
    );
}

/// One outbox line, as the fold writes it.
fn notification(key: &str, kind: &str, ts: &str) -> String {
    let (rule, node) = key.split_once(':').unwrap();
    json!({
        "id": format!("{key}@1778587200:{kind}:1"), "kind": kind, "ts": ts, "expires_at": null,
        "key": key, "rule": rule, "node": node, "service": null, "severity": "critical", "priority": 1,
        "summary": format!("{node} is down"), "fired_at": "2026-05-12T12:00:00Z", "resolved_at": null,
    })
    .to_string()
        + "\n"
}

#[test]
fn lines_a_crashed_pass_left_after_the_committed_outbox_are_cut_off() {
    let lab = Homelab::new();
    quiet(&lab, 0);
    lab.run();
    assert_eq!(lab.read("state/outbox.jsonl"), "", "every pass leaves an outbox, empty or not");
    let committed = notification("node_down:venus", "firing", "2026-05-12T12:00:00Z");
    lab.commit_outbox(&committed);
    // A pass that crashed before its checkpoint: a whole line and a torn one.
    let left = notification("node_down:venus", "resolved", "2026-05-12T12:01:00Z");
    lab.append("state/outbox.jsonl", &(left + "{\"id\":\"node_do"));
    // Even when no event is new, the next run repairs it.
    lab.run();
    assert_eq!(lab.read("state/outbox.jsonl"), committed);
    lab.append("state/outbox.jsonl", "{\"torn");
    quiet(&lab, 1);
    lab.run();
    assert_eq!(lab.read("state/outbox.jsonl"), committed, "the new pass appends after the committed part only");
}

#[test]
fn an_outbox_shorter_than_committed_or_changed_stops_the_run_until_a_rebuild() {
    let lab = Homelab::new();
    quiet(&lab, 0);
    lab.run();
    let committed = notification("node_down:venus", "firing", "2026-05-12T12:00:00Z");
    for damaged in [&committed[..committed.len() - 2], &committed.replace("venus", "VENUS"), ""] {
        lab.commit_outbox(&committed);
        lab.write("state/outbox.jsonl", damaged);
        quiet(&lab, 1);
        let out = lab.observer(["run", "--no-tick"]).run().code(1).stderr_has("run `observer rebuild`");
        assert!(out.stderr.contains("append-only"), "{}", out.stderr);
        assert_eq!(lab.read("state/outbox.jsonl"), damaged, "nothing was changed");
    }
    lab.observer(["rebuild"]).run().success();
    lab.run();
    lab.assert_world_equals_rebuild();
}

#[test]
fn a_full_disk_at_the_outbox_append_commits_nothing_and_the_next_run_converges() {
    let lab = Homelab::new();
    quiet(&lab, 0);
    lab.run();
    lab.commit_outbox(&notification("node_down:venus", "firing", "2026-05-12T12:00:00Z"));
    let checkpoint = lab.read("state/observer_checkpoint.json");
    quiet(&lab, 1);
    lab.observer(["run", "--no-tick"])
        .env("OBSERVER_TEST_FAIL_AT", "outbox-append")
        .run()
        .code(1)
        .stderr_has("the outbox was not, nor the checkpoint")
        .stderr_has("No space left on device");
    assert_eq!(lab.read("state/observer_checkpoint.json"), checkpoint);
    lab.run();
    assert_eq!(lab.summary()["events"]["total"], 2, "each event folded once");
    assert_eq!(lab.json("state/last-run.json")["events_folded"], 1);
}

#[test]
fn rebuild_out_writes_its_own_outbox_and_leaves_the_live_state_alone() {
    let lab = Homelab::new();
    quiet(&lab, 0);
    lab.run();
    let folded_alerts = lab.world("alerts.json");
    lab.commit_outbox(&notification("node_down:venus", "firing", "2026-05-12T12:00:00Z"));
    let state = ["outbox.jsonl", "observer_checkpoint.json"].map(|name| lab.read(&format!("state/{name}")));
    let out = lab.path("past");
    lab.observer(["rebuild", "--out", out.to_str().unwrap()]).run().success();
    assert_eq!(lab.read("past/outbox.jsonl"), "", "the rebuilt outbox is the events' alone");
    assert_eq!(lab.read("past/alerts.json"), folded_alerts, "the alerts of the events alone");
    assert_eq!(["outbox.jsonl", "observer_checkpoint.json"].map(|name| lab.read(&format!("state/{name}"))), state);
}

#[test]
fn the_what_if_counts_by_kind_against_the_live_outbox_over_the_same_span() {
    let lab = Homelab::new();
    for minute in 0..4 {
        quiet(&lab, minute);
    }
    lab.run();
    // The live outbox: two lines up to 12:02, one after.
    lab.commit_outbox(
        &[
            notification("node_down:venus", "firing", "2026-05-12T12:01:00Z"),
            notification("node_down:venus", "resolved", "2026-05-12T12:02:00Z"),
            notification("node_down:mars", "firing", "2026-05-12T12:03:00Z"),
        ]
        .concat(),
    );
    lab.write("candidate.yaml", "nodes:\n  stale_after_s: 60\n");
    let candidate = lab.path("candidate.yaml");
    let past = lab.path("past");
    let (candidate, past) = (candidate.to_str().unwrap(), past.to_str().unwrap());
    let text = session(
        &lab,
        &[
            &["rebuild", "--out", past, "--config", candidate],
            &["rebuild", "--until", "2026-05-12T12:02:30Z", "--out", past, "--config", candidate],
            // Without a named config there is no candidate: no what-if.
            &["rebuild", "--out", past],
        ],
    );
    insta::assert_snapshot!("what_if", text);
    assert!(text.contains("the live outbox holds 3 notifications (2 firing, 0 reminder, 1 resolved"), "{text}");
    assert!(text.contains("what-if up to 2026-05-12T12:02:30Z: "), "{text}");
    assert!(text.contains("the live outbox holds 2 notifications (1 firing, 0 reminder, 1 resolved"), "{text}");
}

/// An `alerts.json` as the fold writes it: one alert of each kind that
/// `observer alerts` tells apart (the firing `node_down` acknowledged, with
/// a runbook).
fn an_alerts_file() -> String {
    let alert = |key: &str, status: &str, severity: &str, priority: u8, suppressed_by: Option<&str>| {
        let (rule, subject) = key.split_once(':').unwrap();
        let mut parts = subject.split('/');
        let (node, service) = (parts.next(), parts.next());
        let firing = status != "pending";
        json!({
            "key": key, "rule": rule, "node": node, "service": service, "status": status,
            "severity": severity, "priority": priority, "summary": format!("{subject} is {status}"),
            "since": "2026-05-12T12:00:00Z",
            "fired_at": if firing { json!("2026-05-12T12:05:00Z") } else { json!(null) },
            "resolved_at": if status == "resolved" { json!("2026-05-12T12:20:00Z") } else { json!(null) },
            "suppressed_by": suppressed_by,
            "last_notification": if firing && suppressed_by.is_none() {
                json!({"id": format!("{key}@1778587500:firing:1"), "kind": "firing", "ts": "2026-05-12T12:05:00Z"})
            } else { json!(null) },
            "recent_episodes": if status == "resolved" {
                json!([{"fired_at": "2026-05-12T12:05:00Z", "resolved_at": "2026-05-12T12:20:00Z",
                        "severity": severity, "notified": true}])
            } else { json!([]) },
            "runbook": if rule == "node_down" { json!("https://wiki.lan/node-down") } else { json!(null) },
            "acknowledged_by": if rule == "node_down" { json!("alice") } else { json!(null) },
            "acknowledged_at": if rule == "node_down" { json!("2026-05-12T12:07:00Z") } else { json!(null) },
        })
    };
    let alerts = [
        alert("node_down:venus", "firing", "critical", 1, None),
        alert("service_unhealthy:venus/db", "firing", "error", 2, Some("node venus is down")),
        alert("service_degraded:saturn/web", "pending", "warning", 3, None),
        alert("breaker_open:saturn/mosquitto/port", "resolved", "error", 2, None),
    ];
    let file = json!({
        "schema_version": 1,
        "as_of": "2026-05-12T12:30:00Z",
        // In key order, as the file holds them.
        "alerts": alerts.iter().map(|a| (a["key"].as_str().unwrap().to_string(), a.clone()))
            .collect::<std::collections::BTreeMap<_, _>>(),
    });
    serde_json::to_string_pretty(&file).unwrap() + "\n"
}

#[test]
fn alerts_and_status_show_what_alerts_json_holds() {
    let lab = Homelab::new();
    quiet(&lab, 0);
    lab.run();
    lab.write("world/alerts.json", &an_alerts_file());
    let mut summary = lab.summary();
    summary["alerts"]["notifications_waiting"] = json!(2);
    lab.write("world/runtime-summary.json", &(serde_json::to_string_pretty(&summary).unwrap() + "\n"));
    let text = session(&lab, &[&["alerts"], &["alerts", "--json"], &["status"]]);
    insta::assert_snapshot!("alerts", text);
    // `--json` is the file as it holds the alerts: read back and written again.
    assert_eq!(lab.observer(["alerts", "--json"]).run().success().stdout, an_alerts_file());
    let status = lab.observer(["status", "--json"]).run().success().stdout;
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    let firing: Vec<&str> =
        status["firing_alerts"].as_array().unwrap().iter().map(|a| a["key"].as_str().unwrap()).collect();
    assert_eq!(firing, ["node_down:venus", "service_unhealthy:venus/db"]);
    assert_eq!(status["alerts"]["notifications_waiting"], 2);
}

#[test]
fn alerts_of_a_quiet_world_and_of_none() {
    let lab = Homelab::new();
    lab.observer(["alerts"]).run().code(1).stderr_has("run `observer run`");
    quiet(&lab, 0);
    lab.run();
    insta::assert_snapshot!("alerts_quiet", session(&lab, &[&["alerts"], &["alerts", "--json"]]));
}

/// venus goes down at 12:01 (batch 0) and comes back at 12:10 (batch 1).
fn outage(lab: &Homelab, batch: u32) {
    let events = match batch {
        0 => vec![
            Ev::new("2026-05-12T12:00:00Z", "heartbeat").node("venus"),
            Ev::new("2026-05-12T12:01:00Z", "node_down").node("venus"),
        ],
        _ => vec![Ev::new("2026-05-12T12:10:00Z", "node_up").node("venus")],
    };
    lab.append("events/venus.jsonl", &lines(&events));
}

/// The ids of the outbox's lines, in order.
fn outbox_ids(lab: &Homelab) -> Vec<String> {
    lab.read("state/outbox.jsonl")
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_node_down_fires_at_once_into_the_outbox_alerts_json_and_status() {
    let lab = Homelab::new();
    outage(&lab, 0);
    lab.run();
    let outbox = lab.read("state/outbox.jsonl");
    let first: serde_json::Value = serde_json::from_str(outbox.lines().next().expect("one notification")).unwrap();
    assert_eq!(first["id"], "node_down:venus@1778587260:firing:1");
    assert_eq!(first["kind"], "firing");
    assert_eq!(lab.json("world/alerts.json")["alerts"]["node_down:venus"]["status"], "firing");
    assert_eq!(lab.summary()["alerts"]["firing_by_severity"]["critical"], 1);
    lab.observer(["status"]).run().success().stdout_has("firing alerts: 1").stdout_has("node_down:venus");
    lab.observer(["alerts"]).run().success().stdout_has("firing: 1");
    outage(&lab, 1);
    lab.run();
    assert_eq!(outbox_ids(&lab), ["node_down:venus@1778587260:firing:1", "node_down:venus@1778587260:resolved:1"]);
    lab.assert_world_equals_rebuild();
    insta::assert_snapshot!("alerts_of_an_outage", session(&lab, &[&["alerts"], &["alerts", "--json"]]));
}

#[test]
fn a_crash_between_the_outbox_and_the_checkpoint_writes_no_line_twice() {
    let lab = Homelab::new();
    outage(&lab, 0);
    lab.run();
    let committed = lab.read("state/outbox.jsonl");
    assert_eq!(committed.lines().count(), 1, "the firing:\n{committed}");
    outage(&lab, 1);
    lab.observer(["run", "--no-tick"]).env("OBSERVER_TEST_CRASH_AT", "after-outbox").run();
    assert_eq!(lab.read("state/outbox.jsonl").lines().count(), 2, "the crash came after the append of the resolve");
    lab.run();
    lab.assert_world_equals_rebuild();
    let ids = outbox_ids(&lab);
    let unique: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "no line twice: {ids:?}");
    assert_eq!(ids.len(), 2, "the firing and the resolve of venus: {ids:?}");
}

#[test]
fn the_what_if_of_a_candidate_without_node_down_sends_nothing() {
    let lab = Homelab::new();
    outage(&lab, 0);
    outage(&lab, 1);
    lab.run();
    lab.write("candidate.yaml", "alerts:\n  rules:\n    node_down: { enabled: false }\n");
    let (candidate, past) = (lab.path("candidate.yaml"), lab.path("past"));
    let out = lab
        .observer(["rebuild", "--out", past.to_str().unwrap(), "--config", candidate.to_str().unwrap()])
        .run()
        .success();
    insta::assert_snapshot!("what_if_without_node_down", out.transcript(&lab));
    assert!(out.stdout.contains("this config would have sent 0 notifications"), "{}", out.stdout);
    assert!(out.stdout.contains("the live outbox holds 2 notifications (1 firing, 0 reminder, 1 resolved"));
    assert_eq!(lab.read("past/outbox.jsonl"), "");
}

/// A rebuild writes its outbox while the fold decides it, a batch of 1,024
/// notifications at a time (`fold_pass/decided.rs`): with more than two
/// batches, the outbox (and its mark and counts in the checkpoint) is the
/// one the runs that decided the same notifications committed, `rebuild
/// --out` writes the same lines, and a full disk at the outbox's temp file
/// keeps the previous state and leaves no temp file.
#[test]
fn a_rebuild_that_decides_many_notifications_writes_the_outbox_the_runs_wrote() {
    // 60 nodes down and up again every 20 minutes for 10 hours: a firing and
    // a resolve each time, ~3,600 notifications.
    let lab = Homelab::new();
    lab.write("observer.yaml", "alerts:\n  rules:\n    node_stale: {enabled: false}\n");
    let at = |minute: u32| format!("2026-05-12T{:02}:{:02}:00Z", minute / 60, minute % 60);
    let hours = |from: u32, to: u32| -> Vec<Ev> {
        (from * 60..to * 60)
            .step_by(10)
            .flat_map(|minute| {
                let kind = if minute % 20 == 0 { "node_down" } else { "node_up" };
                (0..60).map(move |n| (minute, kind, n))
            })
            .map(|(minute, kind, n)| Ev::new(&at(minute), kind).node(&format!("node-{n:02}")))
            .collect()
    };
    for (from, to) in [(0, 4), (4, 7), (7, 10)] {
        lab.append("events/nodes.jsonl", &lines(&hours(from, to)));
        lab.observer(["run", "--no-tick"]).run().success();
    }
    let outbox = lab.read("state/outbox.jsonl");
    assert!(outbox.lines().count() > 3 * 1024, "{} notifications", outbox.lines().count());
    let header = lab.checkpoint_header();

    lab.observer(["rebuild"]).run().success();
    assert!(lab.read("state/outbox.jsonl") == outbox, "the rebuild's outbox is the runs'");
    let rebuilt = lab.checkpoint_header();
    assert_eq!(rebuilt["notified"], header["notified"]);
    let content = |header: &serde_json::Value| {
        let mark = &header["outbox"];
        (mark["bytes"].clone(), mark["lines"].clone(), mark["digest"].clone())
    };
    assert_eq!(content(&rebuilt), content(&header));

    let copy = lab.path("copy").display().to_string();
    lab.observer(["rebuild", "--out", copy.as_str()]).run().success();
    assert!(lab.read("copy/outbox.jsonl") == outbox, "rebuild --out writes the same lines");

    let checkpoint = lab.read("state/observer_checkpoint.json");
    lab.observer(["rebuild"])
        .env("OBSERVER_TEST_FAIL_AT", "write:1")
        .run()
        .code(1)
        .stderr_has("No space left on device");
    assert_eq!(lab.read("state/observer_checkpoint.json"), checkpoint, "the checkpoint stays");
    assert!(lab.read("state/outbox.jsonl") == outbox, "the outbox stays");
    assert!(lab.temp_files().is_empty(), "{:?}", lab.temp_files());
}

/// A budget switched off between runs (issue 11, thirty-sixth pass): the
/// page that waited for room goes out at the next run's start, not when
/// the hour would have given room back.
#[test]
fn a_budget_switched_off_between_runs_sends_the_waiting_page_at_the_next_run() {
    let lab = Homelab::new();
    let config = |budget: u32| {
        format!("alerts:\n  rules:\n    node_stale: {{enabled: false}}\nbudgets:\n  notifications_per_hour: {budget}\n")
    };
    lab.write("observer.yaml", &config(1));
    lab.append(
        "events/lab.jsonl",
        &lines(&[
            Ev::new("2026-05-12T12:00:00Z", "node_down").node("venus"),
            Ev::new("2026-05-12T12:01:00Z", "node_down").node("mars"),
            Ev::new("2026-05-12T12:02:00Z", "tick"),
        ]),
    );
    lab.run();
    let waiting = ["node_down:venus@1778587200:firing:1", "budget:notifications@1778587260:budget_exhausted:1"];
    assert_eq!(outbox_ids(&lab), waiting, "mars's page waits for room until 13:00");
    assert_eq!(lab.json("world/alerts.json")["alerts"]["node_down:mars"]["last_notification"], json!(null));

    lab.write("observer.yaml", &config(0));
    lab.append("events/lab.jsonl", &lines(&[Ev::new("2026-05-12T12:05:00Z", "tick")]));
    lab.run();
    let outbox = lab.read("state/outbox.jsonl");
    let paged: serde_json::Value = serde_json::from_str(outbox.lines().last().unwrap()).unwrap();
    assert_eq!(outbox.lines().count(), 3, "{outbox}");
    assert_eq!(paged["id"], "node_down:mars@1778587260:firing:1");
    assert_eq!(paged["ts"], "2026-05-12T12:02:00Z", "at the run's start: the clock when it began");
    let mars = &lab.json("world/alerts.json")["alerts"]["node_down:mars"];
    assert_eq!(mars["last_notification"]["id"], "node_down:mars@1778587260:firing:1");
}

/// A rule switched back on in `observer.yaml` between runs pages what holds
/// at the next run's start: venus went down while `node_down` was off and
/// sends nothing more (a node that is down is silent); before, no alert
/// ever fired for it until a rebuild (review of issue 11's thirty-seventh
/// pass).
#[test]
fn a_rule_switched_back_on_between_runs_pages_a_node_already_down() {
    let lab = Homelab::new();
    let config = |node_down: bool| {
        format!("alerts:\n  rules:\n    node_stale: {{enabled: false}}\n    node_down: {{enabled: {node_down}}}\n")
    };
    lab.write("observer.yaml", &config(false));
    lab.append(
        "events/lab.jsonl",
        &lines(&[Ev::new("2026-05-12T12:00:00Z", "node_down").node("venus"), Ev::new("2026-05-12T12:20:00Z", "tick")]),
    );
    lab.run();
    assert_eq!(lab.json("world/nodes.json")["nodes"]["venus"]["status"], "down");
    assert_eq!(lab.json("world/alerts.json")["alerts"]["node_down:venus"], json!(null));

    lab.write("observer.yaml", &config(true));
    lab.append("events/lab.jsonl", &lines(&[Ev::new("2026-05-12T12:30:00Z", "tick")]));
    lab.run();
    let venus = &lab.json("world/alerts.json")["alerts"]["node_down:venus"];
    assert_eq!(venus["status"], "firing");
    assert_eq!(venus["fired_at"], "2026-05-12T12:20:00Z", "at the run's start");
    assert_eq!(outbox_ids(&lab), ["node_down:venus@1778588400:firing:1"]);
}
