//! The merge across files: the new events of a [`ReadPlan`] in processing
//! order `(ts, path, position)` (SPEC §3), streamed. Each changed `.jsonl`
//! file is read in chunks from its cursor, and the files are merged by their
//! next event. Producers append in time order, so a file is a sorted run,
//! and a rebuild of any history holds one event per file at a time instead
//! of the history. Single-event `.json` files, and `.jsonl` files found out
//! of order, are read whole and sorted first.
//!
//! A streamed file stays open until the merge has read it, so a pass can
//! keep open only as many files as the open-file limit (`ulimit -n`) leaves
//! room for. Beyond that (a first run or a rebuild over thousands of
//! `.jsonl` files, with the usual soft limit of 1,024), the files with the
//! least recently modified are parked: closed after each read of at most
//! 16 KiB and opened again for the next, once their path is checked to name
//! the same file. The events come in the same order, the pass does not stop
//! at "Too many open files", and it holds a chunk of each file, not the
//! files. The files a producer may still append to or rotate stay open.

use std::collections::{BinaryHeap, HashSet};

use super::listing::FileKind;
use super::plan::{ChangedFile, ReadPlan};
use super::reader::{CHUNK, LineReader, PARKED_CHUNK, read_single};
use super::{OrderedEvent, ReadOutcome, SourceError};
use crate::time::Ts;

/// Why a merge stopped.
#[derive(Debug)]
pub enum ReadError {
    Source(SourceError),
    /// A `.jsonl` file whose events do not come in time order (the file
    /// index of the plan): the merge cannot stream it. The caller starts
    /// over with that file read whole and sorted ([`Merge::open`]).
    Unsorted {
        file: u32,
    },
}

impl From<SourceError> for ReadError {
    fn from(error: SourceError) -> ReadError {
        ReadError::Source(error)
    }
}

/// The merge of the changed files of a plan.
pub struct Merge {
    sources: Vec<Source>,
    /// The place in the order of each source's next event, smallest first.
    heads: BinaryHeap<Head>,
    /// Each source's next event, by source: the heap moves only its small
    /// key, not the event (a memcpy per sift was ~10 % of the reading
    /// thread once events were held inline, issue 11).
    waiting: Vec<Option<OrderedEvent>>,
    check_order: bool,
    outcome: ReadOutcome,
}

/// One sorted run of events.
enum Source {
    Lines(Box<LineReader>),
    Sorted(std::vec::IntoIter<OrderedEvent>),
}

struct Head {
    key: (Ts, u32, u64),
    source: usize,
}

impl PartialEq for Head {
    fn eq(&self, other: &Head) -> bool {
        self.key == other.key
    }
}

impl Eq for Head {}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Head) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Head {
    /// Reversed: `BinaryHeap` is a max-heap, the merge wants the smallest.
    fn cmp(&self, other: &Head) -> std::cmp::Ordering {
        other.key.cmp(&self.key)
    }
}

/// Files a pass may have open besides the files the merge streams: the
/// checkpoint, the engine state, the history months, the world's
/// generation and the threads that sync it, what the process inherited,
/// and the connections of `watch --listen`.
const OTHER_OPEN_FILES: u64 = 256;
/// What the files kept open side by side may read at once, together: each
/// reads chunks of this divided among them, from [`PARKED_CHUNK`] up to
/// [`CHUNK`] (a history of a few producer files reads 256 KiB at a time
/// from each; a first run over 600 files with room for all, ~54 KiB).
const STREAM_BUFFERS: usize = 32 * 1024 * 1024;
/// Files streamed side by side however low the limit (below ~270 the pass
/// may fail elsewhere; these few are not what makes it fail).
const MIN_STREAMS: usize = 16;

/// How many `.jsonl` files the merge may keep open at once: the soft limit
/// on open files (`RLIMIT_NOFILE`) less [`OTHER_OPEN_FILES`]; no bound when
/// there is no limit.
fn streams_allowed() -> usize {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
    limit
        .map_or(usize::MAX, |limit| usize::try_from(limit.saturating_sub(OTHER_OPEN_FILES)).unwrap_or(usize::MAX))
        .max(MIN_STREAMS)
}

