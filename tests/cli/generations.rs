//! One world generation at a time (SPEC §3, guarantee 4; issue 10, point
//! 1): `world/..data` → `..gen-N`, each world file a symlink through it; a
//! reader, a crash or a full disk sees one whole generation.

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::support::{Ev, Homelab, Outcome, WORLD_FILES, lines};

fn story(lab: &Homelab, minute: u32) {
    lab.append(
        "events/saturn.jsonl",
        &lines(&[
            Ev::new(&format!("2026-05-12T12:{minute:02}:00Z"), "heartbeat").node("saturn"),
            Ev::new(&format!("2026-05-12T12:{minute:02}:30Z"), "service_unhealthy").node("saturn").service("mosquitto"),
        ]),
    );
}

/// The `as_of` of each world file in `dir` (every one has it).
fn as_ofs(dir: &Path) -> Vec<String> {
    try_as_ofs(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

/// The same, or the error of a file that cannot be read; a file that is
/// there is always whole JSON.
fn try_as_ofs(dir: &Path) -> std::io::Result<Vec<String>> {
    WORLD_FILES
        .iter()
        .map(|name| {
            let text = fs::read_to_string(dir.join(name))?;
            let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            Ok(json["as_of"].to_string())
        })
        .collect()
}

fn assert_one_generation(lab: &Homelab, context: &str) -> String {
    let seen = as_ofs(&lab.path("world"));
    assert!(seen.iter().all(|a| a == &seen[0]), "{context}: two generations in world/: {seen:?}");
    seen[0].clone()
}

fn generations(lab: &Homelab) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(lab.path("world"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("..gen-"))
        .collect();
    names.sort();
    names
}

/// Turns the world into what an older version left: regular files only.
fn as_an_older_version_left_it(lab: &Homelab) {
    let files = lab.world_files("world");
    for (name, text) in files {
        fs::remove_file(lab.path(&format!("world/{name}"))).unwrap();
        fs::write(lab.path(&format!("world/{name}")), text).unwrap();
    }
    fs::remove_file(lab.path("world/..data")).unwrap();
    for name in generations(lab) {
        fs::remove_dir_all(lab.path(&format!("world/{name}"))).unwrap();
    }
}

fn assert_the_layout(lab: &Homelab) {
    assert!(fs::symlink_metadata(lab.path("world/..data")).unwrap().file_type().is_symlink());
    for name in WORLD_FILES {
        let link = fs::read_link(lab.path(&format!("world/{name}"))).unwrap();
        assert_eq!(link, Path::new("..data").join(name));
    }
    assert!(lab.path("world/history").is_dir() || !lab.path("world/history").exists());
}

/// A run with nothing new is a no-op (the state not read, the checkpoint
/// not written) also after passes whose unchanged files are hard links
/// shared across generations: the removal of the oldest generation, which
/// changes those files' link count and so their ctime, is done before the
/// pass stamps the world's files. Issue 11, thirty-second pass: with the
/// removal moved beside the commit, a stamp taken before it made each
/// idle run after such a pass fold again.
#[test]
fn an_idle_run_after_passes_that_share_files_across_generations_is_a_no_op() {
    use std::os::unix::fs::MetadataExt;
    let lab = Homelab::new();
    story(&lab, 5);
    lab.run();
    let checkpoint = || {
        let meta = fs::metadata(lab.path("state/observer_checkpoint.json")).unwrap();
        (meta.ino(), meta.mtime(), meta.mtime_nsec())
    };
    for n in 0..4 {
        // Late: the clock stays, so the files it does not touch are the
        // generation before's, linked.
        lab.append(
            "events/late.jsonl",
            &Ev::new(&format!("2026-05-12T12:00:0{n}Z"), "heartbeat").node(&format!("late{n}")).line(),
        );
        lab.run();
        let before = checkpoint();
        lab.run();
        assert_eq!(checkpoint(), before, "pass {n}: the idle run after it wrote the checkpoint (it folded again)");
    }
    assert_eq!(generations(&lab), ["..gen-4", "..gen-5"]);
    assert_one_generation(&lab, "after the idle runs");
}

#[test]
fn the_world_is_a_link_to_one_generation_and_a_no_op_run_makes_none() {
    let lab = Homelab::new();
    story(&lab, 0);
    lab.run();
    assert_the_layout(&lab);
    assert_eq!(generations(&lab), ["..gen-1"]);
    let target = fs::read_link(lab.path("world/..data")).unwrap();
    lab.run();
    assert_eq!(fs::read_link(lab.path("world/..data")).unwrap(), target, "a no-op run swaps nothing");
    assert_eq!(generations(&lab), ["..gen-1"]);
    story(&lab, 1);
    lab.run();
    story(&lab, 2);
    lab.run();
    assert_eq!(generations(&lab), ["..gen-2", "..gen-3"], "the current one and the one before");
    assert_one_generation(&lab, "after three passes");
    // `rebuild --out` writes the same layout, byte for byte the same files.
    lab.assert_world_equals_rebuild();
    assert!(fs::symlink_metadata(lab.path("rebuilt/..data")).unwrap().file_type().is_symlink());
}

#[test]
fn a_reader_that_resolves_world_data_once_never_sees_two_generations() {
    let lab = Homelab::new();
    story(&lab, 0);
    lab.run();
    let world = lab.path("world");
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let (mut reads, mut kinds) = (0u64, std::collections::BTreeSet::new());
            while !stop.load(Ordering::SeqCst) {
                // Resolve the link once; read every file of that generation.
                // (One is removed two swaps later: a reader slower than two
                // runs finds a file gone, never one of another generation.)
                let Ok(target) = fs::read_link(world.join("..data")) else { continue };
                let Ok(seen) = try_as_ofs(&world.join(target)) else { continue };
                assert!(seen.iter().all(|a| a == &seen[0]), "two generations in one read: {seen:?}");
                kinds.insert(seen[0].clone());
                reads += 1;
            }
            (reads, kinds.len())
        })
    };
    let runs = 40;
    for minute in 1..=runs {
        story(&lab, minute);
        lab.run();
    }
    stop.store(true, Ordering::SeqCst);
    let (reads, generations_seen) = reader.join().expect("the reader saw one generation in each read");
    assert!(reads > runs as u64, "the reader read during the runs: {reads} reads");
    assert!(generations_seen > 1, "the reader saw the world move: {generations_seen}");
}

