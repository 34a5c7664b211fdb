//! `world/history/<kind>-YYYY-MM.jsonl` (SPEC §4): what left the hot view,
//! one compact JSON object a line, in the month of its end time, in the
//! order it left. Only alerts write here for now (`alerts-2026-05.jsonl`);
//! the mechanism is per kind and month, for deployments and incidents too.
//!
//! Exactly once with the checkpoint, like the outbox: the checkpoint's
//! header holds a [`FileMark`] per file (bytes, lines, running hash, stamp),
//! and what lies past a mark was left by a pass that crashed before its
//! commit. Unlike the outbox, that tail is **kept and verified**, not cut
//! before the fold: the crashed pass may already have published the world
//! that dropped those entries from the hot view, and cutting first would
//! leave them in neither place until the line is written again. The fold is
//! deterministic, so the pass that folds the same events decides the same
//! lines: when the tail is the beginning of what this pass appends, only the
//! rest is appended (the common case). When it is not (events that sort
//! between the crashed pass's arrived meanwhile, or the config changed),
//! this pass's lines are appended after the stale tail, the world is
//! published, and only then is the file settled to exactly the committed
//! part and this pass's lines ([`Staged::settle`]): an entry is in the hot
//! view or the history, or both, at every instant.
//!
//! Months the user deleted stay deleted: a run that finds a committed file
//! gone records the month as deleted in the marks and drops the lines it
//! would append to it, and a rebuild (which reads the live checkpoint's
//! marks) does not bring it back. Without a checkpoint nobody knows what was
//! deleted, and a rebuild writes every month the events give.

mod early;
mod write;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::atomic::CreateDirError;
pub use super::mark::FileMark;
use crate::time::Ts;
pub use early::{Early, Streamed};
pub use write::{Basis, Staged, stage, stage_after};

/// The directory under the world directory.
pub const DIR: &str = "history";

/// A pass's history lines, gathered by the file they go to as they are
/// made: each entry is serialised straight into its month's bytes, so a
/// rebuild, whose lines are the whole history (tens of MB on a busy lab),
/// holds them once, not once per line and again per file.
#[derive(Debug, Default)]
pub struct Lines {
    /// The bytes to append to each file, by file name, lines in the order
    /// they were pushed.
    files: BTreeMap<String, Vec<u8>>,
}

impl Lines {
    /// Adds `value` as one compact JSON line of `kind`, filed by the month
    /// (UTC) of `ended_at`. On an error nothing is added.
    pub fn push<T: Serialize>(&mut self, kind: &'static str, ended_at: Ts, value: &T) -> Result<(), serde_json::Error> {
        let bytes = self.files.entry(file_name(kind, ended_at)).or_default();
        let before = bytes.len();
        if let Err(error) = serde_json::to_writer(&mut *bytes, value) {
            bytes.truncate(before);
            return Err(error);
        }
        bytes.push(b'\n');
        Ok(())
    }

    /// How many bytes there are to append, in all.
    pub fn bytes(&self) -> usize {
        self.files.values().map(Vec::len).sum()
    }

    /// The bytes to append, by file name.
    #[cfg(test)]
    pub fn files(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.files
    }
}

/// `alerts-2026-05.jsonl`: the file of `kind` for the month of `ended_at`.
fn file_name(kind: &str, ended_at: Ts) -> String {
    let rfc3339 = ended_at.to_rfc3339();
    format!("{kind}-{}.jsonl", rfc3339.get(..7).unwrap_or("0000-00"))
}

/// What the checkpoint commits of the history directory.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryMarks {
    /// The committed part of each file, by file name.
    #[serde(default)]
    pub files: BTreeMap<String, FileMark>,
    /// Files the user deleted: their months stay deleted.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub deleted: BTreeSet<String>,
}

/// Whether `name` is a history file: `<kind>-YYYY-MM.jsonl`, the kind in
/// lower case.
pub fn is_history_file(name: &str) -> bool {
    let Some(stem) = name.strip_suffix(".jsonl") else { return false };
    let Some((kind, month)) = stem.len().checked_sub(8).map(|at| stem.split_at(at)) else { return false };
    let month = month.as_bytes();
    !kind.is_empty()
        && kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        && month.len() == 8
        && month[0] == b'-'
        && month[5] == b'-'
        && month[1..5].iter().chain(&month[6..]).all(u8::is_ascii_digit)
}

/// What the history directory holds.
#[derive(Default)]
struct Listing {
    /// The history files with their sizes, by name.
    files: BTreeMap<String, u64>,
    /// Temp files of history files (`.alerts-2026-05.jsonl.tmp`) that a
    /// settle killed before its rename left.
    temps: Vec<PathBuf>,
}

/// The months whose lines a pass drops: those the live checkpoint `live`
/// records as deleted, and the files it commits that are gone from the
/// directory (`found`, when `present`). Without the directory (the world
/// deleted, or `--world` moved) the history starts again instead: no month
/// is taken for deleted, and `observer rebuild` writes them all from the
/// events.
fn deleted_months(live: Option<&HistoryMarks>, present: bool, found: &BTreeMap<String, u64>) -> BTreeSet<String> {
    let mut deleted = live.map(|m| m.deleted.clone()).unwrap_or_default();
    let live_files = live.filter(|_| present).into_iter().flat_map(|m| m.files.keys());
    deleted.extend(live_files.filter(|n| !found.contains_key(*n)).cloned());
    deleted
}

