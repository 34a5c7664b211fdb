//! The progress bar of a long read: never when stderr is not a terminal
//! (tests, cron, pipes), and drawn on a terminal (a pty from `script`).

use crate::support::*;

/// About 1 MiB of heartbeats.
fn many_events(lab: &Homelab) {
    let mut text = String::new();
    for i in 0..6000 {
        let ts = format!("2026-05-12T{:02}:{:02}:{:02}Z", 10 + i / 3600, (i / 60) % 60, i % 60);
        text.push_str(&Ev::new(&ts, "node_heartbeat").node("saturn").message(&"x".repeat(100)).line());
    }
    lab.write("events/heartbeats.jsonl", &text);
}

#[test]
fn no_progress_when_stderr_is_not_a_terminal() {
    let lab = Homelab::new();
    many_events(&lab);
    let out = lab.observer(["rebuild"]).env("OBSERVER_PROGRESS_MIN_BYTES", "1").run().success();
    assert_eq!(out.stderr, "", "nothing but diagnostics on a pipe");
}

#[test]
fn a_terminal_sees_the_bar_of_a_long_read() {
    if std::process::Command::new("script").arg("--version").output().is_err() {
        eprintln!("script(1) is not installed: the terminal case is not tried");
        return;
    }
    let lab = Homelab::new();
    many_events(&lab);
    let log = lab.path("typescript");
    let command = format!("{BIN} --root {} rebuild >/dev/null", lab.root().display());
    let status = std::process::Command::new("script")
        .args(["-q", "-e", "-c", &command])
        .arg(&log)
        .env("OBSERVER_PROGRESS_MIN_BYTES", "1")
        .env("OBSERVER_NOW", "2026-05-12T13:00:00Z")
        .env_remove("OBSERVER_ROOT")
        .env_remove("OBSERVER_CONFIG")
        .env_remove("OBSERVER_INVENTORY")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let seen = String::from_utf8_lossy(&std::fs::read(&log).unwrap()).into_owned();
    assert!(seen.contains("reading events ["), "no bar drawn on the terminal:\n{seen}");
    // Under the threshold (8 MiB by default), no bar even on a terminal.
    let quiet = lab.path("quiet");
    let status = std::process::Command::new("script")
        .args(["-q", "-e", "-c", &command])
        .arg(&quiet)
        .env("OBSERVER_NOW", "2026-05-12T13:00:00Z")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let seen = String::from_utf8_lossy(&std::fs::read(&quiet).unwrap()).into_owned();
    assert!(!seen.contains("reading events"), "{seen}");
}
