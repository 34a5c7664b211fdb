//! The relay's side of exactly once: the local log `events/nats/<stream>-DATE.jsonl`
//! and its state file `state/nats-<stream>.json`.
//!
//! A batch of messages bound for one file is committed in four steps:
//!
//! 1. the state file is written (atomically) with a *pending* record: the
//!    file, its length before the batch (`from`), its length after it (`to`)
//!    and the stream sequence of the batch's last message;
//! 2. the batch's lines are appended (a 256 KiB piece at a time,
//!    `store::atomic::write_in_pieces`), and the file is fsynced;
//! 3. (the caller) the messages are acknowledged.
//!
//! The batch's sequence is not written on its own: the pending record
//! already says it, once the file is `to` long. The next write of the state
//! (the next batch's pending record, a new stream position, a clean stop)
//! replaces it with the sequence. One atomic write and one fsync per batch.
//!
//! Opening the log settles a pending record a crash left: when the file is at
//! least `to` long, the batch is in it and its sequence is taken; otherwise
//! the batch never completed, nothing of it was acknowledged, and the file is
//! cut back to `from` (bytes of it past `from` are a torn write, not lines a
//! producer can be told were stored). Either way each message of the stream
//! ends up once in the log: a redelivered message whose sequence is at or
//! below the state's is acknowledged and not appended again.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};

use crate::store::atomic::{create_dir, sync_dir, write_atomic, write_in_pieces};
use crate::store::fault_injection;

/// One stream message, as the log needs it.
#[derive(Clone, Debug)]
pub struct Record {
    /// Its stream sequence.
    pub seq: u64,
    /// Its stream timestamp, seconds since the epoch (UTC).
    pub time_s: i64,
    pub payload: Vec<u8>,
}

/// The content of `state/nats-<stream>.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RelayState {
    pub stream: String,
    pub consumer: String,
    /// The stream sequence of the last message appended to the log.
    pub seq: u64,
    /// The stream's last sequence, as the relay last saw it.
    pub stream_last_seq: u64,
    /// When the relay last wrote this file (RFC 3339, UTC).
    pub updated: String,
    /// A batch being appended; settled when the log is opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Pending>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    /// The log file, relative to `events/`.
    pub file: String,
    pub from: u64,
    pub to: u64,
    pub last_seq: u64,
}

impl RelayState {
    /// The stream's last sequence minus ours (never negative).
    pub fn lag(&self) -> u64 {
        self.stream_last_seq.saturating_sub(self.seq)
    }
}

/// A stream name is used in file names: letters, digits, `-` and `_` only.
pub fn check_stream_name(name: &str) -> Result<()> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        bail!("the stream name {name:?} must be letters, digits, '-' and '_' only (it names files under events/nats/)");
    }
    Ok(())
}

/// `state/nats-<stream>.json`.
pub fn state_path(state_dir: &Path, stream: &str) -> PathBuf {
    state_dir.join(format!("nats-{stream}.json"))
}

/// Reads a relay state file; `None` when there is none.
pub fn read_state(path: &Path) -> Result<Option<RelayState>> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let state = serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is not a relay state file", path.display()))?;
            Ok(Some(state))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// The line a message becomes. Its bytes are kept unchanged, with a newline
/// added when it has none. A message that cannot be one line — empty, or
/// holding a newline anywhere but at its end — is written as one JSON string
/// holding its text instead: the fold rejects that line (an event is an
/// object) with its file and line, and nothing is split or lost.
pub fn line_of(payload: &[u8]) -> Vec<u8> {
    let body = payload.strip_suffix(b"\n").unwrap_or(payload);
    if body.is_empty() || body.contains(&b'\n') {
        let text = String::from_utf8_lossy(payload);
        let mut line = serde_json::to_vec(&text).unwrap_or_else(|_| b"\"\"".to_vec());
        line.push(b'\n');
        return line;
    }
    let mut line = body.to_vec();
    line.push(b'\n');
    line
}

