//! Everything on disk: event sources and their cursors, the checkpoint,
//! atomic writes and the state lock.

pub mod append;
pub mod atomic;
pub mod checkpoint;
pub mod deployment_files;
pub mod fault_injection;
pub mod fingerprint;
pub mod lock;
pub mod sources;
