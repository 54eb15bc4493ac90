//! Fake but realistic-looking certificates (layout described in the reference, section 10).
//!
//! Common and realm certificates and the sequester authority certificate are
//! `64-byte signature || 0x00 || zstd(msgpack map)`; sequester service certificates are
//! `"RSASSA-PSS-SHA256:" || 128-byte signature || 0x00 || zstd(msgpack map)`. Signatures are
//! random bytes: `verify` reports them as bad unless given `--no-signatures` (issue 12 part 3
//! makes them real).

use chrono::{DateTime, Utc};
use rand::RngCore;
use uuid::Uuid;

use rmpv::Value;

use super::random::random_bytes;
use crate::parsec::serialization::envelope;
use crate::parsec::serialization::msgpack as mp;

type Ts = DateTime<Utc>;

const RSA_SIGNATURE_PREFIX: &[u8] = b"RSASSA-PSS-SHA256:";
/// Signature length of the 1024-bit RSA keys used by Parsec's tests.
const RSA_SIGNATURE_LEN: usize = 128;
const ED25519_SIGNATURE_LEN: usize = 64;

/// Produces certificate bytes, drawing signatures and keys from its own RNG.
pub(crate) struct CertificateFactory<R: RngCore> {
    rng: R,
}

impl<R: RngCore> CertificateFactory<R> {
    pub(crate) fn new(rng: R) -> Self {
        Self { rng }
    }

    pub(crate) fn bytes(&mut self, len: usize) -> Vec<u8> {
        random_bytes(&mut self.rng, len)
    }

    fn ed25519_signed(&mut self, fields: Vec<(&str, Value)>) -> Vec<u8> {
        let mut out = self.bytes(ED25519_SIGNATURE_LEN);
        out.extend_from_slice(&envelope::dump(&mp::map(fields)));
        out
    }

    fn rsa_signed(&mut self, fields: Vec<(&str, Value)>) -> Vec<u8> {
        let mut out = RSA_SIGNATURE_PREFIX.to_vec();
        out.extend_from_slice(&self.bytes(RSA_SIGNATURE_LEN));
        out.extend_from_slice(&envelope::dump(&mp::map(fields)));
        out
    }

    /// DER SubjectPublicKeyInfo of a (random) 1024-bit RSA public key, exponent 65537.
    pub(crate) fn rsa_public_key_der(&mut self) -> Vec<u8> {
        // Standard ASN.1 framing: SEQUENCE { AlgorithmIdentifier rsaEncryption, BIT STRING {
        // SEQUENCE { INTEGER modulus (129 bytes, leading 0), INTEGER 65537 } } }.
        const HEAD: &[u8] = &[
            0x30, 0x81, 0x9f, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,
            0x01, 0x01, 0x05, 0x00, 0x03, 0x81, 0x8d, 0x00, 0x30, 0x81, 0x89, 0x02, 0x81, 0x81,
            0x00,
        ];
        const TAIL: &[u8] = &[0x02, 0x03, 0x01, 0x00, 0x01];
        let mut modulus = self.bytes(128);
        modulus[0] |= 0x80; // a 1024-bit modulus has its top bit set
        [HEAD, &modulus, TAIL].concat()
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
    ) -> Vec<u8> {
        let handle = human_handle.map_or(Value::Nil, |(email, label)| {
            Value::Array(vec![mp::str(email), mp::str(label)])
        });
        self.ed25519_signed(vec![
            ("type", mp::str("user_certificate")),
            ("author", mp::opt_id(author)),
            ("timestamp", mp::time(timestamp.timestamp_micros())),
            ("user_id", mp::id(user_id)),
            ("human_handle", handle),
            ("public_key", mp::bin(public_key)),
            ("algorithm", mp::str("X25519_XSALSA20_POLY1305")),
            ("profile", mp::str(profile)),
        ])
    }

    pub(crate) fn device(
        &mut self,
        author: Option<Uuid>,
        timestamp: Ts,
        user_id: Uuid,
        device_id: Uuid,
        device_label: Option<&str>,
        verify_key: &[u8],
    ) -> Vec<u8> {
        self.ed25519_signed(vec![
            ("type", mp::str("device_certificate")),
            ("purpose", mp::str("STANDARD")),
            ("author", mp::opt_id(author)),
            ("timestamp", mp::time(timestamp.timestamp_micros())),
            ("user_id", mp::id(user_id)),
            ("device_id", mp::id(device_id)),
            ("device_label", device_label.map_or(Value::Nil, mp::str)),
            ("verify_key", mp::bin(verify_key)),
            ("algorithm", mp::str("ED25519")),
        ])
    }

    pub(crate) fn revoked_user(&mut self, author: Uuid, timestamp: Ts, user_id: Uuid) -> Vec<u8> {
        self.ed25519_signed(vec![
            ("type", mp::str("revoked_user_certificate")),
            ("author", mp::id(author)),
            ("timestamp", mp::time(timestamp.timestamp_micros())),
            ("user_id", mp::id(user_id)),
        ])
    }

    pub(crate) fn user_update(
        &mut self,
        author: Uuid,
        timestamp: Ts,
        user_id: Uuid,
        new_profile: &str,
    ) -> Vec<u8> {
        self.ed25519_signed(vec![
            ("type", mp::str("user_update_certificate")),
            ("author", mp::id(author)),
            ("timestamp", mp::time(timestamp.timestamp_micros())),
            ("user_id", mp::id(user_id)),
            ("new_profile", mp::str(new_profile)),
        ])
    }

