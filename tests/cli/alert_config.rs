//! The `alerts:`, `budgets.notifications_per_hour` and `notify:` sections
//! and the inventory's `depends_on` and per-service `alerts:`: each mistake
//! gives a message a person can act on, with its file and line, through
//! `observer validate` (and every command that loads the file).

use crate::support::Homelab;

/// `observer validate` in a root whose `observer.yaml` is `config`.
fn validate_config(config: &str) -> (Homelab, String) {
    let lab = Homelab::new();
    lab.write("observer.yaml", config);
    let transcript = lab.observer(["validate"]).run().transcript(&lab);
    (lab, transcript)
}

/// One mistake each, with the line it is on.
const BAD_CONFIGS: &[(&str, &str, u32)] = &[
    ("unknown_rule", "alerts:\n  rules:\n    nodes_down: {severity: error}\n", 3),
    ("key_of_another_rule", "alerts:\n  rules:\n    node_down:\n      max_ratio: 0.1\n", 4),
    ("unknown_key_of_a_rule", "alerts:\n  rules:\n    breaker_open: {for: 600}\n", 3),
    ("negative_cooldown", "alerts:\n  cooldown_s: -5\n", 2),
    ("fractional_ttl", "alerts:\n  ttl_s: 1.5\n", 2),
    ("negative_for_s", "alerts:\n  rules:\n    breaker_open:\n      for_s: -1\n", 4),
    ("ratio_above_one", "alerts:\n  rules:\n    failure_rate: {max_ratio: 1.5}\n", 3),
    ("low_above_high", "alerts:\n  rules:\n    flapping: {low: 30.0}\n", 3),
    ("negative_budget", "budgets:\n  notifications_per_hour: -1\n", 2),
    ("hook_that_does_not_exist", "notify:\n  channels:\n    - name: phone\n      hook: [/nonexistent/page-me]\n", 4),
    ("hook_not_in_path", "notify:\n  channels:\n    - name: phone\n      hook: [page-me-nowhere, --quiet]\n", 4),
    ("hook_relative", "notify:\n  channels:\n    - name: phone\n      hook: [bin/page-me]\n", 4),
    ("url_that_does_not_parse", "notify:\n  channels:\n    - name: ntfy\n      webhook: \"http://ntfy lan/x\"\n", 4),
    ("url_not_http", "notify:\n  channels:\n    - name: ntfy\n      webhook: ftp://ntfy.lan/x\n", 4),
    (
        "hook_and_webhook",
        "notify:\n  channels:\n    - name: both\n      hook: [/bin/true]\n      webhook: http://a/\n",
        3,
    ),
    ("neither_hook_nor_webhook", "notify:\n  channels:\n    - name: none\n      min_severity: error\n", 3),
    ("format_on_a_hook", "notify:\n  channels:\n    - name: phone\n      hook: [/bin/true]\n      format: ntfy\n", 3),
    (
        "unknown_rule_of_a_channel",
        "notify:\n  channels:\n    - name: phone\n      hook: [/bin/true]\n      rules: [node_down, disk_full]\n",
        5,
    ),
    (
        "two_channels_one_name",
        "notify:\n  channels:\n    - {name: phone, hook: [/bin/true]}\n    - {name: phone, webhook: \"http://a/\"}\n",
        4,
    ),
];

#[test]
fn each_config_mistake_is_named_with_its_line() {
    for (name, config, line) in BAD_CONFIGS {
        let (_lab, transcript) = validate_config(config);
        assert!(transcript.starts_with("exit 1\n"), "{name}: {transcript}");
        let located = format!("--- stdout\n[ROOT]/observer.yaml:{line}: ");
        assert!(transcript.contains(&located), "{name}: expected line {line}:\n{transcript}");
        insta::assert_snapshot!(format!("bad_config_{name}"), transcript);
    }
}

#[test]
fn a_hook_that_is_not_executable_is_refused() {
    let lab = Homelab::new();
    lab.write("page-me", "#!/bin/sh\n");
    let hook = lab.path("page-me");
    lab.write("observer.yaml", &format!("notify:\n  channels:\n    - name: phone\n      hook: [{}]\n", hook.display()));
    lab.observer(["validate"])
        .run()
        .code(1)
        .stdout_has("observer.yaml:4: notify.channels[0].hook: hook program ")
        .stdout_has("page-me is not executable (chmod +x)");
}

