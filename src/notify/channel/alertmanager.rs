//! The `alertmanager` format: the body Alertmanager's webhook receiver
//! sends (payload version 4), one alert per notification, so receivers
//! written for Alertmanager work unchanged.
//!
//! The mapping: `status` is `resolved` for a resolve and `firing` for
//! everything else; labels are `alertname` (the rule), `key`, `node` and
//! `service` when there are, and `severity`; annotations are `summary`,
//! `notification_id`, `kind` and, when the alert has a runbook,
//! `runbook_url` (Alertmanager's usual name, for a path too); `startsAt` is when the episode fired,
//! `endsAt` when it resolved, else `expires_at`, else Go's zero time as
//! Alertmanager writes it; `fingerprint` is a stable hash of the key; the
//! group is the key alone (`groupLabels` `alertname` and `key`), and
//! `externalURL` and `generatorURL` are empty (the observer has no UI).

use serde_json::{Map, Value, json};

use crate::engine::alerts::{Notification, NotificationKind};
use crate::store::fingerprint::fnv1a;

/// What Alertmanager writes for "no time".
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

pub fn payload(receiver: &str, n: &Notification) -> Value {
    let status = if n.kind == NotificationKind::Resolved { "resolved" } else { "firing" };
    let mut labels = Map::new();
    labels.insert("alertname".into(), n.rule.clone().into());
    labels.insert("key".into(), n.key.clone().into());
    if let Some(node) = &n.node {
        labels.insert("node".into(), node.clone().into());
    }
    if let Some(service) = &n.service {
        labels.insert("service".into(), service.clone().into());
    }
    labels.insert("severity".into(), serde_json::to_value(n.severity).unwrap_or(Value::Null));
    let mut annotations = json!({
        "summary": n.summary,
        "notification_id": n.id,
        "kind": n.kind.name(),
    });
    if let (Some(runbook), Some(map)) = (&n.runbook, annotations.as_object_mut()) {
        map.insert("runbook_url".into(), runbook.clone().into());
    }
    let time = |ts: Option<crate::time::Ts>| ts.map_or_else(|| ZERO_TIME.to_string(), |t| t.to_rfc3339());
    let ends_at = time(n.resolved_at.or(n.expires_at));
    let alert = json!({
        "status": status,
        "labels": labels,
        "annotations": annotations,
        "startsAt": time(n.fired_at.or(Some(n.ts))),
        "endsAt": ends_at,
        "generatorURL": "",
        "fingerprint": format!("{:016x}", fnv1a(n.key.as_bytes())),
    });
    let group_labels = json!({ "alertname": n.rule, "key": n.key });
    json!({
        "receiver": receiver,
        "status": status,
        "alerts": [alert],
        "groupLabels": group_labels,
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": "",
        "version": "4",
        "groupKey": format!("{{}}:{{alertname={:?}, key={:?}}}", n.rule, n.key),
        "truncatedAlerts": 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Severity;
    use crate::time::Ts;

    fn escalation(runbook: Option<&str>) -> Notification {
        let ts = Ts::parse("2026-05-12T12:10:00Z").unwrap();
        Notification {
            id: "node_down:venus@1778587200:escalation:600".into(),
            kind: NotificationKind::Escalation,
            ts,
            expires_at: Some(ts.plus_seconds(3600)),
            key: "node_down:venus".into(),
            rule: "node_down".into(),
            node: Some("venus".into()),
            service: None,
            severity: Severity::Critical,
            priority: 1,
            summary: "node venus is down".into(),
            fired_at: Some(Ts::parse("2026-05-12T12:00:00Z").unwrap()),
            resolved_at: None,
            runbook: runbook.map(str::to_string),
        }
    }

    #[test]
    fn an_escalation_fires_with_its_runbook_as_runbook_url() {
        let body = payload("oncall", &escalation(Some("runbooks/venus.md")));
        assert_eq!(body["status"], "firing");
        assert_eq!(body["alerts"][0]["annotations"]["runbook_url"], "runbooks/venus.md");
        assert_eq!(body["alerts"][0]["annotations"]["kind"], "escalation");
        let none = payload("oncall", &escalation(None));
        assert!(none["alerts"][0]["annotations"].get("runbook_url").is_none(), "no annotation without a runbook");
    }
}
