//! `observer check`, the Nagios/Icinga plugin (SPEC §7): the observer's own
//! health as a status (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN), one line
//! for people and perfdata for graphs.
//!
//! [`facts`] reads what the runs left on disk — it never takes the lock and
//! never writes — and [`judge`] turns those facts and the thresholds into
//! the verdict, without IO. Thresholds are Nagios ranges ([`range`]).

pub mod facts;
pub mod range;

use self::facts::{Facts, Free};
use self::range::{Number, Range};
use crate::time::Ts;

/// A plugin status; its number is the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok = 0,
    Warning = 1,
    Critical = 2,
    Unknown = 3,
}

impl Status {
    pub fn code(self) -> i32 {
        self as i32
    }

    pub fn word(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warning => "WARNING",
            Status::Critical => "CRITICAL",
            Status::Unknown => "UNKNOWN",
        }
    }
}

/// A warning and a critical range; either may be off.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Thresholds {
    pub warning: Option<Range>,
    pub critical: Option<Range>,
}

impl Thresholds {
    /// CRITICAL when the critical range alerts, else WARNING when the
    /// warning range does, else OK; with the range that decided.
    fn judge(&self, value: f64) -> (Status, Option<&Range>) {
        if let Some(range) = self.critical.as_ref().filter(|r| r.alerts(value)) {
            return (Status::Critical, Some(range));
        }
        if let Some(range) = self.warning.as_ref().filter(|r| r.alerts(value)) {
            return (Status::Warning, Some(range));
        }
        (Status::Ok, None)
    }
}

/// The thresholds of every measured value.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// Seconds since the last successful run started.
    pub age: Thresholds,
    /// Rejected events in the window.
    pub rejected: Thresholds,
    /// Late events in the window.
    pub late: Thresholds,
    /// Dead-lettered notifications in the window.
    pub dead_letters: Thresholds,
    /// Seconds the state lock has been held.
    pub lock: Thresholds,
    /// Percent free on the file systems of state/ and world/.
    pub free: Thresholds,
    /// Messages of a NATS stream not yet relayed.
    pub nats_lag: Thresholds,
    /// The window, in seconds, for rejected, late and dead letters.
    pub window_s: u64,
}

/// What the check found: the status, the problems (worst first), the
/// summary when there are none, and the perfdata.
#[derive(Debug)]
pub struct Verdict {
    pub status: Status,
    pub problems: Vec<(Status, String)>,
    pub summary: Vec<String>,
    pub perfdata: Vec<String>,
}

impl Verdict {
    /// The plugin's output: `OBSERVER STATUS - text | perfdata`, then one
    /// line per problem.
    pub fn render(&self) -> String {
        let text = if self.problems.is_empty() {
            self.summary.join(", ")
        } else {
            self.problems.iter().map(|(_, p)| p.as_str()).collect::<Vec<_>>().join("; ")
        };
        let mut out = format!("OBSERVER {} - {text}", self.status.word());
        if !self.perfdata.is_empty() {
            out.push_str(&format!(" | {}", self.perfdata.join(" ")));
        }
        out.push('\n');
        if self.problems.len() > 1 {
            for (status, problem) in &self.problems {
                out.push_str(&format!("{}: {problem}\n", status.word()));
            }
        }
        out
    }
}

