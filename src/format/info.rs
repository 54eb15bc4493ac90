//! Reading and validating the `info` row (and our bounds table) of an existing file.

use std::path::{Path, PathBuf};

use rusqlite::{types::ValueRef, Connection, OpenFlags, OptionalExtension};
use uuid::Uuid;

use super::schema::{BOUNDS_TABLE, MAGIC, VERSION};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Steps {
    pub certificates: bool,
    pub vlobs: bool,
    pub blocks_metadata: bool,
    pub blocks_data: bool,
}

impl Steps {
    pub fn complete(&self) -> bool {
        self.certificates && self.vlobs && self.blocks_metadata && self.blocks_data
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    pub organization_id: String,
    pub realm_id: Uuid,
    pub root_verify_key: Vec<u8>,
    pub snapshot_timestamp: i64,
    pub vlobs_total_bytes: i64,
    pub blocks_total_bytes: i64,
    pub steps: Steps,
}

/// Which rows belong to the export (README, "Consistency"): a row is in when its `_id` is
/// at most the marker and its `created_on` at most the time bound (µs; `NO_TIME_BOUND`: the
/// marker alone decides).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub vlob_marker: i64,
    pub vlob_time_bound: i64,
    pub block_marker: i64,
    pub block_time_bound: i64,
}

/// A time bound that keeps every row below the marker. Files made before the vlob rule was
/// the insertion-order prefix store T as their vlob time bound instead.
pub const NO_TIME_BOUND: i64 = i64::MAX;

#[derive(Debug)]
pub enum ExistingFile {
    Missing,
    Export { info: Info, bounds: Option<Bounds> },
}

/// Looks at `path` without modifying it: read-only SQLite connection, no journal change.
pub fn read_existing(path: &Path) -> Result<ExistingFile> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ExistingFile::Missing),
        Err(e) => {
            return Err(Error::OutputIo {
                path: path.to_owned(),
                reason: format!("cannot read it: {e}"),
            })
        }
        Ok(meta) if meta.is_dir() => {
            return Err(Error::OutputIo {
                path: path.to_owned(),
                reason: "is a directory".into(),
            })
        }
        Ok(_) => {}
    }
    let conn = open_read_only(path)?;
    let info = read_info(&conn, path)?;
    let bounds = read_bounds(&conn, path)?;
    Ok(ExistingFile::Export { info, bounds })
}

fn open_read_only(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| not_export(path, &e))?;
    // A file left with a hot journal by a crash can only be read once SQLite rolls the
    // unfinished transaction back, which needs a writable connection. Rolling back restores
    // the last committed state; any SQLite client would do the same on open.
    match conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(())) {
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::ReadOnly => {
            drop(conn);
            let rw = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(|e| not_export(path, &e))?;
            rw.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
                .map_err(|e| not_export(path, &e))?;
            Ok(rw)
        }
        Err(e) => Err(not_export(path, &e)),
        Ok(()) => Ok(conn),
    }
}

fn not_export(path: &Path, err: &rusqlite::Error) -> Error {
    // An SQLite file whose pages are damaged (truncated, overwritten) is a corrupted file,
    // not "something else".
    if err.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseCorrupt) {
        return corrupted(
            path,
            &format!("{err}; it was left untouched: start a new export into another file"),
        );
    }
    Error::OutputNotExport {
        path: path.to_owned(),
        reason: format!(
            "not a valid realm export database ({err}); give another output path (the file was left untouched)"
        ),
    }
}

fn corrupted(path: &Path, what: &str) -> Error {
    Error::OutputCorrupted {
        path: path.to_owned(),
        reason: what.to_owned(),
    }
}

