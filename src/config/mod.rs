//! Thresholds, from `--config`, `OBSERVER_CONFIG`, `<root>/observer.yaml` or
//! the built-in defaults. Unknown keys are errors, so a typo never silently
//! falls back to a default.
//!
//! `file` holds the keys of `observer.yaml` and reads it; `defaults` holds
//! the value of every key left out (the one place a default is written) and
//! the commented YAML `observer config --defaults` prints, tested to agree.
//! The engine's rules are built from a config by `crate::rules`.

mod defaults;
mod file;
mod notify;

pub use defaults::DEFAULTS_YAML;
pub use file::{BreakerConfig, BudgetsConfig, Config, EventsConfig, HealthConfig, NodesConfig, RetentionConfig};
pub use notify::{ChannelConfig, NotifyConfig, WebhookFormat};
