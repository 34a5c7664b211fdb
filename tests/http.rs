//! The HTTP interface (`observer::http`) on loopback: a real root written by
//! the real binary, the server started on 127.0.0.1:0, real requests with
//! ureq to every endpoint.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use observer::dirs::Dirs;
use observer::http::{HttpOptions, HttpServer, parse_listen, read_token_file, start};

const BIN: &str = env!("CARGO_BIN_EXE_observer");
const TOKEN: &str = "s3cret-token-for-the-tests";

/// One probe result line of `a/<service>`.
fn probe(minute: u32, service: &str, probe: &str, outcome: &str, detail: &str) -> String {
    format!(
        r#"{{"ts":"2026-05-12T12:{minute:02}:00Z","type":"probe_result","node":"a","service":"{service}","payload":{{"probe":"{probe}","outcome":"{outcome}","latency_ms":{latency},"detail":"{detail}"}}}}"#,
        latency = 10 + minute
    )
}

/// A root with a healthy `a/web`, an `a/db` whose breaker opened after five
/// critical results, and a heartbeat; `observer run --no-tick` has written
/// its world and `state/last-run.json`.
struct Lab {
    dir: tempfile::TempDir,
}

impl Lab {
    fn new() -> Lab {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("events/a")).unwrap();
        let mut lines = vec![r#"{"ts":"2026-05-12T12:00:00Z","type":"heartbeat","node":"a"}"#.to_string()];
        for minute in 1..=3 {
            lines.push(probe(minute, "web", "http", "ok", "200 OK"));
        }
        for minute in 4..=8 {
            lines.push(probe(minute, "db", "port", "critical", "connection refused"));
        }
        fs::write(dir.path().join("events/a/probes.jsonl"), lines.join("\n") + "\n").unwrap();
        let lab = Lab { dir };
        lab.run();
        lab
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn run(&self) {
        let out = Command::new(BIN)
            .arg("--root")
            .arg(self.root())
            .args(["run", "--no-tick"])
            .env_remove("OBSERVER_ROOT")
            .env_remove("OBSERVER_CONFIG")
            .env_remove("OBSERVER_INVENTORY")
            .env_remove("OBSERVER_NOW")
            .output()
            .unwrap();
        assert!(out.status.success(), "run failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn append(&self, line: &str) {
        use std::io::Write;
        let mut file = fs::OpenOptions::new().append(true).open(self.root().join("events/a/probes.jsonl")).unwrap();
        writeln!(file, "{line}").unwrap();
    }

    fn serve(&self, token: Option<&str>) -> (HttpServer, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let options = HttpOptions {
            addr: "127.0.0.1:0".parse().unwrap(),
            trigger_token: token.map(str::to_string),
            tick_interval: Duration::from_secs(60),
        };
        let trigger = Box::new(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok("a probe round is queued".to_string())
        });
        (start(&Dirs::under(self.root()), options, trigger).unwrap(), calls)
    }
}

/// A status, the headers asked for and the body, whatever the status.
struct Answer {
    status: u16,
    headers: ureq::http::HeaderMap,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", |v| v.to_str().unwrap())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

fn agent() -> ureq::Agent {
    // A bounded wait, so that a request left unanswered fails the test
    // instead of hanging it.
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

fn send(request: ureq::RequestBuilder<ureq::typestate::WithoutBody>) -> Answer {
    let mut response = request.call().unwrap();
    answer(&mut response)
}

fn answer(response: &mut ureq::http::Response<ureq::Body>) -> Answer {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.body_mut().read_to_string().unwrap();
    Answer { status, headers, body }
}

fn get(server: &HttpServer, path: &str) -> Answer {
    send(agent().get(format!("http://{}{path}", server.local_addr())))
}

fn post(server: &HttpServer, path: &str, authorization: Option<&str>) -> Answer {
    let mut request = agent().post(format!("http://{}{path}", server.local_addr()));
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    let mut response = request.send_empty().unwrap();
    answer(&mut response)
}

#[test]
fn health_and_ready_answer_200_after_a_successful_pass() {
    let lab = Lab::new();
    let (server, _) = lab.serve(None);
    let health = get(&server, "/health");
    assert_eq!(health.status, 200, "{}", health.body);
    assert_eq!(health.header("content-type"), "application/json");
    let body = health.json();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["service"], "observer");
    assert_eq!(body["last_command"], "run");
    let ready = get(&server, "/ready");
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert_eq!(ready.json(), serde_json::json!({"status": "ready", "checks": {"world": "ok", "last_pass": "ok"}}));
    let index = get(&server, "/");
    assert_eq!(index.status, 200);
    assert_eq!(index.json()["endpoints"]["health_status"], "/health/status");
    server.stop();
}

#[test]
fn health_is_503_with_the_reason_once_the_last_pass_failed_and_200_again_after_a_success() {
    let lab = Lab::new();
    let (server, _) = lab.serve(None);
    // A run that fails: an event file that shrank since the checkpoint.
    let events = lab.root().join("events/a/probes.jsonl");
    fs::write(&events, "{}\n").unwrap();
    let out = Command::new(BIN).arg("--root").arg(lab.root()).args(["run", "--no-tick"]).output().unwrap();
    assert!(!out.status.success(), "the run should fail");
    assert!(lab.root().join("state/last-failure.json").exists());
    let health = get(&server, "/health");
    assert_eq!(health.status, 503, "{}", health.body);
    let body = health.json();
    assert_eq!(body["status"], "failing");
    assert!(body["reason"].as_str().unwrap().contains("the last `run` failed at"), "{body}");
    assert!(body["last_success"].is_string(), "{body}");
    // A rebuild starts over from the events as they are, and succeeds.
    let out = Command::new(BIN).arg("--root").arg(lab.root()).arg("rebuild").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let health = get(&server, "/health");
    assert_eq!(health.status, 200, "{}", health.body);
    assert_eq!(health.json()["last_command"], "rebuild");
    server.stop();
}

#[test]
fn health_and_ready_are_503_before_the_first_pass() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("events")).unwrap();
    let options = HttpOptions {
        addr: "127.0.0.1:0".parse().unwrap(),
        trigger_token: None,
        tick_interval: Duration::from_secs(1),
    };
    let server = start(&Dirs::under(dir.path()), options, Box::new(|| Ok(String::new()))).unwrap();
    let health = get(&server, "/health");
    assert_eq!(health.status, 503);
    assert_eq!(health.json()["status"], "starting");
    assert!(health.json()["reason"].as_str().unwrap().contains("state/last-run.json is missing"));
    let ready = get(&server, "/ready");
    assert_eq!(ready.status, 503);
    assert_eq!(ready.json()["status"], "not_ready");
    assert!(ready.json()["checks"]["world"].as_str().unwrap().starts_with("world/runtime-summary.json is missing"));
    let status = get(&server, "/health/status");
    assert_eq!(status.status, 503, "{}", status.body);
    let file = get(&server, "/world/nodes.json");
    assert_eq!(file.status, 503);
    assert_eq!(file.header("retry-after"), "5");
    assert!(file.json()["error"].as_str().unwrap().contains("world/nodes.json does not exist yet"));
    server.stop();
}

