//! One pass of the reducer, the fold-and-write cycle that `run`, `probe`
//! and `rebuild` share: read what is new, fold it in order, append what
//! left the hot view to the history, write the world, append the
//! notifications it decided to the outbox, then commit the checkpoint. The
//! IO shell around the pure engine.
//!
//! The caller has checked that the event directory is there
//! (`Dirs::require_events`): once per command, before it takes the lock.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::dirs::Dirs;
use crate::engine::alerts::NotificationKind;
use crate::engine::{Engine, Input, Rules};
use crate::event::Detail;
use crate::inventory::Inventory;
use crate::store::atomic::write_if_changed;
use crate::store::checkpoint::{Checkpoint, CheckpointError, CheckpointFile, WorldInputs};
use crate::store::deployment_files::{self, DiagnosticFile, DiskFacts};
use crate::store::event_index::{self, PassBlocks};
use crate::store::event_index_log;
use crate::store::events::scrub::{ScrubFacts, ScrubPosition};
use crate::store::events::{self, Merge, Prefetch, ReadError, Reject};
use crate::store::fault_injection;
use crate::store::fingerprint::fnv1a;
use crate::store::generation;
use crate::store::history::{self, HistoryError};
use crate::store::outbox::{self, OutboxMark};
use crate::time::Ts;
use crate::world;

mod beside;
mod decided;
mod error;
mod left;
use beside::{Rendered, beside};
use decided::Decided;
pub use error::PassError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Continue from the checkpoint (a missing checkpoint starts from scratch).
    Incremental,
    /// Start from nothing and replace the live state.
    Rebuild,
    /// Start from nothing, fold events up to `until` (all if `None`), and
    /// write the world and `outbox.jsonl` to `out` only; live state is not
    /// touched.
    Replay { until: Option<Ts>, out: PathBuf },
}

/// What becomes of the state a pass folded (its engine: ~100 MB in small
/// allocations on a busy history) once the pass is done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Afterwards {
    /// Freed on a thread of its own (`threads::drop_beside`): the process
    /// goes on (`watch`, a pass that another pass follows, `verify`, which
    /// then reads the world files whole to compare them).
    Free,
    /// Left to the end of the process, which gives all its pages back at
    /// once (`threads::leave`): the last pass of a command that ends after
    /// it (`run`, `rebuild`, `probe`; `run` and `probe` still deliver the
    /// notifications the pass committed, which can take the hooks'
    /// timeouts). Freed beside, as before the fourteenth pass of issue 11,
    /// the engine was never freed before a busy run ended, and the freeing
    /// thread made its last steps wait for the allocator: timed inside the
    /// process on the busy history (a run folding 1,000 events), from the
    /// commit to the command's end took 3.6 and 7.3 ms with it, 1.9 and
    /// 1.8 ms without (medians of two sets of 15 alternated runs).
    Leave,
}

/// What a pass did, for the command to report.
#[derive(Debug, Default)]
pub struct Report {
    pub folded: u64,
    pub duplicates: u64,
    pub late: u64,
    pub rejects: Vec<Reject>,
    pub refused_diagnostics: Vec<DiagnosticFile>,
    pub files_seen: usize,
    pub files_read: usize,
    pub bytes_read: u64,
    pub written: Vec<&'static str>,
    pub as_of: Option<Ts>,
    /// The kind and instant of each notification this pass decided (a
    /// rebuild's: all of them), in order.
    pub notifications: Vec<(NotificationKind, Ts)>,
    /// The event index could not be written (a warning: it is a hint).
    pub index_problem: Option<String>,
    /// What the scrub checked, in a pass that scrubbed.
    pub scrub: Option<ScrubFacts>,
    /// The committed notifications by kind, when the checkpoint counts them
    /// (for `metrics.prom`).
    pub notified: Option<BTreeMap<NotificationKind, u64>>,
}

/// Runs one pass in `mode` over the events under `dirs.events`.
pub fn run(
    dirs: &Dirs,
    config: &Config,
    inventory: &Inventory,
    mode: &Mode,
    afterwards: Afterwards,
) -> Result<Report, PassError> {
    run_pass(dirs, config, inventory, mode, None, afterwards)
}

