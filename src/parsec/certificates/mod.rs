//! Certificates (reference §2.2, §3.4): common (users, devices, revocations, profiles),
//! realm (roles, key rotations, names, archiving) and sequester (authority, services).
//!
//! Common and realm certificates and the sequester authority's are `Ed25519 signature ‖
//! format v0 payload`; sequester service certificates carry the authority's RSA-PSS armor.
//! `decode` reads one without checking its signature (`Unverified`), whose `verify` then
//! checks it with the signer's key, once the caller knows which key that is.

mod common;
mod realm;
mod sequester;

pub use common::{
    DeviceCertificate, RevokedUserCertificate, UserCertificate, UserUpdateCertificate,
};
pub use realm::{
    RealmArchivingCertificate, RealmKeyRotationCertificate, RealmNameCertificate,
    RealmRoleCertificate,
};
pub use sequester::{
    SequesterAuthorityCertificate, SequesterRevokedServiceCertificate, SequesterServiceCertificate,
};

use rmpv::Value;
use uuid::Uuid;

use super::crypto::rsa_key::{SequesterPrivateKey, SequesterPublicKey};
use super::crypto::signing::{self, SigningKey, VerifyKey};
use super::error::{DataError, DataResult};
use super::serialization::envelope;
use super::serialization::msgpack::Fields;
use crate::ids::Micros;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Certificate {
    User(UserCertificate),
    Device(DeviceCertificate),
    RevokedUser(RevokedUserCertificate),
    UserUpdate(UserUpdateCertificate),
    RealmRole(RealmRoleCertificate),
    RealmKeyRotation(RealmKeyRotationCertificate),
    RealmName(RealmNameCertificate),
    RealmArchiving(RealmArchivingCertificate),
    SequesterAuthority(SequesterAuthorityCertificate),
    SequesterService(SequesterServiceCertificate),
    SequesterRevokedService(SequesterRevokedServiceCertificate),
    /// A kind readers may skip (e.g. `shamir_recovery_*`), kept with its signer and time.
    Other {
        kind: String,
        author: Option<Uuid>,
        timestamp: Micros,
    },
}

/// Kinds skipped by readers but legitimately found in `common_certificate`.
const OTHER_KINDS: &[&str] = &[
    "shamir_recovery_brief_certificate",
    "shamir_recovery_share_certificate",
    "shamir_recovery_deletion_certificate",
];

impl Certificate {
    pub fn kind(&self) -> &str {
        match self {
            Certificate::User(_) => "user_certificate",
            Certificate::Device(_) => "device_certificate",
            Certificate::RevokedUser(_) => "revoked_user_certificate",
            Certificate::UserUpdate(_) => "user_update_certificate",
            Certificate::RealmRole(_) => "realm_role_certificate",
            Certificate::RealmKeyRotation(_) => "realm_key_rotation_certificate",
            Certificate::RealmName(_) => "realm_name_certificate",
            Certificate::RealmArchiving(_) => "realm_archiving_certificate",
            Certificate::SequesterAuthority(_) => "sequester_authority_certificate",
            Certificate::SequesterService(_) => "sequester_service_certificate",
            Certificate::SequesterRevokedService(_) => "sequester_revoked_service_certificate",
            Certificate::Other { kind, .. } => kind,
        }
    }

    /// The device that signs it; `None` for the root key (or, for sequester certificates,
    /// the authority: they have no author).
    pub fn author(&self) -> Option<Uuid> {
        match self {
            Certificate::User(c) => c.author,
            Certificate::Device(c) => c.author,
            Certificate::RevokedUser(c) => Some(c.author),
            Certificate::UserUpdate(c) => Some(c.author),
            Certificate::RealmRole(c) => Some(c.author),
            Certificate::RealmKeyRotation(c) => Some(c.author),
            Certificate::RealmName(c) => Some(c.author),
            Certificate::RealmArchiving(c) => Some(c.author),
            Certificate::Other { author, .. } => *author,
            Certificate::SequesterAuthority(_)
            | Certificate::SequesterService(_)
            | Certificate::SequesterRevokedService(_) => None,
        }
    }

