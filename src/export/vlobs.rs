//! Step 2: vlob versions, streamed from PostgreSQL in `_id` order and committed to the file
//! in chunks (each chunk is a resume point).

use futures::{pin_mut, TryStreamExt};
use tokio_postgres::Transaction;
use uuid::Uuid;

use super::base_info::Source;
use super::{Interrupt, CHUNK_BYTES, CHUNK_ROWS};
use crate::db::queries;
use crate::error::{Error, Result};
use crate::format::{Bounds, ExportFile, VlobRow};
use crate::ids::to_pg_time;
use crate::progress::Step;

/// Returns (rows written in total, bytes written in total) including earlier runs.
pub async fn export(
    tx: &Transaction<'_>,
    file: &mut ExportFile,
    source: &Source,
    bounds: &Bounds,
    step: &Step,
    interrupt: &Interrupt,
) -> Result<()> {
    let (resume_after, mut done_bytes) = tokio::task::block_in_place(|| file.vlobs_done())?;
    step.set(done_bytes as u64);
    let resume_after = i32::try_from(resume_after).unwrap_or(i32::MAX);
    let marker = i32::try_from(bounds.vlob_marker).unwrap_or(i32::MAX);
    let bound = to_pg_time(bounds.vlob_time_bound);
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
        [&source.realm, &resume_after, &marker, &bound];
    let rows = tx
        .query_raw(queries::VLOBS, params)
        .await
        .map_err(|e| Error::db("reading vlobs", e))?;
    pin_mut!(rows);
    let mut chunk: Vec<VlobRow> = Vec::new();
    let mut chunk_bytes = 0usize;
    loop {
        let row = rows
            .try_next()
            .await
            .map_err(|e| Error::db("reading vlobs", e))?;
        let end = row.is_none();
        if let Some(row) = row {
            let vlob_id: Uuid = row.get(1);
            let author: Uuid = row.get(6);
            let created_on: chrono::DateTime<chrono::Utc> = row.get(5);
            let blob: Vec<u8> = row.get(4);
            chunk_bytes += blob.len();
            chunk.push(VlobRow {
                sequential_id: i64::from(row.get::<_, i32>(0)),
                vlob_id: *vlob_id.as_bytes(),
                version: i64::from(row.get::<_, i32>(2)),
                key_index: i64::from(row.get::<_, i32>(3)),
                blob,
                author: *author.as_bytes(),
                timestamp: created_on.timestamp_micros(),
            });
        }
        let interrupted = interrupt.is_set();
        if !chunk.is_empty()
            && (end || interrupted || chunk_bytes >= CHUNK_BYTES || chunk.len() >= CHUNK_ROWS)
        {
            tokio::task::block_in_place(|| file.insert_vlobs(&chunk))?;
            done_bytes += chunk_bytes as i64;
            step.set(done_bytes as u64);
            chunk.clear();
            chunk_bytes = 0;
        }
        if interrupted {
            return Err(interrupt.error());
        }
        if end {
            break;
        }
    }
    tokio::task::block_in_place(|| file.set_step_done("vlobs_export_done"))?;
    step.finish(done_bytes as u64);
    Ok(())
}
