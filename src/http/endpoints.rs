//! The answers, one function per endpoint. Each reads the files it needs
//! afresh (the world may change between two requests), opens them for
//! reading only and never takes the state lock.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use serde_json::json;

use crate::dirs::Dirs;
use crate::engine::{BreakerState, ServiceStatus};
use crate::event::Outcome;
use crate::store::last_run::{LastFailure, LastRun};
use crate::time::Ts;
use crate::world::{self, OverallHealth, ServicesFile, Summary, WorldFile};

pub(super) const JSON: &str = "application/json";
/// The Prometheus text exposition format.
pub(super) const PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";

/// An answer before it becomes an HTTP response.
pub(super) struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    pub fn json(status: u16, value: &impl Serialize) -> Reply {
        let body = world::render(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}\n").into_bytes());
        Reply { status, content_type: JSON, body, headers: Vec::new() }
    }

    pub fn error(status: u16, message: &str) -> Reply {
        Reply::json(status, &json!({ "error": message }))
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }
}

/// `GET /health`: 200 while passes succeed. 503 once the last pass failed
/// (`state/last-failure.json` is newer than the last success), and before
/// any pass has finished.
pub(super) fn health(dirs: &Dirs) -> Reply {
    let last_run = LastRun::read(&dirs.last_run());
    let last_success = last_run.as_ref().map(|run| run.started_at);
    let failure = LastFailure::read(&dirs.state).filter(|f| last_success.is_none_or(|ok| f.started_at >= ok));
    let version = env!("CARGO_PKG_VERSION");
    match (failure, last_run) {
        (Some(failure), _) => Reply::json(
            503,
            &json!({
                "status": "failing",
                "service": "observer",
                "version": version,
                "reason": format!("the last `{}` failed at {}: {}", failure.command, failure.started_at, failure.error),
                "last_success": last_success,
            }),
        ),
        (None, None) => Reply::json(
            503,
            &json!({
                "status": "starting",
                "service": "observer",
                "version": version,
                "reason": format!("no pass has finished yet ({} is missing)", shown(dirs, &dirs.last_run())),
                "last_success": null,
            }),
        ),
        (None, Some(run)) => Reply::json(
            200,
            &json!({
                "status": "ok",
                "service": "observer",
                "version": version,
                "last_success": run.started_at,
                "last_command": run.command,
            }),
        ),
    }
}

/// `GET /ready`: the world is current — `world/runtime-summary.json` reads
/// back, and the last successful pass started at most `ready_within`
/// seconds before `now`. Each check is listed, `ok` or why not.
pub(super) fn ready(dirs: &Dirs, now: Ts, ready_within_s: u64) -> Reply {
    let world_check = match world::read::<Summary>(&dirs.world) {
        Some(_) => "ok".to_string(),
        None => {
            format!("{} is missing or unreadable: no pass has written the world yet", world_file(dirs, Summary::NAME))
        }
    };
    let pass_check = match LastRun::read(&dirs.last_run()) {
        None => format!("no pass has finished yet ({} is missing)", shown(dirs, &dirs.last_run())),
        Some(run) => {
            let age_s = (now.0 - run.started_at.0).max(0) / 1000;
            if age_s as u64 <= ready_within_s {
                "ok".to_string()
            } else {
                format!(
                    "the last successful pass started {age_s} s ago, at {}; ready means within {ready_within_s} s",
                    run.started_at
                )
            }
        }
    };
    let ready = world_check == "ok" && pass_check == "ok";
    Reply::json(
        if ready { 200 } else { 503 },
        &json!({
            "status": if ready { "ready" } else { "not_ready" },
            "checks": { "world": world_check, "last_pass": pass_check },
        }),
    )
}

/// `GET /health/status`, in the seeds' shape: the world's time, every
/// service (keyed `node/service`) with its health, last check, latency,
/// error, failures, checks, uptime and breaker, and the overall health.
#[derive(Serialize)]
struct HealthStatus {
    timestamp: Option<Ts>,
    services: BTreeMap<String, ServiceHealth>,
    overall_health: OverallHealth,
}

