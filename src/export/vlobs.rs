//! Step 2: vlob versions, streamed from PostgreSQL in `_id` order and written to the file
//! through `chunks`.

use tokio_postgres::Transaction;
use uuid::Uuid;

use super::base_info::Source;
use super::chunks::{query_after, stream_in_chunks, ChunkLimits};
use super::Interrupt;
use crate::db::queries;
use crate::error::Result;
use crate::format::{Bounds, ExportFile, VlobRow};
use crate::progress::Step;

/// Insert batches (commits are sized by time, see `chunks`).
const LIMITS: ChunkLimits = ChunkLimits {
    what: "vlobs",
    rows: 2_000,
    bytes: 4 * 1024 * 1024,
};

pub async fn export(
    tx: &Transaction<'_>,
    file: &mut ExportFile,
    source: &Source,
    bounds: &Bounds,
    step: &Step,
    interrupt: &Interrupt,
) -> Result<()> {
    let (resume_after, done_bytes) = tokio::task::block_in_place(|| file.vlobs_done())?;
    step.set(done_bytes as u64);
    let rows = query_after(
        tx,
        queries::VLOBS,
        LIMITS.what,
        source.realm,
        resume_after,
        bounds.vlob_marker,
        bounds.vlob_time_bound,
    )
    .await?;
    let convert = |row: &tokio_postgres::Row| {
        let vlob_id: Uuid = row.get(1);
        let author: Uuid = row.get(6);
        let created_on: chrono::DateTime<chrono::Utc> = row.get(5);
        let blob: Vec<u8> = row.get(4);
        let bytes = blob.len();
        let item = VlobRow {
            sequential_id: i64::from(row.get::<_, i32>(0)),
            vlob_id: *vlob_id.as_bytes(),
            version: i64::from(row.get::<_, i32>(2)),
            key_index: i64::from(row.get::<_, i32>(3)),
            blob,
            author: *author.as_bytes(),
            timestamp: created_on.timestamp_micros(),
        };
        (item, bytes)
    };
    let done = stream_in_chunks(
        rows,
        LIMITS,
        done_bytes,
        step,
        interrupt,
        file,
        convert,
        ExportFile::insert_vlobs,
    )
    .await?;
    tokio::task::block_in_place(|| file.set_step_done("vlobs_export_done"))?;
    step.finish(done as u64);
    Ok(())
}
