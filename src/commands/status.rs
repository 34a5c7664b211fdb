//! `observer status`: the world at a glance, for a person (or `--json`).
//!
//! It reads the world files and `state/last-run.json` only — never the events —
//! so it is instant and never competes with a running pass for the lock. The
//! world files are read through the views that write them (`world::read`), so
//! what it shows cannot drift from what the files hold. `--node` and
//! `--service` narrow it (see `filter`).

use std::collections::BTreeSet;

use anyhow::{Result, bail};
use serde::Serialize;
use serde_json::Value;

use super::context::Context;
use super::filter::{self, Subject};
use super::{alert_line, count, print, shown, warn, word};
use crate::cli::StatusArgs;
use crate::engine::alerts::AlertStatus;
use crate::engine::{DeploymentStatus, EventStats, Incident, IncidentStatus, NodeStatus, ServiceStatus};
use crate::notify::ledger;
use crate::notify::report::{DeadLetter, DeliveryReport, LeftOpen};
use crate::store::events::Reject;
use crate::store::rejects::recorded_rejects;
use crate::time::Ts;
use crate::world::AlertView;
use crate::world::{
    self, AlertCounts, AlertsFile, DeploymentView, DeploymentsFile, IncidentsFile, NodeCounts, NodesFile,
    OverallHealth, ServiceCounts, ServiceView, ServicesFile, Summary,
};

