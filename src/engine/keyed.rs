//! A map keyed by strings that is looked up by hash and written in key
//! order: the same JSON as a `BTreeMap<String, V>`, so the engine state
//! keeps its bytes.
//!
//! Profiled on the busy rebuild of 1,000,000 events (`perf record
//! --call-graph dwarf`), the look-ups, inserts and removals of the
//! deployment runs (`BTreeMap<String, Deployment>`, ~3,700 runs in the hot
//! view, each event of a run looked up by its `correlation_id`) were ~13 %
//! of the fold's thread, most of it `memcmp` on the way down the tree. The
//! engine folds far more often than it writes, and needs key order only
//! when it writes or walks every run: [`Keyed::sorted`] sorts then, and
//! keeps the order until a key comes or goes.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::OnceLock;

use crate::event::Name;
use crate::prehashed::StrHasher;
use serde::de::Deserializer;
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

/// Values by string key; see the module. The keys are [`Name`]s: run ids
/// and `node/service` keys are short, and kept inline (up to 24 bytes)
/// they cost the load of a busy state no allocation each (issue 11).
/// Incident ids are longer, and are allocated as before.
#[derive(Clone, Debug)]
pub struct Keyed<V> {
    map: HashMap<Name, V, BuildHasherDefault<StrHasher>>,
    /// The keys in order, from the first [`sorted`](Keyed::sorted) after
    /// the keys last changed: a pass that writes sorted the hot view's
    /// deployment runs four times (for the files on disk they name, the
    /// world's file, its summary and the engine state) and its incidents
    /// three, ~50 samples a run at 15 kHz on the busy history, a third of
    /// them before the world's thread could start (issue 11, twenty-eighth
    /// pass). Every method that can add or remove a key forgets it.
    order: OnceLock<Vec<Name>>,
}

impl<V> Default for Keyed<V> {
    fn default() -> Self {
        Keyed { map: HashMap::default(), order: OnceLock::new() }
    }
}

/// The same entries; the order kept or not is no part of the value.
impl<V: PartialEq> PartialEq for Keyed<V> {
    fn eq(&self, other: &Keyed<V>) -> bool {
        self.map == other.map
    }
}

impl<V> Keyed<V> {
    pub fn get(&self, key: &str) -> Option<&V> {
        self.map.get(key)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        self.map.get_mut(key)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// The entry of an owned key: one look-up for a caller that has the
    /// key already.
    pub fn entry(&mut self, key: Name) -> std::collections::hash_map::Entry<'_, Name, V> {
        self.order.take();
        self.map.entry(key)
    }

    /// The value of `key`, inserted with its default when missing. Looked
    /// up by the borrowed key first: `entry` needs an owned [`Name`], a copy
    /// of the key at every call (an allocation for one over 24 bytes), and
    /// the key is almost always there already. Never `None`: the look-up
    /// finds what was there (an `Option` rather than a panic in the engine).
    pub fn get_or_insert_default(&mut self, key: &str) -> Option<&mut V>
    where
        V: Default,
    {
        if !self.map.contains_key(key) {
            self.order.take();
            return Some(self.map.entry(Name::from(key)).or_default());
        }
        self.map.get_mut(key)
    }

    pub fn insert(&mut self, key: Name, value: V) -> Option<V> {
        self.order.take();
        self.map.insert(key, value)
    }

    pub fn remove(&mut self, key: &str) -> Option<V> {
        self.order.take();
        self.map.remove(key)
    }

    /// Removes a key, giving back the key it held with its value: a caller
    /// that keeps both needs no copy of the key.
    pub fn remove_entry(&mut self, key: &str) -> Option<(Name, V)> {
        self.order.take();
        self.map.remove_entry(key)
    }

    /// Keeps the entries for which `keep` is true.
    pub fn retain(&mut self, keep: impl FnMut(&Name, &mut V) -> bool) {
        self.order.take();
        self.map.retain(keep);
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Every value, in no particular order: for counts and sums.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.map.values()
    }

    /// Every entry, in no particular order: for what is sorted again or
    /// does not depend on the order.
    pub fn iter_unordered(&self) -> impl Iterator<Item = (&Name, &V)> {
        self.map.iter()
    }

    /// Every entry in key order, as a `BTreeMap` would give them: in the
    /// order kept since the keys last changed, each looked up (~30 ns), or
    /// sorted, and the order kept. Threads that ask at once wait for one
    /// sort.
    pub fn sorted(&self) -> Vec<(&Name, &V)> {
        let order = self.order.get_or_init(|| {
            let mut keys: Vec<Name> = self.map.keys().cloned().collect();
            keys.sort_unstable();
            keys
        });
        let entries: Vec<_> = order.iter().filter_map(|key| self.map.get_key_value(key.as_str())).collect();
        // The keys found are in order, each once; as many as the map holds
        // are all of them. So the answer is right even with an order that
        // is not the map's keys (which the methods above rule out by
        // forgetting it): short of one, they are sorted afresh.
        if entries.len() == self.map.len() {
            return entries;
        }
        let mut entries: Vec<_> = self.map.iter().collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        entries
    }

