//! `depends_on` of nodes (in `topology.yaml`) and of services (in
//! `services.yaml`), checked once the whole inventory is read: each names
//! something declared, and no chain of them leads back to where it started
//! (suppression follows these edges, so a cycle would let two problems hide
//! each other).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::model::Inventory;
use crate::input_problem::InputProblem;

/// One `depends_on` entry as written, with where it was written.
pub(super) struct Declared {
    pub(super) file: PathBuf,
    pub(super) line: Option<u64>,
    /// The node, or the service as `node/service`.
    pub(super) from: String,
    /// As written: a node; a service of the same node; or `node/service`.
    pub(super) on: String,
}

/// Fills in the inventory's `depends_on` maps from what was declared, and
/// returns every problem: an unknown node or service, a cycle.
pub(super) fn resolve(inventory: &mut Inventory, nodes: Vec<Declared>, services: Vec<Declared>) -> Vec<InputProblem> {
    let mut problems = Vec::new();
    let mut node_lines = BTreeMap::new();
    for declared in nodes {
        if !inventory.nodes.contains_key(&declared.on) {
            let known: Vec<&str> = inventory.nodes.keys().map(String::as_str).collect();
            problems.push(problem(
                &declared,
                format!(
                    "node `{}` depends on `{}`, which is not a node; the nodes are {}",
                    declared.from,
                    declared.on,
                    known.join(", ")
                ),
            ));
            continue;
        }
        node_lines.insert((declared.from.clone(), declared.on.clone()), (declared.file.clone(), declared.line));
        inventory.node_depends_on.entry(declared.from).or_default().push(declared.on);
    }
    let mut service_lines = BTreeMap::new();
    for declared in services {
        let (node, _) = declared.from.split_once('/').unwrap_or((&declared.from, ""));
        let on = if declared.on.contains('/') { declared.on.clone() } else { format!("{node}/{}", declared.on) };
        let (on_node, on_service) = on.split_once('/').unwrap_or((&on, ""));
        if !inventory.services.get(on_node).is_some_and(|declared| declared.contains(on_service)) {
            problems.push(problem(
                &declared,
                format!(
                    "service `{}` depends on `{on}`, which is not declared (write `service` for one of node \
                     {node}, or `node/service`)",
                    declared.from
                ),
            ));
            continue;
        }
        service_lines.insert((declared.from.clone(), on.clone()), (declared.file.clone(), declared.line));
        inventory.service_depends_on.entry(declared.from).or_default().push(on);
    }
    for (graph, lines, what) in [
        (&inventory.node_depends_on, &node_lines, "nodes"),
        (&inventory.service_depends_on, &service_lines, "services"),
    ] {
        if let Some(cycle) = first_cycle(graph) {
            let closing = (cycle[cycle.len() - 2].clone(), cycle[cycle.len() - 1].clone());
            let (file, line) = lines.get(&closing).cloned().unwrap_or_default();
            problems.push(InputProblem::new(
                &file,
                line,
                format!("the depends_on of {what} go round in a circle: {}; remove one of them", cycle.join(" → ")),
            ));
        }
    }
    problems
}

fn problem(declared: &Declared, message: String) -> InputProblem {
    InputProblem::new(&declared.file, declared.line, message)
}

/// A cycle of the graph, as the path that closes it (`a → b → a`), if any;
/// the same one every time (the graph is walked in name order).
fn first_cycle(graph: &BTreeMap<String, Vec<String>>) -> Option<Vec<String>> {
    let mut done = BTreeSet::new();
    for start in graph.keys() {
        let mut path = Vec::new();
        if let Some(cycle) = walk(graph, start, &mut path, &mut done) {
            return Some(cycle);
        }
    }
    None
}

/// Depth first from `at`, with `path` the way here.
fn walk(
    graph: &BTreeMap<String, Vec<String>>,
    at: &str,
    path: &mut Vec<String>,
    done: &mut BTreeSet<String>,
) -> Option<Vec<String>> {
    if let Some(from) = path.iter().position(|on_path| on_path == at) {
        let mut cycle = path[from..].to_vec();
        cycle.push(at.to_string());
        return Some(cycle);
    }
    if done.contains(at) {
        return None;
    }
    path.push(at.to_string());
    for next in graph.get(at).into_iter().flatten() {
        if let Some(cycle) = walk(graph, next, path, done) {
            return Some(cycle);
        }
    }
    path.pop();
    done.insert(at.to_string());
    None
}

/// The line of `needles`, each looked for from the line of the one before
/// (the node or service, then `depends_on`, then the entry), for problems
/// found after parsing, which keeps no positions. The deepest one found.
pub(super) fn line_after(text: &str, needles: &[&str]) -> Option<u64> {
    let lines: Vec<&str> = text.lines().collect();
    let mut at = None;
    let mut from = 0;
    for needle in needles {
        match lines.iter().skip(from).position(|line| line.contains(needle)) {
            Some(offset) => {
                from += offset;
                at = Some(from as u64 + 1);
            }
            None => break,
        }
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &str)]) -> BTreeMap<String, Vec<String>> {
        let mut graph: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (from, on) in edges {
            graph.entry(from.to_string()).or_default().push(on.to_string());
        }
        graph
    }

    #[test]
    fn cycles_are_found_with_their_path() {
        assert_eq!(first_cycle(&graph(&[("a", "b"), ("b", "c"), ("a", "c")])), None, "a diamond is no cycle");
        assert_eq!(
            first_cycle(&graph(&[("a", "b"), ("b", "c"), ("c", "a")])),
            Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
        );
        assert_eq!(first_cycle(&graph(&[("a", "a")])), Some(vec!["a".into(), "a".into()]));
    }

    #[test]
    fn the_line_is_that_of_the_entry_under_its_owner() {
        let text = "services:\n  mosquitto: {}\n  zigbee2mqtt:\n    depends_on:\n      - mosquitto\n";
        assert_eq!(line_after(text, &["zigbee2mqtt", "depends_on", "mosquitto"]), Some(5));
        assert_eq!(line_after(text, &["zigbee2mqtt", "depends_on", "gone"]), Some(4));
    }
}
