//! Reading an export file without ever changing it, not even its mtime or its journal mode
//! (Parsec's reader switches files to WAL mode on open and creates `-wal`/`-shm` files).
//!
//! The file is opened with SQLite's `immutable` flag: no locks, no journal or WAL lookup, no
//! side file created. That is only correct when the main file alone holds the committed
//! content, so a pending `-journal` (interrupted write) or a non-empty `-wal` (content not
//! yet checkpointed) is reported instead of being read around; and the file's size and mtime
//! are compared before and after, to catch a writer that started meanwhile.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rusqlite::{Connection, OpenFlags};

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";
const HEADER_LEN: usize = 100;

/// What the SQLite header says about the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqliteHeader {
    pub page_size: u32,
    pub pages: u64,
    /// Bytes 18–19 are 2: the file was switched to WAL mode (by a Parsec client, typically).
    pub wal_mode: bool,
}

/// Why the file cannot be read as a consistent SQLite database on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreadable {
    NotSqlite(String),
    Truncated(String),
    PendingJournal(PathBuf),
    PendingWal(PathBuf),
}

impl Unreadable {
    /// A stable identifier of the check that failed (used in reports).
    pub fn check(&self) -> &'static str {
        match self {
            Unreadable::NotSqlite(_) => "not_sqlite",
            Unreadable::Truncated(_) => "truncated",
            Unreadable::PendingJournal(_) => "pending_journal",
            Unreadable::PendingWal(_) => "pending_wal",
        }
    }
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unreadable::NotSqlite(why) | Unreadable::Truncated(why) => f.write_str(why),
            Unreadable::PendingJournal(p) => write!(
                f,
                "{} exists: a write to the file was interrupted or is in progress, so the file alone is not in a committed state. Once no program is using it, let SQLite roll the write back (resume the export, or open the file once with `sqlite3`), then verify again",
                p.display()
            ),
            Unreadable::PendingWal(p) => write!(
                f,
                "{} exists and is not empty: part of the content is in that side file (the export is open in a program such as a Parsec client, or was not closed cleanly). Close that program, or checkpoint a copy with `sqlite3 COPY 'PRAGMA wal_checkpoint(TRUNCATE)'`, then verify the file that will be handed over",
                p.display()
            ),
        }
    }
}

/// Size and modification time: "untouched" means neither changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    pub len: u64,
    pub modified: Option<SystemTime>,
}

impl FileStamp {
    pub fn of(path: &Path) -> std::io::Result<Self> {
        let meta = std::fs::metadata(path)?;
        Ok(FileStamp {
            len: meta.len(),
            modified: meta.modified().ok(),
        })
    }
}

/// Reads and checks the 100-byte SQLite header against the file's length.
pub fn read_header(path: &Path) -> std::io::Result<Result<SqliteHeader, Unreadable>> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let mut header = Vec::with_capacity(HEADER_LEN);
    file.by_ref()
        .take(HEADER_LEN as u64)
        .read_to_end(&mut header)?;
    Ok(parse_header(&header, len))
}

