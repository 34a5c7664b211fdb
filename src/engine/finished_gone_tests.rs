//! The ids that left, filed by minute (`finished_gone.rs`): they answer
//! as the map by id they replaced, whatever was read raw or parsed, and
//! are written back byte for byte.

use std::collections::HashMap;

use super::{Gone, SavedSet};
use crate::time::Ts;

fn at(text: &str) -> Ts {
    Ts::parse(text).unwrap()
}

fn written(gone: &Gone) -> String {
    serde_json::to_string(gone).unwrap()
}

fn read(text: &str) -> Gone {
    checked(text).unwrap()
}

/// Read and indexed, as a load makes it without a saved index: a damaged
/// minute is the error.
fn checked(text: &str) -> Result<Gone, String> {
    let mut gone: Gone = serde_json::from_str(text).map_err(|e| e.to_string())?;
    gone.index_with(SavedSet::default())?;
    Ok(gone)
}

/// Inserts, lookups and retention, after a write and a read between each
/// step, against the map by id they replaced.
#[test]
fn it_answers_as_the_map_by_id_it_replaced_across_writes_and_reads() {
    let mut gone = Gone::default();
    let mut model: HashMap<String, Ts> = HashMap::new();
    let base = at("2026-05-12T00:00:00Z").0;
    for step in 0..400i64 {
        // Ids end within a few minutes of each other, some in one minute,
        // and some come back later (moved to their new end).
        let id = format!("run-{}", (step * 7) % 150);
        let end = Ts(base + step * 13_000 + (step % 5) * 1_000);
        gone.insert(id.clone(), end);
        model.insert(id, end);
        if step % 50 == 49 {
            let horizon = Ts(base + step * 9_000 + 500);
            gone.forget_before(horizon);
            model.retain(|_, at| *at >= horizon);
        }
        if step % 7 == 0 {
            gone = read(&written(&gone));
        }
        for k in 0..160 {
            let id = format!("run-{k}");
            assert_eq!(gone.get(&id), model.get(&id).copied(), "step {step}: {id}");
            assert_eq!(gone.contains(&id), model.contains_key(&id), "step {step}: {id}");
        }
        let mut expected: Vec<(String, Ts)> = model.iter().map(|(id, at)| (id.clone(), *at)).collect();
        expected.sort_by_key(|(id, at)| (super::minute_of(*at), id.clone()));
        assert_eq!(gone.entries().collect::<Vec<_>>(), expected, "step {step}");
    }
    assert!(!gone.is_empty());
    gone.forget_before(Ts(base + 10_000_000));
    assert!(gone.is_empty() && !gone.contains("run-1"));
}

#[test]
fn it_is_written_by_minute_and_a_minute_read_is_written_back_as_it_was() {
    let mut gone = Gone::default();
    gone.insert("b".into(), at("2026-05-12T10:00:30Z"));
    gone.insert("a".into(), at("2026-05-12T10:00:59.999Z"));
    gone.insert("c".into(), at("2026-05-12T10:01:00Z"));
    let text = written(&gone);
    assert_eq!(
        text, r#"{"2026-05-12T10:00:00Z":["a 59999 b 30000"],"2026-05-12T10:01:00Z":["c 0"]}"#,
        "packed: each id, then its milliseconds into the minute"
    );
    let mut again = read(&text);
    assert_eq!(written(&again), text, "byte for byte");
    assert_eq!(again, gone);
    again.insert("d".into(), at("2026-05-12T10:01:10Z"));
    let mut fresh = gone.clone();
    fresh.insert("d".into(), at("2026-05-12T10:01:10Z"));
    assert_eq!(written(&again), written(&fresh), "a changed minute is written as a new one would be");
    assert!(matches!(again.minutes.values().next(), Some(super::Minute::Raw(_))), "the other minute stays raw");
}

