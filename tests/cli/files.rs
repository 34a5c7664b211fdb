//! File-system cases under `events/`: truncation, regrowth, inode reuse,
//! symlinks, zero-byte files, identical first lines, many files at once
//! (guarantees 1, 6 and 7). Rotation, renames, deletion and names that sort
//! first are in `reading.rs` and `regressions.rs`.

use std::fs;
use std::os::unix::fs::MetadataExt;

use crate::support::{Ev, Homelab};

fn heartbeat(ts: &str, node: &str) -> String {
    Ev::new(ts, "heartbeat").node(node).line()
}

fn minute(n: u32) -> String {
    format!("2026-05-12T12:{n:02}:00Z")
}

#[test]
fn a_file_truncated_to_nothing_while_stopped_stops_the_run_until_a_rebuild() {
    // logrotate's `copytruncate`: the copy goes where observer does not look.
    let lab = Homelab::new();
    lab.write("events/app.jsonl", &(heartbeat(&minute(0), "a") + &heartbeat(&minute(1), "a")));
    lab.run();
    fs::copy(lab.path("events/app.jsonl"), lab.path("events/app.jsonl.1")).unwrap();
    fs::File::options().write(true).open(lab.path("events/app.jsonl")).unwrap().set_len(0).unwrap();
    let checkpoint = lab.read("state/observer_checkpoint.json");
    lab.observer(["run", "--no-tick"])
        .run()
        .code(1)
        .stderr_has("app.jsonl shrank from 120 to 0 bytes")
        .stderr_has("observer rebuild");
    assert_eq!(lab.read("state/observer_checkpoint.json"), checkpoint, "nothing is committed");
    // Writing on does not make it right: it is still shorter than what was read.
    lab.append("events/app.jsonl", &heartbeat(&minute(2), "a"));
    lab.observer(["run", "--no-tick"]).run().code(1).stderr_has("app.jsonl shrank from 120 to 60 bytes");
    // A rebuild starts over from what the files hold now.
    lab.observer(["rebuild"]).run().success();
    assert_eq!(lab.summary()["events"]["total"], 1);
    lab.run();
}

#[test]
fn a_file_shrunk_and_regrown_past_its_old_offset_stops_the_run() {
    let lab = Homelab::new();
    lab.write("events/app.jsonl", &(heartbeat(&minute(0), "a") + &heartbeat(&minute(1), "a")));
    lab.run();
    // Rewritten in place (same inode) with different, longer content.
    lab.write(
        "events/app.jsonl",
        &(heartbeat(&minute(0), "b") + &heartbeat(&minute(1), "b") + &heartbeat(&minute(2), "b")),
    );
    let world = lab.world_files("world");
    lab.observer(["run", "--no-tick"])
        .run()
        .code(1)
        .stderr_has("app.jsonl changed in the part already read")
        .stderr_has("observer rebuild");
    assert_eq!(lab.world_files("world"), world);
}

#[test]
fn a_file_deleted_and_created_again_with_other_bytes_stops_the_run_even_when_its_inode_is_reused() {
    let lab = Homelab::new();
    lab.write("events/app.jsonl", &heartbeat(&minute(0), "a"));
    lab.run();
    let old = fs::metadata(lab.path("events/app.jsonl")).unwrap().ino();
    fs::remove_file(lab.path("events/app.jsonl")).unwrap();
    lab.write("events/app.jsonl", &(heartbeat(&minute(5), "b") + &heartbeat(&minute(6), "b")));
    let new = fs::metadata(lab.path("events/app.jsonl")).unwrap().ino();
    let world = lab.world_files("world");
    lab.observer(["run", "--no-tick"])
        .run()
        .code(1)
        .stderr_has("app.jsonl was replaced by a file whose bytes differ from the 60 bytes already folded")
        .stderr_has("observer rebuild");
    assert_eq!(lab.world_files("world"), world, "inode {old} -> {new}: nothing committed");
    assert_eq!(lab.summary()["events"]["total"], 1);
    lab.observer(["rebuild"]).run().success();
    assert_eq!(lab.summary()["events"]["total"], 2, "the rebuild folds the file as it is now");
    // A new path that reuses a deleted file's inode does not carry its cursor.
    fs::remove_file(lab.path("events/app.jsonl")).unwrap();
    lab.write("events/other.jsonl", &heartbeat(&minute(7), "c"));
    lab.run();
    assert_eq!(lab.summary()["events"]["total"], 3);
    let header = lab.checkpoint_header();
    assert_eq!(header["cursors"].as_object().unwrap().keys().collect::<Vec<_>>(), ["other.jsonl"]);
}

