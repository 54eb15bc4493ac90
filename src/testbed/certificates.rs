//! Certificates of a generated organization (layout described in the reference, section 10),
//! really signed: Ed25519 by the organization's root key (no author) or by the author
//! device's key, RSA-PSS by the sequester authority. Every key comes from the factory's
//! seeded RNG, so a seed always gives the same keys and certificates.

use std::collections::HashMap;

use anyhow::{anyhow, Context, Result};
use chacha20::rand_core::SeedableRng;
use chacha20::ChaCha20Rng;
use chrono::{DateTime, Utc};
use rand::RngCore;
use uuid::Uuid;

use rmpv::Value;

use super::keyring::{Keyring, Rotation};
use super::random::random_bytes;
use crate::parsec::crypto::rsa_key::SequesterPrivateKey;
use crate::parsec::crypto::signing::SigningKey;
use crate::parsec::serialization::envelope;
use crate::parsec::serialization::msgpack as mp;

type Ts = DateTime<Utc>;

/// Produces certificate bytes, drawing keys and random fields from its own RNG.
pub(crate) struct CertificateFactory<R: RngCore> {
    rng: R,
    root: SigningKey,
    devices: HashMap<Uuid, SigningKey>,
    authority: Option<SequesterPrivateKey>,
    /// RSA needs a `rand_core` 0.10 RNG: one seeded from `rng`.
    rsa_rng: ChaCha20Rng,
    rsa_bits: usize,
    /// Every other secret (user, service and realm keys), drawn from `rng` too.
    pub(crate) keyring: Keyring,
}

impl<R: RngCore> CertificateFactory<R> {
    /// `rsa_bits`: size of the sequester keys (authority and services).
    pub(crate) fn new(mut rng: R, rsa_bits: usize) -> Self {
        let root = SigningKey::from_seed(&seed32(&mut rng));
        let rsa_rng = ChaCha20Rng::from_seed(seed32(&mut rng));
        Self {
            rng,
            root,
            devices: HashMap::new(),
            authority: None,
            rsa_rng,
            rsa_bits,
            keyring: Keyring::default(),
        }
    }

    pub(crate) fn bytes(&mut self, len: usize) -> Vec<u8> {
        random_bytes(&mut self.rng, len)
    }

    /// `organization.root_verify_key`.
    pub(crate) fn root_verify_key(&self) -> Vec<u8> {
        self.root.verify_key().as_bytes().to_vec()
    }

    /// A new device's signing key; returns its verify key.
    pub(crate) fn new_device_key(&mut self, device_id: Uuid) -> Vec<u8> {
        let key = SigningKey::from_seed(&seed32(&mut self.rng));
        let verify_key = key.verify_key().as_bytes().to_vec();
        self.devices.insert(device_id, key);
        verify_key
    }

    /// A new user's X25519 key; returns its public key (for the user certificate).
    pub(crate) fn new_user_key(&mut self, user_id: Uuid) -> [u8; 32] {
        let secret = seed32(&mut self.rng);
        self.keyring.add_user(user_id, secret)
    }

    /// A new sequester service's RSA key (kept in the keyring); returns its SPKI DER.
    pub(crate) fn new_service_key(&mut self, service_id: Uuid) -> Result<Vec<u8>> {
        let key = self.rsa_key()?;
        let der = key.public_key().to_der();
        self.keyring.add_service(service_id, key);
        Ok(der)
    }

    /// The signing key of a device created so far.
    pub(crate) fn device_key(&self, device_id: Uuid) -> Result<&SigningKey> {
        self.devices
            .get(&device_id)
            .ok_or_else(|| anyhow!("device {device_id} signs before its key exists"))
    }

    /// Next key rotation of a realm (see `Keyring::rotate`), with fresh keys.
    pub(crate) fn rotate(
        &mut self,
        realm_id: Uuid,
        key_index: u32,
        author: Uuid,
        timestamp: Ts,
    ) -> Result<Rotation> {
        let key = seed32(&mut self.rng);
        let bundle_key = seed32(&mut self.rng);
        let signing = self
            .devices
            .get(&author)
            .ok_or_else(|| anyhow!("device {author} signs before its key exists"))?;
        self.keyring.rotate(
            realm_id,
            key_index,
            key,
            bundle_key,
            (author, signing),
            timestamp.timestamp_micros(),
        )
    }

