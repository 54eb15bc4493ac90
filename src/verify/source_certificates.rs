//! The certificate tables, keys bundles and accesses of the file compared with those the
//! database gives for the same snapshot, by content.

use std::collections::BTreeMap;

use rusqlite::Connection;

use super::report::{Counts, TableComparison};
use crate::format::CertificatesData;

/// (user or sequester service ID, key index, access), as in `CertificatesData`.
type Access = ([u8; 16], i64, Vec<u8>);

pub fn read_file_certificates(conn: &Connection) -> rusqlite::Result<CertificatesData> {
    let blobs = |table: &str| -> rusqlite::Result<Vec<Vec<u8>>> {
        conn.prepare(&format!("SELECT certificate FROM {table} ORDER BY _id"))?
            .query_map([], |r| r.get(0))?
            .collect()
    };
    let accesses = |table: &str, id: &str| -> rusqlite::Result<Vec<Access>> {
        conn.prepare(&format!(
            "SELECT {id}, key_index, access FROM {table} ORDER BY _id"
        ))?
        .query_map([], |r| {
            let raw: Vec<u8> = r.get(0)?;
            let mut id = [0u8; 16];
            // Wrong lengths are reported by the file checks; here they just differ.
            if raw.len() == 16 {
                id.copy_from_slice(&raw);
            }
            Ok((id, r.get(1)?, r.get(2)?))
        })?
        .collect()
    };
    Ok(CertificatesData {
        common: blobs("common_certificate")?,
        sequester: blobs("sequester_certificate")?,
        realm: blobs("realm_certificate")?,
        keys_bundles: conn
            .prepare("SELECT key_index, keys_bundle FROM realm_keys_bundle ORDER BY key_index")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?,
        user_accesses: accesses("realm_keys_bundle_access", "user_id")?,
        sequester_accesses: accesses("realm_sequester_keys_bundle_access", "sequester_service_id")?,
    })
}

/// Per table: the comparison, a difference if the content differs, a note if only the
/// order does. Accesses are compared as multisets (their order is arbitrary in Parsec).
pub fn compare_certificates(
    file: &CertificatesData,
    source: &CertificatesData,
    stat: &dyn Fn(&str) -> Counts,
) -> Vec<(TableComparison, Option<String>, Option<String>)> {
    fn counts<T>(rows: &[T], len: impl Fn(&T) -> usize) -> Counts {
        Counts {
            rows: rows.len() as i64,
            bytes: rows.iter().map(|r| len(r) as i64).sum(),
        }
    }
    fn multiset<T: Ord + Clone>(rows: &[T]) -> BTreeMap<T, i64> {
        let mut m = BTreeMap::new();
        for r in rows {
            *m.entry(r.clone()).or_insert(0) += 1;
        }
        m
    }
    /// (rows of the source missing from the file, rows of the file not in the source)
    fn diff<T: Ord + Clone>(file: &[T], source: &[T]) -> (i64, i64) {
        let (f, s) = (multiset(file), multiset(source));
        let missing = s
            .iter()
            .map(|(k, n)| (n - f.get(k).copied().unwrap_or(0)).max(0))
            .sum();
        let extra = f
            .iter()
            .map(|(k, n)| (n - s.get(k).copied().unwrap_or(0)).max(0))
            .sum();
        (missing, extra)
    }
    fn outcome<T: Ord + Clone>(
        name: &'static str,
        file: &[T],
        source: &[T],
        ordered: bool,
        source_counts: Counts,
        file_counts: Counts,
    ) -> (TableComparison, Option<String>, Option<String>) {
        let (missing, extra) = diff(file, source);
        let same_content = missing == 0 && extra == 0;
        let difference = (!same_content).then(|| {
            format!("`{name}`: {missing} row(s) of the database for this snapshot are missing from the file, and {extra} row(s) of the file are not in the database")
        });
        let note = (same_content && ordered && file != source).then(|| {
            format!("`{name}`: same certificates as the database, in another order (rows with equal timestamps, whose order Parsec leaves undefined)")
        });
        (
            TableComparison {
                name,
                file: file_counts,
                source: source_counts,
                equal: same_content,
            },
            difference,
            note,
        )
    }
    let blob_len = |b: &Vec<u8>| b.len();
    vec![
        outcome(
            "common_certificate",
            &file.common,
            &source.common,
            true,
            counts(&source.common, blob_len),
            stat("common_certificate"),
        ),
        outcome(
            "sequester_certificate",
            &file.sequester,
            &source.sequester,
            true,
            counts(&source.sequester, blob_len),
            stat("sequester_certificate"),
        ),
        outcome(
            "realm_certificate",
            &file.realm,
            &source.realm,
            true,
            counts(&source.realm, blob_len),
            stat("realm_certificate"),
        ),
        outcome(
            "realm_keys_bundle",
            &file.keys_bundles,
            &source.keys_bundles,
            false,
            counts(&source.keys_bundles, |(_, b)| b.len()),
            stat("realm_keys_bundle"),
        ),
        outcome(
            "realm_keys_bundle_access",
            &file.user_accesses,
            &source.user_accesses,
            false,
            counts(&source.user_accesses, |(_, _, a)| a.len()),
            stat("realm_keys_bundle_access"),
        ),
        outcome(
            "realm_sequester_keys_bundle_access",
            &file.sequester_accesses,
            &source.sequester_accesses,
            false,
            counts(&source.sequester_accesses, |(_, _, a)| a.len()),
            stat("realm_sequester_keys_bundle_access"),
        ),
    ]
}
