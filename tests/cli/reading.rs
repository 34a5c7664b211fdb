//! Reading events: partial writes, malformed input, append-only checks and
//! the cost of a run (guarantees 3, 6, 7).

use crate::support::{Ev, Homelab};

fn heartbeat(ts: &str, node: &str) -> Ev {
    Ev::new(ts, "heartbeat").node(node)
}

fn last_run(lab: &Homelab) -> serde_json::Value {
    lab.json("state/last-run.json")
}

#[test]
fn a_trailing_line_without_newline_waits_and_is_folded_once_complete() {
    let lab = Homelab::new();
    let line = heartbeat("2026-05-12T12:00:00Z", "saturn").json();
    let (first, rest) = line.split_at(20);
    lab.append("events/a.jsonl", &(heartbeat("2026-05-12T11:59:00Z", "venus").line() + first));
    lab.run();
    assert_eq!(lab.summary()["events"]["total"], 1);
    assert_eq!(lab.summary()["events"]["rejected"], 0, "a partial line is not an error");
    lab.append("events/a.jsonl", rest);
    lab.run();
    assert_eq!(lab.summary()["events"]["total"], 1, "still no newline");
    lab.append("events/a.jsonl", "\n");
    lab.run();
    lab.run();
    assert_eq!(lab.summary()["events"]["total"], 2);
    assert_eq!(lab.summary()["counters"]["heartbeats"], 2);
    lab.assert_world_equals_rebuild();
}

#[test]
fn a_json_file_that_does_not_parse_yet_waits() {
    let lab = Homelab::new();
    let event = heartbeat("2026-05-12T12:00:00Z", "saturn").json();
    lab.write("events/deploy/one.json", &event[..30]);
    lab.write("events/deploy/empty.json", "");
    lab.run();
    assert_eq!(lab.summary()["events"]["total"], 0);
    assert_eq!(lab.summary()["events"]["rejected"], 0);
    lab.write("events/deploy/one.json", &event);
    lab.run();
    lab.run();
    assert_eq!(lab.summary()["events"]["total"], 1);
    // A late newline from the producer is not a change.
    lab.append("events/deploy/one.json", "\n");
    lab.run();
    assert_eq!(lab.summary()["events"]["total"], 1);
}

#[test]
fn malformed_lines_are_counted_with_file_and_line_and_skipped() {
    let lab = Homelab::new();
    let text = [
        heartbeat("2026-05-12T12:00:00Z", "a").json(),
        "{not json".to_string(),
        Ev::new("2026-05-12T12:00:01Z", "heartbeat").json(),
        String::new(),
        Ev::new("yesterday", "tick").json(),
        heartbeat("2026-05-12T12:00:02Z", "b").json(),
    ]
    .join("\n")
        + "\n";
    lab.write("events/a.jsonl", &text);
    lab.write("events/bad.json", "[1,2,3]");
    let out = lab.observer(["run", "--no-tick"]).run().success();
    assert!(out.stderr.contains("a.jsonl:2: not valid JSON"), "{}", out.stderr);
    assert!(out.stderr.contains("a.jsonl:3: `heartbeat` events need a `node`"), "{}", out.stderr);
    assert!(out.stderr.contains("a.jsonl:5: field `ts`"), "{}", out.stderr);
    assert!(out.stderr.contains("bad.json:1: an event must be a JSON object"), "{}", out.stderr);
    let summary = lab.summary();
    assert_eq!(summary["events"]["rejected"], 4);
    assert_eq!(summary["events"]["total"], 2, "events after a bad line are still folded");
    let rejects = lab.json("state/rejects.json");
    assert_eq!(rejects.as_array().unwrap().len(), 4);
    assert_eq!(rejects[0]["file"], "a.jsonl");
    assert_eq!(rejects[0]["line"], 2);
    // Rejections are not counted again on the next run.
    lab.run();
    assert_eq!(lab.summary()["events"]["rejected"], 4);
    lab.assert_world_equals_rebuild();
}

