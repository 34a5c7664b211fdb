//! `observer watch`: `run`, staying up. It makes `run`'s pass
//! (`commands::pass`) whenever `crate::watch::schedule` says: at a
//! file-system notification (a hint), at each rescan, tick and probe round.
//! Each pass takes and releases the state lock, so that `status`, `rebuild
//! --wait` and `run --wait` interleave with it; a lock held by another is
//! waited for. SIGTERM and SIGINT end it after the pass under way, exit 0.
//!
//! What is fatal, and what is not: a config, inventory or event directory
//! that is not right when watch starts stops it (exit 1), as it would stop
//! `run`. Once it runs, a pass that fails (a config edited into an error,
//! an unreadable checkpoint, a full disk) is recorded in
//! `state/last-failure.json`, said once on stderr, and the next wake-up
//! tries again: a service that exits would leave nobody to retry.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use super::context::Context;
use super::pass::{Pass, PassOptions, pass, summary};
use super::report::recording_failure;
use super::{print, shown, warn};
use crate::cli::WatchArgs;
use crate::config::Config;
use crate::fold_pass::Afterwards;
use crate::http::{HttpOptions, HttpServer, Trigger, read_token_file};
use crate::inventory::Inventory;
use crate::probe::schedule::interval_ms;
use crate::store::lock::{LockError, StateLock};
use crate::watch::filesystem::network_file_system;
use crate::watch::schedule::{Intervals, Schedule, Step};
use crate::watch::wakeups::{self, FileWakeups};
use crate::watch::{Missed, Wake};

/// How often a pass waiting for the lock looks again (and for a stop).
const LOCK_RETRY: Duration = Duration::from_millis(100);
/// After this long waiting for the lock, watch says whom it waits for.
const LOCK_PATIENCE: Duration = Duration::from_secs(10);

pub fn execute(context: &Context, args: &WatchArgs) -> Result<i32> {
    let config = context.config()?;
    let inventory = context.inventory()?;
    context.require_events()?;
    context.now()?;
    let intervals = intervals(&config, &inventory);
    let mut schedule = Schedule::new(intervals, Instant::now());
    let signals = stop_on_signals(schedule.sender())?;
    let mut watch = Watch { context, said: BTreeSet::new(), rescan_s: config.watch.rescan_s, failing: None };
    let _wakeups = watch.file_wakeups(&config, args, schedule.sender());
    let server = serve(context, args, &intervals, schedule.sender())?;
    let relay = super::relay::RelayThread::start(context, args, schedule.sender())?;
    warn(&format!("observer watch: watching {}; {}", shown(&context.dirs.events), describe(&config, args, &intervals)));
    if let Some(server) = &server {
        warn(&format!("observer watch: serving HTTP on http://{}/", server.local_addr()));
    }
    let mut passes = 0u64;
    loop {
        let step = schedule.next_step();
        if step.stop {
            break;
        }
        for missed in &step.missed {
            watch.missed(missed);
        }
        let outcome = match watch.lock(&mut schedule) {
            Ok(None) => break,
            Ok(Some(lock)) => watch.pass(&step, &lock),
            Err(error) => Err(error),
        };
        passes += 1;
        watch.settle(outcome);
        // A minute's warnings left out are said now, not at the next one.
        crate::diagnostics::minute_passed();
    }
    signals.close();
    if let Some(relay) = relay {
        relay.stop();
    }
    if let Some(server) = server {
        server.stop();
    }
    warn(&format!("observer watch: stopped after {passes} passes"));
    Ok(crate::exit::SUCCESS)
}

