//! `observer check`, the Nagios plugin: each threshold crossing gives the
//! documented exit code and perfdata; no world is UNKNOWN; it never writes
//! and answers while another process holds the lock.

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde_json::json;

use crate::support::{Ev, Homelab, Outcome, lines};

const OK: i32 = 0;
const WARNING: i32 = 1;
const CRITICAL: i32 = 2;
const UNKNOWN: i32 = 3;

/// `observer check ARGS…` at `now`. Unless the test sets the free-space
/// ranges itself, they are `0:` (never alert): the default `10:` would make
/// every test depend on how full the machine's disk is.
fn check(lab: &Homelab, now: &str, args: &[&str]) -> Outcome {
    let mut all = vec!["check"];
    if !args.iter().any(|arg| arg.starts_with("--free-")) {
        all.extend_from_slice(&["--free-warning", "0:", "--free-critical", "0:"]);
    }
    all.extend_from_slice(args);
    lab.observer(all).env("OBSERVER_NOW", now).run()
}

/// The perfdata of the first line, by label: `'age'=360s;300;900;0;`.
fn perfdata(out: &Outcome, label: &str) -> String {
    let first = out.stdout.lines().next().unwrap_or_default();
    let (_, data) = first.split_once(" | ").unwrap_or_else(|| panic!("no perfdata in {first:?}"));
    data.split(' ')
        .find(|item| item.starts_with(&format!("'{label}'=")))
        .unwrap_or_else(|| panic!("no {label} in {data}"))
        .to_string()
}

/// A lab whose last successful run was at 13:00 (the support's clock).
fn ran(lab: &Homelab) {
    lab.write("events/a.jsonl", &lines(&[Ev::new("2026-05-12T12:00:00Z", "heartbeat").node("saturn")]));
    lab.run();
}

/// Every path under the root with its bytes and modification time.
fn tree(root: &Path) -> Vec<(String, Option<Vec<u8>>, Option<SystemTime>)> {
    walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .flatten()
        .map(|entry| {
            let meta = entry.metadata().ok();
            let bytes = entry.file_type().is_file().then(|| fs::read(entry.path()).unwrap());
            (entry.path().display().to_string(), bytes, meta.and_then(|m| m.modified().ok()))
        })
        .collect()
}

#[test]
fn no_world_is_unknown_and_nothing_is_created() {
    let lab = Homelab::new();
    let before = tree(lab.root());
    let out = check(&lab, "2026-05-12T13:00:00Z", &[]).code(UNKNOWN);
    assert!(out.stdout.starts_with("OBSERVER UNKNOWN - no world in "), "{}", out.stdout);
    assert_eq!(tree(lab.root()), before, "check created nothing");
}

#[test]
fn a_current_world_is_ok_with_every_perfdata() {
    let lab = Homelab::new();
    ran(&lab);
    let out = check(&lab, "2026-05-12T13:00:30Z", &[]).code(OK);
    assert!(out.stdout.starts_with("OBSERVER OK - last successful run 30s ago"), "{}", out.stdout);
    assert_eq!(out.stdout.lines().count(), 1, "{}", out.stdout);
    assert_eq!(perfdata(&out, "age"), "'age'=30s;300;900;0;");
    assert_eq!(perfdata(&out, "rejected"), "'rejected'=0;0;;0;");
    assert_eq!(perfdata(&out, "late"), "'late'=0;0;;0;");
    assert_eq!(perfdata(&out, "dead_letters"), "'dead_letters'=0;0;;0;");
    assert_eq!(perfdata(&out, "lock_held"), "'lock_held'=0s;300;900;0;");
    for label in ["state_free", "world_free"] {
        let data = perfdata(&out, label);
        assert!(data.ends_with("%;0:;0:;0;100"), "{data}");
    }
}

