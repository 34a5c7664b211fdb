//! The `alerts:` section (SPEC §6): the notification policy and each rule's
//! settings. What a file leaves out of a rule keeps the rule's default (in
//! `defaults`), key by key, so the parsed section always holds every rule
//! in full. Everything serde cannot say is checked while parsing, so that a
//! problem carries its line: a rule that does not exist, a key a rule does
//! not have, a negative or fractional number of seconds, a ratio outside
//! 0..1, `low` above `high`.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{DeserializeSeed, Error as _, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::engine::alerts::Rule;
use crate::event::Severity;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// Seconds two notifications of one alert are at least apart.
    #[serde(deserialize_with = "seconds")]
    pub cooldown_s: u64,
    /// Seconds between reminders of a notified alert that keeps firing.
    #[serde(deserialize_with = "seconds")]
    pub ttl_s: u64,
    /// Every rule, complete: what a file sets over the rule's defaults.
    #[serde(deserialize_with = "rules")]
    pub rules: BTreeMap<Rule, RuleConfig>,
}

/// One rule's settings as written. Each key is optional in the file; after
/// parsing, every key the rule has is set (a key it does not have stays
/// `None`, and `severity` is `None` where it comes from the subject).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "some_seconds")]
    pub for_s: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "some_seconds")]
    pub keep_firing_for_s: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "some_seconds")]
    pub max_running_s: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "some_count")]
    pub max_failed: Option<u32>,
    /// A share of checks, 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ratio: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "some_count")]
    pub min_checks: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "some_seconds")]
    pub window_s: Option<u64>,
    /// Percent state change, 0 to 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high: Option<f64>,
    /// Percent state change, 0 to 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low: Option<f64>,
    /// What to do about it: an http(s) URL or a path inside the inventory
    /// (`crate::runbook`); a service's own runbook wins.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "some_runbook")]
    pub runbook: Option<String>,
}

/// The keys every rule has.
const COMMON_KEYS: [&str; 5] = ["enabled", "for_s", "keep_firing_for_s", "severity", "runbook"];

/// The thresholds of a rule, besides the keys every rule has.
pub fn thresholds(rule: Rule) -> &'static [&'static str] {
    match rule {
        Rule::DeploymentStuck => &["max_running_s"],
        Rule::DeploymentFailures => &["max_failed", "window_s"],
        Rule::FailureRate => &["max_ratio", "min_checks", "window_s"],
        Rule::Flapping => &["high", "low"],
        _ => &[],
    }
}

/// Every rule's name, for messages.
pub fn rule_names() -> String {
    Rule::ALL.map(Rule::name).join(", ")
}

impl RuleConfig {
    /// The names of the keys that are set.
    fn keys(&self) -> Vec<&'static str> {
        let set = [
            ("enabled", self.enabled.is_some()),
            ("for_s", self.for_s.is_some()),
            ("keep_firing_for_s", self.keep_firing_for_s.is_some()),
            ("severity", self.severity.is_some()),
            ("max_running_s", self.max_running_s.is_some()),
            ("max_failed", self.max_failed.is_some()),
            ("max_ratio", self.max_ratio.is_some()),
            ("min_checks", self.min_checks.is_some()),
            ("window_s", self.window_s.is_some()),
            ("high", self.high.is_some()),
            ("low", self.low.is_some()),
            ("runbook", self.runbook.is_some()),
        ];
        set.into_iter().filter(|(_, is_set)| *is_set).map(|(key, _)| key).collect()
    }

    /// `self`'s keys over `base`'s.
    fn over(self, base: RuleConfig) -> RuleConfig {
        RuleConfig {
            enabled: self.enabled.or(base.enabled),
            for_s: self.for_s.or(base.for_s),
            keep_firing_for_s: self.keep_firing_for_s.or(base.keep_firing_for_s),
            severity: self.severity.or(base.severity),
            max_running_s: self.max_running_s.or(base.max_running_s),
            max_failed: self.max_failed.or(base.max_failed),
            max_ratio: self.max_ratio.or(base.max_ratio),
            min_checks: self.min_checks.or(base.min_checks),
            window_s: self.window_s.or(base.window_s),
            high: self.high.or(base.high),
            low: self.low.or(base.low),
            runbook: self.runbook.or(base.runbook),
        }
    }

    /// What serde cannot say about the settings of `rule` as written.
    fn check(&self, rule: Rule) -> Result<(), String> {
        let own = thresholds(rule);
        if let Some(key) = self.keys().into_iter().find(|key| !COMMON_KEYS.contains(key) && !own.contains(key)) {
            let mut has: Vec<&str> = COMMON_KEYS.to_vec();
            has.extend(own);
            return Err(format!("`{key}` is not a setting of {}; it has {}", rule.name(), has.join(", ")));
        }
        if let Some(ratio) = self.max_ratio
            && !(0.0..=1.0).contains(&ratio)
        {
            return Err(format!("max_ratio {ratio} is a share of checks: give a number from 0 to 1 (0.2 is 20 %)"));
        }
        for (key, percent) in [("high", self.high), ("low", self.low)] {
            if let Some(percent) = percent
                && !(0.0..=100.0).contains(&percent)
            {
                return Err(format!("{key} {percent} is a percent state change: give a number from 0 to 100"));
            }
        }
        let merged = self.clone().over(default_rule(rule));
        if let (Some(low), Some(high)) = (merged.low, merged.high)
            && low > high
        {
            return Err(format!(
                "low ({low}) is above high ({high}): flapping starts at high and ends at or below low"
            ));
        }
        Ok(())
    }
}

