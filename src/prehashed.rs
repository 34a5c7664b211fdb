//! The hashers of the crate's hash maps. [`Prehashed`], for maps whose
//! keys are already hashes (XXH3 of a path or an id): the key is used as it
//! is, instead of being hashed again by SipHash. [`StrHasher`], for maps
//! keyed by strings (`engine::keyed`, the alert map). Shared by the state's entity index (`store::journal_index`)
//! and the engine's ids that left the hot view (`engine::finished`), which
//! must not import the store.

use std::hash::Hasher;

use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

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

/// Strings hashed with XXH3 rather than SipHash: the keys are ids from the
/// lab's own event files, not from an adversary on the network.
#[derive(Default)]
pub struct StrHasher(u64);

impl Hasher for StrHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0 = xxh3_64_with_seed(bytes, self.0);
    }

    /// The end marker `str` writes after its bytes.
    fn write_u8(&mut self, byte: u8) {
        self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}