/// The verdict on `facts` at `now` under `limits`.
pub fn judge(facts: &Facts, limits: &Limits, now: Ts) -> Verdict {
    let mut verdict = Verdict { status: Status::Ok, problems: Vec::new(), summary: Vec::new(), perfdata: Vec::new() };
    let problem = |verdict: &mut Verdict, status: Status, text: String| {
        verdict.problems.push((status, text));
    };
    if !facts.world {
        problem(
            &mut verdict,
            Status::Unknown,
            format!("no world in {} yet: nothing has run here (or --root is wrong)", facts.world_dir),
        );
    }
    if let Err(why) = &facts.checkpoint {
        problem(&mut verdict, Status::Critical, format!("the checkpoint is unreadable: {why}"));
    }
    if let Some(failure) = &facts.last_failure {
        problem(
            &mut verdict,
            Status::Critical,
            format!("the last `{}` failed at {}: {}", failure.command, failure.started_at, first_line(&failure.error)),
        );
    }
    let window = format!("in the last {}", span(limits.window_s));
    match facts.last_success {
        Some(at) => {
            let age = (now.0 - at.0) as f64 / 1000.0;
            let text = format!("last successful run {} ago", span_signed(age));
            measure(&mut verdict, "age", age, "s", &limits.age, text);
        }
        None if facts.world => problem(
            &mut verdict,
            Status::Unknown,
            "no successful run is recorded (state/last-run.json is missing)".to_string(),
        ),
        None => {}
    }
    for (label, value, thresholds, noun) in [
        ("rejected", facts.rejected, &limits.rejected, "rejected event"),
        ("late", facts.late, &limits.late, "late event"),
    ] {
        let text = format!("{} {window}", plural(value, noun));
        measure(&mut verdict, label, value as f64, "", thresholds, text);
    }
    match &facts.dead_letters {
        Ok(count) => {
            let text = format!("{} {window}", plural(*count, "dead letter"));
            measure(&mut verdict, "dead_letters", *count as f64, "", &limits.dead_letters, text);
        }
        Err(why) => problem(&mut verdict, Status::Unknown, format!("cannot read the delivery ledger: {why}")),
    }
    let (held, text) = match &facts.lock {
        Some(lock) => {
            let held = ((now.0 - lock.since.0) as f64 / 1000.0).max(0.0);
            (held, format!("lock held for {} ({})", span_signed(held), lock.holder))
        }
        None => (0.0, "lock free".to_string()),
    };
    measure(&mut verdict, "lock_held", held, "s", &limits.lock, text);
    for (name, free) in &facts.free {
        match free {
            Free::Percent(percent) => {
                let text = format!("{}% free on {name}/", Number(*percent));
                let label = format!("{name}_free");
                measure_max(&mut verdict, &label, *percent, "%", &limits.free, text, Some(100.0));
            }
            Free::Unknown(why) => {
                problem(&mut verdict, Status::Unknown, format!("free space on {name}/ unknown: {why}"))
            }
        }
    }
    for (stream, lag) in &facts.nats_lag {
        let text = format!("NATS stream {stream} {} behind", plural(*lag, "message"));
        measure(&mut verdict, &format!("nats_lag_{stream}"), *lag as f64, "", &limits.nats_lag, text);
    }
    verdict.problems.sort_by_key(|(status, _)| std::cmp::Reverse(rank(*status)));
    verdict.status = verdict.problems.first().map_or(Status::Ok, |(status, _)| *status);
    verdict
}

/// Worse ranks higher: CRITICAL, WARNING, UNKNOWN, OK.
fn rank(status: Status) -> u8 {
    match status {
        Status::Ok => 0,
        Status::Unknown => 1,
        Status::Warning => 2,
        Status::Critical => 3,
    }
}

fn measure(verdict: &mut Verdict, label: &str, value: f64, uom: &str, thresholds: &Thresholds, text: String) {
    measure_max(verdict, label, value, uom, thresholds, text, None);
}

/// Records one value: its perfdata, and a problem when a range alerts.
fn measure_max(
    verdict: &mut Verdict,
    label: &str,
    value: f64,
    uom: &str,
    thresholds: &Thresholds,
    text: String,
    max: Option<f64>,
) {
    let shown = |range: &Option<Range>| range.as_ref().map(|r| r.to_string()).unwrap_or_default();
    let max = max.map(|m| Number(m).to_string()).unwrap_or_default();
    verdict.perfdata.push(format!(
        "'{label}'={}{uom};{};{};0;{max}",
        Number(value),
        shown(&thresholds.warning),
        shown(&thresholds.critical)
    ));
    match thresholds.judge(value) {
        (Status::Ok, _) => verdict.summary.push(text),
        (status, range) => {
            let level = if status == Status::Critical { "critical" } else { "warning" };
            let range = range.map(|r| r.to_string()).unwrap_or_default();
            verdict.problems.push((status, format!("{text} ({level} range {range})")));
        }
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

fn plural(n: u64, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

/// "45s", "5m", "2h", "1d 2h" for a window of whole seconds.
pub fn span(seconds: u64) -> String {
    match seconds {
        s if s % 86_400 == 0 && s > 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 && s > 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 && s > 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// Whole seconds, or "in the future" for a negative age (a clock that went
/// back).
fn span_signed(seconds: f64) -> String {
    if seconds < 0.0 { format!("{}s in the future", Number(-seconds)) } else { format!("{}s", Number(seconds)) }
}

#[cfg(test)]
mod tests;
