//! Checkpoints written by an earlier release load without a rebuild and
//! carry on exactly as if this release had written them.

use serde_json::Value;

use crate::support::{Ev, Homelab, lines, with_rfc3339_instants};

const CHECKPOINT: &str = "state/observer_checkpoint.json";

/// Rewrites the checkpoint in the layout of observer 0.1.0, whose body kept
/// the late rule's order key beside the engine state instead of inside it.
fn as_written_by_0_1_0(lab: &Homelab) {
    let (header, mut body) = lab.checkpoint_as_format_3();
    let key = body["engine"].as_object_mut().and_then(|engine| engine.remove("last_folded"));
    let key = key.expect("the engine state holds the order key");
    assert!(key.is_object(), "{key}");
    body.as_object_mut().expect("the body is an object").insert("last_folded".into(), key);
    lab.write(CHECKPOINT, &format!("{header}\n{body}\n"));
}

fn first_pass(lab: &Homelab) {
    lab.write("events/b.jsonl", &Ev::new("2026-05-12T12:10:00Z", "heartbeat").node("b").id("X").line());
    lab.run();
}

/// Both are late only by the order key of the earlier pass: a `ts` tie from
/// a file that sorts first, and a copy of an id that sorts before its first
/// sighting.
fn second_pass(lab: &Homelab) {
    lab.write(
        "events/a.jsonl",
        &lines(&[
            Ev::new("2026-05-12T12:05:00Z", "heartbeat").node("a").id("X"),
            Ev::new("2026-05-12T12:10:00Z", "service_unhealthy").node("a").service("s"),
        ]),
    );
    lab.run();
}

#[test]
fn a_checkpoint_of_0_1_0_loads_and_counts_late_events_as_before() {
    let current = Homelab::new();
    first_pass(&current);
    second_pass(&current);
    assert_eq!(current.summary()["events"]["late"], 2, "the tie and the copy");

    let upgraded = Homelab::new();
    first_pass(&upgraded);
    as_written_by_0_1_0(&upgraded);
    second_pass(&upgraded);
    assert_eq!(upgraded.summary()["events"]["duplicates"], 1);
    assert_eq!(upgraded.summary()["events"]["late"], 2, "the order key was read from beside the engine");
    for ((name, a), (_, b)) in current.world_files("world").into_iter().zip(upgraded.world_files("world")) {
        assert_eq!(a, b, "world/{name}");
    }
    // The pass after it wrote a first snapshot of the state (the current format).
    let reference = upgraded.read(CHECKPOINT).lines().nth(1).map(str::to_owned).unwrap_or_default();
    let reference: Value = serde_json::from_str(&reference).expect("the body is JSON");
    let generation = reference["state"]["generation"].as_u64().expect("the body names the engine state");
    let body: Value = upgraded.json(&format!("state/engine/snapshot-{generation}.json"));
    assert!(body.get("last_folded").is_none(), "written back inside the engine: {body}");
    assert_eq!(body["engine"]["last_folded"]["file"], "b.jsonl");
}

/// A checkpoint written before the history and the stamps: its header has
/// no `history` marks and its outbox mark no `stamp`. It loads, commits an
/// empty history, and the runs after it write the history a rebuild writes.
#[test]
fn a_checkpoint_without_history_marks_or_stamps_loads_and_carries_on() {
    let lab = Homelab::new();
    lab.write("observer.yaml", "world: {keep_finished: 0}\n");
    let outage = |start: &str, end: &str| {
        lines(&[
            Ev::new(start, "service_unhealthy").node("saturn").service("mosquitto"),
            Ev::new(end, "service_recovered").node("saturn").service("mosquitto"),
        ])
    };
    lab.write("events/s.jsonl", &outage("2026-05-12T12:00:00Z", "2026-05-12T12:10:00Z"));
    lab.run();
    let text = lab.read(CHECKPOINT);
    let (header, body) = text.split_once('\n').expect("a header line and a body line");
    let mut header: Value = serde_json::from_str(header).expect("the header is JSON");
    assert!(header["history"]["files"].is_object() && header["outbox"]["stamp"].is_u64(), "{header}");
    header.as_object_mut().unwrap().remove("history");
    header["outbox"].as_object_mut().unwrap().remove("stamp");
    lab.write(CHECKPOINT, &format!("{header}\n{body}"));
    // The history file there counts as committed; the next line follows it.
    lab.append("events/s.jsonl", &outage("2026-05-12T13:00:00Z", "2026-05-12T13:10:00Z"));
    lab.run();
    assert_eq!(lab.read("world/history/alerts-2026-05.jsonl").lines().count(), 2);
    lab.assert_world_equals_rebuild();
}

/// What observer wrote before this version, for [`as_written_before`].
#[derive(Clone, Copy, PartialEq)]
enum Before {
    /// Format 4: the engine state's instants in RFC 3339, its minutes of
    /// ids as pairs.
    Rfc3339Instants,
    /// Format 5: integers, but its minutes of ids as pairs, not packed.
    PairedMinutes,
}

