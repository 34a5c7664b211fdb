//! Integration tests: the real binary on real files in temp dirs.

mod alert_config;
mod alerts;
mod bad_input;
mod commands;
mod commit;
mod crash;
mod faults;
mod files;
mod fuzzing;
mod health;
mod incidents;
mod maintenance;
mod notify;
mod notify_rebuild;
mod outputs;
mod probing;
mod properties;
mod reading;
mod receivers;
mod regressions;
mod security;
mod snapshots;
mod streaming;
mod support;
mod tls;
mod upgrade;
