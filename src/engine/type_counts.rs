//! Events folded by type (`runtime-summary.events.by_type`).
//!
//! Written and read as the `BTreeMap<String, u64>` it replaced (names in
//! order, no zero counts), so the checkpoint and the world keep their
//! bytes. Profiled on the busy rebuild of 1,000,000 events (`perf record
//! --call-graph dwarf`), the map's look-up by type name on every event
//! (`memcmp` on the way down a tree of names that share their first
//! letters) was ~1.5 % of the fold's thread; a known kind is now counted
//! at its index, and only the names this version does not know are
//! looked up by name.

use std::collections::BTreeMap;

use serde::de::Deserializer;
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use crate::event::Kind;

/// See the module.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TypeCounts {
    /// By `Kind as usize`, the order of [`Kind::KNOWN`].
    known: [u64; Kind::KNOWN.len()],
    /// The types this version does not know, by name.
    other: BTreeMap<String, u64>,
}

impl TypeCounts {
    /// One more event of `kind`; `name` is its type as written, read only
    /// for a kind this version does not know.
    pub fn add(&mut self, kind: Kind, name: &str) {
        if kind != Kind::Other {
            self.known[kind as usize] += 1;
        } else if let Some(count) = self.other.get_mut(name) {
            *count += 1;
        } else {
            self.other.insert(name.to_string(), 1);
        }
    }

    /// Every type counted, in name order, as the map was written.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        let mut all: Vec<(&str, u64)> = Kind::KNOWN
            .iter()
            .zip(self.known)
            .filter(|(_, count)| *count > 0)
            .filter_map(|(kind, count)| Some((kind.static_name()?, count)))
            .chain(self.other.iter().map(|(name, count)| (name.as_str(), *count)))
            .collect();
        all.sort_unstable_by(|a, b| a.0.cmp(b.0));
        all.into_iter()
    }

    /// The count of one type by name; 0 when none was folded. The product
    /// reads the counts in order ([`TypeCounts::iter`]); the tests by name.
    #[cfg(test)]
    pub fn get(&self, name: &str) -> u64 {
        match Kind::from_name(name) {
            Kind::Other => self.other.get(name).copied().unwrap_or(0),
            kind => self.known[kind as usize],
        }
    }
}

impl Serialize for TypeCounts {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for TypeCounts {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut counts = TypeCounts::default();
        for (name, count) in BTreeMap::<String, u64>::deserialize(deserializer)? {
            match Kind::from_name(&name) {
                Kind::Other => {
                    counts.other.insert(name, count);
                }
                kind => counts.known[kind as usize] = count,
            }
        }
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_writes_the_json_of_the_map_it_replaced_and_reads_it_back() {
        let names = ["tick", "heartbeat", "backup_finished", "heartbeat", "deployment_stage", "a_custom", "tick"];
        let (mut counts, mut map) = (TypeCounts::default(), BTreeMap::<String, u64>::new());
        for name in names {
            counts.add(Kind::from_name(name), name);
            *map.entry(name.to_string()).or_default() += 1;
        }
        let written = serde_json::to_string(&counts).unwrap();
        assert_eq!(written, serde_json::to_string(&map).unwrap());
        assert_eq!(written, r#"{"a_custom":1,"backup_finished":1,"deployment_stage":1,"heartbeat":2,"tick":2}"#);
        let read: TypeCounts = serde_json::from_str(&written).unwrap();
        assert_eq!(read, counts);
        assert_eq!((read.get("heartbeat"), read.get("a_custom"), read.get("node_up")), (2, 1, 0));
    }

    #[test]
    fn every_known_kind_sits_at_its_own_index() {
        for (at, kind) in Kind::KNOWN.iter().enumerate() {
            assert_eq!(*kind as usize, at, "{kind:?}");
        }
    }
}
