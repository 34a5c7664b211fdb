//! The long-running form of `run`: what wakes `observer watch` up and when.
//!
//! Everything that can start a pass arrives on one `std::sync::mpsc`
//! channel as a [`Wake`]: file-system notifications ([`wakeups`], a hint
//! only, never the source of truth), SIGTERM and SIGINT, and whoever else
//! holds a clone of the sender (an HTTP trigger). [`schedule::Schedule`]
//! blocks on that channel until the next deadline of its own clocks (the
//! tick, the rescan, the probe round), coalesces a burst into one step and
//! says what the next pass must do. The pass itself is `run`'s
//! (`commands::pass`), with the same cursors: a wake-up only decides when.
//! [`filesystem`] tells a network file system, where notifications do not
//! see other machines' writes.

pub mod filesystem;
pub mod schedule;
pub mod wakeups;

/// Why `watch` should look at the events now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Wake {
    /// Something changed under `events/` (a notification: a hint only).
    Files,
    /// The notifications may have missed changes: rescan, and say why.
    Missed(Missed),
    /// A full rescan now, as if its interval had passed.
    Rescan,
    /// Append a tick now, as if its interval had passed.
    Tick,
    /// Run the probe round now (the due probes only).
    ProbeNow,
    /// SIGTERM or SIGINT: finish the pass under way, then exit.
    Stop,
}

/// How file-system notifications fell short; the rescan covers each.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Missed {
    /// The kernel's queue of events overflowed (inotify `IN_Q_OVERFLOW`).
    Overflow,
    /// The limit of inotify watches was reached: some directories are not
    /// watched.
    WatchLimit,
    /// The watcher reported an error (its message).
    Error(String),
}
