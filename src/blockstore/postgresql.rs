//! The POSTGRESQL blockstore: block bytes in the `block_data` table of Parsec's database.
//!
//! One query per block costs more than the bytes when blocks are small (100 000 blocks of
//! 4–16 KiB: twice the time of reading them in one COPY). Concurrent reads are therefore
//! gathered: whatever reads are waiting when a connection is free go out as one query, so a
//! lone read is not delayed and many reads share a round trip.

use std::collections::HashMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use tokio::sync::{mpsc, oneshot, Mutex};
use tokio_postgres::{Client, Statement};
use uuid::Uuid;

use super::{BlockStore, ReadResult, StoreError};
use crate::db::{describe_pg_error, queries, DbTarget};
use crate::error::{Error, Result};

/// Reads gathered into one query at most.
const MAX_BATCH: usize = 64;

struct Request {
    block_id: Uuid,
    reply: oneshot::Sender<ReadResult>,
}

pub struct PostgresqlBlockStore {
    /// Per organization (an export reads one): its queue of waiting reads.
    queues: std::sync::Mutex<HashMap<String, mpsc::UnboundedSender<Request>>>,
    connections: Arc<Vec<(Client, Statement)>>,
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
            queues: std::sync::Mutex::new(HashMap::new()),
            connections: Arc::new(out),
            target: format!("POSTGRESQL ({db})"),
        })
    }

    fn queue(&self, organization_id: &str) -> mpsc::UnboundedSender<Request> {
        let mut queues = self
            .queues
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        queues
            .entry(organization_id.to_owned())
            .or_insert_with(|| {
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(serve(
                    organization_id.to_owned(),
                    Arc::clone(&self.connections),
                    rx,
                ));
                tx
            })
            .clone()
    }
}

/// One worker per connection takes every read waiting (up to `MAX_BATCH`) and answers them
/// with one query; it ends when the store is dropped.
async fn serve(
    organization_id: String,
    connections: Arc<Vec<(Client, Statement)>>,
    rx: mpsc::UnboundedReceiver<Request>,
) {
    let rx = Arc::new(Mutex::new(rx));
    let workers = (0..connections.len()).map(|i| {
        let rx = Arc::clone(&rx);
        let connections = Arc::clone(&connections);
        let organization_id = organization_id.clone();
        async move {
            let (client, statement) = &connections[i];
            loop {
                let batch = {
                    let mut rx = rx.lock().await;
                    let Some(first) = rx.recv().await else {
                        return;
                    };
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match rx.try_recv() {
                            Ok(request) => batch.push(request),
                            Err(_) => break,
                        }
                    }
                    batch
                };
                answer(client, statement, &organization_id, batch).await;
            }
        }
    });
    futures::future::join_all(workers).await;
}

async fn answer(
    client: &Client,
    statement: &Statement,
    organization_id: &str,
    batch: Vec<Request>,
) {
    let ids: Vec<Uuid> = batch.iter().map(|r| r.block_id).collect();
    let rows = client.query(statement, &[&organization_id, &ids]).await;
    let mut found: HashMap<Uuid, Vec<u8>> = HashMap::new();
    let failure = match rows {
        Ok(rows) => {
            let mut failure = None;
            for row in rows {
                match (row.try_get::<_, Uuid>(0), row.try_get::<_, Vec<u8>>(1)) {
                    (Ok(id), Ok(data)) => {
                        found.insert(id, data);
                    }
                    (Err(e), _) | (_, Err(e)) => failure = Some(describe_pg_error(&e)),
                }
            }
            failure
        }
        Err(e) => Some(describe_pg_error(&e)),
    };
    let mut wanted: HashMap<Uuid, usize> = HashMap::new();
    for id in &ids {
        *wanted.entry(*id).or_default() += 1;
    }
    for request in batch {
        let result = match &failure {
            Some(reason) => Err(StoreError::Unavailable(reason.clone())),
            None => {
                // The same block asked twice in one batch: a copy for all but the last.
                let left = wanted.get_mut(&request.block_id).map(|n| {
                    *n -= 1;
                    *n
                });
                match left {
                    Some(0) => found.remove(&request.block_id),
                    _ => found.get(&request.block_id).cloned(),
                }
                .ok_or(StoreError::NotFound)
            }
        };
        // A read whose caller gave up (timeout, interruption) has no one to answer.
        let _ = request.reply.send(result);
    }
}

impl BlockStore for PostgresqlBlockStore {
    fn describe(&self) -> String {
        self.target.clone()
    }

    fn read<'a>(&'a self, organization_id: &'a str, block_id: Uuid) -> BoxFuture<'a, ReadResult> {
        Box::pin(async move {
            let (reply, answer) = oneshot::channel();
            self.queue(organization_id)
                .send(Request { block_id, reply })
                .map_err(|_| StoreError::unavailable("the block reader stopped"))?;
            answer
                .await
                .map_err(|_| StoreError::unavailable("the block reader stopped"))?
        })
    }

    fn check<'a>(&'a self, _organization_id: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        // Connecting and preparing the query already proved the table is there.
        Box::pin(async { Ok(()) })
    }
}
