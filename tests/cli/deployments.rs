//! `observer deployments` and `status --node/--service` on the demo world:
//! filters, order, the JSON forms, and what an unknown name gives.

use crate::support::*;

fn demo() -> Homelab {
    let lab = Homelab::from_fixture("fixtures/demo").with_inventory(&example_inventory());
    lab.observer(["run"]).run().success();
    lab
}

fn ids(value: &serde_json::Value) -> Vec<&str> {
    value.as_array().unwrap().iter().map(|run| run["correlation_id"].as_str().unwrap()).collect()
}

#[test]
fn lists_every_run_newest_first_as_a_table() {
    let lab = demo();
    let out = lab.observer(["deployments"]).run().success();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines[0].starts_with("CORRELATION ID"), "{}", out.stdout);
    let first_words: Vec<&str> = lines[1..].iter().map(|l| l.split_whitespace().next().unwrap()).collect();
    assert_eq!(first_words, ["deploy-caddy-7", "deploy-nextcloud-29", "deploy-home-assistant-42"]);
    assert!(lines[2].contains("jupiter") && lines[2].contains("failed") && lines[2].contains("185s"));
    assert!(lines[2].ends_with("migrate (failed)"), "{}", lines[2]);
    assert_eq!(out.stderr, "");
}

#[test]
fn json_holds_the_runs_as_the_world_file_does() {
    let lab = demo();
    let out = lab.observer(["deployments", "--json"]).run().success();
    let listed: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(ids(&listed), ["deploy-caddy-7", "deploy-nextcloud-29", "deploy-home-assistant-42"]);
    let file = lab.json("world/deployments.json");
    for run in listed.as_array().unwrap() {
        let id = run["correlation_id"].as_str().unwrap();
        assert_eq!(run, &file["deployments"][id], "{id}");
    }
}

#[test]
fn status_node_and_service_filters_combine() {
    let lab = demo();
    let failed = lab.observer(["deployments", "--status", "failed", "--json"]).run().success();
    assert_eq!(ids(&serde_json::from_str(&failed.stdout).unwrap()), ["deploy-nextcloud-29"]);
    let running = lab.observer(["deployments", "--status", "running", "--node", "mars", "--json"]).run().success();
    assert_eq!(ids(&serde_json::from_str(&running.stdout).unwrap()), ["deploy-caddy-7"]);
    let none = lab.observer(["deployments", "--status", "failed", "--node", "mars", "--json"]).run().success();
    assert_eq!(none.stdout.trim(), "[]");
    let by_service = lab.observer(["deployments", "--service", "home-assistant", "--json"]).run().success();
    assert_eq!(ids(&serde_json::from_str(&by_service.stdout).unwrap()), ["deploy-home-assistant-42"]);
    assert_eq!(by_service.stderr, "", "a known name gives no note");
}

#[test]
fn an_unknown_node_or_service_is_an_empty_answer_with_a_note() {
    let lab = demo();
    let out = lab.observer(["deployments", "--node", "saturnn"]).run().success();
    assert_eq!(out.stdout, "no deployment runs\n");
    assert!(out.stderr.contains("note: the world knows no node `saturnn` (nodes: jupiter, mars, saturn, venus)"));
    let out = lab.observer(["deployments", "--service", "nope", "--json"]).run().success();
    assert_eq!(out.stdout.trim(), "[]");
    assert!(out.stderr.contains("note: the world knows no service `nope`"), "{}", out.stderr);
}

#[test]
fn an_unknown_status_is_a_usage_error() {
    let lab = demo();
    lab.observer(["deployments", "--status", "done"])
        .run()
        .code(2)
        .stderr_has("possible values: running, failed, succeeded");
}

#[test]
fn without_a_world_it_says_to_run_first() {
    let lab = Homelab::new();
    lab.observer(["deployments"]).run().code(1).stderr_has("run `observer run`");
}

#[test]
fn status_node_filter_narrows_counts_lists_and_health() {
    let lab = demo();
    let out = lab.observer(["status", "--node", "saturn", "--json"]).run().success();
    let status: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(status["filter"], serde_json::json!({"node": "saturn"}));
    assert_eq!(status["nodes"]["total"], 1);
    let services: Vec<&str> =
        status["services_not_healthy"].as_array().unwrap().iter().map(|s| s["service"].as_str().unwrap()).collect();
    assert_eq!(services, ["mosquitto", "zigbee2mqtt"]);
    let incidents: Vec<&str> =
        status["active_incidents"].as_array().unwrap().iter().map(|i| i["node"].as_str().unwrap()).collect();
    assert_eq!(incidents, ["saturn", "saturn"]);
    assert!(status["firing_alerts"].as_array().unwrap().iter().all(|a| a["node"] == "saturn"));
    assert_eq!(status["running_deployments"], serde_json::json!([]));
    // The events stay the whole observer's.
    let whole: serde_json::Value =
        serde_json::from_str(&lab.observer(["status", "--json"]).run().success().stdout).unwrap();
    assert_eq!(status["events"], whole["events"]);
    assert!(whole.get("filter").is_none(), "no filter, no field");
    let text = lab.observer(["status", "--node", "saturn"]).run().success();
    assert!(text.stdout.starts_with("overall health (node saturn): "), "{}", text.stdout);
    assert!(text.stdout.contains("nodes: 1 total"), "{}", text.stdout);
    assert!(!text.stdout.contains("jupiter/nextcloud"), "{}", text.stdout);
}

#[test]
fn status_service_filter_with_and_without_node() {
    let lab = demo();
    let caddy: serde_json::Value =
        serde_json::from_str(&lab.observer(["status", "--service", "caddy", "--json"]).run().success().stdout).unwrap();
    assert_eq!(caddy["overall_health"], "healthy");
    assert_eq!(caddy["services"]["total"], 1);
    assert_eq!(caddy["nodes"]["total"], 1, "the nodes that run it");
    assert_eq!(caddy["running_deployments"][0]["correlation_id"], "deploy-caddy-7");
    let both: serde_json::Value = serde_json::from_str(
        &lab.observer(["status", "--node", "saturn", "--service", "mosquitto", "--json"]).run().success().stdout,
    )
    .unwrap();
    assert_eq!(both["overall_health"], "unhealthy");
    assert_eq!(both["services"]["total"], 1);
    assert_eq!(both["active_incidents"].as_array().unwrap().len(), 1);
    let out = lab.observer(["status", "--node", "pluto"]).run().success();
    assert!(out.stderr.contains("note: the world knows no node `pluto`"), "{}", out.stderr);
    assert!(out.stdout.contains("nodes: 0 total"), "{}", out.stdout);
}
