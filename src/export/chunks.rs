//! Shared by the vlob and block-metadata steps: stream rows from one PostgreSQL query, hand
//! them in bounded batches to a writer thread, which commits by time; each commit is a
//! resume point.

use futures::{pin_mut, TryStreamExt};
use tokio_postgres::{types::ToSql, Row, RowStream, Transaction};

use std::time::{Duration, Instant};

use super::Interrupt;
use crate::error::{Error, Result};
use crate::format::ExportFile;
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

/// Rows are inserted in batches as they arrive (bounded memory) into one open SQLite
/// transaction, committed every `COMMIT_INTERVAL`: every commit rewrites the random pages of
/// the UNIQUE indexes it touched (UUID keys), so with a commit per 20 000 rows a million
/// vlobs wrote 2.3 GB for 391 MB of data. A kill loses at most the last interval.
const COMMIT_INTERVAL: Duration = Duration::from_secs(5);

pub struct ChunkLimits {
    /// What the rows are, for error messages.
    pub what: &'static str,
    /// One insert batch: at most this many rows or this weight.
    pub rows: usize,
    pub bytes: usize,
}

/// `convert` turns a row into an item and its weight (progress counts it from `done_bytes`
/// on); `insert` writes a batch inside the open transaction. Reading and writing overlap:
/// this task fetches and decodes rows while a writer thread inserts the previous batch (at
/// most `IN_FLIGHT` batches wait between them). Stops early, after committing what it has,
/// when interrupted.
#[allow(clippy::too_many_arguments)]
pub async fn stream_in_chunks<T: Send>(
    rows: RowStream,
    limits: ChunkLimits,
    done_bytes: i64,
    step: &Step,
    interrupt: &Interrupt,
    file: &mut ExportFile,
    convert: impl Fn(&Row) -> (T, usize),
    insert: impl Fn(&ExportFile, &[T]) -> Result<()> + Send,
) -> Result<i64> {
    let runtime = tokio::runtime::Handle::current();
    tokio::task::block_in_place(|| {
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<(Vec<T>, usize)>(IN_FLIGHT);
            let writer = scope.spawn(move || write_batches(file, rx, done_bytes, step, insert));
            let read = runtime.block_on(read_batches(rows, &limits, interrupt, convert, tx));
            // The sender is gone: the writer commits what it received, then ends.
            let written = writer.join().unwrap_or_else(|_| {
                Err(Error::Internal(format!(
                    "the {} writer thread panicked",
                    limits.what
                )))
            });
            match (read, written) {
                // A writer error explains a reader that stopped because the writer left.
                (_, Err(e)) => Err(e),
                (Err(e), Ok(_)) => Err(e),
                (Ok(()), Ok(done)) => Ok(done),
            }
        })
    })
}

const IN_FLIGHT: usize = 2;

async fn read_batches<T>(
    rows: RowStream,
    limits: &ChunkLimits,
    interrupt: &Interrupt,
    convert: impl Fn(&Row) -> (T, usize),
    tx: std::sync::mpsc::SyncSender<(Vec<T>, usize)>,
) -> Result<()> {
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
            let batch = (std::mem::take(&mut chunk), chunk_bytes);
            chunk_bytes = 0;
            // Blocking is right here: this thread is outside the runtime's workers, and a
            // full channel is the writer asking the reader to wait.
            if tx.send(batch).is_err() {
                // The writer stopped on an error; it is the one reported.
                return Ok(());
            }
        }
        if interrupted {
            return Err(interrupt.error());
        }
        if end {
            return Ok(());
        }
    }
}

/// Inserts the batches in one open transaction, committed every `COMMIT_INTERVAL` and when
/// the reader is done (or stopped).
fn write_batches<T>(
    file: &mut ExportFile,
    rx: std::sync::mpsc::Receiver<(Vec<T>, usize)>,
    mut done_bytes: i64,
    step: &Step,
    insert: impl Fn(&ExportFile, &[T]) -> Result<()>,
) -> Result<i64> {
    // When the open transaction began; None between commits.
    let mut open_since: Option<Instant> = None;
    for (batch, bytes) in rx {
        if open_since.is_none() {
            file.begin()?;
            open_since = Some(Instant::now());
        }
        insert(file, &batch)?;
        done_bytes += bytes as i64;
        step.set(done_bytes as u64);
        if open_since.is_some_and(|t| t.elapsed() >= COMMIT_INTERVAL) {
            file.commit()?;
            open_since = None;
        }
    }
    if open_since.is_some() {
        file.commit()?;
    }
    Ok(done_bytes)
}
