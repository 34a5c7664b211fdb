//! Delivery properties of issue 12 (SPEC §6), judged from what real
//! receivers recorded and from `world/alerts.json` after the last run:
//!
//! a. for every key, the notifications a channel got (copies with the same
//!    id dropped, as receivers do) read `firing`, then `reminder`s, then
//!    `resolved`, per episode, and never `resolved` without a `firing`;
//! b. after the last run, every page open at a receiver belongs to an alert
//!    that fires, and every firing, notified, unsuppressed alert has its
//!    page open at each channel.
//!
//! A history is random events from several producers (nodes up, down and
//! silent, services unhealthy and recovered, maintenance windows), split
//! into runs at random engine times (the ticks); runs are killed with
//! SIGKILL at a random instant or aborted in the middle of a delivery round
//! (sent, not yet in the ledger), `notify` rounds are killed too, the
//! receivers fail for a while (503, a hang-up, a hook that exits 1) and
//! recover, and sometimes the world is rebuilt, once with a config that
//! removes a rule. At the end the receivers are healthy, a run ticks far
//! ahead (every cooldown over) and a few `notify` rounds later on the wall
//! clock make every retry due.
//!
//! The receivers are an `observer` webhook on loopback (`receivers::Server`)
//! and a `hook` script that appends its stdin to a file.
//!
//! The checker ([`check_channel`]) is a function of one channel's received
//! notifications in order, so a new kind (an escalation, an ack) is one more
//! arm there and one more producer in [`event_gen`].
//!
//! `OBSERVER_DELIVERY_CASES` sets the number of cases (quick 8, long mode
//! `OBSERVER_LONG_TESTS=1` 150).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use proptest::prelude::*;
use serde_json::{Value, json};

use crate::receivers::Server;
use crate::support::{Ev, Homelab, long_mode_value};

const NODES: [&str; 2] = ["saturn", "venus"];
const SERVICES: [&str; 2] = ["mosquitto", "grafana"];
const PRODUCERS: [&str; 3] = ["events/p0.jsonl", "events/nested/p1.jsonl", "events/p2.ndjson"];
/// 2026-05-12T10:00:00Z: engine second 0 of every history.
const BASE_S: i64 = 1_778_580_000;

/// One notification as a receiver got it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    pub id: String,
    pub kind: String,
    pub key: String,
}

impl Received {
    fn from_json(n: &Value) -> Option<Received> {
        Some(Received {
            id: n["id"].as_str()?.to_string(),
            kind: n["kind"].as_str()?.to_string(),
            key: n["key"].as_str()?.to_string(),
        })
    }

    /// `<key>@<unix seconds the episode fired>` of the id
    /// `<key>@<fired>:<kind>:<n>`.
    fn episode(&self) -> &str {
        let after_key = self.id.get(self.key.len() + 1..).unwrap_or("");
        let fired = after_key.split_once(':').map_or(after_key, |(fired, _)| fired);
        &self.id[..(self.key.len() + 1 + fired.len()).min(self.id.len())]
    }
}

/// The notifications in the order of their first copy: receivers drop a
/// copy by its id.
pub fn dedup(received: &[Received]) -> Vec<Received> {
    let mut seen = HashSet::new();
    received.iter().filter(|r| seen.insert(r.id.clone())).cloned().collect()
}

/// Property a, on one channel: per key, `firing`, `reminder`s of that
/// episode, its `resolved`, and again. Returns the pages left open, by key
/// (the episode's newest notification), for property b.
pub fn check_channel(channel: &str, received: &[Received]) -> Result<BTreeMap<String, Received>, String> {
    let mut open: BTreeMap<String, Received> = BTreeMap::new();
    for (i, n) in dedup(received).into_iter().enumerate() {
        let at = |problem: String| format!("channel {channel}, notification #{i} {}: {problem}", n.id);
        let page = open.get(&n.key);
        match (n.kind.as_str(), page) {
            ("budget_exhausted", _) => continue,
            ("firing", None) => {}
            ("firing", Some(page)) => return Err(at(format!("a firing while the page {} is still open", page.id))),
            ("reminder" | "resolved", None) => return Err(at(format!("a {} with no page open", n.kind))),
            ("reminder" | "resolved", Some(page)) if page.episode() != n.episode() => {
                return Err(at(format!("a {} of another episode than the open page {}", n.kind, page.id)));
            }
            ("reminder" | "resolved", Some(_)) => {}
            (other, _) => return Err(at(format!("a kind the checker does not know: {other:?}"))),
        }
        if n.kind == "resolved" {
            open.remove(&n.key);
        } else {
            open.insert(n.key.clone(), n);
        }
    }
    Ok(open)
}

