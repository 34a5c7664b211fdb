//! Each command's own flags (the `Args` of [`super::Command`]'s variants).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{NatsCredentialArgs, NatsStreamArgs, parse_ts};
use crate::inventory::DurationSpec;
use crate::time::Ts;

#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// An incident id, alert key, deployment or correlation id, node/service, or node.
    #[arg(value_name = "ID")]
    pub id: String,
    /// Print the explanation as JSON: id, kind, found_in, from, to, replay_from,
    /// agrees_with_world, events (ts, file, line, type, node, service, correlation_id, severity,
    /// changes: subject, change, text) and read (files, bytes, events_folded).
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ProbeArgs {
    /// Run every selected probe now, whether due or not (open breakers and the budget still apply).
    #[arg(long)]
    pub all: bool,
    /// Only probes whose node/service/probe key starts with this (e.g. saturn/ or saturn/mosquitto/).
    #[arg(long, value_name = "PREFIX")]
    pub only: Option<String>,
    /// Probes run at the same time (default: health.parallel from the config).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Wait for a concurrent run to finish instead of exiting with code 75.
    #[arg(long)]
    pub wait: bool,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Also run the probes that are due, after folding (like `observer probe`).
    #[arg(long)]
    pub probe: bool,
    /// Do not append a tick event (the clock then moves only with other events).
    #[arg(long)]
    pub no_tick: bool,
    /// Wait for a concurrent run to finish instead of exiting with code 75.
    #[arg(long)]
    pub wait: bool,
}

#[derive(Args, Debug)]
pub struct WatchArgs {
    /// Do not use file-system notifications (inotify) as wake-ups: only the rescan every
    /// watch.rescan_s seconds finds new events (as `watch.notify_wakeups: false` does). For network
    /// file systems, and to measure the latency of the rescan alone.
    #[arg(long)]
    pub no_inotify: bool,
    /// Serve the world read-only over HTTP on ADDR while watching: PORT or :PORT listens on
    /// 127.0.0.1; IP:PORT (0.0.0.0:8080, [::1]:8080) listens beyond this machine. Endpoints:
    /// /health, /ready, /health/status, /world/FILE.json, /alerts, /metrics.
    #[arg(long, value_name = "ADDR", value_parser = crate::http::parse_listen)]
    pub listen: Option<std::net::SocketAddr>,
    /// Accept POST /health/trigger, which runs the due probes now, from clients sending
    /// `Authorization: Bearer TOKEN` with the token of --token-file. Needs --listen and
    /// --token-file.
    #[arg(long, requires_all = ["listen", "token_file"])]
    pub allow_trigger: bool,
    /// The file holding the trigger's token: one word, readable by its owner only (chmod 600).
    #[arg(long, value_name = "FILE", requires = "allow_trigger")]
    pub token_file: Option<PathBuf>,
    /// Relay a NATS JetStream stream (--stream) into events/nats/ from a thread, as `observer
    /// relay` does; each batch appended wakes a pass.
    #[arg(long, value_name = "URL", requires = "stream")]
    pub nats: Option<String>,
    #[command(flatten)]
    pub nats_stream: NatsStreamArgs,
    #[command(flatten)]
    pub nats_credentials: NatsCredentialArgs,
}

#[derive(Args, Debug)]
pub struct RebuildArgs {
    /// Fold only events with ts at or before this RFC 3339 time (needs --out).
    #[arg(long, value_name = "TS", requires = "out", value_parser = parse_ts)]
    pub until: Option<Ts>,
    /// Write the world files (as one generation behind DIR/..data, like the live world), history/
    /// and outbox.jsonl to this directory instead, leaving live
    /// state and world untouched and sending nothing. With --config CANDIDATE.yaml, also print how many
    /// notifications the candidate would have sent, against the live outbox over the same span.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Wait for a concurrent run to finish instead of exiting with code 75.
    #[arg(long)]
    pub wait: bool,
}

