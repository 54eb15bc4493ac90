//! The block workers: each fetches a block row with its own read-only connection, and
//! decrypts and checks it (size, SHA-256) in place.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::super::keys::RealmKeys;
use super::super::source;
use crate::parsec::crypto::secretbox::Opened;
use crate::parsec::manifests::BlockAccess;
use crate::parsec::DataError;

/// Blocks above this size are refused rather than held in memory (hostile manifests).
pub const MAX_BLOCK: u64 = 64 * 1024 * 1024;

/// A block's cleartext, or the check it failed and why.
pub(super) type BlockResult = Result<Opened, (&'static str, String)>;

struct BlockJob {
    access: BlockAccess,
    reply: SyncSender<BlockResult>,
}

pub struct Pool {
    jobs: Option<mpsc::Sender<BlockJob>>,
    handles: Vec<JoinHandle<()>>,
    pub window: usize,
}

impl Pool {
    pub fn start(path: &Path, keys: &RealmKeys, threads: usize) -> crate::error::Result<Pool> {
        let (tx, rx) = mpsc::channel::<BlockJob>();
        let rx = Arc::new(Mutex::new(rx));
        let keys = Arc::new((keys.keys.clone(), keys.latest_key_index));
        let mut handles = Vec::new();
        for _ in 0..threads.max(1) {
            let conn = source::connect(path)?;
            let rx = rx.clone();
            let keys = keys.clone();
            handles.push(std::thread::spawn(move || loop {
                let job = match rx.lock() {
                    Ok(guard) => guard.recv(),
                    Err(_) => return,
                };
                let Ok(job) = job else { return };
                let result = fetch(&conn, &keys.0, keys.1, &job.access);
                let _ = job.reply.send(result);
            }));
        }
        Ok(Pool {
            jobs: Some(tx),
            handles,
            window: threads.max(1) * 4,
        })
    }

    pub(super) fn submit(&self, access: BlockAccess) -> Receiver<BlockResult> {
        let (reply, rx) = mpsc::sync_channel(1);
        if let Some(jobs) = &self.jobs {
            let _ = jobs.send(BlockJob { access, reply });
        }
        rx
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.jobs.take();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

fn fetch(
    conn: &rusqlite::Connection,
    keys: &BTreeMap<u64, [u8; 32]>,
    latest: u64,
    access: &BlockAccess,
) -> BlockResult {
    if access.size > MAX_BLOCK {
        return Err((
            "block_too_large",
            format!(
                "a block of {} bytes: above the {MAX_BLOCK} bytes this tool holds in memory",
                access.size
            ),
        ));
    }
    let row = source::block(conn, access.id)
        .map_err(|e| ("block_missing", format!("cannot read the block row: {e}")))?
        .ok_or((
            "block_missing",
            "no `block` row for it in the export".to_owned(),
        ))?;
    let data = row.data.ok_or((
        "block_no_data",
        "its `block` row has no `block_data`".to_owned(),
    ))?;
    let key = keys.get(&row.key_index).ok_or_else(|| {
        if row.key_index == 0 || row.key_index > latest {
            (
                "key_index_unknown",
                format!(
                    "key index {} has no key rotation certificate",
                    row.key_index
                ),
            )
        } else {
            (
                "key_not_opened",
                format!(
                    "encrypted with key index {}, which this service's key cannot open",
                    row.key_index
                ),
            )
        }
    })?;
    access.open(data, key).map_err(|e| match e {
        DataError::Mismatch {
            field: "block size",
            ..
        } => ("block_size", e.to_string()),
        DataError::Mismatch { .. } => ("block_digest", e.to_string()),
        _ => ("block_cannot_decrypt", e.to_string()),
    })
}
