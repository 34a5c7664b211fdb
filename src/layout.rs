//! Where everything lives: one root with each part overridable (SPEC §1).

use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct Layout {
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

impl Layout {
    /// The standard layout under `root`: `events/`, `state/`, `world/`,
    /// `logs/`; `<root>/inventory` when it exists; `<root>/observer.yaml`
    /// when it exists.
    pub fn under(root: &Path) -> Layout {
        let inventory = root.join("inventory");
        let config = root.join("observer.yaml");
        Layout {
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
    pub fn require_events(&self) -> anyhow::Result<()> {
        if self.events.is_dir() {
            return Ok(());
        }
        anyhow::bail!(
            "there is no event directory at {}; pass --root DIR (or set OBSERVER_ROOT) to point at the homelab root, \
             or create it",
            self.events.display()
        )
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
