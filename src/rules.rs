//! The one builder of the engine's rules: the config's thresholds, with each
//! probe's own `breaker:` and `debounce:` settings from the inventory
//! replacing the config's key by key. The engine knows neither file; the
//! config and the inventory know nothing of the engine's rules.
//!
//! The engine's rule types take their `Default` from here too, so that
//! `Rules::default()` is always the built-in config with no inventory: the
//! values are written once, in `config::defaults`.

use crate::config::{BreakerConfig, Config};
use crate::engine::alerts::{AlertRules, Rule, RuleSettings};
use crate::engine::{BreakerRules, DebounceRules, ProbeRules, Rules};
use crate::event::Severity;
use crate::inventory::{BreakerOverrides, Check, DebounceOverrides, Inventory, ProbeDef};

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
        probe_defaults,
        probes,
        probe_runs_per_minute: config.budgets.probe_runs_per_minute,
        declared_probes: inventory.probes.iter().map(ProbeDef::key).collect(),
        alerts: alert_rules(config, inventory),
    }
}

/// The alert rules with the defaults of SPEC §6. Placeholder until the
/// `alerts:` config section, `depends_on` and per-service overrides are
/// read (issue 12, "alertcfg"), which replaces it.
fn alert_rules(config: &Config, inventory: &Inventory) -> AlertRules {
    let rule = |for_s: u64, severity: Option<Severity>| RuleSettings {
        enabled: true,
        for_s,
        keep_firing_for_s: 0,
        severity,
        max_running_s: 3600,
        max_failed: 2,
        max_ratio_bp: 2000,
        min_checks: 10,
        window_s: 3600,
        flap_high_bp: 2000,
        flap_low_bp: 500,
    };
    let rules = Rule::ALL
        .into_iter()
        .map(|r| {
            let settings = match r {
                Rule::NodeDown => rule(0, Some(Severity::Critical)),
                Rule::NodeStale => rule(0, Some(Severity::Error)),
                Rule::ServiceUnhealthy | Rule::DiskLow => rule(0, None),
                Rule::ServiceDegraded => rule(300, Some(Severity::Warning)),
                Rule::BreakerOpen => rule(300, Some(Severity::Error)),
                Rule::DeploymentFailures => rule(0, Some(Severity::Error)),
                Rule::DeploymentStuck | Rule::FailureRate | Rule::Flapping => rule(0, Some(Severity::Warning)),
            };
            (r, settings)
        })
        .collect();
    AlertRules {
        cooldown_s: 300,
        ttl_s: 3600,
        notifications_per_hour: 30,
        node_stale_after_s: config.nodes.stale_after_s,
        rules,
        service_overrides: Default::default(),
        node_depends_on: Default::default(),
        service_depends_on: Default::default(),
        disk_probes: inventory.probes.iter().filter(|p| matches!(p.check, Check::Disk(_))).map(ProbeDef::key).collect(),
    }
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
}
