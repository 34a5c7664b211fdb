//! `state/event-index.jsonl`: the event index (`store::event_index`) on
//! disk as an append-only log, so that a pass writes the blocks it added,
//! not the whole index. Before, every pass that read events rewrote the
//! whole `state/event-index.json` (143 KB on a 1,000,000-event history,
//! growing with it).
//!
//! The first line is `{"version":2}`; each line after it is one record:
//! `{"f":path,"at":{"dev":…,"ino":…,"end":…,"end_line":…,"from":k,"blocks":[…]}}`
//! gives file `path` that identity and end, keeps its first `k` blocks (all
//! of them are dropped when the identity is another) and appends `blocks`;
//! `{"f":path}` drops the file's entry. A pass appends one
//! record per file whose entry changed, all together (`write_in_pieces`). When the log has grown
//! past twice what a rewrite would hold (and past [`MIN_REWRITE_BYTES`]),
//! or after a rebuild, the pass rewrites it whole instead (temp file,
//! rename).
//!
//! The index is a hint (`explain` checks every entry against the file it
//! describes), so the log needs no commit of its own: reading stops at the
//! first line that is not a complete record (what a crash in the middle of
//! an append leaves), and the next append first cuts the file there. A
//! pass that crashed after its append and before its checkpoint leaves
//! entries ahead of the committed cursors; the next pass trims them to the
//! cursor (`event_index::updated`).
//!
//! A state directory of an older observer has `state/event-index.json`
//! (version 1, the whole index in one document): it is still read, and the
//! first pass that writes the log removes it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::atomic::{is_the_file_at, temp_path, write_atomic};
use super::event_index::{Block, EventIndex, FileIndex, VERSION};

pub const FILE_NAME: &str = "event-index.jsonl";
/// The whole index in one document, as observer wrote it before the log.
pub const OLD_FILE_NAME: &str = "event-index.json";
/// Below this, the log is never rewritten only for its length.
pub const MIN_REWRITE_BYTES: u64 = 64 * 1024;
const LOG_VERSION: u32 = 2;

/// The file the index is kept in.
pub fn path(state: &Path) -> PathBuf {
    state.join(FILE_NAME)
}

/// The index as read, with the length of the log's complete records (none
/// when it was read from the older whole document).
pub struct Read {
    pub index: EventIndex,
    log_bytes: Option<u64>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    version: u32,
}

#[derive(Serialize, Deserialize)]
struct Record {
    f: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    at: Option<Part>,
}

#[derive(Serialize, Deserialize)]
struct Part {
    dev: u64,
    ino: u64,
    end: u64,
    end_line: u64,
    from: usize,
    blocks: Vec<Block>,
}

/// The index, from the log or else the older document; `None` when there
/// is neither or it cannot be read.
pub fn read(state: &Path) -> Option<Read> {
    match std::fs::read(path(state)) {
        Ok(bytes) => replay(&bytes).map(|(index, len)| Read { index, log_bytes: Some(len) }),
        Err(_) => {
            let bytes = std::fs::read(state.join(OLD_FILE_NAME)).ok()?;
            let index = serde_json::from_slice::<EventIndex>(&bytes).ok().filter(|i| i.version == VERSION)?;
            Some(Read { index, log_bytes: None })
        }
    }
}

/// The index the complete records of `bytes` give, and their length.
fn replay(bytes: &[u8]) -> Option<(EventIndex, u64)> {
    let mut lines = bytes.split_inclusive(|b| *b == b'\n');
    let header = lines.next().filter(|line| line.ends_with(b"\n"))?;
    if serde_json::from_slice::<Header>(header).ok()?.version != LOG_VERSION {
        return None;
    }
    let mut files = BTreeMap::new();
    let mut good = header.len();
    for line in lines {
        let Some(record) = line.ends_with(b"\n").then(|| serde_json::from_slice::<Record>(line).ok()).flatten() else {
            break;
        };
        match record.at {
            None => drop(files.remove(&record.f)),
            Some(part) => {
                let mut blocks = match files.remove(&record.f) {
                    Some(FileIndex { dev, ino, mut blocks, .. }) if dev == part.dev && ino == part.ino => {
                        blocks.truncate(part.from);
                        blocks
                    }
                    _ => Vec::new(),
                };
                blocks.extend(part.blocks);
                let entry = FileIndex { dev: part.dev, ino: part.ino, end: part.end, end_line: part.end_line, blocks };
                files.insert(record.f, entry);
            }
        }
        good += line.len();
    }
    Some((EventIndex { version: VERSION, files }, good as u64))
}

