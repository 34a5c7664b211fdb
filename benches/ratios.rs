//! The performance table of issue 5, every row a ratio of two measurements
//! taken side by side in one run.
//!
//! Absolute times on a shared machine are noise; ratios of two measurements
//! taken side by side in the same run are much less so. Each timed row runs
//! A and B alternately, best of `OBSERVER_BENCH_REPEATS` (default 3) each:
//!
//! 1. `observer rebuild` of the big corpus (default 1,000,000 events in 8
//!    producer files; `OBSERVER_BENCH_EVENTS` overrides) against the typed floor: a
//!    program that only reads the same files, splits them into lines and
//!    parses each line into a typed struct with serde_json. Target ≤ 1.5×.
//!    The floor runs as a separate process (this same benchmark binary
//!    started again with `OBSERVER_BENCH_FLOOR` set), because `rebuild` is a
//!    process too and both then pay for process start, a fresh heap and
//!    reading from the page cache alike; and in this process, for reference.
//! 2. The same rebuild against a `jq` fold of the same files, what a shell
//!    user would write instead (`jq -n 'reduce inputs as $e …'`: last
//!    heartbeat and status per node, status per service, counts by type).
//!    Reported, no target; skipped when `jq` is not installed.
//! 3. `observer run --no-tick` with 1,000 new events appended to the
//!    producer files of the big history, against the rebuild. Target ≤ 5 %.
//! 4. A no-op `run --no-tick` on the big history against the same on a
//!    1,000-event history. Target ≤ 1.5×. These take milliseconds, so each
//!    sample is the mean of 10 runs.
//! 5. Peak memory (maximum resident set, from GNU `time -f %M`) of the
//!    rebuild against that of a `run --no-tick` that folds 1,000 new events
//!    on the same history (issue 11's definition: a run that folds holds the
//!    live state, and the rebuild should hold little more). Target ≤ 2×.
//!    Skipped without `/usr/bin/time`.
//! 6. 50,000 single-event `.json` files (`OBSERVER_BENCH_SINGLES`): a no-op
//!    run against `find events -type f | wc -l`. Target ≤ 3×. For
//!    reference, `find` that looks at each file (`-size +0`, one `stat`
//!    each, as a run must to notice a changed file) against the same.
//! 7. The rebuild of row 1 with the default alert rules against the same
//!    rebuild with every rule switched off (`alerts.rules.*.enabled:
//!    false`). Target ≤ 1.1× (issue 12).
//! 8. `observer notify` delivering 10,000 notifications
//!    (`OBSERVER_BENCH_NOTIFICATIONS`) from a committed outbox to a webhook
//!    on loopback, against a bare loop of as many POSTs with ureq, the
//!    webhook channel's client, to the same server; reported as times and
//!    as notifications per second, no target (benches/delivery.rs).
//! 9. `observer explain` of one resolved incident of the big history
//!    (from the middle of the hot view), through the event index that the
//!    rebuild and the runs of rows 3 and 18 wrote, against the rebuild.
//!    Target ≤ 5 % (issue 13).
//!
//! 10. and 11. `observer watch`: the latency until the world shows an
//!     appended event, with and without the notify wake-up, and the CPU time
//!     of an idle watch (benches/watch.rs). `OBSERVER_BENCH_ONLY=watch` runs
//!     these rows alone.
//! 12. Bytes the scrub read (`scrub.bytes_checked` in
//!     `state/last-run.json`, counted by the run itself) in a no-op run on
//!     the big history, against `integrity.scrub_bytes_per_run` (4 MiB).
//!     Target ≤ 1.05×: a run reads its budget plus at most one 64 KiB block
//!     at each end of its stretch (issue 10).
//! 13. `observer verify` of the big history (every consumed byte against its
//!     block hash, a rebuild into a temporary directory, the comparison
//!     with the live world) against a rebuild of it. Target ≤ 1.5×.
//!
//! 16. The rebuild of row 1 against a tighter floor process
//!     (benches/floor.rs): each file read whole, each line parsed into an
//!     envelope whose fields all borrow from the file (`Cow<str>`), the
//!     payload kept as a `RawValue`, and a map keyed by (node, service)
//!     updated from it. Target ≤ 1.5× calm, ≤ 2.5× busy.
//! 17. The bytes written by the run of row 3 against those written by the
//!     rebuild beside it: `wchar` of this process's `/proc/self/io` before
//!     and after each child (Linux adds a reaped child's counters to its
//!     parent's), so every byte passed to `write`, to files or pipes, by the
//!     page cache or not. Target ≤ 5 %.
//!
//! 18. The run after the run of row 3, with 1,000 more new events, against
//!     the same rebuild. Target ≤ 5 %, row 3's: this is the run a timer
//!     makes every minute. Row 3's run is the first after a rebuild, which
//!     reads the engine state as one snapshot; this one reads the snapshot
//!     and the journal of what row 3's run changed, spliced into it before
//!     the parse (`store/journal_entities.rs`), as every run does until
//!     the journal would pass half the snapshot and the state is compacted
//!     into a new one (on the busy history, about every eighth or ninth
//!     such run).
//!     Skipped when row 3's run left no journal (it wrote a new snapshot).
//! 19. The runs a timer makes over a quarter of an hour: from a rebuild,
//!     15 runs in a row, each with 1,000 new events, their mean time against
//!     the rebuild (target ≤ 5 %, row 3's, since these are the same runs
//!     in their steady state), and their mean bytes written against the
//!     rebuild's (row 17's 5 %). Rows 3 and 18 are the first two runs after
//!     a rebuild; these include the runs that compact the state's journal
//!     into a new snapshot (the row says how many) and the runs whose
//!     journal has grown (more records to splice into the snapshot).
//!
//! Every row but 8, 10 and 11 is measured on two generated shapes
//! (benches/corpus.rs): `calm`, a month of a calm homelab, and `busy`, two
//! days of a busy one (a deployment every ~3 s, a failure episode every
//! ~8 s). `OBSERVER_BENCH_SHAPE=calm|busy|both` (default both) picks them;
//! each shape's histories live in their own directory.
//!
//! 14. and 15. NATS JetStream: relay throughput against raw consumption with
//!     the same client, and the latency from a publish to the world with
//!     `watch --nats` (benches/nats.rs; skipped without nats-server).
//!     `OBSERVER_BENCH_ONLY=nats` runs these rows alone;
//!     `OBSERVER_BENCH_ONLY=shapes` runs only the rows that depend on the
//!     history (all but 8, 10, 11, 14 and 15).
//!
//! Every rebuild starts from nothing: `state/` and `world/` are removed first,
//! so each repetition writes every file. Run it with `benches/run.sh`;
//! `OBSERVER_BENCH_DIR=DIR` keeps the generated histories in DIR for profiling.

