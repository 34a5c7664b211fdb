//! Issue 10, point 3: an in-place edit anywhere in a consumed file is found
//! by the scrub each run does, within the number of runs the README
//! states, and by `observer verify` at once; `verify` also compares a
//! rebuild with the live world.

use std::collections::BTreeMap;
use std::path::Path;

use crate::support::{Ev, Homelab, lines};

const BLOCK: u64 = 64 * 1024;
/// What opening a file costs the scrub's budget.
const FILE_CHARGE: u64 = 4096;

/// `count` heartbeats of `node`, one a second from `start_min` minutes
/// past 12:00: about 70 bytes a line.
fn heartbeats(node: &str, start_min: u64, count: u64) -> String {
    let events: Vec<Ev> = (0..count)
        .map(|i| {
            let s = start_min * 60 + i;
            Ev::new(&format!("2026-05-12T{:02}:{:02}:{:02}Z", 12 + s / 3600, s / 60 % 60, s % 60), "heartbeat")
                .node(node)
        })
        .collect();
    lines(&events)
}

/// Overwrites the byte at `at` with another digit, in place: the same
/// length, the same inode.
fn edit_in_place(lab: &Homelab, rel: &str, at: u64) {
    use std::os::unix::fs::FileExt;
    let file = std::fs::OpenOptions::new().read(true).write(true).open(lab.path(rel)).unwrap();
    let mut bytes = lab.read(rel).into_bytes();
    let at = at as usize + bytes[at as usize..].iter().position(u8::is_ascii_digit).unwrap();
    bytes[at] = if bytes[at] == b'1' { b'2' } else { b'1' };
    file.write_all_at(&bytes[at..=at], at as u64).unwrap();
}

/// Every file under `state/` and `world/` (the lock file aside) with its
/// bytes, or a link with its target.
fn live_files(lab: &Homelab) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for dir in ["state", "world"] {
        for entry in walkdir::WalkDir::new(lab.path(dir)) {
            let entry = entry.unwrap();
            let rel = entry.path().strip_prefix(lab.root()).unwrap().display().to_string();
            let bytes = if entry.path_is_symlink() {
                std::fs::read_link(entry.path()).unwrap().display().to_string().into_bytes()
            } else if entry.file_type().is_file() {
                std::fs::read(entry.path()).unwrap()
            } else {
                continue;
            };
            if !rel.ends_with(".observer.lock") {
                files.insert(rel, bytes);
            }
        }
    }
    files
}

#[test]
fn an_edit_in_the_middle_of_a_consumed_20_kb_file_is_found_by_verify_and_stops_the_run() {
    let lab = Homelab::new();
    lab.write("events/app.jsonl", &heartbeats("venus", 0, 315));
    let size = std::fs::metadata(lab.path("events/app.jsonl")).unwrap().len();
    assert!((19_000..21_000).contains(&size), "{size}");
    lab.run();
    // In the middle: more than 4 KiB from either end, where the head and
    // tail fingerprints do not look.
    edit_in_place(&lab, "events/app.jsonl", size / 2);
    let verify = lab.observer(["verify"]).run().code(1);
    assert!(verify.stdout.contains(&format!("events/app.jsonl: bytes 0..{size} (block 0)")), "{}", verify.stdout);
    let run = lab.observer(["run", "--no-tick"]).run().code(1);
    let named = format!("app.jsonl was edited in place: bytes 0..{size} (block 0 of 64 KiB)");
    assert!(run.stderr.contains(&named), "{}", run.stderr);
    assert!(run.stderr.contains("observer rebuild") && run.stderr.contains("observer verify"), "{}", run.stderr);
    assert!(run.stderr.contains("never by editing"), "the advice on rotation: {}", run.stderr);
}

