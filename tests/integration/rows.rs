//! Reading export files table by table, to compare them by content (not by bytes).

use std::path::Path;

use rusqlite::{types::Value, Connection, OpenFlags};

/// The tables of the format and the key each is ordered by.
pub const TABLES: [(&str, &str); 11] = [
    ("info", "magic"),
    ("common_certificate", "_id"),
    ("sequester_certificate", "_id"),
    ("realm_certificate", "_id"),
    ("realm_keys_bundle", "key_index"),
    ("realm_keys_bundle_access", "_id"),
    ("realm_sequester_keys_bundle_access", "_id"),
    ("vlob_atom", "sequential_id"),
    ("block", "sequential_id"),
    ("block_data", "block"),
    ("sqlite_master_tables", ""),
];

pub fn open(path: &Path) -> Connection {
    Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("open export read-only")
}

pub fn rows(conn: &Connection, sql: &str) -> Vec<Vec<Value>> {
    let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let n = stmt.column_count();
    stmt.query_map([], |r| {
        (0..n)
            .map(|i| r.get::<_, Value>(i))
            .collect::<Result<Vec<_>, _>>()
    })
    .expect("query")
    .collect::<Result<Vec<_>, _>>()
    .expect("rows")
}

pub fn table(path: &Path, table: &str, order: &str) -> Vec<Vec<Value>> {
    rows(
        &open(path),
        &format!("SELECT * FROM {table} ORDER BY {order}"),
    )
}

pub fn scalar(path: &Path, sql: &str) -> i64 {
    open(path).query_row(sql, [], |r| r.get(0)).expect(sql)
}

/// Asserts that two exports hold the same rows in every table of the format. Keys-bundle
/// accesses are numbered in fetch order, which Parsec leaves to PostgreSQL's plan (its query
/// has no ORDER BY; its own tests compare them as sorted lists): they are compared as sorted
/// lists too, and their `_id`s must be 0..n.
pub fn assert_same_content(ours: &Path, theirs: &Path) {
    for (name, order) in TABLES.iter().filter(|(_, o)| !o.is_empty()) {
        let (mut a, mut b) = (table(ours, name, order), table(theirs, name, order));
        if name.ends_with("_access") {
            for rows in [&mut a, &mut b] {
                for (i, row) in rows.iter_mut().enumerate() {
                    assert_eq!(row[0], Value::Integer(i as i64), "{name}: _id must be 0..n");
                    row.remove(0);
                }
                rows.sort_by(|x, y| format!("{x:?}").cmp(&format!("{y:?}")));
            }
        }
        assert_eq!(
            a.len(),
            b.len(),
            "table {name}: {} rows vs {} rows",
            a.len(),
            b.len()
        );
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert_eq!(x, y, "table {name}, row {i} differs");
        }
    }
}

pub fn flags(path: &Path) -> (i64, i64, i64, i64) {
    open(path)
        .query_row(
            "SELECT certificates_export_done, vlobs_export_done, blocks_metadata_export_done, blocks_data_export_done FROM info",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .expect("flags")
}
