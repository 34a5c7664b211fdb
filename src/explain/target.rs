//! Which entity an ID names, and the stretch of engine time that explains
//! it, looked up in the world files and, for what left the hot view, in
//! `world/history/`. The order of the look-up is the order of the kinds in
//! the error message: incident id, alert key, deployment or correlation id,
//! `node/service`, node.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;
use serde_json::value::RawValue;

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
    /// The replay also folds the first event after `to` (a resolved
    /// alert: what its resolve waited for, the cooldown or
    /// `keep_firing_for_s`, is taken when the clock passes it, at the next
    /// event), looked for up to `as_of`.
    pub through_next: bool,
    /// The world's engine clock.
    pub as_of: Ts,
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
        through_next: false,
        as_of,
    };
    let incident_target = |record: &Value, found_in: String| {
        let scope = Scope::service(text(record, "node"), text(record, "service")).with_incident(text(record, "id"));
        let mut target =
            found(Kind::Incident, scope, found_in, record, ts(record, "started_at"), ts(record, "resolved_at"));
        target.id = text(record, "id").unwrap_or_else(|| id.to_string());
        target
    };
    if let Some((record, found_in)) = files.find_key("incidents", id) {
        return Ok(incident_target(&record, found_in));
    }
    if let Some((record, found_in)) = files.find_key("alerts", id) {
        let mut scope = Scope::service(text(&record, "node"), text(&record, "service")).with_alert(id);
        if let Some(subject) = id.strip_prefix("deployment_stuck:") {
            scope = Scope::deployment(subject).with_alert(id);
        } else if record.get("service").is_none_or(Value::is_null) {
            scope.node_level = true;
        }
        let from = ts(&record, "since").or_else(|| ts(&record, "fired_at"));
        // A resolved alert's stretch runs to its last notification, when
        // that came later (a resolve held by the cooldown), and through
        // the event that let it go.
        let resolved_at = ts(&record, "resolved_at");
        let last_sent = record.get("last_notification").and_then(|n| ts(n, "ts"));
        let to = resolved_at.map(|at| last_sent.map_or(at, |sent| sent.max(at)));
        let mut target = found(Kind::Alert, scope, found_in, &record, from, to);
        target.through_next = resolved_at.is_some();
        return Ok(target);
    }
    if let Some((record, found_in)) = files.find_key("deployments", id) {
        let from = ts(&record, "started_at");
        return Ok(found(Kind::Deployment, Scope::deployment(id), found_in, &record, from, ts(&record, "ended_at")));
    }
    let by_correlation = |_: &str, record: &Value| record.get("correlation_id").and_then(Value::as_str) == Some(id);
    if let Some((record, found_in)) = files.find("incidents", id, by_correlation) {
        return Ok(incident_target(&record, found_in));
    }
    if let Some((node, service)) = id.split_once('/')
        && let Some(record) = files.json("services").and_then(|s| s.get("services")?.get(id))
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
    if let Some(record) = files.json("nodes").and_then(|n| n.get("nodes")?.get(id)) {
        let mut scope = Scope::service(Some(id.into()), None);
        scope.node_level = true;
        return Ok(found(Kind::Node, scope, "nodes.json".into(), record, ts(record, "last_seen"), None));
    }
    Err(files.close_to(id))
}

/// The world files the look-up reads, each read and parsed when the
/// look-up first needs it, and the history.
///
/// On a busy lab `deployments.json` and `alerts.json` are megabytes, and an
/// incident is found in `incidents.json` before they are ever looked at:
/// read eagerly, parsing them was a fifth of an `explain` of an incident.
/// An ID looked up by key ([`World::find_key`]) is found in the file's text
/// and only its record is parsed: parsing all of the busy history's
/// `incidents.json` (2 MB, each incident with its 50 failure times) into a
/// tree was a third of an `explain` of an incident (perf, issue 11).
struct World {
    /// The world directory, whose `history/` is read only when an ID is not
    /// in the hot view, and then only the files of the kind looked up.
    dir: std::path::PathBuf,
    /// The text of each of `incidents`, `alerts`, `deployments`,
    /// `services`, `nodes`, `runtime-summary`, in the order of
    /// [`WORLD_FILES`], read when first needed.
    texts: [OnceCell<Option<String>>; 6],
    /// The same files parsed whole, when a look-up needs more than the
    /// record under one key.
    files: [OnceCell<Option<Value>>; 6],
}

