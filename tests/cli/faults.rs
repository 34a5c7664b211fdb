//! Faults (guarantee 4): a damaged checkpoint of every kind, a full disk —
//! through the fault-injection point and on a real, small file system —
//! during a run, a rebuild and after the commit, and paths that cannot be
//! written. Each one exits 1 with a message that says what to do and leaves
//! the previous generation; none is a silent restart from zero.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use observer::store::checkpoint::FORMAT;

use crate::support::{Ev, Homelab, WORLD_FILES};

fn story(lab: &Homelab, minute: u32, nodes: u32) {
    let mut text = String::new();
    for n in 0..nodes {
        text +=
            &Ev::new(&format!("2026-05-12T12:{minute:02}:{:02}Z", n % 60), "heartbeat").node(&format!("n{n}")).line();
    }
    text += &Ev::new(&format!("2026-05-12T12:{minute:02}:59Z"), "service_unhealthy").node("n0").service("mqtt").line();
    lab.append("events/saturn.jsonl", &text);
}

/// Turns a good checkpoint into a damaged one.
type Damage = fn(&[u8]) -> Vec<u8>;

#[test]
fn every_kind_of_damaged_checkpoint_is_refused_with_a_pointer_to_rebuild() {
    fn with_format(good: &[u8], format: u32) -> Vec<u8> {
        let text = String::from_utf8_lossy(good);
        let current = format!("\"format\":{FORMAT}");
        assert!(text.starts_with(&format!("{{{current}")), "the header begins with its format");
        text.replacen(&current, &format!("\"format\":{format}"), 1).into()
    }
    let kinds: [(&str, Damage); 9] = [
        ("empty", |_| Vec::new()),
        ("zeroed", |good| vec![0; good.len()]),
        ("cut in its header", |good| good[..30].to_vec()),
        ("cut after its header", |good| good[..=good.iter().position(|b| *b == b'\n').unwrap()].to_vec()),
        ("cut in its body", |good| good[..good.len() - 40].to_vec()),
        ("padded with zeros", |good| [good, &[0; 4096]].concat()),
        ("of an older format", |good| with_format(good, 2)),
        ("of a newer format", |good| with_format(good, FORMAT + 1)),
        ("not JSON", |_| b"<<<<<<< HEAD\n".to_vec()),
    ];
    for (kind, damage) in kinds {
        let lab = Homelab::new();
        story(&lab, 0, 3);
        lab.run();
        let world = lab.world_files("world");
        let path = lab.path("state/observer_checkpoint.json");
        let damaged = damage(&fs::read(&path).unwrap());
        fs::write(&path, &damaged).unwrap();
        // Refused by a run with nothing new (which reads only the header)
        // and by one with new events.
        for new_events in [false, true] {
            if new_events {
                story(&lab, 1, 3);
            }
            let out = lab.observer(["run", "--no-tick"]).run().code(1);
            assert!(out.stderr.contains("observer_checkpoint.json cannot be used"), "{kind}: {}", out.stderr);
            assert!(out.stderr.contains("Run `observer rebuild`"), "{kind}: {}", out.stderr);
            assert_eq!(fs::read(&path).unwrap(), damaged, "{kind}: the checkpoint is left for the operator");
            assert_eq!(lab.world_files("world"), world, "{kind}: the world is left as it was");
        }
        lab.observer(["rebuild"]).run().success();
        lab.run();
        assert_eq!(lab.summary()["events"]["total"], 8, "{kind}: the rebuild folds every event once");
    }
}

#[test]
fn a_checkpoint_that_is_a_directory_is_named() {
    let lab = Homelab::new();
    story(&lab, 0, 1);
    fs::create_dir_all(lab.path("state/observer_checkpoint.json")).unwrap();
    lab.observer(["run", "--no-tick"]).run().code(1).stderr_has("observer_checkpoint.json: it is not a regular file");
    lab.observer(["rebuild"]).run().code(1).stderr_has("the checkpoint was not");
}

#[test]
fn a_state_directory_that_is_a_file_is_a_clear_error() {
    let lab = Homelab::new();
    story(&lab, 0, 1);
    lab.write("state", "not a directory");
    let out = lab.observer(["run", "--no-tick"]).run().code(1);
    assert!(out.stderr.contains("state is not a directory"), "{}", out.stderr);
    assert!(!lab.path("world").exists(), "nothing is written without the lock");
}

#[test]
fn a_file_in_the_place_of_events_observer_is_a_clear_error() {
    let lab = Homelab::new();
    story(&lab, 0, 1);
    lab.write("events/observer", "not a directory");
    let out = lab.observer(["run"]).run().code(1);
    assert!(out.stderr.contains("events/observer is not a directory; move it away"), "{}", out.stderr);
    assert!(!lab.path("state/observer_checkpoint.json").exists(), "nothing is committed");
    // Without a tick the run does not need the directory.
    lab.observer(["run", "--no-tick"]).run().success();
}