    pub(crate) fn realm_role(
        &mut self,
        author: Uuid,
        timestamp: Ts,
        realm_id: Uuid,
        user_id: Uuid,
        role: Option<&str>,
    ) -> Vec<u8> {
        self.ed25519_signed(vec![
            ("type", mp::str("realm_role_certificate")),
            ("author", mp::id(author)),
            ("timestamp", mp::time(timestamp.timestamp_micros())),
            ("realm_id", mp::id(realm_id)),
            ("user_id", mp::id(user_id)),
            ("role", role.map_or(Value::Nil, mp::str)),
        ])
    }

    pub(crate) fn realm_key_rotation(
        &mut self,
        author: Uuid,
        timestamp: Ts,
        realm_id: Uuid,
        key_index: u64,
        key_canary: &[u8],
    ) -> Vec<u8> {
        self.ed25519_signed(vec![
            ("type", mp::str("realm_key_rotation_certificate")),
            ("author", mp::id(author)),
            ("timestamp", mp::time(timestamp.timestamp_micros())),
            ("realm_id", mp::id(realm_id)),
            ("key_index", Value::from(key_index)),
            ("encryption_algorithm", mp::str("BLAKE2_XSALSA20_POLY1305")),
            ("hash_algorithm", mp::str("SHA256")),
            ("key_canary", mp::bin(key_canary)),
        ])
    }

    pub(crate) fn realm_name(
        &mut self,
        author: Uuid,
        timestamp: Ts,
        realm_id: Uuid,
        key_index: u64,
        encrypted_name: &[u8],
    ) -> Vec<u8> {
        self.ed25519_signed(vec![
            ("type", mp::str("realm_name_certificate")),
            ("author", mp::id(author)),
            ("timestamp", mp::time(timestamp.timestamp_micros())),
            ("realm_id", mp::id(realm_id)),
            ("key_index", Value::from(key_index)),
            ("encrypted_name", mp::bin(encrypted_name)),
        ])
    }

    /// `configuration` is `{type: AVAILABLE | ARCHIVED | DELETION_PLANNED}` (reference §2.2).
    pub(crate) fn realm_archiving(
        &mut self,
        author: Uuid,
        timestamp: Ts,
        realm_id: Uuid,
        configuration: &str,
    ) -> Vec<u8> {
        self.ed25519_signed(vec![
            ("type", mp::str("realm_archiving_certificate")),
            ("author", mp::id(author)),
            ("timestamp", mp::time(timestamp.timestamp_micros())),
            ("realm_id", mp::id(realm_id)),
            (
                "configuration",
                mp::map(vec![("type", mp::str(configuration))]),
            ),
        ])
    }

    pub(crate) fn sequester_authority(&mut self, timestamp: Ts, verify_key_der: &[u8]) -> Vec<u8> {
        self.ed25519_signed(vec![
            ("type", mp::str("sequester_authority_certificate")),
            ("timestamp", mp::time(timestamp.timestamp_micros())),
            ("verify_key_der", mp::bin(verify_key_der)),
        ])
    }

    pub(crate) fn sequester_service(
        &mut self,
        timestamp: Ts,
        service_id: Uuid,
        label: &str,
        encryption_key_der: &[u8],
    ) -> Vec<u8> {
        self.rsa_signed(vec![
            ("type", mp::str("sequester_service_certificate")),
            ("timestamp", mp::time(timestamp.timestamp_micros())),
            ("service_id", mp::id(service_id)),
            ("service_label", mp::str(label)),
            ("encryption_key_der", mp::bin(encryption_key_der)),
        ])
    }

    pub(crate) fn sequester_revoked_service(&mut self, timestamp: Ts, service_id: Uuid) -> Vec<u8> {
        self.rsa_signed(vec![
            ("type", mp::str("sequester_revoked_service_certificate")),
            ("timestamp", mp::time(timestamp.timestamp_micros())),
            ("service_id", mp::id(service_id)),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testbed::random::stream_rng;

    #[test]
    fn layouts() {
        let mut factory = CertificateFactory::new(stream_rng(1, 1));
        let ts = DateTime::from_timestamp_micros(1_700_000_000_000_000).expect("valid timestamp");
        let cert = factory.revoked_user(Uuid::nil(), ts, Uuid::nil());
        assert_eq!(cert[64], 0x00);
        assert_eq!(&cert[65..69], &[0x28, 0xb5, 0x2f, 0xfd]);

        let cert = factory.sequester_revoked_service(ts, Uuid::nil());
        assert!(cert.starts_with(RSA_SIGNATURE_PREFIX));
        let zero_at = RSA_SIGNATURE_PREFIX.len() + RSA_SIGNATURE_LEN;
        assert_eq!(cert[zero_at], 0x00);
        assert_eq!(&cert[zero_at + 1..zero_at + 5], &[0x28, 0xb5, 0x2f, 0xfd]);

        // Parsec's data module decodes them (their signatures are random: not verified).
        use crate::parsec::certificates::{decode, decode_rsa_unverified, Certificate};
        let revoked = factory.revoked_user(Uuid::nil(), ts, Uuid::from_u128(7));
        assert!(matches!(
            decode(&revoked).map(|u| u.certificate),
            Ok(Certificate::RevokedUser(r)) if r.user_id == Uuid::from_u128(7)
        ));
        let archived = factory.realm_archiving(Uuid::nil(), ts, Uuid::nil(), "ARCHIVED");
        assert!(matches!(
            decode(&archived).map(|u| u.certificate),
            Ok(Certificate::RealmArchiving(a)) if a.configuration == "ARCHIVED"
        ));
        assert!(matches!(
            decode_rsa_unverified(&cert),
            Ok(Certificate::SequesterRevokedService(_))
        ));

        let der = factory.rsa_public_key_der();
        assert_eq!(der.len(), 162);
        assert_eq!(&der[..3], &[0x30, 0x81, 0x9f]);
    }
}
