//! Histories from the benchmark's generator (`benches/corpus.rs`): producer
//! files and single-event files, read in parts by many runs, fold to the
//! world a single rebuild writes, with every event counted once. The parts
//! are read on the fold's thread (a few hundred KB at most) and beside it
//! (more; `store::events::prefetch`), as the rebuild is.

#[path = "../../benches/corpus.rs"]
#[allow(dead_code)]
mod corpus;

use crate::support::Homelab;

#[test]
fn a_generated_history_read_in_parts_equals_a_rebuild() {
    let lab = Homelab::new();
    let spec = corpus::Spec { events: 20_000, producers: 4, single_files: 300, seed: 7, shape: corpus::Shape::Calm };
    let mut events = corpus::generate(&spec);
    let mut written = 0;
    // ~118 bytes an event: the parts of 1 and 2,000 events are read on
    // the fold's thread, the others (over 512 KiB) beside it (the choice
    // is `Prefetch::for_read`'s, tested in `store::events::prefetch`).
    for part in [1, 2_000, 5_000, 4_999, 8_000] {
        let batch: Vec<corpus::Generated> = events.by_ref().take(part).collect();
        written += batch.len();
        corpus::append(&lab.path("events"), batch).unwrap();
        lab.observer(["run", "--no-tick"]).run().success();
    }
    assert_eq!(written, 20_000);
    assert!(events.next().is_none());
    let summary = lab.summary();
    let counted = summary["events"]["total"].as_u64().unwrap() + summary["events"]["duplicates"].as_u64().unwrap();
    assert_eq!(counted, 20_000, "every event once: {}", summary["events"]);
    assert_eq!(summary["events"]["rejected"], 0);
    assert_eq!(summary["events"]["late"], 0, "the generator's producers never go back in time");
    lab.assert_world_equals_rebuild();
}

/// The world of a generated history, pinned: each world file's size, line
/// count and FNV-1a hash. A restructuring that changes one byte of any world
/// file fails here (guarantee 8: the world is a pure function of the events);
/// a deliberate change of the model updates the snapshot in the same commit.
#[test]
fn a_generated_history_gives_the_pinned_world() {
    let lab = Homelab::new().with_inventory(&crate::support::example_inventory());
    let spec = corpus::Spec { events: 20_000, producers: 4, single_files: 300, seed: 11, shape: corpus::Shape::Calm };
    corpus::write(&lab.path("events"), &spec).unwrap();
    lab.observer(["run", "--no-tick"]).run().success();
    let mut pinned = String::new();
    for name in crate::support::WORLD_FILES {
        let text = lab.world(name);
        let hash =
            text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
        pinned.push_str(&format!("{name}: {} bytes, {} lines, fnv1a {hash:016x}\n", text.len(), text.lines().count()));
    }
    for (name, text) in lab.history("world") {
        let hash =
            text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
        let lines = text.lines().count();
        pinned.push_str(&format!("history/{name}: {} bytes, {lines} lines, fnv1a {hash:016x}\n", text.len()));
    }
    insta::assert_snapshot!("generated_history_world", pinned);
}
