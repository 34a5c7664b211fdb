//! Tests of `store/journal_entities.rs`: the cut into entities, the scan's
//! skips and strings, splices and assembly, damage told as errors.

use super::*;

#[test]
fn small_objects_and_arrays_are_entities_and_long_objects_are_cut() {
    let long = format!(r#"{{"a":{{"x":1}},"b":"{}"}}"#, "y".repeat(SPLIT_BYTES));
    let doc = format!(r#"{{"n":{{"v\"1":[1,{{"z":2}}],"e":{{}}}},"l":{long},"s":null}}"#);
    let entities = split(&doc).unwrap();
    let paths: Vec<&str> = entities.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, [r#""n""#, r#""l","a""#, r#""l","b""#, r#""s""#]);
    assert_eq!(entities[0].1, r#"{"v\"1":[1,{"z":2}],"e":{}}"#);
    let again = assemble(entities.iter().map(|(p, raw)| (p.as_str(), *raw)).collect()).unwrap();
    let parsed = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap();
    assert_eq!(parsed(&again), parsed(&doc));
    assert_eq!(assemble(Vec::new()).unwrap(), "{}");
}

#[test]
fn a_member_is_found_after_the_members_before_it_and_only_where_it_is_a_key() {
    let doc = r#" { "a" : [1,"\"b\":"] , "o" : { "x" : {"b":2} , "y":"b" , "b" : 3 } , "b" : 4 }"#;
    let at = member_start(doc, r#""o""#, r#""b""#).unwrap();
    assert_eq!(&doc[at..at + 6], r#", "b" "#, "the comma before the key of `o`'s own member");
    assert_eq!(member_start(doc, r#""o""#, r#""x""#), None, "the first member has no comma before it");
    for (outer, key) in [(r#""a""#, r#""b""#), (r#""b""#, r#""x""#), (r#""o""#, r#""z""#), (r#""z""#, r#""b""#)] {
        assert_eq!(member_start(doc, outer, key), None, "{outer} {key}");
    }
    assert_eq!(member_start(r#"{"o":{"x":1,"b""#, r#""o""#, r#""b""#), None, "cut short");
}

#[test]
fn strings_end_at_their_first_unescaped_quote_at_any_offset() {
    for len in 0..40 {
        for stop in ["\"", "\\\"x\"", "\\\\\""] {
            let body = format!("{}{stop}", "é".repeat(len / 2) + &"a".repeat(len % 2));
            let text = format!("{body}tail\"more");
            let naive = {
                let bytes = text.as_bytes();
                let mut at = 0;
                loop {
                    at += 1;
                    match bytes[at - 1] {
                        b'"' => break at,
                        b'\\' => at += 1,
                        _ => {}
                    }
                }
            };
            assert_eq!(string_end(text.as_bytes(), 0), Some(naive), "{text}");
            assert_eq!(string_end(&text.as_bytes()[..naive - 1], 0), None, "{text}");
        }
    }
    assert_eq!(string_end(b"abc\\", 0), None);
}

/// A skip over an object or array ends where a byte-by-byte skip ends,
/// whatever the bytes between its strings and brackets and wherever
/// they fall against eight-byte words; cut short, it says so.
#[test]
fn a_skip_ends_where_a_byte_by_byte_skip_ends() {
    let naive = |bytes: &[u8], start: usize| -> Option<usize> {
        let (mut depth, mut at) = (0usize, start);
        loop {
            match *bytes.get(at)? {
                b'"' => at = string_end(bytes, at + 1)? - 1,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(at + 1);
                    }
                }
                _ => {}
            }
            at += 1;
        }
    };
    let docs = [
        r#"{"a":1796588872202,"b":[1,2,{"c":-3.5e10}],"d":"x}]"{[","e":{},"f":[]}"#,
        r#"[{"k":true},{"k":null},[[[]]],"]",12345678901234567890,{"{":"}"}]"#,
        r#"{"é":"ü{","n":[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]}"#,
    ];
    for doc in docs {
        for pad in 0..9 {
            let text = format!("{}{doc} ,", " ".repeat(pad));
            for start in (0..text.len()).filter(|&at| matches!(text.as_bytes()[at], b'{' | b'[')) {
                let mut scanner = Scanner { text: &text, at: start };
                let ended = scanner.skip(usize::MAX);
                match naive(text.as_bytes(), start) {
                    Some(end) => assert_eq!((ended, scanner.at), (Ok(true), end), "{text} from {start}"),
                    None => assert!(ended.is_err(), "{text} from {start}"),
                }
                // Cut before its end: it does not end there.
                if let Some(end) = naive(text.as_bytes(), start) {
                    let mut scanner = Scanner { text: &text[..end - 1], at: start };
                    assert!(scanner.skip(usize::MAX).is_err(), "{text} from {start}, cut");
                    for limit in start..end - 1 {
                        let mut scanner = Scanner { text: &text, at: start };
                        assert_eq!(scanner.skip(limit), Ok(false), "{text} from {start}, limit {limit}");
                    }
                }
            }
        }
    }
}

/// The edits of a journal made where the entities are, or `None` where
/// they do not fit the document's cut; what is made is the document
/// `assemble` makes of the entities replayed.
#[test]
fn edits_are_spliced_where_their_entities_are_or_left_to_assemble() {
    let long = |c: char| format!("\"{}\"", c.to_string().repeat(SPLIT_BYTES));
    let doc = format!(r#"{{"a":{{"x":{},"y":1,"z":{{"q":2}}}},"b":[1],"c":{{"k":{}}}}}"#, long('x'), long('k'));
    let entities = split(&doc).unwrap();
    let paths: Vec<&str> = entities.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, [r#""a","x""#, r#""a","y""#, r#""a","z""#, r#""b""#, r#""c","k""#]);
    let replayed = |records: &[(&str, Option<&str>)]| {
        let mut map: BTreeMap<&str, &str> = entities.iter().map(|(p, raw)| (p.as_str(), *raw)).collect();
        for (path, raw) in records {
            match raw {
                Some(raw) => map.insert(path, raw),
                None => map.remove(path),
            };
        }
        assemble(map.into_iter().collect())
    };
    let value = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap();
    let fits: [&[(&str, Option<&str>)]; 7] = [
        // Replaced, removed, and a new key in a cut object and at the top.
        &[(r#""a","y""#, Some("7")), (r#""b""#, None), (r#""a","n""#, Some("[3]")), (r#""t""#, Some("0"))],
        // A new object of entities, two deep, beside the others.
        &[(r#""d","e","f""#, Some("1")), (r#""d","e","g""#, Some("2")), (r#""d","h""#, Some("3"))],
        // An entity that became an object of entities, and back.
        &[(r#""a","z""#, None), (r#""a","z","q""#, Some("5")), (r#""a","z","r""#, Some("6"))],
        // Removed then set again, set then removed: the last wins.
        &[(r#""b""#, None), (r#""b""#, Some("[2]")), (r#""a","y""#, Some("8")), (r#""a","y""#, None)],
        // A removal of what is not there changes nothing.
        &[(r#""nowhere""#, None), (r#""a","nowhere""#, None)],
        // An object cut into entities, all removed: it goes.
        &[(r#""c","k""#, None)],
        // An object cut into entities that became one: its entities
        // removed first, then it is set.
        &[
            (r#""c","k""#, None),
            (r#""c""#, Some("{}")),
            (r#""a","x""#, None),
            (r#""a","y""#, None),
            (r#""a","z""#, None),
            (r#""a""#, Some("[1]")),
        ],
    ];
    for records in fits {
        let edits = Edits::of(records).unwrap();
        let spliced_text = splice(&doc, &edits).unwrap().expect("fits");
        assert_eq!(value(&spliced_text), value(&replayed(records).unwrap()), "{records:?}");
        // Made in place behind the text its pieces add (always room
        // enough) and behind more: the same bytes. Behind less, made in
        // place when no piece overtakes what is still to be read, else
        // the buffer comes back untouched and the pieces make the same
        // document in new memory; behind none, never in place where the
        // document grows.
        let placed = || spliced(&doc, &Edits::of(records).unwrap()).unwrap().expect("fits").placed();
        let needed = placed().room();
        for room in [0, needed.saturating_sub(1), needed, needed + 100] {
            let mut buf = vec![b'#'; room];
            buf.extend_from_slice(doc.as_bytes());
            let before = buf.clone();
            let fits = placed().in_place(room, buf.len());
            assert!(fits || room < needed, "{records:?}: room {room} of {needed}");
            assert!(!fits || room > 0 || spliced_text.len() <= doc.len(), "{records:?}");
            match placed().apply(buf, room) {
                Ok(made) => {
                    assert!(fits);
                    assert_eq!(String::from_utf8(made).unwrap(), spliced_text, "{records:?}, room {room}");
                }
                Err((back, buf)) => {
                    assert!(!fits && buf == before, "{records:?}, room {room}: untouched");
                    assert_eq!(back.into_string(&buf[room..]).unwrap(), spliced_text, "{records:?}");
                }
            }
        }
    }
    let misfits: [&[(&str, Option<&str>)]; 4] = [
        // A cut object set whole, with an entity under it left.
        &[(r#""c""#, Some("{}"))],
        // An entity kept, with a new entity under it.
        &[(r#""b","x""#, Some("1"))],
        // One set, and another under it.
        &[(r#""d""#, Some("1")), (r#""d","x""#, Some("2"))],
        // An object cut here set whole, and an entity set under it.
        &[(r#""c","k""#, None), (r#""c""#, Some("{}")), (r#""c","j""#, Some("1"))],
    ];
    for records in misfits {
        assert_eq!(splice(&doc, &Edits::of(records).unwrap()).unwrap(), None, "{records:?}");
    }
    assert!(replayed(misfits[1]).is_err() && replayed(misfits[2]).is_err(), "assemble says why");
    assert!(splice("{\"a\":", &Edits::of(&[]).unwrap()).is_err());
}

#[test]
fn damage_is_an_error_not_a_panic() {
    for bad in ["", "[1]", "{\"a\":", "{\"a\":1", "{\"a\" 1}", "{\"a\":{\"b\":[1,2}", "{\"a\":1} x", "{\"a"] {
        assert!(split(bad).is_err(), "{bad}");
    }
    let both = vec![(r#""a""#, "1"), (r#""a","b""#, "2")];
    assert!(assemble(both).unwrap_err().contains("both a value and an object"));
    assert_eq!(fields(r#"{"p":["a","b"],"v":{"c":1}}"#).unwrap()[1], (r#""v""#.to_string(), r#"{"c":1}"#));
}