#[test]
fn ready_is_503_when_the_last_successful_pass_is_older_than_twice_the_tick_and_10_s() {
    let lab = Lab::new();
    let path = lab.root().join("state/last-run.json");
    let mut last_run: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    let old = chrono::Utc::now() - chrono::Duration::seconds(131);
    last_run["started_at"] = old.to_rfc3339_opts(chrono::SecondsFormat::Millis, true).into();
    fs::write(&path, serde_json::to_vec_pretty(&last_run).unwrap()).unwrap();
    let (server, _) = lab.serve(None);
    let ready = get(&server, "/ready");
    assert_eq!(ready.status, 503, "{}", ready.body);
    let checks = &ready.json()["checks"];
    assert_eq!(checks["world"], "ok");
    let last_pass = checks["last_pass"].as_str().unwrap();
    assert!(last_pass.contains("started 13") && last_pass.ends_with("ready means within 130 s"), "{last_pass}");
    server.stop();
}

#[test]
fn health_status_keeps_the_seeds_shape() {
    let lab = Lab::new();
    let (server, _) = lab.serve(None);
    let status = get(&server, "/health/status");
    assert_eq!(status.status, 200, "{}", status.body);
    let body = status.json();
    // The seeds' keys, at both levels.
    let keys = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&body), ["timestamp", "services", "overall_health"]);
    for seed_key in [
        "health",
        "last_check",
        "response_time_ms",
        "error_message",
        "consecutive_failures",
        "total_checks",
        "successful_checks",
        "uptime_percentage",
        "circuit_breaker_state",
    ] {
        assert!(body["services"]["a/web"].get(seed_key).is_some(), "{seed_key} is missing");
    }
    assert_eq!(body["services"]["a/db"]["circuit_breaker_state"], "open");
    assert_eq!(body["services"]["a/db"]["error_message"], "connection refused");
    assert_eq!(body["services"]["a/web"]["circuit_breaker_state"], "closed");
    assert_eq!(body["services"]["a/web"]["error_message"], serde_json::Value::Null);
    insta::assert_snapshot!(status.body);
    server.stop();
}

