//! Step 3: block metadata, streamed in `_id` order and committed in chunks.

use futures::{pin_mut, TryStreamExt};
use tokio_postgres::Transaction;
use uuid::Uuid;

use super::base_info::Source;
use super::{Interrupt, CHUNK_ROWS};
use crate::db::queries;
use crate::error::{Error, Result};
use crate::format::{BlockRow, Bounds, ExportFile};
use crate::ids::to_pg_time;
use crate::progress::Step;

pub async fn export(
    tx: &Transaction<'_>,
    file: &mut ExportFile,
    source: &Source,
    bounds: &Bounds,
    step: &Step,
    interrupt: &Interrupt,
) -> Result<()> {
    let (resume_after, _, mut done_bytes) =
        tokio::task::block_in_place(|| file.blocks_metadata_done())?;
    step.set(done_bytes as u64);
    let resume_after = i32::try_from(resume_after).unwrap_or(i32::MAX);
    let marker = i32::try_from(bounds.block_marker).unwrap_or(i32::MAX);
    let bound = to_pg_time(bounds.block_time_bound);
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
        [&source.realm, &resume_after, &marker, &bound];
    let rows = tx
        .query_raw(queries::BLOCKS, params)
        .await
        .map_err(|e| Error::db("reading block metadata", e))?;
    pin_mut!(rows);
    let mut chunk: Vec<BlockRow> = Vec::new();
    let mut chunk_bytes = 0i64;
    loop {
        let row = rows
            .try_next()
            .await
            .map_err(|e| Error::db("reading block metadata", e))?;
        let end = row.is_none();
        if let Some(row) = row {
            let block_id: Uuid = row.get(1);
            let author: Uuid = row.get(4);
            let size = i64::from(row.get::<_, i32>(3));
            chunk_bytes += size;
            chunk.push(BlockRow {
                sequential_id: i64::from(row.get::<_, i32>(0)),
                block_id: *block_id.as_bytes(),
                key_index: i64::from(row.get::<_, i32>(2)),
                size,
                author: *author.as_bytes(),
            });
        }
        let interrupted = interrupt.is_set();
        if !chunk.is_empty() && (end || interrupted || chunk.len() >= CHUNK_ROWS * 10) {
            tokio::task::block_in_place(|| file.insert_blocks(&chunk))?;
            done_bytes += chunk_bytes;
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
    tokio::task::block_in_place(|| file.set_step_done("blocks_metadata_export_done"))?;
    step.finish(done_bytes as u64);
    Ok(())
}