/// The `.jsonl` files of `plan` that would be streamed (not in `whole`)
/// beyond the first `room`, by the latest modification: the least recently
/// modified (among files modified at once, those with the least left to
/// read, then the later in path order), to be parked. None when all fit.
/// A first run over years of daily files parks the old days, which no
/// producer writes or rotates any more.
fn beyond_the_limit(plan: &ReadPlan, whole: &HashSet<u32>, room: usize) -> HashSet<u32> {
    let mut streamed = streamed(plan, whole);
    if streamed.len() <= room {
        return HashSet::new();
    }
    // Stable: among files alike, the plan's order.
    streamed.sort_by_key(|changed| std::cmp::Reverse((changed.file.meta.mtime_ns, left_to_read(changed))));
    streamed[room..].iter().map(|changed| changed.index).collect()
}

/// The `.jsonl` files of `plan` to stream: not in `whole`.
fn streamed<'a>(plan: &'a ReadPlan, whole: &HashSet<u32>) -> Vec<&'a ChangedFile> {
    plan.changed
        .iter()
        .filter(|changed| matches!(changed.file.kind, FileKind::Lines) && !whole.contains(&changed.index))
        .collect()
}

/// The bytes of `changed` after its cursor when it was listed.
fn left_to_read(changed: &ChangedFile) -> u64 {
    changed.file.meta.size.saturating_sub(changed.cursor.as_ref().map_or(0, |cursor| cursor.offset))
}

/// Reads the new events of a `.jsonl` file to its end into `sorted`, and
/// closes it.
fn read_whole(
    changed: &ChangedFile,
    sorted: &mut Vec<OrderedEvent>,
    outcome: &mut ReadOutcome,
) -> Result<(), SourceError> {
    let Some(mut reader) = LineReader::open(changed, false, CHUNK)? else { return Ok(()) };
    while let Some(event) = reader.next_event(outcome)? {
        sorted.push(event);
    }
    Ok(())
}

impl Merge {
    /// Opens the changed files of `plan`. Files in `whole` (indexes of the
    /// plan) are read whole and sorted, as are single-event files; the
    /// `.jsonl` files beyond what the open-file limit leaves room to keep
    /// open are parked (see the module's doc). With
    /// `check_order`, a `.jsonl` file whose time goes back stops the merge
    /// with [`ReadError::Unsorted`]; without it, events come in no
    /// particular order.
    pub fn open(plan: &ReadPlan, whole: &HashSet<u32>, check_order: bool) -> Result<Merge, SourceError> {
        Merge::open_with_room(plan, whole, check_order, streams_allowed())
    }

    /// [`Merge::open`], keeping at most `room` files open.
    fn open_with_room(
        plan: &ReadPlan,
        whole: &HashSet<u32>,
        check_order: bool,
        room: usize,
    ) -> Result<Merge, SourceError> {
        let mut merge = Merge {
            sources: Vec::new(),
            heads: BinaryHeap::new(),
            waiting: Vec::new(),
            check_order,
            outcome: ReadOutcome::default(),
        };
        super::progress::start(plan.bytes_to_read());
        // In path order, so the map is built in bulk.
        merge.outcome.cursors =
            plan.carried.iter().map(|(index, cursor)| (plan.paths[*index as usize].clone(), cursor.clone())).collect();
        let mut sorted = Vec::new();
        let parked = beyond_the_limit(plan, whole, room);
        let kept_open = streamed(plan, whole).len().min(room);
        let most = (STREAM_BUFFERS / kept_open.max(1)).clamp(PARKED_CHUNK, CHUNK);
        // In path order, so that of two broken files the first is told.
        for changed in &plan.changed {
            match changed.file.kind {
                FileKind::Single => {
                    if let Some(event) = read_single(changed, &mut merge.outcome)? {
                        sorted.push(event);
                    }
                }
                FileKind::Lines if whole.contains(&changed.index) => {
                    read_whole(changed, &mut sorted, &mut merge.outcome)?;
                }
                FileKind::Lines => {
                    if let Some(reader) = LineReader::open(changed, parked.contains(&changed.index), most)? {
                        merge.sources.push(Source::Lines(Box::new(reader)));
                    }
                }
            }
        }
        sorted.sort_unstable_by_key(OrderedEvent::key);
        merge.sources.push(Source::Sorted(sorted.into_iter()));
        merge.waiting.resize_with(merge.sources.len(), || None);
        for source in 0..merge.sources.len() {
            if let Some(event) = merge.pull(source)? {
                merge.heads.push(Head { key: event.key(), source });
                merge.waiting[source] = Some(event);
            }
        }
        Ok(merge)
    }

