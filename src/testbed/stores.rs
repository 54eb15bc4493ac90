//! Puts generated blocks into S3 stores laid out as Parsec's server writes them: one store,
//! or RAID0 / RAID1 / RAID5 arrays of S3 nodes (PostgreSQL blocks go through `block_data`).

use anyhow::{bail, Context, Result};
use uuid::Uuid;

use crate::blockstore::raid::{raid0_node, raid5_chunks};
use crate::blockstore::{
    object_name, BlockstoreConfig, RaidMode, RetryPolicy, S3BlockStore, SingleStore, StoreError,
};

pub struct BlockUploader {
    mode: Option<RaidMode>,
    nodes: Vec<S3BlockStore>,
}

impl BlockUploader {
    /// None for the POSTGRESQL blockstore (blocks go to `block_data`).
    pub fn for_config(config: &BlockstoreConfig) -> Result<Option<Self>> {
        let (mode, nodes) = match config {
            BlockstoreConfig::Single(SingleStore::Postgresql) => return Ok(None),
            BlockstoreConfig::Single(single) => (None, std::slice::from_ref(single)),
            BlockstoreConfig::Raid(mode, nodes) => (Some(*mode), nodes.as_slice()),
        };
        let nodes = nodes
            .iter()
            .map(|node| match node {
                SingleStore::S3(c) => S3BlockStore::new(c).map_err(|e| anyhow::anyhow!("{e}")),
                other => bail!("testbed can fill S3 stores only, not {other}"),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(BlockUploader { mode, nodes }))
    }

    pub async fn put(&self, organization_id: &str, block_id: Uuid, data: &[u8]) -> Result<()> {
        let name = object_name(organization_id, block_id);
        let put = |node: usize, bytes: Vec<u8>| {
            let name = name.clone();
            async move {
                // A store that just started (or is busy) may refuse for a moment: retry with
                // the export's own backoff; a store that stays down still fails.
                let policy = RetryPolicy::default();
                let mut attempt = 0;
                loop {
                    match self.nodes[node].put(&name, bytes.clone()).await {
                        Ok(()) => return Ok(()),
                        Err(StoreError::Unavailable(_)) if attempt < 5 => {
                            tokio::time::sleep(policy.backoff(attempt)).await;
                            attempt += 1;
                        }
                        Err(e) => {
                            return Err(anyhow::anyhow!("{e:?}")).with_context(|| {
                                format!("uploading block {block_id} to node {node}")
                            })
                        }
                    }
                }
            }
        };
        match self.mode {
            None => put(0, data.to_vec()).await,
            Some(RaidMode::Raid0) => {
                put(raid0_node(block_id, self.nodes.len()), data.to_vec()).await
            }
            Some(RaidMode::Raid1) => {
                for node in 0..self.nodes.len() {
                    put(node, data.to_vec()).await?;
                }
                Ok(())
            }
            Some(RaidMode::Raid5) => {
                for (node, chunk) in raid5_chunks(data, self.nodes.len() - 1)
                    .into_iter()
                    .enumerate()
                {
                    put(node, chunk).await?;
                }
                Ok(())
            }
        }
    }
}

/// A `populate_with_sink` sink that uploads each block as it is generated (the generator
/// calls sinks synchronously, from inside the runtime).
pub fn upload_sink<'a>(
    uploader: &'a BlockUploader,
    organization_id: &'a str,
) -> impl FnMut(Uuid, &[u8]) -> Result<()> + Send + 'a {
    move |block_id, data| {
        let handle = tokio::runtime::Handle::current();
        tokio::task::block_in_place(|| {
            handle.block_on(uploader.put(organization_id, block_id, data))
        })
    }
}
