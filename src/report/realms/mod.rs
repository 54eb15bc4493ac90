//! The realms report: every realm of an organization with its creation date, status, current
//! owners, and what an export of it would weigh now (all of its vlob and block rows).
//!
//! Realms come in creation order (then by ID). Realm names are encrypted by the clients: the
//! server cannot show them. Its JSON serialization is the `--json` document (documented in
//! the README: keep it stable).

mod load;
mod text;

use serde::Serialize;
use uuid::Uuid;

pub use load::load;
pub use text::render;

use super::json;
use crate::ids::Micros;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub organization_id: String,
    /// When the sizes were read (the start of the report's transaction).
    #[serde(serialize_with = "json::timestamp")]
    pub as_of: Micros,
    pub realms: Vec<Realm>,
    pub total: Totals,
}

#[derive(Debug, Clone, Serialize)]
pub struct Realm {
    #[serde(serialize_with = "json::simple")]
    pub realm_id: Uuid,
    #[serde(serialize_with = "json::timestamp")]
    pub created_on: Micros,
    pub status: Status,
    /// The latest archiving certificate, if any.
    pub archiving: Option<Archiving>,
    pub owners: Vec<Owner>,
    pub vlobs: Size,
    /// Block metadata rows; `bytes` is the block data an export downloads.
    pub blocks: Size,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Active,
    Archived,
    DeletionPlanned,
    /// Data purged by the server: cannot be exported.
    Deleted,
}

#[derive(Debug, Clone, Serialize)]
pub struct Archiving {
    /// `AVAILABLE`, `ARCHIVED` or `DELETION_PLANNED`, as stored.
    pub configuration: String,
    #[serde(serialize_with = "json::timestamp")]
    pub certified_on: Micros,
    #[serde(serialize_with = "json::optional_timestamp")]
    pub deletion_date: Option<Micros>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Owner {
    #[serde(serialize_with = "json::hyphenated")]
    pub user_id: Uuid,
    pub label: String,
    pub email: String,
    #[serde(serialize_with = "json::optional_timestamp")]
    pub revoked_on: Option<Micros>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Size {
    pub count: i64,
    pub bytes: i64,
}

impl std::ops::AddAssign for Size {
    fn add_assign(&mut self, other: Size) {
        self.count += other.count;
        self.bytes += other.bytes;
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Totals {
    pub realms: usize,
    pub vlobs: Size,
    pub blocks: Size,
}

/// `realm.status` (`AVAILABLE` when the schema predates it) says whether the realm was
/// deleted; the latest archiving certificate says archived or deletion planned.
pub fn status(realm_status: &str, archiving: Option<&Archiving>) -> Status {
    if realm_status == "DELETED" {
        return Status::Deleted;
    }
    match archiving.map(|a| a.configuration.as_str()) {
        Some("ARCHIVED") => Status::Archived,
        Some("DELETION_PLANNED") => Status::DeletionPlanned,
        Some("AVAILABLE") => Status::Active,
        // No certificate to tell which: archived is the milder reading.
        _ if realm_status == "ARCHIVED_OR_DELETION_PLANNED" => Status::Archived,
        _ => Status::Active,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archiving(configuration: &str) -> Archiving {
        Archiving {
            configuration: configuration.into(),
            certified_on: 0,
            deletion_date: None,
        }
    }

    #[test]
    fn status_from_column_and_latest_certificate() {
        assert_eq!(status("AVAILABLE", None), Status::Active);
        assert_eq!(status("DELETED", None), Status::Deleted);
        assert_eq!(
            status("DELETED", Some(&archiving("DELETION_PLANNED"))),
            Status::Deleted
        );
        assert_eq!(
            status("ARCHIVED_OR_DELETION_PLANNED", Some(&archiving("ARCHIVED"))),
            Status::Archived
        );
        assert_eq!(
            status(
                "ARCHIVED_OR_DELETION_PLANNED",
                Some(&archiving("DELETION_PLANNED"))
            ),
            Status::DeletionPlanned
        );
        assert_eq!(
            status("AVAILABLE", Some(&archiving("AVAILABLE"))),
            Status::Active
        );
        // Before migration 0022 there is no column: the certificate decides.
        assert_eq!(
            status("AVAILABLE", Some(&archiving("ARCHIVED"))),
            Status::Archived
        );
        assert_eq!(
            status("ARCHIVED_OR_DELETION_PLANNED", None),
            Status::Archived
        );
    }
}
