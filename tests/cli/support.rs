//! A homelab in a temp dir, a fluent way to run the real binary in it and
//! to build the events it reads, and what a snapshot of its output shows.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_observer");

/// A fresh root with `events/`, `logs/` and nothing else.
pub struct Homelab {
    dir: tempfile::TempDir,
    /// Passed as `--inventory` to every command, when set.
    inventory: Option<String>,
}

impl Homelab {
    pub fn new() -> Homelab {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::create_dir_all(dir.path().join("events")).unwrap();
        fs::create_dir_all(dir.path().join("logs")).unwrap();
        Homelab { dir, inventory: None }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    /// Writes (replaces) a file, creating its directories.
    pub fn write(&self, rel: &str, content: &str) -> &Homelab {
        let path = self.path(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
        self
    }

    /// Appends to a file, creating it and its directories.
    pub fn append(&self, rel: &str, content: &str) -> &Homelab {
        let path = self.path(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut file = OpenOptions::new().append(true).create(true).open(path).unwrap();
        file.write_all(content.as_bytes()).unwrap();
        self
    }

    pub fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("cannot read {rel}: {e}"))
    }

    pub fn world(&self, name: &str) -> String {
        self.read(&format!("world/{name}"))
    }

    pub fn json(&self, rel: &str) -> serde_json::Value {
        serde_json::from_str(&self.read(rel)).unwrap_or_else(|e| panic!("{rel} is not JSON: {e}"))
    }

    pub fn summary(&self) -> serde_json::Value {
        self.json("world/runtime-summary.json")
    }

    /// `observer --root ROOT ARGS…`
    pub fn observer<I: IntoIterator<Item = S>, S: AsRef<str>>(&self, args: I) -> Invocation {
        let mut command = Command::new(BIN);
        command.arg("--root").arg(self.root());
        if let Some(dir) = &self.inventory {
            command.arg("--inventory").arg(dir);
        }
        for arg in args {
            command.arg(arg.as_ref());
        }
        command.env_remove("OBSERVER_ROOT").env_remove("OBSERVER_CONFIG").env_remove("OBSERVER_INVENTORY");
        command.env("OBSERVER_NOW", "2026-05-12T13:00:00Z");
        Invocation { command, stdin: None }
    }

    /// `run --no-tick`, expected to succeed.
    pub fn run(&self) -> Outcome {
        self.observer(["run", "--no-tick"]).run().success()
    }

    /// Every world file, by name.
    pub fn world_files(&self, dir: &str) -> Vec<(String, String)> {
        WORLD_FILES.iter().map(|name| (name.to_string(), self.read(&format!("{dir}/{name}")))).collect()
    }

    /// The world and the outbox a rebuild from scratch writes, to
    /// `rebuilt/`, compared byte for byte with the live ones.
    pub fn assert_world_equals_rebuild(&self) {
        let out = self.path("rebuilt");
        let _ = fs::remove_dir_all(&out);
        self.observer(["rebuild", "--out", out.to_str().unwrap()]).run().success();
        for ((name, live), (_, rebuilt)) in self.world_files("world").into_iter().zip(self.world_files("rebuilt")) {
            assert_eq!(live, rebuilt, "world/{name} differs from a rebuild");
        }
        if self.path("state/observer_checkpoint.json").exists() {
            assert_eq!(self.read("state/outbox.jsonl"), self.read("rebuilt/outbox.jsonl"), "the outbox differs");
        }
        assert_eq!(self.history("world"), self.history("rebuilt"), "world/history differs from a rebuild");
    }

    /// The files of `DIR/history/` (SPEC §4) and their contents, by name.
    pub fn history(&self, dir: &str) -> std::collections::BTreeMap<String, String> {
        fs::read_dir(self.path(&format!("{dir}/history")))
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| (entry.file_name().to_string_lossy().into_owned(), fs::read_to_string(entry.path()).unwrap()))
            .collect()
    }
}

/// The world files guarantee 2 compares. `metrics.prom` is left out on
/// purpose: it holds the run's own duration and time of success (SPEC §9),
/// which no rebuild reproduces, and `rebuild --out` does not write it.
pub const WORLD_FILES: [&str; 6] =
    ["nodes.json", "services.json", "deployments.json", "incidents.json", "alerts.json", "runtime-summary.json"];

pub struct Invocation {
    pub command: Command,
    stdin: Option<String>,
}

impl Invocation {
    pub fn env(mut self, key: &str, value: &str) -> Invocation {
        self.command.env(key, value);
        self
    }

    pub fn stdin(mut self, text: &str) -> Invocation {
        self.stdin = Some(text.to_string());
        self
    }