/// Writes `index` after `previous` (what the pass read, `None` after a
/// rebuild): the changed entries appended to the log, or the whole log.
pub fn write(state: &Path, previous: Option<&Read>, index: &EventIndex) -> std::io::Result<()> {
    let log = path(state);
    // The temp file of a whole rewrite a crash interrupted: the passes that
    // follow usually append or have nothing to add, and would leave it.
    let _ = std::fs::remove_file(temp_path(&log));
    let appended = match previous {
        Some(Read { index: before, log_bytes: Some(len) }) => Some((diff(before, index)?, *len)),
        _ => None,
    };
    if let Some((lines, len)) = appended {
        if lines.is_empty() {
            return Ok(());
        }
        let grown = len + lines.len() as u64;
        if grown <= MIN_REWRITE_BYTES {
            return append(&log, len, &lines);
        }
        // Only a long log needs the whole index serialised, to weigh it.
        let whole = whole(index)?;
        if grown <= 2 * whole.len() as u64 {
            return append(&log, len, &lines);
        }
        return write_atomic(&log, &whole);
    }
    write_atomic(&log, &whole(index)?)?;
    match std::fs::remove_file(state.join(OLD_FILE_NAME)) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

/// Appends `lines` to the log, after cutting what follows its `len` bytes
/// of complete records.
fn append(log: &Path, len: u64, lines: &[u8]) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new().append(true).open(log)?;
    if !is_the_file_at(&file, log) {
        return Err(std::io::Error::other("it is a symlink, and observer follows none in state/"));
    }
    if file.metadata()?.len() != len {
        file.set_len(len)?;
    }
    // A write like the others to the fault tests (`write:N` counts them).
    super::fault_injection::fail_at("write")?;
    super::atomic::write_in_pieces(&mut file, lines)?;
    file.sync_data()
}

/// The whole log of `index`.
fn whole(index: &EventIndex) -> std::io::Result<Vec<u8>> {
    let mut bytes = line(&Header { version: LOG_VERSION })?;
    for (rel, entry) in &index.files {
        bytes.extend(line(&record(rel, entry, 0))?);
    }
    Ok(bytes)
}

/// The records that turn `before` into `after`.
fn diff(before: &EventIndex, after: &EventIndex) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    for rel in before.files.keys().filter(|rel| !after.files.contains_key(*rel)) {
        bytes.extend(line(&Record { f: rel.clone(), at: None })?);
    }
    for (rel, entry) in &after.files {
        let from = match before.files.get(rel) {
            Some(old) if old == entry => continue,
            Some(old) if (old.dev, old.ino) == (entry.dev, entry.ino) => {
                old.blocks.iter().zip(&entry.blocks).take_while(|(a, b)| a == b).count()
            }
            _ => 0,
        };
        bytes.extend(line(&record(rel, entry, from))?);
    }
    Ok(bytes)
}

fn record(rel: &str, entry: &FileIndex, from: usize) -> Record {
    let (dev, ino, end, end_line) = (entry.dev, entry.ino, entry.end, entry.end_line);
    let part = Part { dev, ino, end, end_line, from, blocks: entry.blocks[from..].to_vec() };
    Record { f: rel.to_string(), at: Some(part) }
}

fn line(value: &impl Serialize) -> std::io::Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec(value).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    Ok(bytes)
}

#[cfg(test)]
#[path = "event_index_log_tests.rs"]
mod tests;
