//! Crash consistency (guarantees 1, 2 and 4) beyond the commit points of
//! `commit.rs`: an event log that grows across hundreds of runs, each one
//! either aborted at a commit point (`OBSERVER_TEST_CRASH_AT`, as abrupt as
//! SIGKILL) or sent SIGKILL at a random instant, then checked for
//! exactly-once and for byte equality with a rebuild; a crash between the
//! world files and the checkpoint followed by more changes; temp files left
//! by crashes.
//!
//! Nothing is asserted about when a SIGKILL lands (on a loaded machine the
//! run may be over by then): the commit-point crashes are what make sure
//! that runs are interrupted, and they are checked to have stopped there.
//!
//! The kill loop has a quick mode (the default: 20 s or 400 iterations,
//! whichever ends first, and never before each commit point had its crash)
//! and a long one (`OBSERVER_LONG_TESTS=1`: 4000 iterations, up to 30 min);
//! `OBSERVER_CRASH_ITERATIONS`, `OBSERVER_CRASH_SECONDS` and
//! `OBSERVER_CRASH_SEED` set each part.

use std::fs;
use std::time::{Duration, Instant};

use observer::time::Ts;

use crate::support::{Ev, Homelab, WORLD_FILES, lines, long_mode_value};

/// xorshift64*: small, seedable, and enough to scatter kills.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }
}

/// 2026-05-12T12:00:00Z; batch `m` writes events in the minute `START + m`
/// and its runs tick at the 55th second, so that no event is ever late and
/// a rebuild must equal the incremental history.
const START_S: i64 = 1_778_587_200;

fn at(minute: u64, second: u64) -> String {
    Ts((START_S + minute as i64 * 60 + second as i64) * 1000).to_rfc3339()
}

