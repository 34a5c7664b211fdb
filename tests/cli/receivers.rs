//! Real receivers on loopback for the delivery tests: a small HTTP/1.1
//! server (keep-alive, one thread per connection) that answers by a script
//! and records every request, and helpers to write outboxes by hand.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// One request as the server saw it, and the status it answered.
#[derive(Clone, Debug)]
pub struct Request {
    pub headers: BTreeMap<String, String>,
    pub body: String,
    pub status: u16,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }
}

/// How the server answers the n-th request (from 0): a status, after an
/// optional pause. Status 0 hangs up without an answer (a connection error
/// for the client; the request is recorded with status 0).
pub type Script = Box<dyn Fn(usize) -> (u16, Duration) + Send + Sync>;

pub struct Server {
    pub url: String,
    requests: Arc<Mutex<Vec<Request>>>,
    /// Hears of each request as it arrives (before the answer).
    pub arrivals: Receiver<usize>,
}

impl Server {
    pub fn start(script: Script) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Script> = Arc::new(script);
        let (tx, arrivals) = mpsc::channel();
        let counter = Arc::new(Mutex::new(0usize));
        let recorded = Arc::clone(&requests);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (recorded, script, tx, counter) =
                    (Arc::clone(&recorded), Arc::clone(&script), tx.clone(), Arc::clone(&counter));
                thread::spawn(move || serve(stream, &recorded, &script, &tx, &counter));
            }
        });
        Server { url, requests, arrivals }
    }

    /// Answers every request with `status`.
    pub fn always(status: u16) -> Server {
        Server::start(Box::new(move |_| (status, Duration::ZERO)))
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// The requests that were answered 2xx.
    pub fn accepted(&self) -> Vec<Request> {
        self.requests().into_iter().filter(|r| (200..300).contains(&r.status)).collect()
    }
}

fn serve(
    stream: TcpStream,
    recorded: &Mutex<Vec<Request>>,
    script: &Script,
    tx: &mpsc::Sender<usize>,
    counter: &Mutex<usize>,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut headers = BTreeMap::new();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
            }
        }
        let length: usize = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let n = {
            let mut counter = counter.lock().unwrap();
            *counter += 1;
            *counter - 1
        };
        let _ = tx.send(n);
        let (status, pause) = script(n);
        thread::sleep(pause);
        recorded.lock().unwrap().push(Request { headers, body: String::from_utf8_lossy(&body).into_owned(), status });
        if status == 0 {
            return;
        }
        let answer = format!("HTTP/1.1 {status} Scripted\r\nContent-Length: 2\r\n\r\nno");
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

/// A notification as the outbox holds it. `fired` and `at` are minutes
/// after 2026-05-12T10:00:00Z.
pub fn notification(key: &str, kind: &str, fired: u32, at: u32) -> serde_json::Value {
    let base = 1_778_580_000u64; // 2026-05-12T10:00:00Z
    let ts = |minutes: u32| {
        chrono::DateTime::from_timestamp((base + u64::from(minutes) * 60) as i64, 0)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let (rule, subject) = key.split_once(':').unwrap();
    let (node, service) = match subject.split_once('/') {
        Some((node, service)) => (serde_json::json!(node), serde_json::json!(service)),
        None => (serde_json::json!(subject), serde_json::Value::Null),
    };
    let fired_secs = base + u64::from(fired) * 60;
    let n = if kind == "resolved" { 1 } else { 1 + (at - fired) / 60 };
    serde_json::json!({
        "id": format!("{key}@{fired_secs}:{kind}:{n}"),
        "kind": kind,
        "ts": ts(at),
        "expires_at": if kind == "resolved" { serde_json::Value::Null } else { ts(at + 60).into() },
        "key": key,
        "rule": rule,
        "node": node,
        "service": service,
        "severity": "error",
        "priority": 2,
        "summary": format!("{key} is {kind}"),
        "fired_at": ts(fired),
        "resolved_at": if kind == "resolved" { ts(at).into() } else { serde_json::Value::Null },
    })
}

/// The outbox lines for `notifications`.
pub fn outbox(notifications: &[serde_json::Value]) -> String {
    notifications.iter().map(|n| format!("{n}\n")).collect()
}

/// `world/alerts.json` with these keys firing, each since `fired` minutes
/// after 10:00.
pub fn alerts_firing(firing: &[(&str, u32)]) -> String {
    let mut alerts = serde_json::Map::new();
    for (key, fired) in firing {
        let at = notification(key, "firing", *fired, *fired);
        alerts.insert(
            key.to_string(),
            serde_json::json!({"key": key, "status": "firing", "fired_at": at["fired_at"],
                "last_notification": {"id": at["id"], "kind": "firing", "ts": at["ts"]}}),
        );
    }
    serde_json::json!({"schema_version": 1, "alerts": alerts}).to_string()
}
