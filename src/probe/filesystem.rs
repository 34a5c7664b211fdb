//! `path` and `disk` probes, plus the small helpers the other probes share
//! (bounded waiting on a helper thread, latency, durations and errors for
//! people).
//!
//! A file system call can hang indefinitely (a dead NFS server), so each one
//! runs on its own thread and is abandoned at the timeout: the thread may
//! linger, the prober does not.

use std::io;
use std::path::Path;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use super::{Execution, Outcome};

/// Thresholds of a `disk` probe. Percentages are of the file system's total
/// size, free space is what an unprivileged user can still write.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DiskLimits {
    /// Critical below this percentage of free space.
    pub min_free_percent: Option<f64>,
    /// Critical below this many free bytes.
    pub min_free_bytes: Option<u64>,
    /// Warning below this percentage of free space.
    pub warn_free_percent: Option<f64>,
}

/// `path` exists (as anything, a dangling symlink included).
pub fn execute_path(path: &Path, timeout: Duration, timeout_outcome: Outcome) -> Execution {
    let start = Instant::now();
    let owned = path.to_path_buf();
    let Some(found) = run_with_timeout(timeout, move || std::fs::symlink_metadata(owned)) else {
        return timed_out(start, timeout, timeout_outcome);
    };
    let latency = elapsed_ms(start);
    match found {
        Ok(_) => Execution::new(Outcome::Ok, latency, "exists"),
        Err(e) if is_absent(&e) => Execution::new(Outcome::Critical, latency, "does not exist"),
        // Permission denied on a parent directory and the like: the check
        // cannot tell whether the path exists.
        Err(e) => Execution::new(Outcome::Unknown, latency, format!("cannot check: {}", short_io_error(&e))),
    }
}

/// Free space of the file system holding `path`, against `limits`.
pub fn execute_disk(path: &Path, limits: DiskLimits, timeout: Duration, timeout_outcome: Outcome) -> Execution {
    let start = Instant::now();
    let owned = path.to_path_buf();
    let stat = run_with_timeout(timeout, move || {
        rustix::fs::statvfs(&owned)
            .map(|s| (s.f_bavail.saturating_mul(s.f_frsize), s.f_blocks.saturating_mul(s.f_frsize)))
    });
    let Some(stat) = stat else {
        return timed_out(start, timeout, timeout_outcome);
    };
    let latency = elapsed_ms(start);
    match stat {
        Ok((free, total)) => {
            let (outcome, detail, perfdata) = evaluate_disk(free, total, &limits);
            Execution { perfdata, ..Execution::new(outcome, latency, detail) }
        }
        Err(errno) => Execution::new(
            Outcome::Unknown,
            latency,
            format!("cannot stat file system: {}", short_io_error(&io::Error::from(errno))),
        ),
    }
}

/// Outcome, detail and perfdata of a disk with `free` of `total` bytes free.
fn evaluate_disk(free: u64, total: u64, limits: &DiskLimits) -> (Outcome, String, Option<String>) {
    if total == 0 {
        return (Outcome::Unknown, "file system reports a size of 0".to_string(), None);
    }
    let percent = free as f64 / total as f64 * 100.0;
    let mut detail = format!("{percent:.1}% free ({} of {})", format_bytes(free), format_bytes(total));
    let perfdata = Some(format!("free={free}B;;;0;{total}"));

    let mut outcome = Outcome::Ok;
    if let Some(min) = limits.min_free_percent.filter(|min| percent < *min) {
        outcome = Outcome::Critical;
        detail.push_str(&format!("; below minimum {min}%"));
    }
    if let Some(min) = limits.min_free_bytes.filter(|min| free < *min) {
        outcome = Outcome::Critical;
        detail.push_str(&format!("; below minimum {}", format_bytes(min)));
    }
    if outcome == Outcome::Ok
        && let Some(warn) = limits.warn_free_percent.filter(|warn| percent < *warn)
    {
        outcome = Outcome::Warning;
        detail.push_str(&format!("; below warning {warn}%"));
    }
    (outcome, detail, perfdata)
}

/// `bytes` in binary units with one decimal: "4.1 GiB", "512 B".
fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

fn is_absent(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory)
}

fn timed_out(start: Instant, timeout: Duration, timeout_outcome: Outcome) -> Execution {
    Execution {
        timed_out: true,
        ..Execution::new(
            timeout_outcome,
            elapsed_ms(start),
            format!("timed out after {}; file system not responding", format_duration(timeout)),
        )
    }
}

