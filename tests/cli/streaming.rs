//! Histories from the benchmark's generator (`benches/corpus.rs`): producer
//! files and single-event files, read in parts by many runs, fold to the
//! world a single rebuild writes, with every event counted once.

#[path = "../../benches/corpus.rs"]
#[allow(dead_code)]
mod corpus;

use crate::support::Homelab;

#[test]
fn a_generated_history_read_in_parts_equals_a_rebuild() {
    let lab = Homelab::new();
    let spec = corpus::Spec { events: 20_000, producers: 4, single_files: 300, seed: 7 };
    let mut events = corpus::generate(&spec);
    let mut written = 0;
    for part in [1, 5_000, 6_999, 8_000] {
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
