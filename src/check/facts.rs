//! What `observer check` reads: only files the runs leave, opened for
//! reading. It never takes the state lock and never writes, so it answers
//! while a run holds the lock, and a check every minute changes nothing.
//!
//! - The last successful run: `state/last-run.json` (its start).
//! - The last run failed: `state/last-failure.json` exists and is not older
//!   than the last success.
//! - Rejected and late events "since the previous check": a check cannot
//!   remember the previous one without writing, so it counts those of the
//!   runs that started within its window (`--window`, set to the check
//!   interval), from the recent runs that `last-run.json` keeps.
//! - Dead letters: attempts of the delivery ledger given up within the
//!   window.
//! - The lock: held when the kernel lists a lock on `state/.observer.lock`
//!   (`/proc/locks`, matched by inode) — asked without taking it. The
//!   holder writes its pid and command into the file as it takes the lock,
//!   so the file's modification time is when it was taken.
//! - Free space: `statvfs` of `state/` and `world/`, with a bounded wait.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::dirs::Dirs;
use crate::notify::ledger::{self, AttemptOutcome};
use crate::probe::timing::run_with_timeout;
use crate::store::checkpoint::Checkpoint;
use crate::store::last_run::{LastFailure, LastRun};
use crate::time::Ts;
use crate::world::{self, Summary};

/// How long `statvfs` may take before the file system counts as not
/// responding (a dead NFS server would hang it for ever).
const STATVFS_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub struct Facts {
    /// `world/runtime-summary.json` reads back.
    pub world: bool,
    /// The world directory, as the messages show it.
    pub world_dir: String,
    pub last_success: Option<Ts>,
    pub last_failure: Option<LastFailure>,
    /// `Ok` when the checkpoint reads (or there is none yet: the next run
    /// starts from scratch, as after `rm`), else why not.
    pub checkpoint: Result<(), String>,
    pub rejected: u64,
    pub late: u64,
    pub dead_letters: Result<u64, String>,
    pub lock: Option<LockHeld>,
    /// Per directory (`state`, `world`).
    pub free: Vec<(&'static str, Free)>,
    /// The lag of each NATS relay of this state directory, by stream.
    pub nats_lag: Vec<(String, u64)>,
}

#[derive(Debug)]
pub struct LockHeld {
    pub since: Ts,
    /// What the holder wrote: `pid N running `observer run``.
    pub holder: String,
}

#[derive(Debug)]
pub enum Free {
    Percent(f64),
    Unknown(String),
}

/// Reads the facts at `now`, counting events and dead letters over the
/// `window_s` seconds before it. `world_dir` is how messages name it.
pub fn gather(dirs: &Dirs, now: Ts, window_s: u64, world_dir: String) -> Facts {
    let last_run = LastRun::read(&dirs.last_run());
    let since = now.minus_seconds(window_s);
    let (rejected, late) = last_run.as_ref().map_or((0, 0), |run| {
        run.recent.iter().filter(|r| r.started_at > since).fold((0, 0), |(j, l), r| (j + r.rejected, l + r.late))
    });
    let last_success = last_run.as_ref().map(|run| run.started_at);
    let last_failure =
        LastFailure::read(&dirs.state).filter(|failure| last_success.is_none_or(|ok| failure.started_at >= ok));
    Facts {
        world: world::read::<Summary>(&dirs.world).is_some(),
        world_dir,
        last_success,
        last_failure,
        checkpoint: checkpoint_readable(&dirs.state),
        rejected,
        late,
        dead_letters: dead_letters_since(&dirs.state, since),
        lock: lock_held(&dirs.state.join(".observer.lock")),
        free: vec![("state", free_percent(&dirs.state)), ("world", free_percent(&dirs.world))],
        nats_lag: crate::nats::lag::relays(&dirs.state, &dirs.events)
            .unwrap_or_default()
            .iter()
            .map(|relay| (relay.stream.clone(), relay.lag()))
            .collect(),
    }
}

/// The header and the engine state both parse.
fn checkpoint_readable(state: &Path) -> Result<(), String> {
    match Checkpoint::read(state) {
        Ok(None) => Ok(()),
        Ok(Some(file)) => file.to_checkpoint().map(|_| ()).map_err(|e| e.to_string()),
        Err(error) => Err(error.to_string()),
    }
}

/// Dead-lettered attempts of the ledger that ended after `since`.
fn dead_letters_since(state: &Path, since: Ts) -> Result<u64, String> {
    /// The fields of a ledger line counted here.
    #[derive(Deserialize)]
    struct Line {
        at: Ts,
        outcome: AttemptOutcome,
    }
    let bytes = match std::fs::read(ledger::path(state)) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e.to_string()),
    };
    let count = bytes
        .split(|b| *b == b'\n')
        .filter_map(|line| serde_json::from_slice::<Line>(line).ok())
        .filter(|line| line.outcome == AttemptOutcome::DeadLetter && line.at > since)
        .count();
    Ok(count as u64)
}

