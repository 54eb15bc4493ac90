//! SHA-256, the block digest of `BlockAccess` (reference §4.5).

use sha2::{Digest, Sha256};

pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}
