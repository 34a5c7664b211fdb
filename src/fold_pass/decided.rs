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

use crate::engine::Engine;
use crate::engine::alerts::{Notification, NotificationKind};
use crate::store::outbox::{OutboxError, OutboxMark, Rendered, Writing};
use crate::threads::Fed;
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
    /// The thread that writes the batches (`observer-outbox`).
    writing: Option<Fed<Vec<Notification>, Writing>>,
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
        let push = |writing: &mut Writing, batch: &Vec<Notification>| writing.push(batch);
        let writing = Fed::start("observer-outbox", BATCHES_IN_FLIGHT, Writing::create(path), push);
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
            writer.send(batch);
        }
        writer.free_done();
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
