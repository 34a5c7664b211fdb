//! The alerts by key: hashed for the look-ups of the fold (several per
//! event that touches a subject with an alert), with the keys kept in order
//! beside them for everything that goes out in key order (the world, the
//! history, the pass's decisions over many keys) and for the prefix ranges
//! of suppression. The checkpoint holds the object sorted by key that a
//! `BTreeMap` wrote, byte for byte; the order is built again on load.
//!
//! A `BTreeMap` of ~600 keys of the form `rule:node/service`, which share
//! long prefixes, compared bytes at ten or more nodes per look-up: a fifth
//! of the busy rebuild's samples were `memcmp` of such keys.

use std::collections::{BTreeSet, HashMap};
use std::hash::BuildHasherDefault;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Alert;
use crate::prehashed::StrHasher;

#[derive(Clone, Debug, Default)]
pub struct AlertMap {
    /// Hashed with XXH3 (`engine::keyed`): SipHash of the keys was ~2 % of
    /// the busy rebuild's fold.
    by_key: HashMap<String, Alert, BuildHasherDefault<StrHasher>>,
    /// The keys of `by_key`, in order.
    order: BTreeSet<String>,
    /// How many times a key entered or left the map since it was made or
    /// read ([`AlertMap::key_changes`]); not part of the state.
    key_changes: u64,
}

impl AlertMap {
    pub fn get(&self, key: &str) -> Option<&Alert> {
        self.by_key.get(key)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Alert> {
        self.by_key.get_mut(key)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.by_key.contains_key(key)
    }

    pub fn insert(&mut self, key: String, alert: Alert) -> Option<Alert> {
        if !self.by_key.contains_key(&key) {
            self.order.insert(key.clone());
            self.key_changes += 1;
        }
        self.by_key.insert(key, alert)
    }

    pub fn remove(&mut self, key: &str) -> Option<Alert> {
        let alert = self.by_key.remove(key)?;
        self.order.remove(key);
        self.key_changes += 1;
        Some(alert)
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Keys and alerts, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Alert)> {
        self.order.iter().filter_map(|key| self.by_key.get_key_value(key.as_str()))
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.order.iter()
    }

    /// The alerts, in key order.
    pub fn values(&self) -> impl Iterator<Item = &Alert> {
        self.iter().map(|(_, alert)| alert)
    }

    /// Keys and alerts in no particular order, without a look-up per key:
    /// for a reader that sorts what it keeps (`explain`'s snapshot after
    /// each event walks every alert of an unbounded replay).
    pub fn iter_unordered(&self) -> impl Iterator<Item = (&String, &Alert)> {
        self.by_key.iter()
    }

    /// The alerts in no particular order: for changes that do not depend on
    /// one another.
    pub fn values_mut_unordered(&mut self) -> impl Iterator<Item = &mut Alert> {
        self.by_key.values_mut()
    }

    /// Keeps the alerts `keep` says to keep, asking in key order.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &mut Alert) -> bool) {
        let (by_key, changes) = (&mut self.by_key, &mut self.key_changes);
        self.order.retain(|key| {
            let Some(alert) = by_key.get_mut(key.as_str()) else { return false };
            let kept = keep(key, alert);
            if !kept {
                by_key.remove(key.as_str());
                *changes += 1;
            }
            kept
        });
    }

    /// A count that moves whenever a key enters or leaves the map: a reader
    /// that keeps which keys it wants (`explain`'s snapshot after each
    /// event) looks for them again only when it moved.
    pub fn key_changes(&self) -> u64 {
        self.key_changes
    }

    /// The keys that begin with `prefix`, in order.
    pub fn keys_with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a String> + 'a {
        self.order
            .range::<str, _>((std::ops::Bound::Included(prefix), std::ops::Bound::Unbounded))
            .take_while(move |key| key.starts_with(prefix))
    }
}

impl PartialEq for AlertMap {
    fn eq(&self, other: &Self) -> bool {
        self.by_key == other.by_key
    }
}

impl Eq for AlertMap {}

impl std::ops::Index<&str> for AlertMap {
    type Output = Alert;

    fn index(&self, key: &str) -> &Alert {
        self.get(key).unwrap_or_else(|| panic!("no alert {key}"))
    }
}

