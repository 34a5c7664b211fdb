//! The pretty style of the files observer writes ([`super::render`]: the
//! world files, `state/rejects.json`, `status --json` and the other JSON
//! it prints): serde_json's `PrettyFormatter` with two-space indentation,
//! byte for byte, but each line break written with its indentation at
//! once.
//!
//! Profiled on the busy 1,000,000-event history (a run folding 1,000
//! events), writing the ~7.8 MB of world files was a fifth of the run's
//! samples, and a sixth of that was `memcpy` of one or two bytes:
//! `PrettyFormatter` writes `,` and `\n`, then the indentation two spaces
//! at a time, one `write_all` each, for every member and element.

use std::io::{self, Write};

use serde_json::ser::Formatter;

/// Levels of indentation written at once; deeper ones (no world file has
/// any) are written a level at a time.
const LEVELS: usize = 32;

/// `,`, a line break and the indentation of [`LEVELS`] levels: a line
/// break is a slice of it.
const BREAK: [u8; 2 + 2 * LEVELS] = {
    let mut bytes = [b' '; 2 + 2 * LEVELS];
    bytes[0] = b',';
    bytes[1] = b'\n';
    bytes
};

/// The formatter: how deep the value being written is, and whether the
/// container being written has a member or element yet.
#[derive(Default)]
pub struct Pretty {
    depth: usize,
    has_value: bool,
}

impl Pretty {
    /// A line break (after a `,` when `comma`) and the indentation of the
    /// current depth.
    fn line<W: ?Sized + Write>(&self, writer: &mut W, comma: bool) -> io::Result<()> {
        let from = usize::from(!comma);
        let levels = self.depth.min(LEVELS);
        writer.write_all(&BREAK[from..2 + 2 * levels])?;
        for _ in levels..self.depth {
            writer.write_all(b"  ")?;
        }
        Ok(())
    }

    fn open<W: ?Sized + Write>(&mut self, writer: &mut W, token: &[u8]) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        writer.write_all(token)
    }

    fn close<W: ?Sized + Write>(&mut self, writer: &mut W, token: &[u8]) -> io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            self.line(writer, false)?;
        }
        writer.write_all(token)
    }
}

impl Formatter for Pretty {
    fn begin_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.open(writer, b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.close(writer, b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        self.line(writer, !first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.open(writer, b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.close(writer, b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        self.line(writer, !first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::LEVELS;

    /// Nested past the levels written at once, empty and full arrays and
    /// objects, strings that need escapes, numbers, null and booleans:
    /// `render` writes serde_json's pretty bytes and a newline.
    #[test]
    fn the_bytes_are_serde_jsons_pretty_ones() {
        let mut deep = json!({"leaf": [1, {"a": []}, {}, "x\"y\n"]});
        for level in 0..(LEVELS + 5) {
            deep = json!({ format!("k{level}"): deep, "list": [level, null, true, 1.5], "empty": {} });
        }
        let values = [json!(null), json!([]), json!({}), json!([[]]), json!({"a": {}}), json!("é\u{1}"), deep];
        for value in values {
            let rendered = String::from_utf8(super::super::render(&value).unwrap()).unwrap();
            assert_eq!(rendered, serde_json::to_string_pretty(&value).unwrap() + "\n", "{value}");
        }
    }
}