/// An incremental pass that scrubs `integrity.scrub_bytes_per_run`
/// consumed bytes from `start` on (`store/events/scrub.rs`), even when
/// nothing else is to be done (first, when the pass may be a no-op; beside
/// the engine state's load, when it folds); a mismatch stops it before
/// anything is written.
pub fn run_scrubbing(
    dirs: &Dirs,
    config: &Config,
    inventory: &Inventory,
    start: &ScrubPosition,
    afterwards: Afterwards,
) -> Result<Report, PassError> {
    run_pass(dirs, config, inventory, &Mode::Incremental, Some(start), afterwards)
}

/// Reads the checkpoint's header while `events/` is listed on a worker
/// (`crate::threads`): neither needs the other, and on a history of many
/// small files both are long (a `statx` per file; a cursor per file to
/// parse), so with a second core a no-op run takes about the longer of the
/// two instead of their sum. Without workers, the listing runs after the
/// read. The checkpoint's error, if any, is the one the pass reports.
fn read_while_listing(
    dirs: &Dirs,
) -> (Result<Option<CheckpointFile>, CheckpointError>, Result<events::Listing, events::SourceError>) {
    crate::threads::both(|| Checkpoint::read(&dirs.state), || events::Listing::of(&dirs.events))
}

fn run_pass(
    dirs: &Dirs,
    config: &Config,
    inventory: &Inventory,
    mode: &Mode,
    scrub: Option<&ScrubPosition>,
    afterwards: Afterwards,
) -> Result<Report, PassError> {
    let (stored, listing) = match mode {
        Mode::Incremental => read_while_listing(dirs),
        Mode::Rebuild | Mode::Replay { .. } => (Ok(None), events::Listing::of(&dirs.events)),
    };
    let stored = stored.map_err(PassError::Checkpoint)?;
    let no_cursors = BTreeMap::new();
    let plan = listing
        .and_then(|listing| listing.plan(stored.as_ref().map_or(&no_cursors, |s| &s.header.cursors)))
        .map_err(PassError::Source)?;
    let mut report = Report { files_seen: plan.files_seen(), ..Report::default() };
    let committed = stored.as_ref().map_or_else(OutboxMark::default, |s| s.header.outbox);
    // The engine state, when it was loaded beside the scrub.
    let mut loaded = None;
    let mut learned = Vec::new();
    let budget = config.integrity.scrub_bytes_per_run;
    let scrubbing = |start: &ScrubPosition| events::scrub::scrub(&dirs.events, &plan, budget, start);
    let mut scrubbed = |outcome: Result<events::scrub::ScrubOutcome, _>| -> Result<_, PassError> {
        let outcome = outcome.map_err(PassError::Source)?;
        report.scrub = Some(outcome.facts(budget));
        Ok(outcome.learned)
    };
    if let Some(stored) = &stored
        && plan.is_unchanged_from(&stored.header.cursors)
        && outbox::length(&dirs.state) == committed.bytes
        && history::is_settled(&dirs.world.join(history::DIR), stored.header.history.as_ref())
        && world_is_current(dirs, config, inventory, stored)
    {
        if let Some(start) = scrub {
            learned = scrubbed(scrubbing(start))?;
        }
        // Block hashes the scrub made for an older checkpoint's cursors are
        // committed by a full pass.
        if learned.is_empty() {
            fault_injection::crash_at("after-scan");
            // A rebuild killed in its fold left its outbox's temp file
            // and nothing else: the pass that finds nothing to fold
            // removes it, as `outbox::prepare` does in a pass that folds.
            outbox::remove_temp(&dirs.state);
            report.as_of = stored.header.clock;
            report.notified = stored.header.notified.clone();
            return Ok(report);
        }
    } else if let (Some(stored), Some(start)) = (&stored, scrub) {
        // A pass that folds (new events, or a world to write again): the
        // scrub reads beside the engine state's load (issue 11, tenth pass:
        // ~10 % of the calm 1,000-event run was the scrub's 4 MiB, before
        // the state was even read). Its answer is known before anything
        // is written, and a mismatch is the error told when the state
        // cannot be read either. A budget of 0 reads nothing: no thread.
        let (state, outcome) = match budget {
            0 => (Ok(None), scrubbing(start)),
            _ => {
                let (state, outcome) = crate::threads::both(|| stored.to_checkpoint(), || scrubbing(start));
                (state.map(Some), outcome)
            }
        };
        learned = scrubbed(outcome)?;
        loaded = state.map_err(PassError::Checkpoint)?;
    }
    if *mode == Mode::Incremental {
        // Lines a crashed pass left after the committed part are decided
        // again by this fold; a rebuild replaces the whole file instead.
        outbox::prepare(&dirs.state, &committed).map_err(PassError::Outbox)?;
    }
    let until = match mode {
        Mode::Replay { until, .. } => *until,
        _ => None,
    };
    let rules = crate::rules::build(config, inventory);
    let world_dir = match mode {
        Mode::Replay { out, .. } => out.as_path(),
        _ => dirs.world.as_path(),
    };
    let history_dir = world_dir.join(history::DIR);
    // What the history's lines are appended after: known before the fold,
    // which writes the lines of the files the pass makes as they are made
    // (`store/history/early.rs`).
    let live_history = match (mode, &stored) {
        (Mode::Incremental, Some(stored)) => stored.header.history.clone(),
        (Mode::Rebuild, _) => Checkpoint::read(&dirs.state).ok().flatten().and_then(|live| live.header.history),
        _ => None,
    };
    let basis = match (mode, &live_history) {
        (Mode::Incremental, Some(marks)) => history::Basis::Committed(marks),
        (Mode::Incremental, None) if stored.is_some() => history::Basis::Adopt,
        (Mode::Rebuild, live) => history::Basis::Scratch(live.as_ref()),
        _ => history::Basis::Scratch(None),
    };
    // The files are merged as sorted runs; one found out of order is read
    // whole and sorted, and the fold starts over (at most once per such
    // file; producers append in time order, so it is rare).
    let mut whole = HashSet::new();
    // A whole new outbox goes to its temp file as the fold decides it, on a
    // thread of its own (`decided.rs`); it is put in place below, at its
    // turn.
    let new_outbox = match mode {
        Mode::Incremental => None,
        Mode::Rebuild => Some(outbox::path(&dirs.state)),
        Mode::Replay { out, .. } => Some(out.join(outbox::FILE_NAME)),
    };
    let (mut checkpoint, folded, reading, blocks, mut left, decided) = loop {
        let mut checkpoint = match (loaded.take(), &stored) {
            (Some(loaded), _) => loaded,
            (None, Some(stored)) => stored.to_checkpoint().map_err(PassError::Checkpoint)?,
            (None, None) => Checkpoint::default(),
        };
        let before = checkpoint.engine.stats().clone();
        checkpoint.engine.apply(Input::PassStarted, &rules);
        // Read and parsed on a second thread while the fold applies
        // (`store/events/prefetch.rs`): the same events in the same order;
        // a few new events, on this thread.
        let merge = Merge::open(&plan, &whole, true).map_err(PassError::Source)?;
        let mut merge = Prefetch::for_read(merge, plan.bytes_to_read()).map_err(PassError::Source)?;
        let mut blocks = PassBlocks::default();
        let early = history::Early::at(&history_dir, basis);
        let mut left = left::Left::new(&dirs.state, &dirs.logs, early);
        let mut decided = new_outbox.as_deref().map_or_else(Decided::kept, Decided::written_to);
        let folding = Folding { rules: &rules, until, blocks: &mut blocks, left: &mut left, decided: &mut decided };
        match fold(&mut checkpoint.engine, &mut merge, &plan.paths, folding) {
            Ok(mut folded) => {
                folded.before = before;
                break (checkpoint, folded, merge.finish(), blocks, left, decided);
            }
            // The lines written so far are removed: the fold starts over
            // from nothing, or the pass stops.
            Err(ReadError::Unsorted { file }) => {
                left.abandon();
                whole.insert(file);
            }
            Err(ReadError::Source(error)) => {
                left.abandon();
                return Err(PassError::Source(error));
            }
        }
    };
    fault_injection::crash_at("after-scan");
    for _ in &reading.rejects {
        checkpoint.engine.apply(Input::LineRejected, &rules);
    }
    left.take(&mut checkpoint.engine);
    if *mode != Mode::Incremental {
        // A rebuild's lookups of the ids that left are done: their hash
        // maps (~4 MB on the busy history) are freed before the world and
        // the state are made, where its peak memory is (bench row 5:
        // 83.0 against 86.1 MB, medians of 5 alternated rebuilds). The
        // snapshot's saved index is made from the minutes.
        checkpoint.engine.forget_gone_index();
    }
    let after = checkpoint.engine.stats();
    report.folded = after.total - folded.before.total;
    report.duplicates = after.duplicates - folded.before.duplicates;
    report.late = after.late - folded.before.late;
    report.files_read = reading.files_read;
    report.bytes_read = reading.bytes_read;
    report.rejects = reading.rejects.clone();
    checkpoint.push_rejects(reading.rejects);
    let previous_index = match mode {
        Mode::Incremental => event_index_log::read(&dirs.state),
        _ => None,
    };
    let before = previous_index.as_ref().map(|read| read.index.clone());
    let index = event_index::updated(before, &plan.paths, blocks, &checkpoint.cursors, &reading.cursors);
    checkpoint.cursors = reading.cursors;
    events::scrub::adopt(&mut checkpoint.cursors, learned);
    report.as_of = checkpoint.engine.clock();

    // Listed once, for the stamp, the deployments worth watching and their
    // facts: a marker directory made after the listing changes the stamp
    // the next run sees.
    let listed = deployment_files::marker_dirs(&dirs.state);
    let marker_dirs = Some(deployment_files::stamp_of(&listed));
    let watching = deployment_files::worth_watching(&checkpoint.engine, &listed);
    let watched = watching.iter().map(|(id, paths)| (id.as_str(), paths));
    let facts = deployment_files::gather_listed(watched, &listed, &dirs.state, &dirs.logs);
    // The history lines of what left the hot view in this pass (those of
    // the files it made are written already), and the refusals among the
    // diagnostics named by the deployments that left.
    let left::Finished { lines, streamed, refused: left_refused } =
        left.finish().map_err(|error| PassError::Serialise { path: history_dir.clone(), error })?;
    report.refused_diagnostics = newly_refused(&folded.diagnostics, &[&facts, &left_refused]);
    let digest = inputs_digest(config, inventory, &facts);
    // What left the hot view is on disk before the world that no longer
    // shows it (SPEC §4: in one place or both, never in neither): the
    // files written during the fold were synced at its end.
    // The engine and the rejects are final: the outbox lines and the engine
    // state are made on the workers while this thread writes the world (and
    // the history, first, unless its lines are staged on a worker of their
    // own meanwhile: `beside`). The engine state's files are written there
    // too: no checkpoint names them until the commit at the end (see
    // `RenderedState::write`). The outbox is written in its place below.
    // The commit points after-outbox, after-engine-state and
    // before-checkpoint keep their order; after-history comes before
    // before-swap, and may come after a world file is written.
    let notifications = checkpoint.engine.take_notifications();
    let decided_kinds = decided.kinds(&notifications);
    let base = match mode {
        Mode::Incremental => committed,
        _ => OutboxMark::default(),
    };
    let save_state = !matches!(mode, Mode::Replay { .. });
    // What the engine state is diffed against, taken with it to the second
    // thread.
    let state_read = checkpoint.stored.take();
    create_dir(world_dir, "the world directory")?;
    // A run's few lines are staged on a worker while the world is written
    // (`beside::Staging`); tens of MB still to write, first, and freed.
    let at_once = lines.bytes() <= beside::AT_ONCE_BYTES;
    let ((written, history_marks), rendered) = beside(
        at_once,
        || -> Result<_, PassError> {
            let failed = |error| match error {
                HistoryError::Io { .. } | HistoryError::Directory(_) => PassError::HistoryWrite(error),
                _ => PassError::History(error),
            };
            let staged = history::stage_after(&history_dir, basis, lines, streamed.map_err(failed)?).map_err(failed)?;
            fault_injection::crash_at("after-history");
            Ok(staged)
        },
        |mut staging| {
            // A file at a time into one buffer, each written before the
            // next is rendered: on a rebuild the lines and the files are
            // tens of MB (peak memory), and in a busy run the files held at
            // once were ~1,600 page faults (issue 11). The new generation
            // is made current only once the history lines are on disk.
            let written = world::render_each(&checkpoint.engine, inventory, config, &facts, |render| {
                write_world(world_dir, render, || staging.wait())
            });
            // The history's refusal is told before the world's, as when
            // it was staged first (its error, given to the world's wait,
            // is the world's error then).
            let written = written.map_err(|world| staging.wait().err().unwrap_or(world))?;
            // The generation before the one just replaced, removed on a
            // worker while the pass commits; waited for before the commit.
            let pruning = Pruning((!written.is_empty()).then(|| {
                let dir = world_dir.to_path_buf();
                crate::threads::later(move || generation::prune_old(&dir))
            }));
            let history_marks = staging.take()?.settle().map_err(PassError::HistorySettle)?;
            Ok((Written { files: written, pruning }, history_marks))
        },
        || decided.finish(&notifications, &base),
        || {
            save_state.then(|| {
                checkpoint.render_state(&dirs.state, state_read).and_then(|s| s.write(&dirs.state, &checkpoint.engine))
            })
        },
    )?;
    let Written { files: written, pruning } = written;
    report.written = written;
    report.notifications = decided_kinds;
    // A run's few, or what a rebuild decided after its last batch.
    drop(notifications);
    let Rendered { outbox: rendered_outbox, state: rendered_state } = rendered;
    if let Mode::Replay { out, .. } = mode {
        rendered_outbox
            .and_then(|lines| lines.replace(&out.join(outbox::FILE_NAME)))
            .map_err(PassError::OutboxWrite)?;
        pruning.wait()?;
        release(checkpoint, afterwards);
        return Ok(report);
    }
    let path = dirs.rejects();
    let rejects =
        world::render(&checkpoint.rejects).map_err(|error| PassError::Serialise { path: path.clone(), error })?;
    create_dir(&dirs.state, "the state directory")?;
    write_if_changed(&path, &rejects).map_err(|error| PassError::Rejects { path, error })?;
    checkpoint.history = Some(history_marks);
    let notified = match &stored {
        Some(stored) => outbox::committed_by_kind(&dirs.state, stored.header.notified.as_ref()),
        None => Ok(BTreeMap::new()),
    };
    let kinds = report.notifications.iter().map(|(kind, _)| *kind);
    checkpoint.notified = Some(outbox::by_kind(notified.map_err(PassError::Outbox)?, kinds));
    report.notified = checkpoint.notified.clone();
    checkpoint.outbox = rendered_outbox
        .and_then(|lines| match mode {
            Mode::Incremental => lines.append(&dirs.state, &committed),
            _ => lines.replace(&outbox::path(&dirs.state)),
        })
        .map_err(PassError::OutboxWrite)?;
    fault_injection::crash_at("after-outbox");
    // A hint for `explain`, never trusted beyond what it can check: a
    // failure to write it leaves explain reading whole files.
    if let Err(error) = event_index_log::write(&dirs.state, previous_index.as_ref(), &index) {
        report.index_problem = Some(format!(
            "cannot write {}: {error}; explain reads whole event files meanwhile",
            event_index_log::path(&dirs.state).display()
        ));
    }
    pruning.wait()?;
    // Stamped once the old generation is gone: its removal changes the
    // link count, and so the ctime, of the files it shared with the
    // current one, and a stamp taken before made the next idle run fold
    // again (`world_is_current`).
    checkpoint.inputs = Some(WorldInputs { digest, deployments: watching, written: written_stamp(dirs), marker_dirs });
    fault_injection::crash_at("before-checkpoint");
    // Always made (`save_state`): without it, the whole state would be
    // written as a new snapshot.
    let state = rendered_state.unwrap_or_else(|| checkpoint.render_state(&dirs.state, None));
    checkpoint.save_rendered(&dirs.state, state).map_err(PassError::Commit)?;
    fault_injection::crash_at("after-checkpoint");
    release(checkpoint, afterwards);
    Ok(report)
}

