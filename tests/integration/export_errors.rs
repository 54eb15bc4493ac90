//! Each failure gets its message and its documented exit code, and never shows the password.

use crate::export_generated::generated_db;
use crate::harness::{export_cmd, run, TestDb};

pub fn assert_fails(r: &crate::harness::Run, code: i32, needles: &[&str]) {
    assert_eq!(
        r.code, code,
        "exit code\nstdout:\n{}\nstderr:\n{}",
        r.stdout, r.stderr
    );
    for n in needles {
        assert!(r.stderr.contains(n), "stderr lacks `{n}`:\n{}", r.stderr);
    }
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn source_errors_have_their_own_codes() {
    let (db, org) = generated_db("errors").await;
    let client = db.client().await;
    let realm = org.realms[0].realm_id.simple().to_string();
    let out = tempfile::tempdir().unwrap();
    let o = out.path();

    assert_fails(
        &run(&mut export_cmd(&db.url, "NoSuchOrg", &realm, o, &[])),
        10,
        &["NoSuchOrg", "not found"],
    );

    client
        .batch_execute(
            "INSERT INTO organization (organization_id, user_profile_outsider_allowed, is_expired, _created_on, realm_minimum_archiving_period_before_deletion) \
             VALUES ('Unborn', true, false, now(), 2592000)",
        )
        .await
        .unwrap();
    assert_fails(
        &run(&mut export_cmd(&db.url, "Unborn", &realm, o, &[])),
        10,
        &["Unborn", "bootstrapped"],
    );

    let missing = "00000000000000000000000000000bad";
    assert_fails(
        &run(&mut export_cmd(&db.url, "GenOrg", missing, o, &[])),
        11,
        &[missing, "GenOrg"],
    );

    let created = org.realms[0].created_on - chrono::Duration::seconds(1);
    let before = created.to_rfc3339();
    assert_fails(
        &run(&mut export_cmd(
            &db.url,
            "GenOrg",
            &realm,
            o,
            &["--snapshot-timestamp", &before],
        )),
        13,
        &["older than the realm's creation"],
    );

    let now = chrono::Utc::now();
    for too_recent in [now, now - chrono::Duration::seconds(300)] {
        let r = run(&mut export_cmd(
            &db.url,
            "GenOrg",
            &realm,
            o,
            &["--snapshot-timestamp", &too_recent.to_rfc3339()],
        ));
        assert_fails(&r, 14, &["too recent", "320"]);
    }

    let deleted = org.realms[2].realm_id;
    client
        .execute(
            "UPDATE realm SET status = 'DELETED' WHERE realm_id = $1",
            &[&deleted],
        )
        .await
        .unwrap();
    assert_fails(
        &run(&mut export_cmd(
            &db.url,
            "GenOrg",
            &deleted.simple().to_string(),
            o,
            &[],
        )),
        12,
        &["deleted"],
    );
    // Nothing was created by any of these failures.
    assert_eq!(std::fs::read_dir(o).unwrap().count(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn database_errors_never_show_the_password() {
    let secret = "Sup3r-S3cret-pw";
    let out = tempfile::tempdir().unwrap();
    let realm = "f0000000000000000000000000000001";
    // Nothing listens on port 1.
    let url = format!("postgresql://alice:{secret}@127.0.0.1:1/parsec");
    let r = run(&mut export_cmd(&url, "Org", realm, out.path(), &[]));
    assert_fails(
        &r,
        20,
        &["cannot connect", "postgresql://alice@127.0.0.1:1/parsec"],
    );
    assert!(!r.all().contains(secret));

    let db = TestDb::empty("errors_auth").await;
    let url = db.url.replace(
        "postgresql://postgres@",
        &format!("postgresql://nobody_here:{secret}@"),
    );
    let r = run(&mut export_cmd(&url, "Org", realm, out.path(), &[]));
    assert_fails(&r, 21, &["refused the credentials"]);
    assert!(!r.all().contains(secret));

    // An empty database is not Parsec's.
    let r = run(&mut export_cmd(&db.url, "Org", realm, out.path(), &[]));
    assert_fails(&r, 22, &["not a Parsec database"]);

    // A Parsec database too old for the export format.
    let old = TestDb::with_schema("errors_old").await;
    old.client()
        .await
        .batch_execute("DELETE FROM migration WHERE _id > 9")
        .await
        .unwrap();
    let r = run(&mut export_cmd(&old.url, "Org", realm, out.path(), &[]));
    assert_fails(&r, 22, &["migration 0009", "v3.3.0"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_or_wrong_block_data_is_reported_and_resumable() {
    let (db, org) = generated_db("errors_blocks").await;
    let client = db.client().await;
    let realm = org.realms[0].realm_id;
    let (block_id, data) = crate::export_generated::remove_last_block_data(&client, realm).await;
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("e.sqlite");
    let r = run(&mut export_cmd(
        &db.url,
        "GenOrg",
        &realm.simple().to_string(),
        &file,
        &[],
    ));
    assert_fails(
        &r,
        30,
        &[
            &block_id.hyphenated().to_string(),
            "missing from the blockstore",
        ],
    );
    assert_eq!(crate::rows::flags(&file), (1, 1, 1, 0));

    // Wrong length: detected, not written.
    let mut longer = data.clone();
    longer.push(0);
    client
        .execute(
            "INSERT INTO block_data (organization_id, block_id, data) VALUES ('GenOrg', $1, $2)",
            &[&block_id, &longer],
        )
        .await
        .unwrap();
    let r = run(&mut export_cmd(
        &db.url,
        "GenOrg",
        &realm.simple().to_string(),
        &file,
        &[],
    ));
    assert_fails(&r, 31, &[&block_id.hyphenated().to_string(), "returned"]);

    // Once the store is repaired, the same command completes the file.
    client
        .execute(
            "UPDATE block_data SET data = $2 WHERE block_id = $1",
            &[&block_id, &data],
        )
        .await
        .unwrap();
    run(&mut export_cmd(
        &db.url,
        "GenOrg",
        &realm.simple().to_string(),
        &file,
        &[],
    ))
    .ok();
    crate::export_generated::assert_export_matches_db(&client, &file, "GenOrg", realm).await;
}