/// The log file of a message: `nats/<stream>-YYYY-MM-DD.jsonl`, relative to
/// `events/`, dated by its stream timestamp in UTC.
pub fn file_of(stream: &str, time_s: i64) -> String {
    let date = chrono::DateTime::from_timestamp(time_s, 0).unwrap_or_default().format("%Y-%m-%d");
    format!("nats/{stream}-{date}.jsonl")
}

/// The log of one stream under `events/nats/`, with its state.
pub struct RelayLog {
    events: PathBuf,
    state_path: PathBuf,
    state: RelayState,
    /// `state/.nats-<stream>.lock`, held while the log is open: one relay
    /// of a stream per root (two would append each message twice).
    _lock: std::fs::File,
}

impl RelayLog {
    /// Opens the log of `stream`, settling what a crash left (module doc).
    pub fn open(events: &Path, state_dir: &Path, stream: &str, consumer: &str) -> Result<RelayLog> {
        check_stream_name(stream)?;
        create_dir(state_dir, "the state directory")?;
        create_dir(&events.join("nats"), "the directory of relayed events")?;
        let lock_path = state_dir.join(format!(".nats-{stream}.lock"));
        let lock = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .with_context(|| format!("cannot open {}", lock_path.display()))?;
        if lock.try_lock().is_err() {
            bail!("another relay of stream {stream} is running on this root (it holds {})", lock_path.display());
        }
        let state_path = state_path(state_dir, stream);
        let mut state = read_state(&state_path)?.unwrap_or_default();
        state.stream = stream.to_string();
        state.consumer = consumer.to_string();
        let mut log = RelayLog { events: events.to_path_buf(), state_path, state, _lock: lock };
        if let Some(pending) = log.state.pending.take() {
            let path = log.events.join(&pending.file);
            let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            if len >= pending.to {
                log.state.seq = log.state.seq.max(pending.last_seq);
            } else if len > pending.from {
                let file = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .with_context(|| format!("cannot open {}", path.display()))?;
                file.set_len(pending.from)
                    .with_context(|| format!("cannot cut the torn batch off {}", path.display()))?;
                file.sync_all()?;
            }
        }
        log.save()?;
        Ok(log)
    }

    pub fn state(&self) -> &RelayState {
        &self.state
    }

    /// The sequence of the last appended message.
    pub fn seq(&self) -> u64 {
        self.state.seq
    }

    /// Appends `records` (each above [`Self::seq`], in ascending order) and
    /// returns once they are on disk; the caller acknowledges them after.
    pub fn append(&mut self, records: &[Record]) -> Result<()> {
        let mut start = 0;
        while start < records.len() {
            let file = file_of(&self.state.stream, records[start].time_s);
            let mut end = start + 1;
            while end < records.len() && file_of(&self.state.stream, records[end].time_s) == file {
                end += 1;
            }
            self.append_to(&file, &records[start..end])?;
            start = end;
        }
        Ok(())
    }

    fn append_to(&mut self, file: &str, records: &[Record]) -> Result<()> {
        let Some(last) = records.last() else { return Ok(()) };
        if records[0].seq <= self.state.seq {
            bail!("message {} is already in the log (at {})", records[0].seq, self.state.seq);
        }
        let mut bytes = Vec::new();
        for record in records {
            bytes.extend_from_slice(&line_of(&record.payload));
        }
        let path = self.events.join(file);
        let existed = path.exists();
        let mut out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let from = out.metadata()?.len();
        self.state.pending =
            Some(Pending { file: file.to_string(), from, to: from + bytes.len() as u64, last_seq: last.seq });
        self.save()?;
        fault_injection::crash_at("relay-pending-written");
        let written = fault_injection::fail_at("relay-append")
            .and_then(|()| write_in_pieces(&mut out, &bytes))
            .and_then(|()| out.sync_data());
        if let Err(error) = written {
            // Nothing of it is acknowledged: cut it off now, as a restart would.
            let _ = out.set_len(from);
            return Err(error).with_context(|| format!("cannot append to {}", path.display()));
        }
        if !existed {
            sync_dir(path.parent().unwrap_or(&self.events))?;
        }
        fault_injection::crash_at("relay-appended");
        // Settled in memory; on disk the pending record says the same (the
        // file is `to` long), and the next write of the state replaces it.
        self.state.pending = None;
        self.state.seq = last.seq;
        self.state.stream_last_seq = self.state.stream_last_seq.max(last.seq);
        Ok(())
    }

