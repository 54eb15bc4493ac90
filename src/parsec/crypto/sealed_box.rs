//! libsodium sealed boxes (`crypto_box_seal`, X25519 + XSalsa20-Poly1305): a user's
//! keys-bundle accesses (reference §3.8).

use crypto_box::aead::OsRng;

use crate::parsec::error::{DataError, DataResult};

/// Ephemeral public key (32) and tag (16).
pub const OVERHEAD: usize = 48;

#[derive(Clone)]
pub struct PrivateKey(crypto_box::SecretKey);

impl PrivateKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        PrivateKey(crypto_box::SecretKey::from_bytes(bytes))
    }

    pub fn generate() -> Self {
        PrivateKey(crypto_box::SecretKey::generate(&mut OsRng))
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.public_key())
    }

    pub fn unseal(&self, data: &[u8], what: &'static str) -> DataResult<Vec<u8>> {
        if data.len() < OVERHEAD {
            return Err(DataError::Truncated {
                what,
                need: OVERHEAD,
                got: data.len(),
            });
        }
        self.0.unseal(data).map_err(|_| DataError::WrongKey(what))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey(crypto_box::PublicKey);

impl PublicKey {
    pub fn from_bytes(bytes: &[u8]) -> DataResult<Self> {
        let bytes = <[u8; 32]>::try_from(bytes).map_err(|_| {
            DataError::Key(format!(
                "an X25519 public key is 32 bytes, not {}",
                bytes.len()
            ))
        })?;
        Ok(PublicKey(crypto_box::PublicKey::from_bytes(bytes)))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    pub fn seal(&self, cleartext: &[u8]) -> Vec<u8> {
        // Sealing into memory cannot fail.
        self.0
            .seal(&mut OsRng, cleartext)
            .expect("sealed box encryption")
    }
}
