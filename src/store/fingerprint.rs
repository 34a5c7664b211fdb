//! FNV-1a, a stable 64-bit hash: file fingerprints are stored in the
//! checkpoint, so the hash must not change between builds or Rust versions
//! (std's `DefaultHasher` makes no such promise).

pub fn fnv1a(bytes: &[u8]) -> u64 {
    fnv1a_continue(FNV1A_EMPTY, bytes)
}

/// The hash of nothing, where a running hash starts.
pub const FNV1A_EMPTY: u64 = 0xcbf2_9ce4_8422_2325;

/// Continues `hash` (of the bytes before) over `bytes`: the hash of an
/// append-only file is kept up to date from what is appended alone.
pub fn fnv1a_continue(hash: u64, bytes: &[u8]) -> u64 {
    let mut hash = hash;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_values() {
        assert_eq!(super::fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(super::fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(super::fnv1a_continue(super::fnv1a(b"ab"), b"cd"), super::fnv1a(b"abcd"));
    }
}