/// Property b, for one channel: `open` (from [`check_channel`]) against
/// the alerts of `world/alerts.json`.
///
/// One exception, by SPEC §6: while a service flaps, its
/// `service_unhealthy` / `service_degraded` pages stay as receivers last got
/// them (the `flapping` alert speaks for the service), so such a page may be
/// open while its alert no longer fires, as long as the service's `flapping`
/// alert fires; it is brought in line when flapping ends.
pub fn check_convergence(channel: &str, open: &BTreeMap<String, Received>, alerts: &Value) -> Result<(), String> {
    let flapping = |key: &str| {
        let Some((rule, subject)) = key.split_once(':') else { return false };
        matches!(rule, "service_unhealthy" | "service_degraded")
            && alerts[format!("flapping:{subject}").as_str()]["status"] == "firing"
    };
    for (key, page) in open {
        let status = alerts[key.as_str()]["status"].as_str().unwrap_or("absent");
        if status != "firing" && !flapping(key) {
            return Err(format!("channel {channel}: the page {} is open but its alert is {status}", page.id));
        }
    }
    for (key, alert) in alerts.as_object().into_iter().flatten() {
        let notified = matches!(alert["last_notification"]["kind"].as_str(), Some("firing" | "reminder"));
        if alert["status"] == "firing" && alert["suppressed_by"].is_null() && notified && !open.contains_key(key) {
            let last = &alert["last_notification"]["id"];
            return Err(format!("channel {channel}: {key} fires, notified ({last}), but no page is open there"));
        }
    }
    Ok(())
}

#[derive(Clone, Debug)]
struct Gen {
    producer: u8,
    kind: u8,
    node: u8,
    service: u8,
    /// Seconds after the previous event.
    dt: u8,
}

/// How the receivers answer during a step.
#[derive(Clone, Copy, Debug)]
enum Mood {
    Healthy,
    /// The webhook answers 503.
    Unavailable,
    /// The webhook hangs up without an answer.
    HangUp,
    /// The hook exits 1.
    HookFails,
    /// Both fail.
    AllFail,
}