#[derive(Serialize)]
struct ServiceHealth {
    node: String,
    service: String,
    health: ServiceStatus,
    last_check: Option<Ts>,
    response_time_ms: Option<u64>,
    /// The detail of the latest check, when it was not `ok`.
    error_message: Option<String>,
    consecutive_failures: u64,
    total_checks: u64,
    successful_checks: u64,
    uptime_percentage: Option<f64>,
    /// The most open of its probes' breakers; `closed` without probes.
    circuit_breaker_state: BreakerState,
    /// Per probe: its breaker's state.
    breakers: BTreeMap<String, BreakerState>,
}

pub(super) fn health_status(dirs: &Dirs) -> Reply {
    // Both files from one generation, even while passes write the next ones.
    let read = |generation: &Path| (world::read::<ServicesFile>(generation), world::read::<Summary>(generation));
    let (Some(services), Some(summary)) = world::read_whole(&dirs.world, read) else {
        return Reply::error(
            503,
            &format!(
                "{} or {} is missing or unreadable: no pass has written the world yet",
                world_file(dirs, ServicesFile::NAME),
                world_file(dirs, Summary::NAME)
            ),
        );
    };
    let timestamp = services.as_of;
    let services = services
        .services
        .into_iter()
        .map(|(key, view)| {
            let latest = view.probes.values().filter(|p| p.last_checked_at.is_some()).max_by_key(|p| p.last_checked_at);
            let error_message = latest
                .filter(|p| p.last_outcome.is_some_and(|o| o != Outcome::Ok))
                .and_then(|p| p.last_detail.as_ref().map(|d| d.to_string()));
            let rank = |state: BreakerState| match state {
                BreakerState::Closed => 0,
                BreakerState::HalfOpen => 1,
                BreakerState::Open => 2,
            };
            let worst = view.breaker.values().map(|b| b.state).max_by_key(|s| rank(*s));
            let health = ServiceHealth {
                node: view.state.node.clone(),
                service: view.state.service.clone(),
                health: view.state.status,
                last_check: latest.and_then(|p| p.last_checked_at).or(view.state.last_event),
                response_time_ms: view.checks.last_latency_ms,
                error_message,
                consecutive_failures: view.checks.consecutive_failures,
                total_checks: view.checks.total,
                successful_checks: view.checks.successful,
                uptime_percentage: view.checks.uptime_percentage,
                circuit_breaker_state: worst.unwrap_or(BreakerState::Closed),
                breakers: view.breaker.iter().map(|(probe, b)| (probe.to_string(), b.state)).collect(),
            };
            (key.into_owned(), health)
        })
        .collect();
    Reply::json(200, &HealthStatus { timestamp, services, overall_health: summary.overall_health })
}

/// A file served as it is on disk, with a strong ETag (a digest of its
/// bytes): a request whose `If-None-Match` names it gets 304 and no body.
/// A file not written yet is 503, with its name.
pub(super) fn file(dirs: &Dirs, name: &str, content_type: &'static str, if_none_match: Option<&str>) -> Reply {
    let path = dirs.world.join(name);
    let body = match std::fs::read(&path) {
        Ok(body) => body,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Reply::error(
                503,
                &format!("{} does not exist yet: no pass has written it", world_file(dirs, name)),
            )
            .with_header("Retry-After", "5");
        }
        Err(e) => return Reply::error(500, &format!("cannot read {}: {e}", world_file(dirs, name))),
    };
    let etag = etag(&body);
    let matches = if_none_match.is_some_and(|header| {
        header.split(',').map(str::trim).any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
    });
    // A 304 carries no body (the server leaves it out), but keeps the
    // length of the one a 200 would carry, as RFC 9110 §8.6 asks.
    let status = if matches { 304 } else { 200 };
    Reply { status, content_type, body, headers: Vec::new() }
        .with_header("ETag", etag)
        .with_header("Cache-Control", "no-cache")
}

/// `"` + the first 128 bits of the SHA-256 of `bytes`, in hex, + `"`.
fn etag(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    let hex: String = digest.as_ref()[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// How messages name a world file: `world/NAME` under the root, else its
/// full path.
fn world_file(dirs: &Dirs, name: &str) -> String {
    shown(dirs, &dirs.world.join(name))
}

fn shown(dirs: &Dirs, path: &Path) -> String {
    path.strip_prefix(&dirs.root).unwrap_or(path).display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_etag_is_a_quoted_digest_of_the_bytes() {
        assert_eq!(etag(b""), "\"e3b0c44298fc1c149afbf4c8996fb924\"");
        assert_ne!(etag(b"a"), etag(b"b"));
    }
}
