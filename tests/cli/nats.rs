//! Events over NATS JetStream (SPEC §8, issue 14), against a real
//! `nats-server` (see `nats_server`): `emit --nats`, `relay` and `watch
//! --nats` as the binary, killed and restarted along the way. Each test
//! polls with a deadline; none sleeps a fixed time to let the relay catch up.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};

use crate::nats_server::{NatsServer, free_port};
use crate::support::{BIN, Ev, Homelab, WORLD_FILES, long_mode_value};

const PATIENCE: Duration = Duration::from_secs(90);

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < PATIENCE, "waited {PATIENCE:?} for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A story of producer `p`: its node's heartbeats and its service going
/// down and up, `n` events at distinct times, each with an id.
fn story(p: usize, n: usize) -> Vec<Ev> {
    let node = ["saturn", "jupiter", "mars"][p % 3];
    (0..n)
        .map(|k| {
            let second = k * 3 + p % 3;
            let ts = format!("2026-05-12T10:{:02}:{:02}Z", second / 60, second % 60);
            let ev = match k % 4 {
                0 => Ev::new(&ts, "heartbeat").node(node),
                1 => Ev::new(&ts, "service_unhealthy").node(node).service("web").severity("error"),
                2 => Ev::new(&ts, "heartbeat").node(node),
                _ => Ev::new(&ts, "service_healthy").node(node).service("web"),
            };
            ev.id(&format!("{node}-{p}-{k}"))
        })
        .collect()
}

