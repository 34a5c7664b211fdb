//! `alerts.json`: the hot view of the alerts (SPEC §4, §6) — pending and
//! firing ones, and for keys whose latest episode resolved, that episode —
//! with the fields of SPEC §4 in its order. The engine's bookkeeping (open
//! pages, id counters, held notifications) stays in the checkpoint.

use std::borrow::Cow;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{InOrder, SCHEMA_VERSION, WorldFile};
use crate::engine::Engine;
use crate::engine::alerts::{Alert, AlertStatus, Episode, NotificationRef, Rule};
use crate::event::Severity;
use crate::time::Ts;

/// The file as a whole: borrowed when written, owned when read back.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct AlertsFile<'a> {
    pub schema_version: u32,
    pub as_of: Option<Ts>,
    /// By alert key, `<rule>:<subject>`.
    pub alerts: InOrder<'a, AlertView>,
}

/// One alert as `alerts.json` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AlertView {
    pub key: String,
    pub rule: Rule,
    pub node: Option<String>,
    pub service: Option<String>,
    pub status: AlertStatus,
    pub severity: Severity,
    pub priority: u8,
    pub summary: String,
    pub since: Ts,
    pub fired_at: Option<Ts>,
    pub resolved_at: Option<Ts>,
    pub suppressed_by: Option<String>,
    pub last_notification: Option<NotificationRef>,
    /// The latest resolved episodes of the key, newest last (at most 20).
    pub recent_episodes: Vec<Episode>,
    /// The rule's or the service's runbook, as configured (null when none).
    #[serde(default)]
    pub runbook: Option<String>,
    /// Who acknowledged the current episode (`observer ack`), and when.
    #[serde(default)]
    pub acknowledged_by: Option<String>,
    #[serde(default)]
    pub acknowledged_at: Option<Ts>,
}

impl From<&Alert> for AlertView {
    fn from(a: &Alert) -> AlertView {
        AlertView {
            key: a.key.clone(),
            rule: a.rule,
            node: a.node.clone(),
            service: a.service.clone(),
            status: a.status,
            severity: a.severity,
            priority: a.priority,
            summary: a.summary.clone(),
            since: a.since,
            fired_at: a.fired_at,
            resolved_at: a.resolved_at,
            suppressed_by: a.suppressed_by.clone(),
            last_notification: a.last_notification.clone(),
            recent_episodes: a.recent_episodes.clone(),
            runbook: a.runbook.clone(),
            acknowledged_by: a.acknowledged_by.clone(),
            acknowledged_at: a.acknowledged_at,
        }
    }
}

impl WorldFile for AlertsFile<'_> {
    const NAME: &'static str = "alerts.json";
}

pub(super) fn project(engine: &Engine) -> AlertsFile<'_> {
    AlertsFile {
        schema_version: SCHEMA_VERSION,
        as_of: engine.clock(),
        alerts: engine.alerts().iter().map(|(k, v)| (Cow::Borrowed(k.as_str()), AlertView::from(v))).collect(),
    }
}
