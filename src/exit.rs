//! Exit codes, in one place (SPEC §6).

pub const SUCCESS: i32 = 0;
/// The command failed; the message on stderr says why.
pub const FAILURE: i32 = 1;
/// The command line was wrong (clap uses this code too).
pub const USAGE: i32 = 2;
/// Another run holds the state lock (EX_TEMPFAIL).
pub const LOCKED: i32 = 75;
