//! The export file, read-only and immutable (reference §2.1): its `info` row, and the rows
//! extract reads (certificates, bundles, accesses, vlob versions, blocks). Never written.

use std::path::Path;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::format::untouched;
use crate::ids::Micros;
use crate::verify::info as verify_info;
use crate::verify::report::Findings;

#[derive(Debug, Clone)]
pub struct Info {
    pub organization_id: String,
    pub realm_id: Uuid,
    pub root_verify_key: [u8; 32],
    pub snapshot: Micros,
}

/// One `vlob_atom` row without its blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VlobRow {
    pub sequential_id: i64,
    pub vlob_id: Uuid,
    pub version: u32,
    pub key_index: u64,
    pub author: Uuid,
    pub timestamp: Micros,
}

/// A `block` row and its data, if any.
pub struct BlockRow {
    pub key_index: u64,
    pub data: Option<Vec<u8>>,
}

pub struct Source {
    pub conn: Connection,
    pub info: Info,
    /// The file's size when opened.
    pub bytes: u64,
}

fn input(path: &Path, reason: impl Into<String>) -> Error {
    Error::ExtractInput {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

/// Opens the connection alone (content workers open one each).
pub fn connect(path: &Path) -> Result<Connection> {
    untouched::open(path).map_err(|e| input(path, format!("SQLite cannot open it: {e}")))
}

impl Source {
    pub fn open(path: &Path) -> Result<Self> {
        let meta =
            std::fs::metadata(path).map_err(|e| input(path, format!("cannot read it: {e}")))?;
        if meta.is_dir() {
            return Err(input(path, "is a directory, not an export file"));
        }
        match untouched::read_header(path)
            .map_err(|e| input(path, format!("cannot read it: {e}")))?
        {
            Ok(_) => {}
            Err(why) => return Err(input(path, why.to_string())),
        }
        if let Some(why) = untouched::pending_side_file(path) {
            return Err(input(path, why.to_string()));
        }
        let conn = connect(path)?;
        let info = read_info(&conn).map_err(|e| input(path, e))?;
        Ok(Source {
            conn,
            info,
            bytes: meta.len(),
        })
    }

    /// `(_id, certificate)` of a certificate table, in `_id` order.
    pub fn certificates(&self, table: &'static str) -> rusqlite::Result<Vec<(i64, Vec<u8>)>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT _id, certificate FROM {table} ORDER BY _id"
        ))?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, blob(r.get_ref(1)?))))?;
        rows.collect()
    }

    pub fn keys_bundle(&self, key_index: u64) -> rusqlite::Result<Option<Vec<u8>>> {
        self.conn
            .query_row(
                "SELECT keys_bundle FROM realm_keys_bundle WHERE key_index = ?1",
                [key_index as i64],
                |r| Ok(blob(r.get_ref(0)?)),
            )
            .optional()
    }

    /// The service's accesses to bundle `key_index`, in `_id` order.
    pub fn sequester_accesses(
        &self,
        service: Uuid,
        key_index: u64,
    ) -> rusqlite::Result<Vec<Vec<u8>>> {
        let mut stmt = self.conn.prepare(
            "SELECT access FROM realm_sequester_keys_bundle_access \
             WHERE sequester_service_id = ?1 AND key_index = ?2 ORDER BY _id",
        )?;
        let rows = stmt.query_map(
            rusqlite::params![service.as_bytes().as_slice(), key_index as i64],
            |r| Ok(blob(r.get_ref(0)?)),
        )?;
        rows.collect()
    }

    /// Every vlob row, in `sequential_id` order, to `each`: `Err(sequential_id)` for a row
    /// whose columns have the wrong types (to be reported).
    pub fn each_vlob_row(
        &self,
        each: &mut dyn FnMut(std::result::Result<VlobRow, i64>) -> rusqlite::Result<()>,
    ) -> rusqlite::Result<()> {
        let mut stmt = self.conn.prepare(
            "SELECT sequential_id, vlob_id, version, key_index, author, timestamp \
             FROM vlob_atom ORDER BY sequential_id",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let seq: i64 = r.get(0)?;
            let row = (|| {
                Some(VlobRow {
                    sequential_id: seq,
                    vlob_id: id(r.get_ref(1).ok()?)?,
                    version: u32::try_from(int(r.get_ref(2).ok()?)?).ok()?,
                    key_index: u64::try_from(int(r.get_ref(3).ok()?)?).ok()?,
                    author: id(r.get_ref(4).ok()?)?,
                    timestamp: int(r.get_ref(5).ok()?)?,
                })
            })();
            each(row.ok_or(seq))?;
        }
        Ok(())
    }

    /// When `vlob`'s version 1 was written (the first, in time order, if several), among
    /// rows whose columns have the right types (`each_vlob_row`'s rule): read before the
    /// rows are loaded, to refuse an `--at` before anything is written.
    pub fn first_version(&self, vlob: Uuid) -> rusqlite::Result<Option<Micros>> {
        self.conn
            .query_row(
                "SELECT timestamp FROM vlob_atom WHERE vlob_id = ?1 AND version = 1 AND typeof(version) = 'integer' \
                 AND typeof(timestamp) = 'integer' AND typeof(key_index) = 'integer' \
                 AND key_index >= 0 AND typeof(author) = 'blob' AND length(author) = 16 \
                 ORDER BY timestamp LIMIT 1",
                [vlob.as_bytes().as_slice()],
                |r| r.get(0),
            )
            .optional()
    }

    pub fn vlob_blob(&self, sequential_id: i64) -> rusqlite::Result<Vec<u8>> {
        vlob_blob(&self.conn, sequential_id)
    }
}

