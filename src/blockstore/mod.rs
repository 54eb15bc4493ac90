//! Where block data lives. Each store implements one small trait (`BlockStore`); RAID and
//! retries are wrappers around that trait, not special cases inside a store.

mod config;
pub mod health;
mod postgresql;
pub mod raid;
mod retry;
mod s3;
mod swift;
pub mod trust;

pub use config::{
    parse_blockstore_configs, BlockstoreConfig, RaidMode, S3Config, SingleStore, SwiftConfig,
};
pub use health::{Health, HealthReport, NodeReport};
pub use postgresql::PostgresqlBlockStore;
pub use retry::{RetryPolicy, Retrying};
pub use s3::S3BlockStore;
pub use swift::SwiftBlockStore;

use std::sync::Arc;

use futures::future::BoxFuture;
use uuid::Uuid;

use crate::db::DbTarget;
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The store answered: it does not have this block.
    NotFound,
    /// The store could not answer (connection, timeout, 5xx, body cut…): worth retrying.
    Unavailable(String),
}

impl StoreError {
    pub fn unavailable(reason: impl std::fmt::Display) -> Self {
        StoreError::Unavailable(reason.to_string())
    }
}

pub type ReadResult = std::result::Result<Vec<u8>, StoreError>;

pub trait BlockStore: Send + Sync {
    /// Where the store is, for messages; never contains credentials.
    fn describe(&self) -> String;

    /// Reads one block (object `<organization_id>/<block uuid>` on object stores).
    fn read<'a>(&'a self, organization_id: &'a str, block_id: Uuid) -> BoxFuture<'a, ReadResult>;

    /// How many blocks one `read_many` is worth asking for: 1 where every block is its own
    /// request (object stores), more where one request fetches many (PostgreSQL, whose
    /// per-query cost dominated realms of small blocks).
    fn batch(&self) -> usize {
        1
    }

    /// Reads several blocks, results in the order of `block_ids`. By default one `read` each.
    fn read_many<'a>(
        &'a self,
        organization_id: &'a str,
        block_ids: &'a [Uuid],
    ) -> BoxFuture<'a, Vec<ReadResult>> {
        Box::pin(futures::future::join_all(
            block_ids.iter().map(|id| self.read(organization_id, *id)),
        ))
    }

    /// Checks at start-up that the store answers and the bucket/container exists, so that a
    /// wrong configuration fails at once rather than on the first block.
    fn check<'a>(
        &'a self,
        organization_id: &'a str,
    ) -> BoxFuture<'a, std::result::Result<(), StoreError>>;
}

/// Object name shared by S3 and Swift (reference §5.2).
pub fn object_name(organization_id: &str, block_id: Uuid) -> String {
    format!("{organization_id}/{}", block_id.hyphenated())
}

/// Builds the store described by the `--blockstore` values, checks it answers, and wraps
/// it with retries. The `Health` returned counts what every node and the retries went
/// through (see health.rs).
pub async fn open(
    config: &BlockstoreConfig,
    db: &DbTarget,
    db_connections: usize,
    retry: RetryPolicy,
    organization_id: &str,
) -> Result<(Arc<dyn BlockStore>, Arc<Health>)> {
    let (store, health): (Arc<dyn BlockStore>, _) = match config {
        BlockstoreConfig::Single(single) => {
            let node = open_single(single, db, db_connections).await?;
            let health = Health::new("", std::slice::from_ref(&node), node.describe());
            let mut counted = health.counted(vec![node]);
            (counted.remove(0), health)
        }
        BlockstoreConfig::Raid(mode, nodes) => {
            let mut opened = Vec::with_capacity(nodes.len());
            for node in nodes {
                opened.push(open_single(node, db, db_connections).await?);
            }
            let array = format!("{mode:?}").to_ascii_uppercase();
            let store = format!("{array} of {} nodes", opened.len());
            let health = Health::new(&array, &opened, store);
            let counted = health.counted(opened);
            (raid::build(*mode, counted, health.clone()), health)
        }
    };
    // A RAID1/RAID5 array is usable with one node down: only the array as a whole is checked.
    store.check(organization_id).await.map_err(|e| match e {
        StoreError::NotFound => Error::BlockstoreUnavailable {
            store: store.describe(),
            reason: "the bucket or container does not exist".into(),
        },
        StoreError::Unavailable(reason) => Error::BlockstoreUnavailable {
            store: store.describe(),
            reason,
        },
    })?;
    let retrying = Retrying::new(store, retry).counted(health.clone());
    Ok((Arc::new(retrying), health))
}

async fn open_single(
    single: &SingleStore,
    db: &DbTarget,
    db_connections: usize,
) -> Result<Arc<dyn BlockStore>> {
    Ok(match single {
        SingleStore::Postgresql => {
            Arc::new(PostgresqlBlockStore::connect(db, db_connections).await?)
        }
        SingleStore::S3(c) => Arc::new(S3BlockStore::new(c)?),
        SingleStore::Swift(c) => Arc::new(SwiftBlockStore::new(c)?),
    })
}
