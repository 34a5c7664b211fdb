//! What `status` tells about delivery, from the ledger and the channels of
//! the config: the dead letters (notifications a receiver never got, and
//! that nothing will try again), and the pages left open on channels the
//! config no longer has.
//!
//! A page is open on a channel when the ledger's newest delivered
//! notification of its key there is a firing or a reminder. Once its channel
//! is removed from `notify.channels`, nothing can close it: there is no
//! receiver to send the resolve to. Delivery leaves it alone, and `status`
//! says "N pages left open on removed channel X", once per channel, with the
//! keys, so that a person can close them at the receiver by hand. Putting the
//! channel back (same name) lets delivery close them as usual.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::Path;

use serde::Serialize;

use super::ledger::{AttemptOutcome, Ledger};
use crate::config::ChannelConfig;
use crate::time::Ts;

/// One notification given up on a channel, as its last attempt left it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    pub id: String,
    pub channel: String,
    pub key: String,
    /// Always `dead_letter`: the outcome of the last attempt.
    pub outcome: AttemptOutcome,
    /// Wall clock of the last attempt.
    pub at: Ts,
    pub attempts: u32,
    pub http_status: Option<u16>,
    pub exit_code: Option<i32>,
    pub error: Option<String>,
}

/// The pages open on one channel that the config no longer has.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LeftOpen {
    pub channel: String,
    pub pages: usize,
    /// The keys of the open pages, sorted.
    pub keys: Vec<String>,
}

/// Delivery as `status` shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryReport {
    /// Oldest first; one per (channel, notification id).
    pub dead_letters: Vec<DeadLetter>,
    /// By channel name.
    pub pages_left_open: Vec<LeftOpen>,
}

impl DeliveryReport {
    /// Reads the ledger in `state_dir`. `channels` is `None` when the config
    /// could not be read: then no channel is taken for removed.
    pub fn read(state_dir: &Path, channels: Option<&[ChannelConfig]>) -> io::Result<DeliveryReport> {
        Ok(DeliveryReport::of(&Ledger::load(state_dir)?, channels))
    }

    pub fn of(ledger: &Ledger, channels: Option<&[ChannelConfig]>) -> DeliveryReport {
        let mut last: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        let mut dead_letters: Vec<DeadLetter> = Vec::new();
        for attempt in ledger.dead_letters() {
            let still_dead = ledger.tries(&attempt.channel, &attempt.id).is_some_and(|t| t.last == attempt.outcome);
            if !still_dead {
                continue;
            }
            let letter = DeadLetter {
                id: attempt.id.clone(),
                channel: attempt.channel.clone(),
                key: attempt.notification.key.clone(),
                outcome: attempt.outcome,
                at: attempt.at,
                attempts: attempt.attempt,
                http_status: attempt.http_status,
                exit_code: attempt.exit_code,
                error: attempt.error.clone(),
            };
            match last.get(&(attempt.channel.as_str(), attempt.id.as_str())) {
                Some(&i) => dead_letters[i] = letter,
                None => {
                    last.insert((attempt.channel.as_str(), attempt.id.as_str()), dead_letters.len());
                    dead_letters.push(letter);
                }
            }
        }
        let pages_left_open = match channels {
            None => Vec::new(),
            Some(channels) => {
                let configured: BTreeSet<&str> = channels.iter().map(|c| c.name.as_str()).collect();
                ledger
                    .channels()
                    .filter(|channel| !configured.contains(channel))
                    .filter_map(|channel| {
                        let mut keys: Vec<String> = ledger.open_pages(channel).map(|n| n.key.clone()).collect();
                        keys.sort();
                        (!keys.is_empty()).then(|| LeftOpen { channel: channel.to_string(), pages: keys.len(), keys })
                    })
                    .collect()
            }
        };
        DeliveryReport { dead_letters, pages_left_open }
    }

