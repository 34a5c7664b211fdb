//! `observer verify`: integrity, all of it at once (guarantee 6). Every
//! consumed byte of every event file is checked against the block hashes
//! in the checkpoint (and the head and tail fingerprints), then the events
//! are rebuilt into a temporary directory and that world is compared with
//! the live one byte for byte: the six world files, `world/history/*.jsonl`
//! and `state/outbox.jsonl`. Only `world/metrics.prom` is left out: it
//! holds the run's own duration and time, which no rebuild reproduces.
//!
//! It holds the state lock like `rebuild` (`--wait` to wait for it), so no
//! run changes anything meanwhile, and never writes the live state or
//! world. Exit 0 when everything agrees, 1 with one line per difference,
//! 2 when it cannot verify at all (no checkpoint, an unreadable file), so
//! that 1 always means a difference was found.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context as _, Result, anyhow};
use serde::Serialize;

use super::context::Context;
use super::{count, print, shown, warn};
use crate::cli::VerifyArgs;
use crate::dirs::Dirs;
use crate::fold_pass::{self, Afterwards, Mode};
use crate::store::checkpoint::Checkpoint;
use crate::store::events::{self, SourceError, scrub};
use crate::store::lock::LockError;
use crate::store::{history, outbox};
use crate::world;

/// One difference: where, and what differs.
#[derive(Debug, Serialize)]
pub struct Finding {
    pub file: String,
    /// The byte range of an event file (`from..to`), or the line of a
    /// world, history or outbox file.
    pub at: String,
    pub what: String,
}

/// What was checked, for the summary and `--json`.
#[derive(Debug, Default, Serialize)]
pub struct Checked {
    pub event_files: u64,
    pub event_bytes: u64,
    /// Files whose cursors have no block hashes yet (an older checkpoint):
    /// checked by their fingerprints and by the rebuild only.
    pub event_files_without_block_hashes: u64,
    pub events_rebuilt: u64,
    pub world_files: usize,
    pub history_files: usize,
    pub outbox: bool,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    agree: bool,
    checked: &'a Checked,
    findings: &'a [Finding],
}

pub fn execute(context: &Context, args: &VerifyArgs) -> Result<i32> {
    match verify(context, args) {
        Ok(code) => Ok(code),
        Err(error) if error.downcast_ref::<LockError>().is_some() => Err(error),
        Err(error) if is_closed_pipe(&error) => Err(error),
        Err(error) => {
            warn(&format!("observer: error: {error:#}; nothing was verified"));
            Ok(crate::exit::USAGE)
        }
    }
}

fn is_closed_pipe(error: &anyhow::Error) -> bool {
    error.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

fn verify(context: &Context, args: &VerifyArgs) -> Result<i32> {
    let config = context.config()?;
    let inventory = context.inventory()?;
    context.require_events()?;
    let _lock = context.lock("verify", args.wait)?;
    let dirs = &context.dirs;
    let stored = Checkpoint::read(&dirs.state)?.ok_or_else(|| {
        anyhow!("there is no checkpoint in {}: nothing was consumed yet (run `observer run`)", shown(&dirs.state))
    })?;
    let mut checked = Checked::default();
    let mut findings = Vec::new();
    match events::plan(&dirs.events, &stored.header.cursors) {
        Ok(plan) => {
            let all = scrub::check_all(&dirs.events, &plan).map_err(source_error)?;
            checked.event_files = all.files;
            checked.event_bytes = all.bytes;
            checked.event_files_without_block_hashes = all.unhashed;
            findings.extend(all.mismatches.into_iter().map(|m| Finding {
                file: shown(&m.file),
                at: format!("bytes {}..{} (block {})", m.from, m.to, m.from / events::blocks::BLOCK),
                what: m.what.to_string(),
            }));
        }
        Err(SourceError::Io { path, error }) => return Err(error).context(format!("cannot read {}", shown(&path))),
        Err(error) => findings.push(Finding { file: shown(&dirs.events), at: String::new(), what: error.to_string() }),
    }
    // Removed when dropped; the rebuild never touches the live state or world.
    let temp = tempfile::Builder::new()
        .prefix("observer-verify-")
        .tempdir()
        .with_context(|| format!("cannot create a temporary directory in {}", shown(&std::env::temp_dir())))?;
    let out = temp.path().join("world");
    let report =
        fold_pass::run(dirs, &config, &inventory, &Mode::Replay { until: None, out: out.clone() }, Afterwards::Free)
            .map_err(|error| anyhow!("the rebuild into {} failed: {error}", shown(temp.path())))?;
    checked.events_rebuilt = report.folded;
    compare_world(dirs, &out, &mut checked, &mut findings)?;
    drop(temp);
    let agree = findings.is_empty();
    if args.json {
        let text = serde_json::to_string_pretty(&JsonReport { agree, checked: &checked, findings: &findings })?;
        print(&format!("{text}\n"))?;
    } else {
        print(&text_report(&checked, &findings))?;
    }
    Ok(if agree { crate::exit::SUCCESS } else { crate::exit::FAILURE })
}

fn source_error(error: SourceError) -> anyhow::Error {
    anyhow!("{error}")
}

fn text_report(checked: &Checked, findings: &[Finding]) -> String {
    let mut text = String::new();
    for finding in findings {
        let at = if finding.at.is_empty() { String::new() } else { format!(" {}", finding.at) };
        text.push_str(&format!("{}:{at}: {}\n", finding.file, finding.what));
    }
    let unhashed = match checked.event_files_without_block_hashes {
        0 => String::new(),
        n => format!(" ({} without block hashes yet: first and last 4 KiB only)", count(n, "file")),
    };
    text.push_str(&format!(
        "checked {} consumed bytes of {}{unhashed} against the hashes in the checkpoint\n",
        checked.event_bytes,
        count(checked.event_files, "event file"),
    ));
    text.push_str(&format!(
        "rebuilt {} in a temporary directory and compared {}, {} and the outbox with the live ones \
         (world/metrics.prom holds the run's own facts and is left out)\n",
        count(checked.events_rebuilt, "event"),
        count(checked.world_files as u64, "world file"),
        count(checked.history_files as u64, "history file"),
    ));
    if findings.is_empty() {
        text.push_str("all agree\n");
    } else {
        text.push_str(&format!(
            "{} found: the live world no longer follows from the events and the config as they are. \
             Restore what was edited (an event file, or a setting changed since the events were folded), \
             or run `observer rebuild` to fold them as they are now\n",
            count(findings.len() as u64, "difference"),
        ));
    }
    text
}

/// Compares the rebuilt world, history and outbox with the live ones.
fn compare_world(dirs: &Dirs, out: &Path, checked: &mut Checked, findings: &mut Vec<Finding>) -> Result<()> {
    for name in world::FILES {
        checked.world_files += 1;
        compare_file(&dirs.world.join(name), &out.join(name), findings)?;
    }
    let (live_history, rebuilt_history) = (dirs.world.join(history::DIR), out.join(history::DIR));
    let names: BTreeSet<String> = [&live_history, &rebuilt_history].into_iter().flat_map(|d| jsonl_names(d)).collect();
    for name in names {
        checked.history_files += 1;
        compare_file(&live_history.join(&name), &rebuilt_history.join(&name), findings)?;
    }
    checked.outbox = true;
    compare_file(&outbox::path(&dirs.state), &out.join(outbox::FILE_NAME), findings)
}

fn jsonl_names(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".jsonl") && !name.starts_with('.'))
        .collect()
}

