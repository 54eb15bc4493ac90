//! An existing output file is checked before anything is written; a refused file is left
//! byte-for-byte untouched, and a complete export is never written again.

use rusqlite::Connection;

use crate::export_generated::generated_db;
use crate::harness::{export_cmd, fingerprint, run};
use crate::rows::flags;

#[tokio::test(flavor = "multi_thread")]
async fn mismatching_or_invalid_files_are_refused_untouched() {
    let (db, org) = generated_db("existing").await;
    let realm = org.realms[0].realm_id.simple().to_string();
    let other_realm = org.realms[1].realm_id.simple().to_string();
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.sqlite");
    run(&mut export_cmd(&db.url, "GenOrg", &realm, &good, &[])).ok();

    // A valid but incomplete copy, to test the checks that need the server (root key, totals).
    let partial = dir.path().join("partial.sqlite");
    std::fs::copy(&good, &partial).unwrap();
    Connection::open(&partial)
        .unwrap()
        .execute_batch("DELETE FROM block_data; UPDATE info SET blocks_data_export_done = 0;")
        .unwrap();

    let make = |name: &str, setup: &dyn Fn(&std::path::Path)| {
        let p = dir.path().join(name);
        setup(&p);
        p
    };
    let edit = |from: &std::path::Path, sql: &'static str| {
        let from = from.to_owned();
        move |p: &std::path::Path| {
            std::fs::copy(&from, p).unwrap();
            Connection::open(p).unwrap().execute_batch(sql).unwrap();
        }
    };
    let cases: Vec<(std::path::PathBuf, Vec<&str>, i32, &str)> = vec![
        (
            make("text.sqlite", &|p| {
                std::fs::write(
                    p,
                    "not a database at all, just some text that is long enough to not be a header",
                )
                .unwrap()
            }),
            vec![],
            40,
            "not a valid realm export database",
        ),
        (
            make("empty-db.sqlite", &|p| {
                Connection::open(p)
                    .unwrap()
                    .execute_batch("CREATE TABLE t(x)")
                    .unwrap()
            }),
            vec![],
            40,
            "no such table: info",
        ),
        (
            make("no-row.sqlite", &edit(&good, "DELETE FROM info")),
            vec![],
            40,
            "no info row",
        ),
        (
            make(
                "magic.sqlite",
                &edit(&good, "UPDATE info SET magic = 87947"),
            ),
            vec![],
            40,
            "no info row",
        ),
        (
            make(
                "version.sqlite",
                &edit(&good, "UPDATE info SET version = 2"),
            ),
            vec![],
            40,
            "unsupported export format version 2",
        ),
        (
            make(
                "org.sqlite",
                &edit(&good, "UPDATE info SET organization_id = 'OtherOrg'"),
            ),
            vec![],
            41,
            "exports organization `OtherOrg`, not `GenOrg`",
        ),
        (
            make(
                "flag.sqlite",
                &edit(&partial, "UPDATE info SET vlobs_export_done = 7"),
            ),
            vec![],
            43,
            "neither 0 nor 1",
        ),
        (
            make(
                "rootkey.sqlite",
                &edit(&partial, "UPDATE info SET root_verify_key = zeroblob(32)"),
            ),
            vec![],
            41,
            "root key",
        ),
        (
            make(
                "vlobtotal.sqlite",
                &edit(
                    &partial,
                    "UPDATE info SET vlobs_total_bytes = vlobs_total_bytes + 1",
                ),
            ),
            vec![],
            41,
            "vlob total",
        ),
        (
            make(
                "blocktotal.sqlite",
                &edit(
                    &partial,
                    "UPDATE info SET blocks_total_bytes = blocks_total_bytes - 1",
                ),
            ),
            vec![],
            41,
            "block total",
        ),
        (
            good.clone(),
            vec!["--snapshot-timestamp", "2020-01-01T00:00:00Z"],
            41,
            "its snapshot is",
        ),
    ];
    for (path, extra, code, needle) in &cases {
        let before = fingerprint(path);
        let r = run(&mut export_cmd(&db.url, "GenOrg", &realm, path, extra));
        assert_eq!(r.code, *code, "{}: {}", path.display(), r.stderr);
        assert!(
            r.stderr.contains(needle),
            "{}: expected `{needle}` in:\n{}",
            path.display(),
            r.stderr
        );
        assert_eq!(before, fingerprint(path), "{} was modified", path.display());
    }
    // Another realm's command on this file.
    let before = fingerprint(&good);
    let r = run(&mut export_cmd(&db.url, "GenOrg", &other_realm, &good, &[]));
    assert_eq!(r.code, 41, "{}", r.stderr);
    assert!(r.stderr.contains("it exports realm"), "{}", r.stderr);
    assert_eq!(before, fingerprint(&good));
}

#[tokio::test(flavor = "multi_thread")]
async fn rerunning_a_complete_export_writes_nothing() {
    let (db, org) = generated_db("complete").await;
    let realm = org.realms[0].realm_id.simple().to_string();
    let dir = tempfile::tempdir().unwrap();
    // Directory output: the second run must find the file the first one wrote.
    run(&mut export_cmd(&db.url, "GenOrg", &realm, dir.path(), &[])).ok();
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let file = &files[0];
    assert_eq!(flags(file), (1, 1, 1, 1));
    let before = fingerprint(file);
    std::thread::sleep(std::time::Duration::from_millis(20));
    for target in [dir.path(), file.as_path()] {
        let r = run(&mut export_cmd(&db.url, "GenOrg", &realm, target, &[]));
        r.ok();
        assert!(r.stdout.contains("nothing to do"), "{}", r.stdout);
        assert_eq!(before, fingerprint(file), "a complete export was modified");
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no other file may appear"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(file).unwrap().permissions().mode() & 0o777,
        0o600
    );
}
