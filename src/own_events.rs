//! The events the observer writes itself — `tick`, `probe_result`,
//! `budget_exhausted`, and `maintenance_started` / `maintenance_ended`
//! (written by `observer maintenance`) — as typed structs, serialised into the lines that
//! `store::append` adds to `events/observer/`.
//!
//! The field order of each struct is the order on the wire: the files these
//! lines land in are folded again by every rebuild, and tests pin their
//! bytes. Optional fields are left out, not written as `null`. The reading
//! side is `event::parse_event`, which accepts any field order.

use serde::Serialize;

use crate::engine::{PROBE_BUDGET, PROBE_BUDGET_WINDOW_S};
use crate::event::{Outcome, Severity};
use crate::time::Ts;

/// The wall clock, read by `observer run`: it moves the engine clock even
/// when no producer writes.
#[derive(Serialize)]
pub struct Tick<'a> {
    ts: Ts,
    #[serde(rename = "type")]
    kind: &'static str,
    payload: TickPayload<'a>,
}

#[derive(Serialize)]
struct TickPayload<'a> {
    source: &'a str,
}

impl Tick<'_> {
    /// A tick at `ts`; `source` names the command that read the clock.
    pub fn new(ts: Ts, source: &str) -> Tick<'_> {
        Tick { ts, kind: "tick", payload: TickPayload { source } }
    }
}

/// One run of a probe (SPEC §5). `severity` follows from the outcome and
/// `message` repeats the detail, so that the event reads well on its own.
#[derive(Serialize)]
pub struct ProbeResult<'a> {
    ts: Ts,
    #[serde(rename = "type")]
    kind: &'static str,
    node: &'a str,
    service: &'a str,
    severity: Severity,
    message: &'a str,
    payload: ProbeResultPayload<'a>,
}

/// The payload `event::ProbeReport` reads back; written in its own order
/// (the target after the detail), which predates that struct.
#[derive(Serialize)]
pub struct ProbeResultPayload<'a> {
    /// The probe's name within its service.
    pub probe: &'a str,
    pub outcome: Outcome,
    pub latency_ms: u64,
    pub detail: &'a str,
    /// What was probed (`host:port`, the URL, …), for people.
    pub target: String,
    #[serde(skip_serializing_if = "is_false")]
    pub timed_out: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub perfdata: Option<&'a str>,
}

fn is_false(flag: &bool) -> bool {
    !flag
}

impl<'a> ProbeResult<'a> {
    /// The result of probe `payload.probe` of `node`/`service`, run at `ts`.
    pub fn new(ts: Ts, node: &'a str, service: &'a str, payload: ProbeResultPayload<'a>) -> ProbeResult<'a> {
        ProbeResult {
            ts,
            kind: "probe_result",
            node,
            service,
            severity: severity_of(payload.outcome),
            message: payload.detail,
            payload,
        }
    }
}

/// How loud a probe result is: a skipped run is no news, an unknown one
/// (the probe could not tell) is an error, not a critical.
fn severity_of(outcome: Outcome) -> Severity {
    match outcome {
        Outcome::Ok | Outcome::Skipped => Severity::Info,
        Outcome::Warning => Severity::Warning,
        Outcome::Unknown => Severity::Error,
        Outcome::Critical => Severity::Critical,
    }
}

/// The probe budget ran out: recorded once per exhaustion, so that the
/// world shows why probes were skipped.
#[derive(Serialize)]
pub struct BudgetExhausted {
    ts: Ts,
    #[serde(rename = "type")]
    kind: &'static str,
    severity: Severity,
    message: String,
    payload: BudgetPayload,
}

#[derive(Serialize)]
struct BudgetPayload {
    budget: &'static str,
    limit: u32,
    window_s: u64,
}

impl BudgetExhausted {
    /// The probe budget, `limit` runs per minute, is exhausted at `ts`.
    pub fn probe_runs(ts: Ts, limit: u32) -> BudgetExhausted {
        BudgetExhausted {
            ts,
            kind: "budget_exhausted",
            severity: Severity::Warning,
            message: format!("probe budget exhausted: {limit} runs per minute"),
            payload: BudgetPayload { budget: PROBE_BUDGET, limit, window_s: PROBE_BUDGET_WINDOW_S },
        }
    }
}

/// Maintenance of a node, or of one service of it, starts or ends (SPEC
/// §6): the fold holds the subject's notifications meanwhile. `message`
/// repeats what the payload says, so that the line reads well on its own.
#[derive(Serialize)]
pub struct Maintenance<'a> {
    ts: Ts,
    #[serde(rename = "type")]
    kind: &'static str,
    node: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    service: Option<&'a str>,
    message: String,
    payload: MaintenancePayload<'a>,
}

/// What `observer maintenance` was told, each left out when not given.
#[derive(Serialize)]
pub struct MaintenancePayload<'a> {
    /// When the maintenance ends by itself, if it was given a length.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<Ts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
    /// Who started or ended it (`$USER`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<&'a str>,
}

