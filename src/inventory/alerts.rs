//! A service's own alert settings in `services.yaml` (`alerts: {<rule>:
//! {...}}`): each key replaces the config's for that service alone. Checked
//! while the file is parsed, so that a problem carries its line: only rules
//! about a service (or its probes) can be overridden, and only the keys
//! SPEC §6 lets a service set.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{DeserializeSeed, Error as _, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::config::{RuleName, checked_or_default, some_count, some_seconds};
use crate::engine::alerts::Rule;
use crate::event::Severity;

/// What a service sets for one rule; `None` keeps the config's.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertOverride {
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default, deserialize_with = "some_seconds")]
    pub for_s: Option<u64>,
    #[serde(default, deserialize_with = "some_seconds")]
    pub keep_firing_for_s: Option<u64>,
    #[serde(default)]
    pub severity: Option<Severity>,
    /// `failure_rate` only: a share of checks, 0 to 1.
    #[serde(default)]
    pub max_ratio: Option<f64>,
    /// `failure_rate` only.
    #[serde(default, deserialize_with = "some_count")]
    pub min_checks: Option<u32>,
}

/// The rules whose subject is a service or one of its probes.
const SERVICE_RULES: [Rule; 6] = [
    Rule::ServiceUnhealthy,
    Rule::ServiceDegraded,
    Rule::BreakerOpen,
    Rule::FailureRate,
    Rule::DiskLow,
    Rule::Flapping,
];

/// A service's `alerts:` map, each rule checked where it is written.
pub(super) fn overrides<'de, D: Deserializer<'de>>(deserializer: D) -> Result<BTreeMap<Rule, AlertOverride>, D::Error> {
    struct Overrides;
    impl<'de> Visitor<'de> for Overrides {
        type Value = BTreeMap<Rule, AlertOverride>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a map from rule names to settings")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut overrides = BTreeMap::new();
            while let Some(RuleName(rule)) = map.next_key()? {
                if !SERVICE_RULES.contains(&rule) {
                    return Err(A::Error::custom(format!(
                        "{} is not about a service; a service can override {} (set node and deployment rules \
                         under alerts.rules in the config)",
                        rule.name(),
                        SERVICE_RULES.map(Rule::name).join(", ")
                    )));
                }
                overrides.insert(rule, map.next_value_seed(Checked(rule))?);
            }
            Ok(overrides)
        }
    }
    deserializer.deserialize_map(Overrides)
}

struct Checked(Rule);

impl<'de> DeserializeSeed<'de> for Checked {
    type Value = AlertOverride;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<AlertOverride, D::Error> {
        let rule = self.0;
        checked_or_default(deserializer, |given: &AlertOverride| check(rule, given))
    }
}

/// What serde cannot say about a service's settings for `rule`.
fn check(rule: Rule, given: &AlertOverride) -> Result<(), String> {
    if rule != Rule::FailureRate && (given.max_ratio.is_some() || given.min_checks.is_some()) {
        return Err(format!("max_ratio and min_checks are settings of failure_rate, not of {}", rule.name()));
    }
    if let Some(ratio) = given.max_ratio
        && !(0.0..=1.0).contains(&ratio)
    {
        return Err(format!("max_ratio {ratio} is a share of checks: give a number from 0 to 1 (0.2 is 20 %)"));
    }
    Ok(())
}
