//! What the disk says about deployments: stage markers written by deploy
//! scripts under `state/deployments/<correlation_id>/`, and the diagnostics
//! files that failures name under `logs/`.
//!
//! Diagnostics are only ever `stat`ed, never opened, and never outside
//! `logs/`: an absolute path, a `..` component, or a symlink that resolves
//! outside `logs/` is refused and reported.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::engine::{Engine, Stage};
use crate::time::Ts;

/// What the disk says about deployments, gathered by the IO shell before
/// projecting: stage markers under `state/deployments/<id>/`, and the
/// diagnostics files named by failures.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DiskFacts {
    pub markers: BTreeMap<String, Vec<Stage>>,
    pub diagnostics: BTreeMap<String, DiagnosticFile>,
}

/// A diagnostics path as checked against `logs/`. Deserialize too: `status`
/// reads it back from `deployments.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DiagnosticFile {
    pub path: String,
    pub exists: bool,
    pub size: Option<u64>,
    /// Why the path was not followed (it would leave `logs/`), or null.
    pub refused: Option<String>,
}

/// The optional JSON body of a stage marker.
#[derive(Deserialize, Default)]
struct Marker {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    ts: Option<String>,
}

/// Looks at the disk for the given deployments (id and diagnostics paths).
/// The marker root is listed once, so deployments without markers cost
/// nothing; diagnostics are `stat`ed.
pub fn gather<'a>(
    deployments: impl Iterator<Item = (&'a str, &'a Vec<String>)>,
    state_dir: &Path,
    logs_dir: &Path,
) -> DiskFacts {
    gather_listed(deployments, &marker_dirs(state_dir), state_dir, logs_dir)
}

/// [`gather`] with the names under `state/deployments/` listed already
/// ([`marker_dirs`]): a pass lists them once for the stamp, the
/// deployments worth watching and the facts.
pub fn gather_listed<'a>(
    deployments: impl Iterator<Item = (&'a str, &'a Vec<String>)>,
    with_markers: &BTreeSet<String>,
    state_dir: &Path,
    logs_dir: &Path,
) -> DiskFacts {
    let mut facts = DiskFacts::default();
    let markers_root = state_dir.join("deployments");
    let logs_real = logs_dir.canonicalize().ok();
    for (id, diagnostics) in deployments {
        if with_markers.contains(id) && is_plain_component(id) {
            let markers = read_markers(&markers_root.join(id));
            if !markers.is_empty() {
                facts.markers.insert(id.to_string(), markers);
            }
        }
        for path in diagnostics {
            facts
                .diagnostics
                .entry(path.clone())
                .or_insert_with(|| check_diagnostic(path, logs_dir, logs_real.as_deref()));
        }
    }
    facts
}

/// The names under `state/deployments/` (none when it is missing).
pub fn marker_dirs(state_dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(state_dir.join("deployments"))
        .map(|entries| entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

/// A hash of the names under `state/deployments/`: while it stays the same,
/// no deployment gained or lost a marker directory.
pub fn marker_dirs_stamp(state_dir: &Path) -> u64 {
    stamp_of(&marker_dirs(state_dir))
}

/// The stamp of names listed by [`marker_dirs`].
pub fn stamp_of(names: &BTreeSet<String>) -> u64 {
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    super::fingerprint::fnv1a(names.join("\0").as_bytes())
}

/// The engine's deployments whose disk facts can change while
/// `state/deployments/` keeps its names: the ones with a marker directory
/// or diagnostics paths, by id, with those paths. `gather` finds no fact of
/// any other deployment, so a pass gathers these alone; a no-op run checks
/// only these (and the stamp of the names), never every deployment the
/// engine holds: on a busy history most have neither, and listing them all
/// made the checkpoint's header, which every run reads, grow with the
/// deployments. Profiled on the busy history (a run folding 1,000 events),
/// listing every deployment (its id and paths copied) before choosing was
/// ~10 samples at 15 kHz of the pass's thread (issue 11, thirty-second
/// pass).
pub fn worth_watching(engine: &Engine, with_markers: &BTreeSet<String>) -> Vec<(String, Vec<String>)> {
    let mut watching: Vec<(String, Vec<String>)> = engine
        .deployments()
        .iter_unordered()
        .filter(|(id, run)| !run.diagnostics.is_empty() || with_markers.contains(id.as_str()))
        .map(|(id, run)| (id.to_string(), run.diagnostics.clone()))
        .collect();
    watching.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    watching
}

fn is_plain_component(name: &str) -> bool {
    let mut components = Path::new(name).components();
    matches!(components.next(), Some(Component::Normal(_))) && components.next().is_none()
}

/// Each regular file in the marker directory is a stage, named after the file
/// without its extension. Its content may be a JSON object with `status` and
/// `ts`; otherwise the stage is `completed` with no time. Sorted by name.
fn read_markers(dir: &Path) -> Vec<Stage> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut stages: Vec<Stage> = entries
        .flatten()
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|entry| {
            let file_name = entry.file_name().to_string_lossy().into_owned();
            if file_name.starts_with('.') || file_name.ends_with(".tmp") {
                return None;
            }
            let name = Path::new(&file_name).file_stem()?.to_string_lossy().into_owned();
            let marker: Marker = std::fs::read(entry.path())
                .ok()
                .filter(|bytes| bytes.len() <= 64 * 1024)
                .and_then(|bytes| serde_json::from_slice(&bytes).ok())
                .unwrap_or_default();
            Some(Stage {
                name: name.into(),
                status: marker.status.map_or_else(|| "completed".into(), Into::into),
                ts: marker.ts.and_then(|ts| Ts::parse(&ts).ok()),
            })
        })
        .collect();
    stages.sort_by(|a, b| a.name.cmp(&b.name));
    stages
}

