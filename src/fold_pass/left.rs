//! What left the hot view, taken from the engine while the fold runs, and
//! turned into history lines on a thread of its own.
//!
//! A pass used to leave every entry that left the hot view in the engine
//! until the fold ended, then serialise them all into the history lines:
//! on a busy history a rebuild held ~46 MB of those structs beside the
//! ~48 MB of their lines at its peak (heaptrack, issue 11). Now the shell
//! takes them ([`Engine::take_left`]) every [`CHUNK`] entries. A second
//! thread, the stager, gathers the disk facts of the deployments among
//! them and serialises them into the pass's [`Lines`] (the same bytes, in
//! the same order per file, as chunks are staged in the order they are
//! taken). Profiled on the busy rebuild of 1,000,000 events, that work was
//! 17 % of the fold's thread (`Left::take`, `history::push`), the thread
//! the wall time waits for; the other core had room. Nothing is written
//! here: the lines are staged after the fold as before, so the history's
//! crash protocol (`store::history`) is unchanged. When no thread can be
//! started, the chunks are staged on the fold's thread, as before.

use std::path::{Path, PathBuf};

use crate::engine::{Engine, LeftEntries};
use crate::store::deployment_files::{self, DiskFacts};
use crate::store::history::{Early, HistoryError, Lines, Streamed};
use crate::threads::Fed;
use crate::world;

/// How many entries may wait in the engine before the shell takes them.
const CHUNK: usize = 16384;

/// Chunks taken and not yet staged, besides the one being staged: the
/// fold waits rather than hold more.
const CHUNKS_IN_FLIGHT: usize = 1;

/// The history lines of a pass, made as entries leave the hot view.
pub(super) struct Left {
    /// [`CHUNK`], but in tests.
    chunk: usize,
    staging: Staging,
}

/// Where the chunks are staged.
enum Staging {
    /// On the stager's thread (`observer-history`), sent there in order;
    /// staged, the entries come back to be freed on the thread that
    /// allocated them.
    Thread(Fed<LeftEntries, Stager>),
    /// Here, when no thread could be started.
    Here(Box<Stager>),
}

/// Turns what left into history lines.
struct Stager {
    state_dir: PathBuf,
    logs_dir: PathBuf,
    lines: Lines,
    /// The refused diagnostics named by deployments that left (for the
    /// pass's warnings); the other facts live on only in the lines.
    refused: DiskFacts,
    /// The first entry that could not be serialised: the pass stops with it
    /// once the fold is done.
    error: Option<serde_json::Error>,
    /// Writes the lines of the files the pass makes as they are staged
    /// (`store/history/early.rs`); `None` when all are left to
    /// `history::stage`.
    early: Option<Early>,
    /// The first error writing them: the pass stops with it.
    early_error: Option<HistoryError>,
}

impl Left {
    /// `early` writes the lines of the files the pass makes while the fold
    /// runs.
    pub(super) fn new(state_dir: &Path, logs_dir: &Path, early: Option<Early>) -> Left {
        Left::with_chunk(CHUNK, state_dir, logs_dir, early)
    }

    fn with_chunk(chunk: usize, state_dir: &Path, logs_dir: &Path, early: Option<Early>) -> Left {
        let stager = Stager::new(state_dir, logs_dir, early);
        let stage = |stager: &mut Stager, left: &LeftEntries| stager.stage(left);
        // Without a thread, the lines are all written by `history::stage`
        // (the early writer went with the stager, before it wrote).
        let staging = match Fed::start("observer-history", CHUNKS_IN_FLIGHT, stager, stage) {
            Some(fed) => Staging::Thread(fed),
            None => Staging::Here(Box::new(Stager::new(state_dir, logs_dir, None))),
        };
        Left { chunk, staging }
    }

    /// Takes what left when [`CHUNK`] entries or more wait in the engine.
    pub(super) fn take_some(&mut self, engine: &mut Engine) {
        if engine.left_waiting() >= self.chunk {
            self.take(engine);
        }
        // Staged entries are freed as soon as they are back, not a chunk
        // later (peak memory).
        if let Staging::Thread(fed) = &mut self.staging {
            fed.free_done();
        }
    }

    /// Takes everything that left so far and hands it to the stager.
    pub(super) fn take(&mut self, engine: &mut Engine) {
        let left = engine.take_left();
        if left.is_empty() {
            return;
        }
        match &mut self.staging {
            Staging::Thread(fed) => fed.send(left),
            Staging::Here(here) => here.stage(&left),
        }
    }

