//! Sequester certificates (reference §3.4): the authority (signed by the root key) and its
//! services (signed by the authority's RSA key). None has an author.

use rmpv::Value;
use uuid::Uuid;

use crate::ids::Micros;
use crate::parsec::error::DataResult;
use crate::parsec::serialization::msgpack::{self as mp, Fields};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequesterAuthorityCertificate {
    pub timestamp: Micros,
    /// SPKI DER of the authority's RSA key.
    pub verify_key_der: Vec<u8>,
}

impl SequesterAuthorityCertificate {
    pub(super) fn read(f: &Fields) -> DataResult<Self> {
        Ok(SequesterAuthorityCertificate {
            timestamp: f.time("timestamp")?,
            verify_key_der: f.bin("verify_key_der")?.to_vec(),
        })
    }

    pub(super) fn to_value(&self) -> Value {
        mp::map(vec![
            ("type", mp::str("sequester_authority_certificate")),
            ("timestamp", mp::time(self.timestamp)),
            ("verify_key_der", mp::bin(&self.verify_key_der)),
        ])
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequesterServiceCertificate {
    pub timestamp: Micros,
    pub service_id: Uuid,
    pub service_label: String,
    /// SPKI DER of the service's RSA key.
    pub encryption_key_der: Vec<u8>,
}

impl SequesterServiceCertificate {
    pub(super) fn read(f: &Fields) -> DataResult<Self> {
        Ok(SequesterServiceCertificate {
            timestamp: f.time("timestamp")?,
            service_id: f.id("service_id")?,
            service_label: f.str("service_label")?.to_owned(),
            encryption_key_der: f.bin("encryption_key_der")?.to_vec(),
        })
    }

    pub(super) fn to_value(&self) -> Value {
        mp::map(vec![
            ("type", mp::str("sequester_service_certificate")),
            ("timestamp", mp::time(self.timestamp)),
            ("service_id", mp::id(self.service_id)),
            ("service_label", mp::str(&self.service_label)),
            ("encryption_key_der", mp::bin(&self.encryption_key_der)),
        ])
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequesterRevokedServiceCertificate {
    pub timestamp: Micros,
    pub service_id: Uuid,
}

impl SequesterRevokedServiceCertificate {
    pub(super) fn read(f: &Fields) -> DataResult<Self> {
        Ok(SequesterRevokedServiceCertificate {
            timestamp: f.time("timestamp")?,
            service_id: f.id("service_id")?,
        })
    }

    pub(super) fn to_value(&self) -> Value {
        mp::map(vec![
            ("type", mp::str("sequester_revoked_service_certificate")),
            ("timestamp", mp::time(self.timestamp)),
            ("service_id", mp::id(self.service_id)),
        ])
    }
}
