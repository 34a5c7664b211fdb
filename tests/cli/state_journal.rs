//! The engine state under `state/engine/` (issue 11): a snapshot and an
//! append-only journal of changed entities. A run that folds one event
//! writes a few records, not the state; a torn journal tail is cut; a crash
//! at each step of a compaction leaves a state that folds on to the world a
//! rebuild gives; a checkpoint of format 3 is read and converted.

use std::fs;

use serde_json::Value;

use crate::support::{Ev, Homelab};

const CHECKPOINT: &str = "state/observer_checkpoint.json";

/// Heartbeats of `nodes` nodes in minute `minute`, each with its own
/// status change for some, so that every node's entity changes.
fn minute_of(lab: &Homelab, minute: u32, nodes: u32) {
    let mut text = String::new();
    for n in 0..nodes {
        let ts = format!("2026-05-12T{:02}:{:02}:{:02}Z", 10 + minute / 60, minute % 60, n % 60);
        text += &Ev::new(&ts, "heartbeat").node(&format!("node-{n:04}")).line();
    }
    lab.append("events/fleet.jsonl", &text);
}

/// What the checkpoint's body commits of `state/engine/`.
fn state_ref(lab: &Homelab) -> Value {
    let text = lab.read(CHECKPOINT);
    let body = text.lines().nth(1).expect("a body line");
    serde_json::from_str::<Value>(body).expect("the body is JSON")["state"].clone()
}

fn generation(lab: &Homelab) -> u64 {
    state_ref(lab)["generation"].as_u64().expect("a generation")
}

fn snapshot(lab: &Homelab) -> String {
    format!("state/engine/snapshot-{}.json", generation(lab))
}

fn journal(lab: &Homelab) -> String {
    format!("state/engine/journal-{}.jsonl", generation(lab))
}

fn size(lab: &Homelab, rel: &str) -> u64 {
    fs::metadata(lab.path(rel)).map_or(0, |m| m.len())
}

/// The files of a generation written as a snapshot, with no journal yet:
/// the snapshot and the index of its entities.
fn snapshot_files(lab: &Homelab) -> [String; 2] {
    let generation = generation(lab);
    [format!("entities-{generation}.bin"), format!("snapshot-{generation}.json")]
}