#[test]
fn every_world_file_is_served_as_on_disk_with_an_etag_and_a_304_for_it() {
    let lab = Lab::new();
    let (server, _) = lab.serve(None);
    for name in observer::world::FILES {
        let answer = get(&server, &format!("/world/{name}"));
        assert_eq!(answer.status, 200, "{name}: {}", answer.body);
        assert_eq!(answer.body, fs::read_to_string(lab.root().join("world").join(name)).unwrap(), "{name}");
        assert_eq!(answer.header("content-type"), "application/json");
        assert_eq!(answer.header("cache-control"), "no-cache");
        let etag = answer.header("etag").to_string();
        assert!(etag.starts_with('"') && etag.ends_with('"') && etag.len() == 34, "{name}: {etag}");
        let url = format!("http://{}/world/{name}", server.local_addr());
        let again = send(agent().get(&url).header("If-None-Match", &etag));
        assert_eq!(again.status, 304, "{name}");
        assert_eq!(again.body, "");
        assert_eq!(again.header("etag"), etag);
        assert_eq!(again.header("content-length"), answer.body.len().to_string(), "{name}: the 200's length");
        assert_eq!(again.header("content-type"), "", "{name}");
        let other = send(agent().get(&url).header("If-None-Match", "\"other\", W/".to_string() + &etag));
        assert_eq!(other.status, 304, "a list and a weak form match too");
        let stale = send(agent().get(&url).header("If-None-Match", "\"0123\""));
        assert_eq!(stale.status, 200);
    }
    server.stop();
}

#[test]
fn a_changed_world_file_gets_a_new_etag() {
    let lab = Lab::new();
    let (server, _) = lab.serve(None);
    let before = get(&server, "/world/services.json");
    lab.append(&probe(9, "web", "http", "warning", "slow"));
    lab.run();
    let url = format!("http://{}/world/services.json", server.local_addr());
    let after = send(agent().get(&url).header("If-None-Match", before.header("etag")));
    assert_eq!(after.status, 200, "the old ETag no longer matches");
    assert_ne!(after.header("etag"), before.header("etag"));
    assert!(after.body.contains("slow"));
    server.stop();
}

