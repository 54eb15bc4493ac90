//! One failed check, for the report: which check (a stable identifier), what it concerns
//! and why.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Deserialized only from the history's own spool (`spool`), where a history's entries wait
/// for the content phase.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Failure {
    /// A stable identifier: `certificate`, `keys_bundle`, `canary`, `key_not_opened`,
    /// `key_index_unknown`, `cannot_decrypt`, `unknown_author`, `bad_signature`,
    /// `manifest_invalid`, `author_not_allowed`, `versions_order`, `vlob_row`,
    /// `block_missing`, `block_no_data`, `block_cannot_decrypt`, `block_size`,
    /// `block_digest`, `block_too_large`, `realm_name`.
    pub check: Cow<'static, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlob_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub reason: String,
}

impl Failure {
    pub fn global(check: &'static str, reason: impl Into<String>) -> Self {
        Failure {
            check: Cow::Borrowed(check),
            vlob_id: None,
            version: None,
            path: None,
            reason: reason.into(),
        }
    }

    pub fn vlob(check: &'static str, vlob: Uuid, version: u32, reason: impl Into<String>) -> Self {
        Failure {
            check: Cow::Borrowed(check),
            vlob_id: Some(vlob.simple().to_string()),
            version: Some(version),
            path: None,
            reason: reason.into(),
        }
    }

    pub fn at(mut self, path: &str) -> Self {
        self.path = Some(path.to_owned());
        self
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}]", self.check)?;
        if let Some(p) = &self.path {
            write!(f, " {p}")?;
        }
        if let (Some(v), Some(n)) = (&self.vlob_id, self.version) {
            write!(f, " (vlob {v} v{n})")?;
        }
        write!(f, ": {}", self.reason)
    }
}
