//! The conditions of the rules of SPEC §6, read from the engine's state: for
//! one rule and one subject, at one instant, whether it holds, since when,
//! how severe, and one line for people.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::watch::{NodeWatch, ServiceWatch};
use super::{AlertRules, Rule, RuleSettings};
use crate::engine::{
    BreakerState, Deployment, DeploymentStatus, Incident, Keyed, NodeState, NodeStatus, ProbeState, ServiceState,
    ServiceStatus,
};
use crate::event::{Outcome, Severity};
use crate::time::Ts;

/// The engine state the conditions read.
#[derive(Clone, Copy)]
pub struct Facts<'a> {
    pub nodes: &'a Keyed<NodeState>,
    pub services: &'a Keyed<ServiceState>,
    pub incidents: &'a Keyed<Box<Incident>>,
    pub deployments: &'a Keyed<Deployment>,
    pub probes: &'a BTreeMap<String, ProbeState>,
}

/// A condition that holds; its one line for people is written into the
/// buffer given to [`evaluate`], so that an evaluation that changes nothing
/// (the summary the alert already shows) allocates nothing.
#[derive(Debug)]
pub struct Holds {
    /// When it began to hold: the instant itself for time-driven ones.
    pub since: Ts,
    pub severity: Severity,
}

/// Who an alert is about, besides its key.
#[derive(Debug, Default)]
pub struct Subject {
    pub node: Option<String>,
    pub service: Option<String>,
}

/// The rule and the subject of a key `<rule>:<subject>`.
pub fn split_key(key: &str) -> Option<(Rule, &str)> {
    let (rule, subject) = key.split_once(':')?;
    Some((Rule::from_name(rule)?, subject))
}

/// The service (`node/service`) a subject belongs to, for its overrides.
pub fn service_of(rule: Rule, subject: &str) -> Option<&str> {
    match rule {
        Rule::ServiceUnhealthy | Rule::ServiceDegraded | Rule::FailureRate | Rule::Flapping => Some(subject),
        Rule::BreakerOpen | Rule::DiskLow => subject.rfind('/').map(|at| &subject[..at]),
        _ => None,
    }
}

/// The node and service of a subject.
pub fn subject(rule: Rule, subject: &str, facts: &Facts) -> Subject {
    let mut parts = subject.split('/');
    match rule {
        Rule::NodeDown | Rule::NodeStale | Rule::DeploymentFailures => {
            Subject { node: Some(subject.to_string()), service: None }
        }
        Rule::DeploymentStuck => facts
            .deployments
            .get(subject)
            .map(|d| Subject {
                node: d.node.as_deref().map(str::to_string),
                service: d.service.as_deref().map(str::to_string),
            })
            .unwrap_or_default(),
        _ => Subject { node: parts.next().map(str::to_string), service: parts.next().map(str::to_string) },
    }
}

/// Whether a node is stale at `now`: up, with no heartbeat for more than
/// `stale_after_s`.
pub fn stale_from(node: &NodeState, stale_after_s: u64) -> Option<Ts> {
    match (node.status, node.last_seen) {
        (NodeStatus::Up, Some(seen)) => Some(just_after(seen.plus_seconds(stale_after_s))),
        _ => None,
    }
}

/// When a run counts as stuck: the first instant after its start plus
/// `max_running_s` ("running longer than"); none without a start.
pub fn stuck_from(run: &Deployment, max_running_s: u64) -> Option<Ts> {
    run.started_at.map(|started| just_after(started.plus_seconds(max_running_s)))
}

/// The per-subject state the alert engine keeps itself.
pub struct Kept<'a> {
    pub nodes: &'a Keyed<NodeWatch>,
    pub services: &'a Keyed<ServiceWatch>,
}

