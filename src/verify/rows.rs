//! Row-level checks: identifiers, column types and sizes, `_id` numbering, and block data
//! (present, and exactly as long as the block's size).

use std::collections::BTreeSet;

use rusqlite::Connection;

use super::report::{examples, Findings};

/// At most this many culprits are named per problem.
pub const EXAMPLES: i64 = 5;

/// A condition that no row of a table may meet.
struct Rule {
    check: &'static str,
    condition: String,
    /// Completes "N rows of TABLE have …".
    what: String,
}

fn rule(check: &'static str, condition: &str, what: &str) -> Rule {
    Rule {
        check,
        condition: condition.to_owned(),
        what: what.to_owned(),
    }
}

/// An identifier column: a UUID, stored as 16 bytes.
fn id16(column: &str) -> Rule {
    rule(
        "id_length",
        &format!("typeof({column}) != 'blob' OR length({column}) != 16"),
        &format!("a {column} that is not a 16-byte blob"),
    )
}

/// libparsec's reader reads `key_index` (and `version`) as unsigned 32-bit integers.
fn key_index() -> Rule {
    rule(
        "column_type",
        "typeof(key_index) != 'integer' OR key_index < 0 OR key_index > 4294967295",
        "a key_index that is not an integer between 0 and 2^32 - 1",
    )
}

fn sequential_id() -> Rule {
    rule(
        "sequential_id",
        "sequential_id <= 0",
        "a sequential_id ≤ 0 (they are PostgreSQL ids, which start at 1)",
    )
}

fn is_blob(column: &str) -> Rule {
    rule(
        "column_type",
        &format!("typeof({column}) != 'blob'"),
        &format!("a {column} that is not a blob"),
    )
}

fn rules(table: &str) -> Vec<Rule> {
    match table {
        "realm_keys_bundle" => vec![key_index(), is_blob("keys_bundle")],
        "realm_keys_bundle_access" => vec![id16("user_id"), key_index(), is_blob("access")],
        "realm_sequester_keys_bundle_access" => {
            vec![id16("sequester_service_id"), key_index(), is_blob("access")]
        }
        "vlob_atom" => vec![
            sequential_id(),
            id16("vlob_id"),
            id16("author"),
            rule(
                "column_type",
                "typeof(version) != 'integer' OR version < 1 OR version > 4294967295",
                "a version that is not an integer between 1 and 2^32 - 1",
            ),
            key_index(),
            is_blob("blob"),
            rule(
                "vlob_size",
                "typeof(size) != 'integer' OR size != length(blob)",
                "a size that differs from the length of their blob",
            ),
            rule(
                "column_type",
                "typeof(timestamp) != 'integer'",
                "a timestamp that is not an integer",
            ),
        ],
        "block" => vec![
            sequential_id(),
            id16("block_id"),
            id16("author"),
            rule(
                "column_type",
                "typeof(size) != 'integer' OR size < 0",
                "a size that is not a non-negative integer",
            ),
            key_index(),
        ],
        "block_data" => vec![is_blob("data")],
        _ => Vec::new(),
    }
}

fn key_of(table: &str) -> &'static str {
    match table {
        "vlob_atom" | "block" => "sequential_id",
        "block_data" => "block",
        "realm_keys_bundle" => "key_index",
        _ => "_id",
    }
}

/// Applies every rule of every readable table: one scan per table, then one query per
/// failing rule to name a few culprits.
pub fn check_columns(
    conn: &Connection,
    usable: &BTreeSet<&'static str>,
    findings: &mut Findings,
) -> rusqlite::Result<()> {
    for table in usable {
        let rules = rules(table);
        if rules.is_empty() {
            continue;
        }
        let sums: Vec<String> = rules
            .iter()
            .map(|r| {
                format!(
                    "COALESCE(SUM(CASE WHEN {} THEN 1 ELSE 0 END), 0)",
                    r.condition
                )
            })
            .collect();
        let counts: Vec<i64> = conn.query_row(
            &format!("SELECT {} FROM {table}", sums.join(", ")),
            [],
            |r| (0..rules.len()).map(|i| r.get(i)).collect(),
        )?;
        let key = key_of(table);
        for (rule, count) in rules.iter().zip(counts) {
            if count == 0 {
                continue;
            }
            let keys: Vec<i64> = conn
                .prepare(&format!(
                    "SELECT {key} FROM {table} WHERE {} ORDER BY {key} LIMIT {EXAMPLES}",
                    rule.condition
                ))?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            findings.problem(
                rule.check,
                format!(
                    "{count} row(s) of `{table}` have {}: {key} {}",
                    rule.what,
                    examples(&keys, count)
                ),
            );
        }
    }
    Ok(())
}