#[path = "corpus.rs"]
mod corpus;
#[path = "delivery.rs"]
mod delivery;
#[path = "floor.rs"]
mod floor;
#[path = "nats.rs"]
mod nats;
#[path = "watch.rs"]
mod watch;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use corpus::Shape;

/// Set (to an `events/` directory) when this binary runs as a floor process.
const FLOOR_ENV: &str = "OBSERVER_BENCH_FLOOR";
/// Which floor that process runs: `typed` (row 1) or `zero-copy` (row 16).
const FLOOR_KIND_ENV: &str = "OBSERVER_BENCH_FLOOR_KIND";
const PRODUCERS: usize = 8;
const SMALL_EVENTS: u64 = 1_000;
/// No-op runs timed together for one sample.
const NOOP_BATCH: u32 = 10;

/// What every shape's rows are measured with.
struct Setup {
    observer: PathBuf,
    events: u64,
    singles: u64,
    repeats: usize,
    seed: u64,
    /// Where the alerts-off config of row 7 is.
    alerts_off: PathBuf,
}

fn main() {
    if let Some(events) = std::env::var_os(FLOOR_ENV) {
        let kind = floor::Kind::from_name(&std::env::var(FLOOR_KIND_ENV).unwrap_or_default());
        println!("{}", kind.run(Path::new(&events)));
        return;
    }
    let events = env_number("OBSERVER_BENCH_EVENTS", 1_000_000);
    let singles = env_number("OBSERVER_BENCH_SINGLES", 50_000);
    let repeats = env_number("OBSERVER_BENCH_REPEATS", 3).max(1) as usize;
    let seed = env_number("OBSERVER_BENCH_SEED", 2026);
    let notifications = env_number("OBSERVER_BENCH_NOTIFICATIONS", 10_000);
    // OBSERVER_BENCH_BIN runs the same table with another build (an older
    // release, for before-and-after ratios); rows it cannot run are skipped.
    let observer = std::env::var_os("OBSERVER_BENCH_BIN")
        .map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_observer")), PathBuf::from);
    let shapes = match std::env::var("OBSERVER_BENCH_SHAPE").as_deref() {
        Ok("calm") => vec![Shape::Calm],
        Ok("busy") => vec![Shape::Busy],
        Ok("both") | Err(_) => vec![Shape::Calm, Shape::Busy],
        Ok(other) => panic!("OBSERVER_BENCH_SHAPE must be calm, busy or both, not {other:?}"),
    };
    // OBSERVER_BENCH_DIR keeps the corpus (for profiling); otherwise it is
    // generated in a temporary directory that is removed at the end.
    let tmp = tempfile::Builder::new().prefix("observer-bench-").tempdir().expect("a temporary directory");
    let base = std::env::var_os("OBSERVER_BENCH_DIR").map_or_else(|| tmp.path().to_path_buf(), PathBuf::from);

    println!("machine: {} CPUs, {}", nproc(), cpu_model());
    if std::env::var("OBSERVER_BENCH_ONLY").is_ok_and(|only| only == "watch") {
        print_table(&watch::rows(&observer, &base));
        return;
    }
    if std::env::var("OBSERVER_BENCH_ONLY").is_ok_and(|only| only == "nats") {
        print_table(&nats::rows(&observer, &base));
        return;
    }
    // Row 7: the same rebuild with every alert rule switched off.
    let alerts_off = tmp.path().join("alerts-off.yaml");
    std::fs::write(&alerts_off, ALERTS_OFF).expect("writing the alerts-off config");
    let setup = Setup { observer: observer.clone(), events, singles, repeats, seed, alerts_off };
    let mut rows = Vec::new();
    for shape in shapes {
        rows.extend(shape_rows(&setup, shape, &base.join(shape.name())));
    }
    // OBSERVER_BENCH_ONLY=shapes: only the rows that depend on the history.
    if std::env::var("OBSERVER_BENCH_ONLY").is_ok_and(|only| only == "shapes") {
        print_table(&rows);
        return;
    }
    // 8. Delivery of a committed outbox to a loopback webhook, and 10 and
    // 11, watch: neither depends on the shape of the history.
    rows.extend(delivery::rows(&observer, &base, notifications, repeats));
    rows.extend(watch::rows(&observer, &base));
    // 14 and 15. NATS: relay throughput and watch --nats latency.
    rows.extend(nats::rows(&observer, &base));
    print_table(&rows);
}

