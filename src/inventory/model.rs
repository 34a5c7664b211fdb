//! What the inventory says once it is read: plain data, no IO, so that the
//! world and the prober can take it as given.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::probe::ProbeDef;

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Inventory {
    /// Node name to its roles.
    pub nodes: BTreeMap<String, Vec<String>>,
    /// Node name to the services declared for it.
    pub services: BTreeMap<String, BTreeSet<String>>,
    /// Every probe declared, in `node/service/probe` order.
    pub probes: Vec<ProbeDef>,
}