/// Rewrites the live state, a snapshot with no journal yet, as observer
/// wrote it `before`, with no index of its entities (an index is never
/// kept for other bytes).
fn as_written_before(lab: &Homelab, before: Before) {
    let text = lab.read(CHECKPOINT);
    let (header, body) = text.split_once('\n').expect("a header line and a body line");
    let (mut header, mut body): (Value, Value) =
        (serde_json::from_str(header).unwrap(), serde_json::from_str(body).unwrap());
    assert_eq!(header["format"], 7);
    assert_eq!(body["state"]["journal"]["bytes"], 0, "a snapshot alone: {body}");
    let generation = body["state"]["generation"].as_u64().expect("the body names the engine state");
    let snapshot = format!("state/engine/snapshot-{generation}.json");
    let written = lab.read(&snapshot);
    assert!(!written.contains("\"2026-05-12T"), "this version writes integers");
    let paired = unpacked(serde_json::from_str(&written).unwrap());
    let old = match before {
        Before::Rfc3339Instants => with_rfc3339_instants(paired).to_string(),
        Before::PairedMinutes => paired.to_string(),
    };
    assert!(old.len() > written.len() && old.contains("[[\"d0\","), "pairs, longer than packed");
    lab.write(&snapshot, &old);
    std::fs::remove_file(lab.path(&format!("state/engine/entities-{generation}.bin"))).unwrap();
    header["format"] = if before == Before::Rfc3339Instants { 4 } else { 5 }.into();
    body["state"]["snapshot"] = old.len().into();
    lab.write(CHECKPOINT, &format!("{header}\n{body}\n"));
}

/// `value` with each minute of ids this version packs (the ids that left,
/// the duplicate window: `{"<minute>":["id offset …"]}`) written as the
/// `[id, end]` pairs of the versions before it, as they wrote them.
fn unpacked(value: Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.into_iter().map(unpacked).collect()),
        Value::Object(members) => Value::Object(
            members
                .into_iter()
                .map(|(key, value)| match (key.parse::<i64>(), value.as_array().map(Vec::as_slice)) {
                    (Ok(minute), Some([Value::String(packed)])) => {
                        let tokens: Vec<&str> = packed.split(' ').collect();
                        let pairs = tokens.chunks(2).map(|pair| {
                            serde_json::json!([pair[0], minute + pair[1].parse::<i64>().expect("an offset")])
                        });
                        (key, Value::Array(pairs.collect()))
                    }
                    (_, _) => (key, unpacked(value)),
                })
                .collect(),
        ),
        other => other,
    }
}

/// A state written `before` loads without a rebuild: the passes after it
/// fold as if this version had written it (the world, its history and the
/// duplicates found by the window it kept), write format 7, and add what
/// they change in this version's forms (integers, packed minutes) beside
/// what they leave as it was. The journal of the pass after the upgrade.
fn upgraded_from(before: Before) -> String {
    let web = |ts: &str, kind: &str, run: &str| Ev::new(ts, kind).node("saturn").service("web").correlation(run);
    let first = |lab: &Homelab| {
        lab.write("observer.yaml", "world: {keep_finished: 1}\n");
        let mut events = Vec::new();
        for i in 0..6 {
            let (start, end) = (format!("2026-05-12T12:{i:02}:00Z"), format!("2026-05-12T12:{i:02}:40.500Z"));
            events.push(web(&start, "deployment_started", &format!("d{i}")).id(&format!("s{i}")));
            events.push(web(&end, "deployment_succeeded", &format!("d{i}")).id(&format!("e{i}")));
        }
        lab.write("events/a.jsonl", &lines(&events));
        lab.run();
    };
    let second = |lab: &Homelab| {
        let again = [
            web("2026-05-12T12:10:00Z", "deployment_started", "d9").id("s0"),
            // d1 left the hot view: found among the ids that left, in the old form.
            web("2026-05-12T12:10:05Z", "deployment_stage", "d1").payload(serde_json::json!({"stage": "verify"})),
            web("2026-05-12T12:11:00Z", "deployment_failed", "d9").id("f9"),
        ];
        lab.append("events/a.jsonl", &lines(&again));
        lab.run();
    };
    let current = Homelab::new();
    first(&current);
    second(&current);
    let upgraded = Homelab::new();
    first(&upgraded);
    as_written_before(&upgraded, before);
    second(&upgraded);
    assert_eq!(upgraded.summary()["events"]["duplicates"], 1, "s0, within the window the old state kept");
    assert_eq!(upgraded.summary(), current.summary());
    for ((name, a), (_, b)) in current.world_files("world").into_iter().zip(upgraded.world_files("world")) {
        assert_eq!(a, b, "world/{name}");
    }
    assert_eq!(upgraded.history("world"), current.history("world"));
    assert!(upgraded.read(CHECKPOINT).starts_with(r#"{"format":7,"#));
    let journal: Vec<String> = std::fs::read_dir(upgraded.path("state/engine"))
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with("journal-"))
        .collect();
    let records =
        upgraded.read(&format!("state/engine/{}", journal.first().expect("the pass journaled what it changed")));
    assert!(records.contains(r#"{"p":["engine","clock"],"v":1778587860000,"at":["#), "an integer, placed: {records}");
    assert!(records.contains(r#""1778587860000":["f9 0"]"#), "a new minute packed: {records}");
    upgraded.assert_world_equals_rebuild();
    records
}

#[test]
fn a_state_with_rfc3339_instants_loads_and_carries_on_in_the_current_format() {
    let records = upgraded_from(Before::Rfc3339Instants);
    assert!(records.contains(r#"["d0","2026-05-12T12:00:40.500Z"]"#), "a minute left as it was: {records}");
}

#[test]
fn a_state_with_minutes_in_pairs_loads_and_carries_on_in_the_current_format() {
    let records = upgraded_from(Before::PairedMinutes);
    assert!(records.contains(r#"["d0",1778587240500]"#), "a minute left as it was: {records}");
}
