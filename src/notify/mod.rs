//! Delivery (SPEC §6): carrying out what the fold decided, apart from the
//! fold. A round runs in stages, each with one job: read what was decided
//! (the committed outbox, `store::outbox`) and what receivers hold (`ledger`), notice a rebuild
//! (`horizon`), read which alerts fire now (`alerts_now`), work out what is
//! due per channel (`plan`), send it (`channel`), judge each answer and
//! schedule the next try (`retry`), and record every attempt in the ledger
//! before the next one of its key starts.
//!
//! Each channel runs on its own thread with at most `notify.parallel`
//! attempts in flight, one key's queue per attempt in flight, so a slow or
//! failing channel holds up neither the others nor the fold (which has
//! committed before delivery starts).

pub mod alerts_now;
pub mod channel;
pub mod compact;
pub mod horizon;
pub mod ledger;
pub mod plan;
pub mod report;
pub mod retry;

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Mutex;
use std::thread;

use self::alerts_now::AlertsNow;
use self::channel::Channel;
use self::horizon::DeliveryState;
use self::ledger::{Attempt, AttemptOutcome, Ledger, LedgerWriter};
use self::plan::{Inputs, Queue, plan};
use self::retry::{Backoff, Decision, Response, decide};
use crate::config::{ChannelConfig, NotifyConfig};
use crate::dirs::Dirs;
use crate::store::fault_injection;
use crate::store::outbox::{OutboxError, read_committed};
use crate::time::Ts;

/// Delivery could not read or record its state. A channel failing is never
/// this: it is an attempt with outcome `retry` or `dead_letter`.
#[derive(Debug)]
pub enum DeliveryError {
    /// The committed outbox cannot be read (or was edited).
    Outbox(OutboxError),
    /// The ledger or the delivery state cannot be read or written.
    State { path: PathBuf, error: io::Error },
}

impl fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeliveryError::Outbox(error) => write!(f, "delivery: {error}"),
            DeliveryError::State { path, error } => write!(f, "delivery: {}: {error}", path.display()),
        }
    }
}

impl std::error::Error for DeliveryError {}

/// What is due, per channel, read and decided before anything is sent.
pub struct Round {
    pub channels: Vec<(ChannelConfig, Vec<Queue>)>,
    state: DeliveryState,
    now: Ts,
    /// The ledger may have grown enough to be compacted (see `compact`).
    compact: bool,
}

/// How a round went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RoundSummary {
    pub delivered: usize,
    pub retried: usize,
    pub dead_lettered: usize,
}

/// Reads everything a round needs and works out what is due at `now`.
pub fn prepare(dirs: &Dirs, config: &NotifyConfig, now: Ts) -> Result<Round, DeliveryError> {
    let at = |path: PathBuf| move |error| DeliveryError::State { path, error };
    let outbox = read_committed(&dirs.state).map_err(DeliveryError::Outbox)?;
    let ledger = Ledger::load(&dirs.state).map_err(at(ledger::path(&dirs.state)))?;
    let state = DeliveryState::load(&dirs.state).map_err(at(horizon::path(&dirs.state)))?.next(&outbox);
    let alerts = AlertsNow::read(&dirs.world);
    let inputs = Inputs {
        outbox: &outbox,
        ledger: &ledger,
        alerts: alerts.as_ref(),
        rebuild_horizon: state.rebuild_horizon,
        now,
    };
    let channels = config.channels.iter().map(|channel| (channel.clone(), plan(channel, &inputs))).collect();
    let (lines, ids) = ledger.size();
    Ok(Round { channels, state, now, compact: compact::worth_a_look(lines, ids) })
}

impl Round {
    /// Every (channel, notification) the round would attempt if each
    /// attempt succeeded, and when those not due yet are.
    pub fn preview(&self) -> Vec<(String, String, Option<Ts>)> {
        let mut lines = Vec::new();
        for (channel, queues) in &self.channels {
            for queue in queues {
                for item in &queue.items {
                    let waiting = item.due_at().filter(|at| *at > self.now);
                    lines.push((channel.name.clone(), item.notification.id.clone(), waiting));
                    if waiting.is_some() {
                        break;
                    }
                }
            }
        }
        lines
    }

    /// Sends what is due. `clock` gives the wall time of each attempt;
    /// `on_attempt` hears of each once it is in the ledger. A ledger grown
    /// enough is compacted first (`compact`).
    pub fn deliver(
        self,
        dirs: &Dirs,
        config: &NotifyConfig,
        clock: &(dyn Fn() -> Ts + Sync),
        on_attempt: &(dyn Fn(&Attempt) + Sync),
    ) -> Result<RoundSummary, DeliveryError> {
        let state_error = |error| DeliveryError::State { path: horizon::path(&dirs.state), error };
        self.state.save(&dirs.state).map_err(state_error)?;
        if self.compact {
            // A compaction that fails (a full disk) leaves the ledger as it
            // was, whole: delivery goes on, and the next round tries again.
            let _ = compact::compact(&dirs.state);
        }
        let writer = LedgerWriter::open(&dirs.state)
            .map_err(|error| DeliveryError::State { path: ledger::path(&dirs.state), error })?;
        let shared = Shared { writer: Mutex::new(writer), failure: Mutex::new(None), summary: Mutex::default() };
        thread::scope(|scope| {
            for (channel_config, queues) in self.channels {
                if queues.is_empty() {
                    continue;
                }
                let shared = &shared;
                scope.spawn(move || run_channel(&channel_config, queues, config, shared, clock, on_attempt));
            }
        });
        let path = shared.writer.lock().map(|w| w.path().to_path_buf()).unwrap_or_default();
        if let Some(error) = shared.failure.into_inner().ok().flatten() {
            return Err(DeliveryError::State { path, error });
        }
        Ok(shared.summary.into_inner().unwrap_or_default())
    }
}

