//! `verify --against-db`: compares the file with the server it came from, for the file's
//! snapshot, to prove it is complete: rows and bytes per table, the certificate tables' exact
//! content, and block data (a sample or all of it) byte for byte.
//!
//! The rows a file should hold are computed with the export's own bound logic
//! (`export::base_info`), in one read-only REPEATABLE READ snapshot of the database.

use std::path::Path;

use rusqlite::Connection;

use super::info::FileInfo;
use super::report::{AgainstDbReport, Counts, Finding, TableComparison, TableStat};
use super::{source_blocks, source_certificates};
use crate::blockstore::{self, BlockstoreConfig};
use crate::db::{self, DbTarget};
use crate::error::{Error, Result};
use crate::export::base_info::{self, Source, Totals};
use crate::export::certificates;
use crate::format::Bounds;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockSample {
    /// This many blocks, chosen at random.
    Random(usize),
    All,
}

pub struct SourceRequest {
    pub db: DbTarget,
    pub blockstore: BlockstoreConfig,
    pub db_connections: usize,
    pub sample: BlockSample,
    /// Concurrent block reads.
    pub jobs: usize,
}

fn finding(check: &'static str, message: String) -> Finding {
    Finding { check, message }
}

pub async fn compare(
    conn: &Connection,
    path: &Path,
    info: &FileInfo,
    stored_bounds: Option<Bounds>,
    file_tables: &[TableStat],
    request: &SourceRequest,
) -> Result<AgainstDbReport> {
    let file_error = |e: rusqlite::Error| Error::VerifyInput {
        path: path.to_owned(),
        reason: format!("cannot read it: {e}"),
    };
    let file_certificates =
        source_certificates::read_file_certificates(conn).map_err(file_error)?;
    let mut differences = Vec::new();
    let mut report = AgainstDbReport {
        database: request.db.to_string(),
        blockstore: String::new(),
        selection: None,
        tables: Vec::new(),
        blocks_in_file: 0,
        blocks_compared: 0,
        all_blocks: request.sample == BlockSample::All,
        differences: Vec::new(),
        notes: Vec::new(),
        ok: false,
    };
    let stat = |name: &str| {
        file_tables
            .iter()
            .find(|t| t.name == name)
            .map(|t| Counts {
                rows: t.rows,
                bytes: t.bytes,
            })
            .unwrap_or(Counts { rows: 0, bytes: 0 })
    };
    let organization_id = info.report.organization_id.as_str();
    let snapshot = info.snapshot;

    let mut client = request.db.connect().await?;
    let schema = db::schema::check(&client).await?;
    let tx = db::snapshot(&mut client).await?;
    let source = match base_info::locate(&tx, &schema, organization_id, info.realm_id).await {
        Ok(source) => source,
        Err(e) => {
            let Some(why) = absent_from_source(&e, organization_id, info) else {
                return Err(e);
            };
            report.differences = vec![finding("source_missing", why)];
            return Ok(report);
        }
    };
    let source_key = base16ct::lower::encode_string(&source.root_verify_key);
    if source_key != info.report.root_verify_key {
        differences.push(finding(
            "root_verify_key",
            format!(
                "the organization's root verify key is {source_key} in the database but {} in the file: the file comes from another server",
                info.report.root_verify_key
            ),
        ));
    }

    // Which selection of rows the file holds: ours, stored in an unfinished file, else ours
    // at T, else Parsec's.
    let file_totals = Totals {
        vlob_count: stat("vlob_atom").rows,
        vlob_bytes: stat("vlob_atom").bytes,
        block_count: stat("block").rows,
        block_bytes: stat("block").bytes,
    };
    let (selection, selected, info_totals) =
        select(&tx, &source, snapshot, stored_bounds, &file_totals).await?;
    report.selection = selection;
    if selection.is_none() {
        differences.push(finding(
            "rows",
            "the file's vlobs and blocks match neither parsec-sequester's selection for this snapshot (vlobs below the marker at T, blocks stamped up to 320 s after the newest of those vlobs) nor Parsec's (rows below its markers at T): rows are missing or in excess, see the table comparison".into(),
        ));
    }
    for (what, recorded, expected) in [
        (
            "vlobs_total_bytes",
            info.report.vlobs_total_bytes,
            info_totals.vlob_bytes,
        ),
        (
            "blocks_total_bytes",
            info.report.blocks_total_bytes,
            info_totals.block_bytes,
        ),
    ] {
        if recorded != Some(expected) {
            differences.push(finding(
                "totals",
                format!(
                    "`info.{what}` is {} but the database gives {expected} for this snapshot",
                    recorded.map_or("invalid".to_owned(), |r| r.to_string())
                ),
            ));
        }
    }

    let source_certs = certificates::fetch(&tx, &source, snapshot).await?;
    drop(tx);
    drop(client);
    let certs = source_certificates::compare_certificates(&file_certificates, &source_certs, &stat);
    for (comparison, difference, note) in certs {
        if let Some(d) = difference {
            differences.push(finding("certificates", d));
        }
        if let Some(n) = note {
            report.notes.push(finding("certificate_order_differs", n));
        }
        report.tables.push(comparison);
    }
    let counted = [
        ("vlob_atom", selected.vlob_count, selected.vlob_bytes),
        ("block", selected.block_count, selected.block_bytes),
        // Every selected block must have its data, of exactly its size.
        ("block_data", selected.block_count, selected.block_bytes),
    ];
    for (name, rows, bytes) in counted {
        let source = Counts { rows, bytes };
        let file = stat(name);
        if file != source {
            differences.push(finding(
                "rows",
                format!(
                    "`{name}`: the file has {} rows ({} bytes), the database {rows} rows ({bytes} bytes) for this snapshot",
                    file.rows, file.bytes
                ),
            ));
        }
        report.tables.push(TableComparison {
            name: table_name(name),
            file,
            source,
            equal: file == source,
        });
    }

    let blocks = source_blocks::blocks_to_compare(conn, request.sample).map_err(file_error)?;
    report.blocks_in_file = stat("block_data").rows;
    if !blocks.is_empty() {
        let (store, _health) = blockstore::open(
            &request.blockstore,
            &request.db,
            request.db_connections,
            blockstore::RetryPolicy::default(),
            organization_id,
        )
        .await?;
        report.blockstore = store.describe();
        let (compared, mismatches) = source_blocks::compare_blocks(
            conn,
            store.as_ref(),
            organization_id,
            &blocks,
            request.jobs,
        )
        .await
        .map_err(|e| e.into_error(path))?;
        report.blocks_compared = compared;
        if let Some(text) = mismatches.describe(&format!(
            "{} of {compared} block(s) compared differ from the blockstore",
            mismatches.count
        )) {
            differences.push(finding("block_data_differs", text));
        }
    } else {
        report.blockstore = "(not read: no block data to compare)".into();
    }
    report.ok = differences.is_empty();
    report.differences = differences;
    Ok(report)
}

