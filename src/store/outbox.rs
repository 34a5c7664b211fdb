//! `state/outbox.jsonl`: every notification the fold decided, one compact
//! JSON line each, in decision order (SPEC §6). It is a pure function of
//! the events, the inventory and the config, so a rebuild writes it byte for
//! byte again.
//!
//! Exactly once with the checkpoint: a pass appends its notifications and
//! syncs them, then commits the checkpoint, whose header records how much
//! of the outbox it covers ([`OutboxMark`]: bytes, lines, and a running
//! hash of those bytes). Bytes past that mark were left by a pass that
//! crashed before its commit; the next pass folds the same events again and
//! decides them again, so it cuts them off first ([`prepare`]). An outbox
//! shorter than its mark, or whose committed part changed, was altered by
//! someone else: that is an error pointing to `observer rebuild`, which
//! writes the whole outbox anew ([`replace`]). Delivery reads only the
//! committed part ([`read_committed`]).
//!
//! The check costs a stat, not a read: the mark also keeps the stamp of the
//! file as the committing pass left it (`store::mark`), and only an outbox
//! whose stamp moved since (a crashed pass's lines, or anyone's write) is
//! read and hashed whole.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::atomic::{self, InTemp, PIECE, is_the_file_at, sync_dir, temp_path, write_atomic, write_in_pieces};
pub use super::checkpoint::OutboxMark;
use super::checkpoint::{Checkpoint, CheckpointError};
use super::fault_injection;
use crate::engine::alerts::{Notification, NotificationKind};

pub const FILE_NAME: &str = "outbox.jsonl";

/// Why the outbox cannot be used or written. Those about its content point
/// to `observer rebuild`.
#[derive(Debug)]
pub enum OutboxError {
    /// Shorter than the checkpoint says was committed.
    Shorter {
        path: PathBuf,
        committed: u64,
        found: u64,
    },
    /// The committed part is not what was committed.
    Changed {
        path: PathBuf,
    },
    /// A symlink where the outbox belongs.
    Symlink {
        path: PathBuf,
    },
    /// A committed line that is not a notification.
    Line {
        path: PathBuf,
        line: u64,
        error: serde_json::Error,
    },
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    Serialise(serde_json::Error),
    Checkpoint(CheckpointError),
}

impl std::fmt::Display for OutboxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const REBUILD: &str = "nothing was changed; run `observer rebuild` to write it again from the events";
        match self {
            OutboxError::Shorter { path, committed, found } => write!(
                f,
                "{} holds {found} bytes, but {committed} were committed; it is append-only. {REBUILD}",
                path.display()
            ),
            OutboxError::Changed { path } => write!(
                f,
                "the committed part of {} changed since it was written; it is append-only. {REBUILD}",
                path.display()
            ),
            OutboxError::Symlink { path } => {
                write!(f, "{} is a symlink, and observer writes through none; {REBUILD}", path.display())
            }
            OutboxError::Line { path, line, error } => {
                write!(f, "{}:{line} is not a notification ({error}); {REBUILD}", path.display())
            }
            OutboxError::Io { path, error } => write!(f, "cannot access {}: {error}", path.display()),
            OutboxError::Serialise(error) => write!(f, "cannot serialise a notification: {error}"),
            OutboxError::Checkpoint(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for OutboxError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OutboxError::Line { error, .. } | OutboxError::Serialise(error) => Some(error),
            OutboxError::Io { error, .. } => Some(error),
            OutboxError::Checkpoint(error) => error.source(),
            _ => None,
        }
    }
}

pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(FILE_NAME)
}

/// The notifications as outbox lines: one compact JSON object and a newline
/// each.
pub fn render(notifications: &[Notification]) -> Result<Vec<u8>, OutboxError> {
    let mut bytes = Vec::new();
    for notification in notifications {
        push_line(&mut bytes, notification)?;
    }
    Ok(bytes)
}

/// One notification as an outbox line, after `bytes`.
fn push_line(bytes: &mut Vec<u8>, notification: &Notification) -> Result<(), OutboxError> {
    serde_json::to_writer(&mut *bytes, notification).map_err(OutboxError::Serialise)?;
    bytes.push(b'\n');
    Ok(())
}

