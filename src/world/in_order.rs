//! The map of a world file's entries (`deployments.json`'s runs,
//! `incidents.json`'s incidents, `alerts.json`'s alerts): an object whose
//! keys are written in order, held as a list of its entries in that order.
//!
//! Until the twenty-eighth pass of issue 11 these were `BTreeMap`s. The
//! projection gives the entries in key order already (the engine's maps
//! are sorted once, `engine::keyed`), and collecting them into a
//! `BTreeMap` moved each view twice (into a vector, then into the tree's
//! nodes) and compared every key with the next to find them sorted: on the
//! busy history (a run folding 1,000 events, `perf` with frame pointers,
//! 4 runs) that was ~65 of the world's ~305 samples a run, on the thread
//! whose world files are the last thing the run waits for. A list given in
//! order is written as it is; one given out of order, or read from a file,
//! is put in order first, as a `BTreeMap` would hold it (the last of two
//! entries with one key kept). Its schema is a `BTreeMap`'s: the same
//! JSON.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Entries by key, in key order, each key once.
#[derive(Clone, Debug, PartialEq)]
pub struct InOrder<'a, V>(Vec<(Cow<'a, str>, V)>);

impl<'a, V> InOrder<'a, V> {
    /// `entries` in key order, each key once: as they are when they are
    /// so (checked, one comparison per entry), else sorted, the last entry
    /// of a key kept.
    fn of(mut entries: Vec<(Cow<'a, str>, V)>) -> InOrder<'a, V> {
        if !entries.is_sorted_by(|a, b| a.0 < b.0) {
            // Stable: of the entries with one key, the last stays last.
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            let mut kept: Vec<(Cow<'a, str>, V)> = Vec::with_capacity(entries.len());
            for entry in entries {
                match kept.last_mut() {
                    Some(last) if last.0 == entry.0 => *last = entry,
                    _ => kept.push(entry),
                }
            }
            entries = kept;
        }
        InOrder(entries)
    }

    pub fn get(&self, key: &str) -> Option<&V> {
        let at = self.0.binary_search_by(|(k, _)| k.as_ref().cmp(key)).ok()?;
        Some(&self.0[at].1)
    }

    /// The entries, in key order (for the tests: the readers want values).
    #[cfg(test)]
    fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.0.iter().map(|(k, v)| (k.as_ref(), v))
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.0.iter().map(|(_, v)| v)
    }

    pub fn into_values(self) -> impl Iterator<Item = V> {
        self.0.into_iter().map(|(_, v)| v)
    }

    /// Keeps the entries for which `keep` says so, in order.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &mut V) -> bool) {
        self.0.retain_mut(|(k, v)| keep(k, v));
    }
}

impl<V> Default for InOrder<'_, V> {
    fn default() -> Self {
        InOrder(Vec::new())
    }
}

impl<'a, V> FromIterator<(Cow<'a, str>, V)> for InOrder<'a, V> {
    fn from_iter<I: IntoIterator<Item = (Cow<'a, str>, V)>>(entries: I) -> Self {
        InOrder::of(entries.into_iter().collect())
    }
}

impl<V: Serialize> Serialize for InOrder<'_, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

/// Its keys owned, as a `Cow<str>`'s are when read.
impl<'de, 'a, V: Deserialize<'de>> Deserialize<'de> for InOrder<'a, V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries<'a, V>(PhantomData<(Cow<'a, str>, V)>);

        impl<'de, 'a, V: Deserialize<'de>> Visitor<'de> for Entries<'a, V> {
            type Value = InOrder<'a, V>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some((key, value)) = map.next_entry::<String, V>()? {
                    entries.push((Cow::Owned(key), value));
                }
                Ok(InOrder::of(entries))
            }
        }

        deserializer.deserialize_map(Entries(PhantomData))
    }
}

/// A `BTreeMap`'s: the JSON is the same.
impl<V: JsonSchema> JsonSchema for InOrder<'_, V> {
    fn inline_schema() -> bool {
        <BTreeMap<String, V> as JsonSchema>::inline_schema()
    }

    fn schema_name() -> Cow<'static, str> {
        <BTreeMap<String, V> as JsonSchema>::schema_name()
    }

    fn schema_id() -> Cow<'static, str> {
        <BTreeMap<String, V> as JsonSchema>::schema_id()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        <BTreeMap<String, V> as JsonSchema>::json_schema(generator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys<'a, V>(map: &'a InOrder<'a, V>) -> Vec<&'a str> {
        map.iter().map(|(key, _)| key).collect()
    }

    #[test]
    fn entries_given_in_order_are_kept_as_given_and_others_are_put_in_order_as_a_btreemap_would() {
        let given = |pairs: &[(&'static str, u32)]| -> InOrder<'static, u32> {
            pairs.iter().map(|&(k, v)| (Cow::Borrowed(k), v)).collect()
        };
        let sorted = given(&[("a", 1), ("b", 2), ("c", 3)]);
        assert_eq!(keys(&sorted), ["a", "b", "c"]);
        let shuffled = given(&[("c", 3), ("a", 1), ("b", 2), ("a", 4)]);
        let tree: BTreeMap<&str, u32> = [("c", 3), ("a", 1), ("b", 2), ("a", 4)].into_iter().collect();
        assert_eq!(shuffled.iter().map(|(k, v)| (k, *v)).collect::<Vec<_>>(), tree.into_iter().collect::<Vec<_>>());
        assert_eq!(shuffled.get("a"), Some(&4), "the last entry of a key is kept");
        assert_eq!(shuffled.get("d"), None);
        assert_eq!(shuffled.values().count(), 3);
    }

    #[test]
    fn it_is_written_and_read_as_the_json_object_a_btreemap_is() {
        let text = r#"{"b":{"x":2},"a":{"x":1},"b":{"x":3}}"#;
        let read: InOrder<'static, serde_json::Value> = serde_json::from_str(text).unwrap();
        let tree: BTreeMap<String, serde_json::Value> = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_string(&read).unwrap(), serde_json::to_string(&tree).unwrap());
        assert_eq!(serde_json::to_string(&read).unwrap(), r#"{"a":{"x":1},"b":{"x":3}}"#);
        let mut kept = read;
        kept.retain(|key, _| key != "a");
        assert_eq!(kept.values().cloned().collect::<Vec<_>>(), [serde_json::json!({"x": 3})]);
        assert!(serde_json::from_str::<InOrder<'static, u32>>("[1]").is_err(), "an array is no object");
    }

    #[test]
    fn its_schema_is_a_btreemaps() {
        let of = |schema: Schema| serde_json::to_string(&schema).unwrap();
        assert_eq!(of(schemars::schema_for!(InOrder<'static, u32>)), of(schemars::schema_for!(BTreeMap<String, u32>)));
    }
}
