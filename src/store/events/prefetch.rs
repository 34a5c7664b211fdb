//! The merge on a second thread: while the fold applies one batch of
//! events, the next files' lines are read, parsed and merged beside it.
//!
//! Profiled on the rebuild of 200,000 events (`perf record --call-graph
//! dwarf`), reading and parsing the lines was 48 % of the calm rebuild and
//! 26 % of the busy one, the engine 43 % and 47 %: two halves that need not
//! wait for each other on a machine with a second core. [`Prefetch`] runs
//! the [`Merge`] unchanged on its own thread and hands its events over in
//! batches through a bounded channel, so the fold sees exactly the events,
//! the order and the errors it would see calling [`Merge::next`] itself,
//! and at most [`BATCHES_IN_FLIGHT`] batches are held at once.
//!
//! The fold borrows each event where it lies in its batch
//! ([`Prefetch::next`] lends it), and a batch it has gone through goes back
//! whole to the reading thread, which drops its events there and fills it
//! again: no event is moved or freed on the fold's thread, and no batch is
//! allocated after the first few. Profiled on the busy rebuild of
//! 1,000,000 events, freeing the events on the fold's thread was 8.8 % of
//! that thread's time (memory the reading thread had allocated and the
//! allocator had to hand back across threads); once events were held
//! inline, moving each out of its batch and a new batch per 256 events
//! were 2–4 % more (issue 11).

use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::thread::JoinHandle;

use super::merge::{Merge, ReadError};
use super::{OrderedEvent, ReadOutcome, SourceError};

/// Events handed over at once: enough that the channel's cost is lost in
/// the parse, few enough that the fold starts at once.
const BATCH: usize = 256;

/// Batches parsed ahead of the fold, besides the one it applies and the
/// one being filled.
const BATCHES_IN_FLIGHT: usize = 2;

/// What the merging thread sends.
enum Message {
    Events(Vec<OrderedEvent>),
    /// The merge stopped: the fold sees this error after the events before it.
    Failed(ReadError),
    /// Every file is read: what the reading found besides the events.
    Done(Box<ReadOutcome>),
}

/// A [`Merge`] whose events the fold reads: run on a thread of its own
/// ([`Prefetch::start`]), or, for a few events, on the fold's thread
/// ([`Prefetch::here`]).
pub enum Prefetch {
    Beside(Beside),
    /// Boxed: the merge is a few hundred bytes.
    Here(Box<Here>),
}

/// Reads of at most this many bytes are merged on the fold's thread
/// ([`Prefetch::here`]): a run's new events, not a rebuild's. Profiled on
/// the busy history (the run after one that wrote a journal, ~150 KB of
/// new events, `perf` at 15 kHz), the reading thread was made runnable on
/// the core the filing of the state's index held, and the fold waited for
/// its batches with the other core idle: in three runs, about a third of
/// the fold's ~15 ms of perf time (issue 11, thirty-second pass). Parsed
/// on the fold's thread, those events cost it ~1 ms.
pub const HERE_BYTES: u64 = 512 * 1024;

impl Prefetch {
    /// Starts merging on a new thread; the events come from
    /// [`Prefetch::next`]. Fails only when no thread can be had.
    pub fn start(merge: Merge) -> Result<Prefetch, SourceError> {
        Beside::start(merge).map(Prefetch::Beside)
    }

    /// [`Prefetch::here`] for a read of at most [`HERE_BYTES`] (`bytes`),
    /// [`Prefetch::start`] for more.
    pub fn for_read(merge: Merge, bytes: u64) -> Result<Prefetch, SourceError> {
        match bytes <= HERE_BYTES {
            true => Ok(Prefetch::here(merge)),
            false => Prefetch::start(merge),
        }
    }

    /// Merges on the calling thread, an event at each [`Prefetch::next`]:
    /// the same events, order and errors.
    pub fn here(merge: Merge) -> Prefetch {
        Prefetch::Here(Box::new(Here { merge, event: None }))
    }

