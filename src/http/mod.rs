//! The read-only HTTP interface of `observer watch --listen ADDR` (SPEC §9).
//!
//! `watch` starts it with [`start`] and stops it with [`HttpServer::stop`];
//! [`parse_listen`] and [`read_token_file`] check its flags. The server is
//! `tiny_http` (synchronous, no HTTP parsing of our own) with a fixed pool
//! of [`WORKERS`] threads answering requests; each answer reads the files
//! it needs afresh, never takes the state lock and never writes.
//!
//! | Endpoint | Answer |
//! |---|---|
//! | `GET /` | the service, its version and the endpoints |
//! | `GET /health` | liveness: 200 while passes succeed, 503 with the reason once the last one failed or before the first |
//! | `GET /ready` | 200 when the world exists and the last successful pass started within `2 × tick + 10 s`, else 503 with each check |
//! | `GET /health/status` | overall health and per service health, uptime and breaker, in the seeds' shape |
//! | `GET /world/<file>.json` | a world file as on disk, with a strong ETag (`If-None-Match` → 304); only the names of `world::FILES` |
//! | `GET /alerts` | `world/alerts.json`, the same way |
//! | `GET /metrics` | `world/metrics.prom`, `text/plain; version=0.0.4`, the same way |
//! | `POST /health/trigger` | with `Authorization: Bearer TOKEN`: calls the trigger, 202 with its text |
//!
//! `HEAD` works wherever `GET` does; any other method is 405 with `Allow`.
//! A world file that is not written yet is 503 with `Retry-After`; an
//! unknown path is 404. The trigger answers 403 when the server has no
//! token (watch was started without `--allow-trigger`), 401 without an
//! `Authorization: Bearer` header, 403 with a wrong token (compared in
//! constant time), and 503 with the message when the trigger fails.

mod endpoints;
mod listen;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::json;
use tiny_http::{Header, Method, Request, Response};

use crate::dirs::Dirs;
use crate::time::Ts;
use crate::world::WorldFile as _;
use endpoints::{JSON, PROMETHEUS, Reply};
pub use listen::{parse_listen, read_token_file};

/// Threads answering requests: enough that a slow client does not hold up
/// the others, few enough to stay small. (`tiny_http` itself reads each
/// open connection on a thread of its own.)
pub const WORKERS: usize = 4;
/// How long [`HttpServer::stop`] waits for a worker busy with a request.
const STOP_WAIT: Duration = Duration::from_secs(1);

/// What `watch` gives the server.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    pub addr: SocketAddr,
    /// The token `POST /health/trigger` requires; `None` disables it.
    pub trigger_token: Option<String>,
    /// How often `watch` ticks: `/ready` wants the last successful pass
    /// within twice that (one tick may be missed) plus 10 s for the pass.
    pub tick_interval: Duration,
}

/// Called for an authorised `POST /health/trigger`; returns quickly (watch
/// queues a probe round) with a short text for the response.
pub type Trigger = Box<dyn Fn() -> Result<String> + Send + Sync>;

/// A running server; [`stop`](HttpServer::stop) it (dropping it stops it
/// too).
pub struct HttpServer {
    /// Taken when it stops: the last reference, whose drop closes the
    /// listening socket.
    server: Option<Arc<tiny_http::Server>>,
    local_addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    done: mpsc::Receiver<()>,
}

struct Shared {
    dirs: Dirs,
    options: HttpOptions,
    trigger: Trigger,
}

/// Binds `options.addr` and starts answering. Binding errors (address in
/// use, not an address of this machine, a privileged port) name the
/// address.
pub fn start(dirs: &Dirs, options: HttpOptions, trigger: Trigger) -> Result<HttpServer> {
    let listener = TcpListener::bind(options.addr).with_context(|| format!("cannot listen on {}", options.addr))?;
    let local_addr = listener.local_addr().with_context(|| format!("cannot listen on {}", options.addr))?;
    let server = tiny_http::Server::from_listener(listener, None)
        .map_err(|e| anyhow::anyhow!("cannot serve HTTP on {local_addr}: {e}"))?;
    let server = Arc::new(server);
    let stopping = Arc::new(AtomicBool::new(false));
    let shared = Arc::new(Shared { dirs: dirs.clone(), options, trigger });
    let (done_tx, done) = mpsc::channel();
    for n in 0..WORKERS {
        let (server, stopping, shared, done_tx) = (server.clone(), stopping.clone(), shared.clone(), done_tx.clone());
        std::thread::Builder::new()
            .name(format!("http-{n}"))
            .spawn(move || {
                serve(&server, &stopping, &shared);
                drop(server);
                let _ = done_tx.send(());
            })
            .context("cannot start the HTTP threads")?;
    }
    Ok(HttpServer { server: Some(server), local_addr, stopping, done })
}

impl HttpServer {
    /// The address it listens on (the chosen port when given port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops answering and closes the listening socket: requests being
    /// answered finish first, for at most about a second. A worker still
    /// writing to a client that does not read after that is left to finish
    /// on its own.
    pub fn stop(self) {}