#[test]
fn crlf_line_ends_and_a_byte_order_mark_are_accepted() {
    let lab = Homelab::new();
    let text = format!(
        "\u{feff}{}\r\n{}\r\n",
        heartbeat("2026-05-12T12:00:00Z", "a").json(),
        heartbeat("2026-05-12T12:00:01Z", "b").json()
    );
    lab.write("events/win.jsonl", &text);
    lab.run();
    assert_eq!(lab.summary()["events"]["total"], 2);
    assert_eq!(lab.summary()["events"]["rejected"], 0);
}

#[test]
fn a_shrunk_file_stops_the_run_with_a_message_naming_it() {
    let lab = Homelab::new();
    lab.write(
        "events/saturn.jsonl",
        &(heartbeat("2026-05-12T12:00:00Z", "a").line() + &heartbeat("2026-05-12T12:00:01Z", "a").line()),
    );
    lab.run();
    let world_before = lab.world_files("world");
    let checkpoint_before = lab.read("state/observer_checkpoint.json");
    lab.write("events/saturn.jsonl", &heartbeat("2026-05-12T12:00:00Z", "a").line());
    lab.append("events/other.jsonl", &heartbeat("2026-05-12T12:01:00Z", "b").line());
    let out = lab.observer(["run", "--no-tick"]).run().code(1);
    assert!(out.stderr.contains("saturn.jsonl shrank from"), "{}", out.stderr);
    assert!(out.stderr.contains("observer rebuild"), "{}", out.stderr);
    assert_eq!(lab.world_files("world"), world_before, "the previous world stays");
    assert_eq!(lab.read("state/observer_checkpoint.json"), checkpoint_before);
    // The way out the message points to works.
    lab.observer(["rebuild"]).run().success();
    lab.run();
    assert_eq!(lab.summary()["events"]["total"], 2);
}

#[test]
fn a_changed_prefix_stops_the_run() {
    let lab = Homelab::new();
    lab.write("events/saturn.jsonl", &heartbeat("2026-05-12T12:00:00Z", "a").line());
    lab.run();
    lab.write(
        "events/saturn.jsonl",
        &(heartbeat("2026-05-12T12:00:00Z", "b").line() + &heartbeat("2026-05-12T12:00:05Z", "b").line()),
    );
    lab.observer(["run", "--no-tick"]).run().code(1).stderr_has("saturn.jsonl changed in the part already read");
}

#[test]
fn a_file_whose_name_sorts_before_ones_already_read_is_consumed() {
    let lab = Homelab::new();
    lab.write("events/zeta.jsonl", &heartbeat("2026-05-12T12:00:00Z", "z").line());
    lab.run();
    lab.write("events/alpha.jsonl", &heartbeat("2026-05-12T12:00:05Z", "a").line());
    lab.write("events/000/first.json", &heartbeat("2026-05-12T12:00:06Z", "f").json());
    lab.run();
    assert_eq!(lab.summary()["events"]["total"], 3);
    lab.assert_world_equals_rebuild();
}

#[test]
fn ignored_names_are_not_read() {
    let lab = Homelab::new();
    let line = heartbeat("2026-05-12T12:00:00Z", "a").line();
    for name in
        ["events/.hidden.jsonl", "events/a.jsonl.tmp", "events/b.jsonl.partial", "events/c.txt", "events/.dir/d.jsonl"]
    {
        lab.write(name, &line);
    }
    lab.write("events/real.ndjson", &line);
    lab.run();
    assert_eq!(lab.summary()["events"]["total"], 1);
}

