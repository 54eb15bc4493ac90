//! Clients' clocks disagree: `vlob_atom.created_on` is the client's timestamp, so versions
//! of one vlob are not stamped in the order the server inserted them. An export is the
//! server's insertion-order prefix up to the last row stamped ≤ T (reference §2.5), so it
//! never holds a version without its predecessors.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use parsec_sequester::testbed::{self, OrgSpec};
use rusqlite::Connection;
use uuid::Uuid;

use crate::export_generated::assert_export_matches;
use crate::harness::{export_cmd, fingerprint, run, verify_json, TestDb};
use crate::kill::{run_and_kill, KillAt};
use crate::oracle::expected;
use crate::rows::scalar;
use crate::slow::slow_down;

const ORG: &str = "SkewOrg";

fn at(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap()
}

fn rfc3339(us: i64) -> String {
    at(us).to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// An organization whose devices' clocks run up to 300 s ahead or behind.
async fn skewed_db(hint: &str) -> (TestDb, Uuid) {
    let db = TestDb::with_schema(hint).await;
    let client = db.client().await;
    let mut spec = OrgSpec::small(ORG);
    spec.realms = 1;
    spec.vlob_versions_per_realm = 300;
    spec.clock_skew_s = 300;
    let org = testbed::populate(&client, &spec).await.expect("populate");
    (db, org.realms[0].realm_id)
}

struct Realm {
    id: i32,
    author: i32,
    key_index: i32,
}

async fn realm_row(client: &tokio_postgres::Client, realm: Uuid) -> Realm {
    let row = client
        .query_one(
            "SELECT r._id, v.author, v.key_index FROM realm r JOIN vlob_atom v ON v.realm = r._id \
             WHERE r.realm_id = $1 ORDER BY v._id DESC LIMIT 1",
            &[&realm],
        )
        .await
        .unwrap();
    Realm {
        id: row.get(0),
        author: row.get(1),
        key_index: row.get(2),
    }
}

/// The latest client timestamp among the realm's versions.
async fn newest_stamp(client: &tokio_postgres::Client, realm: &Realm) -> DateTime<Utc> {
    client
        .query_one(
            "SELECT MAX(created_on) FROM vlob_atom WHERE realm = $1",
            &[&realm.id],
        )
        .await
        .unwrap()
        .get(0)
}

/// Inserts one version as the server would (the next `_id`), stamped `stamp` by its client.
async fn insert_version(
    client: &tokio_postgres::Client,
    table: &str,
    realm: &Realm,
    vlob: Uuid,
    version: i32,
    stamp: i64,
) {
    let blob = format!("{vlob} v{version}").into_bytes();
    client
        .execute(
            &format!(
                "INSERT INTO {table} (realm, key_index, vlob_id, version, blob, size, author, created_on) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            ),
            &[
                &realm.id,
                &realm.key_index,
                &vlob,
                &version,
                &blob,
                &(blob.len() as i32),
                &realm.author,
                &at(stamp),
            ],
        )
        .await
        .unwrap();
}

fn versions_of(file: &Path, vlob: Uuid) -> Vec<i64> {
    let conn = Connection::open(file).unwrap();
    let mut stmt = conn
        .prepare("SELECT version FROM vlob_atom WHERE vlob_id = ?1 ORDER BY version")
        .unwrap();
    stmt.query_map([vlob.as_bytes().as_slice()], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn assert_verifies_clean(file: &Path) {
    let (r, json) = verify_json(file, &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(json["problems"].as_array().unwrap().len(), 0, "{json:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_snapshot_inside_skewed_writes_is_the_insertion_order_prefix() {
    let (db, realm) = skewed_db("skew_inside").await;
    let client = db.client().await;
    // T: the stamp of the middle version in insertion order, where clocks disagree.
    let t: i64 = client
        .query_one(
            "SELECT v.created_on FROM vlob_atom v JOIN realm r ON r._id = v.realm WHERE r.realm_id = $1 \
             ORDER BY v._id LIMIT 1 OFFSET 150",
            &[&realm],
        )
        .await
        .unwrap()
        .get::<_, DateTime<Utc>>(0)
        .timestamp_micros();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.sqlite");
    let realm_s = realm.simple().to_string();
    run(&mut export_cmd(
        &db.url,
        ORG,
        &realm_s,
        &file,
        &["--snapshot-timestamp", &rfc3339(t)],
    ))
    .ok();
    let exp = expected(&client, ORG, realm, t).await;
    assert_export_matches(&file, &exp);
    // The skew matters here: some exported versions are stamped after T (a cut by time would
    // have dropped them), and some versions stamped before T come after the marker.
    let after_t = scalar(
        &file,
        &format!("SELECT COUNT(*) FROM vlob_atom WHERE timestamp > {t}"),
    );
    assert!(
        after_t > 0,
        "the generator's skew put no version after T below the marker"
    );
    let marker = scalar(&file, "SELECT MAX(sequential_id) FROM vlob_atom");
    let before_t_above: i64 = client
        .query_one(
            "SELECT COUNT(*) FROM vlob_atom v JOIN realm r ON r._id = v.realm WHERE r.realm_id = $1 \
             AND v._id > $2 AND v.created_on <= $3",
            &[&realm, &(marker as i32), &at(t)],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(before_t_above, 0, "the marker is the last row stamped ≤ T");
    assert_verifies_clean(&file);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_version_stamped_after_t_below_the_marker_is_kept_and_a_late_insert_never_joins() {
    let (db, realm) = skewed_db("skew_scenario").await;
    let client = db.client().await;
    let r = realm_row(&client, realm).await;
    let newest = newest_stamp(&client, &r).await;
    let t = newest.timestamp_micros() + 3_600_000_000;
    let s = 1_000_000;
    // Versions 1-5 in step, then a device 140 s ahead writes version 6 stamped T + 40 s, a
    // device late writes version 7 stamped T − 60 s, and later a row stamped exactly T.
    let vlob = Uuid::new_v4();
    for version in 1..=5 {
        insert_version(
            &client,
            "vlob_atom",
            &r,
            vlob,
            version,
            t - (300 - 20 * version as i64) * s,
        )
        .await;
    }
    insert_version(&client, "vlob_atom", &r, vlob, 6, t + 40 * s).await;
    insert_version(&client, "vlob_atom", &r, vlob, 7, t - 60 * s).await;
    let marker_vlob = Uuid::new_v4();
    insert_version(&client, "vlob_atom", &r, marker_vlob, 1, t).await;
    // Written after the marker row, stamped after T: not in the snapshot.
    insert_version(&client, "vlob_atom", &r, vlob, 8, t + 100 * s).await;
    let exp = expected(&client, ORG, realm, t).await;

    // Killed while exporting the vlobs, after the file (and its bounds) exist.
    slow_down(&client, "vlob_atom", "blob", 20).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.sqlite");
    let realm_s = realm.simple().to_string();
    let args = ["--snapshot-timestamp", &rfc3339(t)];
    let outcome = run_and_kill(
        &mut export_cmd(&db.url, ORG, &realm_s, &file, &args),
        &file,
        KillAt::AfterLine("2/4 ", Duration::from_millis(500)),
        Duration::from_secs(60),
    );
    assert!(
        outcome.killed,
        "the export ended before the kill: {}",
        outcome.stderr
    );
    assert!(
        file.exists(),
        "killed before the file existed: {}",
        outcome.stderr
    );
    // A version stamped before T, inserted above the marker once the export has started
    // (an insert that was in flight): the file's stored bounds keep it out on resume.
    let late = Uuid::new_v4();
    insert_version(&client, "vlob_atom_real", &r, late, 1, t - 10 * s).await;

    run(&mut export_cmd(&db.url, ORG, &realm_s, &file, &args)).ok();
    assert_export_matches(&file, &exp);
    assert_eq!(versions_of(&file, vlob), vec![1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(versions_of(&file, marker_vlob), vec![1]);
    assert!(
        versions_of(&file, late).is_empty(),
        "the late insert joined the export"
    );
    assert_verifies_clean(&file);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hole_in_a_vlobs_versions_is_reported_and_an_old_rule_file_is_refused() {
    let (db, realm) = skewed_db("skew_hole").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.sqlite");
    let realm_s = realm.simple().to_string();
    run(&mut export_cmd(&db.url, ORG, &realm_s, &file, &[])).ok();
    assert_verifies_clean(&file);

    // verify: a copy with one middle version deleted.
    let conn = Connection::open(&file).unwrap();
    let (vlob, middle): (Vec<u8>, i64) = conn
        .query_row(
            "SELECT vlob_id, MAX(version) / 2 + 1 FROM vlob_atom GROUP BY vlob_id HAVING MAX(version) >= 3 LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    drop(conn);
    let holed = dir.path().join("holed.sqlite");
    std::fs::copy(&file, &holed).unwrap();
    Connection::open(&holed)
        .unwrap()
        .execute(
            "DELETE FROM vlob_atom WHERE vlob_id = ?1 AND version = ?2",
            rusqlite::params![vlob, middle],
        )
        .unwrap();
    let (r, json) = verify_json(&holed, &[]);
    assert_eq!(r.code, 50, "{}", r.all());
    let hex: String = vlob.iter().map(|b| format!("{b:02x}")).collect();
    let problems = json["problems"].as_array().unwrap();
    assert!(
        problems.iter().any(|p| p["check"] == "vlob_versions"
            && p["message"].as_str().unwrap().contains(&hex)
            && p["message"]
                .as_str()
                .unwrap()
                .contains(&format!("lacks version(s) {middle}:"))),
        "{json:#}"
    );

    // export-realm: an unfinished file of an earlier build (vlobs cut at T by time) is
    // refused, untouched, with what to do.
    let old = dir.path().join("old.sqlite");
    std::fs::copy(&file, &old).unwrap();
    Connection::open(&old)
        .unwrap()
        .execute_batch(
            "CREATE TABLE parsec_sequester_bounds (vlob_marker INTEGER NOT NULL, vlob_time_bound INTEGER NOT NULL, \
             block_marker INTEGER NOT NULL, block_time_bound INTEGER NOT NULL, created_by TEXT NOT NULL); \
             INSERT INTO parsec_sequester_bounds SELECT (SELECT MAX(sequential_id) FROM vlob_atom), snapshot_timestamp, \
             (SELECT MAX(sequential_id) FROM block), snapshot_timestamp + 320000000, 'parsec-sequester 0.1.0' FROM info; \
             DELETE FROM block_data WHERE block % 2 = 0; UPDATE info SET blocks_data_export_done = 0;",
        )
        .unwrap();
    let before = fingerprint(&old);
    let r = run(&mut export_cmd(&db.url, ORG, &realm_s, &old, &[]));
    assert_eq!(r.code, 41, "{}", r.all());
    assert!(r.stderr.contains("earlier build"), "{}", r.stderr);
    assert!(r.stderr.contains("start a new export"), "{}", r.stderr);
    assert_eq!(fingerprint(&old), before, "the refused file was modified");
}

/// Two versions of one vlob with the same client timestamp cannot both go in the format
/// (UNIQUE(vlob_id, timestamp)): the export stops with the server's data named as the
/// cause, and the file this run created is not left behind as if it could be resumed.
#[tokio::test(flavor = "multi_thread")]
async fn two_versions_at_one_timestamp_are_refused_naming_the_vlob() {
    let (db, realm) = skewed_db("skew_same_stamp").await;
    let client = db.client().await;
    let r = realm_row(&client, realm).await;
    let newest = newest_stamp(&client, &r).await;
    // After every generated version (some devices' clocks run ahead), and not a whole
    // millisecond: the message then prints all six digits, as `rfc3339` does.
    let stamp = newest.timestamp_micros() / 1_000_000 * 1_000_000 + 60_123_457;
    let vlob = Uuid::new_v4();
    insert_version(&client, "vlob_atom", &r, vlob, 1, stamp).await;
    insert_version(&client, "vlob_atom", &r, vlob, 2, stamp).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.sqlite");
    let t = rfc3339(stamp + 1_000_000);
    let out = run(&mut export_cmd(
        &db.url,
        ORG,
        &realm.simple().to_string(),
        &file,
        &["--snapshot-timestamp", &t],
    ));
    assert_eq!(out.code, 24, "{}", out.all());
    assert!(
        out.stderr.contains(&vlob.simple().to_string()),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains(&rfc3339(stamp)), "{}", out.stderr);
    assert!(
        out.stderr.contains("one version per vlob and timestamp"),
        "{}",
        out.stderr
    );
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "files left behind: {left:?}");
}