/// The size of the outbox on disk, 0 when there is none: a pass whose
/// outbox is exactly its mark long has nothing to repair.
pub fn length(state_dir: &Path) -> u64 {
    std::fs::symlink_metadata(path(state_dir)).map_or(0, |meta| meta.len())
}

/// Removes the temp file of a whole new outbox that a killed rebuild left
/// (it is made when the rebuild's fold starts, `fold_pass/decided.rs`):
/// never read, and no incremental pass writes it again. Usually there is
/// none; one that cannot be removed is hidden and harmless.
pub fn remove_temp(state_dir: &Path) {
    let _ = std::fs::remove_file(temp_path(&path(state_dir)));
}

/// Checks the committed part against `mark` and cuts off whatever follows
/// it (left by a pass that crashed before its checkpoint), before a pass
/// folds the events that decide those lines again.
///
/// A temp file that a killed rebuild left (from [`replace`]) goes too:
/// the committed outbox is the file itself, and an incremental pass never
/// writes that temp again, so it would otherwise stay for good.
pub fn prepare(state_dir: &Path, mark: &OutboxMark) -> Result<(), OutboxError> {
    let path = path(state_dir);
    remove_temp(state_dir);
    if mark.is_untouched(&path) {
        // Exactly as the committing pass left it: nothing to check or cut,
        // and the committed part is not read (the common case).
        return Ok(());
    }
    let Some(bytes) = read_regular(&path)? else {
        return match mark.bytes {
            0 => Ok(()),
            committed => Err(OutboxError::Shorter { path, committed, found: 0 }),
        };
    };
    verify(&path, &bytes, mark)?;
    if bytes.len() as u64 > mark.bytes {
        let io = |error| OutboxError::Io { path: path.clone(), error };
        let file = OpenOptions::new().write(true).open(&path).map_err(io)?;
        if !is_the_file_at(&file, &path) {
            return Err(OutboxError::Symlink { path });
        }
        file.set_len(mark.bytes).map_err(io)?;
        file.sync_all().map_err(io)?;
    }
    Ok(())
}

/// A pass's notifications rendered as outbox lines, with the mark of the
/// outbox once they follow what `base` covers: made apart from the write
/// ([`Rendered::append`], [`Rendered::replace`]), so that a pass can make
/// them on a second thread while it writes the history and the world, and
/// write them in their place. On a busy rebuild, rendering and hashing the
/// 14 MB outbox was 55 ms of the fold's thread (perf, issue 11).
pub struct Rendered {
    lines: Lines,
    mark: OutboxMark,
}

enum Lines {
    /// In memory, to append or to write.
    Bytes(Vec<u8>),
    /// Already in the temp file of the outbox they replace.
    InTemp(InTemp),
}

/// Lines are serialised into a buffer of this size, then hashed and
/// written, when they go straight to a file ([`Rendered::written`]): each
/// write is a [`PIECE`] or a little more (up to the line that takes the
/// buffer past it), as [`write_in_pieces`] makes for the other files.
const CHUNK_BYTES: usize = PIECE;

/// A whole new outbox written to its temp file as the notifications are
/// decided, a chunk at a time ([`Rendered::written`] at once; a rebuild's
/// fold hands them over in batches as it decides them, `fold_pass/decided.rs`).
/// [`Writing::finish`] syncs it and gives the [`Rendered`] that puts it in
/// place. After the first error nothing more is written, and `finish`
/// returns that error; dropped unfinished, the temp file goes.
pub struct Writing {
    path: PathBuf,
    open: Result<Open, OutboxError>,
}

struct Open {
    in_temp: InTemp,
    file: File,
    chunk: Vec<u8>,
    mark: OutboxMark,
}

