//! Creating an export file: all-or-nothing, never over an existing file.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection};

use super::info::{Bounds, Info};
use super::schema::{BOUNDS_SQL, BOUNDS_TABLE, SCHEMA_SQL};
use crate::error::{Error, Result};

/// Blocks are up to 512 KiB: with SQLite's default 4 KiB pages each is a chain of 128
/// overflow pages, one write system call each. 64 KiB pages (SQLite's largest; any reader
/// opens them) cut that by 16.
const PAGE_SIZE: u32 = 65_536;

/// Creates `path` with the schema, the `info` row and the bounds, all-or-nothing: the file
/// is built under a temporary name in the same directory, then linked into place only if
/// `path` still does not exist. A crash leaves at most a stray `.parsec-export-*.tmp`.
pub fn create(path: &Path, info: &Info, bounds: &Bounds) -> Result<()> {
    let io = |reason: String| Error::OutputIo {
        path: path.to_owned(),
        reason,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    // tempfile creates the file with mode 0600: an export holds a whole workspace.
    let temp = tempfile::Builder::new()
        .prefix(".parsec-export-")
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(|e| io(format!("cannot create a file in {}: {e}", dir.display())))?;
    {
        let mut conn = Connection::open(temp.path()).map_err(|e| Error::sqlite(path, e))?;
        conn.execute_batch(&format!("PRAGMA page_size = {PAGE_SIZE}"))
            .map_err(|e| Error::sqlite(path, e))?;
        let tx = conn.transaction().map_err(|e| Error::sqlite(path, e))?;
        tx.execute_batch(SCHEMA_SQL)
            .and_then(|_| tx.execute_batch(BOUNDS_SQL))
            .and_then(|_| {
                tx.execute(
                    "INSERT INTO info (organization_id, realm_id, root_verify_key, snapshot_timestamp, \
                     vlobs_total_bytes, blocks_total_bytes) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        info.organization_id,
                        info.realm_id.as_bytes().as_slice(),
                        info.root_verify_key,
                        info.snapshot_timestamp,
                        info.vlobs_total_bytes,
                        info.blocks_total_bytes
                    ],
                )
            })
            .and_then(|_| {
                tx.execute(
                    &format!("INSERT INTO {BOUNDS_TABLE} VALUES (?1, ?2, ?3, ?4, ?5)"),
                    params![
                        bounds.vlob_marker,
                        bounds.vlob_time_bound,
                        bounds.block_marker,
                        bounds.block_time_bound,
                        concat!("parsec-sequester ", env!("CARGO_PKG_VERSION"))
                    ],
                )
            })
            .map_err(|e| Error::sqlite(path, e))?;
        tx.commit().map_err(|e| Error::sqlite(path, e))?;
        conn.close().map_err(|(_, e)| Error::sqlite(path, e))?;
    }
    temp.as_file()
        .sync_all()
        .map_err(|e| io(format!("cannot sync: {e}")))?;
    temp.persist_noclobber(path).map_err(|e| {
        if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            io("appeared while the export was being created (another run?); nothing was overwritten".into())
        } else {
            io(format!("cannot create it: {}", e.error))
        }
    })?;
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
