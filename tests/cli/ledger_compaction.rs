//! Ledger compaction through the real binary: a ledger grown by retries is
//! rewritten smaller by the next delivery round, delivery decides the same
//! before and after, and a crash in the middle of it loses nothing.

use crate::receivers::{Server, notification, outbox};
use crate::support::Homelab;

/// Three notifications, each retried 400 times on `web` (the next attempt
/// far ahead), then the second dead-lettered and the third delivered.
fn grown(lab: &Homelab) -> String {
    let sent: Vec<serde_json::Value> =
        (0..3).map(|i| notification(&format!("node_down:n{i}"), "firing", i, i)).collect();
    lab.commit_outbox(&outbox(&sent));
    let mut ledger = String::new();
    let line = |n: &serde_json::Value, attempt: u32, outcome: &str, next: Option<&str>| {
        let at = chrono::DateTime::from_timestamp(1_778_580_000 + i64::from(attempt) * 30, 0).unwrap();
        serde_json::json!({
            "id": n["id"], "channel": "web", "at": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "attempt": attempt, "outcome": outcome, "http_status": 503, "exit_code": null, "error": null,
            "next_attempt_at": next, "notification": n,
        })
        .to_string()
            + "\n"
    };
    for attempt in 1..=400 {
        for n in &sent {
            ledger += &line(n, attempt, "retry", Some("2026-05-14T00:00:00Z"));
        }
    }
    ledger += &line(&sent[1], 401, "dead_letter", None);
    ledger += &line(&sent[2], 401, "delivered", None);
    lab.write("state/deliveries.jsonl", &ledger);
    ledger
}

fn setup() -> (Homelab, Server, String) {
    let lab = Homelab::new();
    let server = Server::always(503);
    lab.write("observer.yaml", &format!("notify:\n  channels:\n    - name: web\n      webhook: \"{}\"\n", server.url));
    let ledger = grown(&lab);
    (lab, server, ledger)
}

/// What delivery would do now, and what `status` reports of it.
fn decisions(lab: &Homelab) -> (String, serde_json::Value) {
    let plan = lab.observer(["notify", "--dry-run"]).run().success().stdout;
    let status: serde_json::Value =
        serde_json::from_str(&lab.observer(["status", "--json"]).run().success().stdout).unwrap();
    (plan, status["dead_letters"].clone())
}

#[test]
fn a_round_compacts_a_grown_ledger_and_delivery_decides_the_same() {
    let (lab, server, ledger) = setup();
    let before = decisions(&lab);
    assert!(before.0.contains("web node_down:n0@1778580000:firing:1: waiting, next attempt at 2026-05-14"));
    assert_eq!(before.1.as_array().unwrap().len(), 1);
    assert_eq!(lab.read("state/deliveries.jsonl"), ledger, "a dry run compacts nothing");

    lab.observer(["notify"]).run().success();
    assert!(server.requests().is_empty(), "nothing was due");
    let lines = lab.read("state/deliveries.jsonl").lines().count();
    assert_eq!(lines, 6, "first and last attempt of each notification");
    assert_eq!(decisions(&lab), before);
    assert!(lab.temp_files().is_empty(), "{:?}", lab.temp_files());
}

#[test]
fn a_crash_during_compaction_loses_nothing() {
    // The second atomic write of a `notify` round is the compaction (the
    // first is state/delivery.json); `ledger-compacted` is right after it.
    for point in ["before-rename:2", "ledger-compacted"] {
        let (lab, _server, ledger) = setup();
        let before = decisions(&lab);
        let out = lab.observer(["notify"]).env("OBSERVER_TEST_CRASH_AT", point).run();
        assert_eq!(out.code, None, "{point}: aborted: {}", out.stderr);
        let now = lab.read("state/deliveries.jsonl");
        if point == "before-rename:2" {
            assert_eq!(now, ledger, "{point}: the old ledger, whole");
            assert_eq!(lab.temp_files(), ["state/.deliveries.jsonl.tmp"], "{point}: killed while compacting");
        } else {
            assert_eq!(now.lines().count(), 6, "{point}: the compacted ledger, whole");
        }
        assert_eq!(decisions(&lab), before, "{point}: the same decisions after the crash");
        lab.observer(["notify"]).run().success();
        assert_eq!(lab.read("state/deliveries.jsonl").lines().count(), 6, "{point}");
        assert_eq!(decisions(&lab), before, "{point}: and after the next round");
        assert!(lab.temp_files().is_empty(), "{point}: {:?}", lab.temp_files());
    }
}

/// `observer_deliveries_failed_total` is a counter: a compaction that drops
/// the retries between a notification's first and last attempts must not
/// make it fall (Prometheus reads a fall as a reset). The grown ledger
/// holds 1,201 failed attempts (400 retries of each notification and one
/// dead letter); they are still counted once it is compacted to 6 lines
/// (review of issue 11's thirty-seventh pass: it read 5), with the failed
/// attempt the run's own round adds (n2's resolve, to the same 503).
#[test]
fn the_failed_deliveries_counter_does_not_fall_when_the_ledger_is_compacted() {
    let (lab, _server, _ledger) = setup();
    lab.run();
    let ledger = lab.read("state/deliveries.jsonl");
    let grown: Vec<&str> = ledger.lines().filter(|line| line.contains(":firing:1\",\"channel")).collect();
    assert_eq!(grown.len(), 6, "the run's delivery round compacted the grown ledger:\n{ledger}");
    let added = ledger.lines().count() - grown.len();
    assert!(ledger.lines().skip(grown.len()).all(|line| line.contains("\"outcome\":\"retry\"")), "{ledger}");
    let metrics = lab.world("metrics.prom");
    let sample = |name: &str| -> u64 {
        let value = metrics.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' '));
        value.unwrap_or_else(|| panic!("{name}")).parse().unwrap()
    };
    assert_eq!(sample("observer_deliveries_failed_total"), 1201 + added as u64, "{metrics}");
    assert_eq!(sample("observer_deliveries_dead_lettered_total"), 1, "{metrics}");
}
