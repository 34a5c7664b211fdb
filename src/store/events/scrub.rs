//! The scrub: each run checks a bounded part of the consumed bytes against
//! the hashes in their cursors, round-robin, so that an in-place edit
//! anywhere in a consumed file is found within a known number of runs
//! (guarantee 6); and [`check_all`], which checks everything for
//! `observer verify`.
//!
//! The files are walked in path order along a line on which each file
//! takes [`FILE_CHARGE`] (its open) plus its consumed bytes; the total
//! length is `T = Σ (4096 + consumed bytes)`. A run advances along this
//! line by exactly its budget `B` (all of it, once, if `T ≤ B`), wrapping
//! around at the end, and checks every block its stretch touches: so every
//! consumed byte is checked within `ceil(T / B)` runs, and a run reads at
//! most `B` bytes plus one block at each end of its stretch. The charge
//! keeps 50,000 single-event files from meaning 50,000 opens per run. Where
//! the next run goes on ([`ScrubPosition`]) is kept in
//! `state/last-run.json`, which every run replaces atomically anyway;
//! losing it only starts the round again.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::blocks::{BLOCK, BlockHasher, BlockHashes, block_hash};
use super::cursor::Cursor;
use super::cursor::PRINT_LEN;
use super::plan::ReadPlan;
use super::{SourceError, prefix};
use crate::store::fingerprint::fnv1a;

/// What opening a file costs in the scrub's budget, in bytes.
pub const FILE_CHARGE: u64 = 4096;

/// Where the next run's scrub goes on: a file (its path under `events/`)
/// and how far along it, its charge counted first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScrubPosition {
    pub file: String,
    pub at: u64,
}

/// What one run's scrub did, as `state/last-run.json` keeps it (`scrub`):
/// the next run goes on from `next`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScrubFacts {
    /// `integrity.scrub_bytes_per_run` of the run.
    pub budget: u64,
    /// Consumed bytes read and checked against their hashes.
    pub bytes_checked: u64,
    pub files_opened: u64,
    /// The length of a whole round: the sum over files of consumed bytes
    /// plus 4096; a round takes `ceil(round_length / budget)` runs.
    pub round_length: u64,
    pub next: ScrubPosition,
}

impl ScrubOutcome {
    pub fn facts(&self, budget: u64) -> ScrubFacts {
        ScrubFacts {
            budget,
            bytes_checked: self.bytes_checked,
            files_opened: self.files_opened,
            round_length: self.round_length,
            next: self.next.clone(),
        }
    }
}

/// Gives the cursors the block hashes the scrub made for them, where the
/// pass left them as they were (a file read on meanwhile gets them when
/// the scrub comes round again).
pub fn adopt(cursors: &mut std::collections::BTreeMap<String, Cursor>, learned: Vec<(String, u64, BlockHashes)>) {
    for (rel, offset, hashes) in learned {
        if let Some(cursor) = cursors.get_mut(&rel)
            && cursor.offset == offset
            && cursor.blocks.is_none()
        {
            cursor.blocks = Some(hashes);
        }
    }
}

/// What one run's scrub did.
#[derive(Debug, Default)]
pub struct ScrubOutcome {
    /// Consumed bytes read and checked.
    pub bytes_checked: u64,
    pub files_opened: u64,
    /// `T`: the length of a whole round (see the module documentation).
    pub round_length: u64,
    pub next: ScrubPosition,
    /// Block hashes made for files whose cursors had none (an older
    /// checkpoint's): path, consumed offset and hashes, for the run to commit.
    pub learned: Vec<(String, u64, BlockHashes)>,
}

/// A consumed file as the plan found it. Its full path is made only when
/// it is opened: a no-op run over 50,000 files opens a few hundred.
struct Consumed<'a> {
    rel: &'a str,
    events_dir: &'a Path,
    /// The listed path of a file that changed.
    listed: Option<&'a Path>,
    cursor: &'a Cursor,
}

