//! The performance ratios of issue 2, measured side by side in one run.
//!
//! Absolute times on a shared machine are noise; ratios of two measurements
//! taken side by side in the same process are much less so. Each row times A
//! and B, alternating, best of `OBSERVER_BENCH_REPEATS` (default 3) each, and
//! compares A/B with its target:
//!
//! 1. `observer rebuild` of the big corpus (default 1,000,000 events in 8
//!    producer files; `OBSERVER_BENCH_EVENTS` overrides) against the floor: a
//!    program that only reads the same files, splits them into lines and
//!    parses each line into a typed struct with serde_json. Target ≤ 2.5×.
//!    The floor runs twice: as a separate process (this same benchmark binary
//!    started again with `OBSERVER_BENCH_FLOOR` set), which is the row that
//!    counts, because `rebuild` is a process too and both then pay for
//!    process start, page faults of a fresh heap and reading from the page
//!    cache alike; and in this process, for reference, where the heap is
//!    already warm (the difference between the two rows is what a fresh
//!    process pays for it).
//! 2. A no-op `observer run --no-tick` on the big history (after a first run
//!    found nothing new) against the same on a 1,000-event history. Target ≤ 2×.
//!    These take milliseconds, so each sample is the mean of 10 runs.
//!
//! Every rebuild starts from nothing: `state/` and `world/` are removed first,
//! so each repetition writes every file. Run it with `benches/run.sh`;
//! `OBSERVER_BENCH_DIR=DIR` keeps the generated histories in DIR for profiling.

#[path = "corpus.rs"]
mod corpus;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde::Deserialize;

/// Set (to an `events/` directory) when this binary runs as the floor process.
const FLOOR_ENV: &str = "OBSERVER_BENCH_FLOOR";
const PRODUCERS: usize = 8;
const SMALL_EVENTS: u64 = 1_000;
/// No-op runs timed together for one sample.
const NOOP_BATCH: u32 = 10;

/// What a careful person would write to read these events: every envelope
/// field typed, the payload (whose shape depends on the type) kept as a JSON
/// value. The payloads of the corpus are small, so this costs the floor
/// little over skipping them.
#[derive(Deserialize)]
#[allow(dead_code)] // the fields are parsed, which is the point, and never read
struct FloorEvent {
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

fn main() {
    if let Some(events) = std::env::var_os(FLOOR_ENV) {
        let parsed = floor(Path::new(&events));
        println!("{parsed}");
        return;
    }
    let events = env_number("OBSERVER_BENCH_EVENTS", 1_000_000);
    let repeats = env_number("OBSERVER_BENCH_REPEATS", 3).max(1) as usize;
    let seed = env_number("OBSERVER_BENCH_SEED", 2026);
    let observer = PathBuf::from(env!("CARGO_BIN_EXE_observer"));
    // OBSERVER_BENCH_DIR keeps the corpus (for profiling); otherwise it is
    // generated in a temporary directory that is removed at the end.
    let tmp = tempfile::Builder::new().prefix("observer-bench-").tempdir().expect("a temporary directory");
    let base = std::env::var_os("OBSERVER_BENCH_DIR").map_or_else(|| tmp.path().to_path_buf(), PathBuf::from);
    let big = base.join("big");
    let small = base.join("small");
    for dir in [&big, &small] {
        let _ = std::fs::remove_dir_all(dir);
    }

    println!("machine: {} CPUs, {}", nproc(), cpu_model());
    let started = Instant::now();
    let spec = |events| corpus::Spec { events, producers: PRODUCERS, single_files: 0, seed };
    let files = corpus::write(&big.join("events"), &spec(events)).expect("writing the big corpus");
    corpus::write(&small.join("events"), &spec(SMALL_EVENTS)).expect("writing the small corpus");
    let bytes: u64 = files.iter().map(|f| std::fs::metadata(f).map_or(0, |m| m.len())).sum();
    println!(
        "corpus: {events} events in {} files, {:.1} MiB, seed {seed} (generated in {:.1} s); best of {repeats}",
        files.len(),
        bytes as f64 / (1 << 20) as f64,
        started.elapsed().as_secs_f64()
    );

    let mut rows = Vec::new();

    // The repetitions of A and B alternate, so that a burst of load from
    // elsewhere on the machine tends to hit both sides of a ratio alike.
    let (mut rebuild, mut floor_process, mut floor_inline) = (Duration::MAX, Duration::MAX, Duration::MAX);
    for _ in 0..repeats {
        for dir in ["state", "world"] {
            let _ = std::fs::remove_dir_all(big.join(dir));
        }
        rebuild = rebuild.min(time(|| observe(&observer, &big, &["rebuild"])));
        floor_process = floor_process.min(time(|| {
            let output = Command::new(std::env::current_exe().expect("the benchmark's own path"))
                .env(FLOOR_ENV, big.join("events"))
                .output()
                .expect("starting the floor process");
            assert!(output.status.success(), "the floor process failed");
            let parsed: u64 = String::from_utf8_lossy(&output.stdout).trim().parse().expect("the floor's count");
            assert_eq!(parsed, events, "the floor parsed every event");
        }));
        floor_inline = floor_inline.min(time(|| assert_eq!(floor(&big.join("events")), events)));
    }
    let label = thousands(events);
    rows.push(Row::new(format!("rebuild {label} events / floor process"), rebuild, floor_process, Some(2.5)));
    rows.push(Row::new(format!("rebuild {label} events / floor in-process"), rebuild, floor_inline, None));

    observe(&observer, &big, &["run", "--no-tick"]);
    observe(&observer, &small, &["run", "--no-tick"]);
    // A no-op run takes milliseconds, where one stray context switch is a
    // large part: each sample is the mean of a batch of runs.
    let (mut noop_big, mut noop_small) = (Duration::MAX, Duration::MAX);
    for _ in 0..repeats {
        noop_big = noop_big.min(time(|| noop_batch(&observer, &big)) / NOOP_BATCH);
        noop_small = noop_small.min(time(|| noop_batch(&observer, &small)) / NOOP_BATCH);
    }
    rows.push(Row::new(
        format!("no-op run on {label} / on {} events", thousands(SMALL_EVENTS)),
        noop_big,
        noop_small,
        Some(2.0),
    ));

    println!();
    println!("| measurement | time A | time B | ratio A/B | target | result |");
    println!("|---|---:|---:|---:|---:|---|");
    for row in &rows {
        println!("{row}");
    }
    let last = std::fs::read_to_string(big.join("state/last-run.json")).unwrap_or_default();
    let folded = std::fs::read_to_string(big.join("world/runtime-summary.json")).unwrap_or_default();
    if let (Ok(last), Ok(summary)) =
        (serde_json::from_str::<serde_json::Value>(&last), serde_json::from_str::<serde_json::Value>(&folded))
    {
        println!(
            "\nbig history: {} events folded, {} duplicates; a no-op run read {} of {} files",
            summary["events"]["total"], summary["events"]["duplicates"], last["files_read"], last["files_seen"]
        );
    }
}

struct Row {
    name: String,
    a: Duration,
    b: Duration,
    target: Option<f64>,
}

impl Row {
    fn new(name: String, a: Duration, b: Duration, target: Option<f64>) -> Row {
        Row { name, a, b, target }
    }
}

impl std::fmt::Display for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ratio = self.a.as_secs_f64() / self.b.as_secs_f64();
        let (target, result) = match self.target {
            Some(target) => (format!("≤ {target}×"), if ratio <= target { "PASS" } else { "MISS" }),
            None => ("—".to_string(), "(for reference)"),
        };
        write!(f, "| {} | {} | {} | {ratio:.2}× | {target} | {result} |", self.name, shown(self.a), shown(self.b))
    }
}

