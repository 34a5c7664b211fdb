//! Integration tests: the real binary on real files in temp dirs.

mod commands;
mod commit;
mod incidents;
mod properties;
mod reading;
mod regressions;
mod snapshots;
mod support;
