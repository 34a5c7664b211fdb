//! Delivery with real receivers on loopback: a scripted HTTP server and
//! hook scripts in the temp dir. Outboxes, `world/alerts.json` and rebuilt
//! outboxes are written by hand; time moves with `OBSERVER_NOW`, 11 minutes
//! a round, past the longest backoff (10 minutes), so every retry is due.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::receivers::{Request, Server, notification, outbox};
use crate::support::{BIN, Homelab, Outcome};

/// `observer notify` at `round` × 11 minutes after 13:00.
fn notify_round(lab: &Homelab, round: u32) -> Outcome {
    let now = chrono::DateTime::from_timestamp(1_778_590_800 + i64::from(round) * 660, 0).unwrap();
    lab.observer(["notify"]).env("OBSERVER_NOW", &now.to_rfc3339()).run().success()
}

fn webhook_config(lab: &Homelab, url: &str, format: &str, extra: &str) {
    lab.write(
        "observer.yaml",
        &format!("notify:\n  parallel: 4\n  channels:\n    - name: web\n      webhook: \"{url}\"\n      format: {format}\n{extra}"),
    );
}

fn ledger(lab: &Homelab) -> Vec<serde_json::Value> {
    lab.read("state/deliveries.jsonl").lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn ids(requests: &[Request]) -> Vec<String> {
    requests.iter().map(|r| r.header("idempotency-key").unwrap().to_string()).collect()
}

#[test]
fn a_flaky_webhook_gets_every_notification_once_in_order_per_key() {
    let lab = Homelab::new();
    // 503 three times, then 429, then accepts.
    let server = Server::start(Box::new(|n| {
        (
            if n < 3 {
                503
            } else if n == 3 {
                429
            } else {
                200
            },
            Duration::ZERO,
        )
    }));
    webhook_config(&lab, &server.url, "observer", "");
    let sent = [
        notification("node_down:venus", "firing", 0, 0),
        notification("service_unhealthy:saturn/mosquitto", "firing", 1, 1),
        notification("node_down:venus", "resolved", 0, 5),
        notification("service_unhealthy:saturn/mosquitto", "resolved", 1, 7),
        notification("node_down:venus", "firing", 9, 9),
    ];
    lab.commit_outbox(&outbox(&sent));
    for round in 0..8 {
        notify_round(&lab, round);
    }
    let accepted = server.accepted();
    let expected: Vec<String> = sent.iter().map(|n| n["id"].as_str().unwrap().to_string()).collect();
    let mut got = ids(&accepted);
    got.sort();
    let mut want = expected.clone();
    want.sort();
    assert_eq!(got, want, "each notification delivered exactly once");
    for request in server.requests() {
        assert_eq!(request.json()["id"].as_str(), request.header("idempotency-key"), "the key is the body's id");
    }
    // Per key, the requests (failed ones too) follow the outbox order.
    let mut per_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for request in server.requests() {
        let body = request.json();
        let ids = per_key.entry(body["key"].as_str().unwrap().to_string()).or_default();
        let id = body["id"].as_str().unwrap().to_string();
        if ids.last() != Some(&id) {
            ids.push(id);
        }
    }
    for (key, ids) in per_key {
        let order: Vec<&String> = expected.iter().filter(|id| id.starts_with(&format!("{key}@"))).collect();
        assert_eq!(ids.iter().collect::<Vec<_>>(), order, "order for {key}");
    }
    let outcomes: Vec<String> = ledger(&lab).iter().map(|a| a["outcome"].as_str().unwrap().to_string()).collect();
    assert_eq!(outcomes.iter().filter(|o| *o == "delivered").count(), 5);
    assert_eq!(outcomes.iter().filter(|o| *o == "retry").count(), 4, "{outcomes:?}");
    // Nothing more is due: another round sends nothing.
    let before = server.requests().len();
    notify_round(&lab, 9).stdout_has("0 attempts");
    assert_eq!(server.requests().len(), before);
}

#[test]
fn a_400_is_dead_lettered_never_retried_and_status_shows_it() {
    let lab = Homelab::new();
    lab.run();
    let server = Server::always(400);
    webhook_config(&lab, &server.url, "observer", "");
    lab.commit_outbox(&outbox(&[notification("node_down:venus", "firing", 0, 0)]));
    notify_round(&lab, 0).stdout_has("web node_down:venus@1778580000:firing:1: dead-lettered (HTTP 400: no)");
    notify_round(&lab, 1);
    assert_eq!(server.requests().len(), 1);
    lab.observer(["status"])
        .run()
        .success()
        .stdout_has("dead letters: 1 (newest: node_down:venus@1778580000:firing:1 on web: HTTP 400: no; see ");
}

#[test]
fn retries_give_up_after_give_up_after_s() {
    let lab = Homelab::new();
    let server = Server::always(503);
    webhook_config(&lab, &server.url, "observer", "");
    lab.append("observer.yaml", "  give_up_after_s: 1200\n");
    lab.commit_outbox(&outbox(&[notification("node_down:venus", "firing", 0, 0)]));
    for round in 0..4 {
        notify_round(&lab, round);
    }
    let outcomes: Vec<String> = ledger(&lab).iter().map(|a| a["outcome"].as_str().unwrap().to_string()).collect();
    assert_eq!(outcomes, ["retry", "retry", "dead_letter"]);
    assert!(ledger(&lab)[2]["error"].as_str().unwrap().ends_with("given up after 1200s"));
}

#[test]
fn alertmanager_and_ntfy_formats() {
    let lab = Homelab::new();
    let server = Server::always(200);
    webhook_config(&lab, &server.url, "alertmanager", "");
    lab.commit_outbox(&outbox(&[
        notification("service_unhealthy:saturn/mosquitto", "firing", 0, 0),
        notification("service_unhealthy:saturn/mosquitto", "resolved", 0, 5),
    ]));
    notify_round(&lab, 0);
    let bodies: Vec<serde_json::Value> = server.accepted().iter().map(Request::json).collect();
    assert_eq!(bodies.len(), 2);
    let firing = &bodies[0];
    assert_eq!(firing["version"], "4");
    assert_eq!(firing["receiver"], "web");
    assert_eq!(firing["status"], "firing");
    assert_eq!(firing["truncatedAlerts"], 0);
    let alert = &firing["alerts"][0];
    assert_eq!(alert["labels"]["alertname"], "service_unhealthy");
    assert_eq!(alert["labels"]["node"], "saturn");
    assert_eq!(alert["labels"]["service"], "mosquitto");
    assert_eq!(alert["labels"]["severity"], "error");
    assert_eq!(alert["startsAt"], "2026-05-12T10:00:00Z");
    assert_eq!(alert["annotations"]["summary"], "service_unhealthy:saturn/mosquitto is firing");
    assert_eq!(bodies[1]["status"], "resolved");
    assert_eq!(bodies[1]["alerts"][0]["endsAt"], "2026-05-12T10:05:00Z");
    assert_eq!(alert["fingerprint"], bodies[1]["alerts"][0]["fingerprint"]);

    let lab = Homelab::new();
    let server = Server::always(200);
    webhook_config(&lab, &server.url, "ntfy", "");
    lab.commit_outbox(&outbox(&[notification("node_down:venus", "firing", 0, 0)]));
    notify_round(&lab, 0);
    let request = &server.accepted()[0];
    assert_eq!(request.body, "node_down:venus is firing");
    assert_eq!(request.header("title"), Some("[FIRING] node_down:venus"));
    assert_eq!(request.header("priority"), Some("4"));
    assert_eq!(request.header("tags"), Some("rotating_light,error,node_down"));
}

#[test]
fn channel_filters_pass_budget_notices() {
    let lab = Homelab::new();
    let server = Server::always(200);
    webhook_config(&lab, &server.url, "observer", "      min_severity: critical\n");
    let mut budget = notification("budget:notifications", "budget_exhausted", 0, 0);
    budget["id"] = "budget:notifications@1778580000:budget_exhausted:1".into();
    lab.commit_outbox(&outbox(&[notification("node_down:venus", "firing", 0, 0), budget]));
    notify_round(&lab, 0);
    assert_eq!(ids(&server.accepted()), ["budget:notifications@1778580000:budget_exhausted:1"]);
}

/// `hook.sh` holding `script`, executable; its path.
fn hook_script(lab: &Homelab, script: &str) -> std::path::PathBuf {
    lab.write("hook.sh", script);
    let hook = lab.path("hook.sh");
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    hook
}

fn hook_config(lab: &Homelab, script: &str, timeout_s: u32) {
    let hook = hook_script(lab, script);
    lab.write(
        "observer.yaml",
        &format!(
            "notify:\n  channels:\n    - name: phone\n      hook: [\"{}\", \"--flag\"]\n      timeout_s: {timeout_s}\n",
            hook.display()
        ),
    );
}

#[test]
fn a_hook_gets_the_notification_on_stdin_and_its_id_in_the_environment() {
    let lab = Homelab::new();
    let log = lab.path("hook.log");
    hook_config(
        &lab,
        &format!("#!/bin/sh\n{{ echo \"$1 $OBSERVER_NOTIFICATION_ID\"; cat; }} >> '{}'\n", log.display()),
        10,
    );
    let sent = notification("service_unhealthy:saturn/mosquitto", "firing", 0, 0);
    lab.commit_outbox(&outbox(std::slice::from_ref(&sent)));
    notify_round(&lab, 0).stdout_has("phone service_unhealthy:saturn/mosquitto@1778580000:firing:1: delivered");
    let got = lab.read("hook.log");
    let (first, json) = got.split_once('\n').unwrap();
    assert_eq!(first, "--flag service_unhealthy:saturn/mosquitto@1778580000:firing:1");
    // The outbox line was written without `runbook` (as before runbooks
    // existed): it reads, and goes out with a null runbook.
    let mut expected = sent.clone();
    expected["runbook"] = serde_json::Value::Null;
    assert_eq!(serde_json::from_str::<serde_json::Value>(json.trim()).unwrap(), expected);
}

#[test]
fn a_hook_that_hangs_is_killed_with_its_children_at_its_timeout_and_retried() {
    let lab = Homelab::new();
    let marker = lab.path("first-try");
    let child_pid = lab.path("child.pid");
    hook_config(
        &lab,
        &format!(
            "#!/bin/sh\ncat > /dev/null\nif [ ! -e '{m}' ]; then touch '{m}'; sleep 60 & echo $! > '{p}'; wait; fi\nexit 0\n",
            m = marker.display(),
            p = child_pid.display()
        ),
        1,
    );
    lab.commit_outbox(&outbox(&[notification("node_down:venus", "firing", 0, 0)]));
    let started = Instant::now();
    notify_round(&lab, 0).stdout_has("failed, retry at").stdout_has("(timed out after 1s; killed)");
    assert!(started.elapsed() < Duration::from_secs(8), "killed at the timeout: {:?}", started.elapsed());
    let pid = lab.read("child.pid").trim().to_string();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let alive = state.rsplit(") ").next().is_some_and(|rest| !rest.starts_with('Z'));
        if !alive {
            break;
        }
        assert!(Instant::now() < deadline, "the hook's child {pid} outlived the hook");
        std::thread::sleep(Duration::from_millis(50));
    }
    notify_round(&lab, 1).stdout_has("phone node_down:venus@1778580000:firing:1: delivered");
    assert_eq!(ledger(&lab).len(), 2);
}

