//! Reading the new events of one changed file: a `.jsonl` file a chunk at a
//! time from its cursor ([`LineReader`]), a single-event `.json` file whole
//! ([`read_single`]). Rejected lines, lines still being written and the new
//! cursor go into the [`ReadOutcome`] of the pass.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use super::blocks::{BLOCK, BlockHasher, BlockHashes, block_hash, hashes_of};
use super::cursor::PRINT_LEN;
use super::cursor::{Cursor, FileMeta};
use super::listing::{EventFile, meta_of_open};
use super::plan::ChangedFile;
use super::prefix::{cursor_at, io_error, open_checked, read_range};
use super::{OrderedEvent, ReadOutcome, Reject, SourceError};
use crate::event::{Parsed, parse_event};

/// Bytes read from a `.jsonl` file at once. Lines longer than this (a
/// rejected 1 MiB line, say) grow the buffer for as long as they last.
pub(super) const CHUNK: usize = 256 * 1024;

/// The bytes to read at once from a file that had `left` bytes to read
/// when it was listed: all of them and one more (the read that finds the
/// end then needs no second buffer), from 4 KiB up to [`CHUNK`]. A run
/// that folds a few new lines of each file zeroed a 256 KiB buffer for
/// each: on the calm history, a fifth of that run's page faults (issue
/// 11, row 3). A file that grew since it was listed is read on in chunks
/// of that size.
fn chunk_for(left: u64) -> usize {
    usize::try_from(left.saturating_add(1)).unwrap_or(CHUNK).clamp(4096, CHUNK)
}

/// Bytes read at once from a parked file (see [`LineReader::open`]), and
/// the least a merge of many files reads at once from each: what such a
/// file holds between its reads, so that a merge of thousands of files
/// holds a little of each, whatever their length.
pub(super) const PARKED_CHUNK: usize = 16 * 1024;

/// Room beside a chunk for the part of a line that the chunk before ended
/// in: the buffer holds a chunk and this, and grows past it only while a
/// longer line lasts.
const LINE_ROOM: usize = 4096;

/// Reads the new lines of one `.jsonl` file, a chunk at a time.
pub(super) struct LineReader {
    /// `None` between the reads of a parked file.
    opened: Option<File>,
    /// Set for a reader closed after each read and opened again for the
    /// next: the file first opened, to know it again under its path.
    parked: Option<FileMeta>,
    index: u32,
    file: EventFile,
    old: Option<Cursor>,
    buf: Vec<u8>,
    /// Bytes read at once: [`CHUNK`], or less when the file had less to
    /// read when it was listed (see [`chunk_for`]).
    chunk: usize,
    /// `buf[at..]` is not consumed yet; `buf[..at]` is.
    at: usize,
    /// The file offset of `buf[0]`.
    buf_offset: u64,
    lines: u64,
    eof: bool,
    done: bool,
    /// The block hashes, extended as bytes are consumed; `None` for a file
    /// whose cursor has none to continue (an older checkpoint's).
    hasher: Option<BlockHasher>,
}

impl LineReader {
    /// Opens the file at its cursor, once its consumed prefix is checked;
    /// `None` if it is gone.
    ///
    /// Chunks are at most `most` bytes. A `parked` reader closes its file
    /// after each read, in chunks of at most [`PARKED_CHUNK`], and opens it
    /// again for the next: a merge can then read more files side by side
    /// than the open-file limit allows, holding a chunk of each. If the
    /// path no longer names the same file when it is opened again (removed,
    /// or renamed and replaced: a rotation), the read stops with
    /// [`SourceError::Moved`] and the pass commits nothing.
    pub(super) fn open(changed: &ChangedFile, parked: bool, most: usize) -> Result<Option<LineReader>, SourceError> {
        let path = &changed.file.path;
        let Some(mut opened) = open_checked(&changed.file, changed.cursor.as_ref())? else { return Ok(None) };
        let offset = changed.cursor.as_ref().map_or(0, |c| c.offset);
        let most = if parked { PARKED_CHUNK } else { most };
        let chunk = chunk_for(changed.file.meta.size.saturating_sub(offset)).min(most);
        let hasher = resume_hashes(&changed.file, changed.cursor.as_ref(), &mut opened)?;
        opened.seek(SeekFrom::Start(offset)).map_err(io_error(path))?;
        // Only a parked file is opened again, and so needs knowing again.
        let identity = match parked {
            true => Some(meta_of_open(&opened).map_err(io_error(path))?),
            false => None,
        };
        Ok(Some(LineReader {
            opened: (!parked).then_some(opened),
            parked: identity,
            index: changed.index,
            file: changed.file.clone(),
            old: changed.cursor.clone(),
            buf: Vec::with_capacity(chunk + LINE_ROOM),
            chunk,
            at: 0,
            buf_offset: offset,
            lines: changed.cursor.as_ref().map_or(0, |c| c.lines),
            eof: false,
            done: false,
            hasher,
        }))
    }

