//! The event index (`state/event-index.jsonl`, `store::event_index_log`): a sparse map, per event file, from byte
//! ranges to the event times inside them, so that `observer explain` reads
//! only the part of the log around one entity instead of all of it.
//!
//! Each pass that reads events adds what it read: blocks of at most
//! [`BLOCK_EVENTS`] events, each with its byte offset, the line it starts
//! on, and the smallest and largest `ts` inside. The last block of a file
//! grows across passes until it is full, so a run every minute does not add
//! a block per minute. The file is written after the world and before the
//! checkpoint, and is only ever a hint: `explain` trusts a file's entry
//! only while the file has the same device and inode and is at least as
//! long as the part indexed, reads whatever lies beyond that part whole,
//! and reads a file without a usable entry whole (as it does every
//! single-event `.json` file, which the index leaves out). A missing,
//! stale or unreadable index costs time, never a wrong answer.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::events::Cursor;
use crate::time::Ts;

/// Events per block: small enough that one incident's time span touches a
/// few blocks of each file, large enough that a month of a busy lab (a
/// million events) needs a few thousand blocks.
pub const BLOCK_EVENTS: u32 = 512;

/// The version of the index's model (`EventIndex::version`).
pub const VERSION: u32 = 1;

/// The whole index, by path relative to `events/`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventIndex {
    pub version: u32,
    pub files: BTreeMap<String, FileIndex>,
}

/// What is known of one file: its identity, how much of it the blocks
/// cover, and the blocks in file order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileIndex {
    pub dev: u64,
    pub ino: u64,
    /// Bytes covered by the blocks (the cursor's offset when written).
    pub end: u64,
    /// Complete lines before `end`.
    pub end_line: u64,
    pub blocks: Vec<Block>,
}

/// A byte range of a file, from `offset` to the next block's offset (or
/// the file's `end`). `min`/`max` are the event times inside, in
/// milliseconds; a block about whose events nothing is known (the part of
/// a file read before the index existed) spans every time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    #[serde(rename = "o")]
    pub offset: u64,
    /// The 1-based line number of the line starting at `offset`.
    #[serde(rename = "l")]
    pub line: u64,
    #[serde(rename = "n")]
    pub events: u32,
    pub min: i64,
    pub max: i64,
}

impl Block {
    fn unknown(line: u64) -> Block {
        Block { offset: 0, line, events: BLOCK_EVENTS, min: i64::MIN, max: i64::MAX }
    }

    /// Whether an event of this block can have a `ts` in `[from, to]`.
    pub fn overlaps(&self, from: Ts, to: Ts) -> bool {
        self.min <= to.0 && self.max >= from.0
    }
}

/// The blocks one pass read, per file index of the read plan: the indexes
/// are dense, so a `Vec` slot each (a hashed look-up per event was ~5 % of
/// the calm rebuild's fold thread, issue 11); `None` for a file the pass
/// did not read.
#[derive(Default)]
pub struct PassBlocks {
    files: Vec<Option<FileBlocks>>,
}

#[derive(Default)]
struct FileBlocks {
    blocks: Vec<Block>,
    last_position: u64,
    /// A file read whole and sorted gives its events out of file order:
    /// its blocks then collapse into one.
    in_order: bool,
}

impl PassBlocks {
    /// Notes one event the pass read, in the order the merge gives them.
    pub fn note(&mut self, file: u32, position: u64, line: u64, ts: Ts) {
        let slot = file as usize;
        if slot >= self.files.len() {
            self.files.resize_with(slot + 1, || None);
        }
        let entry = self.files[slot].get_or_insert_with(|| FileBlocks { in_order: true, ..FileBlocks::default() });
        let fresh = Block { offset: position, line, events: 1, min: ts.0, max: ts.0 };
        if entry.blocks.is_empty() {
            entry.blocks.push(fresh);
        } else if entry.in_order && position < entry.last_position {
            entry.in_order = false;
            let mut all = entry.blocks.drain(..).chain([fresh]).collect::<Vec<_>>().into_iter();
            let first = all.next().unwrap_or(fresh);
            entry.blocks.push(all.fold(first, merged));
        } else if !entry.in_order {
            let last = entry.blocks[0];
            entry.blocks[0] = merged(last, fresh);
        } else {
            let last = entry.blocks.len() - 1;
            if entry.blocks[last].events < BLOCK_EVENTS {
                let block = entry.blocks[last];
                entry.blocks[last] =
                    Block { events: block.events + 1, min: block.min.min(ts.0), max: block.max.max(ts.0), ..block };
            } else {
                entry.blocks.push(fresh);
            }
        }
        entry.last_position = entry.last_position.max(position);
    }
}

