//! Every vlob row of the export (without its blob), indexed by vlob and time in a scratch
//! SQLite database (`spool::scratch_database`: OUTPUT_DIR's state folder, or SQLite's private
//! temporary database): a realm's rows are not held in memory, whatever its size (they were
//! about 70 bytes each). The export's own table is not used for the lookups: rows of the wrong
//! types are left out here, and an export without the format's index would make each lookup
//! a scan. The indexes exist before the rows are inserted and every query follows one, so
//! SQLite never sorts in a temporary file of its own (those would go to `$SQLITE_TMPDIR`,
//! outside OUTPUT_DIR).

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension, Row};
use uuid::Uuid;

use super::failure::Failure;
use super::source::{Source, VlobRow};
use super::spool::scratch_database;
use crate::ids::{format_timestamp, Micros};

pub struct Versions {
    conn: Connection,
}

/// Why the rows could not be loaded: the export could not be read, or the temporary
/// database not written.
pub enum Load {
    Input(rusqlite::Error),
    Scratch(rusqlite::Error),
}

/// A query of whole rows (the columns `read` takes).
macro_rules! rows {
    ($rest:literal) => {
        concat!(
            "SELECT seq, vlob, version, key_index, author, ts FROM row ",
            $rest
        )
    };
}

const BY_VLOB: &str = rows!("ORDER BY vlob, ts, version");
const AT: &str = rows!("WHERE vlob = ?1 AND ts <= ?2 ORDER BY ts DESC, version DESC LIMIT 1");
const BY_SEQ: &str = rows!("WHERE seq = ?1");
const AFTER: &str = rows!("WHERE ts > ?1");
const BY_TIME: &str = rows!("WHERE ts <= ?1 ORDER BY ts, vlob, version");
const KEYS_BY_TIME: &str = "SELECT key_index, ts FROM row WHERE ts <= ?1 ORDER BY ts";
const BAD: &str = "SELECT seq FROM bad ORDER BY seq";
const SCHEMA: &str = "CREATE TABLE row (seq INTEGER PRIMARY KEY, vlob BLOB NOT NULL,
                         version INTEGER NOT NULL, key_index INTEGER NOT NULL,
                         author BLOB NOT NULL, ts INTEGER NOT NULL);
    CREATE TABLE bad (seq INTEGER PRIMARY KEY);
    CREATE INDEX by_vlob ON row (vlob, ts, version);
    CREATE INDEX by_time ON row (ts, vlob, version);";

fn read(r: &Row<'_>) -> rusqlite::Result<VlobRow> {
    let vlob: [u8; 16] = r.get(1)?;
    let author: [u8; 16] = r.get(4)?;
    Ok(VlobRow {
        sequential_id: r.get(0)?,
        vlob_id: Uuid::from_bytes(vlob),
        version: r.get(2)?,
        key_index: u64::try_from(r.get::<_, i64>(3)?).unwrap_or(u64::MAX),
        author: Uuid::from_bytes(author),
        timestamp: r.get(5)?,
    })
}

impl Versions {
    /// The export's rows whose columns have the right types; the others are kept apart, to
    /// be reported (`failures`).
    pub fn load(source: &Source, dir: Option<&Path>) -> Result<Self, Load> {
        let conn = scratch_database(dir, "rows.sqlite").map_err(Load::Scratch)?;
        conn.execute_batch(SCHEMA).map_err(Load::Scratch)?;
        conn.execute_batch("BEGIN").map_err(Load::Scratch)?;
        let mut failed = None;
        {
            let mut insert = conn
                .prepare(
                    "INSERT INTO row (seq, vlob, version, key_index, author, ts)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(Load::Scratch)?;
            let mut bad = conn
                .prepare("INSERT INTO bad VALUES (?1)")
                .map_err(Load::Scratch)?;
            let mut put = |row: std::result::Result<VlobRow, i64>| match row {
                Ok(r) => insert
                    .execute(params![
                        r.sequential_id,
                        r.vlob_id.as_bytes().as_slice(),
                        r.version,
                        // Read from an i64: fits.
                        i64::try_from(r.key_index).unwrap_or(i64::MAX),
                        r.author.as_bytes().as_slice(),
                        r.timestamp
                    ])
                    .map(|_| ()),
                Err(seq) => bad.execute([seq]).map(|_| ()),
            };
            source
                .each_vlob_row(&mut |row| {
                    if failed.is_none() {
                        failed = put(row).err();
                    }
                    Ok(())
                })
                .map_err(Load::Input)?;
        }
        if let Some(e) = failed {
            // A `sequential_id` twice: the export lacks its format's primary key.
            let duplicate = e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation);
            return Err(if duplicate {
                Load::Input(e)
            } else {
                Load::Scratch(e)
            });
        }
        conn.execute_batch("COMMIT").map_err(Load::Scratch)?;
        Ok(Versions { conn })
    }

