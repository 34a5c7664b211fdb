//! The boundary: bytes in, typed events out.
//!
//! Everything the engine folds has passed through [`parse_event`]; the engine
//! never sees malformed input, so applying an event cannot fail. This module
//! holds the typed event and the entry point; the rest is split by concept:
//! `kind` (the event types and their names), `wire` (the JSON as it
//! arrives), `validate` (the rules) and `reason` (the wording of a refusal,
//! which the store pairs with the file and line).

mod kind;
mod reason;
mod schema;
mod validate;
mod wire;

use std::borrow::Cow;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::time::Ts;

pub use kind::Kind;
pub use reason::RejectReason;
pub use schema::envelope_schema;

/// Largest accepted event, in bytes (SPEC §2).
/// A name an event carries (node, service, correlation id, event id, stage):
/// kept inline up to 24 bytes, so that a typed event costs the reading
/// thread no allocation for them (issue 11); it reads as a `&str`.
pub type Name = compact_str::CompactString;

pub const MAX_EVENT_BYTES: usize = 1024 * 1024;

/// Ordered from least to most severe, so `max` gives "the highest seen".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
    Critical,
}

impl Severity {
    pub fn parse(text: &str) -> Option<Severity> {
        match text {
            "info" => Some(Severity::Info),
            "warning" => Some(Severity::Warning),
            "error" => Some(Severity::Error),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }
}

/// What one probe execution found (`probe_result` events, SPEC §5): Nagios
/// plugin semantics, plus `skipped` for a run the prober did not make (open
/// breaker, exhausted budget).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Ok,
    Warning,
    Critical,
    Unknown,
    Skipped,
}

/// A validated event. Only the payload parts the engine uses are kept.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub ts: Ts,
    /// Borrowed for the known kinds: no allocation per event on the hot path.
    pub type_name: Cow<'static, str>,
    pub kind: Kind,
    pub node: Option<Name>,
    pub service: Option<Name>,
    pub correlation_id: Option<Name>,
    pub severity: Option<Severity>,
    pub id: Option<Name>,
    pub detail: Detail,
}

/// Typed payload of the event kinds whose payload the engine reads.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Detail {
    #[default]
    None,
    /// `deployment_stage`: `payload.stage` (or `payload.name`) and `payload.status`.
    Stage { name: Name, status: Name },
    /// `deployment_failed`: `payload.diagnostics`, paths relative to `logs/`.
    Diagnostics(Vec<String>),
    /// `probe_result`: one probe execution (boxed: it is rare and large, events are many).
    Probe(Box<ProbeReport>),
    /// `budget_exhausted`: `payload.budget`, the budget's name.
    Budget(String),
    /// `maintenance_started` / `maintenance_ended`: when the window ends by
    /// itself (`payload.until`, RFC 3339) and why (`payload.reason`).
    Maintenance { until: Option<Ts>, reason: Option<String> },
    /// `alert_acknowledged`: the alert's key (`payload.key`) and who
    /// (`payload.by`); the reason stays in the event log.
    Acknowledged { key: String, by: Option<String> },
}

/// The payload of a `probe_result` event (SPEC §5). Besides the outcome it
/// carries the facts that breaker failure conditions look at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProbeReport {
    /// The probe's name within its service.
    pub probe: String,
    pub outcome: Outcome,
    #[serde(default)]
    pub latency_ms: Option<u64>,
    #[serde(default)]
    pub detail: Option<String>,
    #[serde(default)]
    pub timed_out: bool,
    #[serde(default)]
    pub exit_code: Option<i64>,
    #[serde(default)]
    pub http_status: Option<u16>,
    #[serde(default)]
    pub perfdata: Option<String>,
    /// What was probed (`host:port`, the URL, …), for people.
    #[serde(default)]
    pub target: Option<String>,
}

/// What became of one chunk of input. The event is not boxed: a box was
/// an allocation and a free per event on the reading thread (issue 11),
/// and a `Parsed` lives only until its event is placed.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Parsed {
    Event(Event),
    Rejected(RejectReason),
    /// The bytes end before the JSON value does: a `.json` file still being
    /// written. It is left for a later run.
    Incomplete,
}