    /// The pass's history lines not yet written, the files written while
    /// the fold ran (or why they could not be), and the refused
    /// diagnostics of the deployments that left, once the fold is done and
    /// [`Left::take`] took the rest. A panic of the stager's thread goes on
    /// here.
    pub(super) fn finish(self) -> Result<Finished, serde_json::Error> {
        let mut stager = self.stop();
        let streamed = match (stager.early_error.take(), stager.early.take()) {
            (Some(error), _) => Err(error),
            (None, Some(early)) => early.finish(),
            (None, None) => Ok(Streamed::default()),
        };
        match stager.error {
            Some(error) => Err(error),
            None => Ok(Finished { lines: stager.lines, streamed, refused: stager.refused }),
        }
    }

    /// Ends a fold that does not go on (an error, or a fold started over):
    /// the files written while it ran are removed before this returns.
    pub(super) fn abandon(self) {
        drop(self.stop());
    }

    fn stop(self) -> Stager {
        let mut stager = match self.staging {
            Staging::Thread(fed) => fed.stop(),
            Staging::Here(here) => *here,
        };
        stager.close();
        stager
    }
}

/// What [`Left::finish`] gives.
pub(super) struct Finished {
    /// The lines not written while the fold ran, for `history::stage`.
    pub(super) lines: Lines,
    /// The files written while the fold ran.
    pub(super) streamed: Result<Streamed, HistoryError>,
    /// The refused diagnostics of the deployments that left.
    pub(super) refused: DiskFacts,
}

impl Stager {
    fn new(state_dir: &Path, logs_dir: &Path, early: Option<Early>) -> Stager {
        Stager {
            state_dir: state_dir.to_path_buf(),
            logs_dir: logs_dir.to_path_buf(),
            lines: Lines::default(),
            refused: DiskFacts::default(),
            error: None,
            early,
            early_error: None,
        }
    }

    /// Adds the lines of one chunk, and writes those of the files written
    /// early; after an error, the rest is dropped.
    fn stage(&mut self, left: &LeftEntries) {
        if self.error.is_some() || self.early_error.is_some() {
            return;
        }
        let gone = left.deployments.iter().map(|(id, run)| (id.as_str(), &run.diagnostics));
        let facts = deployment_files::gather(gone, &self.state_dir, &self.logs_dir);
        if let Err(error) = world::history::push(&mut self.lines, left, &facts) {
            self.error = Some(error);
            return;
        }
        let refused = facts.diagnostics.into_iter().filter(|(_, file)| file.refused.is_some());
        self.refused.diagnostics.extend(refused);
        if let Some(early) = &mut self.early
            && let Err(error) = early.write(&mut self.lines)
        {
            self.early_error = Some(error);
        }
    }

