//! The sequester armors (reference §3.2, §3.4): `ALGORITHM ‖ ":" ‖ RSA output (k bytes) ‖
//! rest`, k being the key's modulus length (any allowed size).
//! - encryption `RSAES-OAEP-SHA256-XSALSA20-POLY1305`: OAEP-SHA256 (MGF1-SHA256, empty
//!   label) wraps a one-time secret key; the rest is a secret box under it;
//! - signature `RSASSA-PSS-SHA256`: PSS-SHA256 with the maximum salt; the rest is the
//!   signed message.

use rsa::pss::{Signature, SigningKey, VerifyingKey};
use rsa::rand_core::CryptoRng;
use rsa::sha2::Sha256;
use rsa::signature::{RandomizedSigner, Signer, Verifier};

use super::rsa_key::{SequesterPrivateKey, SequesterPublicKey};
use super::secretbox::SecretKey;
use crate::parsec::error::{DataError, DataResult};

pub const ENCRYPTION_ALGORITHM: &str = "RSAES-OAEP-SHA256-XSALSA20-POLY1305";
pub const SIGNATURE_ALGORITHM: &str = "RSASSA-PSS-SHA256";
/// SHA-256 output plus PSS's two fixed bytes: the maximum salt is k − 34.
const PSS_OVERHEAD: usize = 32 + 2;

/// Splits `algorithm ‖ ":" ‖ k bytes ‖ rest` at the first `:`.
fn split_armor<'a>(
    data: &'a [u8],
    algorithm: &str,
    k: usize,
    what: &'static str,
) -> DataResult<(&'a [u8], &'a [u8])> {
    let colon = data
        .iter()
        .position(|&b| b == b':')
        .ok_or_else(|| DataError::UnknownAlgorithm(prefix_text(data)))?;
    if &data[..colon] != algorithm.as_bytes() {
        return Err(DataError::UnknownAlgorithm(prefix_text(&data[..colon])));
    }
    let rest = &data[colon + 1..];
    if rest.len() < k {
        return Err(DataError::Truncated {
            what,
            need: colon + 1 + k,
            got: data.len(),
        });
    }
    Ok(rest.split_at(k))
}

/// The (possibly binary) algorithm prefix, shortened, for an error message.
fn prefix_text(data: &[u8]) -> String {
    String::from_utf8_lossy(&data[..data.len().min(40)]).into_owned()
}

impl SequesterPrivateKey {
    /// Opens a hybrid envelope (a sequester keys-bundle access).
    pub fn decrypt(&self, data: &[u8], what: &'static str) -> DataResult<Vec<u8>> {
        let k = self.public_key().size();
        let (wrapped, boxed) = split_armor(data, ENCRYPTION_ALGORITHM, k, what)?;
        let key = self
            .0
            .oaep_decrypt::<Sha256>(wrapped)
            .map_err(|_| DataError::WrongKey(what))?;
        let key = <[u8; 32]>::try_from(key.as_slice()).map_err(|_| DataError::Invalid {
            what,
            why: format!("its RSA part holds {} bytes, not a 32-byte key", key.len()),
        })?;
        SecretKey(key).decrypt(boxed, what)
    }

    /// `RSASSA-PSS-SHA256:` ‖ signature ‖ message.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let signature: Box<[u8]> = self.pss_signer().sign(message).into();
        armor_signature(&signature, message)
    }

    /// Like `sign`, drawing the PSS salt from `rng` (reproducible test data).
    pub fn sign_with_rng<R: CryptoRng + ?Sized>(&self, message: &[u8], rng: &mut R) -> Vec<u8> {
        let signature: Box<[u8]> = self.pss_signer().sign_with_rng(rng, message).into();
        armor_signature(&signature, message)
    }

    fn pss_signer(&self) -> SigningKey<Sha256> {
        let k = self.public_key().size();
        SigningKey::<Sha256>::new_with_salt_len(self.0.clone(), k - PSS_OVERHEAD)
    }
}

fn armor_signature(signature: &[u8], message: &[u8]) -> Vec<u8> {
    let mut out = format!("{SIGNATURE_ALGORITHM}:").into_bytes();
    out.extend_from_slice(signature);
    out.extend_from_slice(message);
    out
}

impl SequesterPublicKey {
    /// A hybrid envelope for this key.
    pub fn encrypt(&self, cleartext: &[u8]) -> Vec<u8> {
        let key = SecretKey::generate();
        // OAEP of 32 bytes fits every allowed key size (≥ 1024 bits).
        let wrapped = self
            .0
            .oaep_encrypt::<Sha256>(&key.0)
            .expect("RSA-OAEP of a 32-byte key");
        let mut out = format!("{ENCRYPTION_ALGORITHM}:").into_bytes();
        // RSA output shorter than k (leading zeros) is left-padded to exactly k bytes.
        out.resize(out.len() + self.size() - wrapped.len().min(self.size()), 0);
        out.extend_from_slice(&wrapped);
        out.extend_from_slice(&key.encrypt(cleartext));
        out
    }

    /// Checks an RSA-PSS armored signature and returns the signed message.
    pub fn verify<'a>(&self, signed: &'a [u8], what: &'static str) -> DataResult<&'a [u8]> {
        let (signature, message) = split_armor(signed, SIGNATURE_ALGORITHM, self.size(), what)?;
        let signature =
            Signature::try_from(signature).map_err(|_| DataError::BadSignature(what))?;
        VerifyingKey::<Sha256>::new_with_auto_salt_len(self.0.clone())
            .verify(message, &signature)
            .map_err(|_| DataError::BadSignature(what))?;
        Ok(message)
    }
}
