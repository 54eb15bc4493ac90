//! Reads the realms of one organization, their latest archiving certificate, current owners
//! and sizes (five queries in the report's snapshot).

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{status, Archiving, Owner, Realm, Report, Size, Totals};
use crate::db::queries;
use crate::error::{Error, Result};
use crate::report::session::OrgSnapshot;

pub async fn load(snapshot: &OrgSnapshot<'_>, organization_id: &str) -> Result<Report> {
    let tx = &snapshot.tx;
    let org = &snapshot.organization;
    let realms_sql = if snapshot.schema.has_realm_status {
        queries::REPORT_REALMS_WITH_STATUS
    } else {
        queries::REPORT_REALMS_WITHOUT_STATUS
    };
    let realm_rows = tx
        .query(realms_sql, &[org])
        .await
        .map_err(|e| Error::db("reading the realms", e))?;

    let mut archiving: HashMap<i32, Archiving> = HashMap::new();
    for row in tx
        .query(queries::REPORT_LATEST_ARCHIVING, &[org])
        .await
        .map_err(|e| Error::db("reading the realms' archiving", e))?
    {
        let certified_on: DateTime<Utc> = row.get(2);
        let deletion_date: Option<DateTime<Utc>> = row.get(3);
        archiving.insert(
            row.get(0),
            Archiving {
                configuration: row.get(1),
                certified_on: certified_on.timestamp_micros(),
                deletion_date: deletion_date.map(|t| t.timestamp_micros()),
            },
        );
    }

    let mut owners: HashMap<i32, Vec<Owner>> = HashMap::new();
    for row in tx
        .query(queries::REPORT_OWNERS, &[org])
        .await
        .map_err(|e| Error::db("reading the realms' owners", e))?
    {
        let revoked_on: Option<DateTime<Utc>> = row.get(4);
        owners.entry(row.get(0)).or_default().push(Owner {
            user_id: row.get(1),
            label: row.get(2),
            email: row.get(3),
            revoked_on: revoked_on.map(|t| t.timestamp_micros()),
        });
    }

    let vlobs = sizes(snapshot, queries::REPORT_VLOB_SIZES, "vlobs").await?;
    let blocks = sizes(snapshot, queries::REPORT_BLOCK_SIZES, "blocks").await?;

    let mut total = Totals::default();
    let realms: Vec<Realm> = realm_rows
        .iter()
        .map(|row| {
            let internal_id: i32 = row.get(0);
            let created_on: DateTime<Utc> = row.get(2);
            let realm_status: String = row.get(3);
            let archiving = archiving.remove(&internal_id);
            let realm = Realm {
                realm_id: row.get(1),
                created_on: created_on.timestamp_micros(),
                status: status(&realm_status, archiving.as_ref()),
                archiving,
                owners: owners.remove(&internal_id).unwrap_or_default(),
                vlobs: vlobs.get(&internal_id).copied().unwrap_or_default(),
                blocks: blocks.get(&internal_id).copied().unwrap_or_default(),
            };
            total.realms += 1;
            total.vlobs += realm.vlobs;
            total.blocks += realm.blocks;
            realm
        })
        .collect();

    Ok(Report {
        organization_id: organization_id.to_owned(),
        as_of: snapshot.as_of,
        realms,
        total,
    })
}

/// Count and bytes per realm internal id.
async fn sizes(snapshot: &OrgSnapshot<'_>, sql: &str, what: &str) -> Result<HashMap<i32, Size>> {
    Ok(snapshot
        .tx
        .query(sql, &[&snapshot.organization])
        .await
        .map_err(|e| Error::db(format!("measuring the realms' {what}"), e))?
        .iter()
        .map(|row| {
            (
                row.get(0),
                Size {
                    count: row.get(1),
                    bytes: row.get(2),
                },
            )
        })
        .collect())
}
