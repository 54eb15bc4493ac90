//! The secrets of a generated organization besides signing keys: users' X25519 keys,
//! sequester services' RSA keys, and per realm its keys (index 1, 2, ...) and the one-time
//! key of each keys bundle. Key rotations, accesses and realm names are built from them as
//! Parsec's client does (reference §3.5–3.8, §5.7), through `crate::parsec`.

use std::collections::HashMap;

use anyhow::{anyhow, Result};
use uuid::Uuid;

use crate::ids::Micros;
use crate::parsec::certificates::RealmKeyRotationCertificate;
use crate::parsec::crypto::kdf;
use crate::parsec::crypto::rsa_key::SequesterPrivateKey;
use crate::parsec::crypto::sealed_box;
use crate::parsec::crypto::secretbox::SecretKey;
use crate::parsec::crypto::signing::SigningKey;
use crate::parsec::keys_bundle::{KeysBundleAccess, RealmKeysBundle};

#[derive(Default)]
pub(crate) struct Keyring {
    users: HashMap<Uuid, sealed_box::PrivateKey>,
    services: HashMap<Uuid, SequesterPrivateKey>,
    realms: HashMap<Uuid, RealmSecrets>,
}

/// `keys[i-1]` is key index i; `bundle_keys[i-1]` opens keys bundle i.
#[derive(Default)]
pub(crate) struct RealmSecrets {
    pub(crate) keys: Vec<[u8; 32]>,
    bundle_keys: Vec<KeysBundleAccess>,
}

impl RealmSecrets {
    pub(crate) fn key(&self, key_index: u32) -> Result<&[u8; 32]> {
        (key_index as usize)
            .checked_sub(1)
            .and_then(|i| self.keys.get(i))
            .ok_or_else(|| anyhow!("internal error: no realm key {key_index} yet"))
    }

    fn bundle_key(&self, key_index: u32) -> Result<&KeysBundleAccess> {
        (key_index as usize)
            .checked_sub(1)
            .and_then(|i| self.bundle_keys.get(i))
            .ok_or_else(|| anyhow!("internal error: no keys bundle {key_index} yet"))
    }
}

/// What a key rotation writes: the canary (in the certificate and `realm_keys_bundle`) and
/// the encrypted, signed keys bundle.
pub(crate) struct Rotation {
    pub(crate) canary: Vec<u8>,
    pub(crate) keys_bundle: Vec<u8>,
}

impl Keyring {
    /// A user's X25519 key from 32 secret bytes; returns the public key.
    pub(crate) fn add_user(&mut self, user_id: Uuid, secret: [u8; 32]) -> [u8; 32] {
        let key = sealed_box::PrivateKey::from_bytes(secret);
        let public = *key.public_key().as_bytes();
        self.users.insert(user_id, key);
        public
    }

    pub(crate) fn add_service(&mut self, service_id: Uuid, key: SequesterPrivateKey) {
        self.services.insert(service_id, key);
    }

    pub(crate) fn service(&self, service_id: Uuid) -> Result<&SequesterPrivateKey> {
        self.services
            .get(&service_id)
            .ok_or_else(|| anyhow!("internal error: sequester service {service_id} has no key"))
    }

    pub(crate) fn realm(&self, realm_id: Uuid) -> Result<&RealmSecrets> {
        self.realms
            .get(&realm_id)
            .ok_or_else(|| anyhow!("internal error: realm {realm_id} has no key yet"))
    }

    /// Rotation `key_index` (the next one) with the new key `key` and a one-time bundle key
    /// `bundle_key`: the bundle holds every key so far and is signed by the rotation's author.
    pub(crate) fn rotate(
        &mut self,
        realm_id: Uuid,
        key_index: u32,
        key: [u8; 32],
        bundle_key: [u8; 32],
        author: (Uuid, &SigningKey),
        timestamp: Micros,
    ) -> Result<Rotation> {
        let secrets = self.realms.entry(realm_id).or_default();
        if secrets.keys.len() + 1 != key_index as usize {
            return Err(anyhow!(
                "internal error: rotation {key_index} after {} keys",
                secrets.keys.len()
            ));
        }
        secrets.keys.push(key);
        let access = KeysBundleAccess {
            keys_bundle_key: SecretKey(bundle_key),
        };
        let bundle = RealmKeysBundle {
            author: author.0,
            timestamp,
            realm_id,
            keys: secrets.keys.clone(),
        };
        let keys_bundle = bundle.seal(author.1, &access);
        secrets.bundle_keys.push(access);
        Ok(Rotation {
            canary: RealmKeyRotationCertificate::canary_for(&key),
            keys_bundle,
        })
    }

    /// `realm_keys_bundle_access.access`: the bundle's key sealed for the user.
    pub(crate) fn user_access(
        &self,
        realm_id: Uuid,
        key_index: u32,
        user_id: Uuid,
    ) -> Result<Vec<u8>> {
        let user = self
            .users
            .get(&user_id)
            .ok_or_else(|| anyhow!("internal error: user {user_id} has no key"))?;
        let access = self.realm(realm_id)?.bundle_key(key_index)?;
        Ok(access.seal_user(&user.public_key()))
    }

    /// `realm_sequester_keys_bundle_access.access`: the hybrid RSA envelope for the service.
    pub(crate) fn sequester_access(
        &self,
        realm_id: Uuid,
        key_index: u32,
        service_id: Uuid,
    ) -> Result<Vec<u8>> {
        let service = self.service(service_id)?;
        let access = self.realm(realm_id)?.bundle_key(key_index)?;
        Ok(access.seal_sequester(&service.public_key()))
    }

    /// `realm_name_certificate.encrypted_name`: raw UTF-8 under `KDF(K, 00…02)`.
    pub(crate) fn encrypt_name(
        &self,
        realm_id: Uuid,
        key_index: u32,
        name: &str,
    ) -> Result<Vec<u8>> {
        let key = self.realm(realm_id)?.key(key_index)?;
        Ok(kdf::derive(key, kdf::REALM_NAME_ID).encrypt(name.as_bytes()))
    }
}
