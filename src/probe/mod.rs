//! Running real probes: each check is executed with a timeout and turned
//! into an [`Execution`], which `observer probe` writes as a `probe_result`
//! event. Nothing here decides health: the engine folds the results.
//!
//! Executing a check never fails and never panics: a refused connection, a
//! missing command or a hung file system are outcomes with a detail.

pub mod command;
pub mod filesystem;
pub mod http;
pub mod plan;
pub mod tcp;

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use crate::event::Outcome;

/// What a probe checks, as declared in the inventory's `services.yaml`
/// (one key per probe: `tcp`, `http`, `command`, `path` or `disk`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    Tcp(TcpCheck),
    Http(HttpCheck),
    Command(CommandCheck),
    Path(PathCheck),
    Disk(DiskCheck),
}

/// A TCP connection to `host:port` can be opened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpCheck {
    pub host: String,
    pub port: u16,
}

/// A GET of `url` answers with one of `expect_status` (default: any 2xx or
/// 3xx; redirects are not followed) and, if given, a body containing
/// `body_contains`.
///
/// An `https://` url's certificate is verified against, in this order:
/// - `ca_file`, when given: only the CA certificates in that PEM file are
///   trusted, for this probe alone. This is the way for a homelab CA that the
///   probing machine does not trust as a whole.
/// - otherwise the system's trust store, read through the platform verifier
///   when the probe runs. On Linux that is `SSL_CERT_FILE` and/or
///   `SSL_CERT_DIR` when either is set (and then only those), else the
///   distribution's bundle (`/etc/ssl/certs/ca-certificates.crt` and the
///   like). It is the default, rather than a list of public CAs built into
///   the binary, because a homelab's own CA is usually installed there
///   (`update-ca-certificates`), where curl and browsers on the same machine
///   already trust it, and because the distribution keeps it up to date.
///
/// `tls_verify: false` turns verification off for this probe alone: any
/// certificate for any name is accepted, so the probe no longer proves that
/// it talks to the right server. It is insecure, and meant for a device whose
/// self-signed certificate cannot be replaced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpCheck {
    pub url: String,
    #[serde(default)]
    pub expect_status: Vec<u16>,
    #[serde(default)]
    pub body_contains: Option<String>,
    /// A PEM file of one or more CA certificates (or the server's own
    /// self-signed certificate, if that says `CA:FALSE`: rustls accepts no
    /// CA certificate as a server's). A relative path is taken
    /// from the inventory directory (where the file can live in the same
    /// repository), not from wherever observer happens to be started;
    /// loading the inventory makes it absolute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// The certificates of `ca_file` (DER), read and checked when the
    /// inventory is loaded: a missing or broken file is a problem with its
    /// file and line then, never a surprise when the probe runs.
    #[serde(skip)]
    pub ca_certificates: Vec<Vec<u8>>,
    /// Off only when a probe says `tls_verify: false`.
    #[serde(default = "verify_by_default", skip_serializing_if = "is_verified")]
    pub tls_verify: bool,
}

/// Any field a probe leaves out takes its default; TLS verification is on,
/// which a derived `Default` would get wrong.
impl Default for HttpCheck {
    fn default() -> HttpCheck {
        HttpCheck {
            url: String::new(),
            expect_status: Vec::new(),
            body_contains: None,
            ca_file: None,
            ca_certificates: Vec::new(),
            tls_verify: true,
        }
    }
}

fn verify_by_default() -> bool {
    true
}

fn is_verified(tls_verify: &bool) -> bool {
    *tls_verify
}

/// A Nagios-style plugin, given as its argv and run without a shell: exit 0
/// ok, 1 warning, 2 critical, 3 (or anything else) unknown. The first line of
/// its output is the detail; what follows `|` on it is perfdata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CommandCheck {
    pub argv: Vec<String>,
}

/// The path exists.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PathCheck {
    pub path: PathBuf,
}

/// The file system holding `path` has at least `min_free_percent` percent
/// and/or `min_free_bytes` bytes free (critical below); below
/// `warn_free_percent` it is a warning.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiskCheck {
    pub path: PathBuf,
    #[serde(default)]
    pub min_free_percent: Option<f64>,
    #[serde(default)]
    pub min_free_bytes: Option<u64>,
    #[serde(default)]
    pub warn_free_percent: Option<f64>,
}

impl Check {
    pub fn kind(&self) -> &'static str {
        match self {
            Check::Tcp(_) => "tcp",
            Check::Http(_) => "http",
            Check::Command(_) => "command",
            Check::Path(_) => "path",
            Check::Disk(_) => "disk",
        }
    }

    /// What the check looks at, for people.
    pub fn target(&self) -> String {
        match self {
            Check::Tcp(c) => format!("{}:{}", c.host, c.port),
            Check::Http(c) => c.url.clone(),
            Check::Command(c) => c.argv.join(" "),
            Check::Path(c) => c.path.display().to_string(),
            Check::Disk(c) => c.path.display().to_string(),
        }
    }
}

/// The result of executing a check once.
#[derive(Clone, Debug, PartialEq)]
pub struct Execution {
    pub outcome: Outcome,
    pub latency_ms: u64,
    /// One line for people: what was found, or why it failed.
    pub detail: String,
    /// The check did not finish within its timeout (and was abandoned or killed).
    pub timed_out: bool,
    pub exit_code: Option<i32>,
    pub http_status: Option<u16>,
    pub perfdata: Option<String>,
}

impl Execution {
    pub fn new(outcome: Outcome, latency_ms: u64, detail: impl Into<String>) -> Execution {
        Execution {
            outcome,
            latency_ms,
            detail: detail.into(),
            timed_out: false,
            exit_code: None,
            http_status: None,
            perfdata: None,
        }
    }
}

/// Executes a check once. `timeout_outcome` is what a check that does not
/// finish in time counts as (by default `critical`).
pub fn execute(check: &Check, timeout: Duration, timeout_outcome: Outcome) -> Execution {
    match check {
        Check::Tcp(c) => tcp::execute(&c.host, c.port, timeout, timeout_outcome),
        Check::Http(c) => http::execute(c, timeout, timeout_outcome),
        Check::Command(c) => command::execute(&c.argv, timeout, timeout_outcome),
        Check::Path(c) => filesystem::execute_path(&c.path, timeout, timeout_outcome),
        Check::Disk(c) => filesystem::execute_disk(
            &c.path,
            filesystem::DiskLimits {
                min_free_percent: c.min_free_percent,
                min_free_bytes: c.min_free_bytes,
                warn_free_percent: c.warn_free_percent,
            },
            timeout,
            timeout_outcome,
        ),
    }
}

/// Executes each job on at most `parallel` threads at once, returning the
/// executions in the jobs' order.
pub fn execute_all(jobs: &[(Check, Duration, Outcome)], parallel: usize) -> Vec<Execution> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: std::sync::Mutex<Vec<Option<Execution>>> = std::sync::Mutex::new(vec![None; jobs.len()]);
    std::thread::scope(|scope| {
        for _ in 0..parallel.clamp(1, jobs.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((check, timeout, timeout_outcome)) = jobs.get(i) else { break };
                    let execution = execute(check, *timeout, *timeout_outcome);
                    if let Ok(mut results) = results.lock() {
                        results[i] = Some(execution);
                    }
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .map(|e| e.unwrap_or_else(|| Execution::new(Outcome::Unknown, 0, "the probe did not report")))
        .collect()
}
