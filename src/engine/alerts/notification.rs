//! A notification as the fold decides it, the outbox holds it and `hook`
//! and the `observer` webhook format receive it (SPEC §6): one JSON object
//! with its fields in this order.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Alert;
use crate::event::Severity;
use crate::time::Ts;

/// What a notification tells a receiver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// The alert started firing (or firing is sent late: after a cooldown,
    /// a budget hold, the end of a maintenance window or of flapping).
    Firing,
    /// The alert still fires; sent every `alerts.ttl_s` so that a receiver
    /// honouring `expires_at` holds the page exactly as long as it lasts.
    Reminder,
    /// The notified alert resolved: exactly one per notified episode.
    Resolved,
    /// The notification budget ran out: pages are being held.
    BudgetExhausted,
    /// The alert has fired for an escalation channel's `after_s`,
    /// unacknowledged: that channel's page opens (id
    /// `<key>@<fired>:escalation:<after_s>`).
    Escalation,
}

impl NotificationKind {
    pub fn name(self) -> &'static str {
        match self {
            NotificationKind::Firing => "firing",
            NotificationKind::Reminder => "reminder",
            NotificationKind::Resolved => "resolved",
            NotificationKind::BudgetExhausted => "budget_exhausted",
            NotificationKind::Escalation => "escalation",
        }
    }
}

/// One decided notification. Its `id` is
/// `<key>@<unix seconds the episode fired>:<kind>:<n>` (n counts that kind
/// within the episode, from 1), so any rebuild over the same events gives
/// it again and receivers can drop copies by id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Notification {
    pub id: String,
    pub kind: NotificationKind,
    /// The engine clock when it was decided.
    pub ts: Ts,
    /// `ts + alerts.ttl_s` for firing and reminders (null when ttl is 0, and
    /// for resolves).
    pub expires_at: Option<Ts>,
    /// `<rule>:<subject>`, e.g. `service_unhealthy:saturn/mosquitto`.
    pub key: String,
    pub rule: String,
    pub node: Option<String>,
    pub service: Option<String>,
    pub severity: Severity,
    /// critical 1, error 2, warning 3, info 4.
    pub priority: u8,
    /// One line for people.
    pub summary: String,
    pub fired_at: Option<Ts>,
    pub resolved_at: Option<Ts>,
    /// What to do about it, as configured (a URL, or a path relative to the
    /// inventory directory); null when none. Last, and absent from outbox
    /// lines written before runbooks existed.
    #[serde(default)]
    pub runbook: Option<String>,
}

impl Alert {
    /// A notification of this alert as the policy decides it at `now`: its
    /// subject, severity, summary and runbook, an open episode (no
    /// `resolved_at`); the caller adjusts what its kind changes.
    pub(super) fn notification(
        &self,
        id: String,
        kind: NotificationKind,
        now: Ts,
        expires_at: Option<Ts>,
        fired_at: Ts,
    ) -> Notification {
        Notification {
            id,
            kind,
            ts: now,
            expires_at,
            key: self.key.clone(),
            rule: self.rule.name().to_string(),
            node: self.node.clone(),
            service: self.service.clone(),
            severity: self.severity,
            priority: self.priority,
            summary: self.summary.clone(),
            fired_at: Some(fired_at),
            resolved_at: None,
            runbook: self.runbook.clone(),
        }
    }
}

/// The last notification of an alert, as `alerts.json` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NotificationRef {
    pub id: String,
    pub kind: NotificationKind,
    pub ts: Ts,
}

/// Priority follows severity (SPEC §6).
pub fn priority(severity: Severity) -> u8 {
    match severity {
        Severity::Critical => 1,
        Severity::Error => 2,
        Severity::Warning => 3,
        Severity::Info => 4,
    }
}
