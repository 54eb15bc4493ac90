//! Keys bundles: every key index that encrypts something in the file has its bundle (else
//! that data cannot be decrypted from the export), and bundles match the realm's key
//! rotation certificates (readers validate keys with the rotations' canaries).
//!
//! Key index 0 has no bundle by design: it marks data written before the realm's first key
//! rotation (Parsec's own test organizations have such vlobs).

use std::collections::BTreeSet;

use rusqlite::Connection;

use super::info::FileInfo;
use super::report::{examples, Findings};

pub fn check(
    conn: &Connection,
    usable: &BTreeSet<&'static str>,
    rotations: Option<&BTreeSet<u64>>,
    info: &FileInfo,
    findings: &mut Findings,
) -> rusqlite::Result<()> {
    if !usable.contains("realm_keys_bundle") {
        return Ok(());
    }
    let bundles: BTreeSet<u64> = conn
        .prepare("SELECT key_index FROM realm_keys_bundle WHERE key_index >= 0")?
        .query_map([], |r| r.get::<_, i64>(0))?
        .map(|k| k.map(|k| k as u64))
        .collect::<rusqlite::Result<_>>()?;
    if let Some(rotations) = rotations {
        let without_bundle: Vec<&u64> = rotations.difference(&bundles).collect();
        if !without_bundle.is_empty() {
            findings.problem(
                "keys_bundle_missing",
                format!(
                    "`realm_keys_bundle` has no row for key index {} although the realm certificates rotate to it: data encrypted with it cannot be decrypted from this export",
                    examples(&without_bundle, without_bundle.len() as i64)
                ),
            );
        }
        let without_rotation: Vec<&u64> = bundles.difference(rotations).collect();
        if !without_rotation.is_empty() {
            findings.problem(
                "keys_bundle_without_rotation",
                format!(
                    "`realm_keys_bundle` has key index {} but no realm key rotation certificate for it: readers cannot validate those keys",
                    examples(&without_rotation, without_rotation.len() as i64)
                ),
            );
        }
    }
    let highest_known = bundles
        .iter()
        .chain(rotations.into_iter().flatten())
        .max()
        .copied()
        .unwrap_or(0);
    // (table, key, rows, condition, a problem?) A block carries no timestamp: a key index
    // above every known rotation can only come from a rotation after the snapshot, which a
    // block created after it may use (both exporters take some such blocks, reference 2.3).
    let users = [
        (
            "vlob_atom",
            "sequential_id",
            "vlob version(s)",
            "timestamp <= ?1",
            Some(true),
        ),
        (
            "vlob_atom",
            "sequential_id",
            "vlob version(s) after the snapshot",
            "timestamp > ?1",
            Some(false),
        ),
        ("block", "sequential_id", "block(s)", "?1 IS NOT NULL", None),
        (
            "realm_keys_bundle_access",
            "_id",
            "user access(es)",
            "?1 IS NOT NULL",
            Some(true),
        ),
        (
            "realm_sequester_keys_bundle_access",
            "_id",
            "sequester access(es)",
            "?1 IS NOT NULL",
            Some(true),
        ),
    ];
    for (table, key, what, condition, is_problem) in users {
        if !usable.contains(table) {
            continue;
        }
        let mut stmt = conn.prepare(&format!(
            "SELECT key_index, COUNT(*), MIN({key}) FROM {table} \
             WHERE {condition} AND typeof(key_index) = 'integer' AND key_index != 0 \
             AND key_index NOT IN (SELECT key_index FROM realm_keys_bundle) \
             GROUP BY key_index ORDER BY key_index"
        ))?;
        let mut rows = stmt.query([info.snapshot])?;
        while let Some(row) = rows.next()? {
            let (index, count, first): (i64, i64, i64) = (row.get(0)?, row.get(1)?, row.get(2)?);
            let text = format!(
                "key index {index} is used by {count} {what} of `{table}` (first {key} {first}) but `realm_keys_bundle` has no row for it: they cannot be decrypted from this export"
            );
            let problem =
                is_problem.unwrap_or(index <= i64::try_from(highest_known).unwrap_or(i64::MAX));
            if problem {
                findings.problem("keys_bundle_missing", text);
            } else {
                findings.note(
                    "key_after_snapshot",
                    format!("{text} (a key rotated after the snapshot)"),
                );
            }
        }
    }
    Ok(())
}