/// Issue 10, point 2: `sed -i` writes a new file and renames it over the
/// old one. Before, the new file was read from its start with a warning,
/// and two lines gave `events.total` 4.
#[test]
fn a_consumed_file_edited_by_sed_i_stops_the_run_naming_it() {
    let lab = Homelab::new();
    lab.write("events/app.jsonl", &(heartbeat(&minute(0), "a") + &heartbeat(&minute(1), "a")));
    lab.run();
    assert_eq!(lab.summary()["events"]["total"], 2);
    let status = std::process::Command::new("sed")
        .args(["-i", "1s/\"a\"/\"z\"/"])
        .arg(lab.path("events/app.jsonl"))
        .status()
        .unwrap();
    assert!(status.success());
    let checkpoint = lab.read("state/observer_checkpoint.json");
    let world = lab.world_files("world");
    let out = lab.observer(["run", "--no-tick"]).run().code(1);
    for said in [
        "events/app.jsonl was replaced by a file whose bytes differ from the 120 bytes already folded",
        "`sed -i`",
        "run `observer rebuild`",
        "Producers should rotate by starting a new dated file",
        "never by editing or rewriting a file",
    ] {
        assert!(out.stderr.contains(said), "{said:?} in {}", out.stderr);
    }
    assert_eq!(lab.read("state/observer_checkpoint.json"), checkpoint, "nothing is committed");
    assert_eq!(lab.world_files("world"), world);
    assert_eq!(lab.summary()["events"]["total"], 2, "not 4");
    // It keeps stopping until a rebuild, which folds the file as it is now.
    lab.observer(["run", "--no-tick"]).run().code(1);
    lab.observer(["rebuild"]).run().success();
    assert_eq!(lab.summary()["events"]["total"], 2);
    assert_eq!(lab.json("world/nodes.json")["nodes"]["z"]["status"], "up");
    lab.run();
}

/// Decided: a file replaced by a longer one whose first bytes are exactly
/// what was consumed (an append done by rewriting the file, `cat old new >
/// tmp && mv tmp app.jsonl`) is followed: nothing folded has changed.
#[test]
fn a_file_replaced_by_a_longer_one_with_the_consumed_bytes_unchanged_is_followed() {
    let lab = Homelab::new();
    let first = heartbeat(&minute(0), "a") + &heartbeat(&minute(1), "a");
    lab.write("events/app.jsonl", &first);
    lab.run();
    let old = fs::metadata(lab.path("events/app.jsonl")).unwrap().ino();
    lab.write("events/app.jsonl.tmp", &(first + &heartbeat(&minute(2), "a")));
    fs::rename(lab.path("events/app.jsonl.tmp"), lab.path("events/app.jsonl")).unwrap();
    assert_ne!(fs::metadata(lab.path("events/app.jsonl")).unwrap().ino(), old, "another file");
    let out = lab.observer(["run", "--no-tick"]).run().success();
    assert!(!out.stderr.contains("replaced"), "{}", out.stderr);
    assert_eq!(lab.summary()["events"]["total"], 3, "only the new line is folded");
    lab.assert_world_equals_rebuild();
}

