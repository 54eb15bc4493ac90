//! Our files have exactly the schema of Parsec's own exports.

use std::path::{Path, PathBuf};

use rusqlite::types::Value;

use crate::harness::fixtures_dir;
use crate::rows::{open, rows};

/// Table definitions as SQLite understands them: columns (name, type, not null, default,
/// pk), indexes (unique, origin, columns) and foreign keys — not the SQL text, whose
/// comments and spacing do not matter.
fn describe(path: &Path) -> Vec<(String, Vec<Vec<Value>>)> {
    let conn = open(path);
    let tables: Vec<String> = rows(
        &conn,
        "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name",
    )
    .into_iter()
    .map(|r| match &r[0] {
        Value::Text(t) => t.clone(),
        other => panic!("{other:?}"),
    })
    .collect();
    let mut out = Vec::new();
    for t in tables {
        out.push((format!("{t} columns"), rows(&conn, &format!("SELECT cid, name, type, \"notnull\", dflt_value, pk FROM pragma_table_info('{t}')"))));
        let indexes = rows(&conn, &format!("SELECT name, \"unique\", origin, partial FROM pragma_index_list('{t}') ORDER BY name"));
        for idx in &indexes {
            let Value::Text(name) = &idx[0] else { panic!() };
            out.push((format!("{t} index {name}"), vec![idx.clone()]));
            out.push((
                format!("{t} index {name} columns"),
                rows(
                    &conn,
                    &format!("SELECT seqno, name FROM pragma_index_info('{name}')"),
                ),
            ));
        }
        out.push((
            format!("{t} foreign keys"),
            rows(
                &conn,
                &format!("SELECT \"table\", \"from\", \"to\" FROM pragma_foreign_key_list('{t}')"),
            ),
        ));
    }
    out
}

fn expected_files() -> Vec<PathBuf> {
    let mut files = vec![fixtures_dir().join("parsec-v3/sequestered_export.sqlite")];
    for entry in std::fs::read_dir(fixtures_dir().join("parsec-v3-db/expected"))
        .unwrap()
        .flatten()
    {
        if entry.path().extension().is_some_and(|e| e == "sqlite") {
            files.push(entry.path());
        }
    }
    files
}

pub fn assert_schema_is_parsecs(ours: &Path) {
    let ours = describe(ours);
    for theirs in expected_files() {
        assert_eq!(
            ours,
            describe(&theirs),
            "schema differs from {}",
            theirs.display()
        );
    }
}

#[test]
fn a_new_file_has_parsecs_tables_plus_only_our_bounds_table() {
    use parsec_sequester::format::{create, Bounds, Info, Steps};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.sqlite");
    let info = Info {
        organization_id: "Org".into(),
        realm_id: uuid::Uuid::new_v4(),
        root_verify_key: vec![7; 32],
        snapshot_timestamp: 1,
        vlobs_total_bytes: 0,
        blocks_total_bytes: 0,
        steps: Steps::default(),
    };
    let bounds = Bounds {
        vlob_marker: 0,
        vlob_time_bound: 1,
        block_marker: 0,
        block_time_bound: 1,
    };
    create(&path, &info, &bounds).unwrap();
    let ours: Vec<_> = describe(&path)
        .into_iter()
        .filter(|(k, _)| !k.starts_with("parsec_sequester_bounds"))
        .collect();
    let theirs = describe(&fixtures_dir().join("parsec-v3/sequestered_export.sqlite"));
    assert_eq!(ours, theirs);
    // It holds a whole workspace: owner-only permissions.
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // And it was never overwritten: a second create refuses.
    let before = std::fs::read(&path).unwrap();
    assert!(create(&path, &info, &bounds).is_err());
    assert_eq!(before, std::fs::read(&path).unwrap());
}

#[test]
fn the_old_workspace_history_fixture_differs_only_by_its_foreign_key() {
    // Documented erratum: it references block(_id). Make sure our comparison sees it, so the
    // test above is able to fail.
    let old = describe(&fixtures_dir().join("parsec-v3/workspace_history_export.sqlite"));
    let new = describe(&fixtures_dir().join("parsec-v3/sequestered_export.sqlite"));
    let diffs: Vec<_> = old
        .iter()
        .zip(&new)
        .filter(|(a, b)| a != b)
        .map(|(a, _)| a.0.clone())
        .collect();
    assert_eq!(diffs, vec!["block_data foreign keys".to_string()]);
}
