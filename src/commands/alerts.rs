//! `observer alerts`: the alerts of the world for a person — firing ones
//! (suppressed ones with the reason), pending ones, and the recently
//! resolved — or, with `--json`, `world/alerts.json` as it holds them.
//!
//! Like `status`, it reads the world through the view that writes it and
//! never the events, so it is instant and takes no lock.

use anyhow::{Result, bail};

use super::context::Context;
use super::{alert_line, print, shown};
use crate::cli::AlertsArgs;
use crate::engine::alerts::AlertStatus;
use crate::world::AlertView;
use crate::world::{self, AlertsFile, WorldFile};

/// Resolved alerts listed for people; `--json` and the file hold them all.
const RESOLVED_SHOWN: usize = 10;

pub fn execute(context: &Context, args: &AlertsArgs) -> Result<i32> {
    let dirs = &context.dirs;
    let Some(file) = world::read::<AlertsFile>(&dirs.world) else {
        bail!(
            "no {} in {} yet; run `observer run` (or `observer rebuild`) first",
            AlertsFile::NAME,
            shown(&dirs.world)
        );
    };
    if args.json {
        print(&String::from_utf8_lossy(&world::render(&file)?))?;
        return Ok(crate::exit::SUCCESS);
    }
    print(&describe(&file))?;
    Ok(crate::exit::SUCCESS)
}

/// The text for people: firing (most severe first), pending, then the
/// latest resolved.
pub fn describe(file: &AlertsFile) -> String {
    let with = |status: AlertStatus| -> Vec<&AlertView> {
        let mut alerts: Vec<&AlertView> = file.alerts.values().filter(|a| a.status == status).collect();
        alerts.sort_by(|a, b| (a.priority, &a.key).cmp(&(b.priority, &b.key)));
        alerts
    };
    let firing = with(AlertStatus::Firing);
    let pending = with(AlertStatus::Pending);
    let mut resolved = with(AlertStatus::Resolved);
    resolved.sort_by(|a, b| (b.resolved_at, &a.key).cmp(&(a.resolved_at, &b.key)));

    let mut text =
        format!("alerts as of {}\n", file.as_of.map_or_else(|| "(no events yet)".to_string(), |t| t.to_string()));
    let suppressed = firing.iter().filter(|a| a.suppressed_by.is_some()).count();
    let note = if suppressed > 0 { format!(" ({suppressed} suppressed)") } else { String::new() };
    text.push_str(&format!("firing: {}{note}\n", firing.len()));
    for alert in &firing {
        text.push_str(&alert_line(alert, alert.fired_at.map(|t| format!("fired {t}"))));
    }
    text.push_str(&format!("pending: {}\n", pending.len()));
    for alert in &pending {
        text.push_str(&alert_line(alert, Some(format!("since {}", alert.since))));
    }
    text.push_str(&format!("recently resolved: {}\n", resolved.len()));
    for alert in resolved.iter().take(RESOLVED_SHOWN) {
        text.push_str(&alert_line(alert, alert.resolved_at.map(|t| format!("resolved {t}"))));
    }
    if resolved.len() > RESOLVED_SHOWN {
        text.push_str(&format!("  … {} more in world/{}\n", resolved.len() - RESOLVED_SHOWN, AlertsFile::NAME));
    }
    text
}