    /// Whether the reader holds its file open now.
    #[cfg(test)]
    pub(super) fn is_open(&self) -> bool {
        self.opened.is_some()
    }

    /// The memory its buffer holds.
    #[cfg(test)]
    pub(super) fn buffer_capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Reads more bytes after what is not consumed yet; false at the end.
    fn fill(&mut self, outcome: &mut ReadOutcome) -> Result<bool, SourceError> {
        if self.eof {
            return Ok(false);
        }
        if let Some(hasher) = &mut self.hasher {
            hasher.feed(&self.buf[..self.at]);
        }
        self.buf.drain(..self.at);
        self.buf_offset += self.at as u64;
        self.at = 0;
        let kept = self.buf.len();
        let opened = reopened(&mut self.opened, &self.file.path, self.parked, self.buf_offset + kept as u64)?;
        // Exactly what this read needs, not the doubling a `Vec` does: a
        // merge of many files holds one such buffer for each.
        let wanted = kept + self.chunk;
        if self.buf.capacity() > 2 * wanted + LINE_ROOM {
            self.buf.shrink_to(wanted + LINE_ROOM);
        }
        self.buf.reserve_exact(self.chunk);
        self.buf.resize(wanted, 0);
        let read = loop {
            match opened.read(&mut self.buf[kept..]) {
                Ok(read) => break read,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_error(&self.file.path)(e)),
            }
        };
        // Kept open after the read that finds the end: `finish` needs it next.
        if self.parked.is_some() && read > 0 {
            self.opened = None;
        }
        self.buf.truncate(kept + read);
        outcome.bytes_read += read as u64;
        super::progress::advance(read as u64);
        self.eof = read == 0;
        Ok(read > 0)
    }

    /// The next valid event; rejected lines go to `outcome` on the way. At
    /// the end of the file its cursor (and a waiting last line) goes there
    /// too, and `None` comes back.
    pub(super) fn next_event(&mut self, outcome: &mut ReadOutcome) -> Result<Option<OrderedEvent>, SourceError> {
        if self.done {
            return Ok(None);
        }
        loop {
            let Some(len) = memchr::memchr(b'\n', &self.buf[self.at..]) else {
                if self.fill(outcome)? {
                    continue;
                }
                return self.finish(outcome).map(|()| None);
            };
            let start = self.at;
            self.at += len + 1;
            self.lines += 1;
            let position = self.buf_offset + start as u64;
            let mut line = &self.buf[start..start + len];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            if position == 0 && line.starts_with(b"\xEF\xBB\xBF") {
                line = &line[3..];
            }
            // NUL bytes before an event are what a crash can leave in a file
            // (its size reached the disk, its data did not): padding, skipped
            // so that the event appended after them is not lost with them.
            line = &line[line.iter().take_while(|b| **b == 0).count()..];
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let reason = match parse_event(line) {
                Parsed::Event(event) => {
                    return Ok(Some(OrderedEvent {
                        ts: event.ts,
                        file: self.index,
                        position,
                        line: self.lines,
                        event,
                    }));
                }
                Parsed::Rejected(reason) => reason.0,
                Parsed::Incomplete => "not valid JSON: the line ends before the event does".into(),
            };
            outcome.rejects.push(Reject { file: self.file.rel.clone(), line: self.lines, reason });
        }
    }

    fn finish(&mut self, outcome: &mut ReadOutcome) -> Result<(), SourceError> {
        self.done = true;
        outcome.files_read += 1;
        let rest = &self.buf[self.at..];
        if !rest.iter().all(|b| b.is_ascii_whitespace() || *b == 0) {
            outcome.waiting.push(Reject {
                file: self.file.rel.clone(),
                line: self.lines + 1,
                reason: "the last line has no newline yet; it is read once it is complete".into(),
            });
        }
        let end = self.buf_offset + self.at as u64;
        let blocks = self.hasher.take().map(|mut hasher| {
            hasher.feed(&self.buf[..self.at]);
            hasher.finish()
        });
        let opened = reopened(&mut self.opened, &self.file.path, self.parked, end)?;
        let cursor = cursor_at(&self.file, self.old.as_ref(), opened, end, self.lines, blocks)?;
        outcome.cursors.insert(self.file.rel.clone(), cursor);
        self.opened = None;
        self.buf = Vec::new();
        Ok(())
    }
}

