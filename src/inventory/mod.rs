//! The homelab inventory: which nodes exist, their roles, the services each
//! host runs, the probes declared for them, what depends on what
//! (`depends_on`) and each service's own alert settings. Optional: without it the world
//! holds what events reveal.
//!
//! The model ([`Inventory`], [`ProbeDef`], [`Check`]) does no IO; only
//! [`Inventory::load`] reads files. Two layouts are read (SPEC §1):
//! `DIR/inventory/topology.yaml` or the flat `DIR/topology.yaml`, and
//! `DIR/hosts/<node>/services.yaml` (also looked for under
//! `DIR/inventory/hosts/`).

mod alerts;
mod ca_file;
mod check;
mod depends_on;
mod duration;
mod load;
mod model;
mod name;
mod probe;
mod services;
mod topology;

pub use alerts::AlertOverride;
pub use check::{Check, CommandCheck, DiskCheck, HttpCheck, PathCheck, TcpCheck};
pub use duration::DurationSpec;
pub use model::Inventory;
pub use name::check_name;
pub use probe::{BreakerOverrides, DebounceOverrides, ProbeDef};
