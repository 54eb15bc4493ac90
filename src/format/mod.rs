//! The realm-export SQLite file: schema, `info` row, creation, validation and writes.

mod create;
pub mod digest;
mod file;
mod info;
pub mod schema;
pub mod untouched;

pub use create::create;
pub use file::{ExportFile, MissingBlock, CACHE_KIB};
pub use info::{read_existing, stored_bounds, Bounds, ExistingFile, Info, Steps, NO_TIME_BOUND};
pub use schema::{MAGIC, VERSION};

/// Rows of the three certificate tables, the keys bundles and both access tables: written
/// together in one transaction.
#[derive(Debug, Default, Clone)]
pub struct CertificatesData {
    pub common: Vec<Vec<u8>>,
    pub sequester: Vec<Vec<u8>>,
    pub realm: Vec<Vec<u8>>,
    pub keys_bundles: Vec<(i64, Vec<u8>)>,
    /// (user ID, key index, access)
    pub user_accesses: Vec<([u8; 16], i64, Vec<u8>)>,
    /// (sequester service ID, key index, access)
    pub sequester_accesses: Vec<([u8; 16], i64, Vec<u8>)>,
}

/// Rows (and bytes, where it applies) per table of an export file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableCounts {
    pub common_certificates: i64,
    pub sequester_certificates: i64,
    pub realm_certificates: i64,
    pub keys_bundles: i64,
    pub user_accesses: i64,
    pub sequester_accesses: i64,
    /// (rows, bytes)
    pub vlobs: (i64, i64),
    pub blocks: (i64, i64),
    pub block_data: (i64, i64),
}

#[derive(Debug, Clone)]
pub struct VlobRow {
    pub sequential_id: i64,
    pub vlob_id: [u8; 16],
    pub version: i64,
    pub key_index: i64,
    pub blob: Vec<u8>,
    pub author: [u8; 16],
    pub timestamp: i64,
}

#[derive(Debug, Clone)]
pub struct BlockRow {
    pub sequential_id: i64,
    pub block_id: [u8; 16],
    pub author: [u8; 16],
    pub size: i64,
    pub key_index: i64,
}