fn check_diagnostic(path: &str, logs_dir: &Path, logs_real: Option<&Path>) -> DiagnosticFile {
    let refused = |reason: &str| DiagnosticFile {
        path: path.to_string(),
        exists: false,
        size: None,
        refused: Some(reason.to_string()),
    };
    let relative = Path::new(path);
    if path.is_empty() || path.contains('\0') {
        return refused("not a usable path");
    }
    if relative.is_absolute() || relative.components().any(|c| matches!(c, Component::Prefix(_) | Component::RootDir)) {
        return refused("absolute paths are not followed; diagnostics are relative to logs/");
    }
    if relative.components().any(|c| matches!(c, Component::ParentDir)) {
        return refused("the path leaves logs/ through `..`");
    }
    let missing = DiagnosticFile { path: path.to_string(), exists: false, size: None, refused: None };
    let Some(logs_real) = logs_real else { return missing };
    // Every symlink on the way must stay inside logs/, whether or not what
    // lies beyond it exists: otherwise `exists` would tell about files
    // outside logs/.
    let mut prefix = logs_dir.to_path_buf();
    for component in relative.components() {
        prefix.push(component);
        match std::fs::symlink_metadata(&prefix) {
            Err(_) => return missing,
            Ok(meta) if meta.file_type().is_symlink() => match prefix.canonicalize() {
                Ok(real) if real.starts_with(logs_real) => {}
                Ok(_) => return refused("the path leaves logs/ through a symlink"),
                Err(_) => return refused("the path goes through a symlink that leads nowhere"),
            },
            Ok(_) => {}
        }
    }
    match std::fs::metadata(&prefix) {
        Ok(meta) => DiagnosticFile { path: path.to_string(), exists: true, size: Some(meta.len()), refused: None },
        Err(_) => missing,
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn diagnostics_never_leave_logs() {
        let root = tempfile::tempdir().unwrap();
        let logs = root.path().join("logs");
        std::fs::create_dir_all(logs.join("deploy")).unwrap();
        std::fs::write(logs.join("deploy/d1.log"), b"12345").unwrap();
        std::fs::write(root.path().join("secret"), b"x").unwrap();
        std::os::unix::fs::symlink(root.path().join("secret"), logs.join("escape.log")).unwrap();
        let real = logs.canonicalize().unwrap();
        let check = |p: &str| check_diagnostic(p, &logs, Some(&real));
        assert_eq!(check("deploy/d1.log").size, Some(5));
        assert!(!check("deploy/missing.log").exists);
        assert!(check("deploy/missing.log").refused.is_none());
        assert!(check("../secret").refused.unwrap().contains(".."));
        assert!(check("escape.log").refused.unwrap().contains("symlink"));
        assert!(check("/etc/passwd").refused.is_some());
        std::os::unix::fs::symlink(root.path(), logs.join("up")).unwrap();
        std::os::unix::fs::symlink(root.path().join("nowhere"), logs.join("dangling")).unwrap();
        assert!(check("up/no-such-file").refused.unwrap().contains("symlink"), "refused even when missing");
        assert!(check("dangling/x").refused.unwrap().contains("leads nowhere"));
        std::os::unix::fs::symlink(logs.join("deploy"), logs.join("inside")).unwrap();
        assert_eq!(check("inside/d1.log").size, Some(5), "a symlink within logs/ is fine");
    }
}