/// Three files of two blocks each and a budget of 8 KiB a run. The README
/// says every consumed byte is checked within `ceil(T / budget)` runs,
/// `T = Σ (consumed bytes + 4096)`; the scrub walks the files in path
/// order from the start, `budget` of that line a run, so an edit in the
/// first block of the last file is found by run `floor(V / budget) + 1`,
/// `V` being where that block starts on the line — and not a run sooner.
#[test]
fn with_a_small_budget_an_edit_is_found_exactly_when_the_scrub_reaches_it() {
    let budget = 8192;
    let lab = Homelab::new();
    lab.write("observer.yaml", &format!("integrity: {{scrub_bytes_per_run: {budget}}}\n"));
    for (i, node) in ["a", "b", "c"].iter().enumerate() {
        lab.write(&format!("events/{node}.jsonl"), &heartbeats(node, i as u64 * 30, 1400));
    }
    let sizes: Vec<u64> = ["a", "b", "c"]
        .iter()
        .map(|n| std::fs::metadata(lab.path(&format!("events/{n}.jsonl"))).unwrap().len())
        .collect();
    assert!(sizes.iter().all(|s| (BLOCK + 1..2 * BLOCK).contains(s)), "two blocks each: {sizes:?}");
    lab.run();
    // In block 0 of c.jsonl: the one block a growing file re-reads is its
    // last, so only the scrub can find this edit.
    edit_in_place(&lab, "events/c.jsonl", 30_000);
    let total: u64 = sizes.iter().map(|s| s + FILE_CHARGE).sum();
    let readme_bound = total.div_ceil(budget);
    let block_start = sizes[0] + sizes[1] + 2 * FILE_CHARGE + FILE_CHARGE;
    let found_by = block_start / budget + 1;
    assert!(found_by <= readme_bound && found_by > 10, "{found_by} of at most {readme_bound}");
    for run in 1..found_by {
        let outcome = lab.observer(["run", "--no-tick"]).run();
        assert_eq!(outcome.code, Some(0), "run {run} of {found_by}: {}", outcome.stderr);
        let last = lab.json("state/last-run.json");
        assert!(last["scrub"]["bytes_checked"].as_u64().unwrap() <= 2 * BLOCK, "{last}");
        assert_eq!(last["scrub"]["round_length"], total);
    }
    lab.observer(["run", "--no-tick"])
        .run()
        .code(1)
        .stderr_has(&format!("c.jsonl was edited in place: bytes 0..{BLOCK} (block 0 of 64 KiB)"));
    // The failed run committed nothing and left the position: it stops again.
    lab.observer(["run", "--no-tick"]).run().code(1).stderr_has("c.jsonl was edited in place");
}

#[test]
fn a_budget_of_zero_never_scrubs_and_verify_still_finds_the_edit() {
    let lab = Homelab::new();
    lab.write("observer.yaml", "integrity: {scrub_bytes_per_run: 0}\n");
    lab.write("events/app.jsonl", &heartbeats("venus", 0, 2000));
    lab.run();
    edit_in_place(&lab, "events/app.jsonl", 20_000);
    for _ in 0..3 {
        lab.run();
        assert_eq!(lab.json("state/last-run.json")["scrub"]["bytes_checked"], 0);
    }
    let verify = lab.observer(["verify"]).run().code(1);
    assert!(verify.stdout.contains(&format!("events/app.jsonl: bytes 0..{BLOCK} (block 0)")), "{}", verify.stdout);
}

#[test]
fn a_no_op_run_with_the_default_budget_checks_every_consumed_byte_of_a_small_history() {
    let lab = Homelab::new();
    lab.write("events/app.jsonl", &heartbeats("venus", 0, 2000));
    lab.write("events/one.json", &Ev::new("2026-05-12T12:00:00Z", "heartbeat").node("mars").json());
    lab.run();
    lab.run();
    let size = std::fs::metadata(lab.path("events/app.jsonl")).unwrap().len();
    let one = std::fs::metadata(lab.path("events/one.json")).unwrap().len();
    let scrub = &lab.json("state/last-run.json")["scrub"];
    assert_eq!(scrub["budget"], 4_194_304);
    assert_eq!(scrub["bytes_checked"], size + one, "{scrub}");
    assert_eq!(scrub["files_opened"], 2);
}

/// 150 files and a budget that reaches 100 of them a run: the scrub opens a
/// run's files (and asks for their reads) in batches of 64 before it reads
/// the first, so a run crosses a batch. Each run opens and checks the files
/// its budget reaches, no more; an edit in the first block of a two-block
/// file of the second batch (a block the reader never reads again) stops the
/// run that reaches it, naming that file, and not the run before.
#[test]
fn with_many_files_each_run_opens_what_its_budget_reaches_and_finds_an_edit_past_the_first_batch() {
    let lab = Homelab::new();
    let mut sizes = Vec::new();
    for i in 0..150u64 {
        let rel = format!("events/e-{i:03}.jsonl");
        lab.write(&rel, &heartbeats(&format!("n{i}"), 0, if i == 130 { 2000 } else { 1 }));
        sizes.push(std::fs::metadata(lab.path(&rel)).unwrap().len());
    }
    assert!(sizes[130] > BLOCK, "{}", sizes[130]);
    // Exactly the first 100 files' part of the round.
    let budget: u64 = sizes[..100].iter().map(|s| s + FILE_CHARGE).sum();
    lab.write("observer.yaml", &format!("integrity: {{scrub_bytes_per_run: {budget}}}\n"));
    lab.run();
    // File 30 of the second no-op run's stretch: in its second batch.
    edit_in_place(&lab, "events/e-130.jsonl", 30_000);
    // The first no-op run: files 0..100, and not the edited one.
    lab.observer(["run", "--no-tick"]).run().code(0);
    let scrub = &lab.json("state/last-run.json")["scrub"];
    assert_eq!(scrub["files_opened"], 100, "{scrub}");
    assert_eq!(scrub["bytes_checked"], sizes[..100].iter().sum::<u64>(), "{scrub}");
    assert_eq!(scrub["next"]["file"], "e-100.jsonl", "{scrub}");
    // The second: files 100..130, then the first blocks of e-130; it
    // reaches the edit.
    let named = format!("e-130.jsonl was edited in place: bytes 0..{BLOCK} (block 0 of 64 KiB)");
    lab.observer(["run", "--no-tick"]).run().code(1).stderr_has(&named);
    let before = lab.json("state/last-run.json");
    assert_eq!(before["scrub"]["next"]["file"], "e-100.jsonl", "the failed run leaves the position: {before}");
}