impl Writing {
    /// The temp file of a new outbox at `path` (its directory made if
    /// need be: `rebuild --out DIR`; if it cannot be made, the temp file's
    /// creation says so).
    pub fn create(path: &Path) -> Writing {
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir);
        }
        let open = atomic::open_temp(path)
            .map(|(in_temp, file)| Open {
                in_temp,
                file,
                chunk: Vec::with_capacity(CHUNK_BYTES + CHUNK_BYTES / 4),
                mark: OutboxMark::default(),
            })
            .map_err(|error| OutboxError::Io { path: path.to_path_buf(), error });
        Writing { path: path.to_path_buf(), open }
    }

    /// The lines of `notifications`, after those pushed before.
    pub fn push(&mut self, notifications: &[Notification]) {
        if let Ok(open) = &mut self.open
            && let Err(error) = open.push(notifications, &self.path)
        {
            self.open = Err(error);
        }
    }

    /// Every line written and synced, or the first error.
    pub fn finish(self) -> Result<Rendered, OutboxError> {
        let mut open = self.open?;
        let io = |error| OutboxError::Io { path: self.path.clone(), error };
        open.flush().map_err(io)?;
        open.file.sync_all().map_err(io)?;
        Ok(Rendered { lines: Lines::InTemp(open.in_temp), mark: open.mark })
    }
}