    fn shut_down(&mut self) {
        let Some(server) = self.server.take() else { return };
        self.stopping.store(true, Ordering::SeqCst);
        for _ in 0..WORKERS {
            server.unblock();
        }
        let deadline = Instant::now() + STOP_WAIT;
        for _ in 0..WORKERS {
            let left = deadline.saturating_duration_since(Instant::now());
            if self.done.recv_timeout(left).is_err() {
                break;
            }
        }
        // Requests that arrived after the workers left would otherwise
        // wait for ever: tell them.
        while let Ok(Some(request)) = server.try_recv() {
            let reply = Reply::error(503, "observer is stopping");
            respond(request, reply);
        }
        // The last reference (unless a worker is still busy): dropping it
        // closes the listening socket.
        drop(server);
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.shut_down();
    }
}

fn serve(server: &tiny_http::Server, stopping: &AtomicBool, shared: &Shared) {
    loop {
        match server.recv() {
            Ok(request) => answer(request, shared),
            Err(_) if stopping.load(Ordering::SeqCst) => return,
            // A failed accept (too many open files, say): the next one may
            // work.
            Err(_) => {}
        }
    }
}

fn answer(request: Request, shared: &Shared) {
    let header = |name: &str| {
        request
            .headers()
            .iter()
            .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str().to_string())
    };
    let reply = route(shared, request.method(), request.url(), &header);
    respond(request, reply);
}

fn respond(request: Request, reply: Reply) {
    let mut response = Response::from_data(reply.body).with_status_code(reply.status);
    // A 304 describes the representation the client has: no type of its own.
    let content_type = (reply.status != 304).then(|| ("Content-Type", reply.content_type.to_string()));
    let headers = content_type.into_iter().chain(reply.headers);
    for (name, value) in headers {
        if let Ok(header) = Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            response.add_header(header);
        }
    }
    // A client that went away has nobody to tell.
    let _ = request.respond(response);
}

const READ: &str = "GET, HEAD";

fn route(shared: &Shared, method: &Method, url: &str, header: &dyn Fn(&str) -> Option<String>) -> Reply {
    let path = url.split_once('?').map_or(url, |(path, _)| path);
    if path == "/health/trigger" {
        return match method {
            Method::Post => trigger(shared, header("Authorization")),
            _ => not_allowed(method, path, "POST"),
        };
    }
    let reply = || -> Option<Reply> {
        let dirs = &shared.dirs;
        let if_none_match = header("If-None-Match");
        Some(match path {
            "/" => index(),
            "/health" => endpoints::health(dirs),
            "/ready" => endpoints::ready(dirs, now(), ready_within_s(&shared.options)),
            "/health/status" => endpoints::health_status(dirs),
            "/alerts" => endpoints::file(dirs, crate::world::AlertsFile::NAME, JSON, if_none_match.as_deref()),
            "/metrics" => endpoints::file(dirs, crate::metrics::FILE_NAME, PROMETHEUS, if_none_match.as_deref()),
            _ => {
                let name = path.strip_prefix("/world/")?;
                let name = crate::world::FILES.into_iter().find(|known| *known == name)?;
                endpoints::file(dirs, name, JSON, if_none_match.as_deref())
            }
        })
    };
    if !matches!(method, Method::Get | Method::Head) {
        return match reply() {
            Some(_) => not_allowed(method, path, READ),
            None => not_found(path),
        };
    }
    reply().unwrap_or_else(|| not_found(path))
}

fn ready_within_s(options: &HttpOptions) -> u64 {
    options.tick_interval.as_secs().saturating_mul(2).saturating_add(10)
}

fn now() -> Ts {
    Ts::from_datetime(chrono::Utc::now())
}

fn trigger(shared: &Shared, authorization: Option<String>) -> Reply {
    let Some(expected) = &shared.options.trigger_token else {
        return Reply::error(
            403,
            "POST /health/trigger is not enabled: start `observer watch --listen ADDR` with --allow-trigger and \
             --token-file FILE",
        );
    };
    let presented = authorization.as_deref().and_then(|value| {
        let (scheme, token) = value.trim().split_once(' ')?;
        scheme.eq_ignore_ascii_case("Bearer").then(|| token.trim().to_string())
    });
    let Some(presented) = presented else {
        return Reply::error(401, "POST /health/trigger needs the header `Authorization: Bearer TOKEN`")
            .with_header("WWW-Authenticate", "Bearer realm=\"observer\"");
    };
    if !listen::same_token(presented.as_bytes(), expected.as_bytes()) {
        return Reply::error(403, "the bearer token is not the one in the token file");
    }
    match (shared.trigger)() {
        Ok(message) => Reply::json(202, &json!({ "status": "queued", "message": message })),
        Err(e) => Reply::error(503, &format!("{e:#}")),
    }
}

fn index() -> Reply {
    let world: Vec<String> = crate::world::FILES.iter().map(|name| format!("/world/{name}")).collect();
    Reply::json(
        200,
        &json!({
            "service": "observer",
            "version": env!("CARGO_PKG_VERSION"),
            "endpoints": {
                "health": "/health",
                "ready": "/ready",
                "health_status": "/health/status",
                "world": world,
                "alerts": "/alerts",
                "metrics": "/metrics",
                "trigger": "POST /health/trigger",
            },
        }),
    )
}

fn not_allowed(method: &Method, path: &str, allow: &'static str) -> Reply {
    Reply::error(405, &format!("{method} is not allowed on {path}; use {allow}")).with_header("Allow", allow)
}

fn not_found(path: &str) -> Reply {
    Reply::error(404, &format!("there is nothing at {path}; GET / lists the endpoints"))
}
