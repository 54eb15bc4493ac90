//! The tool's error type. Every variant explains what went wrong and what to do, and maps to
//! its own documented exit code (see README "Exit codes"), so scripts can tell failures apart.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Usage(String),

    #[error("organization `{0}` not found in the database (check --organization; names are case-sensitive)")]
    OrganizationNotFound(String),
    #[error("organization `{0}` exists but was never bootstrapped: it has no data to export")]
    OrganizationNotBootstrapped(String),
    #[error("realm {realm} not found in organization `{organization}` (list the realms with `parsec-sequester realms` or `human-accesses`)")]
    RealmNotFound { organization: String, realm: String },
    #[error(
        "realm {0} has been deleted on the server: its data was purged and cannot be exported"
    )]
    RealmDeleted(String),
    #[error("snapshot {snapshot} is older than the realm's creation (its first certificate is from {created}): choose a later --snapshot-timestamp")]
    SnapshotBeforeRealm { snapshot: String, created: String },
    #[error("snapshot {snapshot} is too recent: the server may still accept data timestamped before it; the latest allowed value is now − 320 s = {latest}")]
    SnapshotTooRecent { snapshot: String, latest: String },

    #[error("cannot connect to the database {target}: {reason}")]
    DbUnreachable { target: String, reason: String },
    #[error("the database {target} refused the credentials: {reason} (check the user and password in --db / PARSEC_DB)")]
    DbAuth { target: String, reason: String },
    #[error("{0}")]
    DbSchema(String),
    #[error("database error while {context}: {reason}")]
    Db { context: String, reason: String },
    #[error("the server's data is inconsistent: {0}")]
    SourceInconsistent(String),

    #[error(
        "block {block} is listed in the realm's metadata but missing from the blockstore {store}"
    )]
    BlockMissing { block: String, store: String },
    #[error("block {block}: the blockstore {store} returned {got} bytes but the block's metadata says {expected}")]
    BlockSizeMismatch {
        block: String,
        store: String,
        got: usize,
        expected: i64,
    },
    #[error("blockstore {store} is unavailable: {reason} (whatever was already exported is saved: once the store answers again, re-run the same command)")]
    BlockstoreUnavailable { store: String, reason: String },
    #[error("{0}")]
    BlockstoreConfig(String),

    #[error("{path}: {reason}")]
    OutputNotExport { path: PathBuf, reason: String },
    #[error("{path} is an export of something else: {reason}. Choose another output file (nothing was written)")]
    OutputMismatch { path: PathBuf, reason: String },
    #[error("{path}: {reason}")]
    OutputIo { path: PathBuf, reason: String },
    #[error("{path} appears corrupted: {reason}")]
    OutputCorrupted { path: PathBuf, reason: String },

    #[error("{path}: {reason}")]
    VerifyInput { path: PathBuf, reason: String },
    #[error("{path} failed verification: {problems} problem(s), listed above")]
    VerifyFailed { path: PathBuf, problems: usize },
    #[error("{path} differs from the database: {differences} difference(s), listed above")]
    VerifyDiffers { path: PathBuf, differences: usize },

    #[error("{path}: {reason}")]
    ExtractInput { path: PathBuf, reason: String },
    #[error("{0}")]
    ExtractKey(String),
    #[error("{0}")]
    ExtractTime(String),
    #[error("OUTPUT_DIR {path} {reason}")]
    ExtractOutput { path: PathBuf, reason: String },
    #[error("{0}")]
    ExtractNothingReadable(String),
    #[error("partial result: {failures} check(s) failed or entries could not be read, listed in the report{where_}")]
    ExtractPartial { failures: u64, where_: String },

    #[error("interrupted by {signal}")]
    Interrupted { signal: &'static str, code: i32 },

    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The process exit code for this error (documented in the README; keep them stable).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Internal(_) => 1,
            Error::Usage(_) => 2,
            Error::OrganizationNotFound(_) | Error::OrganizationNotBootstrapped(_) => 10,
            Error::RealmNotFound { .. } => 11,
            Error::RealmDeleted(_) => 12,
            Error::SnapshotBeforeRealm { .. } => 13,
            Error::SnapshotTooRecent { .. } => 14,
            Error::DbUnreachable { .. } => 20,
            Error::DbAuth { .. } => 21,
            Error::DbSchema(_) => 22,
            Error::Db { .. } => 23,
            Error::SourceInconsistent(_) => 24,
            Error::BlockMissing { .. } => 30,
            Error::BlockSizeMismatch { .. } => 31,
            Error::BlockstoreUnavailable { .. } => 32,
            Error::BlockstoreConfig(_) => 33,
            Error::OutputNotExport { .. } => 40,
            Error::OutputMismatch { .. } => 41,
            Error::OutputIo { .. } => 42,
            Error::OutputCorrupted { .. } => 43,
            Error::VerifyFailed { .. } => 50,
            Error::VerifyDiffers { .. } => 51,
            Error::VerifyInput { .. } => 52,
            Error::ExtractPartial { .. } => 3,
            Error::ExtractInput { .. } => 60,
            Error::ExtractKey(_) => 61,
            Error::ExtractTime(_) => 62,
            Error::ExtractOutput { .. } => 63,
            Error::ExtractNothingReadable(_) => 64,
            Error::Interrupted { code, .. } => *code,
        }
    }

    pub fn db(context: impl Into<String>, err: tokio_postgres::Error) -> Self {
        Error::Db {
            context: context.into(),
            reason: crate::db::describe_pg_error(&err),
        }
    }

    pub fn sqlite(path: &std::path::Path, err: rusqlite::Error) -> Self {
        if err.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseCorrupt) {
            return Error::OutputCorrupted {
                path: path.to_owned(),
                reason: format!(
                    "SQLite error: {err}; it cannot be continued: start a new export into another file"
                ),
            };
        }
        let hint = if err.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) {
            " (what was exported so far is saved: free some space, then run the same command again to resume)"
        } else {
            ""
        };
        Error::OutputIo {
            path: path.to_owned(),
            reason: format!("SQLite error: {err}{hint}"),
        }
    }
}
