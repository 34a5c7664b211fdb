//! The bad-input corpus (`fixtures/bad-input/`): each file alone in a fresh
//! root, its outcome checked against `expected.json`: what is folded, what
//! is rejected (line and reason), what waits, and that nothing about it ever
//! stops a run or is reported twice.

use std::path::Path;

use serde::Deserialize;

use crate::support::{Ev, Homelab};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    file: String,
    case: String,
    outcome: String,
    folded: u64,
    #[serde(default)]
    rejected: Vec<(u64, String)>,
    #[serde(default)]
    waiting: Vec<u64>,
    #[serde(default)]
    duplicates: u64,
    #[serde(default)]
    by_type: Option<serde_json::Value>,
}

fn corpus() -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/bad-input");
    let cases: Vec<Case> = serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap();
    let mut listed: Vec<String> = std::fs::read_dir(dir.join("events"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    listed.sort();
    let mut expected: Vec<String> = cases.iter().map(|c| c.file.clone()).collect();
    expected.sort();
    assert_eq!(listed, expected, "every file of the corpus has exactly one expected outcome");
    cases
}

fn check(case: &Case) {
    let what = format!("{} ({}): expected {}", case.file, case.case, case.outcome);
    let lab = Homelab::new();
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/bad-input/events").join(&case.file);
    std::fs::copy(&from, lab.path("events").join(&case.file)).unwrap();
    let out = lab.observer(["run", "--no-tick"]).run();
    assert_eq!(out.code, Some(0), "{what}: bad input never stops a run\n{}", out.stderr);
    let events = &lab.summary()["events"];
    assert_eq!(events["total"], case.folded, "{what}: folded");
    assert_eq!(events["duplicates"], case.duplicates, "{what}: duplicates");
    assert_eq!(events["late"], 0, "{what}: late");
    assert_eq!(events["rejected"], case.rejected.len(), "{what}: rejected\n{}", out.stderr);
    if let Some(by_type) = &case.by_type {
        assert_eq!(&events["by_type"], by_type, "{what}: by_type");
    }
    let rejects = lab.json("state/rejects.json");
    for (reject, (line, reason)) in rejects.as_array().unwrap().iter().zip(&case.rejected) {
        assert_eq!(reject["file"], case.file.as_str(), "{what}");
        assert_eq!(reject["line"], *line, "{what}: {reject}");
        let text = reject["reason"].as_str().unwrap();
        assert!(text.contains(reason.as_str()), "{what}: line {line}: {text:?} lacks {reason:?}");
        assert!(!text.chars().any(char::is_control), "{what}: a reason with a control character: {text:?}");
        let warning = format!("{}:{line}: {text}", case.file);
        assert!(out.stderr.contains(&warning), "{what}: stderr lacks {warning:?}:\n{}", out.stderr);
    }
    let validate = lab.observer(["validate"]).run();
    let notes: Vec<u64> = validate
        .stdout
        .lines()
        .filter(|line| line.contains(": note: "))
        .map(|line| line.split(':').nth(1).unwrap().parse().unwrap())
        .collect();
    assert_eq!(notes, case.waiting, "{what}: waiting lines\n{}", validate.stdout);
    assert_eq!(validate.code, Some(if case.rejected.is_empty() { 0 } else { 1 }), "{what}: validate");
    // Nothing is reported twice, and a rebuild says the same.
    let again = lab.observer(["run", "--no-tick"]).run().success();
    assert!(!again.stderr.contains("rejected"), "{what}: rejected again:\n{}", again.stderr);
    assert_eq!(lab.summary()["events"]["rejected"], case.rejected.len(), "{what}");
    lab.assert_world_equals_rebuild();
}

#[test]
fn every_case_of_the_bad_input_corpus_has_its_expected_outcome() {
    for case in &corpus() {
        check(case);
    }
}

/// Found by `fuzz/event_boundary`: a year-9999 timestamp whose offset took
/// it into year 10000 in UTC was accepted, the checkpoint then held a clock
/// RFC 3339 cannot write, and every later run refused that checkpoint.
#[test]
fn timestamps_outside_years_0000_9999_in_utc_are_rejected_and_the_next_run_reads_the_checkpoint() {
    let lab = Homelab::new();
    let file = "timestamps-outside-years-0000-9999-in-utc.jsonl";
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/bad-input/events").join(file);
    std::fs::copy(from, lab.path("events").join(file)).unwrap();
    lab.run();
    assert_eq!(lab.summary()["events"]["rejected"], 2);
    lab.append("events/more.jsonl", &Ev::new("2026-05-12T12:30:00Z", "heartbeat").node("b").line());
    lab.run();
    lab.assert_world_equals_rebuild();
}

#[test]
fn the_whole_corpus_at_once_adds_up() {
    let cases = corpus();
    let lab = Homelab::new();
    for case in &cases {
        let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/bad-input/events").join(&case.file);
        std::fs::copy(from, lab.path("events").join(&case.file)).unwrap();
    }
    lab.run();
    let events = &lab.summary()["events"];
    assert_eq!(events["total"], cases.iter().map(|c| c.folded).sum::<u64>());
    assert_eq!(events["rejected"], cases.iter().map(|c| c.rejected.len() as u64).sum::<u64>());
    assert_eq!(events["duplicates"], cases.iter().map(|c| c.duplicates).sum::<u64>());
    lab.assert_world_equals_rebuild();
}

#[test]
fn a_far_future_timestamp_moves_the_clock_and_makes_every_later_event_late() {
    let lab = Homelab::new();
    lab.write("events/a.jsonl", &Ev::new("9999-12-31T23:59:59Z", "heartbeat").node("broken-clock").line());
    lab.run();
    assert_eq!(lab.summary()["as_of"], "9999-12-31T23:59:59Z");
    lab.append("events/a.jsonl", &Ev::new("2026-05-12T12:00:00Z", "heartbeat").node("a").line());
    lab.run();
    assert_eq!(lab.summary()["events"]["late"], 1);
    // The way out: remove the event and rebuild.
    lab.write("events/a.jsonl", &Ev::new("2026-05-12T12:00:00Z", "heartbeat").node("a").line());
    lab.observer(["rebuild"]).run().success();
    assert_eq!(lab.summary()["as_of"], "2026-05-12T12:00:00Z");
    assert_eq!(lab.summary()["events"]["late"], 0);
}
