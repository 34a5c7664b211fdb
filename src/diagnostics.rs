//! Diagnostics on stderr: every warning, note and error the commands print
//! goes through [`emit`] (by way of `commands::warn`), so that one switch
//! turns them into JSON lines and one limiter bounds the warnings.
//!
//! - `--log-format text` (the default) prints each line as written.
//! - `--log-format json` prints one JSON object a line, for journald and
//!   Loki: `ts` (the clock of the run: the wall clock, or `OBSERVER_NOW`),
//!   `level` (`error`, `warn` or `info`), `msg` (the line without its
//!   `observer: warning: ` prefix) and the fields the caller gave (a
//!   rejected event's `file`, `line` and `reason`, say).
//! - `budgets.log_lines_per_minute` (default 60, 0 = unlimited) bounds the
//!   warning lines of one wall-clock minute, process-wide: the rest are
//!   counted, and one line, at the next warning of a later minute, at
//!   [`minute_passed`] (a long-running process calls it between passes)
//!   or at [`flush`] (the end of a command), says how many were left
//!   out. Errors and notes are never left out. `OBSERVER_NOW` fixes the
//!   minute as it fixes the clock.

use std::io::Write;
use std::sync::Mutex;

use serde_json::{Map, Value};

use crate::time::Ts;

/// How diagnostics look on stderr.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One line for people, as written.
    #[default]
    Text,
    /// One JSON object a line: ts, level, msg and fields.
    Json,
}

/// How serious a diagnostic is; only warnings are bounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Error,
    Warn,
    Info,
}

impl Level {
    fn word(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
        }
    }

    /// The level a line written for people says it has: `error:` and
    /// `warning:` (after an optional `observer: `) are errors and warnings,
    /// anything else (a note, a summary) is information.
    pub fn of_line(text: &str) -> Level {
        let rest = text.strip_prefix("observer: ").unwrap_or(text);
        if rest.starts_with("error:") {
            Level::Error
        } else if rest.starts_with("warning:") {
            Level::Warn
        } else {
            Level::Info
        }
    }
}

/// The settings of this process, made once by `main` from the flags and
/// the config.
#[derive(Clone, Copy, Debug, Default)]
pub struct Settings {
    pub format: LogFormat,
    /// Warning lines a minute; 0 is unlimited.
    pub lines_per_minute: u32,
    /// A fixed clock (`OBSERVER_NOW`), else the wall clock.
    pub fixed_now: Option<Ts>,
}

struct State {
    settings: Settings,
    limiter: Limiter,
}

/// The warnings of one minute: how many were shown and left out.
struct Limiter {
    /// The minute (unix seconds / 60) the counts are of.
    minute: i64,
    shown: u32,
    left_out: u64,
}

impl Limiter {
    /// Whether a warning at `minute` is shown under `budget` (0: all are),
    /// and how many the minute before left out, to be said first.
    fn admit(&mut self, minute: i64, budget: u32) -> (Option<u64>, bool) {
        if budget == 0 {
            return (None, true);
        }
        let earlier = self.minute_over(minute);
        if self.shown >= budget {
            self.left_out += 1;
            return (earlier, false);
        }
        self.shown += 1;
        (earlier, true)
    }

    /// When `minute` is a later one: the count the earlier one left out,
    /// if any, and a fresh budget.
    fn minute_over(&mut self, minute: i64) -> Option<u64> {
        if minute == self.minute {
            return None;
        }
        self.minute = minute;
        self.shown = 0;
        self.take_left_out()
    }

    fn take_left_out(&mut self) -> Option<u64> {
        Some(std::mem::take(&mut self.left_out)).filter(|n| *n > 0)
    }
}

static STATE: Mutex<State> = Mutex::new(State {
    settings: Settings { format: LogFormat::Text, lines_per_minute: 0, fixed_now: None },
    limiter: Limiter { minute: i64::MIN, shown: 0, left_out: 0 },
});

fn state() -> std::sync::MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Sets the format, the bound and the clock for the rest of the process.
pub fn configure(settings: Settings) {
    state().settings = settings;
}

/// Whether diagnostics are JSON lines (a progress bar is then not drawn).
pub fn is_json() -> bool {
    state().settings.format == LogFormat::Json
}

fn now(settings: &Settings) -> Ts {
    settings.fixed_now.unwrap_or_else(|| Ts::from_datetime(chrono::Utc::now()))
}

/// Prints one diagnostic: `text` is the line for people (with its
/// `warning:` prefix); `fields` go into the JSON form only.
pub fn emit(level: Level, text: &str, fields: &[(&str, Value)]) {
    let mut state = state();
    let settings = state.settings;
    let at = now(&settings);
    if level == Level::Warn {
        let (earlier, show) = state.limiter.admit(minute_of(at), settings.lines_per_minute);
        left_out_line(&settings, at, earlier);
        if !show {
            return;
        }
    }
    write_line(&settings, at, level, text, fields);
}

