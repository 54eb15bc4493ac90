//! Interrupted exports resume where they stopped and end with the same content as an
//! uninterrupted export; blocks already in the file are never fetched again.

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use crate::export_generated::{assert_export_matches_db, generated_db};
use crate::harness::{export_cmd, fixtures_dir, run, TestDb};
use crate::rows::{assert_same_content, flags, scalar};
use crate::slow::{after, block_data_rows, busy_db, fetched_by_run, run_and_signal, slow_down};

/// A copy of a complete export cut back to an earlier state of the export.
fn cut(full: &Path, to: &Path, sql: &str, with_bounds: bool) {
    std::fs::copy(full, to).unwrap();
    let conn = Connection::open(to).unwrap();
    conn.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
    if with_bounds {
        // The bounds an export of this snapshot records at creation (README, "Consistency"):
        // vlobs by the marker alone (i64::MAX: no time bound), blocks up to 320 s after the
        // newest exported version.
        conn.execute_batch(
            "CREATE TABLE parsec_sequester_bounds (vlob_marker INTEGER NOT NULL, vlob_time_bound INTEGER NOT NULL, \
             block_marker INTEGER NOT NULL, block_time_bound INTEGER NOT NULL, created_by TEXT NOT NULL); \
             INSERT INTO parsec_sequester_bounds SELECT (SELECT COALESCE(MAX(sequential_id), 0) FROM vlob_atom), 9223372036854775807, \
             (SELECT COALESCE(MAX(sequential_id), 0) FROM block), \
             MAX(snapshot_timestamp, (SELECT COALESCE(MAX(timestamp), 0) FROM vlob_atom)) + 320000000, 'test' FROM info;",
        )
        .unwrap();
    }
    conn.execute_batch(sql).unwrap();
}

/// Export states, from "just created" to "half the block data".
const STATES: [(&str, &str); 7] = [
    ("created", "DELETE FROM common_certificate; DELETE FROM sequester_certificate; DELETE FROM realm_certificate; \
                 DELETE FROM realm_keys_bundle; DELETE FROM realm_keys_bundle_access; DELETE FROM realm_sequester_keys_bundle_access; \
                 DELETE FROM vlob_atom; DELETE FROM block; DELETE FROM block_data; \
                 UPDATE info SET certificates_export_done = 0, vlobs_export_done = 0, blocks_metadata_export_done = 0, blocks_data_export_done = 0"),
    ("certificates", "DELETE FROM vlob_atom; DELETE FROM block; DELETE FROM block_data; \
                      UPDATE info SET vlobs_export_done = 0, blocks_metadata_export_done = 0, blocks_data_export_done = 0"),
    ("half-vlobs", "DELETE FROM vlob_atom WHERE sequential_id > (SELECT sequential_id FROM vlob_atom ORDER BY sequential_id LIMIT 1 OFFSET (SELECT COUNT(*) / 2 FROM vlob_atom)); \
                    DELETE FROM block; DELETE FROM block_data; UPDATE info SET vlobs_export_done = 0, blocks_metadata_export_done = 0, blocks_data_export_done = 0"),
    ("vlobs", "DELETE FROM block; DELETE FROM block_data; UPDATE info SET blocks_metadata_export_done = 0, blocks_data_export_done = 0"),
    ("half-blocks-metadata", "DELETE FROM block_data; DELETE FROM block WHERE sequential_id > (SELECT sequential_id FROM block ORDER BY sequential_id LIMIT 1 OFFSET (SELECT COUNT(*) / 2 FROM block)); \
                              UPDATE info SET blocks_metadata_export_done = 0, blocks_data_export_done = 0"),
    ("blocks-metadata", "DELETE FROM block_data; UPDATE info SET blocks_data_export_done = 0"),
    ("half-blocks-data", "DELETE FROM block_data WHERE block % 2 = 0; UPDATE info SET blocks_data_export_done = 0"),
];

