//! Step 3: block metadata, streamed in `_id` order and committed in chunks.

use tokio_postgres::Transaction;
use uuid::Uuid;

use super::base_info::Source;
use super::chunks::{query_after, stream_in_chunks, ChunkLimits};
use super::Interrupt;
use crate::db::queries;
use crate::error::Result;
use crate::format::{BlockRow, Bounds, ExportFile};
use crate::progress::Step;

/// Insert batches. Rows are small: the weight is the blocks' sizes, not held in memory.
const LIMITS: ChunkLimits = ChunkLimits {
    what: "block metadata",
    rows: 10_000,
    bytes: usize::MAX,
};

pub async fn export(
    tx: &Transaction<'_>,
    file: &mut ExportFile,
    source: &Source,
    bounds: &Bounds,
    step: &Step,
    interrupt: &Interrupt,
) -> Result<()> {
    let (resume_after, _, done_bytes) =
        tokio::task::block_in_place(|| file.blocks_metadata_done())?;
    step.set(done_bytes as u64);
    let rows = query_after(
        tx,
        queries::BLOCKS,
        LIMITS.what,
        source.realm,
        resume_after,
        bounds.block_marker,
        bounds.block_time_bound,
    )
    .await?;
    let convert = |row: &tokio_postgres::Row| {
        let block_id: Uuid = row.get(1);
        let author: Uuid = row.get(4);
        let size = row.get::<_, i32>(3);
        let item = BlockRow {
            sequential_id: i64::from(row.get::<_, i32>(0)),
            block_id: *block_id.as_bytes(),
            key_index: i64::from(row.get::<_, i32>(2)),
            size: i64::from(size),
            author: *author.as_bytes(),
        };
        (item, usize::try_from(size).unwrap_or(0))
    };
    let done = stream_in_chunks(
        rows,
        LIMITS,
        done_bytes,
        step,
        interrupt,
        file,
        convert,
        ExportFile::insert_blocks,
    )
    .await?;
    tokio::task::block_in_place(|| file.set_step_done("blocks_metadata_export_done"))?;
    step.finish(done as u64);
    Ok(())
}
