//! The export pipeline, in its steps: base info, certificates, vlobs, block metadata, block
//! data, final check.

pub(crate) mod base_info;
mod blocks_data;
mod blocks_metadata;
pub(crate) mod certificates;
mod chunks;
mod open;
mod output;
mod vlobs;

use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub use blocks_data::Tuning;
pub use output::{OutputTarget, SnapshotChoice};

use crate::blockstore::{self, BlockstoreConfig, HealthReport, RetryPolicy};
use crate::db::{self, DbTarget};
use crate::error::{Error, Result};
use crate::format::{self, ExistingFile, Info};
use crate::ids::now_micros;
use crate::progress::{Progress, Unit};

/// SQLite's page cache during the vlob and block-metadata steps, which hold no block data.
const METADATA_CACHE_KIB: u32 = 64 * 1024;

/// Ctrl-C / SIGTERM: steps stop at their next commit point, keeping what they fetched.
#[derive(Clone, Default)]
pub struct Interrupt {
    token: CancellationToken,
    signal: Arc<AtomicI32>,
}

impl Interrupt {
    pub fn trigger(&self, signal: i32) {
        self.signal.store(signal, Ordering::SeqCst);
        self.token.cancel();
    }
    pub fn is_set(&self) -> bool {
        self.token.is_cancelled()
    }
    pub fn cancelled(&self) -> tokio_util::sync::WaitForCancellationFutureOwned {
        self.token.clone().cancelled_owned()
    }
    pub fn error(&self) -> Error {
        match self.signal.load(Ordering::SeqCst) {
            libc::SIGTERM => Error::Interrupted {
                signal: "SIGTERM",
                code: 128 + libc::SIGTERM,
            },
            _ => Error::Interrupted {
                signal: "SIGINT (Ctrl-C)",
                code: 128 + libc::SIGINT,
            },
        }
    }
}

pub struct ExportRequest {
    pub db: DbTarget,
    pub blockstore: BlockstoreConfig,
    pub retry: RetryPolicy,
    pub organization_id: String,
    pub realm_id: Uuid,
    pub snapshot: SnapshotChoice,
    pub output: OutputTarget,
    pub tuning: Tuning,
    pub db_connections: usize,
}

/// What an export run did.
#[derive(Debug, Clone)]
pub struct Summary {
    pub path: PathBuf,
    pub created: bool,
    pub already_complete: bool,
    pub info: Info,
    pub counts: format::TableCounts,
    pub fetched_blocks: u64,
    pub fetched_bytes: u64,
    pub elapsed: Duration,
    /// What the blockstore went through; None when no block was read this run.
    pub store_health: Option<HealthReport>,
}

