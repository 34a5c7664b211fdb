//! The JSON Schemas of `schemas/` (SPEC §9) against real outputs: the demo
//! and other homelabs run through the real binary, and every world file,
//! every history line, every outbox line and every event line is validated
//! against the checked-in schema of its kind (which `tests/generated.rs`
//! keeps equal to what the code derives). The schemas are strict, and tests
//! here show that they refuse wrong documents, so the checks can fail.

use std::path::Path;

use serde_json::{Value, json};

use crate::support::{Ev, Homelab, example_inventory, lines};

/// A validator for `schemas/NAME.schema.json`, formats (date-time) checked.
fn validator(name: &str) -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("schemas/{name}.schema.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let schema: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(jsonschema::meta::is_valid(&schema), "{name}: not a valid JSON Schema");
    jsonschema::options().should_validate_formats(true).build(&schema).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Panics with every error, and where, when `value` does not match.
fn assert_valid(validator: &jsonschema::Validator, value: &Value, what: &str) {
    let errors: Vec<String> = validator.iter_errors(value).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{what} does not match its schema:\n{}", errors.join("\n"));
}

/// The world files and their schemas.
const WORLD: [(&str, &str); 6] = [
    ("nodes.json", "nodes"),
    ("services.json", "services"),
    ("deployments.json", "deployments"),
    ("incidents.json", "incidents"),
    ("alerts.json", "alerts"),
    ("runtime-summary.json", "summary"),
];

/// Every world file, history line and outbox line of the lab; returns how
/// many history and outbox lines were checked.
fn assert_outputs_valid(lab: &Homelab) -> (usize, usize) {
    for (file, name) in WORLD {
        assert_valid(&validator(name), &lab.json(&format!("world/{file}")), &format!("world/{file}"));
    }
    let mut history_lines = 0;
    for (file, text) in lab.history("world") {
        let kind = ["alert", "deployment", "incident"].into_iter().find(|kind| file.starts_with(&format!("{kind}s-")));
        let kind = kind.unwrap_or_else(|| panic!("a history file of another kind: {file}"));
        let history = validator(&format!("{kind}-history"));
        for (n, line) in text.lines().enumerate() {
            let value: Value = serde_json::from_str(line).expect("a history line is JSON");
            assert_valid(&history, &value, &format!("world/history/{file}:{}", n + 1));
            history_lines += 1;
        }
    }
    let outbox = validator("outbox");
    let mut outbox_lines = 0;
    if lab.path("state/outbox.jsonl").exists() {
        for (n, line) in lab.read("state/outbox.jsonl").lines().enumerate() {
            let value: Value = serde_json::from_str(line).expect("an outbox line is JSON");
            assert_valid(&outbox, &value, &format!("state/outbox.jsonl:{}", n + 1));
            outbox_lines += 1;
        }
    }
    (history_lines, outbox_lines)
}

/// Every event under `events/` (a `.json` file is one event, other files
/// one a line) against the event schema: the ones the run accepted must
/// match, and the ones it rejected (`state/rejects.json`) must not.
/// Returns how many events matched.
fn assert_events_agree_with_the_run(lab: &Homelab) -> usize {
    let rejects: Vec<(String, u64)> = lab
        .json("state/rejects.json")
        .as_array()
        .expect("rejects.json is a list")
        .iter()
        .map(|r| (r["file"].as_str().unwrap().to_string(), r["line"].as_u64().unwrap()))
        .collect();
    let events = validator("event");
    let mut matched = 0;
    let root = lab.path("events");
    for entry in walkdir::WalkDir::new(&root).sort_by_file_name() {
        let entry = entry.unwrap();
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry.path().strip_prefix(&root).unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(entry.path()).unwrap();
        let records: Vec<(u64, &str)> = if rel.ends_with(".json") {
            vec![(1, text.as_str())]
        } else {
            text.lines().enumerate().map(|(n, line)| (n as u64 + 1, line)).collect()
        };
        for (line, record) in records {
            let rejected = rejects.contains(&(rel.clone(), line));
            match serde_json::from_str::<Value>(record) {
                Ok(value) if rejected => {
                    assert!(!events.is_valid(&value), "events/{rel}:{line} was rejected by the run, yet matches");
                }
                Ok(value) => {
                    assert_valid(&events, &value, &format!("events/{rel}:{line}"));
                    matched += 1;
                }
                Err(e) => assert!(rejected, "events/{rel}:{line} is not JSON ({e}) and was not rejected"),
            }
        }
    }
    matched
}

#[test]
fn every_output_and_event_of_the_demo_matches_its_schema() {
    let lab = Homelab::from_fixture("fixtures/demo").with_inventory(&example_inventory());
    lab.run();
    let (_, outbox_lines) = assert_outputs_valid(&lab);
    assert!(outbox_lines >= 5, "the demo pages: {outbox_lines} outbox lines");
    let events = assert_events_agree_with_the_run(&lab);
    assert_eq!(events, 84, "83 folded and 1 duplicate; the line that is not JSON is rejected");
    // A run with a tick (the clock jumps to today: nodes stale, alerts
    // resolve or fire anew) and a rebuild, checked again.
    lab.observer(["run"]).run().success();
    assert_outputs_valid(&lab);
    assert_events_agree_with_the_run(&lab);
}

#[test]
fn history_lines_match_their_schema() {
    let lab = Homelab::new();
    lab.write("observer.yaml", "world: {keep_finished: 1}\n");
    let mut events = Vec::new();
    for day in 1..=4 {
        events.push(
            Ev::new(&format!("2026-05-0{day}T10:00:00Z"), "service_unhealthy")
                .node("saturn")
                .service("mosquitto")
                .severity("critical"),
        );
        events.push(
            Ev::new(&format!("2026-05-0{day}T10:30:00Z"), "service_recovered").node("saturn").service("mosquitto"),
        );
    }
    for day in 1..=2 {
        let id = format!("deploy-{day}");
        events.push(
            Ev::new(&format!("2026-05-0{day}T11:00:00Z"), "deployment_started")
                .correlation(&id)
                .node("saturn")
                .service("mosquitto"),
        );
        events.push(
            Ev::new(&format!("2026-05-0{day}T11:05:00Z"), "deployment_failed")
                .correlation(&id)
                .payload(serde_json::json!({"diagnostics": format!("deploy/{id}.log")})),
        );
    }
    lab.append("events/saturn.jsonl", &lines(&events));
    lab.run();
    let (history_lines, outbox_lines) = assert_outputs_valid(&lab);
    assert_eq!(history_lines, 3 + 3 + 1, "four episodes and incidents, two deployments, one of each kept");
    assert!(outbox_lines > 0);
    assert_eq!(assert_events_agree_with_the_run(&lab), 12);
}

/// Probes (breakers, pending debounce, transitions), a deployment with
/// stages and diagnostics, maintenance, an acknowledgement and an event of
/// a kind observer does not know: the other corners of the world files.
#[test]
fn probes_deployments_and_every_kind_of_event_match_their_schemas() {
    let lab = Homelab::new();
    lab.write("flag", "here\n");
    let flag = lab.path("flag").display().to_string();
    lab.write(
        "inventory/hosts/saturn/services.yaml",
        &format!(
            "services:\n  mosquitto:\n    probes:\n      - name: flag\n        path: {flag}\n        interval: 30s\n"
        ),
    );
    let probe_at = |when: &str| lab.observer(["probe"]).env("OBSERVER_NOW", when).run().success();
    probe_at("2026-05-12T12:00:00Z");
    probe_at("2026-05-12T12:00:30Z");
    std::fs::remove_file(lab.path("flag")).unwrap();
    for second in [60, 90, 120, 150, 180, 210] {
        probe_at(&format!("2026-05-12T12:{:02}:{:02}Z", second / 60, second % 60));
    }
    let events = [
        Ev::new("2026-05-12T12:00:00Z", "heartbeat").node("saturn").id("hb-1"),
        Ev::new("2026-05-12T12:00:01+02:00", "node_up").node("jupiter"),
        Ev::new("2026-05-12T12:01:00Z", "deployment_started").correlation("d-1").node("saturn").service("mosquitto"),
        Ev::new("2026-05-12T12:01:10Z", "deployment_stage").correlation("d-1").payload(json!({"stage": "pull"})),
        Ev::new("2026-05-12T12:01:20Z", "deployment_stage")
            .correlation("d-1")
            .payload(json!({"name": "migrate", "status": "failed"})),
        Ev::new("2026-05-12T12:01:30Z", "deployment_failed")
            .correlation("d-1")
            .payload(json!({"diagnostics": ["d-1.log", "../outside.log"]})),
        Ev::new("2026-05-12T12:02:00Z", "maintenance_started")
            .node("jupiter")
            .payload(json!({"until": "2026-05-12T13:00:00Z", "reason": "disk swap"})),
        Ev::new("2026-05-12T12:03:00Z", "node_down").node("jupiter").severity("warning").message("powered off"),
        Ev::new("2026-05-12T12:04:00Z", "maintenance_ended").node("jupiter"),
        Ev::new("2026-05-12T12:05:00Z", "healthcheck_failed").node("venus").service("dns").severity("error"),
        Ev::new("2026-05-12T12:05:30Z", "alert_acknowledged")
            .payload(json!({"key": "service_unhealthy:venus/dns", "by": "ana", "reason": "on it"})),
        Ev::new("2026-05-12T12:06:00Z", "something_new").field("extra", json!({"any": ["shape"]})),
        Ev::new("2026-05-12T12:07:00Z", "budget_exhausted").payload(json!({"budget": "probe_runs_per_minute"})),
    ];
    lab.write("logs/d-1.log", "boom\n");
    lab.append("events/mixed.jsonl", &lines(&events));
    lab.write("events/one.json", &Ev::new("2026-05-12T12:08:00Z", "tick").json());
    lab.run();
    let services = lab.json("world/services.json");
    let probe = &services["services"]["saturn/mosquitto"];
    assert_ne!(probe["breaker"]["flag"]["state"], "closed", "{probe}");
    assert!(!probe["breaker"]["flag"]["transitions"].as_array().unwrap().is_empty());
    assert_eq!(lab.json("world/deployments.json")["deployments"]["d-1"]["status"], "failed");
    assert_outputs_valid(&lab);
    assert!(assert_events_agree_with_the_run(&lab) > events.len(), "the events, one.json and the probe results");
}

/// The checks can fail: each wrong document is refused by its schema.
#[test]
fn the_schemas_refuse_wrong_documents() {
    let lab = Homelab::from_fixture("fixtures/demo").with_inventory(&example_inventory());
    lab.run();
    let nodes = validator("nodes");
    let good = lab.json("world/nodes.json");
    assert!(nodes.is_valid(&good));
    let refused = |validator: &jsonschema::Validator, value: Value, why: &str| {
        assert!(!validator.is_valid(&value), "accepted {why}: {value}");
    };
    let mut sideways = good.clone();
    sideways["nodes"]["saturn"]["status"] = json!("sideways");
    refused(&nodes, sideways, "a node with status sideways");
    let mut extra = good.clone();
    extra["nodes"]["saturn"]["mood"] = json!("fine");
    refused(&nodes, extra, "a field nodes.json does not have");
    let mut missing = good.clone();
    missing["nodes"]["saturn"].as_object_mut().unwrap().remove("last_seen");
    refused(&nodes, missing, "a node without last_seen");
    let mut local_time = good.clone();
    local_time["as_of"] = json!("2026-05-12T14:45:30+02:00");
    refused(&nodes, local_time, "an as_of that is not in UTC");

    let summary = validator("summary");
    let mut health = lab.json("world/runtime-summary.json");
    health["overall_health"] = json!("fine");
    refused(&summary, health, "an overall_health that does not exist");

    let outbox = validator("outbox");
    let first: Value = serde_json::from_str(lab.read("state/outbox.jsonl").lines().next().unwrap()).unwrap();
    assert!(outbox.is_valid(&first));
    let mut kind = first.clone();
    kind["kind"] = json!("page");
    refused(&outbox, kind, "a notification kind that does not exist");

    let events = validator("event");
    let ok = json!({"ts": "2026-05-12T12:00:00Z", "type": "service_unhealthy", "node": "saturn", "service": "mqtt"});
    assert!(events.is_valid(&ok));
    let without = |field: &str| {
        let mut event = ok.clone();
        event.as_object_mut().unwrap().remove(field);
        event
    };
    refused(&events, without("ts"), "an event without ts");
    refused(&events, without("service"), "a service event without its service");
    let with = |field: &str, value: Value| {
        let mut event = ok.clone();
        event[field] = value;
        event
    };
    refused(&events, with("ts", json!("yesterday")), "a ts that is not RFC 3339");
    refused(&events, with("type", json!("ServiceUnhealthy")), "a type that is not snake_case");
    refused(&events, with("severity", json!("fatal")), "a severity that does not exist");
    refused(&events, with("node", json!("a/b")), "a node name with a slash");
    refused(&events, with("node", json!("  ")), "a blank node name");
    refused(
        &events,
        json!({"ts": "2026-05-12T12:00:00Z", "type": "probe_result", "node": "a", "service": "b"}),
        "a probe_result without payload",
    );
    refused(
        &events,
        json!({"ts": "2026-05-12T12:00:00Z", "type": "deployment_stage", "correlation_id": "d", "payload": {"status": "ok"}}),
        "a stage without its name",
    );
    assert!(events.is_valid(&with("x-producer", json!({"own": true}))), "producers may add fields");
}

#[test]
fn schema_lists_the_names_prints_the_checked_in_file_and_refuses_an_unknown_name() {
    let lab = Homelab::new();
    let list = lab.observer(["schema"]).run().success().stdout;
    assert!(list.starts_with("nodes "), "{list}");
    for name in [
        "nodes",
        "services",
        "deployments",
        "incidents",
        "alerts",
        "summary",
        "alert-history",
        "deployment-history",
        "incident-history",
        "outbox",
        "event",
    ] {
        assert!(list.lines().any(|line| line.starts_with(&format!("{name} "))), "{name} is not listed:\n{list}");
        let printed = lab.observer(["schema", name]).run().success().stdout;
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("schemas/{name}.schema.json"));
        assert_eq!(printed, std::fs::read_to_string(file).unwrap(), "`observer schema {name}` and schemas/ differ");
    }
    lab.observer(["schema", "sideways"]).run().code(2).stderr_has("invalid value 'sideways'").stderr_has(
        "nodes, services, deployments, incidents, alerts, summary, alert-history, deployment-history, \
             incident-history, outbox, event",
    );
}
