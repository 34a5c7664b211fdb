//! The late rule: an event is late when a rebuild could fold it in another
//! order than the runs did, so guarantee 2 (rebuild equals history, SPEC §3)
//! no longer promises the same world.
//!
//! Two things make an event late, and it is counted once even when both do:
//! - its `ts` is older than the engine clock (SPEC §3's definition);
//! - it sorts, in the processing order `(ts, file path, position)`, before
//!   the newest event folded by an *earlier pass*: a `ts` tie from an earlier
//!   file or position, or a duplicate whose first sighting a rebuild might
//!   not fold first. Within one pass the events arrive sorted, so only
//!   earlier passes can be overtaken; that is why the comparison is with the
//!   newest key as of the start of the pass, and why the engine needs to be
//!   told when a pass starts.

use serde::{Deserialize, Serialize};

use super::Engine;
use crate::time::Ts;

/// A place in the processing order of SPEC §3: by `ts`, ties broken by the
/// file's path under `events/`, then by the position in the file.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OrderKey {
    pub ts: Ts,
    pub file: String,
    pub position: u64,
}

impl OrderKey {
    fn is_after(&self, ts: Ts, file: &str, position: u64) -> bool {
        (self.ts, self.file.as_str(), self.position) > (ts, file, position)
    }
}

/// A pass starts: what it folds is compared with the newest key folded so
/// far, which stays fixed until the pass ends.
pub(super) fn on_pass_started(engine: &mut Engine) {
    engine.last_folded_before_pass.clone_from(&engine.last_folded);
}

/// True when the event is to be counted late by its place alone: it sorts
/// before what earlier passes folded, and its `ts` did not already make it
/// late (`late_by_ts`). The newest key becomes the greater of the one before
/// the pass and this one, so after the pass it is the pass's last key (they
/// arrive sorted) unless the whole pass sorted before the earlier ones.
pub(super) fn on_event(engine: &mut Engine, ts: Ts, file: &str, position: u64, late_by_ts: bool) -> bool {
    let sorts_before_earlier_passes =
        engine.last_folded_before_pass.as_ref().is_some_and(|last| last.is_after(ts, file, position));
    if sorts_before_earlier_passes {
        if engine.last_folded != engine.last_folded_before_pass {
            engine.last_folded.clone_from(&engine.last_folded_before_pass);
        }
    } else {
        set_last_folded(engine, ts, file, position);
    }
    sorts_before_earlier_passes && !late_by_ts
}

/// One key is rewritten in place for every event: no allocation unless a
/// path is longer than any before.
fn set_last_folded(engine: &mut Engine, ts: Ts, file: &str, position: u64) {
    match &mut engine.last_folded {
        Some(last) => {
            last.ts = ts;
            if last.file != file {
                last.file.clear();
                last.file.push_str(file);
            }
            last.position = position;
        }
        None => engine.last_folded = Some(OrderKey { ts, file: file.to_owned(), position }),
    }
}

#[cfg(test)]
mod tests {
    use super::super::Applied;
    use super::super::given::{at, given_steps, pass, rejected};
    use super::*;

    const HEARTBEAT_1205: &str = r#"{"ts":"2026-05-12T12:05:00Z","type":"heartbeat","node":"a"}"#;
    const HEARTBEAT_1201: &str = r#"{"ts":"2026-05-12T12:01:00Z","type":"heartbeat","node":"a"}"#;

    fn key(ts: &str, file: &str, position: u64) -> OrderKey {
        OrderKey { ts: Ts::parse(ts).unwrap(), file: file.into(), position }
    }

    #[test]
    fn an_event_older_than_the_clock_is_late() {
        given_steps(&[pass(), at("a.jsonl", 0, HEARTBEAT_1205)])
            .when(at("a.jsonl", 1, HEARTBEAT_1201))
            .then_expect(Applied::Folded { late: true })
            .and_stats(|stats| assert_eq!((stats.late, stats.total), (1, 2)));
    }

    #[test]
    fn an_event_that_sorts_before_the_newest_of_an_earlier_pass_is_late() {
        given_steps(&[pass(), at("b.jsonl", 0, HEARTBEAT_1205), pass()])
            .when(at("a.jsonl", 0, HEARTBEAT_1205))
            .then_expect(Applied::Folded { late: true })
            .and_stats(|stats| assert_eq!(stats.late, 1, "a rebuild folds a.jsonl first"));
    }

    #[test]
    fn an_event_that_sorts_after_the_newest_of_an_earlier_pass_is_not_late() {
        given_steps(&[pass(), at("a.jsonl", 0, HEARTBEAT_1205), pass()])
            .when(at("b.jsonl", 0, HEARTBEAT_1205))
            .then_expect(Applied::Folded { late: false })
            .and_stats(|stats| assert_eq!(stats.late, 0));
    }

    #[test]
    fn an_event_late_for_both_reasons_is_counted_once() {
        given_steps(&[pass(), at("b.jsonl", 0, HEARTBEAT_1205), pass()])
            .when(at("a.jsonl", 0, HEARTBEAT_1201))
            .then_expect(Applied::Folded { late: true })
            .and_stats(|stats| assert_eq!(stats.late, 1));
    }

    #[test]
    fn a_duplicate_that_sorts_before_its_first_sighting_is_late() {
        let first = r#"{"ts":"2026-05-12T12:10:00Z","type":"heartbeat","node":"a","id":"X"}"#;
        let copy = r#"{"ts":"2026-05-12T12:05:00Z","type":"heartbeat","node":"b","id":"X"}"#;
        given_steps(&[pass(), at("b.jsonl", 0, first), pass()])
            .when(at("a.jsonl", 0, copy))
            .then_expect(Applied::Duplicate { late: true })
            .and_stats(|stats| assert_eq!((stats.duplicates, stats.late), (1, 1), "a rebuild keeps the other copy"));
    }

    #[test]
    fn within_one_pass_only_the_newest_of_earlier_passes_counts() {
        let then = given_steps(&[pass(), at("a.jsonl", 5, HEARTBEAT_1205), pass(), at("b.jsonl", 0, HEARTBEAT_1205)])
            .when(at("a.jsonl", 9, HEARTBEAT_1205))
            .then_expect(Applied::Folded { late: false })
            .and_stats(|stats| assert_eq!(stats.late, 0));
        assert_eq!(then.engine.last_folded(), Some(&key("2026-05-12T12:05:00Z", "a.jsonl", 9)));
    }

    #[test]
    fn the_newest_key_is_never_lowered_by_a_pass() {
        let then = given_steps(&[pass(), at("b.jsonl", 0, HEARTBEAT_1205), pass()])
            .when(at("a.jsonl", 0, HEARTBEAT_1205))
            .then_expect(Applied::Folded { late: true });
        assert_eq!(then.engine.last_folded(), Some(&key("2026-05-12T12:05:00Z", "b.jsonl", 0)));
    }

    #[test]
    fn a_rejected_line_is_counted_and_not_folded() {
        given_steps(&[pass(), at("a.jsonl", 0, HEARTBEAT_1205)])
            .when(rejected())
            .then_expect(Applied::Noted)
            .and_stats(|stats| assert_eq!((stats.rejected, stats.total, stats.late), (1, 1, 0)));
    }
}