#[test]
fn the_age_of_the_world_crosses_warning_then_critical() {
    let lab = Homelab::new();
    ran(&lab);
    let out = check(&lab, "2026-05-12T13:06:00Z", &[]).code(WARNING);
    assert!(out.stdout.starts_with("OBSERVER WARNING - last successful run 360s ago (warning range 300)"));
    assert_eq!(perfdata(&out, "age"), "'age'=360s;300;900;0;");
    let out = check(&lab, "2026-05-12T13:15:01Z", &[]).code(CRITICAL);
    assert!(out.stdout.starts_with("OBSERVER CRITICAL - last successful run 901s ago (critical range 900)"));
    // Ranges of every form, as given.
    check(&lab, "2026-05-12T13:06:00Z", &["--age-warning", "~:400", "--age-critical", "1000"]).code(OK);
    let out = check(&lab, "2026-05-12T13:06:00Z", &["--age-warning", "", "--age-critical", "@300:400"]);
    assert_eq!(perfdata(&out.code(CRITICAL), "age"), "'age'=360s;;@300:400;0;");
    let out = check(&lab, "2026-05-12T13:06:00Z", &["--age-warning", "500:", "--age-critical", ""]).code(WARNING);
    assert_eq!(perfdata(&out, "age"), "'age'=360s;500:;;0;");
}

#[test]
fn rejected_and_late_events_count_within_the_window() {
    let lab = Homelab::new();
    lab.write("events/a.jsonl", &(lines(&[Ev::new("2026-05-12T12:00:00Z", "heartbeat").node("saturn")]) + "oops\n"));
    lab.run();
    let out = check(&lab, "2026-05-12T13:02:00Z", &[]).code(WARNING);
    assert!(out.stdout.contains("1 rejected event in the last 5m (warning range 0)"), "{}", out.stdout);
    assert_eq!(perfdata(&out, "rejected"), "'rejected'=1;0;;0;");
    check(&lab, "2026-05-12T13:02:00Z", &["--rejected-critical", "0"]).code(CRITICAL);
    // Past the window it is not news any more; a longer window sees it.
    let out = check(&lab, "2026-05-12T13:05:01Z", &["--age-warning", ""]).code(OK);
    assert_eq!(perfdata(&out, "rejected"), "'rejected'=0;0;;0;");
    let out = check(&lab, "2026-05-12T13:05:01Z", &["--window", "1h"]).code(WARNING);
    assert!(out.stdout.contains("1 rejected event in the last 1h"), "{}", out.stdout);

    // An event older than the clock, read by a later run, is late.
    lab.append("events/b.jsonl", &lines(&[Ev::new("2026-05-12T11:00:00Z", "heartbeat").node("venus")]));
    lab.observer(["run", "--no-tick"]).env("OBSERVER_NOW", "2026-05-12T14:00:00Z").run().success();
    let out = check(&lab, "2026-05-12T14:01:00Z", &[]).code(WARNING);
    assert_eq!(perfdata(&out, "late"), "'late'=1;0;;0;");
    assert_eq!(perfdata(&out, "rejected"), "'rejected'=0;0;;0;", "the earlier run is outside the window");
    check(&lab, "2026-05-12T14:01:00Z", &["--late-warning", ""]).code(OK);
}

#[test]
fn dead_letters_within_the_window_warn() {
    let lab = Homelab::new();
    ran(&lab);
    let notification = json!({
        "id": "node_down:venus@1778587200:firing:1", "kind": "firing", "ts": "2026-05-12T12:00:00Z",
        "expires_at": null, "key": "node_down:venus", "rule": "node_down", "node": "venus", "service": null,
        "severity": "critical", "priority": 1, "summary": "venus is down", "fired_at": "2026-05-12T12:00:00Z",
        "resolved_at": null,
    });
    let attempt = |at: &str, outcome: &str| {
        json!({"id": notification["id"], "channel": "pager", "at": at, "attempt": 1, "outcome": outcome,
            "http_status": 410, "exit_code": null, "error": "gone", "next_attempt_at": null,
            "notification": notification})
        .to_string()
            + "\n"
    };
    lab.write(
        "state/deliveries.jsonl",
        &(attempt("2026-05-12T12:30:00Z", "dead_letter")
            + &attempt("2026-05-12T12:58:00Z", "retry")
            + &attempt("2026-05-12T12:59:00Z", "dead_letter")),
    );
    let out = check(&lab, "2026-05-12T13:00:00Z", &[]).code(WARNING);
    assert!(out.stdout.contains("1 dead letter in the last 5m (warning range 0)"), "{}", out.stdout);
    assert_eq!(perfdata(&out, "dead_letters"), "'dead_letters'=1;0;;0;");
    let out = check(&lab, "2026-05-12T13:00:00Z", &["--window", "1h", "--dead-letters-critical", "1"]);
    assert_eq!(perfdata(&out.code(CRITICAL), "dead_letters"), "'dead_letters'=2;0;1;0;");
}

