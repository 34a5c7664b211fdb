//! A hasher for maps whose keys are already hashes (XXH3 of a path or an
//! id): the key is used as it is, instead of being hashed again by
//! SipHash. Shared by the state's entity index (`store::journal_index`)
//! and the engine's ids that left the hot view (`engine::finished`), which
//! must not import the store.

use std::hash::Hasher;

use xxhash_rust::xxh3::xxh3_64;

/// Use with `BuildHasherDefault<Prehashed>` and `u64` keys.
#[derive(Default)]
pub struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    /// Only for keys that are not a `u64`: hashed with XXH3.
    fn write(&mut self, bytes: &[u8]) {
        self.0 = xxh3_64(bytes);
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}
