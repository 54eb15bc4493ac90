//! The human-accesses report: per human, per user, the profile history and the role history
//! in every realm the user ever had a role in.
//!
//! Order (deterministic): humans by label (ignoring case, then exactly) then email; a human's users by creation date (then
//! user ID); a user's realms by first role certificate; events oldest first. Its JSON
//! serialization is the `--json` document (documented in the README: keep it stable).

mod filter;
mod load;
mod text;

use serde::Serialize;
use uuid::Uuid;

pub use filter::Query;
pub use load::load;
pub use text::render;

use super::json;
use crate::ids::Micros;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub organization_id: String,
    /// The `--query` text as given (`None` when absent).
    pub query: Option<String>,
    pub humans: Vec<Human>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Human {
    pub label: String,
    pub email: String,
    pub users: Vec<User>,
}

#[derive(Debug, Clone, Serialize)]
pub struct User {
    #[serde(serialize_with = "json::hyphenated")]
    pub user_id: Uuid,
    #[serde(serialize_with = "json::timestamp")]
    pub created_on: Micros,
    /// `ADMIN`, `STANDARD` or `OUTSIDER`, as stored by the server.
    pub initial_profile: String,
    /// After the last profile change (the initial profile if none).
    pub current_profile: String,
    pub profile_changes: Vec<ProfileChange>,
    #[serde(serialize_with = "json::optional_timestamp")]
    pub revoked_on: Option<Micros>,
    pub realms: Vec<RealmAccess>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProfileChange {
    #[serde(serialize_with = "json::timestamp")]
    pub timestamp: Micros,
    pub profile: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RealmAccess {
    #[serde(serialize_with = "json::simple")]
    pub realm_id: Uuid,
    /// Never empty: a realm is listed because the user has at least one role certificate in it.
    pub role_changes: Vec<RoleChange>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RoleChange {
    #[serde(serialize_with = "json::timestamp")]
    pub timestamp: Micros,
    /// `OWNER`, `MANAGER`, `CONTRIBUTOR` or `READER`; `None` (JSON null) = access removed.
    pub role: Option<String>,
}
