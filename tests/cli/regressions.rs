//! Regression tests, each named after the defect a review found.

use crate::support::{Ev, Homelab, Stream, lines};

fn failure(ts: &str) -> String {
    Ev::new(ts, "service_unhealthy").node("n").service("s").line()
}

#[test]
fn a_file_moved_by_copy_and_delete_is_not_folded_twice() {
    let lab = Homelab::new();
    lab.write("events/p/a.jsonl", &(failure("2026-05-12T12:00:00Z") + &failure("2026-05-12T12:01:00Z")));
    lab.run();
    std::fs::copy(lab.path("events/p/a.jsonl"), lab.path("events/p/b.jsonl")).unwrap();
    std::fs::remove_file(lab.path("events/p/a.jsonl")).unwrap();
    lab.append("events/p/b.jsonl", &failure("2026-05-12T12:02:00Z"));
    lab.run();
    assert_eq!(lab.summary()["events"]["total"], 3);
    assert_eq!(lab.json("world/incidents.json")["incidents"]["inc-1778587200-n-s"]["occurrence_count"], 3);
}

#[test]
fn rotating_a_log_by_renaming_it_does_not_stop_the_runs() {
    let lab = Homelab::new();
    lab.write("events/a.jsonl", &failure("2026-05-12T12:00:00Z"));
    lab.run();
    lab.append("events/a.jsonl", &failure("2026-05-12T12:01:00Z"));
    std::fs::rename(lab.path("events/a.jsonl"), lab.path("events/a-2026-05-12.jsonl")).unwrap();
    lab.write("events/a.jsonl", &failure("2026-05-12T12:02:00Z"));
    lab.run();
    assert_eq!(lab.summary()["events"]["total"], 3, "the rotated file's tail and the new file, once each");
    lab.assert_world_equals_rebuild();
}

/// Before issue 10 the new file was read from its start with a warning; the
/// lines the old file got after the last run were lost, and a replacement
/// could not be told from an edit. Now it stops the run like an edit.
#[test]
fn rotating_a_log_out_of_events_stops_the_run_and_says_how_to_rotate() {
    let lab = Homelab::new();
    lab.write("events/a.jsonl", &failure("2026-05-12T12:00:00Z"));
    lab.run();
    std::fs::rename(lab.path("events/a.jsonl"), lab.path("events/a.jsonl.1")).unwrap();
    lab.write("events/a.jsonl", &(failure("2026-05-12T12:05:00Z") + &failure("2026-05-12T12:06:00Z")));
    lab.observer(["run", "--no-tick"])
        .run()
        .code(1)
        .stderr_has("a.jsonl was replaced by a file whose bytes differ")
        .stderr_has("observer rebuild")
        .stderr_has("Producers should rotate by starting a new dated file");
    assert_eq!(lab.summary()["events"]["total"], 1);
    // Renamed back to an event file name, the old file is followed again.
    std::fs::rename(lab.path("events/a.jsonl.1"), lab.path("events/a-2026-05-12.jsonl")).unwrap();
    lab.run();
    assert_eq!(lab.summary()["events"]["total"], 3);
    lab.assert_world_equals_rebuild();
}

#[test]
fn a_file_rewritten_in_place_with_its_mtime_restored_is_still_noticed() {
    let lab = Homelab::new();
    lab.write("events/a.jsonl", &failure("2026-05-12T12:00:00Z"));
    lab.run();
    let mtime = std::fs::metadata(lab.path("events/a.jsonl")).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    lab.write("events/a.jsonl", &failure("2026-05-12T12:00:09Z"));
    std::fs::File::options().write(true).open(lab.path("events/a.jsonl")).unwrap().set_modified(mtime).unwrap();
    lab.observer(["run", "--no-tick"]).run().code(1).stderr_has("changed in the part already read");
}

#[test]
fn a_duplicate_that_sorts_before_its_first_sighting_counts_as_late() {
    let lab = Homelab::new();
    lab.write("events/b.jsonl", &Ev::new("2026-05-12T12:10:00Z", "heartbeat").node("a").id("X").line());
    lab.run();
    lab.write("events/a.jsonl", &Ev::new("2026-05-12T12:05:00Z", "heartbeat").node("b").id("X").line());
    lab.run();
    let summary = lab.summary();
    assert_eq!(summary["events"]["duplicates"], 1);
    assert_eq!(summary["events"]["late"], 1, "a rebuild would keep the other copy");
}

#[test]
fn a_closed_stderr_does_not_crash_a_run() {
    let lab = Homelab::new();
    lab.write("events/a.jsonl", "not json\n");
    // The reader is gone before the run starts: its warning about the
    // rejected line meets EPIPE, and the run goes on.
    let out = lab.observer(["run", "--no-tick"]).run_with_closed(Stream::Stderr);
    assert_eq!(out.code, Some(0), "{}", out.stdout);
    assert!(out.stdout.contains("folded 0 new events (1 rejected"), "the run went on to the end: {}", out.stdout);
    assert_eq!(lab.summary()["events"]["rejected"], 1);
}