impl<'a> Maintenance<'a> {
    /// Maintenance of `node` (or of its `service`) starts at `ts`.
    pub fn started(ts: Ts, node: &'a str, service: Option<&'a str>, payload: MaintenancePayload<'a>) -> Self {
        let until = payload.until.map(|until| format!(" until {until}")).unwrap_or_default();
        let message = format!("maintenance of {} started{until}", subject(node, service));
        Maintenance { ts, kind: "maintenance_started", node, service, message: with_reason(message, &payload), payload }
    }

    /// Maintenance of `node` (or of its `service`) ends at `ts`.
    pub fn ended(ts: Ts, node: &'a str, service: Option<&'a str>, payload: MaintenancePayload<'a>) -> Self {
        let message = format!("maintenance of {} ended", subject(node, service));
        Maintenance { ts, kind: "maintenance_ended", node, service, message: with_reason(message, &payload), payload }
    }
}

fn subject(node: &str, service: Option<&str>) -> String {
    service.map_or_else(|| node.to_string(), |service| format!("{node}/{service}"))
}

fn with_reason(message: String, payload: &MaintenancePayload) -> String {
    match payload.reason {
        Some(reason) => format!("{message}: {reason}"),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> Ts {
        Ts::parse("2026-05-12T12:00:00Z").unwrap()
    }

    #[test]
    fn a_tick_is_written_as_before() {
        assert_eq!(
            serde_json::to_string(&Tick::new(at(), "observer run")).unwrap(),
            r#"{"ts":"2026-05-12T12:00:00Z","type":"tick","payload":{"source":"observer run"}}"#
        );
    }

    fn payload(outcome: Outcome, latency_ms: u64, detail: &str) -> ProbeResultPayload<'_> {
        ProbeResultPayload {
            probe: "port",
            outcome,
            latency_ms,
            detail,
            target: "saturn.lan:1883".into(),
            timed_out: false,
            exit_code: None,
            http_status: None,
            perfdata: None,
        }
    }

    #[test]
    fn a_probe_result_leaves_out_what_the_run_did_not_find() {
        let quiet = payload(Outcome::Ok, 3, "connected");
        assert_eq!(
            serde_json::to_string(&ProbeResult::new(at(), "saturn", "mosquitto", quiet)).unwrap(),
            r#"{"ts":"2026-05-12T12:00:00Z","type":"probe_result","node":"saturn","service":"mosquitto","severity":"info","message":"connected","payload":{"probe":"port","outcome":"ok","latency_ms":3,"detail":"connected","target":"saturn.lan:1883"}}"#
        );
        let loud = ProbeResultPayload {
            timed_out: true,
            exit_code: Some(2),
            http_status: Some(503),
            perfdata: Some("x=1"),
            ..payload(Outcome::Unknown, 5000, "timed out")
        };
        assert_eq!(
            serde_json::to_string(&ProbeResult::new(at(), "saturn", "mosquitto", loud)).unwrap(),
            r#"{"ts":"2026-05-12T12:00:00Z","type":"probe_result","node":"saturn","service":"mosquitto","severity":"error","message":"timed out","payload":{"probe":"port","outcome":"unknown","latency_ms":5000,"detail":"timed out","target":"saturn.lan:1883","timed_out":true,"exit_code":2,"http_status":503,"perfdata":"x=1"}}"#
        );
    }

    #[test]
    fn budget_exhaustion_is_written_as_before() {
        assert_eq!(
            serde_json::to_string(&BudgetExhausted::probe_runs(at(), 120)).unwrap(),
            r#"{"ts":"2026-05-12T12:00:00Z","type":"budget_exhausted","severity":"warning","message":"probe budget exhausted: 120 runs per minute","payload":{"budget":"probe_runs_per_minute","limit":120,"window_s":60}}"#
        );
    }

    #[test]
    fn maintenance_leaves_out_what_was_not_given() {
        let quiet = MaintenancePayload { until: None, reason: None, by: None };
        assert_eq!(
            serde_json::to_string(&Maintenance::ended(at(), "saturn", None, quiet)).unwrap(),
            r#"{"ts":"2026-05-12T12:00:00Z","type":"maintenance_ended","node":"saturn","message":"maintenance of saturn ended","payload":{}}"#
        );
        let full =
            MaintenancePayload { until: Some(at().plus_seconds(1800)), reason: Some("new SSD"), by: Some("ada") };
        assert_eq!(
            serde_json::to_string(&Maintenance::started(at(), "saturn", Some("mosquitto"), full)).unwrap(),
            r#"{"ts":"2026-05-12T12:00:00Z","type":"maintenance_started","node":"saturn","service":"mosquitto","message":"maintenance of saturn/mosquitto started until 2026-05-12T12:30:00Z: new SSD","payload":{"until":"2026-05-12T12:30:00Z","reason":"new SSD","by":"ada"}}"#
        );
    }
}