#[test]
fn alerts_and_metrics_are_served_with_their_content_types() {
    let lab = Lab::new();
    let (server, _) = lab.serve(None);
    let alerts = get(&server, "/alerts");
    assert_eq!(alerts.status, 200);
    assert_eq!(alerts.body, fs::read_to_string(lab.root().join("world/alerts.json")).unwrap());
    assert!(!alerts.header("etag").is_empty());
    let metrics = get(&server, "/metrics");
    assert_eq!(metrics.status, 200);
    assert_eq!(metrics.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    assert_eq!(metrics.body, fs::read_to_string(lab.root().join("world/metrics.prom")).unwrap());
    assert!(metrics.body.contains("# TYPE "), "{}", metrics.body);
    let url = format!("http://{}/metrics", server.local_addr());
    assert_eq!(send(agent().get(&url).header("If-None-Match", metrics.header("etag"))).status, 304);
    server.stop();
}

#[test]
fn head_answers_like_get_without_a_body() {
    let lab = Lab::new();
    let (server, _) = lab.serve(None);
    let url = format!("http://{}/world/nodes.json", server.local_addr());
    let head = send(agent().head(&url));
    assert_eq!(head.status, 200);
    assert_eq!(head.body, "");
    assert_eq!(head.header("etag"), get(&server, "/world/nodes.json").header("etag"));
    server.stop();
}

#[test]
fn unknown_paths_are_404_and_nothing_outside_the_world_files_is_served() {
    let lab = Lab::new();
    fs::write(lab.root().join("world/secret.json"), "{}").unwrap();
    let (server, _) = lab.serve(None);
    for path in [
        "/nope",
        "/world/secret.json",
        "/world/metrics.prom",
        "/world/../state/last-run.json",
        "/world/%2e%2e/state/last-run.json",
        "/world/",
        "/world/nodes.json/",
        "/health/",
    ] {
        let answer = get(&server, path);
        assert_eq!(answer.status, 404, "{path}: {}", answer.body);
        assert!(answer.json()["error"].as_str().unwrap().contains("GET / lists the endpoints"), "{path}");
    }
    // A query string does not change the path.
    assert_eq!(get(&server, "/world/nodes.json?x=1").status, 200);
    server.stop();
}

#[test]
fn other_methods_are_405_with_allow() {
    let lab = Lab::new();
    let (server, calls) = lab.serve(Some(TOKEN));
    for path in ["/health", "/ready", "/health/status", "/world/nodes.json", "/alerts", "/metrics", "/"] {
        let answer = post(&server, path, None);
        assert_eq!(answer.status, 405, "{path}");
        assert_eq!(answer.header("allow"), "GET, HEAD", "{path}");
        let url = format!("http://{}{path}", server.local_addr());
        assert_eq!(answer_of(agent().delete(&url)).status, 405, "{path}");
    }
    let get_trigger = get(&server, "/health/trigger");
    assert_eq!(get_trigger.status, 405);
    assert_eq!(get_trigger.header("allow"), "POST");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    server.stop();
}

fn answer_of(request: ureq::RequestBuilder<ureq::typestate::WithoutBody>) -> Answer {
    send(request)
}

#[test]
fn the_trigger_needs_the_token() {
    let lab = Lab::new();
    let (server, calls) = lab.serve(Some(TOKEN));
    let without = post(&server, "/health/trigger", None);
    assert_eq!(without.status, 401, "{}", without.body);
    assert_eq!(without.header("www-authenticate"), "Bearer realm=\"observer\"");
    let basic = post(&server, "/health/trigger", Some("Basic dXNlcjpwYXNz"));
    assert_eq!(basic.status, 401);
    for wrong in ["Bearer wrong", "Bearer s3cret-token-for-the-test", "Bearer s3cret-token-for-the-testsX", "Bearer "] {
        let answer = post(&server, "/health/trigger", Some(wrong));
        assert!(matches!(answer.status, 401 | 403), "{wrong}: {}", answer.status);
    }
    assert_eq!(post(&server, "/health/trigger", Some("Bearer wrong")).status, 403);
    assert_eq!(calls.load(Ordering::SeqCst), 0, "no refused request reached the trigger");
    let right = post(&server, "/health/trigger", Some(&format!("Bearer {TOKEN}")));
    assert_eq!(right.status, 202, "{}", right.body);
    assert_eq!(right.json(), serde_json::json!({"status": "queued", "message": "a probe round is queued"}));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let lower = post(&server, "/health/trigger", Some(&format!("bearer {TOKEN}")));
    assert_eq!(lower.status, 202, "the scheme is case-insensitive");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    server.stop();
}

#[test]
fn the_trigger_is_403_when_not_enabled_and_503_when_it_fails() {
    let lab = Lab::new();
    let (server, calls) = lab.serve(None);
    let answer = post(&server, "/health/trigger", Some(&format!("Bearer {TOKEN}")));
    assert_eq!(answer.status, 403);
    assert!(answer.json()["error"].as_str().unwrap().contains("--allow-trigger"), "{}", answer.body);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    server.stop();

    let options = HttpOptions {
        addr: "127.0.0.1:0".parse().unwrap(),
        trigger_token: Some(TOKEN.to_string()),
        tick_interval: Duration::from_secs(60),
    };
    let failing = Box::new(|| Err(anyhow::anyhow!("watch is stopping")));
    let server = start(&Dirs::under(lab.root()), options, failing).unwrap();
    let answer = post(&server, "/health/trigger", Some(&format!("Bearer {TOKEN}")));
    assert_eq!(answer.status, 503);
    assert_eq!(answer.json()["error"], "watch is stopping");
    server.stop();
}

#[test]
fn stop_returns_within_a_second_and_frees_the_port() {
    let lab = Lab::new();
    let (server, _) = lab.serve(None);
    let addr = server.local_addr();
    assert_eq!(get(&server, "/health").status, 200);
    let started = Instant::now();
    server.stop();
    assert!(started.elapsed() < Duration::from_millis(1500), "{:?}", started.elapsed());
    let patient: ureq::Agent =
        ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(3))).build().into();
    let refused = patient.get(format!("http://{addr}/health")).call();
    assert!(refused.is_err(), "the port is closed after stop");
}

