//! The boundary: bytes in, typed events out.
//!
//! Everything the engine folds has passed through [`parse_event`]; the engine
//! never sees malformed input, so applying an event cannot fail. A rejection
//! carries a reason a person can act on; the store adds the file and line.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::time::Ts;

/// Largest accepted event, in bytes (SPEC §2).
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;

/// The event types the engine understands; anything else is `Other` and is
/// only counted, so that old observers keep working on new logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Heartbeat,
    NodeUp,
    NodeDown,
    ServiceUnhealthy,
    HealthcheckFailed,
    ServiceHealthy,
    HealthcheckPassed,
    ServiceRecovered,
    DeploymentStarted,
    DeploymentStage,
    DeploymentSucceeded,
    DeploymentFailed,
    ProbeResult,
    BudgetExhausted,
    Tick,
    Other,
}

impl Kind {
    pub fn from_name(name: &str) -> Kind {
        match name {
            "heartbeat" => Kind::Heartbeat,
            "node_up" => Kind::NodeUp,
            "node_down" => Kind::NodeDown,
            "service_unhealthy" => Kind::ServiceUnhealthy,
            "healthcheck_failed" => Kind::HealthcheckFailed,
            "service_healthy" => Kind::ServiceHealthy,
            "healthcheck_passed" => Kind::HealthcheckPassed,
            "service_recovered" => Kind::ServiceRecovered,
            "deployment_started" => Kind::DeploymentStarted,
            "deployment_stage" => Kind::DeploymentStage,
            "deployment_succeeded" => Kind::DeploymentSucceeded,
            "deployment_failed" => Kind::DeploymentFailed,
            "probe_result" => Kind::ProbeResult,
            "budget_exhausted" => Kind::BudgetExhausted,
            "tick" => Kind::Tick,
            _ => Kind::Other,
        }
    }

    /// The name of a known kind, so that the events of a known kind share it
    /// instead of each carrying a copy; `None` for `Other`.
    fn static_name(self) -> Option<&'static str> {
        Some(match self {
            Kind::Heartbeat => "heartbeat",
            Kind::NodeUp => "node_up",
            Kind::NodeDown => "node_down",
            Kind::ServiceUnhealthy => "service_unhealthy",
            Kind::HealthcheckFailed => "healthcheck_failed",
            Kind::ServiceHealthy => "service_healthy",
            Kind::HealthcheckPassed => "healthcheck_passed",
            Kind::ServiceRecovered => "service_recovered",
            Kind::DeploymentStarted => "deployment_started",
            Kind::DeploymentStage => "deployment_stage",
            Kind::DeploymentSucceeded => "deployment_succeeded",
            Kind::DeploymentFailed => "deployment_failed",
            Kind::ProbeResult => "probe_result",
            Kind::BudgetExhausted => "budget_exhausted",
            Kind::Tick => "tick",
            Kind::Other => return None,
        })
    }

    fn needs_node(self) -> bool {
        matches!(self, Kind::Heartbeat | Kind::NodeUp | Kind::NodeDown) || self.needs_service()
    }

    fn needs_service(self) -> bool {
        matches!(
            self,
            Kind::ServiceUnhealthy
                | Kind::HealthcheckFailed
                | Kind::ServiceHealthy
                | Kind::HealthcheckPassed
                | Kind::ServiceRecovered
                | Kind::ProbeResult
        )
    }

    fn needs_correlation_id(self) -> bool {
        matches!(
            self,
            Kind::DeploymentStarted | Kind::DeploymentStage | Kind::DeploymentSucceeded | Kind::DeploymentFailed
        )
    }
}

/// Ordered from least to most severe, so `max` gives "the highest seen".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
    pub node: Option<String>,
    pub service: Option<String>,
    pub correlation_id: Option<String>,
    pub severity: Option<Severity>,
    pub id: Option<String>,
    pub detail: Detail,
}

/// Typed payload of the event kinds whose payload the engine reads.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Detail {
    #[default]
    None,
    /// `deployment_stage`: `payload.stage` (or `payload.name`) and `payload.status`.
    Stage { name: String, status: String },
    /// `deployment_failed`: `payload.diagnostics`, paths relative to `logs/`.
    Diagnostics(Vec<String>),
    /// `probe_result`: one probe execution (boxed: it is rare and large, events are many).
    Probe(Box<ProbeReport>),
    /// `budget_exhausted`: `payload.budget`, the budget's name.
    Budget(String),
}

/// The payload of a `probe_result` event (SPEC §5). Besides the outcome it
/// carries the facts that breaker failure conditions look at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

/// Why an event was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection(pub String);

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What became of one chunk of input.
#[derive(Debug)]
pub enum Parsed {
    Event(Box<Event>),
    Rejected(Rejection),
    /// The bytes end before the JSON value does: a `.json` file still being
    /// written. It is left for a later run.
    Incomplete,
}

