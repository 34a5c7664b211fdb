//! The shape of `topology.yaml`. Only `nodes`, their `roles` and their
//! `depends_on` (node names, checked once every node is known) are ours;
//! everything else in the file (networks, vlans, addresses, notes, …)
//! belongs to the homelab repo and is ignored, not refused.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Deserialize)]
pub(super) struct TopologyFile {
    #[serde(default)]
    nodes: BTreeMap<String, Option<NodeDecl>>,
}

#[derive(Deserialize, Default)]
struct NodeDecl {
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    depends_on: Vec<String>,
    // Other keys (address, notes, …) belong to the homelab repo, not to us.
    #[serde(flatten)]
    _rest: BTreeMap<String, serde_yaml::Value>,
}

impl TopologyFile {
    /// Each node with its roles and the nodes it depends on, in name order.
    pub(super) fn into_nodes(self) -> impl Iterator<Item = (String, Vec<String>, Vec<String>)> {
        self.nodes.into_iter().map(|(name, decl)| {
            let decl = decl.unwrap_or_default();
            (name, decl.roles, decl.depends_on)
        })
    }
}
