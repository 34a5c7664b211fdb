//! `state/observer_checkpoint.json`: the cursors and the engine state,
//! committed atomically after the world files it describes.
//!
//! The file holds two JSON documents, one per line: a small header (format,
//! cursors, the engine clock, and a digest of what the world was projected
//! from besides the engine) and the body (engine state, recent rejections).
//! A run reads the header first; when no file changed and the digest still
//! matches, the world is already current and the body is never parsed, so a
//! no-op run costs about the same on a long history as on a short one.
//!
//! The newest place in the processing order folded so far (the late rule's
//! key) sits inside the engine state; checkpoints of observer 0.1.0 kept it
//! beside the engine, as `last_folded` in the body, and are still read: the
//! key is moved into the engine as the body is parsed. Both layouts are
//! format 3, since an older observer reading the newer layout just misses
//! the key (and counts fewer events late), as it would after a rebuild.
//!
//! The header also records how much of `state/outbox.jsonl` the checkpoint
//! commits (`outbox`, see `store/outbox.rs`) and of each history file
//! (`history`, see `store/history.rs`); a checkpoint written before there
//! was an outbox or a history lacks them and commits empty ones.
//!
//! A missing checkpoint means "start from scratch" (SPEC §1). A checkpoint that
//! exists but cannot be read — empty, truncated, zeroed, or of another format
//! version — is never silently replaced: the run stops and points to
//! `observer rebuild`, which starts over deliberately.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::atomic::write_atomic;
use super::events::{Cursor, Reject};
pub use super::history::HistoryMarks;
/// How much of `state/outbox.jsonl` a checkpoint commits: kept in the
/// checkpoint's header, checked and extended by `store::outbox`.
pub use super::mark::FileMark as OutboxMark;
use crate::engine::{Engine, OrderKey};
use crate::time::Ts;

pub const FILE_NAME: &str = "observer_checkpoint.json";
/// Bumped whenever the layout of the checkpoint changes.
pub const FORMAT: u32 = 3;
/// Rejections kept for `validate`, `status` and `state/rejects.json`.
pub const MAX_REJECTS: usize = 1000;

#[derive(Clone, Debug, Default)]
pub struct Checkpoint {
    pub cursors: BTreeMap<String, Cursor>,
    /// What the world was last projected from, besides the engine.
    pub inputs: Option<WorldInputs>,
    /// How much of the outbox this checkpoint commits.
    pub outbox: OutboxMark,
    /// How much of each history file this checkpoint commits; `None` in a
    /// checkpoint written before the history (`store::history::Basis::Adopt`).
    pub history: Option<HistoryMarks>,
    pub engine: Engine,
    /// The most recent rejections, oldest first.
    pub rejects: VecDeque<Reject>,
}

/// The world is a function of the engine state and of these inputs: the
/// config, the inventory and the deployment files on disk. `deployments`
/// lists what to look at on disk (ids with their diagnostics paths), so that
/// a run can recompute the digest without the engine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorldInputs {
    pub digest: u64,
    pub deployments: Vec<(String, Vec<String>)>,
    /// Path, size, inode and times of the world files and `rejects.json` as
    /// this run left them: a file rewritten, removed or replaced by anyone
    /// else (or `--world` pointing elsewhere) makes the next run write again.
    pub written: u64,
}

/// The first document of the file.
#[derive(Debug, Deserialize)]
pub struct Header {
    pub format: u32,
    #[serde(deserialize_with = "map_in_bulk")]
    pub cursors: BTreeMap<String, Cursor>,
    pub clock: Option<Ts>,
    pub inputs: Option<WorldInputs>,
    #[serde(default)]
    pub outbox: OutboxMark,
    #[serde(default)]
    pub history: Option<HistoryMarks>,
}

