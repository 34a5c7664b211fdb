//! Acknowledgement (SPEC §6): `observer ack KEY` writes an
//! `alert_acknowledged` event, and the fold marks the episode that fires
//! then as taken in hand. It stays firing and its resolve is still sent,
//! but it gets no more reminders (`policy`) and never escalates
//! (`escalation`). An ack of a key that does not fire — pending, resolved,
//! unknown — is counted like any event and changes nothing; so does a
//! second ack of an acknowledged episode (the first one's `by` stays). A
//! new episode of the key starts unacknowledged (`lifecycle`).

use super::{AlertState, AlertStatus, NotificationKind};
use crate::time::Ts;

impl AlertState {
    /// `by` took the firing episode of `key` in hand at `now`.
    pub(super) fn acknowledge(&mut self, key: &str, by: &str, now: Ts) {
        let Some(alert) = self.alerts.get_mut(key) else { return };
        if alert.status != AlertStatus::Firing || alert.acknowledged_at.is_some() {
            return;
        }
        alert.acknowledged_by = Some(by.to_string());
        alert.acknowledged_at = Some(now);
        // The queued reminder deadline finds no reminder due and does nothing.
        alert.reminder_due = None;
        if alert.held.as_ref().is_some_and(|held| held.kind == NotificationKind::Reminder) {
            self.release(key);
        }
    }

    /// Whether the current episode of `key` is acknowledged.
    pub(super) fn acknowledged(&self, key: &str) -> bool {
        self.alerts.get(key).is_some_and(|alert| alert.acknowledged_at.is_some())
    }
}
