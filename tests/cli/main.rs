//! Integration tests: the real binary on real files in temp dirs.

mod commands;
mod commit;
mod health;
mod incidents;
mod probing;
mod properties;
mod reading;
mod regressions;
mod snapshots;
mod support;