#[derive(Serialize)]
struct HeaderRef<'a> {
    format: u32,
    cursors: &'a BTreeMap<String, Cursor>,
    clock: Option<Ts>,
    inputs: &'a Option<WorldInputs>,
    outbox: &'a OutboxMark,
    #[serde(skip_serializing_if = "Option::is_none")]
    history: &'a Option<HistoryMarks>,
}

#[derive(Deserialize)]
struct Body {
    engine: Engine,
    rejects: VecDeque<Reject>,
    /// Where observer 0.1.0 kept the engine's order key.
    #[serde(default)]
    last_folded: Option<OrderKey>,
}

#[derive(Serialize)]
struct BodyRef<'a> {
    engine: &'a Engine,
    rejects: &'a VecDeque<Reject>,
}

/// Reads a map written in key order into a list and builds the tree from it
/// in bulk: with tens of thousands of cursors, inserting them one by one
/// was a tenth of a no-op run.
fn map_in_bulk<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<BTreeMap<String, Cursor>, D::Error> {
    struct Entries;
    impl<'de> serde::de::Visitor<'de> for Entries {
        type Value = BTreeMap<String, Cursor>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a map of cursors")
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
            while let Some(entry) = map.next_entry::<String, Cursor>()? {
                entries.push(entry);
            }
            Ok(BTreeMap::from_iter(entries))
        }
    }
    deserializer.deserialize_map(Entries)
}

/// A checkpoint read from disk whose header is parsed and body is not yet.
pub struct CheckpointFile {
    pub header: Header,
    bytes: Vec<u8>,
    body_at: usize,
    path: PathBuf,
}

#[derive(Debug)]
pub enum CheckpointError {
    Unreadable { path: PathBuf, reason: String },
    Io { path: PathBuf, error: std::io::Error },
}

impl std::fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckpointError::Unreadable { path, reason } => write!(
                f,
                "the checkpoint {} cannot be used ({reason}); nothing was changed. \
                 Run `observer rebuild` to rebuild the state from the events",
                path.display()
            ),
            CheckpointError::Io { path, error } => write!(f, "cannot access {}: {error}", path.display()),
        }
    }
}

impl std::error::Error for CheckpointError {}

fn other_format(path: &Path, format: u32) -> CheckpointError {
    unreadable(path, format!("it has format version {format}, this observer reads version {FORMAT}"))
}

fn unreadable(path: &Path, reason: String) -> CheckpointError {
    CheckpointError::Unreadable { path: path.to_path_buf(), reason }
}

impl CheckpointFile {
    /// Parses the body: the whole checkpoint.
    pub fn to_checkpoint(&self) -> Result<Checkpoint, CheckpointError> {
        let body: Body = serde_json::from_slice(&self.bytes[self.body_at..])
            .map_err(|e| unreadable(&self.path, format!("it is damaged: {e}")))?;
        Ok(Checkpoint {
            cursors: self.header.cursors.clone(),
            inputs: self.header.inputs.clone(),
            outbox: self.header.outbox,
            history: self.header.history.clone(),
            engine: body.engine.with_last_folded_of_old_checkpoint(body.last_folded),
            rejects: body.rejects,
        })
    }
}

