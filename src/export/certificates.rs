//! Step 1: certificates, keys bundles and accesses, all written in one transaction.

use tokio_postgres::Transaction;
use uuid::Uuid;

use super::base_info::Source;
use crate::db::queries;
use crate::error::{Error, Result};
use crate::format::CertificatesData;
use crate::ids::{to_pg_time, Micros};

pub async fn fetch(
    tx: &Transaction<'_>,
    source: &Source,
    snapshot: Micros,
) -> Result<CertificatesData> {
    let t = to_pg_time(snapshot);
    let mut data = CertificatesData::default();
    let rows = tx
        .query(
            queries::CERTIFICATES,
            &[&source.organization, &source.realm, &t],
        )
        .await
        .map_err(|e| Error::db("reading certificates", e))?;
    for row in rows {
        let family: i32 = row.get(0);
        let certificate: Vec<u8> = row.get(1);
        match family {
            0 => data.common.push(certificate),
            1 => data.sequester.push(certificate),
            _ => data.realm.push(certificate),
        }
    }
    data.keys_bundles = tx
        .query(queries::KEYS_BUNDLES, &[&source.realm, &t])
        .await
        .map_err(|e| Error::db("reading keys bundles", e))?
        .into_iter()
        .map(|r| (i64::from(r.get::<_, i32>(0)), r.get(1)))
        .collect();
    let accesses = |sql: &'static str| async move {
        tx.query(sql, &[&source.realm, &t])
            .await
            .map_err(|e| Error::db("reading keys bundle accesses", e))
            .map(|rows| {
                rows.into_iter()
                    .map(|r| {
                        let id: Uuid = r.get(0);
                        (*id.as_bytes(), i64::from(r.get::<_, i32>(1)), r.get(2))
                    })
                    .collect::<Vec<_>>()
            })
    };
    data.user_accesses = accesses(queries::USER_ACCESSES).await?;
    data.sequester_accesses = accesses(queries::SEQUESTER_ACCESSES).await?;
    Ok(data)
}
