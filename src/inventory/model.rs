//! What the inventory says once it is read: plain data, no IO, so that the
//! world and the prober can take it as given.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::alerts::AlertOverride;
use super::probe::ProbeDef;
use crate::engine::alerts::Rule;

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Inventory {
    /// Node name to its roles.
    pub nodes: BTreeMap<String, Vec<String>>,
    /// Node name to the services declared for it.
    pub services: BTreeMap<String, BTreeSet<String>>,
    /// Every probe declared, in `node/service/probe` order.
    pub probes: Vec<ProbeDef>,
    /// `depends_on` of nodes: node → the nodes it depends on.
    pub node_depends_on: BTreeMap<String, Vec<String>>,
    /// `depends_on` of services: `node/service` → the `node/service`s it
    /// depends on.
    pub service_depends_on: BTreeMap<String, Vec<String>>,
    /// Each service's own alert settings (`alerts:`), by `node/service`.
    pub service_alerts: BTreeMap<String, BTreeMap<Rule, AlertOverride>>,
    /// Each service's `runbook`, by `node/service`, as written (a path
    /// relative to the inventory directory, checked to be inside it).
    pub service_runbooks: BTreeMap<String, String>,
}