/// The file's organization or realm is not (or no longer) in the database: a difference,
/// not a failure of the tool.
fn absent_from_source(e: &Error, organization_id: &str, info: &FileInfo) -> Option<String> {
    let realm = &info.report.realm_id;
    match e {
        Error::OrganizationNotFound(_) | Error::OrganizationNotBootstrapped(_) => Some(format!(
            "the database has no bootstrapped organization `{organization_id}`: is --db the database of the server the export came from?"
        )),
        Error::RealmNotFound { .. } => Some(format!(
            "organization `{organization_id}` has no realm {realm} in the database: is --db the database of the server the export came from?"
        )),
        Error::RealmDeleted(_) => Some(format!(
            "realm {realm} was deleted on the server: its data is purged, there is nothing to compare with"
        )),
        _ => None,
    }
}

/// The rows a file should hold, and what its `info` totals should say: (selection name,
/// totals of the selected rows, totals `info` should record).
async fn select(
    tx: &tokio_postgres::Transaction<'_>,
    source: &Source,
    snapshot: i64,
    stored: Option<Bounds>,
    file: &Totals,
) -> Result<(Option<&'static str>, Totals, Totals)> {
    // `info`'s totals count the selected rows stamped ≤ T, whoever made the file.
    let select = |bounds: Bounds| async move {
        let rows = base_info::totals(tx, source, &bounds, None).await?;
        let counted = base_info::totals(tx, source, &bounds, Some(snapshot)).await?;
        Ok::<_, crate::error::Error>((rows, counted))
    };
    if let Some(bounds) = stored {
        let (rows, counted) = select(bounds).await?;
        return Ok((Some("stored-bounds"), rows, counted));
    }
    let (ours, ours_counted) = select(base_info::new_bounds(tx, source, snapshot).await?).await?;
    if &ours == file {
        return Ok((Some("parsec-sequester"), ours, ours_counted));
    }
    let (parsec, parsec_counted) =
        select(base_info::parsec_bounds(tx, source, snapshot).await?).await?;
    if &parsec == file {
        return Ok((Some("parsec"), parsec, parsec_counted));
    }
    Ok((None, ours, ours_counted))
}

fn table_name(name: &str) -> &'static str {
    crate::format::schema::TABLES
        .iter()
        .find(|t| t.name == name)
        .map_or("?", |t| t.name)
}
