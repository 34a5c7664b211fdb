//! The text forms of a minute of ids that left (`finished_gone.rs`): the
//! packed form this version writes, `["id offset id offset …"]`, and the
//! `[id, end]` pairs of the forms before it, each read by its text, checked
//! and its ids hashed without a parse of every pair (issue 11).

use std::borrow::Cow;
use std::fmt::Write as _;

use xxhash_rust::xxh3::xxh3_64;

use super::{Ids, MINUTE_MS, Pair, minute_of, sorted};
use crate::time::Ts;

/// A minute's pairs in its packed form, the one this version writes when
/// every id is plain ([`is_plain`]): one JSON string in an array,
/// `["id offset id offset …"]`, the ids in id order, each followed by the
/// milliseconds from the minute's start to its end time (0 to 59,999), a
/// space between any two. `None` when an id is not plain: the minute is
/// then written as `[id, end]` pairs, the form before this one.
///
/// Profiled on the busy history (the run folding 1,000 events after a run
/// that wrote the journal), the ids that left and the duplicate window
/// were 4.6 of the state's 9.3 MB as pairs, and reading them the largest
/// part of the state's parse: serde_json's check of each pair's tokens as
/// it took the minute's raw text (~a third of it), then the check of the
/// pairs and the hash of each id ([`compact_pairs`]), and the load's
/// splice scanned them token by token (issue 11, twenty-seventh pass).
/// One string per minute is read over in one sweep, and is a third
/// shorter.
pub(super) fn packed(ids: &Ids, minute: Ts) -> Option<String> {
    // An empty minute (never kept: the last id out removes it) as `[]`.
    if ids.is_empty() || !ids.keys().all(|id| is_plain(id)) {
        return None;
    }
    let mut text = String::with_capacity(ids.keys().map(|id| id.len() + 7).sum());
    for (id, at) in sorted(ids) {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(id);
        // Writing to a `String` cannot fail.
        let _ = write!(text, " {}", at.0 - minute.0);
    }
    Some(text)
}

/// An id the packed form can hold as it is: not empty, and with no space,
/// no control character, no quote and no backslash (which JSON would
/// escape, or which would end the id).
fn is_plain(id: &str) -> bool {
    !id.is_empty() && !id.bytes().any(|b| b <= b' ' || b == b'"' || b == b'\\')
}

/// The text of a raw minute in the packed form: `["…"]`, one string with
/// no escape in it; `None` for any other form.
pub(super) fn packed_text(raw: &str) -> Option<&str> {
    let text = raw.strip_prefix("[\"")?.strip_suffix("\"]")?;
    (!text.bytes().any(|b| b == b'"' || b == b'\\')).then_some(text)
}

/// The pairs of a packed minute's text, in order, their end times within
/// `minute`, as far as they are in the packed form: a pair that is not
/// ends them. [`packed_ids`] read the text whole as it was read, so a
/// minute kept raw gives all its pairs here.
pub(super) fn packed_pairs(text: &str, minute: Ts) -> impl Iterator<Item = Pair<'_>> {
    Tokens { text, at: 0 }.map_while(Result::ok).map(move |(id, offset)| Pair(Cow::Borrowed(id), Ts(minute.0 + offset)))
}

/// Checks a packed minute's text and gives the XXH3 of each id to
/// `hashes`: pairs of an id (not empty) and an offset (one to five digits,
/// below a minute), a single space between any two tokens, one pair at
/// least. `false` when it is not so.
pub(super) fn packed_ids(text: &str, hashes: &mut Vec<u64>) -> bool {
    let mut pairs = 0;
    for pair in (Tokens { text, at: 0 }) {
        let Ok((id, _)) = pair else { return false };
        hashes.push(xxh3_64(id.as_bytes()));
        pairs += 1;
    }
    pairs > 0
}

/// The `(id, offset)` pairs of a packed minute's text, one reading of the
/// form for [`packed_ids`] and [`packed_pairs`]; an `Err` where the text
/// leaves the form, and nothing after it.
struct Tokens<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Iterator for Tokens<'a> {
    type Item = Result<(&'a str, i64), ()>;

    fn next(&mut self) -> Option<Self::Item> {
        let bytes = self.text.as_bytes();
        if self.at >= bytes.len() {
            return None;
        }
        let pair = self.pair(bytes);
        // After a pair that is not in the form, or the last one, nothing.
        self.at = match pair {
            Ok(_) if self.at < bytes.len() => self.at,
            _ => usize::MAX,
        };
        Some(pair)
    }
}

