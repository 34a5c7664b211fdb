//! `world/metrics.prom`: every family SPEC §9 names, accepted by a real
//! parser (`promtool check metrics`, Debian's `prometheus` package, which
//! `.ci/run` installs), rewritten each pass, and outside rebuild equality.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::support::{Homelab, Stream, example_inventory};

/// Runs `promtool check metrics` on `text`; fails when promtool is missing.
pub fn promtool(text: &str) {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = child.unwrap_or_else(|error| {
        panic!(
            "promtool is needed to check world/metrics.prom ({error}); install it with \
             `apt-get install -y prometheus` (.ci/run does)"
        )
    });
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "promtool refused world/metrics.prom:\n{}{}\n{text}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The value of the sample `name{labels}` (labels as written, or none).
fn sample(text: &str, series: &str) -> f64 {
    let line = text
        .lines()
        .find(|line| line.rsplit_once(' ').is_some_and(|(s, _)| s == series))
        .unwrap_or_else(|| panic!("no sample {series} in\n{text}"));
    line.rsplit_once(' ').unwrap().1.parse().unwrap()
}

#[test]
fn the_demo_metrics_pass_promtool_and_hold_every_family() {
    let lab = Homelab::from_fixture("fixtures/demo").with_inventory(&example_inventory());
    lab.run();
    let text = lab.world("metrics.prom");
    promtool(&text);
    for family in [
        "observer_nodes",
        "observer_services",
        "observer_incidents_active",
        "observer_events_total",
        "observer_events_rejected_total",
        "observer_events_late_total",
        "observer_probe_uptime_ratio",
        "observer_breaker_state",
        "observer_alerts_firing",
        "observer_notifications_total",
        "observer_deliveries_failed_total",
        "observer_deliveries_dead_lettered_total",
        "observer_run_duration_seconds",
        "observer_last_success_timestamp_seconds",
    ] {
        assert!(text.contains(&format!("# TYPE {family} ")), "{family} is missing");
    }
    // No timestamps: a sample is a series and a value.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').unwrap();
        assert!(series.ends_with('}') || !series.contains(' '), "a timestamp in {line}");
        value.parse::<f64>().unwrap_or_else(|_| panic!("{line}"));
    }
    // The same numbers as the world files (the demo's story, fixtures/demo/README.md).
    let summary = lab.summary();
    assert_eq!(sample(&text, "observer_nodes{status=\"up\"}"), summary["nodes"]["up"].as_f64().unwrap());
    assert_eq!(sample(&text, "observer_nodes{status=\"stale\"}"), 1.0);
    assert_eq!(sample(&text, "observer_services{status=\"unhealthy\"}"), 3.0);
    assert_eq!(
        sample(&text, "observer_services{status=\"unhealthy\"}"),
        summary["services"]["unhealthy"].as_f64().unwrap()
    );
    assert_eq!(sample(&text, "observer_incidents_active"), 3.0);
    assert_eq!(sample(&text, "observer_incidents_active"), summary["incidents"]["active"].as_f64().unwrap());
    assert_eq!(sample(&text, "observer_events_rejected_total"), 1.0);
    assert_eq!(
        sample(&text, "observer_events_total{type=\"heartbeat\"}"),
        summary["events"]["by_type"]["heartbeat"].as_f64().unwrap()
    );
    let firing = lab.read("state/outbox.jsonl").lines().filter(|l| l.contains("\"kind\":\"firing\"")).count();
    assert_eq!(sample(&text, "observer_notifications_total{kind=\"firing\"}"), firing as f64);
    // 2026-05-12T13:00:00Z, the support's clock.
    assert_eq!(sample(&text, "observer_last_success_timestamp_seconds"), 1_778_590_800.0);
    assert!(sample(&text, "observer_run_duration_seconds") >= 0.0);
}

