//! A deterministic generator of realistic event logs, for benchmarks and tests.
//!
//! The same [`Spec`] always gives the same bytes. The simulated homelab has 32
//! nodes with 3 to 8 services each; every node reports through one producer
//! file (`producer-N.jsonl`), so the files interleave in time while each one's
//! timestamps never go back. The mix is what a month of a homelab looks
//! like ([`Shape::Calm`]), or two days of a busy one ([`Shape::Busy`]): mostly heartbeats and passing checks, failure episodes that open an
//! incident and end with a recovery, deployments that run through stages to
//! success or to a failure with a diagnostics path, a node that goes down and
//! comes back, event types this observer does not know, and `id`s on a few
//! events, some of them sent twice (a producer's retry).
//!
//! Tests include this file with `#[path = "../benches/corpus.rs"] mod corpus;`,
//! so it uses only the standard library.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// What to generate.
#[derive(Clone, Debug)]
pub struct Spec {
    /// Events in all, single-event files included.
    pub events: u64,
    /// JSON Lines files, `producer-0.jsonl` … (at least one is used).
    pub producers: usize,
    /// Events written as single-event `.json` files under `inbox/` instead,
    /// spread evenly over the history.
    pub single_files: u64,
    pub seed: u64,
    pub shape: Shape,
}

/// One generated event: where it goes (relative to `events/`) and its bytes
/// (one line, with its newline).
#[derive(Clone, Debug)]
pub struct Generated {
    pub file: String,
    pub line: String,
}

/// The events of `spec`, in the order they were "written".
#[allow(dead_code)] // an includer uses this or `write`, not always both
pub fn generate(spec: &Spec) -> Generator {
    Generator::new(spec)
}

/// Writes the events of `spec` under `events_dir` and returns the files
/// written, in path order.
#[allow(dead_code)] // an includer uses this or `generate`, not always both
pub fn write(events_dir: &Path, spec: &Spec) -> io::Result<Vec<PathBuf>> {
    append(events_dir, Generator::new(spec))
}

/// Writes `events` under `events_dir`, appending to producer files that
/// exist already, and returns the files written to, in path order. With
/// [`generate`] and `Iterator::take`, a history can be written in parts: a
/// big one first, then new events on top.
#[allow(dead_code)]
pub fn append(events_dir: &Path, events: impl IntoIterator<Item = Generated>) -> io::Result<Vec<PathBuf>> {
    fs::create_dir_all(events_dir)?;
    let mut producers: BTreeMap<String, BufWriter<fs::File>> = BTreeMap::new();
    let mut files = Vec::new();
    for event in events {
        let path = events_dir.join(&event.file);
        if event.file.ends_with(".json") {
            if let Some(dir) = path.parent() {
                fs::create_dir_all(dir)?;
            }
            fs::write(&path, event.line.as_bytes())?;
            files.push(path);
            continue;
        }
        let out = match producers.get_mut(&event.file) {
            Some(out) => out,
            None => {
                let file = fs::OpenOptions::new().create(true).append(true).open(&path)?;
                files.push(path);
                producers.entry(event.file.clone()).or_insert(BufWriter::with_capacity(1 << 20, file))
            }
        };
        out.write_all(event.line.as_bytes())?;
    }
    for out in producers.values_mut() {
        out.flush()?;
    }
    files.sort();
    Ok(files)
}

fn producer_file(n: usize) -> String {
    format!("producer-{n}.jsonl")
}

/// SplitMix64: small, fast, and good enough for picking events.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const NODE_NAMES: [&str; 32] = [
    "saturn",
    "jupiter",
    "mars",
    "venus",
    "mercury",
    "neptune",
    "uranus",
    "pluto",
    "titan",
    "europa",
    "io",
    "ganymede",
    "callisto",
    "enceladus",
    "triton",
    "phobos",
    "deimos",
    "ceres",
    "vesta",
    "pallas",
    "rhea",
    "dione",
    "tethys",
    "mimas",
    "iapetus",
    "oberon",
    "titania",
    "miranda",
    "ariel",
    "umbriel",
    "charon",
    "eris",
];