fn shown(time: Duration) -> String {
    let ms = time.as_secs_f64() * 1000.0;
    if ms >= 1000.0 { format!("{:.3} s", ms / 1000.0) } else { format!("{ms:.1} ms") }
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn time(work: impl FnOnce()) -> Duration {
    let started = Instant::now();
    work();
    started.elapsed()
}

fn noop_batch(observer: &Path, root: &Path) {
    for _ in 0..NOOP_BATCH {
        observe(observer, root, &["run", "--no-tick"]);
    }
}

/// Runs the observer on `root`; a failure stops the benchmark.
fn observe(observer: &Path, root: &Path, args: &[&str]) {
    let output = Command::new(observer)
        .arg("--root")
        .arg(root)
        .args(args)
        .env_remove("OBSERVER_CONFIG")
        .env_remove("OBSERVER_INVENTORY")
        .env_remove("OBSERVER_NOW")
        .output()
        .expect("starting observer");
    assert!(output.status.success(), "observer {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
}

/// Reads every event file under `dir` and parses each event into a
/// [`FloorEvent`]; returns how many parsed.
fn floor(dir: &Path) -> u64 {
    let mut parsed = 0;
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries.flatten().map(|e| e.path()).collect(),
        Err(_) => return 0,
    };
    entries.sort();
    for path in entries {
        if path.is_dir() {
            parsed += floor(&path);
            continue;
        }
        let Ok(bytes) = std::fs::read(&path) else { continue };
        let name = path.to_string_lossy();
        if name.ends_with(".json") {
            parsed += u64::from(serde_json::from_slice::<FloorEvent>(&bytes).map(black_box).is_ok());
        } else if name.ends_with(".jsonl") || name.ends_with(".ndjson") {
            for line in bytes.split(|b| *b == b'\n').filter(|line| !line.is_empty()) {
                parsed += u64::from(serde_json::from_slice::<FloorEvent>(line).map(black_box).is_ok());
            }
        }
    }
    parsed
}

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(text) => text.replace(['_', ','], "").parse().unwrap_or_else(|_| panic!("{name} must be a number")),
        Err(_) => default,
    }
}

fn nproc() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split(':').nth(1))
                .map(|model| model.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}
