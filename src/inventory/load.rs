//! Reading an inventory directory: where its files are in either layout,
//! and every problem found, each with its file and line (the same wording
//! `observer validate` prints). An inventory with problems is not used, so
//! nothing is skipped without a word: a file or directory that exists but
//! cannot be read is a problem too.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::ca_file;
use super::depends_on::{self, Declared, line_after};
use super::model::Inventory;
use super::name::check_name;
use super::probe::ProbeDef;
use super::services::{ServiceDecl, ServicesFile};
use super::topology::TopologyFile;
use crate::input_problem::InputProblem;

impl Inventory {
    /// Where the topology file of an inventory directory is, if anywhere.
    pub fn topology_path(dir: &Path) -> Option<PathBuf> {
        [dir.join("inventory").join("topology.yaml"), dir.join("topology.yaml")].into_iter().find(|path| path.is_file())
    }

    /// Reads an inventory directory. Every problem is returned, each with
    /// its file and line; an inventory with problems is not used.
    pub fn load(dir: &Path) -> Result<Inventory, Vec<InputProblem>> {
        if !dir.is_dir() {
            return Err(vec![InputProblem::new(dir, None, "the inventory directory does not exist")]);
        }
        let mut draft = Draft { dir: dir.to_path_buf(), ..Draft::default() };
        if let Some(path) = Inventory::topology_path(dir) {
            draft.add_topology(&path);
        }
        for hosts in [dir.join("hosts"), dir.join("inventory").join("hosts")] {
            for node_dir in draft.node_dirs(&hosts) {
                draft.add_node(&node_dir);
            }
        }
        draft.finish()
    }
}

/// An inventory being read, with the problems found so far.
#[derive(Default)]
struct Draft {
    /// The inventory directory, which relative `ca_file`s are read from.
    dir: PathBuf,
    inventory: Inventory,
    problems: Vec<InputProblem>,
    /// The `services.yaml` each node was read from, to refuse a second one.
    read_from: BTreeMap<String, PathBuf>,
    /// `depends_on` of nodes and of services, checked when all is read.
    node_depends_on: Vec<Declared>,
    service_depends_on: Vec<Declared>,
    /// Bad runbooks per file and value so far, to find each one's line.
    runbooks_seen: BTreeMap<(PathBuf, String), usize>,
}

impl Draft {
    fn add_topology(&mut self, path: &Path) {
        let (topology, text) = match read_yaml::<TopologyFile>(path) {
            Ok(read) => read,
            Err(problems) => {
                self.problems.extend(problems);
                return;
            }
        };
        for (name, roles, depends_on) in topology.into_nodes() {
            match check_name(&name) {
                Ok(()) => {
                    for on in depends_on {
                        let line = line_after(&text, &[&format!("{name}:"), "depends_on", &on]);
                        let from = name.clone();
                        self.node_depends_on.push(Declared { file: path.to_path_buf(), line, from, on });
                    }
                    self.inventory.nodes.insert(name, roles);
                }
                Err(message) => self.problems.push(InputProblem::new(path, None, format!("node `{name}`: {message}"))),
            }
        }
    }

    /// The node directories of a `hosts/` directory, in name order. A
    /// `hosts` that is missing (or not a directory) belongs to the other
    /// layout; one that cannot be read is a problem.
    fn node_dirs(&mut self, hosts: &Path) -> Vec<PathBuf> {
        let entries = match std::fs::read_dir(hosts) {
            Ok(entries) => entries,
            Err(e) if is_absent(&e) => return Vec::new(),
            Err(e) => {
                self.problems.push(InputProblem::new(hosts, None, format!("cannot read: {e}")));
                return Vec::new();
            }
        };
        let mut dirs = Vec::new();
        for entry in entries {
            match entry {
                Ok(entry) => dirs.push(entry.path()),
                Err(e) => self.problems.push(InputProblem::new(hosts, None, format!("cannot read: {e}"))),
            }
        }
        dirs.retain(|path| path.is_dir());
        dirs.sort();
        dirs
    }

    /// Reads `<node_dir>/services.yaml`, if there is one.
    fn add_node(&mut self, node_dir: &Path) {
        let node = node_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let path = node_dir.join("services.yaml");
        if node.starts_with('.') || !self.is_file(&path) {
            return;
        }
        if let Some(first) = self.read_from.get(&node) {
            let message = format!("node `{node}` is also declared in {}; keep one of the two", first.display());
            self.problems.push(InputProblem::new(&path, None, message));
            return;
        }
        self.read_from.insert(node.clone(), path.clone());
        let (file, text) = match read_yaml::<ServicesFile>(&path) {
            Ok(read) => read,
            Err(problems) => {
                self.problems.extend(problems);
                return;
            }
        };
        // Counts the `ca_file`s of this file by value, to find each one's line.
        let mut ca_files_seen = BTreeMap::new();
        for (service, decl) in file.into_services() {
            self.add_service(&path, &text, &node, service, decl, &mut ca_files_seen);
        }
        self.inventory.nodes.entry(node).or_default();
    }