/// Every row that depends on the history, on a history of `shape` generated
/// under `dir`.
fn shape_rows(setup: &Setup, shape: Shape, dir: &Path) -> Vec<Row> {
    let (observer, events, singles, repeats) = (&setup.observer, setup.events, setup.singles, setup.repeats);
    let (big, small, many) = (dir.join("big"), dir.join("small"), dir.join("many"));
    for dir in [&big, &small, &many] {
        let _ = std::fs::remove_dir_all(dir);
    }
    let started = Instant::now();
    let spec =
        |events, single_files| corpus::Spec { events, producers: PRODUCERS, single_files, seed: setup.seed, shape };
    // The big history, and behind it the new events rows 3 and 18 append,
    // 1,000 for each run of each repetition.
    // Row 5 takes one more batch, row 19 one for each of its runs.
    let mut generator =
        corpus::generate(&spec(events + NEW_EVENTS * (2 * repeats as u64 + 1 + u64::from(TIMER_RUNS)), 0));
    let files = corpus::append(&big.join("events"), generator.by_ref().take(events as usize)).expect("the corpus");
    corpus::write(&small.join("events"), &spec(SMALL_EVENTS, 0)).expect("writing the small corpus");
    corpus::write(&many.join("events"), &spec(singles, singles)).expect("writing the single-event files");
    let bytes: u64 = files.iter().map(|f| std::fs::metadata(f).map_or(0, |m| m.len())).sum();
    println!(
        "{} corpus: {events} events in {} files, {:.1} MiB, seed {} (generated in {:.1} s); best of {repeats}",
        shape.name(),
        files.len(),
        bytes as f64 / (1 << 20) as f64,
        setup.seed,
        started.elapsed().as_secs_f64()
    );
    let label = format!("{} [{}]", thousands(events), shape.name());
    let mut rows = Vec::new();

    // 1, 2, 7 and 16. The repetitions of A and B alternate, so that a burst
    // of load from elsewhere on the machine tends to hit both sides of a
    // ratio alike.
    let jq = jq_available();
    let (mut rebuild, mut floor_process, mut floor_inline, mut jq_fold) =
        (Duration::MAX, Duration::MAX, Duration::MAX, Duration::MAX);
    let mut zero_copy = Duration::MAX;
    let alerts_off = ["--config", setup.alerts_off.to_str().expect("a UTF-8 temp path")];
    let mut rebuild_alerts_off = Duration::MAX;
    for _ in 0..repeats {
        rebuild = rebuild.min(time(|| rebuild_from_nothing(observer, &big)));
        rebuild_alerts_off = rebuild_alerts_off.min(time(|| rebuild_from_nothing_with(observer, &big, &alerts_off)));
        floor_process = floor_process.min(time(|| floor_process_run(floor::Kind::Typed, &big, events)));
        zero_copy = zero_copy.min(time(|| floor_process_run(floor::Kind::ZeroCopy, &big, events)));
        floor_inline = floor_inline.min(time(|| assert_eq!(floor::typed(&big.join("events")), events)));
        if jq {
            jq_fold = jq_fold.min(time(|| jq_reduce(&files)));
        }
    }
    rows.push(Row::time(format!("1. rebuild {label} events / floor process"), rebuild, floor_process, Some(1.5)));
    rows.push(Row::time(format!("   rebuild {label} events / floor in-process"), rebuild, floor_inline, None));
    let zero_copy_target = if shape == Shape::Busy { 2.5 } else { 1.5 };
    rows.push(Row::time(
        format!("16. rebuild {label} events / zero-copy floor process"),
        rebuild,
        zero_copy,
        Some(zero_copy_target),
    ));
    rows.push(Row::time(
        format!("7. rebuild {label} events with the default alert rules / with every rule off"),
        rebuild,
        rebuild_alerts_off,
        Some(1.1),
    ));
    rows.push(match jq {
        true => Row::time(format!("2. rebuild {label} events / jq fold of the same files"), rebuild, jq_fold, None),
        false => Row::skipped("2. rebuild / jq fold", "jq is not installed"),
    });

    // 3 and 17. A run with 1,000 new events against a rebuild of the
    // history: time, and bytes written (`wchar` of /proc/self/io, which
    // counts what reaped children wrote). 18. Then the next run, with
    // 1,000 more.
    let (mut incremental, mut next_run, mut journaled) = (Duration::MAX, Duration::MAX, true);
    let mut rebuild_again = Duration::MAX;
    let (mut run_written, mut rebuild_written) = (u64::MAX, u64::MAX);
    for _ in 0..repeats {
        let before = io_counters();
        rebuild_again = rebuild_again.min(time(|| rebuild_from_nothing(observer, &big)));
        let after = io_counters();
        rebuild_written = rebuild_written.min(after.since(&before));
        append_new_events(&big, &mut generator);
        let before = io_counters();
        incremental = incremental.min(time(|| observe(observer, &big, &["run", "--no-tick"])));
        run_written = run_written.min(io_counters().since(&before));
        journaled &= holds_a_journal(&big);
        append_new_events(&big, &mut generator);
        next_run = next_run.min(time(|| observe(observer, &big, &["run", "--no-tick"])));
    }
    rows.push(Row::time(
        format!("3. run with {} new events on {label} / rebuild", thousands(NEW_EVENTS)),
        incremental,
        rebuild_again,
        Some(0.05),
    ));
    rows.push(match journaled {
        true => Row::time(
            format!(
                "18. run with {} new events on {label} after a run that wrote the state's journal / rebuild",
                thousands(NEW_EVENTS)
            ),
            next_run,
            rebuild_again,
            Some(0.05),
        ),
        false => Row::skipped("18. run after a journaled run", "row 3's run left no journal (it wrote a new snapshot)"),
    });
    rows.push(match run_written {
        u64::MAX | 0 => Row::skipped("17. bytes written", "/proc/self/io is not readable"),
        _ => Row::bytes(
            format!("17. bytes written by a run with {} new events on {label} / by rebuild", thousands(NEW_EVENTS)),
            run_written,
            rebuild_written,
            0.05,
        ),
    });

    // 9. Explain of one incident of the big history, through the event
    // index the rebuild and the runs of rows 3 and 18 wrote, against the rebuild.
    rows.push(match incident_to_explain(&big) {
        Some(id) => {
            let mut explain = Duration::MAX;
            for _ in 0..repeats {
                explain = explain.min(time(|| observe(observer, &big, &["explain", &id])));
            }
            Row::time(format!("9. explain of one incident in {label} / rebuild"), explain, rebuild_again, Some(0.05))
        }
        None => Row::skipped("9. explain of one incident", "the history has no incident"),
    });

    // 4. No-op runs on a big and a small history.
    observe(observer, &big, &["run", "--no-tick"]);
    let last = std::fs::read_to_string(big.join("state/last-run.json")).unwrap_or_default();
    let folded = std::fs::read_to_string(big.join("world/runtime-summary.json")).unwrap_or_default();
    if let (Ok(last), Ok(summary)) =
        (serde_json::from_str::<serde_json::Value>(&last), serde_json::from_str::<serde_json::Value>(&folded))
    {
        println!(
            "{} history: {} events folded, {} duplicates; a no-op run read {} of {} files",
            shape.name(),
            summary["events"]["total"],
            summary["events"]["duplicates"],
            last["files_read"],
            last["files_seen"]
        );
    }
    observe(observer, &small, &["run", "--no-tick"]);
    // A no-op run takes milliseconds, where one stray context switch is a
    // large part: each sample is the mean of a batch of runs.
    let (mut noop_big, mut noop_small) = (Duration::MAX, Duration::MAX);
    for _ in 0..repeats {
        noop_big = noop_big.min(time(|| noop_batch(observer, &big)) / NOOP_BATCH);
        noop_small = noop_small.min(time(|| noop_batch(observer, &small)) / NOOP_BATCH);
    }
    rows.push(Row::time(
        format!("4. no-op run on {label} / on {} events", thousands(SMALL_EVENTS)),
        noop_big,
        noop_small,
        Some(1.5),
    ));

    // 5. Peak memory: a rebuild, then a run that folds 1,000 new events
    // appended to what it consumed.
    rows.push(match peak_kib(observer, &big, &["rebuild"]) {
        Some(rebuild_kib) => {
            append_new_events(&big, &mut generator);
            let run_kib = peak_kib(observer, &big, &["run", "--no-tick"]).expect("the peak of a run");
            Row::memory(
                format!("5. peak memory of rebuild {label} / of a run with {} new events", thousands(NEW_EVENTS)),
                rebuild_kib,
                run_kib,
                2.0,
            )
        }
        None => Row::skipped("5. peak memory", "GNU time (/usr/bin/time) is not installed"),
    });

    // 19. The runs a timer makes, one after the other from a rebuild, each
    // with 1,000 new events: their mean, the state's compaction included.
    rebuild_from_nothing(observer, &big);
    let (mut runs, mut runs_written, mut compactions) = (Duration::ZERO, 0, 0);
    for _ in 0..TIMER_RUNS {
        append_new_events(&big, &mut generator);
        let (before, generation) = (io_counters(), state_generation(&big));
        runs += time(|| observe(observer, &big, &["run", "--no-tick"]));
        runs_written += io_counters().since(&before);
        compactions += u32::from(state_generation(&big) != generation);
    }
    let timer = format!(
        "19. mean of {TIMER_RUNS} runs in a row after a rebuild, each with {} new events on {label} ({compactions} compacting the state) / rebuild",
        thousands(NEW_EVENTS)
    );
    rows.push(Row::time(timer, runs / TIMER_RUNS, rebuild_again, Some(0.05)));
    rows.push(match runs_written {
        0 => Row::skipped("   bytes written by those runs", "/proc/self/io is not readable"),
        _ => Row::bytes(
            format!("   bytes written by those runs, mean / by rebuild {label}"),
            runs_written / u64::from(TIMER_RUNS),
            rebuild_written,
            0.05,
        ),
    });

    // 6. Many single-event files: a no-op run against listing them.
    observe(observer, &many, &["run", "--no-tick"]);
    let (mut noop_many, mut find, mut find_stat) = (Duration::MAX, Duration::MAX, Duration::MAX);
    for _ in 0..repeats {
        noop_many = noop_many.min(time(|| observe(observer, &many, &["run", "--no-tick"])));
        find = find.min(time(|| find_count(&many.join("events"), "", singles)));
        find_stat = find_stat.min(time(|| find_count(&many.join("events"), "-size +0", singles)));
    }
    rows.push(Row::time(
        format!(
            "6. no-op run on {} `.json` files [{}] / `find events -type f \\| wc -l`",
            thousands(singles),
            shape.name()
        ),
        noop_many,
        find,
        Some(3.0),
    ));
    rows.push(Row::time(
        "   `find … -size +0` (which looks at every file, as a run must) / `find … -type f`".to_string(),
        find_stat,
        find,
        None,
    ));

    // 12. Bytes the scrub read in a no-op run on the big history, as that
    // run counted them (state/last-run.json), against the budget.
    observe(observer, &big, &["run", "--no-tick"]);
    let last = std::fs::read_to_string(big.join("state/last-run.json")).unwrap_or_default();
    let scrub = serde_json::from_str::<serde_json::Value>(&last).ok().map(|last| last["scrub"].clone());
    rows.push(match scrub.as_ref().and_then(|s| Some((s["bytes_checked"].as_u64()?, s["budget"].as_u64()?))) {
        Some((read, budget)) if budget > 0 => {
            Row::bytes(format!("12. bytes the scrub read in a no-op run on {label} / the budget"), read, budget, 1.05)
        }
        _ => Row::skipped("12. scrub bytes", "the no-op run recorded no scrub"),
    });
    // 13. verify (every consumed byte, a rebuild into a temporary directory,
    // the comparison) against a rebuild of the same history.
    let has_verify = Command::new(observer).args(["verify", "--help"]).output().is_ok_and(|o| o.status.success());
    rows.push(if has_verify {
        let (mut verify, mut rebuild_verified) = (Duration::MAX, Duration::MAX);
        for _ in 0..repeats {
            rebuild_verified = rebuild_verified.min(time(|| rebuild_from_nothing(observer, &big)));
            verify = verify.min(time(|| observe(observer, &big, &["verify"])));
        }
        Row::time(format!("13. verify of {label} events / rebuild"), verify, rebuild_verified, Some(1.5))
    } else {
        Row::skipped("13. verify / rebuild", "this build has no `observer verify`")
    });

    rows
}

