//! The `notify:` section: where decided notifications are delivered
//! (SPEC §6). Delivery (`crate::notify`) reads it; the fold never does.

use serde::{Deserialize, Serialize};

use crate::event::Severity;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    /// Off on a standby observer that folds the same events (SPEC §8):
    /// only one observer should deliver.
    pub enabled: bool,
    /// Seconds of wall clock after which an undelivered notification is
    /// dead-lettered.
    pub give_up_after_s: u64,
    /// Deliveries in flight at once, per channel.
    pub parallel: usize,
    /// Checked while parsed (`super::channels`), so problems keep their line.
    #[serde(deserialize_with = "super::channels::checked")]
    pub channels: Vec<ChannelConfig>,
}

/// One channel: exactly one of `hook` or `webhook`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    pub name: String,
    /// argv, run without a shell; the notification as JSON on stdin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook: Option<Vec<String>>,
    /// URL that receives an HTTP POST.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<String>,
    /// The webhook's body format.
    #[serde(default)]
    pub format: WebhookFormat,
    /// Seconds a hook or a webhook request may take.
    #[serde(default = "default_timeout_s")]
    pub timeout_s: u64,
    /// Only notifications at least this severe (`budget_exhausted` notices
    /// always pass).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_severity: Option<Severity>,
    /// Only these rules, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<String>>,
    /// An escalation channel: it gets an alert's page only once the alert
    /// has fired for this many seconds of engine time, unacknowledged and
    /// unresolved (an `escalation` notification), then that episode's
    /// reminders and resolve; never the firing itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_s: Option<u64>,
}

pub(super) fn default_timeout_s() -> u64 {
    10
}

/// How a webhook's body is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormat {
    /// The notification as the outbox holds it.
    #[default]
    Observer,
    /// The Alertmanager webhook payload, version 4.
    Alertmanager,
    /// ntfy: the summary as the body, title, priority and tags as headers.
    Ntfy,
}