pub(crate) fn read_info(conn: &Connection, path: &Path) -> Result<Info> {
    let sql = "SELECT version, organization_id, realm_id, root_verify_key, snapshot_timestamp, \
               vlobs_total_bytes, blocks_total_bytes, certificates_export_done, vlobs_export_done, \
               blocks_metadata_export_done, blocks_data_export_done FROM info WHERE magic = ?1";
    let path_buf: PathBuf = path.to_owned();
    let invalid = |what: &str| {
        Error::OutputNotExport {
        path: path_buf.clone(),
        reason: format!("not a valid realm export database: {what}; give another output path (the file was left untouched)"),
    }
    };
    let row = conn
        .query_row(sql, [MAGIC], |row| {
            let mut values = Vec::with_capacity(11);
            for i in 0..11 {
                values.push(rusqlite::types::Value::from(row.get_ref(i)?));
            }
            Ok(values)
        })
        .optional()
        .map_err(|e| not_export(path, &e))?;
    let Some(values) = row else {
        return Err(invalid("no info row with magic 87948"));
    };
    let as_ref = |i: usize| ValueRef::from(&values[i]);
    let int = |i: usize| match as_ref(i) {
        ValueRef::Integer(v) => Some(v),
        _ => None,
    };
    let blob = |i: usize| match as_ref(i) {
        ValueRef::Blob(v) => Some(v.to_vec()),
        _ => None,
    };
    let version = int(0).ok_or_else(|| invalid("`version` is not an integer"))?;
    if version != VERSION {
        return Err(Error::OutputNotExport {
            path: path.to_owned(),
            reason: format!("unsupported export format version {version} (this tool reads and writes version {VERSION})"),
        });
    }
    let organization_id = match as_ref(1) {
        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
        _ => return Err(invalid("`organization_id` is not text")),
    };
    let realm_bytes = blob(2).ok_or_else(|| invalid("`realm_id` is not a blob"))?;
    let realm_id =
        Uuid::from_slice(&realm_bytes).map_err(|_| invalid("`realm_id` is not a 16-byte UUID"))?;
    let snapshot_timestamp =
        int(4).ok_or_else(|| invalid("`snapshot_timestamp` is not an integer"))?;
    let root_verify_key = blob(3).ok_or_else(|| invalid("`root_verify_key` is not a blob"))?;
    let vlobs_total_bytes =
        int(5).ok_or_else(|| corrupted(path, "`vlobs_total_bytes` is not an integer"))?;
    let blocks_total_bytes =
        int(6).ok_or_else(|| corrupted(path, "`blocks_total_bytes` is not an integer"))?;
    let flag = |i: usize, name: &str| match int(i) {
        Some(0) => Ok(false),
        Some(1) => Ok(true),
        _ => Err(corrupted(
            path,
            &format!("step flag `{name}` is neither 0 nor 1"),
        )),
    };
    let steps = Steps {
        certificates: flag(7, "certificates_export_done")?,
        vlobs: flag(8, "vlobs_export_done")?,
        blocks_metadata: flag(9, "blocks_metadata_export_done")?,
        blocks_data: flag(10, "blocks_data_export_done")?,
    };
    Ok(Info {
        organization_id,
        realm_id,
        root_verify_key,
        snapshot_timestamp,
        vlobs_total_bytes,
        blocks_total_bytes,
        steps,
    })
}

pub(crate) fn read_bounds(conn: &Connection, path: &Path) -> Result<Option<Bounds>> {
    let exists: bool = conn
        .query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [BOUNDS_TABLE],
            |r| r.get(0),
        )
        .map_err(|e| not_export(path, &e))?;
    if !exists {
        return Ok(None);
    }
    stored_bounds(conn)
        .map_err(|e| corrupted(path, &format!("unreadable `{BOUNDS_TABLE}` table: {e}")))?
        .ok_or_else(|| corrupted(path, &format!("empty `{BOUNDS_TABLE}` table")))
        .map(Some)
}

/// The bounds stored in a file whose `parsec_sequester_bounds` table is known to exist.
pub fn stored_bounds(conn: &Connection) -> rusqlite::Result<Option<Bounds>> {
    conn.query_row(
        &format!(
            "SELECT vlob_marker, vlob_time_bound, block_marker, block_time_bound FROM {BOUNDS_TABLE}"
        ),
        [],
        |r| {
            Ok(Bounds {
                vlob_marker: r.get(0)?,
                vlob_time_bound: r.get(1)?,
                block_marker: r.get(2)?,
                block_time_bound: r.get(3)?,
            })
        },
    )
    .optional()
}
