//! What one run of a check gives, whatever the check: the outcome, how long
//! it took, and a one-line detail for people (an I/O error worded without
//! the OS's error number).

use std::io;

use crate::event::Outcome;

/// The result of executing a check once.
#[derive(Clone, Debug, PartialEq)]
pub struct Execution {
    pub outcome: Outcome,
    pub latency_ms: u64,
    /// One line for people: what was found, or why it failed.
    pub detail: String,
    /// The check did not finish within its timeout (and was abandoned or killed).
    pub timed_out: bool,
    pub exit_code: Option<i32>,
    pub http_status: Option<u16>,
    pub perfdata: Option<String>,
}

impl Execution {
    pub fn new(outcome: Outcome, latency_ms: u64, detail: impl Into<String>) -> Execution {
        Execution {
            outcome,
            latency_ms,
            detail: detail.into(),
            timed_out: false,
            exit_code: None,
            http_status: None,
            perfdata: None,
        }
    }
}

/// An I/O error without the " (os error N)" suffix.
pub(super) fn short_io_error(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_lose_their_os_error_suffix() {
        assert_eq!(short_io_error(&io::Error::from_raw_os_error(2)), "No such file or directory");
    }
}
