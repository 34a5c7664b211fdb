//! A problem in an input file a person wrote or must fix, located by file
//! and, where known, line: the `file:line: message` that `observer validate`
//! prints, and the error of loading the config or the inventory.
//!
//! It is one of three "bad input" types, each with its own job:
//! - [`RejectReason`](crate::event::RejectReason): why one event was
//!   refused, the text only (the event boundary does not know where the
//!   bytes came from);
//! - `store::events::Reject`: a refused event line with its place in
//!   `events/`, as kept in the checkpoint and `state/rejects.json`;
//! - [`InputProblem`]: anything wrong in any input (config, inventory, an
//!   event file), with the path as the user gave it, for printing.

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputProblem {
    pub file: PathBuf,
    /// `None` when the problem is with the file as a whole.
    pub line: Option<u64>,
    pub message: String,
}

impl InputProblem {
    pub fn new(file: &Path, line: Option<u64>, message: impl Into<String>) -> InputProblem {
        InputProblem { file: file.to_path_buf(), line, message: message.into() }
    }

    /// serde_yaml's error, with its position moved from the message into
    /// `line`, so that it prints as `file:line: message` like every other.
    pub fn from_yaml(file: &Path, error: &serde_yaml::Error) -> InputProblem {
        let line = error.location().map(|at| at.line() as u64);
        let message = error.to_string();
        let message = match message.find(" at line ") {
            Some(at) => message[..at].to_string(),
            None => message,
        };
        InputProblem::new(file, line, message)
    }
}

impl fmt::Display for InputProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file.display(), line, self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for InputProblem {}

/// The line (1-based) of the `nth` `key: value` in `text`, for problems
/// found after parsing, which keeps no positions: the value whole (not the
/// tail of a longer one), quoted or not, in a block or a flow map.
pub fn line_of_key_value(text: &str, key: &str, value: &str, nth: usize) -> Option<u64> {
    let mut lines = text.lines().enumerate().filter(|(_, line)| names(line, key, value));
    lines.nth(nth.checked_sub(1)?).map(|(index, _)| index as u64 + 1)
}

/// Whether a line holds `key: value`, the value whole.
fn names(line: &str, key: &str, value: &str) -> bool {
    line.match_indices(key).any(|(at, key)| {
        let rest = line[at + key.len()..].trim_start();
        let Some(rest) = rest.strip_prefix(':') else { return false };
        let rest = rest.trim_start().trim_start_matches(['"', '\'']);
        rest.strip_prefix(value)
            .is_some_and(|after| after.is_empty() || after.starts_with(['"', '\'', ',', '}', ' ', '#']))
    })
}