/// Reads a file; a missing one reads as `None`.
fn read(path: &Path) -> Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).context(format!("cannot read {}", shown(path))),
    }
}

/// Byte for byte; a difference is told by its first differing line.
fn compare_file(live: &Path, rebuilt: &Path, findings: &mut Vec<Finding>) -> Result<()> {
    let file = shown(live);
    match (read(live)?, read(rebuilt)?) {
        (Some(a), Some(b)) if a == b => {}
        (Some(a), Some(b)) => {
            let (a, b) = (String::from_utf8_lossy(&a), String::from_utf8_lossy(&b));
            let (mut la, mut lb) = (a.lines(), b.lines());
            let mut line = 0;
            let (x, y) = loop {
                line += 1;
                match (la.next(), lb.next()) {
                    (x, y) if x != y => break (x, y),
                    // Equal lines, other bytes: line endings or the last newline.
                    (None, None) => break (Some("(line endings)"), Some("(other line endings)")),
                    _ => {}
                }
            };
            let side = |s: Option<&str>| s.map_or_else(|| "(the file ends)".to_string(), |s| format!("`{}`", s.trim()));
            let key = match (serde_json::from_str(&a), serde_json::from_str(&b)) {
                (Ok(a), Ok(b)) => first_key_differing(&a, &b, "").map(|key| format!(" (key `{key}`)")),
                _ => None,
            };
            findings.push(Finding {
                file,
                at: format!("line {line}"),
                what: format!(
                    "differs from the rebuild{}: live {}, rebuilt {}",
                    key.unwrap_or_default(),
                    side(x),
                    side(y)
                ),
            });
        }
        (Some(_), None) => {
            findings.push(Finding { file, at: String::new(), what: "the rebuild has no such file".into() })
        }
        (None, Some(_)) => {
            findings.push(Finding { file, at: String::new(), what: "missing; the rebuild has it".into() })
        }
        (None, None) => {}
    }
    Ok(())
}

/// The first key, as a dotted path, whose value differs between two JSON
/// documents (the world files keep their keys in a fixed order).
fn first_key_differing(a: &serde_json::Value, b: &serde_json::Value, path: &str) -> Option<String> {
    use serde_json::Value;
    let join = |key: &str| if path.is_empty() { key.to_string() } else { format!("{path}.{key}") };
    match (a, b) {
        _ if a == b => None,
        (Value::Object(x), Value::Object(y)) => {
            let keys = x.keys().chain(y.keys().filter(|k| !x.contains_key(*k)));
            keys.map(|key| match (x.get(key), y.get(key)) {
                (Some(p), Some(q)) => first_key_differing(p, q, &join(key)),
                (p, q) => (p != q).then(|| join(key)),
            })
            .find_map(|found| found)
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            x.iter().zip(y).enumerate().find_map(|(i, (p, q))| first_key_differing(p, q, &join(&i.to_string())))
        }
        _ => Some(path.to_string()),
    }
}