/// The world files a pass wrote (the names of those that changed), and
/// the removal of the generation before the one they replaced.
struct Written {
    files: Vec<&'static str>,
    pruning: Pruning,
}

/// The removal of the world's old generation ([`generation::prune_old`])
/// on a worker, when the pass made a new generation: waited for before the
/// commit ([`Pruning::wait`]), or, by a pass that stops before it, when
/// dropped, so that no removal outlives its pass (a `watch` pass after a
/// failed one would remove the same directory beside it).
struct Pruning(Option<crate::threads::Later<Result<(), generation::WriteError>>>);

impl Pruning {
    /// Its error is the pass's, before the commit, as when the write of
    /// the world removed the generation itself.
    fn wait(mut self) -> Result<(), PassError> {
        match self.0.take().map(crate::threads::Later::wait) {
            Some(Err(generation::WriteError { path, error })) => Err(PassError::WorldFile { path, error }),
            _ => Ok(()),
        }
    }
}

impl Drop for Pruning {
    fn drop(&mut self) {
        // Not while a panic unwinds: the removal's own panic would abort.
        if let Some(removal) = self.0.take().filter(|_| !std::thread::panicking()) {
            let _ = removal.wait();
        }
    }
}

/// Frees `checkpoint` beside the pass, or leaves it to the process's end
/// ([`Afterwards`]). Freeing a busy history's engine here was 3 % of a
/// rebuild's fold thread.
fn release(checkpoint: Checkpoint, afterwards: Afterwards) {
    match afterwards {
        Afterwards::Free => crate::threads::drop_beside(checkpoint),
        Afterwards::Leave => crate::threads::leave(checkpoint),
    }
}

