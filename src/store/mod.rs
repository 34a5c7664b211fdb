//! Everything on disk: event sources and their cursors, the checkpoint and
//! the outbox and history files it commits (with their marks), atomic writes, the world generations, the state lock, the deployment
//! files that deploy scripts leave, and the fault injection the crash tests
//! use.

pub mod append;
pub mod atomic;
pub mod checkpoint;
pub mod deployment_files;
pub mod event_index;
pub mod event_index_log;
pub mod events;
pub mod fault_injection;
pub mod fingerprint;
pub mod generation;
pub mod history;
pub mod journal;
pub mod journal_cut;
pub mod journal_entities;
pub mod journal_index;
pub mod journal_placed;
pub mod journal_spans;
pub mod last_run;
pub mod lock;
pub mod mark;
pub mod outbox;
pub mod rejects;