#[test]
fn a_world_file_or_a_history_line_edited_by_hand_makes_verify_name_it() {
    let lab = Homelab::new();
    lab.write("observer.yaml", "world: {keep_finished: 0}\n");
    lab.write(
        "events/s.jsonl",
        &lines(&[
            Ev::new("2026-05-12T12:00:00Z", "heartbeat").node("saturn"),
            Ev::new("2026-05-12T12:00:00Z", "service_unhealthy").node("saturn").service("mosquitto"),
            Ev::new("2026-05-12T12:10:00Z", "service_recovered").node("saturn").service("mosquitto"),
        ]),
    );
    lab.run();
    lab.observer(["verify"]).run().success().stdout_has("all agree");

    let history = "world/history/alerts-2026-05.jsonl";
    let text = lab.read(history);
    assert!(text.contains("mosquitto"), "{text}");
    lab.write(history, &text.replace("mosquitto", "mosquittO"));
    let verify = lab.observer(["verify"]).run().code(1);
    assert!(
        verify.stdout.contains("history/alerts-2026-05.jsonl: line 1: differs from the rebuild"),
        "{}",
        verify.stdout
    );
    lab.write(history, &text);

    let nodes = lab.world("nodes.json");
    lab.write("world/nodes.json", &nodes.replace("\"status\": \"", "\"status\": \"x"));
    let verify = lab.observer(["verify", "--json"]).run().code(1);
    let report: serde_json::Value = serde_json::from_str(&verify.stdout).unwrap();
    assert_eq!(report["agree"], false);
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{report}");
    assert!(findings[0]["file"].as_str().unwrap().ends_with("world/nodes.json"), "{report}");
    assert!(findings[0]["what"].as_str().unwrap().contains("key `nodes.saturn.status`"), "{report}");
}

#[test]
fn verify_of_a_clean_history_exits_0_says_what_it_checked_and_changes_nothing() {
    let lab = Homelab::new();
    lab.write("events/a.jsonl", &heartbeats("venus", 0, 1500));
    lab.write("events/b.jsonl", &heartbeats("mars", 0, 10));
    lab.run();
    lab.append("events/a.jsonl", &heartbeats("venus", 30, 100));
    lab.run();
    let before = live_files(&lab);
    let consumed: u64 =
        ["a", "b"].iter().map(|n| std::fs::metadata(lab.path(&format!("events/{n}.jsonl"))).unwrap().len()).sum();
    let verify = lab.observer(["verify"]).run().success();
    assert!(
        verify.stdout.contains(&format!("checked {consumed} consumed bytes of 2 event files against the hashes")),
        "{}",
        verify.stdout
    );
    assert!(verify.stdout.contains("rebuilt 1610 events in a temporary directory and compared 6 world files"));
    assert!(verify.stdout.ends_with("all agree\n"), "{}", verify.stdout);
    assert_eq!(live_files(&lab), before, "verify wrote to the live state or world");
}

#[test]
fn verify_without_a_checkpoint_cannot_verify_and_exits_2() {
    let lab = Homelab::new();
    lab.observer(["verify"]).run().code(2).stderr_has("no checkpoint");
}

/// Takes the block hashes off the cursor of `file` in the checkpoint's
/// header, as a checkpoint written before them had it: the cursor's length
/// before, and the hashes taken.
fn strip_block_hashes(lab: &Homelab, file: &str) -> (usize, serde_json::Value) {
    let checkpoint = "state/observer_checkpoint.json";
    let text = lab.read(checkpoint);
    let (header, body) = text.split_once('\n').unwrap();
    let mut header: serde_json::Value = serde_json::from_str(header).unwrap();
    let cursor = header["cursors"][file].as_array_mut().unwrap();
    let fields = cursor.len();
    let hashes = cursor.pop().unwrap();
    lab.write(checkpoint, &format!("{header}\n{body}"));
    (fields, hashes)
}

