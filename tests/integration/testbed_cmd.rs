//! `testbed populate`: builds a staging database of the requested size, and refuses to touch
//! one that already holds Parsec data unless told to.

use crate::harness::{run, tool, TestDb};

fn populate(url: &str, extra: &[&str]) -> crate::harness::Run {
    let mut cmd = tool();
    cmd.args(["testbed", "populate"])
        .env("PARSEC_DB", url)
        .args(extra);
    run(&mut cmd)
}

#[tokio::test(flavor = "multi_thread")]
async fn populate_creates_what_was_asked_and_protects_existing_data() {
    let db = TestDb::empty("testbed_cmd").await;
    let args = [
        "--create-schema",
        "--organization",
        "Staging",
        "--realms",
        "2",
        "--vlobs-per-realm",
        "30",
        "--blocks-per-realm",
        "12",
        "--block-size-min",
        "1KiB",
        "--block-size-max",
        "4KiB",
    ];
    let r = populate(&db.url, &args);
    r.ok();
    assert_eq!(r.stdout.matches("  realm ").count(), 2, "{}", r.stdout);
    let client = db.client().await;
    let count = |sql: &'static str| {
        let client = &client;
        async move { client.query_one(sql, &[]).await.unwrap().get::<_, i64>(0) }
    };
    assert_eq!(count("SELECT COUNT(*) FROM realm").await, 2);
    assert_eq!(count("SELECT COUNT(*) FROM vlob_atom").await, 60);
    assert_eq!(count("SELECT COUNT(*) FROM block").await, 24);
    assert_eq!(count("SELECT COUNT(*) FROM block_data").await, 24);
    assert_eq!(
        count("SELECT COUNT(*) FROM block WHERE size < 1024 OR size > 4096").await,
        0
    );

    // The schema exists now: --create-schema refuses; adding to a database with Parsec data
    // needs --allow-existing-data.
    let r = populate(&db.url, &args);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("already has Parsec tables"),
        "{}",
        r.stderr
    );
    let r = populate(&db.url, &["--organization", "Second"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--allow-existing-data"), "{}", r.stderr);
    populate(
        &db.url,
        &[
            "--organization",
            "Second",
            "--allow-existing-data",
            "--realms",
            "1",
        ],
    )
    .ok();
    assert_eq!(count("SELECT COUNT(*) FROM organization").await, 2);
}
