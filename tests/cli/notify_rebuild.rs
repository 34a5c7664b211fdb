//! The ledger as truth across rebuilds (SPEC §6): what receivers hold is
//! never sent again, episodes that ended before the rebuild send nothing,
//! and a page whose alert no longer fires gets exactly one `resolved`.
//! A rebuild is staged by writing the outbox and `world/alerts.json` it
//! would leave, by hand.

use std::time::Duration;

use crate::receivers::{Server, alerts_firing, notification, outbox};
use crate::support::Homelab;

fn lab_with_webhook() -> (Homelab, Server) {
    let lab = Homelab::new();
    let server = Server::start(Box::new(|_| (200, Duration::ZERO)));
    lab.write("observer.yaml", &format!("notify:\n  channels:\n    - name: web\n      webhook: \"{}\"\n", server.url));
    (lab, server)
}

fn notify(lab: &Homelab) {
    lab.observer(["notify"]).run().success();
}

fn sent_ids(server: &Server) -> Vec<String> {
    server.accepted().iter().map(|r| r.header("idempotency-key").unwrap().to_string()).collect()
}

#[test]
fn a_rebuild_resends_nothing_and_ended_episodes_stay_silent() {
    let (lab, server) = lab_with_webhook();
    let before = [
        notification("node_down:venus", "firing", 0, 0),
        notification("node_down:venus", "resolved", 0, 5),
        notification("node_down:mars", "firing", 6, 6),
    ];
    lab.commit_outbox(&outbox(&before));
    lab.write("world/alerts.json", &alerts_firing(&[("node_down:mars", 6)]));
    notify(&lab);
    assert_eq!(sent_ids(&server).len(), 3);

    // A rebuild with a changed config: a new rule fired and ended in the
    // past (silent), another fired in the past and still fires (its firing
    // goes), and one fires after the horizon (goes as usual).
    let after = [
        notification("disk_low:saturn/data", "firing", 1, 1),
        notification("node_down:venus", "firing", 0, 0),
        notification("disk_low:saturn/data", "resolved", 1, 3),
        notification("service_degraded:saturn/mqtt", "firing", 4, 4),
        notification("service_degraded:saturn/mqtt", "reminder", 4, 5),
        notification("node_down:venus", "resolved", 0, 5),
        notification("node_down:mars", "firing", 6, 6),
        notification("node_down:jupiter", "firing", 20, 20),
    ];
    lab.commit_outbox(&outbox(&after));
    lab.write(
        "world/alerts.json",
        &alerts_firing(&[("node_down:mars", 6), ("service_degraded:saturn/mqtt", 4), ("node_down:jupiter", 20)]),
    );
    notify(&lab);
    let mut new = sent_ids(&server)[3..].to_vec();
    new.sort();
    assert_eq!(new, ["node_down:jupiter@1778581200:firing:1", "service_degraded:saturn/mqtt@1778580240:firing:1"]);

    // The same rebuild again (or a deleted checkpoint): byte-identical, nothing.
    lab.commit_outbox(&outbox(&after));
    notify(&lab);
    notify(&lab);
    assert_eq!(server.requests().len(), 5);
}

#[test]
fn a_page_whose_rule_was_removed_gets_exactly_one_resolve() {
    let (lab, server) = lab_with_webhook();
    lab.commit_outbox(&outbox(&[
        notification("node_down:venus", "firing", 0, 0),
        notification("disk_low:saturn/data", "firing", 1, 1),
    ]));
    lab.write("world/alerts.json", &alerts_firing(&[("node_down:venus", 0), ("disk_low:saturn/data", 1)]));
    notify(&lab);
    assert_eq!(server.requests().len(), 2);

    // Rebuilt with `disk_low` disabled: its firing is gone from the outbox.
    lab.commit_outbox(&outbox(&[notification("node_down:venus", "firing", 0, 0)]));
    lab.write("world/alerts.json", &alerts_firing(&[("node_down:venus", 0)]));
    notify(&lab);
    notify(&lab);
    let requests = server.accepted();
    assert_eq!(requests.len(), 3, "one resolve, once");
    let resolve = requests[2].json();
    assert_eq!(resolve["id"], "disk_low:saturn/data@1778580060:resolved:1");
    assert_eq!(resolve["kind"], "resolved");
    assert_eq!(resolve["key"], "disk_low:saturn/data");
    assert_eq!(resolve["node"], "saturn");
}

#[test]
fn a_page_the_fold_still_holds_open_is_left_to_the_fold() {
    let (lab, server) = lab_with_webhook();
    let firing = notification("node_down:venus", "firing", 0, 0);
    lab.commit_outbox(&outbox(std::slice::from_ref(&firing)));
    lab.write("world/alerts.json", &alerts_firing(&[("node_down:venus", 0)]));
    notify(&lab);

    // Resolved, but its resolve waits out the cooldown: the fold's last
    // notification is still the firing. Delivery does not close the page.
    let waiting = serde_json::json!({"alerts": {"node_down:venus": {"status": "resolved", "fired_at": firing["fired_at"],
        "last_notification": {"id": firing["id"], "kind": "firing", "ts": firing["ts"]}}}});
    lab.write("world/alerts.json", &waiting.to_string());
    notify(&lab);
    assert_eq!(server.requests().len(), 1);

    // The fold sends the resolve: it goes, once.
    let resolved = notification("node_down:venus", "resolved", 0, 10);
    lab.commit_outbox(&outbox(&[firing, resolved]));
    notify(&lab);
    notify(&lab);
    assert_eq!(sent_ids(&server), ["node_down:venus@1778580000:firing:1", "node_down:venus@1778580000:resolved:1"]);
}