#[test]
fn a_crash_at_each_generation_point_leaves_one_whole_generation() {
    for point in ["after-world-file:1", "after-world-file:6", "before-swap", "before-rename:1", "after-swap"] {
        let lab = Homelab::new();
        story(&lab, 0);
        lab.run();
        let old = assert_one_generation(&lab, point);
        story(&lab, 1);
        let crashed = lab.observer(["run", "--no-tick"]).env("OBSERVER_TEST_CRASH_AT", point).run();
        assert_eq!(crashed.code, None, "{point}: {}", crashed.stderr);
        let now = assert_one_generation(&lab, point);
        let swapped = point == "after-swap";
        assert_eq!(now != old, swapped, "{point}: the new generation is current only once swapped");
        lab.run();
        assert_one_generation(&lab, point);
        assert_eq!(generations(&lab).len(), 2, "{point}: what the crash left is gone: {:?}", generations(&lab));
        assert!(lab.temp_files().is_empty(), "{point}: {:?}", lab.temp_files());
        assert_eq!(lab.summary()["events"]["total"], 4, "{point}");
        lab.assert_world_equals_rebuild();
    }
}

#[test]
fn an_older_versions_world_of_plain_files_is_migrated_not_refused() {
    let lab = Homelab::new();
    story(&lab, 0);
    lab.run();
    as_an_older_version_left_it(&lab);
    let old = lab.world_files("world");
    lab.run();
    assert_the_layout(&lab);
    assert_eq!(lab.world_files("world"), old, "a migration alone changes no byte");
    story(&lab, 1);
    lab.run();
    assert_one_generation(&lab, "after the migration");
    assert_eq!(lab.summary()["events"]["total"], 4);
    lab.assert_world_equals_rebuild();
}

#[test]
fn a_kill_in_the_middle_of_the_migration_leaves_one_generation_and_the_next_run_finishes_it() {
    let points = ["before-rename:1", "before-link:1", "before-link:4", "before-link:6", "before-swap", "after-swap"];
    for point in points {
        let lab = Homelab::new();
        story(&lab, 0);
        lab.run();
        as_an_older_version_left_it(&lab);
        let old = assert_one_generation(&lab, point);
        story(&lab, 1);
        let crashed = lab.observer(["run", "--no-tick"]).env("OBSERVER_TEST_CRASH_AT", point).run();
        assert_eq!(crashed.code, None, "{point}: {}", crashed.stderr);
        let now = assert_one_generation(&lab, point);
        assert_eq!(now != old, point == "after-swap", "{point}");
        lab.run();
        assert_the_layout(&lab);
        assert_eq!(lab.summary()["events"]["total"], 4, "{point}");
        assert!(lab.temp_files().is_empty(), "{point}: {:?}", lab.temp_files());
        lab.assert_world_equals_rebuild();
    }
}

/// For each of the six world files in turn: the second pass made to fail
/// at the fault point `point` for that file (`OBSERVER_TEST_FAIL_AT`, as
/// on a full disk) exits 1, leaves the old generation whole and current
/// and no other, and the next run equals a rebuild. `also` checks the
/// failed run's output further, given which file failed.
fn a_failure_at_each_world_file_leaves_the_old_generation(point: &str, also: impl Fn(usize, &Outcome)) {
    for nth in 1..=WORLD_FILES.len() {
        let lab = Homelab::new();
        story(&lab, 0);
        lab.run();
        let world = lab.world_files("world");
        let target = fs::read_link(lab.path("world/..data")).unwrap();
        story(&lab, 1);
        let out = lab
            .observer(["run", "--no-tick"])
            .env("OBSERVER_TEST_FAIL_AT", &format!("{point}:{nth}"))
            .run()
            .code(1)
            .stderr_has("No space left on device");
        also(nth, &out);
        assert_eq!(lab.world_files("world"), world, "{point} {nth}: the old generation, every file");
        assert_eq!(fs::read_link(lab.path("world/..data")).unwrap(), target, "{point} {nth}: not swapped");
        assert_eq!(generations(&lab), ["..gen-1"], "{point} {nth}: the half-written generation is removed");
        lab.run();
        assert_eq!(lab.summary()["events"]["total"], 4);
        lab.assert_world_equals_rebuild();
    }
}

#[test]
fn a_full_disk_while_the_generation_is_written_leaves_the_old_one_whole_and_current() {
    a_failure_at_each_world_file_leaves_the_old_generation("write", |_, _| ());
}

/// Each world file's sync runs on a thread of its own from the moment the
/// file is written: one that fails (as on a full disk) fails the pass
/// before the swap, names its file, and leaves the old generation whole
/// and current.
#[test]
fn a_sync_that_fails_leaves_the_old_generation_whole_and_current_and_names_its_file() {
    a_failure_at_each_world_file_leaves_the_old_generation("world-sync", |nth, out| {
        // The files are written, and their syncs started, in this order.
        let file = WORLD_FILES[nth - 1];
        let named = format!("world/{file}; the checkpoint was not committed");
        assert!(out.stderr.contains(&named), "sync {nth}: names {file}: {}", out.stderr);
    });
}
