//! Which cursor each listed file continues: the same file at the same path,
//! a file renamed or rotated, a file replaced at its path, or a file moved
//! by copy and delete. Paths are the first guess, device and inode a hint,
//! and the consumed prefix ([`super::prefix`]) decides.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::SourceError;
use super::cursor::Cursor;
use super::listing::EventFile;
use super::prefix::{head_matches, prefix_matches};

/// Vanished files beyond this many are not searched for among new paths:
/// a mass deletion is not compared with every new file.
const MAX_VANISHED: usize = 256;

/// The previous cursor, if any, that each listed file continues, in the
/// order of `listed`:
/// - same path, same inode (and the same birth time, where known): the same
///   file;
/// - a file whose inode had a cursor under another name: renamed (rotation
///   or a move), it keeps that cursor, and its old path, if it holds a new
///   file now, starts from zero;
/// - same path, a new file (a new inode, or the old inode number reused by a
///   file born later), old inode gone: if the file begins as the old one
///   did, it is the same file copied in place (or rewritten longer with the
///   consumed bytes unchanged) and the append-only check decides; otherwise
///   it replaced the old one with different bytes (`sed -i`, an editor's
///   save, a rotation that moved the old file out of `events/`): the events
///   folded from the old file can no longer be told from the new file's, and
///   the pass stops with [`SourceError::Replaced`] (guarantee 6);
/// - a new path whose content begins with the consumed prefix of a file that
///   vanished: moved by copy and delete, it keeps that cursor.
pub(super) fn match_cursors(
    listed: &[EventFile],
    previous: &BTreeMap<String, Cursor>,
) -> Result<Vec<Option<Cursor>>, SourceError> {
    // Both are in path order, so each file's own cursor is found by walking
    // them side by side; the maps by inode are built only if some file is
    // not the one its own cursor was taken of (a rename, a replacement).
    let mut own_cursors = previous.iter().peekable();
    let mut by_inode: Option<HashMap<(u64, u64), &str>> = None;
    let mut listed_inodes: Option<HashSet<(u64, u64)>> = None;
    let mut claimed: HashSet<&str> = HashSet::new();
    let mut owned = 0;
    let mut out = Vec::with_capacity(listed.len());
    for file in listed {
        // One comparison of the two paths per step (with 50,000 files,
        // comparing them twice was 1.3 % of a no-op run).
        let mut own = None;
        while let Some((rel, cursor)) = own_cursors.peek() {
            match rel.as_str().cmp(file.rel.as_str()) {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Equal => own = Some(*cursor),
                std::cmp::Ordering::Greater => break,
            }
            own_cursors.next();
            if own.is_some() {
                break;
            }
        }
        owned += usize::from(own.is_some());
        if let Some(c) = own
            && file.meta.is_same_file(&c.meta)
        {
            out.push(Some(c.clone()));
            continue;
        }
        let id = file.meta.inode();
        let by_inode =
            by_inode.get_or_insert_with(|| previous.iter().map(|(rel, c)| (c.meta.inode(), rel.as_str())).collect());
        let cursor = match by_inode.get(&id) {
            Some(other) if *other != file.rel && prefix_matches(file, &previous[*other])? => {
                claimed.insert(other);
                Some(previous[*other].clone())
            }
            _ => match own {
                // Its old inode is another listed file now: renamed.
                Some(c)
                    if c.meta.inode() != id
                        && listed_inodes
                            .get_or_insert_with(|| listed.iter().map(|l| l.meta.inode()).collect())
                            .contains(&c.meta.inode()) =>
                {
                    None
                }
                Some(c) if head_matches(file, c)? => Some(c.clone()),
                Some(c) => return Err(SourceError::Replaced { file: file.path.clone(), consumed: c.offset }),
                None => None,
            },
        };
        out.push(cursor);
    }
    if owned == previous.len() {
        // Every cursor's path is still listed: nothing vanished.
        return Ok(out);
    }
    let present: HashSet<&str> = listed.iter().map(|l| l.rel.as_str()).collect();
    // Moves by copy and delete: new paths against the cursors of vanished
    // files, compared by content.
    let vanished: Vec<(&str, &Cursor)> = previous
        .iter()
        .filter(|(rel, c)| c.offset > 0 && !present.contains(rel.as_str()) && !claimed.contains(rel.as_str()))
        .map(|(rel, c)| (rel.as_str(), c))
        .collect();
    if vanished.is_empty() || vanished.len() > MAX_VANISHED {
        return Ok(out);
    }
    let mut taken: HashSet<&str> = HashSet::new();
    for (file, cursor) in listed.iter().zip(out.iter_mut()) {
        if cursor.is_some() || previous.contains_key(&file.rel) {
            continue;
        }
        for (rel, candidate) in &vanished {
            if !taken.contains(rel) && candidate.offset <= file.meta.size && prefix_matches(file, candidate)? {
                taken.insert(rel);
                *cursor = Some((*candidate).clone());
                break;
            }
        }
    }
    Ok(out)
}
