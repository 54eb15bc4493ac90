//! Common certificates: users, devices, revocations, profile updates.

use rmpv::Value;
use uuid::Uuid;

use crate::ids::Micros;
use crate::parsec::error::{DataError, DataResult};
use crate::parsec::serialization::msgpack::{self as mp, Fields};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCertificate {
    /// `None`: signed by the root key.
    pub author: Option<Uuid>,
    pub timestamp: Micros,
    pub user_id: Uuid,
    /// (email, label), or `None` when redacted.
    pub human_handle: Option<(String, String)>,
    /// X25519.
    pub public_key: [u8; 32],
    pub profile: String,
}

impl UserCertificate {
    pub(super) fn read(f: &Fields) -> DataResult<Self> {
        let human_handle = match f.get("human_handle") {
            None | Some(Value::Nil) => None,
            Some(Value::Array(items)) => match items.as_slice() {
                [email, label] => Some((
                    mp::as_str(email, "human_handle")?.to_owned(),
                    mp::as_str(label, "human_handle")?.to_owned(),
                )),
                _ => return Err(bad_handle()),
            },
            Some(_) => return Err(bad_handle()),
        };
        Ok(UserCertificate {
            author: f.opt_id("author")?,
            timestamp: f.time("timestamp")?,
            user_id: f.id("user_id")?,
            human_handle,
            public_key: f.key32("public_key")?,
            profile: f.str("profile")?.to_owned(),
        })
    }

    pub(super) fn to_value(&self) -> Value {
        let handle = self.human_handle.as_ref().map_or(Value::Nil, |(e, l)| {
            Value::Array(vec![mp::str(e), mp::str(l)])
        });
        mp::map(vec![
            ("type", mp::str("user_certificate")),
            ("author", mp::opt_id(self.author)),
            ("timestamp", mp::time(self.timestamp)),
            ("user_id", mp::id(self.user_id)),
            ("human_handle", handle),
            ("public_key", mp::bin(&self.public_key)),
            ("algorithm", mp::str("X25519_XSALSA20_POLY1305")),
            ("profile", mp::str(&self.profile)),
        ])
    }
}

fn bad_handle() -> DataError {
    DataError::BadField {
        field: "human_handle",
        expected: "nil or [email, label]",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCertificate {
    pub author: Option<Uuid>,
    pub timestamp: Micros,
    pub user_id: Uuid,
    pub device_id: Uuid,
    pub device_label: Option<String>,
    /// Ed25519.
    pub verify_key: [u8; 32],
    pub purpose: Option<String>,
}

impl DeviceCertificate {
    pub(super) fn read(f: &Fields) -> DataResult<Self> {
        let algorithm = f.opt_str("algorithm")?.unwrap_or("ED25519");
        if algorithm != "ED25519" {
            return Err(DataError::UnknownAlgorithm(algorithm.to_owned()));
        }
        Ok(DeviceCertificate {
            author: f.opt_id("author")?,
            timestamp: f.time("timestamp")?,
            user_id: f.id("user_id")?,
            device_id: f.id("device_id")?,
            device_label: f.opt_str("device_label")?.map(str::to_owned),
            verify_key: f.key32("verify_key")?,
            purpose: f.opt_str("purpose")?.map(str::to_owned),
        })
    }

    pub(super) fn to_value(&self) -> Value {
        let mut fields = vec![
            ("type", mp::str("device_certificate")),
            ("author", mp::opt_id(self.author)),
            ("timestamp", mp::time(self.timestamp)),
            ("user_id", mp::id(self.user_id)),
            ("device_id", mp::id(self.device_id)),
            (
                "device_label",
                self.device_label.as_deref().map_or(Value::Nil, mp::str),
            ),
            ("verify_key", mp::bin(&self.verify_key)),
            ("algorithm", mp::str("ED25519")),
        ];
        if let Some(purpose) = &self.purpose {
            fields.push(("purpose", mp::str(purpose)));
        }
        mp::map(fields)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedUserCertificate {
    pub author: Uuid,
    pub timestamp: Micros,
    pub user_id: Uuid,
}

impl RevokedUserCertificate {
    pub(super) fn read(f: &Fields) -> DataResult<Self> {
        Ok(RevokedUserCertificate {
            author: f.id("author")?,
            timestamp: f.time("timestamp")?,
            user_id: f.id("user_id")?,
        })
    }

    pub(super) fn to_value(&self) -> Value {
        mp::map(vec![
            ("type", mp::str("revoked_user_certificate")),
            ("author", mp::id(self.author)),
            ("timestamp", mp::time(self.timestamp)),
            ("user_id", mp::id(self.user_id)),
        ])
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserUpdateCertificate {
    pub author: Uuid,
    pub timestamp: Micros,
    pub user_id: Uuid,
    pub new_profile: String,
}

impl UserUpdateCertificate {
    pub(super) fn read(f: &Fields) -> DataResult<Self> {
        Ok(UserUpdateCertificate {
            author: f.id("author")?,
            timestamp: f.time("timestamp")?,
            user_id: f.id("user_id")?,
            new_profile: f.str("new_profile")?.to_owned(),
        })
    }

    pub(super) fn to_value(&self) -> Value {
        mp::map(vec![
            ("type", mp::str("user_update_certificate")),
            ("author", mp::id(self.author)),
            ("timestamp", mp::time(self.timestamp)),
            ("user_id", mp::id(self.user_id)),
            ("new_profile", mp::str(&self.new_profile)),
        ])
    }
}
