//! The shape of a host's `services.yaml`. `services:` may be a map keyed by
//! name, a list of names, or a list of objects with a `name` (and
//! `probes`, `depends_on`, `alerts`); what observer does not read of a
//! service belongs to the homelab repo.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::alerts::{AlertOverride, overrides};
use super::probe::ProbeDecl;
use crate::config::some_runbook;
use crate::engine::alerts::Rule;

#[derive(Deserialize)]
pub(super) struct ServicesFile {
    #[serde(default)]
    services: Option<ServiceList>,
}

impl ServicesFile {
    /// Each declared service with its name, in the order of the file (by
    /// name for the map form).
    pub(super) fn into_services(self) -> Vec<(String, ServiceDecl)> {
        match self.services {
            None => Vec::new(),
            Some(ServiceList::Map(map)) => {
                map.into_iter().map(|(name, decl)| (name, decl.unwrap_or_default())).collect()
            }
            Some(ServiceList::List(items)) => items
                .into_iter()
                .map(|item| match item {
                    ServiceItem::Name(name) => (name, ServiceDecl::default()),
                    ServiceItem::Object(service) => (
                        service.name,
                        ServiceDecl {
                            probes: service.probes,
                            depends_on: service.depends_on,
                            alerts: service.alerts,
                            runbook: service.runbook,
                        },
                    ),
                })
                .collect(),
        }
    }
}

/// What observer reads of a service declaration; other keys belong to the
/// homelab repo.
#[derive(Deserialize, Default)]
pub(super) struct ServiceDecl {
    #[serde(default)]
    pub(super) probes: Vec<ProbeDecl>,
    /// `mosquitto` (same node) or `saturn/mosquitto`, resolved once every
    /// service is known.
    #[serde(default)]
    pub(super) depends_on: Vec<String>,
    #[serde(default, deserialize_with = "overrides")]
    pub(super) alerts: BTreeMap<Rule, AlertOverride>,
    /// What to do when one of its alerts fires: a URL or a path inside the
    /// inventory; it wins over the rule's.
    #[serde(default, deserialize_with = "some_runbook")]
    pub(super) runbook: Option<String>,
}

/// Told apart by the YAML shape, not by trial, so that errors inside keep
/// their message and line.
enum ServiceList {
    Map(BTreeMap<String, Option<ServiceDecl>>),
    List(Vec<ServiceItem>),
}

enum ServiceItem {
    Name(String),
    Object(NamedService),
}

/// The keys of [`ServiceDecl`] and a `name`, written out rather than
/// flattened: a flattened map loses the positions that problems are
/// reported with.
#[derive(Deserialize)]
struct NamedService {
    name: String,
    #[serde(default)]
    probes: Vec<ProbeDecl>,
    #[serde(default)]
    depends_on: Vec<String>,
    #[serde(default, deserialize_with = "overrides")]
    alerts: BTreeMap<Rule, AlertOverride>,
    #[serde(default, deserialize_with = "some_runbook")]
    runbook: Option<String>,
}

impl<'de> Deserialize<'de> for ServiceList {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Shape;
        impl<'de> serde::de::Visitor<'de> for Shape {
            type Value = ServiceList;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of services by name, or a list of services")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<ServiceList, A::Error> {
                Deserialize::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(ServiceList::Map)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<ServiceList, A::Error> {
                Deserialize::deserialize(serde::de::value::SeqAccessDeserializer::new(seq)).map(ServiceList::List)
            }
        }
        deserializer.deserialize_any(Shape)
    }
}

impl<'de> Deserialize<'de> for ServiceItem {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Shape;
        impl<'de> serde::de::Visitor<'de> for Shape {
            type Value = ServiceItem;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a service name, or a map with `name`")
            }
            fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<ServiceItem, E> {
                Ok(ServiceItem::Name(name.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<ServiceItem, A::Error> {
                Deserialize::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(ServiceItem::Object)
            }
        }
        deserializer.deserialize_any(Shape)
    }
}