/// Whether `rule` holds for `subject` at `now`; when it does, `summary`
/// (cleared first) holds its line for people.
#[allow(clippy::too_many_arguments)]
pub fn evaluate(
    rule: Rule,
    subject: &str,
    settings: &RuleSettings,
    rules: &AlertRules,
    facts: &Facts,
    kept: &Kept,
    now: Ts,
    summary: &mut String,
) -> Option<Holds> {
    if !settings.enabled {
        return None;
    }
    summary.clear();
    let severity = |default: Severity| settings.severity.unwrap_or(default);
    let holds = |severity: Severity, _written: std::fmt::Result| Some(Holds { since: now, severity });
    match rule {
        Rule::NodeDown => {
            let node = facts.nodes.get(subject)?;
            (node.status == NodeStatus::Down).then_some(())?;
            push(summary, &["node ", subject, " is down"]);
            holds(severity(Severity::Critical), Ok(()))
        }
        Rule::NodeStale => {
            let since = stale_from(facts.nodes.get(subject)?, rules.node_stale_after_s)?;
            (since <= now).then_some(())?;
            let _ = write!(summary, "node {subject} sent no heartbeat for over {}s", rules.node_stale_after_s);
            Some(Holds { since, severity: severity(Severity::Error) })
        }
        Rule::ServiceUnhealthy => {
            let state = facts.services.get(subject)?;
            (state.status == ServiceStatus::Unhealthy).then_some(())?;
            let incident = state.active_incident.as_ref().and_then(|id| facts.incidents.get(id));
            match incident {
                Some(incident) => push(summary, &[subject, " is unhealthy (incident ", &incident.id, ")"]),
                None => push(summary, &[subject, " is unhealthy"]),
            }
            holds(severity(incident.map_or(Severity::Error, |i| i.severity)), Ok(()))
        }
        Rule::ServiceDegraded => {
            (facts.services.get(subject)?.status == ServiceStatus::Degraded).then_some(())?;
            push(summary, &[subject, " is degraded"]);
            holds(severity(Severity::Warning), Ok(()))
        }
        Rule::BreakerOpen => {
            let state = facts.probes.get(subject)?.breaker.state;
            let name = match state {
                BreakerState::Closed => return None,
                BreakerState::Open => "open",
                BreakerState::HalfOpen => "half-open",
            };
            holds(severity(Severity::Error), write!(summary, "the circuit breaker of {subject} is {name}"))
        }
        Rule::DeploymentStuck => {
            let run = facts.deployments.get(subject)?;
            (run.status == DeploymentStatus::Running).then_some(())?;
            let since = stuck_from(run, settings.max_running_s)?;
            (since <= now).then_some(())?;
            let _ = write!(summary, "deployment {subject} has been running for over {}s", settings.max_running_s);
            Some(Holds { since, severity: severity(Severity::Warning) })
        }
        Rule::DeploymentFailures => {
            let failed = kept.nodes.get(subject)?.failures.len();
            (failed > settings.max_failed as usize).then_some(())?;
            push_number(summary, failed as u64);
            push(summary, &[" deployments failed on ", subject, " within "]);
            push_number(summary, settings.window_s);
            summary.push('s');
            holds(severity(Severity::Error), Ok(()))
        }
        Rule::FailureRate => {
            let watch = kept.services.get(subject)?;
            let checks = watch.checks.len() as u64;
            let failing = u64::from(watch.failed) * 10_000 > u64::from(settings.max_ratio_bp) * checks;
            (checks >= u64::from(settings.min_checks) && failing).then_some(())?;
            push_number(summary, u64::from(watch.failed));
            summary.push_str(" of ");
            push_number(summary, checks);
            push(summary, &[" checks of ", subject, " failed within "]);
            push_number(summary, settings.window_s);
            summary.push('s');
            holds(severity(Severity::Warning), Ok(()))
        }
        Rule::DiskLow => {
            let probe = facts.probes.get(subject)?;
            let is_disk = probe.probe == "disk" || rules.disk_probes.contains(subject);
            let outcome = probe.last_outcome.filter(|_| is_disk)?;
            let (default, word) = match outcome {
                Outcome::Warning => (Severity::Warning, "warning"),
                Outcome::Critical => (Severity::Critical, "critical"),
                _ => return None,
            };
            let mut written = write!(summary, "disk probe {subject} reports {word}");
            if let Some(detail) = probe.last_detail.as_deref() {
                written = write!(summary, ": {detail}");
            }
            holds(severity(default), written)
        }
        Rule::Flapping => {
            let watch = kept.services.get(subject)?;
            watch.flapping.then_some(())?;
            push(summary, &[subject, " is flapping ("]);
            push_basis_points(summary, watch.change_bp);
            summary.push_str("% state change)");
            holds(severity(Severity::Warning), Ok(()))
        }
    }
}

/// Appends `parts` to a summary: the summaries of the conditions that hold
/// on every event of a failing service are pieced together rather than
/// formatted (the formatting machinery was ~2 % of the busy rebuild's fold
/// thread); the text is the same.
fn push(summary: &mut String, parts: &[&str]) {
    for part in parts {
        summary.push_str(part);
    }
}

/// Appends `n` in decimal, as `{}` writes it.
fn push_number(summary: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &digit in &digits[at..] {
        summary.push(char::from(digit));
    }
}

/// Appends basis points as a percentage with two decimals (`12.05`).
fn push_basis_points(summary: &mut String, bp: u32) {
    let (whole, part) = (bp / 100, bp % 100);
    push_number(summary, u64::from(whole));
    summary.push_str(if part < 10 { ".0" } else { "." });
    push_number(summary, u64::from(part));
}

/// The first instant after `at` ("longer than"), never past [`Ts::MAX`] so
/// that every deadline can be written in the checkpoint.
pub fn just_after(at: Ts) -> Ts {
    Ts(at.0.saturating_add(1).min(Ts::MAX.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_is_written_as_format_writes_it() {
        let mut numbers = vec![0, 1, 9, 10, 99, 100, 101, 999, 1_000, 86_400, u64::from(u32::MAX), u64::MAX];
        numbers.extend((0..64).map(|shift| (1u64 << shift) - 1));
        for n in numbers {
            let mut written = String::from("x");
            push_number(&mut written, n);
            assert_eq!(written, format!("x{n}"));
        }
    }

    #[test]
    fn basis_points_are_written_as_format_wrote_them() {
        for bp in [0u32, 5, 9, 10, 99, 100, 105, 1_234, 9_999, 10_000] {
            let mut written = String::new();
            push_basis_points(&mut written, bp);
            let (whole, part) = (bp / 100, bp % 100);
            assert_eq!(written, format!("{whole}.{part:02}"));
        }
    }
}
