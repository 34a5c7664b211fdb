//! What a user sees of each command: exit code, stdout and stderr together,
//! snapshotted for the main paths of every command and its main errors.
//! The temp root reads `[ROOT]`, measured times `[N]` (`Outcome::transcript`).
//! Each snapshot is a short terminal session: `$ observer --root [ROOT]
//! ARGS`, then what came back.

use std::fs::OpenOptions;

use crate::support::{Ev, Homelab, lines};

/// A heartbeat, a failure, a healthy service, a deployment and a line that
/// is not JSON.
fn homelab() -> Homelab {
    let lab = Homelab::new();
    let events = [
        Ev::new("2026-05-12T12:00:00Z", "heartbeat").node("saturn"),
        Ev::new("2026-05-12T12:05:00Z", "service_unhealthy")
            .node("saturn")
            .service("mosquitto")
            .severity("critical")
            .message("port 1883 refused"),
        Ev::new("2026-05-12T12:06:00Z", "service_healthy").node("saturn").service("grafana"),
        Ev::new("2026-05-12T12:07:00Z", "deployment_started").correlation("dep-7").node("saturn").service("grafana"),
    ];
    lab.write("events/saturn.jsonl", &(lines(&events) + "nope\n"));
    lab
}

/// `observer ARGS` in `lab`, one command after the other, shown as they
/// would be in a terminal.
fn session(lab: &Homelab, commands: &[&[&str]]) -> String {
    let quoted = |arg: &&str| if arg.contains(' ') { format!("'{arg}'") } else { arg.to_string() };
    commands
        .iter()
        .map(|args| {
            let line = args.iter().map(quoted).collect::<Vec<_>>().join(" ");
            format!("$ observer --root [ROOT] {}\n{}", lab.redact(&line), lab.observer(*args).run().transcript(lab))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn run() {
    let lab = homelab();
    insta::assert_snapshot!("run", session(&lab, &[&["run"], &["run", "--no-tick"]]));
}

#[test]
fn rebuild() {
    let lab = homelab();
    lab.run();
    let past = lab.path("past");
    let past = past.to_str().unwrap();
    insta::assert_snapshot!(
        "rebuild",
        session(
            &lab,
            &[
                &["rebuild"],
                &["rebuild", "--out", past],
                &["rebuild", "--until", "2026-05-12T12:05:30Z", "--out", past]
            ]
        )
    );
}

#[test]
fn status() {
    let lab = homelab();
    insta::assert_snapshot!("status_without_a_world", session(&lab, &[&["status"]]));
    lab.run();
    insta::assert_snapshot!("status", session(&lab, &[&["status"]]));
    insta::assert_snapshot!("status_json", session(&lab, &[&["status", "--json"]]));
}

#[test]
fn emit() {
    let lab = Homelab::new();
    let args = ["emit", "--type", "service_unhealthy", "--node", "saturn", "--service", "mosquitto"];
    let good = session(
        &lab,
        &[&[&args[..], &["--ts", "2026-05-12T12:05:00+02:00", "--message", "port 1883 refused"]].concat()],
    );
    // The file name holds the event time, the pid, the wall clock's
    // nanoseconds and a counter: the last three differ in every run.
    let name = std::fs::read_dir(lab.path("events/emit")).unwrap().next().unwrap().unwrap().file_name();
    let name = name.to_string_lossy().into_owned();
    let parts: Vec<&str> = name.split('-').collect();
    let good = good.replace(&name, &format!("{}-[PID]-[NANOS]-{}", parts[0], parts[3]));
    let bad = session(&lab, &[&["emit", "--type", "heartbeat"], &["emit", "--type", "tick", "--ts", "soon"]]);
    insta::assert_snapshot!("emit", format!("{good}\n{bad}"));
}

#[test]
fn validate_a_good_tree() {
    let lab = Homelab::new();
    lab.write("events/saturn.jsonl", &Ev::new("2026-05-12T12:00:00Z", "heartbeat").node("saturn").line());
    lab.write("inventory/topology.yaml", "nodes:\n  saturn:\n    roles: [mqtt]\n");
    lab.write("observer.yaml", "nodes:\n  stale_after_s: 60\n");
    insta::assert_snapshot!("validate_good", session(&lab, &[&["validate"]]));
}

#[test]
fn validate_a_bad_tree() {
    let lab = homelab();
    lab.append("events/saturn.jsonl", &Ev::new("2026-05-12T12:08:00Z", "heartbeat").line());
    lab.write("events/deploy/waiting.json", "{\"ts\":");
    lab.write("inventory/topology.yaml", "nodes:\n  saturn:\n    roles: [mqtt\n");
    lab.write("observer.yaml", "nodes:\n  stale_after_s: 300\nretention:\n  dayz: 3\n");
    insta::assert_snapshot!("validate_bad", session(&lab, &[&["validate"]]));
}

#[test]
fn probe() {
    let lab = Homelab::new();
    lab.write(
        "inventory/hosts/saturn/services.yaml",
        "services:\n  tool:\n    probes:\n      - name: true\n        command: [/bin/true]\n      - name: false\n        command: [/bin/false]\n      - name: gone\n        command: [/nonexistent/check_gone]\n",
    );
    insta::assert_snapshot!("probe", session(&lab, &[&["probe"], &["probe"]]));
}

#[test]
fn config() {
    let lab = Homelab::new();
    insta::assert_snapshot!("config_defaults", session(&lab, &[&["config", "--defaults"]]));
    lab.write("observer.yaml", "nodes:\n  stale_after_s: 60\nbreaker:\n  failure_threshold: 3\n");
    insta::assert_snapshot!("config", session(&lab, &[&["config"]]));
}

#[test]
fn completions() {
    insta::assert_snapshot!("completions_bash", session(&Homelab::new(), &[&["completions", "bash"]]));
}

#[test]
fn a_locked_state_directory() {
    let lab = homelab();
    std::fs::create_dir_all(lab.path("state")).unwrap();
    let lock =
        OpenOptions::new().write(true).create(true).truncate(true).open(lab.path("state/.observer.lock")).unwrap();
    lock.try_lock().unwrap();
    std::fs::write(lab.path("state/.observer.lock"), "pid 4242 running `observer run`").unwrap();
    insta::assert_snapshot!("locked", session(&lab, &[&["run"], &["rebuild"]]));
    drop(lock);
}

#[test]
fn a_root_without_events() {
    let lab = Homelab::new();
    std::fs::remove_dir(lab.path("events")).unwrap();
    insta::assert_snapshot!("no_events", session(&lab, &[&["run"]]));
}

#[test]
fn a_bad_config_file() {
    let lab = homelab();
    lab.write("observer.yaml", "nodes:\n  stale_after_s: soon\n");
    insta::assert_snapshot!("bad_config", session(&lab, &[&["run"]]));
}

#[test]
fn an_unknown_subcommand() {
    insta::assert_snapshot!("unknown_subcommand", session(&Homelab::new(), &[&["frobnicate"]]));
}
