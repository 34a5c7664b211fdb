//! Tests of `store/event_index_log.rs`: replay equals what was written, a
//! pass appends what changed, a torn tail is not read and is cut, the log
//! is rewritten when it grows, the older whole document is read.

use std::io::Write;

use super::*;

fn block(offset: u64, events: u32) -> Block {
    Block { offset, line: offset / 10 + 1, events, min: offset as i64, max: offset as i64 + 5 }
}

fn entry(ino: u64, blocks: Vec<Block>) -> FileIndex {
    let end = blocks.last().map_or(0, |b| b.offset + 10);
    FileIndex { dev: 1, ino, end, end_line: end / 10, blocks }
}

fn index(files: &[(&str, FileIndex)]) -> EventIndex {
    EventIndex { version: VERSION, files: files.iter().map(|(rel, e)| (rel.to_string(), e.clone())).collect() }
}

fn log_len(state: &Path) -> u64 {
    std::fs::metadata(path(state)).unwrap().len()
}

#[test]
fn a_pass_appends_the_entries_that_changed_and_a_read_replays_them() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path();
    let full: Vec<Block> = (0..100).map(|n| block(n * 100, 512)).collect();
    let first =
        index(&[("a.jsonl", entry(7, [&full[..], &[block(10_000, 3)]].concat())), ("b.jsonl", entry(8, vec![]))]);
    write(state, None, &first).unwrap();
    let read_first = read(state).unwrap();
    assert_eq!(read_first.index, first);
    let whole = log_len(state);
    // The last block of a grows, a new one follows; b is gone; c is new.
    let second = index(&[
        ("a.jsonl", entry(7, [&full[..], &[block(10_000, 512), block(10_100, 1)]].concat())),
        ("c.jsonl", entry(9, vec![block(0, 1)])),
    ]);
    write(state, Some(&read_first), &second).unwrap();
    let text = std::fs::read_to_string(path(state)).unwrap();
    let appended: Vec<&str> = text.lines().skip(3).collect();
    assert_eq!(appended.len(), 3, "{text}");
    assert_eq!(appended[0], r#"{"f":"b.jsonl"}"#);
    assert!(appended[1].contains(r#""from":100,"#) && !appended[1].contains(r#""o":0,"#), "{}", appended[1]);
    assert_eq!(read(state).unwrap().index, second);
    assert!(log_len(state) - whole < whole, "the pass wrote what changed, not the whole index");
    // Nothing changed: nothing is written.
    let before = log_len(state);
    write(state, Some(&read(state).unwrap()), &second).unwrap();
    assert_eq!(log_len(state), before);
    // A file replaced by another (a new inode) starts over.
    let third = index(&[("a.jsonl", entry(70, vec![block(0, 2)])), ("c.jsonl", entry(9, vec![block(0, 1)]))]);
    write(state, Some(&read(state).unwrap()), &third).unwrap();
    assert_eq!(read(state).unwrap().index, third);
}

/// Found by the kill loop: a pass killed while it rewrote the log whole
/// left its temp file, and the passes after it, which append, left it too.
#[test]
fn the_temp_file_of_an_interrupted_rewrite_goes_at_the_next_write_even_an_append() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path();
    let first = index(&[("a.jsonl", entry(7, vec![block(0, 3)]))]);
    write(state, None, &first).unwrap();
    let temp = crate::store::atomic::temp_path(&path(state));
    std::fs::write(&temp, b"half of a rewrite").unwrap();
    let second = index(&[("a.jsonl", entry(7, vec![block(0, 4)]))]);
    write(state, Some(&read(state).unwrap()), &second).unwrap();
    assert_eq!(read(state).unwrap().index, second, "appended");
    assert!(!temp.exists(), "the temp file a crash left is gone");
}

#[test]
fn a_torn_record_is_not_read_and_is_cut_before_the_next_append() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path();
    let first = index(&[("a.jsonl", entry(7, vec![block(0, 3)]))]);
    write(state, None, &first).unwrap();
    let good = log_len(state);
    let mut file = std::fs::OpenOptions::new().append(true).open(path(state)).unwrap();
    file.write_all(br#"{"f":"a.jsonl","at":{"dev":1,"ino":7,"end":99"#).unwrap();
    let torn = read(state).unwrap();
    assert_eq!(torn.index, first, "the torn record is not read");
    let second = index(&[("a.jsonl", entry(7, vec![block(0, 4)]))]);
    write(state, Some(&torn), &second).unwrap();
    let text = std::fs::read_to_string(path(state)).unwrap();
    assert!(!text.contains("\"end\":99"), "{text}");
    assert!(log_len(state) > good);
    assert_eq!(read(state).unwrap().index, second);
    // A log that is not one at all is no index: explain reads whole files.
    std::fs::write(path(state), b"{\"version\":7}\n").unwrap();
    assert!(read(state).is_none());
}

#[test]
fn the_log_is_rewritten_whole_when_it_grows_past_twice_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path();
    let mut blocks = vec![block(0, 1)];
    write(state, None, &index(&[("a.jsonl", entry(7, blocks.clone()))])).unwrap();
    let mut rewritten = false;
    for n in 1..2000u64 {
        let before = log_len(state);
        let previous = read(state).unwrap();
        blocks.last_mut().unwrap().events += 1;
        if n % 50 == 0 {
            blocks.push(block(n * 10, 1));
        }
        let next = index(&[("a.jsonl", entry(7, blocks.clone()))]);
        write(state, Some(&previous), &next).unwrap();
        rewritten |= log_len(state) < before;
        let whole = whole(&next).unwrap().len() as u64;
        assert!(log_len(state) <= MIN_REWRITE_BYTES.max(2 * whole), "pass {n}: {} bytes", log_len(state));
        assert_eq!(read(state).unwrap().index, next);
    }
    assert!(rewritten, "the log was compacted");
}

#[test]
fn the_older_whole_document_is_read_and_the_first_write_replaces_it() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path();
    let old = index(&[("a.jsonl", entry(7, vec![block(0, 3)]))]);
    std::fs::write(state.join(OLD_FILE_NAME), serde_json::to_vec(&old).unwrap()).unwrap();
    let read_old = read(state).unwrap();
    assert_eq!(read_old.index, old);
    let next = index(&[("a.jsonl", entry(7, vec![block(0, 4)]))]);
    write(state, Some(&read_old), &next).unwrap();
    assert!(!state.join(OLD_FILE_NAME).exists());
    assert_eq!(read(state).unwrap().index, next);
}
