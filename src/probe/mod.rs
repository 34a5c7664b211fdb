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
pub mod round;
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpCheck {
    pub url: String,
    #[serde(default)]
    pub expect_status: Vec<u16>,
    #[serde(default)]
    pub body_contains: Option<String>,
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
        Check::Http(c) => http::execute(&c.url, &c.expect_status, c.body_contains.as_deref(), timeout, timeout_outcome),
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