struct Shared {
    writer: Mutex<LedgerWriter>,
    /// The first ledger write that failed: the round stops there, since an
    /// attempt that cannot be recorded would be made again anyway.
    failure: Mutex<Option<io::Error>>,
    summary: Mutex<RoundSummary>,
}

fn run_channel(
    config: &ChannelConfig,
    queues: Vec<Queue>,
    notify: &NotifyConfig,
    shared: &Shared,
    clock: &(dyn Fn() -> Ts + Sync),
    on_attempt: &(dyn Fn(&Attempt) + Sync),
) {
    let Some(channel) = Channel::new(config) else { return };
    let workers = notify.parallel.max(1).min(queues.len());
    let queues = Mutex::new(VecDeque::from(queues));
    thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while let Some(queue) = queues.lock().ok().and_then(|mut q| q.pop_front()) {
                    work_through(&channel, config, queue, notify, shared, clock, on_attempt);
                }
            });
        }
    });
}

/// Attempts a key's queue in order, stopping at the first notification
/// that is not due yet or that failed for now.
fn work_through(
    channel: &Channel,
    config: &ChannelConfig,
    queue: Queue,
    notify: &NotifyConfig,
    shared: &Shared,
    clock: &(dyn Fn() -> Ts + Sync),
    on_attempt: &(dyn Fn(&Attempt) + Sync),
) {
    for item in queue.items {
        if shared.failure.lock().map_or(true, |f| f.is_some()) {
            return;
        }
        if item.due_at().is_some_and(|due| due > clock()) {
            return;
        }
        let sent = channel.send(&item.notification);
        // The crash tests kill the process here: sent, not yet recorded.
        fault_injection::crash_at("notify-sent");
        let at = clock();
        let attempt = item.tries.as_ref().map_or(1, |t| t.attempts + 1);
        let first_at = item.tries.as_ref().map_or(at, |t| t.first_at);
        let mut error = sent.error;
        let (outcome, next_attempt_at) = match decide(&sent.response) {
            Decision::Delivered => (AttemptOutcome::Delivered, None),
            Decision::DeadLetter => (AttemptOutcome::DeadLetter, None),
            Decision::Retry if at >= first_at.plus_seconds(notify.give_up_after_s) => {
                let why = format!("given up after {}s", notify.give_up_after_s);
                error = Some(error.map_or(why.clone(), |e| format!("{e}; {why}")));
                (AttemptOutcome::DeadLetter, None)
            }
            Decision::Retry => {
                let delay = Backoff::from_retry(attempt).next().unwrap_or(retry::BASE);
                (AttemptOutcome::Retry, Some(Ts(at.0.saturating_add(delay.as_millis() as i64))))
            }
        };
        let record = Attempt {
            id: item.notification.id.clone(),
            channel: config.name.clone(),
            at,
            attempt,
            outcome,
            http_status: match sent.response {
                Response::Http(status) => Some(status),
                _ => None,
            },
            exit_code: match sent.response {
                Response::Exit(code) => Some(code),
                _ => None,
            },
            error,
            next_attempt_at,
            notification: item.notification,
        };
        let written = shared
            .writer
            .lock()
            .map_err(|_| io::Error::other("ledger lock poisoned"))
            .and_then(|mut w| w.append(&record));
        if let Err(e) = written {
            if let Ok(mut failure) = shared.failure.lock() {
                failure.get_or_insert(e);
            }
            return;
        }
        on_attempt(&record);
        if let Ok(mut summary) = shared.summary.lock() {
            match outcome {
                AttemptOutcome::Delivered => summary.delivered += 1,
                AttemptOutcome::Retry => summary.retried += 1,
                AttemptOutcome::DeadLetter => summary.dead_lettered += 1,
            }
        }
        if outcome == AttemptOutcome::Retry {
            return;
        }
    }
}

/// One attempt, as a line for people: `CHANNEL ID: OUTCOME (DETAIL)`.
pub fn describe(attempt: &Attempt) -> String {
    let outcome = match (attempt.outcome, attempt.next_attempt_at) {
        (AttemptOutcome::Delivered, _) => "delivered".to_string(),
        (AttemptOutcome::Retry, Some(next)) => format!("failed, retry at {next}"),
        (AttemptOutcome::Retry, None) => "failed, will retry".to_string(),
        (AttemptOutcome::DeadLetter, _) => "dead-lettered".to_string(),
    };
    let detail = match (&attempt.error, attempt.http_status, attempt.exit_code) {
        (Some(error), _, _) => format!(" ({error})"),
        (None, Some(status), _) => format!(" (HTTP {status})"),
        (None, None, Some(code)) => format!(" (exit code {code})"),
        (None, None, None) => String::new(),
    };
    format!("{} {}: {outcome}{detail}", attempt.channel, attempt.id)
}