/// The HTTP interface of `--listen` (SPEC §9), if asked for. Its trigger
/// queues a probe round on the loop's channel; the round runs the probes
/// that are due, after the pass under way.
fn serve(
    context: &Context,
    args: &WatchArgs,
    intervals: &Intervals,
    sender: std::sync::mpsc::Sender<Wake>,
) -> Result<Option<HttpServer>> {
    let Some(addr) = args.listen else { return Ok(None) };
    let trigger_token = match (&args.token_file, args.allow_trigger) {
        (Some(file), true) => Some(read_token_file(file)?),
        _ => None,
    };
    // Without ticks, /ready measures the last pass against the rescan.
    let tick_interval = intervals.tick.unwrap_or(intervals.rescan);
    let options = HttpOptions { addr, trigger_token, tick_interval };
    let trigger: Trigger = Box::new(move || {
        sender.send(Wake::ProbeNow).map_err(|_| anyhow::anyhow!("watch is stopping"))?;
        Ok("a probe round is queued: the due probes run after the pass under way".into())
    });
    Ok(Some(crate::http::start(&context.dirs, options, trigger)?))
}

/// The clocks from the config, and the probe round from the shortest
/// probe interval of the inventory (its probes keep their own schedules;
/// the round runs only the due ones).
fn intervals(config: &Config, inventory: &Inventory) -> Intervals {
    let shortest = inventory.probes.iter().map(|probe| interval_ms(probe, config)).min();
    Intervals {
        tick: (config.watch.tick_s > 0).then(|| Duration::from_secs(config.watch.tick_s)),
        rescan: Duration::from_secs(config.watch.rescan_s),
        probe: shortest.map(|ms| Duration::from_millis(ms.max(1000))),
    }
}

fn describe(config: &Config, args: &WatchArgs, intervals: &Intervals) -> String {
    let wakeups = if args.no_inotify || !config.watch.notify_wakeups {
        "no file-system notifications"
    } else {
        "woken by file-system notifications"
    };
    let tick = match intervals.tick {
        Some(every) => format!("a tick every {}s", every.as_secs()),
        None => "no ticks".into(),
    };
    let probes = match intervals.probe {
        Some(every) => format!("a probe round every {}s", every.as_secs()),
        None => "no probes".into(),
    };
    format!(
        "{wakeups}, a rescan every {}s, {tick}, {probes}; SIGTERM or SIGINT stops it after the pass under way",
        config.watch.rescan_s
    )
}

/// SIGTERM and SIGINT become a [`Wake::Stop`] on the channel, from a
/// thread of signal-hook's iterator: the handler itself only writes to a
/// pipe, and the loop sees the stop when the pass under way is done.
fn stop_on_signals(sender: std::sync::mpsc::Sender<Wake>) -> Result<signal_hook::iterator::Handle> {
    let mut signals = Signals::new([SIGTERM, SIGINT]).context("cannot handle SIGTERM and SIGINT")?;
    let handle = signals.handle();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for _ in signals.forever() {
                let _ = sender.send(Wake::Stop);
            }
        })
        .context("cannot start the thread that waits for signals")?;
    Ok(handle)
}

/// What the loop keeps between passes: the warnings said once, and the
/// failure it last reported.
struct Watch<'a> {
    context: &'a Context,
    said: BTreeSet<String>,
    rescan_s: u64,
    failing: Option<String>,
}

