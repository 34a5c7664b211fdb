//! The ledger, `state/deliveries.jsonl`: one line per attempt to hand a
//! notification to a channel, appended and fsynced right after the attempt.
//! It is the record of what receivers hold: a notification is never sent
//! again to a channel where the ledger says it was delivered, and the
//! newest delivered notification of a key says whether a page is open
//! there. Each line carries the notification itself, so the ledger alone
//! can close a page even when a rebuilt outbox no longer has its firing.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::alerts::{Notification, NotificationKind};
use crate::time::Ts;

/// How an attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    Delivered,
    /// Failed for now; `next_attempt_at` says when it is tried again.
    Retry,
    /// Given up: refused by the receiver, or retried past `give_up_after_s`.
    DeadLetter,
}

/// One line of the ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub id: String,
    pub channel: String,
    /// Wall clock when the attempt ended.
    pub at: Ts,
    /// 1 for the first attempt of this id on this channel.
    pub attempt: u32,
    pub outcome: AttemptOutcome,
    pub http_status: Option<u16>,
    pub exit_code: Option<i32>,
    pub error: Option<String>,
    pub next_attempt_at: Option<Ts>,
    pub notification: Notification,
}

/// The ledger file in `state_dir`.
pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join("deliveries.jsonl")
}

/// What the ledger says about one notification on one channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tries {
    pub attempts: u32,
    pub first_at: Ts,
    pub last: AttemptOutcome,
    pub next_attempt_at: Option<Ts>,
}

impl Tries {
    /// Delivered or dead-lettered: nothing more is tried.
    pub fn settled(&self) -> bool {
        self.last != AttemptOutcome::Retry
    }

    /// The attempts that failed: every one but the one that delivered.
    /// Counted from the highest attempt number, which compaction keeps
    /// (`notify/compact.rs`), so it never falls when retries are dropped.
    pub fn failed(&self) -> u64 {
        u64::from(self.attempts).saturating_sub(u64::from(self.last == AttemptOutcome::Delivered))
    }
}

/// The ledger folded for the questions delivery asks.
#[derive(Debug, Default)]
pub struct Ledger {
    /// By (channel, id).
    tries: HashMap<(String, String), Tries>,
    /// By (channel, key): the newest delivered notification.
    last_delivered: BTreeMap<(String, String), Notification>,
    dead_letters: Vec<Attempt>,
    /// Lines read (or attempts recorded).
    lines: usize,
}

