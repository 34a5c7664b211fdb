//! Projection of the engine state to the world files (SPEC §4), one module
//! per file, and reading them back.
//!
//! The projection is pure: the same engine, inventory, config and disk
//! facts always give the same bytes — keys sorted, fields in a fixed order,
//! pretty-printed with a trailing newline. Facts about the run itself never
//! appear here. Each file's view borrows from the engine when it is written
//! and owns its data when `status` reads the file back ([`read`], the one
//! function here that touches the disk): one type for both, so the reader
//! cannot drift from the writer.

mod alerts;
mod deployments;
pub mod history;
mod in_order;
mod incidents;
mod nodes;
mod pretty;
mod services;
mod summary;

use std::fmt;
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::Config;
use crate::engine::{Engine, Incident, IncidentStatus};
use crate::inventory::Inventory;
use crate::store::deployment_files::DiskFacts;

pub use alerts::{AlertView, AlertsFile};
pub use deployments::{DeploymentView, DeploymentsFile};
pub use in_order::InOrder;
pub use incidents::IncidentsFile;
pub use nodes::{NodeView, NodesFile, node_status};
pub use services::{BreakerView, Checks, ProbeView, ServiceView, ServicesFile, all_services, uptime};
pub use summary::{
    AlertCounts, BreakerCounts, BudgetView, DeploymentCounts, IncidentCounts, NodeCounts, OverallHealth, ServiceCounts,
    SeverityCounts, Summary, overall_health,
};

/// 2 since the world files are a bounded hot view and what leaves it goes
/// to `world/history/` (SPEC §4).
pub const SCHEMA_VERSION: u32 = 2;

/// One world file: the view that writes it (and reads it back) knows its
/// name.
pub trait WorldFile {
    const NAME: &'static str;
}

/// The world files, in the order they are written.
pub const FILES: [&str; 6] =
    [NodesFile::NAME, ServicesFile::NAME, DeploymentsFile::NAME, IncidentsFile::NAME, AlertsFile::NAME, Summary::NAME];

/// Renders every world file; the result is what `FILES` names, in order
/// (for the tests and the fuzz targets; a pass writes through
/// [`render_each`]). Nothing is written here.
pub fn project(
    engine: &Engine,
    inventory: &Inventory,
    config: &Config,
    disk: &DiskFacts,
) -> Result<Vec<(&'static str, Vec<u8>)>, RenderError> {
    render_each(engine, inventory, config, disk, |render| {
        FILES
            .iter()
            .map(|&name| {
                let mut bytes = Vec::new();
                render(name, &mut bytes)?;
                Ok((name, bytes))
            })
            .collect()
    })
}

/// What [`render_each`] gives its writer: renders the world file named
/// into the buffer given, after what it holds.
pub type Renderer<'a> = dyn FnMut(&'static str, &mut Vec<u8>) -> Result<(), RenderError> + 'a;

/// Gives `write` a renderer of the world files: called with a name of
/// [`FILES`], it renders that file into the buffer given (after what it
/// holds). What several files need (the services, the probes, the active
/// incidents, the nodes and the summary) is found once, before `write` is
/// called; each file's own view is built when that file is rendered, and
/// dropped after.
///
/// So a writer can render the files one after the other into one buffer
/// and write each before the next is rendered: on the busy history, the
/// ~7.8 MB of world files rendered each into a buffer of its own, all held
/// until written, were ~1,600 page faults of fresh memory of the pass's
/// thread, at ~2 µs each on the machine of the bench (perf, issue 11).
pub fn render_each<R>(
    engine: &Engine,
    inventory: &Inventory,
    config: &Config,
    disk: &DiskFacts,
    write: impl FnOnce(&mut Renderer) -> R,
) -> R {
    let services = all_services(engine, inventory);
    let probes = services::all_probes(engine, inventory);
    let active = active_incidents(engine);
    let nodes = nodes::project(engine, inventory, config, &services, &active);
    let summary = summary::summarize(engine, config, &probes, &nodes.nodes, &services, &active);
    let mut render = |name: &'static str, bytes: &mut Vec<u8>| match name {
        NodesFile::NAME => render_file(&nodes, bytes),
        ServicesFile::NAME => render_file(&services::project(engine, &probes, &services), bytes),
        DeploymentsFile::NAME => render_file(&deployments::project(engine, disk), bytes),
        IncidentsFile::NAME => render_file(&incidents::project(engine), bytes),
        AlertsFile::NAME => render_file(&alerts::project(engine), bytes),
        Summary::NAME => render_file(&summary, bytes),
        _ => unreachable!("{name} is not a world file: the names are those of `FILES`"),
    };
    write(&mut render)
}

