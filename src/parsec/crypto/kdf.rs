//! Per-object keys (reference §4.3): libsodium's `crypto_kdf_blake2b_derive_from_key`, a
//! keyed BLAKE2b-256 of the empty message with the object id's halves as salt and
//! personalisation.

use blake2::digest::consts::U32;
use blake2::digest::Mac;
use blake2::Blake2bMac;
use uuid::Uuid;

use super::secretbox::SecretKey;

/// Well-known derivation ids (reference §4.3).
pub const CANARY_ID: Uuid = Uuid::from_u128(1);
pub const REALM_NAME_ID: Uuid = Uuid::from_u128(2);

pub fn derive(key: &[u8; 32], id: Uuid) -> SecretKey {
    let bytes = id.as_bytes();
    let mut salt = [0u8; 16];
    let mut persona = [0u8; 16];
    salt[..8].copy_from_slice(&bytes[..8]);
    persona[..8].copy_from_slice(&bytes[8..]);
    // Key, salt and personalisation lengths are fixed and valid for BLAKE2b.
    let mac = Blake2bMac::<U32>::new_with_salt_and_personal(Some(key), &salt, &persona)
        .expect("valid BLAKE2b parameters");
    SecretKey(mac.finalize().into_bytes().into())
}
