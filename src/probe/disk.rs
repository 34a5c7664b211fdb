//! `disk` probe: free space of the file system holding a path, against
//! percentage and byte limits. `statvfs` can hang indefinitely (a dead NFS
//! server), so it runs with a bounded wait.

use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use super::execution::{Execution, short_io_error};
use super::timing::{elapsed_ms, run_with_timeout, timed_out};
use crate::event::Outcome;

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

/// Free space of the file system holding `path`, against `limits`.
pub fn execute(path: &Path, limits: DiskLimits, timeout: Duration, timeout_outcome: Outcome) -> Execution {
    let start = Instant::now();
    let owned = path.to_path_buf();
    let stat = run_with_timeout(timeout, move || {
        rustix::fs::statvfs(&owned)
            .map(|s| (s.f_bavail.saturating_mul(s.f_frsize), s.f_blocks.saturating_mul(s.f_frsize)))
    });
    let Some(stat) = stat else {
        return timed_out(start, timeout, timeout_outcome, "; file system not responding");
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
}
