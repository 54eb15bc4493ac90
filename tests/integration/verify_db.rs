//! `verify` on real exports and against their source database: our exports pass, two
//! exports of one snapshot share a digest (ours and Parsec's alike), and `--against-db`
//! catches a source that changed or a block that differs.

use std::path::Path;

use crate::export_generated::generated_db;
use crate::harness::{
    export_cmd, fingerprint, fixtures_dir, problem_checks, run, verify_json, TestDb,
};
use crate::rows::scalar;

fn against<'a>(db_url: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["--against-db", "--db", db_url, "--blockstore", "POSTGRESQL"];
    args.extend_from_slice(extra);
    args
}

fn difference_checks(report: &serde_json::Value) -> Vec<String> {
    report["against_db"]["differences"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|d| d["check"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn export(db_url: &str, realm: uuid::Uuid, file: &Path, extra: &[&str]) {
    run(&mut export_cmd(
        db_url,
        "GenOrg",
        &realm.simple().to_string(),
        file,
        extra,
    ))
    .ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn our_exports_verify_clean_and_match_their_source() {
    let (db, org) = generated_db("verify_ours").await;
    let dir = tempfile::tempdir().unwrap();
    let mut digests = Vec::new();
    for realm in &org.realms {
        let file = dir
            .path()
            .join(format!("{}.sqlite", realm.realm_id.simple()));
        export(&db.url, realm.realm_id, &file, &[]);
        let before = fingerprint(&file);
        let (r, json) = verify_json(&file, &against(&db.url, &["--digest", "--all-blocks"]));
        assert_eq!(r.code, 0, "{}\n{json:#}", r.all());
        assert_eq!(json["ok"], true);
        assert_eq!(json["totals"]["exact"], true);
        let a = &json["against_db"];
        assert_eq!(a["ok"], true, "{a:#}");
        assert_eq!(a["selection"], "parsec-sequester");
        assert_eq!(a["all_blocks"], true);
        let blocks = scalar(&file, "SELECT COUNT(*) FROM block");
        assert_eq!(a["blocks_compared"], blocks);
        assert!(a["tables"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["equal"] == true));
        assert_eq!(
            fingerprint(&file),
            before,
            "verify modified {}",
            file.display()
        );

        // A second export of the same snapshot has the same digest.
        let snapshot = parsec_sequester::ids::format_timestamp(scalar(
            &file,
            "SELECT snapshot_timestamp FROM info",
        ));
        let again = dir
            .path()
            .join(format!("{}-again.sqlite", realm.realm_id.simple()));
        export(
            &db.url,
            realm.realm_id,
            &again,
            &["--snapshot-timestamp", &snapshot, "--jobs", "3"],
        );
        let (r, json2) = verify_json(&again, &["--digest"]);
        assert_eq!(r.code, 0, "{}", r.all());
        assert_eq!(json2["digest"], json["digest"]);
        digests.push(json["digest"]["sha256"].as_str().unwrap().to_owned());

        // The default is a random sample of blocks.
        let (r, json) = verify_json(&file, &against(&db.url, &["--sample", "2"]));
        assert_eq!(r.code, 0, "{}", r.all());
        assert_eq!(json["against_db"]["blocks_compared"], blocks.min(2));
    }
    digests.dedup();
    assert_eq!(
        digests.len(),
        org.realms.len(),
        "realms must have distinct digests"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn parsecs_exports_match_their_database_and_share_our_digest() {
    let db = TestDb::with_parsec_fixture("verify_fixture").await;
    let out = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixtures_dir().join("parsec-v3-db/expected")).unwrap() {
        let theirs = entry.unwrap().path();
        if theirs.extension().is_none_or(|e| e != "sqlite") {
            continue;
        }
        let (r, json) = verify_json(&theirs, &against(&db.url, &["--all-blocks", "--digest"]));
        assert_eq!(r.code, 0, "{}: {}\n{json:#}", theirs.display(), r.all());
        assert_eq!(json["against_db"]["ok"], true);
        assert!(json["against_db"]["selection"].is_string());

        let org = json["info"]["organization_id"].as_str().unwrap().to_owned();
        let realm = json["info"]["realm_id"].as_str().unwrap().to_owned();
        let ours = out.path().join(theirs.file_name().unwrap());
        run(&mut export_cmd(
            &db.url,
            &org,
            &realm,
            &ours,
            &["--snapshot-timestamp", "2010-01-01T00:00:00Z"],
        ))
        .ok();
        let (r, ours_json) = verify_json(&ours, &["--digest"]);
        assert_eq!(r.code, 0, "{}", r.all());
        assert_eq!(
            ours_json["digest"], json["digest"],
            "{org} {realm}: our export and Parsec's must have the same digest"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn against_db_catches_a_changed_source_or_a_differing_block() {
    let (db, org) = generated_db("verify_changed").await;
    let client = db.client().await;
    let realm = org.realms[0].realm_id;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("e.sqlite");
    export(&db.url, realm, &file, &[]);
    let block_row = client
        .query_one(
            "SELECT b.block_id, bd.data FROM block b JOIN realm r ON r._id = b.realm \
             JOIN block_data bd ON bd.block_id = b.block_id WHERE r.realm_id = $1 ORDER BY b._id LIMIT 1",
            &[&realm],
        )
        .await
        .unwrap();
    let (block_id, data): (uuid::Uuid, Vec<u8>) = (block_row.get(0), block_row.get(1));

    // Same length, other bytes.
    let mut flipped = data.clone();
    flipped[0] ^= 0xff;
    client
        .execute(
            "UPDATE block_data SET data = $2 WHERE block_id = $1",
            &[&block_id, &flipped],
        )
        .await
        .unwrap();
    let (r, json) = verify_json(&file, &against(&db.url, &["--all-blocks"]));
    assert_eq!(r.code, 51, "{}", r.all());
    assert!(
        r.stderr.contains("differs from the database"),
        "{}",
        r.stderr
    );
    assert_eq!(difference_checks(&json), ["block_data_differs"]);
    let text = json["against_db"]["differences"][0]["message"]
        .as_str()
        .unwrap();
    assert!(
        text.contains(&block_id.simple().to_string()) && text.contains("different bytes"),
        "{text}"
    );
    // The file itself is fine.
    assert_eq!(json["problems"].as_array().unwrap().len(), 0);

    // Gone from the store.
    client
        .execute("DELETE FROM block_data WHERE block_id = $1", &[&block_id])
        .await
        .unwrap();
    let (r, json) = verify_json(&file, &against(&db.url, &["--all-blocks"]));
    assert_eq!(r.code, 51, "{}", r.all());
    assert!(json["against_db"]["differences"][0]["message"]
        .as_str()
        .unwrap()
        .contains("missing from the blockstore"));
    client
        .execute(
            "INSERT INTO block_data (organization_id, block_id, data) VALUES ('GenOrg', $1, $2)",
            &[&block_id, &data],
        )
        .await
        .unwrap();
    let (r, _) = verify_json(&file, &against(&db.url, &["--all-blocks"]));
    assert_eq!(r.code, 0, "{}", r.all());

    // A vlob version of the snapshot changed on the server.
    client
        .execute(
            "UPDATE vlob_atom SET blob = blob || '\\x00'::bytea, size = size + 1 WHERE _id = \
             (SELECT v._id FROM vlob_atom v JOIN realm r ON r._id = v.realm WHERE r.realm_id = $1 ORDER BY v._id LIMIT 1)",
            &[&realm],
        )
        .await
        .unwrap();
    let (r, json) = verify_json(&file, &against(&db.url, &[]));
    assert_eq!(r.code, 51, "{}", r.all());
    let checks = difference_checks(&json);
    assert!(
        checks.contains(&"rows".to_owned()) && checks.contains(&"totals".to_owned()),
        "{checks:?}"
    );
    assert!(json["against_db"]["selection"].is_null());
    let vlobs = json["against_db"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "vlob_atom")
        .unwrap()
        .clone();
    assert_eq!(vlobs["equal"], false);

    // A file from another server.
    let foreign = fixtures_dir().join("parsec-v3/sequestered_export.sqlite");
    let (r, json) = verify_json(&foreign, &against(&db.url, &[]));
    assert_eq!(r.code, 51, "{}", r.all());
    assert_eq!(difference_checks(&json), ["source_missing"]);
    assert!(json
        .to_string()
        .contains("no bootstrapped organization `Org1`"));

    // A damaged file fails as such (50) even when compared.
    let damaged = dir.path().join("damaged.sqlite");
    std::fs::copy(&file, &damaged).unwrap();
    rusqlite::Connection::open(&damaged)
        .unwrap()
        .execute_batch("DELETE FROM block_data WHERE block = (SELECT MIN(block) FROM block_data)")
        .unwrap();
    let (r, json) = verify_json(&damaged, &against(&db.url, &[]));
    assert_eq!(r.code, 50, "{}", r.all());
    assert!(problem_checks(&json).contains(&"block_data_missing".to_owned()));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unfinished_export_is_compared_within_its_stored_bounds() {
    let (db, org) = generated_db("verify_unfinished").await;
    let client = db.client().await;
    let realm = org.realms[0].realm_id;
    let (block_id, data) = crate::export_generated::remove_last_block_data(&client, realm).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("unfinished.sqlite");
    let r = run(&mut export_cmd(
        &db.url,
        "GenOrg",
        &realm.simple().to_string(),
        &file,
        &[],
    ));
    assert_eq!(r.code, 30, "{}", r.all());
    client
        .execute(
            "INSERT INTO block_data (organization_id, block_id, data) VALUES ('GenOrg', $1, $2)",
            &[&block_id, &data],
        )
        .await
        .unwrap();

    let (r, json) = verify_json(&file, &against(&db.url, &[]));
    assert_eq!(r.code, 50, "{}", r.all());
    assert_eq!(json["complete"], false);
    assert_eq!(problem_checks(&json), ["step_not_done"]);
    let message = json["problems"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("4/4 blocks data") && message.contains("still lack their data"),
        "{message}"
    );
    assert!(json["notes"].to_string().contains("unfinished_export"));
    assert_eq!(json["against_db"]["selection"], "stored-bounds");
    // Only the missing block data differs.
    let unequal: Vec<&serde_json::Value> = json["against_db"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["equal"] == false)
        .map(|t| &t["name"])
        .collect();
    assert_eq!(unequal, ["block_data"]);

    // Finished, it passes.
    run(&mut export_cmd(
        &db.url,
        "GenOrg",
        &realm.simple().to_string(),
        &file,
        &[],
    ))
    .ok();
    let (r, _) = verify_json(&file, &against(&db.url, &["--all-blocks"]));
    assert_eq!(r.code, 0, "{}", r.all());
}

#[test]
fn database_errors_never_show_the_password() {
    let secret = "Sup3r-S3cret-pw";
    let file = fixtures_dir().join("parsec-v3/sequestered_export.sqlite");
    let url = format!("postgresql://alice:{secret}@127.0.0.1:1/parsec");
    let mut cmd = crate::harness::verify_cmd(&file, &against(&url, &[]));
    let r = run(&mut cmd);
    assert_eq!(r.code, 20, "{}", r.all());
    assert!(
        r.stderr.contains("postgresql://alice@127.0.0.1:1/parsec"),
        "{}",
        r.stderr
    );
    assert!(!r.all().contains(secret), "{}", r.all());
}
