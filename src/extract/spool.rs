//! What an extraction holds per entry, on disk instead of in memory (a history has an entry
//! per version, about 1.3 KiB each when they all waited in memory for the report):
//! - `Sorter`: records put in one order (a history's versions in time order, the tree's
//!   entries as the walk finds them) read back in another (the report's) from an SQLite
//!   table; with OUTPUT_DIR in its state folder, without one in SQLite's private temporary
//!   database (`$TMPDIR`, deleted when closed).
//! - `Lines` / `Sealed`: finished entries, failures and escaped names appended as lines
//!   (JSON, and the report's text forms) to unnamed temporary files, which the report is
//!   then written from;
//! - `scratch_database`: the scratch tables' SQLite databases (these sorters, the rows'
//!   index `versions`, the history's state `history_paths`).

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::marker::PhantomData;
use std::path::Path;

use rusqlite::{params, Connection};
use serde::de::DeserializeOwned;
use serde::Serialize;
use uuid::Uuid;

/// A sort order, as bytes that compare (as SQLite compares blobs) in that order.
pub trait SortKey: Sized {
    fn bytes(&self) -> Vec<u8>;
    fn from_bytes(bytes: &[u8]) -> Option<Self>;
}

/// The report's order of a history: vlob, then its versions as `Versions` sorts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub vlob: Uuid,
    pub timestamp: i64,
    pub version: u32,
    pub sequential_id: i64,
}

/// Big-endian with the sign bit flipped: signed order as byte order.
fn signed(v: i64) -> [u8; 8] {
    ((v as u64) ^ (1 << 63)).to_be_bytes()
}

fn unsigned(b: &[u8]) -> Option<i64> {
    Some((u64::from_be_bytes(b.try_into().ok()?) ^ (1 << 63)) as i64)
}

impl SortKey for Key {
    fn bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(36);
        b.extend_from_slice(self.vlob.as_bytes());
        b.extend_from_slice(&signed(self.timestamp));
        b.extend_from_slice(&self.version.to_be_bytes());
        b.extend_from_slice(&signed(self.sequential_id));
        b
    }

    fn from_bytes(b: &[u8]) -> Option<Self> {
        if b.len() != 36 {
            return None;
        }
        Some(Key {
            vlob: Uuid::from_slice(&b[..16]).ok()?,
            timestamp: unsigned(&b[16..24])?,
            version: u32::from_be_bytes(b[24..28].try_into().ok()?),
            sequential_id: unsigned(&b[28..36])?,
        })
    }
}

/// A scratch database rebuilt by every run, as `name` in `dir` (a previous run's is
/// replaced), or SQLite's private temporary database: no journal, no fsync, and a bounded
/// cache (the point is not to hold its rows in memory).
pub fn scratch_database(dir: Option<&Path>, name: &str) -> rusqlite::Result<Connection> {
    let conn = match dir {
        Some(dir) => {
            let path = dir.join(name);
            let _ = std::fs::remove_file(&path);
            // Created 0600 (it may hold the workspace's names), never through a symlink;
            // SQLite takes the empty file as a new database.
            super::output::create_private(&path)
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
            Connection::open(path)?
        }
        None => Connection::open("")?,
    };
    conn.execute_batch(
        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -8192;
         PRAGMA temp_store = FILE;",
    )?;
    Ok(conn)
}

/// Records of type `T` put in any order, read sorted by their keys.
pub struct Sorter<K, T> {
    conn: Connection,
    /// The first write error: a sink in the middle of a walk cannot return one.
    error: Option<rusqlite::Error>,
    _t: PhantomData<(K, T)>,
}

/// Rows read per query (keyset pages: no statement stays open between them).
const PAGE: usize = 1024;

impl<K: SortKey, T: Serialize + DeserializeOwned> Sorter<K, T> {
    /// In `dir`, as `name` (a previous run's table is replaced), or in a private temporary
    /// database.
    pub fn create(dir: Option<&Path>, name: &str) -> rusqlite::Result<Self> {
        let conn = scratch_database(dir, name)?;
        conn.execute_batch(
            "CREATE TABLE item (key BLOB PRIMARY KEY, record TEXT) WITHOUT ROWID; BEGIN;",
        )?;
        Ok(Sorter {
            conn,
            error: None,
            _t: PhantomData,
        })
    }

