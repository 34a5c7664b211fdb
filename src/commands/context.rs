//! The one place where the global flags become what a command works with:
//! the directories, the config, the inventory, the clock and the state lock.
//!
//! The directories and the clock are settled when the context is made; the
//! config and the inventory are loaded when a command asks for them, so
//! that `status` or `emit` never fail on a config they do not read. Each
//! command asks in the same order — config, inventory, event directory,
//! lock — so that the first problem found is the one reported.

use anyhow::{Context as _, Result, bail};

use crate::cli::PathArgs;
use crate::config::{Config, check_runbooks, hook_problems};
use crate::dirs::Dirs;
use crate::input_problem::InputProblem;
use crate::inventory::Inventory;
use crate::store::lock::StateLock;
use crate::time::Ts;

pub struct Context {
    pub dirs: Dirs,
    /// Whether the config file was named (`--config` or `OBSERVER_CONFIG`)
    /// rather than found under the root: `rebuild --out` then compares that
    /// candidate with the live outbox.
    pub config_named: bool,
    clock: Clock,
}

/// The wall clock, or the time `OBSERVER_NOW` (RFC 3339) gives, so that
/// tests and demos get stable output. The variable is read once; a bad
/// value is an error only for a command that reads the clock.
enum Clock {
    Wall,
    Fixed(Result<Ts, String>),
}

impl Context {
    /// Turns the path flags into directories (each flag overrides its part
    /// of the root) and reads the clock's setting.
    pub fn new(paths: &PathArgs) -> Context {
        let mut dirs = Dirs::under(&paths.root);
        if let Some(dir) = &paths.events {
            dirs.events = dir.clone();
        }
        if let Some(dir) = &paths.state {
            dirs.state = dir.clone();
        }
        if let Some(dir) = &paths.world {
            dirs.world = dir.clone();
        }
        if let Some(dir) = &paths.logs {
            dirs.logs = dir.clone();
        }
        if let Some(dir) = &paths.inventory {
            dirs.inventory = Some(dir.clone());
        }
        if let Some(file) = &paths.config {
            dirs.config = Some(file.clone());
        }
        let clock = match std::env::var("OBSERVER_NOW") {
            Ok(text) => Clock::Fixed(Ts::parse(&text)),
            Err(_) => Clock::Wall,
        };
        Context { dirs, config_named: paths.config.is_some(), clock }
    }

    /// The config file, or the defaults when there is none. Its rules'
    /// runbooks are checked against the inventory directory. A key under an
    /// older name is a warning on stderr.
    pub fn config(&self) -> Result<Config> {
        match &self.dirs.config {
            Some(file) => {
                let (config, older_names) = Config::load(file)?;
                for note in older_names {
                    let message = note.message.strip_prefix("note: ").unwrap_or(&note.message);
                    super::warn(&format!("warning: {}", InputProblem { message: message.to_string(), ..note }));
                }
                check_runbooks(&config, file, self.dirs.inventory.as_deref())?;
                // A hook that cannot be run is a failing channel, not a
                // broken config: told, and its deliveries fail and are
                // retried until it is back (`config::hook_problems`).
                for problem in hook_problems(&config.notify.channels, file) {
                    super::warn(&format!(
                        "warning: {problem}; its deliveries fail and are retried until it can be run"
                    ));
                }
                Ok(config)
            }
            None => Ok(Config::default()),
        }
    }

    /// The inventory, or an empty one when there is none. A problem in it
    /// stops the command before it changes anything.
    pub fn inventory(&self) -> Result<Inventory> {
        let Some(dir) = &self.dirs.inventory else { return Ok(Inventory::default()) };
        match Inventory::load(dir) {
            Ok(inventory) => Ok(inventory),
            Err(problems) => {
                let list: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
                bail!("the inventory has problems; nothing was changed:\n{}", list.join("\n"))
            }
        }
    }

    /// The check a command that folds makes once, before it takes the lock.
    pub fn require_events(&self) -> Result<()> {
        Ok(self.dirs.require_events()?)
    }

    /// Takes the state lock for `command`; it is held until the returned
    /// value is dropped. A held lock is the error `main` maps to exit 75.
    pub fn lock(&self, command: &str, wait: bool) -> Result<StateLock> {
        Ok(StateLock::acquire(&self.dirs.state, command, wait)?)
    }

    /// `budgets.log_lines_per_minute` of the config, read leniently: a
    /// config that does not load leaves the default here, and the command
    /// that reads the config reports its problem.
    pub fn log_lines_per_minute(&self) -> u32 {
        let defaults = Config::default().budgets.log_lines_per_minute;
        match &self.dirs.config {
            Some(file) => Config::load(file).map_or(defaults, |(config, _)| config.budgets.log_lines_per_minute),
            None => defaults,
        }
    }

    /// The time `OBSERVER_NOW` fixes, if it does (and parses).
    pub fn fixed_now(&self) -> Option<Ts> {
        match &self.clock {
            Clock::Fixed(Ok(at)) => Some(*at),
            _ => None,
        }
    }

    /// Now, by the clock of this run.
    pub fn now(&self) -> Result<Ts> {
        match &self.clock {
            Clock::Wall => Ok(Ts::from_datetime(chrono::Utc::now())),
            Clock::Fixed(Ok(at)) => Ok(*at),
            Clock::Fixed(Err(reason)) => Err(anyhow::Error::msg(reason.clone())).context("OBSERVER_NOW"),
        }
    }
}