impl Open {
    fn push(&mut self, notifications: &[Notification], path: &Path) -> Result<(), OutboxError> {
        for notification in notifications {
            push_line(&mut self.chunk, notification)?;
            if self.chunk.len() >= CHUNK_BYTES {
                self.flush().map_err(|error| OutboxError::Io { path: path.to_path_buf(), error })?;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.mark = self.mark.after(&self.chunk);
        let written = self.file.write_all(&self.chunk);
        self.chunk.clear();
        written
    }
}

impl Rendered {
    /// `notifications` rendered, to be written after what `base` covers
    /// (the default mark for a whole outbox).
    pub fn new(notifications: &[Notification], base: &OutboxMark) -> Result<Rendered, OutboxError> {
        let bytes = render(notifications)?;
        Ok(Rendered { mark: base.after(&bytes), lines: Lines::Bytes(bytes) })
    }

    /// `notifications` as a whole new outbox at `path`, written to its temp
    /// file a chunk at a time as they are rendered, and synced; in place
    /// once [`Rendered::replace`] renames it. Profiled on the busy rebuild
    /// (1,000,000 events, 14 MB of outbox), the lines rendered whole were
    /// held beside the engine state and the world at the rebuild's peak of
    /// memory, and written after them on the pass's own thread (~30 ms).
    pub fn written(notifications: &[Notification], path: &Path) -> Result<Rendered, OutboxError> {
        let mut writing = Writing::create(path);
        writing.push(notifications);
        writing.finish()
    }

    /// [`append`] of these lines after `mark`, the `base` they were
    /// rendered for.
    pub fn append(self, state_dir: &Path, mark: &OutboxMark) -> Result<OutboxMark, OutboxError> {
        append_rendered(state_dir, mark, self)
    }

    /// [`replace`] with these lines (rendered for the default mark, or
    /// [`Rendered::written`] for this `path`).
    pub fn replace(self, path: &Path) -> Result<OutboxMark, OutboxError> {
        let io = |error| OutboxError::Io { path: path.to_path_buf(), error };
        match self.lines {
            Lines::Bytes(bytes) => write_atomic(path, &bytes).map_err(io)?,
            Lines::InTemp(in_temp) => in_temp.put_in_place().map_err(io)?,
        }
        Ok(self.mark.stamped(path))
    }
}

/// Appends a pass's notifications after what `mark` covers (the caller ran
/// [`prepare`] with it) and syncs them; returns the mark the checkpoint is
/// to commit. The file is created, empty, when there is nothing to append
/// yet, so that incremental runs and a rebuild leave the same files.
pub fn append(state_dir: &Path, mark: &OutboxMark, notifications: &[Notification]) -> Result<OutboxMark, OutboxError> {
    append_rendered(state_dir, mark, Rendered::new(notifications, mark)?)
}

fn append_rendered(state_dir: &Path, mark: &OutboxMark, rendered: Rendered) -> Result<OutboxMark, OutboxError> {
    let path = path(state_dir);
    let Lines::Bytes(bytes) = rendered.lines else {
        // Dropped, its temp file goes; the outbox is as the mark says.
        let error = std::io::Error::other("lines written to replace the outbox cannot be appended to it");
        return Err(OutboxError::Io { path, error });
    };
    debug_assert_eq!(rendered.mark.content(), mark.after(&bytes).content(), "rendered for another mark");
    let io = |error| OutboxError::Io { path: path.clone(), error };
    if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(OutboxError::Symlink { path });
    }
    let created = !path.exists();
    let mut file = OpenOptions::new().append(true).create(true).open(&path).map_err(io)?;
    if !is_the_file_at(&file, &path) {
        return Err(OutboxError::Symlink { path });
    }
    if file.metadata().map_err(io)?.len() != mark.bytes {
        // `prepare` left it at the mark under the lock; anything else is a
        // writer the lock does not know about.
        return Err(OutboxError::Changed { path });
    }
    fault_injection::fail_at("outbox-append").map_err(io)?;
    write_in_pieces(&mut file, &bytes).map_err(io)?;
    file.sync_data().map_err(io)?;
    if created {
        sync_dir(state_dir).map_err(io)?;
    }
    Ok(rendered.mark.stamped(&path))
}

/// Writes the whole outbox anew at `path` (temp file and rename), as a
/// rebuild does before it commits; returns its mark.
pub fn replace(path: &Path, notifications: &[Notification]) -> Result<OutboxMark, OutboxError> {
    Rendered::new(notifications, &OutboxMark::default())?.replace(path)
}

/// The committed notifications, in decision order: what the live
/// checkpoint covers, never a line a crashed pass left after it. No
/// checkpoint, no notifications. Read under the state lock, or a rebuild
/// replacing the outbox meanwhile makes this a spurious `Changed`.
pub fn read_committed(state_dir: &Path) -> Result<Vec<Notification>, OutboxError> {
    let mark = match Checkpoint::read(state_dir).map_err(OutboxError::Checkpoint)? {
        Some(stored) => stored.header.outbox,
        None => return Ok(Vec::new()),
    };
    let path = path(state_dir);
    let bytes = read_regular(&path)?.unwrap_or_default();
    verify(&path, &bytes, &mark)?;
    let committed = &bytes[..mark.bytes as usize];
    let mut notifications = Vec::with_capacity(mark.lines as usize);
    for (n, line) in committed.split(|b| *b == b'\n').filter(|l| !l.is_empty()).enumerate() {
        let notification = serde_json::from_slice(line).map_err(|error| OutboxError::Line {
            path: path.clone(),
            line: n as u64 + 1,
            error,
        })?;
        notifications.push(notification);
    }
    Ok(notifications)
}

/// The committed notifications by kind: `counted` when the checkpoint kept
/// the count, otherwise counted from the committed outbox (a checkpoint
/// written before the count was kept).
pub fn committed_by_kind(
    state_dir: &Path,
    counted: Option<&BTreeMap<NotificationKind, u64>>,
) -> Result<BTreeMap<NotificationKind, u64>, OutboxError> {
    if let Some(counted) = counted {
        return Ok(counted.clone());
    }
    Ok(by_kind(BTreeMap::new(), read_committed(state_dir)?.iter().map(|n| n.kind)))
}

/// `counts` with `added` counted in.
pub fn by_kind(
    mut counts: BTreeMap<NotificationKind, u64>,
    added: impl IntoIterator<Item = NotificationKind>,
) -> BTreeMap<NotificationKind, u64> {
    for kind in added {
        *counts.entry(kind).or_default() += 1;
    }
    counts
}

/// The outbox's bytes, `None` when there is none; a symlink is refused.
fn read_regular(path: &Path) -> Result<Option<Vec<u8>>, OutboxError> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(OutboxError::Io { path: path.to_path_buf(), error }),
        Ok(meta) if meta.file_type().is_symlink() => return Err(OutboxError::Symlink { path: path.to_path_buf() }),
        Ok(_) => {}
    }
    let mut bytes = Vec::new();
    let io = |error| OutboxError::Io { path: path.to_path_buf(), error };
    std::io::Read::read_to_end(&mut File::open(path).map_err(io)?, &mut bytes).map_err(io)?;
    Ok(Some(bytes))
}