#[test]
fn a_huge_threshold_means_never_not_always() {
    let lab = Homelab::new();
    lab.write("observer.yaml", "nodes:\n  stale_after_s: 10000000000000000000\nretention:\n  days: 200000000000000\n");
    lab.write(
        "events/a.jsonl",
        &lines(&[
            Ev::new("2026-05-12T12:00:00Z", "heartbeat").node("a"),
            Ev::new("2026-05-12T12:00:00Z", "service_unhealthy").node("a").service("s"),
            Ev::new("2026-05-12T14:00:00Z", "service_recovered").node("a").service("s"),
        ]),
    );
    lab.run();
    assert_eq!(lab.json("world/nodes.json")["nodes"]["a"]["status"], "up");
    assert_eq!(lab.summary()["incidents"]["resolved"], 1);
}

#[test]
fn the_no_op_fast_path_does_not_trust_a_world_it_did_not_write() {
    let lab = Homelab::new();
    lab.write("events/a.jsonl", &failure("2026-05-12T12:00:00Z"));
    lab.run();
    let good = lab.world("incidents.json");
    lab.write("world/incidents.json", "{}\n");
    lab.run();
    assert_eq!(lab.world("incidents.json"), good, "a hand-edited world file is repaired");
    let elsewhere = lab.path("elsewhere");
    lab.observer(["--world", elsewhere.to_str().unwrap(), "run", "--no-tick"]).run().success();
    assert_eq!(lab.read("elsewhere/incidents.json"), good, "--world elsewhere gets the world too");
}

#[test]
fn rebuild_out_refuses_the_live_directories() {
    let lab = Homelab::new();
    lab.write("events/a.jsonl", &failure("2026-05-12T12:00:00Z"));
    lab.run();
    let world = lab.path("world");
    lab.observer(["rebuild", "--out", world.to_str().unwrap()]).run().code(1).stderr_has("is the live world directory");
    let inside = lab.path("events/past");
    lab.observer(["rebuild", "--out", inside.to_str().unwrap()]).run().code(1).stderr_has("inside the live events");
    assert!(!inside.exists());
}

#[test]
fn unknown_top_level_keys_in_the_topology_are_ignored() {
    let lab = Homelab::new();
    lab.write("inventory/topology.yaml", "networks:\n  lan: 192.168.10.0/24\nnodes:\n  saturn:\n    roles: [mqtt]\n");
    lab.write("events/a.jsonl", &failure("2026-05-12T12:00:00Z"));
    lab.run();
    assert_eq!(lab.json("world/nodes.json")["nodes"]["saturn"]["roles"][0], "mqtt");
}

#[test]
fn validate_on_a_wrong_root_is_a_problem() {
    let lab = Homelab::new();
    std::fs::remove_dir(lab.path("events")).unwrap();
    lab.observer(["validate"]).run().code(1).stdout_has("there is no event directory");
}

#[test]
fn a_bad_until_is_a_usage_error() {
    let lab = Homelab::new();
    lab.observer(["rebuild", "--until", "yesterday", "--out", "/tmp/x"]).run().code(2);
}

#[test]
fn validate_keeps_its_exit_code_when_stdout_is_closed() {
    let lab = Homelab::new();
    lab.write("events/a.jsonl", &"not json\n".repeat(5000));
    // The reader is gone before validate starts: the list of problems
    // meets EPIPE, and the exit code still says there are problems.
    let out = lab.observer(["validate"]).run_with_closed(Stream::Stdout);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.stderr.starts_with("5000 problems, 0 notes"), "{}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "the summary and no error: {}", out.stderr);
}

#[cfg(unix)]
#[test]
fn file_names_that_are_not_utf8_do_not_collide() {
    use std::os::unix::ffi::OsStrExt;
    let lab = Homelab::new();
    for (byte, node) in [(0xffu8, "a"), (0xfe, "b")] {
        let bytes = [b'x', byte, b'.', b'j', b's', b'o', b'n', b'l'];
        let name = std::ffi::OsStr::from_bytes(&bytes);
        std::fs::write(lab.path("events").join(name), Ev::new("2026-05-12T12:00:00Z", "heartbeat").node(node).line())
            .unwrap();
    }
    lab.run();
    lab.run();
    assert_eq!(lab.summary()["events"]["total"], 2);
}

/// `status` read "last run in the future ago" (and "in the future behind
/// the wall clock") when the wall clock was behind the last run or the
/// newest event: a producer's clock ahead, a clock set back, OBSERVER_NOW.
#[test]
fn status_says_a_time_ahead_of_the_wall_clock_is_ahead_not_in_the_future_ago() {
    let lab = Homelab::new();
    lab.write("events/a.jsonl", &Ev::new("2026-05-12T12:45:00Z", "heartbeat").node("n").line());
    lab.observer(["run", "--no-tick"]).env("OBSERVER_NOW", "2026-05-12T13:00:00Z").run().success();
    let out = lab.observer(["status"]).env("OBSERVER_NOW", "2026-05-12T12:30:00Z").run().success();
    assert!(
        out.stdout.contains(
            "world as of 2026-05-12T12:45:00Z (15m ahead of the wall clock); last run 30m ahead of the wall clock\n"
        ),
        "{}",
        out.stdout
    );
    let out = lab.observer(["status"]).env("OBSERVER_NOW", "2026-05-12T13:05:00Z").run().success();
    assert!(out.stdout.contains("(20m behind the wall clock); last run 5m ago\n"), "{}", out.stdout);
}
