//! `observer ack KEY [--reason TEXT]`: someone took an alert in hand. Writes
//! one `alert_acknowledged` event (`payload.key`, `payload.reason`,
//! `payload.by` = `$USER`, or `unknown`) through the same atomic path as
//! `emit`; the next run folds it, and the alert then gets no more reminders
//! and never escalates, while its resolve is still sent (SPEC §6).
//!
//! It reads `world/alerts.json` first to say on stderr when the key does not
//! fire (pending, resolved, or not known): the event is written all the same
//! (the world may be behind the events) and changes nothing when folded. A
//! key that is not `<rule>:<subject>` of a known rule is refused (exit 2,
//! nothing written).

use anyhow::Result;
use serde_json::{Map, Value, json};

use super::context::Context;
use super::emit::write_event;
use super::{print, shown, warn, word};
use crate::cli::AckArgs;
use crate::config::rule_names;
use crate::engine::alerts::{AlertStatus, Rule};
use crate::world::{self, AlertsFile};

pub fn execute(context: &Context, args: &AckArgs) -> Result<i32> {
    let key = args.key.as_str();
    let Some((rule, subject)) = parse_key(key) else {
        warn(&format!(
            "error: `{key}` is not an alert key; a key is `<rule>:<subject>` (e.g. service_unhealthy:saturn/mosquitto) \
             with a rule among {}; see `observer alerts`. Nothing was written.",
            rule_names()
        ));
        return Ok(crate::exit::USAGE);
    };
    let now = context.now()?;
    match world::read::<AlertsFile>(&context.dirs.world).and_then(|file| file.alerts.get(key).cloned()) {
        Some(alert) if alert.status == AlertStatus::Firing => {}
        Some(alert) => warn(&format!(
            "note: `{key}` is {}, not firing: the ack is recorded and changes nothing",
            word(alert.status)
        )),
        None => warn(&format!(
            "note: `{key}` is not in {}: the ack is recorded and changes nothing unless it fires when folded",
            shown(&context.dirs.world.join("alerts.json"))
        )),
    }
    let by = std::env::var("USER").ok().filter(|user| !user.trim().is_empty()).unwrap_or_else(|| "unknown".into());
    let mut event = Map::new();
    event.insert("ts".into(), Value::String(now.to_string()));
    event.insert("type".into(), Value::String("alert_acknowledged".into()));
    let (node, service) = subject_parts(rule, subject);
    if let Some(node) = node {
        event.insert("node".into(), Value::String(node.to_string()));
    }
    if let Some(service) = service {
        event.insert("service".into(), Value::String(service.to_string()));
    }
    event.insert("payload".into(), json!({ "key": key, "reason": args.reason, "by": by }));
    let path = write_event(context, event)?;
    print(&format!("{}\n", shown(&path)))?;
    Ok(crate::exit::SUCCESS)
}

/// The rule and subject of `<rule>:<subject>`, the rule known and the
/// subject not empty.
fn parse_key(key: &str) -> Option<(Rule, &str)> {
    let (rule, subject) = key.split_once(':')?;
    let rule = Rule::from_name(rule)?;
    (!subject.trim().is_empty() && !subject.chars().any(char::is_control)).then_some((rule, subject))
}

/// The node and service a key's subject names, for the event's envelope:
/// a node's rules name the node, a service's (and its probes') name
/// `node/service`; a deployment's names neither.
fn subject_parts(rule: Rule, subject: &str) -> (Option<&str>, Option<&str>) {
    let mut parts = subject.split('/').filter(|part| !part.is_empty());
    match rule {
        Rule::NodeDown | Rule::NodeStale | Rule::DeploymentFailures if !subject.contains('/') => (Some(subject), None),
        Rule::NodeDown | Rule::NodeStale | Rule::DeploymentFailures | Rule::DeploymentStuck => (None, None),
        _ => match (parts.next(), parts.next()) {
            (Some(node), Some(service)) => (Some(node), Some(service)),
            _ => (None, None),
        },
    }
}