    pub fn run(self) -> Outcome {
        self.run_with(Stdio::piped(), Stdio::piped())
    }

    /// Runs with `stream` connected to a pipe whose read end is closed
    /// before the command starts, so that its first write there fails with
    /// EPIPE whatever the timing. That stream comes back empty.
    pub fn run_with_closed(self, stream: Stream) -> Outcome {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        match stream {
            Stream::Stdout => self.run_with(writer.into(), Stdio::piped()),
            Stream::Stderr => self.run_with(Stdio::piped(), writer.into()),
        }
    }

    fn run_with(mut self, stdout: Stdio, stderr: Stdio) -> Outcome {
        self.command.stdout(stdout).stderr(stderr);
        self.command.stdin(if self.stdin.is_some() { Stdio::piped() } else { Stdio::null() });
        let mut child = self.command.spawn().expect("spawn observer");
        if let Some(text) = &self.stdin {
            child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        }
        Outcome::from(child.wait_with_output().expect("wait for observer"))
    }
}

/// A standard stream of the command under test.
pub enum Stream {
    Stdout,
    Stderr,
}

#[derive(Debug)]
pub struct Outcome {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Outcome {
    fn from(output: Output) -> Outcome {
        Outcome {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Outcome {
    pub fn success(self) -> Outcome {
        assert_eq!(self.code, Some(0), "expected success\nstdout: {}\nstderr: {}", self.stdout, self.stderr);
        self
    }

    pub fn code(self, code: i32) -> Outcome {
        assert_eq!(self.code, Some(code), "expected exit {code}\nstdout: {}\nstderr: {}", self.stdout, self.stderr);
        self
    }

    pub fn stderr_has(self, text: &str) -> Outcome {
        assert!(self.stderr.contains(text), "stderr lacks {text:?}:\n{}", self.stderr);
        self
    }

    pub fn stdout_has(self, text: &str) -> Outcome {
        assert!(self.stdout.contains(text), "stdout lacks {text:?}:\n{}", self.stdout);
        self
    }

    /// Everything a user sees of a command (exit code, stdout, stderr) as
    /// one text for a snapshot, with the temp root, durations and the
    /// version redacted.
    pub fn transcript(&self, lab: &Homelab) -> String {
        let code = self.code.map_or("killed by a signal".to_string(), |code| code.to_string());
        let stream = |text: &str| {
            let version = concat!("\"", env!("CARGO_PKG_VERSION"), "\"");
            let text = redact_durations(&lab.redact(text)).replace(version, "\"[VERSION]\"");
            if text.is_empty() || text.ends_with('\n') { text } else { text + "\n[no newline at the end]\n" }
        };
        format!("exit {code}\n--- stdout\n{}--- stderr\n{}", stream(&self.stdout), stream(&self.stderr))
    }
}

/// Replaces measured times with `[N]`: a number before `ms` or ` ms`
/// (`ok (2 ms)`), and the value of a JSON key that ends in `_ms`.
fn redact_durations(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(|c: char| c.is_ascii_digit()) {
        let end = rest[start..].find(|c: char| !c.is_ascii_digit()).map_or(rest.len(), |n| start + n);
        let (before, number, after) = (&rest[..start], &rest[start..end], &rest[end..]);
        let standalone = !before.ends_with(|c: char| c.is_alphanumeric() || "_-:.".contains(c));
        let unit = ["ms", " ms"]
            .iter()
            .any(|unit| after.strip_prefix(unit).is_some_and(|tail| !tail.starts_with(char::is_alphanumeric)));
        let measured = (standalone && unit) || before.ends_with("_ms\": ");
        out.push_str(before);
        out.push_str(if measured { "[N]" } else { number });
        rest = after;
    }
    out.push_str(rest);
    out
}

/// One event, built field by field: `ts` and `type` first, then the others
/// in the order they are set, written as one compact JSON object.
///
/// `Ev::new("2026-05-12T12:00:00Z", "heartbeat").node("saturn").line()`
#[derive(Clone, Debug)]
pub struct Ev {
    fields: Vec<(String, serde_json::Value)>,
}

impl Ev {
    pub fn new(ts: &str, kind: &str) -> Ev {
        Ev { fields: vec![("ts".into(), ts.into()), ("type".into(), kind.into())] }
    }

    pub fn node(self, node: &str) -> Ev {
        self.field("node", node)
    }

    pub fn service(self, service: &str) -> Ev {
        self.field("service", service)
    }

    pub fn id(self, id: &str) -> Ev {
        self.field("id", id)
    }

    /// `correlation_id`
    pub fn correlation(self, id: &str) -> Ev {
        self.field("correlation_id", id)
    }

    pub fn severity(self, severity: &str) -> Ev {
        self.field("severity", severity)
    }

    pub fn message(self, message: &str) -> Ev {
        self.field("message", message)
    }

    pub fn payload(self, payload: serde_json::Value) -> Ev {
        self.field("payload", payload)
    }

    /// Any field; one set again keeps its place and takes the new value.
    pub fn field(mut self, key: &str, value: impl Into<serde_json::Value>) -> Ev {
        let value = value.into();
        match self.fields.iter_mut().find(|(k, _)| k == key) {
            Some(field) => field.1 = value,
            None => self.fields.push((key.to_string(), value)),
        }
        self
    }

    /// The event as one JSON object, without a newline (a `.json` file).
    pub fn json(&self) -> String {
        let fields: Vec<String> = self
            .fields
            .iter()
            .map(|(key, value)| format!("{}:{value}", serde_json::Value::from(key.as_str())))
            .collect();
        format!("{{{}}}", fields.join(","))
    }

    /// The event as a line of a JSON Lines file, newline included.
    pub fn line(&self) -> String {
        self.json() + "\n"
    }
}

/// Events as JSON Lines, one line each.
pub fn lines<'a>(events: impl IntoIterator<Item = &'a Ev>) -> String {
    events.into_iter().map(Ev::line).collect()
}

impl Homelab {
    /// A copy of a shipped example root (e.g. `fixtures/demo`), without
    /// anything a previous run wrote into it.
    pub fn from_fixture(rel: &str) -> Homelab {
        let lab = Homelab::new();
        let from = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
        for entry in walkdir::WalkDir::new(&from).sort_by_file_name() {
            let entry = entry.unwrap();
            let rel_path = entry.path().strip_prefix(&from).unwrap();
            let first = rel_path.components().next().map(|c| c.as_os_str().to_string_lossy().into_owned());
            let written_by_a_run = matches!(first.as_deref(), Some("world"))
                || rel_path.starts_with("events/observer")
                || (first.as_deref() == Some("state") && !rel_path.starts_with("state/deployments"));
            if written_by_a_run && rel_path != Path::new("state") {
                continue;
            }
            let to = lab.root().join(rel_path);
            if entry.file_type().is_dir() {
                fs::create_dir_all(&to).unwrap();
            } else if entry.file_type().is_file() {
                fs::copy(entry.path(), &to).unwrap();
            }
        }
        lab
    }

    /// Every command gets `--inventory DIR`.
    pub fn with_inventory(mut self, dir: &str) -> Homelab {
        self.inventory = Some(dir.to_string());
        self
    }

    /// Replaces the temp root in output so that snapshots are stable.
    pub fn redact(&self, text: &str) -> String {
        text.replace(&self.root().display().to_string(), "[ROOT]")
    }
}

/// The shipped example inventory.
pub fn example_inventory() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("inventory").display().to_string()
}

impl Homelab {
    /// Starts `observer --root ROOT ARGS…` without waiting, its output
    /// discarded: for tests that kill it.
    pub fn spawn<I: IntoIterator<Item = S>, S: AsRef<str>>(
        &self,
        args: I,
        env: &[(&str, &str)],
    ) -> std::process::Child {
        let mut invocation = self.observer(args);
        for (key, value) in env {
            invocation.command.env(key, value);
        }
        invocation.command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        invocation.command.spawn().expect("spawn observer")
    }