impl<'a> IntoIterator for &'a AlertMap {
    type Item = (&'a String, &'a Alert);
    type IntoIter = Box<dyn Iterator<Item = (&'a String, &'a Alert)> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

impl FromIterator<(String, Alert)> for AlertMap {
    fn from_iter<I: IntoIterator<Item = (String, Alert)>>(items: I) -> AlertMap {
        let mut map = AlertMap::default();
        for (key, alert) in items {
            map.insert(key, alert);
        }
        map
    }
}

/// Written as the `BTreeMap` was: an object sorted by key.
impl Serialize for AlertMap {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

/// Read as a `BTreeMap` reads it (a key given twice keeps its last
/// alert), without building one: the alerts go straight to the hash map,
/// and the order is made from the keys as the checkpoint holds them, in
/// order, which `BTreeSet` sorts with one comparison per key and builds
/// without a search per key. Profiled on the busy
/// history (a run folding 1,000 events), the alerts were ~10 ms of the
/// tail half of the state's parse, the longer half; `memcmp` was 15 % of
/// that half's samples, most of it inserting the ~600 keys, which share
/// long prefixes, into a `BTreeMap` and then into the order again.
impl<'de> Deserialize<'de> for AlertMap {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<AlertMap, D::Error> {
        struct Entries;
        impl<'de> Visitor<'de> for Entries {
            type Value = AlertMap;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<AlertMap, A::Error> {
                let mut map = AlertMap::default();
                let mut keys = Vec::new();
                while let Some((key, alert)) = entries.next_entry::<String, Alert>()? {
                    keys.push(key.clone());
                    map.by_key.insert(key, alert);
                }
                map.order = keys.into_iter().collect();
                // As many as inserting each key one by one counted.
                map.key_changes = map.by_key.len() as u64;
                Ok(map)
            }
        }
        deserializer.deserialize_map(Entries)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::engine::alerts::tests::{fold_in_passes, line, rules_with};

