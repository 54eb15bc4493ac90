//! Step 0: find the organization and realm, validate the snapshot, and compute which rows
//! belong to the export (the bounds) and what they weigh (the totals).

use tokio_postgres::Transaction;
use uuid::Uuid;

use crate::db::{queries, schema::SchemaInfo};
use crate::error::{Error, Result};
use crate::format::{Bounds, NO_TIME_BOUND};
use crate::ids::{format_timestamp, to_pg_time, Micros, CLIENT_LATE_OFFSET_US};

/// The realm's rows in Parsec's database.
#[derive(Debug, Clone)]
pub struct Source {
    pub organization: i32,
    pub realm: i32,
    pub root_verify_key: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    pub vlob_count: i64,
    pub vlob_bytes: i64,
    pub block_count: i64,
    pub block_bytes: i64,
}

pub async fn locate(
    tx: &Transaction<'_>,
    schema: &SchemaInfo,
    organization_id: &str,
    realm_id: Uuid,
) -> Result<Source> {
    let org = tx
        .query_opt(queries::ORGANIZATION, &[&organization_id])
        .await
        .map_err(|e| Error::db("looking up the organization", e))?
        .ok_or_else(|| Error::OrganizationNotFound(organization_id.to_owned()))?;
    let organization: i32 = org.get(0);
    let root_verify_key: Option<Vec<u8>> = org.get(1);
    let root_verify_key = root_verify_key
        .ok_or_else(|| Error::OrganizationNotBootstrapped(organization_id.to_owned()))?;
    let sql = if schema.has_realm_status {
        queries::REALM_WITH_STATUS
    } else {
        queries::REALM_WITHOUT_STATUS
    };
    let realm_row = tx
        .query_opt(sql, &[&organization, &realm_id])
        .await
        .map_err(|e| Error::db("looking up the realm", e))?
        .ok_or_else(|| Error::RealmNotFound {
            organization: organization_id.to_owned(),
            realm: realm_id.simple().to_string(),
        })?;
    let status: String = realm_row.get(1);
    if status == "DELETED" {
        return Err(Error::RealmDeleted(realm_id.simple().to_string()));
    }
    Ok(Source {
        organization,
        realm: realm_row.get(0),
        root_verify_key,
    })
}

/// T must be old enough that nothing can still appear at or before it.
pub fn check_snapshot_age(snapshot: Micros, now: Micros) -> Result<()> {
    let latest = now - CLIENT_LATE_OFFSET_US;
    if snapshot > latest {
        return Err(Error::SnapshotTooRecent {
            snapshot: format_timestamp(snapshot),
            latest: format_timestamp(latest),
        });
    }
    Ok(())
}

/// The realm must have at least one certificate at or before T.
pub async fn check_snapshot_after_creation(
    tx: &Transaction<'_>,
    source: &Source,
    snapshot: Micros,
) -> Result<()> {
    let row = tx
        .query_one(
            queries::REALM_CERTIFICATE_BOUNDS,
            &[&source.realm, &to_pg_time(snapshot)],
        )
        .await
        .map_err(|e| Error::db("reading the realm's certificates", e))?;
    let upper: Option<chrono::DateTime<chrono::Utc>> = row.get(0);
    let first: Option<chrono::DateTime<chrono::Utc>> = row.get(1);
    if upper.is_none() {
        return Err(Error::SnapshotBeforeRealm {
            snapshot: format_timestamp(snapshot),
            created: first
                .map(|t| format_timestamp(t.timestamp_micros()))
                .unwrap_or_else(|| "never: the realm has no certificate".into()),
        });
    }
    Ok(())
}

/// Our bounds for a new export at T (README, "Consistency"). Vlobs: Parsec's rule, the
/// insertion-order prefix up to the last row stamped ≤ T (`vlob_atom.created_on` is the
/// client's clock, so a time filter would cut holes in a vlob's versions). Blocks: every row
/// stamped (server clock) up to 320 s after the latest exported vlob version, and at least
/// T + 320 s: a version is accepted only with a timestamp above the server's clock − 320 s,
/// and its blocks were uploaded before it was sent, so none of them can be left out. The
/// markers freeze the row sets for every later run.
pub async fn new_bounds(tx: &Transaction<'_>, source: &Source, snapshot: Micros) -> Result<Bounds> {
    let vlob_marker = marker(tx, queries::VLOB_MARKER, source, snapshot).await?;
    let newest_vlob: Option<chrono::DateTime<chrono::Utc>> = tx
        .query_one(
            queries::VLOB_NEWEST_TIMESTAMP,
            &[&source.realm, &marker_param(vlob_marker)],
        )
        .await
        .map_err(|e| Error::db("computing the export's bounds", e))?
        .get(0);
    let newest_vlob = newest_vlob.map_or(snapshot, |t| t.timestamp_micros());
    let block_time_bound = snapshot
        .max(newest_vlob)
        .saturating_add(CLIENT_LATE_OFFSET_US);
    Ok(Bounds {
        vlob_marker,
        vlob_time_bound: NO_TIME_BOUND,
        block_marker: marker(tx, queries::BLOCK_MARKER, source, block_time_bound).await?,
        block_time_bound,
    })
}

/// Parsec's bounds (files Parsec's exporter started): markers at T, rows below them taken
/// whatever their time.
pub async fn parsec_bounds(
    tx: &Transaction<'_>,
    source: &Source,
    snapshot: Micros,
) -> Result<Bounds> {
    Ok(Bounds {
        vlob_marker: marker(tx, queries::VLOB_MARKER, source, snapshot).await?,
        vlob_time_bound: NO_TIME_BOUND,
        block_marker: marker(tx, queries::BLOCK_MARKER, source, snapshot).await?,
        block_time_bound: NO_TIME_BOUND,
    })
}

/// The highest `_id` of the realm's rows stamped at or before `bound`.
async fn marker(
    tx: &Transaction<'_>,
    sql: &'static str,
    source: &Source,
    bound: Micros,
) -> Result<i64> {
    tx.query_one(sql, &[&source.realm, &to_pg_time(bound)])
        .await
        .map(|r| i64::from(r.get::<_, i32>(0)))
        .map_err(|e| Error::db("computing the export's bounds", e))
}

/// `_id`s are PostgreSQL int4 serials.
fn marker_param(marker: i64) -> i32 {
    i32::try_from(marker).unwrap_or(i32::MAX)
}

/// Count and bytes of the selected rows. `count_until` caps the time bound used for
/// counting: `info`'s totals are Parsec's, the rows stamped ≤ T (reference §2.3).
pub async fn totals(
    tx: &Transaction<'_>,
    source: &Source,
    bounds: &Bounds,
    count_until: Option<Micros>,
) -> Result<Totals> {
    let cap = |b: Micros| count_until.map_or(b, |c| b.min(c));
    let one = |sql: &'static str, marker: i64, bound: Micros| async move {
        tx.query_one(
            sql,
            &[&source.realm, &marker_param(marker), &to_pg_time(bound)],
        )
        .await
        .map(|r| (r.get::<_, i64>(0), r.get::<_, i64>(1)))
        .map_err(|e| Error::db("computing the export's totals", e))
    };
    let (vlob_count, vlob_bytes) = one(
        queries::VLOB_TOTALS,
        bounds.vlob_marker,
        cap(bounds.vlob_time_bound),
    )
    .await?;
    let (block_count, block_bytes) = one(
        queries::BLOCK_TOTALS,
        bounds.block_marker,
        cap(bounds.block_time_bound),
    )
    .await?;
    Ok(Totals {
        vlob_count,
        vlob_bytes,
        block_count,
        block_bytes,
    })
}
