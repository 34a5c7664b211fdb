//! What `status` says about delivery: dead letters (plain and `--json`),
//! and pages left open on a channel removed from the config.

use std::time::Duration;

use crate::receivers::{Server, alerts_firing, notification, outbox};
use crate::support::Homelab;

fn channels(lab: &Homelab, channels: &[(&str, &str)]) {
    let mut config = String::from("notify:\n  channels:\n");
    for (name, url) in channels {
        config += &format!("    - name: {name}\n      webhook: \"{url}\"\n");
    }
    lab.write("observer.yaml", &config);
}

fn status_json(lab: &Homelab) -> serde_json::Value {
    serde_json::from_str(&lab.observer(["status", "--json"]).run().success().stdout).unwrap()
}

#[test]
fn status_lists_dead_letters_plain_and_as_json() {
    let lab = Homelab::new();
    let refuses = Server::always(400);
    let takes = Server::always(200);
    channels(&lab, &[("web", &refuses.url), ("phone", &takes.url)]);
    lab.commit_outbox(&outbox(&[
        notification("node_down:venus", "firing", 0, 0),
        notification("service_unhealthy:saturn/mosquitto", "firing", 1, 1),
    ]));
    lab.observer(["notify"]).run().success();
    lab.observer(["notify"]).run().success();
    assert_eq!(refuses.requests().len(), 2, "a dead letter is never tried again");

    let status = status_json(&lab);
    let dead = status["dead_letters"].as_array().unwrap();
    assert_eq!(dead.len(), 2, "{dead:#?}");
    let mut ids: Vec<&str> = dead.iter().map(|d| d["id"].as_str().unwrap()).collect();
    ids.sort();
    assert_eq!(ids, ["node_down:venus@1778580000:firing:1", "service_unhealthy:saturn/mosquitto@1778580060:firing:1"]);
    let venus = dead.iter().find(|d| d["key"] == "node_down:venus").unwrap();
    assert_eq!(venus["channel"], "web");
    assert_eq!(venus["outcome"], "dead_letter");
    assert_eq!(venus["http_status"], 400);
    assert_eq!(venus["at"], "2026-05-12T13:00:00Z");
    assert_eq!(venus["error"], "HTTP 400: no");
    assert_eq!(venus["attempts"], 1);
    assert_eq!(status["pages_left_open"], serde_json::json!([]));

    lab.observer(["status"]).run().success().stdout_has("dead letters: 2 (newest: ");
}

#[test]
fn pages_left_open_on_a_removed_channel_are_reported_once_per_channel_and_never_sent() {
    let lab = Homelab::new();
    let old = Server::always(200);
    let web = Server::start(Box::new(|_| (200, Duration::ZERO)));
    channels(&lab, &[("old", &old.url), ("web", &web.url)]);
    lab.commit_outbox(&outbox(&[
        notification("node_down:venus", "firing", 0, 0),
        notification("node_down:mars", "firing", 1, 1),
        notification("node_down:jupiter", "firing", 2, 2),
        notification("node_down:jupiter", "resolved", 2, 4),
    ]));
    lab.write("world/alerts.json", &alerts_firing(&[("node_down:venus", 0), ("node_down:mars", 1)]));
    lab.observer(["notify"]).run().success();
    assert_eq!(old.accepted().len(), 4);

    // `old` leaves the config while two of its pages are open; then both
    // alerts resolve.
    channels(&lab, &[("web", &web.url)]);
    lab.commit_outbox(&outbox(&[
        notification("node_down:venus", "firing", 0, 0),
        notification("node_down:mars", "firing", 1, 1),
        notification("node_down:jupiter", "firing", 2, 2),
        notification("node_down:jupiter", "resolved", 2, 4),
        notification("node_down:venus", "resolved", 0, 8),
        notification("node_down:mars", "resolved", 1, 9),
    ]));
    lab.write("world/alerts.json", &alerts_firing(&[]));
    lab.observer(["notify"]).run().success();
    assert_eq!(old.requests().len(), 4, "nothing goes to a removed channel");
    assert_eq!(web.accepted().len(), 6);

    let out = lab.observer(["status"]).run().success();
    let line = "2 pages left open on removed channel old (close them there by hand): node_down:mars, node_down:venus\n";
    assert_eq!(out.stdout.matches("left open on removed channel").count(), 1, "{}", out.stdout);
    assert!(out.stdout.contains(line), "{}", out.stdout);
    let status = status_json(&lab);
    assert_eq!(
        status["pages_left_open"],
        serde_json::json!([{"channel": "old", "pages": 2, "keys": ["node_down:mars", "node_down:venus"]}])
    );

    // Put back, the channel gets its resolves and the line goes.
    channels(&lab, &[("old", &old.url), ("web", &web.url)]);
    lab.observer(["notify"]).run().success();
    assert_eq!(old.accepted().len(), 6);
    assert!(!lab.observer(["status"]).run().success().stdout.contains("left open"));
}
