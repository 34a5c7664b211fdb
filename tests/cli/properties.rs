//! Property tests for guarantees 1–3: random events from several producers,
//! both file kinds, split into random batches across runs — some runs killed
//! with SIGKILL at a random instant or aborted at a commit point — give the
//! same world files, history and outbox as a rebuild, with every event
//! folded exactly once.
//!
//! `PROPTEST_CASES=500 cargo test --test cli properties` runs a longer search.

use std::collections::HashSet;
use std::time::Duration;

use proptest::prelude::*;

use serde_json::json;

use crate::support::{Ev, Homelab};

const NODES: [&str; 3] = ["saturn", "jupiter", "venus"];
const SERVICES: [&str; 2] = ["mosquitto", "grafana"];
const CRASH_POINTS: [&str; 8] = [
    "after-scan",
    "after-history",
    "after-world-file:1",
    "after-world-file:3",
    "before-rename:2",
    "after-outbox",
    "before-checkpoint",
    "after-checkpoint",
];

#[derive(Clone, Debug)]
struct Gen {
    /// 0–2: JSON Lines producers, 3: an NDJSON producer, 4: single-event files.
    producer: u8,
    kind: u8,
    node: u8,
    service: u8,
    /// Seconds after the previous event.
    dt: u8,
    id: Option<u8>,
    bad: bool,
}

#[derive(Clone, Debug)]
struct Batch {
    events: Vec<Gen>,
    /// Leave this batch's last line without its end, to be completed later.
    tear: bool,
    /// 0: plain run; 1: SIGKILL after `delay_us`; 2: abort at a commit point.
    crash: u8,
    delay_us: u16,
    point: usize,
}

fn event_gen() -> impl Strategy<Value = Gen> {
    (0u8..5, 0u8..14, 0u8..3, 0u8..2, 0u8..90, prop::option::weighted(0.15, 0u8..4), prop::bool::weighted(0.08))
        .prop_map(|(producer, kind, node, service, dt, id, bad)| Gen { producer, kind, node, service, dt, id, bad })
}

fn batch() -> impl Strategy<Value = Batch> {
    (prop::collection::vec(event_gen(), 0..25), any::<bool>(), 0u8..3, 0u16..20_000, 0..CRASH_POINTS.len())
        .prop_map(|(events, tear, crash, delay_us, point)| Batch { events, tear, crash, delay_us, point })
}

fn render(g: &Gen, seconds: u32) -> String {
    let ts = format!("2026-05-12T{:02}:{:02}:{:02}Z", 10 + seconds / 3600, (seconds / 60) % 60, seconds % 60);
    if g.bad {
        // A truncated line is rejected in a JSON Lines file; in a `.json` file
        // it would wait for the rest, so those get a complete but invalid event.
        let without_node = Ev::new(&ts, "heartbeat").json();
        return if g.kind.is_multiple_of(2) && g.producer != 4 {
            without_node[..without_node.find("\"heartbeat\"").unwrap_or(without_node.len())].to_string()
        } else {
            without_node
        };
    }
    let node = NODES[g.node as usize];
    let service = SERVICES[g.service as usize];
    let at = |kind: &str| Ev::new(&ts, kind);
    let event = match g.kind {
        0 | 1 => at("heartbeat").node(node),
        2 => at("node_down").node(node),
        3 => at("service_unhealthy").node(node).service(service).severity("error"),
        4 => at("healthcheck_failed").node(node).service(service).severity("critical"),
        5 => at("service_recovered").node(node).service(service),
        6 => at("healthcheck_passed").node(node).service(service),
        7 => at("deployment_started").correlation(&format!("d{}", g.node)).node(node),
        8 => at("deployment_failed").correlation(&format!("d{}", g.node)).payload(json!({"diagnostics": "x.log"})),
        10..=13 => {
            let outcome =
                ["ok", "critical", "ok", "warning", "skipped", "unknown"][(g.kind as usize + g.dt as usize) % 6];
            at("probe_result")
                .node(node)
                .service(service)
                .payload(json!({"probe": format!("p{}", g.dt % 2), "outcome": outcome}))
        }
        _ => at("backup_finished").node(node),
    };
    match g.id {
        Some(id) => event.id(&format!("e{id}")).json(),
        None => event.json(),
    }
}

