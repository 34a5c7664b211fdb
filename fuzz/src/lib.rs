//! The properties the fuzz targets check, kept in one file so that the long
//! libFuzzer runs (`fuzz/run.sh`) and the quick proptest run that is part of
//! `cargo test` (`tests/cli/fuzzing.rs`, which includes this file with
//! `#[path]`) test exactly the same thing. It uses only `observer` and
//! `serde_json` for that reason.
//!
//! - [`check_boundary`]: any bytes, as one line or one `.json` file.
//! - [`check_fold`]: any bytes, decoded into a sequence of events and the
//!   points where a run would commit a checkpoint.

use observer::config::Config;
use observer::engine::{Engine, Input, Rules};
use observer::event::{Event, Parsed, parse_event};
use observer::inventory::Inventory;
use observer::store::deployment_files::DiskFacts;
use observer::time::Ts;
use observer::world;
use serde_json::{Map, Value, json};

/// The event boundary on arbitrary bytes:
/// - it never panics;
/// - a rejection's reason has no control characters and stays short (it is
///   printed on stderr and kept in `rejects.json`);
/// - an accepted event's `ts` is written back as RFC 3339 that reads back as
///   the same instant, and the engine state after folding the event survives
///   the checkpoint and projects to valid world files.
pub fn check_boundary(bytes: &[u8]) {
    match parse_event(bytes) {
        Parsed::Rejected(reason) => {
            assert!(!reason.0.chars().any(char::is_control), "a reason with a control character: {:?}", reason.0);
            assert!(reason.0.len() <= 320, "a reason of {} bytes", reason.0.len());
        }
        Parsed::Event(event) => {
            let text = event.ts.to_rfc3339();
            assert_eq!(Ts::parse(&text), Ok(event.ts), "the ts of an accepted event does not read back from `{text}`");
            let mut engine = Engine::default();
            engine.apply(Input::Event { event: &event, file: FILE, position: 0 }, &Rules::default());
            assert_eq!(round_trip(&engine), engine, "the engine state changed through the checkpoint");
            project(&engine);
        }
        Parsed::Incomplete => {}
    }
}

/// The fold on an arbitrary sequence of events (decoded from `data` by
/// [`sequence`], each passed through the boundary as in a real run):
/// - it never panics;
/// - folding the sequence in one batch, or in batches with the engine state
///   written to its checkpoint form and read back between them, gives the
///   same state and the same world files.
///
/// The order is kept as decoded, late events included: within one order,
/// batching must never matter. (A run sorts each batch; across batches that
/// is the same order only when no event is late, which guarantee 2 assumes.)
/// Both fold within one pass: a pass started at each batch would count as
/// late what sorts before an earlier batch, and one batch has no such event.
pub fn check_fold(data: &[u8]) {
    let (events, cuts) = sequence(data);
    let rules = Rules::default();
    let mut whole = Engine::default();
    whole.apply(Input::PassStarted, &rules);
    for (position, event) in (0..).zip(&events) {
        whole.apply(Input::Event { event, file: FILE, position }, &rules);
    }
    let mut pieces = Engine::default();
    pieces.apply(Input::PassStarted, &rules);
    let mut from = 0;
    for cut in cuts.into_iter().chain([events.len()]) {
        for (position, event) in (from as u64..).zip(&events[from..cut]) {
            pieces.apply(Input::Event { event, file: FILE, position }, &rules);
        }
        pieces = round_trip(&pieces);
        from = cut;
    }
    assert_eq!(pieces, whole, "folding in batches through the checkpoint differs from folding in one batch");
    assert_eq!(project(&pieces), project(&whole), "the world files differ");
}

/// The one file the events of a sequence are placed in, in order.
const FILE: &str = "fuzz.jsonl";

/// The engine state written as in the checkpoint and read back.
fn round_trip(engine: &Engine) -> Engine {
    let bytes = serde_json::to_vec(engine).expect("the engine state serializes");
    serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "the engine state does not read back from its checkpoint form ({e}): {}",
            String::from_utf8_lossy(&bytes)
        )
    })
}