/// What a fold saw besides the engine state.
#[derive(Default)]
struct FoldSummary {
    /// The event statistics before the pass.
    before: crate::engine::EventStats,
    /// Diagnostics paths named by the failures folded in this pass.
    diagnostics: BTreeSet<String>,
}

/// What [`fold`] folds with: the pass's rules, its `--until`, the blocks
/// it notes, and where what leaves the hot view and the notifications go
/// while it runs.
struct Folding<'a> {
    rules: &'a Rules,
    until: Option<Ts>,
    blocks: &'a mut PassBlocks,
    left: &'a mut left::Left,
    decided: &'a mut Decided,
}

/// Folds the events of a merge, in processing order, up to `until` when
/// given. Each goes to the engine with its place in that order, from which
/// the engine tells whether it is late (`engine/late.rs`).
fn fold(engine: &mut Engine, merge: &mut Prefetch, paths: &[String], with: Folding) -> Result<FoldSummary, ReadError> {
    let Folding { rules, until, blocks, left, decided } = with;
    let mut folded = FoldSummary::default();
    while let Some(ordered) = merge.next()? {
        blocks.note(ordered.file, ordered.position, ordered.line, ordered.ts);
        if until.is_some_and(|until| ordered.ts > until) {
            continue;
        }
        let file = paths[ordered.file as usize].as_str();
        engine.apply(Input::Event { event: &ordered.event, file, position: ordered.position }, rules);
        left.take_some(engine);
        decided.take_some(engine);
        if let Detail::Diagnostics(named) = &ordered.event.detail {
            folded.diagnostics.extend(named.iter().cloned());
        }
    }
    Ok(folded)
}