    /// Hidden temp files (`.name.tmp`) left in `world/`, `world/history/`
    /// and `state/`.
    pub fn temp_files(&self) -> Vec<String> {
        ["world", "world/history", "state"]
            .iter()
            .flat_map(|dir| fs::read_dir(self.path(dir)).into_iter().flatten().flatten())
            .map(|entry| entry.path().strip_prefix(self.root()).unwrap().display().to_string())
            .filter(|name| name.ends_with(".tmp"))
            .collect()
    }

    /// The first document of the checkpoint: format, cursors, clock.
    pub fn checkpoint_header(&self) -> serde_json::Value {
        let text = self.read("state/observer_checkpoint.json");
        serde_json::from_str(text.lines().next().unwrap_or_default()).expect("checkpoint header")
    }

    /// The live checkpoint in the layout of format 3, which kept the state
    /// document (engine state and rejections) in its body: its header and
    /// body, for a test to edit and write back. Read through the library,
    /// so the journal is replayed.
    pub fn checkpoint_as_format_3(&self) -> (serde_json::Value, serde_json::Value) {
        let loaded = observer::store::checkpoint::Checkpoint::load(&self.path("state")).unwrap().expect("a checkpoint");
        let mut header = self.checkpoint_header();
        header["format"] = serde_json::json!(3);
        // Format 3 wrote its instants in RFC 3339: so are they here, the
        // minutes of ids read raw (as this version wrote them) included.
        (header, with_rfc3339_instants(serde_json::json!({"engine": loaded.engine, "rejects": loaded.rejects})))
    }