#[derive(Deserialize)]
struct RawEvent<'a> {
    #[serde(borrow, default)]
    ts: Option<Cow<'a, str>>,
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    node: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    service: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    correlation_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    severity: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    #[allow(dead_code)]
    message: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    payload: Option<&'a RawValue>,
}

#[derive(Deserialize, Default)]
#[serde(expecting = "an object with `stage`, `name` or `status` strings")]
struct StagePayload {
    #[serde(default)]
    stage: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged, expecting = "`diagnostics` must be a path under logs/ or a list of such paths")]
enum DiagnosticsField {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize, Default)]
#[serde(expecting = "an object with a `budget` string")]
struct BudgetPayload {
    #[serde(default)]
    budget: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(expecting = "an object")]
struct FailurePayload {
    #[serde(default)]
    diagnostics: Option<DiagnosticsField>,
}

/// Parses and validates one event from its bytes (one line, or one whole file).
pub fn parse_event(bytes: &[u8]) -> Parsed {
    match parse_unsanitized(bytes) {
        Parsed::Rejected(Rejection(reason)) => Parsed::Rejected(Rejection(sanitize(&reason))),
        other => other,
    }
}

/// Reasons quote the input, which may be hostile: control characters are
/// escaped (no terminal escapes reach stderr) and the reason is cut short
/// (a 1 MiB field does not become a 1 MiB line in `rejects.json`).
fn sanitize(reason: &str) -> String {
    const MAX_BYTES: usize = 300;
    let mut out = String::new();
    for c in reason.chars() {
        if out.len() >= MAX_BYTES {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

fn parse_unsanitized(bytes: &[u8]) -> Parsed {
    if bytes.len() > MAX_EVENT_BYTES {
        return reject(format!("event is {} bytes, over the limit of {} bytes", bytes.len(), MAX_EVENT_BYTES));
    }
    let raw: RawEvent = match serde_json::from_slice(bytes) {
        Ok(raw) => raw,
        Err(e) if e.is_eof() => return Parsed::Incomplete,
        Err(e) => return Parsed::Rejected(explain_json_error(bytes, &e)),
    };
    match validate(raw) {
        Ok(event) => Parsed::Event(Box::new(event)),
        Err(rejection) => Parsed::Rejected(rejection),
    }
}

fn reject(reason: String) -> Parsed {
    Parsed::Rejected(Rejection(reason))
}

fn validate(raw: RawEvent) -> Result<Event, Rejection> {
    let ts_text = raw.ts.ok_or_else(|| Rejection("missing required field `ts`".into()))?;
    let ts = Ts::parse(&ts_text).map_err(|e| Rejection(format!("field `ts`: {e}")))?;
    let type_name = raw.kind.ok_or_else(|| Rejection("missing required field `type`".into()))?;
    if !is_snake_case(&type_name) {
        return Err(Rejection(format!(
            "field `type`: `{type_name}` is not snake_case (lowercase letters, digits and `_`, starting with a letter)"
        )));
    }
    let kind = Kind::from_name(&type_name);
    let node = non_empty("node", raw.node)?;
    let service = non_empty("service", raw.service)?;
    let correlation_id = non_empty("correlation_id", raw.correlation_id)?;
    if kind.needs_node() && node.is_none() {
        return Err(Rejection(format!("`{type_name}` events need a `node`")));
    }
    if kind.needs_service() && service.is_none() {
        return Err(Rejection(format!("`{type_name}` events need a `service`")));
    }
    if kind.needs_correlation_id() && correlation_id.is_none() {
        return Err(Rejection(format!("`{type_name}` events need a `correlation_id`")));
    }
    if let Some(name) = &node {
        check_name("node", name)?;
    }
    if let Some(name) = &service {
        check_name("service", name)?;
    }
    let severity = match raw.severity {
        None => None,
        Some(text) => Some(Severity::parse(&text).ok_or_else(|| {
            Rejection(format!("field `severity`: `{text}` is not one of info, warning, error, critical"))
        })?),
    };
    let detail =
        match kind {
            Kind::DeploymentStage => {
                let payload: StagePayload = payload_as(raw.payload)?;
                let name = payload.stage.or(payload.name).ok_or_else(|| {
                    Rejection("`deployment_stage` events need `payload.stage` (the stage name)".into())
                })?;
                Detail::Stage { name, status: payload.status.unwrap_or_else(|| "completed".into()) }
            }
            Kind::DeploymentFailed => {
                let payload: FailurePayload = payload_as(raw.payload)?;
                match payload.diagnostics {
                    None => Detail::None,
                    Some(DiagnosticsField::One(path)) => Detail::Diagnostics(vec![path]),
                    Some(DiagnosticsField::Many(paths)) => Detail::Diagnostics(paths),
                }
            }
            Kind::ProbeResult => {
                let payload = raw.payload.filter(|p| p.get() != "null").ok_or_else(|| {
                    Rejection("`probe_result` events need a `payload` with `probe` and `outcome`".into())
                })?;
                if !payload.get().starts_with('{') {
                    return Err(Rejection("field `payload` of a `probe_result` must be an object".into()));
                }
                let report: ProbeReport = serde_json::from_str(payload.get())
                    .map_err(|e| Rejection(format!("field `payload`: {}", plain_reason(&e.to_string()))))?;
                if report.probe.trim().is_empty() {
                    return Err(Rejection("field `payload.probe` is empty".into()));
                }
                check_name("payload.probe", &report.probe)?;
                Detail::Probe(Box::new(report))
            }
            Kind::BudgetExhausted => {
                let payload: BudgetPayload = payload_as(raw.payload)?;
                Detail::Budget(payload.budget.unwrap_or_default())
            }
            _ => Detail::None,
        };
    Ok(Event {
        ts,
        type_name: kind.static_name().map_or_else(|| Cow::Owned(type_name.into_owned()), Cow::Borrowed),
        kind,
        node,
        service,
        correlation_id,
        severity,
        id: non_empty("id", raw.id)?,
        detail,
    })
}

fn payload_as<T: for<'de> Deserialize<'de> + Default>(raw: Option<&RawValue>) -> Result<T, Rejection> {
    match raw {
        None => Ok(T::default()),
        Some(raw) if raw.get() == "null" => Ok(T::default()),
        Some(raw) => serde_json::from_str(raw.get())
            .map_err(|e| Rejection(format!("field `payload`: {}", plain_reason(&e.to_string())))),
    }
}

fn non_empty(field: &str, value: Option<Cow<str>>) -> Result<Option<String>, Rejection> {
    match value {
        None => Ok(None),
        Some(text) if text.trim().is_empty() => Err(Rejection(format!("field `{field}` is empty"))),
        Some(text) => Ok(Some(text.into_owned())),
    }
}

/// Node and service names become parts of ids and keys (`node/service`), so
/// they may not contain `/` or control characters.
fn check_name(field: &str, name: &str) -> Result<(), Rejection> {
    if name.contains('/') || name.chars().any(char::is_control) {
        return Err(Rejection(format!(
            "field `{field}`: `{}` may not contain `/` or control characters",
            name.escape_default()
        )));
    }
    Ok(())
}

fn is_snake_case(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z')) && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
}

/// serde's messages do not name the field whose type is wrong; the slow path
/// (taken only for invalid input) looks at the value to say which one.
fn explain_json_error(bytes: &[u8], error: &serde_json::Error) -> Rejection {
    let value = serde_json::from_slice::<serde_json::Value>(bytes);
    if let Err(e) = &value
        && e.to_string().starts_with("recursion limit exceeded")
    {
        return Rejection(plain_reason(&e.to_string()));
    }
    if let Ok(value) = value {
        let Some(object) = value.as_object() else {
            return Rejection(format!("an event must be a JSON object, found {}", json_kind(&value)));
        };
        for field in ["ts", "type", "node", "service", "correlation_id", "severity", "message", "id"] {
            if let Some(v) = object.get(field)
                && !(v.is_string() || v.is_null())
            {
                return Rejection(format!("field `{field}` must be a string, found {}", json_kind(v)));
            }
        }
        return Rejection(plain_reason(&error.to_string()));
    }
    if std::str::from_utf8(bytes).is_err() {
        return Rejection("not valid UTF-8".into());
    }
    // The store names the file and line; inside one event only the column helps.
    Rejection(format!("not valid JSON: {}", error.to_string().replace(" at line 1 column ", " at column ")))
}

/// serde_json's message without its position (the line of a reject is the
/// file's line, not the parser's), and its depth limit said plainly.
fn plain_reason(message: &str) -> String {
    let message = match message.find(" at line ") {
        Some(at) => &message[..at],
        None => message,
    };
    match message {
        "recursion limit exceeded" => "nested more than 128 levels deep (recursion limit exceeded)".to_string(),
        other => other.to_string(),
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Event {
        match parse_event(text.as_bytes()) {
            Parsed::Event(e) => *e,
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
    fn known_kinds_name_themselves() {
        for kind in [
            Kind::Heartbeat,
            Kind::NodeUp,
            Kind::NodeDown,
            Kind::ServiceUnhealthy,
            Kind::HealthcheckFailed,
            Kind::ServiceHealthy,
            Kind::HealthcheckPassed,
            Kind::ServiceRecovered,
            Kind::DeploymentStarted,
            Kind::DeploymentStage,
            Kind::DeploymentSucceeded,
            Kind::DeploymentFailed,
            Kind::ProbeResult,
            Kind::BudgetExhausted,
            Kind::Tick,
        ] {
            let name = kind.static_name().expect("a known kind has a name");
            assert_eq!(Kind::from_name(name), kind);
        }
        assert_eq!(Kind::Other.static_name(), None);
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
    fn oversized_events_are_rejected() {
        let big =
            format!(r#"{{"ts":"2026-05-12T12:05:00Z","type":"tick","message":"{}"}}"#, "x".repeat(MAX_EVENT_BYTES));
        assert!(rejected(&big).contains("over the limit"));
    }
}