impl Ledger {
    /// Reads the ledger; none is an empty one. Lines that do not parse (a
    /// torn last line) are skipped: at worst that attempt is made again.
    pub fn load(state_dir: &Path) -> io::Result<Ledger> {
        let text = match std::fs::read(path(state_dir)) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Ledger::default()),
            Err(e) => return Err(e),
        };
        let mut ledger = Ledger::default();
        for line in text.split(|b| *b == b'\n') {
            if let Ok(attempt) = serde_json::from_slice::<Attempt>(line) {
                ledger.record(attempt);
            }
        }
        Ok(ledger)
    }

    /// The ledger of these attempts, in this order.
    pub fn from_attempts(attempts: impl IntoIterator<Item = Attempt>) -> Ledger {
        let mut ledger = Ledger::default();
        for attempt in attempts {
            ledger.record(attempt);
        }
        ledger
    }

    /// Whether `other` answers every question delivery and `status` ask as
    /// this one does: each (channel, id)'s tries, each (channel, key)'s
    /// newest delivery, and the last dead letter of each (channel, id).
    pub fn same_decisions(&self, other: &Ledger) -> bool {
        let last_dead = |ledger: &Ledger| {
            let mut last = BTreeMap::new();
            for attempt in &ledger.dead_letters {
                last.insert((attempt.channel.clone(), attempt.id.clone()), attempt.clone());
            }
            last
        };
        self.tries == other.tries && self.last_delivered == other.last_delivered && last_dead(self) == last_dead(other)
    }

    /// How many lines were read, and how many (channel, id) pairs they
    /// are about: what tells whether compaction may be worth it.
    pub fn size(&self) -> (usize, usize) {
        (self.lines, self.tries.len())
    }

    /// Takes one attempt into account, as if it had been read from the file.
    pub fn record(&mut self, attempt: Attempt) {
        self.lines += 1;
        let by_id = (attempt.channel.clone(), attempt.id.clone());
        let tries = self.tries.entry(by_id).or_insert(Tries {
            attempts: 0,
            first_at: attempt.at,
            last: attempt.outcome,
            next_attempt_at: None,
        });
        tries.attempts = tries.attempts.max(attempt.attempt);
        tries.first_at = tries.first_at.min(attempt.at);
        // A delivery stands whatever a later copy's attempt gave.
        if tries.last != AttemptOutcome::Delivered {
            tries.last = attempt.outcome;
        }
        tries.next_attempt_at = attempt.next_attempt_at;
        match attempt.outcome {
            AttemptOutcome::Delivered => {
                let by_key = (attempt.channel.clone(), attempt.notification.key.clone());
                self.last_delivered.insert(by_key, attempt.notification);
            }
            AttemptOutcome::DeadLetter => self.dead_letters.push(attempt),
            AttemptOutcome::Retry => {}
        }
    }

    /// The failed attempts of every (channel, id) ([`Tries::failed`]), and
    /// the notifications given up on a channel (for `metrics.prom`).
    pub fn failures(&self) -> (u64, u64) {
        let failed = self.tries.values().map(Tries::failed).sum();
        let dead = self.tries.values().filter(|tries| tries.last == AttemptOutcome::DeadLetter).count() as u64;
        (failed, dead)
    }

    pub fn tries(&self, channel: &str, id: &str) -> Option<&Tries> {
        self.tries.get(&(channel.to_string(), id.to_string()))
    }

    pub fn settled(&self, channel: &str, id: &str) -> bool {
        self.tries(channel, id).is_some_and(Tries::settled)
    }

    /// The pages open at a channel's receivers: per key, the newest
    /// delivered notification, when it is a firing or a reminder.
    pub fn open_pages<'a>(&'a self, channel: &'a str) -> impl Iterator<Item = &'a Notification> + 'a {
        self.last_delivered
            .range((channel.to_string(), String::new())..)
            .take_while(move |((c, _), _)| c == channel)
            .map(|(_, n)| n)
            .filter(|n| is_page(n.kind))
    }

    /// The open page for `key` on `channel`, if any.
    pub fn open_page(&self, channel: &str, key: &str) -> Option<&Notification> {
        self.last_delivered.get(&(channel.to_string(), key.to_string())).filter(|n| is_page(n.kind))
    }

    /// The channels with a delivered notification, by name.
    pub fn channels(&self) -> impl Iterator<Item = &str> + '_ {
        let mut last: Option<&str> = None;
        self.last_delivered.keys().map(|(channel, _)| channel.as_str()).filter(move |channel| {
            let new = last != Some(*channel);
            last = Some(*channel);
            new
        })
    }

    /// Every dead-lettered attempt, oldest first.
    pub fn dead_letters(&self) -> &[Attempt] {
        &self.dead_letters
    }
}

/// A firing, a reminder or an escalation leaves a page open; a resolve
/// closes it.
pub fn is_page(kind: NotificationKind) -> bool {
    matches!(kind, NotificationKind::Firing | NotificationKind::Reminder | NotificationKind::Escalation)
}

/// Appends attempts to the ledger, each followed by an fsync, so that an
/// attempt the process reported is on disk before the next one starts.
pub struct LedgerWriter {
    file: File,
    path: PathBuf,
}

impl LedgerWriter {
    pub fn open(state_dir: &Path) -> io::Result<LedgerWriter> {
        std::fs::create_dir_all(state_dir)?;
        let path = path(state_dir);
        let mut file = OpenOptions::new().read(true).append(true).create(true).open(&path)?;
        // A crash in mid-line left a torn line: end it, so that the next
        // line is read on its own (the torn one is skipped).
        let len = file.metadata()?.len();
        if len > 0 {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::Start(len - 1))?;
            file.read_exact(&mut last)?;
            if last[0] != b'\n' {
                file.write_all(b"\n")?;
            }
        }
        Ok(LedgerWriter { file, path })
    }

    pub fn append(&mut self, attempt: &Attempt) -> io::Result<()> {
        let mut line = serde_json::to_vec(attempt).map_err(io::Error::other)?;
        line.push(b'\n');
        self.file.write_all(&line)?;
        self.file.sync_data()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
