//! Realm certificates: roles, key rotations (with their canary), names, archiving.

use rmpv::Value;
use uuid::Uuid;

use crate::ids::Micros;
use crate::parsec::crypto::kdf;
use crate::parsec::error::{DataError, DataResult};
use crate::parsec::serialization::msgpack::{self as mp, Fields};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealmRoleCertificate {
    pub author: Uuid,
    pub timestamp: Micros,
    pub realm_id: Uuid,
    pub user_id: Uuid,
    /// `OWNER`, `MANAGER`, `CONTRIBUTOR`, `READER`, or `None` for a removal.
    pub role: Option<String>,
}

const ROLES: [&str; 4] = ["OWNER", "MANAGER", "CONTRIBUTOR", "READER"];

impl RealmRoleCertificate {
    pub(super) fn read(f: &Fields) -> DataResult<Self> {
        let role = f.opt_str("role")?;
        if role.is_some_and(|r| !ROLES.contains(&r)) {
            return Err(DataError::BadField {
                field: "role",
                expected: "OWNER, MANAGER, CONTRIBUTOR, READER or nil",
            });
        }
        Ok(RealmRoleCertificate {
            author: f.id("author")?,
            timestamp: f.time("timestamp")?,
            realm_id: f.id("realm_id")?,
            user_id: f.id("user_id")?,
            role: role.map(str::to_owned),
        })
    }

    pub(super) fn to_value(&self) -> Value {
        mp::map(vec![
            ("type", mp::str("realm_role_certificate")),
            ("author", mp::id(self.author)),
            ("timestamp", mp::time(self.timestamp)),
            ("realm_id", mp::id(self.realm_id)),
            ("user_id", mp::id(self.user_id)),
            ("role", self.role.as_deref().map_or(Value::Nil, mp::str)),
        ])
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealmKeyRotationCertificate {
    pub author: Uuid,
    pub timestamp: Micros,
    pub realm_id: Uuid,
    pub key_index: u64,
    /// The empty message encrypted under `KDF(key, 00…01)`.
    pub key_canary: Vec<u8>,
}

impl RealmKeyRotationCertificate {
    pub(super) fn read(f: &Fields) -> DataResult<Self> {
        for (field, expected) in [
            ("encryption_algorithm", "BLAKE2_XSALSA20_POLY1305"),
            ("hash_algorithm", "SHA256"),
        ] {
            let found = f.str(field)?;
            if found != expected {
                return Err(DataError::UnknownAlgorithm(found.to_owned()));
            }
        }
        Ok(RealmKeyRotationCertificate {
            author: f.id("author")?,
            timestamp: f.time("timestamp")?,
            realm_id: f.id("realm_id")?,
            key_index: f.u64("key_index")?,
            key_canary: f.bin("key_canary")?.to_vec(),
        })
    }

    pub(super) fn to_value(&self) -> Value {
        mp::map(vec![
            ("type", mp::str("realm_key_rotation_certificate")),
            ("author", mp::id(self.author)),
            ("timestamp", mp::time(self.timestamp)),
            ("realm_id", mp::id(self.realm_id)),
            ("key_index", Value::from(self.key_index)),
            ("encryption_algorithm", mp::str("BLAKE2_XSALSA20_POLY1305")),
            ("hash_algorithm", mp::str("SHA256")),
            ("key_canary", mp::bin(&self.key_canary)),
        ])
    }

    /// Whether `key` is this rotation's key: it opens the canary to the empty message.
    pub fn check_key(&self, key: &[u8; 32]) -> DataResult<()> {
        match kdf::derive(key, kdf::CANARY_ID).decrypt(&self.key_canary, "key canary") {
            Ok(clear) if clear.is_empty() => Ok(()),
            _ => Err(DataError::BadCanary {
                key_index: self.key_index,
            }),
        }
    }

    /// The canary for a new key.
    pub fn canary_for(key: &[u8; 32]) -> Vec<u8> {
        kdf::derive(key, kdf::CANARY_ID).encrypt(b"")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealmNameCertificate {
    pub author: Uuid,
    pub timestamp: Micros,
    pub realm_id: Uuid,
    pub key_index: u64,
    pub encrypted_name: Vec<u8>,
}

impl RealmNameCertificate {
    pub(super) fn read(f: &Fields) -> DataResult<Self> {
        Ok(RealmNameCertificate {
            author: f.id("author")?,
            timestamp: f.time("timestamp")?,
            realm_id: f.id("realm_id")?,
            key_index: f.u64("key_index")?,
            encrypted_name: f.bin("encrypted_name")?.to_vec(),
        })
    }

    pub(super) fn to_value(&self) -> Value {
        mp::map(vec![
            ("type", mp::str("realm_name_certificate")),
            ("author", mp::id(self.author)),
            ("timestamp", mp::time(self.timestamp)),
            ("realm_id", mp::id(self.realm_id)),
            ("key_index", Value::from(self.key_index)),
            ("encrypted_name", mp::bin(&self.encrypted_name)),
        ])
    }

    /// The workspace name (raw UTF-8 under `KDF(key, 00…02)`, reference §5.7).
    pub fn decrypt_name(&self, key: &[u8; 32]) -> DataResult<String> {
        let raw =
            kdf::derive(key, kdf::REALM_NAME_ID).decrypt(&self.encrypted_name, "realm name")?;
        String::from_utf8(raw).map_err(|_| DataError::Invalid {
            what: "realm name",
            why: "not UTF-8".into(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealmArchivingCertificate {
    pub author: Uuid,
    pub timestamp: Micros,
    pub realm_id: Uuid,
    /// `AVAILABLE`, `ARCHIVED` or `DELETION_PLANNED`.
    pub configuration: String,
    pub deletion_date: Option<Micros>,
}

impl RealmArchivingCertificate {
    pub(super) fn read(f: &Fields) -> DataResult<Self> {
        let config = f
            .nested("configuration")?
            .ok_or(DataError::MissingField("configuration"))?;
        Ok(RealmArchivingCertificate {
            author: f.id("author")?,
            timestamp: f.time("timestamp")?,
            realm_id: f.id("realm_id")?,
            configuration: config.str("type")?.to_owned(),
            deletion_date: config.opt_time("deletion_date")?,
        })
    }

    pub(super) fn to_value(&self) -> Value {
        let mut config = vec![("type", mp::str(&self.configuration))];
        if let Some(date) = self.deletion_date {
            config.push(("deletion_date", mp::time(date)));
        }
        mp::map(vec![
            ("type", mp::str("realm_archiving_certificate")),
            ("author", mp::id(self.author)),
            ("timestamp", mp::time(self.timestamp)),
            ("realm_id", mp::id(self.realm_id)),
            ("configuration", mp::map(config)),
        ])
    }
}
