//! `record.json`: the generator's own account of what it wrote for one organization (not a
//! re-reading of the database), the oracle for tests of `extract` and of the generated
//! data. Its shape is documented in README ("testbed populate").

use serde::{Deserialize, Serialize};

use super::plan::Ts;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrgRecord {
    pub organization: String,
    pub services: Vec<ServiceRecord>,
    pub realms: Vec<RealmRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ServiceRecord {
    pub service_id: String,
    pub label: String,
    pub created_on: String,
    pub revoked_on: Option<String>,
    /// Relative to the organization's keys directory; `None` until the key file is written.
    pub key_file: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RealmRecord {
    pub realm_id: String,
    /// The latest name.
    pub name: String,
    pub rotations: Vec<RotationRecord>,
    pub vlobs: Vec<VlobRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RotationRecord {
    pub key_index: u32,
    pub timestamp: String,
    /// Services given an access to this keys bundle (so they read keys 1 to `key_index`).
    pub services: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct VlobRecord {
    pub vlob_id: String,
    pub versions: Vec<VersionRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct VersionRecord {
    pub version: u32,
    pub timestamp: String,
    pub author: String,
    pub key_index: u32,
    #[serde(rename = "type")]
    pub kind: String,
    pub parent: String,
    /// Folders: name → child vlob id, as written (children not yet uploaded, or moved
    /// away, included).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub children: Option<std::collections::BTreeMap<String, String>>,
    /// Files: length, SHA-256 of the whole content (holes as zeros), number of blocks.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub blocks: Option<usize>,
}

/// RFC 3339, microseconds, UTC with `Z` (as in manifests and rows).
pub fn timestamp(t: Ts) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}
