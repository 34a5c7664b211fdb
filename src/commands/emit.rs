//! `observer emit`: validate one event and write it atomically as its own
//! `.json` file under `events/emit/`. Each emit writes a new file through a
//! hidden temp name and a rename, so concurrent emits never tear or lose one.

use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context as _, Result, bail};
use serde_json::{Map, Value};

use super::context::Context;
use super::{print, shown};
use crate::cli::EmitArgs;
use crate::event::{Parsed, parse_event};
use crate::store::atomic::write_atomic;

pub fn execute(context: &Context, args: &EmitArgs) -> Result<i32> {
    let mut event = match args.json.as_deref() {
        None => Map::new(),
        Some(text) => {
            let text = if text == "-" {
                let mut buf = String::new();
                std::io::stdin().read_to_string(&mut buf).context("cannot read the event from standard input")?;
                buf
            } else {
                text.to_string()
            };
            match serde_json::from_str::<Value>(&text).context("--json is not valid JSON")? {
                Value::Object(map) => map,
                _ => bail!("--json must be a JSON object"),
            }
        }
    };
    let fields = [
        ("type", &args.kind),
        ("ts", &args.ts),
        ("node", &args.node),
        ("service", &args.service),
        ("correlation_id", &args.correlation_id),
        ("severity", &args.severity),
        ("message", &args.message),
        ("id", &args.id),
    ];
    for (name, value) in fields {
        if let Some(value) = value {
            event.insert(name.into(), Value::String(value.clone()));
        }
    }
    if let Some(payload) = &args.payload {
        let payload: Value = serde_json::from_str(payload).context("--payload is not valid JSON")?;
        event.insert("payload".into(), payload);
    }
    if let Some(url) = &args.nats {
        return publish(context, args, url, event);
    }
    let path = write_event(context, event)?;
    print(&format!("{}\n", shown(&path)))?;
    Ok(crate::exit::SUCCESS)
}

/// `emit --nats`: the event, validated as for a file, is published on
/// `--subject` (default `homelab.events.<node>`) and acknowledged by the
/// stream; prints `STREAM SEQUENCE`, and says when the stream kept an
/// earlier copy of the same id.
fn publish(context: &Context, args: &EmitArgs, url: &str, event: Map<String, Value>) -> Result<i32> {
    let (bytes, parsed_id) = validated(context, event)?;
    let node = bytes_node(&bytes);
    let subject =
        args.subject.clone().unwrap_or_else(|| format!("homelab.events.{}", node.as_deref().unwrap_or("observer")));
    let published = crate::nats::publish::publish(
        url,
        &args.nats_credentials.credentials(),
        &subject,
        parsed_id.as_deref(),
        bytes,
    )?;
    if published.duplicate {
        super::warn(&format!(
            "note: stream {} already held an event with this id (sequence {}); it was stored once",
            published.stream, published.sequence
        ));
    }
    print(&format!("{} {}\n", published.stream, published.sequence))?;
    Ok(crate::exit::SUCCESS)
}

/// The node of an event's bytes, for its subject; a subject token cannot
/// hold `.`, `*`, `>` or white space, so those become `_`.
fn bytes_node(bytes: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(bytes).ok()?;
    let node = value.get("node")?.as_str()?;
    Some(node.chars().map(|c| if c == '.' || c == '*' || c == '>' || c.is_whitespace() { '_' } else { c }).collect())
}

/// The event's bytes (no newline) once valid, with its `ts` now when it had
/// none, and its id.
fn validated(context: &Context, mut event: Map<String, Value>) -> Result<(Vec<u8>, Option<String>)> {
    if !event.contains_key("ts") {
        event.insert("ts".into(), Value::String(context.now()?.to_string()));
    }
    let id = event.get("id").and_then(Value::as_str).map(str::to_string);
    let bytes = serde_json::to_vec(&Value::Object(event))?;
    match parse_event(&bytes) {
        Parsed::Event(_) => Ok((bytes, id)),
        Parsed::Rejected(reason) => bail!("not a valid event, nothing was published: {reason}"),
        Parsed::Incomplete => bail!("not a valid event, nothing was published"),
    }
}

/// Validates `event` (its `ts` now by the run's clock when it has none)
/// and writes it as a new file under `events/emit/`, through a hidden temp
/// name and a rename; returns the file. `observer ack` writes its event
/// here too.
pub fn write_event(context: &Context, mut event: Map<String, Value>) -> Result<PathBuf> {
    if !event.contains_key("ts") {
        event.insert("ts".into(), Value::String(context.now()?.to_string()));
    }
    let mut bytes = serde_json::to_vec(&Value::Object(event))?;
    let parsed = match parse_event(&bytes) {
        Parsed::Event(parsed) => parsed,
        Parsed::Rejected(reason) => bail!("not a valid event, nothing was written: {reason}"),
        Parsed::Incomplete => bail!("not a valid event, nothing was written"),
    };
    bytes.push(b'\n');
    let dir = context.dirs.events.join("emit");
    crate::store::atomic::create_dir(&dir, "the directory of emitted events")?;
    let path = dir.join(unique_name(parsed.ts.0));
    write_atomic(&path, &bytes).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// `<ts ms>-<pid>-<wall ns>-<n>.json`: sorts by event time, and is unique
/// across processes (pid) and within one (counter).
fn unique_name(ts_ms: i64) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{ts_ms:013}-{}-{nanos:09}-{}.json", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}