/// Starts this benchmark binary again as a floor process of `kind` over the
/// events of `root`, which must parse all `events`.
fn floor_process_run(kind: floor::Kind, root: &Path, events: u64) {
    let output = Command::new(std::env::current_exe().expect("the benchmark's own path"))
        .env(FLOOR_ENV, root.join("events"))
        .env(FLOOR_KIND_ENV, kind.name())
        .output()
        .expect("starting the floor process");
    assert!(output.status.success(), "the floor process failed");
    let parsed: u64 = String::from_utf8_lossy(&output.stdout).trim().parse().expect("the floor's count");
    assert_eq!(parsed, events, "the {} floor parsed every event", kind.name());
}

/// This process's I/O counters (`/proc/self/io`), which include those of
/// every child already reaped.
struct Io {
    wchar: u64,
}

impl Io {
    fn since(&self, before: &Io) -> u64 {
        self.wchar.saturating_sub(before.wchar)
    }
}

fn io_counters() -> Io {
    let text = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    let field = |name: &str| {
        text.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(": ")?.trim().parse().ok()).unwrap_or(0)
    };
    Io { wchar: field("wchar") }
}

/// A resolved incident from the middle of the hot view (by id, which
/// sorts by start time), for row 9.
fn incident_to_explain(root: &Path) -> Option<String> {
    let text = std::fs::read_to_string(root.join("world/incidents.json")).ok()?;
    let world: serde_json::Value = serde_json::from_str(&text).ok()?;
    let resolved: Vec<&String> = world["incidents"]
        .as_object()?
        .iter()
        .filter(|(_, incident)| incident["status"] == "resolved")
        .map(|(id, _)| id)
        .collect();
    resolved.get(resolved.len() / 2).map(|id| id.to_string())
}

