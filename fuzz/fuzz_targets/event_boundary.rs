//! Any bytes at the event boundary: never a panic, and whatever is accepted
//! survives the checkpoint. The property is in `src/lib.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| observer_fuzz::check_boundary(data));