/// Whether someone holds a lock on `path`, and since when, asked of the
/// kernel (`/proc/locks`) rather than by trying to take it.
fn lock_held(path: &Path) -> Option<LockHeld> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    if !listed(&locks, inode(&meta)?) {
        return None;
    }
    let since = Ts::from_datetime(meta.modified().ok()?.into());
    let holder = std::fs::read_to_string(path).unwrap_or_default().trim().to_string();
    Some(LockHeld { since, holder: if holder.is_empty() { "holder unknown".into() } else { holder } })
}

#[cfg(unix)]
fn inode(meta: &std::fs::Metadata) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    Some(meta.ino())
}

#[cfg(not(unix))]
fn inode(_meta: &std::fs::Metadata) -> Option<u64> {
    None
}

/// Whether `/proc/locks` lists a lock on inode `ino`. A line reads
/// `1: FLOCK  ADVISORY  WRITE 4242 fe:00:123456 0 EOF` (the device is
/// not compared: on an overlay file system stat and the lock disagree on
/// it); `->` lines are waiters, not holders.
fn listed(locks: &str, ino: u64) -> bool {
    locks.lines().filter(|line| !line.contains("->")).any(|line| {
        line.split_whitespace()
            .nth(5)
            .and_then(|id| id.rsplit(':').next())
            .is_some_and(|found| found.parse::<u64>() == Ok(ino))
    })
}

/// The share of the file system holding `dir` that an unprivileged user
/// can still write, in percent.
fn free_percent(dir: &Path) -> Free {
    let owned = dir.to_path_buf();
    let stat = run_with_timeout(STATVFS_TIMEOUT, move || {
        rustix::fs::statvfs(&owned)
            .map(|s| (s.f_bavail.saturating_mul(s.f_frsize), s.f_blocks.saturating_mul(s.f_frsize)))
    });
    match stat {
        None => Free::Unknown(format!("the file system did not answer within {}s", STATVFS_TIMEOUT.as_secs())),
        Some(Err(errno)) => Free::Unknown(std::io::Error::from(errno).to_string()),
        Some(Ok((_, 0))) => Free::Unknown("the file system reports a size of 0".into()),
        Some(Ok((free, total))) => Free::Percent(free as f64 * 100.0 / total as f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_is_found_by_inode_and_waiters_do_not_count() {
        let locks = "1: FLOCK  ADVISORY  WRITE 4242 fe:00:123456 0 EOF\n\
                     1: -> FLOCK  ADVISORY  WRITE 4343 fe:00:777 0 EOF\n\
                     2: POSIX  ADVISORY  READ 99 00:1a:42 0 EOF\n";
        assert!(listed(locks, 123456));
        assert!(listed(locks, 42));
        assert!(!listed(locks, 777), "a waiter holds nothing");
        assert!(!listed(locks, 12345));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_lock_held_by_this_process_is_seen_and_a_free_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".observer.lock");
        std::fs::write(&path, "pid 1 running `observer run`").unwrap();
        assert!(lock_held(&path).is_none());
        let file = std::fs::File::open(&path).unwrap();
        file.lock().unwrap();
        let held = lock_held(&path).expect("the kernel lists the lock");
        assert_eq!(held.holder, "pid 1 running `observer run`");
        drop(file);
        assert!(lock_held(&path).is_none());
    }
}
