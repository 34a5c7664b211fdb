//! `nodes.json`: every node the inventory declares or the events speak of,
//! with its status as of the engine clock.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{SCHEMA_VERSION, WorldFile};
use crate::config::Config;
use crate::engine::{Engine, Incident, NodeStatus, ServiceState};
use crate::inventory::Inventory;
use crate::time::Ts;

/// The file as a whole. Borrowed from the engine when written, owned when
/// `status` reads it back: one type, so the reader cannot drift from the
/// writer.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct NodesFile<'a> {
    pub schema_version: u32,
    pub as_of: Option<Ts>,
    pub nodes: BTreeMap<Cow<'a, str>, NodeView<'a>>,
}

impl WorldFile for NodesFile<'_> {
    const NAME: &'static str = "nodes.json";
}

#[derive(Serialize, Deserialize, JsonSchema)]
pub struct NodeView<'a> {
    pub roles: Cow<'a, [String]>,
    pub status: NodeStatus,
    pub last_seen: Option<Ts>,
    pub services: Vec<Cow<'a, str>>,
    pub active_incidents: Vec<Cow<'a, str>>,
}

/// The status of a node as of the clock: `up` turns `stale` when its last
/// heartbeat is older than `stale_after_s`.
pub fn node_status(engine: &Engine, name: &str, config: &Config) -> NodeStatus {
    let Some(state) = engine.nodes().get(name) else { return NodeStatus::Unknown };
    match (state.status, state.last_seen, engine.clock()) {
        (NodeStatus::Up, Some(seen), Some(clock)) if seen < clock.minus_seconds(config.nodes.stale_after_s) => {
            NodeStatus::Stale
        }
        (status, _, _) => status,
    }
}

/// The nodes of the inventory, of the events, and of the services (a
/// service names its node even when the node itself never reported).
pub(super) fn project<'a>(
    engine: &'a Engine,
    inventory: &'a Inventory,
    config: &Config,
    services: &'a BTreeMap<String, ServiceState>,
    active: &[&'a Incident],
) -> NodesFile<'a> {
    let mut node_names: BTreeSet<&str> = inventory.nodes.keys().map(String::as_str).collect();
    node_names.extend(engine.nodes().iter_unordered().map(|(name, _)| name.as_str()));
    node_names.extend(services.values().map(|s| s.node.as_str()));
    let mut nodes = BTreeMap::new();
    for name in node_names {
        let state = engine.nodes().get(name);
        nodes.insert(
            Cow::Borrowed(name),
            NodeView {
                roles: Cow::Borrowed(inventory.nodes.get(name).map_or(&[][..], Vec::as_slice)),
                status: node_status(engine, name, config),
                last_seen: state.and_then(|s| s.last_seen),
                services: services
                    .values()
                    .filter(|s| s.node == name)
                    .map(|s| Cow::Borrowed(s.service.as_str()))
                    .collect(),
                active_incidents: active
                    .iter()
                    .filter(|i| i.node == name)
                    .map(|i| Cow::Borrowed(i.id.as_str()))
                    .collect(),
            },
        );
    }
    NodesFile { schema_version: SCHEMA_VERSION, as_of: engine.clock(), nodes }
}
