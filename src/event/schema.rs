//! The JSON Schema of one event (SPEC §2), from the wire types that read
//! it and the kind table: which fields each known kind needs, and the shape
//! of the payloads the engine reads. Open, like the envelope itself:
//! producers may add fields of their own.

use schemars::Schema;
use schemars::generate::SchemaSettings;
use serde_json::{Value, json};

use super::Kind;
use super::ProbeReport;
use super::wire::{AckPayload, BudgetPayload, FailurePayload, MaintenancePayload, RawEvent, StagePayload};

/// The envelope with `ts` and `type` required, and per known kind an
/// `if type is … then …` for its required fields and its payload.
pub fn envelope_schema(settings: SchemaSettings) -> Schema {
    let mut generator = settings.for_deserialize().into_generator();
    let mut rules = Vec::new();
    for &kind in Kind::KNOWN {
        let Some(name) = kind.static_name() else { continue };
        let mut required: Vec<&str> = Vec::new();
        for (needed, field) in [
            (kind.needs_node(), "node"),
            (kind.needs_service(), "service"),
            (kind.needs_correlation_id(), "correlation_id"),
        ] {
            if needed {
                required.push(field);
            }
        }
        let payload = match kind {
            Kind::DeploymentStage => Some((
                generator.subschema_for::<StagePayload>(),
                Some(json!({"type": "object", "anyOf": [{"required": ["stage"]}, {"required": ["name"]}]})),
            )),
            Kind::DeploymentFailed => Some((generator.subschema_for::<FailurePayload>(), None)),
            Kind::ProbeResult => Some((generator.subschema_for::<ProbeReport>(), Some(json!({"type": "object"})))),
            Kind::BudgetExhausted => Some((generator.subschema_for::<BudgetPayload>(), None)),
            Kind::MaintenanceStarted | Kind::MaintenanceEnded => {
                Some((generator.subschema_for::<MaintenancePayload>(), None))
            }
            Kind::AlertAcknowledged => {
                Some((generator.subschema_for::<AckPayload>(), Some(json!({"type": "object", "required": ["key"]}))))
            }
            _ => None,
        };
        if required.is_empty() && payload.is_none() {
            continue;
        }
        let mut then = json!({});
        if let Some((shape, demanded)) = payload {
            // A missing or null payload reads as the shape with every field
            // absent; the kinds that need something from it demand it.
            let payload = match demanded {
                Some(demanded) => {
                    required.push("payload");
                    json!({"allOf": [shape, demanded]})
                }
                None => json!({"anyOf": [{"type": "null"}, shape]}),
            };
            then["properties"] = json!({ "payload": payload });
        }
        if !required.is_empty() {
            then["required"] = json!(required);
        }
        rules.push(json!({
            "if": {"properties": {"type": {"const": name}}, "required": ["type"]},
            "then": then,
        }));
    }
    let mut schema = generator.root_schema_for::<RawEvent>();
    let known: Vec<&str> = Kind::KNOWN.iter().filter_map(|kind| kind.static_name()).collect();
    if let Some(object) = schema.as_object_mut() {
        object.insert("required".into(), json!(["ts", "type"]));
        object.insert("allOf".into(), Value::Array(rules));
        if let Some(Value::Object(kind)) = object.get_mut("properties").and_then(|p| p.get_mut("type")) {
            kind.insert("examples".into(), json!(known));
        }
    }
    schema
}
