//! The journal's lines (`store::journal`): `{"p":[keys],"v":value}` sets
//! the entity at that path, `{"p":[keys]}` removes it, and either may end
//! with `"at":[…]`, where its entity goes in the snapshot
//! (`journal_spans::Place`). Read into records, written from them.

use std::path::Path;

use super::JournalError;
use crate::store::journal_entities::fields;
use crate::store::journal_spans::{Place, past_key};

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
        let (entity, value, place) = match as_written(line) {
            Some((entity, value, place)) => (entity, value, Some(place)),
            None => read(line).map_err(|reason| JournalError::Damaged {
                path: path.to_path_buf(),
                reason: format!("line {}: {reason}", n + 1),
            })?,
        };
        records.push((entity, value));
        places.push(place);
    }
    Ok((records, places))
}

/// The first line of `committed` that its framing ([`as_written`]) reads
/// otherwise than the scanner ([`read`]) does, as the error that names it:
/// asked only when the document spliced from the records does not parse.
/// The framing does not check a value (a line damaged without its stamp
/// changing, or edited by hand with its mark, may still frame: two `"v"`,
/// a value cut short), so without this the load would tell only the
/// document's parse error, without the journal's line (a review, in issue
/// 11's thirty-third pass, of the thirty-second's framing).
pub(super) fn misread(path: &Path, committed: &str) -> Option<JournalError> {
    committed.lines().enumerate().find_map(|(n, line)| {
        let (entity, value, _) = as_written(line)?;
        let reason = match read(line) {
            Err(reason) => reason,
            Ok((read_entity, read_value, _)) if (read_entity, read_value) != (entity, value) => {
                "its value does not end where its place begins".into()
            }
            Ok(_) => return None,
        };
        Some(JournalError::Damaged { path: path.to_path_buf(), reason: format!("line {}: {reason}", n + 1) })
    })
}

/// A placed record as [`set_line`] or [`removal_line`] wrote it, read
/// without a scan of its value: the keys of its path, its value (`None`:
/// removed) and its place. `None` for any other line (a record without a
/// place, of checkpoint format 6; damage), which [`read`] reads then.
/// Profiled on the busy history (the run after one that wrote a journal,
/// ~2,400 records in ~1 MB), reading each line's members by the scanner,
/// which walks every value to find its end, was ~10 samples at 15 kHz of
/// the load's thread and as many of the worker that files the index
/// (issue 11, thirty-second pass). The place ends the line, `[digits]`
/// or `[digits,digits]` or `[]`: no value ends so (an object whose last
/// member is `"at"` ends with a brace, which no place reads as), so the
/// last `,"at":` of the line is the record's own. The value is not
/// checked here: the committed journal is the bytes its mark's digest
/// covered when it was written (checked again whenever the file's stamp
/// changed), trusted as far as the snapshot's own bytes are, and the
/// document they are spliced into is parsed whole.
pub(super) fn as_written(line: &str) -> Option<(&str, Option<&str>, Place)> {
    let rest = line.strip_prefix("{\"p\":[")?;
    let close = path_end(rest)?;
    let (keys, inner) = (&rest[..close], rest[close + 1..].strip_suffix('}')?);
    let at = inner.rfind(",\"at\":")?;
    let place = Place::read(&inner[at + 6..])?;
    let value = match &inner[..at] {
        "" => None,
        set => Some(set.strip_prefix(",\"v\":").filter(|value| !value.is_empty())?),
    };
    (!keys.is_empty()).then_some((keys, value, place))
}

/// Where the `]` after the keys at the start of `rest` is: each key
/// (`journal_spans::past_key`) followed by a comma or that bracket.
fn path_end(rest: &str) -> Option<usize> {
    let mut at = 0;
    loop {
        at = past_key(rest.as_bytes(), at)?;
        match rest.as_bytes().get(at)? {
            b',' => at += 1,
            b']' => return Some(at),
            _ => return None,
        }
    }
}

/// A record's members, read by the scanner: its path's keys, its value
/// (`None`: removed) and its place when it has one.
fn read(line: &str) -> Result<(&str, Option<&str>, Option<Place>), String> {
    let mut keys = fields(line)?.into_iter();
    let entity = match keys.next() {
        Some((key, raw)) if key == r#""p""# && raw.len() > 2 => match path_of(raw) {
            Some(path) => path,
            None => return Err("a record's path is an array of keys".into()),
        },
        _ => return Err("a record begins with its path, \"p\"".into()),
    };
    let (mut value, mut next) = (None, keys.next());
    if next.as_ref().is_some_and(|(key, _)| key == r#""v""#) {
        value = next.map(|(_, raw)| raw);
        next = keys.next();
    }
    let place = match next {
        Some((key, raw)) if key == r#""at""# => {
            Some(Place::read(raw).ok_or_else(|| format!("a place is [start,end], [brace] or [], not {raw}"))?)
        }
        None => None,
        Some((key, _)) => return Err(format!("unexpected key {key}")),
    };
    if let Some((key, _)) = keys.next() {
        return Err(format!("unexpected key {key}"));
    }
    Ok((entity, value, place))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every placed record as the save writes it reads without the scan as
    /// the scan reads it, whatever its keys and value hold (brackets and
    /// escaped quotes in keys, a value whose last member is `"at"`);
    /// records without a place, and lines that are no record, are left to
    /// the scan.
    #[test]
    fn a_placed_record_reads_as_the_scan_reads_it_and_any_other_line_goes_to_the_scan() {
        let paths = [r#""engine","nodes","a""#, r#""engine","a]\"b\\","c,d""#, r#""x""#];
        let values = ["1", r#"{"at":[1,2]}"#, r#"{"x":{"at":[]},"at":[3]}"#, r#""s,\"at\":[1]""#, "[1,[2]]", "null"];
        let places = [Place::Value(3, 17), Place::Before(9), Place::Absent];
        let mut lines = String::new();
        for path in paths {
            for place in places {
                for value in values {
                    set_line(&mut lines, path, value, Some(place));
                }
                removal_line(&mut lines, path, Some(place));
            }
        }
        for line in lines.lines() {
            let (path, value, place) = read(line).unwrap();
            assert_eq!(as_written(line), Some((path, value, place.unwrap())), "{line}");
        }
        let mut unplaced = String::new();
        for value in values {
            set_line(&mut unplaced, paths[1], value, None);
        }
        removal_line(&mut unplaced, paths[0], None);
        for line in unplaced.lines() {
            assert_eq!(as_written(line), None, "{line}");
            assert!(read(line).unwrap().2.is_none());
        }
        for line in [
            "",
            "{}",
            r#"{"p":[],"at":[]}"#,
            r#"{"p":["a"],"v":,"at":[]}"#,
            r#"{"p":["a"],"x":1,"at":[]}"#,
            r#"{"p":["a"]"at":[]}"#,
            r#"{"p":["a],"at":[]}"#,
            r#"{"p":["a"],"at":[1,2,3]}"#,
            r#"{"p":["a"],"at":[1]"#,
        ] {
            assert_eq!(as_written(line), None, "{line}");
        }
        // The one the scan reads that was not written so: read all the same.
        let both = lines.clone() + &unplaced;
        let (records, places) = placed_records(Path::new("j"), &both).unwrap();
        assert_eq!(records.len(), lines.lines().count() + unplaced.lines().count());
        assert_eq!(places.iter().filter(|place| place.is_none()).count(), unplaced.lines().count());
    }
}