    /// The keys in order.
    pub fn keys(&self) -> impl Iterator<Item = &Name> {
        self.sorted().into_iter().map(|(key, _)| key)
    }
}

impl<V: Eq> Eq for Keyed<V> {}

impl<V> std::ops::Index<&str> for Keyed<V> {
    type Output = V;

    fn index(&self, key: &str) -> &V {
        &self.map[key]
    }
}

impl<V: Serialize> Serialize for Keyed<V> {
    /// In key order, as a `BTreeMap<String, V>` is written.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (key, value) in self.sorted() {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Keyed<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Keyed { map: HashMap::deserialize(deserializer)?, order: OnceLock::new() })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use std::hash::{Hash, Hasher};

    use super::*;

    #[test]
    fn it_writes_the_json_of_a_btreemap_and_reads_it_back() {
        let ids = ["deploy-7ea-311", "deploy-7ea-31", "b", "a", "deploy-7eb-0", "", "é", "Z"];
        let (mut keyed, mut ordered) = (Keyed::default(), BTreeMap::new());
        for (n, id) in ids.iter().enumerate() {
            keyed.insert(Name::from(*id), n);
            ordered.insert(id.to_string(), n);
        }
        let written = serde_json::to_string(&keyed).unwrap();
        assert_eq!(written, serde_json::to_string(&ordered).unwrap());
        let read: Keyed<usize> = serde_json::from_str(&written).unwrap();
        assert_eq!(read, keyed);
        assert_eq!(
            keyed.keys().map(Name::as_str).collect::<Vec<_>>(),
            ordered.keys().map(String::as_str).collect::<Vec<_>>()
        );
        assert_eq!(keyed.remove("b"), Some(2));
        assert_eq!(keyed.remove_entry("Z"), Some((Name::from("Z"), 7)));
        assert_eq!(keyed.remove_entry("Z"), None);
        assert!(!keyed.contains_key("b") && keyed.get("a") == Some(&3) && keyed["é"] == 6);
        *keyed.entry("a".into()).or_insert(0) += 10;
        *keyed.entry("new".into()).or_insert(0) += 10;
        assert_eq!((keyed.get("a"), keyed.get("new")), (Some(&13), Some(&10)), "one kept, one made");
    }

    #[test]
    fn the_order_kept_follows_every_key_that_comes_or_goes() {
        let mut keyed: Keyed<u32> = Keyed::default();
        let keys = |keyed: &Keyed<u32>| keyed.sorted().into_iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>();
        keyed.insert("b".into(), 1);
        keyed.insert("a".into(), 2);
        assert_eq!(keys(&keyed), ["a=2", "b=1"]);
        // The values are looked up each time: a change of one shows.
        *keyed.get_mut("b").unwrap() = 5;
        assert_eq!(keys(&keyed), ["a=2", "b=5"]);
        keyed.insert("c".into(), 3);
        assert_eq!(keys(&keyed), ["a=2", "b=5", "c=3"]);
        keyed.remove("a");
        assert_eq!(keys(&keyed), ["b=5", "c=3"]);
        keyed.entry("0".into()).or_insert(7);
        assert_eq!(keys(&keyed), ["0=7", "b=5", "c=3"]);
        keyed.get_or_insert_default("bb");
        assert_eq!(keys(&keyed), ["0=7", "b=5", "bb=0", "c=3"]);
        keyed.retain(|key, _| key.as_str() != "b");
        assert_eq!(keys(&keyed), ["0=7", "bb=0", "c=3"]);
        assert_eq!(keyed.remove_entry("c"), Some((Name::from("c"), 3)));
        assert_eq!(keys(&keyed), ["0=7", "bb=0"]);
        let copy = keyed.clone();
        assert_eq!(keys(&copy), keys(&keyed));
        assert_eq!(copy, keyed);
    }

    #[test]
    fn a_missing_key_is_inserted_with_its_default_and_a_present_one_kept() {
        let mut keyed: Keyed<u32> = Keyed::default();
        keyed.insert("a".into(), 5);
        let long = "a-key-longer-than-twenty-four-bytes";
        for key in ["a", "b", long] {
            *keyed.get_or_insert_default(key).unwrap() += 1;
        }
        assert_eq!((keyed.get("a"), keyed.get("b"), keyed.get(long)), (Some(&6), Some(&1), Some(&1)));
        assert_eq!(keyed.len(), 3);
    }

    #[test]
    fn strings_that_differ_hash_apart() {
        let hash = |s: &str| {
            let mut hasher = StrHasher::default();
            s.hash(&mut hasher);
            hasher.finish()
        };
        assert_ne!(hash("ab"), hash("ba"));
        assert_ne!(hash("deploy-1"), hash("deploy-2"));
        assert_ne!(hash(""), hash("\u{0}"));
    }
}
