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

use super::encoding::{encode_map, zstd_raw_frame, Value};
use super::random::random_bytes;

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

    fn ed25519_signed(&mut self, fields: &[(&str, Value<'_>)]) -> Vec<u8> {
        let mut out = self.bytes(ED25519_SIGNATURE_LEN);
        out.push(0x00);
        out.extend_from_slice(&zstd_raw_frame(&encode_map(fields)));
        out
    }

    fn rsa_signed(&mut self, fields: &[(&str, Value<'_>)]) -> Vec<u8> {
        let mut out = RSA_SIGNATURE_PREFIX.to_vec();
        out.extend_from_slice(&self.bytes(RSA_SIGNATURE_LEN));
        out.push(0x00);
        out.extend_from_slice(&zstd_raw_frame(&encode_map(fields)));
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
            Value::Array(vec![Value::Str(email), Value::Str(label)])
        });
        self.ed25519_signed(&[
            ("type", Value::Str("user_certificate")),
            ("author", Value::opt_uuid(author)),
            ("timestamp", Value::Timestamp(timestamp)),
            ("user_id", Value::Uuid(user_id)),
            ("human_handle", handle),
            ("public_key", Value::Bin(public_key)),
            ("algorithm", Value::Str("X25519_XSALSA20_POLY1305")),
            ("profile", Value::Str(profile)),
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
        self.ed25519_signed(&[
            ("type", Value::Str("device_certificate")),
            ("purpose", Value::Str("STANDARD")),
            ("author", Value::opt_uuid(author)),
            ("timestamp", Value::Timestamp(timestamp)),
            ("user_id", Value::Uuid(user_id)),
            ("device_id", Value::Uuid(device_id)),
            ("device_label", Value::opt_str(device_label)),
            ("verify_key", Value::Bin(verify_key)),
            ("algorithm", Value::Str("ED25519")),
        ])
    }

    pub(crate) fn revoked_user(&mut self, author: Uuid, timestamp: Ts, user_id: Uuid) -> Vec<u8> {
        self.ed25519_signed(&[
            ("type", Value::Str("revoked_user_certificate")),
            ("author", Value::Uuid(author)),
            ("timestamp", Value::Timestamp(timestamp)),
            ("user_id", Value::Uuid(user_id)),
        ])
    }

    pub(crate) fn user_update(
        &mut self,
        author: Uuid,
        timestamp: Ts,
        user_id: Uuid,
        new_profile: &str,
    ) -> Vec<u8> {
        self.ed25519_signed(&[
            ("type", Value::Str("user_update_certificate")),
            ("author", Value::Uuid(author)),
            ("timestamp", Value::Timestamp(timestamp)),
            ("user_id", Value::Uuid(user_id)),
            ("new_profile", Value::Str(new_profile)),
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
        self.ed25519_signed(&[
            ("type", Value::Str("realm_role_certificate")),
            ("author", Value::Uuid(author)),
            ("timestamp", Value::Timestamp(timestamp)),
            ("realm_id", Value::Uuid(realm_id)),
            ("user_id", Value::Uuid(user_id)),
            ("role", Value::opt_str(role)),
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
        self.ed25519_signed(&[
            ("type", Value::Str("realm_key_rotation_certificate")),
            ("author", Value::Uuid(author)),
            ("timestamp", Value::Timestamp(timestamp)),
            ("realm_id", Value::Uuid(realm_id)),
            ("key_index", Value::UInt(key_index)),
            (
                "encryption_algorithm",
                Value::Str("BLAKE2_XSALSA20_POLY1305"),
            ),
            ("hash_algorithm", Value::Str("SHA256")),
            ("key_canary", Value::Bin(key_canary)),
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
        self.ed25519_signed(&[
            ("type", Value::Str("realm_name_certificate")),
            ("author", Value::Uuid(author)),
            ("timestamp", Value::Timestamp(timestamp)),
            ("realm_id", Value::Uuid(realm_id)),
            ("key_index", Value::UInt(key_index)),
            ("encrypted_name", Value::Bin(encrypted_name)),
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
        self.ed25519_signed(&[
            ("type", Value::Str("realm_archiving_certificate")),
            ("author", Value::Uuid(author)),
            ("timestamp", Value::Timestamp(timestamp)),
            ("realm_id", Value::Uuid(realm_id)),
            (
                "configuration",
                Value::Map(vec![("type", Value::Str(configuration))]),
            ),
        ])
    }

    pub(crate) fn sequester_authority(&mut self, timestamp: Ts, verify_key_der: &[u8]) -> Vec<u8> {
        self.ed25519_signed(&[
            ("type", Value::Str("sequester_authority_certificate")),
            ("timestamp", Value::Timestamp(timestamp)),
            ("verify_key_der", Value::Bin(verify_key_der)),
        ])
    }

    pub(crate) fn sequester_service(
        &mut self,
        timestamp: Ts,
        service_id: Uuid,
        label: &str,
        encryption_key_der: &[u8],
    ) -> Vec<u8> {
        self.rsa_signed(&[
            ("type", Value::Str("sequester_service_certificate")),
            ("timestamp", Value::Timestamp(timestamp)),
            ("service_id", Value::Uuid(service_id)),
            ("service_label", Value::Str(label)),
            ("encryption_key_der", Value::Bin(encryption_key_der)),
        ])
    }

    pub(crate) fn sequester_revoked_service(&mut self, timestamp: Ts, service_id: Uuid) -> Vec<u8> {
        self.rsa_signed(&[
            ("type", Value::Str("sequester_revoked_service_certificate")),
            ("timestamp", Value::Timestamp(timestamp)),
            ("service_id", Value::Uuid(service_id)),
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

        let der = factory.rsa_public_key_der();
        assert_eq!(der.len(), 162);
        assert_eq!(&der[..3], &[0x30, 0x81, 0x9f]);
    }
}
