//! Checks that the database is a Parsec v3 database recent enough for the tool.

use tokio_postgres::GenericClient;

use crate::error::{Error, Result};

/// Migration 0010 (Parsec v3.3.0) adds `realm_keys_bundle_access.from_sharing`; it is also
/// the first release with the realm-export format.
pub const MIN_MIGRATION: i32 = 10;

#[derive(Debug, Clone)]
pub struct SchemaInfo {
    pub migration: i32,
    pub migration_name: String,
    /// `realm.status` exists from migration 0022 (v3.9.0); before, no realm can be deleted.
    pub has_realm_status: bool,
}

pub async fn check(client: &impl GenericClient) -> Result<SchemaInfo> {
    let has_table = |name: &'static str| async move {
        client
            .query_one(crate::db::queries::TABLE_EXISTS, &[&name])
            .await
            .map(|row| row.get::<_, bool>(0))
            .map_err(|e| Error::db("checking the database schema", e))
    };
    if !has_table("migration").await? {
        return Err(Error::DbSchema(
            "this database is not a Parsec database (no `migration` table): check --db points to the Parsec server's database".into(),
        ));
    }
    // Parsec decides "last applied" by the most recent `applied` date, not by number.
    let row = client
        .query_opt(crate::db::queries::LAST_MIGRATION, &[])
        .await
        .map_err(|e| Error::db("reading the migration table", e))?;
    let Some(row) = row else {
        return Err(Error::DbSchema(
            "this Parsec database has no migration applied: it is empty".into(),
        ));
    };
    let migration: i32 = row.get(0);
    let migration_name: String = row.get(1);
    if migration < MIN_MIGRATION {
        return Err(Error::DbSchema(format!(
            "this Parsec database is at migration {migration:04} ({migration_name}); exporting needs migration {MIN_MIGRATION:04} or later, i.e. a server upgraded to Parsec v3.3.0 or newer (run `parsec migrate` with a newer Parsec first)"
        )));
    }
    for table in [
        "organization",
        "user_",
        "device",
        "realm",
        "realm_user_role",
        "realm_keys_bundle",
        "realm_keys_bundle_access",
        "vlob_atom",
        "block",
    ] {
        if !has_table(table).await? {
            return Err(Error::DbSchema(format!(
                "table `{table}` is missing although the database claims migration {migration:04}: this is not a complete Parsec v3 database"
            )));
        }
    }
    let has_realm_status = client
        .query_one(crate::db::queries::COLUMN_EXISTS, &[&"realm", &"status"])
        .await
        .map_err(|e| Error::db("checking the database schema", e))?
        .get::<_, bool>(0);
    Ok(SchemaInfo {
        migration,
        migration_name,
        has_realm_status,
    })
}