    /// Two records of one key are an error (`finish` returns it): none is dropped.
    pub fn put(&mut self, key: K, record: &T) {
        if self.error.is_some() {
            return;
        }
        let json = match serde_json::to_string(record) {
            Ok(j) => j,
            Err(e) => {
                self.error = Some(rusqlite::Error::ToSqlConversionFailure(Box::new(e)));
                return;
            }
        };
        let r = self
            .conn
            .prepare_cached("INSERT INTO item VALUES (?1, ?2)")
            .and_then(|mut s| s.execute(params![key.bytes(), json]));
        if let Err(e) = r {
            self.error = Some(e);
        }
    }

    /// Ends the writing; the records can then be read.
    pub fn finish(&mut self) -> rusqlite::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.conn.execute_batch("COMMIT")
    }

    /// Every record, in key order (as often as needed).
    pub fn read(&self) -> Reader<'_, K, T> {
        Reader {
            sorter: self,
            after: None,
            page: std::collections::VecDeque::new(),
            done: false,
        }
    }

    fn page(&self, after: Option<&[u8]>) -> rusqlite::Result<Vec<(Vec<u8>, K, T)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT key, record FROM item WHERE key > ?1 ORDER BY key LIMIT ?2")?;
        // Below every key: an empty blob sorts first.
        let rows = stmt.query_map(params![after.unwrap_or(&[]), PAGE as i64], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, String>(1)?))
        })?;
        let bad = |e: String| rusqlite::Error::InvalidColumnType(0, e, rusqlite::types::Type::Blob);
        let mut out = Vec::with_capacity(PAGE);
        for row in rows {
            let (bytes, json) = row?;
            let key = K::from_bytes(&bytes).ok_or_else(|| bad("a key of the wrong size".into()))?;
            let record = serde_json::from_str(&json).map_err(|e| bad(e.to_string()))?;
            out.push((bytes, key, record));
        }
        Ok(out)
    }
}

pub struct Reader<'a, K, T> {
    sorter: &'a Sorter<K, T>,
    after: Option<Vec<u8>>,
    page: std::collections::VecDeque<(K, T)>,
    done: bool,
}