/// The world files of an engine state, each of which must be JSON.
fn project(engine: &Engine) -> Vec<(&'static str, Vec<u8>)> {
    let files = world::project(engine, &Inventory::default(), &Config::default(), &DiskFacts::default())
        .unwrap_or_else(|e| panic!("the world does not serialise: {e}"));
    for (name, bytes) in &files {
        if let Err(e) = serde_json::from_slice::<Value>(bytes) {
            panic!("world/{name} is not JSON ({e}): {}", String::from_utf8_lossy(bytes));
        }
    }
    files
}

/// Reads the fuzzer's bytes as a small program; past the end it reads zeros.
struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn more(&self) -> bool {
        self.at < self.data.len()
    }

    fn byte(&mut self) -> u8 {
        let byte = self.data.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        byte
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    /// Up to 23 bytes of arbitrary text (lossy UTF-8).
    fn text(&mut self) -> String {
        let len = usize::from(self.byte() % 24);
        let from = self.at.min(self.data.len());
        let to = (self.at + len).min(self.data.len());
        self.at += len;
        String::from_utf8_lossy(&self.data[from..to]).into_owned()
    }

    fn pick<'s>(&mut self, names: &[&'s str]) -> &'s str {
        names[usize::from(self.byte()) % names.len()]
    }

    /// A name from a small set (so that events meet), now and then anything.
    fn name(&mut self, names: &[&str]) -> String {
        let byte = self.byte();
        if byte >= 248 { self.text() } else { names[usize::from(byte) % names.len()].to_string() }
    }
}

/// 2026-05-12T12:00:00Z, where sequences start.
const START_S: i64 = 1_778_587_200;

/// Timestamps at and beyond the edges of what RFC 3339 can write, and
/// shapes the fast parser leaves to chrono.
///
/// The first inputs found by the fuzzers, `0000-01-01T00:00:00+23:59` and
/// `9999-12-31T23:59:59-23:59` (instants outside the years RFC 3339 can write,
/// which made the checkpoint unreadable), are in `fuzz/regressions/`.
const ODD_TIMESTAMPS: [&str; 12] = [
    "0000-01-01T00:00:00Z",
    "0000-01-01T23:59:00+23:59",
    "9999-12-31T23:59:59.999Z",
    "9999-12-31T00:00:00-23:59",
    "1970-01-01T00:00:00Z",
    "1969-12-31T23:59:59.999Z",
    "2026-05-12T12:00:00.123456789Z",
    "2026-02-29T00:00:00Z",
    "2024-02-29T12:00:00+01:00",
    "2026-05-12T23:59:60Z",
    "2026-05-12t12:00:00z",
    "2026-05-12T12:00:00",
];

/// Decodes bytes into events (each one rendered as JSON and passed through
/// [`parse_event`]; those it rejects are dropped, as a run drops them) and
/// the indexes after which a run would commit.
pub fn sequence(data: &[u8]) -> (Vec<Event>, Vec<usize>) {
    let mut reader = Reader { data, at: 0 };
    let mut clock_s = START_S;
    let mut events = Vec::new();
    let mut cuts = Vec::new();
    while reader.more() && events.len() < 512 {
        let line = event_line(&mut reader, &mut clock_s);
        let commit = reader.byte() & 1 == 1;
        if let Parsed::Event(event) = parse_event(line.as_bytes()) {
            events.push(event);
        }
        if commit && cuts.last() != Some(&events.len()) {
            cuts.push(events.len());
        }
    }
    (events, cuts)
}

fn timestamp(reader: &mut Reader, clock_s: &mut i64) -> String {
    let mut millis = 0;
    match reader.byte() % 16 {
        0..=7 => *clock_s += i64::from(reader.byte()),
        8 => {}
        9 => *clock_s -= i64::from(reader.u16()),
        10 => *clock_s += i64::from(reader.u16()) * 60,
        11 => {
            *clock_s += i64::from(reader.byte() % 4);
            millis = i64::from(reader.u16() % 1000);
        }
        12 => {
            let minutes = i64::from(reader.u16() % (2 * 1440 - 1)) - 1439;
            let local = Ts((*clock_s + minutes * 60) * 1000).to_rfc3339();
            let sign = if minutes < 0 { '-' } else { '+' };
            let (h, m) = (minutes.abs() / 60, minutes.abs() % 60);
            return format!("{}{sign}{h:02}:{m:02}", local.trim_end_matches('Z'));
        }
        13 => return reader.pick(&ODD_TIMESTAMPS).to_string(),
        14 => return reader.text(),
        _ => *clock_s += i64::from(reader.byte()) * 3600,
    }
    Ts(*clock_s * 1000 + millis).to_rfc3339()
}