#[test]
fn symlinks_inside_events_are_not_followed() {
    let lab = Homelab::new();
    lab.write("outside/secret.jsonl", &heartbeat(&minute(0), "outside"));
    lab.write("outside/dir/more.jsonl", &heartbeat(&minute(0), "outside-dir"));
    lab.write("events/real.jsonl", &heartbeat(&minute(1), "inside"));
    std::os::unix::fs::symlink(lab.path("outside/secret.jsonl"), lab.path("events/link.jsonl")).unwrap();
    std::os::unix::fs::symlink(lab.path("outside/dir"), lab.path("events/linkdir")).unwrap();
    // A link to a file inside events/ would count its events twice.
    std::os::unix::fs::symlink(lab.path("events/real.jsonl"), lab.path("events/again.jsonl")).unwrap();
    std::os::unix::fs::symlink(lab.path("nowhere.jsonl"), lab.path("events/dangling.jsonl")).unwrap();
    lab.run();
    let summary = lab.summary();
    assert_eq!(summary["events"]["total"], 1);
    assert_eq!(summary["events"]["rejected"], 0, "a link is skipped, not an error");
    assert_eq!(lab.json("world/nodes.json")["nodes"].as_object().unwrap().keys().collect::<Vec<_>>(), ["inside"]);
}

#[test]
fn an_events_directory_that_is_itself_a_symlink_is_followed() {
    // Operators put the event log on a bigger disk; only links inside it are
    // skipped.
    let lab = Homelab::new();
    fs::remove_dir(lab.path("events")).unwrap();
    lab.write("disk/events/a.jsonl", &heartbeat(&minute(0), "a"));
    std::os::unix::fs::symlink(lab.path("disk/events"), lab.path("events")).unwrap();
    lab.run();
    assert_eq!(lab.summary()["events"]["total"], 1);
}

#[test]
fn zero_byte_files_are_read_once_they_get_events() {
    let lab = Homelab::new();
    for i in 0..10 {
        lab.write(&format!("events/lines-{i}.jsonl"), "");
        lab.write(&format!("events/single-{i}.json"), "");
    }
    lab.run();
    assert_eq!(lab.summary()["events"]["total"], 0);
    assert_eq!(lab.summary()["events"]["rejected"], 0);
    for i in 0..10 {
        lab.append(&format!("events/lines-{i}.jsonl"), &heartbeat(&minute(i), &format!("l{i}")));
        lab.write(&format!("events/single-{i}.json"), &heartbeat(&minute(i), &format!("s{i}")));
    }
    lab.run();
    lab.run();
    assert_eq!(lab.summary()["events"]["total"], 20);
    lab.assert_world_equals_rebuild();
}

#[test]
fn files_with_identical_first_lines_each_keep_their_own_cursor() {
    // Producers that start every file with the same line (a banner event):
    // content decides identity only for files that moved or vanished.
    let lab = Homelab::new();
    let banner = heartbeat(&minute(0), "banner");
    for name in ["a", "b", "c"] {
        lab.write(&format!("events/{name}.jsonl"), &banner);
    }
    lab.run();
    assert_eq!(lab.summary()["events"]["total"], 3, "three files, three events (no ids)");
    // Swap two of them by renaming, and append to each.
    fs::rename(lab.path("events/a.jsonl"), lab.path("events/tmp.jsonl")).unwrap();
    fs::rename(lab.path("events/b.jsonl"), lab.path("events/a.jsonl")).unwrap();
    fs::rename(lab.path("events/tmp.jsonl"), lab.path("events/b.jsonl")).unwrap();
    for (i, name) in ["a", "b", "c"].iter().enumerate() {
        lab.append(&format!("events/{name}.jsonl"), &heartbeat(&minute(1 + i as u32), name));
    }
    lab.run();
    assert_eq!(lab.summary()["events"]["total"], 6, "each appended line once, no banner twice");
    lab.assert_world_equals_rebuild();
}

/// `observer ARGS…` in `lab` under an open-file limit of `limit`
/// (`ulimit -n`), expected to succeed.
fn run_limited(lab: &Homelab, limit: u32, args: &[&str]) {
    let script = format!("ulimit -n {limit} && exec \"$0\" \"$@\"");
    let mut command = std::process::Command::new("sh");
    command.arg("-c").arg(script).arg(crate::support::BIN).arg("--root").arg(lab.root()).args(args);
    command.env_remove("OBSERVER_ROOT").env_remove("OBSERVER_CONFIG").env_remove("OBSERVER_INVENTORY");
    command.env("OBSERVER_NOW", "2026-05-12T13:00:00Z");
    let output = command.output().expect("run observer under a limit");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "observer {args:?} under ulimit -n {limit}: {stderr}");
}

