//! The POSTGRESQL blockstore: block bytes in the `block_data` table of Parsec's database.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::future::BoxFuture;
use tokio_postgres::{Client, Statement};
use uuid::Uuid;

use super::{BlockStore, ReadResult, StoreError};
use crate::db::{describe_pg_error, queries, DbTarget};
use crate::error::{Error, Result};

/// Blocks per query in `read_many`: one query per block cost the server more CPU than
/// sending the data (100 000 blocks of 4–16 KiB).
const BATCH: usize = 16;

/// A few connections used round-robin; tokio-postgres pipelines the concurrent queries
/// sent on each of them.
pub struct PostgresqlBlockStore {
    /// Per connection: the one-block query and the many-blocks query.
    connections: Vec<(Client, Statement, Statement)>,
    next: AtomicUsize,
    target: String,
}

impl PostgresqlBlockStore {
    pub async fn connect(db: &DbTarget, connections: usize) -> Result<Self> {
        let mut out = Vec::with_capacity(connections.max(1));
        for _ in 0..connections.max(1) {
            let client = db.connect().await?;
            let statement = client
                .prepare(queries::BLOCK_DATA)
                .await
                .map_err(|e| Error::db("preparing the block data query", e))?;
            let many = client
                .prepare(queries::BLOCKS_DATA)
                .await
                .map_err(|e| Error::db("preparing the block data query", e))?;
            out.push((client, statement, many));
        }
        Ok(PostgresqlBlockStore {
            connections: out,
            next: AtomicUsize::new(0),
            target: format!("POSTGRESQL ({db})"),
        })
    }
}

impl BlockStore for PostgresqlBlockStore {
    fn describe(&self) -> String {
        self.target.clone()
    }

    fn read<'a>(&'a self, organization_id: &'a str, block_id: Uuid) -> BoxFuture<'a, ReadResult> {
        Box::pin(async move {
            let i = self.next.fetch_add(1, Ordering::Relaxed) % self.connections.len();
            let (client, statement, _) = &self.connections[i];
            let row = client
                .query_opt(statement, &[&organization_id, &block_id])
                .await
                .map_err(|e| StoreError::Unavailable(describe_pg_error(&e)))?;
            match row {
                Some(row) => row
                    .try_get::<_, Vec<u8>>(0)
                    .map_err(|e| StoreError::Unavailable(describe_pg_error(&e))),
                None => Err(StoreError::NotFound),
            }
        })
    }

    fn batch(&self) -> usize {
        BATCH
    }

    fn read_many<'a>(
        &'a self,
        organization_id: &'a str,
        block_ids: &'a [Uuid],
    ) -> BoxFuture<'a, Vec<ReadResult>> {
        Box::pin(async move {
            let i = self.next.fetch_add(1, Ordering::Relaxed) % self.connections.len();
            let (client, _, many) = &self.connections[i];
            let rows = match client.query(many, &[&organization_id, &block_ids]).await {
                Ok(rows) => rows,
                Err(e) => {
                    let e = StoreError::Unavailable(describe_pg_error(&e));
                    return vec![Err(e); block_ids.len()];
                }
            };
            let mut found: HashMap<Uuid, ReadResult> = HashMap::with_capacity(rows.len());
            for row in rows {
                let id = row.try_get::<_, Uuid>(0);
                let data = row.try_get::<_, Vec<u8>>(1);
                match (id, data) {
                    (Ok(id), data) => {
                        found.insert(
                            id,
                            data.map_err(|e| StoreError::Unavailable(describe_pg_error(&e))),
                        );
                    }
                    (Err(e), _) => {
                        let e = StoreError::Unavailable(describe_pg_error(&e));
                        return vec![Err(e); block_ids.len()];
                    }
                }
            }
            block_ids
                .iter()
                .map(|id| found.remove(id).unwrap_or(Err(StoreError::NotFound)))
                .collect()
        })
    }

    fn check<'a>(&'a self, _organization_id: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        // Connecting and preparing the query already proved the table is there.
        Box::pin(async { Ok(()) })
    }
}