/// How a step's first command is interrupted.
#[derive(Clone, Copy, Debug)]
enum Interrupt {
    None,
    /// `run` gets SIGKILL after this many microseconds.
    KillRun(u32),
    /// `run` aborts at its n-th send, sent but not yet in the ledger.
    AbortAtSend(u8),
    /// `notify` gets SIGKILL after this many microseconds.
    KillNotify(u32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rebuild {
    None,
    Same,
    /// With `service_unhealthy` disabled from then on.
    WithoutRule,
}

#[derive(Clone, Debug)]
struct Step {
    events: Vec<Gen>,
    /// Idle engine seconds between the last event and the step's tick.
    idle: u16,
    mood: Mood,
    interrupt: Interrupt,
    rebuild: Rebuild,
}

fn event_gen() -> impl Strategy<Value = Gen> {
    (0u8..3, 0u8..10, 0u8..2, 0u8..2, 0u8..90).prop_map(|(producer, kind, node, service, dt)| Gen {
        producer,
        kind,
        node,
        service,
        dt,
    })
}

fn step() -> impl Strategy<Value = Step> {
    let mood = prop_oneof![
        3 => Just(Mood::Healthy),
        1 => Just(Mood::Unavailable),
        1 => Just(Mood::HangUp),
        1 => Just(Mood::HookFails),
        1 => Just(Mood::AllFail),
    ];
    let interrupt = prop_oneof![
        2 => Just(Interrupt::None),
        1 => (0u32..60_000).prop_map(Interrupt::KillRun),
        1 => (1u8..4).prop_map(Interrupt::AbortAtSend),
        1 => (0u32..40_000).prop_map(Interrupt::KillNotify),
    ];
    let rebuild = prop_oneof![6 => Just(Rebuild::None), 1 => Just(Rebuild::Same), 1 => Just(Rebuild::WithoutRule)];
    (prop::collection::vec(event_gen(), 0..12), 0u16..700, mood, interrupt, rebuild)
        .prop_map(|(events, idle, mood, interrupt, rebuild)| Step { events, idle, mood, interrupt, rebuild })
}

fn ts(second: i64) -> String {
    chrono::DateTime::from_timestamp(BASE_S + second, 0).unwrap().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn render(g: &Gen, second: i64) -> String {
    let node = NODES[g.node as usize];
    let service = SERVICES[g.service as usize];
    let at = |kind: &str| Ev::new(&ts(second), kind);
    let event = match g.kind {
        0..=2 => at("heartbeat").node(node),
        3 => at("node_down").node(node),
        4 => at("service_unhealthy").node(node).service(service).severity(["error", "critical"][g.dt as usize % 2]),
        5 | 6 => at("service_recovered").node(node).service(service),
        7 => {
            let until = second + 60 + i64::from(g.dt) * 5;
            let started = at("maintenance_started").node(node);
            let started = if g.dt.is_multiple_of(2) { started.service(service) } else { started };
            started.payload(json!({"until": ts(until), "reason": "planned"}))
        }
        8 => at("maintenance_ended").node(node),
        _ => at("heartbeat").node(node),
    };
    event.line()
}

/// A homelab with both receivers, and the switches that make them fail.
struct Stage {
    lab: Homelab,
    server: Server,
    web_mood: Arc<AtomicU8>,
    hook_log: std::path::PathBuf,
    hook_fails: std::path::PathBuf,
    hook: std::path::PathBuf,
}

impl Stage {
    fn new() -> Stage {
        let lab = Homelab::new();
        let web_mood = Arc::new(AtomicU8::new(0));
        let mood = Arc::clone(&web_mood);
        let server = Server::start(Box::new(move |_| {
            let status = match mood.load(Ordering::SeqCst) {
                1 => 503,
                2 => 0,
                _ => 200,
            };
            (status, Duration::ZERO)
        }));
        let hook_log = lab.path("hook.log");
        let hook_fails = lab.path("hook-fails");
        let hook = lab.path("hook.sh");
        lab.write(
            "hook.sh",
            &format!(
                "#!/bin/sh\nbody=$(cat)\n[ -e '{}' ] && exit 1\nprintf '%s\\n' \"$body\" >> '{}'\n",
                hook_fails.display(),
                hook_log.display()
            ),
        );
        std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let stage = Stage { lab, server, web_mood, hook_log, hook_fails, hook };
        stage.configure(false);
        stage
    }

    fn configure(&self, without_rule: bool) {
        let rules = if without_rule { "  rules:\n    service_unhealthy: {enabled: false}\n" } else { "" };
        self.lab.write(
            "observer.yaml",
            &format!(
                "alerts:\n  cooldown_s: 60\n  ttl_s: 240\n{rules}notify:\n  give_up_after_s: 100000000\n  parallel: 2\n  \
                 channels:\n    - name: web\n      webhook: \"{}\"\n    - name: phone\n      hook: [\"{}\"]\n      \
                 timeout_s: 5\n",
                self.server.url,
                self.hook.display()
            ),
        );
    }

    fn set_mood(&self, mood: Mood) {
        let (web, hook_fails) = match mood {
            Mood::Healthy => (0, false),
            Mood::Unavailable => (1, false),
            Mood::HangUp => (2, false),
            Mood::HookFails => (0, true),
            Mood::AllFail => (1, true),
        };
        self.web_mood.store(web, Ordering::SeqCst);
        if hook_fails {
            std::fs::write(&self.hook_fails, "").unwrap();
        } else {
            let _ = std::fs::remove_file(&self.hook_fails);
        }
    }

    /// `observer ARGS` at engine/wall second `now`, expected to succeed.
    ///
    /// Right after a process was killed, the state lock may still be held
    /// for a moment (exit 75) by a hook it was starting: the child holds the
    /// lock's descriptor from its fork until its exec closes it. That is
    /// waited out, for up to 10 s.
    fn command(&self, args: &[&str], now: i64) {
        let mut tries = 0;
        let out = loop {
            let out = self.lab.observer(args).env("OBSERVER_NOW", &ts(now)).run();
            tries += 1;
            if out.code != Some(75) || tries == 100 {
                break out;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        assert_eq!(out.code, Some(0), "{args:?} at {}: {}\n{}", ts(now), out.stdout, out.stderr);
    }

    fn killed(&self, args: &[&str], now: i64, after_us: u32) {
        let mut child = self.lab.spawn(args, &[("OBSERVER_NOW", ts(now).as_str())]);
        std::thread::sleep(Duration::from_micros(u64::from(after_us)));
        let _ = child.kill();
        let _ = child.wait();
    }

    /// What each channel got, in order of arrival.
    fn received(&self) -> Vec<(&'static str, Vec<Received>)> {
        let web = self.server.accepted().iter().filter_map(|r| Received::from_json(&r.json())).collect();
        let text = std::fs::read_to_string(&self.hook_log).unwrap_or_default();
        // A line a killed run left half written is no delivery: skipped.
        let phone = text
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter_map(|n| Received::from_json(&n))
            .collect();
        vec![("web", web), ("phone", phone)]
    }
}

fn play(steps: Vec<Step>) {
    let stage = Stage::new();
    let mut second: i64 = 0;
    let mut without_rule = false;
    for step in &steps {
        let mut texts: [String; 3] = Default::default();
        for g in &step.events {
            second += 1 + i64::from(g.dt);
            texts[g.producer as usize] += &render(g, second);
        }
        for (producer, text) in texts.iter().enumerate() {
            if !text.is_empty() {
                stage.lab.append(PRODUCERS[producer], text);
            }
        }
        second += 1 + i64::from(step.idle);
        stage.set_mood(step.mood);
        match step.interrupt {
            Interrupt::None => {}
            Interrupt::KillRun(us) => stage.killed(&["run"], second, us),
            Interrupt::AbortAtSend(n) => {
                let crash = format!("notify-sent:{n}");
                let out = stage
                    .lab
                    .observer(["run"])
                    .env("OBSERVER_NOW", &ts(second))
                    .env("OBSERVER_TEST_CRASH_AT", &crash)
                    .run();
                assert_ne!(out.code, Some(1), "an abort is not an orderly failure: {}", out.stderr);
            }
            Interrupt::KillNotify(us) => {
                stage.command(&["run"], second);
                stage.killed(&["notify"], second, us);
            }
        }
        stage.command(&["run"], second);
        if step.rebuild != Rebuild::None {
            without_rule |= step.rebuild == Rebuild::WithoutRule;
            stage.configure(without_rule);
            stage.command(&["rebuild"], second);
            stage.command(&["notify"], second);
        }
    }
    // The receivers recover; a run ticks past every cooldown, and rounds
    // later on the wall clock find every retry due.
    stage.set_mood(Mood::Healthy);
    second += 900;
    stage.command(&["run"], second);
    for round in 1..=3 {
        stage.command(&["notify"], second + round * 660);
    }

    let alerts = stage.lab.json("world/alerts.json")["alerts"].clone();
    for (channel, received) in stage.received() {
        let open = check_channel(channel, &received).unwrap_or_else(|problem| {
            panic!("{problem}\nreceived: {:#?}", dedup(&received).iter().map(|r| &r.id).collect::<Vec<_>>())
        });
        if let Err(problem) = check_convergence(channel, &open, &alerts) {
            panic!("{problem}\nopen pages: {open:#?}\nalerts: {alerts:#}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: long_mode_value("OBSERVER_DELIVERY_CASES", 8, 150),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn receivers_see_each_episode_in_order_and_converge_to_the_alerts_that_fire(
        steps in prop::collection::vec(step(), 1..7)
    ) {
        play(steps);
    }
}

#[test]
fn the_checker_names_each_broken_sequence() {
    let n =
        |id: &str, kind: &str| Received { id: id.into(), kind: kind.into(), key: id.split('@').next().unwrap().into() };
    let ok = [
        n("node_down:venus@10:firing:1", "firing"),
        n("node_down:venus@10:firing:1", "firing"),
        n("node_down:venus@10:reminder:1", "reminder"),
        n("node_down:venus@10:resolved:1", "resolved"),
        n("node_down:venus@90:firing:1", "firing"),
    ];
    let open = check_channel("web", &ok).unwrap();
    assert_eq!(open.keys().collect::<Vec<_>>(), ["node_down:venus"]);
    let resolved_first = [n("node_down:venus@10:resolved:1", "resolved")];
    assert!(check_channel("web", &resolved_first).unwrap_err().contains("a resolved with no page open"));
    let twice = [n("node_down:venus@10:firing:1", "firing"), n("node_down:venus@90:firing:1", "firing")];
    assert!(check_channel("web", &twice).unwrap_err().contains("while the page node_down:venus@10:firing:1"));
    let other = [n("node_down:venus@10:firing:1", "firing"), n("node_down:venus@90:resolved:1", "resolved")];
    assert!(check_channel("web", &other).unwrap_err().contains("another episode"));

    let alerts = json!({"node_down:venus": {"status": "resolved"}});
    assert!(check_convergence("web", &open, &alerts).unwrap_err().contains("its alert is resolved"));
    let flaps = [n("service_unhealthy:venus/mqtt@10:firing:1", "firing")];
    let flaps = check_channel("web", &flaps).unwrap();
    let resolved = json!({"service_unhealthy:venus/mqtt": {"status": "resolved"}});
    assert!(check_convergence("web", &flaps, &resolved).is_err());
    let frozen = json!({"service_unhealthy:venus/mqtt": {"status": "resolved"},
        "flapping:venus/mqtt": {"status": "firing", "suppressed_by": null, "last_notification": null}});
    check_convergence("web", &flaps, &frozen).unwrap();
    let firing = json!({"node_down:mars": {"status": "firing", "suppressed_by": null,
        "last_notification": {"id": "node_down:mars@5:firing:1", "kind": "firing"}}});
    assert!(check_convergence("web", &BTreeMap::new(), &firing).unwrap_err().contains("no page is open"));
}
