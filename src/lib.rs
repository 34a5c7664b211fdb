//! observer: folds append-only homelab events into a JSON world model.
//!
//! The shape is a pure fold inside an IO shell: [`event`] turns bytes into
//! typed events, [`engine`] folds them without IO or wall clock, [`world`]
//! projects the state into the world files, and [`store`] and [`pass`] do
//! everything that touches the disk.
#![forbid(unsafe_code)]

pub mod cli;
pub mod commands;
pub mod config;
pub mod engine;
pub mod event;
pub mod exit;
pub mod input_problem;
pub mod inventory;
pub mod layout;
pub mod pass;
pub mod probe;
pub mod rules;
pub mod store;
pub mod time;
pub mod world;