pub fn execute(context: &Context, args: &StatusArgs) -> Result<i32> {
    let dirs = &context.dirs;
    // All files from one generation, even while runs write the next ones.
    let (summary, services, incidents, deployments, nodes, alerts) = world::read_whole(&dirs.world, |generation| {
        (
            world::read::<Summary>(generation),
            world::read::<ServicesFile>(generation),
            world::read::<IncidentsFile>(generation),
            world::read::<DeploymentsFile>(generation),
            world::read::<NodesFile>(generation),
            world::read::<AlertsFile>(generation),
        )
    });
    let Some(summary) = summary else {
        bail!("no world in {} yet; run `observer run` (or `observer rebuild`) first", shown(&dirs.world));
    };
    // A file that is missing or unreadable shows as empty: the summary alone
    // still answers "is everything fine?".
    let mut services = services.map(|f| f.services).unwrap_or_default();
    let mut incidents = incidents.map(|f| f.incidents).unwrap_or_default();
    let mut deployments = deployments.map(|f| f.deployments).unwrap_or_default();
    let mut nodes = nodes.map(|f| f.nodes).unwrap_or_default();
    let mut alerts = alerts.map(|f| f.alerts).unwrap_or_default();
    let subject = Subject::new(args.node.as_deref(), args.service.as_deref());
    let (summary_nodes, summary_services, summary_alerts, overall_health) = if subject.is_everything() {
        (summary.nodes, summary.services, summary.alerts, summary.overall_health)
    } else {
        let known_nodes: BTreeSet<&str> = nodes.keys().map(|n| n.as_ref()).collect();
        let known_services: BTreeSet<&str> = services.values().map(|s| s.state.service.as_str()).collect();
        for note in subject.unknown_notes(&known_nodes, &known_services) {
            warn(&note);
        }
        services.retain(|_, s| subject.matches(Some(&s.state.node), Some(&s.state.service)));
        // With --service alone, the nodes are those that run it.
        let of_services: BTreeSet<String> = services.values().map(|s| s.state.node.clone()).collect();
        nodes.retain(|name, _| match (&subject.node, &subject.service) {
            (Some(node), _) => name.as_ref() == node.as_str(),
            (None, _) => of_services.contains(name.as_ref()),
        });
        incidents.retain(|_, i| subject.matches(Some(&i.node), Some(&i.service)));
        deployments.retain(|_, d| subject.matches(d.node.as_deref(), d.service.as_deref()));
        alerts.retain(|_, a| subject.matches(a.node.as_deref(), a.service.as_deref()));
        let service_counts = filter::service_counts(services.values().map(|s| s.state.status));
        let overall = world::overall_health(&service_counts);
        (
            filter::node_counts(nodes.values().map(|n| n.status)),
            service_counts,
            filter::alert_counts(alerts.values(), summary.alerts.notifications_waiting),
            overall,
        )
    };
    // Facts about the last run are not a world file; they are shown as written.
    let last_run: Value =
        std::fs::read(dirs.last_run()).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or(Value::Null);
    let rejects = recorded_rejects(dirs);
    let now = context.now()?;

    let not_healthy: Vec<&ServiceView> =
        services.values().filter(|s| s.state.status != ServiceStatus::Healthy).collect();
    let problem_nodes: Vec<NodeNotUp> = nodes
        .iter()
        .filter(|(_, n)| n.status != NodeStatus::Up)
        .map(|(name, n)| NodeNotUp { node: name, status: n.status, last_seen: n.last_seen })
        .collect();
    let active: Vec<&Incident> =
        incidents.values().filter(|i| i.status == IncidentStatus::Active).map(|i| &**i).collect();
    let running: Vec<&DeploymentView> =
        deployments.values().filter(|d| d.status == DeploymentStatus::Running).collect();
    let mut firing: Vec<&AlertView> = alerts.values().filter(|a| a.status == AlertStatus::Firing).collect();
    firing.sort_by(|a, b| (a.priority, &a.key).cmp(&(b.priority, &b.key)));
    // The config only names the channels: one that does not read hides
    // the removed-channel lines, never the status.
    let channels = context.config().ok().map(|config| config.notify.channels);
    let delivery = DeliveryReport::read(&dirs.state, channels.as_deref()).unwrap_or_default();
    let last_run_at = last_run["started_at"].as_str().and_then(|t| Ts::parse(t).ok());
    let as_of = summary.as_of;
    let relays: Vec<RelayJson> = crate::nats::lag::relays(&dirs.state, &dirs.events)
        .unwrap_or_default()
        .into_iter()
        .map(|r| RelayJson {
            lag: r.lag(),
            stream: r.stream,
            consumer: r.consumer,
            seq: r.seq,
            stream_last_seq: r.stream_last_seq,
            updated: r.updated,
        })
        .collect();

    if args.json {
        let out = StatusJson {
            overall_health,
            filter: (!subject.is_everything()).then_some(&subject),
            as_of,
            last_run: &last_run,
            seconds_since_last_run: last_run_at.map(|at| (now.0 - at.0) / 1000),
            seconds_behind: as_of.map(|at| (now.0 - at.0) / 1000),
            nodes: &summary_nodes,
            services: &summary_services,
            nodes_not_up: &problem_nodes,
            services_not_healthy: &not_healthy,
            active_incidents: &active,
            running_deployments: &running,
            alerts: &summary_alerts,
            firing_alerts: &firing,
            dead_letters: &delivery.dead_letters,
            pages_left_open: &delivery.pages_left_open,
            events: &summary.events,
            recent_rejects: rejects.iter().rev().take(10).collect(),
            nats: &relays,
        };
        print(&String::from_utf8_lossy(&world::render(&out)?))?;
        return Ok(crate::exit::SUCCESS);
    }

    let mut text = String::new();
    let heading = if subject.is_everything() { String::new() } else { format!(" ({})", subject.describe()) };
    text.push_str(&format!("overall health{heading}: {}\n", word(overall_health)));
    text.push_str(&format!(
        "world as of {} ({}); last run {}\n",
        as_of.map_or("never".into(), |t| t.to_string()),
        as_of.map_or("no events yet".into(), |t| against_wall_clock(now, t)),
        last_run_at.map_or("unknown".into(), |t| match t.0 - now.0 >= 1000 {
            true => against_wall_clock(now, t),
            false => format!("{} ago", ago(now, t)),
        }),
    ));
    let n = &summary_nodes;
    text.push_str(&format!(
        "nodes: {} total, {} up, {} down, {} stale, {} unknown\n",
        n.total, n.up, n.down, n.stale, n.unknown
    ));
    for node in &problem_nodes {
        text.push_str(&format!(
            "  {}: {} (last seen {})\n",
            node.node,
            word(node.status),
            node.last_seen.map_or("never".into(), |t| t.to_string())
        ));
    }
    text.push_str(&services_line(&summary_services));
    for service in &not_healthy {
        let state = &service.state;
        text.push_str(&format!(
            "  {}/{}: {}{}\n",
            state.node,
            state.service,
            word(state.status),
            state.since.map(|t| format!(" since {t}")).unwrap_or_default(),
        ));
    }
    text.push_str(&format!("active incidents: {}\n", active.len()));
    for incident in &active {
        text.push_str(&format!(
            "  {} ({}, {} since {})\n",
            incident.id,
            word(incident.severity),
            count(incident.occurrence_count, "occurrence"),
            incident.started_at,
        ));
    }
    text.push_str(&format!("running deployments: {}\n", running.len()));
    for run in &running {
        text.push_str(&format!(
            "  {} ({}/{}, started {})\n",
            run.correlation_id,
            run.node.as_deref().unwrap_or("-"),
            run.service.as_deref().unwrap_or("-"),
            run.started_at.map_or("unknown".into(), |t| t.to_string()),
        ));
    }
    text.push_str(&alerts_lines(&firing, &summary_alerts));
    let events: &EventStats = &summary.events;
    text.push_str(&format!(
        "events: {} folded, {} rejected, {}, {} late\n",
        events.total,
        events.rejected,
        count(events.duplicates, "duplicate"),
        events.late
    ));
    if let Some(last) = rejects.last() {
        text.push_str(&format!(
            "  last rejected: {}:{}: {} (`observer validate` lists all)\n",
            shown(&dirs.events.join(&last.file)),
            last.line,
            last.reason
        ));
    }
    text.push_str(&delivery.lines(&shown(&ledger::path(&dirs.state))));
    for relay in &relays {
        text.push_str(&format!(
            "nats: stream {} (consumer {}): relayed through {} of {}, lag {} (as of {})\n",
            relay.stream, relay.consumer, relay.seq, relay.stream_last_seq, relay.lag, relay.updated
        ));
    }
    print(&text)?;
    Ok(crate::exit::SUCCESS)
}

