//! A SHA-256 over an export's logical content: the rows of the ten format tables, read in a
//! defined order and encoded unambiguously, so that it does not depend on SQLite's physical
//! layout (page size, free pages, VACUUM, insertion order). Documented in the README
//! ("What the digest covers"); change `SCHEME` whenever the encoding changes.

use rusqlite::types::ValueRef;
use rusqlite::Connection;
use sha2::{Digest as _, Sha256};

use super::schema::{TableDef, TABLES};

/// Names the encoding below; it is hashed first.
pub const SCHEME: &str = "parsec-sequester-digest-v1";

const TAG_NULL: u8 = 0;
const TAG_INTEGER: u8 = 1;
const TAG_REAL: u8 = 2;
const TAG_TEXT: u8 = 3;
const TAG_BLOB: u8 = 4;

/// The rows a table contributes, as (columns, ORDER BY). Keys-bundle accesses are numbered
/// in fetch order, which Parsec leaves to PostgreSQL's plan: they contribute as a sorted
/// multiset, without `_id`, so that two correct exports of one snapshot agree. Every other
/// table contributes every column in key order (certificate `_id`s are the order readers
/// verify them in).
fn selection(table: &TableDef) -> (Vec<&'static str>, String) {
    if table.name.ends_with("_access") {
        let columns: Vec<&str> = table
            .columns
            .iter()
            .copied()
            .filter(|c| *c != "_id")
            .collect();
        let order = ["key_index", columns[0], "access"].join(", ");
        (columns, order)
    } else {
        (table.columns.to_vec(), table.key.to_owned())
    }
}

/// Hex SHA-256 of the file's logical content.
pub fn digest(conn: &Connection) -> rusqlite::Result<String> {
    let mut hasher = Sha256::new();
    put_text(&mut hasher, SCHEME);
    for table in &TABLES {
        let (columns, order) = selection(table);
        hasher.update(b"T");
        put_text(&mut hasher, table.name);
        put_len(&mut hasher, columns.len());
        for c in &columns {
            put_text(&mut hasher, c);
        }
        let sql = format!(
            "SELECT {} FROM {} ORDER BY {order}",
            columns.join(", "),
            table.name
        );
        let mut stmt = conn.prepare(&sql)?;
        let mut rows = stmt.query([])?;
        let mut count = 0usize;
        while let Some(row) = rows.next()? {
            hasher.update(b"R");
            for i in 0..columns.len() {
                put_value(&mut hasher, row.get_ref(i)?);
            }
            count += 1;
        }
        hasher.update(b"E");
        put_len(&mut hasher, count);
    }
    Ok(base16ct::lower::encode_string(&hasher.finalize()))
}

fn put_len(hasher: &mut Sha256, len: usize) {
    hasher.update((len as u64).to_be_bytes());
}

fn put_text(hasher: &mut Sha256, text: &str) {
    put_value(hasher, ValueRef::Text(text.as_bytes()));
}

/// A type tag, then a fixed-size value or a length-prefixed one: no two different rows can
/// encode to the same bytes.
fn put_value(hasher: &mut Sha256, value: ValueRef<'_>) {
    match value {
        ValueRef::Null => hasher.update([TAG_NULL]),
        ValueRef::Integer(i) => {
            hasher.update([TAG_INTEGER]);
            hasher.update(i.to_be_bytes());
        }
        ValueRef::Real(f) => {
            hasher.update([TAG_REAL]);
            hasher.update(f.to_bits().to_be_bytes());
        }
        ValueRef::Text(t) => {
            hasher.update([TAG_TEXT]);
            put_len(hasher, t.len());
            hasher.update(t);
        }
        ValueRef::Blob(b) => {
            hasher.update([TAG_BLOB]);
            put_len(hasher, b.len());
            hasher.update(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(super::super::schema::SCHEMA_SQL)
            .unwrap();
        conn.execute_batch(
            "INSERT INTO info (organization_id, realm_id, root_verify_key, snapshot_timestamp, vlobs_total_bytes, blocks_total_bytes) \
             VALUES ('Org', x'00112233445566778899aabbccddeeff', x'01', 5, 0, 0);
             INSERT INTO realm_keys_bundle_access VALUES (0, x'02', 1, x'aa'), (1, x'01', 1, x'bb');",
        )
        .unwrap();
        conn
    }

    #[test]
    fn access_numbering_does_not_matter_but_content_does() {
        let a = file();
        let b = file();
        b.execute_batch(
            "DELETE FROM realm_keys_bundle_access; \
             INSERT INTO realm_keys_bundle_access VALUES (0, x'01', 1, x'bb'), (1, x'02', 1, x'aa');",
        )
        .unwrap();
        assert_eq!(digest(&a).unwrap(), digest(&b).unwrap());
        b.execute_batch("UPDATE realm_keys_bundle_access SET access = x'ab' WHERE _id = 1")
            .unwrap();
        assert_ne!(digest(&a).unwrap(), digest(&b).unwrap());
    }

    #[test]
    fn values_are_tagged_and_length_prefixed() {
        // ('ab', 'c') and ('a', 'bc') must not collide, nor text and blob of equal bytes.
        let a = file();
        let b = file();
        a.execute_batch("INSERT INTO common_certificate VALUES (0, x'6162'), (1, x'63')")
            .unwrap();
        b.execute_batch("INSERT INTO common_certificate VALUES (0, x'61'), (1, x'6263')")
            .unwrap();
        assert_ne!(digest(&a).unwrap(), digest(&b).unwrap());
        let c = file();
        c.execute_batch("INSERT INTO common_certificate VALUES (0, 'ab'), (1, x'63')")
            .unwrap();
        assert_ne!(digest(&a).unwrap(), digest(&c).unwrap());
        assert_eq!(digest(&a).unwrap().len(), 64);
    }
}
