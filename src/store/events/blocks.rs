//! Block hashes of the consumed bytes of an event file: XXH3-64 of each
//! 64 KiB block of `[0, offset)`, the last (partial) block included. The
//! scrub ([`super::scrub`]) and `observer verify` check consumed bytes
//! against them, so an in-place edit anywhere in a consumed file is found,
//! not only in its first and last 4 KiB (guarantee 6).
//!
//! They are kept in the cursor, committed with it in the checkpoint, as
//! one string of 16 hex digits a block: parsing a string costs a no-op run
//! far less than parsing thousands of numbers, and a block is decoded only
//! when it is checked. A file of at most 4 KiB consumed keeps none: its
//! head fingerprint already covers every consumed byte (50,000 single-event
//! files add nothing to the checkpoint).

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

/// Bytes a block hash covers (the last block of a file covers less).
pub const BLOCK: u64 = 64 * 1024;

/// The hash of one block's bytes.
pub fn block_hash(bytes: &[u8]) -> u64 {
    xxh3_64(bytes)
}

/// The hashes of a file's consumed blocks, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BlockHashes(String);

impl BlockHashes {
    /// How many blocks are hashed.
    pub fn len(&self) -> u64 {
        self.0.len() as u64 / 16
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The hash of block `index`; `None` past the end or if the stored text
    /// is not hex (a damaged checkpoint: the block then counts as changed).
    pub fn get(&self, index: u64) -> Option<u64> {
        let at = usize::try_from(index).ok()?.checked_mul(16)?;
        u64::from_str_radix(self.0.get(at..at + 16)?, 16).ok()
    }

    fn push(&mut self, hash: u64) {
        self.0.push_str(&format!("{hash:016x}"));
    }

    fn pop(&mut self) {
        self.0.truncate(self.0.len().saturating_sub(16));
    }

    /// Whether the stored text has the shape of `blocks` hashes.
    pub fn covers(&self, offset: u64) -> bool {
        self.0.len().is_multiple_of(16) && self.len() == offset.div_ceil(BLOCK)
    }
}

/// Builds the block hashes of a file as its consumed bytes arrive in order.
#[derive(Default)]
pub struct BlockHasher {
    hashes: BlockHashes,
    /// The bytes of the block not complete yet.
    pending: Vec<u8>,
}

impl BlockHasher {
    /// Starts at offset 0.
    pub fn new() -> BlockHasher {
        BlockHasher::default()
    }

    /// Continues the hashes of a file consumed up to `offset`, given the
    /// bytes of its last, partial block (`offset % BLOCK` bytes, re-read
    /// from the file: the one re-read a growing file costs).
    pub fn resume(mut hashes: BlockHashes, offset: u64, partial: Vec<u8>) -> BlockHasher {
        if !offset.is_multiple_of(BLOCK) {
            hashes.pop();
        }
        BlockHasher { hashes, pending: partial }
    }

    /// Adds the next consumed bytes.
    pub fn feed(&mut self, mut bytes: &[u8]) {
        let block = BLOCK as usize;
        if !self.pending.is_empty() {
            let take = (block - self.pending.len()).min(bytes.len());
            self.pending.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.pending.len() == block {
                self.hashes.push(block_hash(&self.pending));
                self.pending.clear();
            }
        }
        while bytes.len() >= block {
            self.hashes.push(block_hash(&bytes[..block]));
            bytes = &bytes[block..];
        }
        self.pending.extend_from_slice(bytes);
    }

    /// The hashes of everything fed, the partial last block included.
    pub fn finish(mut self) -> BlockHashes {
        if !self.pending.is_empty() {
            self.hashes.push(block_hash(&self.pending));
        }
        self.hashes
    }
}

/// The block hashes of `bytes` from offset 0.
pub fn hashes_of(bytes: &[u8]) -> BlockHashes {
    let mut hasher = BlockHasher::new();
    hasher.feed(bytes);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fed_in_any_pieces_or_resumed_the_hashes_are_those_of_the_whole() {
        let bytes: Vec<u8> = (0..(3 * BLOCK + 1234)).map(|i| (i * 7 % 251) as u8).collect();
        let whole = hashes_of(&bytes);
        assert_eq!(whole.len(), 4);
        assert!(whole.covers(bytes.len() as u64));
        assert_eq!(whole.get(3), Some(block_hash(&bytes[3 * BLOCK as usize..])));
        let mut pieces = BlockHasher::new();
        for piece in bytes.chunks(10_007) {
            pieces.feed(piece);
        }
        assert_eq!(pieces.finish(), whole);
        for cut in [1, BLOCK as usize, BLOCK as usize + 5, 2 * BLOCK as usize + 99] {
            let first = hashes_of(&bytes[..cut]);
            let partial_at = cut - cut % BLOCK as usize;
            let mut resumed = BlockHasher::resume(first, cut as u64, bytes[partial_at..cut].to_vec());
            resumed.feed(&bytes[cut..]);
            assert_eq!(resumed.finish(), whole, "resumed at {cut}");
        }
        assert_eq!(whole.get(4), None);
        assert!(hashes_of(b"").is_empty());
    }
}