fn engine_files(lab: &Homelab) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(lab.path("state/engine"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_run_that_folds_one_event_appends_a_few_records_not_the_state() {
    let lab = Homelab::new();
    minute_of(&lab, 0, 600);
    lab.run();
    let (first, snapshot_bytes) = (generation(&lab), size(&lab, &snapshot(&lab)));
    assert!(snapshot_bytes > 50_000, "a state worth not rewriting: {snapshot_bytes} bytes");
    assert_eq!(size(&lab, &journal(&lab)), 0, "a first pass writes a snapshot and no journal");
    lab.append("events/fleet.jsonl", &Ev::new("2026-05-12T10:01:00Z", "heartbeat").node("node-0007").line());
    lab.run();
    assert_eq!(generation(&lab), first, "appended to the journal, not compacted");
    let grown = size(&lab, &journal(&lab));
    assert!(grown > 0 && grown * 50 < snapshot_bytes, "one event wrote {grown} bytes of a {snapshot_bytes}-byte state");
    let records = lab.read(&journal(&lab));
    assert!(records.lines().all(|line| line.starts_with(r#"{"p":["#)), "{records}");
    assert!(records.contains("node-0007") && !records.contains("node-0008"), "{records}");
    assert_eq!(state_ref(&lab)["journal"]["bytes"].as_u64(), Some(grown), "the header commits it");
    lab.assert_world_equals_rebuild();
    assert_eq!(lab.summary()["events"]["total"], 601);
}

#[test]
fn a_torn_journal_tail_is_never_read_and_is_cut_by_the_next_pass() {
    let lab = Homelab::new();
    minute_of(&lab, 0, 100);
    lab.run();
    minute_of(&lab, 1, 3);
    lab.run();
    let committed = lab.read(&journal(&lab));
    assert!(!committed.is_empty());
    // A pass killed in its append: a record cut short, not committed.
    lab.append(&journal(&lab), r#"{"p":["engine","nodes","node-0001"],"v":{"status":"do"#);
    lab.observer(["run", "--no-tick"]).run().success();
    minute_of(&lab, 2, 3);
    lab.observer(["run", "--no-tick"]).run().success();
    let now = lab.read(&journal(&lab));
    assert!(now.starts_with(&committed) && !now.contains(r#""v":{"status":"do{"#), "{now}");
    assert_eq!(now.len() as u64, state_ref(&lab)["journal"]["bytes"].as_u64().unwrap());
    assert!(now.lines().all(|line| serde_json::from_str::<Value>(line).is_ok()), "{now}");
    lab.assert_world_equals_rebuild();
}

/// Runs that each change every node until the journal is compacted: the
/// run after `runs_before` passes compacts. Returns that number of runs.
fn runs_until_compaction(lab: &Homelab, nodes: u32) -> u32 {
    minute_of(lab, 0, nodes);
    lab.run();
    let first = generation(lab);
    for minute in 1..60 {
        minute_of(lab, minute, nodes);
        lab.run();
        if generation(lab) != first {
            return minute;
        }
    }
    panic!("the journal was never compacted");
}

#[test]
fn the_journal_is_compacted_into_a_new_snapshot_and_the_old_generation_goes() {
    let lab = Homelab::new();
    let minute = runs_until_compaction(&lab, 400);
    assert!(minute > 1, "compacted after {minute} runs");
    let names = engine_files(&lab);
    assert_eq!(names, snapshot_files(&lab), "{names:?}");
    minute_of(&lab, minute + 1, 2);
    lab.run();
    assert!(size(&lab, &journal(&lab)) > 0);
    // Its records are placed by the spans the compaction found in the new
    // snapshot, and the next run splices them there (a debug build checks
    // each placed splice against the scan).
    let records = lab.read(&journal(&lab));
    assert!(records.lines().all(|line| line.contains(r#","at":["#)), "{records}");
    minute_of(&lab, minute + 2, 2);
    lab.run();
    lab.assert_world_equals_rebuild();
    // A rebuild writes a fresh snapshot and no journal.
    lab.observer(["rebuild"]).run().success();
    assert_eq!(engine_files(&lab), snapshot_files(&lab));
}

#[test]
fn a_crash_at_each_step_of_a_compaction_folds_on_to_the_world_of_a_rebuild() {
    // Where a compacting pass can die: its new snapshot's temp file written
    // (the pass's first rename, in the runs looked at), the snapshot in
    // place and its index of entities' temp file written (the second), both
    // in place but not committed, the checkpoint that names them committed
    // but the old generation not yet removed. Whatever a rename point hits
    // (the world's renames run beside them), nothing is committed there.
    let reference = Homelab::new();
    let compacting = runs_until_compaction(&reference, 400);
    for point in ["before-rename:1", "before-rename:2", "after-engine-state", "before-clean"] {
        let lab = Homelab::new();
        minute_of(&lab, 0, 400);
        lab.run();
        for minute in 1..compacting {
            minute_of(&lab, minute, 400);
            lab.run();
        }
        let before = (generation(&lab), lab.read(CHECKPOINT));
        minute_of(&lab, compacting, 400);
        let out = lab.observer(["run", "--no-tick"]).env("OBSERVER_TEST_CRASH_AT", point).run();
        assert_eq!(out.code, None, "{point}: the pass must stop there: {}", out.stderr);
        let committed = generation(&lab) != before.0;
        assert_eq!(committed, point == "before-clean", "{point}: {:?}", engine_files(&lab));
        if !committed {
            assert_eq!(lab.read(CHECKPOINT), before.1, "{point}: the checkpoint is the old one");
        }
        // The next runs fold on from whatever was committed.
        lab.run();
        minute_of(&lab, compacting + 1, 5);
        lab.run();
        assert_eq!(engine_files(&lab).len(), 2 + usize::from(size(&lab, &journal(&lab)) > 0), "{point}");
        assert_eq!(lab.summary()["events"]["total"], 400 * (compacting as u64 + 1) + 5, "{point}");
        lab.assert_world_equals_rebuild();
    }
}

#[test]
fn a_checkpoint_of_format_3_is_read_and_the_next_pass_writes_a_snapshot() {
    let lab = Homelab::new();
    minute_of(&lab, 0, 50);
    lab.run();
    lab.write_checkpoint_of_format_3();
    fs::remove_dir_all(lab.path("state/engine")).unwrap();
    // A no-op run reads the header alone; a run that folds reads the body.
    lab.observer(["run", "--no-tick"]).run().success();
    assert!(lab.read(CHECKPOINT).starts_with(r#"{"format":3,"#));
    minute_of(&lab, 1, 50);
    lab.observer(["run", "--no-tick"]).run().success();
    assert!(lab.read(CHECKPOINT).starts_with(r#"{"format":7,"#));
    assert_eq!(engine_files(&lab), snapshot_files(&lab));
    assert_eq!(lab.summary()["events"]["total"], 100);
    lab.assert_world_equals_rebuild();
}

#[test]
fn a_missing_or_damaged_engine_state_is_refused_with_a_pointer_to_rebuild() {
    let lab = Homelab::new();
    minute_of(&lab, 0, 50);
    lab.run();
    minute_of(&lab, 1, 2);
    lab.run();
    let journal = journal(&lab);
    let good = lab.read(&journal);
    std::thread::sleep(std::time::Duration::from_millis(20));
    lab.write(&journal, &good.replacen("node-", "nodE-", 1));
    minute_of(&lab, 2, 2);
    let out = lab.observer(["run", "--no-tick"]).run().code(1);
    assert!(out.stderr.contains("journal-") && out.stderr.contains("observer rebuild"), "{}", out.stderr);
    fs::remove_file(lab.path(&snapshot(&lab))).unwrap();
    let out = lab.observer(["run", "--no-tick"]).run().code(1);
    assert!(out.stderr.contains("observer rebuild"), "{}", out.stderr);
    lab.observer(["rebuild"]).run().success();
    assert_eq!(lab.summary()["events"]["total"], 54);
}

#[test]
fn a_full_disk_in_the_journal_append_fails_the_run_and_commits_nothing() {
    let lab = Homelab::new();
    minute_of(&lab, 0, 50);
    lab.run();
    let checkpoint = lab.read(CHECKPOINT);
    minute_of(&lab, 1, 2);
    let out = lab.observer(["run", "--no-tick"]).env("OBSERVER_TEST_FAIL_AT", "journal-append").run().code(1);
    assert!(out.stderr.contains("No space left on device") && out.stderr.contains("journal-"), "{}", out.stderr);
    assert_eq!(lab.read(CHECKPOINT), checkpoint, "the checkpoint is untouched");
    lab.run();
    assert_eq!(lab.summary()["events"]["total"], 52);
    lab.assert_world_equals_rebuild();
}

/// The index of the snapshot's entities (`entities-N.bin`) spares a load
/// the visit of the whole snapshot, and is never the only record of
/// anything: deleted, damaged, or replaced by another snapshot's, the runs
/// that follow write the same engine state, byte for byte, as runs that
/// found it whole, and fold on to the world of a rebuild.
#[test]
fn a_missing_damaged_or_foreign_entity_index_changes_nothing_but_the_cost() {
    type Harm<'a> = dyn Fn(&Homelab) + 'a;
    let runs = |harm: &Harm| {
        let lab = Homelab::new();
        minute_of(&lab, 0, 50);
        lab.run();
        harm(&lab);
        for minute in 1..3 {
            minute_of(&lab, minute, 50);
            lab.run();
        }
        lab
    };
    let index = |lab: &Homelab| format!("state/engine/entities-{}.bin", generation(lab));
    let whole = runs(&|_| {});
    assert!(size(&whole, &journal(&whole)) > 0, "the runs append to the journal");
    // Another lab's, with other nodes: a whole index of another snapshot.
    let other = Homelab::new();
    minute_of(&other, 0, 70);
    other.run();
    let foreign = fs::read(other.path(&index(&other))).unwrap();
    assert_ne!(foreign, fs::read(whole.path(&index(&whole))).unwrap());
    let deleted = |lab: &Homelab| fs::remove_file(lab.path(&index(lab))).unwrap();
    let damaged = |lab: &Homelab| {
        let mut bytes = fs::read(lab.path(&index(lab))).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x55;
        fs::write(lab.path(&index(lab)), bytes).unwrap();
    };
    let replaced = |lab: &Homelab| fs::write(lab.path(&index(lab)), &foreign).unwrap();
    let harms: [(&str, &Harm<'_>); 3] = [("deleted", &deleted), ("damaged", &damaged), ("foreign", &replaced)];
    for (name, harm) in harms {
        let lab = runs(harm);
        for file in [snapshot(&lab), journal(&lab)] {
            assert_eq!(lab.read(&file), whole.read(&file), "{name}: {file}");
        }
        assert_eq!(lab.summary()["events"]["total"], 150, "{name}");
        lab.assert_world_equals_rebuild();
    }
}
