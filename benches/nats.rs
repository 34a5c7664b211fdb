//! Rows 14 and 15 of the performance table (issue 14): NATS JetStream,
//! against a real `nats-server` on a loopback port (skipped without one).
//!
//! 14. Relay throughput: `OBSERVER_BENCH_NATS_EVENTS` (default 100,000)
//!     events published to a fresh stream, then `observer relay` on a fresh
//!     root, timed from its start until its state file records the last
//!     sequence (every event appended, fsynced and acknowledged), in events
//!     per second; against raw consumption with the same client (async-nats):
//!     a durable pull consumer fetching as the relay does (what is there at
//!     once, up to 512; else the first message within a second) and
//!     acknowledging each message, writing nothing. Target: the relay at
//!     least 0.5× raw consumption (it adds an fsync per batch, not per event).
//! 15. End-to-end latency: `watch --nats` on a fresh root (no ticks); events
//!     published one at a time, each after the world counted the one before
//!     and a pause of 20 ms, timed from the publish until
//!     `world/runtime-summary.json` counts it; p50 and p99 of
//!     `OBSERVER_BENCH_NATS_LATENCY_EVENTS` (default 300) events.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use rustix::process::{Pid, Signal, kill_process};

use super::{Row, env_number, thousands};

const SPACING: Duration = Duration::from_millis(20);
const BATCH: usize = 512;

fn nats_server() -> Option<PathBuf> {
    ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"]
        .iter()
        .map(PathBuf::from)
        .find(|path| path.exists())
}

struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(binary: &Path, store: &Path) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(binary)
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(store)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nats-server");
    wait_until(|| std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    Server { child, url: format!("nats://127.0.0.1:{port}") }
}

fn block_on<T>(job: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(job)
}

fn event(n: usize) -> String {
    format!(
        "{{\"ts\":\"2026-05-12T{:02}:{:02}:{:02}Z\",\"type\":\"heartbeat\",\"node\":\"saturn\",\"id\":\"b-{n}\"}}",
        10 + (n / 3600) % 14,
        (n / 60) % 60,
        n % 60
    )
}

/// Creates the stream and publishes `events` events, acknowledged.
fn fill(url: &str, stream: &str, events: usize) {
    block_on(async {
        let js = async_nats::jetstream::new(async_nats::connect(url).await.unwrap());
        js.create_stream(async_nats::jetstream::stream::Config {
            name: stream.to_string(),
            subjects: vec!["homelab.events.>".to_string()],
            storage: async_nats::jetstream::stream::StorageType::File,
            duplicate_window: Duration::from_secs(1),
            ..Default::default()
        })
        .await
        .unwrap();
        for chunk in (0..events).collect::<Vec<_>>().chunks(1000) {
            let mut acks = Vec::new();
            for n in chunk {
                acks.push(js.publish("homelab.events.saturn", event(*n).into()).await.unwrap());
            }
            for ack in acks {
                ack.await.unwrap();
            }
        }
    })
}

/// Raw consumption with the same client: events per second.
fn raw(url: &str, stream: &str, events: usize) -> f64 {
    block_on(async {
        let js = async_nats::jetstream::new(async_nats::connect(url).await.unwrap());
        let stream = js.get_stream(stream).await.unwrap();
        let consumer: async_nats::jetstream::consumer::PullConsumer = stream
            .create_consumer(async_nats::jetstream::consumer::pull::Config {
                durable_name: Some("raw".into()),
                ack_policy: async_nats::jetstream::consumer::AckPolicy::Explicit,
                ..Default::default()
            })
            .await
            .unwrap();
        let started = Instant::now();
        let mut seen = 0;
        // The relay's round: what the consumer has at once, up to a batch
        // (no wait); when it has nothing, the first message within a second.
        while seen < events {
            let mut batch = consumer.fetch().max_messages(BATCH).messages().await.unwrap();
            let mut got = 0;
            while let Some(message) = batch.next().await {
                let message = message.unwrap();
                std::hint::black_box(&message.payload);
                message.ack().await.unwrap();
                got += 1;
            }
            if got == 0 {
                let mut first =
                    consumer.batch().max_messages(1).expires(Duration::from_secs(1)).messages().await.unwrap();
                while let Some(message) = first.next().await {
                    let message = message.unwrap();
                    std::hint::black_box(&message.payload);
                    message.ack().await.unwrap();
                    got += 1;
                }
            }
            seen += got;
        }
        events as f64 / started.elapsed().as_secs_f64()
    })
}