#[test]
fn a_failed_run_is_critical_until_one_succeeds() {
    let lab = Homelab::new();
    let two = [
        Ev::new("2026-05-12T12:00:00Z", "heartbeat").node("saturn"),
        Ev::new("2026-05-12T12:01:00Z", "heartbeat").node("saturn"),
    ];
    lab.write("events/a.jsonl", &lines(&two));
    lab.run();
    lab.write("events/a.jsonl", &lines(&two[..1]));
    lab.observer(["run", "--no-tick"]).run().code(1).stderr_has("shrank");
    let out = check(&lab, "2026-05-12T13:01:00Z", &[]).code(CRITICAL);
    assert!(
        out.stdout.starts_with("OBSERVER CRITICAL - the last `run` failed at 2026-05-12T13:00:00Z: "),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("shrank"), "{}", out.stdout);
    lab.observer(["rebuild"]).run().success();
    assert!(!lab.path("state/last-failure.json").exists(), "a success forgets the failure");
    check(&lab, "2026-05-12T13:01:00Z", &[]).code(OK);
    // Another run holding the lock is not a failure.
    let _held = hold_lock(&lab, "2026-05-12T13:00:00Z");
    lab.observer(["run", "--no-tick"]).run().code(75);
    assert!(!lab.path("state/last-failure.json").exists());
}

#[test]
fn an_unreadable_checkpoint_is_critical() {
    let lab = Homelab::new();
    ran(&lab);
    lab.write("state/observer_checkpoint.json", "{\"format\": 1, \"curs");
    let out = check(&lab, "2026-05-12T13:00:00Z", &[]).code(CRITICAL);
    assert!(out.stdout.starts_with("OBSERVER CRITICAL - the checkpoint is unreadable: "), "{}", out.stdout);
}

/// Holds the state lock from this test process, as a run would: its
/// description in the file, the file's time set to when it was "taken".
fn hold_lock(lab: &Homelab, taken_at: &str) -> fs::File {
    fs::create_dir_all(lab.path("state")).unwrap();
    let path = lab.path("state/.observer.lock");
    fs::write(&path, format!("pid {} running `observer run`", std::process::id())).unwrap();
    let file = fs::OpenOptions::new().read(true).write(true).open(&path).unwrap();
    file.lock().unwrap();
    let at = chrono::DateTime::parse_from_rfc3339(taken_at).unwrap().timestamp();
    file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(at as u64)).unwrap();
    file
}

#[test]
fn a_lock_held_too_long_warns_and_check_answers_meanwhile_without_writing() {
    let lab = Homelab::new();
    ran(&lab);
    let held = hold_lock(&lab, "2026-05-12T12:50:00Z");
    let before = tree(lab.root());
    let out = check(&lab, "2026-05-12T13:00:00Z", &[]).code(WARNING);
    assert!(out.stdout.contains("lock held for 600s (pid "), "{}", out.stdout);
    assert!(out.stdout.contains("(warning range 300)"), "{}", out.stdout);
    assert_eq!(perfdata(&out, "lock_held"), "'lock_held'=600s;300;900;0;");
    check(&lab, "2026-05-12T13:05:01Z", &["--age-warning", ""]).code(CRITICAL);
    assert_eq!(tree(lab.root()), before, "check wrote nothing");
    drop(held);
    let out = check(&lab, "2026-05-12T13:00:00Z", &[]).code(OK);
    assert_eq!(perfdata(&out, "lock_held"), "'lock_held'=0s;300;900;0;");
}

