//! `world/metrics.prom` (SPEC §9): the world and the observer's own health
//! in the Prometheus text format, for node_exporter's textfile collector
//! (and later `watch --listen`'s `/metrics`). HELP and TYPE lines, base
//! units (seconds, ratios), counters ending in `_total`, no timestamps.
//!
//! It is rendered from what the pass just wrote, read back through the
//! views that wrote it (`runtime-summary.json`, `services.json`), so it
//! never disagrees with the world files; plus the committed outbox
//! (notifications by kind), the ledger (failed and dead-lettered
//! deliveries) and the facts of the run itself. Those last two — the run's
//! duration and the time of its success — make it the one world file that
//! a rebuild does not reproduce byte for byte (guarantee 2 leaves it out).
//!
//! The notifications by kind are counted as the fold commits them and kept
//! in the checkpoint's header, so a run that folds nothing reads neither
//! the outbox nor the checkpoint's engine state for them (a checkpoint
//! written before that count was kept has the outbox counted instead). The
//! ledger is read whole, as delivery reads it each round: it only grows
//! when notifications are delivered.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::dirs::Dirs;
use crate::engine::BreakerState;
use crate::engine::alerts::NotificationKind;
use crate::notify::ledger;
use crate::store::atomic::write_if_changed;
use crate::store::outbox;
use crate::time::Ts;
use crate::world::{self, ServicesFile, Summary, WorldFile as _};

pub const FILE_NAME: &str = "metrics.prom";

/// The facts of the run that writes the file.
#[derive(Clone, Copy, Debug)]
pub struct RunFacts {
    /// When the run started (the wall clock, or `OBSERVER_NOW`).
    pub started_at: Ts,
    /// From its start to the writing of this file.
    pub duration_s: f64,
}

/// What the file is rendered from, besides the world files. `None` when
/// its source could not be read: those samples are left out (the family
/// stays, empty), and the run says why, since delivery problems must not
/// fail a run that committed.
#[derive(Debug, Default)]
pub struct Tallies {
    /// Notifications the fold decided (the committed outbox), by kind.
    pub notifications: Option<BTreeMap<NotificationKind, u64>>,
    /// Delivery attempts that failed (to be retried, or given up), and the
    /// notifications given up on a channel.
    pub deliveries: Option<(u64, u64)>,
    /// The NATS relays of this state directory (`state/nats-*.json`).
    pub relays: Vec<crate::nats::log::RelayState>,
}

/// Why the file could not be written. The pass was committed before.
#[derive(Debug)]
pub enum MetricsError {
    /// A world file the pass wrote does not read back.
    World {
        path: PathBuf,
    },
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
}

impl std::fmt::Display for MetricsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MetricsError::World { path } => write!(f, "cannot write metrics: {} does not read back", path.display()),
            MetricsError::Io { path, error } => write!(f, "cannot write {}: {error}", path.display()),
        }
    }
}

impl std::error::Error for MetricsError {}

/// Renders the metrics of the world in `dirs.world` and writes them to
/// `world/metrics.prom` by rename. Returns what could not be counted, for
/// warnings.
pub fn write(
    dirs: &Dirs,
    run: RunFacts,
    notified: Option<&BTreeMap<NotificationKind, u64>>,
) -> Result<Vec<String>, MetricsError> {
    let read_back = |name: &str| MetricsError::World { path: dirs.world.join(name) };
    let read = |generation: &Path| (world::read::<Summary>(generation), world::read::<ServicesFile>(generation));
    let (summary, services) = world::read_whole(&dirs.world, read);
    let summary = summary.ok_or_else(|| read_back(Summary::NAME))?;
    let services = services.ok_or_else(|| read_back(ServicesFile::NAME))?;
    let mut problems = Vec::new();
    let notifications = count_notifications(dirs, notified).map_err(|why| problems.push(why)).ok();
    let deliveries = count_deliveries(dirs).map_err(|why| problems.push(why)).ok();
    let path = dirs.world.join(FILE_NAME);
    let relays = crate::nats::lag::relays(&dirs.state, &dirs.events)
        .map_err(|e| problems.push(format!("NATS lag not reported: {e:#}")))
        .unwrap_or_default();
    let text = render(&summary, &services, &Tallies { notifications, deliveries, relays }, run);
    write_if_changed(&path, text.as_bytes()).map_err(|error| MetricsError::Io { path, error })?;
    Ok(problems)
}

