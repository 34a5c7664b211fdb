//! Tests of `store/journal.rs`: replay equals what was saved, the journal
//! grows by what changed, a crashed pass's tail is cut, compaction.

use std::io::Write;

use serde_json::{Value, json};

use super::*;
use crate::store::journal_entities::splice;
use crate::store::journal_index::snapshot_hash;
use crate::store::journal_spans::Place;

fn parsed(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// A state document of `nodes` nodes, long enough to be cut into entities.
fn doc(nodes: usize, status: &str) -> Value {
    let nodes: serde_json::Map<String, Value> = (0..nodes)
        .map(|n| {
            (format!("n\"{n}"), json!({"status": status, "last_seen": format!("2026-05-12T12:{:02}:00Z", n % 60)}))
        })
        .collect();
    json!({"engine": {"clock": "2026-05-12T12:00:00Z", "nodes": nodes, "probe_runs": [1, 2]}, "rejects": []})
}

/// Saves `value` after `stored`, then checks that a load gives it back;
/// returns what was loaded, as the next pass starts from it.
fn save_and_load(state: &Path, value: &Value, stored: Option<&Stored>) -> Stored {
    let text = value.to_string();
    let saved = save(state, &text, stored.cloned()).unwrap();
    clean(state, &saved.at);
    let (loaded, again) = load(state, &saved.at).unwrap();
    assert_eq!(parsed(&loaded), *value, "replay gives back the state written");
    if saved.hashes().is_some() {
        assert_eq!(again.hashes(), saved.hashes(), "and the same entities");
    }
    assert_eq!(again.at, saved.at);
    // The journal spliced into the snapshot (or assembled, when it does
    // not fit) and parsed while the entities are replayed: the same.
    let (doc, value_parsed, beside) =
        load_and_parse(state, &saved.at, |doc| serde_json::from_str::<Value>(doc)).unwrap();
    assert_eq!(value_parsed.unwrap(), *value, "parsed as loaded");
    assert_eq!(parsed(&doc), *value);
    assert_eq!(beside.hashes(), again.hashes(), "the same entities to diff against");
    // The snapshot's index read from beside it, or, without that file,
    // found by visiting the snapshot: the same load.
    let entities = entities_path(state, saved.at.generation);
    if let Ok(written) = std::fs::read(&entities) {
        std::fs::remove_file(&entities).unwrap();
        let (visited_doc, _, visited) = load_and_parse(state, &saved.at, |_| Ok::<(), ()>(())).unwrap();
        assert_eq!((visited_doc, visited.hashes()), (doc, beside.hashes()), "without {}", entities.display());
        std::fs::write(&entities, written).unwrap();
    }
    again
}

/// A snapshot, then one journal record (node `n"1` goes down): the state
/// written last and what the second pass stored.
fn two_passes(state: &Path) -> (Value, Stored) {
    let mut value = doc(200, "up");
    let first = save_and_load(state, &value, None);
    value["engine"]["nodes"]["n\"1"]["status"] = json!("down");
    let second = save_and_load(state, &value, Some(&first));
    (value, second)
}

/// [`two_passes`], and the path of the journal the second wrote.
fn two_passes_and_journal(state: &Path) -> (Value, Stored, PathBuf) {
    let (value, second) = two_passes(state);
    let journal = journal_path(state, second.at.generation);
    (value, second, journal)
}

fn journal_len(state: &Path, at: &StateRef) -> u64 {
    std::fs::metadata(journal_path(state, at.generation)).map_or(0, |m| m.len())
}

/// A pass's records say where their entities go in the snapshot (`"at"`):
/// a value set or removed where the snapshot holds it (removed by one pass
/// and set again by the next, there still), a new member before the brace
/// of its object, the removal of one the snapshot never held at nothing.
/// A journal of a version before places (format 6) loads the same, by the
/// scan; so does one whose places do not fit the snapshot.
#[test]
fn records_are_placed_in_the_snapshot_and_a_journal_without_places_loads_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path();
    let mut value = doc(300, "up");
    let first = save_and_load(state, &value, None);
    let snapshot = std::fs::read_to_string(snapshot_path(state, first.at.generation)).unwrap();
    // The places filed from the index file beside the snapshot are those
    // of a visit of it.
    let filed = load_and_parse(state, &first.at, |_| Ok::<(), ()>(())).unwrap().2.hashes().unwrap();
    let visited = first.hashes().unwrap();
    for (path, set) in [(r#""engine","nodes","n\"3""#, true), (r#""engine","nodes","n\"new""#, true), (r#""x""#, false)]
    {
        let place = |index: &EntityIndex| index.spans().and_then(|spans| spans.place(path, set));
        assert!(place(&filed).is_some(), "{path}");
        assert_eq!(place(&filed), place(&visited), "{path}");
    }
    let nodes = |value: &mut Value| value["engine"]["nodes"].as_object_mut().unwrap().clone();
    value["engine"]["nodes"]["n\"3"]["status"] = json!("down");
    let mut without = nodes(&mut value);
    without.remove("n\"5");
    without.insert("n\"new".into(), json!({"status": "up"}));
    value["engine"]["nodes"] = Value::Object(without);
    let second = save_and_load(state, &value, Some(&first));
    let mut again = nodes(&mut value);
    again.insert("n\"5".into(), json!({"status": "back"}));
    again.remove("n\"new");
    value["engine"]["nodes"] = Value::Object(again);
    let third = save_and_load(state, &value, Some(&second));
    assert_eq!(third.at.generation, first.at.generation, "records, not a new snapshot");
    let path = journal_path(state, third.at.generation);
    let journal = std::fs::read_to_string(&path).unwrap();
    let place = |key: &str, set: bool| -> Vec<Place> {
        let lines = journal.lines().filter(|line| line.starts_with(&format!(r#"{{"p":["engine","nodes",{key}]"#)));
        let lines = lines.filter(|line| line.contains(r#""v":"#) == set);
        lines.map(|line| Place::read(&line[line.rfind(r#""at":"#).unwrap() + 5..line.len() - 1]).unwrap()).collect()
    };
    let value_at = |place: &Place| match *place {
        Place::Value(start, end) => &snapshot[start as usize..end as usize],
        _ => panic!("{place:?} is not a value's"),
    };
    assert_eq!(journal.lines().filter(|line| !line.contains(r#","at":["#)).count(), 0, "{journal}");
    assert_eq!(
        place(r#""n\"3""#, true).iter().map(value_at).collect::<Vec<_>>(),
        [r#"{"status":"up","last_seen":"2026-05-12T12:03:00Z"}"#]
    );
    let n5 = r#"{"status":"up","last_seen":"2026-05-12T12:05:00Z"}"#;
    assert_eq!(place(r#""n\"5""#, false).iter().map(value_at).collect::<Vec<_>>(), [n5], "removed where it is");
    assert_eq!(place(r#""n\"5""#, true).iter().map(value_at).collect::<Vec<_>>(), [n5], "and set there again");
    let brace = snapshot.find(r#""probe_runs""#).unwrap() - 2;
    assert_eq!(&snapshot[brace..brace + 2], "},");
    assert_eq!(place(r#""n\"new""#, true), [Place::Before(brace as u32)], "new, at the end of its object");
    assert_eq!(place(r#""n\"new""#, false), [Place::Absent], "and gone from nothing the snapshot holds");

    // The same records without places, or placed where they do not fit.
    let load = |journal: &str| {
        std::fs::write(&path, journal).unwrap();
        let at = StateRef { journal: FileMark::default().after(journal.as_bytes()).stamped(&path), ..third.at };
        let (doc, parsed_value, stored) = load_and_parse(state, &at, |doc| serde_json::from_str::<Value>(doc)).unwrap();
        assert_eq!((parsed(&doc), parsed_value.unwrap()), (value.clone(), value.clone()));
        stored
    };
    let unplaced: String =
        journal.lines().map(|line| format!("{}}}\n", &line[..line.rfind(r#","at":"#).unwrap()])).collect();
    assert_eq!(load(&unplaced).hashes(), third.hashes(), "a journal before places");
    let misplaced = journal.replacen(&format!(r#""at":[{brace}]"#), r#""at":[3]"#, 1);
    assert_ne!(misplaced, journal);
    assert_eq!(load(&misplaced).hashes(), third.hashes(), "a place that does not fit");
}

#[test]
fn a_save_appends_the_changed_entities_and_a_load_replays_them() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path();
    let mut value = doc(500, "up");
    let first = save_and_load(state, &value, None);
    assert_eq!(first.at.journal.bytes, 0, "a first save writes a snapshot");
    assert!(first.at.snapshot > 20_000);
    // One node changes, one goes, one comes, and the clock moves.
    value["engine"]["nodes"]["n\"7"]["status"] = json!("down");
    value["engine"]["nodes"].as_object_mut().unwrap().remove("n\"8");
    value["engine"]["nodes"]["new"] = json!({"status": "up"});
    value["engine"]["clock"] = json!("2026-05-12T12:01:00Z");
    let second = save_and_load(state, &value, Some(&first));
    assert_eq!(second.at.generation, first.at.generation, "appended, not compacted");
    let journal = std::fs::read_to_string(journal_path(state, second.at.generation)).unwrap();
    assert_eq!(journal.lines().count(), 4, "{journal}");
    let first_line = journal.lines().next().unwrap_or_default();
    assert!(first_line.starts_with(r#"{"p":["engine","nodes","n\"8"],"at":["#), "removals first: {journal}");
    assert!(second.at.journal.bytes < first.at.snapshot / 50, "{} bytes for 4 changes", second.at.journal.bytes);
    // Nothing changed: nothing is written.
    let third = save_and_load(state, &value, Some(&second));
    assert_eq!(third.at.journal.content(), second.at.journal.content());
}

#[test]
fn random_changes_replay_to_the_state_written_across_compactions() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path();
    let mut value = doc(300, "up");
    let mut stored = save_and_load(state, &value, None);
    let mut seed = 7u64;
    let mut next = move |n: u64| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let mut generations = std::collections::BTreeSet::new();
    for round in 0..200 {
        let nodes = value["engine"]["nodes"].as_object_mut().unwrap();
        for _ in 0..1 + next(40) {
            let key = format!("n\"{}", next(400));
            match next(4) {
                0 => drop(nodes.remove(&key)),
                1 => drop(nodes.insert(
                    key,
                    json!({"status": "up", "tags": {"r": round, "long": "x".repeat(next(1500) as usize)}}),
                )),
                2 => drop(nodes.insert(key, json!([round]))),
                _ => drop(nodes.insert(key, json!({}))),
            }
        }
        value["engine"]["probe_runs"] = json!([round]);
        stored = save_and_load(state, &value, Some(&stored));
        generations.insert(stored.at.generation);
        let generation = stored.at.generation;
        let own = [format!("snapshot-{generation}.json"), format!("journal-{generation}.jsonl")];
        let index = format!("entities-{generation}.bin");
        let names: Vec<String> = std::fs::read_dir(super::dir(state))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let others: Vec<&String> = names.iter().filter(|name| !own.contains(name) && **name != index).collect();
        assert!(others.is_empty(), "round {round}: only the committed generation's files are left: {names:?}");
        assert!(names.contains(&index), "round {round}: {names:?}");
    }
    assert!(generations.len() > 2, "the journal was compacted now and then: {generations:?}");
}

#[test]
fn what_a_crashed_pass_appended_is_never_read_and_is_cut_before_the_next_append() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path();
    let (mut value, second) = two_passes(state);
    // A pass that crashed before its commit left a torn record.
    let path = journal_path(state, second.at.generation);
    let mut file = OpenOptions::new().append(true).open(&path).unwrap();
    file.write_all(br#"{"p":["engine","nodes","n\"1"],"v":{"sta"#).unwrap();
    let (loaded, _) = load(state, &second.at).unwrap();
    assert_eq!(parsed(&loaded), value);
    value["engine"]["nodes"]["n\"2"]["status"] = json!("down");
    let third = save_and_load(state, &value, Some(&second));
    let journal = std::fs::read_to_string(&path).unwrap();
    assert!(!journal.contains("\"sta\n") && !journal.contains("{\"sta{"), "{journal}");
    assert_eq!(journal.len() as u64, third.at.journal.bytes);
    assert_eq!(journal_len(state, &third.at), third.at.journal.bytes);
}

#[test]
fn a_changed_or_missing_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path();
    let (_, second, journal) = two_passes_and_journal(state);
    let good = std::fs::read(&journal).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let mut changed = good.clone();
    changed[20] = b'X';
    for (bad, says) in [(&good[..good.len() - 2], "were committed"), (&changed[..], "changed since")] {
        std::fs::write(&journal, bad).unwrap();
        let error = load(state, &second.at).unwrap_err().to_string();
        assert!(error.contains("journal-") && error.contains(says), "{error}");
    }
    std::fs::write(&journal, &good).unwrap();
    let snapshot = snapshot_path(state, second.at.generation);
    std::fs::write(&snapshot, b"{}").unwrap();
    assert!(load(state, &second.at).unwrap_err().to_string().contains("snapshot-"));
    std::fs::remove_file(&snapshot).unwrap();
    assert!(matches!(load(state, &second.at), Err(JournalError::Io { .. })));
}

#[test]
fn a_snapshot_alone_is_parsed_while_its_entities_are_hashed_and_its_damage_comes_first() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path();
    let value = doc(300, "up");
    let first = save_and_load(state, &value, None);
    assert_eq!(first.at.journal.bytes, 0);
    let (text, read, stored) = load_and_parse(state, &first.at, |doc| serde_json::from_str::<Value>(doc)).unwrap();
    let (loaded, again) = load(state, &first.at).unwrap();
    assert_eq!((text, read.unwrap()), (loaded, value));
    assert!(stored.hashes().is_some());
    assert_eq!(stored.hashes(), again.hashes(), "the same entities as a load finds");
    assert_eq!(stored.at, first.at);
    // With a journal: what `load` gives, parsed.
    let other = tempfile::tempdir().unwrap();
    let (value, second) = two_passes(other.path());
    let (text, read, stored) =
        load_and_parse(other.path(), &second.at, |doc| serde_json::from_str::<Value>(doc)).unwrap();
    assert_eq!((parsed(&text), read.unwrap()), (value.clone(), value));
    assert_eq!(stored.hashes(), load(other.path(), &second.at).unwrap().1.hashes());
    // A snapshot of its committed length that does not end: the damage is
    // the snapshot's, whatever the parse said.
    let snapshot = snapshot_path(state, first.at.generation);
    let mut bytes = std::fs::read(&snapshot).unwrap();
    *bytes.last_mut().unwrap() = b' ';
    std::fs::write(&snapshot, &bytes).unwrap();
    let error = load_and_parse(state, &first.at, |_| Ok::<(), ()>(())).unwrap_err().to_string();
    assert!(error.contains("snapshot-") && error.contains("found None"), "{error}");
}

#[test]
fn the_document_read_lends_its_memory_to_the_next_save_once() {
    let mut stored = Stored::default();
    let doc = "x".repeat(4096);
    let copy = {
        stored.keep_buffer("y".repeat(100));
        stored.clone()
    };
    assert_eq!(copy.take_buffer(0).capacity(), 0, "a copy holds no buffer");
    let memory = doc.as_ptr();
    stored.keep_buffer(doc);
    let buffer = stored.take_buffer(1000);
    assert!(buffer.is_empty());
    assert_eq!(buffer.as_ptr(), memory, "the same memory, not a copy");
    assert!(buffer.capacity() >= 4096);
    let again = stored.take_buffer(100);
    assert!(again.is_empty() && again.capacity() >= 100);
    assert_ne!(again.as_ptr(), memory);
}

#[test]
fn a_diff_is_found_without_touching_the_disk_and_written_in_its_turn() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path();
    let (mut value, second) = two_passes(state);
    value["engine"]["nodes"]["n\"3"]["status"] = json!("down");
    let text = value.to_string();
    let listing = || {
        let mut files: Vec<_> = std::fs::read_dir(super::dir(state))
            .unwrap()
            .map(|entry| entry.unwrap())
            .map(|entry| (entry.file_name(), entry.metadata().unwrap().len()))
            .collect();
        files.sort();
        files
    };
    let before = listing();
    let found = diff(state, &text, None, Some(second.clone())).unwrap();
    assert_eq!(listing(), before, "nothing written");
    let journal_path = journal_path(state, second.at.generation);
    let third = write(state, &text, found, Vec::new).unwrap();
    assert_eq!(third.at.generation, second.at.generation, "appended");
    assert_eq!(parsed(&load(state, &third.at).unwrap().0), value);
    let journal = std::fs::read_to_string(&journal_path).unwrap();
    assert_eq!(journal.lines().count(), 2, "one record more: {journal}");
    // No state read to diff against: a new snapshot.
    let found = diff(state, &text, None, None).unwrap();
    let fourth = write(state, &text, found, Vec::new).unwrap();
    assert!(fourth.at.generation > third.at.generation, "a new snapshot");
}

/// Records a save never writes, committed all the same (a journal edited
/// by hand, its mark with it): a path that is not an array is an error
/// naming the journal, never a panic; a removal of a path no entity can
/// have removes nothing, whichever way the state is loaded.
#[test]
fn a_record_save_never_writes_is_an_error_or_removes_nothing_and_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path();
    let (value, second, journal) = two_passes_and_journal(state);
    let good = std::fs::read(&journal).unwrap();
    let with = |line: &str| {
        let bytes = [good.as_slice(), line.as_bytes()].concat();
        std::fs::write(&journal, &bytes).unwrap();
        StateRef { journal: FileMark::of(&bytes), ..second.at }
    };
    for bad in ["{\"p\":\u{e9}1}\n", "{\"p\":\"ab\"}\n"] {
        let at = with(bad);
        let error = load(state, &at).unwrap_err().to_string();
        assert!(error.contains("journal-") && error.contains("line 2"), "{error}");
        let error = load_and_parse(state, &at, |doc| serde_json::from_str::<Value>(doc)).err().unwrap().to_string();
        assert!(error.contains("journal-") && error.contains("line 2"), "{error}");
    }
    let at = with("{\"p\":[1]}\n");
    assert_eq!(parsed(&load(state, &at).unwrap().0), value);
    let (_, loaded, _) = load_and_parse(state, &at, |doc| serde_json::from_str::<Value>(doc)).unwrap();
    assert_eq!(loaded.unwrap(), value);
}

/// A placed record is read by its framing, its value not scanned: damaged
/// so that it still frames (its mark committed with it, as a hand edit or
/// bit rot under an unchanged stamp leaves it), the document spliced from
/// it does not parse, and the load names the journal's line, as the
/// scanner would, rather than only the document's parse error.
#[test]
fn a_placed_record_damaged_so_that_it_still_frames_is_named_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path();
    let (_, second, journal) = two_passes_and_journal(state);
    let good = std::fs::read_to_string(&journal).unwrap();
    let line = good.lines().next().unwrap();
    let at = line.rfind(",\"at\":").expect("a pass's record is placed");
    // A bracket or a brace after the value: the scanner refuses the first
    // and reads the second as a record that ends before its place.
    for extra in ["]", "}"] {
        let damaged = format!("{}{extra}{}\n", &line[..at], &line[at..]);
        assert!(lines::as_written(damaged.trim_end()).is_some(), "{damaged}");
        std::fs::write(&journal, &damaged).unwrap();
        let at = StateRef { journal: FileMark::of(damaged.as_bytes()), ..second.at };
        let error = load_and_parse(state, &at, |doc| serde_json::from_str::<Value>(doc)).err().unwrap().to_string();
        assert!(error.contains("journal-") && error.contains("line 1"), "{extra}: {error}");
    }
}

/// The journal `second` committed with `line` appended and committed
/// too: what commits it, the journal's path, and its bytes before.
fn appended(state: &Path, second: &Stored, line: &[u8]) -> (StateRef, PathBuf, Vec<u8>) {
    let journal = journal_path(state, second.at.generation);
    let good = std::fs::read(&journal).unwrap();
    let longer = [good.as_slice(), line].concat();
    std::fs::write(&journal, &longer).unwrap();
    (StateRef { journal: FileMark::of(&longer), ..second.at }, journal, good)
}

/// A journal whose records do not fit the snapshot's cut (a value set
/// under an entity that is not an object), or with a record whose path is
/// not keys joined by commas (without a place, so its path is not framed
/// as it is read; the load that splices looks at the paths only when it
/// scans the snapshot, `Edits::structured`): the load that splices tells
/// what the load that replays tells, naming the journal. With the journal
/// cut short of its mark and the snapshot short too, both tell the
/// snapshot's damage first, though the splice reads the journal first.
#[test]
fn records_that_fit_no_splice_and_a_damaged_snapshot_are_told_as_a_replay_tells_them() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path();
    let (_, second) = two_passes(state);
    let (mut journal, mut good) = Default::default();
    for (line, told) in [
        (&b"{\"p\":[\"engine\",\"probe_runs\",\"x\"],\"v\":1}\n"[..], "journal-"),
        (b"{\"p\":[\"engine\",7],\"v\":1}\n", "expected `\"`"),
    ] {
        let at;
        (at, journal, good) = appended(state, &second, line);
        let replayed = load(state, &at).unwrap_err().to_string();
        let spliced = load_and_parse(state, &at, |doc| serde_json::from_str::<Value>(doc)).err().unwrap().to_string();
        assert!(replayed.contains("journal-") && replayed.contains(told), "{replayed}");
        assert_eq!(spliced, replayed);
        std::fs::write(&journal, &good).unwrap();
    }

    std::fs::write(&journal, &good[..good.len() - 2]).unwrap();
    let snapshot = snapshot_path(state, second.at.generation);
    let bytes = std::fs::read(&snapshot).unwrap();
    std::fs::write(&snapshot, &bytes[..bytes.len() - 1]).unwrap();
    let replayed = load(state, &second.at).unwrap_err().to_string();
    let spliced = load_and_parse(state, &second.at, |_| Ok::<(), ()>(())).err().unwrap().to_string();
    assert!(replayed.contains("snapshot-"), "{replayed}");
    assert_eq!(spliced, replayed);
}

/// The splice made where the snapshot was read: behind the room the load
/// leaves (`Edits::room`), behind exactly what its pieces add, and behind none
/// (the document grows, so it is made in new memory), the same document,
/// parsed as the state written.
#[test]
fn a_splice_in_place_or_behind_too_little_room_is_the_same_document() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path();
    let (value, second) = two_passes(state);
    let snapshot = std::fs::read_to_string(snapshot_path(state, second.at.generation)).unwrap();
    let committed = read_journal(state, &second.at).unwrap();
    let records = records(&journal_path(state, second.at.generation), &committed).unwrap();
    let edits = || Edits::of(&records).unwrap();
    let whole = splice(&snapshot, &edits()).unwrap().expect("fits");
    assert!(whole.len() > snapshot.len(), "the document grows");
    let placed = spliced(&snapshot, &edits()).unwrap().expect("fits").placed();
    let needed = placed.room();
    let room = edits().room();
    assert!(room >= needed);
    // Each path counted once, by its last record: the same records twice
    // leave the same room.
    let twice = [records.as_slice(), records.as_slice()].concat();
    assert_eq!(Edits::flat(&twice, &[]).room(), room);
    assert!(!placed.in_place(0, snapshot.len()) && placed.in_place(needed, needed + snapshot.len()));
    for room in [0, needed, room] {
        let buf = format!("{}{snapshot}", "\0".repeat(room));
        match made_in_place(buf, room, Edits::flat(&records, &[]), |doc| serde_json::from_str::<Value>(doc)) {
            Made::Parsed(doc, parsed) => {
                assert_eq!((doc, parsed.unwrap()), (whole.clone(), value.clone()), "room {room}")
            }
            _ => panic!("room {room}: not made"),
        }
    }
}

/// The index of a snapshot's entities written beside it
/// (`entities-<N>.bin`) is what a load diffs against when it is that
/// snapshot's: planted with one entity fewer, the load takes it as it is.
/// Damaged, made for other bytes, made under another cut, or missing, it is
/// not read, and the snapshot is visited instead. A journal's records are
/// replayed over the index read. A first snapshot (no index known) has one
/// too.
#[test]
fn the_index_beside_a_snapshot_is_read_only_when_it_is_that_snapshots_own() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path();
    let first = save_and_load(state, &doc(300, "up"), None);
    let entities = entities_path(state, first.at.generation);
    let (written, written_index) = EntityIndex::from_bytes(&std::fs::read(&entities).unwrap()).expect("a whole index");
    let snapshot = std::fs::read_to_string(snapshot_path(state, first.at.generation)).unwrap();
    let visited = index_of(&snapshot).unwrap().expect("paths told apart");
    assert_eq!(written_index, visited, "the index of the snapshot's entities");
    assert_eq!((written.snapshot_len, written.snapshot_hash), (first.at.snapshot, snapshot_hash(snapshot.as_bytes())));

    let hashes_loaded = || load_and_parse(state, &first.at, |_| Ok::<(), ()>(())).unwrap().2.hashes().unwrap();
    let mut planted = visited.clone();
    planted.remove(r#""engine","clock""#).unwrap().expect("an entity of the snapshot");
    std::fs::write(&entities, planted.to_bytes(&snapshot, CUT, &[])).unwrap();
    assert_eq!(hashes_loaded(), planted, "read from the file");
    assert_ne!(planted, visited);
    // A parse that changes the text for its time (as the state's does,
    // `store/checkpoint_doc.rs`) and gives it back: the index is checked
    // against the text given back, and is still the file's.
    let (text, changed, stored) = load_and_parse(state, &first.at, |doc| {
        doc.replace_range(..1, "[");
        let changed = doc.starts_with('[');
        doc.replace_range(..1, "{");
        Ok::<_, ()>(changed)
    })
    .unwrap();
    assert_eq!((text, changed, stored.hashes()), (snapshot.clone(), Ok(true), Some(planted.clone())));

    let mut damaged = planted.to_bytes(&snapshot, CUT, &[]);
    damaged[20] ^= 1;
    std::fs::write(&entities, damaged).unwrap();
    assert_eq!(hashes_loaded(), visited, "a damaged file is not read");
    std::fs::write(&entities, planted.to_bytes(&snapshot.replace("up", "UP"), CUT, &[])).unwrap();
    assert_eq!(hashes_loaded(), visited, "nor an index made for other bytes of the same length");
    std::fs::write(&entities, planted.to_bytes(&snapshot, CUT + 1, &[])).unwrap();
    assert_eq!(hashes_loaded(), visited, "nor one whose entities were cut by another rule");
    std::fs::remove_file(&entities).unwrap();
    assert_eq!(hashes_loaded(), visited, "nor a missing one");

    // A save diffs against the index read, and the next load replays the
    // journal's records over it.
    std::fs::write(&entities, planted.to_bytes(&snapshot, CUT, &[])).unwrap();
    let (_, _, read) = load_and_parse(state, &first.at, |_| Ok::<(), ()>(())).unwrap();
    let mut value = doc(300, "up");
    value["engine"]["nodes"]["n\"3"]["status"] = json!("down");
    let second = save(state, &value.to_string(), Some(read)).unwrap();
    assert!(second.at.journal.bytes > 0, "a journal record, not a snapshot");
    let journal = std::fs::read_to_string(journal_path(state, second.at.generation)).unwrap();
    assert!(journal.contains(r#""engine","clock""#), "the entity the planted index lacked is new to it: {journal}");
    let (doc_read, _, loaded) = load_and_parse(state, &second.at, |_| Ok::<(), ()>(())).unwrap();
    assert_eq!(parsed(&doc_read), value);
    assert_eq!(loaded.hashes(), second.hashes(), "the saved entities, replayed over the planted index");
    // The journal replayed over the index read, not over a visit: planted
    // without an entity the journal does not touch, the load lacks it too.
    let untouched = r#""engine","probe_runs""#;
    assert!(!journal.contains(untouched), "{journal}");
    let mut lacking = visited.clone();
    lacking.remove(untouched).unwrap().expect("an entity of the snapshot");
    std::fs::write(&entities, lacking.to_bytes(&snapshot, CUT, &[])).unwrap();
    let (_, _, loaded) = load_and_parse(state, &second.at, |_| Ok::<(), ()>(())).unwrap();
    let mut expected = second.hashes().clone().unwrap();
    expected.remove(untouched).unwrap().expect("saved");
    assert_eq!(loaded.hashes(), Some(expected), "the records over the planted index");
}

/// An index file that is whole (its sum holds) but whose entries do not
/// file (one path twice): the load goes on without waiting for them, and
/// the save after it, finding no hashes to diff against, writes a new
/// snapshot rather than records against hashes it does not have.
#[test]
fn an_index_whose_entries_do_not_file_makes_the_next_save_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path();
    let value = doc(300, "up");
    let first = save_and_load(state, &value, None);
    let snapshot = std::fs::read_to_string(snapshot_path(state, first.at.generation)).unwrap();
    let mut one = EntityIndex::with_capacity(1);
    one.set(r#""engine","clock""#, 1, 0).unwrap();
    // The header (40 bytes, nothing beside), a count, the entry, a sum.
    let bytes = one.to_bytes(&snapshot, CUT, &[]);
    let entry = &bytes[48..bytes.len() - 8];
    let mut forged = bytes[..40].to_vec();
    forged.extend_from_slice(&2u64.to_le_bytes());
    forged.extend_from_slice(entry);
    forged.extend_from_slice(entry);
    let sum = xxh3_64(&forged);
    forged.extend_from_slice(&sum.to_le_bytes());
    std::fs::write(entities_path(state, first.at.generation), &forged).unwrap();

    let load = || load_and_parse(state, &first.at, |doc| serde_json::from_str::<Value>(doc)).unwrap();
    let (_, read, stored) = load();
    assert_eq!(read.unwrap(), value, "the state loads");
    assert_eq!(stored.entities(), Some(2), "the file's count, before its entries are filed");
    assert_eq!(stored.hashes(), None, "entries that do not file give no hashes");
    let mut changed = value.clone();
    changed["engine"]["nodes"]["n\"3"]["status"] = json!("down");
    let second = save(state, &changed.to_string(), Some(load().2)).unwrap();
    assert!(second.at.generation > first.at.generation, "a new snapshot");
    assert_eq!(second.at.journal.bytes, 0);
    assert_eq!(parsed(&super::load(state, &second.at).unwrap().0), changed);
}

/// What a new snapshot keeps beside its entities (the engine's index of
/// the ids that left, `Diff::keeping`) is given back by every load of that
/// snapshot, with or without journal records after it, and only when the
/// index file is that snapshot's own: damaged, made for other bytes, or
/// missing, nothing. A diff that appends to the journal keeps nothing new.
#[test]
fn the_bytes_kept_beside_a_snapshot_are_given_to_its_loads_and_only_to_them() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path();
    let value = doc(300, "up");
    let found = diff(state, &value.to_string(), None, None).unwrap();
    assert!(found.writes_snapshot());
    let first = write(state, &value.to_string(), found, || b"kept".to_vec()).unwrap();
    let kept = |at: &StateRef| {
        let saved = load_and_parse(state, at, |_| Ok::<(), ()>(())).unwrap().2.take_saved_index();
        saved.map(|(bytes, within)| bytes[within].to_vec())
    };
    assert_eq!(kept(&first.at).as_deref(), Some(&b"kept"[..]), "the snapshot alone");
    let mut changed = value.clone();
    changed["engine"]["nodes"]["n\"3"]["status"] = json!("down");
    let (_, _, read) = load_and_parse(state, &first.at, |_| Ok::<(), ()>(())).unwrap();
    let found = diff(state, &changed.to_string(), None, Some(read)).unwrap();
    assert!(!found.writes_snapshot(), "one record");
    let second = write(state, &changed.to_string(), found, || panic!("an append keeps nothing new")).unwrap();
    assert!(second.at.journal.bytes > 0);
    assert_eq!(kept(&second.at).as_deref(), Some(&b"kept"[..]), "with the journal: the snapshot's, as kept");

    let entities = entities_path(state, first.at.generation);
    let whole = std::fs::read(&entities).unwrap();
    let mut damaged = whole.clone();
    let last = damaged.len() - 1;
    damaged[last] ^= 1;
    std::fs::write(&entities, &damaged).unwrap();
    assert_eq!((kept(&first.at), kept(&second.at)), (None, None), "a damaged file");
    let snapshot = std::fs::read_to_string(snapshot_path(state, first.at.generation)).unwrap();
    let index = index_of(&snapshot).unwrap().unwrap();
    std::fs::write(&entities, index.to_bytes(&snapshot.replace("up", "UP"), CUT, b"kept")).unwrap();
    assert_eq!((kept(&first.at), kept(&second.at)), (None, None), "made for other bytes");
    std::fs::remove_file(&entities).unwrap();
    assert_eq!((kept(&first.at), kept(&second.at)), (None, None), "missing");
    std::fs::write(&entities, &whole).unwrap();
    assert_eq!(kept(&second.at).as_deref(), Some(&b"kept"[..]));
}

/// The replay by path text, for a state whose paths the index cannot tell
/// apart, reads the records as every other replay does: a removal written
/// with its place (`{"p":[…],"at":[…]}`) removes its entity. Read from each
/// line's second member, the place was taken for the entity's value, and
/// the removed entity came back as `[5,6]` (review of issue 11's
/// thirty-seventh pass: reached only after two paths share a hash).
#[test]
fn the_replay_by_path_removes_what_a_placed_removal_removes() {
    let snapshot = r#"{"a":1,"b":2,"c":{"d":3}}"#;
    let journal =
        "{\"p\":[\"a\"],\"at\":[5,6]}\n{\"p\":[\"c\"],\"v\":{\"d\":4},\"at\":[17,24]}\n{\"p\":[\"e\"],\"v\":5}\n";
    let records = super::records(Path::new("journal-1.jsonl"), journal).unwrap();
    let replayed = super::replay_by_path(snapshot, &records).unwrap();
    assert_eq!(serde_json::from_str::<Value>(&replayed).unwrap(), serde_json::json!({"b": 2, "c": {"d": 4}, "e": 5}));
    // The same as the replay by index.
    let (index, values) = super::replay(snapshot, &records).unwrap();
    let by_index = super::assembled(snapshot, &records, index.as_ref(), values).unwrap();
    assert_eq!(serde_json::from_str::<Value>(&by_index).unwrap(), serde_json::from_str::<Value>(&replayed).unwrap());
}