/// The active incidents in id order, for `nodes.json` and the summary: the
/// engine holds its incidents by hash, so they are sorted here, once.
fn active_incidents(engine: &Engine) -> Vec<&Incident> {
    let mut active: Vec<&Incident> = engine
        .incidents()
        .values()
        .map(|incident| &**incident)
        .filter(|i| i.status == IncidentStatus::Active)
        .collect();
    active.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    active
}

fn render_file<F: WorldFile + Serialize>(file: &F, bytes: &mut Vec<u8>) -> Result<(), RenderError> {
    render_into(file, bytes).map_err(|source| RenderError { file: F::NAME, source })
}

/// A status, health or severity as the world files spell it, so that the
/// text and the files use one vocabulary.
pub fn word(value: impl Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(word)) => word,
        _ => "?".into(),
    }
}

/// The JSON style of every file observer writes (the world files, and also
/// `state/rejects.json`, `state/last-run.json` and `status --json`): pretty,
/// two-space indentation, a trailing newline, written by
/// [`pretty::Pretty`]. `state/last-run.json` and `last-failure.json`
/// (`store::last_run`, which the world does not import) call serde_json's
/// pretty writer, whose bytes are the same.
///
/// serde_json fails only when a `Serialize` impl fails or a map key is not a
/// string. The world views have neither, so this does not happen; should a
/// change ever make it happen, the error reaches the caller instead of an
/// error object being written where a world file belongs.
pub fn render<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    let mut bytes = Vec::with_capacity(128);
    render_into(value, &mut bytes)?;
    Ok(bytes)
}

/// [`render`], after what `bytes` holds.
fn render_into<T: Serialize + ?Sized>(value: &T, bytes: &mut Vec<u8>) -> Result<(), serde_json::Error> {
    value.serialize(&mut serde_json::Serializer::with_formatter(&mut *bytes, pretty::Pretty::default()))?;
    bytes.push(b'\n');
    Ok(())
}

/// A world file that could not be serialised (see [`render`]).
#[derive(Debug)]
pub struct RenderError {
    pub file: &'static str,
    pub source: serde_json::Error,
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot serialise world/{}: {}", self.file, self.source)
    }
}

impl std::error::Error for RenderError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Reads several world files of one generation: `read` gets the directory
/// that holds it (`world/..gen-N`) and reads them all from it, and reads
/// again from the new one if passes removed that generation meanwhile
/// (`store::generation::read_whole`).
pub fn read_whole<T>(world: &Path, read: impl FnMut(&Path) -> T) -> T {
    crate::store::generation::read_whole(world, read)
}