const KINDS: [&str; 17] = [
    "heartbeat",
    "node_up",
    "node_down",
    "service_unhealthy",
    "healthcheck_failed",
    "service_healthy",
    "healthcheck_passed",
    "service_recovered",
    "deployment_started",
    "deployment_stage",
    "deployment_succeeded",
    "deployment_failed",
    "probe_result",
    "budget_exhausted",
    "tick",
    "backup_finished",
    "",
];

/// One event as a JSON line. Flags leave out a required field, add an id,
/// a severity, a message or an unknown field; a kind of its own is raw text.
fn event_line(reader: &mut Reader, clock_s: &mut i64) -> String {
    let kind = reader.pick(&KINDS);
    if kind.is_empty() {
        return reader.text();
    }
    let flags = reader.byte();
    let mut object = Map::new();
    object.insert("ts".into(), Value::String(timestamp(reader, clock_s)));
    object.insert("type".into(), Value::String(kind.into()));
    let node = reader.name(&["saturn", "jupiter", "venus", "mars"]);
    let service = reader.name(&["mosquitto", "grafana", "nextcloud"]);
    let correlation = format!("d{}", reader.byte() % 4);
    let deployment = kind.starts_with("deployment_");
    let on_node = matches!(kind, "heartbeat" | "node_up" | "node_down" | "backup_finished");
    let on_service = kind.starts_with("service_") || kind.starts_with("healthcheck_") || kind == "probe_result";
    if on_node || on_service || (deployment && flags & 0x40 != 0) {
        object.insert("node".into(), Value::String(node));
    }
    if on_service || (deployment && flags & 0x40 != 0) {
        object.insert("service".into(), Value::String(service));
    }
    if deployment {
        object.insert("correlation_id".into(), Value::String(correlation));
    }
    if flags & 0x01 != 0 {
        object.insert("id".into(), Value::String(format!("e{}", reader.byte() % 8)));
    }
    if flags & 0x02 != 0 {
        let severity = reader.pick(&["info", "warning", "error", "critical"]);
        object.insert("severity".into(), Value::String(severity.into()));
    }
    if flags & 0x04 != 0 {
        object.insert("message".into(), Value::String(reader.text()));
    }
    if flags & 0x08 != 0 {
        object.insert("extra".into(), json!({"nested": [reader.byte(), {"x": null}]}));
    }
    if let Some(payload) = payload(reader, kind) {
        object.insert("payload".into(), payload);
    }
    if flags & 0x10 != 0 {
        // A required field goes missing: the boundary must say so.
        let field = reader.pick(&["ts", "type", "node", "service", "correlation_id", "payload"]);
        object.remove(field);
    }
    Value::Object(object).to_string()
}

fn payload(reader: &mut Reader, kind: &str) -> Option<Value> {
    Some(match kind {
        "deployment_stage" => json!({
            "stage": reader.pick(&["pull", "migrate", "up"]),
            "status": reader.pick(&["completed", "failed", "running"]),
        }),
        "deployment_failed" => {
            json!({"diagnostics": [reader.pick(&["deploy/d.log", "../etc/passwd", "/abs.log", "a/../../b"])]})
        }
        "probe_result" => {
            let http_status = [200u16, 500, 503][usize::from(reader.byte() % 3)];
            json!({
            "probe": reader.pick(&["port", "http", "disk"]),
            "outcome": reader.pick(&["ok", "ok", "warning", "critical", "unknown", "skipped"]),
            "latency_ms": reader.u16(),
            "timed_out": reader.byte().is_multiple_of(8),
            "exit_code": i64::from(reader.byte() % 5),
            "http_status": http_status,
            })
        }
        "budget_exhausted" => json!({"budget": reader.pick(&["probe_runs_per_minute", "notifications_per_hour"])}),
        _ => return None,
    })
}