/// A world file's entries as written, keyed, for a look-up by key: each
/// value is its raw text in the file (skipped over, not parsed), and only
/// the record found is parsed. A key written twice gives the last, as a
/// parse of the whole file does.
#[derive(serde::Deserialize)]
struct Entries<'a>(#[serde(borrow)] HashMap<String, &'a RawValue>);

const WORLD_FILES: [&str; 6] = ["incidents", "alerts", "deployments", "services", "nodes", "runtime-summary"];

impl World {
    fn read(world: &Path) -> World {
        World { dir: world.to_path_buf(), texts: Default::default(), files: Default::default() }
    }

    /// The text of the world file `name` (without `.json`); `None` when it
    /// is missing or not text.
    fn text(&self, name: &str) -> Option<&str> {
        let at = WORLD_FILES.iter().position(|known| *known == name)?;
        self.texts[at].get_or_init(|| std::fs::read_to_string(self.dir.join(format!("{name}.json"))).ok()).as_deref()
    }

    /// The world file `name` (without `.json`), parsed; `None` when it is
    /// missing or not JSON.
    fn json(&self, name: &str) -> Option<&Value> {
        let at = WORLD_FILES.iter().position(|known| *known == name)?;
        self.files[at].get_or_init(|| serde_json::from_str::<Value>(self.text(name)?).ok()).as_ref()
    }

    /// The record under `key` in the map of the world file `kind`, parsed
    /// alone; `None` when there is none, or when the file is missing or not
    /// JSON (as [`World::map`] then gives nothing too). Only that record
    /// is checked beyond the JSON syntax: a file that serde_json refuses
    /// whole for something elsewhere in it (a number beyond `f64`, a lone
    /// surrogate escape, nesting deeper than 128), which observer never
    /// writes, still gives the record here while [`World::map`] gives
    /// nothing.
    fn entry(&self, kind: &str, key: &str) -> Option<Value> {
        let Entries(file) = serde_json::from_str(self.text(kind)?).ok()?;
        let Entries(entries) = serde_json::from_str(file.get(kind)?.get()).ok()?;
        serde_json::from_str(entries.get(key)?.get()).ok()
    }

    fn as_of(&self) -> Ts {
        let as_of = self.json("runtime-summary").and_then(|s| s.get("as_of")?.as_str().map(str::to_string));
        as_of.and_then(|t| Ts::parse(&t).ok()).unwrap_or_default()
    }

    fn file(&self, kind: &str) -> Option<&Value> {
        match kind {
            "incidents" | "alerts" | "deployments" => self.json(kind),
            _ => None,
        }
    }

    /// The entries of a world file's map, by key.
    fn map(&self, kind: &str) -> impl Iterator<Item = (&String, &Value)> {
        self.file(kind).and_then(|f| f.get(kind)?.as_object()).into_iter().flatten()
    }

    /// The last entry of `kind` that `matches`: in the world file, else
    /// the newest history line (the files of `kind`, newest month first,
    /// each from its end). `matches` only accepts records in which `needle`
    /// is a string value, so a history line that does not contain it as
    /// JSON writes it is not parsed: on a busy lab the history holds tens of
    /// thousands of lines, and reading and parsing all of them was most of
    /// an `explain`.
    fn find(&self, kind: &str, needle: &str, matches: impl Fn(&str, &Value) -> bool) -> Option<(Value, String)> {
        if let Some((_, record)) = self.map(kind).filter(|(key, record)| matches(key, record)).last() {
            return Some((record.clone(), format!("{kind}.json")));
        }
        self.find_in_history(kind, needle, matches)
    }

    /// [`World::find`] of the entry whose key is `id`, which parses no other
    /// record of the world file (see [`World::entry`]).
    fn find_key(&self, kind: &str, id: &str) -> Option<(Value, String)> {
        if let Some(record) = self.entry(kind, id) {
            return Some((record, format!("{kind}.json")));
        }
        self.find_in_history(kind, id, |key, _| key == id)
    }