/// Certificate and access tables number their rows 0, 1, 2… (`_id`); readers verify
/// certificates in that order.
pub fn check_numbering(
    conn: &Connection,
    table: &'static str,
    check: &'static str,
    findings: &mut Findings,
) -> rusqlite::Result<()> {
    let (count, min, max): (i64, Option<i64>, Option<i64>) = conn.query_row(
        &format!("SELECT COUNT(*), MIN(_id), MAX(_id) FROM {table}"),
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let (Some(min), Some(max)) = (min, max) else {
        return Ok(());
    };
    if min != 0 {
        findings.problem(
            check,
            format!("`{table}` `_id`s must be 0, 1, 2… without holes, but they start at {min}"),
        );
        return Ok(());
    }
    if max == count - 1 {
        return Ok(());
    }
    let before: i64 = conn.query_row(
        &format!(
            "SELECT a._id FROM {table} a WHERE a._id < ?1 AND NOT EXISTS \
             (SELECT 1 FROM {table} b WHERE b._id = a._id + 1) ORDER BY a._id LIMIT 1"
        ),
        [max],
        |r| r.get(0),
    )?;
    let after: i64 = conn.query_row(
        &format!("SELECT MIN(_id) FROM {table} WHERE _id > ?1"),
        [before],
        |r| r.get(0),
    )?;
    let missing = if after == before + 2 {
        format!("_id {} is missing", before + 1)
    } else {
        format!("_ids {} to {} are missing", before + 1, after - 1)
    };
    findings.problem(
        check,
        format!(
            "`{table}` `_id`s must be 0, 1, 2… without holes, but {missing} ({count} rows, highest _id {max}): rows were lost"
        ),
    );
    Ok(())
}

/// How many blocks lack their data.
pub fn blocks_lacking_data(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT COUNT(*) FROM block b WHERE NOT EXISTS (SELECT 1 FROM block_data d WHERE d.block = b.sequential_id)",
        [],
        |r| r.get(0),
    )
}

/// Every block has data of exactly its size, and no data belongs to no block.
pub fn check_block_data(
    conn: &Connection,
    report_missing: bool,
    findings: &mut Findings,
) -> rusqlite::Result<()> {
    let block_ref = |r: &rusqlite::Row<'_>| -> rusqlite::Result<String> {
        let seq: i64 = r.get(0)?;
        let id: String = r.get(1)?;
        Ok(format!("{} (sequential_id {seq})", id.to_lowercase()))
    };
    let missing = blocks_lacking_data(conn)?;
    if report_missing && missing > 0 {
        let list: Vec<String> = conn
            .prepare(&format!(
                "SELECT b.sequential_id, hex(b.block_id) FROM block b WHERE NOT EXISTS \
                 (SELECT 1 FROM block_data d WHERE d.block = b.sequential_id) ORDER BY b.sequential_id LIMIT {EXAMPLES}"
            ))?
            .query_map([], block_ref)?
            .collect::<rusqlite::Result<_>>()?;
        findings.problem(
            "block_data_missing",
            format!(
                "{missing} block(s) have no data although the export is marked complete: block {}",
                examples(&list, missing)
            ),
        );
    }
    let wrong: i64 = conn.query_row(
        "SELECT COUNT(*) FROM block b JOIN block_data d ON d.block = b.sequential_id WHERE length(d.data) IS NOT b.size",
        [],
        |r| r.get(0),
    )?;
    if wrong > 0 {
        let list: Vec<String> = conn
            .prepare(&format!(
                "SELECT b.sequential_id, hex(b.block_id), length(d.data), b.size FROM block b \
                 JOIN block_data d ON d.block = b.sequential_id WHERE length(d.data) IS NOT b.size \
                 ORDER BY b.sequential_id LIMIT {EXAMPLES}"
            ))?
            .query_map([], |r| {
                let len: Option<i64> = r.get(2)?;
                let size: rusqlite::types::Value = r.get(3)?;
                Ok(format!(
                    "{} has {} bytes of data but a size of {}",
                    block_ref(r)?,
                    len.unwrap_or(0),
                    match size {
                        rusqlite::types::Value::Integer(n) => n.to_string(),
                        other => format!("{other:?}"),
                    }
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        findings.problem(
            "block_data_length",
            format!(
                "{wrong} block(s) have data whose length differs from their size: block {}",
                examples(&list, wrong)
            ),
        );
    }
    let orphans: i64 = conn.query_row(
        "SELECT COUNT(*) FROM block_data d WHERE NOT EXISTS (SELECT 1 FROM block b WHERE b.sequential_id = d.block)",
        [],
        |r| r.get(0),
    )?;
    if orphans > 0 {
        let list: Vec<i64> = conn
            .prepare(&format!(
                "SELECT d.block FROM block_data d WHERE NOT EXISTS (SELECT 1 FROM block b WHERE b.sequential_id = d.block) ORDER BY d.block LIMIT {EXAMPLES}"
            ))?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        findings.problem(
            "block_data_orphan",
            format!(
                "{orphans} row(s) of `block_data` belong to no block: block {}",
                examples(&list, orphans)
            ),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbering(ids: &[i64]) -> Vec<String> {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (_id INTEGER PRIMARY KEY, x BLOB)")
            .unwrap();
        for id in ids {
            conn.execute("INSERT INTO t VALUES (?1, x'00')", [id])
                .unwrap();
        }
        let mut f = Findings::default();
        check_numbering(&conn, "t", "ids", &mut f).unwrap();
        f.problems.into_iter().map(|p| p.message).collect()
    }

    #[test]
    fn numbering_names_what_is_missing() {
        assert!(numbering(&[]).is_empty());
        assert!(numbering(&[0, 1, 2]).is_empty());
        assert!(numbering(&[1, 2])[0].contains("they start at 1"));
        assert!(numbering(&[0, 1, 3])[0].contains("_id 2 is missing"));
        assert!(numbering(&[0, 1, 5, 6])[0].contains("_ids 2 to 4 are missing"));
    }

    #[test]
    fn examples_count_the_rest() {
        assert_eq!(examples(&[1, 2], 2), "1, 2");
        assert_eq!(examples(&[1, 2], 7), "1, 2 and 5 more");
    }
}
