//! Given/when/then tests of what leaves the hot view (SPEC §4): a key keeps
//! its last `keep_resolved` resolved episodes; an older one, and every
//! episode of an alert forgotten at retention, is handed out once, in the
//! pass where it left, for the shell to append to the history.

use super::tests::{fold_in_passes, line, rules_with};
use super::*;
use crate::engine::{Engine, Input};

/// `n` outages of saturn/mosquitto, twenty minutes apart, each five long (past any cooldown).
fn outages(n: i64) -> Vec<String> {
    let service = |t: i64, kind: &str| line(t, &format!(r#""type":"{kind}","node":"saturn","service":"mosquitto""#));
    (0..n)
        .flat_map(|k| [service(k * 1200, "service_unhealthy"), service(k * 1200 + 300, "service_recovered")])
        .collect()
}

/// Every episode handed out, pass after pass, when a pass starts before
/// each index in `cuts`.
fn left_in_passes(keep: usize, lines: &[String], cuts: &[usize]) -> (Vec<PastEpisode>, Engine) {
    let rules = rules_with(|alerts| alerts.keep_resolved = keep);
    let mut engine = Engine::default();
    let mut left = Vec::new();
    engine.apply(Input::PassStarted, &rules);
    for (position, text) in lines.iter().enumerate() {
        if cuts.contains(&position) {
            left.extend_from_slice(engine.left_hot_view());
            engine.apply(Input::PassStarted, &rules);
            assert!(engine.left_hot_view().is_empty(), "a pass hands out only its own");
        }
        let event = crate::engine::given::event(text);
        engine.apply(Input::Event { event: &event, file: "story.jsonl", position: position as u64 }, &rules);
    }
    left.extend_from_slice(engine.left_hot_view());
    (left, engine)
}

#[test]
fn the_episode_past_keep_leaves_once_oldest_first_whatever_the_passes() {
    let lines = outages(5);
    let (left, engine) = left_in_passes(2, &lines, &[]);
    let key = "service_unhealthy:saturn/mosquitto";
    assert_eq!(left.len(), 3, "five episodes, two kept");
    assert_eq!(engine.alerts()[key].recent_episodes.len(), 2);
    let first = &left[0];
    assert_eq!((first.key.as_str(), first.rule, first.status), (key, Rule::ServiceUnhealthy, AlertStatus::Resolved));
    assert_eq!((first.node.as_deref(), first.service.as_deref()), (Some("saturn"), Some("mosquitto")));
    assert_eq!(first.fired_at, Ts(super::tests::BASE * 1000));
    assert_eq!(first.resolved_at, Ts((super::tests::BASE + 300) * 1000));
    assert!(first.notified, "its firing and resolve were sent");
    let json = serde_json::to_string(first).unwrap();
    assert!(json.starts_with(r#"{"key":"service_unhealthy:saturn/mosquitto","rule":"service_unhealthy","node":"saturn","service":"mosquitto","status":"resolved","severity":"#), "{json}");
    let kept_first = engine.alerts()[key].recent_episodes[0].fired_at;
    assert!(left.iter().all(|e| e.fired_at < kept_first), "the oldest leave, the newest stay");
    for cuts in [vec![1], vec![3, 4, 7], (1..lines.len()).collect()] {
        let (again, _) = left_in_passes(2, &lines, &cuts);
        assert_eq!(again, left, "passes cut at {cuts:?}");
    }
    let folded = fold_in_passes(&rules_with(|alerts| alerts.keep_resolved = 2), &lines, &[3]);
    assert_eq!(folded.alert(key).recent_episodes, engine.alerts()[key].recent_episodes);
}

#[test]
fn a_lowered_keep_hands_out_the_surplus_when_the_next_pass_starts_once_oldest_first_keys_in_order() {
    // Five outages each of saturn/mosquitto and saturn/zigbee2mqtt, interleaved.
    let outage = |t: i64, service: &str| {
        let event =
            |t: i64, kind: &str| (t, line(t, &format!(r#""type":"{kind}","node":"saturn","service":"{service}""#)));
        [event(t, "service_unhealthy"), event(t + 300, "service_recovered")]
    };
    let mut timed: Vec<(i64, String)> =
        (0..5).flat_map(|k| [outage(k * 1200, "mosquitto"), outage(k * 1200 + 600, "zigbee2mqtt")]).flatten().collect();
    timed.sort_by_key(|(t, _)| *t);
    let lines: Vec<String> = timed.into_iter().map(|(_, text)| text).collect();
    let keys = ["service_unhealthy:saturn/mosquitto", "service_unhealthy:saturn/zigbee2mqtt"];
    let (left, mut engine) = left_in_passes(4, &lines, &[]);
    assert_eq!(left.len(), 2, "five episodes a key, four kept");
    let kept: Vec<Vec<Episode>> = keys.iter().map(|key| engine.alerts()[*key].recent_episodes.clone()).collect();
    let lowered = rules_with(|alerts| alerts.keep_resolved = 2);
    engine.apply(Input::PassStarted, &lowered);
    let handed_out = engine.left_hot_view().to_vec();
    let named = |episodes: &[PastEpisode]| episodes.iter().map(|e| (e.key.clone(), e.fired_at)).collect::<Vec<_>>();
    let oldest_two =
        keys.iter().zip(&kept).flat_map(|(key, kept)| kept[..2].iter().map(|e| (key.to_string(), e.fired_at)));
    assert_eq!(named(&handed_out), oldest_two.collect::<Vec<_>>(), "the two oldest of each key, keys in order");
    engine.apply(Input::PassStarted, &lowered);
    assert!(engine.left_hot_view().is_empty(), "once");
    // The hot view, and the episodes that left, of a keep of 2 from the
    // start; only their order differs (key by key here, in time there).
    let (from_the_start, started_low) = left_in_passes(2, &lines, &[]);
    for key in keys {
        assert_eq!(engine.alerts()[key].recent_episodes, started_low.alerts()[key].recent_episodes);
    }
    let (mut all, mut expected) = ([left, handed_out].concat(), from_the_start);
    let order = |e: &PastEpisode| (e.key.clone(), e.fired_at);
    all.sort_by_key(order);
    expected.sort_by_key(order);
    assert_eq!(all, expected);
}

#[test]
fn an_alert_forgotten_at_retention_hands_out_all_its_episodes() {
    let mut lines = outages(3);
    // 31 days later: the resolved alert is older than the retention.
    lines.push(line(31 * 86_400, r#""type":"tick""#));
    let (left, engine) = left_in_passes(20, &lines, &[]);
    let key = "service_unhealthy:saturn/mosquitto";
    assert!(!engine.alerts().contains_key(key), "forgotten");
    let left: Vec<&PastEpisode> = left.iter().filter(|e| e.key == key).collect();
    assert_eq!(left.len(), 3);
    assert!(left.windows(2).all(|w| w[0].resolved_at < w[1].resolved_at), "oldest first");
}
