//! `observer watch` as a service runs it: the real binary as a child
//! process, files written by this (other) process, SIGTERM to stop it.
//! Each test polls the world with a deadline; none sleeps a fixed time to
//! let watch catch up.

use std::fs::{self, File};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};

use crate::support::{BIN, Ev, Homelab};

/// How long a test waits for watch to show what it was given.
const PATIENCE: Duration = Duration::from_secs(60);

/// A running `observer watch`, its stderr kept in a file of the lab.
struct Watching {
    child: Child,
    stderr: PathBuf,
}

impl Watching {
    fn start(lab: &Homelab, config: &str, flags: &[&str]) -> Watching {
        lab.write("observer.yaml", config);
        let stderr = lab.path("watch.stderr");
        let mut child = Command::new(BIN);
        child.arg("--root").arg(lab.root()).arg("watch").args(flags);
        child.stdin(Stdio::null()).stdout(Stdio::null()).stderr(File::create(&stderr).unwrap());
        let watching = Watching { child: child.spawn().expect("spawn observer watch"), stderr };
        // Its first pass writes the world.
        wait_for(lab, "the first pass", || lab.path("world/runtime-summary.json").exists());
        watching
    }

    fn stderr(&self) -> String {
        fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    fn signal(&self, signal: Signal) {
        kill_process(Pid::from_child(&self.child), signal).expect("signal watch");
    }

    /// SIGTERM, then the exit code and how long it took to exit.
    fn stop(mut self) -> (Option<i32>, Duration, String) {
        let sent = Instant::now();
        self.signal(Signal::TERM);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if sent.elapsed() > Duration::from_secs(30) {
                let _ = self.child.kill();
                panic!("watch did not exit within 30 s of SIGTERM: {}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let took = sent.elapsed();
        let stderr = self.stderr();
        (status.code(), took, stderr)
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        // Only our own child, and only if a failed assertion left it running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_for(lab: &Homelab, what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < PATIENCE, "waited {PATIENCE:?} for {what}; root {}", lab.root().display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn total(lab: &Homelab) -> u64 {
    let text = fs::read_to_string(lab.path("world/runtime-summary.json")).unwrap_or_default();
    serde_json::from_str::<serde_json::Value>(&text).ok().and_then(|s| s["events"]["total"].as_u64()).unwrap_or(0)
}

fn wait_for_total(lab: &Homelab, expected: u64) {
    wait_for(lab, &format!("{expected} events in the world"), || total(lab) >= expected);
    assert_eq!(total(lab), expected, "more events folded than written");
}

fn heartbeat(n: usize) -> Ev {
    let seconds = n % 60;
    let minutes = (n / 60) % 60;
    let hours = n / 3600;
    Ev::new(&format!("2026-05-12T{:02}:{minutes:02}:{seconds:02}Z", 10 + hours), "heartbeat").node("saturn")
}

/// No ticks and no rescan to speak of: only a notification can wake watch.
const NOTIFICATIONS_ONLY: &str = "watch:\n  tick_s: 0\n  rescan_s: 3600\n";

/// Appends `text` from another process, as a producer would.
fn append_from_a_producer(lab: &Homelab, rel: &str, text: &str) {
    let path = lab.path(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let status = Command::new("sh")
        .arg("-c")
        .arg("printf '%s' \"$1\" >> \"$2\"")
        .arg("sh")
        .arg(text)
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn an_event_appended_by_another_process_appears_in_the_world() {
    let lab = Homelab::new();
    let watching = Watching::start(&lab, NOTIFICATIONS_ONLY, &[]);
    assert_eq!(total(&lab), 0);
    append_from_a_producer(&lab, "events/saturn.jsonl", &heartbeat(1).line());
    wait_for_total(&lab, 1);
    append_from_a_producer(&lab, "events/saturn.jsonl", &heartbeat(2).line());
    wait_for_total(&lab, 2);
    assert!(lab.json("world/nodes.json")["nodes"]["saturn"].is_object(), "{}", lab.world("nodes.json"));
    let (code, _, stderr) = watching.stop();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("observer watch: watching"), "{stderr}");
    assert!(stderr.contains("stopped after"), "{stderr}");
    assert_eq!(lab.json("state/last-run.json")["command"], "watch");
    lab.assert_world_equals_rebuild();
}

#[test]
fn a_subdirectory_created_after_start_is_watched() {
    let lab = Homelab::new();
    let watching = Watching::start(&lab, NOTIFICATIONS_ONLY, &[]);
    append_from_a_producer(&lab, "events/new/deeper/saturn.jsonl", &heartbeat(1).line());
    wait_for_total(&lab, 1);
    // A second line in the new directory: only its own watch sees it.
    append_from_a_producer(&lab, "events/new/deeper/saturn.jsonl", &heartbeat(2).line());
    wait_for_total(&lab, 2);
    let (code, _, stderr) = watching.stop();
    assert_eq!(code, Some(0), "{stderr}");
}

/// Writes `count` one-event `.json` files into `events/flood/` as fast as
/// it can, each written aside and renamed in, as producers must.
fn flood(lab: &Homelab, count: usize) {
    let aside = lab.path("aside");
    fs::create_dir_all(&aside).unwrap();
    fs::create_dir_all(lab.path("events/flood")).unwrap();
    for n in 0..count {
        let name = format!("event-{n:05}.json");
        let event = Ev::new("2026-05-12T10:00:00Z", "heartbeat").node("saturn").message(&format!("flood {n}"));
        fs::write(aside.join(&name), event.json()).unwrap();
        fs::rename(aside.join(&name), lab.path(&format!("events/flood/{name}"))).unwrap();
    }
}

/// The world equals a rebuild's, but for `events.late`: a directory listed
/// while files are added to it may show a later file and not an earlier one
/// (ext4 lists in hash order), so a pass may fold `event-05000.json` and
/// the next `event-04990.json`, which then sorts before what was folded: a
/// late event, folded and counted as such. A rebuild sees all at once.
fn assert_world_equals_rebuild_but_the_late_count(lab: &Homelab) {
    let out = lab.path("rebuilt");
    lab.observer(["rebuild", "--out", out.to_str().unwrap()]).run().success();
    for ((name, live), (_, rebuilt)) in lab.world_files("world").into_iter().zip(lab.world_files("rebuilt")) {
        if name == "runtime-summary.json" {
            let without_late = |text: &str| {
                let mut summary: serde_json::Value = serde_json::from_str(text).unwrap();
                summary["events"]["late"] = 0.into();
                summary
            };
            assert_eq!(without_late(&live), without_late(&rebuilt), "world/{name} differs from a rebuild");
        } else {
            assert_eq!(live, rebuilt, "world/{name} differs from a rebuild");
        }
    }
    assert_eq!(lab.read("state/outbox.jsonl"), lab.read("rebuilt/outbox.jsonl"), "the outbox differs");
}

#[test]
fn a_flood_of_ten_thousand_files_is_folded_exactly_once() {
    let lab = Homelab::new();
    let watching = Watching::start(&lab, NOTIFICATIONS_ONLY, &[]);
    flood(&lab, 10_000);
    wait_for_total(&lab, 10_000);
    let (code, _, stderr) = watching.stop();
    assert_eq!(code, Some(0), "{stderr}");
    // Bursts coalesce: a few passes, not one per file.
    let passes: u64 = stderr
        .split("stopped after ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no pass count in {stderr}"));
    assert!(passes < 500, "{passes} passes for one flood of 10,000 files");
    assert_eq!(lab.summary()["events"]["rejected"], 0);
    assert_eq!(lab.summary()["events"]["duplicates"], 0);
    assert_world_equals_rebuild_but_the_late_count(&lab);
}

#[test]
fn with_notifications_off_the_rescan_alone_finds_a_flood() {
    let lab = Homelab::new();
    let watching = Watching::start(&lab, "watch:\n  tick_s: 0\n  rescan_s: 1\n", &["--no-inotify"]);
    flood(&lab, 10_000);
    wait_for_total(&lab, 10_000);
    let (code, _, stderr) = watching.stop();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("no file-system notifications, a rescan every 1s"), "{stderr}");
    assert_world_equals_rebuild_but_the_late_count(&lab);
}

#[test]
fn sigterm_during_a_pass_leaves_a_committed_consistent_state_and_exits_0_within_2_s() {
    let lab = Homelab::new();
    let watching = Watching::start(&lab, NOTIFICATIONS_ONLY, &[]);
    let lines: String = (0..20_000).map(|n| heartbeat(n).line()).collect();
    lab.append("events/saturn.jsonl", &lines);
    // The pass this starts is under way once its reading shows in the
    // checkpoint or the world; stop it as soon as anything moved.
    wait_for(&lab, "a pass to start", || total(&lab) > 0 || lab.path("state/.observer.lock").exists());
    let (code, took, stderr) = watching.stop();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(took <= Duration::from_secs(2), "exit took {took:?}");
    assert!(lab.temp_files().is_empty(), "{:?}", lab.temp_files());
    // What was committed is consistent: the next run goes on from it, and
    // its world is a rebuild's.
    lab.observer(["run", "--no-tick"]).run().success();
    assert_eq!(total(&lab), 20_000);
    lab.assert_world_equals_rebuild();
}

#[test]
fn sigint_stops_an_idle_watch_with_exit_0() {
    let lab = Homelab::new();
    let mut watching = Watching::start(&lab, NOTIFICATIONS_ONLY, &[]);
    watching.signal(Signal::INT);
    let status = watching.child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{}", watching.stderr());
}

#[test]
fn a_concurrent_run_wait_interleaves_with_watch() {
    let lab = Homelab::new();
    // Producer times of May and ticks of today would make the producers'
    // events late, folded differently from a rebuild: no ticks here.
    let watching = Watching::start(&lab, "watch:\n  tick_s: 0\n  rescan_s: 1\n", &[]);
    let mut written = 0;
    for round in 0..5 {
        let events: String = (0..20).map(|n| heartbeat(round * 20 + n).line()).collect();
        lab.append(&format!("events/producer-{round}.jsonl"), &events);
        written += 20;
        lab.observer(["run", "--wait", "--no-tick"]).run().success();
        lab.observer(["status"]).run().success();
    }
    // Watch goes on passing (its rescan) after the runs.
    wait_for(&lab, "a pass of watch after the runs", || lab.json("state/last-run.json")["command"] == "watch");
    let (code, _, stderr) = watching.stop();
    assert_eq!(code, Some(0), "{stderr}");
    // Every producer event once, whoever folded it.
    assert_eq!(total(&lab), written);
    lab.assert_world_equals_rebuild();
}

#[test]
fn a_failing_pass_is_recorded_and_watch_goes_on() {
    let lab = Homelab::new();
    let watching = Watching::start(&lab, NOTIFICATIONS_ONLY, &[]);
    lab.write("observer.yaml", "watch:\n  tick_s: 0\n  rescan_s: 3600\nnodes:\n  stale_after_hours: 10\n");
    append_from_a_producer(&lab, "events/saturn.jsonl", &heartbeat(1).line());
    wait_for(&lab, "the failure to be recorded", || lab.path("state/last-failure.json").exists());
    let failure = lab.json("state/last-failure.json");
    assert_eq!(failure["command"], "watch");
    assert!(failure["error"].as_str().unwrap().contains("stale_after_hours"), "{failure}");
    // Mended, the next wake-up folds the event and forgets the failure.
    lab.write("observer.yaml", NOTIFICATIONS_ONLY);
    append_from_a_producer(&lab, "events/saturn.jsonl", &heartbeat(2).line());
    wait_for_total(&lab, 2);
    wait_for(&lab, "the failure to be forgotten", || !lab.path("state/last-failure.json").exists());
    let (code, _, stderr) = watching.stop();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("the pass failed"), "{stderr}");
    assert!(stderr.contains("passes succeed again"), "{stderr}");
}

#[test]
fn a_bad_config_at_start_stops_watch_with_exit_1() {
    let lab = Homelab::new();
    lab.write("observer.yaml", "watch:\n  rescan_s: 0\n");
    lab.observer(["watch"]).run().code(1).stderr_has("observer.yaml:2").stderr_has("watch.rescan_s must be at least 1");
}

#[test]
fn a_missing_event_directory_stops_watch_with_exit_1() {
    let lab = Homelab::new();
    fs::remove_dir(lab.path("events")).unwrap();
    lab.observer(["watch"]).run().code(1).stderr_has("events");
}

/// The address `watch --listen` says it serves on (port 0 picks a free one).
fn served_address(watching: &Watching) -> String {
    let stderr = watching.stderr();
    stderr
        .lines()
        .find_map(|line| line.split("serving HTTP on http://").nth(1))
        .map(|rest| rest.trim_end_matches('/').to_string())
        .unwrap_or_else(|| panic!("no address in {stderr}"))
}

/// A status and a body, whatever the status; a bounded wait.
fn http(method: &str, url: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let mut response = match method {
        "GET" => {
            let mut request = agent.get(url);
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            request.call()
        }
        _ => {
            let mut request = agent.post(url);
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            request.send_empty()
        }
    }
    .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let etag = response.headers().get("etag").map_or(String::new(), |v| v.to_str().unwrap().to_string());
    let body = response.body_mut().read_to_string().unwrap();
    (response.status().as_u16(), etag, body)
}

#[test]
fn watch_listen_serves_the_world_and_the_trigger_runs_the_due_probes() {
    use std::os::unix::fs::PermissionsExt;
    let lab = Homelab::new();
    lab.write("trigger.token", "s3cret-token\n");
    fs::set_permissions(lab.path("trigger.token"), fs::Permissions::from_mode(0o600)).unwrap();
    let token = lab.path("trigger.token");
    // The inventory is there from the start, without probes.
    lab.write("inventory/hosts/saturn/services.yaml", "services:\n  tool: {}\n");
    let watching = Watching::start(
        &lab,
        NOTIFICATIONS_ONLY,
        &["--listen", "127.0.0.1:0", "--allow-trigger", "--token-file", token.to_str().unwrap()],
    );
    wait_for(&lab, "the address on stderr", || watching.stderr().contains("serving HTTP on"));
    let base = format!("http://{}", served_address(&watching));
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");

    append_from_a_producer(&lab, "events/saturn.jsonl", &heartbeat(1).line());
    wait_for_total(&lab, 1);
    for path in ["/health", "/ready", "/health/status", "/alerts", "/metrics", "/world/nodes.json"] {
        let (status, _, body) = http("GET", &format!("{base}{path}"), &[]);
        assert_eq!(status, 200, "{path}: {body}");
    }
    let (_, etag, body) = http("GET", &format!("{base}/world/runtime-summary.json"), &[]);
    assert_eq!(body, lab.world("runtime-summary.json"), "the file as on disk");
    let (status, _, _) = http("GET", &format!("{base}/world/runtime-summary.json"), &[("If-None-Match", &etag)]);
    assert_eq!(status, 304);
    append_from_a_producer(&lab, "events/saturn.jsonl", &heartbeat(2).line());
    wait_for_total(&lab, 2);
    let (status, new_etag, body) =
        http("GET", &format!("{base}/world/runtime-summary.json"), &[("If-None-Match", &etag)]);
    assert_eq!(status, 200, "a new generation, a new tag");
    assert_ne!(new_etag, etag);
    assert!(body.contains("\"total\": 2"), "{body}");

    // A probe added after the start is never due by watch's own clock (it
    // had no probes to schedule): only the trigger's round runs it.
    lab.write(
        "inventory/hosts/saturn/services.yaml",
        "services:\n  tool:\n    probes:\n      - name: true\n        command: [/bin/true]\n        interval: 5m\n",
    );
    let (status, _, body) = http("POST", &format!("{base}/health/trigger"), &[]);
    assert_eq!(status, 401, "{body}");
    let (status, _, body) = http("POST", &format!("{base}/health/trigger"), &[("Authorization", "Bearer wrong")]);
    assert_eq!(status, 403, "{body}");
    let probe_files = || {
        fs::read_dir(lab.path("events/observer"))
            .map(|dir| dir.filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with("probes-")).count())
            .unwrap_or(0)
    };
    assert_eq!(probe_files(), 0, "no probe ran before the trigger");
    let (status, _, body) =
        http("POST", &format!("{base}/health/trigger"), &[("Authorization", "Bearer s3cret-token")]);
    assert_eq!(status, 202, "{body}");
    wait_for(&lab, "the triggered probe's result in the world", || {
        lab.json("world/services.json")["services"]["saturn/tool"]["probes"]["true"].is_object()
    });

    let (code, _, stderr) = watching.stop();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        std::net::TcpStream::connect(base.trim_start_matches("http://")).is_err(),
        "the port is closed after watch exits"
    );
}

#[test]
fn bad_listen_flags_and_token_files_are_clear_errors() {
    use std::os::unix::fs::PermissionsExt;
    let lab = Homelab::new();
    lab.observer(["watch", "--listen", "nowhere:80"]).run().code(2).stderr_has("--listen");
    lab.observer(["watch", "--listen", "8080", "--allow-trigger"]).run().code(2).stderr_has("--token-file");
    lab.write("open.token", "abc\n");
    fs::set_permissions(lab.path("open.token"), fs::Permissions::from_mode(0o644)).unwrap();
    let open = lab.path("open.token");
    lab.observer(["watch", "--listen", "127.0.0.1:0", "--allow-trigger", "--token-file", open.to_str().unwrap()])
        .run()
        .code(1)
        .stderr_has("open.token");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    lab.observer(["watch", "--listen", &address]).run().code(1).stderr_has(&address);
    assert!(!lab.path("world/runtime-summary.json").exists(), "nothing folded by a watch that did not start");
}
