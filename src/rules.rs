//! The one builder of the engine's rules: the config's thresholds, with each
//! probe's own `breaker:` and `debounce:` settings from the inventory
//! replacing the config's key by key, and the alert rules: the config's
//! `alerts:` with the inventory's `depends_on` and per-service overrides. The engine knows neither file; the
//! config and the inventory know nothing of the engine's rules.
//!
//! The engine's rule types take their `Default` from here too, so that
//! `Rules::default()` is always the built-in config with no inventory: the
//! values are written once, in `config::defaults`.

use crate::config::{BreakerConfig, Config, RuleConfig, default_rule};
use crate::engine::alerts::{AlertRules, Rule, RuleOverride, RuleSettings};
use crate::engine::{BreakerRules, DebounceRules, ProbeRules, Rules};
use crate::inventory::{AlertOverride, BreakerOverrides, Check, DebounceOverrides, Inventory, ProbeDef};

/// The rules of the fold for this config and inventory.
pub fn build(config: &Config, inventory: &Inventory) -> Rules {
    let probe_defaults = probe_defaults(config);
    let probes = inventory
        .probes
        .iter()
        .filter(|probe| probe.breaker != BreakerOverrides::default() || probe.debounce != DebounceOverrides::default())
        .map(|probe| (probe.key(), overridden(&probe_defaults, &probe.breaker, &probe.debounce)))
        .collect();
    Rules {
        retention_s: config.retention.days.saturating_mul(24 * 3600),
        dedup_window_s: config.events.dedup_window_s,
        keep_finished: usize::try_from(config.world.keep_finished).unwrap_or(usize::MAX),
        probe_defaults,
        probes,
        probe_runs_per_minute: config.budgets.probe_runs_per_minute,
        declared_probes: inventory.probes.iter().map(ProbeDef::key).collect(),
        alerts: alert_rules(config, inventory),
    }
}

/// The alert rules: every rule's settings (the config's, which always
/// holds every rule in full), the services' overrides and the inventory's
/// dependencies.
fn alert_rules(config: &Config, inventory: &Inventory) -> AlertRules {
    let rules = Rule::ALL
        .into_iter()
        .map(|rule| {
            let given = config.alerts.rules.get(&rule).cloned().unwrap_or_else(|| default_rule(rule));
            (rule, rule_settings(&given))
        })
        .collect();
    let service_overrides = inventory
        .service_alerts
        .iter()
        .map(|(service, overrides)| {
            (service.clone(), overrides.iter().map(|(rule, given)| (*rule, rule_override(given))).collect())
        })
        .collect();
    AlertRules {
        cooldown_s: config.alerts.cooldown_s,
        ttl_s: config.alerts.ttl_s,
        notifications_per_hour: config.budgets.notifications_per_hour,
        node_stale_after_s: config.nodes.stale_after_s,
        keep_resolved: usize::try_from(config.world.keep_finished).unwrap_or(usize::MAX),
        rules,
        service_overrides,
        node_depends_on: inventory.node_depends_on.clone(),
        service_depends_on: inventory.service_depends_on.clone(),
        disk_probes: inventory.probes.iter().filter(|p| matches!(p.check, Check::Disk(_))).map(ProbeDef::key).collect(),
        runbooks: config
            .alerts
            .rules
            .iter()
            .filter_map(|(rule, given)| given.runbook.clone().map(|runbook| (*rule, runbook)))
            .collect(),
        service_runbooks: inventory.service_runbooks.clone(),
        escalations_s: escalations_s(config),
    }
}

/// The distinct `after_s` of the escalation channels, smallest first: the
/// fold decides an `escalation` notification for each, whatever channel
/// receives it (delivery picks its own).
fn escalations_s(config: &Config) -> Vec<u64> {
    let set: std::collections::BTreeSet<u64> = config.notify.channels.iter().filter_map(|c| c.after_s).collect();
    set.into_iter().collect()
}