    /// An engine's alerts after a story with several rules and subjects.
    fn some_alerts() -> AlertMap {
        let lines = [
            line(0, r#""type":"node_down","node":"saturn""#),
            line(10, r#""type":"service_unhealthy","node":"mars","service":"web""#),
            line(20, r#""type":"service_unhealthy","node":"jupiter","service":"db""#),
            line(30, r#""type":"node_up","node":"saturn""#),
            line(40, r#""type":"service_recovered","node":"mars","service":"web""#),
        ];
        let folded = fold_in_passes(&rules_with(|_| {}), &lines, &[]);
        folded.engine.alerts().clone()
    }

    fn assert_in_step(map: &AlertMap) {
        let hashed: BTreeSet<&String> = map.by_key.keys().collect();
        let ordered: BTreeSet<&String> = map.order.iter().collect();
        assert_eq!(hashed, ordered, "the order holds exactly the hashed keys");
        assert_eq!(map.len(), map.order.len());
    }

    #[test]
    fn the_order_stays_in_step_after_load_insert_and_removal() {
        let mut map = some_alerts();
        assert_in_step(&map);
        assert!(map.len() >= 3, "{:?}", map.keys().collect::<Vec<_>>());
        let text = serde_json::to_string(&map).unwrap();
        let mut loaded: AlertMap = serde_json::from_str(&text).unwrap();
        assert_in_step(&loaded);
        assert_eq!(loaded, map);
        let first = loaded.keys().next().cloned().unwrap();
        let alert = loaded.remove(&first).unwrap();
        assert_in_step(&loaded);
        assert!(!loaded.contains_key(&first) && loaded.keys().all(|k| *k != first));
        loaded.insert(format!("{first}-again"), alert.clone());
        loaded.insert(format!("{first}-again"), alert);
        assert_in_step(&loaded);
        loaded.retain(|key, _| !key.ends_with("-again"));
        assert_in_step(&loaded);
        assert_eq!(loaded.len(), map.len() - 1);
        map.remove(&first);
        assert_eq!(loaded, map);
    }

    #[test]
    fn a_document_out_of_order_or_with_a_key_twice_is_read_as_a_btreemap_reads_it() {
        let map = some_alerts();
        assert!(map.len() >= 2, "a story with alerts of several keys");
        let mut alerts: Vec<(&String, &Alert)> = map.iter().collect();
        alerts.reverse();
        let (last_key, last) = alerts[0];
        let mut changed = last.clone();
        changed.summary.push_str(" (the later one)");
        let mut members: Vec<String> =
            alerts.iter().map(|(key, alert)| format!("{}:{}", json(key), json(alert))).collect();
        members.push(format!("{}:{}", json(last_key), json(&changed)));
        let text = format!("{{{}}}", members.join(","));
        let loaded: AlertMap = serde_json::from_str(&text).unwrap();
        let as_btreemap: BTreeMap<String, Alert> = serde_json::from_str(&text).unwrap();
        assert_in_step(&loaded);
        assert_eq!(loaded.len(), map.len());
        assert_eq!(loaded.get(last_key).map(|a| &a.summary), Some(&changed.summary), "the later one kept");
        assert!(loaded.iter().eq(as_btreemap.iter()), "the same entries, in key order");
        let one_by_one: AlertMap = as_btreemap.into_iter().collect();
        assert_eq!(loaded.key_changes(), one_by_one.key_changes(), "counted as a map made key by key");
    }

    fn json(value: &impl Serialize) -> String {
        serde_json::to_string(value).unwrap()
    }

    #[test]
    fn it_is_written_as_the_sorted_map_it_replaced() {
        let map = some_alerts();
        let sorted: BTreeMap<&String, &Alert> = map.by_key.iter().collect();
        assert_eq!(serde_json::to_string(&map).unwrap(), serde_json::to_string(&sorted).unwrap());
        let keys: Vec<&String> = map.keys().collect();
        assert!(keys.windows(2).all(|pair| pair[0] < pair[1]), "{keys:?}");
        assert_eq!(map.iter().map(|(k, _)| k).collect::<Vec<_>>(), keys);
    }

    #[test]
    fn a_prefix_gives_its_keys_in_order() {
        let map = some_alerts();
        let services: Vec<&String> = map.keys_with_prefix("service_unhealthy:").collect();
        assert_eq!(services, ["service_unhealthy:jupiter/db", "service_unhealthy:mars/web"]);
        assert_eq!(map.keys_with_prefix("service_unhealthy:mars/").count(), 1);
        assert_eq!(map.keys_with_prefix("zzz").count(), 0);
    }

    #[test]
    fn the_key_changes_move_when_a_key_enters_or_leaves_and_only_then() {
        let mut map = some_alerts();
        let (key, alert) = map.iter().next().map(|(k, a)| (k.clone(), a.clone())).unwrap();
        let start = map.key_changes();
        map.insert(key.clone(), alert.clone());
        map.get_mut(&key).unwrap().summary.push('!');
        assert_eq!(map.key_changes(), start, "a key already there, and a change to its alert");
        map.insert("node_down:pluto".into(), alert.clone());
        assert_eq!(map.key_changes(), start + 1, "a new key");
        map.remove("node_down:pluto");
        assert!(map.remove("node_down:pluto").is_none());
        assert_eq!(map.key_changes(), start + 2, "one removal, and none of a missing key");
        let before = map.len();
        map.retain(|k, _| k != key);
        assert_eq!((map.len(), map.key_changes()), (before - 1, start + 3), "one left in a retain");
        map.retain(|_, _| true);
        assert_eq!(map.key_changes(), start + 3);
    }

    /// The counts per rule beside the map (`AlertState::per_rule`) after
    /// every event of a story where alerts enter, resolve and leave at
    /// retention, and after a load, which counts them again.
    #[test]
    fn the_counts_per_rule_stay_in_step_with_the_map() {
        use crate::engine::alerts::Rule;
        use crate::engine::alerts::lifecycle::count_per_rule;
        use crate::engine::given::event;
        use crate::engine::{Engine, Input};

        let day = 86_400;
        let lines = [
            line(0, r#""type":"node_down","node":"saturn""#),
            line(10, r#""type":"service_unhealthy","node":"mars","service":"web""#),
            line(30, r#""type":"node_up","node":"saturn""#),
            line(40, r#""type":"service_unhealthy","node":"jupiter","service":"db""#),
            line(50, r#""type":"service_recovered","node":"jupiter","service":"db""#),
            line(40 * day, r#""type":"heartbeat","node":"mars""#),
        ];
        let rules = rules_with(|_| {});
        let mut engine = Engine::default();
        engine.apply(Input::PassStarted, &rules);
        assert!(!engine.alerts.rule_has_alerts(Rule::NodeDown), "counted from here on");
        for (position, text) in lines.iter().enumerate() {
            let input = Input::Event { event: &event(text), file: "story.jsonl", position: position as u64 };
            engine.apply(input, &rules);
            assert_eq!(engine.alerts.per_rule, Some(count_per_rule(&engine.alerts.alerts)), "after line {position}");
        }
        let keys: Vec<&String> = engine.alerts().keys().collect();
        // The resolved ones left at retention; saturn, up without a
        // heartbeat for 40 days, went stale meanwhile.
        assert_eq!(keys, ["node_stale:saturn", "service_unhealthy:mars/web"]);
        let loaded: Engine = serde_json::from_str(&serde_json::to_string(&engine).unwrap()).unwrap();
        let mut state = loaded.alerts;
        assert_eq!(state.per_rule, None, "not in the checkpoint");
        assert!(state.rule_has_alerts(Rule::ServiceUnhealthy));
        assert!(!state.rule_has_alerts(Rule::NodeDown));
        assert_eq!(state.per_rule, Some(count_per_rule(&state.alerts)));
    }
}
