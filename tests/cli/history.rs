//! The history of SPEC §4 through the real binary: a resolved alert episode
//! past `world.keep_finished` leaves `alerts.json` for
//! `world/history/alerts-YYYY-MM.jsonl` (the month it resolved), once,
//! before the world that drops it; a deleted month stays deleted; an edited
//! one stops the run; `rebuild --until` shows the history of its moment;
//! and the outbox and history checks cost a stat while nothing changed,
//! without losing the protection of a hash.

use crate::support::{Ev, Homelab, lines};

const KEY: &str = "service_unhealthy:saturn/mosquitto";

/// An outage of saturn/mosquitto from `start` to `end`.
fn outage(lab: &Homelab, start: &str, end: &str) {
    let events = [
        Ev::new(start, "service_unhealthy").node("saturn").service("mosquitto").severity("error"),
        Ev::new(end, "service_recovered").node("saturn").service("mosquitto"),
    ];
    lab.append("events/saturn.jsonl", &lines(&events));
}

fn lab_keeping(keep: u32) -> Homelab {
    let lab = Homelab::new();
    lab.write("observer.yaml", &format!("world: {{keep_finished: {keep}}}\n"));
    lab
}

#[test]
fn episodes_past_keep_finished_move_once_to_the_month_they_resolved_in() {
    let lab = lab_keeping(1);
    outage(&lab, "2026-04-30T23:00:00Z", "2026-04-30T23:50:00Z");
    lab.run();
    assert!(lab.history("world").is_empty(), "one episode, kept in alerts.json");
    outage(&lab, "2026-05-01T10:00:00Z", "2026-05-01T10:30:00Z");
    outage(&lab, "2026-05-02T10:00:00Z", "2026-05-02T10:30:00Z");
    lab.run();
    let history = lab.history("world");
    let april = &history["alerts-2026-04.jsonl"];
    assert_eq!(
        april,
        &format!(
            "{{\"key\":\"{KEY}\",\"rule\":\"service_unhealthy\",\"node\":\"saturn\",\"service\":\"mosquitto\",\
             \"status\":\"resolved\",\"severity\":\"error\",\"priority\":2,\"fired_at\":\"2026-04-30T23:00:00Z\",\
             \"resolved_at\":\"2026-04-30T23:50:00Z\",\"notified\":true}}\n"
        )
    );
    assert_eq!(history["alerts-2026-05.jsonl"].lines().count(), 1, "the May 1 episode");
    let alerts = lab.json("world/alerts.json");
    let kept = alerts["alerts"][KEY]["recent_episodes"].as_array().unwrap().clone();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0]["fired_at"], "2026-05-02T10:00:00Z");
    // Runs with nothing new, or with unrelated events, append nothing.
    lab.run();
    lab.append("events/saturn.jsonl", &Ev::new("2026-05-03T00:00:00Z", "heartbeat").node("saturn").line());
    lab.run();
    assert_eq!(lab.history("world"), history);
    lab.assert_world_equals_rebuild();
    // A rebuild in place keeps the files as they are.
    lab.observer(["rebuild"]).run().success();
    assert_eq!(lab.history("world"), history);
}

