//! Which entity an ID names, and the stretch of engine time that explains
//! it, looked up in the world files and, for what left the hot view, in
//! `world/history/`. The order of the look-up is the order of the kinds in
//! the error message: incident id, alert key, deployment or correlation id,
//! `node/service`, node.

use std::path::Path;

use serde_json::Value;

use super::{Kind, Scope};
use crate::store::history;
use crate::time::Ts;

/// An entity found, with its stretch of time.
pub struct Target {
    pub kind: Kind,
    pub id: String,
    pub scope: Scope,
    /// Where it was found, relative to the world directory.
    pub found_in: String,
    /// Its record there, compared with the replay's at the end.
    pub record: Option<Value>,
    pub from: Ts,
    pub to: Ts,
}

/// Looks `id` up; `Err` holds the close matches among the IDs known.
pub fn resolve(world: &Path, id: &str) -> Result<Target, Vec<String>> {
    let files = World::read(world);
    let as_of = files.as_of();
    let ts = |record: &Value, field: &str| record.get(field).and_then(Value::as_str).and_then(|t| Ts::parse(t).ok());
    let text = |record: &Value, field: &str| record.get(field).and_then(Value::as_str).map(str::to_string);
    let found = |kind, scope, found_in: String, record: &Value, from: Option<Ts>, to: Option<Ts>| Target {
        kind,
        id: id.to_string(),
        scope,
        found_in,
        record: Some(record.clone()),
        from: from.or(to).unwrap_or(as_of),
        to: to.unwrap_or(as_of),
    };
    let incident_target = |record: &Value, found_in: String| {
        let scope = Scope::service(text(record, "node"), text(record, "service")).with_incident(text(record, "id"));
        let mut target =
            found(Kind::Incident, scope, found_in, record, ts(record, "started_at"), ts(record, "resolved_at"));
        target.id = text(record, "id").unwrap_or_else(|| id.to_string());
        target
    };
    if let Some((record, found_in)) = files.find("incidents", |key, _| key == id) {
        return Ok(incident_target(&record, found_in));
    }
    if let Some((record, found_in)) = files.find("alerts", |key, _| key == id) {
        let mut scope = Scope::service(text(&record, "node"), text(&record, "service")).with_alert(id);
        if let Some(subject) = id.strip_prefix("deployment_stuck:") {
            scope = Scope::deployment(subject).with_alert(id);
        } else if record.get("service").is_none_or(Value::is_null) {
            scope.node_level = true;
        }
        let from = ts(&record, "since").or_else(|| ts(&record, "fired_at"));
        return Ok(found(Kind::Alert, scope, found_in, &record, from, ts(&record, "resolved_at")));
    }
    if let Some((record, found_in)) = files.find("deployments", |key, _| key == id) {
        let from = ts(&record, "started_at");
        return Ok(found(Kind::Deployment, Scope::deployment(id), found_in, &record, from, ts(&record, "ended_at")));
    }
    let by_correlation = |_: &str, record: &Value| record.get("correlation_id").and_then(Value::as_str) == Some(id);
    if let Some((record, found_in)) = files.find("incidents", by_correlation) {
        return Ok(incident_target(&record, found_in));
    }
    if let Some((node, service)) = id.split_once('/')
        && let Some(record) = files.services.as_ref().and_then(|s| s.get("services")?.get(id))
    {
        // The service's latest incident in the hot view, if any, else its
        // current status, opens the stretch.
        let latest = files
            .map("incidents")
            .filter(|(_, r)| r.get("node").and_then(Value::as_str) == Some(node))
            .filter(|(_, r)| r.get("service").and_then(Value::as_str) == Some(service))
            .filter_map(|(_, r)| ts(r, "started_at"))
            .max();
        let from = latest.or_else(|| ts(record, "since"));
        let scope = Scope::service(Some(node.into()), Some(service.into()));
        return Ok(found(Kind::Service, scope, "services.json".into(), record, from, None));
    }
    if let Some(record) = files.nodes.as_ref().and_then(|n| n.get("nodes")?.get(id)) {
        let mut scope = Scope::service(Some(id.into()), None);
        scope.node_level = true;
        return Ok(found(Kind::Node, scope, "nodes.json".into(), record, ts(record, "last_seen"), None));
    }
    Err(files.close_to(id))
}