impl Consumed<'_> {
    fn path(&self) -> PathBuf {
        self.listed.map_or_else(|| self.events_dir.join(self.rel), Path::to_path_buf)
    }
}

/// Consumed bytes that no longer hash as they did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    pub file: PathBuf,
    pub from: u64,
    pub to: u64,
    pub what: &'static str,
}

impl Mismatch {
    fn into_error(self) -> SourceError {
        SourceError::Edited { file: self.file, from: self.from, to: self.to }
    }
}

/// Every listed file that has a cursor for the very same file, in path
/// order. A file replaced, renamed onto or cut short is left to the reader,
/// which says so in its own words.
fn consumed<'a>(events_dir: &'a Path, plan: &'a ReadPlan) -> Vec<Consumed<'a>> {
    let mut files: Vec<(u32, Consumed<'a>)> = plan
        .carried
        .iter()
        .map(|(index, cursor)| {
            let rel = plan.paths[*index as usize].as_str();
            (*index, Consumed { rel, events_dir, listed: None, cursor })
        })
        .collect();
    for changed in &plan.changed {
        if let Some(cursor) = &changed.cursor
            && changed.file.meta.is_same_file(&cursor.meta)
            && changed.file.meta.size >= cursor.offset
        {
            let rel = plan.paths[changed.index as usize].as_str();
            files.push((changed.index, Consumed { rel, events_dir, listed: Some(&changed.file.path), cursor }));
        }
    }
    files.sort_by_key(|(index, _)| *index);
    files.into_iter().map(|(_, file)| file).collect()
}

/// Checks up to `budget` of the round from `start` on; the first mismatch
/// stops the run.
pub fn scrub(
    events_dir: &Path,
    plan: &ReadPlan,
    budget: u64,
    start: &ScrubPosition,
) -> Result<ScrubOutcome, SourceError> {
    let files = consumed(events_dir, plan);
    let total: u64 = files.iter().map(|f| FILE_CHARGE + f.cursor.offset).sum();
    let mut outcome = ScrubOutcome { round_length: total, next: start.clone(), ..ScrubOutcome::default() };
    if budget == 0 || files.is_empty() {
        return Ok(outcome);
    }
    let mut i = files.partition_point(|f| f.rel < start.file.as_str());
    let mut at = 0;
    if i == files.len() {
        i = 0;
    } else if files[i].rel == start.file && start.at < FILE_CHARGE + files[i].cursor.offset {
        at = start.at;
    }
    // Where the budget goes, found before any file is read.
    let mut stretches = Vec::new();
    let mut left = budget.min(total);
    while left > 0 {
        let len = FILE_CHARGE + files[i].cursor.offset;
        let take = left.min(len - at);
        stretches.push((i, at, at + take));
        left -= take;
        at += take;
        if at == len {
            i = (i + 1) % files.len();
            at = 0;
        }
    }
    for batch in stretches.chunks(AHEAD) {
        let mut opened: Vec<_> = batch.iter().map(|&(f, a, b)| open_ahead(&files[f], a, b)).collect();
        for (&(f, a, b), opened) in batch.iter().zip(&mut opened) {
            let file = &files[f];
            let Some(opened) = std::mem::replace(opened, Ok(None))? else { continue };
            if let Some(mismatch) = check_stretch(file, &opened, a, b, &mut outcome)? {
                // An edit the head or tail fingerprint sees too is told as
                // the reader tells it ("changed in the part already read").
                if !check_ends(file, &opened, &mut ScrubOutcome::default())?.is_empty() {
                    return Err(SourceError::Changed { file: mismatch.file });
                }
                return Err(mismatch.into_error());
            }
        }
    }
    outcome.next = ScrubPosition { file: files[i].rel.to_string(), at };
    Ok(outcome)
}

/// How many of the scrub's files are opened, and their reads asked for,
/// before the first of them is read. The scrub reads the files no run read
/// lately, which the kernel has often let go of: one after the other, each
/// waited for the disk (on 50,000 single-event files, a no-op run opens
/// ~1,000 of them, most of its time; perf, issue 11). Asked for together,
/// the reads are in flight at once.
const AHEAD: usize = 64;

/// Opens the file of a stretch `[a, b)` of the round and asks the kernel to
/// read ahead what [`check_stretch`] will read of it: `None` when there is
/// nothing to read (the stretch is all the file's charge, or nothing was
/// consumed) or the file is gone.
fn open_ahead(file: &Consumed, a: u64, b: u64) -> Result<Option<File>, SourceError> {
    let offset = file.cursor.offset;
    if b <= FILE_CHARGE || offset == 0 {
        return Ok(None);
    }
    let Some(opened) = open(&file.path())? else { return Ok(None) };
    let (from, to) = match file.cursor.blocks.as_ref().filter(|blocks| offset > PRINT_LEN && blocks.covers(offset)) {
        Some(_) => {
            let (lo, hi) = (a.max(FILE_CHARGE) - FILE_CHARGE, b - FILE_CHARGE);
            (lo / BLOCK * BLOCK, ((hi - 1) / BLOCK + 1).saturating_mul(BLOCK).min(offset))
        }
        None => (0, offset),
    };
    // Only advice: a file system that takes none is read as it comes.
    let _ = rustix::fs::fadvise(&opened, from, std::num::NonZeroU64::new(to - from), rustix::fs::Advice::WillNeed);
    Ok(Some(opened))
}

/// Checks every consumed byte of every file; every mismatch is listed
/// (`observer verify`). Files without block hashes are checked by their
/// head and tail fingerprints alone, and counted in `unhashed`.
pub fn check_all(events_dir: &Path, plan: &ReadPlan) -> Result<CheckAll, SourceError> {
    let mut all = CheckAll::default();
    let mut outcome = ScrubOutcome::default();
    for changed in &plan.changed {
        if let Some(cursor) = &changed.cursor
            && changed.file.meta.is_same_file(&cursor.meta)
            && changed.file.meta.size < cursor.offset
        {
            let (from, to) = (changed.file.meta.size, cursor.offset);
            all.mismatches.push(Mismatch { file: changed.file.path.clone(), from, to, what: "the file shrank" });
        }
    }
    for file in consumed(events_dir, plan) {
        all.files += 1;
        if !file.cursor.is_hashed() {
            all.unhashed += 1;
            let Some(opened) = open(&file.path())? else { continue };
            all.mismatches.extend(check_ends(&file, &opened, &mut outcome)?);
            continue;
        }
        let end = FILE_CHARGE + file.cursor.offset;
        let mut blocks = 0;
        // One stretch per block, so that every changed block is listed.
        while FILE_CHARGE + blocks * BLOCK < end {
            let from = FILE_CHARGE + blocks * BLOCK;
            all.mismatches.extend(open_and_check(&file, from, (from + BLOCK).min(end), &mut outcome)?);
            blocks += 1;
        }
        if let Some(opened) = open(&file.path())? {
            // The fingerprints too, though the blocks cover their bytes.
            all.mismatches.extend(check_ends(&file, &opened, &mut ScrubOutcome::default())?);
        }
    }
    all.bytes = outcome.bytes_checked;
    Ok(all)
}

/// What [`check_all`] found.
#[derive(Debug, Default)]
pub struct CheckAll {
    pub files: u64,
    pub bytes: u64,
    pub unhashed: u64,
    pub mismatches: Vec<Mismatch>,
}

fn open(path: &Path) -> Result<Option<File>, SourceError> {
    match File::open(path) {
        Ok(file) => Ok(Some(file)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(prefix::io_error(path)(e)),
    }
}

fn read_at(opened: &File, path: &Path, from: u64, to: u64, buf: &mut Vec<u8>) -> Result<(), SourceError> {
    buf.resize((to - from) as usize, 0);
    opened.read_exact_at(buf, from).map_err(prefix::io_error(path))
}

/// Opens the file (see [`open_ahead`]) and checks the stretch.
fn open_and_check(
    file: &Consumed,
    a: u64,
    b: u64,
    outcome: &mut ScrubOutcome,
) -> Result<Option<Mismatch>, SourceError> {
    match open_ahead(file, a, b)? {
        Some(opened) => check_stretch(file, &opened, a, b, outcome),
        None => Ok(None),
    }
}

/// Checks the blocks that the stretch `[a, b)` of a file's part of the
/// round touches, in the file `opened` (by [`open_ahead`]).
fn check_stretch(
    file: &Consumed,
    opened: &File,
    a: u64,
    b: u64,
    outcome: &mut ScrubOutcome,
) -> Result<Option<Mismatch>, SourceError> {
    let offset = file.cursor.offset;
    let path = file.path();
    outcome.files_opened += 1;
    let mut buf = Vec::new();
    let mismatch = |from, to| Mismatch { file: path.clone(), from, to, what: "the bytes differ from what was folded" };
    if offset <= PRINT_LEN {
        read_at(opened, &path, 0, offset, &mut buf)?;
        outcome.bytes_checked += offset;
        return Ok((fnv1a(&buf) != file.cursor.head).then(|| mismatch(0, offset)));
    }
    let Some(blocks) = file.cursor.blocks.as_ref().filter(|b| b.covers(offset)) else {
        return learn(file, &path, opened, outcome);
    };
    let (lo, hi) = (a.max(FILE_CHARGE) - FILE_CHARGE, b - FILE_CHARGE);
    for index in lo / BLOCK..=(hi - 1) / BLOCK {
        let (from, to) = (index * BLOCK, ((index + 1) * BLOCK).min(offset));
        read_at(opened, &path, from, to, &mut buf)?;
        outcome.bytes_checked += to - from;
        if blocks.get(index) != Some(block_hash(&buf)) {
            return Ok(Some(mismatch(from, to)));
        }
    }
    Ok(None)
}

/// The head and tail fingerprints: the check a file without block hashes
/// still has.
fn check_ends(file: &Consumed, opened: &File, outcome: &mut ScrubOutcome) -> Result<Vec<Mismatch>, SourceError> {
    let path = file.path();
    let offset = file.cursor.offset;
    let len = offset.min(PRINT_LEN);
    let mut buf = Vec::new();
    let mut found = Vec::new();
    read_at(opened, &path, 0, len, &mut buf)?;
    if fnv1a(&buf) != file.cursor.head {
        found.push(Mismatch { file: path.clone(), from: 0, to: len, what: "the first bytes differ" });
    }
    read_at(opened, &path, offset - len, offset, &mut buf)?;
    if fnv1a(&buf) != file.cursor.tail {
        found.push(Mismatch { file: path.clone(), from: offset - len, to: offset, what: "the last bytes differ" });
    }
    outcome.bytes_checked += 2 * len;
    Ok(found)
}

/// Makes the block hashes of a file whose cursor has none, from its bytes
/// as they are (as a rebuild would take them), once its fingerprints match.
fn learn(
    file: &Consumed,
    path: &Path,
    opened: &File,
    outcome: &mut ScrubOutcome,
) -> Result<Option<Mismatch>, SourceError> {
    if let Some(mismatch) = check_ends(file, opened, outcome)?.into_iter().next() {
        return Ok(Some(mismatch));
    }
    let offset = file.cursor.offset;
    let mut hasher = BlockHasher::new();
    let mut buf = Vec::new();
    let mut from = 0;
    while from < offset {
        let to = (from + BLOCK).min(offset);
        read_at(opened, path, from, to, &mut buf)?;
        hasher.feed(&buf);
        from = to;
    }
    outcome.bytes_checked += offset;
    outcome.learned.push((file.rel.to_string(), offset, hasher.finish()));
    Ok(None)
}
