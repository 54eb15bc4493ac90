//! XSalsa20-Poly1305 secret boxes (reference §4.2): `nonce (24) ‖ tag (16) ‖ ciphertext`,
//! i.e. a random nonce followed by NaCl's `crypto_secretbox_easy` output.

use crypto_secretbox::aead::{Aead, AeadCore, AeadInPlace, KeyInit, OsRng};
use crypto_secretbox::{Nonce, XSalsa20Poly1305};

use crate::parsec::error::{DataError, DataResult};

pub const NONCE_LEN: usize = 24;
pub const TAG_LEN: usize = 16;
/// What encryption adds to a cleartext.
pub const OVERHEAD: usize = NONCE_LEN + TAG_LEN;

/// A 32-byte symmetric key.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(pub [u8; 32]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

impl SecretKey {
    pub fn generate() -> Self {
        SecretKey(XSalsa20Poly1305::generate_key(&mut OsRng).into())
    }

    pub fn encrypt(&self, cleartext: &[u8]) -> Vec<u8> {
        let cipher = XSalsa20Poly1305::new(&self.0.into());
        let nonce = XSalsa20Poly1305::generate_nonce(&mut OsRng);
        let mut out = nonce.to_vec();
        // Encryption into memory fails only for inputs of more than 2^38 bytes.
        out.extend(
            cipher
                .encrypt(&nonce, cleartext)
                .expect("secretbox encryption"),
        );
        out
    }

    /// Like `encrypt` with a nonce chosen by the caller (reproducible test data; a nonce
    /// must never be used twice with one key). Encrypts in place: one copy of the cleartext.
    pub fn encrypt_with_nonce(&self, nonce: &[u8; NONCE_LEN], cleartext: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(OVERHEAD + cleartext.len());
        out.extend_from_slice(nonce);
        out.extend_from_slice(&[0u8; TAG_LEN]);
        out.extend_from_slice(cleartext);
        // Fails only for inputs of more than 2^38 bytes.
        let tag = XSalsa20Poly1305::new(&self.0.into())
            .encrypt_in_place_detached(Nonce::from_slice(nonce), b"", &mut out[OVERHEAD..])
            .expect("secretbox encryption");
        out[NONCE_LEN..OVERHEAD].copy_from_slice(&tag);
        out
    }

    /// Opens a box; `what` names it in the error (e.g. "vlob", "key canary").
    pub fn decrypt(&self, data: &[u8], what: &'static str) -> DataResult<Vec<u8>> {
        self.decrypt_owned(data.to_vec(), what)
            .map(Opened::into_vec)
    }

    /// Like `decrypt`, in place: the box's own buffer becomes the cleartext (no second
    /// buffer of the block's size, no copy), for gigabytes of blocks.
    pub fn decrypt_owned(&self, mut data: Vec<u8>, what: &'static str) -> DataResult<Opened> {
        if data.len() < OVERHEAD {
            return Err(DataError::Truncated {
                what,
                need: OVERHEAD,
                got: data.len(),
            });
        }
        let (head, body) = data.split_at_mut(OVERHEAD);
        let (nonce, tag) = head.split_at(NONCE_LEN);
        XSalsa20Poly1305::new(&self.0.into())
            .decrypt_in_place_detached(
                Nonce::from_slice(nonce),
                b"",
                body,
                crypto_secretbox::Tag::from_slice(tag),
            )
            .map_err(|_| DataError::WrongKey(what))?;
        Ok(Opened(data))
    }
}

/// A box opened in place: its buffer, whose bytes after the nonce and tag are the cleartext.
pub struct Opened(Vec<u8>);

impl Opened {
    /// The cleartext alone.
    pub fn into_vec(self) -> Vec<u8> {
        let mut v = self.0;
        v.drain(..OVERHEAD);
        v
    }
}

impl std::ops::Deref for Opened {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0[OVERHEAD..]
    }
}