/// The services line. `circuit_open` is named only when a breaker holds a
/// service there, so the line stays as short as it was for a world without
/// probes.
fn services_line(s: &ServiceCounts) -> String {
    let circuit_open = if s.circuit_open > 0 { format!(", {} circuit_open", s.circuit_open) } else { String::new() };
    format!(
        "services: {} total, {} healthy, {} degraded, {} unhealthy, {} unknown{circuit_open}\n",
        s.total, s.healthy, s.degraded, s.unhealthy, s.unknown
    )
}

/// The firing alerts (suppressed ones with the reason) and the held
/// notifications. Named only when there are any, so that the status of a
/// world where nothing fires stays as short as it was.
fn alerts_lines(firing: &[&AlertView], counts: &AlertCounts) -> String {
    let mut text = String::new();
    if !firing.is_empty() {
        let suppressed = firing.iter().filter(|a| a.suppressed_by.is_some()).count();
        let note = if suppressed > 0 { format!(" ({suppressed} suppressed)") } else { String::new() };
        text.push_str(&format!(
            "firing alerts: {}{note}
",
            firing.len()
        ));
        for alert in firing {
            text.push_str(&alert_line(alert, alert.fired_at.map(|t| format!("fired {t}"))));
        }
    }
    if counts.notifications_waiting > 0 {
        text.push_str(&format!(
            "notifications held: {} (waiting on a cooldown or the notification budget)
",
            counts.notifications_waiting
        ));
    }
    text
}

/// `status --json`: the field order is the output's.
#[derive(Serialize)]
struct StatusJson<'a> {
    overall_health: OverallHealth,
    /// `--node` and `--service`, when given: the counts, lists and overall
    /// health are then of what matches (events and rejects stay global).
    #[serde(skip_serializing_if = "Option::is_none")]
    filter: Option<&'a Subject>,
    as_of: Option<Ts>,
    last_run: &'a Value,
    seconds_since_last_run: Option<i64>,
    seconds_behind: Option<i64>,
    nodes: &'a NodeCounts,
    services: &'a ServiceCounts,
    nodes_not_up: &'a [NodeNotUp<'a>],
    services_not_healthy: &'a [&'a ServiceView<'static>],
    active_incidents: &'a [&'a Incident],
    running_deployments: &'a [&'a DeploymentView<'static>],
    alerts: &'a AlertCounts,
    /// Firing alerts, most severe first; suppressed ones say why.
    firing_alerts: &'a [&'a AlertView],
    /// Notifications given up on, one per channel and id (see `notify::report`).
    dead_letters: &'a [DeadLetter],
    /// Pages open on channels the config no longer has.
    pages_left_open: &'a [LeftOpen],
    events: &'a EventStats,
    recent_rejects: Vec<&'a Reject>,
    /// The NATS relays of this root (`state/nats-*.json`), when any ran.
    #[serde(skip_serializing_if = "<[RelayJson]>::is_empty")]
    nats: &'a [RelayJson],
}

/// A NATS relay as `status --json` shows it: the stream's last sequence
/// and the relayed one as the relay last saw them, and their difference.
#[derive(Serialize)]
struct RelayJson {
    stream: String,
    consumer: String,
    seq: u64,
    stream_last_seq: u64,
    lag: u64,
    updated: String,
}

#[derive(Serialize)]
struct NodeNotUp<'a> {
    node: &'a str,
    status: NodeStatus,
    last_seen: Option<Ts>,
}

/// How far `then` lies behind the wall clock `now`, or ahead of it: a
/// producer whose clock runs ahead, a wall clock set back, or
/// `OBSERVER_NOW` puts the world (or the last run) in the wall clock's
/// future, and that is said as such ("5m ahead of the wall clock").
fn against_wall_clock(now: Ts, then: Ts) -> String {
    match then.0 - now.0 >= 1000 {
        true => format!("{} ahead of the wall clock", ago(then, now)),
        false => format!("{} behind the wall clock", ago(now, then)),
    }
}

/// A rough human duration from `then` to the later `now`: "42s", "5m",
/// "3h", "2d".
fn ago(now: Ts, then: Ts) -> String {
    let seconds = ((now.0 - then.0) / 1000).max(0);
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}
