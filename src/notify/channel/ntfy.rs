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