/// A changed minute is held by hash: its ids are still written in id
/// order, the bytes a minute kept in id order gave.
#[test]
fn a_changed_minute_is_written_in_id_order_whatever_the_order_of_inserts() {
    let mut gone = Gone::default();
    let mut by_id = std::collections::BTreeMap::new();
    for n in 0..300u64 {
        let id = format!("evt-{:04}", (n * 7919) % 300);
        let end = at("2026-05-12T10:00:00Z").0 + (n as i64 * 137) % 60_000;
        gone.insert(id.clone(), Ts(end));
        by_id.insert(id, Ts(end));
    }
    let minute = at("2026-05-12T10:00:00Z").0;
    let packed: Vec<String> = by_id.iter().map(|(id, end)| format!("{id} {}", end.0 - minute)).collect();
    let expected = serde_json::to_string(&serde_json::json!({ "2026-05-12T10:00:00Z": [packed.join(" ")] })).unwrap();
    assert_eq!(written(&gone), expected);
    assert_eq!(written(&read(&expected)), expected);
    assert_eq!(gone.entries().map(|(id, _)| id).collect::<Vec<_>>(), by_id.keys().cloned().collect::<Vec<_>>());
}

#[test]
fn a_state_written_before_minutes_is_read() {
    let older = read(r#"{"d1":"2026-05-12T10:00:30Z","d0":"2026-05-12T09:59:00Z"}"#);
    let mut new = Gone::default();
    new.insert("d0".into(), at("2026-05-12T09:59:00Z"));
    new.insert("d1".into(), at("2026-05-12T10:00:30Z"));
    assert_eq!(older, new);
    assert_eq!(written(&older), written(&new));
    assert!(older.contains("d0") && older.contains("d1") && !older.contains("d2"));
}

#[test]
fn a_damaged_minute_is_an_error() {
    let misfiled = r#"{"2026-05-12T10:00:00Z":[["a","2026-05-12T10:02:00Z"]]}"#;
    let error = checked(misfiled).unwrap_err();
    assert!(error.contains("not in the minute"), "{error}");
    for bad in [r#"{"soon":[]}"#, r#"{"2026-05-12T10:00:00Z":[["a"]]}"#, r#"{"2026-05-12T10:00:00Z":7}"#, "[]"] {
        assert!(checked(bad).is_err(), "{bad}");
    }
    let twice = r#"{"2026-05-12T10:00:00Z":[],"2026-05-12T10:00:00Z":[]}"#;
    assert!(checked(twice).unwrap_err().contains("twice"));
}

/// An id the packed form cannot hold as it is (a space, a quote, a
/// backslash, a control character, or empty) keeps its minute in pairs,
/// with the end times as the state's instants are written; the other
/// minutes are packed. Both read back as written.
#[test]
fn a_minute_with_an_id_that_is_not_plain_is_written_in_pairs() {
    for odd in ["a b", "a\"b", "a\\b", "a\tb", "", "é ü"] {
        let mut gone = Gone::default();
        gone.insert(odd.to_string(), at("2026-05-12T10:00:05Z"));
        gone.insert("z".into(), at("2026-05-12T10:00:06Z"));
        gone.insert("plain-é".into(), at("2026-05-12T10:01:07.250Z"));
        let text = crate::time::in_state_form(|| written(&gone));
        let (ten, one) = (at("2026-05-12T10:00:00Z").0, at("2026-05-12T10:01:00Z").0);
        let mut pairs = [(odd, ten + 5_000), ("z", ten + 6_000)];
        pairs.sort();
        let pairs = serde_json::to_string(&pairs.map(|(id, end)| serde_json::json!([id, end]))).unwrap();
        assert_eq!(text, format!(r#"{{"{ten}":{pairs},"{one}":["plain-é 7250"]}}"#), "{odd:?}");
        let again = read(&text);
        assert_eq!(again, gone, "{odd:?}");
        assert_eq!(crate::time::in_state_form(|| written(&again)), text, "{odd:?}: byte for byte");
        assert_eq!(again.get(odd), Some(at("2026-05-12T10:00:05Z")), "{odd:?}");
        assert_eq!(again.get("plain-é"), Some(at("2026-05-12T10:01:07.250Z")));
    }
}

/// A packed minute is read only as this version writes it: ids and
/// offsets in turn, one space between, each offset below a minute.
#[test]
fn a_packed_minute_in_any_other_shape_is_an_error() {
    let minute = r#""2026-05-12T10:00:00Z""#;
    for good in ["a 0", "a 59999 b 1", "a 00012"] {
        let gone = read(&format!(r#"{{{minute}:["{good}"]}}"#));
        assert!(gone.contains("a"), "{good}");
    }
    for bad in
        ["", "a", "a ", " a 0", "a  0", "a 0 ", "a 60000", "a 123456", "a -1", "a 1.5", "a 0 b", "a 0  b 1", "a x"]
    {
        let text = format!(r#"{{{minute}:["{bad}"]}}"#);
        let error = checked(&text).map(|_| ()).unwrap_err();
        assert!(error.contains("packed"), "{bad:?}: {error}");
    }
    let off_the_minute = r#"{"2026-05-12T10:00:30Z":["a 50000"]}"#;
    let error = checked(off_the_minute).map(|_| ()).unwrap_err();
    assert!(error.contains("packed"), "a key that is not a minute's start: {error}");
    for other in [r#"["a 0","b 1"]"#, r#"["a\u0020 0"]"#, r#"[ "a 0"]"#] {
        let text = format!(r#"{{{minute}:{other}}}"#);
        assert!(checked(&text).is_err(), "{other}");
    }
}

/// Two ids with one hash (planted: XXH3 gives none in practice) are both
/// found, and one is not taken for the other.
#[test]
fn ids_sharing_a_hash_are_looked_for_everywhere() {
    let mut gone = read(
        r#"{"2026-05-12T10:00:00Z":[["a","2026-05-12T10:00:00Z"]],"2026-05-12T11:00:00Z":[["b","2026-05-12T11:00:00Z"]]}"#,
    );
    let hash_b = xxhash_rust::xxh3::xxh3_64(b"b");
    let hash_a = xxhash_rust::xxh3::xxh3_64(b"a");
    // "a"'s hash points at "b"'s minute, as a collision would leave it.
    gone.index_mut().by_hash.insert(hash_a, at("2026-05-12T11:00:00Z"));
    assert!(!gone.contains("a"), "the minute is checked, not the hash alone");
    gone.index_mut().shared.insert(hash_a);
    assert!(gone.contains("a") && gone.contains("b") && !gone.contains("c"));
    gone.insert("c".into(), at("2026-05-12T12:00:00Z"));
    gone.index_mut().by_hash.insert(hash_b, at("2026-05-12T12:00:00Z"));
    gone.insert("b".into(), at("2026-05-12T12:00:30Z"));
    assert!(gone.index_mut().shared.contains(&hash_b), "the minute it pointed at did not hold it: shared");
    assert!(gone.contains("b") && gone.contains("c"));
    let held = |gone: &Gone, id: &str| gone.entries().filter(|(held, _)| held == id).count();
    assert_eq!(held(&gone, "b"), 1, "moved out of its minute, found by looking in every one");
    assert_eq!(gone.get("b"), Some(at("2026-05-12T12:00:30Z")));
    // Moved again while its hash is shared: still in one minute.
    gone.insert("b".into(), at("2026-05-12T12:05:00Z"));
    gone.insert("a".into(), at("2026-05-12T12:06:00Z"));
    assert_eq!((held(&gone, "a"), held(&gone, "b")), (1, 1));
    assert_eq!(gone.get("b"), Some(at("2026-05-12T12:05:00Z")));
}

/// The check by text (`compact_pairs`) takes only what parsing every pair
/// would take, with the same ids, and takes what observer writes: end
/// times as integers (the engine state's form) or as RFC 3339 (a state
/// written before it).
#[test]
fn the_minute_checked_by_its_text_agrees_with_parsing_every_pair() {
    let key = "2026-05-12T10:07:00Z";
    let minute = at(key);
    let (first, last, next) = (minute.0, minute.0 + 59_999, minute.0 + 60_000);
    let taken: Vec<String> = [
        r#"[]"#,
        r#"[["a","2026-05-12T10:07:00Z"]]"#,
        r#"[["deploy-7ea-188","2026-05-12T10:07:59.999Z"],["é ü","2026-05-12T10:07:05.120Z"]]"#,
        &format!(r#"[["a",{first}]]"#),
        &format!(r#"[["deploy-7ea-188",{last}],["é ü","2026-05-12T10:07:05.120Z"]]"#),
    ]
    .map(str::to_string)
    .into();
    let refused_by_text: Vec<String> = [
        r#"[["a\"b","2026-05-12T10:07:01Z"]]"#,
        r#"[ ["a","2026-05-12T10:07:01Z"]]"#,
        r#"[["a","2026-05-12T10:07:01.5Z"]]"#,
        r#"[["a","2026-05-12T10:07:60Z"]]"#,
        r#"[["a","2026-05-12T10:08:01Z"]]"#,
        r#"[["a","2026-05-12T10:07:01+00:00"]]"#,
        r#"[["a","2026-05-12T10:07:01Z","x"]]"#,
        r#"[["a","2026-05-12T10:07:01Z"],]"#,
        r#"[["a","2026-05-12T10:07:0xZ"]]"#,
        r#"[["a",7]]"#,
        r#"[["a"]]"#,
        &format!(r#"[["a",{next}]]"#),
        &format!(r#"[["a",{}]]"#, first - 1),
        &format!(r#"[["a",{first}.5]]"#),
        &format!(r#"[["a",{first} ]]"#),
        &format!(r#"[["a",{first},1]]"#),
    ]
    .map(str::to_string)
    .into();
    for text in taken.iter().chain(&refused_by_text) {
        let mut hashes = Vec::new();
        let by_text = super::compact_pairs(text, minute, &mut hashes);
        assert_eq!(by_text, taken.contains(text), "{text}");
        if by_text {
            let pairs: Vec<super::Pair> = serde_json::from_str(text).unwrap();
            assert!(pairs.iter().all(|pair| super::minute_of(pair.1) == minute), "{text}");
            let parsed: Vec<u64> = pairs.iter().map(|pair| xxhash_rust::xxh3::xxh3_64(pair.0.as_bytes())).collect();
            assert_eq!(hashes, parsed, "{text}");
        }
    }
    // A key that is not a whole minute takes nothing by its text.
    assert!(!super::compact_pairs(&taken[1], Ts(minute.0 + 1), &mut Vec::new()));
    // Refused by its text, a pair is still read, or refused, pair by pair.
    let read_anyway = read(r#"{"2026-05-12T10:07:00Z":[["a\"b","2026-05-12T10:07:01.5Z"]]}"#);
    assert!(read_anyway.contains("a\"b"));
    let misfiled = r#"{"2026-05-12T10:07:00Z":[["a","2026-05-12T10:07:00Z"],["b","2026-05-12T10:08:00Z"]]}"#;
    assert!(checked(misfiled).unwrap_err().contains("not in the minute"));
}

/// The index made once every minute is read: each id points at its own
/// minute, and an id read in two minutes is looked for in every one.
#[test]
fn the_index_made_after_reading_points_each_id_at_its_minute() {
    let gone = read(concat!(
        r#"{"2026-05-12T10:00:00Z":[["a","2026-05-12T10:00:01Z"],["twice","2026-05-12T10:00:02Z"]],"#,
        r#""2026-05-12T10:01:00Z":[["b","2026-05-12T10:01:03.250Z"],["twice","2026-05-12T10:01:04Z"]]}"#,
    ));
    let hash = |id: &str| xxhash_rust::xxh3::xxh3_64(id.as_bytes());
    let index = gone.index.get().expect("made as it was read");
    assert_eq!(index.by_hash.len(), 3);
    assert_eq!(index.by_hash[&hash("a")], at("2026-05-12T10:00:00Z"));
    assert_eq!(index.by_hash[&hash("b")], at("2026-05-12T10:01:00Z"));
    assert_eq!(index.shared.iter().copied().collect::<Vec<_>>(), [hash("twice")]);
    assert_eq!(gone.get("a"), Some(at("2026-05-12T10:00:01Z")));
    assert_eq!(gone.get("b"), Some(at("2026-05-12T10:01:03.250Z")));
    assert!(gone.get("twice").is_some() && gone.get("c").is_none());
}

/// A state written before the engine state's instants became integers
/// (`time::in_state_form`): a minute read raw keeps its text, pairs in RFC
/// 3339, under a key now written as digits; a minute a pass changes is
/// written with integers. Each reads back as what was written, and the
/// ids are found by their text (`compact_pairs`) in both forms.
#[test]
fn minutes_written_before_instants_were_integers_read_and_write_back_beside_new_ones() {
    let before = r#"{"2026-05-12T10:07:00Z":[["a","2026-05-12T10:07:01Z"]],"2026-05-12T10:08:00Z":[["b","2026-05-12T10:08:30.500Z"]]}"#;
    let mut gone = read(before);
    gone.insert("c".into(), at("2026-05-12T10:08:45Z"));
    let written = crate::time::in_state_form(|| written(&gone));
    let (seven, eight) = (at("2026-05-12T10:07:00Z").0, at("2026-05-12T10:08:00Z").0);
    assert_eq!(
        written,
        format!(r#"{{"{seven}":[["a","2026-05-12T10:07:01Z"]],"{eight}":["b 30500 c 45000"]}}"#),
        "the untouched minute as it was read, the changed one packed"
    );
    let again = read(&written);
    assert_eq!(again, gone);
    for (id, end) in [("a", "2026-05-12T10:07:01Z"), ("b", "2026-05-12T10:08:30.500Z"), ("c", "2026-05-12T10:08:45Z")] {
        assert_eq!(again.get(id), Some(at(end)), "{id}");
    }
    let mut hashes = Vec::new();
    assert!(
        super::compact_pairs(r#"[["a","2026-05-12T10:07:01Z"]]"#, Ts(seven), &mut hashes),
        "RFC 3339 under a key of digits"
    );
}

/// `gone` as a snapshot holds it (the state's form), and the index saved
/// with it, read back as a load reads them.
fn snapshot_of(gone: &Gone) -> (String, Vec<u8>) {
    let text = crate::time::in_state_form(|| written(gone));
    let mut saved = Vec::new();
    super::write_saved_head(1, &mut saved);
    gone.save_index(&mut saved, &mut Vec::new());
    assert!(saved.len() <= 16 + gone.save_index_room(), "the room reserved holds it");
    (text, saved)
}

/// `text` read and indexed with the saved index `saved`, as a load does.
fn loaded(text: &str, saved: &[u8]) -> Result<Gone, String> {
    let mut gone: Gone = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let set = super::read_saved(saved.to_vec(), 1).expect("saved whole").remove(0);
    gone.index_with(set)?;
    Ok(gone)
}

/// Ids over a few minutes, one of them in pairs (an id the packed form
/// cannot hold), some moved by a later end.
fn some_gone() -> (Gone, Vec<String>) {
    let mut gone = Gone::default();
    let mut ids = Vec::new();
    for step in 0..60i64 {
        let id = format!("run-{}", step % 45);
        gone.insert(id.clone(), Ts(at("2026-05-12T10:00:00Z").0 + step * 9_000));
        ids.push(id);
    }
    gone.insert("a b".into(), at("2026-05-12T10:03:10Z"));
    ids.push("a b".into());
    (gone, ids)
}

/// Loaded with the index saved beside its snapshot, a set reads no id of
/// the minutes that index covers (only the minute in pairs), and answers,
/// then changes and answers, as the same set indexed from its minutes.
#[test]
fn a_saved_index_covers_the_minutes_written_with_it_and_answers_as_the_minutes_do() {
    let (gone, ids) = some_gone();
    let (text, saved) = snapshot_of(&gone);
    let mut with_saved = loaded(&text, &saved).unwrap();
    let mut from_minutes = read(&text);
    let index = with_saved.index.get().unwrap();
    let pairs_minute = at("2026-05-12T10:03:00Z");
    let in_pairs = with_saved.minutes[&pairs_minute].entries(pairs_minute).len();
    assert_eq!(index.by_hash.len(), in_pairs, "only the minute in pairs read id by id");
    assert!(index.by_hash.values().all(|at| *at == pairs_minute));
    for id in ids.iter().map(String::as_str).chain(["run-99", "a"]) {
        assert_eq!(with_saved.get(id), gone.get(id), "{id}");
    }
    // Moved, added, forgotten: the same answers as the set that read its
    // minutes, and the same minutes written.
    for (n, id) in ["run-3", "run-40", "fresh", "run-3"].into_iter().enumerate() {
        let end = Ts(at("2026-05-12T10:20:00Z").0 + n as i64 * 61_000);
        with_saved.insert(id.into(), end);
        from_minutes.insert(id.into(), end);
    }
    let horizon = at("2026-05-12T10:04:30Z");
    with_saved.forget_before(horizon);
    from_minutes.forget_before(horizon);
    assert_eq!(with_saved, from_minutes);
    assert_eq!(written(&with_saved), written(&from_minutes));
    for id in ids.iter().map(String::as_str).chain(["fresh", "run-99"]) {
        assert_eq!(with_saved.get(id), from_minutes.get(id), "{id}");
    }
    // The index freed (as a rebuild frees it before the world is made):
    // made again from the minutes at the next lookup, the same answers.
    with_saved.forget_index();
    assert_eq!(with_saved.filed_one_by_one(), None);
    for id in ids.iter().map(String::as_str).chain(["fresh", "run-99"]) {
        assert_eq!(with_saved.get(id), from_minutes.get(id), "{id}");
    }
    // Saved again, after those changes: loaded, the same answers.
    let (text, saved) = snapshot_of(&with_saved);
    let again = loaded(&text, &saved).unwrap();
    for id in ids.iter().map(String::as_str).chain(["fresh"]) {
        assert_eq!(again.get(id), from_minutes.get(id), "{id}");
    }
}

/// A minute whose text is not the one the saved index was made of (a
/// journal record changed it since the snapshot) is read id by id, and
/// checked: its new ids are found, an id it moved out of a covered minute
/// is found where it went, and a damaged one is the error.
#[test]
fn a_minute_changed_since_the_index_was_saved_is_read_id_by_id() {
    let (gone, ids) = some_gone();
    let (_, saved) = snapshot_of(&gone);
    let mut changed = gone.clone();
    changed.insert("new".into(), at("2026-05-12T10:01:30Z"));
    changed.insert("run-2".into(), at("2026-05-12T10:02:59Z"));
    let (text, _) = snapshot_of(&changed);
    let with_saved = loaded(&text, &saved).unwrap();
    let index = with_saved.index.get().unwrap();
    let read_again: Vec<Ts> = {
        let mut minutes: Vec<Ts> = index.by_hash.values().copied().collect();
        minutes.sort();
        minutes.dedup();
        minutes
    };
    assert_eq!(
        read_again,
        ["2026-05-12T10:01:00Z", "2026-05-12T10:02:00Z", "2026-05-12T10:03:00Z", "2026-05-12T10:07:00Z"].map(at),
        "the minutes changed (`run-2` left 10:07 for 10:02), and the one in pairs"
    );
    for id in ids.iter().map(String::as_str).chain(["new", "nothing"]) {
        assert_eq!(with_saved.get(id), changed.get(id), "{id}");
    }
    assert_eq!(with_saved.get("run-2"), Some(at("2026-05-12T10:02:59Z")));
    // A changed minute that is damaged: the error, where the saved index
    // would have covered the minute as it was.
    let one = at("2026-05-12T10:01:00Z").0;
    let damaged = text.replacen(&format!("\"{one}\":[\""), &format!("\"{one}\":[\"x 0  "), 1);
    assert_ne!(damaged, text);
    assert!(loaded(&damaged, &saved).unwrap_err().contains("packed"));
}

/// Saved bytes read only as they were written: cut short, of another
/// layout, with their hashes or minutes out of order, or for another
/// number of sets, they are not used (the index is then made from the
/// minutes).
#[test]
fn saved_bytes_that_are_not_whole_are_not_used() {
    let (gone, _) = some_gone();
    let (_, saved) = snapshot_of(&gone);
    assert!(super::read_saved(saved.clone(), 1).is_some());
    assert!(super::read_saved(saved.clone(), 2).is_none(), "another number of sets");
    for at in 0..saved.len() {
        assert!(super::read_saved(saved[..at].to_vec(), 1).is_none(), "cut at {at}");
    }
    let mut longer = saved.clone();
    longer.push(0);
    assert!(super::read_saved(longer, 1).is_none(), "a byte past the last set");
    let mut other = saved.clone();
    other[0] ^= 1;
    assert!(super::read_saved(other, 1).is_none(), "another layout's version");
    // The layout: version, sets, then the minutes' count and records.
    let minutes = u64::from_le_bytes(saved[16..24].try_into().unwrap()) as usize;
    assert!(minutes >= 2);
    let mut swapped = saved.clone();
    swapped[24..40].copy_from_slice(&saved[40..56]);
    swapped[40..56].copy_from_slice(&saved[24..40]);
    assert!(super::read_saved(swapped, 1).is_none(), "two minutes out of order");
    let entries_at = 24 + minutes * 16 + 8;
    let mut swapped = saved.clone();
    swapped[entries_at..entries_at + 16].copy_from_slice(&saved[entries_at + 16..entries_at + 32]);
    swapped[entries_at + 16..entries_at + 32].copy_from_slice(&saved[entries_at..entries_at + 16]);
    assert!(super::read_saved(swapped, 1).is_none(), "two hashes out of order");
}
