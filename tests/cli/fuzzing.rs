//! The fuzz properties inside `cargo test`: the same checks as the libFuzzer
//! targets (`fuzz/src/lib.rs`, included here), driven by proptest for a few
//! seconds, then the checked-in seeds and every input the fuzzers found.
//! The long runs are `fuzz/run.sh`.
//!
//! `PROPTEST_CASES=5000 cargo test --test cli fuzzing` runs a longer search.

use std::path::{Path, PathBuf};

use proptest::prelude::*;

#[path = "../../fuzz/src/lib.rs"]
mod properties;

fn cases(quick: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(quick)
}

/// Valid events to mangle: random bytes alone seldom reach past the JSON
/// parser.
const EVENTS: [&str; 5] = [
    r#"{"ts":"2026-05-12T12:05:00Z","type":"service_unhealthy","node":"saturn","service":"mosquitto","correlation_id":"hc-1","severity":"error","message":"port 1883 refused","id":"x","payload":{}}"#,
    r#"{"ts":"2026-05-12T12:05:00.250+02:00","type":"deployment_failed","correlation_id":"d1","payload":{"diagnostics":["a.log","../b"]}}"#,
    r#"{"ts":"2026-05-12T12:05:00Z","type":"deployment_stage","correlation_id":"d1","payload":{"stage":"pull","status":"failed"}}"#,
    r#"{"ts":"2026-05-12T12:05:00Z","type":"probe_result","node":"n","service":"s","payload":{"probe":"port","outcome":"critical","latency_ms":12,"timed_out":true}}"#,
    r#"{"ts":"9999-12-31T23:59:59.999Z","type":"heartbeat","node":"venus"}"#,
];

/// One event with a few bytes replaced, inserted or removed.
fn mangled() -> impl Strategy<Value = Vec<u8>> {
    (0..EVENTS.len(), prop::collection::vec((any::<u16>(), 0u8..3, any::<u8>()), 1..6)).prop_map(|(which, edits)| {
        let mut bytes = EVENTS[which].as_bytes().to_vec();
        for (at, edit, byte) in edits {
            let at = usize::from(at) % (bytes.len() + 1);
            match edit {
                0 if at < bytes.len() => bytes[at] = byte,
                1 => bytes.insert(at, byte),
                _ if at < bytes.len() => {
                    bytes.remove(at);
                }
                _ => {}
            }
        }
        bytes
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(1000), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_event_boundary_never_panics_on_mangled_events(bytes in mangled()) {
        properties::check_boundary(&bytes);
    }

    #[test]
    fn the_event_boundary_never_panics_on_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        properties::check_boundary(&bytes);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(256), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn folding_in_one_batch_or_many_agrees(bytes in prop::collection::vec(any::<u8>(), 0..3000)) {
        properties::check_fold(&bytes);
    }
}

fn inputs(dir: &str, target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz").join(dir).join(target);
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(&dir).map(|entries| entries.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    files.sort();
    files
}

fn replay(dir: &str) -> usize {
    let mut count = 0;
    for (target, check) in
        [("event_boundary", properties::check_boundary as fn(&[u8])), ("fold", properties::check_fold)]
    {
        for path in inputs(dir, target) {
            let bytes = std::fs::read(&path).unwrap();
            if let Err(panic) = std::panic::catch_unwind(|| check(&bytes)) {
                std::panic::resume_unwind(Box::new(format!(
                    "{}: {:?}",
                    path.display(),
                    panic.downcast_ref::<String>()
                )));
            }
            count += 1;
        }
    }
    count
}

#[test]
fn the_fuzz_seeds_pass() {
    assert!(replay("seeds") >= 30, "the seed corpora are checked in");
}

/// Inputs the fuzzers found, each named after what it shows. The first two
/// (timestamps whose offset carries them outside the years 0000–9999 in
/// UTC) were accepted by `src/time.rs`, which then wrote an engine clock the
/// checkpoint could not read back: every later run stopped. They are now
/// rejected at the boundary.
#[test]
fn inputs_the_fuzzers_found_pass() {
    assert!(replay("regressions") >= 2);
}
