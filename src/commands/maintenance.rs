//! `observer maintenance start|end`: record that maintenance of a node (or
//! of one service) starts or ends, as one event appended under the state
//! lock to `events/observer/maintenance-<day>.jsonl`. The fold holds the
//! subject's notifications meanwhile; being an event, a rebuild holds the
//! same ones. Prints the line it wrote.

use anyhow::{Result, bail};

use super::context::Context;
use super::{print, shown, warn};
use crate::cli::{MaintenanceAction, MaintenanceArgs};
use crate::inventory::{Inventory, check_name};
use crate::own_events::{Maintenance, MaintenancePayload};
use crate::store::append::append_events;

pub fn execute(context: &Context, args: &MaintenanceArgs) -> Result<i32> {
    let (subject, duration) = match &args.action {
        MaintenanceAction::Start(start) => (&start.subject, start.duration.as_ref().map(|d| d.0)),
        MaintenanceAction::End(end) => (&end.subject, None),
    };
    for (what, name) in [("--node", Some(&subject.node)), ("--service", subject.service.as_ref())] {
        if let Some(name) = name
            && let Err(message) = check_name(name)
        {
            bail!("{what} `{name}`: {message}");
        }
    }
    let seconds = match duration {
        Some(ms) if ms < 1000 => bail!("--for must be at least 1s"),
        Some(ms) => Some(ms.div_ceil(1000)),
        None => None,
    };
    warn_if_undeclared(context, &subject.node, subject.service.as_deref());
    context.require_events()?;
    let _lock = context.lock("maintenance", subject.wait)?;
    let at = context.now()?;
    let by = std::env::var("USER").ok().filter(|user| !user.is_empty());
    let payload = MaintenancePayload {
        until: seconds.map(|seconds| at.plus_seconds(seconds)),
        reason: subject.reason.as_deref(),
        by: by.as_deref(),
    };
    let (node, service) = (subject.node.as_str(), subject.service.as_deref());
    let event = match &args.action {
        MaintenanceAction::Start(_) => Maintenance::started(at, node, service, payload),
        MaintenanceAction::End(_) => Maintenance::ended(at, node, service, payload),
    };
    let line = serde_json::to_string(&event)?;
    let dir = context.dirs.observer_events();
    append_events(&dir, "maintenance", at, std::slice::from_ref(&line))?;
    print(&format!("{line}\n"))?;
    warn(&format!("appended to {}; the next `observer run` folds it", shown(&dir)));
    Ok(crate::exit::SUCCESS)
}

/// A node or service the inventory does not declare is most likely a typo:
/// said, but not refused (the world also knows nodes from events alone).
fn warn_if_undeclared(context: &Context, node: &str, service: Option<&str>) {
    let Some(dir) = &context.dirs.inventory else { return };
    let Ok(inventory) = Inventory::load(dir) else { return };
    if !inventory.nodes.contains_key(node) {
        warn(&format!("note: node `{node}` is not in the inventory"));
    } else if let Some(service) = service
        && !inventory.services.get(node).is_some_and(|services| services.contains(service))
    {
        warn(&format!("note: service `{node}/{service}` is not in the inventory"));
    }
}