#[test]
fn a_run_reads_only_what_is_new() {
    let lab = Homelab::new();
    for i in 0..20 {
        lab.write(&format!("events/p{i:02}.jsonl"), &heartbeat("2026-05-12T12:00:00Z", &format!("n{i}")).line());
        lab.write(&format!("events/single/{i:02}.json"), &heartbeat("2026-05-12T12:00:00Z", &format!("s{i}")).json());
    }
    lab.run();
    assert_eq!(last_run(&lab)["files_read"], 40);
    lab.run();
    let idle = last_run(&lab);
    assert_eq!(idle["files_read"], 0, "unchanged files are not opened");
    assert_eq!(idle["bytes_read"], 0);
    assert_eq!(idle["files_seen"], 40);
    assert_eq!(idle["world_files_written"], serde_json::json!([]), "an unchanged world is not rewritten");
    let line = heartbeat("2026-05-12T12:01:00Z", "n3").line();
    lab.append("events/p03.jsonl", &line);
    lab.run();
    let after = last_run(&lab);
    assert_eq!(after["files_read"], 1);
    assert_eq!(after["bytes_read"], line.len(), "only the new bytes are read");
    assert_eq!(after["events_folded"], 1);
}

#[test]
fn a_renamed_file_keeps_its_cursor_and_a_deleted_one_is_forgotten() {
    let lab = Homelab::new();
    lab.write("events/a.jsonl", &heartbeat("2026-05-12T12:00:00Z", "a").line());
    lab.write("events/b.jsonl", &heartbeat("2026-05-12T12:00:00Z", "b").line());
    lab.run();
    std::fs::rename(lab.path("events/a.jsonl"), lab.path("events/a-renamed.jsonl")).unwrap();
    std::fs::remove_file(lab.path("events/b.jsonl")).unwrap();
    lab.append("events/a-renamed.jsonl", &heartbeat("2026-05-12T12:00:10Z", "a").line());
    lab.run();
    assert_eq!(lab.summary()["events"]["total"], 3, "the renamed file's old line is not folded twice");
    let checkpoint = lab.read("state/observer_checkpoint.json");
    let header: serde_json::Value = serde_json::from_str(checkpoint.lines().next().unwrap()).unwrap();
    let cursors: Vec<&String> = header["cursors"].as_object().unwrap().keys().collect();
    assert_eq!(cursors, ["a-renamed.jsonl"]);
}

#[test]
fn duplicates_by_id_are_counted_and_not_folded() {
    let lab = Homelab::new();
    let event = Ev::new("2026-05-12T12:00:00Z", "service_unhealthy").node("n").service("s").id("evt-1");
    lab.write("events/a.jsonl", &event.line());
    lab.write("events/b.jsonl", &event.line());
    lab.run();
    lab.write("events/c.json", &event.json());
    lab.run();
    let summary = lab.summary();
    assert_eq!(summary["events"]["duplicates"], 2);
    assert_eq!(summary["events"]["total"], 1);
    assert_eq!(lab.json("world/incidents.json")["incidents"]["inc-1778587200-n-s"]["occurrence_count"], 1);
}

/// `events.dedup_window_s` (issue 10): a repeated id is a duplicate while
/// its first sighting is within the window of the engine clock, and folded
/// again once it is older. Both sides, one second apart, with a 10-minute
/// window; a rebuild agrees.
#[test]
fn an_id_seen_again_within_the_dedup_window_is_a_duplicate_and_after_it_is_folded() {
    let lab = Homelab::new();
    lab.write("observer.yaml", "events:\n  dedup_window_s: 600\n");
    let failure = |ts: &str| Ev::new(ts, "service_unhealthy").node("n").service("s").id("evt-1").line();
    lab.write("events/a.jsonl", &failure("2026-05-12T12:00:00Z"));
    lab.run();
    // 600 s after the first sighting: still inside the window.
    lab.append("events/a.jsonl", &failure("2026-05-12T12:10:00Z"));
    lab.run();
    assert_eq!(lab.summary()["events"]["duplicates"], 1);
    assert_eq!(lab.summary()["events"]["total"], 1);
    // 601 s after it: outside, folded again.
    lab.append("events/a.jsonl", &failure("2026-05-12T12:10:01Z"));
    lab.run();
    let summary = lab.summary();
    assert_eq!(summary["events"]["duplicates"], 1);
    assert_eq!(summary["events"]["total"], 2, "the id after the window is folded");
    assert_eq!(lab.json("world/incidents.json")["incidents"]["inc-1778587200-n-s"]["occurrence_count"], 2);
    lab.assert_world_equals_rebuild();
    // With the default window (7 days) the same events give one duplicate more.
    lab.write("observer.yaml", "");
    lab.observer(["rebuild"]).run().success();
    assert_eq!(lab.summary()["events"]["duplicates"], 2);
}

