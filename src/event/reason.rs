//! The wording of rejections: why an event was refused, said so that a
//! person can fix the producer.
//!
//! The texts are part of the interface (they are printed on stderr, kept in
//! `state/rejects.json` and asserted by tests), so they change only on
//! purpose. serde's own messages are rephrased here: without the parser's
//! position, and naming the field whose type is wrong.

use std::fmt;

/// Why one event was refused: the text only. The store pairs it with the
/// file and line where the event was found (`store::events::Reject`), and
/// `observer validate` prints that as an
/// [`InputProblem`](crate::input_problem::InputProblem).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RejectReason(pub String);

/// One constructor per rule that can refuse an event, so that every text
/// is here and the rules in `validate` read as rules.
impl RejectReason {
    pub(super) fn too_big(bytes: usize, limit: usize) -> RejectReason {
        RejectReason(format!("event is {bytes} bytes, over the limit of {limit} bytes"))
    }

    pub(super) fn missing(field: &str) -> RejectReason {
        RejectReason(format!("missing required field `{field}`"))
    }

    pub(super) fn bad_ts(error: impl fmt::Display) -> RejectReason {
        RejectReason(format!("field `ts`: {error}"))
    }

    pub(super) fn not_snake_case(type_name: &str) -> RejectReason {
        RejectReason(format!(
            "field `type`: `{type_name}` is not snake_case (lowercase letters, digits and `_`, starting with a letter)"
        ))
    }

    /// A kind that needs an envelope field (`node`, `service`,
    /// `correlation_id`) without it.
    pub(super) fn needs(type_name: &str, field: &str) -> RejectReason {
        RejectReason(format!("`{type_name}` events need a `{field}`"))
    }

    pub(super) fn empty(field: &str) -> RejectReason {
        RejectReason(format!("field `{field}` is empty"))
    }

    pub(super) fn bad_name(field: &str, name: &str) -> RejectReason {
        RejectReason(format!("field `{field}`: `{}` may not contain `/` or control characters", name.escape_default()))
    }

    pub(super) fn bad_severity(text: &str) -> RejectReason {
        RejectReason(format!("field `severity`: `{text}` is not one of info, warning, error, critical"))
    }

    pub(super) fn bad_until(error: impl fmt::Display) -> RejectReason {
        RejectReason(format!("field `payload.until`: {error}"))
    }

    pub(super) fn stage_without_name() -> RejectReason {
        RejectReason("`deployment_stage` events need `payload.stage` (the stage name)".into())
    }

    pub(super) fn ack_without_key() -> RejectReason {
        RejectReason("`alert_acknowledged` events need `payload.key` (the alert's `<rule>:<subject>`)".into())
    }

    pub(super) fn probe_without_payload() -> RejectReason {
        RejectReason("`probe_result` events need a `payload` with `probe` and `outcome`".into())
    }

    pub(super) fn probe_payload_not_object() -> RejectReason {
        RejectReason("field `payload` of a `probe_result` must be an object".into())
    }

    /// A payload that does not have its kind's shape, in serde's words.
    pub(super) fn bad_payload(error: &serde_json::Error) -> RejectReason {
        RejectReason(format!("field `payload`: {}", plain_reason(&error.to_string())))
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Reasons quote the input, which may be hostile: control characters are
/// escaped (no terminal escapes reach stderr) and the reason is cut short
/// (a 1 MiB field does not become a 1 MiB line in `rejects.json`).
pub(super) fn sanitize(reason: &str) -> String {
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

/// serde's messages do not name the field whose type is wrong; the slow path
/// (taken only for invalid input) looks at the value to say which one.
pub(super) fn explain_json_error(bytes: &[u8], error: &serde_json::Error) -> RejectReason {
    let value = serde_json::from_slice::<serde_json::Value>(bytes);
    if let Err(e) = &value
        && e.to_string().starts_with("recursion limit exceeded")
    {
        return RejectReason(plain_reason(&e.to_string()));
    }
    if let Ok(value) = value {
        let Some(object) = value.as_object() else {
            return RejectReason(format!("an event must be a JSON object, found {}", json_kind(&value)));
        };
        for field in ["ts", "type", "node", "service", "correlation_id", "severity", "message", "id"] {
            if let Some(v) = object.get(field)
                && !(v.is_string() || v.is_null())
            {
                return RejectReason(format!("field `{field}` must be a string, found {}", json_kind(v)));
            }
        }
        return RejectReason(plain_reason(&error.to_string()));
    }
    if std::str::from_utf8(bytes).is_err() {
        return RejectReason("not valid UTF-8".into());
    }
    // The store names the file and line; inside one event only the column helps.
    RejectReason(format!("not valid JSON: {}", error.to_string().replace(" at line 1 column ", " at column ")))
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