    fn pull(&mut self, source: usize) -> Result<Option<OrderedEvent>, SourceError> {
        match &mut self.sources[source] {
            Source::Lines(reader) => reader.next_event(&mut self.outcome),
            Source::Sorted(events) => Ok(events.next()),
        }
    }

    /// The next event in processing order, or `None` when every file is read.
    #[allow(clippy::should_implement_trait)] // fallible, unlike Iterator::next
    pub fn next(&mut self) -> Result<Option<OrderedEvent>, ReadError> {
        let Some(Head { key: (ts, file, _), source }) = self.heads.pop() else { return Ok(None) };
        let event = self.waiting[source].take();
        if let Some(following) = self.pull(source)? {
            if self.check_order && following.ts < ts {
                return Err(ReadError::Unsorted { file });
            }
            self.heads.push(Head { key: following.key(), source });
            self.waiting[source] = Some(following);
        }
        Ok(event)
    }

    /// What the reading found besides the events: rejections in file and
    /// line order, the files waiting for the rest of a line, and the cursors
    /// to commit. Call it once [`Merge::next`] returned `None`.
    pub fn finish(self) -> ReadOutcome {
        let mut outcome = self.outcome;
        outcome.rejects.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        outcome.waiting.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        outcome
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::plan;
    use super::*;

    fn line(ts: &str) -> String {
        format!("{{\"ts\":\"{ts}\",\"type\":\"tick\"}}\n")
    }

    fn keys(merge: &mut Merge) -> Result<Vec<(String, u32, u64)>, ReadError> {
        let mut out = Vec::new();
        while let Some(event) = merge.next()? {
            out.push((event.ts.to_rfc3339(), event.file, event.position));
        }
        Ok(out)
    }

    #[test]
    fn the_merge_gives_events_in_processing_order_across_files_and_kinds() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: String| std::fs::write(dir.path().join(name), text).unwrap();
        write("a.jsonl", [line("2026-05-12T12:00:00Z"), line("2026-05-12T12:02:00Z")].concat());
        write("b.jsonl", [line("2026-05-12T12:00:00Z"), line("2026-05-12T12:01:00Z")].concat());
        write("c.json", line("2026-05-12T12:01:00Z"));
        let plan = plan(dir.path(), &BTreeMap::new()).unwrap();
        let mut merge = Merge::open(&plan, &HashSet::new(), true).unwrap();
        let a_second = line("2026-05-12T12:00:00Z").len() as u64;
        assert_eq!(
            keys(&mut merge).unwrap(),
            [
                ("2026-05-12T12:00:00Z".to_string(), 0, 0),
                ("2026-05-12T12:00:00Z".to_string(), 1, 0),
                ("2026-05-12T12:01:00Z".to_string(), 1, a_second),
                ("2026-05-12T12:01:00Z".to_string(), 2, 0),
                ("2026-05-12T12:02:00Z".to_string(), 0, a_second),
            ]
        );
        assert_eq!(merge.finish().cursors.len(), 3);
    }

