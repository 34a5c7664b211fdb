//! Snapshots of the shipped demo: the world files and the CLI output a
//! newcomer sees in the README's quick start.

use crate::support::{Homelab, WORLD_FILES, example_inventory};

fn demo() -> Homelab {
    let lab = Homelab::from_fixture("fixtures/demo").with_inventory(&example_inventory());
    let out = lab.observer(["run", "--no-tick"]).run().success();
    insta::assert_snapshot!("demo_run_stdout", lab.redact(&out.stdout));
    insta::assert_snapshot!("demo_run_stderr", lab.redact(&out.stderr));
    lab
}

#[test]
fn the_demo_world() {
    let lab = demo();
    for name in WORLD_FILES {
        insta::assert_snapshot!(format!("demo_world_{name}"), lab.world(name));
    }
    lab.assert_world_equals_rebuild();
}

#[test]
fn the_demo_status() {
    let lab = demo();
    let text = lab.observer(["status"]).env("OBSERVER_NOW", "2026-05-12T13:00:00Z").run().success().stdout;
    insta::assert_snapshot!("demo_status", lab.redact(&text));
}

#[test]
fn the_demo_validate() {
    let lab = Homelab::from_fixture("fixtures/demo").with_inventory(&example_inventory());
    let out = lab.observer(["validate"]).run();
    insta::assert_snapshot!(
        "demo_validate",
        format!("exit {:?}\n{}{}", out.code, lab.redact(&out.stdout), lab.redact(&out.stderr))
    );
}

/// The demo's story as the pages it sends (fixtures/demo/README.md): a
/// page and its resolve, a stale node, a page held by a maintenance window
/// until the window ends, a second episode; no page for the reboot inside
/// maintenance nor for the service whose dependency already pages. The
/// fixture README quotes the outbox and `observer alerts`, so both are
/// checked against it.
#[test]
fn the_demo_pages_suppresses_holds_maintenance_and_resolves() {
    let lab = demo();
    let outbox = lab.read("state/outbox.jsonl");
    let ids: Vec<String> = outbox
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        ids,
        [
            "service_unhealthy:saturn/mosquitto@1778587500:firing:1",
            "service_unhealthy:saturn/mosquitto@1778587500:resolved:1",
            "node_stale:venus@1778588704:firing:1",
            "service_unhealthy:jupiter/nextcloud@1778589240:firing:1",
            "service_unhealthy:saturn/mosquitto@1778589720:firing:1",
        ]
    );
    let nextcloud: serde_json::Value = serde_json::from_str(outbox.lines().nth(3).unwrap()).unwrap();
    assert_eq!(nextcloud["ts"], "2026-05-12T12:39:30Z", "sent when the window ended, the problem still there");
    assert_eq!(nextcloud["fired_at"], "2026-05-12T12:34:00Z");

    let alerts = lab.json("world/alerts.json");
    let alert = |key: &str| alerts["alerts"][key].clone();
    let bridge = alert("service_unhealthy:saturn/zigbee2mqtt");
    assert_eq!(bridge["status"], "firing");
    assert_eq!(bridge["suppressed_by"], "dependency:service_unhealthy:saturn/mosquitto");
    assert_eq!(bridge["last_notification"], serde_json::Value::Null);
    let reboot = alert("node_down:venus");
    assert_eq!(reboot["status"], "resolved");
    assert_eq!(reboot["recent_episodes"][0]["notified"], false, "the reboot inside maintenance paged nobody");

    let listing = lab.observer(["alerts"]).run().success().stdout;
    insta::assert_snapshot!("demo_alerts", listing);
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/demo/README.md")).unwrap();
    for line in outbox.lines().chain(listing.lines()) {
        assert!(readme.contains(line), "fixtures/demo/README.md does not quote this line of the run:\n{line}");
    }

    // Delivered through a channel, the receiver gets exactly those five,
    // once.
    let pages = lab.path("pages.jsonl");
    let config = format!(
        "notify:\n  channels:\n    - name: file\n      hook: [\"sh\", \"-c\", \"cat >> {}\"]\n",
        pages.display()
    );
    lab.write("notify.yaml", &config);
    for _ in 0..2 {
        lab.observer(["--config", lab.path("notify.yaml").to_str().unwrap(), "notify"]).run().success();
    }
    let mut received: Vec<String> = lab.read("pages.jsonl").lines().map(str::to_string).collect();
    let mut sent: Vec<String> = outbox.lines().map(str::to_string).collect();
    received.sort();
    sent.sort();
    assert_eq!(received, sent);
}
