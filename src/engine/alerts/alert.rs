//! An alert as the hot view (`world/alerts.json`) shows it: a rule applied
//! to a subject, its place in the lifecycle, and its latest resolved
//! episodes (SPEC §4: per key the last 20 resolved).

use serde::{Deserialize, Serialize};

use super::{NotificationRef, Rule};
use crate::event::Severity;
use crate::time::Ts;

/// Where an alert is in its lifecycle (SPEC §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    /// The condition holds, for less than `for_s` so far.
    Pending,
    Firing,
    /// The latest episode of the key resolved.
    Resolved,
}

/// One alert, by key (`<rule>:<subject>`). The field order is the file's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub key: String,
    pub rule: Rule,
    pub node: Option<String>,
    pub service: Option<String>,
    pub status: AlertStatus,
    pub severity: Severity,
    pub priority: u8,
    pub summary: String,
    /// When the condition started to hold (this episode).
    pub since: Ts,
    pub fired_at: Option<Ts>,
    pub resolved_at: Option<Ts>,
    /// Why its notifications are not sent (a node down, a dependency,
    /// maintenance, flapping), while that lasts.
    pub suppressed_by: Option<String>,
    pub last_notification: Option<NotificationRef>,
    /// At most the 20 latest resolved episodes of the key, newest last.
    pub recent_episodes: Vec<Episode>,
}

/// A resolved episode of an alert.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Episode {
    pub fired_at: Ts,
    pub resolved_at: Ts,
    pub severity: Severity,
    /// Whether receivers were told (a suppressed or held episode was not).
    pub notified: bool,
}
