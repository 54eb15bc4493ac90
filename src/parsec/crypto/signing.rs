//! Ed25519 signatures, prefixed (reference §4.4): `signature (64) ‖ message`.

use ed25519_dalek::{Signature, Signer, Verifier};

use crate::parsec::error::{DataError, DataResult};

pub const SIGNATURE_LEN: usize = 64;

#[derive(Clone, PartialEq, Eq)]
pub struct VerifyKey(ed25519_dalek::VerifyingKey);

impl std::fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("VerifyKey").field(self.as_bytes()).finish()
    }
}

impl VerifyKey {
    pub fn from_bytes(bytes: &[u8]) -> DataResult<Self> {
        let bytes = <[u8; 32]>::try_from(bytes).map_err(|_| {
            DataError::Key(format!(
                "an Ed25519 verify key is 32 bytes, not {}",
                bytes.len()
            ))
        })?;
        ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map(VerifyKey)
            .map_err(|_| DataError::Key("not a valid Ed25519 verify key".into()))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// Checks `signature ‖ message` and returns the message; `what` names it in the error.
    pub fn verify<'a>(&self, signed: &'a [u8], what: &'static str) -> DataResult<&'a [u8]> {
        let (signature, message) = split(signed, what)?;
        self.0
            .verify(message, &signature)
            .map_err(|_| DataError::BadSignature(what))?;
        Ok(message)
    }
}

/// Splits `signature ‖ message` without checking it.
pub fn split<'a>(signed: &'a [u8], what: &'static str) -> DataResult<(Signature, &'a [u8])> {
    if signed.len() < SIGNATURE_LEN {
        return Err(DataError::Truncated {
            what,
            need: SIGNATURE_LEN,
            got: signed.len(),
        });
    }
    let (signature, message) = signed.split_at(SIGNATURE_LEN);
    let signature = <[u8; SIGNATURE_LEN]>::try_from(signature)
        .map(|s| Signature::from_bytes(&s))
        .map_err(|_| DataError::BadSignature(what))?;
    Ok((signature, message))
}

pub struct SigningKey(ed25519_dalek::SigningKey);

impl SigningKey {
    /// From a 32-byte seed (Parsec's testbed derives its keys that way).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        SigningKey(ed25519_dalek::SigningKey::from_bytes(seed))
    }

    pub fn generate() -> Self {
        Self::from_seed(&super::secretbox::SecretKey::generate().0)
    }

    pub fn verify_key(&self) -> VerifyKey {
        VerifyKey(self.0.verifying_key())
    }

    /// `signature ‖ message`.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let mut out = self.0.sign(message).to_bytes().to_vec();
        out.extend_from_slice(message);
        out
    }
}