/// The relayed lines of `stream` in `lab`, file by file in name order.
fn log_lines(lab: &Homelab, stream: &str) -> Vec<String> {
    let mut files: Vec<_> = fs::read_dir(lab.path("events/nats"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(&format!("{stream}-")))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    files.iter().flat_map(|p| fs::read_to_string(p).unwrap().lines().map(str::to_string).collect::<Vec<_>>()).collect()
}

/// The log files of `lab`, by name, with their bytes.
fn log_files(lab: &Homelab) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(lab.path("events/nats"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| (e.file_name().to_string_lossy().into_owned(), fs::read(e.path()).unwrap()))
        .collect()
}

/// `observer relay` as a child, its stderr in ROOT/relay-N.stderr.
fn spawn_relay(lab: &Homelab, server: &NatsServer, stream: &str, consumer: &str) -> Child {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let stderr = File::create(lab.path(&format!("relay-{n}.stderr"))).unwrap();
    Command::new(BIN)
        .arg("--root")
        .arg(lab.root())
        .args(["relay", "--nats", &server.url(), "--stream", stream, "--consumer", consumer])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("spawn observer relay")
}

/// Whether the process catches SIGTERM yet (`SigCgt` in /proc/PID/status,
/// bit 14 for signal 15): a SIGTERM sent before the relay installed its
/// handler would kill it by the default action, which says nothing about it.
fn catches_sigterm(pid: u32) -> bool {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("SigCgt:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << 14) != 0)
}

/// SIGTERM, once the relay handles it; the relay must exit 0 within 10 s.
fn terminate(mut child: Child) {
    let started = Instant::now();
    while !catches_sigterm(child.id()) && child.try_wait().unwrap().is_none() {
        assert!(started.elapsed() < Duration::from_secs(10), "the relay never installed its SIGTERM handler");
        std::thread::sleep(Duration::from_millis(5));
    }
    kill_process(Pid::from_child(&child), Signal::TERM).unwrap();
    let sent = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if sent.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("the relay did not exit within 10 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(0), "the relay exits 0 on SIGTERM");
}

fn emit(lab: &Homelab, server: &NatsServer, ev: &Ev) -> crate::support::Outcome {
    lab.observer(["emit", "--nats", &server.url(), "--json", &ev.json()]).run()
}

fn assert_exactly_once(lines: &[String], expected: &[String]) {
    let mut seen = BTreeMap::new();
    for line in lines {
        *seen.entry(line.as_str()).or_insert(0) += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "lines appended more than once: {twice:?}");
    let missing: Vec<_> = expected.iter().filter(|e| !seen.contains_key(e.as_str())).collect();
    assert!(missing.is_empty(), "published and not in the log: {missing:?}");
    assert_eq!(lines.len(), expected.len(), "the log holds lines nobody published");
}

#[test]
fn three_concurrent_producers_arrive_exactly_once_and_fold_to_the_world_of_the_same_files() {
    let server = NatsServer::start();
    server.create_stream("EV");
    let lab = Homelab::new();
    let relay = spawn_relay(&lab, &server, "EV", "one");
    let stories: Vec<Vec<Ev>> = (0..3).map(|p| story(p, 8)).collect();
    std::thread::scope(|scope| {
        for story in &stories {
            let (lab, server) = (&lab, &server);
            scope.spawn(move || {
                for ev in story {
                    emit(lab, server, ev).success();
                }
            });
        }
    });
    let expected: Vec<String> = stories.iter().flatten().map(Ev::json).collect();
    wait_for("24 relayed events", || log_lines(&lab, "EV").len() >= expected.len());
    terminate(relay);
    assert_exactly_once(&log_lines(&lab, "EV"), &expected);
    let state = lab.json("state/nats-EV.json");
    assert_eq!(state["seq"], 24, "{state}");
    assert_eq!(state["stream_last_seq"], 24, "{state}");

    let files = Homelab::new();
    for (p, story) in stories.iter().enumerate() {
        files.write(&format!("events/producer-{p}.jsonl"), &crate::support::lines(story));
    }
    lab.run();
    files.run();
    assert_eq!(lab.summary()["events"]["rejected"], 0);
    for name in WORLD_FILES.iter().filter(|n| **n != "runtime-summary.json") {
        assert_eq!(lab.world(name), files.world(name), "world/{name}: relayed vs files");
    }
    assert_eq!(lab.summary()["events"], files.summary()["events"], "the event counts");
}

/// A small xorshift: random instants without a crate, its seed printed.
struct Random(u64);

impl Random {
    fn seeded() -> Random {
        let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
        eprintln!("random seed {seed}");
        Random(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn kill_9_of_the_relay_at_random_instants_leaves_every_published_event_in_the_log_exactly_once() {
    let kills: usize = long_mode_value("OBSERVER_NATS_KILLS", 15, 200);
    let total: usize = long_mode_value("OBSERVER_NATS_KILL_EVENTS", 600, 6000);
    let server = NatsServer::start();
    server.create_stream("EV");
    let lab = Homelab::new();
    let payloads: Vec<String> = (0..total)
        .map(|k| {
            let second = k % 3600;
            Ev::new(&format!("2026-05-12T1{}:{:02}:{:02}Z", k / 3600, second / 60, second % 60), "heartbeat")
                .node("saturn")
                .id(&format!("k-{k}"))
                .json()
        })
        .collect();
    let mut random = Random::seeded();
    std::thread::scope(|scope| {
        let producer = scope.spawn(|| {
            for chunk in payloads.chunks(20) {
                server.publish_all("homelab.events.saturn", chunk);
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        for _ in 0..kills {
            let mut relay = spawn_relay(&lab, &server, "EV", "durable");
            std::thread::sleep(Duration::from_millis(random.below(250)));
            relay.kill().unwrap(); // SIGKILL
            relay.wait().unwrap();
        }
        producer.join().unwrap();
    });
    let relay = spawn_relay(&lab, &server, "EV", "durable");
    wait_for("every event relayed", || log_lines(&lab, "EV").len() >= total);
    terminate(relay);
    let lines = log_lines(&lab, "EV");
    assert_exactly_once(&lines, &payloads);
    assert_eq!(lines, payloads, "the log is in stream order, each message's bytes unchanged");
}

#[test]
fn a_restart_of_nats_server_in_the_middle_is_survived() {
    let mut server = NatsServer::start();
    server.create_stream("EV");
    let lab = Homelab::new();
    let relay = spawn_relay(&lab, &server, "EV", "one");
    let events = story(0, 40);
    let payloads: Vec<String> = events.iter().map(Ev::json).collect();
    server.publish_all("homelab.events.saturn", &payloads[..20]);
    wait_for("the first half", || log_lines(&lab, "EV").len() >= 20);
    server.restart(Duration::from_millis(700));
    server.publish_all("homelab.events.saturn", &payloads[20..]);
    wait_for("the second half, after the restart", || log_lines(&lab, "EV").len() >= 40);
    terminate(relay);
    assert_eq!(log_lines(&lab, "EV"), payloads);
}

#[test]
fn a_duplicate_publish_with_the_same_id_inside_the_dedup_window_is_stored_once() {
    let server = NatsServer::start();
    server.create_stream("EV");
    let lab = Homelab::new();
    let ev = Ev::new("2026-05-12T10:00:00Z", "heartbeat").node("saturn").id("hb-1");
    let first = emit(&lab, &server, &ev).success();
    assert_eq!(first.stdout, "EV 1\n");
    emit(&lab, &server, &ev).success().stdout_has("EV 1\n").stderr_has("already held an event with this id");
    emit(&lab, &server, &Ev::new("2026-05-12T10:00:01Z", "heartbeat").node("saturn").id("hb-2")).success();
    assert_eq!(server.last_sequence("EV"), 2);
    let relay = spawn_relay(&lab, &server, "EV", "one");
    wait_for("two events", || log_lines(&lab, "EV").len() >= 2);
    terminate(relay);
    assert_eq!(log_lines(&lab, "EV").len(), 2);
    assert!(!lab.path("events/emit").exists(), "emit --nats writes no file");
}

#[test]
fn two_relays_into_two_roots_give_byte_identical_logs_and_worlds() {
    let server = NatsServer::start();
    server.create_stream("EV");
    let (a, b) = (Homelab::new(), Homelab::new());
    let relay_a = spawn_relay(&a, &server, "EV", "observer-a");
    let stories: Vec<Vec<String>> = (0..3).map(|p| story(p, 12).iter().map(Ev::json).collect()).collect();
    std::thread::scope(|scope| {
        for (p, story) in stories.iter().enumerate() {
            let server = &server;
            scope.spawn(move || server.publish_all(&format!("homelab.events.p{p}"), story));
        }
    });
    // The standby starts late: it catches up from the stream.
    let relay_b = spawn_relay(&b, &server, "EV", "observer-b");
    wait_for("both logs complete", || log_lines(&a, "EV").len() >= 36 && log_lines(&b, "EV").len() >= 36);
    terminate(relay_a);
    terminate(relay_b);
    assert_eq!(log_files(&a), log_files(&b), "the two logs differ");
    a.run();
    b.run();
    for name in WORLD_FILES {
        assert_eq!(a.world(name), b.world(name), "world/{name} differs between the two observers");
    }
}

#[test]
fn an_unreachable_server_a_missing_stream_and_bad_credentials_each_give_a_clear_error_and_lose_nothing() {
    let lab = Homelab::new();
    let ev = Ev::new("2026-05-12T10:00:00Z", "heartbeat").node("saturn").id("hb-1");
    let nowhere = format!("nats://127.0.0.1:{}", free_port());

    // Unreachable: emit and relay fail, and write nothing.
    lab.observer(["emit", "--nats", &nowhere, "--json", &ev.json()])
        .run()
        .code(1)
        .stderr_has("cannot connect to NATS at")
        .stderr_has("unreachable");
    lab.observer(["relay", "--nats", &nowhere, "--stream", "EV"]).run().code(1).stderr_has("cannot connect to NATS");
    lab.observer(["watch", "--nats", &nowhere, "--stream", "EV"]).run().code(1).stderr_has("cannot connect to NATS");
    assert!(!lab.path("events/emit").exists() && !lab.path("events/nats").exists());
    assert!(!lab.path("state/nats-EV.json").exists());

    // No stream takes the subject: emit says so, nothing is stored anywhere.
    let server = NatsServer::start();
    emit(&lab, &server, &ev)
        .code(1)
        .stderr_has("no JetStream stream")
        .stderr_has("takes the subject homelab.events.saturn");
    assert!(!lab.path("events/emit").exists());
    // A stream exists; a relay given another name cannot create its own on the same subjects.
    server.create_stream("EV");
    emit(&lab, &server, &ev).success();
    lab.observer(["relay", "--nats", &server.url(), "--stream", "TYPO"])
        .run()
        .code(1)
        .stderr_has("stream TYPO does not exist")
        .stderr_has("give its name to --stream");
    assert!(!lab.path("events/nats").exists(), "a relay that cannot start writes nothing");
    // Nothing was lost: the right name relays the event.
    let relay = spawn_relay(&lab, &server, "EV", "one");
    wait_for("the event", || log_lines(&lab, "EV").len() == 1);
    terminate(relay);
    assert_eq!(log_lines(&lab, "EV"), vec![ev.json()]);

    // Bad credentials: a server with a token, given the wrong one, or none.
    let guarded = NatsServer::start_with(&["--auth", "s3cret"]);
    lab.write("wrong-token", "not-it\n");
    lab.write("right-token", "s3cret\n");
    let url = guarded.url();
    let wrong = lab.path("wrong-token").display().to_string();
    let right = lab.path("right-token").display().to_string();
    for flags in [vec![], vec!["--nats-token-file", wrong.as_str()]] {
        let mut emit_args = vec!["emit", "--nats", &url];
        emit_args.extend(&flags);
        emit_args.extend(["--json", "{\"type\":\"heartbeat\",\"node\":\"saturn\"}"]);
        lab.observer(&emit_args).run().code(1).stderr_has("refused the credentials");
        let mut relay_args = vec!["relay", "--nats", &url, "--stream", "G"];
        relay_args.extend(&flags);
        lab.observer(&relay_args).run().code(1).stderr_has("refused the credentials");
    }
    assert!(!lab.path("state/nats-G.json").exists());
    lab.observer(["relay", "--nats", &url, "--stream", "EV", "--nats-token-file", "/nonexistent/token"])
        .run()
        .code(1)
        .stderr_has("cannot read the token file /nonexistent/token");
    // The right token gets in (no stream takes the subject there: exit 1 for that reason, not the token).
    lab.observer(["emit", "--nats", &url, "--nats-token-file", &right, "--json", &ev.json()])
        .run()
        .code(1)
        .stderr_has("no JetStream stream");
}

#[test]
fn a_message_that_is_not_a_valid_event_or_not_one_line_is_appended_and_rejected_by_the_fold_with_file_and_line() {
    let server = NatsServer::start();
    server.create_stream("EV");
    let lab = Homelab::new();
    let good = Ev::new("2026-05-12T10:00:00Z", "heartbeat").node("saturn").id("a").json();
    let payloads = vec![
        good.clone(),
        "not json at all".to_string(),
        "{\n  \"ts\": \"2026-05-12T10:00:01Z\",\n  \"type\": \"heartbeat\",\n  \"node\": \"saturn\"\n}".to_string(),
        Ev::new("2026-05-12T10:00:02Z", "heartbeat").node("saturn").id("b").json() + "\n",
    ];
    server.publish_all("homelab.events.saturn", &payloads);
    let relay = spawn_relay(&lab, &server, "EV", "one");
    wait_for("four lines", || log_lines(&lab, "EV").len() >= 4);
    terminate(relay);
    let lines = log_lines(&lab, "EV");
    assert_eq!(lines.len(), 4, "one line per message: {lines:?}");
    assert_eq!(lines[0], good);
    assert_eq!(lines[1], "not json at all");
    let kept: String = serde_json::from_str(&lines[2]).expect("a multi-line message is kept as one JSON string");
    assert_eq!(kept, payloads[2]);
    assert_eq!(format!("{}\n", lines[3]), payloads[3]);
    let out = lab.run();
    assert_eq!(lab.summary()["events"]["total"], 2);
    assert_eq!(lab.summary()["events"]["rejected"], 2);
    let rejects = lab.json("state/rejects.json");
    let at: Vec<(String, u64)> = rejects
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["file"].as_str().unwrap().to_string(), r["line"].as_u64().unwrap()))
        .collect();
    assert_eq!(at.len(), 2, "{rejects}");
    assert!(at[0].0.starts_with("nats/EV-") && at[0].1 == 2 && at[1].1 == 3, "{at:?}\n{}", out.stderr);
}

#[test]
fn watch_nats_relays_and_folds_each_published_event() {
    let server = NatsServer::start();
    server.create_stream("EV");
    let lab = Homelab::new();
    // No ticks, no rescan to speak of, no inotify: only the relay can wake a pass.
    lab.write("observer.yaml", "watch:\n  tick_s: 0\n  rescan_s: 3600\n");
    let stderr = File::create(lab.path("watch.stderr")).unwrap();
    let child = Command::new(BIN)
        .arg("--root")
        .arg(lab.root())
        .args(["watch", "--no-inotify", "--nats", &server.url(), "--stream", "EV", "--consumer", "w"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let total = || {
        fs::read(lab.path("world/runtime-summary.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v["events"]["total"].as_u64())
            .unwrap_or(0)
    };
    for (n, ev) in story(0, 3).iter().enumerate() {
        emit(&lab, &server, ev).success();
        wait_for(&format!("event {n} in the world"), || total() > n as u64);
    }
    terminate(child);
    assert_eq!(total(), 3);
    assert_eq!(log_lines(&lab, "EV").len(), 3);
}

#[test]
fn lag_is_in_status_check_and_metrics_without_nats() {
    let server = NatsServer::start();
    server.create_stream("EV");
    let lab = Homelab::new();
    let payloads: Vec<String> = story(1, 5).iter().map(Ev::json).collect();
    server.publish_all("homelab.events.jupiter", &payloads);
    let relay = spawn_relay(&lab, &server, "EV", "one");
    wait_for("five events", || log_lines(&lab, "EV").len() >= 5);
    terminate(relay);
    drop(server);
    lab.run();
    lab.observer(["status"])
        .run()
        .success()
        .stdout_has("nats: stream EV (consumer one): relayed through 5 of 5, lag 0");
    // Free space is another matter: this test's machine may be short of it.
    let check = |extra: &[&str]| {
        let mut args = vec!["check", "--free-warning", "0:", "--free-critical", "0:"];
        args.extend(extra);
        lab.observer(args).run()
    };
    check(&[]).code(0).stdout_has("NATS stream EV 0 messages behind").stdout_has("'nats_lag_EV'=0;1000;;0;");

    // A relay that last saw its stream 2,500 messages ahead (state written as a relay writes it).
    let mut state = lab.json("state/nats-EV.json");
    state["stream_last_seq"] = 2505.into();
    lab.write("state/nats-EV.json", &state.to_string());
    lab.observer(["status"]).run().success().stdout_has("relayed through 5 of 2505, lag 2500");
    let json: serde_json::Value =
        serde_json::from_str(&lab.observer(["status", "--json"]).run().success().stdout).unwrap();
    assert_eq!(json["nats"][0]["lag"], 2500, "{json}");
    assert_eq!(json["nats"][0]["stream"], "EV", "{json}");
    check(&[]).code(1).stdout_has("NATS stream EV 2500 messages behind (warning range 1000)");
    check(&["--nats-lag-critical", "2000"]).code(2);
    lab.run();
    let metrics = lab.world("metrics.prom");
    assert!(metrics.contains("observer_nats_lag{stream=\"EV\",consumer=\"one\"} 2500\n"), "{metrics}");
    assert!(metrics.contains("observer_nats_relayed_sequence{stream=\"EV\",consumer=\"one\"} 5\n"), "{metrics}");
    crate::metrics::promtool(&metrics);
}

/// `observer relay` with the environment of a crash or fault test, waited for.
fn relay_with(lab: &Homelab, server: &NatsServer, env: (&str, &str)) -> std::process::ExitStatus {
    let mut child = Command::new(BIN)
        .arg("--root")
        .arg(lab.root())
        .args(["relay", "--nats", &server.url(), "--stream", "EV", "--consumer", "c"])
        .env(env.0, env.1)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(lab.path("crashed.stderr")).unwrap())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the relay did not reach its crash point {env:?} within 20 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_crash_at_each_step_of_a_batch_leaves_each_event_once_and_every_redelivery_acknowledged() {
    for point in ["relay-pending-written", "relay-appended", "relay-before-ack"] {
        let server = NatsServer::start();
        server.create_stream("EV");
        let lab = Homelab::new();
        let payloads: Vec<String> = story(2, 10).iter().map(Ev::json).collect();
        server.publish_all("homelab.events.mars", &payloads[..5]);
        let status = relay_with(&lab, &server, ("OBSERVER_TEST_CRASH_AT", point));
        assert!(!status.success(), "{point}: the relay was to crash there");
        let before = log_lines(&lab, "EV").len();
        server.publish_all("homelab.events.mars", &payloads[5..]);
        let relay = spawn_relay(&lab, &server, "EV", "c");
        wait_for(&format!("{point}: ten events"), || log_lines(&lab, "EV").len() >= 10);
        // The messages delivered before the crash come again once their ack
        // wait is over; each is acknowledged, none appended a second time.
        wait_for(&format!("{point}: every message acknowledged"), || server.consumer_outstanding("EV", "c") == (0, 0));
        terminate(relay);
        assert_eq!(log_lines(&lab, "EV"), payloads, "{point} (the crashed relay had appended {before} lines)");
        assert_eq!(lab.json("state/nats-EV.json")["seq"], 10, "{point}");
    }
}

#[test]
fn a_failed_append_is_cut_back_retried_and_leaves_each_event_once() {
    let server = NatsServer::start();
    server.create_stream("EV");
    let lab = Homelab::new();
    let payloads: Vec<String> = story(0, 6).iter().map(Ev::json).collect();
    server.publish_all("homelab.events.saturn", &payloads);
    let stderr = File::create(lab.path("relay.stderr")).unwrap();
    let relay = Command::new(BIN)
        .arg("--root")
        .arg(lab.root())
        .args(["relay", "--nats", &server.url(), "--stream", "EV", "--consumer", "c"])
        .env("OBSERVER_TEST_FAIL_AT", "relay-append")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    wait_for("six events after the failed append", || log_lines(&lab, "EV").len() >= 6);
    terminate(relay);
    assert_eq!(log_lines(&lab, "EV"), payloads);
    let said = lab.read("relay.stderr");
    assert!(said.contains("No space left on device") && said.contains("retrying"), "{said}");
}

#[test]
fn an_nkey_seed_file_logs_in_and_another_seed_is_refused() {
    let user = nkeys::KeyPair::new_user();
    let stranger = nkeys::KeyPair::new_user();
    let lab = Homelab::new();
    lab.write("server.conf", &format!("authorization {{\n  users = [ {{ nkey: \"{}\" }} ]\n}}\n", user.public_key()));
    lab.write("user.nk", &format!("{}\n", user.seed().unwrap()));
    lab.write("stranger.nk", &format!("{}\n", stranger.seed().unwrap()));
    let conf = lab.path("server.conf").display().to_string();
    let server = NatsServer::start_with(&["-c", &conf]);
    let url = server.url();
    let seed = |name: &str| lab.path(name).display().to_string();
    let ev = Ev::new("2026-05-12T10:00:00Z", "heartbeat").node("saturn").id("nk-1");
    lab.observer(["emit", "--nats", &url, "--nats-nkey", &seed("stranger.nk"), "--json", &ev.json()])
        .run()
        .code(1)
        .stderr_has("refused the credentials");
    // The relay creates the stream (SPEC §8), then the producer publishes into it.
    let mut relay = Command::new(BIN)
        .arg("--root")
        .arg(lab.root())
        .args(["relay", "--nats", &url, "--stream", "EV", "--consumer", "c", "--nats-nkey", &seed("user.nk")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(lab.path("relay.stderr")).unwrap())
        .spawn()
        .unwrap();
    wait_for("the relay's state file", || lab.path("state/nats-EV.json").exists());
    lab.observer(["emit", "--nats", &url, "--nats-nkey", &seed("user.nk"), "--json", &ev.json()]).run().success();
    wait_for("the event", || log_lines(&lab, "EV").len() == 1);
    assert!(relay.try_wait().unwrap().is_none(), "{}", lab.read("relay.stderr"));
    terminate(relay);
    assert_eq!(log_lines(&lab, "EV"), vec![ev.json()]);
}
