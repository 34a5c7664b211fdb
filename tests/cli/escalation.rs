//! Runbooks, acknowledgement and escalation through the real binary
//! (SPEC §6): two hook channels that append what they get to files, one of
//! them escalating after 600 s; the pages each receives, with their
//! runbooks; `observer ack`; and rebuilds that send nothing again.

use serde_json::Value;

use crate::support::{Ev, Homelab, lines};

const UNHEALTHY: &str = "service_unhealthy:saturn/mosquitto";
const DOWN: &str = "node_down:venus";

/// A hook that appends its stdin, one line per notification, to `<name>.log`.
fn hook(lab: &Homelab, name: &str) -> String {
    let script = format!("{name}.sh");
    let log = lab.path(&format!("{name}.log"));
    lab.write(&script, &format!("#!/bin/sh\n{{ cat; echo; }} >> '{}'\n", log.display()));
    let path = lab.path(&script);
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    path.display().to_string()
}

/// A lab with mosquitto's runbook in the inventory, a rule runbook for
/// `node_down`, a `pager` channel and an `oncall` channel after `after_s`.
fn lab(after_s: u64, extra_rules: &str) -> Homelab {
    let lab = Homelab::new();
    lab.write("inventory/runbooks/mosquitto.md", "# mosquitto\nRestart it.\n");
    lab.write(
        "inventory/hosts/saturn/services.yaml",
        "services:\n  - name: mosquitto\n    runbook: runbooks/mosquitto.md\n  - name: caddy\n",
    );
    write_config(&lab, after_s, extra_rules);
    let inventory = lab.path("inventory").display().to_string();
    lab.with_inventory(&inventory)
}

fn write_config(lab: &Homelab, after_s: u64, extra_rules: &str) {
    let (pager, oncall) = (hook(lab, "pager"), hook(lab, "oncall"));
    lab.write(
        "observer.yaml",
        &format!(
            "alerts:\n  rules:\n    node_stale: {{enabled: false}}\n    \
             node_down: {{runbook: \"https://wiki.lan/node-down\"}}\n{extra_rules}\
             notify:\n  channels:\n    - name: pager\n      hook: [\"{pager}\"]\n    \
             - name: oncall\n      hook: [\"{oncall}\"]\n      after_s: {after_s}\n"
        ),
    );
}

/// What a channel received: `(id, runbook)` per notification.
fn received(lab: &Homelab, channel: &str) -> Vec<(String, Option<String>)> {
    let path = lab.path(&format!("{channel}.log"));
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let n: Value = serde_json::from_str(line).unwrap();
            (n["id"].as_str().unwrap().to_string(), n["runbook"].as_str().map(str::to_string))
        })
        .collect()
}

fn ids(lab: &Homelab, channel: &str) -> Vec<String> {
    received(lab, channel).into_iter().map(|(id, _)| id).collect()
}

fn at(minute: u32) -> String {
    format!("2026-05-12T12:{minute:02}:00Z")
}

fn tick(minute: u32) -> Ev {
    Ev::new(&at(minute), "tick")
}

fn unhealthy(minute: u32) -> Ev {
    Ev::new(&at(minute), "service_unhealthy").node("saturn").service("mosquitto").field("severity", "error")
}

fn recovered(minute: u32) -> Ev {
    Ev::new(&at(minute), "service_recovered").node("saturn").service("mosquitto")
}

/// `<key>@<12:MM as unix seconds>:<kind>:<n>`
fn id(key: &str, minute: i64, kind: &str, n: u64) -> String {
    format!("{key}@{}:{kind}:{n}", 1_778_587_200 + minute * 60)
}

/// An outage of mosquitto longer than 600 s (12:00 to 12:20) and one of
/// venus shorter (12:30 to 12:35), folded in four runs.
fn two_outages(lab: &Homelab) {
    lab.append("events/a.jsonl", &lines(&[unhealthy(0), tick(5)]));
    lab.run();
    lab.append("events/a.jsonl", &lines(&[tick(11)]));
    lab.run();
    lab.append("events/a.jsonl", &lines(&[recovered(20), Ev::new(&at(30), "node_down").node("venus")]));
    lab.run();
    lab.append("events/a.jsonl", &lines(&[Ev::new(&at(35), "node_up").node("venus"), tick(50)]));
    lab.run();
}