/// A rule's name as a key of `alerts.rules` (or of a service's `alerts:`),
/// refused with the list of rules when it names none.
pub struct RuleName(pub Rule);

impl<'de> Deserialize<'de> for RuleName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Rule::from_name(&name)
            .map(RuleName)
            .ok_or_else(|| D::Error::custom(format!("there is no rule `{name}`; the rules are {}", rule_names())))
    }
}

/// `alerts.rules`: each rule given, checked and set over its defaults, and
/// every rule not given at its defaults.
fn rules<'de, D: Deserializer<'de>>(deserializer: D) -> Result<BTreeMap<Rule, RuleConfig>, D::Error> {
    struct Rules;
    impl<'de> Visitor<'de> for Rules {
        type Value = BTreeMap<Rule, RuleConfig>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a map from rule names to their settings")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut given = BTreeMap::new();
            while let Some(RuleName(rule)) = map.next_key()? {
                given.insert(rule, map.next_value_seed(Checked(rule))?);
            }
            Ok(Rule::ALL.into_iter().map(|rule| (rule, given.remove(&rule).unwrap_or_default())).collect())
        }
    }
    let given = deserializer.deserialize_map(Rules)?;
    Ok(given.into_iter().map(|(rule, config)| (rule, config.over(default_rule(rule)))).collect())
}

/// The settings of one rule, checked where they are written, so that the
/// problem gets their line.
struct Checked(Rule);

impl<'de> DeserializeSeed<'de> for Checked {
    type Value = RuleConfig;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<RuleConfig, D::Error> {
        let rule = self.0;
        super::located::checked_or_default(deserializer, |config: &RuleConfig| config.check(rule))
    }
}

/// A runbook whose form is checked where it is written (that a path
/// exists in the inventory is checked once the inventory is known:
/// `super::runbooks`).
pub fn some_runbook<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    super::located::checked(deserializer, |value: &String| crate::runbook::check_written(value)).map(Some)
}

pub(super) fn seconds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    super::located::whole(deserializer, "a number of seconds")
}

pub fn some_seconds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    super::located::whole(deserializer, "a number of seconds").map(Some)
}

/// A count as a whole number that fits a `u32`.
pub(super) fn count<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let whole = super::located::whole(deserializer, "a count")?;
    u32::try_from(whole).map_err(|_| D::Error::custom(format!("{whole} is too large")))
}

pub fn some_count<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    count(deserializer).map(Some)
}

/// A rule's defaults (the SPEC §6 table): every key the rule has, set;
/// `severity` left out where it comes from the subject (the incident's for
/// `service_unhealthy`, the probe outcome's for `disk_low`).
pub fn default_rule(rule: Rule) -> RuleConfig {
    let (for_s, severity) = match rule {
        Rule::NodeDown => (0, Some(Severity::Critical)),
        Rule::NodeStale => (0, Some(Severity::Error)),
        Rule::ServiceUnhealthy => (0, None),
        Rule::ServiceDegraded => (300, Some(Severity::Warning)),
        Rule::BreakerOpen => (300, Some(Severity::Error)),
        Rule::DeploymentStuck => (0, Some(Severity::Warning)),
        Rule::DeploymentFailures => (0, Some(Severity::Error)),
        Rule::FailureRate => (0, Some(Severity::Warning)),
        Rule::DiskLow => (0, None),
        Rule::Flapping => (0, Some(Severity::Warning)),
    };
    let common = RuleConfig {
        enabled: Some(true),
        for_s: Some(for_s),
        keep_firing_for_s: Some(0),
        severity,
        ..RuleConfig::default()
    };
    match rule {
        Rule::DeploymentStuck => RuleConfig { max_running_s: Some(3600), ..common },
        Rule::DeploymentFailures => RuleConfig { max_failed: Some(2), window_s: Some(3600), ..common },
        Rule::FailureRate => RuleConfig { max_ratio: Some(0.2), min_checks: Some(10), window_s: Some(3600), ..common },
        Rule::Flapping => RuleConfig { high: Some(20.0), low: Some(5.0), ..common },
        _ => common,
    }
}
