//! Rows 10 and 11 of the performance table (issue 13): `observer watch`.
//!
//! 10. Latency: with `watch` running on a fresh root (no ticks), append
//!     events one at a time to a producer file, each after the world showed
//!     the one before and a pause of 20 ms, and time each until
//!     `world/runtime-summary.json` counts it. The p50 and the p99 of
//!     `OBSERVER_BENCH_WATCH_EVENTS` (default 1,000) events with the notify
//!     wake-up, target p99 ≤ 1 s; and the same with `--no-inotify` and
//!     `watch.rescan_s: 1`, where only the rescan finds them
//!     (`OBSERVER_BENCH_WATCH_RESCAN_EVENTS`, default 100, as each takes
//!     up to a second), reported.
//! 11. Idle: `watch` with the default config on a folded root, nothing
//!     happening: its CPU time (user + system, from `/proc/PID/stat`) over
//!     `OBSERVER_BENCH_IDLE_S` (default 60) seconds, against that wall time.
//!     Target ≤ 0.5 % of one core. Skipped without `/proc`.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};

use super::{Row, env_number, thousands};

/// The pause between one event showing in the world and the next append.
const SPACING: Duration = Duration::from_millis(20);

pub fn rows(observer: &Path, base: &Path) -> Vec<Row> {
    let events = env_number("OBSERVER_BENCH_WATCH_EVENTS", 1_000) as usize;
    let rescan_events = env_number("OBSERVER_BENCH_WATCH_RESCAN_EVENTS", 100) as usize;
    let idle_s = env_number("OBSERVER_BENCH_IDLE_S", 60);
    let mut rows = Vec::new();
    let with = latencies(observer, &base.join("watch-notify"), events, &[], "watch:\n  tick_s: 0\n");
    let without = latencies(
        observer,
        &base.join("watch-rescan"),
        rescan_events,
        &["--no-inotify"],
        "watch:\n  tick_s: 0\n  rescan_s: 1\n",
    );
    let second = Duration::from_secs(1);
    rows.push(Row::time(
        format!("10. watch: p99 until the world shows one appended event ({} events) / 1 s", thousands(events as u64)),
        percentile(&with, 99),
        second,
        Some(1.0),
    ));
    rows.push(Row::time("   the same, p50 / 1 s".to_string(), percentile(&with, 50), second, None));
    rows.push(Row::time(
        format!(
            "   without the notify wake-up (`--no-inotify`, rescan every 1 s; {} events): p99 / 1 s",
            thousands(rescan_events as u64)
        ),
        percentile(&without, 99),
        second,
        None,
    ));
    rows.push(Row::time("   the same, p50 / 1 s".to_string(), percentile(&without, 50), second, None));
    rows.push(match idle(observer, &base.join("watch-idle"), Duration::from_secs(idle_s)) {
        Some(cpu) => Row::time(
            format!("11. watch idle: CPU time over {idle_s} s / {idle_s} s"),
            cpu,
            Duration::from_secs(idle_s),
            Some(0.005),
        ),
        None => Row::skipped("11. watch idle", "/proc/PID/stat cannot be read"),
    });
    rows
}

/// Starts `observer watch` on a fresh `root` with `config`, and waits for
/// its first pass.
fn start(observer: &Path, root: &Path, flags: &[&str], config: &str) -> Child {
    let _ = std::fs::remove_dir_all(root);
    std::fs::create_dir_all(root.join("events")).expect("the watch root");
    std::fs::write(root.join("observer.yaml"), config).expect("the watch config");
    let child = Command::new(observer)
        .arg("--root")
        .arg(root)
        .arg("watch")
        .args(flags)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("observer watch");
    wait_until(|| root.join("world/runtime-summary.json").exists());
    child
}

fn stop(mut child: Child) {
    let _ = kill_process(Pid::from_child(&child), Signal::TERM);
    let status = child.wait().expect("observer watch");
    assert!(status.success(), "observer watch exited with {status}");
}

fn latencies(observer: &Path, root: &Path, events: usize, flags: &[&str], config: &str) -> Vec<Duration> {
    let child = start(observer, root, flags, config);
    let file = root.join("events/saturn.jsonl");
    let mut taken = Vec::with_capacity(events);
    for n in 1..=events {
        std::thread::sleep(SPACING);
        let line = format!(
            "{{\"ts\":\"2026-05-12T{:02}:{:02}:{:02}Z\",\"type\":\"heartbeat\",\"node\":\"saturn\"}}\n",
            10 + n / 3600,
            (n / 60) % 60,
            n % 60
        );
        let appended = Instant::now();
        let mut out = OpenOptions::new().create(true).append(true).open(&file).expect("the producer file");
        out.write_all(line.as_bytes()).expect("an append");
        drop(out);
        wait_until(|| total(root) >= n as u64);
        taken.push(appended.elapsed());
    }
    stop(child);
    taken
}

fn idle(observer: &Path, root: &Path, span: Duration) -> Option<Duration> {
    let child = start(observer, root, &[], "");
    let pid = child.id();
    // The first pass is done; what follows is idle.
    let before = cpu_ticks(pid);
    std::thread::sleep(span);
    let after = cpu_ticks(pid);
    stop(child);
    let ticks = after? - before?;
    Some(Duration::from_secs_f64(ticks as f64 / clock_ticks_per_second()))
}

/// utime + stime of `pid`, in clock ticks (`proc_pid_stat(5)`, fields 14
/// and 15, counted after the command name in parentheses).
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100.0)
}

fn total(root: &Path) -> u64 {
    std::fs::read_to_string(root.join("world/runtime-summary.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|summary| summary["events"]["total"].as_u64())
        .unwrap_or(0)
}

fn wait_until(mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(120), "observer watch did not catch up within 120 s");
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn percentile(samples: &[Duration], p: usize) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let index = (sorted.len() * p).div_ceil(100).saturating_sub(1);
    sorted.get(index).copied().unwrap_or_default()
}
