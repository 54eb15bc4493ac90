//! Block data of the file compared byte for byte with the blockstore.

use futures::StreamExt;
use rusqlite::types::ValueRef;
use rusqlite::Connection;
use uuid::Uuid;

use super::report::Tally;
use super::BlockSample;
use crate::blockstore::{BlockStore, StoreError};
use crate::error::Error;

/// (sequential_id, block ID) of the file's blocks that have data, all or a random sample.
pub fn blocks_to_compare(
    conn: &Connection,
    sample: BlockSample,
) -> rusqlite::Result<Vec<(i64, Uuid)>> {
    let sql = match sample {
        BlockSample::All => "SELECT b.sequential_id, b.block_id FROM block b JOIN block_data d ON d.block = b.sequential_id ORDER BY b.sequential_id".to_owned(),
        BlockSample::Random(n) => format!(
            "SELECT b.sequential_id, b.block_id FROM block b JOIN block_data d ON d.block = b.sequential_id ORDER BY random() LIMIT {n}"
        ),
    };
    // A block ID that is not 16 bytes is a file problem, reported by the file checks.
    let rows = conn
        .prepare(&sql)?
        .query_map([], |r| {
            let id = match r.get_ref(1)? {
                ValueRef::Blob(b) => Uuid::from_slice(b).ok(),
                _ => None,
            };
            Ok(id.map(|id| (r.get::<_, i64>(0), id)))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter()
        .flatten()
        .map(|(seq, id)| seq.map(|seq| (seq, id)))
        .collect()
}

/// Reads each block from the store and compares it byte for byte with the file's data, a
/// few `jobs` at a time (memory: at most `jobs` × 4 blocks from each side).
pub async fn compare_blocks(
    conn: &Connection,
    store: &dyn BlockStore,
    organization_id: &str,
    blocks: &[(i64, Uuid)],
    jobs: usize,
) -> std::result::Result<(i64, Tally), BlockError> {
    let mut mismatches = Tally::default();
    let mut compared = 0i64;
    let mut stmt = conn
        .prepare("SELECT data FROM block_data WHERE block = ?1")
        .map_err(BlockError::File)?;
    for chunk in blocks.chunks(jobs.max(1) * 4) {
        let mut file_data = Vec::with_capacity(chunk.len());
        for (seq, _) in chunk {
            // Data of the wrong type is a file problem; here it just compares unequal.
            let data = stmt
                .query_row([seq], |r| {
                    Ok(match r.get_ref(0)? {
                        ValueRef::Blob(b) | ValueRef::Text(b) => b.to_vec(),
                        _ => Vec::new(),
                    })
                })
                .map_err(BlockError::File)?;
            file_data.push(data);
        }
        let reads = futures::stream::iter(
            chunk
                .iter()
                .map(|(_, id)| async move { (*id, store.read(organization_id, *id).await) }),
        )
        .buffered(jobs.max(1))
        .collect::<Vec<_>>()
        .await;
        for (((seq, _), data), (id, read)) in chunk.iter().zip(file_data).zip(reads) {
            compared += 1;
            let block = format!("{} (sequential_id {seq})", id.simple());
            match read {
                Ok(stored) if stored == data => {}
                Ok(stored) if stored.len() != data.len() => mismatches.add(|| {
                    format!(
                        "{block}: {} bytes in the blockstore, {} in the file",
                        stored.len(),
                        data.len()
                    )
                }),
                Ok(_) => mismatches.add(|| format!("{block}: same length, different bytes")),
                Err(StoreError::NotFound) => {
                    mismatches.add(|| format!("{block}: missing from the blockstore"))
                }
                Err(StoreError::Unavailable(reason)) => {
                    return Err(BlockError::Store(Error::BlockstoreUnavailable {
                        store: store.describe(),
                        reason: format!("reading block {}: {reason}", id.hyphenated()),
                    }))
                }
            }
        }
    }
    Ok((compared, mismatches))
}

/// Reading a block failed on the file's side or the store's.
pub enum BlockError {
    File(rusqlite::Error),
    Store(Error),
}

impl BlockError {
    pub fn into_error(self, path: &std::path::Path) -> Error {
        match self {
            BlockError::File(e) => Error::VerifyInput {
                path: path.to_owned(),
                reason: format!("cannot read block data: {e}"),
            },
            BlockError::Store(e) => e,
        }
    }
}