#[test]
fn a_world_file_that_cannot_be_replaced_fails_the_run_before_the_commit() {
    let lab = Homelab::new();
    story(&lab, 0, 1);
    lab.run();
    let checkpoint = lab.read("state/observer_checkpoint.json");
    story(&lab, 1, 1);
    fs::remove_file(lab.path("world/incidents.json")).unwrap();
    fs::create_dir(lab.path("world/incidents.json")).unwrap();
    lab.observer(["run", "--no-tick"])
        .run()
        .code(1)
        .stderr_has("cannot write")
        .stderr_has("incidents.json; the checkpoint was not committed, so the next run retries");
    assert_eq!(lab.read("state/observer_checkpoint.json"), checkpoint);
    fs::remove_dir(lab.path("world/incidents.json")).unwrap();
    lab.run();
    assert_eq!(lab.summary()["events"]["total"], 4);
    lab.assert_world_equals_rebuild();
}

#[test]
fn a_full_disk_after_the_commit_fails_the_run_but_loses_nothing() {
    // Writes: six world files, the event index, the checkpoint, then
    // state/last-run.json.
    let lab = Homelab::new();
    story(&lab, 0, 1);
    lab.run();
    story(&lab, 1, 1);
    lab.observer(["run", "--no-tick"])
        .env("OBSERVER_TEST_FAIL_AT", "write:9")
        .run()
        .code(1)
        .stderr_has("last-run.json")
        .stderr_has("No space left on device");
    assert_eq!(lab.summary()["events"]["total"], 4, "the pass was committed");
    lab.run();
    assert_eq!(lab.json("state/last-run.json")["events_folded"], 0, "nothing is folded twice");
    lab.assert_world_equals_rebuild();
}

#[test]
fn a_full_disk_during_a_rebuild_keeps_the_previous_generation() {
    let reference = Homelab::new();
    story(&reference, 0, 2);
    story(&reference, 1, 2);
    reference.run();
    let new = reference.world_files("world");
    // The outbox's temp file (made as the fold starts), then the six world
    // files.
    for nth in 1..=7 {
        let lab = Homelab::new();
        story(&lab, 0, 2);
        lab.run();
        story(&lab, 1, 2);
        let old = lab.world_files("world");
        let checkpoint = lab.read("state/observer_checkpoint.json");
        let out = lab.observer(["rebuild"]).env("OBSERVER_TEST_FAIL_AT", &format!("write:{nth}")).run().code(1);
        assert!(out.stderr.contains("No space left on device"), "write {nth}: {}", out.stderr);
        assert_eq!(lab.read("state/observer_checkpoint.json"), checkpoint, "write {nth}: the checkpoint stays");
        assert!(lab.temp_files().is_empty(), "write {nth}: {:?}", lab.temp_files());
        let now = lab.world_files("world");
        assert!(now == old || now == new, "write {nth}: world/ is neither generation whole");
        lab.run();
        assert_eq!(lab.summary()["events"]["total"], 6, "write {nth}");
        lab.assert_world_equals_rebuild();
    }
}

/// A tmpfs of a given size mounted over a directory, unmounted on drop;
/// `None` where the tests may not mount (not root, no CAP_SYS_ADMIN).
struct SmallDisk {
    at: PathBuf,
}

impl SmallDisk {
    fn mount(at: &Path, size: &str) -> Option<SmallDisk> {
        fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0755"), "tmpfs"])
            .arg(at)
            .output()
            .is_ok_and(|out| out.status.success());
        ok.then(|| SmallDisk { at: at.to_path_buf() })
    }

    fn remount(&self, options: &str) {
        let out = Command::new("mount").args(["-o", &format!("remount,{options}")]).arg(&self.at).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.at).output();
    }
}

#[test]
fn a_real_full_disk_under_world_or_state_keeps_the_previous_generation() {
    for dir in ["world", "state"] {
        let lab = Homelab::new();
        let Some(disk) = SmallDisk::mount(&lab.path(dir), "64k") else {
            eprintln!("skipped: cannot mount a tmpfs here (the fault-injection tests cover the same paths)");
            return;
        };
        story(&lab, 0, 2);
        lab.run();
        let world = lab.world_files("world");
        let checkpoint = lab.read("state/observer_checkpoint.json");
        // Enough nodes that the new nodes.json and checkpoint cannot fit.
        story(&lab, 1, 3000);
        let out = lab.observer(["run", "--no-tick"]).run().code(1);
        assert!(out.stderr.contains("No space left on device"), "{dir}: {}", out.stderr);
        assert_eq!(lab.read("state/observer_checkpoint.json"), checkpoint, "{dir}: the checkpoint stays");
        if dir == "world" {
            assert_eq!(lab.world_files("world"), world, "{dir}: nothing replaced before the disk filled");
        }
        assert!(lab.temp_files().is_empty(), "{dir}: {:?}", lab.temp_files());
        // Read-only is refused the same way.
        disk.remount("ro");
        let out = lab.observer(["run", "--no-tick"]).run().code(1);
        assert!(out.stderr.contains("Read-only file system"), "{dir}: {}", out.stderr);
        disk.remount("rw,size=16m");
        lab.run();
        assert_eq!(lab.summary()["events"]["total"], 3004, "{dir}: each event once");
        lab.assert_world_equals_rebuild();
    }
}

#[test]
fn a_damaged_world_file_is_rewritten_not_trusted() {
    let lab = Homelab::new();
    story(&lab, 0, 1);
    lab.run();
    let good = lab.world_files("world");
    for name in WORLD_FILES {
        fs::write(lab.path(&format!("world/{name}")), b"\0\0\0\0").unwrap();
    }
    lab.run();
    assert_eq!(lab.world_files("world"), good);
}