/// A rule's settings; a key the rule does not have is 0 (the engine does
/// not read it).
fn rule_settings(given: &RuleConfig) -> RuleSettings {
    RuleSettings {
        enabled: given.enabled.unwrap_or(true),
        for_s: given.for_s.unwrap_or(0),
        keep_firing_for_s: given.keep_firing_for_s.unwrap_or(0),
        severity: given.severity,
        max_running_s: given.max_running_s.unwrap_or(0),
        max_failed: given.max_failed.unwrap_or(0),
        max_ratio_bp: given.max_ratio.map_or(0, |ratio| basis_points(ratio * 100.0)),
        min_checks: given.min_checks.unwrap_or(0),
        window_s: given.window_s.unwrap_or(0),
        flap_high_bp: given.high.map_or(0, basis_points),
        flap_low_bp: given.low.map_or(0, basis_points),
    }
}

fn rule_override(given: &AlertOverride) -> RuleOverride {
    RuleOverride {
        enabled: given.enabled,
        for_s: given.for_s,
        keep_firing_for_s: given.keep_firing_for_s,
        severity: given.severity,
        max_ratio_bp: given.max_ratio.map(|ratio| basis_points(ratio * 100.0)),
        min_checks: given.min_checks,
    }
}

/// A percent (checked to be 0 to 100 when parsed) in basis points, rounded
/// to the nearest: 0.2 × 100 is not exactly 20 in binary.
fn basis_points(percent: f64) -> u32 {
    (percent * 100.0).round().clamp(0.0, 10_000.0) as u32
}

/// The rules of a probe without overrides.
fn probe_defaults(config: &Config) -> ProbeRules {
    ProbeRules {
        debounce: DebounceRules { debounce_s: config.health.debounce_s, debounce_count: config.health.debounce_count },
        breaker: breaker_rules(&config.breaker),
    }
}

fn breaker_rules(config: &BreakerConfig) -> BreakerRules {
    BreakerRules {
        failure_threshold: config.failure_threshold,
        success_threshold: config.success_threshold,
        timeout_s: config.timeout_s,
        half_open_requests: config.half_open_requests,
        failure_outcomes: config.failure_outcomes.clone(),
        failure_http_statuses: config.failure_http_statuses.clone(),
        count_timeouts: config.count_timeouts,
        excluded_exit_codes: config.excluded_exit_codes.clone(),
    }
}

/// A probe's rules: each key it sets replaces the default's.
fn overridden(defaults: &ProbeRules, breaker: &BreakerOverrides, debounce: &DebounceOverrides) -> ProbeRules {
    let base = &defaults.breaker;
    ProbeRules {
        debounce: DebounceRules {
            debounce_s: debounce.seconds.unwrap_or(defaults.debounce.debounce_s),
            debounce_count: debounce.count.unwrap_or(defaults.debounce.debounce_count),
        },
        breaker: BreakerRules {
            failure_threshold: breaker.failure_threshold.unwrap_or(base.failure_threshold),
            success_threshold: breaker.success_threshold.unwrap_or(base.success_threshold),
            timeout_s: breaker.timeout_s.unwrap_or(base.timeout_s),
            half_open_requests: breaker.half_open_requests.unwrap_or(base.half_open_requests),
            failure_outcomes: breaker.failure_outcomes.clone().unwrap_or_else(|| base.failure_outcomes.clone()),
            failure_http_statuses: breaker
                .failure_http_statuses
                .clone()
                .unwrap_or_else(|| base.failure_http_statuses.clone()),
            count_timeouts: breaker.count_timeouts.unwrap_or(base.count_timeouts),
            excluded_exit_codes: breaker
                .excluded_exit_codes
                .clone()
                .unwrap_or_else(|| base.excluded_exit_codes.clone()),
        },
    }
}

/// The built-in config, no inventory.
impl Default for Rules {
    fn default() -> Self {
        build(&Config::default(), &Inventory::default())
    }
}

/// A probe without overrides under the built-in config.
impl Default for ProbeRules {
    fn default() -> Self {
        probe_defaults(&Config::default())
    }
}