    /// The next event in processing order, or `None` when every file is
    /// read: what [`Merge::next`] would give, lent until the next call.
    #[allow(clippy::should_implement_trait)] // fallible, and lends, unlike Iterator::next
    pub fn next(&mut self) -> Result<Option<&OrderedEvent>, ReadError> {
        match self {
            Prefetch::Beside(beside) => beside.next(),
            Prefetch::Here(here) => {
                here.event = here.merge.next()?;
                Ok(here.event.as_ref())
            }
        }
    }

    /// What the reading found besides the events ([`Merge::finish`]). Call
    /// it once [`Prefetch::next`] returned `None`.
    pub fn finish(self) -> ReadOutcome {
        match self {
            Prefetch::Beside(beside) => beside.finish(),
            Prefetch::Here(here) => here.merge.finish(),
        }
    }
}

/// A [`Merge`] on the fold's thread, and the event it lends.
pub struct Here {
    merge: Merge,
    event: Option<OrderedEvent>,
}

/// A [`Merge`] running on a thread of its own.
pub struct Beside {
    receiver: Receiver<Message>,
    /// The batch the fold goes through, and how far it went.
    current: Vec<OrderedEvent>,
    at: usize,
    /// Batches the fold went through, back to the reading thread.
    returns: Sender<Vec<OrderedEvent>>,
    outcome: Option<Box<ReadOutcome>>,
    failed: bool,
    thread: Option<JoinHandle<()>>,
}

impl Beside {
    /// [`Prefetch::start`].
    fn start(merge: Merge) -> Result<Beside, SourceError> {
        let (sender, receiver) = sync_channel(BATCHES_IN_FLIGHT);
        let (returns, returned) = channel();
        let thread = std::thread::Builder::new()
            .name("observer-read".into())
            .spawn(move || produce(merge, &sender, &returned))
            .map_err(|error| SourceError::Io { path: "a thread to read the events on".into(), error })?;
        Ok(Beside { receiver, current: Vec::new(), at: 0, returns, outcome: None, failed: false, thread: Some(thread) })
    }

    /// [`Prefetch::next`]: the event lent where it lies in its batch.
    fn next(&mut self) -> Result<Option<&OrderedEvent>, ReadError> {
        while self.at == self.current.len() {
            if self.outcome.is_some() || self.failed {
                return Ok(None);
            }
            match self.receiver.recv() {
                Ok(Message::Events(batch)) => {
                    let spent = std::mem::replace(&mut self.current, batch);
                    self.at = 0;
                    // The thread has ended when this fails: the batch is
                    // dropped here.
                    if spent.capacity() > 0 {
                        let _ = self.returns.send(spent);
                    }
                }
                Ok(Message::Failed(error)) => {
                    self.failed = true;
                    return Err(error);
                }
                Ok(Message::Done(outcome)) => self.outcome = Some(outcome),
                Err(_) => return Err(self.lost()),
            }
        }
        self.at += 1;
        Ok(self.current.get(self.at - 1))
    }

    fn finish(mut self) -> ReadOutcome {
        let outcome = self.outcome.take().map_or_else(ReadOutcome::default, |outcome| *outcome);
        self.join();
        outcome
    }

    /// The thread ended without saying why: it panicked. The panic goes on
    /// here, where the pass would have panicked without the thread.
    fn lost(&mut self) -> ReadError {
        if let Some(Err(panic)) = self.thread.take().map(JoinHandle::join) {
            std::panic::resume_unwind(panic);
        }
        ReadError::Source(SourceError::Io {
            path: "the thread reading the events".into(),
            error: std::io::Error::other("it ended without its last message"),
        })
    }

