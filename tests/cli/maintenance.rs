//! `observer maintenance start|end`: one event each, appended under the
//! state lock to `events/observer/maintenance-<day>.jsonl`, at the clock of
//! the run (`OBSERVER_NOW`), and printed.

use crate::support::Homelab;

#[test]
fn start_and_end_append_one_line_each() {
    let lab = Homelab::new();
    let started = lab
        .observer(["maintenance", "start", "--node", "saturn", "--for", "30m", "--reason", "new SSD"])
        .env("USER", "ada")
        .run()
        .success();
    let ended = lab
        .observer(["maintenance", "end", "--node", "saturn", "--service", "mosquitto"])
        .env("USER", "")
        .env("OBSERVER_NOW", "2026-05-12T13:20:00Z")
        .run()
        .success();
    let start_line = r#"{"ts":"2026-05-12T13:00:00Z","type":"maintenance_started","node":"saturn","message":"maintenance of saturn started until 2026-05-12T13:30:00Z: new SSD","payload":{"until":"2026-05-12T13:30:00Z","reason":"new SSD","by":"ada"}}"#;
    let end_line = r#"{"ts":"2026-05-12T13:20:00Z","type":"maintenance_ended","node":"saturn","service":"mosquitto","message":"maintenance of saturn/mosquitto ended","payload":{}}"#;
    assert_eq!(lab.read("events/observer/maintenance-2026-05-12.jsonl"), format!("{start_line}\n{end_line}\n"));
    assert_eq!(started.stdout, format!("{start_line}\n"));
    assert_eq!(ended.stdout, format!("{end_line}\n"));
    assert!(started.stderr.contains("appended to "), "{}", started.stderr);
    // The lines are events the fold reads, not rejects.
    lab.run();
    assert_eq!(lab.summary()["events"]["rejected"], 0);
}

#[test]
fn a_bad_subject_or_length_writes_nothing() {
    let lab = Homelab::new();
    lab.observer(["maintenance", "start", "--node", "saturn/x"]).run().code(1).stderr_has("--node `saturn/x`");
    lab.observer(["maintenance", "start", "--node", "saturn", "--for", "soon"])
        .run()
        .code(2)
        .stderr_has("`soon` is not a duration");
    lab.observer(["maintenance", "start", "--node", "saturn", "--for", "0s"]).run().code(1).stderr_has("at least 1s");
    assert!(!lab.path("events/observer").exists());
}

#[test]
fn an_undeclared_node_is_noted_but_written() {
    let lab = Homelab::new();
    lab.write("inventory/topology.yaml", "nodes:\n  saturn: {}\n");
    lab.observer(["maintenance", "start", "--node", "saturnn"])
        .run()
        .success()
        .stderr_has("note: node `saturnn` is not in the inventory");
    assert!(lab.read("events/observer/maintenance-2026-05-12.jsonl").contains("\"node\":\"saturnn\""));
}

#[test]
fn a_held_lock_is_exit_75() {
    let lab = Homelab::new();
    std::fs::create_dir_all(lab.path("state")).unwrap();
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(lab.path("state/.observer.lock"))
        .unwrap();
    lock.try_lock().unwrap();
    lab.observer(["maintenance", "end", "--node", "saturn"]).run().code(75);
    assert!(!lab.path("events/observer").exists());
    drop(lock);
}