/// The built-in `breaker:` section.
impl Default for BreakerRules {
    fn default() -> Self {
        breaker_rules(&BreakerConfig::default())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::DEFAULTS_YAML;
    use crate::event::Outcome;
    use crate::inventory::{Check, TcpCheck};

    fn probe(name: &str, breaker: BreakerOverrides, debounce: DebounceOverrides) -> ProbeDef {
        ProbeDef {
            node: "saturn".into(),
            service: "mosquitto".into(),
            name: name.into(),
            check: Check::Tcp(TcpCheck { host: "saturn".into(), port: 1883 }),
            interval_ms: None,
            timeout_ms: None,
            timeout_outcome: None,
            breaker,
            debounce,
        }
    }

    #[test]
    fn the_printed_defaults_give_the_default_rules() {
        let config = Config::parse(DEFAULTS_YAML, Path::new("x")).unwrap();
        assert_eq!(build(&config, &Inventory::default()), Rules::default());
        let rules = Rules::default();
        assert_eq!(rules.retention_s, 30 * 24 * 3600);
        assert_eq!(rules.dedup_window_s, 7 * 24 * 3600);
        assert_eq!(rules.probe_runs_per_minute, 120);
        assert_eq!(rules.probe_defaults.debounce, DebounceRules { debounce_s: 30, debounce_count: 3 });
        assert_eq!(rules.probe_defaults.breaker.failure_outcomes, vec![Outcome::Critical, Outcome::Unknown]);
    }

    #[test]
    fn a_probe_overrides_only_the_keys_it_sets() {
        let mut config = Config::default();
        config.breaker.failure_threshold = 7;
        config.health.debounce_s = 90;
        let inventory = Inventory {
            probes: vec![
                probe("plain", BreakerOverrides::default(), DebounceOverrides::default()),
                probe(
                    "own",
                    BreakerOverrides { timeout_s: Some(5), ..BreakerOverrides::default() },
                    DebounceOverrides { count: Some(1), ..DebounceOverrides::default() },
                ),
            ],
            ..Inventory::default()
        };
        let rules = build(&config, &inventory);
        assert_eq!(rules.probes.len(), 1, "only probes with overrides get their own rules");
        let own = rules.probe("saturn/mosquitto/own");
        assert_eq!((own.breaker.failure_threshold, own.breaker.timeout_s), (7, 5));
        assert_eq!(own.debounce, DebounceRules { debounce_s: 90, debounce_count: 1 });
        assert_eq!(rules.probe("saturn/mosquitto/plain"), &rules.probe_defaults);
        assert_eq!(rules.declared_probes.len(), 2);
    }

    /// The SPEC §6 table, written out again here on purpose: a default
    /// changed in `config::defaults` must be a decision, not a slip.
    #[test]
    fn the_default_alert_rules_are_the_spec_table() {
        use crate::event::Severity::{Critical, Error, Warning};
        let alerts = Rules::default().alerts;
        assert_eq!((alerts.cooldown_s, alerts.ttl_s, alerts.notifications_per_hour), (300, 3600, 0));
        assert_eq!(alerts.node_stale_after_s, 300);
        let plain = |for_s: u64, severity| RuleSettings {
            enabled: true,
            for_s,
            keep_firing_for_s: 0,
            severity,
            max_running_s: 0,
            max_failed: 0,
            max_ratio_bp: 0,
            min_checks: 0,
            window_s: 0,
            flap_high_bp: 0,
            flap_low_bp: 0,
        };
        let expected = [
            (Rule::NodeDown, plain(0, Some(Critical))),
            (Rule::NodeStale, plain(0, Some(Error))),
            (Rule::ServiceUnhealthy, plain(0, None)),
            (Rule::ServiceDegraded, plain(300, Some(Warning))),
            (Rule::BreakerOpen, plain(300, Some(Error))),
            (Rule::DeploymentStuck, RuleSettings { max_running_s: 3600, ..plain(0, Some(Warning)) }),
            (Rule::DeploymentFailures, RuleSettings { max_failed: 2, window_s: 3600, ..plain(0, Some(Error)) }),
            (
                Rule::FailureRate,
                RuleSettings { max_ratio_bp: 2000, min_checks: 10, window_s: 3600, ..plain(0, Some(Warning)) },
            ),
            (Rule::DiskLow, plain(0, None)),
            (Rule::Flapping, RuleSettings { flap_high_bp: 2000, flap_low_bp: 500, ..plain(0, Some(Warning)) }),
        ];
        assert_eq!(alerts.rules, expected.into_iter().collect());
        assert!(alerts.service_overrides.is_empty() && alerts.node_depends_on.is_empty());
    }

    #[test]
    fn config_and_inventory_make_the_alert_rules() {
        let config = Config::parse(
            "nodes: {stale_after_s: 90}\nbudgets: {notifications_per_hour: 30}\n\
             alerts:\n  cooldown_s: 60\n  rules:\n    failure_rate: {max_ratio: 0.35}\n    flapping: {high: 12.5}\n",
            Path::new("observer.yaml"),
        )
        .unwrap();
        let mut inventory = Inventory::default();
        inventory.node_depends_on.insert("saturn".into(), vec!["mars".into()]);
        inventory.service_depends_on.insert("saturn/zigbee2mqtt".into(), vec!["saturn/mosquitto".into()]);
        let over = AlertOverride { for_s: Some(600), max_ratio: Some(0.5), ..AlertOverride::default() };
        inventory.service_alerts.insert("saturn/mosquitto".into(), [(Rule::FailureRate, over)].into());
        let alerts = build(&config, &inventory).alerts;
        assert_eq!((alerts.cooldown_s, alerts.ttl_s, alerts.notifications_per_hour), (60, 3600, 30));
        assert_eq!(alerts.node_stale_after_s, 90);
        let rate = alerts.settings(Rule::FailureRate, None);
        assert_eq!((rate.max_ratio_bp, rate.min_checks, rate.for_s), (3500, 10, 0), "unset keys keep the default");
        assert_eq!(alerts.settings(Rule::Flapping, None).flap_high_bp, 1250);
        let mosquitto = alerts.settings(Rule::FailureRate, Some("saturn/mosquitto"));
        assert_eq!((mosquitto.max_ratio_bp, mosquitto.min_checks, mosquitto.for_s), (5000, 10, 600));
        assert_eq!(alerts.node_depends_on["saturn"], vec!["mars".to_string()]);
        assert_eq!(alerts.service_depends_on["saturn/zigbee2mqtt"], vec!["saturn/mosquitto".to_string()]);
    }

    #[test]
    fn a_services_runbook_wins_over_its_rules() {
        let config = Config::parse(
            "alerts:\n  rules:\n    service_unhealthy: {runbook: \"https://wiki.lan/unhealthy\"}\n",
            Path::new("observer.yaml"),
        )
        .unwrap();
        let mut inventory = Inventory::default();
        inventory.service_runbooks.insert("jupiter/nextcloud".into(), "runbooks/nextcloud.md".into());
        let alerts = build(&config, &inventory).alerts;
        let unhealthy = Rule::ServiceUnhealthy;
        assert_eq!(alerts.runbook(unhealthy, Some("jupiter"), Some("nextcloud")), Some("runbooks/nextcloud.md"));
        assert_eq!(alerts.runbook(unhealthy, Some("saturn"), Some("mosquitto")), Some("https://wiki.lan/unhealthy"));
        assert_eq!(alerts.runbook(Rule::NodeDown, Some("saturn"), None), None, "no runbook for the rule");
        assert_eq!(
            alerts.runbook(Rule::BreakerOpen, Some("jupiter"), Some("nextcloud")),
            Some("runbooks/nextcloud.md")
        );
    }

    #[test]
    fn the_escalations_are_the_channels_distinct_after_s() {
        let hook = "hook: [\"true\"]";
        let config = Config::parse(
            &format!(
                "notify:\n  channels:\n    - {{name: a, {hook}}}\n    - {{name: b, {hook}, after_s: 1800}}\n    \
                 - {{name: c, {hook}, after_s: 600}}\n    - {{name: d, {hook}, after_s: 1800}}\n"
            ),
            Path::new("observer.yaml"),
        )
        .unwrap();
        assert_eq!(build(&config, &Inventory::default()).alerts.escalations_s, vec![600, 1800]);
    }
}
