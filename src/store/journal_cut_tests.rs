use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::serialize;
use crate::store::journal_entities::SPLIT_BYTES;

/// The document `serialize` wrote, which must be `to_vec`'s, and the
/// entities of its cut, which must be those the scanner finds in it: how
/// many.
fn cut_as_scanned(value: &Value) -> usize {
    recorded_cut(value).expect("a cut").len()
}

/// A string whose JSON text (with its quotes) is `len` bytes long.
fn text(len: usize) -> Value {
    Value::String("x".repeat(len - 2))
}

#[test]
fn an_object_is_cut_when_it_is_one_byte_longer_than_the_split() {
    // `{"a":…}`: 6 bytes around the string.
    let at_the_split = json!({"outer": {"a": text(SPLIT_BYTES - 6)}, "b": 1});
    assert_eq!(cut_as_scanned(&at_the_split), 2, "short enough: one entity");
    let past_it = json!({"outer": {"a": text(SPLIT_BYTES - 5)}, "b": 1});
    assert_eq!(cut_as_scanned(&past_it), 2, "cut: its one member is an entity");
    assert_eq!(recorded_cut(&past_it).expect("a cut"), [r#""outer","a""#, r#""b""#]);
}

#[test]
fn members_before_an_object_found_long_later_come_first() {
    // The outer object is known to be cut only once its third member's
    // inner object has grown long: its first two members were held.
    let doc = json!({
        "a": {"x": 1, "y": {"z": 2}, "w": {"long": text(SPLIT_BYTES * 2), "after": [1, {"k": 2}]}, "v": 3},
        "b": {},
        "c": [{"deep": {"deeper": text(SPLIT_BYTES * 2)}}],
    });
    assert_eq!(cut_as_scanned(&doc), 7, "a.x, a.y, a.w.long, a.w.after, a.v, b, c");
}

#[test]
fn the_document_is_cut_however_short_and_objects_past_the_deepest_are_whole() {
    assert_eq!(cut_as_scanned(&json!({})), 0);
    assert_eq!(cut_as_scanned(&json!({"a": 1})), 1);
    let mut deep = json!({"leaf": text(SPLIT_BYTES * 3)});
    for level in 0..12 {
        deep = json!({format!("level {level}"): deep, "beside": level});
    }
    cut_as_scanned(&deep);
}

#[test]
fn keys_with_escapes_and_numbers_as_keys_are_their_tokens() {
    let mut map = Map::new();
    map.insert("quote\" and \\ and \u{1}".into(), text(SPLIT_BYTES));
    map.insert("ünïcode".into(), json!({"1700000000000": [1, 2], "n": null}));
    cut_as_scanned(&Value::Object(map));
    // Integer keys of a map, written by serde_json's key writer (quoted
    // digits), as the engine's minutes are.
    #[derive(serde::Serialize)]
    struct Minutes {
        gone: std::collections::BTreeMap<i64, String>,
    }
    let minutes = Minutes { gone: (0..40).map(|m| (m * 60_000, "x".repeat(60))).collect() };
    let recorded = recorded_cut(&minutes).expect("a cut");
    assert_eq!(recorded[1], r#""gone","60000""#);
}

/// The paths of the entities `serialize` recorded of `value`, checked
/// against the scanner's (`Cut::assert_scanned`), its bytes against
/// `to_vec`'s; `None` when it gave no cut.
fn recorded_cut<T: serde::Serialize>(value: &T) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let cut = serialize(value, &mut out, 0).unwrap();
    assert_eq!(out, serde_json::to_vec(value).unwrap(), "the bytes of serde_json::to_writer");
    Some(cut?.assert_scanned(&String::from_utf8(out).unwrap()))
}

#[test]
fn a_raw_array_is_one_entity_and_a_raw_object_that_could_be_cut_gives_no_cut() {
    use serde_json::value::RawValue;
    #[derive(serde::Serialize)]
    struct Doc {
        k: u8,
        raw: Box<RawValue>,
    }
    let raw = |text: String| RawValue::from_string(text).unwrap();
    // The engine's raw values: arrays (the ids that left, by minute).
    let array = Doc { k: 1, raw: raw(format!("[[\"{}\",1]]", "i".repeat(2000))) };
    assert_eq!(recorded_cut(&array).expect("a cut").len(), 2);
    // An object the scanner would cut, which the writer does not look into.
    let object = Doc { k: 1, raw: raw(format!("{{\"x\":\"{}\",\"y\":1}}", "x".repeat(1100))) };
    assert!(recorded_cut(&object).is_none(), "no cut: the scanner cuts it");
}

#[test]
fn a_writer_call_without_its_pair_gives_no_cut_and_no_panic() {
    use serde::ser::{SerializeMap, Serializer};
    /// A map that says it has no entries and writes one: serde_json then
    /// closes an object it never opened.
    struct Lying;
    impl serde::Serialize for Lying {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut map = serializer.serialize_map(Some(0))?;
            map.serialize_entry("k", &1)?;
            map.end()
        }
    }
    assert!(recorded_cut(&json!({"a": 1})).is_some());
    #[derive(serde::Serialize)]
    struct Doc {
        a: Lying,
    }
    let mut out = Vec::new();
    assert!(serialize(&Doc { a: Lying }, &mut out, 0).unwrap().is_none());
}

/// Any JSON value, objects nested up to ten deep, strings up to ~1.5 KB so
/// that objects fall on either side of the split.
fn any_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (0usize..1500).prop_map(|len| Value::String("s".repeat(len))),
        "[a-z\"\\\\\u{e9}\u{1}]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(10, 400, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(("[a-z\"\\\\\u{e9}]{0,6}", inner), 0..6)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_recorded_cut_is_the_scanned_cut(members in prop::collection::vec(("[a-z]{1,4}", any_value()), 0..8)) {
        cut_as_scanned(&Value::Object(members.into_iter().collect()));
    }
}
