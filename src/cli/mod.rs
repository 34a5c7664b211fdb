//! The command line, as clap definitions only. Doc comments are the `--help`
//! text and the man page. Here: the global flags and the list of commands;
//! [`args`]: each command's own flags.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::time::Ts;

mod args;
mod nats_args;
pub use args::*;
pub use nats_args::*;

/// An RFC 3339 time on the command line; a bad one is a usage error.
fn parse_ts(text: &str) -> Result<Ts, String> {
    Ts::parse(text)
}

/// Folds a directory of append-only homelab events into a small, always-current
/// JSON model of the world (nodes, services, deployments, incidents).
///
/// Producers drop JSON events under `events/`; `observer run` (from cron or a
/// systemd timer) folds what is new into `world/*.json`, resuming from its
/// checkpoint in `state/`. `observer rebuild` gets the same world back from the
/// events alone.
#[derive(Parser, Debug)]
#[command(name = "observer", version, about, long_about, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub paths: PathArgs,

    /// How diagnostics on stderr look: `text` for people, or `json` (one object a line with `ts`,
    /// `level`, `msg` and fields such as `file`, `line` and `reason`, for journald and Loki).
    /// Warnings are bounded by `budgets.log_lines_per_minute`.
    #[arg(long, global = true, value_enum, default_value = "text", value_name = "FORMAT")]
    pub log_format: crate::diagnostics::LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

/// Where things live. Each directory defaults to a child of the root.
#[derive(Args, Debug, Clone)]
pub struct PathArgs {
    /// The homelab root holding events/, state/, world/ and logs/.
    #[arg(long, global = true, env = "OBSERVER_ROOT", default_value = "/opt/homelab", value_name = "DIR")]
    pub root: PathBuf,
    /// Event directory (default: ROOT/events).
    #[arg(long, global = true, value_name = "DIR")]
    pub events: Option<PathBuf>,
    /// State directory: checkpoint, lock, rejects, stage markers (default: ROOT/state).
    #[arg(long, global = true, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// World directory, written by the observer only (default: ROOT/world). Each world file is a
    /// symlink ..data/FILE; world/..data points at the current generation (..gen-N), swapped by one
    /// rename. A directory of regular files from an older version is migrated by the first run.
    #[arg(long, global = true, value_name = "DIR")]
    pub world: Option<PathBuf>,
    /// Logs directory that diagnostics paths are relative to (default: ROOT/logs).
    #[arg(long, global = true, value_name = "DIR")]
    pub logs: Option<PathBuf>,
    /// Inventory directory, the homelab repo (default: ROOT/inventory if it exists).
    #[arg(long, global = true, env = "OBSERVER_INVENTORY", value_name = "DIR")]
    pub inventory: Option<PathBuf>,
    /// Config file (default: ROOT/observer.yaml if it exists, else built-in defaults).
    #[arg(long, global = true, env = "OBSERVER_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// One pass for cron: append a tick, fold what is new, write the world, commit.
    Run(RunArgs),
    /// Rebuild the world from all events, from nothing.
    Rebuild(RebuildArgs),
    /// Show a readable summary of the world: health, problems, freshness, alerts, dead letters.
    Status(StatusArgs),
    /// List deployment runs, newest first: running, and the last finished ones per node/service.
    Deployments(DeploymentsArgs),
    /// Show the alerts: firing (and why a suppressed one is), pending, recently resolved.
    Alerts(AlertsArgs),
    /// Run the probes that are due and record each result as a probe_result event.
    Probe(ProbeArgs),
    /// Validate and write one event, atomically, as a file under events/emit/ (or publish it: --nats).
    Emit(EmitArgs),
    /// Copy a NATS JetStream stream into events/nats/, each event exactly once, until SIGTERM.
    Relay(RelayArgs),
    /// Acknowledge a firing alert: no more reminders, no escalation; its resolve is still sent.
    Ack(AckArgs),
    /// Check the events, the inventory and the config; print every problem with file and line.
    Validate,
    /// Print the effective configuration, or the commented defaults.
    Config(ConfigArgs),
    /// Start or end maintenance of a node or a service: its alerts are held, not sent, meanwhile.
    Maintenance(MaintenanceArgs),
    /// Deliver the notifications that are due through the channels of `notify.channels`.
    Notify(NotifyArgs),
    /// Nagios/Icinga plugin: is the observer healthy? Exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    Check(CheckArgs),
    /// Create the layout under the root, a commented observer.yaml and an example inventory.
    Init(InitArgs),
    /// Show the events behind an incident, alert, deployment, node/service or node, and what each changed.
    ///
    /// `ID` is looked up in the world files, then in world/history/, in this order: an incident id
    /// (inc-…), an alert key (rule:subject), a deployment or correlation id, node/service, a node.
    /// The events of the entity's stretch of time (an incident from its start to its resolve, a
    /// deployment from start to end, an alert from pending to resolved or to its last notification
    /// if later, and through the event that let a resolve waiting for the cooldown or
    /// keep_firing_for_s go, a service from its latest incident, a node from its last heartbeat,
    /// each up to the world's as_of) and of one hour before
    /// it are read through state/event-index.jsonl and folded into a fresh engine with the live
    /// config and inventory. Each event that speaks of the entity, or changed it, is printed in fold
    /// order with file:line and the changes: debounce pending and committed, breaker transitions and
    /// their reasons, incident opened, updated, resolved, alert pending, firing, suppressed, and the
    /// notifications decided. State the entity owes to events more than an hour before its stretch is
    /// not replayed; the header says whether the replay ends with the record the world holds.
    /// Never takes the lock, never writes.
    Explain(ExplainArgs),
    /// Check every consumed event byte against the checkpoint's hashes and compare a rebuild with the world.
    ///
    /// Every consumed byte of every event file is checked against the block hashes kept in the
    /// checkpoint (64 KiB blocks, and the first and last 4 KiB); then all events are rebuilt into a
    /// temporary directory and its world files, world/history/*.jsonl and the outbox are compared with
    /// the live ones byte for byte (world/metrics.prom, the run's own facts, is left out). Holds the
    /// state lock like rebuild and never writes the live state or world. Exit 0 when all agree, 1
    /// with one line per difference (file, byte range or line, what differs), 2 when it cannot
    /// verify (no checkpoint, an unreadable file), 75 when the state is locked.
    Verify(VerifyArgs),
    /// Print shell completions.
    Completions(CompletionsArgs),
    /// List the JSON Schemas of the world files, the history, the outbox and the events, or print one.
    ///
    /// The schemas (JSON Schema draft 2020-12) are derived from the types that write and read the
    /// files, and are the ones in schemas/ of the source. What observer writes is closed
    /// (additionalProperties: false); the event envelope is open, as producers may add fields.
    Schema(SchemaArgs),
    /// Stay up: make `run`'s pass whenever files change under events/ (inotify, a hint), at each
    /// rescan (watch.rescan_s), tick (watch.tick_s) and probe round; deliver after each commit.
    /// Each pass takes and releases the state lock, waiting while another holds it. SIGTERM or
    /// SIGINT ends it after the pass under way, with exit 0. A pass that fails is recorded in
    /// state/last-failure.json and said on stderr, and the next wake-up retries; only a bad
    /// config, inventory or event directory at start stops it (exit 1).
    Watch(WatchArgs),
}