    /// Once the last chunk is staged: after an error, the files written
    /// early are removed here.
    fn close(&mut self) {
        if self.error.is_some() || self.early_error.is_some() {
            self.early = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::given::event;
    use crate::engine::{Input, Rules};
    use crate::store::history::{self, Basis};

    /// `n` deployments and `n` outages of saturn/mosquitto, a minute apart.
    fn story(n: usize) -> Vec<String> {
        (0..n)
            .flat_map(|k| {
                let (h, m) = (k / 60, k % 60);
                let end = if k % 3 == 0 { "deployment_failed" } else { "deployment_succeeded" };
                [
                    format!(
                        r#"{{"ts":"2026-05-12T{h:02}:{m:02}:00Z","type":"deployment_started","correlation_id":"d{k}","node":"saturn","service":"mosquitto"}}"#
                    ),
                    format!(
                        r#"{{"ts":"2026-05-12T{h:02}:{m:02}:10Z","type":"service_unhealthy","node":"saturn","service":"mosquitto"}}"#
                    ),
                    format!(
                        r#"{{"ts":"2026-05-12T{h:02}:{m:02}:20Z","type":"{end}","correlation_id":"d{k}","payload":{{"diagnostics":["../outside-{k}.log"]}}}}"#
                    ),
                    format!(
                        r#"{{"ts":"2026-05-12T{h:02}:{m:02}:30Z","type":"service_recovered","node":"saturn","service":"mosquitto"}}"#
                    ),
                ]
            })
            .collect()
    }

    /// The lines, refused diagnostics and engine state of one pass over
    /// `lines`, what left taken every `chunk` entries.
    fn pass(lines: &[String], chunk: usize) -> (Lines, DiskFacts, serde_json::Value) {
        let (finished, state) = pass_writing(lines, chunk, None);
        (finished.lines, finished.refused, state)
    }

    /// [`pass`], writing the history lines of the files absent under
    /// `history` while it folds.
    fn pass_writing(lines: &[String], chunk: usize, history: Option<&Path>) -> (Finished, serde_json::Value) {
        let left = folded(lines, chunk, history);
        (left.0.finish().unwrap(), left.1)
    }

    /// What left of a fold over `lines`, all taken, and the engine state.
    fn folded(lines: &[String], chunk: usize, history: Option<&Path>) -> (Left, serde_json::Value) {
        let tmp = tempfile::tempdir().unwrap();
        let (state, logs) = (tmp.path().join("state"), tmp.path().join("logs"));
        std::fs::create_dir_all(&logs).unwrap();
        let rules = Rules { keep_finished: 2, ..Rules::default() };
        let mut engine = Engine::default();
        let early = history.map(|dir| Early::at(dir, Basis::Scratch(None)).unwrap());
        let mut left = Left::with_chunk(chunk, &state, &logs, early);
        engine.apply(Input::PassStarted, &rules);
        for (position, text) in lines.iter().enumerate() {
            let event = event(text);
            engine.apply(Input::Event { event: &event, file: "story.jsonl", position: position as u64 }, &rules);
            left.take_some(&mut engine);
            assert!(engine.left_waiting() < chunk, "at most a chunk waits in the engine");
        }
        left.take(&mut engine);
        assert!(engine.left_deployments().is_empty() && engine.left_incidents().is_empty());
        assert!(engine.left_hot_view().is_empty());
        (left, serde_json::to_value(&engine).unwrap())
    }

    #[test]
    fn what_left_taken_in_chunks_gives_the_lines_and_state_of_one_take_at_the_end() {
        let lines = story(200);
        let (once, refused_once, state_once) = pass(&lines, usize::MAX);
        let files = once.files();
        assert!(files.keys().any(|name| name.starts_with("deployments-")), "{:?}", files.keys());
        assert!(files.keys().any(|name| name.starts_with("incidents-")), "{:?}", files.keys());
        let deployments: usize = files
            .iter()
            .filter(|(n, _)| n.starts_with("deployments-"))
            .map(|(_, b)| b.iter().filter(|c| **c == b'\n').count())
            .sum();
        assert_eq!(deployments, 198, "all but the last two finished deployments left");
        assert!(!refused_once.diagnostics.is_empty(), "the failed ones that left named a refused path");
        for chunk in [1, 2, 7, 64] {
            let (chunked, refused, state) = pass(&lines, chunk);
            assert_eq!(chunked.files(), once.files(), "taken every {chunk}");
            assert_eq!(refused.diagnostics, refused_once.diagnostics, "taken every {chunk}");
            assert_eq!(state, state_once, "taken every {chunk}");
        }
    }

    #[test]
    fn history_written_while_the_fold_runs_is_that_of_one_stage_at_the_end() {
        let lines = story(200);
        let tmp = tempfile::tempdir().unwrap();
        let whole = tmp.path().join("whole");
        let (once, ..) = pass(&lines, usize::MAX);
        let marks = history::stage(&whole, Basis::Scratch(None), once).unwrap().settle().unwrap();
        for chunk in [1, 7, 64] {
            let dir = tmp.path().join(format!("early-{chunk}"));
            let (finished, _) = pass_writing(&lines, chunk, Some(&dir));
            let streamed = finished.streamed.unwrap();
            assert!(finished.lines.files().values().all(Vec::is_empty), "every line written early");
            let early =
                history::stage_after(&dir, Basis::Scratch(None), finished.lines, streamed).unwrap().settle().unwrap();
            for (name, mark) in &marks.files {
                assert_eq!(std::fs::read(dir.join(name)).unwrap(), std::fs::read(whole.join(name)).unwrap(), "{name}");
                assert_eq!(early.files[name].content(), mark.content(), "{name}");
            }
            assert_eq!(early.files.len(), marks.files.len());
        }
        // A fold that does not go on: the files it wrote are removed.
        let dir = tmp.path().join("abandoned");
        let (left, _) = folded(&lines, 7, Some(&dir));
        assert!(std::fs::read_dir(&dir).unwrap().count() > 0, "written while folding");
        left.abandon();
        assert!(!dir.exists(), "the files and the directory made for them are gone");
    }
}