/// What the test wrote, to compare with what the world says.
#[derive(Default)]
struct Ledger {
    valid: u64,
    bad: u64,
    ids: std::collections::HashSet<u64>,
    with_id: u64,
    /// A line left without its end, completed at the next iteration.
    torn: Option<(&'static str, String)>,
    singles: u64,
}

const PRODUCERS: [&str; 3] = ["events/p0.jsonl", "events/nested/p1.jsonl", "events/p2.ndjson"];

fn grow(lab: &Homelab, rng: &mut Rng, ledger: &mut Ledger, minute: u64) {
    if let Some((file, rest)) = ledger.torn.take() {
        lab.append(file, &rest);
    }
    let count = 5 + rng.below(25);
    let mut texts: [String; 3] = Default::default();
    for k in 0..count {
        let ts = at(minute, 1 + k * 48 / count);
        let node = ["saturn", "jupiter", "venus"][rng.below(3) as usize];
        let line = match rng.below(10) {
            0 => {
                ledger.bad += 1;
                Ev::new(&ts, "heartbeat").line()
            }
            1 => {
                let id = rng.below(40);
                ledger.ids.insert(id);
                ledger.with_id += 1;
                ledger.valid += 1;
                Ev::new(&ts, "service_unhealthy").node(node).service("mqtt").id(&format!("e{id}")).line()
            }
            2 => {
                ledger.valid += 1;
                Ev::new(&ts, "service_recovered").node(node).service("mqtt").line()
            }
            3 => {
                ledger.valid += 1;
                // Runs that finish too, so that deployments leave the hot
                // view for world/history/ as well.
                let kind = if rng.below(2) == 0 { "deployment_started" } else { "deployment_succeeded" };
                Ev::new(&ts, kind).correlation(&format!("d{}", rng.below(40))).node(node).line()
            }
            4 => {
                // A single-event file, written the way producers should:
                // under a hidden name, then renamed.
                ledger.valid += 1;
                ledger.singles += 1;
                let name = format!("events/single/{:06}.json", ledger.singles);
                lab.write(
                    &format!("events/single/.{:06}.json.tmp", ledger.singles),
                    &Ev::new(&ts, "node_up").node("mars").json(),
                );
                fs::rename(lab.path(&format!("events/single/.{:06}.json.tmp", ledger.singles)), lab.path(&name))
                    .unwrap();
                continue;
            }
            _ => {
                ledger.valid += 1;
                Ev::new(&ts, "heartbeat").node(node).line()
            }
        };
        texts[rng.below(3) as usize] += &line;
    }
    for (producer, text) in texts.iter().enumerate() {
        if !text.is_empty() {
            lab.append(PRODUCERS[producer], text);
        }
    }
    if rng.percent(30) {
        // Torn: its ts is in the next minute, after this batch's tick, as
        // it is folded with the next batch.
        ledger.valid += 1;
        let line = Ev::new(&at(minute + 1, 0), "heartbeat").node("torn").line();
        let (head, tail) = line.split_at(rng.below(line.len() as u64 - 1) as usize + 1);
        let file = PRODUCERS[rng.below(3) as usize];
        lab.append(file, head);
        ledger.torn = Some((file, tail.to_string()));
    }
}

/// Valid and invalid lines in the tick files (a kill during the append may
/// tear one).
fn ticks(lab: &Homelab) -> (u64, u64) {
    let (mut valid, mut bad) = (0, 0);
    for entry in fs::read_dir(lab.path("events/observer")).into_iter().flatten().flatten() {
        let text = fs::read_to_string(entry.path()).unwrap();
        let complete = text.rfind('\n').map_or("", |end| &text[..end]);
        for line in complete.lines().filter(|l| !l.trim().is_empty()) {
            match serde_json::from_str::<serde_json::Value>(line) {
                Ok(event) if event["type"] == "tick" => valid += 1,
                _ => bad += 1,
            }
        }
    }
    (valid, bad)
}

fn check(lab: &Homelab, ledger: &Ledger, context: &str) {
    let (tick_valid, tick_bad) = ticks(lab);
    let emitted = fs::read_dir(lab.path("events/emit"))
        .map(|d| d.flatten().filter(|e| !e.file_name().to_string_lossy().starts_with('.')).count() as u64)
        .unwrap_or(0);
    let pending = u64::from(ledger.torn.is_some());
    let duplicates = ledger.with_id - ledger.ids.len() as u64;
    let events = &lab.summary()["events"];
    assert_eq!(events["late"], 0, "{context}");
    assert_eq!(events["duplicates"], duplicates, "{context}: duplicates");
    assert_eq!(events["rejected"], ledger.bad + tick_bad, "{context}: each bad line rejected once");
    assert_eq!(
        events["total"],
        ledger.valid - pending - duplicates + tick_valid + emitted,
        "{context}: each complete valid event folded exactly once"
    );
    assert!(lab.temp_files().is_empty(), "{context}: temp files left after a clean run: {:?}", lab.temp_files());
}

/// Every world file there is parses, and all are of one generation (one
/// `as_of`): a kill leaves whole files and a whole world.
fn assert_world_parses(lab: &Homelab, context: &str) {
    let mut as_of = std::collections::BTreeSet::new();
    for (name, text) in lab.world_files_present("world") {
        let parsed = serde_json::from_str::<serde_json::Value>(&text);
        assert!(parsed.is_ok(), "{context}: world/{name} is torn:\n{text}");
        as_of.insert(parsed.unwrap_or_default()["as_of"].to_string());
    }
    assert!(as_of.len() <= 1, "{context}: two generations in world/: {as_of:?}");
}

/// Commit points at which runs of the loop are aborted. Every run and
/// rebuild of the loop passes each of them: it always has new events, so it
/// writes at least the summary and the checkpoint.
const CRASH_POINTS: [&str; 12] = [
    "after-scan",
    "after-history",
    "after-world-file:1",
    "before-swap",
    "after-swap",
    "before-rename:1",
    "before-rename:2",
    "after-outbox",
    "before-checkpoint",
    "after-engine-state",
    "before-clean",
    "after-checkpoint",
];

#[test]
fn runs_killed_at_commit_points_and_random_instants_fold_every_event_exactly_once() {
    let iterations: u64 = long_mode_value("OBSERVER_CRASH_ITERATIONS", 400, 4000);
    let budget = Duration::from_secs(long_mode_value("OBSERVER_CRASH_SECONDS", 20, 1800));
    let seed = std::env::var("OBSERVER_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1
    });
    eprintln!("crash loop: seed {seed} (OBSERVER_CRASH_SEED={seed} repeats it)");
    let mut rng = Rng(seed);
    let lab = Homelab::new();
    // One resolved episode per key in alerts.json, one finished deployment
    // and one resolved incident per node/service: the others move to
    // world/history/, which the kill loop so checks too.
    lab.write("observer.yaml", "world: {keep_finished: 1}\n");
    let mut ledger = Ledger::default();
    let started = Instant::now();
    // How long an unkilled run takes, so that kills spread over all of it.
    let mut run_time = Duration::from_millis(30);
    let mut rebuild_time = Duration::from_millis(60);
    let (mut killed, mut finished_first, mut done) = (0u64, 0u64, 0u64);
    // Aborts at each commit point; they take turns, so that a short loop
    // still has them all.
    let mut aborted = [0u64; CRASH_POINTS.len()];
    let mut interrupted = 0usize;
    // Each batch of events gets its own minute, ticked at its end.
    let mut minute = 0;
    for iteration in 0..iterations {
        if started.elapsed() > budget && aborted.iter().all(|&n| n > 0) {
            break;
        }
        done = iteration + 1;
        let context = format!("seed {seed}, iteration {iteration}");
        // One to three batches, each followed by an interrupted run.
        for _ in 0..1 + rng.below(3) {
            minute += 1;
            grow(&lab, &mut rng, &mut ledger, minute);
            let now = at(minute, 55);
            if rng.percent(10) {
                let ts = at(minute, 52);
                let mut emit = lab.spawn(["emit", "--type", "heartbeat", "--node", "emitted", "--ts", &ts], &[]);
                std::thread::sleep(Duration::from_micros(rng.below(3000)));
                let _ = emit.kill();
                let _ = emit.wait();
            }
            let (args, expected): (&[&str], Duration) =
                if rng.percent(15) { (&["rebuild"], rebuild_time) } else { (&["run"], run_time) };
            interrupted += 1;
            if interrupted.is_multiple_of(2) {
                let which = interrupted / 2 % CRASH_POINTS.len();
                let point = CRASH_POINTS[which];
                let out = lab.observer(args).env("OBSERVER_NOW", &now).env("OBSERVER_TEST_CRASH_AT", point).run();
                assert_eq!(out.code, None, "{context}: {args:?} must stop at {point}: {}", out.stderr);
                aborted[which] += 1;
            } else {
                // SIGKILL at a random instant: mid-run or after the end,
                // whichever it turns out to be; each is a valid history.
                let mut child = lab.spawn(args, &[("OBSERVER_NOW", now.as_str())]);
                let window = expected.as_micros() as u64 * 5 / 4;
                std::thread::sleep(Duration::from_micros(rng.below(window)));
                match child.try_wait().unwrap() {
                    Some(_) => finished_first += 1,
                    None => killed += 1,
                }
                let _ = child.kill();
                let _ = child.wait();
            }
            assert_world_parses(&lab, &context);
            if rng.percent(50) {
                break;
            }
        }
        let clock = Instant::now();
        let out = lab.observer(["run"]).env("OBSERVER_NOW", &at(minute, 55)).run();
        assert_eq!(out.code, Some(0), "{context}: the run after a kill must succeed: {}", out.stderr);
        run_time = (run_time * 3 + clock.elapsed()) / 4;
        check(&lab, &ledger, &context);
        if iteration % 40 == 39 {
            let clock = Instant::now();
            lab.assert_world_equals_rebuild();
            rebuild_time = clock.elapsed();
        }
    }
    if let Some((file, rest)) = ledger.torn.take() {
        lab.append(file, &rest);
    }
    lab.run();
    check(&lab, &ledger, &format!("seed {seed}, at the end"));
    lab.assert_world_equals_rebuild();
    let history = lab.history("world");
    assert!(history.values().any(|lines| lines.lines().count() > 1), "the loop wrote history: {history:?}");
    for kind in ["alerts-", "deployments-", "incidents-"] {
        assert!(history.keys().any(|name| name.starts_with(kind)), "the loop wrote {kind}*: {history:?}");
    }
    eprintln!(
        "crash loop: {done} iterations in {:?}: aborted at commit points {aborted:?}; SIGKILL: {killed} while \
         running, {finished_first} after the end; {} events, run ≈ {run_time:?}, rebuild ≈ {rebuild_time:?}",
        started.elapsed(),
        lab.summary()["events"]["total"],
    );
    assert!(
        aborted.iter().all(|&n| n > 0) || done == iterations,
        "each commit point had its crash: {aborted:?} ({CRASH_POINTS:?})"
    );
}