#[test]
fn an_escalating_channel_gets_only_outages_longer_than_n_and_a_rebuild_sends_nothing_again() {
    let lab = lab(600, "");
    two_outages(&lab);
    let runbook = Some("runbooks/mosquitto.md".to_string());
    let url = Some("https://wiki.lan/node-down".to_string());
    // Per key, in order (keys are delivered side by side).
    let of = |channel: &str, key: &str| -> Vec<(String, Option<String>)> {
        received(&lab, channel).into_iter().filter(|(id, _)| id.starts_with(&format!("{key}@"))).collect()
    };
    assert_eq!(
        of("pager", UNHEALTHY),
        vec![(id(UNHEALTHY, 0, "firing", 1), runbook.clone()), (id(UNHEALTHY, 0, "resolved", 1), runbook.clone())],
        "the ordinary channel gets every page, never an escalation"
    );
    assert_eq!(of("pager", DOWN), vec![(id(DOWN, 30, "firing", 1), url.clone()), (id(DOWN, 30, "resolved", 1), url)]);
    assert_eq!(received(&lab, "pager").len(), 4);
    assert_eq!(
        received(&lab, "oncall"),
        vec![(id(UNHEALTHY, 0, "escalation", 600), runbook.clone()), (id(UNHEALTHY, 0, "resolved", 1), runbook)],
        "the escalation at 12:10 and its resolve; nothing of the 5-minute outage"
    );
    let outbox = lab.read("state/outbox.jsonl");
    let escalation: Value = serde_json::from_str(outbox.lines().nth(1).unwrap()).unwrap();
    assert_eq!(escalation["ts"], "2026-05-12T12:10:00Z", "at its own instant, not at the tick of 12:11");
    lab.assert_world_equals_rebuild();

    let (pager, oncall) = (ids(&lab, "pager"), ids(&lab, "oncall"));
    lab.observer(["rebuild"]).run().success();
    lab.run();
    assert_eq!(
        (ids(&lab, "pager"), ids(&lab, "oncall")),
        (pager.clone(), oncall.clone()),
        "a rebuild re-sends nothing"
    );

    // Another after_s, rebuilt: the episode escalated under 600 is over;
    // nothing is sent for it again.
    write_config(&lab, 300, "");
    lab.observer(["rebuild"]).run().success();
    lab.run();
    assert!(lab.read("state/outbox.jsonl").contains(&id(UNHEALTHY, 0, "escalation", 300)));
    assert_eq!((ids(&lab, "pager"), ids(&lab, "oncall")), (pager, oncall), "nor with another after_s");
}

#[test]
fn a_page_open_on_the_escalating_channel_gets_one_resolve_when_its_rule_goes_after_a_rebuild() {
    let lab = lab(600, "");
    lab.append("events/a.jsonl", &lines(&[unhealthy(0), tick(11)]));
    lab.run();
    assert_eq!(ids(&lab, "oncall"), vec![id(UNHEALTHY, 0, "escalation", 600)]);

    // A longer after_s, rebuilt: the page stays open, nothing is re-sent,
    // and the episode's reminder still reaches the channel holding it.
    write_config(&lab, 900, "");
    lab.observer(["rebuild"]).run().success();
    lab.append("events/a.jsonl", &lines(&[Ev::new("2026-05-12T13:00:30Z", "tick")]));
    lab.run();
    assert_eq!(
        ids(&lab, "oncall"),
        vec![id(UNHEALTHY, 0, "escalation", 600), id(UNHEALTHY, 0, "reminder", 1)],
        "no second escalation (900) of an episode whose page it holds"
    );

    write_config(&lab, 900, "    service_unhealthy: {enabled: false}\n");
    lab.observer(["rebuild"]).run().success();
    lab.run();
    lab.run();
    let resolve = id(UNHEALTHY, 0, "resolved", 1);
    assert_eq!(ids(&lab, "oncall").iter().filter(|id| **id == resolve).count(), 1, "{:?}", ids(&lab, "oncall"));
    assert_eq!(ids(&lab, "pager").iter().filter(|id| **id == resolve).count(), 1, "{:?}", ids(&lab, "pager"));
}

#[test]
fn an_after_s_changed_between_runs_escalates_an_episode_firing_then_and_pages_a_channel_once() {
    // Firing since 12:00; at 12:15 the channel escalates only after 3000 s.
    let lab = lab(3000, "");
    lab.append("events/a.jsonl", &lines(&[unhealthy(0), tick(15)]));
    lab.run();
    assert_eq!(ids(&lab, "oncall"), Vec::<String>::new());

    // Now after 600 s, which passed at 12:10: the next run escalates at
    // once, at the clock its pass started from (12:15).
    write_config(&lab, 600, "");
    lab.append("events/a.jsonl", &lines(&[tick(16)]));
    lab.run();
    assert_eq!(ids(&lab, "oncall"), vec![id(UNHEALTHY, 0, "escalation", 600)]);
    let outbox = lab.read("state/outbox.jsonl");
    let escalation: Value = serde_json::from_str(outbox.lines().nth(1).unwrap()).unwrap();
    assert_eq!((escalation["kind"].as_str(), escalation["ts"].as_str()), (Some("escalation"), Some(at(15).as_str())));

    // Then after 900 s: the fold escalates under 900 too, but the channel
    // holds this episode's page already and is not paged again.
    write_config(&lab, 900, "");
    lab.append("events/a.jsonl", &lines(&[tick(17), recovered(20)]));
    lab.run();
    assert!(lab.read("state/outbox.jsonl").contains(&id(UNHEALTHY, 0, "escalation", 900)));
    assert_eq!(
        ids(&lab, "oncall"),
        vec![id(UNHEALTHY, 0, "escalation", 600), id(UNHEALTHY, 0, "resolved", 1)],
        "one page, closed once"
    );
}

