//! Every vlob's versions must be 1..N without a hole: the server accepts version N + 1 only
//! once N exists, so an export that is a prefix of the server's insertions holds every
//! predecessor of every version it holds. A hole means a version was left out.

use rusqlite::Connection;

use super::report::Findings;

/// How many vlobs with holes are named before the rest are only counted.
const NAMED: usize = 20;

pub fn check(conn: &Connection, f: &mut Findings) -> rusqlite::Result<()> {
    // Hostile files may hold versions of any type: the column checks report those.
    let mut broken = conn.prepare(
        "SELECT vlob_id, COUNT(DISTINCT version), MAX(version) FROM vlob_atom \
         WHERE typeof(version) = 'integer' GROUP BY vlob_id \
         HAVING MIN(version) != 1 OR MAX(version) != COUNT(DISTINCT version) \
         ORDER BY vlob_id",
    )?;
    let rows: Vec<(Vec<u8>, i64, i64)> = broken
        .query_map([], |r| {
            let id = match r.get_ref(0)? {
                rusqlite::types::ValueRef::Blob(b) => b.to_vec(),
                other => format!("{other:?}").into_bytes(),
            };
            Ok((id, r.get(1)?, r.get(2)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut versions_of = conn.prepare(
        "SELECT DISTINCT version FROM vlob_atom \
         WHERE vlob_id = ?1 AND typeof(version) = 'integer' ORDER BY version",
    )?;
    for (id, present, newest) in rows.iter().take(NAMED) {
        let versions: Vec<i64> = versions_of
            .query_map([id.as_slice()], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let message = match missing(&versions) {
            Some(gaps) => format!(
                "vlob {} holds {present} version(s) up to {newest} but lacks version(s) {gaps}: a version was left out of the export (an earlier parsec-sequester cut vlobs by their clients' clocks); make a new export",
                base16ct::lower::encode_string(id)
            ),
            None => format!(
                "vlob {} has version(s) below 1, which Parsec's server never writes",
                base16ct::lower::encode_string(id)
            ),
        };
        f.problem("vlob_versions", message);
    }
    if rows.len() > NAMED {
        f.problem(
            "vlob_versions",
            format!("{} more vlob(s) lack versions", rows.len() - NAMED),
        );
    }
    Ok(())
}

/// The versions absent from 1..=max(present), as ranges ("2, 5-7"); None if none is.
fn missing(present: &[i64]) -> Option<String> {
    let mut gaps = Vec::new();
    let mut expected = 1i64;
    for &v in present {
        if v > expected {
            gaps.push(if v - 1 == expected {
                expected.to_string()
            } else {
                format!("{expected}-{}", v - 1)
            });
        }
        expected = expected.max(v.saturating_add(1));
    }
    (!gaps.is_empty()).then(|| gaps.join(", "))
}

#[cfg(test)]
mod tests {
    use super::missing;

    #[test]
    fn missing_versions_as_ranges() {
        assert_eq!(missing(&[1, 2, 4]).as_deref(), Some("3"));
        assert_eq!(missing(&[2, 3]).as_deref(), Some("1"));
        assert_eq!(missing(&[1, 5, 6, 9]).as_deref(), Some("2-4, 7-8"));
        assert_eq!(missing(&[0, 1, 3]).as_deref(), Some("2"));
        assert_eq!(missing(&[0, 1, 2]), None);
    }
}
