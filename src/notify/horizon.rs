//! How delivery notices a rebuild: `state/delivery.json` remembers the
//! outbox it last saw (how many lines, a digest of them, the newest `ts`).
//! When the outbox no longer starts with those lines, it was written anew
//! (`rebuild`, a deleted checkpoint, a changed config), and every
//! notification at or before the newest `ts` seen then belongs to the time
//! before the rebuild: the "rebuild horizon", kept from then on, which
//! decides what such notifications may still send (see `plan`).

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::alerts::Notification;
use crate::store::atomic::write_atomic;
use crate::store::fingerprint::fnv1a;
use crate::time::Ts;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryState {
    /// Outbox lines seen by the last delivery.
    pub outbox_lines: usize,
    /// FNV-1a of those lines, as JSON, hex.
    pub outbox_digest: String,
    /// The newest `ts` among them.
    pub newest_ts: Option<Ts>,
    /// Notifications at or before this `ts` were decided before the latest
    /// rebuild delivery noticed.
    pub rebuild_horizon: Option<Ts>,
}

pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join("delivery.json")
}

impl DeliveryState {
    /// The saved state; none (the first delivery) is the default, under
    /// which every notification of the outbox is new.
    pub fn load(state_dir: &Path) -> io::Result<DeliveryState> {
        match std::fs::read(path(state_dir)) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(DeliveryState::default()),
            Err(e) => Err(e),
        }
    }

    /// The state after seeing `outbox`: the horizon moves up to what was
    /// seen before if the outbox no longer starts with it.
    pub fn next(&self, outbox: &[Notification]) -> DeliveryState {
        let rewritten = self.outbox_lines > outbox.len() || digest(&outbox[..self.outbox_lines]) != self.outbox_digest;
        let rebuild_horizon = if rewritten && self.outbox_lines > 0 {
            self.rebuild_horizon.max(self.newest_ts)
        } else {
            self.rebuild_horizon
        };
        DeliveryState {
            outbox_lines: outbox.len(),
            outbox_digest: digest(outbox),
            newest_ts: outbox.iter().map(|n| n.ts).max().max(self.newest_ts),
            rebuild_horizon,
        }
    }

    pub fn save(&self, state_dir: &Path) -> io::Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        write_atomic(&path(state_dir), &bytes)
    }
}

fn digest(lines: &[Notification]) -> String {
    let mut bytes = Vec::new();
    for line in lines {
        // Serialising a typed value cannot fail.
        let _ = serde_json::to_writer(&mut bytes, line);
        bytes.push(b'\n');
    }
    if lines.is_empty() { String::new() } else { format!("{:016x}", fnv1a(&bytes)) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::alerts::NotificationKind;
    use crate::event::Severity;

    fn n(id: &str, seconds: i64) -> Notification {
        Notification {
            id: id.to_string(),
            kind: NotificationKind::Firing,
            ts: Ts(seconds * 1000),
            expires_at: None,
            key: "k".to_string(),
            rule: "node_down".to_string(),
            node: None,
            service: None,
            severity: Severity::Error,
            priority: 2,
            summary: String::new(),
            fired_at: None,
            resolved_at: None,
            runbook: None,
        }
    }

    #[test]
    fn an_appended_outbox_is_no_rebuild_a_rewritten_one_is() {
        let first = DeliveryState::default().next(&[n("a", 10), n("b", 20)]);
        assert_eq!(first.rebuild_horizon, None, "the first delivery sees no rebuild");
        let appended = first.next(&[n("a", 10), n("b", 20), n("c", 30)]);
        assert_eq!(appended.rebuild_horizon, None);
        let rewritten = appended.next(&[n("x", 5), n("a", 10), n("b", 20), n("c", 30)]);
        assert_eq!(rewritten.rebuild_horizon, Some(Ts(30_000)));
        let shorter = rewritten.next(&[n("x", 5)]);
        assert_eq!(shorter.rebuild_horizon, Some(Ts(30_000)), "the horizon never moves back");
        assert_eq!(shorter.next(&[n("x", 5), n("d", 40)]).rebuild_horizon, Some(Ts(30_000)));
    }
}