/// `observer verify` reads everything and writes nothing live: the state
/// lock is held throughout so that no run changes the files meanwhile.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// Print what was checked and every difference as JSON (`agree`, `checked`, `findings`).
    #[arg(long)]
    pub json: bool,
    /// Wait for a concurrent run to finish instead of exiting with code 75.
    #[arg(long)]
    pub wait: bool,
}

/// With `--node` or `--service` (or both) the summary is of what matches:
/// the node and service counts, overall health, nodes not up, services not
/// healthy, active incidents, running deployments and firing alerts. The
/// event counts, rejects and dead letters stay those of the whole observer.
/// A node or service the world does not know gives an empty summary and a
/// note on stderr (exit 0), as a filter that matches nothing.
#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// Only this node (its services, incidents, deployments and alerts): counts, overall health
    /// and lists are then of what matches; events, rejects and dead letters stay global. A node the
    /// world does not know gives an empty summary and a note on stderr (exit 0).
    #[arg(long, value_name = "NODE")]
    pub node: Option<String>,
    /// Only services of this name (on any node, or on --node), and the nodes that run it.
    #[arg(long, value_name = "SERVICE")]
    pub service: Option<String>,
}

/// Reads world/deployments.json, the hot view: running deployments and, per
/// node/service, the last `world.keep_finished` finished ones (older ones
/// are in world/history/deployments-YYYY-MM.jsonl). Newest first by start
/// time. A node or service the world does not know gives an empty list and
/// a note on stderr (exit 0), as a filter that matches nothing.
#[derive(Args, Debug)]
pub struct DeploymentsArgs {
    /// Only runs with this status.
    #[arg(long, value_enum, value_name = "STATUS")]
    pub status: Option<DeploymentStatusArg>,
    /// Only runs on this node. A node (or --service) the world does not know gives an empty list and
    /// a note on stderr naming the known ones (exit 0).
    #[arg(long, value_name = "NODE")]
    pub node: Option<String>,
    /// Only runs of this service.
    #[arg(long, value_name = "SERVICE")]
    pub service: Option<String>,
    /// Print the runs as a JSON array, newest first, each as world/deployments.json holds it.
    #[arg(long)]
    pub json: bool,
}

/// A deployment status on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DeploymentStatusArg {
    Running,
    Failed,
    Succeeded,
}

#[derive(Args, Debug)]
pub struct AlertsArgs {
    /// Print the alerts as world/alerts.json holds them.
    #[arg(long)]
    pub json: bool,
}

/// Writes an `alert_acknowledged` event (payload.key, payload.reason,
/// payload.by = $USER) under events/emit/, like `emit`; the next run folds
/// it. The alert's current episode then shows `acknowledged_by` and
/// `acknowledged_at` in world/alerts.json, `alerts` and `status`, gets no
/// more reminders and does not escalate; its resolve is still sent, and a
/// new episode of the key starts unacknowledged. An ack of a key that does
/// not fire is recorded, changes nothing, and is said on stderr.
#[derive(Args, Debug)]
pub struct AckArgs {
    /// The alert's key, `<rule>:<subject>` (e.g. service_unhealthy:saturn/mosquitto), as `observer alerts` lists it.
    pub key: String,
    /// Why, or what is being done; kept in the event.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
}

