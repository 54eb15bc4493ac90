//! Step 4: block data. Blocks are read concurrently from the store and written by a single
//! writer thread. Memory is bounded by a byte budget: a read reserves its block's size
//! before it starts and the reservation is released once the writer has handed the block to
//! SQLite (whose page cache is bounded on its own), so data in flight or queued for the writer
//! never exceeds `buffer_bytes`. Commits are sized separately (`commit_bytes`, or every
//! second): each one costs several fsyncs, and 16 MiB commits spent about a third of the
//! step's wall time in fsync on the benchmark realm.

use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

use super::Interrupt;
use crate::blockstore::{BlockStore, StoreError};
use crate::error::{Error, Result};
use crate::format::{ExportFile, MissingBlock};
use crate::progress::Step;

#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    /// Concurrent reads.
    pub jobs: usize,
    /// Bytes of block data held in memory at most (in flight + queued for the writer).
    pub buffer_bytes: u64,
    /// Commit once this many bytes were written since the last commit (or every second).
    pub commit_bytes: u64,
}

/// How many missing blocks the writer hands out per request.
const PAGE: usize = 2_000;
/// Also commit at least this often, so an interruption loses little.
const COMMIT_INTERVAL: Duration = Duration::from_secs(1);

enum Message {
    NextPage {
        after: i64,
        reply: oneshot::Sender<Result<Vec<MissingBlock>>>,
    },
    Block {
        sequential_id: i64,
        data: Vec<u8>,
        permit: OwnedSemaphorePermit,
    },
}

/// Fetches every block of the file that lacks data. Returns the file back, with the number
/// of blocks and bytes fetched by this run.
pub async fn export(
    file: ExportFile,
    store: Arc<dyn BlockStore>,
    organization_id: &str,
    tuning: Tuning,
    step: &Step,
    interrupt: &Interrupt,
) -> (ExportFile, Result<(u64, u64)>) {
    let ((_, done_bytes), _) = match tokio::task::block_in_place(|| file.blocks_data_progress()) {
        Ok(v) => v,
        Err(e) => return (file, Err(e)),
    };
    step.set(done_bytes as u64);

    let buffer = tuning.buffer_bytes.clamp(1, u64::from(u32::MAX));
    let commit_bytes = tuning.commit_bytes.max(1);
    let (tx, rx) = mpsc::channel::<Message>();
    let writer_step = step.clone();
    let writer = std::thread::spawn(move || {
        writer_loop(file, rx, commit_bytes, done_bytes as u64, writer_step)
    });

    let budget = Arc::new(Semaphore::new(buffer as usize));
    let result = fetch_all(
        &tx,
        &store,
        organization_id,
        tuning.jobs,
        &budget,
        buffer,
        interrupt,
    )
    .await;
    drop(tx);
    let (file, written) = match writer.join() {
        Ok(v) => v,
        Err(_) => {
            // The writer thread owns the file; if it panicked we cannot hand it back.
            std::process::abort();
        }
    };
    let result = match (result, written) {
        (Err(e), _) => Err(e),
        (Ok(_), Err(e)) => Err(e),
        (Ok(fetched), Ok(())) => {
            if interrupt.is_set() {
                Err(interrupt.error())
            } else {
                Ok(fetched)
            }
        }
    };
    (file, result)
}

async fn fetch_all(
    tx: &mpsc::Sender<Message>,
    store: &Arc<dyn BlockStore>,
    organization_id: &str,
    jobs: usize,
    budget: &Arc<Semaphore>,
    buffer: u64,
    interrupt: &Interrupt,
) -> Result<(u64, u64)> {
    let pages = futures::stream::try_unfold(0i64, |after| {
        let tx = tx.clone();
        async move {
            let (reply, answer) = oneshot::channel();
            tx.send(Message::NextPage { after, reply })
                .map_err(|_| Error::Internal("the export file writer stopped".into()))?;
            let page = answer
                .await
                .map_err(|_| Error::Internal("the export file writer stopped".into()))??;
            Ok::<_, Error>(
                page.last()
                    .map(|b| b.sequential_id)
                    .map(|last| (page, last)),
            )
        }
    });
    let blocks = pages
        .map_ok(|page| futures::stream::iter(page.into_iter().map(Ok::<_, Error>)))
        .try_flatten()
        .take_until(interrupt.cancelled());

    let mut fetched = (0u64, 0u64);
    let mut results = std::pin::pin!(blocks
        .map_ok(|block| fetch_one(
            store.as_ref(),
            organization_id,
            block,
            budget.clone(),
            buffer
        ))
        .try_buffer_unordered(jobs.max(1)));
    while let Some(item) = results.next().await {
        let (block, data, permit) = item?;
        fetched.0 += 1;
        fetched.1 += data.len() as u64;
        tx.send(Message::Block {
            sequential_id: block.sequential_id,
            data,
            permit,
        })
        .map_err(|_| Error::Internal("the export file writer stopped".into()))?;
    }
    Ok(fetched)
}