/// Parses and validates one event from its bytes (one line, or one whole file).
pub fn parse_event(bytes: &[u8]) -> Parsed {
    match parse_unsanitized(bytes) {
        Parsed::Rejected(RejectReason(reason)) => Parsed::Rejected(RejectReason(reason::sanitize(&reason))),
        other => other,
    }
}

fn parse_unsanitized(bytes: &[u8]) -> Parsed {
    if bytes.len() > MAX_EVENT_BYTES {
        return Parsed::Rejected(RejectReason::too_big(bytes.len(), MAX_EVENT_BYTES));
    }
    // The line is checked as UTF-8 once, as a whole (word at a time), so
    // that serde_json reads it as text and does not check each string it
    // borrows on its own: that was ~15 % of the reading thread (issue 11).
    // Bytes that are not UTF-8 go the old way, for the same refusal.
    let parsed = match std::str::from_utf8(bytes) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(bytes),
    };
    let raw: wire::RawEvent = match parsed {
        Ok(raw) => raw,
        Err(e) if e.is_eof() => return Parsed::Incomplete,
        Err(e) => return Parsed::Rejected(reason::explain_json_error(bytes, &e)),
    };
    match validate::validate(raw) {
        Ok(event) => Parsed::Event(event),
        Err(reason) => Parsed::Rejected(reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Event {
        match parse_event(text.as_bytes()) {
            Parsed::Event(e) => e,
            other => panic!("expected an event, got {other:?}"),
        }
    }

    fn rejected(text: &str) -> String {
        match parse_event(text.as_bytes()) {
            Parsed::Rejected(r) => r.0,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn parses_the_spec_example() {
        let e = ok(
            r#"{"ts":"2026-05-12T12:05:00Z","type":"service_unhealthy","node":"saturn","service":"mosquitto","correlation_id":"hc-1","severity":"error","message":"port 1883 refused","id":"x","payload":{},"extra":[1]}"#,
        );
        assert_eq!(e.kind, Kind::ServiceUnhealthy);
        assert_eq!(e.node.as_deref(), Some("saturn"));
        assert_eq!(e.severity, Some(Severity::Error));
        assert_eq!(e.id.as_deref(), Some("x"));
    }

    #[test]
    fn names_the_missing_or_mistyped_field() {
        assert_eq!(rejected(r#"{"type":"heartbeat","node":"a"}"#), "missing required field `ts`");
        assert_eq!(
            rejected(r#"{"ts":"2026-05-12T12:05:00Z","type":"heartbeat","node":5}"#),
            "field `node` must be a string, found a number"
        );
        assert!(rejected(r#"{"ts":"2026-05-12T12:05:00","type":"tick"}"#).starts_with("field `ts`"));
        assert_eq!(rejected(r#"{"ts":"2026-05-12T12:05:00Z","type":"heartbeat"}"#), "`heartbeat` events need a `node`");
        assert!(rejected(r#"{"ts":"2026-05-12T12:05:00Z","type":"Heartbeat","node":"a"}"#).contains("snake_case"));
        assert!(rejected(r#"{"ts":"2026-05-12T12:05:00Z","type":"tick","severity":"bad"}"#).contains("severity"));
        assert!(rejected("[1,2]").contains("JSON object"));
        assert!(rejected("{nope").starts_with("not valid JSON"));
    }

    #[test]
    fn truncated_json_is_incomplete_not_rejected() {
        assert!(matches!(parse_event(br#"{"ts":"2026-05-12T12:05:00Z","ty"#), Parsed::Incomplete));
        assert!(matches!(parse_event(b""), Parsed::Incomplete));
    }

    #[test]
    fn unknown_types_are_accepted_as_other() {
        let e = ok(r#"{"ts":"2026-05-12T12:05:00Z","type":"backup_finished"}"#);
        assert_eq!(e.kind, Kind::Other);
        assert_eq!(e.type_name, "backup_finished");
    }

    #[test]
    fn deployment_payloads_are_typed() {
        let e = ok(
            r#"{"ts":"2026-05-12T12:05:00Z","type":"deployment_failed","correlation_id":"d1","payload":{"diagnostics":["a.log","b/c.log"]}}"#,
        );
        assert_eq!(e.detail, Detail::Diagnostics(vec!["a.log".into(), "b/c.log".into()]));
        let e = ok(
            r#"{"ts":"2026-05-12T12:05:00Z","type":"deployment_stage","correlation_id":"d1","payload":{"stage":"pull"}}"#,
        );
        assert_eq!(e.detail, Detail::Stage { name: "pull".into(), status: "completed".into() });
        assert!(
            rejected(r#"{"ts":"2026-05-12T12:05:00Z","type":"deployment_stage","correlation_id":"d1"}"#)
                .contains("payload.stage")
        );
    }

    #[test]
    fn reasons_escape_control_characters_and_stay_short() {
        let hostile = format!(r#"{{"ts":"2026-05-12T12:05:00Z","type":"\u001b[2J{}"}}"#, "A".repeat(5000));
        let reason = rejected(&hostile);
        assert!(!reason.chars().any(char::is_control), "{reason}");
        assert!(reason.contains("\\u{1b}"), "{reason}");
        assert!(reason.len() <= 320, "{}", reason.len());
    }

    #[test]
    fn probe_results_are_typed_and_checked() {
        let e = ok(
            r#"{"ts":"2026-05-12T12:05:00Z","type":"probe_result","node":"n","service":"s","payload":{"probe":"port","outcome":"critical","latency_ms":12,"timed_out":true,"detail":"refused"}}"#,
        );
        let Detail::Probe(report) = e.detail else { panic!("not a probe result") };
        assert_eq!(report.outcome, Outcome::Critical);
        assert!(report.timed_out);
        assert!(
            rejected(r#"{"ts":"2026-05-12T12:05:00Z","type":"probe_result","node":"n","service":"s"}"#)
                .contains("payload")
        );
        assert!(rejected(r#"{"ts":"2026-05-12T12:05:00Z","type":"probe_result","node":"n","service":"s","payload":{"probe":"p","outcome":"fine"}}"#).contains("unknown variant"));
        assert!(rejected(r#"{"ts":"2026-05-12T12:05:00Z","type":"probe_result","node":"n","payload":{"probe":"p","outcome":"ok"}}"#).contains("service"));
    }

    #[test]
    fn maintenance_payloads_are_typed_and_checked() {
        let e = ok(
            r#"{"ts":"2026-05-12T12:05:00Z","type":"maintenance_started","node":"n","payload":{"until":"2026-05-12T12:35:00Z","reason":"kernel update"}}"#,
        );
        assert_eq!(
            e.detail,
            Detail::Maintenance { until: Ts::parse("2026-05-12T12:35:00Z").ok(), reason: Some("kernel update".into()) }
        );
        let e = ok(r#"{"ts":"2026-05-12T12:05:00Z","type":"maintenance_ended","node":"n","service":"s"}"#);
        assert_eq!(e.detail, Detail::Maintenance { until: None, reason: None });
        assert_eq!(
            rejected(r#"{"ts":"2026-05-12T12:05:00Z","type":"maintenance_started"}"#),
            "`maintenance_started` events need a `node`"
        );
        assert!(
            rejected(
                r#"{"ts":"2026-05-12T12:05:00Z","type":"maintenance_started","node":"n","payload":{"until":"soon"}}"#
            )
            .starts_with("field `payload.until`")
        );
    }

    #[test]
    fn oversized_events_are_rejected() {
        let big =
            format!(r#"{{"ts":"2026-05-12T12:05:00Z","type":"tick","message":"{}"}}"#, "x".repeat(MAX_EVENT_BYTES));
        assert!(rejected(&big).contains("over the limit"));
    }
}
