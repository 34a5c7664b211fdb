//! `--log-format json` and `budgets.log_lines_per_minute`: diagnostics on
//! stderr as JSON lines, and warnings bounded with one line saying how many
//! were left out.

use crate::support::*;

fn bad_lines(lab: &Homelab, n: usize) {
    let text: String = (1..=n).map(|i| format!("not json {i}\n")).collect();
    lab.write("events/bad.jsonl", &text);
}

fn json_lines(stderr: &str) -> Vec<serde_json::Value> {
    stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}")))
        .collect()
}

#[test]
fn json_diagnostics_carry_ts_level_msg_and_the_reject_fields() {
    let lab = Homelab::new();
    bad_lines(&lab, 2);
    let out = lab.observer(["--log-format", "json", "run"]).run().success();
    let lines = json_lines(&out.stderr);
    assert_eq!(lines.len(), 2, "{}", out.stderr);
    assert_eq!(
        lines[1],
        serde_json::json!({
            "ts": "2026-05-12T13:00:00Z", "level": "warn",
            "msg": format!("rejected event at {}:2: not valid JSON: expected ident at column 2",
                lab.path("events/bad.jsonl").display()),
            "file": lab.path("events/bad.jsonl").display().to_string(), "line": 2,
            "reason": "not valid JSON: expected ident at column 2"})
    );
    assert!(out.stdout.starts_with("folded "), "data stays on stdout as text: {}", out.stdout);
}

#[test]
fn json_errors_and_notes_have_their_levels() {
    let lab = Homelab::new();
    let out = lab.observer(["--log-format", "json", "status"]).run().code(1);
    let lines = json_lines(&out.stderr);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["level"], "error");
    assert!(lines[0]["msg"].as_str().unwrap().starts_with("no world in "), "{}", out.stderr);
    let out = lab.observer(["--log-format", "json", "maintenance", "start", "--node", "saturn"]).run().success();
    let lines = json_lines(&out.stderr);
    assert!(!lines.is_empty() && lines.iter().all(|l| l["level"] == "info"), "{}", out.stderr);
}

#[test]
fn a_usage_error_is_a_json_line_too_when_asked() {
    let lab = Homelab::new();
    let out = lab.observer(["--log-format", "json", "status", "--bogus"]).run().code(2);
    let lines = json_lines(&out.stderr);
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert_eq!(lines[0]["level"], "error");
    assert_eq!(lines[0]["exit_code"], 2);
    assert!(lines[0]["msg"].as_str().unwrap().starts_with("unexpected argument '--bogus'"), "{}", out.stderr);
    lab.observer(["--log-format", "yaml", "status"]).run().code(2).stderr_has("possible values: text, json");
    // `check` answers a usage error as a plugin must, and the JSON line says so.
    let out = lab.observer(["--log-format", "json", "check", "--bogus"]).run().code(3);
    assert!(out.stdout.starts_with("OBSERVER UNKNOWN - "), "{}", out.stdout);
    assert_eq!(json_lines(&out.stderr)[0]["exit_code"], 3);
}

#[test]
fn many_rejects_give_the_budget_of_lines_and_one_left_out_line() {
    let lab = Homelab::new();
    lab.write("observer.yaml", "budgets:\n  log_lines_per_minute: 5\n");
    bad_lines(&lab, 2000);
    let out = lab.observer(["run"]).run().success();
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 6, "{}", out.stderr);
    assert!(lines[..5].iter().all(|l| l.starts_with("warning: rejected event at ")), "{}", out.stderr);
    assert_eq!(
        lines[5],
        "observer: warning: … 1995 warnings left out in the last minute (budgets.log_lines_per_minute: 5)"
    );
    // Nothing is lost: every reject is counted and kept for `validate`.
    assert!(out.stdout.contains("2000 rejected"), "{}", out.stdout);
    assert_eq!(lab.summary()["events"]["rejected"], 2000);
}

#[test]
fn the_default_budget_is_sixty_and_zero_is_unlimited() {
    let lab = Homelab::new();
    bad_lines(&lab, 100);
    let out = lab.observer(["run"]).run().success();
    assert_eq!(out.stderr.lines().count(), 61, "{}", out.stderr);
    assert!(out.stderr.ends_with("… 40 warnings left out in the last minute (budgets.log_lines_per_minute: 60)\n"));
    let lab = Homelab::new();
    lab.write("observer.yaml", "budgets:\n  log_lines_per_minute: 0\n");
    bad_lines(&lab, 100);
    let out = lab.observer(["--log-format", "json", "run"]).run().success();
    let lines = json_lines(&out.stderr);
    assert_eq!(lines.len(), 100);
    assert!(lines.iter().all(|l| l["level"] == "warn" && l.get("left_out").is_none()));
}

#[test]
fn the_left_out_line_in_json_counts_them() {
    let lab = Homelab::new();
    lab.write("observer.yaml", "budgets:\n  log_lines_per_minute: 3\n");
    bad_lines(&lab, 10);
    let out = lab.observer(["--log-format", "json", "run"]).run().success();
    let lines = json_lines(&out.stderr);
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[3]["left_out"], 7);
    assert_eq!(lines[3]["level"], "warn");
}