/// More changed `.jsonl` files than the open-file limit leaves room to
/// stream (600 under `ulimit -n 300`, as a first run or a rebuild over a
/// few years of daily files meets the usual limit of 1,024): the pass reads
/// the files with the least to read whole instead of stopping at "Too many
/// open files", and folds the same events in the same order as a rebuild
/// with no such limit.
#[test]
fn more_jsonl_files_than_the_open_file_limit_leaves_room_for_are_all_read() {
    let lab = Homelab::new();
    let ts = |n: u32| format!("2026-05-12T{:02}:{:02}:{:02}Z", 10 + n / 3600, n / 60 % 60, n % 60);
    for i in 0..600u32 {
        // Every tenth file is longer; under the limit 44 files stay open
        // and the rest are parked (closed between reads); each file's
        // events interleave with the others'.
        let count = if i % 10 == 0 { 20 } else { 2 };
        let lines: String = (0..count).map(|k| heartbeat(&ts(i + k * 600), &format!("n-{}", i % 50))).collect();
        lab.write(&format!("events/day-{i:03}.jsonl"), &lines);
    }
    run_limited(&lab, 300, &["run", "--no-tick"]);
    assert_eq!(lab.summary()["events"]["total"], 60 * 20 + 540 * 2);
    assert_eq!(lab.json("state/last-run.json")["files_read"], 600);
    for i in (0..600).step_by(7) {
        lab.append(&format!("events/day-{i:03}.jsonl"), &heartbeat(&ts(30_000 + i), "late-comer"));
    }
    run_limited(&lab, 300, &["run", "--no-tick"]);
    assert_eq!(lab.summary()["events"]["total"], 60 * 20 + 540 * 2 + 86);
    lab.assert_world_equals_rebuild();
    run_limited(&lab, 300, &["rebuild"]);
    lab.assert_world_equals_rebuild();
}

/// 5,000 files in the quick mode of `cargo test`, 50,000 in the long mode
/// (`OBSERVER_LONG_TESTS=1`), or `OBSERVER_MANY_FILES=N`. Creating files is
/// the slow part: ext4 creates slowly for a few minutes after mass deletions
/// (it avoids reusing inodes freed recently), which the other tests cause.
#[test]
fn many_small_files_at_once() {
    let files: u32 = crate::support::long_mode_value("OBSERVER_MANY_FILES", 5_000, 50_000);
    let lab = Homelab::new();
    let started = std::time::Instant::now();
    for i in 0..files {
        let dir = lab.path(&format!("events/batch-{:02}", i / 1000));
        if i % 1000 == 0 {
            fs::create_dir_all(&dir).unwrap();
        }
        let (ext, node) = if i % 2 == 0 { ("jsonl", "lines") } else { ("json", "single") };
        let ts = format!("2026-05-12T{:02}:{:02}:{:02}Z", 10 + i / 3600 % 10, i / 60 % 60, i % 60);
        fs::write(dir.join(format!("{i:05}.{ext}")), heartbeat(&ts, &format!("{node}-{}", i % 97))).unwrap();
    }
    let written = started.elapsed();
    lab.run();
    let first = started.elapsed() - written;
    let summary = lab.summary();
    assert_eq!(summary["events"]["total"], files);
    assert_eq!(summary["nodes"]["total"], 194);
    lab.run();
    let idle = lab.json("state/last-run.json");
    assert_eq!(idle["files_read"], 0, "unchanged files are not opened");
    assert_eq!(idle["files_seen"], files);
    lab.append("events/batch-00/00000.jsonl", &heartbeat("2026-05-12T20:00:00Z", "late-comer"));
    lab.run();
    assert_eq!(lab.json("state/last-run.json")["files_read"], 1);
    assert_eq!(lab.summary()["events"]["total"], files + 1);
    lab.assert_world_equals_rebuild();
    eprintln!("{files} files: written in {written:?}, first run {first:?}, all {:?}", started.elapsed());
}