/// The world files the look-up reads, and the history lines.
struct World {
    incidents: Option<Value>,
    alerts: Option<Value>,
    deployments: Option<Value>,
    services: Option<Value>,
    nodes: Option<Value>,
    summary: Option<Value>,
    /// `(file name, line)` of every history file, newest month first.
    history: Vec<(String, String)>,
}

impl World {
    fn read(world: &Path) -> World {
        let json = |name: &str| {
            std::fs::read(world.join(name)).ok().and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        };
        let mut history = Vec::new();
        let mut names: Vec<String> = std::fs::read_dir(world.join(history::DIR))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| history::is_history_file(name))
            .collect();
        names.sort_by(|a, b| b.cmp(a));
        for name in names {
            let text = std::fs::read_to_string(world.join(history::DIR).join(&name)).unwrap_or_default();
            history.extend(text.lines().rev().map(|line| (name.clone(), line.to_string())));
        }
        World {
            incidents: json("incidents.json"),
            alerts: json("alerts.json"),
            deployments: json("deployments.json"),
            services: json("services.json"),
            nodes: json("nodes.json"),
            summary: json("runtime-summary.json"),
            history,
        }
    }

    fn as_of(&self) -> Ts {
        let as_of = self.summary.as_ref().and_then(|s| s.get("as_of")?.as_str().map(str::to_string));
        as_of.and_then(|t| Ts::parse(&t).ok()).unwrap_or_default()
    }

    fn file(&self, kind: &str) -> Option<&Value> {
        match kind {
            "incidents" => self.incidents.as_ref(),
            "alerts" => self.alerts.as_ref(),
            "deployments" => self.deployments.as_ref(),
            _ => None,
        }
    }

    /// The entries of a world file's map, by key.
    fn map(&self, kind: &str) -> impl Iterator<Item = (&String, &Value)> {
        self.file(kind).and_then(|f| f.get(kind)?.as_object()).into_iter().flatten()
    }

    /// The first entry of `kind` that `matches`: in the world file, else
    /// the newest history line.
    fn find(&self, kind: &str, matches: impl Fn(&str, &Value) -> bool) -> Option<(Value, String)> {
        if let Some((_, record)) = self.map(kind).filter(|(key, record)| matches(key, record)).last() {
            return Some((record.clone(), format!("{kind}.json")));
        }
        let key_field =
            if kind == "deployments" { "correlation_id" } else { if kind == "alerts" { "key" } else { "id" } };
        let prefix = format!("{kind}-");
        self.history.iter().filter(|(name, _)| name.starts_with(&prefix)).find_map(|(name, line)| {
            let record: Value = serde_json::from_str(line).ok()?;
            let key = record.get(key_field).and_then(Value::as_str).unwrap_or_default().to_string();
            matches(&key, &record).then(|| (record, format!("{}/{name}", history::DIR)))
        })
    }

    /// Known IDs that look like `id`: containing it, contained in it, or
    /// at most two edits away. At most five, sorted.
    fn close_to(&self, id: &str) -> Vec<String> {
        let mut known: Vec<String> = Vec::new();
        for kind in ["incidents", "alerts", "deployments"] {
            known.extend(self.map(kind).map(|(key, _)| key.clone()));
        }
        for (file, field) in [(&self.services, "services"), (&self.nodes, "nodes")] {
            known.extend(
                file.as_ref().and_then(|f| f.get(field)?.as_object()).into_iter().flatten().map(|(k, _)| k.clone()),
            );
        }
        let wanted = id.to_lowercase();
        let mut close: Vec<String> = known
            .into_iter()
            .filter(|key| {
                let key = key.to_lowercase();
                (wanted.len() >= 3 && key.contains(&wanted))
                    || (key.len() >= 3 && wanted.contains(&key))
                    || edits(&key, &wanted) <= 2
            })
            .collect();
        close.sort();
        close.dedup();
        close.truncate(5);
        close
    }
}

/// Levenshtein distance, for the suggestions of an unknown ID.
fn edits(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::edits;

    #[test]
    fn edit_distance() {
        assert_eq!(edits("venus", "venus"), 0);
        assert_eq!(edits("venus", "venu"), 1);
        assert_eq!(edits("saturn", "satrun"), 2);
    }
}