/// True, once no event file changed, when nothing else the world depends
/// on changed since the checkpoint was committed: the config, the inventory and the
/// deployment files on disk hash as before, and the world files are there.
/// Then the run is done without parsing the engine state.
fn world_is_current(dirs: &Dirs, config: &Config, inventory: &Inventory, stored: &CheckpointFile) -> bool {
    let Some(inputs) = &stored.header.inputs else { return false };
    if written_stamp(dirs) != inputs.written
        || inputs.marker_dirs.is_some_and(|stamp| stamp != deployment_files::marker_dirs_stamp(&dirs.state))
    {
        return false;
    }
    let facts = deployment_files::gather(
        inputs.deployments.iter().map(|(id, paths)| (id.as_str(), paths)),
        &dirs.state,
        &dirs.logs,
    );
    inputs.digest == inputs_digest(config, inventory, &facts)
}

/// Identity of the files a pass writes, as they are on disk now (0 when one
/// is missing): each world file's link and the file it leads to, the
/// generation `world/..data` names, and `rejects.json`.
fn written_stamp(dirs: &Dirs) -> u64 {
    let mut stamps = vec![format!("{:?}", std::fs::read_link(dirs.world.join(generation::DATA)).ok())];
    for path in world::FILES.iter().map(|name| dirs.world.join(name)).chain([dirs.rejects()]) {
        let (Ok(link), Ok(meta)) = (std::fs::symlink_metadata(&path), std::fs::metadata(&path)) else { return 0 };
        stamps.push(format!(
            "{}|{:?}|{}|{:?}|{:?}",
            path.display(),
            file_id(&link),
            meta.len(),
            meta.modified().ok(),
            file_id(&meta)
        ));
    }
    fnv1a(stamps.join("\n").as_bytes())
}

