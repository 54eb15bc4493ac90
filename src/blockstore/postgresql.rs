//! The POSTGRESQL blockstore: block bytes in the `block_data` table of Parsec's database.

use std::sync::atomic::{AtomicUsize, Ordering};

use futures::future::BoxFuture;
use tokio_postgres::{Client, Statement};
use uuid::Uuid;

use super::{BlockStore, ReadResult, StoreError};
use crate::db::{describe_pg_error, queries, DbTarget};
use crate::error::{Error, Result};

/// A few connections used round-robin; tokio-postgres pipelines the concurrent queries
/// sent on each of them.
pub struct PostgresqlBlockStore {
    connections: Vec<(Client, Statement)>,
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
            out.push((client, statement));
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
            let (client, statement) = &self.connections[i];
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

    fn check<'a>(&'a self, _organization_id: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        // Connecting and preparing the query already proved the table is there.
        Box::pin(async { Ok(()) })
    }
}
