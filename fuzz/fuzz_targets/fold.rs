//! Arbitrary event sequences through the fold: never a panic, and one batch
//! agrees with many. The property is in `src/lib.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| observer_fuzz::check_fold(data));
