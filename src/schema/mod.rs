//! JSON Schemas (draft 2020-12) of the files observer writes and of the
//! events it reads (SPEC §9), derived with `schemars` from the very types
//! that write and read them, so a schema cannot drift from its file:
//! `observer schema NAME` prints one, `schemas/NAME.schema.json` holds each
//! (a test fails when a checked-in copy is stale), and the tests validate
//! real outputs against them.
//!
//! What observer writes is closed: every object with named fields gets
//! `additionalProperties: false`, so a field that appears or disappears
//! without its schema changing fails validation. The event envelope is
//! open, because producers may add fields of their own (SPEC §2).

use schemars::generate::SchemaSettings;
use schemars::transform::RecursiveTransform;
use schemars::{JsonSchema, Schema};
use serde_json::{Map, Value};

use crate::engine::Incident;
use crate::engine::alerts::{Notification, PastEpisode};
use crate::world::{
    self, AlertsFile, DeploymentView, DeploymentsFile, IncidentsFile, NodesFile, ServicesFile, Summary, WorldFile,
};

/// One document that has a schema.
pub struct Document {
    /// The name `observer schema` takes, and the file's stem in `schemas/`.
    pub name: &'static str,
    /// The directory of what the schema describes, relative to the root.
    pub under: &'static str,
    /// What the schema describes, within `under`.
    pub describes: &'static str,
    /// One line for `observer schema` without a name, and the schema's
    /// `description`.
    pub summary: &'static str,
    generate: fn(SchemaSettings) -> Schema,
}

/// Every document with a schema, in the order `observer schema` lists them.
pub static DOCUMENTS: [Document; 11] = [
    world_file::<NodesFile>(
        "nodes",
        "Every node with its roles, status, last heartbeat, services and active incidents.",
    ),
    world_file::<ServicesFile>(
        "services",
        "Every service with its status, uptime statistics, and per probe its debounced status and circuit breaker.",
    ),
    world_file::<DeploymentsFile>(
        "deployments",
        "The deployment runs, running and the last finished per node/service, with stages, duration and diagnostics.",
    ),
    world_file::<IncidentsFile>(
        "incidents",
        "The incidents, active and the last resolved per node/service, with their occurrences.",
    ),
    world_file::<AlertsFile>("alerts", "The alerts: pending and firing ones, and each key's latest resolved episodes."),
    world_file::<Summary>(
        "summary",
        "The world at a glance: counts by status, overall health, breakers, budgets, alerts and event statistics.",
    ),
    Document {
        name: "alert-history",
        under: "world/history/",
        describes: "alerts-YYYY-MM.jsonl",
        summary: "One line of the alert history: a resolved episode that left alerts.json.",
        generate: closed::<PastEpisode>,
    },
    Document {
        name: "deployment-history",
        under: "world/history/",
        describes: "deployments-YYYY-MM.jsonl",
        summary: "One line of the deployment history: a finished run that left deployments.json, as it showed it.",
        generate: closed::<DeploymentView<'static>>,
    },
    Document {
        name: "incident-history",
        under: "world/history/",
        describes: "incidents-YYYY-MM.jsonl",
        summary: "One line of the incident history: a resolved incident that left incidents.json, as it showed it.",
        generate: closed::<Incident>,
    },
    Document {
        name: "outbox",
        under: "state/",
        describes: "outbox.jsonl",
        summary: "One line of the outbox: a notification the fold decided, as hooks and webhooks receive it.",
        generate: closed::<Notification>,
    },
    Document {
        name: "event",
        under: "events/",
        describes: "**/*.json, *.jsonl, *.ndjson",
        summary: "One event as producers write it (SPEC §2): the envelope, and the payload of the kinds that have one.",
        generate: crate::event::envelope_schema,
    },
];

/// The base of every schema's `$id`: a URN, since the schemas are not
/// served anywhere; the number is the files' `schema_version`.
pub const ID_BASE: &str = "urn:observer:schema:2:";

const fn world_file<F: WorldFile + JsonSchema>(name: &'static str, summary: &'static str) -> Document {
    Document { name, under: "world/", describes: F::NAME, summary, generate: closed::<F> }
}

impl Document {
    /// The schema, with `$id`, `title` and `description` first.
    pub fn schema(&self) -> Value {
        let generated = (self.generate)(SchemaSettings::draft2020_12().for_serialize());
        let mut object = match generated.to_value() {
            Value::Object(object) => object,
            other => Map::from_iter([("allOf".to_string(), Value::Array(vec![other]))]),
        };
        let mut front = Map::new();
        for key in ["$schema"] {
            if let Some(value) = object.remove(key) {
                front.insert(key.to_string(), value);
            }
        }
        front.insert("$id".into(), format!("{ID_BASE}{}", self.name).into());
        front.insert("title".into(), format!("observer {}: {}{}", self.name, self.under, self.describes).into());
        // The root type's doc comment speaks of Rust, not of the file.
        object.remove("description");
        object.remove("title");
        front.insert("description".into(), self.summary.into());
        front.extend(object);
        Value::Object(front)
    }

    /// The schema as `schemas/NAME.schema.json` holds it and `observer
    /// schema NAME` prints it: observer's JSON style.
    pub fn rendered(&self) -> Vec<u8> {
        // A `Value` always serialises (string keys, no custom impls); the
        // tests compare every rendering with its non-empty file.
        world::render(&self.schema()).unwrap_or_default()
    }

    /// `schemas/NAME.schema.json`.
    pub fn file_name(&self) -> String {
        format!("{}.schema.json", self.name)
    }
}

/// The document called `name`.
pub fn find(name: &str) -> Option<&'static Document> {
    DOCUMENTS.iter().find(|document| document.name == name)
}

/// The names, for messages: `nodes, services, …`.
pub fn names() -> String {
    DOCUMENTS.iter().map(|document| document.name).collect::<Vec<_>>().join(", ")
}

/// The schema of something observer writes: every object with named fields
/// is closed.
fn closed<T: JsonSchema>(settings: SchemaSettings) -> Schema {
    settings.with_transform(RecursiveTransform(close_object)).into_generator().into_root_schema_for::<T>()
}

/// `additionalProperties: false` on an object schema that names its
/// properties and says nothing else about the rest. Maps (only
/// `additionalProperties`) stay open to their keys.
fn close_object(schema: &mut Schema) {
    if let Some(object) = schema.as_object_mut()
        && object.contains_key("properties")
        && !object.contains_key("additionalProperties")
    {
        object.insert("additionalProperties".into(), false.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_found() {
        for document in &DOCUMENTS {
            assert!(std::ptr::eq(find(document.name).expect("found"), document), "{} twice", document.name);
        }
        assert!(find("sideways").is_none());
    }

    #[test]
    fn every_schema_is_2020_12_with_an_id_and_a_description() {
        for document in &DOCUMENTS {
            let schema = document.schema();
            assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema", "{}", document.name);
            assert_eq!(schema["$id"], format!("urn:observer:schema:2:{}", document.name));
            let description = schema["description"].as_str().expect("a description");
            assert_eq!(description, document.summary, "{}", document.name);
            assert_eq!(document.rendered().last(), Some(&b'\n'));
        }
    }

    #[test]
    fn what_observer_writes_is_closed_and_events_are_open() {
        let nodes = find("nodes").expect("nodes").schema();
        assert_eq!(nodes["additionalProperties"], false);
        let event = find("event").expect("event").schema();
        assert_ne!(event["additionalProperties"], false);
    }
}