/// `world.keep_finished` lowered between runs: the next run, with nothing
/// new to fold, moves each kind's surplus to the history at once (alert
/// episodes of a quiet key too, not at its next resolve), oldest first,
/// and the runs after it append nothing more.
#[test]
fn a_lowered_keep_finished_moves_every_kinds_surplus_at_the_next_run_once() {
    let lab = lab_keeping(20);
    for day in 1..=4 {
        crate::hot_view::deployment(&lab, day, day);
        outage(&lab, &format!("2026-05-0{day}T11:00:00Z"), &format!("2026-05-0{day}T11:30:00Z"));
    }
    lab.run();
    assert!(lab.history("world").is_empty(), "four of each, all kept");
    let episodes = |lab: &Homelab| -> Vec<String> {
        let alerts = lab.json("world/alerts.json");
        let kept = alerts["alerts"][KEY]["recent_episodes"].as_array().unwrap().clone();
        kept.iter().map(|episode| episode["fired_at"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(episodes(&lab).len(), 4);
    lab.write("observer.yaml", "world: {keep_finished: 2}\n");
    lab.run();
    assert_eq!(episodes(&lab), ["2026-05-03T11:00:00Z", "2026-05-04T11:00:00Z"]);
    let count = |file: &str, map: &str| lab.json(&format!("world/{file}"))[map].as_object().unwrap().len();
    assert_eq!((count("deployments.json", "deployments"), count("incidents.json", "incidents")), (2, 2));
    let history = lab.history("world");
    let field = |name: &str, field: &str| -> Vec<String> {
        let lines = history[name].lines();
        lines
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()[field].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(field("alerts-2026-05.jsonl", "fired_at"), ["2026-05-01T11:00:00Z", "2026-05-02T11:00:00Z"]);
    assert_eq!(field("deployments-2026-05.jsonl", "correlation_id"), ["d1", "d2"]);
    assert_eq!(field("incidents-2026-05.jsonl", "started_at"), ["2026-05-01T11:00:00Z", "2026-05-02T11:00:00Z"]);
    lab.run();
    lab.append("events/saturn.jsonl", &Ev::new("2026-05-05T00:00:00Z", "heartbeat").node("saturn").line());
    lab.run();
    assert_eq!(lab.history("world"), history, "moved once");
    lab.assert_world_equals_rebuild();
}

#[test]
fn a_crash_after_the_history_append_leaves_the_entry_in_both_places_and_the_next_run_appends_nothing_twice() {
    let lab = lab_keeping(0);
    outage(&lab, "2026-05-12T12:00:00Z", "2026-05-12T12:10:00Z");
    lab.observer(["run", "--no-tick"]).env("OBSERVER_TEST_CRASH_AT", "after-history").run();
    assert!(!lab.path("world/alerts.json").exists(), "killed before the world was written");
    let line = lab.read("world/history/alerts-2026-05.jsonl");
    assert_eq!(line.lines().count(), 1, "appended before the world was written");
    lab.run();
    assert_eq!(lab.read("world/history/alerts-2026-05.jsonl"), line, "decided again, kept, not appended twice");
    // A world published, the checkpoint not: the line stays, once.
    outage(&lab, "2026-05-12T13:00:00Z", "2026-05-12T13:10:00Z");
    lab.observer(["run", "--no-tick"]).env("OBSERVER_TEST_CRASH_AT", "before-checkpoint").run();
    assert_eq!(lab.read("world/history/alerts-2026-05.jsonl").lines().count(), 2);
    lab.run();
    assert_eq!(lab.read("world/history/alerts-2026-05.jsonl").lines().count(), 2);
    lab.assert_world_equals_rebuild();
}

#[test]
fn a_deleted_month_stays_deleted_through_runs_and_rebuilds() {
    let lab = lab_keeping(1);
    outage(&lab, "2026-04-10T10:00:00Z", "2026-04-10T10:30:00Z");
    outage(&lab, "2026-04-20T10:00:00Z", "2026-04-20T10:30:00Z");
    lab.run();
    assert_eq!(lab.history("world")["alerts-2026-04.jsonl"].lines().count(), 1);
    std::fs::remove_file(lab.path("world/history/alerts-2026-04.jsonl")).unwrap();
    // The April 20 episode leaves the hot view now, for the deleted month.
    outage(&lab, "2026-05-05T10:00:00Z", "2026-05-05T10:30:00Z");
    outage(&lab, "2026-05-06T10:00:00Z", "2026-05-06T10:30:00Z");
    lab.run();
    let history = lab.history("world");
    let alerts: Vec<&String> = history.keys().filter(|name| name.starts_with("alerts-")).collect();
    assert_eq!(alerts, ["alerts-2026-05.jsonl"], "April stays deleted");
    assert_eq!(history["alerts-2026-05.jsonl"].lines().count(), 1);
    lab.observer(["rebuild"]).run().success();
    assert_eq!(lab.history("world"), history, "a rebuild does not bring it back");
    // `rebuild --out` writes every month of the events, April too.
    let out = lab.path("past");
    lab.observer(["rebuild", "--out", out.to_str().unwrap()]).run().success();
    assert_eq!(lab.history("past")["alerts-2026-04.jsonl"].lines().count(), 2);
}

#[test]
fn rebuild_until_shows_the_history_of_its_moment() {
    let lab = lab_keeping(1);
    outage(&lab, "2026-05-01T10:00:00Z", "2026-05-01T10:30:00Z");
    outage(&lab, "2026-05-02T10:00:00Z", "2026-05-02T10:30:00Z");
    outage(&lab, "2026-05-03T10:00:00Z", "2026-05-03T10:30:00Z");
    lab.run();
    assert_eq!(lab.history("world")["alerts-2026-05.jsonl"].lines().count(), 2);
    let out = lab.path("past");
    lab.observer(["rebuild", "--until", "2026-05-02T12:00:00Z", "--out", out.to_str().unwrap()]).run().success();
    let past = lab.history("past");
    assert_eq!(past["alerts-2026-05.jsonl"].lines().count(), 1, "only May 1 had left by then");
    let alerts = lab.json("past/alerts.json");
    assert_eq!(alerts["alerts"][KEY]["recent_episodes"][0]["fired_at"], "2026-05-02T10:00:00Z");
    assert_eq!(lab.history("world")["alerts-2026-05.jsonl"].lines().count(), 2, "the live history untouched");
}

#[test]
fn an_edited_history_month_stops_the_run_until_a_rebuild() {
    let lab = lab_keeping(0);
    outage(&lab, "2026-05-01T10:00:00Z", "2026-05-01T10:30:00Z");
    lab.run();
    let good = lab.read("world/history/alerts-2026-05.jsonl");
    // Past the file system's clock tick of the run that wrote it.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let edited = good.replace("saturn", "SATURN");
    lab.write("world/history/alerts-2026-05.jsonl", &edited);
    outage(&lab, "2026-05-02T10:00:00Z", "2026-05-02T10:30:00Z");
    let out = lab.observer(["run", "--no-tick"]).run().code(1).stderr_has("Run `observer rebuild`");
    assert!(out.stderr.contains("append-only"), "{}", out.stderr);
    assert_eq!(lab.read("world/history/alerts-2026-05.jsonl"), edited, "nothing was changed");
    lab.observer(["rebuild"]).run().success();
    assert_eq!(lab.read("world/history/alerts-2026-05.jsonl").lines().count(), 2);
    assert!(lab.read("world/history/alerts-2026-05.jsonl").starts_with(&good));
    lab.run();
    lab.assert_world_equals_rebuild();
}

/// The outbox check trusts the stamp of a committed outbox only while the
/// file is untouched: an edit that keeps its size and puts its mtime back
/// still moves its change time, and the run stops as before.
#[test]
fn an_outbox_edited_in_place_with_its_size_and_mtime_kept_still_stops_the_run() {
    let lab = Homelab::new();
    lab.append("events/venus.jsonl", &Ev::new("2026-05-12T12:00:00Z", "node_down").node("venus").line());
    lab.run();
    let path = lab.path("state/outbox.jsonl");
    let committed = lab.read("state/outbox.jsonl");
    assert!(committed.contains("\"kind\":\"firing\""), "{committed}");
    assert!(lab.checkpoint_header()["outbox"]["stamp"].is_u64(), "the run stamped its mark");
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    lab.write("state/outbox.jsonl", &committed.replace("venus", "VENUS"));
    std::fs::File::options().write(true).open(&path).unwrap().set_modified(mtime).unwrap();
    lab.append("events/venus.jsonl", &Ev::new("2026-05-12T12:01:00Z", "heartbeat").node("saturn").line());
    lab.observer(["run", "--no-tick"]).run().code(1).stderr_has("changed since it was written");
}

#[test]
fn a_full_disk_at_the_history_append_writes_no_world_and_the_next_run_converges() {
    let lab = lab_keeping(0);
    lab.append("events/saturn.jsonl", &Ev::new("2026-05-12T11:00:00Z", "heartbeat").node("saturn").line());
    lab.run();
    let (world, checkpoint) = (lab.world_files("world"), lab.read("state/observer_checkpoint.json"));
    outage(&lab, "2026-05-12T12:00:00Z", "2026-05-12T12:10:00Z");
    lab.observer(["run", "--no-tick"])
        .env("OBSERVER_TEST_FAIL_AT", "history-append")
        .run()
        .code(1)
        .stderr_has("cannot append to the history; neither the world nor the checkpoint was written")
        .stderr_has("No space left on device");
    assert_eq!(lab.world_files("world"), world, "no world file of the failed pass");
    assert_eq!(lab.read("state/observer_checkpoint.json"), checkpoint);
    lab.run();
    assert_eq!(lab.read("world/history/alerts-2026-05.jsonl").lines().count(), 1);
    lab.assert_world_equals_rebuild();
}

/// A run's history lines are staged beside the world's files (issue 11,
/// twenty-eighth pass): when both fail, the history's refusal is told, as
/// when it was staged first, and the world is as it was.
#[test]
fn a_history_refused_while_a_world_file_cannot_be_written_is_the_error_told() {
    let lab = lab_keeping(0);
    outage(&lab, "2026-05-12T10:00:00Z", "2026-05-12T10:10:00Z");
    lab.run();
    let path = "world/history/alerts-2026-05.jsonl";
    let text = lab.read(path);
    assert!(text.len() > 2, "the episode went to the history");
    lab.write(path, &text[..text.len() / 2]);
    outage(&lab, "2026-05-12T12:00:00Z", "2026-05-12T12:10:00Z");
    let world = lab.world_files("world");
    let told = lab.observer(["run", "--no-tick"]).env("OBSERVER_TEST_FAIL_AT", "write").run().code(1);
    let told = told.stderr_has("were committed");
    assert!(
        !told.stderr.contains("No space left on device"),
        "the world's error is not the one told:\n{}",
        told.stderr
    );
    assert_eq!(lab.world_files("world"), world, "no world file of the failed pass");
}