const SERVICE_NAMES: [&str; 24] = [
    "mosquitto",
    "nginx",
    "postgres",
    "grafana",
    "prometheus",
    "homeassistant",
    "zigbee2mqtt",
    "jellyfin",
    "nextcloud",
    "pihole",
    "unbound",
    "syncthing",
    "restic",
    "traefik",
    "redis",
    "minio",
    "gitea",
    "vaultwarden",
    "node-exporter",
    "loki",
    "uptime-kuma",
    "paperless",
    "immich",
    "frigate",
];

const UNKNOWN_TYPES: [&str; 6] = [
    "backup_finished",
    "certificate_renewed",
    "disk_usage_report",
    "container_restarted",
    "package_updates_available",
    "smart_report",
];

const STAGES: [&str; 5] = ["pull", "build", "migrate", "restart", "verify"];

const FAILURE_MESSAGES: [&str; 5] = [
    "connection refused",
    "health endpoint returned 503",
    "timed out after 5s",
    "process not running",
    "TLS handshake failed",
];

/// How often each kind of event is drawn, per `PER` events, and how far
/// apart events are.
const PER: u64 = 100_000;

/// The kind of homelab a history comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// A month of a calm homelab: ~17 failure episodes and ~17 deployments a
    /// day, a node outage every other day, and heartbeats for the rest
    /// (about 80 %); 1,000,000 events span about 29 days.
    Calm,
    /// Two days of a busy one: 1,000,000 events, a deployment starting every
    /// ~3 s and a new failure episode every ~8 s (about 67,000 deployments
    /// and 23,000 incidents in a million events, all inside the 30-day
    /// retention), a node outage every few hours.
    Busy,
}

impl Shape {
    /// `calm` or `busy`.
    #[allow(dead_code)]
    pub fn name(self) -> &'static str {
        match self {
            Shape::Calm => "calm",
            Shape::Busy => "busy",
        }
    }

    fn mix(self) -> Mix {
        match self {
            Shape::Calm => Mix {
                failure_starts: 50,
                failure_steps: 600,
                max_episodes: 20,
                deploy_starts: 50,
                deploy_steps: 1_000,
                max_deploys: 4,
                node_downs: 2,
                node_ups: 300,
                checks_passed: 14_000,
                services_healthy: 2_000,
                unknown: 1_500,
                mean_step_ms: 2_500,
            },
            // A start every 17 events (~3 s at 173 ms apart) and 6.3 steps
            // each; an episode every 44 events (~8 s) and 3.5 steps each.
            Shape::Busy => Mix {
                failure_starts: 2_300,
                failure_steps: 9_500,
                max_episodes: 40,
                deploy_starts: 6_700,
                deploy_steps: 50_000,
                max_deploys: 64,
                node_downs: 2,
                node_ups: 300,
                checks_passed: 14_000,
                services_healthy: 2_000,
                unknown: 1_500,
                mean_step_ms: 173,
            },
        }
    }
}

/// The bands of `0..PER` each kind of event takes, and the caps on what runs
/// at once.
#[derive(Clone, Copy)]
struct Mix {
    failure_starts: u64,
    /// Steps of an open failure episode (further failures, then the recovery).
    failure_steps: u64,
    max_episodes: usize,
    deploy_starts: u64,
    /// Steps of a running deployment (its stages, then success or failure).
    deploy_steps: u64,
    max_deploys: usize,
    node_downs: u64,
    node_ups: u64,
    checks_passed: u64,
    services_healthy: u64,
    unknown: u64,
    /// Mean time between two events.
    mean_step_ms: u64,
}

/// 2026-05-01T00:00:00Z, in milliseconds since the epoch.
const START_MS: i64 = 1_777_593_600_000;

