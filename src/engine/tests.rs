//! The engine's own tests; each part has its own beside it.

use super::given::*;
use super::*;

#[test]
fn the_clock_is_the_largest_ts_and_older_events_are_late() {
    let engine =
        given(&[r#"{"ts":"2026-05-12T12:05:00Z","type":"tick"}"#, r#"{"ts":"2026-05-12T12:01:00Z","type":"tick"}"#]);
    assert_eq!(engine.clock, Some(Ts::parse("2026-05-12T12:05:00Z").unwrap()));
    assert_eq!(engine.stats.late, 1);
    assert_eq!(engine.stats.total, 2);
    assert_eq!(engine.counters.ticks, 2);
}
