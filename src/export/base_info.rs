//! Step 0: find the organization and realm, validate the snapshot, and compute which rows
//! belong to the export (the bounds) and what they weigh (the totals).

use tokio_postgres::Transaction;
use uuid::Uuid;

use crate::db::{queries, schema::SchemaInfo};
use crate::error::{Error, Result};
use crate::format::Bounds;
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

/// Our bounds for a new export at T (README, "Consistency"): vlobs up to T; blocks up to
/// T + 320 s, so that a block uploaded by a client whose clock was up to 320 s late, and
/// referenced by a manifest timestamped ≤ T, is not left out. Markers freeze the row sets.
pub async fn new_bounds(tx: &Transaction<'_>, source: &Source, snapshot: Micros) -> Result<Bounds> {
    let block_time_bound = snapshot + CLIENT_LATE_OFFSET_US;
    markers(tx, source, snapshot, block_time_bound).await
}

/// Parsec's bounds (files Parsec's exporter started): markers at T, rows below them taken
/// whatever their time.
pub async fn parsec_bounds(
    tx: &Transaction<'_>,
    source: &Source,
    snapshot: Micros,
) -> Result<Bounds> {
    let mut bounds = markers(tx, source, snapshot, snapshot).await?;
    bounds.vlob_time_bound = i64::MAX;
    bounds.block_time_bound = i64::MAX;
    Ok(bounds)
}

async fn markers(
    tx: &Transaction<'_>,
    source: &Source,
    vlob_time_bound: Micros,
    block_time_bound: Micros,
) -> Result<Bounds> {
    let one = |sql: &'static str, bound: Micros| async move {
        tx.query_one(sql, &[&source.realm, &to_pg_time(bound)])
            .await
            .map(|r| i64::from(r.get::<_, i32>(0)))
            .map_err(|e| Error::db("computing the export's bounds", e))
    };
    Ok(Bounds {
        vlob_marker: one(queries::VLOB_MARKER, vlob_time_bound).await?,
        vlob_time_bound,
        block_marker: one(queries::BLOCK_MARKER, block_time_bound).await?,
        block_time_bound,
    })
}

/// Count and bytes of the selected rows. `count_until` caps the time bound used for
/// counting (Parsec's totals count only rows up to T).
pub async fn totals(
    tx: &Transaction<'_>,
    source: &Source,
    bounds: &Bounds,
    count_until: Option<Micros>,
) -> Result<Totals> {
    let cap = |b: Micros| count_until.map_or(b, |c| b.min(c));
    let one = |sql: &'static str, marker: i64, bound: Micros| async move {
        let marker = i32::try_from(marker).unwrap_or(i32::MAX);
        tx.query_one(sql, &[&source.realm, &marker, &to_pg_time(bound)])
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

/// The export file holds at most one version of a vlob per timestamp; Parsec's server does
/// not forbid two. Refuse clearly before writing anything rather than failing mid-way.
pub async fn check_vlob_timestamps_unique(
    tx: &Transaction<'_>,
    source: &Source,
    bounds: &Bounds,
) -> Result<()> {
    let marker = i32::try_from(bounds.vlob_marker).unwrap_or(i32::MAX);
    let rows = tx
        .query(
            queries::VLOB_TIMESTAMP_DUPLICATES,
            &[&source.realm, &marker, &to_pg_time(bounds.vlob_time_bound)],
        )
        .await
        .map_err(|e| Error::db("checking vlob timestamps", e))?;
    if rows.is_empty() {
        return Ok(());
    }
    let cases: Vec<String> = rows
        .iter()
        .map(|r| {
            let id: Uuid = r.get(0);
            let at: chrono::DateTime<chrono::Utc> = r.get(1);
            let n: i64 = r.get(2);
            format!(
                "vlob {} has {n} versions at {}",
                id.simple(),
                format_timestamp(at.timestamp_micros())
            )
        })
        .collect();
    Err(Error::SourceInconsistent(format!(
        "{}; the realm-export format allows one version per vlob and timestamp, so this realm cannot be exported as is (report it to the Parsec server's maintainers)",
        cases.join("; ")
    )))
}
