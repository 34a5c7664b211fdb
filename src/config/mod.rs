//! Thresholds, from `--config`, `OBSERVER_CONFIG`, `<root>/observer.yaml` or
//! the built-in defaults. Unknown keys are errors, so a typo never silently
//! falls back to a default.
//!
//! `file` holds the keys of `observer.yaml` and reads it; `defaults` holds
//! the value of every key left out (the one place a default is written) and
//! the commented YAML `observer config --defaults` prints, tested to agree.
//! `alerts` and `channels` check the alert rules and the notification
//! channels while the file is parsed, so that each problem keeps its line.
//! `renamed` reads keys written under an older name, with a note each.
//! The engine's rules are built from a config by `crate::rules`.

mod alerts;
mod channels;
mod defaults;
mod file;
mod located;
mod notify;
mod renamed;
mod runbooks;

pub use alerts::default_rule;
pub use alerts::{AlertsConfig, RuleConfig, RuleName, rule_names, some_count, some_runbook, some_seconds, thresholds};
pub use channels::hook_problems;
pub use defaults::DEFAULTS_YAML;
pub use file::{
    BreakerConfig, BudgetsConfig, Config, EventsConfig, HealthConfig, NodesConfig, Noted, RetentionConfig, WatchConfig,
    WorldConfig,
};
pub use located::{checked, checked_or_default};
pub use notify::{ChannelConfig, NotifyConfig, WebhookFormat};
pub use runbooks::check_runbooks;
