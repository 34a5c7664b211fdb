//! Duplicates by event `id`: an id seen again while its first sighting is
//! within `dedup_window_s` of the engine clock is counted, not folded. The
//! clock here includes the repeat's own `ts` (as folding it would move the
//! clock): a repeat dated after the window is folded even when nothing else
//! moved the clock since the first sighting.
//!
//! Only folded state is read (the first sighting on the clock), never the
//! batches, so incremental runs and a rebuild agree on what is a duplicate.

use super::{Engine, Rules};
use crate::time::Ts;

pub(super) fn is_duplicate(engine: &Engine, id: &str, ts: Ts, rules: &Rules) -> bool {
    let Some(first) = engine.seen_ids.get(id) else { return false };
    let clock = engine.clock.map_or(ts, |clock| clock.max(ts));
    first >= clock.minus_seconds(rules.dedup_window_s)
}

/// Remembered from when it was first seen on the clock, so that a
/// back-filled event is remembered for the whole window too.
pub(super) fn remember(engine: &mut Engine, id: &str, ts: Ts) {
    let seen = engine.clock.map_or(ts, |clock| clock.max(ts));
    engine.seen_ids.insert(id.to_owned(), seen);
}

/// Called when history is pruned (once per hour of engine clock).
pub(super) fn forget_outside_window(engine: &mut Engine, clock: Ts, rules: &Rules) {
    let horizon = clock.minus_seconds(rules.dedup_window_s);
    engine.seen_ids.forget_before(horizon);
}

#[cfg(test)]
mod tests {
    use super::super::given::given;
    use super::*;

    #[test]
    fn a_repeated_id_is_a_duplicate_and_not_folded() {
        let engine = given(&[
            r#"{"ts":"2026-05-12T12:05:00Z","type":"heartbeat","node":"a","id":"x"}"#,
            r#"{"ts":"2026-05-12T12:06:00Z","type":"heartbeat","node":"a","id":"x"}"#,
        ]);
        assert_eq!(engine.stats.duplicates, 1);
        assert_eq!(engine.counters.heartbeats, 1);
        assert_eq!(engine.nodes["a"].last_seen, Ts::parse("2026-05-12T12:05:00Z").ok());
    }

    #[test]
    fn a_back_filled_id_is_remembered_for_the_whole_window() {
        let engine = given(&[
            r#"{"ts":"2026-05-20T12:00:00Z","type":"tick"}"#,
            r#"{"ts":"2026-05-10T12:00:00Z","type":"service_unhealthy","node":"n","service":"s","id":"b"}"#,
            r#"{"ts":"2026-05-10T12:00:00Z","type":"service_unhealthy","node":"n","service":"s","id":"b"}"#,
        ]);
        assert_eq!(engine.stats.duplicates, 1);
    }

    #[test]
    fn a_repeat_dated_after_the_window_is_folded_even_if_nothing_moved_the_clock() {
        use super::super::given::{at, given_steps_with, pass};
        let repeat = |ts: &str| format!(r#"{{"ts":"{ts}","type":"heartbeat","node":"a","id":"x"}}"#);
        let lines = [repeat("2026-05-12T12:00:00Z"), repeat("2026-05-12T12:10:00Z"), repeat("2026-05-12T12:10:01Z")];
        let rules = Rules { dedup_window_s: 600, ..Rules::default() };
        let steps = [pass(), at("a.jsonl", 0, &lines[0]), at("a.jsonl", 1, &lines[1])];
        given_steps_with(rules, &steps)
            .when(at("a.jsonl", 2, &lines[2]))
            .and_stats(|stats| assert_eq!(stats.duplicates, 1, "600 s after: a duplicate; 601 s after: folded"));
    }

    /// The window is written by minute; a state written by id (before
    /// observer filed it by minute) is read, finds the same duplicates and
    /// is written by minute again.
    #[test]
    fn a_window_written_by_id_is_read_and_written_by_minute() {
        let engine = given(&[
            r#"{"ts":"2026-05-12T12:05:00Z","type":"heartbeat","node":"a","id":"x"}"#,
            r#"{"ts":"2026-05-12T12:06:30.250Z","type":"heartbeat","node":"a","id":"y"}"#,
        ]);
        let mut state = serde_json::to_value(&engine).unwrap();
        let by_minute = serde_json::json!({
            "2026-05-12T12:05:00Z": ["x 0"],
            "2026-05-12T12:06:00Z": ["y 30250"],
        });
        assert_eq!(state["seen_ids"], by_minute);
        state["seen_ids"] = serde_json::json!({"y": "2026-05-12T12:06:30.250Z", "x": "2026-05-12T12:05:00Z"});
        let loaded: Engine = serde_json::from_str(&state.to_string()).unwrap();
        assert_eq!(loaded, engine);
        assert_eq!(serde_json::to_string(&loaded).unwrap(), serde_json::to_string(&engine).unwrap());
        let later = Ts::parse("2026-05-12T12:07:00Z").unwrap();
        assert!(is_duplicate(&loaded, "x", later, &Rules::default()));
        assert!(is_duplicate(&loaded, "y", later, &Rules::default()));
        assert!(!is_duplicate(&loaded, "z", later, &Rules::default()));
    }

    #[test]
    fn ids_are_forgotten_after_the_window() {
        let engine = given(&[
            r#"{"ts":"2026-05-01T12:00:00Z","type":"tick","id":"x"}"#,
            r#"{"ts":"2026-05-20T12:00:00Z","type":"tick"}"#,
            r#"{"ts":"2026-05-20T12:01:00Z","type":"tick","id":"x"}"#,
        ]);
        assert_eq!(engine.stats.duplicates, 0);
        assert_eq!(engine.counters.ticks, 3);
    }
}