    /// Rows of the wrong types (ignored), then "versions increase with time" (§7): within
    /// each vlob, sorted by (timestamp, version), each version and timestamp above the
    /// previous one's.
    pub fn failures(&self, each: &mut dyn FnMut(Failure)) -> rusqlite::Result<()> {
        let mut stmt = self.conn.prepare(BAD)?;
        let seqs = stmt.query_map([], |r| r.get::<_, i64>(0))?;
        for seq in seqs {
            each(Failure::global(
                "vlob_row",
                format!(
                    "`vlob_atom` sequential_id {} has columns of the wrong type or size: ignored",
                    seq?
                ),
            ));
        }
        let mut stmt = self.conn.prepare(BY_VLOB)?;
        let mut rows = stmt.query([])?;
        let mut previous: Option<VlobRow> = None;
        while let Some(r) = rows.next()? {
            let row = read(r)?;
            if let Some(p) = previous.filter(|p| p.vlob_id == row.vlob_id) {
                if row.version <= p.version || row.timestamp == p.timestamp {
                    each(Failure::vlob(
                        "versions_order",
                        row.vlob_id,
                        row.version,
                        format!(
                            "version {} at {} follows version {} at {}: versions do not increase with time",
                            row.version,
                            format_timestamp(row.timestamp),
                            p.version,
                            format_timestamp(p.timestamp)
                        ),
                    ));
                }
            }
            previous = Some(row);
        }
        Ok(())
    }

    /// The version in force at `t` (§6.2): the greatest (timestamp, version) ≤ `t`.
    pub fn at(&self, vlob: Uuid, t: Micros) -> rusqlite::Result<Option<VlobRow>> {
        self.conn
            .prepare_cached(AT)?
            .query_row(params![vlob.as_bytes().as_slice(), t], read)
            .optional()
    }

    /// The row of `sequential_id`.
    pub fn row(&self, sequential_id: i64) -> rusqlite::Result<Option<VlobRow>> {
        self.conn
            .prepare_cached(BY_SEQ)?
            .query_row([sequential_id], read)
            .optional()
    }

    /// The earliest timestamp ≤ `until` of a row under a key index `opened` lacks.
    pub fn first_unreadable<V>(
        &self,
        opened: &BTreeMap<u64, V>,
        until: Micros,
    ) -> rusqlite::Result<Option<Micros>> {
        let mut stmt = self.conn.prepare(KEYS_BY_TIME)?;
        let mut rows = stmt.query([until])?;
        while let Some(r) = rows.next()? {
            let index: i64 = r.get(0)?;
            if !u64::try_from(index).is_ok_and(|i| opened.contains_key(&i)) {
                return Ok(Some(r.get(1)?));
            }
        }
        Ok(None)
    }

    /// Rows after `t` (`vlob v<version>`), sorted.
    pub fn after(&self, t: Micros) -> rusqlite::Result<Vec<String>> {
        let mut stmt = self.conn.prepare(AFTER)?;
        let rows = stmt.query_map([t], read)?;
        let mut out = Vec::new();
        for r in rows {
            let r = r?;
            out.push(format!("{} v{}", r.vlob_id.simple(), r.version));
        }
        out.sort();
        Ok(out)
    }

    /// Every row up to `until`, by (timestamp, vlob, version), in batches of one timestamp.
    pub fn each_instant(
        &self,
        until: Micros,
        each: &mut dyn FnMut(&[VlobRow]) -> rusqlite::Result<()>,
    ) -> rusqlite::Result<()> {
        let mut stmt = self.conn.prepare(BY_TIME)?;
        let mut rows = stmt.query([until])?;
        let mut batch: Vec<VlobRow> = Vec::new();
        while let Some(r) = rows.next()? {
            let row = read(r)?;
            if batch.first().is_some_and(|b| b.timestamp != row.timestamp) {
                each(&batch)?;
                batch.clear();
            }
            batch.push(row);
        }
        if !batch.is_empty() {
            each(&batch)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SQLite sorts in temporary files of its own, in `$SQLITE_TMPDIR` (outside OUTPUT_DIR),
    /// when no index gives a query's order: every query here must follow one.
    #[test]
    fn no_query_sorts_outside_the_indexes() {
        for sql in [BY_VLOB, AT, BY_SEQ, AFTER, BY_TIME, KEYS_BY_TIME, BAD] {
            let plan = crate::extract::spool::query_plan(SCHEMA, sql);
            assert!(
                plan.iter().all(|step| !step.contains("TEMP B-TREE")),
                "{sql}: {plan:?}"
            );
        }
    }
}
