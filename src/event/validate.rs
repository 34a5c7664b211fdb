//! Validation: the rules a wire event must meet to become an [`Event`].
//!
//! This is where the engine's "cannot fail" is earned: every field the fold
//! relies on is checked here, once, and typed. The texts of the refusals
//! live in `reason`.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::reason::RejectReason;
use super::wire::{
    AckPayload, BudgetPayload, DiagnosticsField, FailurePayload, MaintenancePayload, RawEvent, StagePayload,
};
use super::{Detail, Event, Kind, Name, ProbeReport, Severity};
use crate::time::Ts;

pub(super) fn validate(raw: RawEvent) -> Result<Event, RejectReason> {
    let ts_text = raw.ts.ok_or_else(|| RejectReason::missing("ts"))?;
    let ts = Ts::parse(&ts_text).map_err(RejectReason::bad_ts)?;
    let type_name = raw.kind.ok_or_else(|| RejectReason::missing("type"))?;
    if !is_snake_case(&type_name) {
        return Err(RejectReason::not_snake_case(&type_name));
    }
    let kind = Kind::from_name(&type_name);
    let node = non_empty("node", raw.node)?;
    let service = non_empty("service", raw.service)?;
    let correlation_id = non_empty("correlation_id", raw.correlation_id)?;
    if kind.needs_node() && node.is_none() {
        return Err(RejectReason::needs(&type_name, "node"));
    }
    if kind.needs_service() && service.is_none() {
        return Err(RejectReason::needs(&type_name, "service"));
    }
    if kind.needs_correlation_id() && correlation_id.is_none() {
        return Err(RejectReason::needs(&type_name, "correlation_id"));
    }
    if let Some(name) = &node {
        check_name("node", name)?;
    }
    if let Some(name) = &service {
        check_name("service", name)?;
    }
    let severity = match raw.severity {
        None => None,
        Some(text) => Some(Severity::parse(&text).ok_or_else(|| RejectReason::bad_severity(&text))?),
    };
    let detail = detail(kind, raw.payload)?;
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

/// The typed payload of the kinds whose payload the engine reads; the
/// payload of any other kind is not looked at.
fn detail(kind: Kind, payload: Option<&RawValue>) -> Result<Detail, RejectReason> {
    Ok(match kind {
        Kind::DeploymentStage => {
            let payload: StagePayload = payload_as(payload)?;
            let name = payload.stage.or(payload.name).ok_or_else(RejectReason::stage_without_name)?;
            let status = payload.status.as_deref().map_or_else(|| Name::const_new("completed"), Name::new);
            Detail::Stage { name: Name::new(&name), status }
        }
        Kind::DeploymentFailed => {
            let payload: FailurePayload = payload_as(payload)?;
            match payload.diagnostics {
                None => Detail::None,
                Some(DiagnosticsField::One(path)) => Detail::Diagnostics(vec![path]),
                Some(DiagnosticsField::Many(paths)) => Detail::Diagnostics(paths),
            }
        }
        Kind::ProbeResult => {
            let payload = payload.filter(|p| p.get() != "null").ok_or_else(RejectReason::probe_without_payload)?;
            if !payload.get().starts_with('{') {
                return Err(RejectReason::probe_payload_not_object());
            }
            let report: ProbeReport = serde_json::from_str(payload.get()).map_err(|e| RejectReason::bad_payload(&e))?;
            if report.probe.trim().is_empty() {
                return Err(RejectReason::empty("payload.probe"));
            }
            check_name("payload.probe", &report.probe)?;
            Detail::Probe(Box::new(report))
        }
        Kind::BudgetExhausted => {
            let payload: BudgetPayload = payload_as(payload)?;
            Detail::Budget(payload.budget.unwrap_or_default())
        }
        Kind::MaintenanceStarted | Kind::MaintenanceEnded => {
            let payload: MaintenancePayload = payload_as(payload)?;
            let until = match payload.until {
                None => None,
                Some(text) => Some(Ts::parse(&text).map_err(RejectReason::bad_until)?),
            };
            Detail::Maintenance { until, reason: payload.reason }
        }
        Kind::AlertAcknowledged => {
            let payload: AckPayload = payload_as(payload)?;
            let key = payload.key.filter(|key| !key.trim().is_empty()).ok_or_else(RejectReason::ack_without_key)?;
            Detail::Acknowledged { key, by: payload.by.filter(|by| !by.trim().is_empty()) }
        }
        _ => Detail::None,
    })
}

/// A payload of the given shape; a missing or null payload is the shape's
/// default (every field absent).
fn payload_as<'a, T: Deserialize<'a> + Default>(raw: Option<&'a RawValue>) -> Result<T, RejectReason> {
    match raw {
        None => Ok(T::default()),
        Some(raw) if raw.get() == "null" => Ok(T::default()),
        Some(raw) => serde_json::from_str(raw.get()).map_err(|e| RejectReason::bad_payload(&e)),
    }
}

/// An optional field that, when given, says something: all white space is
/// refused rather than kept as a name nobody can see.
fn non_empty(field: &str, value: Option<Cow<str>>) -> Result<Option<Name>, RejectReason> {
    match value {
        None => Ok(None),
        Some(text) if text.trim().is_empty() => Err(RejectReason::empty(field)),
        Some(text) => Ok(Some(Name::new(&text))),
    }
}

/// Node and service names become parts of ids and keys (`node/service`), so
/// they may not contain `/` or control characters.
fn check_name(field: &str, name: &str) -> Result<(), RejectReason> {
    if !is_plain_name(name) {
        return Err(RejectReason::bad_name(field, name));
    }
    Ok(())
}

/// No `/` and no control character (`char::is_control`: U+0000–U+001F and
/// U+007F–U+009F), in one pass over the bytes: the text is valid UTF-8, in
/// which U+0080–U+009F are exactly the pairs 0xC2 0x80..=0x9F.
fn is_plain_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.iter().enumerate().any(|(at, &b)| {
        b == b'/'
            || b < 0x20
            || b == 0x7F
            || (b == 0xC2 && bytes.get(at + 1).is_some_and(|next| (0x80..=0x9F).contains(next)))
    })
}

fn is_snake_case(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z')) && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
}

#[cfg(test)]
mod tests {
    use super::is_plain_name;

    #[test]
    fn a_plain_name_is_one_without_a_slash_or_a_control_character() {
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let name = format!("a{c}b");
            assert_eq!(is_plain_name(&name), !(c == '/' || c.is_control()), "{c:?} (U+{:04X})", c as u32);
        }
        assert!(is_plain_name("saturn") && is_plain_name("ça-va") && is_plain_name(""));
        assert!(!is_plain_name("a/b") && !is_plain_name("tab\t") && !is_plain_name("\u{85}"));
    }
}