async fn fetch_one(
    store: &dyn BlockStore,
    organization_id: &str,
    block: MissingBlock,
    budget: Arc<Semaphore>,
    buffer: u64,
) -> Result<(MissingBlock, Vec<u8>, OwnedSemaphorePermit)> {
    // A block larger than the whole budget takes all of it: one at a time.
    let want = u64::try_from(block.size).unwrap_or(0).clamp(1, buffer) as u32;
    let permit = budget
        .acquire_many_owned(want)
        .await
        .map_err(|_| Error::Internal("memory budget closed".into()))?;
    let data = store
        .read(organization_id, block.block_id)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => Error::BlockMissing {
                block: block.block_id.hyphenated().to_string(),
                store: store.describe(),
            },
            StoreError::Unavailable(reason) => Error::BlockstoreUnavailable {
                store: store.describe(),
                reason: format!("reading block {}: {reason}", block.block_id.hyphenated()),
            },
        })?;
    if data.len() as i64 != block.size {
        return Err(Error::BlockSizeMismatch {
            block: block.block_id.hyphenated().to_string(),
            store: store.describe(),
            got: data.len(),
            expected: block.size,
        });
    }
    Ok((block, data, permit))
}

/// The single writer: answers page requests and stores blocks, committing every
/// `commit_bytes` or `COMMIT_INTERVAL`. A block's reservation is dropped once it is inserted.
fn writer_loop(
    file: ExportFile,
    rx: mpsc::Receiver<Message>,
    commit_bytes: u64,
    mut committed_bytes: u64,
    step: Step,
) -> (ExportFile, Result<()>) {
    let mut pending_bytes = 0u64;
    let mut since: Option<Instant> = None;
    let mut commit = |file: &ExportFile, pending_bytes: &mut u64| -> Result<()> {
        file.commit()?;
        committed_bytes += *pending_bytes;
        step.set(committed_bytes);
        *pending_bytes = 0;
        Ok(())
    };
    let result = (|| -> Result<()> {
        loop {
            let message = match since {
                Some(start) => {
                    let left = COMMIT_INTERVAL.saturating_sub(start.elapsed());
                    match rx.recv_timeout(left) {
                        Ok(m) => Some(m),
                        Err(mpsc::RecvTimeoutError::Timeout) => None,
                        Err(mpsc::RecvTimeoutError::Disconnected) => break,
                    }
                }
                None => match rx.recv() {
                    Ok(m) => Some(m),
                    Err(_) => break,
                },
            };
            match message {
                Some(Message::NextPage { after, reply }) => {
                    let _ = reply.send(file.missing_blocks_after(after, PAGE));
                }
                Some(Message::Block {
                    sequential_id,
                    data,
                    permit,
                }) => {
                    if since.is_none() {
                        file.begin()?;
                        since = Some(Instant::now());
                    }
                    file.insert_block_data(sequential_id, &data)?;
                    pending_bytes += data.len() as u64;
                    // The bytes are SQLite's now: free their share of the budget.
                    drop((data, permit));
                    if pending_bytes >= commit_bytes {
                        commit(&file, &mut pending_bytes)?;
                        since = None;
                    }
                }
                None => {}
            }
            if since.is_some_and(|s| s.elapsed() >= COMMIT_INTERVAL) {
                commit(&file, &mut pending_bytes)?;
                since = None;
            }
        }
        if since.is_some() {
            commit(&file, &mut pending_bytes)?;
        }
        Ok(())
    })();
    (file, result)
}
