//! The wire format: an event's JSON as it arrives, before validation.
//!
//! Every field is optional here, so that a missing or empty field is
//! rejected by `validate` with a reason that names it, rather than by serde
//! with a generic one. Strings are borrowed where the input allows, so the
//! hot path allocates only what the typed event keeps.

use std::borrow::Cow;

use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::{Deserializer, Visitor};

use super::Severity;
use serde_json::value::RawValue;

/// A name that can be part of an id or key: not blank, no `/` and no
/// control characters (as `validate` checks).
const NAME_PATTERN: &str =
    r"^[^/\u0000-\u001F\u007F-\u009F]*[^/\s\u0000-\u001F\u007F-\u009F][^/\u0000-\u001F\u007F-\u009F]*$";

/// Something other than white space.
const NOT_BLANK: &str = r"\S";

/// The envelope (SPEC §2). Unknown fields are ignored: producers may add
/// their own.
#[derive(Deserialize, JsonSchema)]
pub(super) struct RawEvent<'a> {
    #[serde(borrow, default, deserialize_with = "text")]
    #[schemars(with = "String", extend("format" = "date-time"), description = "When it happened: RFC 3339 with an offset (`Z` or `+hh:mm`).")]
    pub ts: Option<Cow<'a, str>>,
    #[serde(rename = "type", borrow, default, deserialize_with = "text")]
    #[schemars(
        with = "String",
        regex(pattern = r"^[a-z][a-z0-9_]*$"),
        description = "What happened, in snake_case; the kinds observer knows are its examples; any other is counted and otherwise ignored."
    )]
    pub kind: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "text")]
    #[schemars(regex(pattern = NAME_PATTERN), description = "The node; required for node and service events. No `/` or control characters.")]
    pub node: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "text")]
    #[schemars(regex(pattern = NAME_PATTERN), description = "The service on `node`; required for service events. No `/` or control characters.")]
    pub service: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "text")]
    #[schemars(regex(pattern = NOT_BLANK), description = "Ties events together; for deployment events, the run they belong to (required there).")]
    pub correlation_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "text")]
    #[schemars(with = "Option<Severity>", description = "How bad it is; failure events without one count as `error`.")]
    pub severity: Option<Cow<'a, str>>,
    /// Read only so that a `message` of the wrong type is rejected; the
    /// engine does not keep it.
    #[serde(borrow, default, deserialize_with = "text")]
    #[allow(dead_code)]
    #[schemars(with = "Option<String>", description = "One line for people; not kept by the engine.")]
    pub message: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "text")]
    #[schemars(regex(pattern = NOT_BLANK), description = "Makes the event idempotent: a second event with the same id within `events.dedup_window_s` is a duplicate.")]
    pub id: Option<Cow<'a, str>>,
    /// Left as raw JSON: only a few kinds read it, each with its own shape.
    #[serde(borrow, default)]
    #[schemars(
        with = "Option<serde_json::Value>",
        description = "Kind-specific; read for deployment_stage, deployment_failed, probe_result, budget_exhausted, maintenance_* and alert_acknowledged, ignored for the others."
    )]
    pub payload: Option<&'a RawValue>,
}

// Borrowed like the envelope: the most common payload of a busy lab.
/// The payload of `deployment_stage`.
#[derive(Deserialize, Default, JsonSchema)]
#[serde(expecting = "an object with `stage`, `name` or `status` strings")]
pub(super) struct StagePayload<'a> {
    #[serde(borrow, default, deserialize_with = "text")]
    #[schemars(with = "Option<String>")]
    pub stage: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "text")]
    #[schemars(with = "Option<String>")]
    pub name: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "text")]
    #[schemars(with = "Option<String>")]
    pub status: Option<Cow<'a, str>>,
}

/// `payload.diagnostics` of `deployment_failed`: one path or several.
#[derive(Deserialize, JsonSchema)]
#[serde(untagged, expecting = "`diagnostics` must be a path under logs/ or a list of such paths")]
pub(super) enum DiagnosticsField {
    One(String),
    Many(Vec<String>),
}

/// The payload of `budget_exhausted`.
#[derive(Deserialize, Default, JsonSchema)]
#[serde(expecting = "an object with a `budget` string")]
pub(super) struct BudgetPayload {
    #[serde(default)]
    pub budget: Option<String>,
}

/// The payload of `deployment_failed`.
#[derive(Deserialize, Default, JsonSchema)]
#[serde(expecting = "an object")]
pub(super) struct FailurePayload {
    #[serde(default)]
    pub diagnostics: Option<DiagnosticsField>,
}

/// The payload of `maintenance_started` / `maintenance_ended`.
#[derive(Deserialize, Default, JsonSchema)]
#[serde(expecting = "an object with `until` and `reason` strings")]
pub(super) struct MaintenancePayload {
    #[serde(default)]
    pub until: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// The payload of `alert_acknowledged`.
#[derive(Deserialize, Default, JsonSchema)]
#[serde(expecting = "an object with `key`, `reason` and `by` strings")]
pub(super) struct AckPayload {
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    pub reason: Option<String>,
    #[serde(default)]
    pub by: Option<String>,
}

/// An optional string field that borrows from the input unless it holds
/// escapes. serde's own `Option<Cow<str>>` always copies (only a bare
/// `Cow<str>` field borrows): that was an allocation and a free per field
/// of every event (issue 11). `null` is absent; anything but a string is
/// refused, and `reason` words the refusal from the value itself.
fn text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    struct Text;
    impl<'de> Visitor<'de> for Text {
        type Value = Option<Cow<'de, str>>;

        fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
            formatter.write_str("a string")
        }

        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
            deserializer.deserialize_str(Text)
        }

        fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Borrowed(text)))
        }

        fn visit_str<E>(self, text: &str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(text.to_owned())))
        }

        fn visit_string<E>(self, text: String) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(text)))
        }
    }
    deserializer.deserialize_option(Text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_string_field_borrows_from_the_input_unless_it_holds_escapes() {
        let line = r#"{"ts":"2026-05-12T12:05:00Z","type":"heartbeat","node":"sat\u0075rn","service":null,"id":"x-1"}"#;
        let raw: RawEvent = serde_json::from_str(line).unwrap();
        assert!(matches!(raw.ts, Some(Cow::Borrowed("2026-05-12T12:05:00Z"))));
        assert!(matches!(raw.kind, Some(Cow::Borrowed("heartbeat"))));
        assert!(matches!(&raw.node, Some(Cow::Owned(node)) if node == "saturn"), "an escape is decoded into a copy");
        assert!(raw.service.is_none(), "null is absent");
        assert!(raw.correlation_id.is_none(), "a missing field is absent");
        assert!(matches!(raw.id, Some(Cow::Borrowed("x-1"))));
        assert!(serde_json::from_str::<RawEvent>(r#"{"node":5}"#).is_err(), "a number is not a string");
        assert!(serde_json::from_str::<RawEvent>(r#"{"node":["a"]}"#).is_err(), "a list is not a string");
    }
}
