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
//! The events go back the same way once folded ([`Prefetch::done_with`]):
//! profiled on the busy rebuild of 1,000,000 events, freeing them on the
//! fold's thread was 8.8 % of that thread's time, memory the reading thread
//! had allocated and the allocator had to hand back across threads. The
//! reading thread, which waits for the fold most of the time, drops them and
//! fills the emptied batches again.

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

/// A [`Merge`] running on a thread of its own.
pub struct Prefetch {
    receiver: Receiver<Message>,
    current: std::vec::IntoIter<OrderedEvent>,
    /// Events the fold is done with, sent back a batch at a time.
    spent: Vec<OrderedEvent>,
    returns: Sender<Vec<OrderedEvent>>,
    outcome: Option<Box<ReadOutcome>>,
    failed: bool,
    thread: Option<JoinHandle<()>>,
}

impl Prefetch {
    /// Starts merging on a new thread; the events come from
    /// [`Prefetch::next`]. Fails only when no thread can be had.
    pub fn start(merge: Merge) -> Result<Prefetch, SourceError> {
        let (sender, receiver) = sync_channel(BATCHES_IN_FLIGHT);
        let (returns, returned) = channel();
        let thread = std::thread::Builder::new()
            .name("observer-read".into())
            .spawn(move || produce(merge, &sender, &returned))
            .map_err(|error| SourceError::Io { path: "a thread to read the events on".into(), error })?;
        Ok(Prefetch {
            receiver,
            current: Vec::new().into_iter(),
            spent: Vec::with_capacity(BATCH),
            returns,
            outcome: None,
            failed: false,
            thread: Some(thread),
        })
    }

    /// Hands an event [`Prefetch::next`] gave back once the fold is done
    /// with it, to be freed on the reading thread. An event not handed back
    /// is simply freed where it is dropped.
    pub fn done_with(&mut self, event: OrderedEvent) {
        self.spent.push(event);
        if self.spent.len() == BATCH {
            // The thread has ended when this fails: the batch is dropped here.
            let _ = self.returns.send(std::mem::replace(&mut self.spent, Vec::with_capacity(BATCH)));
        }
    }

    /// The next event in processing order, or `None` when every file is
    /// read: what [`Merge::next`] would give.
    #[allow(clippy::should_implement_trait)] // fallible, unlike Iterator::next
    pub fn next(&mut self) -> Result<Option<OrderedEvent>, ReadError> {
        loop {
            if let Some(event) = self.current.next() {
                return Ok(Some(event));
            }
            if self.outcome.is_some() || self.failed {
                return Ok(None);
            }
            match self.receiver.recv() {
                Ok(Message::Events(batch)) => self.current = batch.into_iter(),
                Ok(Message::Failed(error)) => {
                    self.failed = true;
                    return Err(error);
                }
                Ok(Message::Done(outcome)) => self.outcome = Some(outcome),
                Err(_) => return Err(self.lost()),
            }
        }
    }

    /// What the reading found besides the events ([`Merge::finish`]). Call
    /// it once [`Prefetch::next`] returned `None`.
    pub fn finish(mut self) -> ReadOutcome {
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

impl Drop for Prefetch {
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

    fn drain(mut next: impl FnMut() -> Result<Option<OrderedEvent>, ReadError>) -> Seen {
        let mut out = Vec::new();
        loop {
            match next() {
                Ok(Some(e)) => {
                    out.push((e.ts.to_rfc3339(), e.file, e.position, e.event.id.as_deref().map(str::to_string)))
                }
                Ok(None) => return (out, None),
                Err(ReadError::Unsorted { file }) => return (out, Some(format!("unsorted {file}"))),
                Err(ReadError::Source(error)) => return (out, Some(error.to_string())),
            }
        }
    }

    /// [`drain`], handing every event back once it is seen, as the fold
    /// does: the batches come back emptied and are filled again.
    fn drain_handing_back(threaded: &mut Prefetch) -> Seen {
        let mut seen = Vec::new();
        loop {
            match threaded.next() {
                Ok(Some(e)) => {
                    seen.push((e.ts.to_rfc3339(), e.file, e.position, e.event.id.as_deref().map(str::to_string)));
                    threaded.done_with(e);
                }
                Ok(None) => return (seen, None),
                Err(error) => return (seen, Some(format!("{error:?}"))),
            }
        }
    }

    /// Many files, many batches, duplicate ids, equal times across files,
    /// a rejected line, a late `.json` file and an unfinished last line:
    /// the thread gives what the merge gives, in the same order, also when
    /// the fold hands the events back to be freed there and their batches
    /// are filled again.
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
        let direct_seen = drain(|| direct.next());
        let direct_outcome = direct.finish();
        let mut threaded = Prefetch::start(Merge::open(&plan, &HashSet::new(), true).unwrap()).unwrap();
        let threaded_seen = drain_handing_back(&mut threaded);
        let threaded_outcome = threaded.finish();

        assert_eq!(direct_seen.0.len(), 5 * BATCH * 3 + 17 * 10 + 1);
        assert_eq!(threaded_seen, direct_seen);
        let mut kept = Prefetch::start(Merge::open(&plan, &HashSet::new(), true).unwrap()).unwrap();
        assert_eq!(drain(|| kept.next()), direct_seen, "events not handed back are freed where they are dropped");
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
        let direct_seen = drain(|| direct.next());
        let mut threaded = Prefetch::start(Merge::open(&plan, &HashSet::new(), true).unwrap()).unwrap();
        let threaded_seen = drain(|| threaded.next());
        assert_eq!(threaded_seen, direct_seen);
        assert_eq!(threaded_seen.1.as_deref(), Some("unsorted 0"));
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
