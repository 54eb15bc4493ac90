//! RAID0, RAID1 and RAID5 arrays of stores, laid out as Parsec's server writes them
//! (reference §5.6–5.8). Each array is a `BlockStore` wrapping its nodes.

use std::sync::Arc;

use futures::future::{join_all, BoxFuture};
use futures::stream::{FuturesUnordered, StreamExt};
use uuid::Uuid;

use super::health::Health;
use super::{BlockStore, RaidMode, ReadResult, StoreError};

/// The array over `nodes`, which `health` already counts (see `Health::counted`); the array
/// records what it worked around (rebuilds, fail-overs) into the same `health`.
pub fn build(
    mode: RaidMode,
    nodes: Vec<Arc<dyn BlockStore>>,
    health: Arc<Health>,
) -> Arc<dyn BlockStore> {
    match mode {
        RaidMode::Raid0 => Arc::new(Raid0 { nodes }),
        RaidMode::Raid1 => Arc::new(Raid1 { nodes, health }),
        RaidMode::Raid5 => Arc::new(Raid5 { nodes, health }),
    }
}

/// RAID0: the node is the block ID read as a big-endian 128-bit integer, modulo the nodes.
pub fn raid0_node(block_id: Uuid, nodes: usize) -> usize {
    (block_id.as_u128() % nodes.max(1) as u128) as usize
}

/// RAID5 layout for `data_nodes` (= nodes − 1) data chunks: the payload is a 4-byte
/// big-endian length, the block, then zero padding to `data_nodes` chunks of equal length;
/// the parity (byte-wise XOR of the chunks) goes on the last node. Returns the chunks of
/// every node, parity last.
pub fn raid5_chunks(block: &[u8], data_nodes: usize) -> Vec<Vec<u8>> {
    let k = data_nodes.max(1);
    let len = u32::try_from(block.len()).unwrap_or(u32::MAX);
    let chunk_len = (block.len() + 4).div_ceil(k);
    let mut payload = Vec::with_capacity(chunk_len * k);
    payload.extend_from_slice(&len.to_be_bytes());
    payload.extend_from_slice(block);
    payload.resize(chunk_len * k, 0);
    let mut chunks: Vec<Vec<u8>> = payload
        .chunks(chunk_len.max(1))
        .map(<[u8]>::to_vec)
        .collect();
    chunks.resize(k, vec![0; chunk_len]);
    let parity = xor_all(chunks.iter().map(Vec::as_slice), chunk_len);
    chunks.push(parity);
    chunks
}

fn xor_all<'a>(chunks: impl Iterator<Item = &'a [u8]>, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    for chunk in chunks {
        for (o, b) in out.iter_mut().zip(chunk) {
            *o ^= b;
        }
    }
    out
}

/// Inverse of `raid5_chunks` given the data chunks (in order).
fn raid5_join(chunks: &[Vec<u8>]) -> ReadResult {
    let payload: Vec<u8> = chunks.concat();
    let Some(header) = payload.get(..4) else {
        return Err(StoreError::Unavailable(
            "RAID5 chunks too short to hold a length".into(),
        ));
    };
    let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
    payload.get(4..4 + len).map(<[u8]>::to_vec).ok_or_else(|| {
        StoreError::Unavailable(format!(
            "RAID5 length {len} exceeds the chunks ({} bytes)",
            payload.len()
        ))
    })
}

fn describe_nodes(kind: &str, nodes: &[Arc<dyn BlockStore>]) -> String {
    let list: Vec<String> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| format!("node {i}: {}", n.describe()))
        .collect();
    format!("{kind} [{}]", list.join("; "))
}

/// Checks every node; RAID1 and RAID5 tolerate one failing node.
async fn check_nodes(
    nodes: &[Arc<dyn BlockStore>],
    organization_id: &str,
    tolerated: usize,
) -> Result<(), StoreError> {
    let results = join_all(nodes.iter().map(|n| n.check(organization_id))).await;
    let failures: Vec<String> = results
        .iter()
        .enumerate()
        .filter_map(|(i, r)| match r {
            Ok(()) => None,
            Err(StoreError::NotFound) => Some(format!("node {i}: not found")),
            Err(StoreError::Unavailable(why)) => Some(format!("node {i}: {why}")),
        })
        .collect();
    if failures.len() > tolerated {
        return Err(StoreError::Unavailable(failures.join("; ")));
    }
    for f in &failures {
        tracing::warn!("RAID node unavailable at start-up ({f}); continuing degraded");
    }
    Ok(())
}

pub struct Raid0 {
    nodes: Vec<Arc<dyn BlockStore>>,
}

impl BlockStore for Raid0 {
    fn describe(&self) -> String {
        describe_nodes("RAID0", &self.nodes)
    }

    fn read<'a>(&'a self, organization_id: &'a str, block_id: Uuid) -> BoxFuture<'a, ReadResult> {
        let node = &self.nodes[raid0_node(block_id, self.nodes.len())];
        node.read(organization_id, block_id)
    }

    fn check<'a>(&'a self, organization_id: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(check_nodes(&self.nodes, organization_id, 0))
    }
}

pub struct Raid1 {
    nodes: Vec<Arc<dyn BlockStore>>,
    health: Arc<Health>,
}

impl BlockStore for Raid1 {
    fn describe(&self) -> String {
        describe_nodes("RAID1", &self.nodes)
    }