impl<K: SortKey, T: Serialize + DeserializeOwned> Iterator for Reader<'_, K, T> {
    type Item = rusqlite::Result<(K, T)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.page.is_empty() && !self.done {
            match self.sorter.page(self.after.as_deref()) {
                Ok(mut rows) => {
                    self.done = rows.len() < PAGE;
                    if let Some((last, _, _)) = rows.last_mut() {
                        self.after = Some(std::mem::take(last));
                    }
                    self.page.extend(rows.into_iter().map(|(_, k, t)| (k, t)));
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        self.page.pop_front().map(Ok)
    }
}

/// A record that has a JSON form and text lines (text columns from 0).
pub trait Spoolable: Serialize {
    /// How many text forms (columns after the JSON one).
    const TEXTS: usize;
    fn text(&self, column: usize) -> String;
}

/// Records appended as lines: column 0 is each one's JSON (compact: one line), then its
/// texts.
pub struct Lines {
    files: Vec<BufWriter<File>>,
    count: u64,
}

impl Lines {
    /// Unnamed files (deleted when closed) in `dir`, or in `$TMPDIR`.
    pub fn create(dir: Option<&Path>, texts: usize) -> std::io::Result<Lines> {
        let files = (0..=texts)
            .map(|_| {
                let f = match dir {
                    Some(d) => tempfile::tempfile_in(d)?,
                    None => tempfile::tempfile()?,
                };
                Ok(BufWriter::with_capacity(64 * 1024, f))
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok(Lines { files, count: 0 })
    }

    pub fn push<T: Spoolable>(&mut self, record: &T) -> std::io::Result<()> {
        let json = serde_json::to_string(record)?;
        writeln!(self.files[0], "{json}")?;
        for (i, f) in self.files.iter_mut().enumerate().skip(1) {
            writeln!(f, "{}", record.text(i - 1))?;
        }
        self.count += 1;
        Ok(())
    }

    pub fn seal(self) -> std::io::Result<Sealed> {
        let files = self
            .files
            .into_iter()
            .map(|f| f.into_inner().map_err(|e| e.into_error()))
            .collect::<std::io::Result<Vec<File>>>()?;
        Ok(Sealed {
            files,
            count: self.count,
        })
    }
}

/// Finished lines, read as often as needed.
#[derive(Debug)]
pub struct Sealed {
    files: Vec<File>,
    count: u64,
}

impl Sealed {
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Text column `column`, copied as it was written.
    pub fn write_text(&self, column: usize, w: &mut dyn Write) -> std::io::Result<()> {
        let Some(mut f) = self.files.get(column + 1) else {
            return Ok(());
        };
        f.seek(SeekFrom::Start(0))?;
        std::io::copy(&mut f, w)?;
        Ok(())
    }

    /// Each record's JSON, in order.
    pub fn for_each_json(
        &self,
        mut each: impl FnMut(&str) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let mut f = &self.files[0];
        f.seek(SeekFrom::Start(0))?;
        let mut reader = BufReader::with_capacity(64 * 1024, f);
        let mut line = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            each(line.trim_end_matches('\n'))?;
        }
    }
}

/// The steps of `sql`'s query plan on `schema` (tests: SQLite sorts in temporary files of
/// its own, in `$SQLITE_TMPDIR`, outside OUTPUT_DIR, when no index gives a query's order).
#[cfg(test)]
pub fn query_plan(schema: &str, sql: &str) -> Vec<String> {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(schema).unwrap();
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    for i in 1..=stmt.parameter_count() {
        stmt.raw_bind_parameter(i, 0).unwrap();
    }
    let mut rows = stmt.raw_query();
    let mut plan = Vec::new();
    while let Some(r) = rows.next().unwrap() {
        plan.push(r.get::<_, String>(3).unwrap());
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::failure::Failure;
    use crate::extract::report::Listed;

    #[test]
    fn the_sorter_reads_back_every_record_in_key_order_across_pages() {
        let dir = tempfile::tempdir().unwrap();
        let mut sorter = Sorter::<Key, String>::create(Some(dir.path()), "t.sqlite").unwrap();
        let mut x: u64 = 7;
        let mut keys = Vec::new();
        // More than two pages, few vlobs (many versions each), negative times too.
        for i in 0..(2 * PAGE as i64 + 17) {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let key = Key {
                vlob: Uuid::from_u128(u128::from(x % 5) << 120 | u128::from(x % 3)),
                timestamp: (x >> 20) as i64 % 1000 - 500,
                version: (x >> 40) as u32 % 7,
                sequential_id: i,
            };
            sorter.put(key, &format!("record {i}"));
            keys.push(key);
        }
        sorter.finish().unwrap();
        keys.sort_by_key(|k| (*k.vlob.as_bytes(), k.timestamp, k.version, k.sequential_id));
        let read: Vec<(Key, String)> = sorter.read().map(|r| r.unwrap()).collect();
        assert_eq!(read.len(), keys.len());
        for ((k, record), expected) in read.iter().zip(&keys) {
            assert_eq!(k, expected);
            assert_eq!(record, &format!("record {}", expected.sequential_id));
        }
    }

    #[test]
    fn spooled_lines_serialize_and_print_as_the_same_records_in_memory() {
        let records: Vec<Failure> = (0..5u32)
            .map(|i| {
                Failure::vlob("block_digest", Uuid::from_u128(i.into()), i, "a\nb \"c\"")
                    .at("/x\ty")
            })
            .collect();
        let mut lines = Lines::create(None, 1).unwrap();
        for r in &records {
            lines.push(r).unwrap();
        }
        let spooled = Listed::Spooled(lines.seal().unwrap());
        let memory = Listed::Memory(records);
        assert_eq!(spooled.len(), 5);
        assert_eq!(
            serde_json::to_value(&spooled).unwrap(),
            serde_json::to_value(&memory).unwrap()
        );
        let text = |l: &Listed<Failure>| {
            let mut v = Vec::new();
            l.write_text(0, &mut v).unwrap();
            v
        };
        // Twice: the files are read from their start each time.
        assert_eq!(text(&spooled), text(&memory));
        assert_eq!(text(&spooled), text(&memory));
        let back: Vec<Failure> =
            serde_json::from_value(serde_json::to_value(&spooled).unwrap()).unwrap();
        assert_eq!(back[3].check, "block_digest");
        assert_eq!(back[3].version, Some(3));
    }
}
