//! The events of a time span, read through the event index: of each file
//! only the blocks whose times meet the span, and whatever lies beyond the
//! indexed part whole. Lines are parsed by the same boundary as a run's;
//! what it refuses is skipped (`validate` lists it), and events outside the
//! span are dropped, so the result is the same with or without an index.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::event::{Event, Parsed, parse_event};
use crate::store::event_index::{EventIndex, FileIndex};
use crate::store::events::{self, SourceError};
use crate::time::Ts;

/// One event with where it is: the place in the processing order and the
/// line to show.
pub struct Located {
    pub event: Event,
    /// Index of its file in [`Span::paths`].
    pub file: u32,
    pub position: u64,
    pub line: u64,
}

/// The events of a span, sorted in processing order `(ts, path, position)`.
pub struct Span {
    pub paths: Vec<String>,
    pub events: Vec<Located>,
    pub bytes_read: u64,
    pub files_read: usize,
}

/// Reads the events with `from <= ts <= to` under `events_dir`.
pub fn span(events_dir: &Path, index: Option<&EventIndex>, from: Ts, to: Ts) -> Result<Span, SourceError> {
    let paths = events::plan(events_dir, &Default::default())?.paths;
    let mut span = Span { paths: Vec::new(), events: Vec::new(), bytes_read: 0, files_read: 0 };
    for (number, rel) in paths.iter().enumerate() {
        let path = events_dir.join(rel);
        let io = |error| SourceError::Io { path: path.clone(), error };
        let mut file = match File::open(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => return Err(io(error)),
        };
        let meta = file.metadata().map_err(io)?;
        let number = u32::try_from(number).unwrap_or(u32::MAX);
        let ranges = ranges(index.and_then(|index| index.files.get(rel)), &meta, from, to);
        if !ranges.is_empty() {
            span.files_read += 1;
        }
        let single = rel.ends_with(".json");
        for (start, end, line) in ranges {
            file.seek(SeekFrom::Start(start)).map_err(io)?;
            let mut bytes = Vec::new();
            (&mut file).take(end.saturating_sub(start)).read_to_end(&mut bytes).map_err(io)?;
            span.bytes_read += bytes.len() as u64;
            if single {
                if let Parsed::Event(event) = parse_event(strip_bom(&bytes, 0)) {
                    span.events.push(Located { event, file: number, position: 0, line: 1 });
                }
                continue;
            }
            lines(&bytes, start, line, |position, line, event| {
                span.events.push(Located { event, file: number, position, line })
            });
        }
    }
    span.events.retain(|e| e.event.ts >= from && e.event.ts <= to);
    // Unstable: no two events share a place (a file and a byte in it), and
    // the events are moved in place instead of through a buffer.
    span.events.sort_unstable_by_key(|e| (e.event.ts, e.file, e.position));
    span.paths = paths;
    Ok(span)
}

/// Adds to `span` (read up to `to`) the first event after `to`, looked
/// for in windows that grow from an hour (each read through the index, as
/// `span` was) up to `as_of`, the clock of the world: none when no event
/// came after `to`.
pub fn with_next(
    span: &mut Span,
    events_dir: &Path,
    index: Option<&EventIndex>,
    to: Ts,
    as_of: Ts,
) -> Result<(), SourceError> {
    let start = Ts(to.0.saturating_add(1));
    let mut window_s: u64 = 3600;
    if start > as_of {
        return Ok(());
    }
    loop {
        let end = start.plus_seconds(window_s).min(as_of);
        let next = self::span(events_dir, index, start, end)?;
        span.bytes_read += next.bytes_read;
        span.files_read += next.files_read;
        // Read with the same listing, its file numbers are `span`'s.
        let same_listing = next.paths == span.paths;
        if let Some(first) = next.events.into_iter().next() {
            if same_listing {
                span.events.push(first);
            }
            return Ok(());
        }
        if end >= as_of {
            return Ok(());
        }
        window_s = window_s.saturating_mul(4);
    }
}

/// The byte ranges of a file to read, each with the line it starts on:
/// the blocks that meet the span and the part beyond the index; the whole
/// file when its entry cannot be trusted.
fn ranges(entry: Option<&FileIndex>, meta: &std::fs::Metadata, from: Ts, to: Ts) -> Vec<(u64, u64, u64)> {
    let size = meta.len();
    let Some(entry) = entry.filter(|entry| same_file(entry, meta) && entry.end <= size) else {
        return vec![(0, size, 1)];
    };
    let mut ranges: Vec<(u64, u64, u64)> = Vec::new();
    for (n, block) in entry.blocks.iter().enumerate() {
        if !block.overlaps(from, to) {
            continue;
        }
        let end = entry.blocks.get(n + 1).map_or(entry.end, |next| next.offset);
        match ranges.last_mut() {
            Some(last) if last.1 == block.offset => last.1 = end,
            _ => ranges.push((block.offset, end, block.line)),
        }
    }
    if size > entry.end {
        ranges.push((entry.end, size, entry.end_line + 1));
    }
    ranges
}

#[cfg(unix)]
fn same_file(entry: &FileIndex, meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    entry.dev == meta.dev() && entry.ino == meta.ino()
}

#[cfg(not(unix))]
fn same_file(_entry: &FileIndex, _meta: &std::fs::Metadata) -> bool {
    false
}

fn strip_bom(line: &[u8], position: u64) -> &[u8] {
    match line.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) if position == 0 => rest,
        _ => line,
    }
}

/// The valid events among the complete lines of `bytes`, which start at
/// byte `start` and line `line` of their file, as a run reads them.
fn lines(bytes: &[u8], start: u64, mut line: u64, mut found: impl FnMut(u64, u64, Event)) {
    let mut at = 0;
    while let Some(len) = memchr::memchr(b'\n', &bytes[at..]) {
        let position = start + at as u64;
        let mut text = &bytes[at..at + len];
        at += len + 1;
        if text.last() == Some(&b'\r') {
            text = &text[..text.len() - 1];
        }
        text = strip_bom(text, position);
        text = &text[text.iter().take_while(|b| **b == 0).count()..];
        if !text.iter().all(u8::is_ascii_whitespace)
            && let Parsed::Event(event) = parse_event(text)
        {
            found(position, line, event);
        }
        line += 1;
    }
}
