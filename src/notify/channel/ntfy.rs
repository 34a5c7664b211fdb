//! The `ntfy` format: the summary is the body; the title, priority and
//! tags go in headers (https://docs.ntfy.sh/publish/). Header values must
//! be ASCII, so the title is built from ids and words the observer chose.
//! A runbook is a last line of the body; a URL runbook is also the
//! notification's `Click` target and a "Runbook" view action. An
//! escalation is a page of high priority (4, or 5 when critical).

use crate::engine::alerts::{Notification, NotificationKind};
use crate::event::Severity;

/// `Title`, `Priority` (1 min … 5 max) and `Tags` (emoji short codes and words).
pub fn headers(n: &Notification) -> Vec<(&'static str, String)> {
    let word = match n.kind {
        NotificationKind::Firing => "FIRING",
        NotificationKind::Reminder => "STILL FIRING",
        NotificationKind::Resolved => "RESOLVED",
        NotificationKind::BudgetExhausted => "PAGES HELD",
        NotificationKind::Escalation => "ESCALATED",
    };
    let title: String = format!("[{word}] {}", n.key)
        .chars()
        .map(|c| if c.is_ascii() && !c.is_ascii_control() { c } else { '?' })
        .collect();
    // A resolve is good news: low priority, whatever the alert's severity.
    let priority = match (n.kind, n.severity) {
        (NotificationKind::Resolved, _) => 2,
        (_, Severity::Critical) => 5,
        (NotificationKind::Escalation, _) => 4,
        (_, Severity::Error) => 4,
        (_, Severity::Warning) => 3,
        (_, Severity::Info) => 2,
    };
    let emoji = match n.kind {
        NotificationKind::Firing => "rotating_light",
        NotificationKind::Reminder => "bell",
        NotificationKind::Resolved => "white_check_mark",
        NotificationKind::BudgetExhausted => "hourglass",
        NotificationKind::Escalation => "sos",
    };
    let severity =
        serde_json::to_value(n.severity).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    let rule: String = n.rule.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    let mut headers =
        vec![("Title", title), ("Priority", priority.to_string()), ("Tags", format!("{emoji},{severity},{rule}"))];
    if let Some(url) = n.runbook.as_deref().filter(|r| crate::runbook::is_url(r) && r.is_ascii()) {
        headers.push(("Click", url.to_string()));
        headers.push(("Actions", format!("view, Runbook, {url}")));
    }
    headers
}

/// The body: the summary, and the runbook on a line of its own.
pub fn body(n: &Notification) -> String {
    match &n.runbook {
        Some(runbook) => format!("{}\nrunbook: {runbook}", n.summary),
        None => n.summary.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Ts;

    fn page(kind: NotificationKind, severity: Severity, runbook: Option<&str>) -> Notification {
        Notification {
            id: format!("service_unhealthy:saturn/mosquitto@1778587200:{}:1", kind.name()),
            kind,
            ts: Ts(1_778_587_200_000),
            expires_at: None,
            key: "service_unhealthy:saturn/mosquitto".into(),
            rule: "service_unhealthy".into(),
            node: Some("saturn".into()),
            service: Some("mosquitto".into()),
            severity,
            priority: 3,
            summary: "saturn/mosquitto is unhealthy".into(),
            fired_at: None,
            resolved_at: None,
            runbook: runbook.map(str::to_string),
        }
    }

    fn header(headers: &[(&'static str, String)], name: &str) -> Option<String> {
        headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn an_escalation_is_a_high_priority_page() {
        let headers = headers(&page(NotificationKind::Escalation, Severity::Warning, None));
        assert_eq!(header(&headers, "Priority").as_deref(), Some("4"));
        assert!(header(&headers, "Title").unwrap().starts_with("[ESCALATED] "));
        let critical = headers_of(NotificationKind::Escalation, Severity::Critical);
        assert_eq!(header(&critical, "Priority").as_deref(), Some("5"));
        let firing = headers_of(NotificationKind::Firing, Severity::Warning);
        assert_eq!(header(&firing, "Priority").as_deref(), Some("3"));
    }

    fn headers_of(kind: NotificationKind, severity: Severity) -> Vec<(&'static str, String)> {
        headers(&page(kind, severity, None))
    }

    #[test]
    fn a_runbook_url_is_the_click_target_and_any_runbook_ends_the_body() {
        let url = page(NotificationKind::Firing, Severity::Error, Some("https://wiki.lan/mosquitto"));
        let sent = headers(&url);
        assert_eq!(header(&sent, "Click").as_deref(), Some("https://wiki.lan/mosquitto"));
        assert_eq!(header(&sent, "Actions").as_deref(), Some("view, Runbook, https://wiki.lan/mosquitto"));
        assert_eq!(body(&url), "saturn/mosquitto is unhealthy\nrunbook: https://wiki.lan/mosquitto");
        let path = page(NotificationKind::Firing, Severity::Error, Some("runbooks/mosquitto.md"));
        assert_eq!(header(&headers(&path), "Click"), None, "a path is no link");
        assert_eq!(body(&path), "saturn/mosquitto is unhealthy\nrunbook: runbooks/mosquitto.md");
        assert_eq!(body(&page(NotificationKind::Firing, Severity::Error, None)), "saturn/mosquitto is unhealthy");
    }
}