/// The history files in `dir`; none when there is no directory yet.
fn listing(dir: &Path) -> Result<Listing, HistoryError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Listing::default()),
        Err(error) => return Err(HistoryError::Io { path: dir.to_path_buf(), error }),
    };
    let mut found = Listing::default();
    for entry in entries {
        let entry = entry.map_err(|error| HistoryError::Io { path: dir.to_path_buf(), error })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.strip_prefix('.').and_then(|n| n.strip_suffix(".tmp")).is_some_and(is_history_file) {
            found.temps.push(entry.path());
        }
        if !is_history_file(&name) {
            continue;
        }
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path).map_err(|error| HistoryError::Io { path: path.clone(), error })?;
        if !meta.is_file() {
            return Err(HistoryError::NotAFile { path });
        }
        found.files.insert(name, meta.len());
    }
    Ok(found)
}

/// True when every history file is exactly as the checkpoint commits it:
/// nothing past a mark, no file the checkpoint does not know, no temp file
/// of a settle that was killed. A no-op run asks this (a stat per month)
/// before it trusts that nothing needs repair. A checkpoint written before
/// the history (`None`) is settled while there is no history file.
pub fn is_settled(dir: &Path, marks: Option<&HistoryMarks>) -> bool {
    let Ok(found) = listing(dir) else { return false };
    let none = HistoryMarks::default();
    let marks = marks.unwrap_or(&none);
    found.temps.is_empty()
        && found.files.iter().all(|(name, size)| {
            marks.files.get(name).is_some_and(|mark| mark.bytes == *size) || marks.deleted.contains(name)
        })
}

/// Why the history cannot be checked or written. Those about its content
/// point to `observer rebuild`.
#[derive(Debug)]
pub enum HistoryError {
    /// Shorter than the checkpoint says was committed.
    Shorter {
        path: PathBuf,
        committed: u64,
        found: u64,
    },
    /// The committed part is not what was committed.
    Changed {
        path: PathBuf,
    },
    /// A symlink, directory or device where a history file belongs.
    NotAFile {
        path: PathBuf,
    },
    Directory(CreateDirError),
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
}

impl std::fmt::Display for HistoryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const REBUILD: &str = "it is append-only (delete a whole month to drop it); nothing was changed. \
                               Run `observer rebuild` to write it again from the events";
        match self {
            HistoryError::Shorter { path, committed, found } => {
                write!(f, "{} holds {found} bytes, but {committed} were committed; {REBUILD}", path.display())
            }
            HistoryError::Changed { path } => {
                write!(f, "the committed part of {} changed since it was written; {REBUILD}", path.display())
            }
            HistoryError::NotAFile { path } => {
                write!(f, "{} is not a regular file, and observer writes through none; move it away", path.display())
            }
            HistoryError::Directory(error) => error.fmt(f),
            HistoryError::Io { path, error } => write!(f, "cannot access {}: {error}", path.display()),
        }
    }
}

impl std::error::Error for HistoryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HistoryError::Io { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// Alert lines, each a month (of 2026) and a JSON string: for the tests
/// of the history's writing.
#[cfg(test)]
fn alert_lines(items: &[(&str, &str)]) -> Lines {
    let mut lines = Lines::default();
    for (month, text) in items {
        let at = Ts::parse(&format!("2026-{month}-10T00:00:00Z")).unwrap();
        lines.push("alerts", at, text).unwrap();
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_filed_by_the_month_of_its_end_in_utc() {
        let at = Ts::parse("2026-05-31T23:30:00-01:00").unwrap();
        let mut lines = Lines::default();
        lines.push("alerts", at, &serde_json::json!({"key": "k"})).unwrap();
        lines.push("alerts", at, &"second").unwrap();
        assert_eq!(file_name("alerts", at), "alerts-2026-06.jsonl");
        let files: Vec<(&str, &[u8])> = lines.files.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect();
        assert_eq!(files, [("alerts-2026-06.jsonl", &b"{\"key\":\"k\"}\n\"second\"\n"[..])]);
        assert!(is_history_file("alerts-2026-06.jsonl") && is_history_file("deployments-0001-12.jsonl"));
        for other in ["alerts-2026-6.jsonl", ".alerts-2026-06.jsonl.tmp", "-2026-06.jsonl", "alerts-2026-06.json"] {
            assert!(!is_history_file(other), "{other}");
        }
    }

    #[test]
    fn a_value_that_cannot_be_serialised_adds_nothing() {
        struct Fails;
        impl Serialize for Fails {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                use serde::ser::{Error as _, SerializeSeq as _};
                let mut seq = serializer.serialize_seq(None)?;
                seq.serialize_element(&1)?;
                Err(S::Error::custom("no"))
            }
        }
        let at = Ts::parse("2026-05-10T00:00:00Z").unwrap();
        let mut lines = Lines::default();
        lines.push("alerts", at, &"a").unwrap();
        assert!(lines.push("alerts", at, &Fails).is_err());
        assert_eq!(lines.files["alerts-2026-05.jsonl"], b"\"a\"\n");
    }
}
