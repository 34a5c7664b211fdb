//! Reading `state/outbox.jsonl`, the notifications the fold decided.
//!
//! Stand-in until the shell's own reader (`crate::store::outbox`) lands:
//! it reads the whole file, and a last line without its newline (a write
//! torn by a crash) is left out, as it is not committed yet.

use std::io;
use std::path::{Path, PathBuf};

use crate::engine::alerts::Notification;

/// The outbox file in `state_dir`.
pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join("outbox.jsonl")
}

/// Every committed notification, in outbox order. No outbox is an empty one.
pub fn read_committed(state_dir: &Path) -> io::Result<Vec<Notification>> {
    let bytes = match std::fs::read(path(state_dir)) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let complete = match bytes.iter().rposition(|b| *b == b'\n') {
        Some(end) => &bytes[..=end],
        None => &[][..],
    };
    let mut notifications = Vec::new();
    for (n, line) in complete.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let notification = serde_json::from_slice(line).map_err(|e| {
            io::Error::new(io::ErrorKind::InvalidData, format!("{}:{}: {e}", path(state_dir).display(), n + 1))
        })?;
        notifications.push(notification);
    }
    Ok(notifications)
}
