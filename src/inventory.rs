//! The homelab inventory: which nodes exist, their roles, and the services
//! each host runs. Optional: without it the world holds what events reveal.
//!
//! Two layouts are read (SPEC §1): `DIR/inventory/topology.yaml` or the flat
//! `DIR/topology.yaml`, and `DIR/hosts/<node>/services.yaml` (also looked for
//! under `DIR/inventory/hosts/`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::problem::Problem;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Inventory {
    /// Node name to its roles.
    pub nodes: BTreeMap<String, Vec<String>>,
    /// Node name to the services declared for it.
    pub services: BTreeMap<String, BTreeSet<String>>,
}

/// Only `nodes` is ours; other top-level keys (networks, vlans, …) belong
/// to the homelab repo and are ignored.
#[derive(Deserialize)]
struct TopologyFile {
    #[serde(default)]
    nodes: BTreeMap<String, Option<NodeDecl>>,
}

#[derive(Deserialize, Default)]
struct NodeDecl {
    #[serde(default)]
    roles: Vec<String>,
    // Other keys (address, notes, …) belong to the homelab repo, not to us.
    #[serde(flatten)]
    _rest: BTreeMap<String, serde_yaml::Value>,
}

#[derive(Deserialize)]
struct ServicesFile {
    #[serde(default)]
    services: Option<ServiceList>,
}

/// `services:` may be a map keyed by name, a list of names, or a list of
/// objects with a `name`.
#[derive(Deserialize)]
#[serde(untagged)]
enum ServiceList {
    Map(BTreeMap<String, serde_yaml::Value>),
    List(Vec<ServiceItem>),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ServiceItem {
    Name(String),
    Object { name: String },
}

impl Inventory {
    /// Where the topology file of an inventory directory is, if anywhere.
    pub fn topology_path(dir: &Path) -> Option<PathBuf> {
        [dir.join("inventory").join("topology.yaml"), dir.join("topology.yaml")].into_iter().find(|path| path.is_file())
    }

    fn hosts_dirs(dir: &Path) -> Vec<PathBuf> {
        [dir.join("hosts"), dir.join("inventory").join("hosts")].into_iter().filter(|path| path.is_dir()).collect()
    }

    /// Reads an inventory directory. Every problem is returned, each with
    /// its file and line; an inventory with problems is not used.
    pub fn load(dir: &Path) -> Result<Inventory, Vec<Problem>> {
        let mut inventory = Inventory::default();
        let mut problems = Vec::new();
        if !dir.is_dir() {
            return Err(vec![Problem::new(dir, None, "the inventory directory does not exist")]);
        }
        if let Some(path) = Inventory::topology_path(dir) {
            match read_yaml::<TopologyFile>(&path) {
                Ok(topology) => {
                    for (name, decl) in topology.nodes {
                        if let Err(message) = check_name(&name) {
                            problems.push(Problem::new(&path, None, format!("node `{name}`: {message}")));
                            continue;
                        }
                        inventory.nodes.insert(name, decl.unwrap_or_default().roles);
                    }
                }
                Err(problem) => problems.push(problem),
            }
        }
        for hosts in Inventory::hosts_dirs(dir) {
            let Ok(entries) = std::fs::read_dir(&hosts) else { continue };
            let mut nodes: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
            nodes.sort();
            for node_dir in nodes {
                let node = node_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let path = node_dir.join("services.yaml");
                if node.starts_with('.') || !path.is_file() {
                    continue;
                }
                match read_yaml::<ServicesFile>(&path) {
                    Ok(file) => {
                        let names: Vec<String> = match file.services {
                            None => Vec::new(),
                            Some(ServiceList::Map(map)) => map.into_keys().collect(),
                            Some(ServiceList::List(items)) => items
                                .into_iter()
                                .map(|item| match item {
                                    ServiceItem::Name(name) | ServiceItem::Object { name } => name,
                                })
                                .collect(),
                        };
                        for name in names {
                            match check_name(&name) {
                                Ok(()) => {
                                    inventory.services.entry(node.clone()).or_default().insert(name);
                                }
                                Err(message) => {
                                    problems.push(Problem::new(&path, None, format!("service `{name}`: {message}")))
                                }
                            }
                        }
                        inventory.nodes.entry(node.clone()).or_default();
                    }
                    Err(problem) => problems.push(problem),
                }
            }
        }
        if problems.is_empty() { Ok(inventory) } else { Err(problems) }
    }
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.contains('/') || name.chars().any(char::is_control) {
        Err("names may not be empty or contain `/` or control characters".into())
    } else {
        Ok(())
    }
}

fn read_yaml<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, Problem> {
    let text = std::fs::read_to_string(path).map_err(|e| Problem::new(path, None, format!("cannot read: {e}")))?;
    serde_yaml::from_str(&text).map_err(|e| Problem::from_yaml(path, &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, text: &str) {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn reads_both_layouts() {
        for topology in ["inventory/topology.yaml", "topology.yaml"] {
            let dir = tempfile::tempdir().unwrap();
            write(dir.path(), topology, "nodes:\n  saturn:\n    roles: [mqtt]\n    address: 10.0.0.2\n  venus:\n");
            write(dir.path(), "hosts/saturn/services.yaml", "services:\n  mosquitto:\n    port: 1883\n");
            write(dir.path(), "hosts/venus/services.yaml", "services: [grafana, {name: loki}]\n");
            let inventory = Inventory::load(dir.path()).unwrap();
            assert_eq!(inventory.nodes["saturn"], vec!["mqtt".to_string()]);
            assert!(inventory.nodes["venus"].is_empty());
            assert!(inventory.services["saturn"].contains("mosquitto"));
            assert_eq!(inventory.services["venus"].len(), 2);
        }
    }

    #[test]
    fn a_broken_file_is_reported_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "topology.yaml", "nodes:\n  saturn:\n    roles: [mqtt\n");
        let problems = Inventory::load(dir.path()).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert!(problems[0].file.ends_with("topology.yaml"));
        assert!(problems[0].line.is_some());
    }
}
