//! An export while the server keeps writing into the same realm and organization: rows
//! after the snapshot, and late rows (timestamped before the snapshot but inserted after the
//! export started, as a slow upload is). The export, killed twice and resumed while the
//! writes go on, must hold exactly the snapshot: the rows of an export made before any of
//! these writes, nothing more, nothing less.

use std::time::Duration;

use parsec_sequester::ids::parse_timestamp;
use parsec_sequester::testbed::{self, OrgSpec};

use crate::harness::{export_cmd, run, TestDb};
use crate::kill::{file_state, run_and_kill, KillAt, Step};
use crate::rows::{assert_same_content, scalar};
use crate::slow::slow_down;
use crate::stores::T;
use crate::writers::{Late, Writer};

#[tokio::test(flavor = "multi_thread")]
async fn exports_hold_exactly_the_snapshot_while_the_server_writes() {
    let db = TestDb::with_schema("live_writes").await;
    let client = db.client().await;
    let mut spec = OrgSpec::small("LiveOrg");
    spec.realms = 2;
    spec.vlob_versions_per_realm = 100;
    spec.blocks_per_realm = 80;
    spec.block_size_min = 2048;
    spec.block_size_max = 8192;
    let org = testbed::populate(&client, &spec).await.unwrap();
    let realm = org.realms[0].realm_id;
    let realm_s = realm.simple().to_string();
    let dir = tempfile::tempdir().unwrap();
    let at_t = ["--snapshot-timestamp", T];

    // The snapshot, exported before the server writes anything more.
    let reference = dir.path().join("reference.sqlite");
    run(&mut export_cmd(
        &db.url, "LiveOrg", &realm_s, &reference, &at_t,
    ))
    .ok();

    slow_down(&client, "vlob_atom", "blob", 4).await;
    slow_down(&client, "block", "key_index", 3).await;
    slow_down(&client, "block_data", "data", 10).await;
    let t = chrono::DateTime::from_timestamp_micros(parse_timestamp(T).unwrap()).unwrap();
    let file = dir.path().join("live.sqlite");
    // Late vlobs just before T; late blocks within the 320 s a block may follow T by; from
    // the moment the export file exists.
    let late = Late {
        vlob_time: t - chrono::Duration::seconds(1),
        block_time: t + chrono::Duration::seconds(100),
        after: file.clone(),
    };
    let writer = Writer::start(
        &db.url,
        "LiveOrg",
        realm,
        Some(late),
        Duration::from_millis(20),
    );
    let cmd = || {
        export_cmd(
            &db.url,
            "LiveOrg",
            &realm_s,
            &file,
            &["--snapshot-timestamp", T, "--jobs", "2"],
        )
    };

    // Killed while reading vlobs: the next run reads vlobs and blocks from a new snapshot,
    // where the late rows are visible; only the bounds stored in the file keep them out.
    let first = run_and_kill(
        &mut cmd(),
        &file,
        KillAt::AfterLine("2/4 ", Duration::from_millis(150)),
        Duration::from_secs(60),
    );
    assert!(first.killed, "{}", first.stderr);
    assert_eq!(file_state(&file).step, Step::Vlobs);
    std::thread::sleep(Duration::from_millis(300));
    let second = run_and_kill(
        &mut cmd(),
        &file,
        KillAt::AfterLine("4/4 ", Duration::from_millis(250)),
        Duration::from_secs(60),
    );
    assert!(second.killed, "{}", second.stderr);
    let state = file_state(&file);
    assert_eq!(state.step, Step::BlocksData);
    assert!(state.block_data < state.blocks, "{state:?}");
    std::thread::sleep(Duration::from_millis(300));
    let last = run(&mut cmd());
    last.ok();
    let stats = writer.stop();

    assert!(stats.errors.is_empty(), "writes failed: {:?}", stats.errors);
    for kind in [
        "vlob",
        "vlob version",
        "block",
        "role",
        "keys bundle access",
        "profile certificate",
        "realm name certificate",
        "late vlob",
        "late block",
    ] {
        assert!(
            stats.done.get(kind).copied().unwrap_or(0) >= 10,
            "too few `{kind}` writes during the export: {:?}",
            stats.done
        );
    }
    assert_same_content(&file, &reference);

    // The late rows are within the snapshot's time bounds: a new export of the same
    // snapshot now takes them, so the test above could fail.
    let fresh = dir.path().join("fresh.sqlite");
    run(&mut export_cmd(&db.url, "LiveOrg", &realm_s, &fresh, &at_t)).ok();
    let count =
        |f: &std::path::Path, table: &str| scalar(f, &format!("SELECT COUNT(*) FROM {table}"));
    assert!(count(&fresh, "vlob_atom") >= count(&reference, "vlob_atom") + 10);
    assert!(count(&fresh, "block") >= count(&reference, "block") + 10);
    eprintln!(
        "writes during the export: {:?}; slowest {:?}",
        stats.done, stats.max_latency
    );
}
