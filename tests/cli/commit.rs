//! Committing a generation: crash points, write errors and the lock
//! (guarantees 4 and 5).

use std::fs::{File, OpenOptions};
use std::time::{Duration, Instant};

use crate::support::{Ev, Homelab, WORLD_FILES, lines};

fn story(lab: &Homelab, minute: u32) {
    lab.append(
        "events/saturn.jsonl",
        &lines(&[
            Ev::new(&format!("2026-05-12T12:{minute:02}:00Z"), "heartbeat").node("saturn"),
            Ev::new(&format!("2026-05-12T12:{minute:02}:30Z"), "service_unhealthy").node("saturn").service("mosquitto"),
        ]),
    );
    lab.write(
        &format!("events/deploy/{minute:02}.json"),
        &Ev::new(&format!("2026-05-12T12:{minute:02}:40Z"), "deployment_started")
            .correlation(&format!("d{minute}"))
            .json(),
    );
}

/// Every world file is valid JSON, and the world is the whole old
/// generation or the whole new one (world/..data swaps them at once).
fn assert_each_file_old_or_new(lab: &Homelab, old: &[(String, String)], new: &[(String, String)]) {
    let now = lab.world_files("world");
    assert!(now == old || now == new, "world/ is neither generation whole:\n{now:?}");
}

#[test]
fn a_crash_at_any_commit_point_leaves_old_or_new_and_the_next_run_converges() {
    let points: Vec<String> = [
        "after-scan",
        "after-history",
        "after-outbox",
        "before-checkpoint",
        "after-engine-state",
        "before-clean",
        "after-checkpoint",
    ]
    .into_iter()
    .map(String::from)
    .chain((1..=WORLD_FILES.len()).map(|n| format!("after-world-file:{n}")))
    .chain(["before-swap", "after-swap"].map(String::from))
    .chain((1..=7).map(|n| format!("before-rename:{n}")))
    .collect();
    for point in points {
        let lab = Homelab::new();
        story(&lab, 0);
        lab.run();
        let old = lab.world_files("world");
        story(&lab, 1);
        // The generation this batch should produce, computed apart.
        let reference = Homelab::new();
        story(&reference, 0);
        story(&reference, 1);
        reference.run();
        let new = reference.world_files("world");

        let crashed = lab.observer(["run", "--no-tick"]).env("OBSERVER_TEST_CRASH_AT", &point).run();
        assert_ne!(crashed.code, Some(1), "{point}: a crash is not an orderly failure: {}", crashed.stderr);
        assert_each_file_old_or_new(&lab, &old, &new);
        lab.run();
        assert_eq!(lab.world_files("world"), new, "{point}: the run after the crash must converge");
        assert_eq!(lab.summary()["events"]["total"], 6, "{point}: each event folded exactly once");
        lab.assert_world_equals_rebuild();
    }
}

#[test]
fn a_full_disk_fails_the_run_and_keeps_the_previous_generation() {
    for nth in 1..=6 {
        let lab = Homelab::new();
        story(&lab, 0);
        lab.run();
        let world = lab.world_files("world");
        let checkpoint = lab.read("state/observer_checkpoint.json");
        story(&lab, 1);
        let out =
            lab.observer(["run", "--no-tick"]).env("OBSERVER_TEST_FAIL_AT", &format!("write:{nth}")).run().code(1);
        assert!(out.stderr.contains("No space left on device"), "{}", out.stderr);
        if nth <= WORLD_FILES.len() {
            assert!(out.stderr.contains("the checkpoint was not committed"), "{}", out.stderr);
        }
        assert_eq!(lab.read("state/observer_checkpoint.json"), checkpoint, "write {nth}: checkpoint untouched");
        let leftovers: Vec<_> = std::fs::read_dir(lab.path("world"))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "no temp files are left behind");
        if nth <= WORLD_FILES.len() {
            assert_eq!(lab.world_files("world"), world, "write {nth}: the old generation stays whole");
        }
        lab.run();
        assert_eq!(lab.summary()["events"]["total"], 6);
        lab.assert_world_equals_rebuild();
    }
}