    pub fn timestamp(&self) -> Micros {
        match self {
            Certificate::User(c) => c.timestamp,
            Certificate::Device(c) => c.timestamp,
            Certificate::RevokedUser(c) => c.timestamp,
            Certificate::UserUpdate(c) => c.timestamp,
            Certificate::RealmRole(c) => c.timestamp,
            Certificate::RealmKeyRotation(c) => c.timestamp,
            Certificate::RealmName(c) => c.timestamp,
            Certificate::RealmArchiving(c) => c.timestamp,
            Certificate::SequesterAuthority(c) => c.timestamp,
            Certificate::SequesterService(c) => c.timestamp,
            Certificate::SequesterRevokedService(c) => c.timestamp,
            Certificate::Other { timestamp, .. } => *timestamp,
        }
    }

    /// The realm of a realm certificate.
    pub fn realm_id(&self) -> Option<Uuid> {
        match self {
            Certificate::RealmRole(c) => Some(c.realm_id),
            Certificate::RealmKeyRotation(c) => Some(c.realm_id),
            Certificate::RealmName(c) => Some(c.realm_id),
            Certificate::RealmArchiving(c) => Some(c.realm_id),
            _ => None,
        }
    }

    /// Whether it is signed with the sequester authority's RSA armor.
    pub fn rsa_signed(&self) -> bool {
        matches!(
            self,
            Certificate::SequesterService(_) | Certificate::SequesterRevokedService(_)
        )
    }

    fn from_value(value: &Value) -> DataResult<Self> {
        let f = Fields::of(value)?;
        let kind = f.str("type")?;
        Ok(match kind {
            "user_certificate" => Certificate::User(UserCertificate::read(&f)?),
            "device_certificate" => Certificate::Device(DeviceCertificate::read(&f)?),
            "revoked_user_certificate" => {
                Certificate::RevokedUser(RevokedUserCertificate::read(&f)?)
            }
            "user_update_certificate" => Certificate::UserUpdate(UserUpdateCertificate::read(&f)?),
            "realm_role_certificate" => Certificate::RealmRole(RealmRoleCertificate::read(&f)?),
            "realm_key_rotation_certificate" => {
                Certificate::RealmKeyRotation(RealmKeyRotationCertificate::read(&f)?)
            }
            "realm_name_certificate" => Certificate::RealmName(RealmNameCertificate::read(&f)?),
            "realm_archiving_certificate" => {
                Certificate::RealmArchiving(RealmArchivingCertificate::read(&f)?)
            }
            "sequester_authority_certificate" => {
                Certificate::SequesterAuthority(SequesterAuthorityCertificate::read(&f)?)
            }
            "sequester_service_certificate" => {
                Certificate::SequesterService(SequesterServiceCertificate::read(&f)?)
            }
            "sequester_revoked_service_certificate" => {
                Certificate::SequesterRevokedService(SequesterRevokedServiceCertificate::read(&f)?)
            }
            other if OTHER_KINDS.contains(&other) => Certificate::Other {
                kind: other.to_owned(),
                author: f.opt_id("author")?,
                timestamp: f.time("timestamp")?,
            },
            other => {
                return Err(DataError::UnknownType {
                    found: other.to_owned(),
                    expected: "a certificate type".into(),
                })
            }
        })
    }