#[test]
fn kill_9_in_the_middle_of_a_delivery_round_loses_nothing() {
    let lab = Homelab::new();
    // The third request is held long enough for the observer to be killed
    // while it waits for the answer.
    let server = Server::start(Box::new(|n| (200, if n == 2 { Duration::from_secs(3) } else { Duration::ZERO })));
    lab.write(
        "observer.yaml",
        &format!("notify:\n  parallel: 1\n  channels:\n    - name: web\n      webhook: \"{}\"\n", server.url),
    );
    let sent: Vec<serde_json::Value> =
        (0..5).map(|i| notification(&format!("node_down:n{i}"), "firing", i, i)).collect();
    lab.commit_outbox(&outbox(&sent));
    let mut child = std::process::Command::new(BIN)
        .args(["--root", lab.root().to_str().unwrap(), "notify"])
        .env_remove("OBSERVER_CONFIG")
        .env("OBSERVER_NOW", "2026-05-12T13:00:00Z")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..3 {
        server.arrivals.recv_timeout(Duration::from_secs(10)).expect("a request arrives");
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    notify_round(&lab, 1);
    let mut got = ids(&server.accepted());
    got.sort();
    got.dedup();
    let mut want: Vec<String> = sent.iter().map(|n| n["id"].as_str().unwrap().to_string()).collect();
    want.sort();
    assert_eq!(got, want, "every notification delivered at least once");
    for request in server.requests() {
        assert_eq!(request.json()["id"].as_str(), request.header("idempotency-key"));
    }
    let delivered = ledger(&lab).iter().filter(|a| a["outcome"] == "delivered").count();
    assert_eq!(delivered, 5);
}

#[test]
fn run_delivers_after_its_commit_and_a_delivery_failure_is_a_warning() {
    let lab = Homelab::new();
    let server = Server::always(200);
    webhook_config(&lab, &server.url, "observer", "");
    lab.commit_outbox(&outbox(&[notification("node_down:venus", "firing", 0, 0)]));
    lab.run().stdout_has("web node_down:venus@1778580000:firing:1: delivered");
    assert_eq!(server.accepted().len(), 1);

    // The ledger cannot be written: the run still succeeds, and says so.
    lab.commit_outbox(&outbox(&[notification("node_down:mars", "firing", 0, 0)]));
    std::fs::remove_file(lab.path("state/deliveries.jsonl")).unwrap();
    std::fs::create_dir(lab.path("state/deliveries.jsonl")).unwrap();
    lab.run().stderr_has("observer: warning: notifications not delivered: delivery: ");
}

#[test]
fn dry_run_sends_and_writes_nothing_and_test_sends_one() {
    let lab = Homelab::new();
    let server = Server::always(200);
    webhook_config(&lab, &server.url, "observer", "");
    lab.commit_outbox(&outbox(&[notification("node_down:venus", "firing", 0, 0)]));
    lab.observer(["notify", "--dry-run"])
        .run()
        .success()
        .stdout_has("web node_down:venus@1778580000:firing:1: would send");
    assert!(server.requests().is_empty());
    assert!(!lab.path("state/deliveries.jsonl").exists() && !lab.path("state/delivery.json").exists());
    lab.observer(["notify", "--test", "web"]).run().success().stdout_has("web observer_test:web@");
    assert_eq!(server.accepted()[0].json()["rule"], "observer_test");
    assert!(!lab.path("state/deliveries.jsonl").exists(), "a test page is not recorded");
    lab.observer(["notify", "--test", "nope"]).run().code(1).stderr_has("no channel named \"nope\"");
}

#[test]
fn a_crash_between_a_send_and_its_ledger_line_sends_it_again_with_the_same_id() {
    let lab = Homelab::new();
    let server = Server::always(200);
    lab.write(
        "observer.yaml",
        &format!("notify:\n  parallel: 1\n  channels:\n    - name: web\n      webhook: \"{}\"\n", server.url),
    );
    let sent: Vec<serde_json::Value> =
        (0..3).map(|i| notification(&format!("node_down:n{i}"), "firing", i, i)).collect();
    lab.commit_outbox(&outbox(&sent));
    let crashed = lab.observer(["notify"]).env("OBSERVER_TEST_CRASH_AT", "notify-sent:2").run();
    assert_ne!(crashed.code, Some(0), "the process was aborted");
    assert_eq!(ledger(&lab).len(), 1, "the second send is not in the ledger");
    notify_round(&lab, 1);
    let got = ids(&server.accepted());
    assert_eq!(got.len(), 4);
    assert_eq!(got[1], got[2], "the copy carries the same Idempotency-Key");
    assert_eq!(ledger(&lab).iter().filter(|a| a["outcome"] == "delivered").count(), 3);
}

/// A hook program that went away (deleted, on a disk not mounted yet) is a
/// failing channel, not a broken config: the run warns, folds, pages the
/// other channels, and the hook's page is retried until the program is
/// back (review of issue 11's thirty-seventh pass: the run stopped at the
/// config, folding nothing and paging no one). `validate` still counts it.
#[test]
fn a_hook_program_that_went_away_fails_its_channel_not_the_run() {
    let lab = Homelab::new();
    let server = Server::always(200);
    let log = lab.path("hook.log");
    let hook = hook_script(&lab, &format!("#!/bin/sh\ncat >> '{}'\necho >> '{}'\n", log.display(), log.display()));
    lab.write(
        "observer.yaml",
        &format!(
            "notify:\n  channels:\n    - name: phone\n      hook: [\"{}\"]\n    - name: web\n      webhook: \"{}\"\n",
            hook.display(),
            server.url
        ),
    );
    lab.observer(["validate"]).run().success();
    let hidden = lab.path("hook.sh.away");
    std::fs::rename(&hook, &hidden).unwrap();
    lab.observer(["validate"])
        .run()
        .code(1)
        .stdout_has("observer.yaml:4: notify.channels[0].hook: hook program ")
        .stdout_has("hook.sh does not exist");
    lab.append("events/n.jsonl", "{\"ts\":\"2026-05-12T12:00:00Z\",\"type\":\"node_down\",\"node\":\"mars\"}\n");
    lab.run()
        .stderr_has("warning: ")
        .stderr_has("observer.yaml:4: notify.channels[0].hook: hook program ")
        .stderr_has("its deliveries fail and are retried until it can be run")
        .stdout_has("web node_down:mars@1778587200:firing:1: delivered")
        .stdout_has("phone node_down:mars@1778587200:firing:1: failed, retry at");
    assert_eq!(lab.json("world/nodes.json")["nodes"]["mars"]["status"], "down", "the run folded");
    assert_eq!(ids(&server.accepted()), ["node_down:mars@1778587200:firing:1"]);
    // The program is back: the next round delivers the page it missed.
    std::fs::rename(&hidden, &hook).unwrap();
    lab.observer(["notify"])
        .env("OBSERVER_NOW", "2026-05-12T14:00:00Z")
        .run()
        .success()
        .stdout_has("phone node_down:mars@1778587200:firing:1: delivered");
    assert!(lab.read("hook.log").contains("\"id\":\"node_down:mars@1778587200:firing:1\""));
}