fn print_table(rows: &[Row]) {
    println!();
    println!("| measurement | A | B | ratio A/B | target | result |");
    println!("|---|---:|---:|---:|---:|---|");
    for row in rows {
        println!("{row}");
    }
}

/// Appends the next [`NEW_EVENTS`] of `generator` to the history under
/// `root`. The generator is sized for every batch the rows take; one that
/// ran short would make a timed run a no-op run, so it stops the bench
/// instead.
fn append_new_events(root: &Path, generator: &mut impl Iterator<Item = corpus::Generated>) {
    let mut appended = 0;
    let batch = generator.by_ref().take(NEW_EVENTS as usize).inspect(|_| appended += 1);
    corpus::append(&root.join("events"), batch).expect("new events");
    assert_eq!(appended, NEW_EVENTS, "the generator ran out of new events");
}

/// Whether the engine state under `root` has a journal with records in it
/// (`state/engine/journal-N.jsonl`), which the next run splices into the
/// snapshot: what row 18 measures.
fn holds_a_journal(root: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(root.join("state/engine")) else { return false };
    entries.flatten().any(|entry| {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        name.starts_with("journal-") && name.ends_with(".jsonl") && entry.metadata().is_ok_and(|m| m.len() > 0)
    })
}

/// New events appended for each repetition of row 3.
const NEW_EVENTS: u64 = 1_000;

