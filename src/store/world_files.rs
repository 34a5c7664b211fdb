//! Reading back what the last pass left for people: the world files and
//! `state/rejects.json`, for `observer status`. A file that is missing or is
//! not valid JSON reads as absent: status shows what there is, and only the
//! pass that writes these files reports why it could not.

use crate::dirs::Dirs;
use crate::store::events::Reject;

/// Reads one world file as JSON, if present.
pub fn read_world_file(dirs: &Dirs, name: &str) -> Option<serde_json::Value> {
    let bytes = std::fs::read(dirs.world.join(name)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Reads the rejections recorded by the last runs.
pub fn recorded_rejects(dirs: &Dirs) -> Vec<Reject> {
    std::fs::read(dirs.rejects()).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok()).unwrap_or_default()
}