#[test]
fn late_events_are_folded_and_counted() {
    let lab = Homelab::new();
    lab.write("events/a.jsonl", &heartbeat("2026-05-12T12:10:00Z", "a").line());
    lab.run();
    lab.write("events/b.jsonl", &heartbeat("2026-05-12T12:00:00Z", "b").line());
    lab.run();
    let summary = lab.summary();
    assert_eq!(summary["events"]["late"], 1);
    assert_eq!(summary["events"]["total"], 2);
    assert_eq!(summary["as_of"], "2026-05-12T12:10:00Z", "a late event does not move the clock back");
}

#[test]
fn a_run_with_nothing_new_still_notices_a_changed_inventory_or_log() {
    let lab = Homelab::new();
    lab.write(
        "events/a.jsonl",
        &Ev::new("2026-05-12T12:00:00Z", "deployment_failed")
            .correlation("d1")
            .payload(serde_json::json!({"diagnostics": "d1.log"}))
            .line(),
    );
    lab.run();
    assert_eq!(lab.json("world/deployments.json")["deployments"]["d1"]["diagnostics"][0]["exists"], false);
    lab.write("logs/d1.log", "now it exists\n");
    lab.run();
    assert_eq!(lab.json("world/deployments.json")["deployments"]["d1"]["diagnostics"][0]["size"], 14);
    lab.write("state/deployments/d1/rollback", "");
    lab.run();
    assert_eq!(lab.json("world/deployments.json")["deployments"]["d1"]["stages"][0]["name"], "rollback");
    lab.write("inventory/topology.yaml", "nodes:\n  saturn:\n    roles: [mqtt]\n");
    lab.run();
    assert_eq!(lab.json("world/nodes.json")["nodes"]["saturn"]["status"], "unknown");
    std::fs::remove_file(lab.path("world/nodes.json")).unwrap();
    lab.run();
    assert!(lab.path("world/nodes.json").is_file(), "a missing world file is written again");
    lab.run();
    assert_eq!(last_run(&lab)["world_files_written"], serde_json::json!([]));
}

/// Producers append in time order, and the reader streams each file as a
/// sorted run; a file whose time goes back is read whole and sorted, so the
/// processing order (SPEC §3) is the same as if it had been written sorted.
#[test]
fn a_file_out_of_time_order_is_folded_in_time_order() {
    let story = [
        Ev::new("2026-05-12T12:00:00Z", "heartbeat").node("a"),
        Ev::new("2026-05-12T12:01:00Z", "service_unhealthy").node("a").service("s"),
        Ev::new("2026-05-12T12:02:00Z", "service_recovered").node("a").service("s"),
        Ev::new("2026-05-12T12:03:00Z", "service_unhealthy").node("a").service("s"),
    ];
    let sorted = Homelab::new();
    sorted.write("events/a.jsonl", &(story[0].line() + &story[2].line()));
    sorted.write("events/b.jsonl", &(story[1].line() + &story[3].line()));
    sorted.run();
    let shuffled = Homelab::new();
    shuffled.write("events/a.jsonl", &(story[2].line() + &story[0].line()));
    shuffled.write("events/b.jsonl", &(story[3].line() + &story[1].line()));
    shuffled.run();
    assert_eq!(shuffled.summary()["events"]["late"], 0);
    for ((name, a), (_, b)) in sorted.world_files("world").into_iter().zip(shuffled.world_files("world")) {
        assert_eq!(a, b, "world/{name}");
    }
    let incidents = shuffled.json("world/incidents.json");
    let statuses: Vec<&str> =
        incidents["incidents"].as_object().unwrap().values().map(|i| i["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["resolved", "active"], "recovered, then failed again: {incidents}");
    shuffled.assert_world_equals_rebuild();
}