impl Watch<'_> {
    /// Says `text` on stderr the first time `key` comes up.
    fn once(&mut self, key: &str, text: &str) {
        if self.said.insert(key.to_string()) {
            warn(text);
        }
    }

    /// File-system notifications, unless turned off or unavailable; a
    /// network file system is said at once: others' writes wake nobody.
    fn file_wakeups(
        &mut self,
        config: &Config,
        args: &WatchArgs,
        sender: std::sync::mpsc::Sender<Wake>,
    ) -> Option<FileWakeups> {
        let events = shown(&self.context.dirs.events);
        let rescan = self.rescan_s;
        if let Some(name) = network_file_system(&self.context.dirs.events) {
            self.once(
                "network",
                &format!(
                    "observer watch: warning: {events} is on {name}: notifications do not see files written by \
                     other machines; the rescan every {rescan}s finds them (lower watch.rescan_s for less delay)"
                ),
            );
        }
        if args.no_inotify || !config.watch.notify_wakeups {
            return None;
        }
        match wakeups::start(&self.context.dirs.events, sender) {
            Ok((wakeups, missed)) => {
                if let Some(missed) = missed {
                    self.missed(&missed);
                }
                Some(wakeups)
            }
            Err(error) => {
                self.once(
                    "unavailable",
                    &format!(
                        "observer watch: warning: file-system notifications are unavailable ({error}); only the \
                         rescan every {rescan}s finds new events"
                    ),
                );
                None
            }
        }
    }

    fn missed(&mut self, missed: &Missed) {
        let rescan = self.rescan_s;
        let (key, text) = match missed {
            Missed::Overflow => (
                "overflow",
                "the inotify queue overflowed (fs.inotify.max_queued_events): notifications were lost; every \
                 pass reads all of events/, so nothing is missed, and the rescan runs besides"
                    .to_string(),
            ),
            Missed::WatchLimit => (
                "limit",
                format!(
                    "the inotify watch limit is reached (fs.inotify.max_user_watches): some directories of events/ \
                     are not watched; the rescan every {rescan}s finds their events (raise the limit with sysctl)"
                ),
            ),
            Missed::Error(message) => {
                ("error", format!("file-system notifications failed ({message}); the rescan every {rescan}s covers it"))
            }
        };
        self.once(key, &format!("observer watch: warning: {text}"));
    }

    /// The state lock for one pass, waiting while another holds it; `None`
    /// when a stop came meanwhile.
    fn lock(&mut self, schedule: &mut Schedule) -> Result<Option<StateLock>> {
        let started = Instant::now();
        let mut told = false;
        loop {
            match self.context.lock("watch", false) {
                Ok(lock) => return Ok(Some(lock)),
                Err(error) => {
                    let Some(LockError::Held { holder, .. }) = error.downcast_ref::<LockError>() else {
                        return Err(error);
                    };
                    if !told && started.elapsed() >= LOCK_PATIENCE {
                        told = true;
                        warn(&format!("observer watch: waiting for the state lock ({holder})"));
                    }
                }
            }
            if schedule.stop_within(LOCK_RETRY) {
                return Ok(None);
            }
        }
    }

    /// One pass, with the config and the inventory read again: an edit
    /// takes effect at the next pass, as it would for the next `run`
    /// (`watch.*` and the probe round's interval are read at the start).
    fn pass(&self, step: &Step, lock: &StateLock) -> Result<Pass> {
        let context = self.context;
        let config = context.config()?;
        let inventory = context.inventory()?;
        context.require_events()?;
        let options = PassOptions {
            command: "watch",
            probe: step.probe && !inventory.probes.is_empty(),
            tick: step.tick,
            afterwards: Afterwards::Free,
        };
        pass(context, &config, &inventory, lock, &options, |done| {
            // A pass that found nothing new says nothing.
            if done.report.folded == 0 && done.report.rejects.is_empty() && done.probe_lines.is_empty() {
                return Ok(());
            }
            // A closed stdout is no reason to stop watching.
            match print(&summary(&context.dirs, done)) {
                Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                other => other,
            }
        })
    }

    /// Records how the pass ended: a failure in `state/last-failure.json`
    /// and, when it is new, on stderr; a success after failures, on stderr.
    fn settle(&mut self, outcome: Result<Pass>) {
        let context = self.context;
        let outcome = recording_failure(context, "watch", outcome.map(|_| crate::exit::SUCCESS));
        let error = outcome.err().map(|error| format!("{error:#}"));
        match (&error, &self.failing) {
            (Some(now), previous) if previous.as_ref() != Some(now) => {
                warn(&format!("observer watch: error: the pass failed: {now}; watching on, the next wake-up retries"));
            }
            (None, Some(_)) => warn("observer watch: passes succeed again"),
            _ => {}
        }
        self.failing = error;
    }
}
