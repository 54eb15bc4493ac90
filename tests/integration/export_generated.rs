//! On generated organizations: exports hold exactly the realm's rows up to the snapshot.

use std::path::Path;

use parsec_sequester::testbed::{self, OrgSpec};
use rusqlite::types::Value;

use crate::harness::{export_cmd, run, TestDb};
use crate::oracle::{assert_certificates, expected, sorted, Expected};
use crate::rows::{flags, scalar, table};

/// Compares every table of the export with the oracle.
pub async fn assert_export_matches_db(
    client: &tokio_postgres::Client,
    file: &Path,
    org: &str,
    realm: uuid::Uuid,
) {
    let t = scalar(file, "SELECT snapshot_timestamp FROM info");
    assert_export_matches(file, &expected(client, org, realm, t).await);
}

/// Compares every table of the export with what the oracle computed.
pub fn assert_export_matches(file: &Path, exp: &Expected) {
    let vlobs = crate::rows::rows(
        &crate::rows::open(file),
        "SELECT sequential_id, vlob_id, version, key_index, size, blob, author, timestamp FROM vlob_atom ORDER BY sequential_id",
    );
    assert_eq!(vlobs, exp.vlobs, "vlob_atom");
    assert_eq!(table(file, "block", "sequential_id"), exp.blocks, "block");
    assert_eq!(
        table(file, "block_data", "block"),
        exp.block_data,
        "block_data"
    );
    assert_certificates(
        &table(file, "common_certificate", "_id"),
        &exp.common,
        "common",
    );
    assert_certificates(
        &table(file, "sequester_certificate", "_id"),
        &exp.sequester,
        "sequester",
    );
    assert_certificates(
        &table(file, "realm_certificate", "_id"),
        &exp.realm,
        "realm",
    );
    assert_eq!(
        table(file, "realm_keys_bundle", "key_index"),
        exp.keys_bundles,
        "keys bundles"
    );
    let strip_id =
        |rows: Vec<Vec<Value>>| sorted(rows.into_iter().map(|r| r[1..].to_vec()).collect());
    assert_eq!(
        strip_id(table(file, "realm_keys_bundle_access", "_id")),
        exp.user_accesses,
        "user accesses"
    );
    assert_eq!(
        strip_id(table(file, "realm_sequester_keys_bundle_access", "_id")),
        exp.sequester_accesses,
        "sequester accesses"
    );
    // Totals are Parsec's: the rows stamped ≤ T (the file may hold more, reference §2.3).
    assert_eq!(
        scalar(file, "SELECT vlobs_total_bytes FROM info"),
        exp.vlobs_total_bytes,
        "vlobs_total_bytes"
    );
    assert_eq!(
        scalar(file, "SELECT blocks_total_bytes FROM info"),
        exp.blocks_total_bytes,
        "blocks_total_bytes"
    );
    assert_eq!(flags(file), (1, 1, 1, 1));
}

/// Deletes the data of the realm's last block from `block_data`, as if the store lost it;
/// returns the block and its bytes, to put them back.
pub async fn remove_last_block_data(
    client: &tokio_postgres::Client,
    realm: uuid::Uuid,
) -> (uuid::Uuid, Vec<u8>) {
    let row = client
        .query_one(
            "SELECT b.block_id, bd.data FROM block b JOIN realm r ON r._id = b.realm \
             JOIN block_data bd ON bd.block_id = b.block_id WHERE r.realm_id = $1 ORDER BY b._id DESC LIMIT 1",
            &[&realm],
        )
        .await
        .unwrap();
    let (block_id, data): (uuid::Uuid, Vec<u8>) = (row.get(0), row.get(1));
    client
        .execute("DELETE FROM block_data WHERE block_id = $1", &[&block_id])
        .await
        .unwrap();
    (block_id, data)
}

