//! What delivery needs of `world/alerts.json`: which keys fire now (with
//! the episode's `fired_at`), and which open page the fold itself still
//! means to close. Read loosely through a small private shape, so that the
//! rest of the file may grow without delivery caring.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::engine::alerts::NotificationRef;
use crate::time::Ts;

/// One alert, as far as delivery reads it.
#[derive(Clone, Debug, Deserialize)]
pub struct AlertNow {
    #[serde(default)]
    pub key: Option<String>,
    pub status: String,
    #[serde(default)]
    pub fired_at: Option<Ts>,
    #[serde(default)]
    pub last_notification: Option<NotificationRef>,
}

/// The alerts of the world, by key.
#[derive(Clone, Debug, Default)]
pub struct AlertsNow {
    alerts: BTreeMap<String, AlertNow>,
}

impl AlertsNow {
    /// `None` when the file is missing or does not read: delivery then
    /// makes no decision that needs it (no page is closed, no old firing
    /// is sent after a rebuild).
    pub fn read(world_dir: &Path) -> Option<AlertsNow> {
        let bytes = std::fs::read(world_dir.join("alerts.json")).ok()?;
        let value: Value = serde_json::from_slice(&bytes).ok()?;
        AlertsNow::from_value(value)
    }

    /// The file's `alerts`, a map by key or a list of alerts with a `key`.
    fn from_value(value: Value) -> Option<AlertsNow> {
        let mut alerts = BTreeMap::new();
        match value.get("alerts")? {
            Value::Object(map) => {
                for (key, alert) in map {
                    alerts.insert(key.clone(), serde_json::from_value(alert.clone()).ok()?);
                }
            }
            Value::Array(list) => {
                for alert in list {
                    let alert: AlertNow = serde_json::from_value(alert.clone()).ok()?;
                    alerts.insert(alert.key.clone()?, alert);
                }
            }
            _ => return None,
        }
        Some(AlertsNow { alerts })
    }

    pub fn from_alerts(alerts: impl IntoIterator<Item = (String, AlertNow)>) -> AlertsNow {
        AlertsNow { alerts: alerts.into_iter().collect() }
    }

    /// The episode of `key` that fires now, by its `fired_at`.
    pub fn firing(&self, key: &str) -> Option<Ts> {
        self.alerts.get(key).filter(|a| a.status == "firing").map(|a| a.fired_at.unwrap_or_default())
    }

    /// The fold's last notification of `key` (to tell whether it still
    /// means to send the resolve of a page itself).
    pub fn last_notification(&self, key: &str) -> Option<&NotificationRef> {
        self.alerts.get(key)?.last_notification.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_and_lists_both_read() {
        let map = serde_json::json!({"alerts": {"node_down:venus": {"status": "firing", "fired_at": "2026-05-12T12:00:00Z"}}});
        let list = serde_json::json!({"alerts": [{"key": "node_down:venus", "status": "firing", "fired_at": "2026-05-12T12:00:00Z"}]});
        for value in [map, list] {
            let alerts = AlertsNow::from_value(value).unwrap();
            assert_eq!(alerts.firing("node_down:venus"), Some(Ts::parse("2026-05-12T12:00:00Z").unwrap()));
            assert_eq!(alerts.firing("node_down:mars"), None);
        }
        assert!(AlertsNow::from_value(serde_json::json!({"nodes": {}})).is_none());
    }
}
