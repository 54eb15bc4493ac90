//! One consistent, read-only view of an organization: a read-only session, the schema check,
//! one REPEATABLE READ READ ONLY transaction (every query of a report sees the same instant),
//! and the organization resolved inside it.

use chrono::{DateTime, Utc};
use tokio_postgres::{Client, Transaction};

use crate::db::queries;
use crate::db::schema::{self, SchemaInfo};
use crate::error::{Error, Result};
use crate::ids::Micros;

pub struct OrgSnapshot<'a> {
    pub tx: Transaction<'a>,
    pub schema: SchemaInfo,
    /// `organization._id`
    pub organization: i32,
    /// The transaction's start time (what "now" means for the sizes).
    pub as_of: Micros,
}

pub async fn open<'a>(client: &'a mut Client, organization_id: &str) -> Result<OrgSnapshot<'a>> {
    let tx = crate::db::snapshot(client).await?;
    let schema = schema::check(&tx).await?;
    let org = tx
        .query_opt(queries::ORGANIZATION, &[&organization_id])
        .await
        .map_err(|e| Error::db("looking up the organization", e))?
        .ok_or_else(|| Error::OrganizationNotFound(organization_id.to_owned()))?;
    let root_verify_key: Option<Vec<u8>> = org.get(1);
    // Like Parsec: an organization that was never bootstrapped has no users nor realms.
    if root_verify_key.is_none() {
        return Err(Error::OrganizationNotBootstrapped(
            organization_id.to_owned(),
        ));
    }
    let as_of: DateTime<Utc> = tx
        .query_one(queries::TRANSACTION_TIME, &[])
        .await
        .map_err(|e| Error::db("reading the server's time", e))?
        .get(0);
    Ok(OrgSnapshot {
        tx,
        schema,
        organization: org.get(0),
        as_of: as_of.timestamp_micros(),
    })
}

impl OrgSnapshot<'_> {
    /// Ends the transaction. It only read: a failure here cannot change what was read, so it
    /// is not reported.
    pub async fn close(self) {
        if let Err(e) = self.tx.rollback().await {
            tracing::debug!(
                "ending the report's transaction: {}",
                crate::db::describe_pg_error(&e)
            );
        }
    }
}
