//! Sequester RSA keys (reference §3.1): private keys as PKCS#8 DER or PEM, passphrase-
//! encrypted PKCS#8 PEM (what `openssl genrsa -aes256` makes with OpenSSL 3) and PKCS#1
//! PEM; public keys as SubjectPublicKeyInfo DER, as certificates store them.

use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::der::zeroize::Zeroizing;
use rsa::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use rsa::traits::PublicKeyParts;
use rsa::{PrivateKey as RsaPrivateKey, PublicKey as RsaPublicKey};

use crate::parsec::error::{DataError, DataResult};

/// Key sizes Parsec allows (`SequesterKeySize`).
pub const ALLOWED_BITS: [usize; 4] = [1024, 2048, 3072, 4096];

#[derive(Clone)]
pub struct SequesterPrivateKey(pub(crate) RsaPrivateKey);

impl std::fmt::Debug for SequesterPrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SequesterPrivateKey({} bits)", self.0.n().bit_width())
    }
}

impl SequesterPrivateKey {
    /// Reads a key file's bytes: DER, or PEM (`PRIVATE KEY`, `ENCRYPTED PRIVATE KEY` with
    /// `passphrase`, `RSA PRIVATE KEY`). Errors never contain key material.
    pub fn load(bytes: &[u8], passphrase: Option<&[u8]>) -> DataResult<Self> {
        let key = match std::str::from_utf8(bytes) {
            Ok(text) if text.contains("-----BEGIN") => load_pem(text, passphrase)?,
            _ => RsaPrivateKey::from_pkcs8_der(bytes).map_err(|e| {
                DataError::Key(format!("not a PKCS#8 DER or PEM RSA private key ({e})"))
            })?,
        };
        check_size(key.n().bit_width() as usize)?;
        Ok(SequesterPrivateKey(key))
    }

    /// A new key of `bits` (one of `ALLOWED_BITS`) drawn from `rng`: a seeded RNG gives
    /// reproducible test keys.
    pub fn generate<R: rsa::rand_core::TryCryptoRng + ?Sized>(
        rng: &mut R,
        bits: usize,
    ) -> DataResult<Self> {
        if !ALLOWED_BITS.contains(&bits) {
            return Err(DataError::Key(format!(
                "a {bits}-bit RSA key: Parsec uses 1024, 2048, 3072 or 4096 bits"
            )));
        }
        RsaPrivateKey::new(rng, bits)
            .map(SequesterPrivateKey)
            .map_err(|e| DataError::Key(format!("cannot generate an RSA key ({e})")))
    }

    pub fn public_key(&self) -> SequesterPublicKey {
        SequesterPublicKey(self.0.to_public_key())
    }

    /// PKCS#8 PEM, encrypted when a passphrase is given.
    pub fn to_pem(&self, passphrase: Option<&[u8]>) -> DataResult<Zeroizing<String>> {
        match passphrase {
            None => self.0.to_pkcs8_pem(LineEnding::LF),
            Some(pass) => self.0.to_pkcs8_encrypted_pem(pass, LineEnding::LF),
        }
        .map_err(|e| DataError::Key(format!("cannot encode the key: {e}")))
    }
}

/// Smaller keys are not Parsec's, and would not hold an OAEP-wrapped key or a PSS salt.
fn check_size(bits: usize) -> DataResult<()> {
    if bits < ALLOWED_BITS[0] || bits > ALLOWED_BITS[ALLOWED_BITS.len() - 1] {
        return Err(DataError::Key(format!(
            "a {bits}-bit RSA key: Parsec uses 1024 to 4096 bits"
        )));
    }
    Ok(())
}

fn load_pem(text: &str, passphrase: Option<&[u8]>) -> DataResult<RsaPrivateKey> {
    if text.contains("BEGIN ENCRYPTED PRIVATE KEY") {
        let pass = passphrase.ok_or_else(|| {
            DataError::Key("the key is passphrase-protected: give its passphrase".into())
        })?;
        return RsaPrivateKey::from_pkcs8_encrypted_pem(text, pass).map_err(|_| {
            DataError::Key("cannot decrypt the key: wrong passphrase, or a damaged key file".into())
        });
    }
    if text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(DataError::Key(
            "legacy encrypted PEM (`Proc-Type: 4,ENCRYPTED`) is not supported: convert it with `openssl pkcs8 -topk8 -in KEY -out KEY.p8` (it keeps a passphrase)".into(),
        ));
    }
    if text.contains("BEGIN RSA PRIVATE KEY") {
        return RsaPrivateKey::from_pkcs1_pem(text)
            .map_err(|e| DataError::Key(format!("not a valid PKCS#1 RSA private key ({e})")));
    }
    RsaPrivateKey::from_pkcs8_pem(text)
        .map_err(|e| DataError::Key(format!("not a valid PKCS#8 RSA private key ({e})")))
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SequesterPublicKey(pub(crate) RsaPublicKey);

impl SequesterPublicKey {
    pub fn from_der(der: &[u8]) -> DataResult<Self> {
        let key = RsaPublicKey::from_public_key_der(der)
            .map_err(|e| DataError::Key(format!("not an RSA SubjectPublicKeyInfo DER ({e})")))?;
        check_size(key.n().bit_width() as usize)?;
        Ok(SequesterPublicKey(key))
    }

    pub fn to_der(&self) -> Vec<u8> {
        // An in-memory RSA key always encodes.
        self.0
            .to_public_key_der()
            .map(|d| d.into_vec())
            .expect("RSA public key DER")
    }

    /// k: the modulus length in bytes, which is the length of every RSA output.
    pub fn size(&self) -> usize {
        self.0.size()
    }
}