/// The runs of row 19, a timer's quarter of an hour: on the busy history
/// the journal passes half the snapshot, and the state is compacted, about
/// every ninth run.
const TIMER_RUNS: u32 = 15;

/// The generation of the engine state's snapshot under `root`
/// (`state/engine/snapshot-N.json`), 0 when there is none: a run that
/// compacted the state made a new one.
fn state_generation(root: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(root.join("state/engine")) else { return 0 };
    entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            name.strip_prefix("snapshot-")?.strip_suffix(".json")?.parse().ok()
        })
        .max()
        .unwrap_or(0)
}

fn rebuild_from_nothing(observer: &Path, root: &Path) {
    rebuild_from_nothing_with(observer, root, &[]);
}

/// The same, with global flags before the command (`--config FILE`).
fn rebuild_from_nothing_with(observer: &Path, root: &Path, flags: &[&str]) {
    for dir in ["state", "world"] {
        let _ = std::fs::remove_dir_all(root.join(dir));
    }
    let args: Vec<&str> = flags.iter().copied().chain(["rebuild"]).collect();
    observe(observer, root, &args);
}

/// A config with every alert rule switched off, for row 7.
const ALERTS_OFF: &str = "alerts:
  rules:
    node_down: {enabled: false}
    node_stale: {enabled: false}
    service_unhealthy: {enabled: false}
    service_degraded: {enabled: false}
    breaker_open: {enabled: false}
    deployment_stuck: {enabled: false}
    deployment_failures: {enabled: false}
    failure_rate: {enabled: false}
    disk_low: {enabled: false}
    flapping: {enabled: false}
