//! The homelab inventory: which nodes exist, their roles, and the services
//! each host runs. Optional: without it the world holds what events reveal.
//!
//! Two layouts are read (SPEC §1): `DIR/inventory/topology.yaml` or the flat
//! `DIR/topology.yaml`, and `DIR/hosts/<node>/services.yaml` (also looked for
//! under `DIR/inventory/hosts/`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{BreakerOverrides, DebounceOverrides};
use crate::event::Outcome;
use crate::input_problem::InputProblem;
use crate::probe::{Check, CommandCheck, DiskCheck, HttpCheck, PathCheck, TcpCheck};

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Inventory {
    /// Node name to its roles.
    pub nodes: BTreeMap<String, Vec<String>>,
    /// Node name to the services declared for it.
    pub services: BTreeMap<String, BTreeSet<String>>,
    /// Every probe declared, in `node/service/probe` order.
    pub probes: Vec<ProbeDef>,
}

/// A probe declared under a service in `services.yaml` (SPEC §5).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProbeDef {
    pub node: String,
    pub service: String,
    /// Unique within the service; defaults to the check's kind (`tcp`, …).
    pub name: String,
    pub check: Check,
    /// Milliseconds between runs, when the probe sets `interval`.
    pub interval_ms: Option<u64>,
    /// Milliseconds a run may take, when the probe sets `timeout`.
    pub timeout_ms: Option<u64>,
    pub timeout_outcome: Option<Outcome>,
    pub breaker: BreakerOverrides,
    pub debounce: DebounceOverrides,
}

impl ProbeDef {
    /// `node/service/probe`, the key of the probe in the engine.
    pub fn key(&self) -> String {
        crate::engine::probe_key(&self.node, &self.service, &self.name)
    }
}

/// One entry of a service's `probes:` list: exactly one check key, plus
/// scheduling and overrides. Checked while parsing, so problems carry a line.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProbe {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    tcp: Option<TcpCheck>,
    #[serde(default)]
    http: Option<HttpCheck>,
    #[serde(default)]
    command: Option<CommandCheck>,
    #[serde(default)]
    path: Option<PathCheck>,
    #[serde(default)]
    disk: Option<DiskCheck>,
    #[serde(default)]
    interval: Option<DurationSpec>,
    #[serde(default)]
    timeout: Option<DurationSpec>,
    #[serde(default)]
    timeout_outcome: Option<Outcome>,
    #[serde(default)]
    breaker: Option<BreakerOverrides>,
    #[serde(default)]
    debounce: Option<DebounceOverrides>,
}

#[derive(Deserialize)]
#[serde(try_from = "RawProbe")]
struct ProbeDecl {
    name: String,
    check: Check,
    interval_ms: Option<u64>,
    timeout_ms: Option<u64>,
    timeout_outcome: Option<Outcome>,
    breaker: BreakerOverrides,
    debounce: DebounceOverrides,
}

impl TryFrom<RawProbe> for ProbeDecl {
    type Error = String;

    fn try_from(raw: RawProbe) -> Result<ProbeDecl, String> {
        let mut checks: Vec<Check> = [
            raw.tcp.map(Check::Tcp),
            raw.http.map(Check::Http),
            raw.command.map(Check::Command),
            raw.path.map(Check::Path),
            raw.disk.map(Check::Disk),
        ]
        .into_iter()
        .flatten()
        .collect();
        let label = raw.name.as_deref().map(|n| format!("probe `{n}`: ")).unwrap_or_else(|| "probe: ".into());
        if checks.len() != 1 {
            return Err(format!("{label}give exactly one of tcp, http, command, path, disk (found {})", checks.len()));
        }
        let check = checks.remove(0);
        check_check(&check).map_err(|e| format!("{label}{e}"))?;
        let name = raw.name.unwrap_or_else(|| check.kind().to_string());
        check_name(&name).map_err(|e| format!("probe `{name}`: {e}"))?;
        if raw.timeout.as_ref().is_some_and(|t| t.0 == 0) {
            return Err(format!("{label}a timeout of 0 would fail every run"));
        }
        if raw.timeout_outcome == Some(Outcome::Skipped) {
            return Err(format!("{label}timeout_outcome may be ok, warning, critical or unknown"));
        }
        Ok(ProbeDecl {
            name,
            check,
            interval_ms: raw.interval.map(|d| d.0),
            timeout_ms: raw.timeout.map(|d| d.0),
            timeout_outcome: raw.timeout_outcome,
            breaker: raw.breaker.unwrap_or_default(),
            debounce: raw.debounce.unwrap_or_default(),
        })
    }
}

fn check_check(check: &Check) -> Result<(), String> {
    match check {
        Check::Tcp(c) if c.host.trim().is_empty() || c.port == 0 => Err("tcp needs a host and a port above 0".into()),
        Check::Http(c) if !(c.url.starts_with("http://") || c.url.starts_with("https://")) => {
            Err(format!("http url `{}` must start with http:// or https://", c.url))
        }
        Check::Command(c) if c.argv.is_empty() || c.argv[0].is_empty() => {
            Err("command needs its argv: a list whose first item is the program".into())
        }
        Check::Disk(c)
            if c.min_free_percent.is_none() && c.min_free_bytes.is_none() && c.warn_free_percent.is_none() =>
        {
            Err("disk needs min_free_percent, min_free_bytes or warn_free_percent".into())
        }
        Check::Disk(c)
            if [c.min_free_percent, c.warn_free_percent].iter().flatten().any(|p| !(0.0..=100.0).contains(p)) =>
        {
            Err("disk percentages must be between 0 and 100".into())
        }
        _ => Ok(()),
    }
}

