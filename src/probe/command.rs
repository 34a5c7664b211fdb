//! `command` probe: a Nagios-style plugin, run without a shell.
//!
//! The plugin runs in a process group of its own with stdin closed. At the
//! timeout the whole group is killed, so a plugin's children die with it.
//! Its output is read on helper threads: a grandchild that keeps the pipe
//! open after the plugin exited never holds the prober up.

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::execution::{Execution, short_io_error};
use super::timing::{elapsed_ms, format_duration};
use crate::child::{self, Capture, kill_group, reap, wait_until};
use crate::event::Outcome;

/// A detail longer than this is cut.
const MAX_DETAIL_CHARS: usize = 300;
/// How long output is still awaited once the plugin is gone.
const OUTPUT_GRACE: Duration = Duration::from_millis(100);

/// Runs `argv` (no shell) and maps its exit code the Nagios way: 0 ok,
/// 1 warning, 2 critical, 3 and anything else unknown. Killed at `timeout`.
pub fn execute(argv: &[String], timeout: Duration, timeout_outcome: Outcome) -> Execution {
    let start = Instant::now();
    let Some((program, args)) = argv.split_first() else {
        return Execution::new(Outcome::Unknown, 0, "empty command");
    };

    let spawned = child::command(program, args).stdin(Stdio::null()).spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => return Execution::new(Outcome::Unknown, elapsed_ms(start), spawn_error(program, &e)),
    };
    let stdout = Capture::start(child.stdout.take());
    let stderr = Capture::start(child.stderr.take());

    let status = match wait_until(&mut child, start + timeout) {
        Ok(Some(status)) => status,
        Ok(None) => {
            kill_group(&mut child);
            reap(&mut child);
            let detail = format!("timed out after {}; killed", format_duration(timeout));
            return Execution { timed_out: true, ..Execution::new(timeout_outcome, elapsed_ms(start), detail) };
        }
        Err(e) => {
            kill_group(&mut child);
            reap(&mut child);
            return Execution::new(Outcome::Unknown, elapsed_ms(start), format!("cannot wait for {program}: {e}"));
        }
    };
    let latency = elapsed_ms(start);

    let deadline = Instant::now() + OUTPUT_GRACE;
    let stdout = stdout.finish(deadline);
    let stderr = stderr.finish(deadline);
    let (text, perfdata) = match first_line(&stdout) {
        Some(line) => split_perfdata(line),
        None => (first_line(&stderr).map(|line| cut(line.trim())).unwrap_or_default(), None),
    };

    let (outcome, detail) = match (status.code(), status.signal()) {
        (Some(code @ 0..=3), _) => {
            let outcome = [Outcome::Ok, Outcome::Warning, Outcome::Critical, Outcome::Unknown][code as usize];
            let detail = if text.is_empty() { format!("no output (exit code {code})") } else { text };
            (outcome, detail)
        }
        (Some(code), _) => (Outcome::Unknown, with_prefix(format!("exit code {code}"), &text)),
        (None, Some(signal)) => (Outcome::Unknown, with_prefix(format!("killed by signal {signal}"), &text)),
        (None, None) => (Outcome::Unknown, with_prefix("ended without an exit code".to_string(), &text)),
    };
    Execution { exit_code: status.code(), perfdata, ..Execution::new(outcome, latency, detail) }
}

fn spawn_error(program: &str, e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => format!("command not found: {program}"),
        io::ErrorKind::PermissionDenied => format!("cannot execute {program}: permission denied"),
        _ => format!("cannot execute {program}: {}", short_io_error(e)),
    }
}

/// The first line of `output`, if it has any non-blank text.
fn first_line(output: &str) -> Option<&str> {
    let line = output.lines().next()?;
    (!line.trim().is_empty()).then_some(line)
}

/// Nagios output: `TEXT | PERFDATA` on the first line.
fn split_perfdata(line: &str) -> (String, Option<String>) {
    match line.split_once('|') {
        Some((text, perf)) => {
            let perf = perf.trim();
            (cut(text.trim()), (!perf.is_empty()).then(|| perf.to_string()))
        }
        None => (cut(line.trim()), None),
    }
}