#[test]
fn an_unwritable_world_directory_is_a_clear_error() {
    let lab = Homelab::new();
    story(&lab, 0);
    lab.write("world", "not a directory");
    lab.observer(["run", "--no-tick"]).run().code(1).stderr_has("cannot create the world directory");
    assert!(!lab.path("state/observer_checkpoint.json").exists(), "nothing is committed without a world");
}

#[test]
fn a_damaged_checkpoint_is_refused_not_silently_replaced() {
    let lab = Homelab::new();
    story(&lab, 0);
    lab.run();
    lab.write("state/observer_checkpoint.json", "{\"format\":1,\"cursors\":{\"sat");
    lab.observer(["run", "--no-tick"]).run().code(1).stderr_has("observer rebuild");
    lab.observer(["rebuild"]).run().success();
    lab.run();
    assert_eq!(lab.summary()["events"]["total"], 3);
}

#[test]
fn deleting_the_checkpoint_rebuilds_the_same_world() {
    let lab = Homelab::new();
    story(&lab, 0);
    lab.run();
    story(&lab, 1);
    lab.run();
    let world = lab.world_files("world");
    std::fs::remove_file(lab.path("state/observer_checkpoint.json")).unwrap();
    lab.run();
    assert_eq!(lab.world_files("world"), world);
}

fn hold_lock(lab: &Homelab) -> File {
    std::fs::create_dir_all(lab.path("state")).unwrap();
    let file =
        OpenOptions::new().write(true).create(true).truncate(true).open(lab.path("state/.observer.lock")).unwrap();
    file.try_lock().unwrap();
    std::fs::write(lab.path("state/.observer.lock"), "pid 4242 running `observer run`").unwrap();
    file
}

#[test]
fn a_second_concurrent_run_exits_75_at_once_naming_the_holder() {
    let lab = Homelab::new();
    story(&lab, 0);
    let lock = hold_lock(&lab);
    let started = Instant::now();
    let out = lab.observer(["run", "--no-tick"]).run().code(75);
    assert!(started.elapsed() < Duration::from_secs(10), "it must not wait");
    assert!(out.stderr.contains("pid 4242"), "{}", out.stderr);
    assert!(!lab.path("world").exists());
    lab.observer(["rebuild"]).run().code(75);
    drop(lock);
    // `--wait`: a process another test forks at this moment holds a copy of
    // the lock's descriptor until it execs (seen once under load).
    lab.observer(["run", "--no-tick", "--wait"]).run().code(0);
}

#[test]
fn with_wait_a_run_waits_for_the_holder() {
    let lab = Homelab::new();
    story(&lab, 0);
    let lock = hold_lock(&lab);
    let mut child = {
        let mut invocation = lab.observer(["run", "--no-tick", "--wait"]);
        invocation.command.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
        invocation.command.spawn().unwrap()
    };
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "it waits while the lock is held");
    drop(lock);
    assert!(child.wait().unwrap().success());
    assert_eq!(lab.summary()["events"]["total"], 3);
}

#[test]
fn run_appends_a_tick_that_moves_the_clock() {
    let lab = Homelab::new();
    story(&lab, 0);
    lab.observer(["run"]).env("OBSERVER_NOW", "2026-05-12T12:20:00Z").run().success();
    let ticks = lab.read("events/observer/ticks-2026-05-12.jsonl");
    assert_eq!(
        ticks,
        "{\"ts\":\"2026-05-12T12:20:00Z\",\"type\":\"tick\",\"payload\":{\"source\":\"observer run\"}}\n"
    );
    let summary = lab.summary();
    assert_eq!(summary["as_of"], "2026-05-12T12:20:00Z");
    assert_eq!(summary["counters"]["ticks"], 1);
    assert_eq!(summary["nodes"]["stale"], 1, "the tick makes the silent node stale");
    lab.assert_world_equals_rebuild();
}

#[test]
fn a_torn_tick_line_is_rejected_alone_and_the_next_tick_survives() {
    let lab = Homelab::new();
    lab.write("events/observer/ticks-2026-05-12.jsonl", "{\"ts\":\"2026-05-12T12:19:00Z\",\"ty");
    lab.observer(["run"]).env("OBSERVER_NOW", "2026-05-12T12:20:00Z").run().success();
    let summary = lab.summary();
    assert_eq!(summary["counters"]["ticks"], 1);
    assert_eq!(summary["events"]["rejected"], 1);
}