fn parse_header(header: &[u8], len: u64) -> Result<SqliteHeader, Unreadable> {
    if len == 0 {
        return Err(Unreadable::NotSqlite(
            "the file is empty (0 bytes): it is not an export".into(),
        ));
    }
    if header.len() < SQLITE_MAGIC.len() || &header[..SQLITE_MAGIC.len()] != SQLITE_MAGIC {
        return Err(Unreadable::NotSqlite(
            "not an SQLite database: the file does not start with the SQLite header (\"SQLite format 3\")".into(),
        ));
    }
    if header.len() < HEADER_LEN {
        return Err(Unreadable::Truncated(format!(
            "truncated: the file has {len} bytes, less than SQLite's 100-byte header"
        )));
    }
    let be16 = |at: usize| u16::from_be_bytes([header[at], header[at + 1]]);
    let be32 = |at: usize| {
        u32::from_be_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    let page_size = match be16(16) {
        1 => 65_536,
        n => u32::from(n),
    };
    if !(512..=65_536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(Unreadable::NotSqlite(format!(
            "damaged SQLite header: invalid page size {page_size}"
        )));
    }
    // The page count in the header is valid when its "version valid for" matches the change
    // counter (SQLite ≥ 3.7.0 always writes it so).
    let header_pages = u64::from(be32(28));
    let pages = if header_pages != 0 && be32(92) == be32(24) {
        header_pages
    } else {
        len / u64::from(page_size)
    };
    let expected = pages * u64::from(page_size);
    if len < expected || !len.is_multiple_of(u64::from(page_size)) {
        return Err(Unreadable::Truncated(format!(
            "truncated: the SQLite header says {pages} pages of {page_size} bytes ({expected} bytes) but the file has {len} bytes. Copy the file again from its source"
        )));
    }
    Ok(SqliteHeader {
        page_size,
        pages,
        wal_mode: header[18] == 2 || header[19] == 2,
    })
}

/// A non-empty `-journal` or `-wal` beside the file means the file alone is not the
/// committed content.
pub fn pending_side_file(path: &Path) -> Option<Unreadable> {
    let side = |suffix: &str| {
        let mut name = OsString::from(path.as_os_str());
        name.push(suffix);
        let p = PathBuf::from(name);
        let non_empty = std::fs::metadata(&p).is_ok_and(|m| m.len() > 0);
        non_empty.then_some(p)
    };
    if let Some(p) = side("-journal") {
        return Some(Unreadable::PendingJournal(p));
    }
    side("-wal").map(Unreadable::PendingWal)
}

/// Opens the file read-only and immutable. Call `read_header` and `pending_side_file` first.
pub fn open(path: &Path) -> rusqlite::Result<Connection> {
    let uri = format!("file:{}?mode=ro&immutable=1", uri_path(path));
    Connection::open_with_flags(
        uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
}

/// Percent-encodes everything but unreserved characters and `/`, so that `?`, `#` or `%`
/// in a file name cannot be taken for URI syntax.
fn uri_path(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut out = String::new();
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(page_size: u16, pages: u32, mode: u8) -> Vec<u8> {
        let mut h = vec![0u8; HEADER_LEN];
        h[..16].copy_from_slice(SQLITE_MAGIC);
        h[16..18].copy_from_slice(&page_size.to_be_bytes());
        h[18] = mode;
        h[19] = mode;
        h[24..28].copy_from_slice(&7u32.to_be_bytes());
        h[28..32].copy_from_slice(&pages.to_be_bytes());
        h[92..96].copy_from_slice(&7u32.to_be_bytes());
        h
    }

    #[test]
    fn headers_are_checked_against_the_length() {
        let h = header(4096, 14, 1);
        assert_eq!(
            parse_header(&h, 57_344),
            Ok(SqliteHeader {
                page_size: 4096,
                pages: 14,
                wal_mode: false
            })
        );
        assert!(parse_header(&header(4096, 14, 2), 57_344).unwrap().wal_mode);
        assert!(matches!(
            parse_header(&h, 40_000),
            Err(Unreadable::Truncated(_))
        ));
        assert!(matches!(
            parse_header(&h, 57_344 - 4096),
            Err(Unreadable::Truncated(_))
        ));
        assert!(matches!(
            parse_header(&h[..50], 50),
            Err(Unreadable::Truncated(_))
        ));
        assert!(matches!(
            parse_header(b"hello", 5),
            Err(Unreadable::NotSqlite(_))
        ));
        assert!(matches!(
            parse_header(b"", 0),
            Err(Unreadable::NotSqlite(_))
        ));
        assert!(matches!(
            parse_header(&header(1000, 14, 1), 14_000),
            Err(Unreadable::NotSqlite(_))
        ));
    }

    #[test]
    fn uri_paths_escape_uri_syntax() {
        assert_eq!(
            uri_path(Path::new("/a b/x?y#z%.sqlite")),
            "/a%20b/x%3Fy%23z%25.sqlite"
        );
    }
}
