//! The JSON forms of identifiers and timestamps, shared by the reports' serializations:
//! timestamps as in the text reports (RFC 3339 UTC, see `ids::format_timestamp`), user IDs
//! hyphenated, realm IDs as 32 hex digits (the forms Parsec prints).

use serde::Serializer;
use uuid::Uuid;

use crate::ids::{format_timestamp, Micros};

pub fn timestamp<S: Serializer>(us: &Micros, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_timestamp(*us))
}

pub fn optional_timestamp<S: Serializer>(us: &Option<Micros>, s: S) -> Result<S::Ok, S::Error> {
    match us {
        Some(us) => timestamp(us, s),
        None => s.serialize_none(),
    }
}

pub fn hyphenated<S: Serializer>(id: &Uuid, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&id.hyphenated().to_string())
}

pub fn simple<S: Serializer>(id: &Uuid, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&id.simple().to_string())
}

/// A SHA-256 as 64 lowercase hex digits.
pub fn optional_sha256<S: Serializer>(h: &Option<[u8; 32]>, s: S) -> Result<S::Ok, S::Error> {
    match h {
        Some(h) => s.serialize_str(&base16ct::lower::encode_string(h)),
        None => s.serialize_none(),
    }
}