/// The open file of a reader: a parked one (`opened` is `None`) opened
/// again at `offset`, if `path` still names the file of `parked`.
fn reopened<'a>(
    opened: &'a mut Option<File>,
    path: &std::path::Path,
    parked: Option<FileMeta>,
    offset: u64,
) -> Result<&'a mut File, SourceError> {
    let Some(identity) = parked.filter(|_| opened.is_none()) else {
        // Open; or not parked and closed for good by `finish`, which is
        // never read from again.
        return opened.as_mut().ok_or_else(|| io_error(path)(std::io::Error::other("read after its end")));
    };
    let moved = |removed| SourceError::Moved { file: path.to_path_buf(), removed };
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(moved(true)),
        Err(e) => return Err(io_error(path)(e)),
    };
    if !identity.is_same_file(&meta_of_open(&file).map_err(io_error(path))?) {
        return Err(moved(false));
    }
    file.seek(SeekFrom::Start(offset)).map_err(io_error(path))?;
    Ok(opened.insert(file))
}

/// The block hashes to extend as a file is read on from its cursor: the
/// last, partial block is read again (at most 64 KiB) and checked against
/// its hash on the way. `None` when the cursor has no hashes to continue.
fn resume_hashes(
    file: &EventFile,
    cursor: Option<&Cursor>,
    opened: &mut File,
) -> Result<Option<BlockHasher>, SourceError> {
    let Some(cursor) = cursor else { return Ok(Some(BlockHasher::new())) };
    let hashes = match &cursor.blocks {
        Some(blocks) if blocks.covers(cursor.offset) => blocks.clone(),
        None if cursor.offset <= PRINT_LEN => BlockHashes::default(),
        _ => return Ok(None),
    };
    let start = cursor.offset - cursor.offset % BLOCK;
    let partial = read_range(opened, &file.path, start, Some(cursor.offset - start))?;
    if let Some(stored) = hashes.get(start / BLOCK)
        && stored != block_hash(&partial)
    {
        return Err(SourceError::Edited { file: file.path.clone(), from: start, to: cursor.offset });
    }
    Ok(Some(BlockHasher::resume(hashes, cursor.offset, partial)))
}

