//! The wire format: an event's JSON as it arrives, before validation.
//!
//! Every field is optional here, so that a missing or empty field is
//! rejected by `validate` with a reason that names it, rather than by serde
//! with a generic one. Strings are borrowed where the input allows, so the
//! hot path allocates only what the typed event keeps.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

/// The envelope (SPEC §2). Unknown fields are ignored: producers may add
/// their own.
#[derive(Deserialize)]
pub(super) struct RawEvent<'a> {
    #[serde(borrow, default)]
    pub ts: Option<Cow<'a, str>>,
    #[serde(rename = "type", borrow, default)]
    pub kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub node: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub service: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub correlation_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub severity: Option<Cow<'a, str>>,
    /// Read only so that a `message` of the wrong type is rejected; the
    /// engine does not keep it.
    #[serde(borrow, default)]
    #[allow(dead_code)]
    pub message: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub id: Option<Cow<'a, str>>,
    /// Left as raw JSON: only a few kinds read it, each with its own shape.
    #[serde(borrow, default)]
    pub payload: Option<&'a RawValue>,
}

/// The payload of `deployment_stage`.
#[derive(Deserialize, Default)]
#[serde(expecting = "an object with `stage`, `name` or `status` strings")]
pub(super) struct StagePayload {
    #[serde(default)]
    pub stage: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
}

/// `payload.diagnostics` of `deployment_failed`: one path or several.
#[derive(Deserialize)]
#[serde(untagged, expecting = "`diagnostics` must be a path under logs/ or a list of such paths")]
pub(super) enum DiagnosticsField {
    One(String),
    Many(Vec<String>),
}

/// The payload of `budget_exhausted`.
#[derive(Deserialize, Default)]
#[serde(expecting = "an object with a `budget` string")]
pub(super) struct BudgetPayload {
    #[serde(default)]
    pub budget: Option<String>,
}

/// The payload of `deployment_failed`.
#[derive(Deserialize, Default)]
#[serde(expecting = "an object")]
pub(super) struct FailurePayload {
    #[serde(default)]
    pub diagnostics: Option<DiagnosticsField>,
}

/// The payload of `maintenance_started` / `maintenance_ended`.
#[derive(Deserialize, Default)]
#[serde(expecting = "an object with `until` and `reason` strings")]
pub(super) struct MaintenancePayload {
    #[serde(default)]
    pub until: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// The payload of `alert_acknowledged`.
#[derive(Deserialize, Default)]
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