impl<'a> Tokens<'a> {
    /// The pair at `self.at`, and `self.at` past it and the space after it.
    fn pair(&mut self, bytes: &[u8]) -> Result<(&'a str, i64), ()> {
        let start = self.at;
        let len = memchr::memchr(b' ', &bytes[start..]).ok_or(())?;
        let id = self.text.get(start..start + len).filter(|id| !id.is_empty()).ok_or(())?;
        let digits_at = start + len + 1;
        let digits = bytes[digits_at..].iter().take_while(|b| b.is_ascii_digit()).count();
        let offset = crate::time::decimal(&bytes[digits_at..digits_at + digits])
            .filter(|ms| (1..=5).contains(&digits) && *ms < MINUTE_MS)
            .ok_or(())?;
        let end = digits_at + digits;
        self.at = match bytes.get(end) {
            None => end,
            Some(b' ') if end + 1 < bytes.len() => end + 1,
            Some(_) => return Err(()),
        };
        Ok((id, offset))
    }
}

/// Checks a minute's pairs in the forms observer writes them, by their
/// text, and gives the XXH3 of each id to `hashes`: `[["id",end],…]`, with
/// no space and no escape in an id, each end time within `minute`: either
/// an integer, its milliseconds since the epoch (the engine state's form,
/// `time::in_state_form`), or RFC 3339 as observer writes it (a state
/// written before that form): the minute's own `YYYY-MM-DDTHH:MM` followed
/// by `:SS`, seconds below 60, an optional three-digit fraction and `Z`,
/// an end time that `Ts::parse` reads into that very minute. Profiled on
/// the busy history (a run folding 1,000 events), parsing every pair with
/// serde and every end time with `Ts::parse` was a tenth of the run, only
/// to check the minute and hash the ids. `false` when the text is in any
/// other form (it is then read pair by pair, and a pair out of its minute
/// is refused there); `raw` is JSON already checked by the deserializer.
pub(super) fn compact_pairs(raw: &str, minute: Ts, hashes: &mut Vec<u64>) -> bool {
    let raw = raw.as_bytes();
    // Its text, made at the first end time in RFC 3339: a state of this
    // version holds none, and the minutes are checked at every load.
    let mut minute_text = None;
    if minute_of(minute) != minute || raw.first() != Some(&b'[') {
        return false;
    }
    let mut at = 1;
    if raw.get(at) == Some(&b']') {
        return at + 1 == raw.len();
    }
    loop {
        if raw.get(at..at + 2) != Some(b"[\"") {
            return false;
        }
        let start = at + 2;
        // Vectorised (`memchr`): byte by byte, this search was a third of
        // the function's samples (perf annotate, busy history).
        let Some(len) = memchr::memchr2(b'"', b'\\', &raw[start..]) else { return false };
        let end = start + len;
        if raw[end] != b'"' || raw.get(end + 1) != Some(&b',') {
            return false;
        }
        let Some(close) = end_time_in(raw, end + 2, minute, &mut minute_text) else { return false };
        hashes.push(xxh3_64(&raw[start..end]));
        at = close + 1;
        match raw.get(at) {
            Some(b',') => at += 1,
            Some(b']') => return at + 1 == raw.len(),
            _ => return false,
        }
    }
}

/// The end time of a pair at `time`, in either form [`compact_pairs`]
/// reads, when it lies in `minute` (`minute_text` its text, made here
/// once): the offset of the `]` that closes the pair.
fn end_time_in(raw: &[u8], time: usize, minute: Ts, minute_text: &mut Option<[u8; 16]>) -> Option<usize> {
    if raw.get(time) != Some(&b'"') {
        // Milliseconds: digits up to the `]`, none of them a sign.
        let close = time + raw.get(time..)?.iter().position(|&b| !b.is_ascii_digit())?;
        let ms = crate::time::decimal(&raw[time..close])?;
        return (raw[close] == b']' && (minute.0..minute.0 + MINUTE_MS).contains(&ms)).then_some(close);
    }
    let minute_text = match minute_text {
        Some(text) => *text,
        None => *minute_text.insert(minute.minute_text()?),
    };
    let time = time + 1;
    let long = match raw.get(time + 19) {
        Some(b'.') => true,
        Some(b'Z') => false,
        _ => return None,
    };
    let close = time + if long { 24 } else { 20 };
    let text = raw.get(time..close + 2)?;
    let digit = |i: usize| text[i].is_ascii_digit();
    let in_minute = text[..16] == minute_text[..]
        && text[16] == b':'
        && (b'0'..=b'5').contains(&text[17])
        && digit(18)
        && (!long || (digit(20) && digit(21) && digit(22) && text[23] == b'Z'))
        && &text[close - time..] == b"\"]";
    in_minute.then_some(close + 1)
}
