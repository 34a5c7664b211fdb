//! The notifications a pass that writes a whole new outbox (a rebuild, a
//! replay into `--out`) decides, taken from the engine while the fold runs
//! and written to the new outbox's temp file on a thread of their own.
//!
//! A rebuild used to keep every notification it decided in the engine until
//! the fold ended, then write them all (`outbox::Rendered::written`). On the
//! busy history that is 37,059 notifications, their structs and strings
//! held at the rebuild's peak of memory, beside the engine state and the
//! world being written: the rebuild with the default alert rules peaked
//! ~24 MB above the one with every rule off (86.7–88.3 against 63.2–64.0
//! MB, `/usr/bin/time`, issue 11, thirty-fifth pass), and bench row 5 (the
//! rebuild's peak against a run's) read 1.83–1.98× against its 2×. Now the
//! shell takes them ([`Engine::take_notifications`]) every [`CHUNK`]
//! notifications, and a second thread appends their lines to the temp file
//! (`outbox::Writing`): the same bytes in the same order, so the same file
//! and mark; the busy rebuild peaks at 69.4 MB. The outbox is put in place
//! at its turn in the pass's order of writes, as before. An incremental run
//! decides few notifications and appends them after the committed ones: it
//! keeps them until the end, as before.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, channel, sync_channel};
use std::thread::JoinHandle;

use crate::engine::Engine;
use crate::engine::alerts::{Notification, NotificationKind};
use crate::store::outbox::{OutboxError, OutboxMark, Rendered, Writing};
use crate::time::Ts;

/// How many notifications may wait in the engine before the shell takes
/// them (~0.5 MB of them).
const CHUNK: usize = 1024;

/// Batches taken and not yet written, besides the one being written: the
/// fold waits rather than hold more.
const BATCHES_IN_FLIGHT: usize = 1;

/// The notifications of a pass, written as they are decided when the pass
/// writes a whole outbox, or kept in the engine until the end.
pub(super) struct Decided {
    /// The kind and instant of each notification taken so far, in order:
    /// what the pass reports of them (by kind, and `rebuild --out`'s
    /// what-if up to an instant).
    taken: Vec<(NotificationKind, Ts)>,
    /// The whole new outbox's path; `None` for a run's, appended after the
    /// committed lines.
    path: Option<PathBuf>,
    writing: Option<Writer>,
}

/// The thread that writes the batches, and the batches it sends back to be
/// freed on the thread that made them (as `left.rs` does with what left).
struct Writer {
    batches: SyncSender<Vec<Notification>>,
    written: Receiver<Vec<Notification>>,
    /// Batches sent and not yet back.
    out: usize,
    thread: JoinHandle<Writing>,
}

impl Decided {
    /// Keeps the notifications in the engine (an incremental run's).
    pub(super) fn kept() -> Decided {
        Decided { taken: Vec::new(), path: None, writing: None }
    }

    /// Writes the notifications to a new outbox at `path` as they are
    /// decided. When no thread can be started, they are kept in the engine
    /// and written at the end.
    pub(super) fn written_to(path: &Path) -> Decided {
        let (batches, receiver) = sync_channel::<Vec<Notification>>(BATCHES_IN_FLIGHT);
        let (back, written) = channel::<Vec<Notification>>();
        let mut writing = Writing::create(path);
        let spawned = std::thread::Builder::new().name("observer-outbox".into()).spawn(move || {
            for batch in receiver {
                writing.push(&batch);
                // The fold has ended when this fails: they are freed here.
                let _ = back.send(batch);
            }
            writing
        });
        let writing = spawned.ok().map(|thread| Writer { batches, written, out: 0, thread });
        Decided { taken: Vec::new(), path: Some(path.to_path_buf()), writing }
    }

    /// Takes the engine's notifications when [`CHUNK`] or more wait there.
    /// Called after every event: the channel is asked for a written batch
    /// only while one is out.
    pub(super) fn take_some(&mut self, engine: &mut Engine) {
        let Some(writer) = &mut self.writing else { return };
        if engine.notifications().len() >= CHUNK {
            let batch = engine.take_notifications();
            self.taken.extend(batch.iter().map(|n| (n.kind, n.ts)));
            // A send fails only when the thread is gone, which is a panic:
            // `finish` passes it on.
            let _ = writer.batches.send(batch);
            writer.out += 1;
        }
        // Written batches are freed as soon as they are back (peak memory).
        if writer.out > 0
            && let Ok(batch) = writer.written.try_recv()
        {
            writer.out -= 1;
            drop(batch);
        }
    }

    /// The pass's outbox lines, once the fold is done and `rest` is what
    /// the engine still holds: with those written so far, the whole new
    /// outbox at the `path` of [`Decided::written_to`] (all of them there
    /// when no thread could be started); a run's, rendered to be appended
    /// after `base`. A panic of the writer's thread goes on here.
    pub(super) fn finish(mut self, rest: &[Notification], base: &OutboxMark) -> Result<Rendered, OutboxError> {
        match (self.writing.take(), &self.path) {
            (Some(writer), _) => {
                let mut writing = writer.stop();
                writing.push(rest);
                writing.finish()
            }
            (None, Some(path)) => Rendered::written(rest, path),
            (None, None) => Rendered::new(rest, base),
        }
    }

    /// The kind and instant of every notification of the pass, in order:
    /// those taken while the fold ran, then `rest`.
    pub(super) fn kinds(&self, rest: &[Notification]) -> Vec<(NotificationKind, Ts)> {
        let rest = rest.iter().map(|n| (n.kind, n.ts));
        self.taken.iter().copied().chain(rest).collect()
    }
}

impl Writer {
    /// The writer, once every batch sent is written. A panic of its thread
    /// goes on here.
    fn stop(self) -> Writing {
        drop(self.batches);
        self.thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }
}

/// A pass that stops before [`Decided::finish`] (an error, a fold started
/// over) waits for the writer, whose temp file goes with it: the next fold
/// makes the same temp file again.
impl Drop for Decided {
    fn drop(&mut self) {
        if let Some(writer) = self.writing.take() {
            drop(writer.stop());
        }
    }
}
