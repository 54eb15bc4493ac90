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
use uuid::Uuid;

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
    let per_batch = store.batch().max(1);
    // A batch holds at most a share of the budget, so that `jobs` batches can be in flight.
    let batch_bytes = (buffer / (2 * jobs.max(1) as u64)).max(1);
    let batches = pages
        .map_ok(|page| {
            futures::stream::iter(
                batches(page, per_batch, batch_bytes)
                    .into_iter()
                    .map(Ok::<_, Error>),
            )
        })
        .try_flatten()
        .take_until(interrupt.cancelled());

    let mut fetched = (0u64, 0u64);
    let mut results = std::pin::pin!(batches
        .map_ok(|batch| fetch_batch(
            store.as_ref(),
            organization_id,
            batch,
            budget.clone(),
            buffer
        ))
        .try_buffer_unordered(jobs.max(1)));
    while let Some(item) = results.next().await {
        for (block, data, permit) in item? {
            fetched.0 += 1;
            fetched.1 += data.len() as u64;
            tx.send(Message::Block {
                sequential_id: block.sequential_id,
                data,
                permit,
            })
            .map_err(|_| Error::Internal("the export file writer stopped".into()))?;
        }
    }
    Ok(fetched)
}

/// Cuts a page of missing blocks into batches of at most `count` blocks and about `bytes`
/// bytes (a block larger than that is a batch of its own).
fn batches(page: Vec<MissingBlock>, count: usize, bytes: u64) -> Vec<Vec<MissingBlock>> {
    let mut out: Vec<Vec<MissingBlock>> = Vec::new();
    let mut size = 0u64;
    for block in page {
        let block_size = u64::try_from(block.size).unwrap_or(0);
        match out.last_mut() {
            Some(last) if last.len() < count && size + block_size <= bytes => {
                size += block_size;
                last.push(block);
            }
            _ => {
                size = block_size;
                out.push(vec![block]);
            }
        }
    }
    out
}

/// Reserves the batch's bytes, reads it, and checks each block's size. Each block comes back
/// with its own share of the reservation, freed when the writer has inserted it.
async fn fetch_batch(
    store: &dyn BlockStore,
    organization_id: &str,
    batch: Vec<MissingBlock>,
    budget: Arc<Semaphore>,
    buffer: u64,
) -> Result<Vec<(MissingBlock, Vec<u8>, OwnedSemaphorePermit)>> {
    // A block larger than the whole budget takes all of it: one at a time.
    let shares: Vec<u32> = batch
        .iter()
        .map(|b| u64::try_from(b.size).unwrap_or(0).clamp(1, buffer) as u32)
        .collect();
    let total = shares
        .iter()
        .map(|s| u64::from(*s))
        .sum::<u64>()
        .min(buffer) as u32;
    let permit = budget
        .acquire_many_owned(total)
        .await
        .map_err(|_| Error::Internal("memory budget closed".into()))?;
    let ids: Vec<Uuid> = batch.iter().map(|b| b.block_id).collect();
    let results = store.read_many(organization_id, &ids).await;
    if results.len() != batch.len() {
        return Err(Error::Internal(format!(
            "{} answered {} results for {} blocks",
            store.describe(),
            results.len(),
            batch.len()
        )));
    }
    let last = batch.len().saturating_sub(1);
    let mut rest = Some(permit);
    let mut out = Vec::with_capacity(batch.len());
    for (i, ((block, result), share)) in batch.into_iter().zip(results).zip(shares).enumerate() {
        let data = result.map_err(|e| match e {
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
        // The last block keeps what is left (the total was capped at the budget).
        let own = if i == last {
            rest.take()
        } else {
            rest.as_mut()
                .and_then(|p| p.split((share as usize).min(p.num_permits())))
        };
        let own = own.ok_or_else(|| Error::Internal("memory budget split".into()))?;
        out.push((block, data, own));
    }
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn page(sizes: &[i64]) -> Vec<MissingBlock> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, size)| MissingBlock {
                sequential_id: i as i64 + 1,
                block_id: Uuid::from_u128(i as u128 + 1),
                size: *size,
            })
            .collect()
    }

    fn shape(batches: &[Vec<MissingBlock>]) -> Vec<Vec<i64>> {
        batches
            .iter()
            .map(|b| b.iter().map(|m| m.sequential_id).collect())
            .collect()
    }

    #[test]
    fn batches_keep_order_and_respect_count_and_bytes() {
        // Count bound: 3 per batch.
        let cut = batches(page(&[1, 1, 1, 1, 1, 1, 1]), 3, 100);
        assert_eq!(shape(&cut), vec![vec![1, 2, 3], vec![4, 5, 6], vec![7]]);
        // Byte bound: 10 bytes per batch; a block larger than that goes alone.
        let cut = batches(page(&[4, 4, 4, 30, 2, 9, 1]), 64, 10);
        assert_eq!(
            shape(&cut),
            vec![vec![1, 2], vec![3], vec![4], vec![5], vec![6, 7]]
        );
        // One per batch (object stores): every block alone.
        let cut = batches(page(&[5, 5, 5]), 1, 1 << 20);
        assert_eq!(shape(&cut), vec![vec![1], vec![2], vec![3]]);
        assert!(batches(Vec::new(), 8, 10).is_empty());
    }
}