/// Runs `f` on a new thread and waits at most `timeout` for its result;
/// `None` when it did not finish in time (the thread is abandoned and its
/// result dropped whenever it arrives) or no thread could be started.
pub(super) fn run_with_timeout<T, F>(timeout: Duration, f: F) -> Option<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (tx, rx) = mpsc::sync_channel(1);
    let spawned = thread::Builder::new().name("observer-probe".to_string()).spawn(move || {
        // The receiver is gone once the caller gave up: nothing to do then.
        let _ = tx.send(f());
    });
    match spawned {
        Ok(_) => rx.recv_timeout(timeout).ok(),
        // The closure was dropped with the failed spawn; there is nothing
        // left to run inline, so report it as not finished.
        Err(_) => None,
    }
}

/// Whole milliseconds since `start`.
pub(super) fn elapsed_ms(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// A timeout for people: "5s", "1.5s", "500ms".
pub(super) fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{}s", ms as f64 / 1000.0)
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
    fn bytes_are_formatted_in_binary_units() {
        assert_eq!(format_bytes(0), "0 B");
        assert_eq!(format_bytes(1023), "1023 B");
        assert_eq!(format_bytes(1024), "1.0 KiB");
        assert_eq!(format_bytes(4_400_000_000), "4.1 GiB");
        assert_eq!(format_bytes(u64::MAX), "16.0 EiB");
    }

    #[test]
    fn durations_are_formatted_for_people() {
        assert_eq!(format_duration(Duration::from_secs(5)), "5s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
    }

    #[test]
    fn disk_within_limits_is_ok_with_perfdata() {
        let limits =
            DiskLimits { min_free_percent: Some(10.0), min_free_bytes: Some(1024), warn_free_percent: Some(20.0) };
        let (outcome, detail, perfdata) = evaluate_disk(4_400_000_000, 10_000_000_000, &limits);
        assert_eq!(outcome, Outcome::Ok);
        assert_eq!(detail, "44.0% free (4.1 GiB of 9.3 GiB)");
        assert_eq!(perfdata.as_deref(), Some("free=4400000000B;;;0;10000000000"));
    }

    #[test]
    fn disk_below_warning_is_a_warning() {
        let limits = DiskLimits { min_free_percent: Some(10.0), min_free_bytes: None, warn_free_percent: Some(20.0) };
        let (outcome, detail, _) = evaluate_disk(15, 100, &limits);
        assert_eq!(outcome, Outcome::Warning);
        assert!(detail.ends_with("; below warning 20%"), "{detail}");
    }

    #[test]
    fn disk_below_a_minimum_is_critical() {
        let percent =
            DiskLimits { min_free_percent: Some(10.0), warn_free_percent: Some(20.0), ..DiskLimits::default() };
        let (outcome, detail, _) = evaluate_disk(5, 100, &percent);
        assert_eq!(outcome, Outcome::Critical);
        assert!(detail.contains("below minimum 10%"), "{detail}");
        assert!(!detail.contains("warning"), "{detail}");

        let bytes = DiskLimits { min_free_bytes: Some(2048), ..DiskLimits::default() };
        let (outcome, detail, _) = evaluate_disk(1024, 1 << 20, &bytes);
        assert_eq!(outcome, Outcome::Critical);
        assert!(detail.contains("below minimum 2.0 KiB"), "{detail}");
    }

    #[test]
    fn disk_without_limits_is_ok_and_empty_file_system_is_unknown() {
        assert_eq!(evaluate_disk(0, 100, &DiskLimits::default()).0, Outcome::Ok);
        assert_eq!(evaluate_disk(0, 0, &DiskLimits::default()).0, Outcome::Unknown);
    }

    #[test]
    fn a_hung_call_is_abandoned_at_the_timeout() {
        let start = Instant::now();
        let result = run_with_timeout(Duration::from_millis(50), || thread::sleep(Duration::from_secs(5)));
        assert!(result.is_none());
        assert!(start.elapsed() < Duration::from_secs(2));
        assert_eq!(run_with_timeout(Duration::from_secs(5), || 7), Some(7));
    }

    #[test]
    fn io_errors_lose_their_os_error_suffix() {
        assert_eq!(short_io_error(&io::Error::from_raw_os_error(2)), "No such file or directory");
    }
}
