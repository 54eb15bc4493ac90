//! Rows and bytes per table, and the file's sums against the totals recorded in `info`.
//!
//! The totals are computed when an export starts (reference §2.3): they count the rows
//! stamped up to the snapshot, while both Parsec's exporter and ours export every vlob row
//! below the marker (the server's insertion order), some stamped after it, and ours adds
//! the blocks those may reference: a file may hold more than it counts. Vlob versions carry
//! their timestamp, so those up to the snapshot must still add up exactly; block rows carry
//! none, so extra block bytes can only be noted.

use std::collections::BTreeSet;

use rusqlite::Connection;

use super::info::FileInfo;
use super::report::{Findings, TableStat, TotalsReport};
use crate::format::schema::TABLES;

/// "bytes" per table: payload lengths, except `block`, whose rows hold only the declared
/// size of each block (its data is in `block_data`).
fn bytes_expression(table: &str) -> &'static str {
    match table {
        "common_certificate" | "sequester_certificate" | "realm_certificate" => {
            "COALESCE(SUM(length(certificate)), 0)"
        }
        "realm_keys_bundle" => "COALESCE(SUM(length(keys_bundle)), 0)",
        "realm_keys_bundle_access" | "realm_sequester_keys_bundle_access" => {
            "COALESCE(SUM(length(access)), 0)"
        }
        "vlob_atom" => "COALESCE(SUM(length(blob)), 0)",
        "block" => "COALESCE(SUM(size), 0)",
        "block_data" => "COALESCE(SUM(length(data)), 0)",
        _ => "0",
    }
}

pub fn table_stats(
    conn: &Connection,
    usable: &BTreeSet<&'static str>,
) -> rusqlite::Result<Vec<TableStat>> {
    let mut out = Vec::new();
    for table in TABLES.iter().filter(|t| usable.contains(t.name)) {
        let (rows, bytes) = conn.query_row(
            &format!(
                "SELECT COUNT(*), {} FROM {}",
                bytes_expression(table.name),
                table.name
            ),
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        out.push(TableStat {
            name: table.name,
            rows,
            bytes,
        });
    }
    Ok(out)
}

/// Compares the sums with `info`; only meaningful once vlobs and block metadata are
/// exported. With `exact`, any excess is a problem (for files made by parsec-sequester).
pub fn check(
    conn: &Connection,
    info: &FileInfo,
    exact: bool,
    findings: &mut Findings,
) -> rusqlite::Result<Option<TotalsReport>> {
    let r = &info.report;
    let (Some(vlobs_total), Some(blocks_total)) = (r.vlobs_total_bytes, r.blocks_total_bytes)
    else {
        return Ok(None);
    };
    if !(r.steps.vlobs && r.steps.blocks_metadata) {
        return Ok(None);
    }
    let (until, after, after_count): (i64, i64, i64) = conn.query_row(
        "SELECT COALESCE(SUM(CASE WHEN timestamp <= ?1 THEN size END), 0), \
                COALESCE(SUM(CASE WHEN timestamp > ?1 THEN size END), 0), \
                COUNT(CASE WHEN timestamp > ?1 THEN 1 END) FROM vlob_atom",
        [info.snapshot],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let block_bytes: i64 =
        conn.query_row("SELECT COALESCE(SUM(size), 0) FROM block", [], |r| r.get(0))?;
    if until != vlobs_total {
        findings.problem(
            "totals",
            format!(
                "the vlob versions up to the snapshot weigh {until} bytes but `info.vlobs_total_bytes` is {vlobs_total}: vlob versions are {}",
                if until < vlobs_total { "missing" } else { "in excess" }
            ),
        );
    }
    if after_count > 0 {
        let text = format!(
            "{after_count} vlob version(s) ({after} bytes) are timestamped after the snapshot: they were written before a version stamped at or before it by a client whose clock was ahead, and exports keep them (every row below the marker, reference §2.3); readers show them only after their timestamp"
        );
        if exact {
            findings.problem("totals", format!("{text}, but --exact-totals was given"));
        } else {
            findings.note("vlobs_after_snapshot", text);
        }
    }
    if block_bytes < blocks_total {
        findings.problem(
            "totals",
            format!(
                "the blocks weigh {block_bytes} bytes but `info.blocks_total_bytes` is {blocks_total}: blocks are missing"
            ),
        );
    } else if block_bytes > blocks_total {
        let text = format!(
            "the blocks weigh {block_bytes} bytes, {} more than `info.blocks_total_bytes` ({blocks_total}): blocks stored after the snapshot, which exports keep without counting them (Parsec's below its marker, reference §2.3; parsec-sequester's up to 320 s after the newest exported vlob version, so that no block such a version references is missing)",
            block_bytes - blocks_total
        );
        if exact {
            findings.problem("totals", format!("{text}, and --exact-totals was given"));
        } else {
            findings.note("blocks_exceed_total", text);
        }
    }
    Ok(Some(TotalsReport {
        vlobs_total_bytes: vlobs_total,
        vlob_bytes_until_snapshot: until,
        vlob_bytes_after_snapshot: after,
        vlobs_after_snapshot: after_count,
        blocks_total_bytes: blocks_total,
        block_bytes,
        exact: until == vlobs_total && after_count == 0 && block_bytes == blocks_total,
    }))
}

/// Parsec's client starts a realm's history at the workspace manifest's first version (the
/// vlob whose ID is the realm ID): without it the export is valid but cannot be browsed.
pub fn check_workspace_manifest(
    conn: &Connection,
    info: &FileInfo,
    findings: &mut Findings,
) -> rusqlite::Result<()> {
    let n: i64 = conn.query_row(
        "SELECT COUNT(*) FROM vlob_atom WHERE vlob_id = ?1 AND version = 1 AND timestamp <= ?2",
        rusqlite::params![info.realm_id.as_bytes().as_slice(), info.snapshot],
        |r| r.get(0),
    )?;
    if n == 0 {
        findings.note(
            "no_workspace_manifest",
            "no workspace manifest (vlob with the realm's ID, version 1) at or before the snapshot: Parsec's client cannot browse this export's history (normal for a realm that was never opened)",
        );
    }
    Ok(())
}