    fn to_value(&self) -> DataResult<Value> {
        Ok(match self {
            Certificate::User(c) => c.to_value(),
            Certificate::Device(c) => c.to_value(),
            Certificate::RevokedUser(c) => c.to_value(),
            Certificate::UserUpdate(c) => c.to_value(),
            Certificate::RealmRole(c) => c.to_value(),
            Certificate::RealmKeyRotation(c) => c.to_value(),
            Certificate::RealmName(c) => c.to_value(),
            Certificate::RealmArchiving(c) => c.to_value(),
            Certificate::SequesterAuthority(c) => c.to_value(),
            Certificate::SequesterService(c) => c.to_value(),
            Certificate::SequesterRevokedService(c) => c.to_value(),
            Certificate::Other { kind, .. } => {
                return Err(DataError::Invalid {
                    what: "certificate",
                    why: format!("encoding `{kind}` is not supported"),
                })
            }
        })
    }

    /// `signature ‖ payload`, signed by a device (or the root) key.
    pub fn sign(&self, key: &SigningKey) -> DataResult<Vec<u8>> {
        Ok(key.sign(&envelope::dump(&self.to_value()?)))
    }

    /// The RSA-PSS armored form of a sequester service (or revocation) certificate.
    pub fn sign_rsa(&self, key: &SequesterPrivateKey) -> DataResult<Vec<u8>> {
        Ok(key.sign(&envelope::dump(&self.to_value()?)))
    }
}

/// A decoded certificate whose signature is not checked yet.
#[derive(Debug, Clone)]
pub struct Unverified<'a> {
    pub certificate: Certificate,
    signed: &'a [u8],
}

/// Decodes an Ed25519-signed certificate (common, realm, sequester authority).
pub fn decode(bytes: &[u8]) -> DataResult<Unverified<'_>> {
    let (_, payload) = signing::split(bytes, "certificate")?;
    let certificate = Certificate::from_value(&envelope::load(payload)?)?;
    if certificate.rsa_signed() {
        return Err(DataError::Invalid {
            what: "certificate",
            why: format!("a {} must carry an RSA signature", certificate.kind()),
        });
    }
    Ok(Unverified {
        certificate,
        signed: bytes,
    })
}

impl Unverified<'_> {
    /// Checks the signature with the signer's key.
    pub fn verify(self, key: &VerifyKey) -> DataResult<Certificate> {
        key.verify(self.signed, "certificate")?;
        Ok(self.certificate)
    }
}

/// Verifies and decodes a sequester service (or revocation) certificate.
pub fn verify_rsa(bytes: &[u8], authority: &SequesterPublicKey) -> DataResult<Certificate> {
    let payload = authority.verify(bytes, "certificate")?;
    let certificate = Certificate::from_value(&envelope::load(payload)?)?;
    if !certificate.rsa_signed() {
        return Err(DataError::Invalid {
            what: "certificate",
            why: format!("a {} must not carry an RSA signature", certificate.kind()),
        });
    }
    Ok(certificate)
}

/// Decodes a sequester service (or revocation) certificate without its authority's key,
/// trying each allowed RSA size (for data whose signatures are not checked).
pub fn decode_rsa_unverified(bytes: &[u8]) -> DataResult<Certificate> {
    use super::crypto::rsa_key::ALLOWED_BITS;
    use super::crypto::sequester::SIGNATURE_ALGORITHM;
    let prefix = SIGNATURE_ALGORITHM.len() + 1;
    if bytes.get(..prefix) != Some(format!("{SIGNATURE_ALGORITHM}:").as_bytes()) {
        return Err(DataError::UnknownAlgorithm(
            String::from_utf8_lossy(&bytes[..bytes.len().min(prefix)]).into_owned(),
        ));
    }
    let mut last = DataError::Truncated {
        what: "certificate",
        need: prefix + ALLOWED_BITS[0] / 8,
        got: bytes.len(),
    };
    for bits in ALLOWED_BITS {
        let Some(payload) = bytes.get(prefix + bits / 8..) else {
            break;
        };
        match envelope::load(payload).and_then(|v| Certificate::from_value(&v)) {
            Ok(c) if c.rsa_signed() => return Ok(c),
            Ok(c) => {
                last = DataError::Invalid {
                    what: "certificate",
                    why: format!("a {} must not carry an RSA signature", c.kind()),
                }
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}