/// The committed outbox, by kind: as the checkpoint counted them, or
/// counted from the outbox when it did not.
fn count_notifications(
    dirs: &Dirs,
    counted: Option<&BTreeMap<NotificationKind, u64>>,
) -> Result<BTreeMap<NotificationKind, u64>, String> {
    outbox::committed_by_kind(&dirs.state, counted).map_err(|e| format!("notifications not counted: {e}"))
}

/// The ledger's failed attempts and dead letters, as its fold counts them
/// ([`ledger::Ledger::failures`]: from each notification's highest
/// attempt number, so that they only grow when compaction drops retries).
fn count_deliveries(dirs: &Dirs) -> Result<(u64, u64), String> {
    ledger::Ledger::load(&dirs.state)
        .map(|ledger| ledger.failures())
        .map_err(|e| format!("deliveries not counted: cannot read {}: {e}", ledger::path(&dirs.state).display()))
}

/// The exposition text. Every family is always there, with every status,
/// severity and kind, so that the shape does not change with the world.
pub fn render(summary: &Summary, services: &ServicesFile, tallies: &Tallies, run: RunFacts) -> String {
    let mut out = Exposition::default();
    let n = &summary.nodes;
    out.family("observer_nodes", "gauge", "Nodes by status.");
    for (status, count) in [("up", n.up), ("down", n.down), ("stale", n.stale), ("unknown", n.unknown)] {
        out.sample("observer_nodes", &[("status", status)], count as f64);
    }
    let s = &summary.services;
    out.family("observer_services", "gauge", "Services by status.");
    for (status, count) in [
        ("healthy", s.healthy),
        ("degraded", s.degraded),
        ("unhealthy", s.unhealthy),
        ("unknown", s.unknown),
        ("circuit_open", s.circuit_open),
    ] {
        out.sample("observer_services", &[("status", status)], count as f64);
    }
    out.family("observer_incidents_active", "gauge", "Active incidents.");
    out.sample("observer_incidents_active", &[], summary.incidents.active as f64);

    let events = &summary.events;
    out.family("observer_events_total", "counter", "Events folded, by type (duplicates and rejected lines excluded).");
    for (kind, count) in events.by_type.iter() {
        out.sample("observer_events_total", &[("type", kind)], count as f64);
    }
    for (name, help, value) in [
        ("observer_events_rejected_total", "Event lines rejected (not valid events).", events.rejected),
        ("observer_events_late_total", "Events folded late: older than the engine clock when read.", events.late),
        ("observer_events_duplicates_total", "Events dropped as duplicates of an earlier id.", events.duplicates),
    ] {
        out.family(name, "counter", help);
        out.sample(name, &[], value as f64);
    }

    out.family("observer_probe_uptime_ratio", "gauge", "Share of a probe's executed checks that succeeded (0 to 1).");
    for view in services.services.values() {
        for (probe, p) in view.probes.iter().filter(|(_, p)| p.total > 0) {
            let labels = [("node", view.state.node.as_str()), ("service", &view.state.service), ("probe", probe)];
            out.sample("observer_probe_uptime_ratio", &labels, p.successful as f64 / p.total as f64);
        }
    }
    out.family("observer_breaker_state", "gauge", "Circuit breaker of each probe: 1 for the state it is in, 0 else.");
    for view in services.services.values() {
        for (probe, breaker) in &view.breaker {
            for (state, name) in
                [(BreakerState::Closed, "closed"), (BreakerState::Open, "open"), (BreakerState::HalfOpen, "half_open")]
            {
                let labels = [
                    ("node", view.state.node.as_str()),
                    ("service", &view.state.service),
                    ("probe", probe),
                    ("state", name),
                ];
                out.sample("observer_breaker_state", &labels, if breaker.state == state { 1.0 } else { 0.0 });
            }
        }
    }

    let f = &summary.alerts.firing_by_severity;
    out.family("observer_alerts_firing", "gauge", "Firing alerts, by severity.");
    for (severity, count) in [("critical", f.critical), ("error", f.error), ("warning", f.warning), ("info", f.info)] {
        out.sample("observer_alerts_firing", &[("severity", severity)], count as f64);
    }
    out.family("observer_notifications_total", "counter", "Notifications decided by the fold (the outbox), by kind.");
    if let Some(counts) = &tallies.notifications {
        for kind in [
            NotificationKind::Firing,
            NotificationKind::Reminder,
            NotificationKind::Resolved,
            NotificationKind::BudgetExhausted,
            NotificationKind::Escalation,
        ] {
            let count = counts.get(&kind).copied().unwrap_or(0);
            out.sample("observer_notifications_total", &[("kind", kind.name())], count as f64);
        }
    }
    let (failed, dead) = tallies.deliveries.map_or((None, None), |(f, d)| (Some(f), Some(d)));
    for (name, help, value) in [
        ("observer_deliveries_failed_total", "Delivery attempts that failed (retried later or given up).", failed),
        ("observer_deliveries_dead_lettered_total", "Notifications given up on a channel (dead letters).", dead),
    ] {
        out.family(name, "counter", help);
        if let Some(value) = value {
            out.sample(name, &[], value as f64);
        }
    }

    out.family("observer_run_duration_seconds", "gauge", "Wall time of the last successful run.");
    out.sample("observer_run_duration_seconds", &[], run.duration_s);
    out.family(
        "observer_last_success_timestamp_seconds",
        "gauge",
        "Start of the last successful run, in seconds since the Unix epoch.",
    );
    out.sample("observer_last_success_timestamp_seconds", &[], run.started_at.0 as f64 / 1000.0);
    out.family(
        "observer_nats_lag",
        "gauge",
        "Messages of a NATS stream not yet in the local log: its last sequence minus the relay's, as the relay last saw them.",
    );
    for relay in &tallies.relays {
        out.sample(
            "observer_nats_lag",
            &[("stream", &relay.stream), ("consumer", &relay.consumer)],
            relay.lag() as f64,
        );
    }
    out.family("observer_nats_relayed_sequence", "gauge", "Stream sequence of the last message the relay appended.");
    for relay in &tallies.relays {
        let labels = [("stream", relay.stream.as_str()), ("consumer", relay.consumer.as_str())];
        out.sample("observer_nats_relayed_sequence", &labels, relay.seq as f64);
    }
    out.text
}

/// The text format, written family by family.
#[derive(Default)]
struct Exposition {
    text: String,
}

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.text, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    /// One sample; label values are escaped (backslash, quote, newline).
    /// Rust prints floats without an exponent, as the format allows.
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.text.push_str(name);
        if !labels.is_empty() {
            let labels: Vec<String> = labels
                .iter()
                .map(|(key, value)| {
                    let value = value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
                    format!("{key}=\"{value}\"")
                })
                .collect();
            let _ = write!(self.text, "{{{}}}", labels.join(","));
        }
        let _ = writeln!(self.text, " {value}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_and_help_are_escaped() {
        let mut out = Exposition::default();
        out.family("x", "gauge", "a \\ b\nc");
        out.sample("x", &[("node", "a\"b\\c\nd")], 0.5);
        out.sample("x", &[], 3.0);
        assert_eq!(out.text, "# HELP x a \\\\ b\\nc\n# TYPE x gauge\nx{node=\"a\\\"b\\\\c\\nd\"} 0.5\nx 3\n");
    }

    #[test]
    fn large_numbers_have_no_exponent() {
        let mut out = Exposition::default();
        out.sample("x", &[], 1.7786e9);
        assert_eq!(out.text, "x 1778600000\n");
    }
}
