//! A probe as a service in `services.yaml` declares it: exactly one check,
//! its schedule, and its own breaker and debounce settings. Each entry is
//! checked while the file is parsed, so that a problem carries its line.

use serde::{Deserialize, Serialize};

use super::check::{Check, CommandCheck, DiskCheck, HttpCheck, PathCheck, TcpCheck};
use super::duration::DurationSpec;
use super::name::check_name;
use crate::event::Outcome;

/// A probe declared under a service in `services.yaml` (SPEC §5).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProbeDef {
    pub node: String,
    pub service: String,
    /// Unique within the service; defaults to the check's kind (`tcp`, …).
    pub name: String,
    pub check: Check,
    /// Milliseconds between runs, when the probe sets `interval`.
    pub interval_ms: Option<u64>,
    /// Milliseconds a run may take, when the probe sets `timeout`.
    pub timeout_ms: Option<u64>,
    pub timeout_outcome: Option<Outcome>,
    pub breaker: BreakerOverrides,
    pub debounce: DebounceOverrides,
}

impl ProbeDef {
    /// `node/service/probe`, the key of the probe in the engine.
    pub fn key(&self) -> String {
        crate::engine::probe_key(&self.node, &self.service, &self.name)
    }
}

/// A probe's own `breaker:` settings in `services.yaml`; each one replaces the
/// config's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerOverrides {
    pub failure_threshold: Option<u32>,
    pub success_threshold: Option<u32>,
    pub timeout_s: Option<u64>,
    pub half_open_requests: Option<u32>,
    pub failure_outcomes: Option<Vec<Outcome>>,
    pub failure_http_statuses: Option<Vec<u16>>,
    pub count_timeouts: Option<bool>,
    pub excluded_exit_codes: Option<Vec<i64>>,
}

/// A probe's own `debounce:` settings in `services.yaml`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DebounceOverrides {
    pub seconds: Option<u64>,
    pub count: Option<u32>,
}

/// One entry of a service's `probes:` list as written: every check key is
/// optional here, so that "none" and "two" can be told apart from a typo.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProbe {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    tcp: Option<TcpCheck>,
    #[serde(default)]
    http: Option<HttpCheck>,
    #[serde(default)]
    command: Option<CommandCheck>,
    #[serde(default)]
    path: Option<PathCheck>,
    #[serde(default)]
    disk: Option<DiskCheck>,
    #[serde(default)]
    interval: Option<DurationSpec>,
    #[serde(default)]
    timeout: Option<DurationSpec>,
    #[serde(default)]
    timeout_outcome: Option<Outcome>,
    #[serde(default)]
    breaker: Option<BreakerOverrides>,
    #[serde(default)]
    debounce: Option<DebounceOverrides>,
}

/// One entry of a service's `probes:` list, checked: it becomes a
/// [`ProbeDef`] once its node and service are known.
#[derive(Deserialize)]
#[serde(try_from = "RawProbe")]
pub(super) struct ProbeDecl {
    pub(super) name: String,
    check: Check,
    interval_ms: Option<u64>,
    timeout_ms: Option<u64>,
    timeout_outcome: Option<Outcome>,
    breaker: BreakerOverrides,
    debounce: DebounceOverrides,
}

impl ProbeDecl {
    /// The check, when it is an `http` one: loading fills in its `ca_file`.
    pub(super) fn http_mut(&mut self) -> Option<&mut HttpCheck> {
        match &mut self.check {
            Check::Http(http) => Some(http),
            _ => None,
        }
    }

    pub(super) fn under(self, node: &str, service: &str) -> ProbeDef {
        ProbeDef {
            node: node.to_string(),
            service: service.to_string(),
            name: self.name,
            check: self.check,
            interval_ms: self.interval_ms,
            timeout_ms: self.timeout_ms,
            timeout_outcome: self.timeout_outcome,
            breaker: self.breaker,
            debounce: self.debounce,
        }
    }
}

impl TryFrom<RawProbe> for ProbeDecl {
    type Error = String;

    fn try_from(raw: RawProbe) -> Result<ProbeDecl, String> {
        let mut checks: Vec<Check> = [
            raw.tcp.map(Check::Tcp),
            raw.http.map(Check::Http),
            raw.command.map(Check::Command),
            raw.path.map(Check::Path),
            raw.disk.map(Check::Disk),
        ]
        .into_iter()
        .flatten()
        .collect();
        let label = raw.name.as_deref().map(|n| format!("probe `{n}`: ")).unwrap_or_else(|| "probe: ".into());
        if checks.len() != 1 {
            return Err(format!("{label}give exactly one of tcp, http, command, path, disk (found {})", checks.len()));
        }
        let check = checks.remove(0);
        check.validate().map_err(|e| format!("{label}{e}"))?;
        let name = raw.name.unwrap_or_else(|| check.kind().to_string());
        check_name(&name).map_err(|e| format!("probe `{name}`: {e}"))?;
        if raw.timeout.as_ref().is_some_and(|t| t.0 == 0) {
            return Err(format!("{label}a timeout of 0 would fail every run"));
        }
        if raw.timeout_outcome == Some(Outcome::Skipped) {
            return Err(format!("{label}timeout_outcome may be ok, warning, critical or unknown"));
        }
        Ok(ProbeDecl {
            name,
            check,
            interval_ms: raw.interval.map(|d| d.0),
            timeout_ms: raw.timeout.map(|d| d.0),
            timeout_outcome: raw.timeout_outcome,
            breaker: raw.breaker.unwrap_or_default(),
            debounce: raw.debounce.unwrap_or_default(),
        })
    }
}