";

fn jq_available() -> bool {
    Command::new("jq").arg("--version").output().is_ok_and(|out| out.status.success())
}

/// The fold a shell user would write with `jq` instead of observer: one
/// pass over every event, keeping the last heartbeat and status of each
/// node, the status of each service and the count of each type.
const JQ_FOLD: &str = r#"reduce inputs as $e ({nodes: {}, services: {}, by_type: {}};
  .by_type[$e.type] += 1
  | if $e.type == "heartbeat" then .nodes[$e.node] = {status: "up", last_seen: $e.ts}
    elif $e.type == "node_down" then .nodes[$e.node].status = "down"
    elif ($e.type | test("^service_|^healthcheck_")) and $e.service != null then
      .services[$e.node + "/" + $e.service] = {status: $e.type, since: $e.ts}
    else . end)"#;

fn jq_reduce(files: &[PathBuf]) {
    let output = Command::new("jq").args(["-n", "-c", JQ_FOLD]).args(files).output().expect("starting jq");
    assert!(output.status.success(), "jq failed: {}", String::from_utf8_lossy(&output.stderr));
}

/// Peak resident memory of one observer command, in KiB, by GNU time.
fn peak_kib(observer: &Path, root: &Path, args: &[&str]) -> Option<u64> {
    let time = Path::new("/usr/bin/time");
    if !time.exists() {
        return None;
    }
    if args == ["rebuild"] {
        for dir in ["state", "world"] {
            let _ = std::fs::remove_dir_all(root.join(dir));
        }
    }
    let report = root.join("peak-memory.txt");
    let status = Command::new(time)
        .args(["-f", "%M", "-o"])
        .arg(&report)
        .arg(observer)
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .expect("starting /usr/bin/time");
    assert!(status.status.success(), "observer {args:?} failed: {}", String::from_utf8_lossy(&status.stderr));
    let text = std::fs::read_to_string(&report).expect("the peak-memory report");
    let _ = std::fs::remove_file(&report);
    text.trim().lines().last().and_then(|line| line.trim().parse().ok())
}

