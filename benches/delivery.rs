//! Row 8 of the performance table (issue 12): `observer notify` delivering
//! 10,000 notifications to a webhook on loopback, against a bare loop of
//! as many HTTP POSTs with the same client crate (ureq) to the same server.
//!
//! The notifications come out of the real fold: a history in which 10,000
//! services on 100 nodes each report `service_unhealthy` within two
//! minutes (no node goes stale, so nothing is suppressed) is rebuilt
//! without channels, which commits an outbox of 10,000 `firing` lines with
//! the checkpoint. Each repetition then removes the ledger
//! (`state/deliveries.jsonl`) and the delivery state (`state/delivery.json`)
//! and times `observer --config CHANNEL.yaml notify`: one process that reads
//! the outbox, plans, posts through one keep-alive agent with up to
//! `notify.parallel` (4) requests in flight, and appends and fsyncs one
//! ledger line per attempt. The bare loop posts the same outbox lines, one
//! after the other, with one ureq agent configured as the webhook channel's
//! (and the same `Idempotency-Key` header), in this process.
//!
//! The receiver is a small std `TcpListener` server started here: a thread
//! per connection, HTTP/1.1 keep-alive, every request answered `200` with
//! an empty body. It counts the requests, and each side must deliver
//! exactly the 10,000.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::{Row, observe, thousands, time};

/// Nodes in the history; each has `notifications / NODES` services.
const NODES: u64 = 100;

/// Rows 8 (times) and its rates, measured `repeats` times each side,
/// alternately, best of each.
pub fn rows(observer: &Path, base: &Path, notifications: u64, repeats: usize) -> Vec<Row> {
    let root = base.join("delivery");
    let _ = std::fs::remove_dir_all(&root);
    let outbox = committed_outbox(observer, &root, notifications);
    let receiver = Receiver::start();
    let config = root.join("webhook.yaml");
    let channel = format!("notify:\n  channels:\n    - name: bench\n      webhook: \"{}\"\n", receiver.url);
    std::fs::write(&config, channel).expect("writing the webhook config");
    let config = config.to_str().expect("a UTF-8 temp path");

    let (mut notify, mut bare) = (Duration::MAX, Duration::MAX);
    for _ in 0..repeats {
        for file in ["deliveries.jsonl", "delivery.json"] {
            let _ = std::fs::remove_file(root.join("state").join(file));
        }
        let before = receiver.received();
        notify = notify.min(time(|| observe(observer, &root, &["--config", config, "notify"])));
        assert_eq!(receiver.received() - before, notifications, "observer notify posted every notification once");
        assert_eq!(delivered(&root), notifications, "the ledger holds every notification as delivered");

        let before = receiver.received();
        bare = bare.min(time(|| bare_loop(&receiver.url, &outbox)));
        assert_eq!(receiver.received() - before, notifications, "the bare loop posted every notification once");
    }
    let label = thousands(notifications);
    let per_second = |took: Duration| notifications as f64 / took.as_secs_f64();
    vec![
        Row::time(
            format!("8. `notify`: {label} notifications to a loopback webhook / a bare loop of ureq POSTs"),
            notify,
            bare,
            None,
        ),
        Row::rate(
            "   notifications per second: `notify` / the bare loop".to_string(),
            per_second(notify),
            per_second(bare),
        ),
    ]
}

/// Writes the history, rebuilds it without channels and returns the
/// committed outbox: each notification's id and line (its webhook body).
fn committed_outbox(observer: &Path, root: &Path, notifications: u64) -> Vec<(String, String)> {
    let events = root.join("events/checks");
    std::fs::create_dir_all(&events).expect("the events directory");
    // At most ten milliseconds apart, all within 200 s: well inside the
    // 300 s after which a node without a heartbeat would be stale (and its
    // services' alerts suppressed).
    let step_ms = (200_000 / notifications.max(1)).clamp(1, 10);
    let mut lines = String::new();
    for node in 0..NODES {
        lines.push_str(&format!(
            "{{\"ts\":\"2026-05-12T12:00:00Z\",\"type\":\"heartbeat\",\"node\":\"node-{node:02}\"}}\n"
        ));
    }
    for i in 0..notifications {
        let ms = 1_000 + i * step_ms;
        let (node, service) = (i % NODES, i / NODES);
        lines.push_str(&format!(
            "{{\"ts\":\"2026-05-12T12:{:02}:{:02}.{:03}Z\",\"type\":\"service_unhealthy\",\"node\":\"node-{node:02}\",\
             \"service\":\"svc-{service:04}\",\"severity\":\"error\",\"message\":\"port refused\"}}\n",
            ms / 60_000,
            ms / 1000 % 60,
            ms % 1000
        ));
    }
    std::fs::write(events.join("services.jsonl"), lines).expect("writing the delivery history");
    observe(observer, root, &["rebuild"]);
    let outbox = std::fs::read_to_string(root.join("state/outbox.jsonl")).expect("the committed outbox");
    let outbox: Vec<(String, String)> = outbox
        .lines()
        .map(|line| {
            let notification: serde_json::Value = serde_json::from_str(line).expect("an outbox line");
            let id = notification["id"].as_str().expect("a notification id").to_string();
            (id, line.to_string())
        })
        .collect();
    assert_eq!(outbox.len() as u64, notifications, "the fold decided one firing per failing service");
    outbox
}

/// Ledger lines whose outcome is `delivered`.
fn delivered(root: &Path) -> u64 {
    let ledger = std::fs::read_to_string(root.join("state/deliveries.jsonl")).expect("the ledger");
    ledger.lines().filter(|line| line.contains("\"outcome\":\"delivered\"")).count() as u64
}

/// What a person would write to post these notifications: one ureq agent,
/// set up as the webhook channel sets up its own, one POST after another.
/// Each notification comes as its id and its body, parsed beforehand.
fn bare_loop(url: &str, outbox: &[(String, String)]) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .max_redirects(0)
        .http_status_as_error(false)
        .build()
        .into();
    for (id, body) in outbox {
        let mut response = agent
            .post(url)
            .header("Idempotency-Key", id)
            .content_type("application/json")
            .send(body.as_bytes())
            .expect("a POST to the loopback receiver");
        let mut sink = Vec::new();
        let _ = response.body_mut().with_config().reader().read_to_end(&mut sink);
        assert_eq!(response.status().as_u16(), 200, "the receiver accepted the POST");
    }
}

/// The loopback receiver: answers every request `200`, keeps connections
/// alive, counts requests.
struct Receiver {
    url: String,
    received: Arc<AtomicU64>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding a loopback port");
        let url = format!("http://{}/hook", listener.local_addr().expect("the bound address"));
        let received = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&received);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let counter = Arc::clone(&counter);
                std::thread::spawn(move || serve(stream, &counter));
            }
        });
        Receiver { url, received }
    }

    fn received(&self) -> u64 {
        self.received.load(Ordering::SeqCst)
    }
}

/// Reads requests off one connection until the client closes it.
fn serve(stream: TcpStream, received: &AtomicU64) {
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0usize;
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.trim().eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        received.fetch_add(1, Ordering::SeqCst);
        if writer.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_err() {
            return;
        }
    }
}