pub fn vlob_blob(conn: &Connection, sequential_id: i64) -> rusqlite::Result<Vec<u8>> {
    conn.query_row(
        "SELECT blob FROM vlob_atom WHERE sequential_id = ?1",
        [sequential_id],
        |r| Ok(blob(r.get_ref(0)?)),
    )
}

/// The `block` row of `block_id`, left-joined with its data on the sequential id (§6.4).
pub fn block(conn: &Connection, block_id: Uuid) -> rusqlite::Result<Option<BlockRow>> {
    conn.query_row(
        "SELECT b.key_index, d.data FROM block b LEFT JOIN block_data d ON d.block = b.sequential_id \
         WHERE b.block_id = ?1",
        [block_id.as_bytes().as_slice()],
        |r| {
            Ok(BlockRow {
                key_index: int(r.get_ref(0)?)
                    .and_then(|k| u64::try_from(k).ok())
                    .unwrap_or(u64::MAX),
                data: match r.get_ref(1)? {
                    ValueRef::Blob(b) => Some(b.to_vec()),
                    _ => None,
                },
            })
        },
    )
    .optional()
}

fn blob(v: ValueRef<'_>) -> Vec<u8> {
    match v {
        ValueRef::Blob(b) => b.to_vec(),
        _ => Vec::new(),
    }
}

fn int(v: ValueRef<'_>) -> Option<i64> {
    match v {
        ValueRef::Integer(i) => Some(i),
        _ => None,
    }
}

fn id(v: ValueRef<'_>) -> Option<Uuid> {
    match v {
        ValueRef::Blob(b) => Uuid::from_slice(b).ok(),
        _ => None,
    }
}

/// The `info` row, through verify's check (every bad field, not just the first, and the
/// step flags): any problem refuses the file, all of them named in one message.
fn read_info(conn: &Connection) -> std::result::Result<Info, String> {
    let has_info: bool = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'info'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map_err(|e| format!("SQLite cannot read it: {e}"))?
        > 0;
    if !has_info {
        return Err("not a realm export: the SQLite file has no `info` table".into());
    }
    let mut findings = Findings::default();
    let checked = verify_info::check(conn, &mut findings)
        .map_err(|e| format!("its `info` table cannot be read: {e}"))?;
    if let Some(info) = &checked {
        verify_info::check_steps(&info.report.steps, None, "extract", &mut findings);
    }
    let problems: Vec<String> = findings.problems.into_iter().map(|p| p.message).collect();
    match checked {
        Some(info) if problems.is_empty() => Ok(Info {
            organization_id: info.report.organization_id,
            realm_id: info.realm_id,
            root_verify_key: info.root_verify_key,
            snapshot: info.snapshot,
        }),
        // `check` gives `None` only with a problem; the fallback keeps this total.
        _ if problems.is_empty() => Err("its `info` row cannot be read".into()),
        _ => Err(problems.join("; ")),
    }
}