struct Service {
    node: usize,
    name: &'static str,
    failing: bool,
}

struct Episode {
    service: usize,
    failures_left: u32,
}

struct Deploy {
    id: String,
    service: usize,
    next_stage: usize,
    /// The stage that fails, if this run fails.
    fails_at: Option<usize>,
    failed: bool,
}

/// The iterator behind [`generate`].
pub struct Generator {
    rng: Rng,
    spec: Spec,
    mix: Mix,
    produced: u64,
    singles: u64,
    now_ms: i64,
    sequence: u64,
    nodes_down: Vec<bool>,
    /// The node whose heartbeat came last.
    last_heartbeat: usize,
    services: Vec<Service>,
    episodes: Vec<Episode>,
    deploys: Vec<Deploy>,
    /// A line to send again (a producer's retry of an event with an `id`).
    retry: Option<Generated>,
}

impl Generator {
    fn new(spec: &Spec) -> Generator {
        let mut rng = Rng(spec.seed ^ 0x6f62_7365_7276_6572);
        let mut services = Vec::new();
        for node in 0..NODE_NAMES.len() {
            let count = 3 + rng.below(6) as usize;
            let first = rng.below(SERVICE_NAMES.len() as u64) as usize;
            for k in 0..count {
                let name = SERVICE_NAMES[(first + k * 5) % SERVICE_NAMES.len()];
                services.push(Service { node, name, failing: false });
            }
        }
        Generator {
            rng,
            spec: Spec { producers: spec.producers.max(1), ..spec.clone() },
            mix: spec.shape.mix(),
            produced: 0,
            singles: 0,
            now_ms: START_MS,
            sequence: 0,
            nodes_down: vec![false; NODE_NAMES.len()],
            last_heartbeat: 0,
            services,
            episodes: Vec::new(),
            deploys: Vec::new(),
            retry: None,
        }
    }