    fn join(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Beside {
    /// A fold that stops early (an error, a fold started over) hangs up:
    /// the thread's next send fails and it ends; it is waited for here.
    fn drop(&mut self) {
        let (_, closed) = sync_channel(0);
        drop(std::mem::replace(&mut self.receiver, closed));
        self.join();
    }
}

/// The merging thread: batches until the merge ends, then how it ended.
/// Returns as soon as the fold hangs up. Each new batch is one the fold
/// handed back, its events dropped here, when there is one.
fn produce(mut merge: Merge, sender: &SyncSender<Message>, returned: &Receiver<Vec<OrderedEvent>>) {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        match merge.next() {
            Ok(Some(event)) => {
                batch.push(event);
                if batch.len() == BATCH && sender.send(Message::Events(next_batch(&mut batch, returned))).is_err() {
                    return;
                }
            }
            Ok(None) => {
                if !batch.is_empty() && sender.send(Message::Events(batch)).is_err() {
                    return;
                }
                let _ = sender.send(Message::Done(Box::new(merge.finish())));
                return;
            }
            Err(error) => {
                if !batch.is_empty() && sender.send(Message::Events(batch)).is_err() {
                    return;
                }
                let _ = sender.send(Message::Failed(error));
                return;
            }
        }
    }
}

/// The full batch to send, leaving in its place an empty one: a batch the
/// fold handed back, emptied here, or a new one. Every other batch handed
/// back is emptied and freed too, so none piles up.
fn next_batch(batch: &mut Vec<OrderedEvent>, returned: &Receiver<Vec<OrderedEvent>>) -> Vec<OrderedEvent> {
    let mut empty = None;
    for mut back in returned.try_iter() {
        back.clear();
        empty.get_or_insert(back);
    }
    std::mem::replace(batch, empty.unwrap_or_else(|| Vec::with_capacity(BATCH)))
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashSet};

    use super::super::plan;
    use super::*;

    fn line(ts: &str, id: &str) -> String {
        format!("{{\"ts\":\"{ts}\",\"type\":\"tick\",\"id\":\"{id}\"}}\n")
    }

    /// Every key and id a merge gives, and how it ended.
    type Seen = (Vec<(String, u32, u64, Option<String>)>, Option<String>);

    fn seen(e: &OrderedEvent) -> (String, u32, u64, Option<String>) {
        (e.ts.to_rfc3339(), e.file, e.position, e.event.id.as_deref().map(str::to_string))
    }

    fn ended(error: ReadError) -> Option<String> {
        match error {
            ReadError::Unsorted { file } => Some(format!("unsorted {file}")),
            ReadError::Source(error) => Some(error.to_string()),
        }
    }

    fn drain(merge: &mut Merge) -> Seen {
        let mut out = Vec::new();
        loop {
            match merge.next() {
                Ok(Some(e)) => out.push(seen(&e)),
                Ok(None) => return (out, None),
                Err(error) => return (out, ended(error)),
            }
        }
    }

    /// [`drain`] of the thread: each event borrowed in its batch, as the
    /// fold does; the batches go back to be emptied and filled again.
    fn drain_lent(threaded: &mut Prefetch) -> Seen {
        let mut out = Vec::new();
        loop {
            match threaded.next() {
                Ok(Some(e)) => out.push(seen(e)),
                Ok(None) => return (out, None),
                Err(error) => return (out, ended(error)),
            }
        }
    }