fn story(lab: &Homelab, minute: u32) {
    let events = [
        Ev::new(&format!("2026-05-12T12:{minute:02}:00Z"), "heartbeat").node("saturn"),
        Ev::new(&format!("2026-05-12T12:{minute:02}:30Z"), "service_unhealthy").node("saturn").service("mqtt"),
    ];
    lab.append("events/saturn.jsonl", &(lines(&events) + "not json\n"));
}

#[test]
fn a_crash_between_the_world_and_the_checkpoint_then_more_changes_converges() {
    let lab = Homelab::new();
    story(&lab, 0);
    lab.run();
    story(&lab, 1);
    lab.observer(["run", "--no-tick"]).env("OBSERVER_TEST_CRASH_AT", "before-checkpoint").run();
    // The world is the new generation already; the checkpoint the old one.
    assert_eq!(lab.summary()["events"]["total"], 4);
    assert_eq!(lab.checkpoint_header()["clock"], "2026-05-12T12:00:30Z");
    lab.observer(["status"]).run().success().stdout_has("12:01:30");
    // Before the next run: more events, a rotation, and another crash at
    // the same place.
    story(&lab, 2);
    fs::rename(lab.path("events/saturn.jsonl"), lab.path("events/saturn-1.jsonl")).unwrap();
    story(&lab, 3);
    lab.observer(["run", "--no-tick"]).env("OBSERVER_TEST_CRASH_AT", "before-checkpoint").run();
    story(&lab, 4);
    lab.run();
    let summary = lab.summary();
    assert_eq!(summary["events"]["total"], 10, "each event once");
    assert_eq!(summary["events"]["rejected"], 5, "each bad line rejected once");
    assert_eq!(lab.json("state/rejects.json").as_array().unwrap().len(), 5);
    lab.assert_world_equals_rebuild();
}