    /// One service of `path` (whose `text` locates problems) and its probes.
    fn add_service(
        &mut self,
        path: &Path,
        text: &str,
        node: &str,
        service: String,
        decl: ServiceDecl,
        ca_files_seen: &mut BTreeMap<PathBuf, usize>,
    ) {
        if let Err(message) = check_name(&service) {
            let line = line_of(text, &service, 1);
            self.problems.push(InputProblem::new(path, line, format!("service `{service}`: {message}")));
            return;
        }
        let key = format!("{node}/{service}");
        for on in decl.depends_on {
            let line = line_after(text, &[&service, "depends_on", &on]);
            self.service_depends_on.push(Declared { file: path.to_path_buf(), line, from: key.clone(), on });
        }
        if let Some(runbook) = decl.runbook {
            match crate::runbook::check_in(&runbook, &self.dir) {
                Ok(()) => {
                    self.inventory.service_runbooks.insert(key.clone(), runbook);
                }
                Err(message) => {
                    let nth = self.runbooks_seen.entry((path.to_path_buf(), runbook.clone())).or_default();
                    *nth += 1;
                    let line = crate::runbook::line_of(text, &runbook, *nth);
                    self.problems.push(InputProblem::new(path, line, format!("service `{service}`: {message}")));
                }
            }
        }
        if !decl.alerts.is_empty() {
            self.inventory.service_alerts.insert(key, decl.alerts);
        }
        let mut seen = BTreeSet::new();
        for mut probe in decl.probes {
            if !seen.insert(probe.name.clone()) {
                self.problems.push(InputProblem::new(
                    path,
                    line_of(text, &format!("name: {}", probe.name), 2),
                    format!("service `{service}`: two probes are named `{}`; give each a distinct `name`", probe.name),
                ));
                continue;
            }
            if let Some(http) = probe.http_mut()
                && let Err(problem) = ca_file::read(http, &self.dir, path, ca_files_seen)
            {
                let message = format!("service `{service}`: probe `{}`: {}", probe.name, problem.message);
                self.problems.push(InputProblem { message, ..problem });
                continue;
            }
            self.inventory.probes.push(probe.under(node, &service));
        }
        self.inventory.services.entry(node.to_string()).or_default().insert(service);
    }

    /// Whether `path` is a file; a path that exists but cannot be looked at
    /// is a problem, not a missing file.
    fn is_file(&mut self, path: &Path) -> bool {
        match std::fs::metadata(path) {
            Ok(meta) => meta.is_file(),
            Err(e) if is_absent(&e) => false,
            Err(e) => {
                self.problems.push(InputProblem::new(path, None, format!("cannot read: {e}")));
                false
            }
        }
    }

    fn finish(mut self) -> Result<Inventory, Vec<InputProblem>> {
        self.inventory.probes.sort_by_key(ProbeDef::key);
        let (nodes, services) =
            (std::mem::take(&mut self.node_depends_on), std::mem::take(&mut self.service_depends_on));
        self.problems.extend(depends_on::resolve(&mut self.inventory, nodes, services));
        if self.problems.is_empty() { Ok(self.inventory) } else { Err(self.problems) }
    }
}

fn is_absent(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory)
}

/// The line of the `nth` occurrence of `needle` in a file's text, for
/// problems found after parsing (which keeps no positions).
fn line_of(text: &str, needle: &str, nth: usize) -> Option<u64> {
    let index = text.lines().enumerate().filter(|(_, line)| line.contains(needle)).nth(nth.saturating_sub(1))?.0;
    Some(index as u64 + 1)
}

/// A YAML file, parsed, with its text; or every problem in it
/// ([`crate::yaml_problems`]).
fn read_yaml<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<(T, String), Vec<InputProblem>> {
    let text =
        std::fs::read_to_string(path).map_err(|e| vec![InputProblem::new(path, None, format!("cannot read: {e}"))])?;
    let parsed = crate::yaml_problems::parse_all(&text, path)?;
    Ok((parsed, text))
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

    #[test]
    fn a_hosts_file_that_is_not_a_directory_belongs_to_the_homelab() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "hosts", "127.0.0.1 localhost\n");
        assert_eq!(Inventory::load(dir.path()), Ok(Inventory::default()));
    }

    /// Issue 9: an unreadable `hosts/` was skipped without a word, and the
    /// services of every node in it silently went missing.
    #[test]
    fn an_unreadable_hosts_directory_is_a_problem_with_its_path() {
        // A symlink loop cannot be read even by root.
        let dir = tempfile::tempdir().unwrap();
        let looped = dir.path().join("hosts");
        std::os::unix::fs::symlink(&looped, &looped).unwrap();
        let problems = Inventory::load(dir.path()).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].file, looped);
        assert_eq!(problems[0].line, None);
        assert!(
            problems[0].to_string().starts_with(&format!("{}: cannot read: ", looped.display())),
            "{}",
            problems[0]
        );
    }

    #[test]
    fn a_hosts_directory_without_permission_is_a_problem() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "hosts/saturn/services.yaml", "services: [mosquitto]\n");
        let hosts = dir.path().join("hosts");
        std::fs::set_permissions(&hosts, std::fs::Permissions::from_mode(0o000)).unwrap();
        let readable = std::fs::read_dir(&hosts).is_ok();
        let loaded = Inventory::load(dir.path());
        std::fs::set_permissions(&hosts, std::fs::Permissions::from_mode(0o755)).unwrap();
        if readable {
            // Root reads it anyway: nothing to report, and nothing missing.
            assert!(loaded.unwrap().services["saturn"].contains("mosquitto"));
            return;
        }
        let problems = loaded.unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].file, hosts);
        assert!(problems[0].message.starts_with("cannot read: "), "{}", problems[0]);
    }
}
