//! The relays' lag as `status`, `check` and the metrics read it: from the
//! state files `state/nats-<stream>.json` alone, without reaching NATS. Each
//! relay writes its file after every batch and, when idle, once a second
//! when the stream's last sequence moved.

use std::path::Path;

use anyhow::Result;

use super::log::{RelayState, read_state};

/// The state of every relay that ever ran with this state directory, by
/// stream name. A pending batch found complete on disk counts as appended.
pub fn relays(state_dir: &Path, events_dir: &Path) -> Result<Vec<RelayState>> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(state_dir) else { return Ok(out) };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !(name.starts_with("nats-") && name.ends_with(".json")) {
            continue;
        }
        if let Some(mut state) = read_state(&entry.path())? {
            if let Some(pending) = state.pending.take() {
                let len = std::fs::metadata(events_dir.join(&pending.file)).map(|m| m.len()).unwrap_or(0);
                if len >= pending.to {
                    state.seq = state.seq.max(pending.last_seq);
                }
            }
            out.push(state);
        }
    }
    out.sort_by(|a, b| a.stream.cmp(&b.stream));
    Ok(out)
}