/// `find EVENTS -type f TEST | wc -l`, which must count `expected` files.
fn find_count(events: &Path, test: &str, expected: u64) {
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!("find \"$1\" -type f {test} | wc -l"))
        .arg("sh")
        .arg(events)
        .output()
        .expect("starting find");
    let listed: u64 = String::from_utf8_lossy(&output.stdout).trim().parse().expect("a count");
    assert_eq!(listed, expected, "find listed every file");
}

struct Row {
    name: String,
    /// A and B as shown, and their ratio.
    measured: Option<(String, String, f64)>,
    target: Option<f64>,
    why_skipped: &'static str,
}

impl Row {
    fn time(name: String, a: Duration, b: Duration, target: Option<f64>) -> Row {
        let ratio = a.as_secs_f64() / b.as_secs_f64();
        Row { name, measured: Some((shown(a), shown(b), ratio)), target, why_skipped: "" }
    }

    fn memory(name: String, a_kib: u64, b_kib: u64, target: f64) -> Row {
        let mib = |kib: u64| format!("{:.1} MiB", kib as f64 / 1024.0);
        let ratio = a_kib as f64 / b_kib as f64;
        Row { name, measured: Some((mib(a_kib), mib(b_kib), ratio)), target: Some(target), why_skipped: "" }
    }

    fn bytes(name: String, a: u64, b: u64, target: f64) -> Row {
        let mib = |bytes: u64| format!("{:.2} MiB", bytes as f64 / (1 << 20) as f64);
        let ratio = a as f64 / b as f64;
        Row { name, measured: Some((mib(a), mib(b), ratio)), target: Some(target), why_skipped: "" }
    }

    /// Two throughputs, higher is faster; the ratio is A's over B's.
    fn rate(name: String, a_per_s: f64, b_per_s: f64) -> Row {
        let shown = |rate: f64| format!("{}/s", thousands(rate.round() as u64));
        Row { name, measured: Some((shown(a_per_s), shown(b_per_s), a_per_s / b_per_s)), target: None, why_skipped: "" }
    }

    fn skipped(name: &str, why: &'static str) -> Row {
        Row { name: name.to_string(), measured: None, target: None, why_skipped: why }
    }
}

impl std::fmt::Display for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Some((a, b, ratio)) = &self.measured else {
            return write!(f, "| {} | — | — | — | — | skipped: {} |", self.name, self.why_skipped);
        };
        let ratio = *ratio;
        let (target, result) = match self.target {
            Some(target) if target < 1.0 => {
                // 0.5 % as such, 5 % without a decimal.
                let percent = target * 100.0;
                let shown = if (percent - percent.round()).abs() < 1e-9 {
                    format!("{percent:.0}")
                } else {
                    format!("{percent:.1}")
                };
                (format!("≤ {shown} %"), if ratio <= target { "PASS" } else { "MISS" })
            }
            Some(target) => (format!("≤ {target}×"), if ratio <= target { "PASS" } else { "MISS" }),
            None => ("—".to_string(), "(reported)"),
        };
        let shown_ratio = match self.target {
            Some(target) if target < 0.01 => format!("{:.2} %", ratio * 100.0),
            Some(target) if target < 1.0 => format!("{:.1} %", ratio * 100.0),
            _ => format!("{ratio:.2}×"),
        };
        write!(f, "| {} | {a} | {b} | {shown_ratio} | {target} | {result} |", self.name)
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
