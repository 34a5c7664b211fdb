//! `observer check`: the Nagios/Icinga plugin. The flags become
//! [`Limits`]; a bad one is UNKNOWN (exit 3), as the plugin guidelines
//! want, with the reason on the status line.

use anyhow::Result;

use super::context::Context;
use super::{print, shown};
use crate::check::facts::gather;
use crate::check::range::Range;
use crate::check::{Limits, Status, Thresholds, judge};
use crate::cli::CheckArgs;
use crate::inventory::DurationSpec;
use crate::store::last_run::RECENT_HOURS;

pub fn execute(context: &Context, args: &CheckArgs) -> Result<i32> {
    let limits = match limits(args) {
        Ok(limits) => limits,
        Err(why) => {
            print(&format!("OBSERVER UNKNOWN - {why}\n"))?;
            return Ok(Status::Unknown.code());
        }
    };
    let now = match context.now() {
        Ok(now) => now,
        Err(error) => {
            print(&format!("OBSERVER UNKNOWN - {error:#}\n"))?;
            return Ok(Status::Unknown.code());
        }
    };
    let dirs = &context.dirs;
    let facts = gather(dirs, now, limits.window_s, shown(&dirs.world));
    let verdict = judge(&facts, &limits, now);
    print(&verdict.render())?;
    Ok(verdict.status.code())
}

fn limits(args: &CheckArgs) -> Result<Limits, String> {
    let window: DurationSpec = args.window.parse().map_err(|e| format!("--window: {e}"))?;
    let window_s = window.0.div_ceil(1000);
    if window_s == 0 || window_s > RECENT_HOURS * 3600 {
        return Err(format!("--window {} must be more than 0 and at most {RECENT_HOURS}h", args.window));
    }
    let pair = |name: &str, warning: &str, critical: &str| -> Result<Thresholds, String> {
        let one = |level: &str, text: &str| -> Result<Option<Range>, String> {
            if text.is_empty() {
                return Ok(None);
            }
            text.parse().map(Some).map_err(|e| format!("--{name}-{level}: {e}"))
        };
        Ok(Thresholds { warning: one("warning", warning)?, critical: one("critical", critical)? })
    };
    Ok(Limits {
        age: pair("age", &args.age_warning, &args.age_critical)?,
        rejected: pair("rejected", &args.rejected_warning, &args.rejected_critical)?,
        late: pair("late", &args.late_warning, &args.late_critical)?,
        dead_letters: pair("dead-letters", &args.dead_letters_warning, &args.dead_letters_critical)?,
        lock: pair("lock", &args.lock_warning, &args.lock_critical)?,
        free: pair("free", &args.free_warning, &args.free_critical)?,
        nats_lag: pair("nats-lag", &args.nats_lag_warning, &args.nats_lag_critical)?,
        window_s,
    })
}
