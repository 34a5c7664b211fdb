//! observer: folds append-only homelab events into a JSON world model.
//!
//! The shape is a pure fold inside an IO shell: [`event`] turns bytes into
//! typed events, [`engine`] folds them without IO or wall clock, [`world`]
//! projects the state into the world files, and [`store`] and [`fold_pass`]
//! do everything that touches the disk. [`probe`] runs real checks, whose
//! results (and the clock's ticks) are [`own_events`]. [`commands`] turns the
//! command line ([`cli`]) into calls of the above, on the [`dirs`] it names.
//! [`notify`] delivers, apart from the fold, the notifications it decided;
//! [`child`] runs probe plugins and hooks in process groups of their own.
//! [`metrics`] renders the world for Prometheus; [`check`] judges the
//! observer's own health for Nagios; [`http`] serves the world to machines
//! while `watch` runs, and [`watch`] decides when it makes its next pass.
//! [`diagnostics`] prints what goes to stderr, as text or JSON lines,
//! within a budget of warnings.
#![forbid(unsafe_code)]

pub mod check;
pub mod child;
pub mod cli;
pub mod commands;
pub mod config;
pub mod diagnostics;
pub mod dirs;
pub mod engine;
pub mod event;
pub mod exit;
pub mod explain;
pub mod fold_pass;
pub mod http;
pub mod input_problem;
pub mod inventory;
pub mod metrics;
pub mod nats;
pub mod notify;
pub mod own_events;
pub mod prehashed;
pub mod probe;
pub mod rules;
pub mod runbook;
pub mod schema;
pub mod store;
pub mod systemd;
pub mod threads;
pub mod time;
pub mod watch;
pub mod world;
pub mod yaml_problems;
