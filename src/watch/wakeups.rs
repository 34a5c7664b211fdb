//! File-system notifications as wake-ups: the `notify` crate (inotify on
//! Linux) watching `events/` recursively, each notification turned into a
//! [`Wake`] on the channel. A hint only: the pass it starts reads every
//! file's size against its cursor, so a notification lost, doubled or late
//! changes when a pass runs, never what it folds.

use std::path::Path;
use std::sync::mpsc::Sender;

use notify::event::{AccessKind, AccessMode};
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};

use super::{Missed, Wake};

/// Watching stops when this is dropped.
pub struct FileWakeups {
    _watcher: RecommendedWatcher,
}

/// Starts watching `events` (recursively: a new subdirectory is watched as
/// soon as it appears). Returns the watcher and what it could not do at
/// once: with the watch limit reached, some directories go unwatched.
/// An error means no notifications at all (no inotify instance left, say).
pub fn start(events: &Path, sender: Sender<Wake>) -> Result<(FileWakeups, Option<Missed>), notify::Error> {
    let mut watcher = notify::recommended_watcher(move |result: notify::Result<Event>| {
        if let Some(wake) = wake_for(result) {
            // The receiver is gone only when watch is ending.
            let _ = sender.send(wake);
        }
    })?;
    let missed = match watcher.watch(events, RecursiveMode::Recursive) {
        Ok(()) => None,
        Err(error) => Some(missed(&error)),
    };
    Ok((FileWakeups { _watcher: watcher }, missed))
}

/// What a notification asks for. Reads (our own passes open every file
/// they read) ask for nothing; a write closed, a change, a new or moved
/// name asks for a pass; an overflow or an error for a rescan.
fn wake_for(result: notify::Result<Event>) -> Option<Wake> {
    match result {
        Ok(event) if event.need_rescan() => Some(Wake::Missed(Missed::Overflow)),
        Ok(event) => match event.kind {
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => Some(Wake::Files),
            EventKind::Access(_) => None,
            _ => Some(Wake::Files),
        },
        Err(error) => Some(Wake::Missed(missed(&error))),
    }
}

fn missed(error: &notify::Error) -> Missed {
    match error.kind {
        notify::ErrorKind::MaxFilesWatch => Missed::WatchLimit,
        _ => Missed::Error(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use notify::event::{CreateKind, Flag, ModifyKind};

    use super::*;

    #[test]
    fn reads_wake_nobody_and_writes_do() {
        let open = Event::new(EventKind::Access(AccessKind::Open(AccessMode::Any)));
        let read_closed = Event::new(EventKind::Access(AccessKind::Close(AccessMode::Read)));
        let write_closed = Event::new(EventKind::Access(AccessKind::Close(AccessMode::Write)));
        assert_eq!(wake_for(Ok(open)), None);
        assert_eq!(wake_for(Ok(read_closed)), None);
        assert_eq!(wake_for(Ok(write_closed)), Some(Wake::Files));
        assert_eq!(wake_for(Ok(Event::new(EventKind::Create(CreateKind::File)))), Some(Wake::Files));
        assert_eq!(wake_for(Ok(Event::new(EventKind::Modify(ModifyKind::Any)))), Some(Wake::Files));
    }

    #[test]
    fn an_overflow_and_the_watch_limit_ask_for_a_rescan() {
        let overflow = Event::new(EventKind::Other).set_flag(Flag::Rescan);
        assert_eq!(wake_for(Ok(overflow)), Some(Wake::Missed(Missed::Overflow)));
        let limit = notify::Error::new(notify::ErrorKind::MaxFilesWatch);
        assert_eq!(wake_for(Err(limit)), Some(Wake::Missed(Missed::WatchLimit)));
    }

    #[test]
    fn a_file_appended_to_wakes_the_watcher() {
        let dir = tempfile::tempdir().unwrap();
        let (sender, receiver) = std::sync::mpsc::channel();
        let (_wakeups, missed) = start(dir.path(), sender).unwrap();
        assert_eq!(missed, None);
        std::fs::create_dir(dir.path().join("new")).unwrap();
        let wake = receiver.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        assert_eq!(wake, Wake::Files);
    }
}