    /// All mirrors are asked at once; the first with the data wins. "Not found" only when
    /// every node says so. A mirror that failed before the winner answered counts as failed
    /// over (one still running when the winner answers is cancelled, not counted).
    fn read<'a>(&'a self, organization_id: &'a str, block_id: Uuid) -> BoxFuture<'a, ReadResult> {
        Box::pin(async move {
            let mut reads: FuturesUnordered<_> = self
                .nodes
                .iter()
                .enumerate()
                .map(|(i, n)| async move { (i, n.read(organization_id, block_id).await) })
                .collect();
            let mut errors = Vec::new();
            let mut failed = Vec::new();
            while let Some((i, result)) = reads.next().await {
                match result {
                    // Dropping `reads` cancels the slower mirrors.
                    Ok(data) => {
                        for f in failed {
                            self.health.failed_over(f);
                        }
                        return Ok(data);
                    }
                    Err(e) => {
                        errors.push(e);
                        failed.push(i);
                    }
                }
            }
            combine_failures(errors)
        })
    }

    fn check<'a>(&'a self, organization_id: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(check_nodes(
            &self.nodes,
            organization_id,
            self.nodes.len().saturating_sub(1),
        ))
    }
}

/// Several nodes failed: "not found" if they all said so (the block is missing from the
/// array), else "unavailable" with every reason.
fn combine_failures(errors: Vec<StoreError>) -> ReadResult {
    if !errors.is_empty() && errors.iter().all(|e| *e == StoreError::NotFound) {
        return Err(StoreError::NotFound);
    }
    let reasons: Vec<String> = errors
        .iter()
        .map(|e| match e {
            StoreError::NotFound => "not found".to_owned(),
            StoreError::Unavailable(r) => r.clone(),
        })
        .collect();
    Err(StoreError::Unavailable(reasons.join("; ")))
}

pub struct Raid5 {
    nodes: Vec<Arc<dyn BlockStore>>,
    health: Arc<Health>,
}

impl BlockStore for Raid5 {
    fn describe(&self) -> String {
        describe_nodes("RAID5", &self.nodes)
    }

    /// Reads the data chunks and the parity at once; with one data chunk missing, rebuilds it
    /// from the others and the parity (Parsec's own degraded read fails on an assertion; this
    /// one is tested). The parity is read even when not needed, so that a parity node losing
    /// data is reported before a second failure makes blocks unrecoverable.
    fn read<'a>(&'a self, organization_id: &'a str, block_id: Uuid) -> BoxFuture<'a, ReadResult> {
        Box::pin(async move {
            let k = self.nodes.len() - 1;
            let mut results =
                join_all(self.nodes.iter().map(|n| n.read(organization_id, block_id))).await;
            let parity_result = results.pop().unwrap_or(Err(StoreError::NotFound));
            let mut chunks = Vec::with_capacity(k);
            let mut failed = Vec::new();
            for (i, r) in results.into_iter().enumerate() {
                match r {
                    Ok(c) => chunks.push(Some(c)),
                    Err(e) => {
                        chunks.push(None);
                        failed.push((i, e));
                    }
                }
            }
            match failed.len() {
                0 => {
                    if parity_result.is_err() {
                        self.health.parity_lost(k);
                    }
                    raid5_join(&chunks.into_iter().flatten().collect::<Vec<_>>())
                }
                1 => {
                    let (missing, first_error) = failed.remove(0);
                    let parity = match parity_result {
                        Ok(p) => p,
                        Err(e) => return combine_failures(vec![first_error, e]),
                    };
                    let len = parity.len();
                    if chunks.iter().flatten().any(|c| c.len() != len) {
                        return Err(StoreError::Unavailable(
                            "RAID5 chunks of different lengths".into(),
                        ));
                    }
                    let rebuilt = xor_all(
                        chunks
                            .iter()
                            .flatten()
                            .map(Vec::as_slice)
                            .chain([parity.as_slice()]),
                        len,
                    );
                    tracing::debug!("block {block_id}: RAID5 chunk {missing} rebuilt from parity");
                    self.health.rebuilt(missing);
                    chunks[missing] = Some(rebuilt);
                    raid5_join(&chunks.into_iter().flatten().collect::<Vec<_>>())
                }
                _ => combine_failures(failed.into_iter().map(|(_, e)| e).collect()),
            }
        })
    }

    fn check<'a>(&'a self, organization_id: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(check_nodes(&self.nodes, organization_id, 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raid0_node_is_the_uuid_integer_modulo_nodes() {
        let id = Uuid::from_u128(10);
        assert_eq!(raid0_node(id, 3), 1);
        assert_eq!(raid0_node(Uuid::from_u128(u128::MAX), 4), 3);
    }

    #[test]
    fn raid5_layout_round_trips_and_rebuilds_any_chunk() {
        for (len, k) in [
            (0usize, 2usize),
            (1, 2),
            (48, 2),
            (1000, 3),
            (4096, 4),
            (7, 5),
        ] {
            let block: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let chunks = raid5_chunks(&block, k);
            assert_eq!(chunks.len(), k + 1);
            let l = chunks[0].len();
            assert_eq!(l, (len + 4).div_ceil(k));
            assert!(chunks.iter().all(|c| c.len() == l));
            assert_eq!(raid5_join(&chunks[..k]).unwrap(), block);
            for missing in 0..k {
                let others = chunks
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != missing)
                    .map(|(_, c)| c.as_slice());
                assert_eq!(
                    xor_all(others, l),
                    chunks[missing],
                    "len {len} k {k} chunk {missing}"
                );
            }
        }
        // The length prefix is big-endian.
        assert_eq!(&raid5_chunks(&[9; 300], 2)[0][..4], &[0, 0, 1, 44]);
    }
}