/// The relayed sequence as `status` reads it: a pending batch whose file
/// has its length counts (the relay writes the sequence itself later).
fn relayed(root: &Path, stream: &str) -> u64 {
    let state = std::fs::read(root.join(format!("state/nats-{stream}.json")))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .unwrap_or_default();
    let seq = state["seq"].as_u64().unwrap_or(0);
    let pending = &state["pending"];
    let len = pending["file"]
        .as_str()
        .and_then(|file| std::fs::metadata(root.join("events").join(file)).ok())
        .map_or(0, |m| m.len());
    match (pending["to"].as_u64(), pending["last_seq"].as_u64()) {
        (Some(to), Some(last)) if len >= to => seq.max(last),
        _ => seq,
    }
}

fn spawn(observer: &Path, root: &Path, args: &[&str]) -> Child {
    Command::new(observer)
        .arg("--root")
        .arg(root)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("observer")
}

fn stop(mut child: Child) {
    let _ = kill_process(Pid::from_child(&child), Signal::TERM);
    let status = child.wait().expect("observer");
    assert!(status.success(), "observer exited with {status}");
}

pub fn rows(observer: &Path, base: &Path) -> Vec<Row> {
    let Some(binary) = nats_server() else {
        return vec![
            Row::skipped("14. relay throughput", "nats-server is not installed"),
            Row::skipped("15. watch --nats latency", "nats-server is not installed"),
        ];
    };
    let events = env_number("OBSERVER_BENCH_NATS_EVENTS", 100_000) as usize;
    let latency_events = env_number("OBSERVER_BENCH_NATS_LATENCY_EVENTS", 300) as usize;
    let store = base.join("nats-store");
    let _ = std::fs::remove_dir_all(&store);
    let server = start_server(&binary, &store);
    fill(&server.url, "BENCH", events);
    let raw_rate = raw(&server.url, "BENCH", events);
    let root = base.join("nats-relay");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("events")).unwrap();
    let started = Instant::now();
    let relay = spawn(observer, &root, &["relay", "--nats", &server.url, "--stream", "BENCH", "--consumer", "bench"]);
    wait_until(|| relayed(&root, "BENCH") >= events as u64);
    let relay_rate = events as f64 / started.elapsed().as_secs_f64();
    stop(relay);
    let mut rows = vec![Row::rate(
        format!(
            "14. relay {} events into the log / raw consumption, same client (target ≥ 0.5×)",
            thousands(events as u64)
        ),
        relay_rate,
        raw_rate,
    )];

    let latencies = latencies(observer, &base.join("nats-watch"), &server.url, latency_events);
    let second = Duration::from_secs(1);
    rows.push(Row::time(
        format!("15. watch --nats: p99 from publish to the world ({} events) / 1 s", thousands(latency_events as u64)),
        percentile(&latencies, 99),
        second,
        None,
    ));
    rows.push(Row::time("   the same, p50 / 1 s".to_string(), percentile(&latencies, 50), second, None));
    rows
}

fn total(root: &Path) -> u64 {
    std::fs::read(root.join("world/runtime-summary.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v["events"]["total"].as_u64())
        .unwrap_or(0)
}

fn latencies(observer: &Path, root: &Path, url: &str, events: usize) -> Vec<Duration> {
    let _ = std::fs::remove_dir_all(root);
    std::fs::create_dir_all(root.join("events")).unwrap();
    std::fs::write(root.join("observer.yaml"), "watch:\n  tick_s: 0\n").unwrap();
    block_on(async {
        let js = async_nats::jetstream::new(async_nats::connect(url).await.unwrap());
        js.create_stream(async_nats::jetstream::stream::Config {
            name: "LATENCY".to_string(),
            subjects: vec!["latency.>".to_string()],
            ..Default::default()
        })
        .await
        .unwrap();
    });
    // The relay of watch creates nothing here: the stream exists, on its own subjects.
    let watch = spawn(observer, root, &["watch", "--nats", url, "--stream", "LATENCY", "--consumer", "bench"]);
    wait_until(|| root.join("world/runtime-summary.json").exists());
    let taken = block_on(async {
        let js = async_nats::jetstream::new(async_nats::connect(url).await.unwrap());
        let mut taken = Vec::with_capacity(events);
        for n in 1..=events {
            tokio::time::sleep(SPACING).await;
            let published = Instant::now();
            js.publish("latency.saturn", event(n).into()).await.unwrap().await.unwrap();
            while total(root) < n as u64 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            taken.push(published.elapsed());
        }
        taken
    });
    stop(watch);
    taken
}

fn percentile(taken: &[Duration], p: usize) -> Duration {
    let mut sorted = taken.to_vec();
    sorted.sort();
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

fn wait_until(mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(600), "waited 10 minutes");
        std::thread::sleep(Duration::from_millis(2));
    }
}
