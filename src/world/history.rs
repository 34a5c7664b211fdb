//! The lines of `world/history/` (SPEC §4): each entry that left the hot
//! view in the pass, as its hot view showed it, one compact JSON object. An
//! alert episode as `PastEpisode` (with its `key`), a deployment as in
//! `deployments.json` (with its `correlation_id`, the key of that map: its
//! stage markers and diagnostics files as checked when it left), an
//! incident as in `incidents.json` (with its `id`). Each is filed by the
//! month of its end: `resolved_at`, `ended_at`.

use super::deployments::deployment_view;
use crate::engine::LeftEntries;
use crate::store::deployment_files::DiskFacts;
use crate::store::history::Lines;

/// Adds the history lines of what left the hot view, taken from the engine
/// (`Engine::take_left`), to `lines`, by file (each kind's in the order the
/// entries left); `disk` holds the facts of the deployments that left.
pub fn push(lines: &mut Lines, left: &LeftEntries, disk: &DiskFacts) -> Result<(), serde_json::Error> {
    for episode in &left.episodes {
        lines.push("alerts", episode.resolved_at, episode)?;
    }
    for (id, run) in &left.deployments {
        // Only finished runs leave, and a finished run has its end.
        let Some(ended_at) = run.ended_at else { continue };
        lines.push("deployments", ended_at, &deployment_view(id, run, disk))?;
    }
    for incident in &left.incidents {
        // Only resolved incidents leave.
        let Some(resolved_at) = incident.resolved_at else { continue };
        lines.push("incidents", resolved_at, incident)?;
    }
    Ok(())
}
