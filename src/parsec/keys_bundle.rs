//! Realm keys bundles and their accesses (reference §3.5, §3.8).
//!
//! An access holds `keys_bundle_key`, sealed for a user (sealed box) or a sequester service
//! (hybrid RSA envelope); it opens the bundle, a secret box of `signature ‖ format v0
//! RealmKeysBundle` whose `keys[i-1]` is key index i.

use rmpv::Value;
use uuid::Uuid;

use super::certificates::RealmKeyRotationCertificate;
use super::crypto::rsa_key::{SequesterPrivateKey, SequesterPublicKey};
use super::crypto::sealed_box;
use super::crypto::secretbox::SecretKey;
use super::crypto::signing::{self, SigningKey, VerifyKey};
use super::error::{DataError, DataResult};
use super::serialization::envelope;
use super::serialization::msgpack::{self as mp, Fields};
use crate::ids::Micros;

/// The cleartext of an access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeysBundleAccess {
    pub keys_bundle_key: SecretKey,
}

impl KeysBundleAccess {
    pub fn decode(payload: &[u8]) -> DataResult<Self> {
        let value = envelope::load(payload)?;
        let (f, _) = Fields::typed(&value, &["realm_keys_bundle_access"])?;
        Ok(KeysBundleAccess {
            keys_bundle_key: SecretKey(f.key32("keys_bundle_key")?),
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        envelope::dump(&mp::map(vec![
            ("type", mp::str("realm_keys_bundle_access")),
            ("keys_bundle_key", mp::bin(&self.keys_bundle_key.0)),
        ]))
    }

    /// From a `realm_sequester_keys_bundle_access.access`.
    pub fn open_sequester(access: &[u8], key: &SequesterPrivateKey) -> DataResult<Self> {
        Self::decode(&key.decrypt(access, "sequester keys bundle access")?)
    }

    pub fn seal_sequester(&self, key: &SequesterPublicKey) -> Vec<u8> {
        key.encrypt(&self.encode())
    }

    /// From a `realm_keys_bundle_access.access` (a user's).
    pub fn open_user(access: &[u8], key: &sealed_box::PrivateKey) -> DataResult<Self> {
        Self::decode(&key.unseal(access, "user keys bundle access")?)
    }

    pub fn seal_user(&self, key: &sealed_box::PublicKey) -> Vec<u8> {
        key.seal(&self.encode())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealmKeysBundle {
    pub author: Uuid,
    pub timestamp: Micros,
    pub realm_id: Uuid,
    /// `keys[i-1]` is the key of index i.
    pub keys: Vec<[u8; 32]>,
}

/// A bundle opened but whose signature is not checked yet (the author's key comes from
/// the certificates).
#[derive(Debug, Clone)]
pub struct UnverifiedBundle {
    pub bundle: RealmKeysBundle,
    signed: Vec<u8>,
}

impl UnverifiedBundle {
    pub fn verify(self, author_key: &VerifyKey) -> DataResult<RealmKeysBundle> {
        author_key.verify(&self.signed, "keys bundle")?;
        Ok(self.bundle)
    }
}

impl RealmKeysBundle {
    /// Opens `realm_keys_bundle.keys_bundle` with the access's key.
    pub fn open(encrypted: &[u8], access: &KeysBundleAccess) -> DataResult<UnverifiedBundle> {
        let signed = access.keys_bundle_key.decrypt(encrypted, "keys bundle")?;
        let (_, payload) = signing::split(&signed, "keys bundle")?;
        let value = envelope::load(payload)?;
        let (f, _) = Fields::typed(&value, &["realm_keys_bundle"])?;
        let keys = f
            .array("keys")?
            .iter()
            .map(|k| mp::as_key32(k, "keys"))
            .collect::<DataResult<_>>()?;
        let bundle = RealmKeysBundle {
            author: f.id("author")?,
            timestamp: f.time("timestamp")?,
            realm_id: f.id("realm_id")?,
            keys,
        };
        Ok(UnverifiedBundle { bundle, signed })
    }

    /// Signs then encrypts it, as `realm_keys_bundle.keys_bundle`.
    pub fn seal(&self, author: &SigningKey, access: &KeysBundleAccess) -> Vec<u8> {
        let value = mp::map(vec![
            ("type", mp::str("realm_keys_bundle")),
            ("author", mp::id(self.author)),
            ("timestamp", mp::time(self.timestamp)),
            ("realm_id", mp::id(self.realm_id)),
            (
                "keys",
                Value::Array(self.keys.iter().map(|k| mp::bin(k)).collect()),
            ),
        ]);
        access
            .keys_bundle_key
            .encrypt(&author.sign(&envelope::dump(&value)))
    }

    /// What Parsec's online client checks against the bundle's rotation (reference §3.5):
    /// the realm, the number of keys, the author. Timestamps differ in real data: not compared.
    pub fn check_rotation(&self, rotation: &RealmKeyRotationCertificate) -> DataResult<()> {
        if self.realm_id != rotation.realm_id {
            return Err(DataError::Mismatch {
                field: "keys bundle realm",
                expected: rotation.realm_id.simple().to_string(),
                found: self.realm_id.simple().to_string(),
            });
        }
        if self.keys.len() as u64 != rotation.key_index {
            return Err(DataError::Mismatch {
                field: "keys bundle key count",
                expected: rotation.key_index.to_string(),
                found: self.keys.len().to_string(),
            });
        }
        if self.author != rotation.author {
            return Err(DataError::WrongAuthor {
                what: "keys bundle",
                expected: format!(
                    "device {} (the rotation's author)",
                    rotation.author.simple()
                ),
                found: format!("device {}", self.author.simple()),
            });
        }
        Ok(())
    }

    /// The key of index `index` (1-based).
    pub fn key(&self, index: u64) -> DataResult<&[u8; 32]> {
        usize::try_from(index)
            .ok()
            .and_then(|i| i.checked_sub(1))
            .and_then(|i| self.keys.get(i))
            .ok_or(DataError::Invalid {
                what: "keys bundle",
                why: format!("it holds {} keys, not key {index}", self.keys.len()),
            })
    }
}