    #[test]
    fn a_file_out_of_time_order_stops_the_merge_and_is_sorted_when_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let text = [line("2026-05-12T12:05:00Z"), line("2026-05-12T12:00:00Z")].concat();
        std::fs::write(dir.path().join("a.jsonl"), &text).unwrap();
        std::fs::write(dir.path().join("b.jsonl"), line("2026-05-12T12:01:00Z")).unwrap();
        let plan = plan(dir.path(), &BTreeMap::new()).unwrap();
        let mut merge = Merge::open(&plan, &HashSet::new(), true).unwrap();
        assert!(matches!(keys(&mut merge), Err(ReadError::Unsorted { file: 0 })));
        let mut merge = Merge::open(&plan, &HashSet::from([0]), true).unwrap();
        let times: Vec<String> = keys(&mut merge).unwrap().into_iter().map(|k| k.0).collect();
        assert_eq!(times, ["2026-05-12T12:00:00Z", "2026-05-12T12:01:00Z", "2026-05-12T12:05:00Z"]);
        assert_eq!(merge.finish().cursors["a.jsonl"].offset, text.len() as u64);
    }

    /// `files` files, the events of every file interleaved with the
    /// others', the first `long_files` of them `long` events long, the
    /// others three; each file modified a second after the one before.
    fn interleaved(dir: &std::path::Path, files: u32, long_files: u32, long: u32) {
        let base = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        for i in 0..files {
            let count = if i < long_files { long } else { 3 };
            let text: String =
                (0..count).map(|k| line(&format!("2026-05-12T{:02}:{:02}:{:02}Z", 10 + k / 60, k % 60, i))).collect();
            let path = dir.join(format!("f{i:02}.jsonl"));
            std::fs::write(&path, text).unwrap();
            let file = std::fs::File::options().write(true).open(&path).unwrap();
            file.set_modified(base + std::time::Duration::from_secs(u64::from(i))).unwrap();
        }
    }

    /// The sources (files, in path order) that hold their file open.
    fn open_files(merge: &Merge) -> Vec<usize> {
        let open = |source: &Source| matches!(source, Source::Lines(reader) if reader.is_open());
        merge.sources.iter().enumerate().filter(|(_, source)| open(source)).map(|(i, _)| i).collect()
    }

    #[test]
    fn files_beyond_the_room_are_closed_between_reads_and_merged_in_the_same_order() {
        let dir = tempfile::tempdir().unwrap();
        interleaved(dir.path(), 12, 6, 800);
        let plan = plan(dir.path(), &BTreeMap::new()).unwrap();
        let mut all_open = Merge::open_with_room(&plan, &HashSet::new(), true, usize::MAX).unwrap();
        let expected = keys(&mut all_open).unwrap();
        let expected_cursors = all_open.finish().cursors;
        let mut merge = Merge::open_with_room(&plan, &HashSet::new(), true, 4).unwrap();
        // The four modified last stay open; the others, the six long ones
        // among them, are parked.
        assert_eq!(open_files(&merge), [8, 9, 10, 11]);
        let mut got = Vec::new();
        while let Some(event) = merge.next().unwrap() {
            got.push((event.ts.to_rfc3339(), event.file, event.position));
            assert!(open_files(&merge).len() <= 4, "the parked files are closed between their reads");
            for source in &merge.sources {
                if let Source::Lines(reader) = source
                    && !reader.is_open()
                {
                    assert!(reader.buffer_capacity() <= PARKED_CHUNK + 4096, "a chunk at a time, not the file");
                }
            }
        }
        assert_eq!(got, expected);
        assert!(open_files(&merge).is_empty(), "every file is closed once read");
        assert_eq!(merge.finish().cursors, expected_cursors);
        assert_eq!(expected.len(), 6 * 800 + 6 * 3);
        assert!(
            line("2026-05-12T10:00:00Z").len() * 800 > 2 * PARKED_CHUNK,
            "a long file is read in more than one chunk"
        );
    }

    #[test]
    fn a_parked_file_removed_or_replaced_between_its_reads_stops_the_merge() {
        for (replace, told) in [(false, "was removed while"), (true, "was replaced by another file while")] {
            let dir = tempfile::tempdir().unwrap();
            interleaved(dir.path(), 3, 0, 3);
            let plan = plan(dir.path(), &BTreeMap::new()).unwrap();
            let mut merge = Merge::open_with_room(&plan, &HashSet::new(), true, 0).unwrap();
            assert!(merge.next().unwrap().is_some());
            let path = dir.path().join("f01.jsonl");
            std::fs::rename(&path, dir.path().join("f01.jsonl.1")).unwrap();
            if replace {
                std::fs::write(&path, line("2026-05-12T10:00:00Z").repeat(3)).unwrap();
            }
            match keys(&mut merge) {
                Err(ReadError::Source(error @ SourceError::Moved { .. })) => {
                    assert!(error.to_string().contains(&format!("f01.jsonl {told} this pass read it")), "{error}");
                }
                other => panic!("{other:?}"),
            }
        }
    }

    /// A parked file resumed from its cursor, grown since the listing and
    /// between its reads (CRLF, a line longer than a chunk, an unfinished
    /// last line), reads as one kept open: the same events, cursors (block
    /// hashes across 64 KiB blocks too), rejects and waiting lines.
    #[test]
    fn a_parked_file_resumed_from_its_cursor_and_growing_during_the_pass_reads_as_an_open_one() {
        let dir = tempfile::tempdir().unwrap();
        let body = |from: u32, to: u32| -> String {
            (from..to)
                .map(|k| {
                    let l = line(&format!("2026-05-12T{:02}:{:02}:{:02}Z", 10 + k / 3600, k / 60 % 60, k % 60));
                    if k % 7 == 0 { l.replace('\n', "\r\n") } else { l }
                })
                .collect()
        };
        let append = |name: &str, text: &str| {
            use std::io::Write as _;
            let mut file = std::fs::OpenOptions::new().append(true).open(dir.path().join(name)).unwrap();
            file.write_all(text.as_bytes()).unwrap();
        };
        let names = ["a.jsonl", "b.jsonl", "c.jsonl"];
        let long = format!(
            "{{\"ts\":\"2026-05-12T09:00:00Z\",\"type\":\"tick\",\"message\":\"{}\"}}\n",
            "x".repeat(3 * PARKED_CHUNK)
        );
        let partial = body(2000, 2001);
        for name in names {
            std::fs::write(dir.path().join(name), [long.clone(), body(0, 2000), partial[..6].to_string()].concat())
                .unwrap();
        }
        let first = plan(dir.path(), &BTreeMap::new()).unwrap();
        let mut merge = Merge::open_with_room(&first, &HashSet::new(), true, usize::MAX).unwrap();
        keys(&mut merge).unwrap();
        let previous = merge.finish().cursors;
        assert!(previous["a.jsonl"].offset > 2 * 65536 && previous["a.jsonl"].blocks.is_some());
        for name in names {
            append(name, &[&partial[6..], &body(2001, 3000), &long.replace("09:00:00", "10:49:59")].concat());
        }
        let plan = plan(dir.path(), &previous).unwrap();
        for name in names {
            append(name, &body(3000, 3500));
        }
        let mut open = Merge::open_with_room(&plan, &HashSet::new(), true, usize::MAX).unwrap();
        let mut parked = Merge::open_with_room(&plan, &HashSet::new(), true, 0).unwrap();
        let take = |merge: &mut Merge, n: usize| -> Vec<(String, u32, u64)> {
            (0..n).map(|_| merge.next().unwrap().map(|e| (e.ts.to_rfc3339(), e.file, e.position)).unwrap()).collect()
        };
        let (mut from_open, mut from_parked) = (take(&mut open, 3000), take(&mut parked, 3000));
        for name in names {
            append(name, &[body(3500, 4500), "{\"ts\":\"2026".to_string()].concat());
        }
        from_open.extend(keys(&mut open).unwrap());
        from_parked.extend(keys(&mut parked).unwrap());
        assert_eq!(from_open.len(), 3 * 2501);
        assert_eq!(from_parked, from_open);
        let (open, parked) = (open.finish(), parked.finish());
        assert_eq!(parked.cursors, open.cursors);
        assert_eq!((&parked.rejects, &parked.waiting), (&open.rejects, &open.waiting));
        assert_eq!(parked.waiting.len(), 3);
        assert_eq!(parked.bytes_read, open.bytes_read);
        let fresh = super::super::plan(dir.path(), &BTreeMap::new()).unwrap();
        let mut merge = Merge::open_with_room(&fresh, &HashSet::new(), true, 0).unwrap();
        keys(&mut merge).unwrap();
        let fresh = merge.finish().cursors;
        for name in names {
            let (got, want) = (&parked.cursors[name], &fresh[name]);
            assert_eq!(
                (got.offset, got.lines, got.head, got.tail, &got.blocks),
                (want.offset, want.lines, want.head, want.tail, &want.blocks)
            );
            let len = std::fs::metadata(dir.path().join(name)).unwrap().len();
            assert_eq!(got.offset, len - "{\"ts\":\"2026".len() as u64);
        }
    }
}