    /// Many files, many batches, duplicate ids, equal times across files,
    /// a rejected line, a late `.json` file and an unfinished last line:
    /// the thread gives what the merge gives, in the same order, while its
    /// batches go back to be filled again.
    #[test]
    fn the_thread_gives_the_events_errors_and_outcome_of_the_merge_itself() {
        let dir = tempfile::tempdir().unwrap();
        for file in 0..5 {
            let mut text = String::new();
            for i in 0..(BATCH * 3 + 17 * file) {
                let minute = i / 7;
                text +=
                    &line(&format!("2026-05-12T{:02}:{:02}:00Z", minute / 60, minute % 60), &format!("e{}", i % 50));
                if i == 100 {
                    text += "{not json\n";
                }
            }
            text += "{\"ts\":";
            std::fs::write(dir.path().join(format!("p{file}.jsonl")), text).unwrap();
        }
        std::fs::write(dir.path().join("late.json"), line("2026-05-12T00:00:00Z", "e1")).unwrap();
        let plan = plan(dir.path(), &BTreeMap::new()).unwrap();

        let mut direct = Merge::open(&plan, &HashSet::new(), true).unwrap();
        let direct_seen = drain(&mut direct);
        let direct_outcome = direct.finish();
        // On the fold's thread: the merge's own events and outcome.
        let mut here = Prefetch::here(Merge::open(&plan, &HashSet::new(), true).unwrap());
        assert_eq!(drain_lent(&mut here), direct_seen);
        let here_outcome = here.finish();
        assert_eq!(
            (here_outcome.rejects, here_outcome.waiting, here_outcome.cursors, here_outcome.bytes_read),
            (
                direct_outcome.rejects.clone(),
                direct_outcome.waiting.clone(),
                direct_outcome.cursors.clone(),
                direct_outcome.bytes_read
            )
        );
        let mut threaded = Prefetch::start(Merge::open(&plan, &HashSet::new(), true).unwrap()).unwrap();
        let threaded_seen = drain_lent(&mut threaded);
        let threaded_outcome = threaded.finish();

        assert_eq!(direct_seen.0.len(), 5 * BATCH * 3 + 17 * 10 + 1);
        assert_eq!(threaded_seen, direct_seen);
        assert_eq!(threaded_outcome.rejects, direct_outcome.rejects);
        assert_eq!(threaded_outcome.waiting, direct_outcome.waiting);
        assert_eq!(threaded_outcome.cursors, direct_outcome.cursors);
        assert_eq!(
            (threaded_outcome.files_read, threaded_outcome.bytes_read),
            (direct_outcome.files_read, direct_outcome.bytes_read)
        );
        assert_eq!(threaded_outcome.rejects.len(), 5);
        assert_eq!(threaded_outcome.waiting.len(), 5);
    }

    #[test]
    fn a_file_out_of_order_stops_the_thread_after_the_same_events() {
        let dir = tempfile::tempdir().unwrap();
        let mut text: String = (0..BATCH + 3).map(|i| line(&format!("2026-05-12T01:{:02}:00Z", i % 60), "x")).collect();
        text += &line("2026-05-12T00:00:00Z", "back");
        std::fs::write(dir.path().join("a.jsonl"), text).unwrap();
        let plan = plan(dir.path(), &BTreeMap::new()).unwrap();
        let mut direct = Merge::open(&plan, &HashSet::new(), true).unwrap();
        let direct_seen = drain(&mut direct);
        let mut threaded = Prefetch::start(Merge::open(&plan, &HashSet::new(), true).unwrap()).unwrap();
        let threaded_seen = drain_lent(&mut threaded);
        assert_eq!(threaded_seen, direct_seen);
        assert_eq!(threaded_seen.1.as_deref(), Some("unsorted 0"));
        let mut here = Prefetch::here(Merge::open(&plan, &HashSet::new(), true).unwrap());
        assert_eq!(drain_lent(&mut here), direct_seen, "on the fold's thread");
    }

    /// A read of up to [`HERE_BYTES`] merges on the fold's thread, one
    /// byte more on a thread of its own.
    #[test]
    fn a_runs_few_events_are_read_here_and_more_beside() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.jsonl"), line("2026-05-12T01:00:00Z", "x")).unwrap();
        let plan = plan(dir.path(), &BTreeMap::new()).unwrap();
        let open = || Merge::open(&plan, &HashSet::new(), true).unwrap();
        assert!(matches!(Prefetch::for_read(open(), 0).unwrap(), Prefetch::Here(_)));
        assert!(matches!(Prefetch::for_read(open(), HERE_BYTES).unwrap(), Prefetch::Here(_)));
        assert!(matches!(Prefetch::for_read(open(), HERE_BYTES + 1).unwrap(), Prefetch::Beside(_)));
    }

    #[test]
    fn a_fold_that_stops_early_ends_the_thread() {
        let dir = tempfile::tempdir().unwrap();
        let text: String = (0..BATCH * 20).map(|i| line(&format!("2026-05-12T01:{:02}:00Z", i / 100), "x")).collect();
        std::fs::write(dir.path().join("a.jsonl"), text).unwrap();
        let plan = plan(dir.path(), &BTreeMap::new()).unwrap();
        let mut threaded = Prefetch::start(Merge::open(&plan, &HashSet::new(), true).unwrap()).unwrap();
        assert!(threaded.next().unwrap().is_some());
        drop(threaded); // returns: the thread saw the hang-up and was joined
    }
}