#[test]
fn a_depends_on_added_between_runs_suppresses_a_firing_alert_from_the_next_run_on() {
    // Both of saturn's services fail; each pages the pager, and oncall is
    // owed their escalations at 12:10 and 12:11.
    let lab = lab(600, "");
    let caddy = |minute: u32| {
        Ev::new(&at(minute), "service_unhealthy").node("saturn").service("caddy").field("severity", "error")
    };
    lab.append("events/a.jsonl", &lines(&[unhealthy(0), caddy(1), tick(2)]));
    lab.run();
    let caddy_key = "service_unhealthy:saturn/caddy";
    let mut paged = ids(&lab, "pager");
    paged.sort();
    assert_eq!(paged, vec![id(caddy_key, 1, "firing", 1), id(UNHEALTHY, 0, "firing", 1)]);

    // caddy now depends on mosquitto: from the next run's start (12:02) its
    // alert is suppressed by mosquitto's, though no event of caddy came,
    // and only mosquitto's page escalates.
    lab.write(
        "inventory/hosts/saturn/services.yaml",
        "services:\n  - name: mosquitto\n    runbook: runbooks/mosquitto.md\n  - name: caddy\n    \
         depends_on: [mosquitto]\n",
    );
    lab.append("events/a.jsonl", &lines(&[tick(15)]));
    lab.run();
    let alerts = lab.json("world/alerts.json");
    let suppressed_by = &alerts["alerts"][caddy_key]["suppressed_by"];
    assert_eq!(suppressed_by.as_str(), Some("dependency:service_unhealthy:saturn/mosquitto"), "{alerts:#}");
    assert_eq!(ids(&lab, "oncall"), vec![id(UNHEALTHY, 0, "escalation", 600)]);
    assert_eq!(ids(&lab, "pager").len(), 2, "caddy's page stays open, not closed: {:?}", ids(&lab, "pager"));
}

#[test]
fn ack_stops_reminders_and_escalation_and_the_resolve_is_still_sent() {
    let lab = lab(600, "");
    lab.append("events/a.jsonl", &lines(&[unhealthy(0), tick(5)]));
    lab.run();
    lab.observer(["ack", UNHEALTHY, "--reason", "restarting it"])
        .env("USER", "alice")
        .env("OBSERVER_NOW", "2026-05-12T12:06:00Z")
        .run()
        .success()
        .stdout_has("events/emit/");
    let event = std::fs::read_dir(lab.path("events/emit")).unwrap().next().unwrap().unwrap().path();
    let event: Value = serde_json::from_str(&std::fs::read_to_string(event).unwrap()).unwrap();
    assert_eq!(event["type"], "alert_acknowledged");
    assert_eq!(event["ts"], "2026-05-12T12:06:00Z");
    assert_eq!((event["node"].as_str(), event["service"].as_str()), (Some("saturn"), Some("mosquitto")));
    assert_eq!(event["payload"], serde_json::json!({"key": UNHEALTHY, "reason": "restarting it", "by": "alice"}));

    lab.append("events/a.jsonl", &lines(&[tick(59), Ev::new("2026-05-12T14:30:00Z", "tick")]));
    lab.run();
    let alerts = lab.json("world/alerts.json");
    assert_eq!(alerts["alerts"][UNHEALTHY]["acknowledged_by"], "alice");
    assert_eq!(alerts["alerts"][UNHEALTHY]["acknowledged_at"], "2026-05-12T12:06:00Z");
    assert_eq!(alerts["alerts"][UNHEALTHY]["runbook"], "runbooks/mosquitto.md");
    lab.observer(["alerts"]).run().success().stdout_has("[acknowledged by alice at 2026-05-12T12:06:00Z]");
    lab.observer(["status"]).run().success().stdout_has("[acknowledged by alice at 2026-05-12T12:06:00Z]");

    lab.append(
        "events/a.jsonl",
        &lines(&[Ev::new("2026-05-12T15:00:00Z", "service_recovered").node("saturn").service("mosquitto")]),
    );
    lab.run();
    assert_eq!(
        ids(&lab, "pager"),
        vec![id(UNHEALTHY, 0, "firing", 1), format!("{UNHEALTHY}@1778587200:resolved:1")],
        "no reminder after the ack; the resolve goes"
    );
    assert_eq!(ids(&lab, "oncall"), Vec::<String>::new(), "never escalated");
}