#[test]
fn a_good_alerting_config_validates_and_is_shown_in_full() {
    let lab = Homelab::new();
    lab.write(
        "observer.yaml",
        "alerts:\n  cooldown_s: 60\n  rules:\n    breaker_open: {for_s: 600, severity: critical}\n\
         budgets:\n  notifications_per_hour: 30\n\
         notify:\n  channels:\n    - name: phone\n      hook: [sh, -c, 'cat > /dev/null']\n      min_severity: error\n\
         \x20   - name: ntfy\n      webhook: https://ntfy.example.lan/homelab\n      format: ntfy\n      rules: [node_down]\n",
    );
    lab.observer(["validate"]).run().success();
    let shown = lab.observer(["config"]).run().success();
    let config: serde_yaml::Value = serde_yaml::from_str(&shown.stdout).unwrap();
    assert_eq!(config["alerts"]["cooldown_s"], 60);
    assert_eq!(config["alerts"]["rules"]["breaker_open"]["for_s"], 600);
    assert_eq!(config["alerts"]["rules"]["breaker_open"]["keep_firing_for_s"], 0, "unset keys keep their default");
    assert_eq!(config["alerts"]["rules"]["service_degraded"]["for_s"], 300, "rules not given keep theirs");
    assert_eq!(config["notify"]["channels"][1]["format"], "ntfy");
}

#[test]
fn every_command_that_loads_the_config_refuses_a_bad_one() {
    let lab = Homelab::new();
    lab.write("observer.yaml", "alerts:\n  cooldown_s: -5\n");
    for command in ["run", "rebuild", "config"] {
        lab.observer([command])
            .run()
            .code(1)
            .stderr_has("observer.yaml:2: alerts.cooldown_s: -5 is negative: give a number of seconds, 0 or more");
    }
}

/// `observer validate` with `--inventory` holding `topology` and saturn's
/// `services`.
fn validate_inventory(topology: &str, services: &str) -> String {
    let lab = Homelab::new();
    lab.write("inventory/topology.yaml", topology);
    lab.write("inventory/hosts/saturn/services.yaml", services);
    lab.observer(["validate"]).run().transcript(&lab)
}

const TOPOLOGY: &str = "nodes:\n  saturn:\n    depends_on: [mars]\n  mars: {}\n";

#[test]
fn inventory_depends_on_and_overrides_are_checked_with_their_line() {
    let cases: &[(&str, &str, &str)] = &[
        ("unknown_node", "nodes:\n  saturn:\n    depends_on: [router]\n  mars: {}\n", "services: [mosquitto]\n"),
        (
            "node_cycle",
            "nodes:\n  saturn:\n    depends_on: [mars]\n  mars:\n    depends_on: [saturn]\n",
            "services: [a]\n",
        ),
        (
            "unknown_service",
            TOPOLOGY,
            "services:\n  mosquitto: {}\n  zigbee2mqtt:\n    depends_on:\n      - mosquito\n",
        ),
        ("unknown_service_of_another_node", TOPOLOGY, "services:\n  zigbee2mqtt:\n    depends_on: [mars/mosquitto]\n"),
        (
            "service_cycle",
            TOPOLOGY,
            "services:\n  a: {depends_on: [b]}\n  b: {depends_on: [c]}\n  c: {depends_on: [saturn/a]}\n",
        ),
        ("unknown_rule", TOPOLOGY, "services:\n  mosquitto:\n    alerts:\n      service_down: {for_s: 60}\n"),
        (
            "node_rule_on_a_service",
            TOPOLOGY,
            "services:\n  mosquitto:\n    alerts:\n      node_down: {enabled: false}\n",
        ),
        (
            "threshold_of_another_rule",
            TOPOLOGY,
            "services:\n  mosquitto:\n    alerts:\n      breaker_open:\n        max_ratio: 0.5\n",
        ),
        ("unknown_key", TOPOLOGY, "services:\n  - name: mosquitto\n    alerts:\n      breaker_open: {for: 60}\n"),
    ];
    for (name, topology, services) in cases {
        let transcript = validate_inventory(topology, services);
        assert!(transcript.starts_with("exit 1\n"), "{name}: {transcript}");
        insta::assert_snapshot!(format!("bad_inventory_{name}"), transcript);
    }
}

#[test]
fn a_good_inventory_with_depends_on_and_overrides_validates() {
    let transcript = validate_inventory(
        TOPOLOGY,
        "services:\n  mosquitto:\n    alerts:\n      failure_rate: {max_ratio: 0.5, min_checks: 20}\n\
         \x20 zigbee2mqtt:\n    depends_on: [mosquitto, saturn/mosquitto]\n",
    );
    assert!(transcript.starts_with("exit 0\n"), "{transcript}");
}