/// `text` cut to [`MAX_DETAIL_CHARS`] characters.
fn cut(text: &str) -> String {
    match text.char_indices().nth(MAX_DETAIL_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

fn with_prefix(prefix: String, text: &str) -> String {
    if text.is_empty() { prefix } else { format!("{prefix}: {text}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn perfdata_is_split_from_the_first_line() {
        assert_eq!(
            split_perfdata(" DISK OK - free space | /=100MB;;;0;200 "),
            ("DISK OK - free space".to_string(), Some("/=100MB;;;0;200".to_string()))
        );
        assert_eq!(split_perfdata("PING OK"), ("PING OK".to_string(), None));
        assert_eq!(split_perfdata("PING OK |  "), ("PING OK".to_string(), None));
    }

    #[test]
    fn only_the_first_non_blank_line_counts() {
        assert_eq!(first_line("OK\nmore\n"), Some("OK"));
        assert_eq!(first_line(""), None);
        assert_eq!(first_line("  \nlater"), None);
    }

    #[test]
    fn long_details_are_cut_on_a_character_boundary() {
        let long = "é".repeat(400);
        let cut = cut(&long);
        assert_eq!(cut.chars().count(), MAX_DETAIL_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(super::cut("short"), "short");
    }

    #[test]
    fn exit_codes_map_to_outcomes() {
        let run = |code: i32| {
            execute(
                &argv(&["sh", "-c", &format!("echo 'X | a=1'; exit {code}")]),
                Duration::from_secs(5),
                Outcome::Critical,
            )
        };
        for (code, outcome) in [(0, Outcome::Ok), (1, Outcome::Warning), (2, Outcome::Critical), (3, Outcome::Unknown)]
        {
            let execution = run(code);
            assert_eq!(execution.outcome, outcome, "{execution:?}");
            assert_eq!(execution.exit_code, Some(code));
            assert_eq!(execution.detail, "X");
            assert_eq!(execution.perfdata.as_deref(), Some("a=1"));
        }
        let other = run(42);
        assert_eq!(other.outcome, Outcome::Unknown);
        assert_eq!(other.detail, "exit code 42: X");
    }

    #[test]
    fn stderr_is_the_detail_only_without_stdout() {
        let quiet = execute(&argv(&["sh", "-c", "echo oops >&2; exit 2"]), Duration::from_secs(5), Outcome::Critical);
        assert_eq!(quiet.detail, "oops");
        let both = execute(&argv(&["sh", "-c", "echo fine; echo oops >&2"]), Duration::from_secs(5), Outcome::Critical);
        assert_eq!(both.detail, "fine");
        let silent = execute(&argv(&["true"]), Duration::from_secs(5), Outcome::Critical);
        assert_eq!(silent.detail, "no output (exit code 0)");
    }

    #[test]
    fn a_signal_is_unknown() {
        let run = execute(&argv(&["sh", "-c", "kill -TERM $$"]), Duration::from_secs(5), Outcome::Critical);
        assert_eq!(run.outcome, Outcome::Unknown);
        assert_eq!(run.detail, "killed by signal 15");
        assert_eq!(run.exit_code, None);
    }

    #[test]
    fn an_empty_argv_is_unknown() {
        let run = execute(&[], Duration::from_secs(1), Outcome::Critical);
        assert_eq!(run.outcome, Outcome::Unknown);
        assert_eq!(run.detail, "empty command");
    }

    #[test]
    fn large_output_is_capped_and_drained() {
        // 1 MiB of output: the plugin must not block on a full pipe.
        let run = execute(
            &argv(&["sh", "-c", "echo 'BIG OK'; head -c 1048576 /dev/zero; exit 0"]),
            Duration::from_secs(10),
            Outcome::Critical,
        );
        assert_eq!(run.outcome, Outcome::Ok, "{run:?}");
        assert!(!run.timed_out);
        assert_eq!(run.detail, "BIG OK");
    }
}