    /// The history part of [`World::find`].
    fn find_in_history(
        &self,
        kind: &str,
        needle: &str,
        matches: impl Fn(&str, &Value) -> bool,
    ) -> Option<(Value, String)> {
        let key_field =
            if kind == "deployments" { "correlation_id" } else { if kind == "alerts" { "key" } else { "id" } };
        let prefix = format!("{kind}-");
        // The needle as JSON writes it inside a string (quotes and
        // backslashes escaped), without the enclosing quotes.
        let quoted = serde_json::to_string(needle).unwrap_or_default();
        let written = quoted.get(1..quoted.len().saturating_sub(1)).unwrap_or_default();
        let mut names: Vec<String> = std::fs::read_dir(self.dir.join(history::DIR))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| history::is_history_file(name) && name.starts_with(&prefix))
            .collect();
        names.sort_by(|a, b| b.cmp(a));
        names.into_iter().find_map(|name| {
            let text = std::fs::read_to_string(self.dir.join(history::DIR).join(&name)).unwrap_or_default();
            text.lines().rev().filter(|line| line.contains(written)).find_map(|line| {
                let record: Value = serde_json::from_str(line).ok()?;
                let key = record.get(key_field).and_then(Value::as_str).unwrap_or_default().to_string();
                matches(&key, &record).then(|| (record, format!("{}/{name}", history::DIR)))
            })
        })
    }

    /// Known IDs that look like `id`: containing it, contained in it, or
    /// at most two edits away. At most five, sorted.
    fn close_to(&self, id: &str) -> Vec<String> {
        let mut known: Vec<String> = Vec::new();
        for kind in ["incidents", "alerts", "deployments"] {
            known.extend(self.map(kind).map(|(key, _)| key.clone()));
        }
        for field in ["services", "nodes"] {
            known.extend(
                self.json(field).and_then(|f| f.get(field)?.as_object()).into_iter().flatten().map(|(k, _)| k.clone()),
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
    use super::{World, edits};

    /// A look-up by key finds what the whole file parsed holds under that
    /// key: escapes in keys, a key written as a `\u` escape, a key written
    /// twice (the last); nothing for a key that is not there, nor in a file
    /// that is not JSON.
    #[test]
    fn a_record_found_by_key_is_the_one_the_whole_file_holds() {
        let dir = tempfile::tempdir().unwrap();
        let text = r#"{
  "schema_version": 2,
  "as_of": "2026-05-12T12:10:00Z",
  "incidents": {
    "inc-1-a\"b-c\\d": {"id": "inc-1-a\"b-c\\d", "events": ["2026-05-12T12:05:00Z"]},
    "inc-2-é": {"id": "inc-2-é", "nested": {"z": 1, "a": [true, null]}},
    "\u0069nc-3": {"id": "inc-3"},
    "inc-4": {"id": "inc-4", "copy": "first"},
    "inc-4": {"id": "inc-4", "copy": "last"}
  }
}"#;
        std::fs::write(dir.path().join("incidents.json"), text).unwrap();
        let world = World::read(dir.path());
        for key in ["inc-1-a\"b-c\\d", "inc-2-é", "inc-3", "inc-4"] {
            let whole = world.map("incidents").find(|(k, _)| *k == key).map(|(_, record)| record.clone());
            assert!(whole.is_some(), "{key} is in the file");
            assert_eq!(world.entry("incidents", key), whole, "{key}");
            assert_eq!(world.find_key("incidents", key).map(|(record, _)| record), whole, "{key}");
        }
        assert_eq!(world.entry("incidents", "inc-4").unwrap()["copy"], "last");
        assert_eq!(world.entry("incidents", "inc-5"), None);
        std::fs::write(dir.path().join("alerts.json"), "{\"alerts\": {\"k\": {}},").unwrap();
        assert_eq!(world.entry("alerts", "k"), None, "not JSON: nothing, as the whole file gives nothing");
        assert_eq!(world.map("alerts").count(), 0);
    }

    /// What a look-up by key does with a file observer never writes: valid
    /// JSON that serde_json refuses whole for a number beyond `f64` in
    /// another record. The record under the key is found; a look-up that
    /// parses the whole file finds nothing in it (`World::entry`'s doc).
    #[test]
    fn a_record_is_found_by_key_even_when_another_record_cannot_be_parsed() {
        let dir = tempfile::tempdir().unwrap();
        let text = r#"{"deployments": {"d-1": {"node": "venus"}, "d-2": {"duration_s": 1e400}}}"#;
        std::fs::write(dir.path().join("deployments.json"), text).unwrap();
        let world = World::read(dir.path());
        assert_eq!(world.entry("deployments", "d-1"), Some(serde_json::json!({"node": "venus"})));
        assert_eq!(world.map("deployments").count(), 0);
    }

    #[test]
    fn edit_distance() {
        assert_eq!(edits("venus", "venus"), 0);
        assert_eq!(edits("venus", "venu"), 1);
        assert_eq!(edits("saturn", "satrun"), 2);
    }
}