/// The committed part of `bytes` is what `mark` says was committed.
fn verify(path: &Path, bytes: &[u8], mark: &OutboxMark) -> Result<(), OutboxError> {
    let found = bytes.len() as u64;
    if found < mark.bytes {
        return Err(OutboxError::Shorter { path: path.to_path_buf(), committed: mark.bytes, found });
    }
    if !mark.commits_prefix_of(bytes) {
        return Err(OutboxError::Changed { path: path.to_path_buf() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::alerts::NotificationKind;
    use crate::event::Severity;
    use crate::time::Ts;

    fn notification(n: u32) -> Notification {
        let ts = Ts::parse("2026-05-12T12:00:00Z").unwrap();
        Notification {
            id: format!("node_down:venus@1778587200:firing:{n}"),
            kind: NotificationKind::Firing,
            ts,
            expires_at: None,
            key: "node_down:venus".into(),
            rule: "node_down".into(),
            node: Some("venus".into()),
            service: None,
            severity: Severity::Critical,
            priority: 1,
            summary: "venus is down".into(),
            fired_at: Some(ts),
            resolved_at: None,
            runbook: None,
        }
    }

    #[test]
    fn lines_rendered_ahead_are_written_and_marked_as_when_rendered_at_the_write() {
        let (ahead, at_write) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let first = [notification(1)];
        let second = [notification(2), notification(3)];
        let mut marks = Vec::new();
        for (dir, rendered_ahead) in [(&ahead, true), (&at_write, false)] {
            let mark = append(dir.path(), &OutboxMark::default(), &first).unwrap();
            let mark = match rendered_ahead {
                true => Rendered::new(&second, &mark).unwrap().append(dir.path(), &mark).unwrap(),
                false => append(dir.path(), &mark, &second).unwrap(),
            };
            marks.push(mark.content());
        }
        assert_eq!(marks[0], marks[1]);
        assert_eq!(marks[0].lines, 3);
        assert_eq!(std::fs::read(path(ahead.path())).unwrap(), std::fs::read(path(at_write.path())).unwrap());
        let whole = path(ahead.path()).with_file_name("whole.jsonl");
        let all = [first.as_slice(), second.as_slice()].concat();
        let mark = Rendered::new(&all, &OutboxMark::default()).unwrap().replace(&whole).unwrap();
        assert_eq!(std::fs::read(&whole).unwrap(), std::fs::read(path(ahead.path())).unwrap());
        assert_eq!(mark.content(), marks[0]);
        assert!(mark.is_untouched(&whole), "stamped as written");
    }

    #[test]
    fn a_whole_outbox_written_to_its_temp_file_in_chunks_is_the_one_rendered_and_appears_only_when_put_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = path(dir.path());
        std::fs::write(&outbox, b"the outbox before\n").unwrap();
        // Past several chunks, so that the chunks' marks are chained.
        let many: Vec<Notification> = (0..3 * CHUNK_BYTES as u32 / 200).map(notification).collect();
        let rendered = render(&many).unwrap();
        assert!(rendered.len() > 2 * CHUNK_BYTES, "{} bytes", rendered.len());
        let written = Rendered::written(&many, &outbox).unwrap();
        assert_eq!(std::fs::read(temp_path(&outbox)).unwrap(), rendered, "in the temp file, synced");
        assert_eq!(std::fs::read(&outbox).unwrap(), b"the outbox before\n", "not yet in place");
        let mark = written.replace(&outbox).unwrap();
        assert_eq!(std::fs::read(&outbox).unwrap(), rendered);
        assert!(!temp_path(&outbox).exists());
        assert_eq!(mark.content(), OutboxMark::of(&rendered));
        assert!(mark.is_untouched(&outbox), "stamped as put in place");
        // Never put in place (a pass that stopped): the temp file goes, and
        // such lines are never appended.
        drop(Rendered::written(&many[..1], &outbox).unwrap());
        assert!(!temp_path(&outbox).exists());
        let refused = Rendered::written(&many[..1], &outbox).unwrap().append(dir.path(), &mark);
        assert!(matches!(refused, Err(OutboxError::Io { .. })), "{refused:?}");
        assert!(!temp_path(&outbox).exists());
        assert_eq!(std::fs::read(&outbox).unwrap(), rendered);
        // `rebuild --out DIR` may reach the outbox before DIR is made.
        let out = dir.path().join("out/outbox.jsonl");
        Rendered::written(&many[..2], &out).unwrap().replace(&out).unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), render(&many[..2]).unwrap());
    }

    #[test]
    fn lines_past_the_mark_are_cut_off_and_the_committed_ones_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let mark = append(dir.path(), &OutboxMark::default(), &[notification(1), notification(2)]).unwrap();
        assert_eq!(mark.lines, 2);
        // A pass that crashed before its checkpoint left a line after it.
        let crashed = append(dir.path(), &mark, &[notification(3)]).unwrap();
        assert!(crashed.bytes > mark.bytes);
        prepare(dir.path(), &mark).unwrap();
        assert_eq!(length(dir.path()), mark.bytes);
        let again = append(dir.path(), &mark, &[notification(3)]).unwrap();
        assert_eq!(again.content(), crashed.content(), "the same line decided again gives the same mark");
        let text = std::fs::read_to_string(path(dir.path())).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert!(text.starts_with(r#"{"id":"node_down:venus@1778587200:firing:1","kind":"firing","ts":"#), "{text}");
        // A rebuild writes the same bytes anew.
        let rebuilt = dir.path().join("rebuilt.jsonl");
        let mark = replace(&rebuilt, &[notification(1), notification(2), notification(3)]).unwrap();
        assert_eq!(mark.content(), again.content());
        assert_eq!(std::fs::read_to_string(rebuilt).unwrap(), text);
    }

    #[test]
    fn a_temp_file_a_killed_rebuild_left_goes_at_the_next_pass() {
        let dir = tempfile::tempdir().unwrap();
        let mark = append(dir.path(), &OutboxMark::default(), &[notification(1)]).unwrap();
        let temp = temp_path(&path(dir.path()));
        std::fs::write(&temp, b"half a rebuild").unwrap();
        prepare(dir.path(), &mark).unwrap();
        assert!(!temp.exists(), "the temp a killed rebuild left stays for good");
        assert_eq!(length(dir.path()), mark.bytes);
    }

    #[test]
    fn a_shorter_or_changed_outbox_points_to_rebuild() {
        let dir = tempfile::tempdir().unwrap();
        let mark = append(dir.path(), &OutboxMark::default(), &[notification(1), notification(2)]).unwrap();
        let good = std::fs::read(path(dir.path())).unwrap();
        let mut changed = good.clone();
        changed[10] = b'X';
        assert!(mark.stamp.is_some(), "a mark of a pass has a stamp, and the changes below move it");
        // Past the file system's clock tick, as any other writer is.
        std::thread::sleep(std::time::Duration::from_millis(20));
        for bad in [&good[..good.len() - 3], &changed[..], b""] {
            std::fs::write(path(dir.path()), bad).unwrap();
            let message = prepare(dir.path(), &mark).unwrap_err().to_string();
            assert!(message.contains("observer rebuild") && message.contains("append-only"), "{message}");
            assert_eq!(std::fs::read(path(dir.path())).unwrap(), bad, "nothing was changed");
        }
        std::fs::remove_file(path(dir.path())).unwrap();
        assert!(prepare(dir.path(), &mark).unwrap_err().to_string().contains("holds 0 bytes"));
        assert!(prepare(dir.path(), &OutboxMark::default()).is_ok());
    }

    #[test]
    fn read_committed_reads_what_the_checkpoint_commits_only() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_committed(dir.path()).unwrap().is_empty(), "no checkpoint, nothing committed");
        let mark = append(dir.path(), &OutboxMark::default(), &[notification(1)]).unwrap();
        Checkpoint { outbox: mark, ..Checkpoint::default() }.save(dir.path()).unwrap();
        append(dir.path(), &mark, &[notification(2)]).unwrap();
        assert_eq!(read_committed(dir.path()).unwrap(), vec![notification(1)]);
        std::fs::write(path(dir.path()), "{}\n").unwrap();
        assert!(read_committed(dir.path()).unwrap_err().to_string().contains("observer rebuild"));
    }
}