fn file_for(producer: u8) -> &'static str {
    match producer {
        0 => "events/p0.jsonl",
        1 => "events/nested/p1.jsonl",
        2 => "events/p2.jsonl",
        _ => "events/p3.ndjson",
    }
}

fn run_batch_with_crash(lab: &Homelab, batch: &Batch) {
    match batch.crash {
        1 => {
            let mut invocation = lab.observer(["run", "--no-tick"]);
            invocation.command.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
            let mut child = invocation.command.spawn().unwrap();
            std::thread::sleep(Duration::from_micros(u64::from(batch.delay_us)));
            let _ = child.kill();
            let _ = child.wait();
        }
        2 => {
            let out = lab.observer(["run", "--no-tick"]).env("OBSERVER_TEST_CRASH_AT", CRASH_POINTS[batch.point]).run();
            assert_ne!(out.code, Some(1), "an injected crash is not an orderly failure: {}", out.stderr);
        }
        _ => {}
    }
}

fn check(batches: Vec<Batch>) {
    let lab = Homelab::new();
    // No resolved episode stays in alerts.json: each goes to world/history/
    // as it resolves, so the comparison with a rebuild covers the history.
    lab.write("observer.yaml", "world: {keep_finished: 0}\n");
    let mut seconds = 0u32;
    let mut single = 0;
    let mut pending_tail: Option<(&'static str, String)> = None;
    let (mut valid, mut rejected) = (0u64, 0u64);
    let mut ids_seen = HashSet::new();
    let mut with_id = 0u64;
    for batch in &batches {
        if let Some((file, rest)) = pending_tail.take() {
            lab.append(file, &rest);
        }
        for (i, g) in batch.events.iter().enumerate() {
            let last = i + 1 == batch.events.len();
            // Strictly later than everything before the batch, and a torn
            // last line strictly later than the rest of its batch: it is
            // folded in a later run, where an equal ts would rightly count
            // as late (a rebuild could order it differently).
            seconds += u32::from(g.dt) + u32::from(i == 0 || (last && batch.tear));
            let line = render(g, seconds);
            if g.bad {
                rejected += 1;
            } else {
                valid += 1;
                if let Some(id) = g.id {
                    with_id += 1;
                    ids_seen.insert(id);
                }
            }
            if g.producer == 4 {
                single += 1;
                lab.write(&format!("events/single/{single:04}.json"), &line);
            } else if last && batch.tear && !g.bad {
                let file = file_for(g.producer);
                let (head, tail) = line.split_at(line.len() / 2);
                lab.append(file, head);
                pending_tail = Some((file, format!("{tail}\n")));
            } else {
                lab.append(file_for(g.producer), &format!("{line}\n"));
            }
        }
        run_batch_with_crash(&lab, batch);
        lab.run();
    }
    if let Some((file, rest)) = pending_tail.take() {
        lab.append(file, &rest);
    }
    lab.run();
    let summary = lab.summary();
    let duplicates = with_id - ids_seen.len() as u64;
    assert_eq!(summary["events"]["late"], 0);
    assert_eq!(summary["events"]["rejected"], rejected, "each bad line rejected exactly once");
    assert_eq!(summary["events"]["duplicates"], duplicates);
    assert_eq!(summary["events"]["total"], valid - duplicates, "each valid event folded exactly once");
    lab.assert_world_equals_rebuild();
    // A rebuild in place, over the history the runs wrote (each month's
    // lines compared with its file as they are made), changes nothing.
    let history = lab.history("world");
    lab.observer(["rebuild"]).run().success();
    assert_eq!(lab.history("world"), history, "a rebuild over the history the runs wrote");
    lab.assert_world_equals_rebuild();
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(24),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn incremental_runs_with_crashes_equal_a_rebuild(batches in prop::collection::vec(batch(), 1..6)) {
        check(batches);
    }
}