impl Checkpoint {
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join(FILE_NAME)
    }

    /// Reads the file and parses its header; `Ok(None)` when there is no
    /// checkpoint yet.
    pub fn read(state_dir: &Path) -> Result<Option<CheckpointFile>, CheckpointError> {
        let path = Checkpoint::path(state_dir);
        // Only a regular file is read: a symlink planted in state/ is not
        // followed (a rebuild replaces it), and a FIFO or device is not read.
        match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(CheckpointError::Io { path, error }),
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(unreadable(&path, "it is a symlink, and observer follows none in state/".into()));
            }
            Ok(meta) if !meta.is_file() => {
                let error = std::io::Error::other("it is not a regular file; move it away");
                return Err(CheckpointError::Io { path, error });
            }
            Ok(_) => {}
        }
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(CheckpointError::Io { path, error }),
        };
        if bytes.iter().all(|b| b.is_ascii_whitespace() || *b == 0) {
            return Err(unreadable(&path, "it is empty".into()));
        }
        let damaged = |e: serde_json::Error| unreadable(&path, format!("it is damaged: {e}"));
        // The header is parsed straight into its types (it holds a cursor
        // for every event file, so this is most of a no-op run); only when
        // that fails is it read as plain JSON, to tell another format
        // version from damage.
        let mut documents = serde_json::Deserializer::from_slice(&bytes).into_iter::<Header>();
        let parsed = documents.next().ok_or_else(|| unreadable(&path, "it is empty".into()))?;
        let body_at = documents.byte_offset();
        let header = match parsed {
            Ok(header) if header.format == FORMAT => header,
            Ok(header) => return Err(other_format(&path, header.format)),
            Err(error) => {
                #[derive(Deserialize)]
                struct Version {
                    format: u32,
                }
                let first = serde_json::Deserializer::from_slice(&bytes).into_iter::<serde_json::Value>().next();
                if let Some(Ok(first)) = first
                    && let Ok(version) = Version::deserialize(&first)
                    && version.format != FORMAT
                {
                    return Err(other_format(&path, version.format));
                }
                return Err(damaged(error));
            }
        };
        // The body is one line and the file ends with it, so a checkpoint
        // cut short or padded anywhere after its header is caught here, even
        // by a run that stops after the header and never parses the body.
        if bytes[body_at..].trim_ascii().is_empty() || !bytes.ends_with(b"}\n") {
            return Err(unreadable(&path, "it is damaged: it ends before its engine state does".into()));
        }
        Ok(Some(CheckpointFile { header, bytes, body_at, path }))
    }

    /// Reads the whole checkpoint; `Ok(None)` when there is none yet.
    pub fn load(state_dir: &Path) -> Result<Option<Checkpoint>, CheckpointError> {
        Checkpoint::read(state_dir)?.map(|stored| stored.to_checkpoint()).transpose()
    }

    pub fn save(&self, state_dir: &Path) -> Result<(), CheckpointError> {
        let path = Checkpoint::path(state_dir);
        let io = |e: serde_json::Error| CheckpointError::Io { path: path.clone(), error: e.into() };
        let header = HeaderRef {
            format: FORMAT,
            cursors: &self.cursors,
            clock: self.engine.clock(),
            inputs: &self.inputs,
            outbox: &self.outbox,
            history: &self.history,
        };
        let body = BodyRef { engine: &self.engine, rejects: &self.rejects };
        let mut bytes = serde_json::to_vec(&header).map_err(io)?;
        bytes.push(b'\n');
        serde_json::to_writer(&mut bytes, &body).map_err(io)?;
        bytes.push(b'\n');
        write_atomic(&path, &bytes).map_err(|error| CheckpointError::Io { path, error })
    }

    /// Keeps the latest rejections; the engine counts them
    /// (`Input::LineRejected`).
    pub fn push_rejects(&mut self, rejects: impl IntoIterator<Item = Reject>) {
        for reject in rejects {
            self.rejects.push_back(reject);
        }
        while self.rejects.len() > MAX_REJECTS {
            self.rejects.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_is_none_and_damaged_points_to_rebuild() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Checkpoint::load(dir.path()).unwrap().is_none());
        Checkpoint::default().save(dir.path()).unwrap();
        assert!(Checkpoint::load(dir.path()).unwrap().is_some());
        let good = std::fs::read(Checkpoint::path(dir.path())).unwrap();
        let truncated = &good[..good.len() - 5];
        let header_only = &good[..=good.iter().position(|b| *b == b'\n').unwrap()];
        let padded = [&good[..], &[0; 512]].concat();
        for bad in [&b""[..], b"\0\0\0\0", b"{\"format\":2,\"cur", b"{\"format\":99}", truncated, header_only, &padded]
        {
            std::fs::write(Checkpoint::path(dir.path()), bad).unwrap();
            // Refused by the header read alone, which no-op runs stop after.
            let message = Checkpoint::read(dir.path()).err().expect("refused").to_string();
            assert!(message.contains("observer rebuild"), "{message}");
        }
    }

    /// Written by observer 0.1.0 after one pass over `b.jsonl`: its body
    /// keeps the order key beside the engine state.
    const OF_0_1_0: &str = concat!(
        r#"{"format":3,"cursors":{"b.jsonl":[69,1,69,65024,10019154,1796226557653592466,1796226557653592466,"#,
        r#"1796226557653592466,11693151049307313630,11693151049307313630]},"clock":"2026-05-12T12:10:00Z","#,
        r#""inputs":{"digest":8454289979415941154,"deployments":[],"written":13312508558206086295}}"#,
        "\n",
        r#"{"engine":{"clock":"2026-05-12T12:10:00Z","nodes":{"a":{"status":"up","last_seen":"2026-05-12T12:10:00Z"}},"#,
        r#""services":{},"incidents":{},"deployments":{},"stats":{"total":1,"by_type":{"heartbeat":1},"rejected":0,"#,
        r#""duplicates":0,"late":0},"counters":{"ticks":0,"heartbeats":1,"errors":0},"#,
        r#""seen_ids":{"X":"2026-05-12T12:10:00Z"},"pruned_hour":494052,"probes":{},"probe_verdicts":{},"#,
        r#""probe_runs":[],"budgets_exhausted":[],"breaker_deadline":null},"rejects":[],"#,
        r#""last_folded":{"ts":"2026-05-12T12:10:00Z","file":"b.jsonl","position":0}}"#,
        "\n",
    );

    #[test]
    fn a_checkpoint_of_0_1_0_keeps_its_order_key_in_the_engine() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(Checkpoint::path(dir.path()), OF_0_1_0).unwrap();
        let checkpoint = Checkpoint::load(dir.path()).unwrap().unwrap();
        let key = OrderKey { ts: Ts::parse("2026-05-12T12:10:00Z").unwrap(), file: "b.jsonl".into(), position: 0 };
        assert_eq!(checkpoint.engine.last_folded(), Some(&key));
        assert_eq!(checkpoint.engine.stats().total, 1);
        assert_eq!(checkpoint.cursors.len(), 1);
        assert_eq!(checkpoint.outbox, OutboxMark::default(), "it commits an empty outbox");
        assert_eq!(checkpoint.history, None, "and knows of no history");
        // Saved again, the key is inside the engine state and reads back.
        checkpoint.save(dir.path()).unwrap();
        let again = Checkpoint::load(dir.path()).unwrap().unwrap();
        assert_eq!(again.engine, checkpoint.engine);
        let text = std::fs::read_to_string(Checkpoint::path(dir.path())).unwrap();
        assert!(text.contains(r#""breaker_deadline":null,"last_folded":{"ts""#), "{text}");
    }

    #[test]
    fn the_header_is_read_without_the_body() {
        let dir = tempfile::tempdir().unwrap();
        let checkpoint = Checkpoint {
            inputs: Some(WorldInputs { digest: 7, deployments: vec![("d1".into(), vec!["a.log".into()])], written: 1 }),
            ..Checkpoint::default()
        };
        checkpoint.save(dir.path()).unwrap();
        // Spoil the body in place: the header alone still reads.
        let mut bytes = std::fs::read(Checkpoint::path(dir.path())).unwrap();
        let body_at = bytes.iter().position(|b| *b == b'\n').unwrap() + 1;
        bytes[body_at + 1..body_at + 4].copy_from_slice(b"???");
        std::fs::write(Checkpoint::path(dir.path()), &bytes).unwrap();
        let stored = Checkpoint::read(dir.path()).unwrap().unwrap();
        assert_eq!(stored.header.inputs.as_ref().unwrap().digest, 7);
        assert!(stored.to_checkpoint().is_err());
    }
}
