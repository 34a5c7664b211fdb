//! The floors that `rebuild` is measured against (rows 1 and 16): programs
//! that only read the event files and parse them, doing as little as a
//! careful person could.
//!
//! - [`typed`] (row 1): each line parsed into a typed struct of owned fields,
//!   the payload as a `serde_json::Value`.
//! - [`zero_copy`] (row 16): each file read whole, each line parsed into an
//!   envelope whose fields all borrow from the file's bytes (`Cow<str>`, which
//!   owns only a string with escapes in it), the payload kept as a
//!   `RawValue`, and a map keyed by (node, service) updated with the last
//!   time and type seen: the least a fold must do.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::value::RawValue;

/// Which floor a floor process runs (`OBSERVER_BENCH_FLOOR_KIND`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Typed,
    ZeroCopy,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Typed => "typed",
            Kind::ZeroCopy => "zero-copy",
        }
    }

    pub fn from_name(name: &str) -> Kind {
        match name {
            "zero-copy" => Kind::ZeroCopy,
            _ => Kind::Typed,
        }
    }

    /// Runs this floor over `dir`; returns how many events parsed.
    pub fn run(self, dir: &Path) -> u64 {
        match self {
            Kind::Typed => typed(dir),
            Kind::ZeroCopy => zero_copy(dir),
        }
    }
}

/// What a careful person would write to read these events: every envelope
/// field typed, the payload (whose shape depends on the type) kept as a JSON
/// value. The payloads of the corpus are small, so this costs the floor
/// little over skipping them.
#[derive(Deserialize)]
#[allow(dead_code)] // the fields are parsed, which is the point, and never read
struct TypedEvent {
    ts: String,
    #[serde(rename = "type")]
    kind: String,
    node: Option<String>,
    service: Option<String>,
    correlation_id: Option<String>,
    severity: Option<String>,
    message: Option<String>,
    id: Option<String>,
    payload: Option<serde_json::Value>,
}

/// The same envelope, every field borrowed from the bytes of the file.
#[derive(Deserialize)]
#[allow(dead_code)] // parsed, and only some read
struct BorrowedEvent<'a> {
    #[serde(borrow)]
    ts: Cow<'a, str>,
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    node: Option<Cow<'a, str>>,
    #[serde(borrow)]
    service: Option<Cow<'a, str>>,
    #[serde(borrow)]
    correlation_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    severity: Option<Cow<'a, str>>,
    #[serde(borrow)]
    message: Option<Cow<'a, str>>,
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    payload: Option<&'a RawValue>,
}

/// What the zero-copy floor keeps per (node, service).
#[derive(Default)]
struct Last {
    ts: String,
    kind: String,
    events: u64,
}

/// The event files under `dir`, in path order, recursively.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries.flatten().map(|e| e.path()).collect(),
        Err(_) => return,
    };
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Calls `each` with every event (one `.json` file or one line of a
/// `.jsonl`/`.ndjson` file) of every file under `dir`, the file read whole.
fn each_event(dir: &Path, mut each: impl FnMut(&[u8])) {
    let mut paths = Vec::new();
    files(dir, &mut paths);
    for path in paths {
        let Ok(bytes) = std::fs::read(&path) else { continue };
        let name = path.to_string_lossy();
        if name.ends_with(".json") {
            each(&bytes);
        } else if name.ends_with(".jsonl") || name.ends_with(".ndjson") {
            for line in bytes.split(|b| *b == b'\n').filter(|line| !line.is_empty()) {
                each(line);
            }
        }
    }
}

/// Row 1's floor: every event into a [`TypedEvent`].
pub fn typed(dir: &Path) -> u64 {
    let mut parsed = 0;
    each_event(dir, |line| {
        parsed += u64::from(serde_json::from_slice::<TypedEvent>(line).map(black_box).is_ok());
    });
    parsed
}

/// Row 16's floor: every event into a [`BorrowedEvent`], and a map keyed by
/// (node, service) updated from it.
pub fn zero_copy(dir: &Path) -> u64 {
    let mut parsed = 0;
    let mut last: HashMap<String, Last> = HashMap::new();
    let mut key = String::new();
    each_event(dir, |line| {
        let Ok(event) = serde_json::from_slice::<BorrowedEvent>(line) else { return };
        parsed += 1;
        key.clear();
        key.push_str(event.node.as_deref().unwrap_or(""));
        key.push('/');
        key.push_str(event.service.as_deref().unwrap_or(""));
        let entry = match last.get_mut(key.as_str()) {
            Some(entry) => entry,
            None => last.entry(key.clone()).or_default(),
        };
        entry.ts.clear();
        entry.ts.push_str(&event.ts);
        entry.kind.clear();
        entry.kind.push_str(&event.kind);
        entry.events += 1;
        black_box(&event);
    });
    black_box(&last);
    parsed
}