#[derive(Args, Debug)]
pub struct EmitArgs {
    /// The whole event as JSON; `-` reads it from standard input. Other flags override its fields.
    #[arg(long, value_name = "JSON")]
    pub json: Option<String>,
    /// Event type, snake_case (e.g. service_unhealthy).
    #[arg(long = "type", value_name = "TYPE")]
    pub kind: Option<String>,
    /// Time of the event, RFC 3339 (default: now).
    #[arg(long, value_name = "TS")]
    pub ts: Option<String>,
    /// The node the event is about (needed by node and service events).
    #[arg(long)]
    pub node: Option<String>,
    /// The service the event is about (needed by service events).
    #[arg(long)]
    pub service: Option<String>,
    /// Ties events of one deployment run or health check together (needed by deployment events).
    #[arg(long, value_name = "ID")]
    pub correlation_id: Option<String>,
    /// info, warning, error or critical.
    #[arg(long)]
    pub severity: Option<String>,
    /// A human-readable description.
    #[arg(long)]
    pub message: Option<String>,
    /// Unique id; a second event with the same id is dropped as a duplicate.
    #[arg(long)]
    pub id: Option<String>,
    /// The payload, a JSON object.
    #[arg(long, value_name = "JSON")]
    pub payload: Option<String>,
    /// Publish the event to NATS JetStream at URL (nats://HOST:PORT) instead of writing a file,
    /// with the header Nats-Msg-Id set to its id when it has one (a second publish of that id
    /// within the stream's dedup window is stored once); return once the stream acknowledged it.
    /// No stream taking the subject, an unreachable server or refused credentials: exit 1,
    /// nothing stored.
    #[arg(long, value_name = "URL")]
    pub nats: Option<String>,
    /// The subject to publish on (default: homelab.events.NODE, or homelab.events.observer for an
    /// event without a node).
    #[arg(long, value_name = "SUBJECT", requires = "nats")]
    pub subject: Option<String>,
    #[command(flatten)]
    pub nats_credentials: NatsCredentialArgs,
}

#[derive(Args, Debug)]
pub struct NotifyArgs {
    /// Print what would be sent, and send and write nothing.
    #[arg(long, conflicts_with = "test")]
    pub dry_run: bool,
    /// Send one test notification to this channel (filters do not apply; nothing is recorded).
    #[arg(long, value_name = "CHANNEL")]
    pub test: Option<String>,
    /// Wait for a concurrent run to finish instead of exiting with code 75.
    #[arg(long)]
    pub wait: bool,
}

#[derive(Args, Debug)]
pub struct ConfigArgs {
    /// Print the built-in defaults as commented YAML.
    #[arg(long)]
    pub defaults: bool,
}

/// Maintenance is recorded as an event (`maintenance_started` or
/// `maintenance_ended`) in events/observer/, so that a rebuild holds the
/// same notifications. When it ends and a problem is still there, its page
/// is sent then.
#[derive(Args, Debug)]
pub struct MaintenanceArgs {
    #[command(subcommand)]
    pub action: MaintenanceAction,
}

#[derive(Subcommand, Debug)]
pub enum MaintenanceAction {
    /// Start maintenance now.
    Start(MaintenanceStartArgs),
    /// End maintenance now.
    End(MaintenanceEndArgs),
}

/// What is under maintenance, and the rest of both actions.
#[derive(Args, Debug)]
pub struct MaintenanceSubject {
    /// The node under maintenance.
    #[arg(long)]
    pub node: String,
    /// Only this service of the node (default: the whole node).
    #[arg(long)]
    pub service: Option<String>,
    /// Why, for the people who read the event and the status.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Wait for a concurrent run to finish instead of exiting with code 75.
    #[arg(long)]
    pub wait: bool,
}

#[derive(Args, Debug)]
pub struct MaintenanceStartArgs {
    #[command(flatten)]
    pub subject: MaintenanceSubject,
    /// How long it lasts (30s, 5m, 1h); it then ends by itself. Default: until `maintenance end`.
    #[arg(long = "for", value_name = "DURATION")]
    pub duration: Option<DurationSpec>,
}

#[derive(Args, Debug)]
pub struct MaintenanceEndArgs {
    #[command(flatten)]
    pub subject: MaintenanceSubject,
}

