//! The alert rules the fold reads: the config's `alerts:` section and
//! `budgets.notifications_per_hour`, with the inventory's `depends_on` and
//! per-service overrides, built by `crate::rules` (where the defaults come
//! from, once).

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::event::Severity;

/// The built-in rules (SPEC §6); each is configurable under
/// `alerts.rules.<rule>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    NodeDown,
    NodeStale,
    ServiceUnhealthy,
    ServiceDegraded,
    BreakerOpen,
    DeploymentStuck,
    DeploymentFailures,
    FailureRate,
    DiskLow,
    Flapping,
}

impl Rule {
    pub const ALL: [Rule; 10] = [
        Rule::NodeDown,
        Rule::NodeStale,
        Rule::ServiceUnhealthy,
        Rule::ServiceDegraded,
        Rule::BreakerOpen,
        Rule::DeploymentStuck,
        Rule::DeploymentFailures,
        Rule::FailureRate,
        Rule::DiskLow,
        Rule::Flapping,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Rule::NodeDown => "node_down",
            Rule::NodeStale => "node_stale",
            Rule::ServiceUnhealthy => "service_unhealthy",
            Rule::ServiceDegraded => "service_degraded",
            Rule::BreakerOpen => "breaker_open",
            Rule::DeploymentStuck => "deployment_stuck",
            Rule::DeploymentFailures => "deployment_failures",
            Rule::FailureRate => "failure_rate",
            Rule::DiskLow => "disk_low",
            Rule::Flapping => "flapping",
        }
    }

    /// The key of this rule's alert for `subject`: `rule:subject`.
    pub fn key(self, subject: &str) -> String {
        let mut key = String::with_capacity(self.name().len() + 1 + subject.len());
        key.push_str(self.name());
        key.push(':');
        key.push_str(subject);
        key
    }

    pub fn from_name(name: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|rule| rule.name() == name)
    }
}

/// One rule's settings. Thresholds that a rule does not use are ignored.
/// Ratios and percentages are kept in basis points (1/100 of a percent) so
/// that the rules stay `Eq` and exact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleSettings {
    pub enabled: bool,
    /// Seconds the condition must hold before the alert fires.
    pub for_s: u64,
    /// Seconds the condition must stay false before the alert resolves.
    pub keep_firing_for_s: u64,
    /// `None`: the severity comes from the subject (the incident's for
    /// `service_unhealthy`, the probe outcome's for `disk_low`).
    pub severity: Option<Severity>,
    /// `deployment_stuck`: seconds a deployment may run.
    pub max_running_s: u64,
    /// `deployment_failures`: failed deployments of a node within
    /// `window_s` that are still fine (more fire).
    pub max_failed: u32,
    /// `failure_rate`: the failed share of executed checks within
    /// `window_s` that is still fine (more fires), in basis points.
    pub max_ratio_bp: u32,
    /// `failure_rate`: checks needed within the window before it can fire.
    pub min_checks: u32,
    /// `deployment_failures`, `failure_rate`: the sliding window.
    pub window_s: u64,
    /// `flapping`: percent state change that starts flapping, and the one
    /// at or below which it ends, in basis points.
    pub flap_high_bp: u32,
    pub flap_low_bp: u32,
}

/// A per-service override from `services.yaml` (`alerts: {<rule>: {...}}`):
/// only the keys it sets replace the rule's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleOverride {
    pub enabled: Option<bool>,
    pub for_s: Option<u64>,
    pub keep_firing_for_s: Option<u64>,
    pub severity: Option<Severity>,
    pub max_ratio_bp: Option<u32>,
    pub min_checks: Option<u32>,
}

/// `alerts.cooldown_s` when the config does not set it.
pub const DEFAULT_COOLDOWN_S: u64 = 300;

/// Everything the alert engine reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertRules {
    /// Seconds two notifications of one key are at least apart.
    pub cooldown_s: u64,
    /// Seconds between reminders of a notified alert that keeps firing; 0:
    /// no reminders and no `expires_at`.
    pub ttl_s: u64,
    /// Firing and reminder notifications allowed in any hour of engine
    /// clock; 0 disables the budget.
    pub notifications_per_hour: u32,
    /// `nodes.stale_after_s`: when an `up` node without heartbeat is stale.
    pub node_stale_after_s: u64,
    /// `world.keep_finished`: resolved episodes a key keeps in the hot view;
    /// older ones leave it for the history.
    pub keep_resolved: usize,
    /// Every rule, with its settings.
    pub rules: BTreeMap<Rule, RuleSettings>,
    /// Per-service overrides, by `node/service`.
    pub service_overrides: BTreeMap<String, BTreeMap<Rule, RuleOverride>>,
    /// `depends_on` of nodes: node → the nodes it depends on.
    pub node_depends_on: BTreeMap<String, Vec<String>>,
    /// `depends_on` of services: `node/service` → the `node/service`s it
    /// depends on.
    pub service_depends_on: BTreeMap<String, Vec<String>>,
    /// The inventory's `disk` probes, by `node/service/probe`: `disk_low`
    /// reads their outcomes (and those of any probe named `disk`, for
    /// histories written without this inventory).
    pub disk_probes: BTreeSet<String>,
    /// `alerts.rules.<rule>.runbook`, as written.
    pub runbooks: BTreeMap<Rule, String>,
    /// Each service's `runbook`, by `node/service`: it wins over the rule's.
    pub service_runbooks: BTreeMap<String, String>,
    /// The distinct `after_s` of the escalation channels, smallest first.
    pub escalations_s: Vec<u64>,
}

impl AlertRules {
    /// The runbook of an alert of `rule` about `node`/`service`: the
    /// service's own, else the rule's.
    pub fn runbook(&self, rule: Rule, node: Option<&str>, service: Option<&str>) -> Option<&str> {
        let own = match (node, service) {
            (Some(node), Some(service)) if !self.service_runbooks.is_empty() => {
                self.service_runbooks.get(crate::engine::service_key(node, service).as_str())
            }
            _ => None,
        };
        own.or_else(|| self.runbooks.get(&rule)).map(String::as_str)
    }

    /// The settings of `rule` for a subject of service `node/service` (or of
    /// no service), with that service's overrides applied.
    pub fn settings(&self, rule: Rule, service: Option<&str>) -> RuleSettings {
        // `crate::rules` gives every rule its settings; one missing is off.
        let mut settings = self.rules.get(&rule).cloned().unwrap_or(RuleSettings {
            enabled: false,
            for_s: 0,
            keep_firing_for_s: 0,
            severity: None,
            max_running_s: 0,
            max_failed: 0,
            max_ratio_bp: 0,
            min_checks: 0,
            window_s: 0,
            flap_high_bp: 0,
            flap_low_bp: 0,
        });
        if let Some(over) = service.and_then(|s| self.service_overrides.get(s)).and_then(|o| o.get(&rule)) {
            settings.enabled = over.enabled.unwrap_or(settings.enabled);
            settings.for_s = over.for_s.unwrap_or(settings.for_s);
            settings.keep_firing_for_s = over.keep_firing_for_s.unwrap_or(settings.keep_firing_for_s);
            settings.severity = over.severity.or(settings.severity);
            settings.max_ratio_bp = over.max_ratio_bp.unwrap_or(settings.max_ratio_bp);
            settings.min_checks = over.min_checks.unwrap_or(settings.min_checks);
        }
        settings
    }
}
