//! `observer notify`: deliver what is due now, under the state lock, one
//! line per attempt; `--dry-run` to see what would go; `--test CHANNEL` to
//! check that a channel reaches its receiver. `run` delivers the same way
//! after its commit, through [`deliver_after_commit`].

use anyhow::{Context as _, Result, bail};

use super::context::Context;
use super::{count, print, warn};
use crate::cli::NotifyArgs;
use crate::config::NotifyConfig;
use crate::dirs::Dirs;
use crate::engine::alerts::{Notification, NotificationKind, priority};
use crate::event::Severity;
use crate::notify::channel::Channel;
use crate::notify::retry::{Decision, decide};
use crate::notify::{self, RoundSummary};

pub fn execute(context: &Context, args: &NotifyArgs) -> Result<i32> {
    let config = context.config()?;
    if let Some(name) = &args.test {
        return send_test(context, &config.notify, name);
    }
    let _lock = context.lock("notify", args.wait)?;
    let now = context.now()?;
    if !config.notify.enabled {
        print("delivery is off (notify.enabled: false); nothing sent\n")?;
        return Ok(crate::exit::SUCCESS);
    }
    let round = notify::prepare(&context.dirs, &config.notify, now)?;
    if args.dry_run {
        let mut text = String::new();
        for (channel, id, waiting) in round.preview() {
            match waiting {
                Some(at) => text.push_str(&format!("{channel} {id}: waiting, next attempt at {at}\n")),
                None => text.push_str(&format!("{channel} {id}: would send\n")),
            }
        }
        if text.is_empty() {
            text.push_str("nothing is due\n");
        }
        print(&text)?;
        return Ok(crate::exit::SUCCESS);
    }
    let summary = deliver(context, &context.dirs, &config.notify, round)?;
    print(&format!("{}\n", describe(&summary)))?;
    Ok(crate::exit::SUCCESS)
}

/// Delivery after `run`'s commit: a failure is a warning, never the run's
/// exit code (the world is already written).
pub fn deliver_after_commit(context: &Context, config: &NotifyConfig) {
    if !config.enabled || config.channels.is_empty() {
        return;
    }
    let result = context
        .now()
        .and_then(|now| Ok(notify::prepare(&context.dirs, config, now)?))
        .and_then(|round| deliver(context, &context.dirs, config, round));
    if let Err(error) = result {
        warn(&format!("observer: warning: notifications not delivered: {error:#}"));
    }
}

fn deliver(context: &Context, dirs: &Dirs, config: &NotifyConfig, round: notify::Round) -> Result<RoundSummary> {
    let clock = || context.now().unwrap_or_default();
    let on_attempt = |attempt: &notify::ledger::Attempt| {
        // A closed stdout does not stop delivery: the ledger has it.
        let _ = print(&format!("{}\n", notify::describe(attempt)));
    };
    Ok(round.deliver(dirs, config, &clock, &on_attempt)?)
}

fn describe(summary: &RoundSummary) -> String {
    let attempts = summary.delivered + summary.retried + summary.dead_lettered;
    format!(
        "{}: {} delivered, {} to retry, {} dead-lettered",
        count(attempts as u64, "attempt"),
        summary.delivered,
        summary.retried,
        summary.dead_lettered
    )
}

/// Sends one made-up notification to the channel named `name`, ignoring
/// its filters and recording nothing: a test page opens no page that a
/// later round would have to close.
fn send_test(context: &Context, config: &NotifyConfig, name: &str) -> Result<i32> {
    let Some(channel_config) = config.channels.iter().find(|c| c.name == name) else {
        let names: Vec<&str> = config.channels.iter().map(|c| c.name.as_str()).collect();
        bail!("no channel named {name:?} in notify.channels (there are: {})", names.join(", "));
    };
    let channel =
        Channel::new(channel_config).with_context(|| format!("channel {name:?} has neither hook nor webhook"))?;
    let now = context.now()?;
    let notification = Notification {
        id: format!("observer_test:{name}@{}:firing:1", now.unix_seconds()),
        kind: NotificationKind::Firing,
        ts: now,
        expires_at: Some(now.plus_seconds(300)),
        key: format!("observer_test:{name}"),
        rule: "observer_test".to_string(),
        node: None,
        service: None,
        severity: Severity::Info,
        priority: priority(Severity::Info),
        summary: format!("observer test notification for channel {name}"),
        fired_at: Some(now),
        resolved_at: None,
        runbook: None,
    };
    let sent = channel.send(&notification);
    let detail = sent.error.map(|e| format!(" ({e})")).unwrap_or_default();
    if decide(&sent.response) == Decision::Delivered {
        print(&format!("{name} {}: delivered{detail}\n", notification.id))?;
        Ok(crate::exit::SUCCESS)
    } else {
        print(&format!("{name} {}: failed{detail}\n", notification.id))?;
        Ok(crate::exit::FAILURE)
    }
}