fn minute_of(at: Ts) -> i64 {
    at.unix_seconds().div_euclid(60)
}

/// Says how many warnings were left out, if any were: at the end of a
/// command.
pub fn flush() {
    let mut state = state();
    let settings = state.settings;
    let left_out = state.limiter.take_left_out();
    left_out_line(&settings, now(&settings), left_out);
}

/// For a long-running process, between passes: once the minute is over,
/// says how many warnings it left out and starts a fresh budget, without
/// waiting for the next warning.
pub fn minute_passed() {
    let mut state = state();
    let settings = state.settings;
    let at = now(&settings);
    let left_out = state.limiter.minute_over(minute_of(at));
    left_out_line(&settings, at, left_out);
}

fn left_out_line(settings: &Settings, at: Ts, left_out: Option<u64>) {
    let Some(n) = left_out else { return };
    let noun = if n == 1 { "warning" } else { "warnings" };
    let text = format!(
        "observer: warning: … {n} {noun} left out in the last minute (budgets.log_lines_per_minute: {})",
        settings.lines_per_minute
    );
    write_line(settings, at, Level::Warn, &text, &[("left_out", Value::from(n))]);
}

fn write_line(settings: &Settings, at: Ts, level: Level, text: &str, fields: &[(&str, Value)]) {
    let line = match settings.format {
        LogFormat::Text => text.to_string(),
        LogFormat::Json => json_line(at, level, text, fields),
    };
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}");
}

/// `{"ts":…,"level":…,"msg":…,fields…}`; a field named like one of the
/// first three is left out rather than replace it.
fn json_line(at: Ts, level: Level, text: &str, fields: &[(&str, Value)]) -> String {
    let mut object = Map::new();
    object.insert("ts".into(), Value::from(at.to_string()));
    object.insert("level".into(), Value::from(level.word()));
    object.insert("msg".into(), Value::from(message(text)));
    for (key, value) in fields {
        object.entry(key.to_string()).or_insert_with(|| value.clone());
    }
    Value::Object(object).to_string()
}

/// The line without `observer: ` and its level word.
fn message(text: &str) -> &str {
    let rest = text.strip_prefix("observer: ").unwrap_or(text);
    for prefix in ["error: ", "warning: ", "note: "] {
        if let Some(rest) = rest.strip_prefix(prefix) {
            return rest;
        }
    }
    rest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_says_its_level() {
        assert_eq!(Level::of_line("observer: error: no world"), Level::Error);
        assert_eq!(Level::of_line("warning: rejected event at a.jsonl:1: x"), Level::Warn);
        assert_eq!(Level::of_line("observer: warning: metrics"), Level::Warn);
        assert_eq!(Level::of_line("note: node `x` is not in the inventory"), Level::Info);
        assert_eq!(Level::of_line("3 problems, 0 notes"), Level::Info);
    }

    #[test]
    fn a_minute_shows_its_budget_then_says_how_many_it_left_out() {
        let mut limiter = Limiter { minute: i64::MIN, shown: 0, left_out: 0 };
        let shown: Vec<bool> = (0..5)
            .map(|_| limiter.admit(100, 3))
            .map(|(earlier, show)| {
                assert_eq!(earlier, None);
                show
            })
            .collect();
        assert_eq!(shown, [true, true, true, false, false]);
        assert_eq!(limiter.minute_over(100), None, "the same minute is not over");
        // The next minute: its first warning is shown, after the count.
        assert_eq!(limiter.admit(101, 3), (Some(2), true));
        assert_eq!(limiter.admit(101, 3), (None, true));
        assert_eq!(limiter.take_left_out(), None);
        // A minute without warnings says nothing; 0 is unlimited.
        assert_eq!(limiter.minute_over(103), None);
        assert!((0..1000).all(|_| limiter.admit(103, 0) == (None, true)));
    }

    #[test]
    fn json_lines_carry_ts_level_msg_and_fields() {
        let at = Ts::parse("2026-05-12T13:00:00Z").unwrap();
        let line = json_line(
            at,
            Level::Warn,
            "warning: rejected event at a.jsonl:3: bad",
            &[("file", Value::from("a.jsonl")), ("line", Value::from(3)), ("msg", Value::from("not this"))],
        );
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"ts": "2026-05-12T13:00:00Z", "level": "warn",
                "msg": "rejected event at a.jsonl:3: bad", "file": "a.jsonl", "line": 3})
        );
        assert_eq!(line.find("\"ts\""), Some(1), "ts comes first: {line}");
    }
}
