//! A spliced document's pieces (`journal_entities::spliced`) put together
//! where the original lies: moved forward within the buffer the original
//! was read into, behind room for what the pieces add, when no piece would
//! be written over a byte still to be read; else made in new memory.
//!
//! Profiled on the busy history (the run after a run that wrote a journal),
//! a document made in new memory was ~2,000 more page faults than one made
//! where the snapshot was read (issue 11, twenty-fifth pass).

/// A spliced document that is not the one its pieces say (not UTF-8, or
/// a span past the original's end): cannot happen with the original the
/// pieces were made from.
#[derive(Debug)]
pub struct JournalDamage;

/// A spliced document's pieces, for making it where the original lies
/// (`journal_entities::Spliced::placed`): each a span of the original
/// (`true`) or of `added`.
#[cfg_attr(test, derive(Clone))]
pub struct Placed {
    pub(super) pieces: Vec<(bool, usize, usize)>,
    pub(super) added: String,
    /// The document's length.
    pub(super) len: usize,
}

impl Placed {
    /// Bytes that the pieces add to the original's: what must lie free
    /// before the original in the buffer [`Placed::apply`] is given (the
    /// load leaves `Edits::room`, at least this; the tests check it).
    #[cfg(test)]
    pub fn room(&self) -> usize {
        self.added.len()
    }

    /// The document in a new `String`, `original` the text its spans are
    /// of: where [`Placed::apply`] cannot make it in place.
    pub fn into_string(self, original: &[u8]) -> Result<String, JournalDamage> {
        let mut out = Vec::with_capacity(self.len);
        for (from_original, start, end) in self.pieces {
            match from_original {
                true => out.extend_from_slice(original.get(start..end).ok_or(JournalDamage)?),
                false => out.extend_from_slice(&self.added.as_bytes()[start..end]),
            }
        }
        String::from_utf8(out).map_err(|_| JournalDamage)
    }

    /// Whether [`Placed::apply`] can make the document in a buffer of
    /// `len` bytes holding the original at `room..`: each span lies in the
    /// buffer, after the span before it, and no piece is written past the
    /// buffer's end or the first byte of the original that a span after it
    /// still reads (a span's own bytes may be, as `copy_within` moves them).
    pub fn in_place(&self, room: usize, len: usize) -> bool {
        if room > len {
            return false;
        }
        // For each piece, where the next span at or after it begins in the
        // original (`None`: no span left to read).
        let mut next_read = vec![None; self.pieces.len()];
        let mut upcoming = None;
        for (i, &(original, start, _)) in self.pieces.iter().enumerate().rev() {
            if original {
                upcoming = Some(start);
            }
            next_read[i] = upcoming;
        }
        let (mut written, mut read) = (0usize, 0usize);
        for (&(original, start, end), next) in self.pieces.iter().zip(next_read) {
            let after = written + (end - start);
            let fits = match original {
                true => start >= read && room.checked_add(end).is_some_and(|end| end <= len) && written <= room + start,
                // Before the next span's first byte, or the buffer's end.
                false => after <= next.map_or(len, |next| room.saturating_add(next)),
            };
            if !fits {
                return false;
            }
            if original {
                read = end;
            }
            written = after;
        }
        true
    }

    /// The document, made in `buf`, which holds the original at `room..`
    /// and nothing the document needs before it. The pieces are written
    /// from the start of `buf` in order, each span moved forward
    /// (`copy_within`). `Err`, `buf` untouched, unless nothing is written
    /// over a part of the original still to be read ([`Placed::in_place`]):
    /// with the spans in the original's order, as a splice makes them,
    /// that holds once `room` is at least the bytes the pieces add.
    pub fn apply(self, mut buf: Vec<u8>, room: usize) -> Result<Vec<u8>, (Placed, Vec<u8>)> {
        if !self.in_place(room, buf.len()) {
            return Err((self, buf));
        }
        let mut written = 0;
        for (original, start, end) in self.pieces {
            let len = end - start;
            match original {
                true => buf.copy_within(room + start..room + end, written),
                false => buf[written..written + len].copy_from_slice(&self.added.as_bytes()[start..end]),
            }
            written += len;
        }
        debug_assert_eq!(written, self.len);
        buf.truncate(written);
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pieces that would write over what a later span still reads, spans
    /// out of the original's order, or text past the buffer's end: not
    /// made in place (the buffer comes back untouched), and the same
    /// document made in new memory.
    #[test]
    fn pieces_that_would_overtake_the_original_are_not_made_in_place() {
        let original = b"abcdef";
        let placed = |pieces: Vec<(bool, usize, usize)>, added: &str| {
            let len = pieces.iter().map(|(_, start, end)| end - start).sum();
            Placed { pieces, added: added.to_string(), len }
        };
        let cases = [
            // Text before the span it precedes: needs a byte of room.
            (placed(vec![(false, 0, 1), (true, 0, 6)], "X"), 1, "Xabcdef"),
            // Spans backwards: never in place, whatever the room.
            (placed(vec![(true, 3, 6), (true, 0, 3)], ""), usize::MAX, "defabc"),
            // Text after the last span, longer than the room left.
            (placed(vec![(true, 0, 6), (false, 0, 3)], "XYZ"), 3, "abcdefXYZ"),
            // A span shortened (a value cut out) and text in its place.
            (placed(vec![(true, 0, 2), (false, 0, 2), (true, 4, 6)], "XY"), 0, "abXYef"),
        ];
        for (pieces, least, made) in cases {
            for room in [0, 1, 2, 3, 8] {
                let mut buf = vec![b'#'; room];
                buf.extend_from_slice(original);
                let before = buf.clone();
                let fits = room >= least;
                assert_eq!(pieces.in_place(room, buf.len()), fits, "{made}, room {room}");
                match pieces.clone().apply(buf, room) {
                    Ok(bytes) => assert!(fits && bytes == made.as_bytes(), "{made}, room {room}"),
                    Err((back, buf)) => {
                        assert!(!fits && buf == before, "{made}, room {room}: untouched");
                        assert_eq!(back.into_string(&buf[room..]).unwrap(), made);
                    }
                }
            }
        }
    }
}