/// A rebuild writes its outbox's temp file while its fold runs
/// (`fold_pass/decided.rs`): killed then, it leaves that file and nothing
/// else, and the next run, which finds nothing new to fold, removes it.
#[test]
fn a_rebuild_killed_in_its_fold_leaves_no_temp_file_after_the_next_run() {
    let lab = Homelab::new();
    story(&lab, 0);
    lab.run();
    let checkpoint = lab.read("state/observer_checkpoint.json");
    let out = lab.observer(["rebuild"]).env("OBSERVER_TEST_CRASH_AT", "after-scan").run();
    assert_ne!(out.code, Some(0), "killed: {}", out.stderr);
    assert_eq!(lab.temp_files(), ["state/.outbox.jsonl.tmp"], "what the kill left");
    assert_eq!(lab.read("state/observer_checkpoint.json"), checkpoint);
    lab.observer(["run", "--no-tick"]).run().success();
    assert_eq!(lab.json("state/last-run.json")["events_folded"], 0, "nothing to fold");
    assert!(lab.temp_files().is_empty(), "{:?}", lab.temp_files());
}

#[test]
fn a_temp_file_left_by_a_crash_is_never_read_and_goes_with_the_next_write() {
    // Renames in a pass: the world's generation link (world/..data), then
    // rejects.json, the checkpoint, last-run.json and metrics.prom.
    for nth in 1..=5 {
        let lab = Homelab::new();
        story(&lab, 0);
        lab.run();
        story(&lab, 1);
        let point = format!("before-rename:{nth}");
        lab.observer(["run", "--no-tick"]).env("OBSERVER_TEST_CRASH_AT", &point).run();
        let left = lab.temp_files();
        assert_eq!(left.len(), 1, "{point}: the crash leaves its temp file: {left:?}");
        lab.run();
        assert!(lab.temp_files().is_empty(), "{point}: {:?}", lab.temp_files());
        assert_eq!(lab.summary()["events"]["total"], 4, "{point}");
        lab.assert_world_equals_rebuild();
    }
}

#[test]
fn stale_temp_files_from_an_older_crash_are_replaced_not_read() {
    let lab = Homelab::new();
    story(&lab, 0);
    lab.run();
    let names = WORLD_FILES
        .iter()
        .map(|n| format!("world/.{n}.tmp"))
        .chain(["observer_checkpoint.json", "rejects.json", "last-run.json"].iter().map(|n| format!("state/.{n}.tmp")));
    for name in names {
        lab.write(&name, "{\"stale\": tru");
    }
    lab.write(
        "events/emit/.1778587200000-1-1-0.json.tmp",
        &Ev::new("2026-05-12T12:00:00Z", "heartbeat").node("x").json(),
    );
    story(&lab, 1);
    lab.run();
    assert!(lab.temp_files().is_empty(), "{:?}", lab.temp_files());
    assert_eq!(lab.summary()["events"]["total"], 4, "a producer's temp file is not read either");
    lab.assert_world_equals_rebuild();
}

#[test]
fn a_temp_file_of_a_killed_rebuild_goes_even_when_the_next_run_does_not_rewrite_its_file() {
    // Found by the long kill loop: a rebuild killed while writing
    // rejects.json, whose content the next run did not change (past 1000
    // rejections a rebuild keeps another window of them).
    let lab = Homelab::new();
    story(&lab, 0);
    lab.run();
    lab.write("state/.rejects.json.tmp", "[{\"file\": \"from a rebuild\"");
    lab.append("events/saturn.jsonl", &Ev::new("2026-05-12T12:05:00Z", "heartbeat").node("saturn").line());
    lab.run();
    assert_eq!(lab.json("state/last-run.json")["events_folded"], 1);
    assert!(lab.temp_files().is_empty(), "{:?}", lab.temp_files());
}