    /// Rewrites the live checkpoint in the layout of format 3.
    pub fn write_checkpoint_of_format_3(&self) {
        let (header, body) = self.checkpoint_as_format_3();
        self.write("state/observer_checkpoint.json", &format!("{header}\n{body}\n"));
    }

    /// Every world file that exists, by name (missing ones are left out).
    pub fn world_files_present(&self, dir: &str) -> Vec<(String, String)> {
        WORLD_FILES
            .iter()
            .filter_map(|name| {
                fs::read_to_string(self.path(&format!("{dir}/{name}"))).ok().map(|t| (name.to_string(), t))
            })
            .collect()
    }
}

/// Every instant of a state document as observer wrote it before format
/// 5: integers that are milliseconds of this test's years, and map keys of
/// their digits, in RFC 3339. (No other number of these tests' states is
/// that large.)
pub fn with_rfc3339_instants(value: serde_json::Value) -> serde_json::Value {
    let instant =
        |ms: i64| (1_000_000_000_000..10_000_000_000_000).contains(&ms).then(|| observer::time::Ts(ms).to_rfc3339());
    match value {
        serde_json::Value::Number(n) => match n.as_i64().and_then(instant) {
            Some(text) => serde_json::Value::String(text),
            None => serde_json::Value::Number(n),
        },
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(with_rfc3339_instants).collect())
        }
        serde_json::Value::Object(members) => serde_json::Value::Object(
            members
                .into_iter()
                .map(|(key, value)| {
                    let key = key.parse::<i64>().ok().and_then(instant).unwrap_or(key);
                    (key, with_rfc3339_instants(value))
                })
                .collect(),
        ),
        other => other,
    }
}

/// Whether the long mode of the slow tests is on (`OBSERVER_LONG_TESTS=1`).
pub fn long_mode() -> bool {
    std::env::var("OBSERVER_LONG_TESTS").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// A size for a slow test: `var` if set, else the quick or the long default.
pub fn long_mode_value<T: std::str::FromStr>(var: &str, quick: T, long: T) -> T {
    match std::env::var(var).ok().and_then(|v| v.parse().ok()) {
        Some(value) => value,
        None if long_mode() => long,
        None => quick,
    }
}

impl Homelab {
    /// Makes the live checkpoint commit `text` as the outbox, as a pass that
    /// decided those lines would have (a first pass makes the checkpoint
    /// when there is none): for tests of what reads the committed outbox.
    pub fn commit_outbox(&self, text: &str) {
        if !self.path("state/observer_checkpoint.json").exists() {
            std::fs::create_dir_all(self.path("events")).unwrap();
            // Without delivery: the test's channels are for what it commits.
            let quiet = self.path("commit-outbox.yaml");
            std::fs::write(&quiet, "notify: {enabled: false}\n").unwrap();
            self.observer(["--config", quiet.to_str().unwrap(), "run", "--no-tick"]).run().success();
            std::fs::remove_file(quiet).unwrap();
        }
        self.write("state/outbox.jsonl", text);
        let checkpoint = self.read("state/observer_checkpoint.json");
        let (header, body) = checkpoint.split_once('\n').unwrap();
        let mut header: serde_json::Value = serde_json::from_str(header).unwrap();
        header["outbox"] = serde_json::json!({
            "bytes": text.len(),
            "lines": text.lines().count(),
            "digest": observer::store::fingerprint::fnv1a(text.as_bytes()),
        });
        self.write("state/observer_checkpoint.json", &format!("{header}\n{body}"));
        // The world as a fold that decided these lines would show it: the
        // keys whose last notification is a firing or a reminder fire.
        let mut last = std::collections::BTreeMap::new();
        for line in text.lines() {
            let n: serde_json::Value = serde_json::from_str(line).unwrap();
            last.insert(n["key"].as_str().unwrap().to_string(), n);
        }
        let mut alerts = serde_json::Map::new();
        for (key, n) in last.into_iter().filter(|(_, n)| n["kind"] == "firing" || n["kind"] == "reminder") {
            alerts.insert(
                key.clone(),
                serde_json::json!({"key": key, "status": "firing", "fired_at": n["fired_at"],
                    "last_notification": {"id": n["id"], "kind": n["kind"], "ts": n["ts"]}}),
            );
        }
        self.write("world/alerts.json", &serde_json::json!({"schema_version": 1, "alerts": alerts}).to_string());
    }
}