/// The union of two blocks: the earlier start, both time ranges.
fn merged(a: Block, b: Block) -> Block {
    let (first, _) = if (a.offset, a.line) <= (b.offset, b.line) { (a, b) } else { (b, a) };
    Block {
        offset: first.offset,
        line: first.line,
        events: a.events.saturating_add(b.events),
        min: a.min.min(b.min),
        max: a.max.max(b.max),
    }
}

/// The index after a pass: `previous` (none after a rebuild) extended with
/// the blocks the pass read, for the files of `cursors` (every file still
/// there; entries of files that are gone are dropped). `old` are the
/// cursors the pass started from.
pub fn updated(
    previous: Option<EventIndex>,
    paths: &[String],
    pass: PassBlocks,
    old: &BTreeMap<String, Cursor>,
    cursors: &BTreeMap<String, Cursor>,
) -> EventIndex {
    let mut before = previous.map(|index| index.files).unwrap_or_default();
    let mut read: HashMap<&str, FileBlocks> =
        pass.files.into_iter().zip(paths).filter_map(|(b, p)| Some((p.as_str(), b?))).collect();
    let mut files = BTreeMap::new();
    // A single-event `.json` file is one event: reading it whole costs no
    // more than its entry would, and thousands of entries would make every
    // pass rewrite a large index.
    for (rel, cursor) in cursors.iter().filter(|(rel, _)| !rel.ends_with(".json")) {
        let start = old.get(rel).filter(|c| c.meta.dev == cursor.meta.dev && c.meta.ino == cursor.meta.ino);
        let mut entry = match (before.remove(rel), start) {
            (Some(mut entry), Some(start))
                if entry.dev == cursor.meta.dev && entry.ino == cursor.meta.ino && entry.end >= start.offset =>
            {
                // An index ahead of the cursor was written by a pass that
                // crashed before its checkpoint: its blocks past the cursor
                // go (the last one kept may span more times than its part
                // holds, which only makes explain read it).
                if entry.end > start.offset {
                    entry.blocks.retain(|block| block.offset < start.offset);
                }
                entry
            }
            _ => FileIndex { dev: cursor.meta.dev, ino: cursor.meta.ino, end: 0, end_line: 0, blocks: Vec::new() },
        };
        if let Some(new) = read.remove(rel.as_str()) {
            for block in new.blocks {
                match entry.blocks.last_mut() {
                    Some(last) if last.events.saturating_add(block.events) <= BLOCK_EVENTS => {
                        *last = merged(*last, block)
                    }
                    _ => entry.blocks.push(block),
                }
            }
        }
        entry.end = cursor.offset;
        entry.end_line = cursor.lines;
        // A part read before (a rotated file's, or one read before the
        // index existed) is covered, as a block of unknown times.
        if entry.end > 0 && entry.blocks.first().is_none_or(|first| first.offset > 0) {
            entry.blocks.insert(0, Block::unknown(1));
        }
        files.insert(rel.clone(), entry);
    }
    EventIndex { version: VERSION, files }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_fill_up_to_the_limit_then_a_new_one_starts() {
        let mut pass = PassBlocks::default();
        for n in 0..(BLOCK_EVENTS as u64 + 3) {
            pass.note(0, n * 10, n + 1, Ts(1000 + n as i64));
        }
        let blocks = &pass.files[0].as_ref().unwrap().blocks;
        assert_eq!(blocks.len(), 2);
        assert_eq!((blocks[0].offset, blocks[0].line, blocks[0].events), (0, 1, BLOCK_EVENTS));
        assert_eq!((blocks[1].offset, blocks[1].line, blocks[1].events), (BLOCK_EVENTS as u64 * 10, 513, 3));
        assert_eq!((blocks[1].min, blocks[1].max), (1000 + 512, 1000 + 514));
    }

    fn cursor(offset: u64, lines: u64, ino: u64) -> Cursor {
        let meta =
            crate::store::events::FileMeta { size: offset, dev: 1, ino, mtime_ns: 0, ctime_ns: 0, btime_ns: None };
        Cursor { offset, lines, meta, head: 0, tail: 0, blocks: None }
    }

    fn pass(events: &[(u64, u64, i64)]) -> PassBlocks {
        let mut pass = PassBlocks::default();
        for (position, line, ts) in events {
            pass.note(0, *position, *line, Ts(*ts));
        }
        pass
    }

    #[test]
    fn a_later_pass_grows_the_last_block_and_a_file_without_an_entry_gets_one_of_unknown_times() {
        let paths = vec!["a.jsonl".to_string()];
        let first = updated(
            None,
            &paths,
            pass(&[(0, 1, 10), (10, 2, 20)]),
            &BTreeMap::new(),
            &BTreeMap::from([("a.jsonl".to_string(), cursor(20, 2, 7))]),
        );
        let second = updated(
            Some(first),
            &paths,
            pass(&[(20, 3, 30)]),
            &BTreeMap::from([("a.jsonl".to_string(), cursor(20, 2, 7))]),
            &BTreeMap::from([("a.jsonl".to_string(), cursor(30, 3, 7))]),
        );
        let entry = &second.files["a.jsonl"];
        assert_eq!(entry.blocks, vec![Block { offset: 0, line: 1, events: 3, min: 10, max: 30 }]);
        assert_eq!((entry.end, entry.end_line), (30, 3));
        // Without the first pass's index, the part read before is covered
        // as a block of unknown times.
        let lost = updated(
            None,
            &paths,
            pass(&[(20, 3, 30)]),
            &BTreeMap::from([("a.jsonl".to_string(), cursor(20, 2, 7))]),
            &BTreeMap::from([("a.jsonl".to_string(), cursor(30, 3, 7))]),
        );
        let blocks = &lost.files["a.jsonl"].blocks;
        assert_eq!(blocks[0], Block::unknown(1));
        assert_eq!(blocks[1], Block { offset: 20, line: 3, events: 1, min: 30, max: 30 });
    }

    #[test]
    fn an_entry_ahead_of_the_cursor_is_trimmed_to_it_not_dropped() {
        // A pass indexed up to 30 and crashed before its checkpoint, which
        // still says 20: the next pass starts from 20.
        let paths = vec!["a.jsonl".to_string()];
        let ahead = updated(
            None,
            &paths,
            pass(&[(0, 1, 10), (10, 2, 20), (20, 3, 30)]),
            &BTreeMap::new(),
            &BTreeMap::from([("a.jsonl".to_string(), cursor(30, 3, 7))]),
        );
        let mut many = ahead.clone();
        many.files.get_mut("a.jsonl").unwrap().blocks.push(Block { offset: 25, line: 3, events: 1, min: 0, max: 0 });
        let again = updated(
            Some(many),
            &paths,
            pass(&[(20, 3, 31)]),
            &BTreeMap::from([("a.jsonl".to_string(), cursor(20, 2, 7))]),
            &BTreeMap::from([("a.jsonl".to_string(), cursor(30, 3, 7))]),
        );
        let blocks = &again.files["a.jsonl"].blocks;
        assert_eq!(blocks, &vec![Block { offset: 0, line: 1, events: 4, min: 10, max: 31 }], "no unknown block");
    }

    #[test]
    fn single_event_json_files_and_files_that_are_gone_have_no_entry() {
        let paths = vec!["e/one.json".to_string(), "gone.jsonl".to_string()];
        let previous = updated(
            None,
            &paths[1..],
            pass(&[(0, 1, 10)]),
            &BTreeMap::new(),
            &BTreeMap::from([("gone.jsonl".to_string(), cursor(10, 1, 3))]),
        );
        let index = updated(
            Some(previous),
            &paths,
            pass(&[(0, 1, 10)]),
            &BTreeMap::new(),
            &BTreeMap::from([("e/one.json".to_string(), cursor(40, 1, 9))]),
        );
        assert!(index.files.is_empty(), "{index:?}");
    }

    #[test]
    fn events_out_of_file_order_collapse_into_one_block_spanning_them_all() {
        let mut pass = PassBlocks::default();
        pass.note(0, 50, 3, Ts(10));
        pass.note(0, 0, 1, Ts(20));
        pass.note(0, 90, 5, Ts(5));
        let blocks = &pass.files[0].as_ref().unwrap().blocks;
        assert_eq!(blocks, &vec![Block { offset: 0, line: 1, events: 3, min: 5, max: 20 }]);
    }
}
