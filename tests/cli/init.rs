//! `observer init`: a fresh root that validates and runs as it is, an
//! existing root left alone, and systemd units that `systemd-analyze
//! verify` accepts.

use std::path::Path;
use std::process::Command;

use crate::support::{BIN, Outcome};

/// `observer --root ROOT ARGS…`, with nothing from the environment.
fn observer(root: &Path, args: &[&str]) -> Outcome {
    let mut command = Command::new(BIN);
    command.arg("--root").arg(root).args(args);
    command.env_remove("OBSERVER_ROOT").env_remove("OBSERVER_CONFIG").env_remove("OBSERVER_INVENTORY");
    Outcome::from(command.output().expect("run observer"))
}

fn files(root: &Path) -> Vec<(String, Vec<u8>)> {
    walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .flatten()
        .map(|e| {
            let bytes = if e.file_type().is_file() { std::fs::read(e.path()).unwrap() } else { Vec::new() };
            (e.path().strip_prefix(root).unwrap().display().to_string(), bytes)
        })
        .collect()
}

#[test]
fn a_fresh_root_validates_runs_and_checks_ok() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("homelab");
    let out = observer(&root, &["init"]).success();
    assert!(out.stdout.contains("events/, state/, world/, logs/, observer.yaml"), "{}", out.stdout);
    for rel in ["events", "state", "world", "logs", "inventory/hosts/saturn/services.yaml"] {
        assert!(root.join(rel).exists(), "{rel} is missing");
    }
    let topology = std::fs::read_to_string(root.join("inventory/topology.yaml")).unwrap();
    let shipped = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("inventory/topology.yaml"));
    assert_eq!(topology, shipped.unwrap(), "the shipped example inventory");
    let config = std::fs::read_to_string(root.join("observer.yaml")).unwrap();
    assert!(config.contains("#   stale_after_s: 300\n"), "every key with its default, commented out:\n{config}");
    let out = observer(&root, &["validate"]).success();
    assert!(out.stderr.starts_with("0 problems"), "{}", out.stderr);
    // The config in effect is the defaults, and the inventory is the one made.
    let shown = observer(&root, &["config"]).success();
    assert!(shown.stdout.contains("stale_after_s: 300"), "{}", shown.stdout);
    observer(&root, &["run"]).success();
    // Free space is left out (`0:` never alerts): a nearly full disk on the
    // machine that runs the tests would otherwise make this WARNING.
    let out = observer(&root, &["check", "--free-warning", "0:", "--free-critical", "0:"]);
    assert_eq!(out.code, Some(0), "{}", out.stdout);
    assert!(out.stdout.starts_with("OBSERVER OK - "), "{}", out.stdout);
}

#[test]
fn an_existing_root_is_left_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("events")).unwrap();
    std::fs::write(root.join("observer.yaml"), "nodes: {stale_after_s: 60}\n").unwrap();
    let before = files(root);
    let out = observer(root, &["init"]).success();
    assert!(out.stdout.contains("is already set up; nothing was changed. Already there: "), "{}", out.stdout);
    assert!(out.stdout.contains("events") && out.stdout.contains("observer.yaml"), "{}", out.stdout);
    assert_eq!(files(root), before);
}

#[test]
fn systemd_units_name_the_binary_and_root_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("lab");
    let out = observer(&root, &["init", "--systemd"]).success();
    assert!(out.stdout.contains("systemctl enable --now observer.timer"), "{}", out.stdout);
    let units = root.join("systemd");
    let bin = std::fs::canonicalize(BIN).unwrap();
    let service = std::fs::read_to_string(units.join("observer.service")).unwrap();
    let exec = format!("ExecStart={} --root {} run --probe\n", bin.display(), root.display());
    assert!(service.contains(&exec), "{service}");
    let timer = std::fs::read_to_string(units.join("observer.timer")).unwrap();
    assert!(timer.contains("OnCalendar=minutely\n"), "{timer}");
    let watch = std::fs::read_to_string(units.join("observer-watch.service")).unwrap();
    assert!(watch.contains(&format!("ExecStart={} --root {} watch\n", bin.display(), root.display())));
    // Again: nothing is replaced.
    let before = files(&root);
    let out = observer(&root, &["init", "--systemd"]).success();
    assert!(out.stdout.contains("systemd units already there, nothing was changed"), "{}", out.stdout);
    assert_eq!(files(&root), before);

    let names = ["observer.service", "observer.timer", "observer-watch.service"];
    match Command::new("systemd-analyze").arg("verify").args(names.iter().map(|n| units.join(n))).output() {
        Err(error) => println!("skipped `systemd-analyze verify`: not available here ({error})"),
        Ok(output) => assert!(
            output.status.success(),
            "systemd-analyze verify refused the units:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}