#[test]
fn each_pass_rewrites_it_and_rebuild_equality_leaves_it_out() {
    let lab = Homelab::from_fixture("fixtures/demo").with_inventory(&example_inventory());
    lab.run();
    let first = lab.world("metrics.prom");
    lab.observer(["run", "--no-tick"]).env("OBSERVER_NOW", "2026-05-12T13:01:00Z").run().success();
    let second = lab.world("metrics.prom");
    assert_eq!(sample(&second, "observer_last_success_timestamp_seconds"), 1_778_590_860.0);
    assert_ne!(first, second, "a pass with nothing new still rewrites the run's own facts");
    lab.observer(["rebuild"]).env("OBSERVER_NOW", "2026-05-12T13:02:00Z").run().success();
    assert_eq!(sample(&lab.world("metrics.prom"), "observer_last_success_timestamp_seconds"), 1_778_590_920.0);
    // The run's facts differ from any rebuild's, so the world files that
    // guarantee 2 compares (support::WORLD_FILES) do not include it, and
    // `rebuild --out` does not write it.
    lab.assert_world_equals_rebuild();
    assert!(!lab.path("rebuilt/metrics.prom").exists());
    promtool(&lab.world("metrics.prom"));
}

#[test]
fn a_run_whose_stdout_is_closed_still_ends_with_its_metrics() {
    // Delivery and the metrics come after the summary line; a closed pipe
    // (`observer run | head -0`) is not an error and stops neither.
    let lab = Homelab::from_fixture("fixtures/demo").with_inventory(&example_inventory());
    let out = lab.observer(["run", "--no-tick"]).run_with_closed(Stream::Stdout);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    promtool(&lab.world("metrics.prom"));
}

#[test]
fn an_unreadable_ledger_is_a_warning_and_leaves_only_its_samples_out() {
    let lab = Homelab::from_fixture("fixtures/demo").with_inventory(&example_inventory());
    std::fs::create_dir_all(lab.path("state/deliveries.jsonl")).unwrap();
    lab.run().stderr_has("metrics.prom: deliveries not counted: cannot read");
    let text = lab.world("metrics.prom");
    promtool(&text);
    assert!(text.contains("# TYPE observer_deliveries_failed_total counter\n# HELP"), "no sample:\n{text}");
    assert!(sample(&text, "observer_notifications_total{kind=\"firing\"}") > 0.0);
}

/// The notifications by kind, as the committed outbox holds them.
fn outbox_by_kind(lab: &Homelab) -> std::collections::BTreeMap<String, f64> {
    let mut counts = std::collections::BTreeMap::new();
    for line in lab.read("state/outbox.jsonl").lines() {
        let notification: serde_json::Value = serde_json::from_str(line).unwrap();
        *counts.entry(notification["kind"].as_str().unwrap().to_string()).or_default() += 1.0;
    }
    counts
}

fn assert_counts_match_outbox(lab: &Homelab) {
    let text = lab.world("metrics.prom");
    let counts = outbox_by_kind(lab);
    assert!(!counts.is_empty(), "the demo decides notifications");
    for (kind, count) in counts {
        assert_eq!(sample(&text, &format!("observer_notifications_total{{kind=\"{kind}\"}}")), count, "{kind}");
    }
}

#[test]
fn notification_counts_are_kept_in_the_checkpoint_and_match_the_outbox() {
    // The checkpoint's header counts the committed notifications by kind, so
    // that a no-op run never reads the outbox for them; a checkpoint written
    // before it kept them has the outbox counted once, then keeps counting.
    let lab = Homelab::from_fixture("fixtures/demo").with_inventory(&example_inventory());
    lab.run();
    assert_counts_match_outbox(&lab);
    let checkpoint = lab.read("state/observer_checkpoint.json");
    let (header, body) = checkpoint.split_once('\n').unwrap();
    let mut header: serde_json::Value = serde_json::from_str(header).unwrap();
    assert!(header["notified"].is_object(), "{header}");
    header.as_object_mut().unwrap().remove("notified");
    lab.write("state/observer_checkpoint.json", &format!("{header}\n{body}"));
    // A no-op on that older checkpoint counts the outbox instead.
    lab.observer(["run", "--no-tick"]).run().success();
    assert_counts_match_outbox(&lab);
    // A pass that folds something keeps counting from there.
    lab.observer(["run"]).env("OBSERVER_NOW", "2026-05-13T13:00:00Z").run().success();
    let checkpoint = lab.read("state/observer_checkpoint.json");
    assert!(checkpoint.lines().next().unwrap().contains(r#""notified":{"#), "counted again");
    assert_counts_match_outbox(&lab);
    lab.observer(["run", "--no-tick"]).env("OBSERVER_NOW", "2026-05-13T13:01:00Z").run().success();
    assert_counts_match_outbox(&lab);
}