pub async fn export_realm(
    req: ExportRequest,
    progress: &Progress,
    interrupt: &Interrupt,
) -> Result<Summary> {
    let started = Instant::now();
    let now = now_micros();
    let resolved = output::resolve(
        &req.output,
        &req.organization_id,
        req.realm_id,
        req.snapshot,
        now,
    )?;
    let path = resolved.path.clone();
    let snapshot = resolved.snapshot;

    if let ExistingFile::Export { info, .. } = &resolved.existing {
        open::check_same_request(&path, info, &req.organization_id, req.realm_id, snapshot)?;
    }
    base_info::check_snapshot_age(snapshot, now)?;

    let mut client = req.db.connect().await?;
    let schema = db::schema::check(&client).await?;
    // One REPEATABLE READ snapshot for all metadata: base info, certificates, vlobs and block
    // metadata are read as of the same instant.
    let tx = db::snapshot(&mut client).await?;
    let source = base_info::locate(&tx, &schema, &req.organization_id, req.realm_id).await?;
    base_info::check_snapshot_after_creation(&tx, &source, snapshot).await?;
    let already_complete =
        matches!(&resolved.existing, ExistingFile::Export { info, .. } if info.steps.complete());
    // A wrong blockstore configuration fails now, not after hours of metadata export.
    let store = if already_complete {
        None
    } else {
        Some(
            blockstore::open(
                &req.blockstore,
                &req.db,
                req.db_connections,
                req.retry,
                &req.organization_id,
            )
            .await?,
        )
    };

    let (mut file, bounds, expected, created) =
        match open::open_or_create(&tx, &source, &req, &resolved, progress).await? {
            open::Opened::Complete { info, counts } => {
                return Ok(Summary {
                    path,
                    created: false,
                    already_complete: true,
                    info,
                    counts,
                    fetched_blocks: 0,
                    fetched_bytes: 0,
                    elapsed: started.elapsed(),
                    store_health: None,
                })
            }
            open::Opened::Writing {
                file,
                bounds,
                expected,
                created,
            } => (file, bounds, expected, created),
        };
    progress.message("Interrupting (Ctrl-C) is safe: what is exported is kept, and running the same command again resumes.");

    let info = tokio::task::block_in_place(|| file.info())?;
    let steps = info.steps;
    let step = progress.step(1, "Exporting certificates", 1, Unit::Items);
    if !steps.certificates {
        let data = certificates::fetch(&tx, &source, snapshot).await?;
        tokio::task::block_in_place(|| file.write_certificates(&data))?;
    }
    step.finish(1);
    if interrupt.is_set() {
        return Err(interrupt.error());
    }

    let step = progress.step(
        2,
        "Exporting vlobs",
        info.vlobs_total_bytes as u64,
        Unit::Bytes,
    );
    // Vlob and block rows are inserted in `_id` order, so their UNIQUE indexes (random
    // UUIDs) take random inserts: with 16 MiB of cache, a million vlobs spill and re-read the
    // same index pages over and over. The metadata steps hold no block data, so they get the
    // memory the block-data step will use for its buffer.
    tokio::task::block_in_place(|| file.set_cache_kib(METADATA_CACHE_KIB))?;
    if !steps.vlobs {
        let result = vlobs::export(&tx, &mut file, &source, &bounds, &step, interrupt).await;
        if let Err(e) = result {
            step.abandon();
            // The server's data cannot fit the format: a file this run created could never be
            // completed, so it goes (it holds nothing but copies of the server's rows).
            if created && matches!(e, Error::SourceInconsistent(_)) {
                drop(file);
                let _ = std::fs::remove_file(&path);
            }
            return Err(e);
        }
    } else {
        step.finish(info.vlobs_total_bytes as u64);
    }

    let step = progress.step(
        3,
        "Exporting blocks metadata",
        info.blocks_total_bytes as u64,
        Unit::Bytes,
    );
    if !steps.blocks_metadata {
        blocks_metadata::export(&tx, &mut file, &source, &bounds, &step, interrupt)
            .await
            .inspect_err(|_| step.abandon())?;
    } else {
        step.finish(info.blocks_total_bytes as u64);
    }
    tokio::task::block_in_place(|| file.set_cache_kib(crate::format::CACHE_KIB))?;
    // The pages the smaller cache let go would stay in the heap and count under the block
    // buffers (peak RSS 133 MiB instead of 121 on the benchmark realm): return them.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory; no pointer is involved.
    unsafe {
        libc::malloc_trim(0);
    }
    // The snapshot transaction must not stay open during hours of block downloads (it would
    // hold back the server's vacuum): block data is immutable, keyed by block ID.
    drop(tx);
    drop(client);

    let (_, (missing_count, missing_bytes)) =
        tokio::task::block_in_place(|| file.blocks_data_progress())?;
    let (_, block_count, block_bytes) =
        tokio::task::block_in_place(|| file.blocks_metadata_done())?;
    progress.line(&format!(
        "Roughly {} to download ({missing_count} of {block_count} blocks)",
        indicatif::HumanBytes(missing_bytes.max(0) as u64)
    ));
    let step = progress.step(4, "Exporting blocks data", block_bytes as u64, Unit::Bytes);
    let mut fetched = (0, 0);
    let mut store_health = None;
    if let (true, Some((store, health))) = (missing_count > 0, store) {
        let (returned, result) = blocks_data::export(
            file,
            store,
            &req.organization_id,
            req.tuning,
            &step,
            interrupt,
        )
        .await;
        file = returned;
        // The counts are told whether the step completed or not: a failing node matters most
        // when the export fails.
        for warning in health.final_warnings() {
            tracing::warn!("{warning}");
        }
        store_health = Some(health.report());
        fetched = result.inspect_err(|_| step.abandon())?;
    }
    let block_data = tokio::task::block_in_place(|| {
        file.finish(expected.map(|t| (t.vlob_bytes, t.block_bytes)))
    })?;
    step.finish(block_bytes as u64);

    let info = tokio::task::block_in_place(|| file.info())?;
    let counts = tokio::task::block_in_place(|| file.counts_with(Some(block_data)))?;
    Ok(Summary {
        path,
        created,
        already_complete: false,
        info,
        counts,
        fetched_blocks: fetched.0,
        fetched_bytes: fetched.1,
        elapsed: started.elapsed(),
        store_health,
    })
}