    /// Writes the state as it is (at a clean stop).
    pub fn close(mut self) -> Result<()> {
        self.save()
    }

    /// Notes the stream's last sequence, written with the next append.
    pub fn note_stream_last(&mut self, last: u64) {
        self.state.stream_last_seq = last;
    }

    /// Records the stream's last sequence (for the lag), writing the state
    /// file only when it changed.
    pub fn record_stream_last(&mut self, last: u64) -> Result<()> {
        if self.state.stream_last_seq == last {
            return Ok(());
        }
        self.state.stream_last_seq = last;
        self.save()
    }

    fn save(&mut self) -> Result<()> {
        self.state.updated = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mut bytes = serde_json::to_vec_pretty(&self.state)?;
        bytes.push(b'\n');
        write_atomic(&self.state_path, &bytes).with_context(|| format!("cannot write {}", self.state_path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: u64, text: &str) -> Record {
        Record { seq, time_s: 1_764_720_000, payload: text.as_bytes().to_vec() }
    }

    #[test]
    fn a_message_is_one_line_unchanged_and_one_that_cannot_be_is_a_json_string() {
        assert_eq!(line_of(br#"{"a":1}"#), b"{\"a\":1}\n");
        assert_eq!(line_of(b"{\"a\":1}\n"), b"{\"a\":1}\n");
        assert_eq!(line_of(b"{\"a\":\n1}"), b"\"{\\\"a\\\":\\n1}\"\n");
        assert_eq!(line_of(b""), b"\"\"\n");
    }

    #[test]
    fn files_are_dated_by_the_stream_timestamp_in_utc() {
        assert_eq!(file_of("EV", 1_764_720_000), "nats/EV-2025-12-03.jsonl");
        assert_eq!(file_of("EV", 1_764_719_999), "nats/EV-2025-12-02.jsonl");
    }

    #[test]
    fn a_pending_batch_found_complete_is_taken_and_a_torn_one_is_cut_back() {
        let dir = tempfile::tempdir().unwrap();
        let (events, state) = (dir.path().join("events"), dir.path().join("state"));
        let mut log = RelayLog::open(&events, &state, "EV", "c").unwrap();
        log.append(&[record(1, "{}"), record(2, "{}")]).unwrap();
        assert!(RelayLog::open(&events, &state, "EV", "c").is_err(), "a second relay of the stream is refused");
        let mut crashed = log.state().clone();
        drop(log);
        let file = events.join(file_of("EV", 1_764_720_000));
        assert_eq!(std::fs::read(&file).unwrap(), b"{}\n{}\n");

        // A crash after the append, before the state said so.
        crashed.pending = Some(Pending { file: file_of("EV", 1_764_720_000), from: 3, to: 6, last_seq: 2 });
        crashed.seq = 1;
        std::fs::write(state_path(&state, "EV"), serde_json::to_vec(&crashed).unwrap()).unwrap();
        assert_eq!(RelayLog::open(&events, &state, "EV", "c").unwrap().seq(), 2);

        // A crash in the middle of the write: the torn bytes go.
        std::fs::write(&file, b"{}\n{}\n{\"a").unwrap();
        crashed.pending = Some(Pending { file: file_of("EV", 1_764_720_000), from: 6, to: 12, last_seq: 3 });
        crashed.seq = 2;
        std::fs::write(state_path(&state, "EV"), serde_json::to_vec(&crashed).unwrap()).unwrap();
        let log = RelayLog::open(&events, &state, "EV", "c").unwrap();
        assert_eq!(log.seq(), 2);
        assert_eq!(std::fs::read(&file).unwrap(), b"{}\n{}\n");
        assert_eq!(read_state(&state_path(&state, "EV")).unwrap().unwrap().pending, None);
    }

    #[test]
    fn stream_names_that_would_escape_the_directory_are_refused() {
        assert!(check_stream_name("EVENTS_1-a").is_ok());
        assert!(check_stream_name("../x").is_err());
        assert!(check_stream_name("").is_err());
    }
}