#[tokio::test(flavor = "multi_thread")]
async fn resuming_from_every_state_gives_the_uninterrupted_content() {
    let (db, org) = generated_db("resume_states").await;
    let realm = org.realms[0].realm_id.simple().to_string();
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full.sqlite");
    run(&mut export_cmd(&db.url, "GenOrg", &realm, &full, &[])).ok();
    let total_blocks = scalar(&full, "SELECT COUNT(*) FROM block");
    assert!(total_blocks >= 4, "the test needs blocks");
    for (state, sql) in STATES {
        let partial = dir.path().join(format!("{state}.sqlite"));
        cut(&full, &partial, sql, true);
        let missing = scalar(
            &partial,
            "SELECT (SELECT COUNT(*) FROM block) - (SELECT COUNT(*) FROM block_data)",
        );
        // Until the block metadata is complete, every block is still to fetch.
        let metadata_complete = matches!(state, "blocks-metadata" | "half-blocks-data");
        let missing_after_meta = if metadata_complete {
            missing
        } else {
            total_blocks
        };
        let r = run(&mut export_cmd(&db.url, "GenOrg", &realm, &partial, &[]));
        r.ok();
        assert!(r.stderr.contains("continuing"), "{state}: {}", r.stderr);
        assert_same_content(&partial, &full);
        assert_eq!(
            fetched_by_run(&r.stdout),
            missing_after_meta,
            "{state}: blocks fetched again"
        );
        crate::schema::assert_schema_is_parsecs(&partial);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn files_started_by_parsec_are_resumed_with_parsecs_bounds() {
    let db = TestDb::with_parsec_fixture("resume_parsec").await;
    let dir = tempfile::tempdir().unwrap();
    let name = "parsec-export-WorkspaceHistoryOrgTemplate-realm-f0000000000000000000000000000008-20100101T000000Z.sqlite";
    let theirs = fixtures_dir().join("parsec-v3-db/expected").join(name);
    for (state, sql) in STATES {
        let partial: PathBuf = dir.path().join(format!("{state}.sqlite"));
        cut(&theirs, &partial, sql, false);
        let r = run(&mut export_cmd(
            &db.url,
            "WorkspaceHistoryOrgTemplate",
            "f0000000000000000000000000000008",
            &partial,
            &[],
        ));
        r.ok();
        assert_same_content(&partial, &theirs);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_and_sigterm_stop_cleanly_and_resume() {
    let (db, realm) = busy_db("resume_signals", 240).await;
    let client = db.client().await;
    slow_down(&client, "block_data", "data", 25).await;
    slow_down(&client, "vlob_atom", "blob", 10).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sig.sqlite");
    let realm_s = realm.simple().to_string();

    // SIGTERM during the vlobs: exit 143, what was read is kept.
    let (code, out) = run_and_signal(
        &mut export_cmd(&db.url, "BusyOrg", &realm_s, &file, &["--jobs", "2"]),
        "2/4 Exporting vlobs",
        libc::SIGTERM,
        // Vlobs are committed when the signal comes: a little time is all it takes.
        &after(300),
    );
    assert_eq!(code, 143, "{out}");
    assert!(
        out.contains("Run the same command again to resume"),
        "{out}"
    );
    assert_eq!(flags(&file), (1, 0, 0, 0));
    let vlobs_kept = scalar(&file, "SELECT COUNT(*) FROM vlob_atom");
    assert!(vlobs_kept > 0, "vlobs read before SIGTERM were not kept");

    // Ctrl-C during the block data: exit 130.
    let (code, out) = run_and_signal(
        &mut export_cmd(&db.url, "BusyOrg", &realm_s, &file, &["--jobs", "2"]),
        "4/4 Exporting blocks data",
        libc::SIGINT,
        &|| block_data_rows(&file) > 0,
    );
    assert_eq!(code, 130, "{out}");
    assert_eq!(flags(&file), (1, 1, 1, 0));
    let have = scalar(&file, "SELECT COUNT(*) FROM block_data");
    let total = scalar(&file, "SELECT COUNT(*) FROM block");
    assert!(
        have > 0 && have < total,
        "{have} of {total} blocks after Ctrl-C"
    );

    // The same command finishes, fetching only the missing blocks.
    let r = run(&mut export_cmd(&db.url, "BusyOrg", &realm_s, &file, &[]));
    r.ok();
    assert_eq!(fetched_by_run(&r.stdout), total - have);
    assert_export_matches_db(&client, &file, "BusyOrg", realm).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_during_block_data_then_resume() {
    let (db, realm) = busy_db("resume_kill", 240).await;
    let client = db.client().await;
    slow_down(&client, "block_data", "data", 30).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kill.sqlite");
    let realm_s = realm.simple().to_string();
    let jobs = 2;
    for _ in 0..2 {
        // Kill once this run has committed something of its own.
        let before = block_data_rows(&file);
        let (code, out) = run_and_signal(
            &mut export_cmd(
                &db.url,
                "BusyOrg",
                &realm_s,
                &file,
                &["--jobs", &jobs.to_string()],
            ),
            "4/4 Exporting blocks data",
            libc::SIGKILL,
            &|| block_data_rows(&file) > before,
        );
        assert!(code < 0, "expected a kill, got exit {code}: {out}");
    }
    let have = scalar(&file, "SELECT COUNT(*) FROM block_data");
    let total = scalar(&file, "SELECT COUNT(*) FROM block");
    assert!(have > 0 && have < total, "{have} of {total}");
    let r = run(&mut export_cmd(&db.url, "BusyOrg", &realm_s, &file, &[]));
    r.ok();
    assert_eq!(
        fetched_by_run(&r.stdout),
        total - have,
        "blocks already in the file were fetched again"
    );
    assert_export_matches_db(&client, &file, "BusyOrg", realm).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_realm_of_the_same_org_is_independent() {
    let (db, org) = generated_db("resume_two").await;
    let client = db.client().await;
    let dir = tempfile::tempdir().unwrap();
    for realm in org.realms.iter().take(2) {
        run(&mut export_cmd(
            &db.url,
            "GenOrg",
            &realm.realm_id.simple().to_string(),
            dir.path(),
            &[],
        ))
        .ok();
    }
    let mut files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2);
    for realm in org.realms.iter().take(2) {
        let f = files
            .iter()
            .find(|f| {
                f.to_string_lossy()
                    .contains(&realm.realm_id.simple().to_string())
            })
            .unwrap();
        assert_export_matches_db(&client, f, "GenOrg", realm.realm_id).await;
    }
}
