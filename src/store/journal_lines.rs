//! The journal's lines (`store::journal`): `{"p":[keys],"v":value}` sets
//! the entity at that path, `{"p":[keys]}` removes it, and either may end
//! with `"at":[…]`, where its entity goes in the snapshot
//! (`journal_spans::Place`). Read into records, written from them.

use std::path::Path;

use super::JournalError;
use crate::store::journal_entities::fields;
use crate::store::journal_spans::Place;

/// A journal's records, in order: each entity's path, and its value or
/// `None` (removed).
pub(super) fn records<'a>(path: &Path, committed: &'a str) -> Result<Vec<(&'a str, Option<&'a str>)>, JournalError> {
    placed_records(path, committed).map(|(records, _)| records)
}

/// A journal's records, in order: each entity's path and its value or
/// `None` (removed), and where each goes in the snapshot when the record
/// says (`"at"`, last).
#[allow(clippy::type_complexity)]
pub(super) fn placed_records<'a>(
    path: &Path,
    committed: &'a str,
) -> Result<(Vec<(&'a str, Option<&'a str>)>, Vec<Option<Place>>), JournalError> {
    let (mut records, mut places) = (Vec::new(), Vec::new());
    for (n, line) in committed.lines().enumerate() {
        let record = |reason: String| JournalError::Damaged {
            path: path.to_path_buf(),
            reason: format!("line {}: {reason}", n + 1),
        };
        let mut keys = fields(line).map_err(record)?.into_iter();
        let entity = match keys.next() {
            Some((key, raw)) if key == r#""p""# && raw.len() > 2 => match path_of(raw) {
                Some(path) => path,
                None => return Err(record("a record's path is an array of keys".into())),
            },
            _ => return Err(record("a record begins with its path, \"p\"".into())),
        };
        let (mut value, mut next) = (None, keys.next());
        if next.as_ref().is_some_and(|(key, _)| key == r#""v""#) {
            value = next.map(|(_, raw)| raw);
            next = keys.next();
        }
        let place = match next {
            Some((key, raw)) if key == r#""at""# => Some(
                Place::read(raw).ok_or_else(|| record(format!("a place is [start,end], [brace] or [], not {raw}")))?,
            ),
            None => None,
            Some((key, _)) => return Err(record(format!("unexpected key {key}"))),
        };
        if let Some((key, _)) = keys.next() {
            return Err(record(format!("unexpected key {key}")));
        }
        records.push((entity, value));
        places.push(place);
    }
    Ok((records, places))
}

/// The keys of a record's path, `["engine","nodes"]`, without its
/// brackets (`None` when it is not bracketed).
pub(super) fn path_of(raw: &str) -> Option<&str> {
    raw.strip_prefix('[')?.strip_suffix(']')
}

/// The journal record that sets the entity at `path` to `raw`, placed at
/// `place` in the snapshot when it is known.
pub(super) fn set_line(lines: &mut String, path: &str, raw: &str, place: Option<Place>) {
    lines.push_str("{\"p\":[");
    lines.push_str(path);
    lines.push_str("],\"v\":");
    lines.push_str(raw);
    place_field(lines, place);
    lines.push_str("}\n");
}

/// The journal record that removes the entity at `path`, placed at
/// `place` in the snapshot when it is known.
pub(super) fn removal_line(lines: &mut String, path: &str, place: Option<Place>) {
    lines.push_str("{\"p\":[");
    lines.push_str(path);
    lines.push(']');
    place_field(lines, place);
    lines.push_str("}\n");
}

/// A record's place, `,"at":[…]`, when there is one.
fn place_field(line: &mut String, place: Option<Place>) {
    if let Some(place) = place {
        line.push_str(",\"at\":");
        place.write(line);
    }
}
