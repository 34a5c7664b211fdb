//! The systemd units that `observer init --systemd` writes: a oneshot
//! service for one pass with a timer that starts it every minute (the
//! cron-style form), and a long-running service for `observer watch`.
//! Each names the binary and the root by absolute path.

use std::path::Path;

/// The units as (file name, content), in the order they are written.
pub fn units(binary: &Path, root: &Path) -> [(&'static str, String); 3] {
    let bin = word(&binary.display().to_string());
    let root = word(&root.display().to_string());
    [
        (
            "observer.service",
            format!(
                "\
# Written by `observer init --systemd`. One pass: fold what is new, run the
# probes that are due, write the world and deliver the notifications.
# observer.timer starts it every minute.
[Unit]
Description=observer: one pass over the homelab events
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
# Better as a user of its own that owns the root: create it, then uncomment.
#User=observer
ExecStart={bin} --root {root} run --probe
ProtectSystem=strict
ReadWritePaths={root}
PrivateTmp=true
NoNewPrivileges=true
# 75: another run (a manual one, say) holds the lock; the next minute's
# pass picks up where it left off, so this is no failure.
SuccessExitStatus=75
"
            ),
        ),
        (
            "observer.timer",
            "\
# Written by `observer init --systemd`. Starts observer.service every minute.
# Enable it with: systemctl enable --now observer.timer
[Unit]
Description=observer: a pass every minute

[Timer]
OnCalendar=minutely
AccuracySec=1s
Unit=observer.service

[Install]
WantedBy=timers.target
"
            .to_string(),
        ),
        (
            "observer-watch.service",
            format!(
                "\
# Written by `observer init --systemd`. The long-running form: `observer
# watch` stays up and folds events as they arrive; SIGTERM (systemctl stop)
# ends it after the pass under way. Use this or observer.timer, never both
# (starting this one stops the timer).
[Unit]
Description=observer: fold the homelab events as they arrive
Wants=network-online.target
After=network-online.target
Conflicts=observer.timer

[Service]
Type=simple
#User=observer
ExecStart={bin} --root {root} watch
ProtectSystem=strict
ReadWritePaths={root}
PrivateTmp=true
NoNewPrivileges=true
Restart=on-failure
RestartSec=5s
TimeoutStopSec=10s

[Install]
WantedBy=multi-user.target
"
            ),
        ),
    ]
}

/// One word of an `ExecStart=` line: `%` and `$` doubled (systemd expands
/// specifiers and variables), and quoted when it holds a space, a quote or
/// a backslash, or is empty.
fn word(text: &str) -> String {
    let escaped = text.replace('%', "%%").replace('$', "$$");
    if !escaped.is_empty() && !escaped.contains(|c: char| c.is_whitespace() || "\"'\\".contains(c)) {
        return escaped;
    }
    format!("\"{}\"", escaped.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_escaped_for_exec_start() {
        assert_eq!(word("/opt/homelab"), "/opt/homelab");
        assert_eq!(word("/srv/my lab"), "\"/srv/my lab\"");
        assert_eq!(word("/srv/100%"), "/srv/100%%");
        assert_eq!(word("/srv/$HOME"), "/srv/$$HOME");
        assert_eq!(word("/srv/a\"b\\c"), "\"/srv/a\\\"b\\\\c\"");
    }

    #[test]
    fn the_units_name_the_binary_and_the_root() {
        let units = units(Path::new("/usr/local/bin/observer"), Path::new("/srv/home lab"));
        let names: Vec<&str> = units.iter().map(|(name, _)| *name).collect();
        assert_eq!(names, ["observer.service", "observer.timer", "observer-watch.service"]);
        assert!(units[0].1.contains("ExecStart=/usr/local/bin/observer --root \"/srv/home lab\" run --probe\n"));
        assert!(units[1].1.contains("OnCalendar=minutely\n"));
        assert!(units[2].1.contains("ExecStart=/usr/local/bin/observer --root \"/srv/home lab\" watch\n"));
    }
}