    fn event(&mut self) -> Generated {
        let mix = self.mix;
        self.now_ms += 1 + self.rng.below(2 * mix.mean_step_ms) as i64;
        self.sequence += 1;
        let roll = self.rng.below(PER);
        let mut edge = 0;
        // Each kind of event takes its band of `0..PER`; a roll in a band
        // whose precondition fails becomes a heartbeat.
        let mut within = |width: u64| {
            let hit = (edge..edge + width).contains(&roll);
            edge += width;
            hit
        };
        let mut e = Draft::default();
        if within(mix.failure_starts) && self.episodes.len() < mix.max_episodes {
            self.start_failure(&mut e);
        } else if within(mix.failure_steps) && !self.episodes.is_empty() {
            self.continue_failure(&mut e);
        } else if within(mix.deploy_starts) && self.deploys.len() < mix.max_deploys {
            self.start_deploy(&mut e);
        } else if within(mix.deploy_steps) && !self.deploys.is_empty() {
            self.continue_deploy(&mut e);
        } else if within(mix.node_downs) && !self.nodes_down.contains(&true) {
            let node = self.rng.below(NODE_NAMES.len() as u64) as usize;
            self.nodes_down[node] = true;
            e.node(node, "node_down").severity = Some("critical");
            e.message = Some("no answer to ping");
        } else if within(mix.node_ups) && self.nodes_down.contains(&true) {
            let down: Vec<usize> = (0..NODE_NAMES.len()).filter(|n| self.nodes_down[*n]).collect();
            let node = *self.rng.pick(&down);
            self.nodes_down[node] = false;
            e.node(node, "node_up").severity = Some("info");
        } else if within(mix.checks_passed) {
            let service = self.healthy_service();
            e.service(&self.services, service, "healthcheck_passed").payload =
                Some(format!(r#"{{"check":"http","latency_ms":{}}}"#, 2 + self.rng.below(180)));
        } else if within(mix.services_healthy) {
            let service = self.healthy_service();
            e.service(&self.services, service, "service_healthy").severity = Some("info");
        } else if within(mix.unknown) {
            let node = self.rng.below(NODE_NAMES.len() as u64) as usize;
            let kind = *self.rng.pick(&UNKNOWN_TYPES);
            e.node(node, kind).severity = Some(if self.rng.below(10) == 0 { "warning" } else { "info" });
            e.payload = Some(format!(r#"{{"bytes":{},"note":"scheduled"}}"#, self.rng.below(1 << 40)));
        } else {
            self.heartbeat(&mut e);
        }
        let node = e.node.unwrap_or(0);
        let with_id = self.rng.below(100) < 3;
        let file = if self.singles < self.spec.single_files
            && u128::from(self.produced) * u128::from(self.spec.single_files)
                >= u128::from(self.singles) * u128::from(self.spec.events)
        {
            self.singles += 1;
            format!("inbox/event-{:07}.json", self.singles)
        } else {
            producer_file(node % self.spec.producers)
        };
        // Producers differ: some write milliseconds, the others whole seconds.
        let ts = format_ts(self.now_ms, node % self.spec.producers % 3 == 1);
        let id = with_id.then(|| format!("{}-{:x}-{}", NODE_NAMES[node], self.spec.seed, self.sequence));
        let line = e.render(&ts, id.as_deref());
        let event = Generated { file, line };
        if id.is_some() && !event.file.ends_with(".json") && self.rng.below(20) == 0 {
            self.retry = Some(event.clone());
        }
        event
    }

    fn heartbeat(&mut self, e: &mut Draft) {
        // Nodes that are up take turns, as periodic heartbeats do (about
        // every 100 s each), so only a node that is down goes stale.
        let mut node = self.last_heartbeat;
        for _ in 0..NODE_NAMES.len() {
            node = (node + 1) % NODE_NAMES.len();
            if !self.nodes_down[node] {
                break;
            }
        }
        self.last_heartbeat = node;
        e.node(node, "heartbeat");
        if self.rng.below(2) == 0 {
            e.severity = Some("info");
        }
        e.payload = Some(format!(
            r#"{{"uptime_s":{},"load1":{}.{:02}}}"#,
            self.rng.below(5_000_000),
            self.rng.below(4),
            self.rng.below(100)
        ));
    }

    fn healthy_service(&mut self) -> usize {
        let mut service = self.rng.below(self.services.len() as u64) as usize;
        while self.services[service].failing {
            service = (service + 1) % self.services.len();
        }
        service
    }

    fn start_failure(&mut self, e: &mut Draft) {
        let service = self.healthy_service();
        self.services[service].failing = true;
        self.episodes.push(Episode { service, failures_left: self.rng.below(6) as u32 });
        e.service(&self.services, service, "service_unhealthy");
        e.severity = Some(*self.rng.pick(&["warning", "error", "error", "critical"]));
        e.correlation_id = Some(format!("hc-{}", self.sequence));
        e.message = Some(*self.rng.pick(&FAILURE_MESSAGES));
    }

    fn continue_failure(&mut self, e: &mut Draft) {
        let at = self.rng.below(self.episodes.len() as u64) as usize;
        let service = self.episodes[at].service;
        if self.episodes[at].failures_left > 0 {
            self.episodes[at].failures_left -= 1;
            let kind = if self.rng.below(3) == 0 { "service_unhealthy" } else { "healthcheck_failed" };
            e.service(&self.services, service, kind);
            e.severity = Some(*self.rng.pick(&["warning", "error", "error", "critical"]));
            if self.rng.below(2) == 0 {
                e.correlation_id = Some(format!("hc-{}", self.sequence));
            }
            e.message = Some(*self.rng.pick(&FAILURE_MESSAGES));
        } else {
            self.episodes.swap_remove(at);
            self.services[service].failing = false;
            e.service(&self.services, service, "service_recovered").severity = Some("info");
            e.message = Some("check passing again");
        }
    }

    fn start_deploy(&mut self, e: &mut Draft) {
        let service = self.rng.below(self.services.len() as u64) as usize;
        let id = format!("deploy-{:x}-{}", self.spec.seed, self.sequence);
        let fails_at = (self.rng.below(6) == 0).then(|| self.rng.below(STAGES.len() as u64) as usize);
        e.service(&self.services, service, "deployment_started");
        e.correlation_id = Some(id.clone());
        e.payload =
            Some(format!(r#"{{"version":"1.{}.{}","trigger":"push"}}"#, self.rng.below(40), self.rng.below(10)));
        self.deploys.push(Deploy { id, service, next_stage: 0, fails_at, failed: false });
    }

    fn continue_deploy(&mut self, e: &mut Draft) {
        let at = self.rng.below(self.deploys.len() as u64) as usize;
        let deploy = &mut self.deploys[at];
        let (service, stage, id) = (deploy.service, deploy.next_stage, deploy.id.clone());
        if stage < STAGES.len() && !deploy.failed {
            deploy.next_stage += 1;
            deploy.failed = deploy.fails_at == Some(stage);
            let status = if deploy.failed { "failed" } else { "completed" };
            e.service(&self.services, service, "deployment_stage");
            e.payload = Some(format!(r#"{{"stage":"{}","status":"{status}"}}"#, STAGES[stage]));
        } else if deploy.failed {
            self.deploys.swap_remove(at);
            e.service(&self.services, service, "deployment_failed").severity = Some("error");
            e.message = Some("stage failed");
            e.payload = Some(format!(r#"{{"diagnostics":["deploy/{id}.log"]}}"#));
        } else {
            self.deploys.swap_remove(at);
            e.service(&self.services, service, "deployment_succeeded").severity = Some("info");
        }
        e.correlation_id = Some(id);
    }
}

impl Iterator for Generator {
    type Item = Generated;

    fn next(&mut self) -> Option<Generated> {
        if self.produced >= self.spec.events {
            return None;
        }
        self.produced += 1;
        Some(match self.retry.take() {
            Some(again) => again,
            None => self.event(),
        })
    }
}

/// An event being put together.
#[derive(Default)]
struct Draft {
    kind: &'static str,
    node: Option<usize>,
    service: Option<&'static str>,
    correlation_id: Option<String>,
    severity: Option<&'static str>,
    message: Option<&'static str>,
    payload: Option<String>,
}

impl Draft {
    fn node(&mut self, node: usize, kind: &'static str) -> &mut Draft {
        self.kind = kind;
        self.node = Some(node);
        self
    }

    fn service(&mut self, services: &[Service], service: usize, kind: &'static str) -> &mut Draft {
        self.node(services[service].node, kind);
        self.service = Some(services[service].name);
        self
    }

    /// Field order is what producers usually write; absent fields are left out.
    fn render(&self, ts: &str, id: Option<&str>) -> String {
        let mut line = format!(r#"{{"ts":"{ts}","type":"{}""#, self.kind);
        let mut field = |name: &str, value: Option<&str>| {
            if let Some(value) = value {
                line.push_str(&format!(r#","{name}":"{value}""#));
            }
        };
        field("node", self.node.map(|n| NODE_NAMES[n]));
        field("service", self.service);
        field("correlation_id", self.correlation_id.as_deref());
        field("severity", self.severity);
        field("message", self.message);
        field("id", id);
        if let Some(payload) = &self.payload {
            line.push_str(&format!(r#","payload":{payload}"#));
        }
        line.push_str("}\n");
        line
    }
}

/// RFC 3339 in UTC with `Z`, with or without milliseconds.
fn format_ts(ms: i64, millis: bool) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (rest / 3600, rest / 60 % 60, rest % 60);
    if millis {
        format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{:03}Z", ms.rem_euclid(1000))
    } else {
        format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
    }
}
