//! The file as an SQLite database: header, side files, opening without changing anything,
//! SQLite's own structural check, and the format's tables and columns.

use std::collections::BTreeSet;
use std::path::Path;

use rusqlite::Connection;

use super::report::{Findings, SqliteSummary};
use crate::error::{Error, Result};
use crate::format::schema::TABLES;
use crate::format::untouched;

/// At most this many lines of SQLite's structural check are reported.
const INTEGRITY_LINES: usize = 10;

/// Opens the file if it can be read on its own as an SQLite database; otherwise records why
/// and returns `None`.
pub fn open(path: &Path, findings: &mut Findings) -> Result<Option<(Connection, SqliteSummary)>> {
    let header = untouched::read_header(path).map_err(|e| Error::VerifyInput {
        path: path.to_owned(),
        reason: format!("cannot read it: {e}"),
    })?;
    let header = match header {
        Ok(h) => h,
        Err(why) => {
            findings.problem(why.check(), why.to_string());
            return Ok(None);
        }
    };
    if let Some(why) = untouched::pending_side_file(path) {
        findings.problem(why.check(), why.to_string());
        return Ok(None);
    }
    let summary = SqliteSummary {
        page_size: header.page_size,
        pages: header.pages,
        journal_mode: if header.wal_mode { "wal" } else { "delete" },
    };
    if header.wal_mode {
        findings.note(
            "wal_mode",
            "the file is in WAL journal mode: a Parsec client opened it (its reader switches files to WAL); harmless, the content is unchanged",
        );
    }
    match untouched::open(path) {
        Ok(conn) => Ok(Some((conn, summary))),
        Err(e) => {
            findings.problem("not_sqlite", format!("SQLite cannot open the file: {e}"));
            Ok(None)
        }
    }
}

/// SQLite's structural check (b-trees, overflow chains, free pages): catches damaged pages
/// that the row checks below would not see.
pub fn integrity(conn: &Connection, findings: &mut Findings) {
    let result = conn
        .prepare(&format!("PRAGMA quick_check({INTEGRITY_LINES})"))
        .and_then(|mut stmt| {
            stmt.query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<String>>>()
        });
    match result {
        Ok(lines) if lines == ["ok"] => {}
        Ok(lines) => findings.problem(
            "sqlite_integrity",
            format!(
                "SQLite's structural check fails, the file is damaged: {}",
                lines.join("; ")
            ),
        ),
        Err(e) => findings.problem(
            "sqlite_integrity",
            format!("SQLite's structural check cannot run, the file is damaged: {e}"),
        ),
    }
}

/// Checks that every table of the format exists with all its columns. Returns the names of
/// the tables that can be read; `None` when the file is not an export at all (no `info`).
pub fn tables(conn: &Connection, findings: &mut Findings) -> Option<BTreeSet<&'static str>> {
    let columns_of = |table: &str| -> rusqlite::Result<Vec<String>> {
        let mut stmt = conn.prepare("SELECT name FROM pragma_table_info(?1)")?;
        let names = stmt.query_map([table], |r| r.get(0))?;
        names.collect()
    };
    let mut usable = BTreeSet::new();
    for table in &TABLES {
        let present = match columns_of(table.name) {
            Ok(c) => c,
            Err(e) => {
                findings.problem(
                    "not_sqlite",
                    format!("SQLite cannot read the file's schema: {e}"),
                );
                return None;
            }
        };
        if present.is_empty() {
            if table.name == "info" {
                findings.problem(
                    "not_export",
                    "not a realm export: the SQLite file has no `info` table",
                );
                return None;
            }
            findings.problem("schema", format!("table `{}` is missing", table.name));
            continue;
        }
        let missing: Vec<&str> = table
            .columns
            .iter()
            .copied()
            .filter(|c| !present.iter().any(|p| p == c))
            .collect();
        if missing.is_empty() {
            usable.insert(table.name);
        } else {
            findings.problem(
                "schema",
                format!(
                    "table `{}` lacks column(s) {}",
                    table.name,
                    missing.join(", ")
                ),
            );
        }
    }
    if !usable.contains("info") {
        return None;
    }
    Some(usable)
}

/// Tables that are not part of the format.
pub fn extra_tables(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )?;
    let names = stmt.query_map([], |r| r.get::<_, String>(0))?;
    let mut out = Vec::new();
    for name in names {
        let name = name?;
        if !TABLES.iter().any(|t| t.name == name) {
            out.push(name);
        }
    }
    Ok(out)
}