pub async fn generated_db(hint: &str) -> (TestDb, testbed::GeneratedOrg) {
    let db = TestDb::with_schema(hint).await;
    let client = db.client().await;
    let mut spec = OrgSpec::small("GenOrg");
    spec.sequestered = true;
    spec.sequester_key_bits = 1024; // fast to generate
    let org = testbed::populate(&client, &spec)
        .await
        .expect("populate GenOrg");
    // Noise that must never leak into GenOrg's exports.
    let mut other = OrgSpec::small("OtherOrg");
    other.seed = 99;
    testbed::populate(&client, &other)
        .await
        .expect("populate OtherOrg");
    (db, org)
}

#[tokio::test(flavor = "multi_thread")]
async fn full_export_matches_the_database_row_for_row() {
    let (db, org) = generated_db("gen_full").await;
    let client = db.client().await;
    let out = tempfile::tempdir().unwrap();
    for realm in &org.realms {
        let file = out
            .path()
            .join(format!("{}.sqlite", realm.realm_id.simple()));
        let r = run(&mut export_cmd(
            &db.url,
            "GenOrg",
            &realm.realm_id.simple().to_string(),
            &file,
            &[],
        ));
        r.ok();
        assert!(r.stdout.contains("Export complete"), "{}", r.stdout);
        assert_export_matches_db(&client, &file, "GenOrg", realm.realm_id).await;
        assert!(scalar(&file, "SELECT COUNT(*) FROM vlob_atom") > 0);
        crate::schema::assert_schema_is_parsecs(&file);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn rows_after_the_snapshot_are_left_out() {
    let (db, org) = generated_db("gen_past").await;
    let client = db.client().await;
    let realm = &org.realms[0];
    // Halfway through the realm's life.
    let mid = realm.created_on + (org.end - realm.created_on) / 2;
    let mid_us = mid.timestamp_micros();
    let all = expected(
        &client,
        "GenOrg",
        realm.realm_id,
        org.end.timestamp_micros(),
    )
    .await;
    let before = expected(&client, "GenOrg", realm.realm_id, mid_us).await;
    assert!(
        before.vlobs.len() < all.vlobs.len(),
        "the test needs vlobs after the snapshot"
    );
    assert!(
        !before.vlobs.is_empty(),
        "the test needs vlobs before the snapshot"
    );

    let out = tempfile::tempdir().unwrap();
    let stamp = parsec_sequester::ids::format_timestamp(mid_us);
    run(&mut export_cmd(
        &db.url,
        "GenOrg",
        &realm.realm_id.to_string(),
        out.path(),
        &["--snapshot-timestamp", &stamp],
    ))
    .ok();
    let file = out
        .path()
        .join(parsec_sequester::ids::default_export_file_name(
            "GenOrg",
            &realm.realm_id,
            mid_us,
        ));
    assert_eq!(scalar(&file, "SELECT snapshot_timestamp FROM info"), mid_us);
    assert_export_matches_db(&client, &file, "GenOrg", realm.realm_id).await;
    assert_eq!(
        scalar(&file, "SELECT COUNT(*) FROM vlob_atom WHERE timestamp > (SELECT snapshot_timestamp FROM info)"),
        0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn options_accept_parsec_spellings_and_environment() {
    let (db, org) = generated_db("gen_opts").await;
    let realm = org.realms[1].realm_id;
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("via-env.sqlite");
    let mut cmd = crate::harness::tool();
    cmd.args([
        "export_realm",
        "--organization-id",
        "GenOrg",
        "--realm-id",
        &realm.hyphenated().to_string(),
        "--output",
    ])
    .arg(&file)
    .env("PARSEC_DB", db.url.replace("postgresql://", "postgres://"))
    .env("PARSEC_BLOCKSTORE", "postgresql");
    run(&mut cmd).ok();
    assert_eq!(flags(&file), (1, 1, 1, 1));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_stdout_or_stderr_is_not_a_crash() {
    let (db, org) = generated_db("gen_pipe").await;
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("pipe.sqlite");
    let realm = org.realms[0].realm_id.simple().to_string();
    // `… | head -n 0`: both streams closed before the tool writes anything.
    let mut child = export_cmd(&db.url, "GenOrg", &realm, &file, &[])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(flags(&file), (1, 1, 1, 1));
}