    fn rsa_key(&mut self) -> Result<SequesterPrivateKey> {
        SequesterPrivateKey::generate(&mut self.rsa_rng, self.rsa_bits)
            .context("generating a sequester RSA key")
    }

    fn ed25519_signed(
        &mut self,
        author: Option<Uuid>,
        fields: Vec<(&str, Value)>,
    ) -> Result<Vec<u8>> {
        let key = match author {
            None => &self.root,
            Some(device) => self.device_key(device)?,
        };
        Ok(key.sign(&envelope::dump(&mp::map(fields))))
    }

    fn rsa_signed(&mut self, fields: Vec<(&str, Value)>) -> Result<Vec<u8>> {
        let authority = self
            .authority
            .as_ref()
            .ok_or_else(|| anyhow!("a sequester service before the sequester authority"))?;
        Ok(authority.sign_with_rng(&envelope::dump(&mp::map(fields)), &mut self.rsa_rng))
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn user(
        &mut self,
        author: Option<Uuid>,
        timestamp: Ts,
        user_id: Uuid,
        human_handle: Option<(&str, &str)>,
        public_key: &[u8],
        profile: &str,
    ) -> Result<Vec<u8>> {
        let handle = human_handle.map_or(Value::Nil, |(email, label)| {
            Value::Array(vec![mp::str(email), mp::str(label)])
        });
        self.ed25519_signed(
            author,
            vec![
                ("type", mp::str("user_certificate")),
                ("author", mp::opt_id(author)),
                ("timestamp", mp::time(timestamp.timestamp_micros())),
                ("user_id", mp::id(user_id)),
                ("human_handle", handle),
                ("public_key", mp::bin(public_key)),
                ("algorithm", mp::str("X25519_XSALSA20_POLY1305")),
                ("profile", mp::str(profile)),
            ],
        )
    }

    pub(crate) fn device(
        &mut self,
        author: Option<Uuid>,
        timestamp: Ts,
        user_id: Uuid,
        device_id: Uuid,
        device_label: Option<&str>,
        verify_key: &[u8],
    ) -> Result<Vec<u8>> {
        self.ed25519_signed(
            author,
            vec![
                ("type", mp::str("device_certificate")),
                ("purpose", mp::str("STANDARD")),
                ("author", mp::opt_id(author)),
                ("timestamp", mp::time(timestamp.timestamp_micros())),
                ("user_id", mp::id(user_id)),
                ("device_id", mp::id(device_id)),
                ("device_label", device_label.map_or(Value::Nil, mp::str)),
                ("verify_key", mp::bin(verify_key)),
                ("algorithm", mp::str("ED25519")),
            ],
        )
    }

    pub(crate) fn revoked_user(
        &mut self,
        author: Uuid,
        timestamp: Ts,
        user_id: Uuid,
    ) -> Result<Vec<u8>> {
        self.ed25519_signed(
            Some(author),
            vec![
                ("type", mp::str("revoked_user_certificate")),
                ("author", mp::id(author)),
                ("timestamp", mp::time(timestamp.timestamp_micros())),
                ("user_id", mp::id(user_id)),
            ],
        )
    }

    pub(crate) fn user_update(
        &mut self,
        author: Uuid,
        timestamp: Ts,
        user_id: Uuid,
        new_profile: &str,
    ) -> Result<Vec<u8>> {
        self.ed25519_signed(
            Some(author),
            vec![
                ("type", mp::str("user_update_certificate")),
                ("author", mp::id(author)),
                ("timestamp", mp::time(timestamp.timestamp_micros())),
                ("user_id", mp::id(user_id)),
                ("new_profile", mp::str(new_profile)),
            ],
        )
    }

    pub(crate) fn realm_role(
        &mut self,
        author: Uuid,
        timestamp: Ts,
        realm_id: Uuid,
        user_id: Uuid,
        role: Option<&str>,
    ) -> Result<Vec<u8>> {
        self.ed25519_signed(
            Some(author),
            vec![
                ("type", mp::str("realm_role_certificate")),
                ("author", mp::id(author)),
                ("timestamp", mp::time(timestamp.timestamp_micros())),
                ("realm_id", mp::id(realm_id)),
                ("user_id", mp::id(user_id)),
                ("role", role.map_or(Value::Nil, mp::str)),
            ],
        )
    }

    pub(crate) fn realm_key_rotation(
        &mut self,
        author: Uuid,
        timestamp: Ts,
        realm_id: Uuid,
        key_index: u64,
        key_canary: &[u8],
    ) -> Result<Vec<u8>> {
        self.ed25519_signed(
            Some(author),
            vec![
                ("type", mp::str("realm_key_rotation_certificate")),
                ("author", mp::id(author)),
                ("timestamp", mp::time(timestamp.timestamp_micros())),
                ("realm_id", mp::id(realm_id)),
                ("key_index", Value::from(key_index)),
                ("encryption_algorithm", mp::str("BLAKE2_XSALSA20_POLY1305")),
                ("hash_algorithm", mp::str("SHA256")),
                ("key_canary", mp::bin(key_canary)),
            ],
        )
    }

    pub(crate) fn realm_name(
        &mut self,
        author: Uuid,
        timestamp: Ts,
        realm_id: Uuid,
        key_index: u64,
        encrypted_name: &[u8],
    ) -> Result<Vec<u8>> {
        self.ed25519_signed(
            Some(author),
            vec![
                ("type", mp::str("realm_name_certificate")),
                ("author", mp::id(author)),
                ("timestamp", mp::time(timestamp.timestamp_micros())),
                ("realm_id", mp::id(realm_id)),
                ("key_index", Value::from(key_index)),
                ("encrypted_name", mp::bin(encrypted_name)),
            ],
        )
    }

    /// `configuration` is `{type: AVAILABLE | ARCHIVED | DELETION_PLANNED}` (reference §2.2).
    pub(crate) fn realm_archiving(
        &mut self,
        author: Uuid,
        timestamp: Ts,
        realm_id: Uuid,
        configuration: &str,
    ) -> Result<Vec<u8>> {
        self.ed25519_signed(
            Some(author),
            vec![
                ("type", mp::str("realm_archiving_certificate")),
                ("author", mp::id(author)),
                ("timestamp", mp::time(timestamp.timestamp_micros())),
                ("realm_id", mp::id(realm_id)),
                (
                    "configuration",
                    mp::map(vec![("type", mp::str(configuration))]),
                ),
            ],
        )
    }

    /// Creates the sequester authority's key: returns its certificate (signed by the root
    /// key) and its SPKI DER.
    pub(crate) fn sequester_authority(&mut self, timestamp: Ts) -> Result<(Vec<u8>, Vec<u8>)> {
        let key = self.rsa_key()?;
        let verify_key_der = key.public_key().to_der();
        self.authority = Some(key);
        let certificate = self.ed25519_signed(
            None,
            vec![
                ("type", mp::str("sequester_authority_certificate")),
                ("timestamp", mp::time(timestamp.timestamp_micros())),
                ("verify_key_der", mp::bin(&verify_key_der)),
            ],
        )?;
        Ok((certificate, verify_key_der))
    }

    pub(crate) fn sequester_service(
        &mut self,
        timestamp: Ts,
        service_id: Uuid,
        label: &str,
        encryption_key_der: &[u8],
    ) -> Result<Vec<u8>> {
        self.rsa_signed(vec![
            ("type", mp::str("sequester_service_certificate")),
            ("timestamp", mp::time(timestamp.timestamp_micros())),
            ("service_id", mp::id(service_id)),
            ("service_label", mp::str(label)),
            ("encryption_key_der", mp::bin(encryption_key_der)),
        ])
    }

    pub(crate) fn sequester_revoked_service(
        &mut self,
        timestamp: Ts,
        service_id: Uuid,
    ) -> Result<Vec<u8>> {
        self.rsa_signed(vec![
            ("type", mp::str("sequester_revoked_service_certificate")),
            ("timestamp", mp::time(timestamp.timestamp_micros())),
            ("service_id", mp::id(service_id)),
        ])
    }
}

/// 32 seed bytes for a key.
fn seed32(rng: &mut impl RngCore) -> [u8; 32] {
    let mut seed = [0u8; 32];
    rng.fill_bytes(&mut seed);
    seed
}

#[cfg(test)]
#[path = "certificates_tests.rs"]
mod tests;