/// Prints `OBSERVER OK - …` (or WARNING, CRITICAL, UNKNOWN) and perfdata in
/// the plugin format, and exits with that status. It reads what the runs
/// left and never takes the lock or writes, so it answers while a run is
/// busy.
///
/// CRITICAL also when the last run, probe or rebuild failed (until one
/// succeeds) or the checkpoint is unreadable; UNKNOWN when there is no
/// world yet. Each RANGE is a Nagios threshold range: `10` alerts above 10
/// (or below 0), `10:` below 10, `~:10` above 10, `10:20` outside 10..20,
/// `@10:20` inside it; an empty one is off. A bad RANGE is UNKNOWN (exit 3).
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Rejected and late events and dead letters are counted over the runs of this last
    /// stretch: give the check interval, so that each check counts what came since the previous
    /// one (at most 24h).
    #[arg(long, value_name = "DURATION", default_value = "5m")]
    pub window: String,
    /// Seconds since the last successful run started: WARNING range.
    #[arg(long, value_name = "RANGE", default_value = "300")]
    pub age_warning: String,
    /// Seconds since the last successful run started: CRITICAL range.
    #[arg(long, value_name = "RANGE", default_value = "900")]
    pub age_critical: String,
    /// Rejected events within the window: WARNING range.
    #[arg(long, value_name = "RANGE", default_value = "0")]
    pub rejected_warning: String,
    /// Rejected events within the window: CRITICAL range.
    #[arg(long, value_name = "RANGE", default_value = "")]
    pub rejected_critical: String,
    /// Late events within the window (they break rebuild equality): WARNING range.
    #[arg(long, value_name = "RANGE", default_value = "0")]
    pub late_warning: String,
    /// Late events within the window: CRITICAL range.
    #[arg(long, value_name = "RANGE", default_value = "")]
    pub late_critical: String,
    /// Notifications dead-lettered within the window: WARNING range.
    #[arg(long, value_name = "RANGE", default_value = "0")]
    pub dead_letters_warning: String,
    /// Notifications dead-lettered within the window: CRITICAL range.
    #[arg(long, value_name = "RANGE", default_value = "")]
    pub dead_letters_critical: String,
    /// Seconds the state lock has been held by one run: WARNING range.
    #[arg(long, value_name = "RANGE", default_value = "300")]
    pub lock_warning: String,
    /// Seconds the state lock has been held by one run: CRITICAL range.
    #[arg(long, value_name = "RANGE", default_value = "900")]
    pub lock_critical: String,
    /// Percent free on the file systems of state/ and world/: WARNING range.
    #[arg(long, value_name = "RANGE", default_value = "10:")]
    pub free_warning: String,
    /// Percent free on the file systems of state/ and world/: CRITICAL range.
    #[arg(long, value_name = "RANGE", default_value = "5:")]
    pub free_critical: String,
    /// Messages of a relayed NATS stream not yet in the local log (its last sequence minus the
    /// relay's, from state/nats-STREAM.json; checked only where a relay has run): WARNING range.
    #[arg(long, value_name = "RANGE", default_value = "1000")]
    pub nats_lag_warning: String,
    /// NATS lag: CRITICAL range.
    #[arg(long, value_name = "RANGE", default_value = "")]
    pub nats_lag_critical: String,
}

/// Creates `events/`, `state/`, `world/` and `logs/` under the root, an
/// `observer.yaml` listing every key with its default (commented out), and
/// the example inventory (`inventory/topology.yaml`, `inventory/hosts/…`).
/// On a root that already holds any of these it changes nothing and lists
/// what is there.
#[derive(Args, Debug)]
pub struct InitArgs {
    /// Also write systemd units to ROOT/systemd/: observer.service and observer.timer (a run
    /// every minute), and observer-watch.service (the long-running form, `observer watch`), with
    /// this binary's absolute path and the root. Written when none of them
    /// is there yet, even on an existing root.
    #[arg(long)]
    pub systemd: bool,
}

#[derive(Args, Debug)]
pub struct SchemaArgs {
    /// The schema to print (see the list without NAME); an unknown name is a usage error (exit 2).
    #[arg(value_name = "NAME", value_parser = clap::builder::PossibleValuesParser::new(crate::schema::DOCUMENTS.iter().map(|d| d.name)))]
    pub name: Option<String>,
}

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to generate completions for.
    pub shell: clap_complete::Shell,
}