    /// The lines of plain `status`: the dead letters (how many, the newest)
    /// and one line per removed channel with pages left open. Nothing when
    /// all is well.
    pub fn lines(&self, ledger_path: &str) -> String {
        let mut text = String::new();
        if let Some(newest) = self.dead_letters.iter().max_by_key(|d| d.at) {
            text.push_str(&format!(
                "dead letters: {} (newest: {} on {}{}; see {ledger_path})\n",
                self.dead_letters.len(),
                newest.id,
                newest.channel,
                newest.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default(),
            ));
        }
        for left in &self.pages_left_open {
            let pages = if left.pages == 1 { "page" } else { "pages" };
            text.push_str(&format!(
                "{} {pages} left open on removed channel {} (close them there by hand): {}\n",
                left.pages,
                left.channel,
                left.keys.join(", ")
            ));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::alerts::{Notification, NotificationKind};
    use crate::event::Severity;
    use crate::notify::ledger::Attempt;

    fn attempt(channel: &str, key: &str, kind: NotificationKind, outcome: AttemptOutcome, at: i64) -> Attempt {
        let id = format!("{key}@100:{}:1", kind.name());
        Attempt {
            id: id.clone(),
            channel: channel.to_string(),
            at: Ts(at),
            attempt: 1,
            outcome,
            http_status: Some(400),
            exit_code: None,
            error: Some("HTTP 400".into()),
            next_attempt_at: None,
            notification: Notification {
                id,
                kind,
                ts: Ts(at),
                expires_at: None,
                key: key.to_string(),
                rule: "node_down".into(),
                node: None,
                service: None,
                severity: Severity::Error,
                priority: 2,
                summary: String::new(),
                fired_at: None,
                resolved_at: None,
                runbook: None,
            },
        }
    }

    fn channels(names: &[&str]) -> Vec<ChannelConfig> {
        names
            .iter()
            .map(|name| serde_yaml::from_str(&format!("{{name: {name}, webhook: 'http://127.0.0.1:9/'}}")).unwrap())
            .collect()
    }

    #[test]
    fn pages_open_on_a_removed_channel_are_counted_once_per_channel() {
        let mut ledger = Ledger::default();
        for (channel, key) in [("old", "node_down:a"), ("old", "node_down:b"), ("web", "node_down:c")] {
            ledger.record(attempt(channel, key, NotificationKind::Firing, AttemptOutcome::Delivered, 1));
        }
        ledger.record(attempt("old", "node_down:b", NotificationKind::Resolved, AttemptOutcome::Delivered, 2));
        ledger.record(attempt("gone", "node_down:d", NotificationKind::Firing, AttemptOutcome::Delivered, 3));
        ledger.record(attempt("gone", "node_down:d", NotificationKind::Resolved, AttemptOutcome::Delivered, 4));
        let report = DeliveryReport::of(&ledger, Some(&channels(&["web"])));
        assert_eq!(
            report.pages_left_open,
            [LeftOpen { channel: "old".into(), pages: 1, keys: vec!["node_down:a".into()] }],
            "a closed page and a channel with nothing open are not named"
        );
        assert_eq!(
            report.lines("state/deliveries.jsonl"),
            "1 page left open on removed channel old (close them there by hand): node_down:a\n"
        );
        assert!(DeliveryReport::of(&ledger, None).pages_left_open.is_empty(), "no config, no guess");
    }

    #[test]
    fn a_dead_letter_is_listed_once_as_its_last_attempt_left_it() {
        let mut ledger = Ledger::default();
        let mut first = attempt("web", "node_down:a", NotificationKind::Firing, AttemptOutcome::DeadLetter, 1);
        ledger.record(first.clone());
        first.at = Ts(5);
        first.attempt = 2;
        ledger.record(first);
        let report = DeliveryReport::of(&ledger, Some(&channels(&["web"])));
        assert_eq!(report.dead_letters.len(), 1);
        assert_eq!((report.dead_letters[0].at, report.dead_letters[0].attempts), (Ts(5), 2));
        assert_eq!(report.dead_letters[0].key, "node_down:a");
    }
}
