//! Where block data lives. Each store implements one small trait; behaviours such as retries
//! or RAID are layered as wrappers around it.

mod config;
mod postgresql;

pub use config::{parse_blockstore_configs, BlockstoreConfig};
pub use postgresql::PostgresqlBlockStore;

use futures::future::BoxFuture;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The store answered: it does not have this block.
    NotFound,
    /// The store could not answer (network, timeout, 5xx…): worth retrying.
    Unavailable(String),
}

pub trait BlockStore: Send + Sync {
    /// A description for messages; never contains credentials.
    fn describe(&self) -> String;

    fn read<'a>(
        &'a self,
        organization_id: &'a str,
        block_id: Uuid,
    ) -> BoxFuture<'a, Result<Vec<u8>, StoreError>>;
}

/// Builds the store described by the `--blockstore` values.
pub async fn open(
    configs: &[BlockstoreConfig],
    db: &crate::db::DbTarget,
    connections: usize,
) -> crate::error::Result<Box<dyn BlockStore>> {
    match configs {
        [BlockstoreConfig::Postgresql] => Ok(Box::new(
            PostgresqlBlockStore::connect(db, connections).await?,
        )),
        _ => Err(crate::error::Error::BlockstoreConfig(
            "internal: unsupported blockstore configuration reached open()".into(),
        )),
    }
}