/// A duration: a number of seconds, or a string like `500ms`, `30s`, `5m`,
/// `1h`. Held in milliseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DurationSpec(pub u64);

impl<'de> Deserialize<'de> for DurationSpec {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Seconds(u64),
            Text(String),
        }
        let parse = |text: &str| -> Option<u64> {
            let text = text.trim();
            let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
            let (number, unit) = text.split_at(split);
            let number: u64 = number.parse().ok()?;
            let factor = match unit.trim() {
                "ms" => 1,
                "" | "s" => 1000,
                "m" => 60_000,
                "h" => 3_600_000,
                _ => return None,
            };
            number.checked_mul(factor)
        };
        match Raw::deserialize(deserializer)? {
            Raw::Seconds(seconds) => Ok(DurationSpec(seconds.saturating_mul(1000))),
            Raw::Text(text) => parse(&text).map(DurationSpec).ok_or_else(|| {
                serde::de::Error::custom(format!("`{text}` is not a duration (like 500ms, 30s, 5m, 1h, or seconds)"))
            }),
        }
    }
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

/// What observer reads of a service declaration; other keys belong to the
/// homelab repo.
#[derive(Deserialize, Default)]
struct ServiceDecl {
    #[serde(default)]
    probes: Vec<ProbeDecl>,
}

/// `services:` may be a map keyed by name, a list of names, or a list of
/// objects with a `name` (and `probes`). Told apart by the YAML shape, not by
/// trial, so that errors inside keep their message and line.
enum ServiceList {
    Map(BTreeMap<String, Option<ServiceDecl>>),
    List(Vec<ServiceItem>),
}

enum ServiceItem {
    Name(String),
    Object(NamedService),
}

#[derive(Deserialize)]
struct NamedService {
    name: String,
    #[serde(default)]
    probes: Vec<ProbeDecl>,
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
    pub fn load(dir: &Path) -> Result<Inventory, Vec<InputProblem>> {
        let mut inventory = Inventory::default();
        let mut problems = Vec::new();
        if !dir.is_dir() {
            return Err(vec![InputProblem::new(dir, None, "the inventory directory does not exist")]);
        }
        if let Some(path) = Inventory::topology_path(dir) {
            match read_yaml::<TopologyFile>(&path) {
                Ok(topology) => {
                    for (name, decl) in topology.nodes {
                        if let Err(message) = check_name(&name) {
                            problems.push(InputProblem::new(&path, None, format!("node `{name}`: {message}")));
                            continue;
                        }
                        inventory.nodes.insert(name, decl.unwrap_or_default().roles);
                    }
                }
                Err(problem) => problems.push(problem),
            }
        }
        let mut read_from: BTreeMap<String, PathBuf> = BTreeMap::new();
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
                if let Some(first) = read_from.get(&node) {
                    problems.push(InputProblem::new(
                        &path,
                        None,
                        format!("node `{node}` is also declared in {}; keep one of the two", first.display()),
                    ));
                    continue;
                }
                read_from.insert(node.clone(), path.clone());
                match read_yaml::<ServicesFile>(&path) {
                    Ok(file) => {
                        let declared: Vec<(String, Vec<ProbeDecl>)> = match file.services {
                            None => Vec::new(),
                            Some(ServiceList::Map(map)) => {
                                map.into_iter().map(|(name, decl)| (name, decl.unwrap_or_default().probes)).collect()
                            }
                            Some(ServiceList::List(items)) => items
                                .into_iter()
                                .map(|item| match item {
                                    ServiceItem::Name(name) => (name, Vec::new()),
                                    ServiceItem::Object(service) => (service.name, service.probes),
                                })
                                .collect(),
                        };
                        for (name, probes) in declared {
                            if let Err(message) = check_name(&name) {
                                let line = line_of(&path, &name, 1);
                                problems.push(InputProblem::new(&path, line, format!("service `{name}`: {message}")));
                                continue;
                            }
                            let mut seen = BTreeSet::new();
                            for probe in probes {
                                if !seen.insert(probe.name.clone()) {
                                    problems.push(InputProblem::new(
                                        &path,
                                        line_of(&path, &format!("name: {}", probe.name), 2),
                                        format!(
                                            "service `{name}`: two probes are named `{}`; give each a distinct `name`",
                                            probe.name
                                        ),
                                    ));
                                    continue;
                                }
                                inventory.probes.push(ProbeDef {
                                    node: node.clone(),
                                    service: name.clone(),
                                    name: probe.name,
                                    check: probe.check,
                                    interval_ms: probe.interval_ms,
                                    timeout_ms: probe.timeout_ms,
                                    timeout_outcome: probe.timeout_outcome,
                                    breaker: probe.breaker,
                                    debounce: probe.debounce,
                                });
                            }
                            inventory.services.entry(node.clone()).or_default().insert(name);
                        }
                        inventory.nodes.entry(node.clone()).or_default();
                    }
                    Err(problem) => problems.push(problem),
                }
            }
        }
        inventory.probes.sort_by_key(ProbeDef::key);
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

/// The line of the `nth` occurrence of `needle` in a file, for problems
/// found after parsing (which keeps no positions).
fn line_of(path: &Path, needle: &str, nth: usize) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let index = text.lines().enumerate().filter(|(_, line)| line.contains(needle)).nth(nth.saturating_sub(1))?.0;
    Some(index as u64 + 1)
}

fn read_yaml<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, InputProblem> {
    let text = std::fs::read_to_string(path).map_err(|e| InputProblem::new(path, None, format!("cannot read: {e}")))?;
    serde_yaml::from_str(&text).map_err(|e| InputProblem::from_yaml(path, &e))
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