/// A checkpoint written before block hashes: cursors of ten elements. It
/// loads; the scrub makes the hashes of its files from their bytes as they
/// are and the run commits them; an edit after that is found.
#[test]
fn a_checkpoint_without_block_hashes_loads_and_gets_them_from_the_scrub() {
    let lab = Homelab::new();
    lab.write("events/app.jsonl", &heartbeats("venus", 0, 2000));
    lab.run();
    let checkpoint = "state/observer_checkpoint.json";
    let (fields, hashes) = strip_block_hashes(&lab, "app.jsonl");
    assert_eq!(fields, 11, "{hashes:?}");

    let verify = lab.observer(["verify"]).run().success();
    assert!(verify.stdout.contains("(1 file without block hashes yet"), "{}", verify.stdout);
    lab.run();
    assert_eq!(lab.checkpoint_header()["cursors"]["app.jsonl"][10], hashes, "the scrub made the same hashes");
    lab.observer(["verify"]).run().success();
    edit_in_place(&lab, "events/app.jsonl", 20_000);
    lab.observer(["run", "--no-tick"]).run().code(1).stderr_has("app.jsonl was edited in place: bytes 0..65536");
    assert!(Path::new(&lab.path(checkpoint)).exists());
}

/// A run with new events to fold scrubs beside the engine state's load
/// (issue 11, tenth pass): an edit it finds still stops the run before it
/// writes anything, the new events unfolded. The edit is in the first of
/// two blocks, which only the scrub reads again (a file that changed is
/// checked from its last, partial block on).
#[test]
fn a_run_with_new_events_that_finds_an_edit_stops_before_writing_anything() {
    let lab = Homelab::new();
    lab.write("events/app.jsonl", &heartbeats("venus", 0, 1400));
    let size = std::fs::metadata(lab.path("events/app.jsonl")).unwrap().len();
    assert!((BLOCK + 1..2 * BLOCK).contains(&size), "two blocks: {size}");
    lab.run();
    edit_in_place(&lab, "events/app.jsonl", 30_000);
    lab.write("events/new.jsonl", &heartbeats("mars", 30, 50));
    let before = live_files(&lab);
    lab.observer(["run", "--no-tick"])
        .run()
        .code(1)
        .stderr_has(&format!("app.jsonl was edited in place: bytes 0..{BLOCK} (block 0 of 64 KiB)"));
    let mut after = live_files(&lab);
    // The run's own record of its failure, for `observer check`.
    assert!(after.remove("state/last-failure.json").is_some());
    assert_eq!(after, before, "the failed run wrote to the state or the world");
    assert_eq!(lab.summary()["events"]["total"], 1400, "nothing of new.jsonl was folded");
}

/// A pass that folds, over a checkpoint whose cursor lost its block
/// hashes: the scrub beside the state's load gives them back, and the
/// pass commits them with what it folds.
#[test]
fn a_pass_that_folds_commits_the_block_hashes_its_scrub_made() {
    let lab = Homelab::new();
    lab.write("events/app.jsonl", &heartbeats("venus", 0, 2000));
    lab.run();
    let (_, hashes) = strip_block_hashes(&lab, "app.jsonl");
    lab.write("events/new.jsonl", &heartbeats("mars", 40, 50));
    lab.run();
    assert_eq!(lab.summary()["events"]["total"], 2050);
    assert_eq!(lab.checkpoint_header()["cursors"]["app.jsonl"][10], hashes, "the scrub made the same hashes");
    assert!(lab.json("state/last-run.json")["scrub"]["bytes_checked"].as_u64().unwrap() > 0);
}

/// An edit the scrub finds is the error told when the engine state cannot
/// be read either: the scrub's answer comes first, as when it ran before
/// the state was read.
#[test]
fn an_edit_is_told_before_a_damaged_engine_state() {
    let lab = Homelab::new();
    lab.write("events/app.jsonl", &heartbeats("venus", 0, 1400));
    lab.run();
    let engine = lab.path("state/engine");
    let snapshot = std::fs::read_dir(&engine)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.file_name().unwrap().to_string_lossy().starts_with("snapshot-"))
        .unwrap();
    std::fs::write(&snapshot, "{\"engine\": [damaged").unwrap();
    lab.write("events/new.jsonl", &heartbeats("mars", 30, 50));
    let damaged = lab.observer(["run", "--no-tick"]).run().code(1);
    assert!(!damaged.stderr.contains("edited in place"), "{}", damaged.stderr);
    let original = lab.read("events/app.jsonl");
    edit_in_place(&lab, "events/app.jsonl", 30_000);
    lab.observer(["run", "--no-tick"])
        .run()
        .code(1)
        .stderr_has(&format!("app.jsonl was edited in place: bytes 0..{BLOCK} (block 0 of 64 KiB)"));
    assert_ne!(lab.read("events/app.jsonl"), original);
}
