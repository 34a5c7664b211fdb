//! Where everything lives: one root with each directory overridable (SPEC §1).
//! [`Dirs`] is the set of directories and files a command works in; the
//! command-line flags become one in `commands::context`.

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct Dirs {
    pub root: PathBuf,
    pub events: PathBuf,
    pub state: PathBuf,
    pub world: PathBuf,
    pub logs: PathBuf,
    /// The homelab inventory directory, when there is one.
    pub inventory: Option<PathBuf>,
    /// The config file, when there is one (otherwise the defaults apply).
    pub config: Option<PathBuf>,
}

impl Dirs {
    /// The standard directories under `root`: `events/`, `state/`, `world/`,
    /// `logs/`; `<root>/inventory` when it exists; `<root>/observer.yaml`
    /// when it exists.
    pub fn under(root: &Path) -> Dirs {
        let inventory = root.join("inventory");
        let config = root.join("observer.yaml");
        Dirs {
            root: root.to_path_buf(),
            events: root.join("events"),
            state: root.join("state"),
            world: root.join("world"),
            logs: root.join("logs"),
            inventory: inventory.is_dir().then_some(inventory),
            config: config.is_file().then_some(config),
        }
    }

    /// A missing event directory almost always means a wrong `--root`, so it
    /// is an error rather than an empty world.
    pub fn require_events(&self) -> Result<(), NoEventDirectory> {
        if self.events.is_dir() {
            return Ok(());
        }
        Err(NoEventDirectory { path: self.events.clone() })
    }

    /// Where `observer run` and `watch` append their `tick` events.
    pub fn observer_events(&self) -> PathBuf {
        self.events.join("observer")
    }

    /// Facts about the last run (wall-clock time, duration, version): kept
    /// apart from the world, which is a pure function of the events.
    pub fn last_run(&self) -> PathBuf {
        self.state.join("last-run.json")
    }

    /// The most recent rejected events, with file, line and reason.
    pub fn rejects(&self) -> PathBuf {
        self.state.join("rejects.json")
    }
}

/// The event directory is not there (see [`Dirs::require_events`]).
#[derive(Debug)]
pub struct NoEventDirectory {
    pub path: PathBuf,
}

impl fmt::Display for NoEventDirectory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "there is no event directory at {}; pass --root DIR (or set OBSERVER_ROOT) to point at the homelab root, \
             or create it",
            self.path.display()
        )
    }
}

impl std::error::Error for NoEventDirectory {}
