//! Ledger compaction: `state/deliveries.jsonl` gains a line per attempt, so
//! a receiver that fails for a day leaves hundreds of lines per
//! notification. When the ledger holds at least [`MIN_LINES`] lines and
//! more than [`FACTOR`] times the lines delivery needs, a round (under the
//! state lock, before its first attempt) rewrites it with only those, through
//! `store::atomic` (a temp file, fsynced, renamed over it): a crash leaves the
//! old ledger or the new one, never a mix, and a temp file that the next
//! write removes.
//!
//! What delivery needs, per (channel, notification id), in the ledger's
//! order: the first attempt (when retrying began, for `give_up_after_s`),
//! the attempt with the highest number, the last delivery (which settles the
//! id and may be the page open for its key), the last dead letter (what
//! `status` reports) and the last attempt (its outcome and next attempt).
//! Every other line is dropped. Before the rewrite the kept lines are folded
//! and checked to answer every question delivery and `status` ask exactly
//! as the whole ledger does; if not, nothing is rewritten.

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::path::Path;

use super::ledger::{self, Attempt, AttemptOutcome, Ledger};
use crate::store::atomic::write_atomic;
use crate::store::fault_injection;

/// No compaction below this many lines: a small ledger costs nothing.
pub const MIN_LINES: usize = 1000;
/// Compact once the ledger holds more than this many times the lines kept.
pub const FACTOR: usize = 4;

/// Whether a ledger of `lines` lines with `ids` (channel, id) pairs may be
/// worth compacting: at most five lines are kept per pair, most often one
/// or two, so this is checked again on the exact count.
pub fn worth_a_look(lines: usize, ids: usize) -> bool {
    lines >= MIN_LINES && lines > FACTOR * 2 * ids
}

/// How a compaction went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Compacted {
    pub before: usize,
    pub after: usize,
}

/// The indices of the lines to keep, in the ledger's order.
pub fn kept(attempts: &[Attempt]) -> Vec<usize> {
    #[derive(Default)]
    struct Marks {
        first: usize,
        highest: (u32, usize),
        delivered: Option<usize>,
        dead: Option<usize>,
        last: usize,
    }
    let mut marks: HashMap<(&str, &str), Marks> = HashMap::new();
    for (i, attempt) in attempts.iter().enumerate() {
        let m = marks.entry((attempt.channel.as_str(), attempt.id.as_str())).or_insert(Marks {
            first: i,
            highest: (attempt.attempt, i),
            ..Marks::default()
        });
        if attempt.attempt > m.highest.0 {
            m.highest = (attempt.attempt, i);
        }
        match attempt.outcome {
            AttemptOutcome::Delivered => m.delivered = Some(i),
            AttemptOutcome::DeadLetter => m.dead = Some(i),
            AttemptOutcome::Retry => {}
        }
        m.last = i;
    }
    let mut keep = BTreeSet::new();
    for m in marks.values() {
        keep.extend([m.first, m.highest.1, m.last]);
        keep.extend(m.delivered);
        keep.extend(m.dead);
    }
    keep.into_iter().collect()
}

/// Compacts the ledger in `state_dir` when it is worth it. The caller holds
/// the state lock. `None`: left as it was.
pub fn compact(state_dir: &Path) -> io::Result<Option<Compacted>> {
    let path = ledger::path(state_dir);
    let text = match std::fs::read(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    // Lines that do not parse (a torn last line) are dropped: `Ledger::load`
    // skips them too.
    let attempts: Vec<Attempt> =
        text.split(|b| *b == b'\n').filter_map(|line| serde_json::from_slice(line).ok()).collect();
    let keep = kept(&attempts);
    if attempts.len() < MIN_LINES || attempts.len() <= FACTOR * keep.len() {
        return Ok(None);
    }
    let compacted: Vec<Attempt> = keep.iter().map(|&i| attempts[i].clone()).collect();
    if !Ledger::from_attempts(attempts.iter().cloned())
        .same_decisions(&Ledger::from_attempts(compacted.iter().cloned()))
    {
        return Ok(None);
    }
    let mut bytes = Vec::new();
    for attempt in &compacted {
        serde_json::to_writer(&mut bytes, attempt).map_err(io::Error::other)?;
        bytes.push(b'\n');
    }
    write_atomic(&path, &bytes)?;
    // The crash tests kill the process here: compacted, the round not begun.
    fault_injection::crash_at("ledger-compacted");
    Ok(Some(Compacted { before: attempts.len(), after: compacted.len() }))
}

#[cfg(test)]
#[path = "compact_tests.rs"]
mod tests;
