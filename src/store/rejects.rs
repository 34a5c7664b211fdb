//! Reading back `state/rejects.json`, the rejections the last passes left
//! for people, for `observer status`. A file that is missing or is not valid
//! JSON reads as empty: status shows what there is, and only the pass that
//! writes the file reports why it could not. (The world files are read back
//! through their own views, `world::read`.)

use crate::dirs::Dirs;
use crate::store::events::Reject;

/// Reads the rejections recorded by the last runs.
pub fn recorded_rejects(dirs: &Dirs) -> Vec<Reject> {
    std::fs::read(dirs.rejects()).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok()).unwrap_or_default()
}