#[test]
fn free_space_thresholds_apply_to_state_and_world() {
    let lab = Homelab::new();
    ran(&lab);
    // No disk here is 101% free: these ranges always alert.
    let out = check(&lab, "2026-05-12T13:00:00Z", &["--free-warning", "101:"]).code(WARNING);
    assert!(out.stdout.contains("% free on state/ (warning range 101:)"), "{}", out.stdout);
    assert!(perfdata(&out, "world_free").ends_with("%;101:;5:;0;100"));
    let out = check(&lab, "2026-05-12T13:00:00Z", &["--free-critical", "101:"]).code(CRITICAL);
    assert!(out.stdout.contains("CRITICAL: "), "two problems get a line each: {}", out.stdout);
}

#[test]
fn problems_are_listed_worst_first_and_bad_flags_are_unknown() {
    let lab = Homelab::new();
    ran(&lab);
    let out = check(&lab, "2026-05-12T13:20:00Z", &["--free-warning", "101:"]).code(CRITICAL);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines[0].starts_with("OBSERVER CRITICAL - last successful run 1200s ago"), "{}", out.stdout);
    assert!(lines[1].starts_with("CRITICAL: last successful run"), "{}", out.stdout);
    assert!(lines[2].starts_with("WARNING: "), "{}", out.stdout);
    for (flag, value, says) in [
        ("--age-warning", "x", "--age-warning: `x` is not a Nagios range"),
        ("--lock-critical", "20:10", "--lock-critical: `20:10` is not a Nagios range (its start is above its end"),
        ("--window", "0", "--window 0 must be more than 0"),
        ("--window", "2d", "--window: `2d` is not a duration"),
    ] {
        let out = check(&lab, "2026-05-12T13:00:00Z", &[flag, value]).code(UNKNOWN);
        assert!(out.stdout.starts_with(&format!("OBSERVER UNKNOWN - {says}")), "{}", out.stdout);
    }
    // A flag it does not know is UNKNOWN too (other commands exit 2).
    let out = check(&lab, "2026-05-12T13:00:00Z", &["--bogus"]).code(UNKNOWN);
    assert!(out.stdout.starts_with("OBSERVER UNKNOWN - unexpected argument '--bogus'"), "{}", out.stdout);
    lab.observer(["status", "--bogus"]).run().code(2);
    // The default free-space ranges, which the other tests replace by `0:`.
    let help = lab.observer(["check", "--help"]).run().success();
    let flat = help.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains(
            "--free-warning <RANGE> Percent free on the file systems of state/ and world/: WARNING range [default: 10:]"
        ),
        "{flat}"
    );
    assert!(flat.contains("[default: 5:]"), "{flat}");
}

#[test]
fn what_the_pass_before_the_probes_rejects_counts_too() {
    // `run --probe` (the timer's form) folds what producers wrote, probes,
    // then folds again: the first pass's rejects are the ones that matter.
    let lab = Homelab::new();
    lab.write("events/a.jsonl", &(lines(&[Ev::new("2026-05-12T12:00:00Z", "heartbeat").node("saturn")]) + "oops\n"));
    lab.observer(["run", "--probe"]).run().success().stdout_has("(1 rejected,");
    let out = check(&lab, "2026-05-12T13:01:00Z", &[]).code(WARNING);
    assert_eq!(perfdata(&out, "rejected"), "'rejected'=1;0;;0;");
    lab.append("events/a.jsonl", "again\n");
    lab.observer(["probe"]).env("OBSERVER_NOW", "2026-05-12T13:02:00Z").run().success();
    let out = check(&lab, "2026-05-12T13:02:00Z", &[]).code(WARNING);
    assert_eq!(perfdata(&out, "rejected"), "'rejected'=2;0;;0;");
}
