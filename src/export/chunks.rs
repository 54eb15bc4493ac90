//! Shared by the vlob and block-metadata steps: stream rows from one PostgreSQL query and
//! commit them to the file in bounded chunks, each chunk a resume point.

use futures::{pin_mut, TryStreamExt};
use tokio_postgres::{types::ToSql, Row, RowStream, Transaction};

use super::Interrupt;
use crate::error::{Error, Result};
use crate::ids::{to_pg_time, Micros};
use crate::progress::Step;

/// Runs one of the step queries (`$1` realm, `$2` resume after this `_id`, `$3` marker,
/// `$4` time bound): the realm's rows after the resume point, within the export's bounds.
pub async fn query_after(
    tx: &Transaction<'_>,
    sql: &str,
    what: &str,
    realm: i32,
    resume_after: i64,
    marker: i64,
    time_bound: Micros,
) -> Result<RowStream> {
    // `_id`s are PostgreSQL int4 serials.
    let resume_after = i32::try_from(resume_after).unwrap_or(i32::MAX);
    let marker = i32::try_from(marker).unwrap_or(i32::MAX);
    let bound = to_pg_time(time_bound);
    let params: [&(dyn ToSql + Sync); 4] = [&realm, &resume_after, &marker, &bound];
    tx.query_raw(sql, params)
        .await
        .map_err(|e| Error::db(format!("reading {what}"), e))
}

pub struct ChunkLimits {
    /// What the rows are, for error messages.
    pub what: &'static str,
    pub rows: usize,
    pub bytes: usize,
}

/// `convert` turns a row into an item and its byte weight; `write` commits a chunk.
/// Progress counts bytes from `done_bytes` on. Stops early (after committing what it has)
/// when interrupted.
pub async fn stream_in_chunks<T>(
    rows: RowStream,
    limits: ChunkLimits,
    mut done_bytes: i64,
    step: &Step,
    interrupt: &Interrupt,
    convert: impl Fn(&Row) -> (T, usize),
    mut write: impl FnMut(&[T]) -> Result<()>,
) -> Result<i64> {
    pin_mut!(rows);
    let mut chunk: Vec<T> = Vec::new();
    let mut chunk_bytes = 0usize;
    loop {
        let row = rows
            .try_next()
            .await
            .map_err(|e| Error::db(format!("reading {}", limits.what), e))?;
        let end = row.is_none();
        if let Some(row) = row {
            let (item, bytes) = convert(&row);
            chunk.push(item);
            chunk_bytes += bytes;
        }
        let interrupted = interrupt.is_set();
        let full = chunk_bytes >= limits.bytes || chunk.len() >= limits.rows;
        if !chunk.is_empty() && (end || interrupted || full) {
            tokio::task::block_in_place(|| write(&chunk))?;
            done_bytes += chunk_bytes as i64;
            step.set(done_bytes as u64);
            chunk.clear();
            chunk_bytes = 0;
        }
        if interrupted {
            return Err(interrupt.error());
        }
        if end {
            return Ok(done_bytes);
        }
    }
}
