//! Issue 10: `validate` lists every problem of each YAML file, not only the
//! first; `run` refuses with the first and says how many more there are;
//! config keys under an older name are read with a warning naming the new.

use crate::support::Homelab;

/// Four different problems in `observer.yaml`: an unknown key, a wrong
/// type, a bad duration (a negative number of seconds) and an unknown key
/// of an alert rule.
const CONFIG: &str = "\
nodes:
  stale_after_minutes: 5
health:
  debounce_count: many
  timeout_s: -3
alerts:
  rules:
    breaker_open: {for: 600}
";

const TOPOLOGY: &str = "\
nodes:
  saturn:
    depends_on: mars
  mars:
    roles: router
";

/// Bad probe definitions: a bad duration, two checks in one probe, an
/// unknown key of a probe, a port that is not a number.
const SERVICES: &str = "\
services:
  mosquitto:
    probes:
      - name: port
        tcp: {host: saturn.lan, port: 1883}
        interval: soon
      - name: both
        tcp: {host: saturn.lan, port: 1883}
        path: /srv/x
  zigbee2mqtt:
    probes:
      - name: web
        http: {url: \"http://saturn.lan:8080/\"}
        every: 1m
      - name: mqtt
        tcp: {host: saturn.lan, port: eighty}
";

fn lab_with_problems() -> Homelab {
    let lab = Homelab::new();
    lab.write("observer.yaml", CONFIG);
    lab.write("inventory/topology.yaml", TOPOLOGY);
    lab.write("inventory/hosts/saturn/services.yaml", SERVICES);
    lab
}

#[test]
fn validate_lists_every_problem_of_each_yaml_file_with_its_line() {
    let lab = lab_with_problems();
    let transcript = lab.observer(["validate"]).run().transcript(&lab);
    assert!(transcript.starts_with("exit 1\n"), "{transcript}");
    for located in [
        "observer.yaml:2: ",
        "observer.yaml:4: ",
        "observer.yaml:5: ",
        "observer.yaml:8: ",
        "topology.yaml:3: ",
        "topology.yaml:5: ",
        "services.yaml:6: ",
        "services.yaml:14: ",
        "services.yaml:16: ",
    ] {
        assert!(transcript.contains(located), "{located} in:\n{transcript}");
    }
    insta::assert_snapshot!("validate_every_problem", transcript);
}

#[test]
fn run_refuses_with_the_first_problem_and_says_how_many_more() {
    let lab = lab_with_problems();
    lab.observer(["run", "--no-tick"])
        .run()
        .code(1)
        .stderr_has("observer.yaml:2: nodes: unknown field `stale_after_minutes`")
        .stderr_has("(3 more problems in this file: `observer validate` lists them all)");
    assert!(!lab.path("world/runtime-summary.json").exists(), "nothing was written");
    // The inventory alone: every problem, as before.
    lab.write("observer.yaml", "");
    lab.observer(["run", "--no-tick"]).run().code(1).stderr_has("topology.yaml:3: ").stderr_has("services.yaml:16: ");
}

#[test]
fn a_config_key_under_its_older_name_is_read_with_a_warning_naming_the_new_one() {
    let lab = Homelab::new();
    lab.write("observer.yaml", "nodes:\n  stale_after: 60\nevents:\n  dedup_window_seconds: 600\n");
    lab.write("events/a.jsonl", "{\"ts\":\"2026-05-12T12:00:00Z\",\"type\":\"heartbeat\",\"node\":\"a\"}\n");
    lab.observer(["run", "--no-tick"])
        .run()
        .success()
        .stderr_has("warning: ")
        .stderr_has("observer.yaml:2: `nodes.stale_after` is an older name of `nodes.stale_after_s`")
        .stderr_has("observer.yaml:4: `events.dedup_window_seconds` is an older name of `events.dedup_window_s`");
    // The old name took effect: 61 s later the node is stale, not at 300 s.
    lab.append("events/a.jsonl", "{\"ts\":\"2026-05-12T12:01:01Z\",\"type\":\"tick\"}\n");
    lab.run();
    assert_eq!(lab.json("world/nodes.json")["nodes"]["a"]["status"], "stale");
    // `validate` lists them as notes and exits 0; `config` shows the new names.
    lab.observer(["validate"])
        .run()
        .success()
        .stdout_has("observer.yaml:2: note: `nodes.stale_after` is an older name");
    lab.observer(["config"]).run().success().stdout_has("stale_after_s: 60").stdout_has("dedup_window_s: 600");
}
