//! `judge` on facts made by hand: statuses, their order, the perfdata.

use super::facts::{Facts, Free, LockHeld};
use super::*;

fn ts(text: &str) -> Ts {
    Ts::parse(text).unwrap()
}

fn healthy() -> Facts {
    Facts {
        world: true,
        world_dir: "world".into(),
        last_success: Some(ts("2026-05-12T12:59:00Z")),
        last_failure: None,
        checkpoint: Ok(()),
        rejected: 0,
        late: 0,
        dead_letters: Ok(0),
        lock: None,
        free: vec![("state", Free::Percent(50.0)), ("world", Free::Percent(50.0))],
        nats_lag: Vec::new(),
    }
}

fn range(text: &str) -> Option<Range> {
    Some(text.parse().unwrap())
}

fn limits() -> Limits {
    let pair = |w: &str, c: &str| Thresholds { warning: range(w), critical: range(c) };
    Limits {
        age: pair("300", "900"),
        rejected: Thresholds { warning: range("0"), critical: None },
        late: Thresholds { warning: range("0"), critical: None },
        dead_letters: Thresholds { warning: range("0"), critical: None },
        lock: pair("300", "900"),
        free: pair("10:", "5:"),
        nats_lag: Thresholds { warning: range("1000"), critical: None },
        window_s: 300,
    }
}

const NOW: &str = "2026-05-12T13:00:00Z";

#[test]
fn a_healthy_observer_is_ok_on_one_line() {
    let verdict = judge(&healthy(), &limits(), ts(NOW));
    assert_eq!(verdict.status, Status::Ok);
    assert_eq!(
        verdict.render(),
        "OBSERVER OK - last successful run 60s ago, 0 rejected events in the last 5m, 0 late events in the last \
         5m, 0 dead letters in the last 5m, lock free, 50% free on state/, 50% free on world/ | 'age'=60s;300;900;0; \
         'rejected'=0;0;;0; 'late'=0;0;;0; 'dead_letters'=0;0;;0; 'lock_held'=0s;300;900;0; \
         'state_free'=50%;10:;5:;0;100 'world_free'=50%;10:;5:;0;100\n"
    );
}

#[test]
fn the_worst_problem_decides_and_comes_first() {
    let mut facts = healthy();
    facts.rejected = 2;
    facts.free[1].1 = Free::Percent(4.5);
    facts.lock = Some(LockHeld { since: ts("2026-05-12T12:54:00Z"), holder: "pid 7 running `observer run`".into() });
    let verdict = judge(&facts, &limits(), ts(NOW));
    assert_eq!(verdict.status, Status::Critical);
    let statuses: Vec<Status> = verdict.problems.iter().map(|(s, _)| *s).collect();
    assert_eq!(statuses, [Status::Critical, Status::Warning, Status::Warning]);
    let text = verdict.render();
    assert!(
        text.starts_with("OBSERVER CRITICAL - 4.5% free on world/ (critical range 5:); 2 rejected events"),
        "{text}"
    );
    assert!(text.contains("\nCRITICAL: 4.5% free on world/ (critical range 5:)\n"), "{text}");
    assert!(text.contains("\nWARNING: lock held for 360s (pid 7 running `observer run`) (warning range 300)\n"));
}

#[test]
fn failures_and_a_bad_checkpoint_are_critical_and_no_world_is_unknown() {
    let mut facts = healthy();
    facts.checkpoint = Err("it is damaged".into());
    assert_eq!(judge(&facts, &limits(), ts(NOW)).status, Status::Critical);
    let mut facts = healthy();
    facts.world = false;
    facts.last_success = None;
    let verdict = judge(&facts, &limits(), ts(NOW));
    assert_eq!(verdict.status, Status::Unknown);
    assert!(!verdict.perfdata.iter().any(|p| p.starts_with("'age'")), "no age without a run");
    let mut facts = healthy();
    facts.free[0].1 = Free::Unknown("the file system did not answer within 5s".into());
    facts.rejected = 1;
    let verdict = judge(&facts, &limits(), ts(NOW));
    assert_eq!(verdict.status, Status::Warning, "a WARNING outranks an UNKNOWN");
}

#[test]
fn windows_are_named_in_their_largest_whole_unit() {
    assert_eq!(span(300), "5m");
    assert_eq!(span(90), "90s");
    assert_eq!(span(7200), "2h");
    assert_eq!(span(86_400), "1d");
}

#[test]
fn a_nats_relay_behind_its_stream_warns_past_its_range_with_perfdata_per_stream() {
    let mut facts = healthy();
    facts.nats_lag = vec![("EV".into(), 1500), ("OTHER".into(), 3)];
    let verdict = judge(&facts, &limits(), ts(NOW));
    assert_eq!(verdict.status, Status::Warning);
    assert_eq!(
        verdict.problems,
        vec![(Status::Warning, "NATS stream EV 1500 messages behind (warning range 1000)".into())]
    );
    assert!(verdict.perfdata.contains(&"'nats_lag_EV'=1500;1000;;0;".to_string()), "{:?}", verdict.perfdata);
    assert!(verdict.perfdata.contains(&"'nats_lag_OTHER'=3;1000;;0;".to_string()), "{:?}", verdict.perfdata);
}