#[test]
fn a_taken_address_is_a_clear_error() {
    let lab = Lab::new();
    let (server, _) = lab.serve(None);
    let options =
        HttpOptions { addr: server.local_addr(), trigger_token: None, tick_interval: Duration::from_secs(60) };
    let error = start(&Dirs::under(lab.root()), options, Box::new(|| Ok(String::new()))).err().unwrap();
    let message = format!("{error:#}");
    assert!(message.starts_with(&format!("cannot listen on {}: ", server.local_addr())), "{message}");
    assert!(message.to_lowercase().contains("in use"), "{message}");
    server.stop();
}

#[test]
fn bad_listen_addresses_give_clear_errors() {
    assert_eq!(parse_listen("8080").unwrap().to_string(), "127.0.0.1:8080");
    assert_eq!(parse_listen("[::1]:8080").unwrap().to_string(), "[::1]:8080");
    for (text, expected) in [
        ("", "--listen needs an address"),
        ("99999", "--listen `99999`: the port 99999 is out of range (0 to 65535)"),
        ("127.0.0.1", "--listen `127.0.0.1` has no port"),
        ("::1", "--listen `::1` has no port: an IPv6 address goes in brackets before it, as in [::1]:8080"),
        ("example.org:80", "`example.org` is not an IP address"),
    ] {
        let error = parse_listen(text).unwrap_err().to_string();
        assert!(error.contains(expected), "{text:?}: {error}");
    }
}

fn token_file(dir: &Path, content: &str, mode: u32) -> PathBuf {
    let path = dir.join("token");
    fs::write(&path, content).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
    path
}

#[test]
fn the_token_file_is_read_trimmed_and_refused_when_empty_shared_or_missing() {
    let dir = tempfile::tempdir().unwrap();
    let path = token_file(dir.path(), &format!("{TOKEN}\n"), 0o600);
    assert_eq!(read_token_file(&path).unwrap(), TOKEN);
    let shown = path.display().to_string();
    for (content, mode, expected) in [
        ("\n", 0o600, format!("the token file {shown} is empty")),
        (TOKEN, 0o644, format!("the token file {shown} may be read or written by others (mode 644)")),
        (TOKEN, 0o640, format!("the token file {shown} may be read or written by others (mode 640)")),
        ("two words\n", 0o400, format!("the token file {shown} holds more than one word")),
    ] {
        let path = token_file(dir.path(), content, mode);
        let error = read_token_file(&path).unwrap_err().to_string();
        assert!(error.starts_with(&expected), "{content:?} {mode:o}: {error}");
    }
    let missing = dir.path().join("absent");
    let error = format!("{:#}", read_token_file(&missing).unwrap_err());
    assert!(error.starts_with(&format!("cannot read the token file {}: ", missing.display())), "{error}");
    let error = read_token_file(dir.path()).unwrap_err().to_string();
    assert!(error.contains("is not a regular file"), "{error}");
}