#[test]
fn ack_of_a_key_that_does_not_fire_is_recorded_and_a_key_that_is_none_is_refused() {
    let lab = lab(600, "");
    lab.append("events/a.jsonl", &lines(&[unhealthy(0), recovered(1)]));
    lab.run();
    let early = "2026-05-12T12:01:30Z";
    lab.observer(["ack", UNHEALTHY])
        .env("OBSERVER_NOW", early)
        .run()
        .success()
        .stderr_has(&format!("note: `{UNHEALTHY}` is resolved, not firing: the ack is recorded and changes nothing"));
    lab.observer(["ack", "node_down:nowhere"]).env("OBSERVER_NOW", early).run().success().stderr_has("is not in");
    assert_eq!(std::fs::read_dir(lab.path("events/emit")).unwrap().count(), 2);
    for bad in ["mosquitto", "service_down:saturn/mosquitto", "node_down:"] {
        lab.observer(["ack", bad]).run().code(2).stderr_has("is not an alert key").stderr_has("Nothing was written");
    }
    assert_eq!(std::fs::read_dir(lab.path("events/emit")).unwrap().count(), 2, "nothing written for a bad key");
    let before = lab.read("world/alerts.json");
    lab.run();
    let after = lab.read("world/alerts.json");
    let without_as_of = |text: &str| text.lines().filter(|l| !l.contains("\"as_of\"")).collect::<Vec<_>>().join("\n");
    assert_eq!(without_as_of(&before), without_as_of(&after), "the acks change nothing");
    assert_eq!(lab.summary()["events"]["by_type"]["alert_acknowledged"], 2);
}

/// One mistake each, with the file and the line it is on.
#[test]
fn bad_runbooks_and_after_s_are_named_with_file_and_line() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "observer.yaml",
            "alerts:\n  rules:\n    node_down:\n      runbook: \"https://\"\n",
            "observer.yaml:4: ",
            "is not a URL",
        ),
        (
            "observer.yaml",
            "alerts:\n  rules:\n    node_down: {runbook: ftp://wiki.lan/x}\n",
            "observer.yaml:3: ",
            "http:// or https://",
        ),
        (
            "observer.yaml",
            "alerts:\n  rules:\n    node_down:\n      runbook: runbooks/none.md\n",
            "observer.yaml:4: ",
            "does not exist",
        ),
        (
            "observer.yaml",
            "alerts:\n  rules:\n    node_down:\n      runbook: ../x.md\n",
            "observer.yaml:4: ",
            "leaves the inventory",
        ),
        (
            "inventory/hosts/saturn/services.yaml",
            "services:\n  - name: a\n  - name: b\n    runbook: runbooks/none.md\n",
            "services.yaml:4: ",
            "does not exist",
        ),
        (
            "inventory/hosts/saturn/services.yaml",
            "services:\n  b:\n    runbook: runbooks/out.md\n",
            "services.yaml:3: ",
            "leads out of the inventory",
        ),
        (
            "inventory/hosts/saturn/services.yaml",
            "services:\n  b:\n    runbook: \"http://wiki lan/\"\n",
            "services.yaml:3: ",
            "not a URL",
        ),
        (
            "observer.yaml",
            "notify:\n  channels:\n    - name: oncall\n      hook: [/bin/true]\n      after_s: 0\n",
            "observer.yaml:5: ",
            "after_s 0 is not",
        ),
        (
            "observer.yaml",
            "notify:\n  channels:\n    - name: oncall\n      hook: [/bin/true]\n      after_s: -60\n",
            "observer.yaml:5: ",
            "after_s -60 is not",
        ),
        (
            "observer.yaml",
            "notify:\n  channels:\n    - name: oncall\n      hook: [/bin/true]\n      after_s: 1.5\n",
            "observer.yaml:5: ",
            "after_s 1.5 is not",
        ),
    ];
    for (file, text, located, message) in cases {
        let lab = Homelab::new();
        lab.write("inventory/runbooks/ok.md", "# ok\n");
        lab.write("outside.md", "# outside\n");
        std::os::unix::fs::symlink(lab.path("outside.md"), lab.path("inventory/runbooks/out.md")).unwrap();
        lab.write(file, text);
        let inventory = lab.path("inventory").display().to_string();
        let lab = lab.with_inventory(&inventory);
        let out = lab.observer(["validate"]).run().code(1);
        assert!(out.stdout.contains(located) && out.stdout.contains(message), "{file}: {text}\n{}", out.stdout);
        if *file == "observer.yaml" {
            lab.observer(["run", "--no-tick"]).run().code(1).stderr_has(message);
        }
    }
}
