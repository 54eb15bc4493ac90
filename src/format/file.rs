//! Writing to an export file, one transaction per unit of work,
//! so that a kill at any instant leaves a file that the next run continues.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OpenFlags};

use super::info::{read_bounds, read_info, Bounds, Info};
use super::schema::BOUNDS_TABLE;
use super::{BlockRow, CertificatesData, TableCounts, VlobRow};
use crate::error::{Error, Result};

/// SQLite's page cache while block data is written (the memory budget counts it apart).
pub const CACHE_KIB: u32 = 16 * 1024;

/// A block of the export that has no data yet.
#[derive(Debug, Clone, Copy)]
pub struct MissingBlock {
    pub sequential_id: i64,
    pub block_id: uuid::Uuid,
    pub size: i64,
}

/// An export file opened for writing; the single writer of the file.
pub struct ExportFile {
    conn: Connection,
    path: PathBuf,
}

impl ExportFile {
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| Error::sqlite(path, e))?;
        // Someone reading the file meanwhile (verify, sqlite3) must delay a commit, not fail it.
        conn.busy_timeout(std::time::Duration::from_secs(60))
            .map_err(|e| Error::sqlite(path, e))?;
        // FULL: a commit is durable once it returns, so what we report as saved is saved
        // even on power loss. Commits are large and few, so the cost is small.
        // Foreign keys off, as in Parsec (the bundled SQLite turns them on by default): files
        // written before a Parsec fix declare a foreign key to a column that does not exist.
        conn.execute_batch(
            &format!("PRAGMA synchronous = FULL; PRAGMA cache_size = -{CACHE_KIB}; PRAGMA foreign_keys = OFF;"),
        )
        .map_err(|e| Error::sqlite(path, e))?;
        Ok(ExportFile {
            conn,
            path: path.to_owned(),
        })
    }

    /// For reading only (a complete export is never written again).
    pub fn open_read_only(path: &Path) -> Result<Self> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| Error::sqlite(path, e))?;
        Ok(ExportFile {
            conn,
            path: path.to_owned(),
        })
    }

    /// Rows and bytes per table, for summaries.
    pub fn counts(&self) -> Result<TableCounts> {
        self.counts_with(None)
    }

    /// Like `counts`, with block_data's (rows, bytes) given when already known (`finish`
    /// computes them): counting them reads the whole table again.
    pub fn counts_with(&self, block_data: Option<(i64, i64)>) -> Result<TableCounts> {
        let count = |sql: &str| -> Result<(i64, i64)> {
            self.conn
                .query_row(sql, [], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(|e| self.err(e))
        };
        Ok(TableCounts {
            common_certificates: count("SELECT COUNT(*), 0 FROM common_certificate")?.0,
            sequester_certificates: count("SELECT COUNT(*), 0 FROM sequester_certificate")?.0,
            realm_certificates: count("SELECT COUNT(*), 0 FROM realm_certificate")?.0,
            keys_bundles: count("SELECT COUNT(*), 0 FROM realm_keys_bundle")?.0,
            user_accesses: count("SELECT COUNT(*), 0 FROM realm_keys_bundle_access")?.0,
            sequester_accesses: count(
                "SELECT COUNT(*), 0 FROM realm_sequester_keys_bundle_access",
            )?
            .0,
            vlobs: count("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM vlob_atom")?,
            blocks: count("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM block")?,
            block_data: match block_data {
                Some(known) => known,
                None => count("SELECT COUNT(*), COALESCE(SUM(length(data)), 0) FROM block_data")?,
            },
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// SQLite's page cache for this connection, in KiB. Lowering it frees the pages above.
    pub fn set_cache_kib(&self, kib: u32) -> Result<()> {
        self.conn
            .execute_batch(&format!("PRAGMA cache_size = -{kib}"))
            .map_err(|e| self.err(e))
    }

    fn err(&self, e: rusqlite::Error) -> Error {
        Error::sqlite(&self.path, e)
    }

    pub fn info(&self) -> Result<Info> {
        read_info(&self.conn, &self.path)
    }

    pub fn bounds(&self) -> Result<Option<Bounds>> {
        read_bounds(&self.conn, &self.path)
    }

    pub fn write_certificates(&mut self, data: &CertificatesData) -> Result<()> {
        self.in_transaction(|tx| {
            for (table, rows) in [
                ("common_certificate", &data.common),
                ("sequester_certificate", &data.sequester),
                ("realm_certificate", &data.realm),
            ] {
                let mut stmt = tx.prepare(&format!(
                    "INSERT INTO {table} (_id, certificate) VALUES (?1, ?2)"
                ))?;
                for (i, cert) in rows.iter().enumerate() {
                    stmt.execute(params![i as i64, cert])?;
                }
            }
            let mut stmt = tx.prepare(
                "INSERT INTO realm_keys_bundle (key_index, keys_bundle) VALUES (?1, ?2)",
            )?;
            for (key_index, bundle) in &data.keys_bundles {
                stmt.execute(params![key_index, bundle])?;
            }
            for (table, id_column, rows) in [
                ("realm_keys_bundle_access", "user_id", &data.user_accesses),
                (
                    "realm_sequester_keys_bundle_access",
                    "sequester_service_id",
                    &data.sequester_accesses,
                ),
            ] {
                let mut stmt = tx.prepare(&format!(
                    "INSERT INTO {table} (_id, {id_column}, key_index, access) VALUES (?1, ?2, ?3, ?4)"
                ))?;
                for (i, (id, key_index, access)) in rows.iter().enumerate() {
                    stmt.execute(params![i as i64, id.as_slice(), key_index, access])?;
                }
            }
            tx.execute("UPDATE info SET certificates_export_done = 1", [])?;
            Ok(())
        })
    }

    /// (highest sequential_id, bytes) of the vlobs already in the file.
    pub fn vlobs_done(&self) -> Result<(i64, i64)> {
        self.conn
            .query_row(
                "SELECT COALESCE(MAX(sequential_id), 0), COALESCE(SUM(size), 0) FROM vlob_atom",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| self.err(e))
    }

    /// Inside a transaction opened with `begin`. Two versions of one vlob at the same
    /// timestamp break the format's UNIQUE(vlob_id, timestamp): that is the server's data,
    /// not our file, and the error says so (the constraint checks it for free as we insert).
    pub fn insert_vlobs(&self, rows: &[VlobRow]) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "INSERT INTO vlob_atom (sequential_id, vlob_id, version, key_index, blob, size, author, timestamp) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .map_err(|e| self.err(e))?;
        for row in rows {
            stmt.execute(params![
                row.sequential_id,
                row.vlob_id.as_slice(),
                row.version,
                row.key_index,
                row.blob,
                row.blob.len() as i64,
                row.author.as_slice(),
                row.timestamp
            ])
            .map_err(|e| {
                let unique = matches!(&e, rusqlite::Error::SqliteFailure(f, _)
                    if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE);
                if unique {
                    Error::SourceInconsistent(format!(
                        "vlob {} has several versions at {} (version {} among them); the realm-export format allows one version per vlob and timestamp, so this realm cannot be exported as is (report it to the Parsec server's maintainers)",
                        uuid::Uuid::from_bytes(row.vlob_id).simple(),
                        crate::ids::format_timestamp(row.timestamp),
                        row.version
                    ))
                } else {
                    self.err(e)
                }
            })?;
        }
        Ok(())
    }

    /// (highest sequential_id, count, bytes) of the block metadata already in the file.
    pub fn blocks_metadata_done(&self) -> Result<(i64, i64, i64)> {
        self.conn
            .query_row(
                "SELECT COALESCE(MAX(sequential_id), 0), COUNT(*), COALESCE(SUM(size), 0) FROM block",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map_err(|e| self.err(e))
    }

    /// Inside a transaction opened with `begin`.
    pub fn insert_blocks(&self, rows: &[BlockRow]) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "INSERT INTO block (sequential_id, block_id, author, size, key_index) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(|e| self.err(e))?;
        for row in rows {
            stmt.execute(params![
                row.sequential_id,
                row.block_id.as_slice(),
                row.author.as_slice(),
                row.size,
                row.key_index
            ])
            .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// Runs `work` in one SQLite transaction: all of it is committed, or none.
    fn in_transaction(
        &mut self,
        work: impl FnOnce(&rusqlite::Transaction) -> rusqlite::Result<()>,
    ) -> Result<()> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction()
            .map_err(|e| Error::sqlite(&path, e))?;
        work(&tx).map_err(|e| Error::sqlite(&path, e))?;
        tx.commit().map_err(|e| Error::sqlite(&path, e))
    }

    pub fn set_step_done(&mut self, flag_column: &'static str) -> Result<()> {
        self.conn
            .execute(&format!("UPDATE info SET {flag_column} = 1"), [])
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// (count, bytes) of blocks with data, and (count, bytes) of blocks still lacking it.
    pub fn blocks_data_progress(&self) -> Result<((i64, i64), (i64, i64))> {
        self.conn
            .query_row(
                "SELECT COALESCE(SUM(d.block IS NOT NULL), 0), COALESCE(SUM(CASE WHEN d.block IS NOT NULL THEN b.size END), 0), \
                        COALESCE(SUM(d.block IS NULL), 0), COALESCE(SUM(CASE WHEN d.block IS NULL THEN b.size END), 0) \
                 FROM block b LEFT JOIN block_data d ON d.block = b.sequential_id",
                [],
                |r| Ok(((r.get(0)?, r.get(1)?), (r.get(2)?, r.get(3)?))),
            )
            .map_err(|e| self.err(e))
    }

    /// The next blocks lacking data, in sequential_id order, strictly after `after` (keyset
    /// paging: blocks in flight, not yet committed, are never handed out twice).
    pub fn missing_blocks_after(&self, after: i64, limit: usize) -> Result<Vec<MissingBlock>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT b.sequential_id, b.block_id, b.size FROM block b \
                 WHERE b.sequential_id > ?1 AND NOT EXISTS (SELECT 1 FROM block_data d WHERE d.block = b.sequential_id) \
                 ORDER BY b.sequential_id LIMIT ?2",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![after, limit as i64], |r| {
                let id: Vec<u8> = r.get(1)?;
                Ok((r.get::<_, i64>(0)?, id, r.get::<_, i64>(2)?))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (sequential_id, id, size) = row.map_err(|e| self.err(e))?;
            let block_id = uuid::Uuid::from_slice(&id).map_err(|_| Error::OutputCorrupted {
                path: self.path.clone(),
                reason: format!("block {sequential_id} has a block_id that is not 16 bytes"),
            })?;
            out.push(MissingBlock {
                sequential_id,
                block_id,
                size,
            });
        }
        Ok(out)
    }

    pub fn begin(&self) -> Result<()> {
        self.conn.execute_batch("BEGIN").map_err(|e| self.err(e))
    }

    pub fn commit(&self) -> Result<()> {
        self.conn.execute_batch("COMMIT").map_err(|e| self.err(e))
    }

    /// Inside a transaction opened with `begin`.
    pub fn insert_block_data(&self, sequential_id: i64, data: &[u8]) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare_cached("INSERT INTO block_data (block, data) VALUES (?1, ?2)")
            .map_err(|e| self.err(e))?;
        stmt.execute(params![sequential_id, data])
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Final checks, then the last flag, in one transaction. Our bounds table goes with it:
    /// a complete file has exactly Parsec's schema. `expected`: the (vlob, block) bytes the
    /// stored bounds select, when known.
    /// Returns block_data's (rows, bytes).
    pub fn finish(&mut self, expected: Option<(i64, i64)>) -> Result<(i64, i64)> {
        let path = self.path.clone();
        let corrupted = |reason: String| Error::OutputCorrupted {
            path: path.clone(),
            reason,
        };
        // One pass over block_data (for small blocks its leaf pages are the data, so each
        // pass reads the whole file): `block_data.block` is the primary key, so the blocks
        // without data are those the join leaves out.
        let (blocks, with_data, data_bytes, bad_lengths): (i64, i64, i64, i64) = self
            .conn
            .query_row(
                "SELECT (SELECT COUNT(*) FROM block), COUNT(*), COALESCE(SUM(length(d.data)), 0), \
                        COALESCE(SUM(length(d.data) != b.size), 0) \
                 FROM block b JOIN block_data d ON d.block = b.sequential_id",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .map_err(|e| self.err(e))?;
        let missing = blocks - with_data;
        if missing != 0 {
            return Err(corrupted(format!(
                "{missing} block(s) still lack their data"
            )));
        }
        if bad_lengths != 0 {
            return Err(corrupted(format!(
                "{bad_lengths} block(s) have data whose length differs from their size"
            )));
        }
        let info = self.info()?;
        let (_, vlob_bytes) = self.vlobs_done()?;
        let (_, _, block_bytes) = self.blocks_metadata_done()?;
        // `info`'s totals count rows stamped ≤ T; the file also holds the rows below the
        // markers stamped later (reference §2.3), so it weighs at least the totals, and
        // exactly what its stored bounds select.
        let totals_ok = vlob_bytes >= info.vlobs_total_bytes
            && block_bytes >= info.blocks_total_bytes
            && expected.is_none_or(|e| e == (vlob_bytes, block_bytes));
        if !totals_ok {
            let selected = expected.map_or(String::new(), |(v, b)| {
                format!(" (the snapshot's rows weigh {v} and {b})")
            });
            return Err(corrupted(format!(
                "exported {vlob_bytes} vlob bytes and {block_bytes} block bytes, but the totals recorded at creation are {} and {}{selected}",
                info.vlobs_total_bytes, info.blocks_total_bytes
            )));
        }
        self.in_transaction(|tx| {
            tx.execute("UPDATE info SET blocks_data_export_done = 1", [])?;
            tx.execute_batch(&format!("DROP TABLE IF EXISTS {BOUNDS_TABLE}"))
        })?;
        Ok((with_data, data_bytes))
    }
}