#[cfg(unix)]
fn file_id(meta: &std::fs::Metadata) -> (u64, u64, i64, i64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino(), meta.ctime(), meta.ctime_nsec())
}

#[cfg(not(unix))]
fn file_id(_meta: &std::fs::Metadata) -> (u64, u64, i64, i64) {
    (0, 0, 0, 0)
}

/// A stable hash of everything besides the engine that the world is
/// projected from, and of the version of the projection itself.
fn inputs_digest(config: &Config, inventory: &Inventory, facts: &DiskFacts) -> u64 {
    let inputs = (env!("CARGO_PKG_VERSION"), world::SCHEMA_VERSION, config, inventory, facts);
    fnv1a(&serde_json::to_vec(&inputs).unwrap_or_default())
}

/// Refused diagnostics named by failures folded in this pass: each is
/// warned about once, not in every run while its deployment is retained.
fn newly_refused(named_now: &BTreeSet<String>, facts: &[&DiskFacts]) -> Vec<DiagnosticFile> {
    let all: BTreeMap<&String, &DiagnosticFile> = facts.iter().flat_map(|f| &f.diagnostics).collect();
    all.into_values().filter(|d| d.refused.is_some() && named_now.contains(&d.path)).cloned().collect()
}

/// Renders the world files, a file at a time, and writes them in `dir` (made
/// by the caller) as one generation (`store/generation.rs`), made current
/// once `before_swap` returned: a crash or a reader sees all of the old
/// files or all of the new.
fn write_world(
    dir: &Path,
    render: &mut world::Renderer,
    before_swap: impl FnOnce() -> Result<(), PassError>,
) -> Result<Vec<&'static str>, PassError> {
    let render = |name, bytes: &mut Vec<u8>| render(name, bytes).map_err(PassError::Render);
    generation::write_rendered(dir, &world::FILES, render, before_swap).map_err(|failed| match failed {
        generation::Failed::Write(generation::WriteError { path, error }) => PassError::WorldFile { path, error },
        generation::Failed::Render(error) => error,
    })
}

fn create_dir(dir: &Path, what: &str) -> Result<(), PassError> {
    crate::store::atomic::create_dir(dir, what).map_err(PassError::Directory)
}