/// Reads a world file back through the view that wrote it: `None` when it
/// is missing or is not what this version writes (a reader shows what it
/// can without it; the next pass rewrites it).
pub fn read<F: WorldFile + DeserializeOwned>(world: &Path) -> Option<F> {
    let bytes = std::fs::read(world.join(F::NAME)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Stage;
    use crate::engine::given::given;
    use crate::store::deployment_files::DiagnosticFile;

    /// A state with something in every view: roles, a stale and an unknown
    /// node, an open breaker, a pending debounce, a fractional uptime, an
    /// incident, and a failed deployment with a fractional duration, a disk
    /// marker and a refused diagnostics path.
    fn a_busy_world() -> Vec<(&'static str, Vec<u8>)> {
        let probe = |at: &str, name: &str, outcome: &str| {
            format!(
                r#"{{"ts":"2026-05-12T12:{at}Z","type":"probe_result","node":"a","service":"web","payload":{{"probe":"{name}","outcome":"{outcome}","latency_ms":3,"detail":"x"}}}}"#
            )
        };
        let mut lines = vec![
            r#"{"ts":"2026-05-12T11:00:00Z","type":"heartbeat","node":"b"}"#.to_string(),
            r#"{"ts":"2026-05-12T12:00:00Z","type":"heartbeat","node":"a"}"#.to_string(),
            r#"{"ts":"2026-05-12T12:00:01Z","type":"service_unhealthy","node":"a","service":"db","severity":"critical"}"#
                .to_string(),
            r#"{"ts":"2026-05-12T12:00:02Z","type":"deployment_started","correlation_id":"d1","node":"a","service":"web"}"#
                .to_string(),
            r#"{"ts":"2026-05-12T12:00:03Z","type":"deployment_stage","correlation_id":"d1","payload":{"stage":"pull"}}"#
                .to_string(),
            r#"{"ts":"2026-05-12T12:00:04.250Z","type":"deployment_failed","correlation_id":"d1","payload":{"diagnostics":["../x.log","d1.log"]}}"#
                .to_string(),
            probe("00:10", "port", "ok"),
        ];
        for at in ["01:00", "02:00", "03:00", "04:00", "05:00"] {
            lines.push(probe(at, "port", "critical"));
        }
        lines.push(probe("05:30", "port", "skipped"));
        lines.push(probe("05:40", "ping", "ok"));
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let engine = given(&lines);
        let mut inventory = Inventory::default();
        inventory.nodes.insert("a".into(), vec!["edge".into(), "web".into()]);
        inventory.nodes.insert("c".into(), Vec::new());
        inventory.services.entry("c".into()).or_default().insert("cache".into());
        let mut disk = DiskFacts::default();
        disk.markers.insert("d1".into(), vec![Stage { name: "verify".into(), status: "completed".into(), ts: None }]);
        disk.diagnostics.insert(
            "../x.log".into(),
            DiagnosticFile {
                path: "../x.log".into(),
                exists: false,
                size: None,
                refused: Some("it would leave logs/".into()),
            },
        );
        disk.diagnostics.insert(
            "d1.log".into(),
            DiagnosticFile { path: "d1.log".into(), exists: true, size: Some(12), refused: None },
        );
        project(&engine, &inventory, &Config::default(), &disk).expect("the views serialise")
    }

    /// Reads one file back through its view and writes it again.
    fn rewritten<F: WorldFile + Serialize + DeserializeOwned>(files: &[(&str, Vec<u8>)]) -> (String, String) {
        let (_, bytes) = files.iter().find(|(name, _)| *name == F::NAME).expect("the file is projected");
        let view: F = serde_json::from_slice(bytes)
            .unwrap_or_else(|e| panic!("{} does not read back: {e}\n{}", F::NAME, String::from_utf8_lossy(bytes)));
        let again = render(&view).expect("a view read back serialises");
        (String::from_utf8_lossy(bytes).into_owned(), String::from_utf8_lossy(&again).into_owned())
    }

    /// The engine holds its incidents by hash: the lists of active ones in
    /// `nodes.json` and the summary are still in id order.
    #[test]
    fn active_incidents_are_listed_in_id_order() {
        let lines: Vec<String> = (0..40)
            .map(|n| {
                let service = format!("s{}", (n * 17) % 40);
                format!(
                    r#"{{"ts":"2026-05-12T12:00:{:02}Z","type":"service_unhealthy","node":"a","service":"{service}"}}"#,
                    n
                )
            })
            .collect();
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let engine = given(&lines);
        let files = project(&engine, &Inventory::default(), &Config::default(), &DiskFacts::default()).unwrap();
        let json = |name: &str| -> serde_json::Value {
            serde_json::from_slice(&files.iter().find(|(file, _)| *file == name).unwrap().1).unwrap()
        };
        let mut expected: Vec<String> = engine.incidents().keys().map(ToString::to_string).collect();
        expected.sort();
        assert_eq!(expected.len(), 40);
        assert_eq!(json(NodesFile::NAME)["nodes"]["a"]["active_incidents"], serde_json::json!(expected));
        assert_eq!(json(Summary::NAME)["active_incidents"], serde_json::json!(expected));
    }

    #[test]
    fn the_files_are_projected_in_the_order_files_names() {
        let names: Vec<&str> = a_busy_world().iter().map(|(name, _)| *name).collect();
        assert_eq!(names, FILES);
    }

    #[test]
    fn every_file_reads_back_through_the_view_that_wrote_it() {
        let files = a_busy_world();
        // The busy world is as busy as it claims.
        let (services, _) = rewritten::<ServicesFile>(&files);
        for expected in ["\"circuit_open\"", "\"pending\": {", "28.57"] {
            assert!(services.contains(expected), "services.json lacks {expected}:\n{services}");
        }
        let (deployments, _) = rewritten::<DeploymentsFile>(&files);
        for expected in ["\"duration_s\": 2.25", "\"verify\"", "it would leave logs/"] {
            assert!(deployments.contains(expected), "deployments.json lacks {expected}:\n{deployments}");
        }
        assert!(rewritten::<NodesFile>(&files).0.contains("\"edge\""));
        for (written, read_back) in [
            rewritten::<NodesFile>(&files),
            rewritten::<ServicesFile>(&files),
            rewritten::<DeploymentsFile>(&files),
            rewritten::<IncidentsFile>(&files),
            rewritten::<AlertsFile>(&files),
            rewritten::<Summary>(&files),
        ] {
            assert_eq!(read_back, written);
        }
    }
}
