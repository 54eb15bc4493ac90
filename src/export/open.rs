//! Opening the output: create a new export with the bounds of its snapshot, or check an
//! existing one against the request and the server and continue it.

use std::path::Path;

use tokio_postgres::Transaction;
use uuid::Uuid;

use super::base_info::{self, Source, Totals};
use super::output::Resolved;
use super::ExportRequest;
use crate::error::{Error, Result};
use crate::format::{
    self, Bounds, ExistingFile, ExportFile, Info, Steps, TableCounts, NO_TIME_BOUND,
};
use crate::ids::{format_timestamp, Micros};
use crate::progress::Progress;

pub enum Opened {
    /// Nothing to do.
    Complete { info: Info, counts: TableCounts },
    Writing {
        file: ExportFile,
        bounds: Bounds,
        /// What the file must hold when complete, counted within our stored bounds (None
        /// for a file Parsec's exporter started: its markers are recomputed on every run).
        expected: Option<Totals>,
        created: bool,
    },
}

pub async fn open_or_create(
    tx: &Transaction<'_>,
    source: &Source,
    req: &ExportRequest,
    resolved: &Resolved,
    progress: &Progress,
) -> Result<Opened> {
    let path = &resolved.path;
    let snapshot = resolved.snapshot;
    match &resolved.existing {
        ExistingFile::Missing => {
            let bounds = base_info::new_bounds(tx, source, snapshot).await?;
            let totals = base_info::totals(tx, source, &bounds, Some(snapshot)).await?;
            let expected = base_info::totals(tx, source, &bounds, None).await?;
            let info = Info {
                organization_id: req.organization_id.clone(),
                realm_id: req.realm_id,
                root_verify_key: source.root_verify_key.clone(),
                snapshot_timestamp: snapshot,
                vlobs_total_bytes: totals.vlob_bytes,
                blocks_total_bytes: totals.block_bytes,
                steps: Steps::default(),
            };
            progress.message(&format!(
                "Creating {} (snapshot {})",
                path.display(),
                format_timestamp(snapshot)
            ));
            tokio::task::block_in_place(|| format::create(path, &info, &bounds))?;
            let file = tokio::task::block_in_place(|| ExportFile::open(path))?;
            Ok(Opened::Writing {
                file,
                bounds,
                expected: Some(expected),
                created: true,
            })
        }
        ExistingFile::Export { info, bounds } => {
            if info.root_verify_key != source.root_verify_key {
                return Err(Error::OutputMismatch {
                    path: path.clone(),
                    reason: "it has the same organization and realm IDs but another organization root key (an export from another server?)".into(),
                });
            }
            if info.steps.complete() {
                let file = tokio::task::block_in_place(|| ExportFile::open_read_only(path))?;
                let counts = tokio::task::block_in_place(|| file.counts())?;
                progress.message(&format!(
                    "{} is already a complete export: nothing to do",
                    path.display()
                ));
                return Ok(Opened::Complete {
                    info: info.clone(),
                    counts,
                });
            }
            let (bounds, expected) = match bounds {
                Some(b) if b.vlob_time_bound != NO_TIME_BOUND => {
                    return Err(Error::OutputMismatch {
                        path: path.clone(),
                        reason: "it was started by an earlier build of parsec-sequester, which left out vlob versions stamped after the snapshot even when a later version was kept (clients' clocks disagree): completing it could leave holes in a file's history. Move it away or delete it, then run the same command again to start a new export".into(),
                    });
                }
                Some(b) => (*b, Some(base_info::totals(tx, source, b, None).await?)),
                None => (base_info::parsec_bounds(tx, source, snapshot).await?, None),
            };
            let totals = base_info::totals(tx, source, &bounds, Some(snapshot)).await?;
            check_totals(path, info, totals.vlob_bytes, totals.block_bytes)?;
            progress.message(&format!(
                "{} exists: continuing the export of snapshot {} where it stopped",
                path.display(),
                format_timestamp(snapshot)
            ));
            let file = tokio::task::block_in_place(|| ExportFile::open(path))?;
            Ok(Opened::Writing {
                file,
                bounds,
                expected,
                created: false,
            })
        }
    }
}

/// The file must be an export of what was asked for (reference §2.9, in Parsec's order).
pub fn check_same_request(
    path: &Path,
    info: &Info,
    organization_id: &str,
    realm_id: Uuid,
    snapshot: Micros,
) -> Result<()> {
    let mismatch = |reason: String| Error::OutputMismatch {
        path: path.to_owned(),
        reason,
    };
    if info.organization_id != organization_id {
        return Err(mismatch(format!(
            "it exports organization `{}`, not `{organization_id}`",
            info.organization_id
        )));
    }
    if info.realm_id != realm_id {
        return Err(mismatch(format!(
            "it exports realm {}, not {}",
            info.realm_id.simple(),
            realm_id.simple()
        )));
    }
    if info.snapshot_timestamp != snapshot {
        return Err(mismatch(format!(
            "its snapshot is {}, not {} (omit --snapshot-timestamp to resume it)",
            format_timestamp(info.snapshot_timestamp),
            format_timestamp(snapshot)
        )));
    }
    Ok(())
}

fn check_totals(path: &Path, info: &Info, vlob_bytes: i64, block_bytes: i64) -> Result<()> {
    let mismatch = |what: &str, file: i64, now: i64| {
        Error::OutputMismatch {
        path: path.to_owned(),
        reason: format!(
            "same realm and snapshot, but the server's {what} total for that snapshot is now {now} bytes where the file recorded {file}: the realm's data changed on the server since the export started (purged or restored?). Start a new export into another file"
        ),
    }
    };
    if info.vlobs_total_bytes != vlob_bytes {
        return Err(mismatch("vlob", info.vlobs_total_bytes, vlob_bytes));
    }
    if info.blocks_total_bytes != block_bytes {
        return Err(mismatch("block", info.blocks_total_bytes, block_bytes));
    }
    Ok(())
}