/// Reads a changed single-event `.json` file: its event, if it has a new
/// one; its cursor and what it rejects or waits for go to `outcome`.
pub(super) fn read_single(
    changed: &ChangedFile,
    outcome: &mut ReadOutcome,
) -> Result<Option<OrderedEvent>, SourceError> {
    let file = &changed.file;
    let rel = &file.rel;
    if let Some(c) = changed.cursor.as_ref().filter(|c| c.offset > 0) {
        // Already consumed. Trailing white space (a producer's late newline)
        // is accepted; any other change to a single-event file is a rewrite.
        let Some(mut opened) = open_checked(file, Some(c))? else { return Ok(None) };
        let rest = read_range(&mut opened, &file.path, c.offset, None)?;
        if !rest.iter().all(u8::is_ascii_whitespace) {
            return Err(SourceError::Changed { file: file.path.clone() });
        }
        outcome.cursors.insert(rel.clone(), Cursor { meta: file.meta, ..c.clone() });
        return Ok(None);
    }
    let Some(mut opened) = open_checked(file, None)? else { return Ok(None) };
    let data = read_range(&mut opened, &file.path, 0, None)?;
    outcome.files_read += 1;
    outcome.bytes_read += data.len() as u64;
    super::progress::advance(data.len() as u64);
    let mut body: &[u8] = &data;
    if body.starts_with(b"\xEF\xBB\xBF") {
        body = &body[3..];
    }
    let line = 1 + body.iter().take_while(|b| b.is_ascii_whitespace()).filter(|b| **b == b'\n').count() as u64;
    let event = match parse_event(body) {
        // Not complete yet (or empty): no cursor, so the next run looks again.
        Parsed::Incomplete => {
            outcome.waiting.push(Reject {
                file: rel.clone(),
                line,
                reason: "the event does not parse yet (an incomplete write?); it is read once it is complete".into(),
            });
            return Ok(None);
        }
        Parsed::Event(event) => Some(OrderedEvent { ts: event.ts, file: changed.index, position: 0, line, event }),
        Parsed::Rejected(reason) => {
            outcome.rejects.push(Reject { file: rel.clone(), line, reason: reason.0 });
            None
        }
    };
    let cursor = cursor_at(file, None, &mut opened, data.len() as u64, 1, Some(hashes_of(&data)))?;
    outcome.cursors.insert(rel.clone(), cursor);
    Ok(event)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::io::Write;

    use super::super::listing::meta_of;
    use super::super::scan;
    use super::*;

    fn line(ts: &str) -> String {
        format!("{{\"ts\":\"{ts}\",\"type\":\"tick\"}}\n")
    }

    #[test]
    fn lines_longer_than_a_chunk_are_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let long = format!(
            "{{\"ts\":\"2026-05-12T12:00:00Z\",\"type\":\"tick\",\"message\":\"{}\"}}\n",
            "x".repeat(CHUNK * 2 + 17)
        );
        let text = [long, line("2026-05-12T12:01:00Z"), "{\"ts\":".to_string()].concat();
        std::fs::write(dir.path().join("a.jsonl"), &text).unwrap();
        let scan = scan(dir.path(), &BTreeMap::new()).unwrap();
        assert_eq!(scan.events.len(), 2);
        assert_eq!(scan.outcome.waiting.len(), 1, "the unfinished last line waits");
        assert_eq!(scan.outcome.cursors["a.jsonl"].offset, text.len() as u64 - "{\"ts\":".len() as u64);
        assert_eq!(scan.outcome.bytes_read, text.len() as u64);
    }

    #[test]
    fn the_chunk_is_sized_by_what_the_listing_saw_and_a_file_that_grew_since_is_read_whole() {
        assert_eq!((chunk_for(0), chunk_for(5_000), chunk_for(u64::MAX)), (4096, 5_001, CHUNK));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        std::fs::write(&path, line("2026-05-12T12:00:00Z")).unwrap();
        let plan = super::super::plan(dir.path(), &BTreeMap::new()).unwrap();
        // Grown after the listing: far past the 4 KiB chunk it is read in,
        // with a line longer than that chunk.
        let long =
            format!("{{\"ts\":\"2026-05-12T12:00:01Z\",\"type\":\"tick\",\"message\":\"{}\"}}\n", "x".repeat(10_000));
        let more: String = (0..500).map(|i| line(&format!("2026-05-12T12:{:02}:{:02}Z", 1 + i / 60, i % 60))).collect();
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all((long + &more).as_bytes()).unwrap();
        let mut merge = super::super::Merge::open(&plan, &std::collections::HashSet::new(), true).unwrap();
        let mut events = 0;
        while merge.next().unwrap().is_some() {
            events += 1;
        }
        let outcome = merge.finish();
        assert_eq!(events, 502);
        assert_eq!(outcome.bytes_read, std::fs::metadata(&path).unwrap().len());
        assert!(outcome.rejects.is_empty() && outcome.waiting.is_empty());
    }

    #[test]
    fn a_consumed_json_file_given_a_late_newline_is_not_opened_again_on_every_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        std::fs::write(&path, r#"{"ts":"2026-05-12T12:00:00Z","type":"tick"}"#).unwrap();
        let first = scan(dir.path(), &BTreeMap::new()).unwrap();
        assert_eq!(first.events.len(), 1);
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"\n").unwrap();
        let second = scan(dir.path(), &first.outcome.cursors).unwrap();
        assert!(second.events.is_empty());
        let cursor = &second.outcome.cursors["a.json"];
        let now = meta_of(&path);
        assert_eq!(
            (cursor.meta.size, cursor.meta.mtime_ns, cursor.meta.ctime_ns),
            (now.size, now.mtime_ns, now.ctime_ns)
        );
    }

    #[test]
    fn nul_padding_before_an_event_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let event = br#"{"ts":"2026-05-12T12:00:00Z","type":"tick"}"#;
        let text = [&b"\0\0\0\0\n"[..], b"\0\0", event, b"\n", b"\0\0\0"].concat();
        std::fs::write(dir.path().join("a.jsonl"), text).unwrap();
        let scan = scan(dir.path(), &BTreeMap::new()).unwrap();
        assert_eq!(scan.events.len(), 1);
        assert!(scan.outcome.rejects.is_empty());
        assert!(scan.outcome.waiting.is_empty(), "trailing NUL bytes are padding, not a line in the making");
    }
}
