//! The realm-export file schema (magic 87948, version 1), table for table the same as the
//! files Parsec's exporter writes, plus one table of our own that exists only while an export
//! is in progress.

pub const MAGIC: i64 = 87948;
pub const VERSION: i64 = 1;

/// Tables in Parsec's creation order; only `info` uses IF NOT EXISTS, as in Parsec's files.
pub const SCHEMA_SQL: &str = "
CREATE TABLE IF NOT EXISTS info (
    magic INTEGER UNIQUE NOT NULL DEFAULT 87948,
    version INTEGER NOT NULL DEFAULT 1,
    organization_id VARCHAR(32) NOT NULL,
    realm_id BLOB NOT NULL,
    root_verify_key BLOB NOT NULL,
    snapshot_timestamp INTEGER NOT NULL,
    vlobs_total_bytes INTEGER NOT NULL,
    blocks_total_bytes INTEGER NOT NULL,
    certificates_export_done INTEGER NOT NULL DEFAULT 0,
    vlobs_export_done INTEGER NOT NULL DEFAULT 0,
    blocks_metadata_export_done INTEGER NOT NULL DEFAULT 0,
    blocks_data_export_done INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE common_certificate (
    _id INTEGER PRIMARY KEY,
    certificate BLOB NOT NULL
);
CREATE TABLE sequester_certificate (
    _id INTEGER PRIMARY KEY,
    certificate BLOB NOT NULL
);
CREATE TABLE realm_certificate (
    _id INTEGER PRIMARY KEY,
    certificate BLOB NOT NULL
);
CREATE TABLE realm_keys_bundle (
    key_index INTEGER PRIMARY KEY,
    keys_bundle BLOB NOT NULL
);
CREATE TABLE realm_keys_bundle_access (
    _id INTEGER PRIMARY KEY,
    user_id BLOB NOT NULL,
    key_index INTEGER NOT NULL,
    access BLOB NOT NULL
);
CREATE TABLE realm_sequester_keys_bundle_access (
    _id INTEGER PRIMARY KEY,
    sequester_service_id BLOB NOT NULL,
    key_index INTEGER NOT NULL,
    access BLOB NOT NULL
);
CREATE TABLE vlob_atom (
    sequential_id INTEGER PRIMARY KEY,
    vlob_id BLOB NOT NULL,
    version INTEGER NOT NULL,
    key_index INTEGER NOT NULL,
    blob BLOB NOT NULL,
    size INTEGER NOT NULL,
    author BLOB NOT NULL,
    timestamp INTEGER NOT NULL,
    UNIQUE(vlob_id, timestamp)
);
CREATE TABLE block (
    sequential_id INTEGER PRIMARY KEY,
    block_id BLOB NOT NULL UNIQUE,
    author BLOB NOT NULL,
    size INTEGER NOT NULL,
    key_index INTEGER NOT NULL
);
CREATE TABLE block_data (
    block INTEGER PRIMARY KEY REFERENCES block(sequential_id),
    data BLOB NOT NULL
);
";

/// Our resume state: the row-set bounds fixed when the file was created, so that every
/// later run exports exactly the same rows whatever the server received since. Readers name
/// the columns they use, so an extra table is invisible to them; it is dropped when the
/// export completes, leaving exactly Parsec's schema. A file without it (incomplete) was
/// started by Parsec's exporter and is resumed with Parsec's bounds.
pub const BOUNDS_TABLE: &str = "parsec_sequester_bounds";

pub const BOUNDS_SQL: &str = "
CREATE TABLE parsec_sequester_bounds (
    vlob_marker INTEGER NOT NULL,
    vlob_time_bound INTEGER NOT NULL,
    block_marker INTEGER NOT NULL,
    block_time_bound INTEGER NOT NULL,
    created_by TEXT NOT NULL
);
";

/// One table of the format: its columns in declaration order, and the key its rows are
/// ordered by (the reader's order, and the digest's).
#[derive(Debug, Clone, Copy)]
pub struct TableDef {
    pub name: &'static str,
    pub columns: &'static [&'static str],
    pub key: &'static str,
}

/// The ten tables of the format, in Parsec's creation order.
pub const TABLES: [TableDef; 10] = [
    TableDef {
        name: "info",
        columns: &[
            "magic",
            "version",
            "organization_id",
            "realm_id",
            "root_verify_key",
            "snapshot_timestamp",
            "vlobs_total_bytes",
            "blocks_total_bytes",
            "certificates_export_done",
            "vlobs_export_done",
            "blocks_metadata_export_done",
            "blocks_data_export_done",
        ],
        key: "magic",
    },
    TableDef {
        name: "common_certificate",
        columns: &["_id", "certificate"],
        key: "_id",
    },
    TableDef {
        name: "sequester_certificate",
        columns: &["_id", "certificate"],
        key: "_id",
    },
    TableDef {
        name: "realm_certificate",
        columns: &["_id", "certificate"],
        key: "_id",
    },
    TableDef {
        name: "realm_keys_bundle",
        columns: &["key_index", "keys_bundle"],
        key: "key_index",
    },
    TableDef {
        name: "realm_keys_bundle_access",
        columns: &["_id", "user_id", "key_index", "access"],
        key: "_id",
    },
    TableDef {
        name: "realm_sequester_keys_bundle_access",
        columns: &["_id", "sequester_service_id", "key_index", "access"],
        key: "_id",
    },
    TableDef {
        name: "vlob_atom",
        columns: &[
            "sequential_id",
            "vlob_id",
            "version",
            "key_index",
            "blob",
            "size",
            "author",
            "timestamp",
        ],
        key: "sequential_id",
    },
    TableDef {
        name: "block",
        columns: &["sequential_id", "block_id", "author", "size", "key_index"],
        key: "sequential_id",
    },
    TableDef {
        name: "block_data",
        columns: &["block", "data"],
        key: "block",
    },
];
