//! What the export tells the operator about its blockstore: warnings (once per node and
//! cause) and the "store health" section / `--json` counts, checked against the stores' own
//! listings (Garage's S3 API) and the export file's tables.

use std::time::Duration;

use serde_json::Value;

use crate::garage::Garage;
use crate::harness::Run;
use crate::leaks::assert_no_secret;
use crate::proxy::Proxy;
use crate::rows::assert_same_content;
use crate::stores::{
    db_with_stores, delete_all, export, list_all, nodes, object_store_for, reference,
};
use crate::summary_json::{expected_tables, node, parse};

/// Objects of S3Org in `bucket` of `g`, as Garage lists them.
async fn objects(g: &Garage, bucket: &str) -> u64 {
    list_all(&object_store_for(g, bucket))
        .await
        .iter()
        .filter(|p| p.as_ref().starts_with("S3Org/"))
        .count() as u64
}

/// The export succeeds, equals the reference, and says it once per node and cause.
fn check_degraded(r: &Run, warning: &str, occurrences: usize) {
    r.ok();
    assert_eq!(
        r.stderr.matches(warning).count(),
        occurrences,
        "`{warning}` expected {occurrences} times in\n{}",
        r.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn degraded_raid_nodes_are_named_with_their_counts() {
    let mut garages: Vec<Garage> = (0..3)
        .map(|_| Garage::start(&["data", "parity", "stopped", "mirror"]))
        .collect();
    let data = nodes(&garages, "RAID5", "data");
    let parity = nodes(&garages, "RAID5", "parity");
    let stopped = nodes(&garages, "RAID5", "stopped");
    let mirror = nodes(&garages, "RAID1", "mirror");
    let layouts = [
        data.clone(),
        parity.clone(),
        stopped.clone(),
        mirror.clone(),
    ];
    let (db, realm) = db_with_stores("health_raid", &layouts).await;
    let dir = tempfile::tempdir().unwrap();
    let reference = reference(&db, realm, dir.path()).await;
    let owned: Vec<String> = garages.iter().map(|g| g.secret.clone()).collect();
    let secrets: Vec<&str> = owned.iter().map(String::as_str).collect();

    // A RAID5 data node lost its objects: every block of it is rebuilt from parity.
    let lost = objects(&garages[1], "data").await;
    assert!(lost > 0);
    delete_all(&object_store_for(&garages[1], "data")).await;
    let file = dir.path().join("data.sqlite");
    let r = export(&db, realm, &file, &data, &[]);
    let port = garages[1].s3_port;
    let who = format!("RAID5 node 1 (s3 bucket `data` at http://127.0.0.1:{port}");
    check_degraded(&r, &format!("{who} (region garage)) did not return {lost} chunks ({lost} missing): rebuilt from parity"), 1);
    check_degraded(&r, &format!("{who} (region garage)) failed a read"), 1);
    assert!(r.stdout.contains("store health"), "{}", r.stdout);
    assert!(
        r.stdout.contains(&format!(
            "RAID5 node 1: 0 read, {lost} missing, {lost} rebuilt from parity"
        )),
        "{}",
        r.stdout
    );
    assert_same_content(&file, &reference);
    assert_no_secret(&[&r.all()], &secrets, "raid5 data node lost");

    // The parity node lost its objects: the blocks are whole, but without redundancy.
    let lost = objects(&garages[2], "parity").await;
    delete_all(&object_store_for(&garages[2], "parity")).await;
    let file = dir.path().join("parity.sqlite");
    let r = run_json(&db, realm, &file, &parity, &["--log-level", "trace"]);
    let port = garages[2].s3_port;
    check_degraded(
        &r,
        &format!("RAID5 node 2 (s3 bucket `parity` at http://127.0.0.1:{port} (region garage)) did not return {lost} parity chunks"),
        1,
    );
    let summary = parse(&r);
    let n2 = node(&summary, "RAID5 node 2");
    assert_eq!(n2["missing"], lost, "{summary:#}");
    assert_eq!(n2["parity_unreadable"], lost, "{summary:#}");
    assert_eq!(node(&summary, "RAID5 node 0")["reads_ok"], lost);
    assert_eq!(summary["store_health"]["clean"], false);
    assert_eq!(summary["tables"], expected_tables(&file));
    assert_same_content(&file, &reference);
    assert_no_secret(&[&r.all()], &secrets, "raid5 parity lost, trace log");

    // A node stopped: RAID5 rebuilds its chunks (unavailable, not missing); RAID1 fails over.
    let blocks = objects(&garages[0], "stopped").await;
    garages[0].stop();
    let file = dir.path().join("stopped.sqlite");
    let r = run_json(&db, realm, &file, &stopped, &[]);
    r.ok();
    let summary = parse(&r);
    let n0 = node(&summary, "RAID5 node 0");
    assert_eq!(n0["unavailable"], blocks, "{summary:#}");
    assert_eq!(n0["rebuilt_from_parity"], blocks, "{summary:#}");
    assert!(
        r.stderr.contains(&format!(
            "did not return {blocks} chunks ({blocks} unavailable): rebuilt from parity"
        )),
        "{}",
        r.stderr
    );
    assert_same_content(&file, &reference);

    let file = dir.path().join("mirror.sqlite");
    let r = run_json(&db, realm, &file, &mirror, &[]);
    r.ok();
    let summary = parse(&r);
    let failed_over = node(&summary, "RAID1 node 0")["failed_over"]
        .as_u64()
        .unwrap();
    // A stopped mirror refuses at once, but a read served before its refusal arrived is
    // not counted: at least one, at most one per block.
    let blocks = objects(&garages[1], "mirror").await;
    assert!(failed_over > 0 && failed_over <= blocks, "{summary:#}");
    assert!(
        r.stderr.contains(&format!(
            "failed {failed_over} reads ({failed_over} unavailable): served by another mirror"
        )),
        "{}",
        r.stderr
    );
    assert_same_content(&file, &reference);
    assert_no_secret(&[&r.all()], &secrets, "node stopped");
    eprintln!("RAID1 node 0 stopped: {failed_over} of {blocks} reads failed over");
}

fn run_json(
    db: &crate::harness::TestDb,
    realm: uuid::Uuid,
    file: &std::path::Path,
    stores: &[String],
    extra: &[&str],
) -> Run {
    let mut args = vec!["--json"];
    args.extend_from_slice(extra);
    export(db, realm, file, stores, &args)
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_that_time_out_once_are_counted_as_retries() {
    let garage = Garage::start(&["blocks"]);
    let (db, realm) = db_with_stores("health_retry", &[vec![garage.blockstore("blocks")]]).await;
    let dir = tempfile::tempdir().unwrap();
    let reference = reference(&db, realm, dir.path()).await;
    let proxy = Proxy::start(garage.s3_port, "blocks", "S3Org");
    let store = vec![proxy.blockstore("blocks", &garage.key_id, &garage.secret)];
    // The first reads outlast --block-timeout; the store is fast again before their retry.
    proxy.set_delay(Duration::from_millis(2500));
    let file = dir.path().join("retried.sqlite");
    std::thread::scope(|scope| {
        let proxy = &proxy;
        scope.spawn(move || {
            let start = std::time::Instant::now();
            while proxy.reads() == 0 && start.elapsed() < Duration::from_secs(60) {
                std::thread::sleep(Duration::from_millis(20));
            }
            std::thread::sleep(Duration::from_millis(1200));
            proxy.set_delay(Duration::ZERO);
        });
        let extra = ["--json", "--block-timeout", "1", "--jobs", "4"];
        let r = export(&db, realm, &file, &store, &extra);
        check_retries(&r, &garage.secret);
    });
    assert_same_content(&file, &reference);
}

/// The reads that timed out once (at most one per job) are counted and reported once.
fn check_retries(r: &Run, secret: &str) {
    r.ok();
    let summary = parse(r);
    let h = &summary["store_health"];
    let retried = h["reads_succeeded_after_retries"].as_u64().unwrap();
    assert!((1..=4).contains(&retried), "{summary:#}");
    assert!(
        h["attempts_timed_out"].as_u64().unwrap() >= retried,
        "{summary:#}"
    );
    assert_eq!(h["clean"], false);
    assert!(
        r.stderr
            .contains(&format!("{retried} reads succeeded after retries")),
        "{}",
        r.stderr
    );
    assert_eq!(
        r.stderr.matches("further retries are counted").count(),
        1,
        "{}",
        r.stderr
    );
    assert_no_secret(&[&r.all()], &[secret], "retries");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clean_export_reports_no_store_health_and_its_json_matches_the_file() {
    let garage = Garage::start(&["blocks"]);
    let store = vec![garage.blockstore("blocks")];
    let (db, realm) = db_with_stores("health_clean", std::slice::from_ref(&store)).await;
    let dir = tempfile::tempdir().unwrap();
    let reference = reference(&db, realm, dir.path()).await;
    let secret = [garage.secret.as_str()];

    let file = dir.path().join("text.sqlite");
    let r = export(&db, realm, &file, &store, &["--log-level", "trace"]);
    r.ok();
    assert!(!r.stdout.contains("store health"), "{}", r.stdout);
    assert!(r.stdout.contains("block data"), "{}", r.stdout);
    assert!(!r.stderr.contains("WARN"), "{}", r.stderr);
    assert_no_secret(&[&r.all()], &secret, "clean, trace log");

    let file = dir.path().join("json.sqlite");
    let r = export(
        &db,
        realm,
        &file,
        &store,
        &["--json", "--log-level", "debug"],
    );
    r.ok();
    let s: Value = parse(&r);
    assert_eq!(s["status"], "complete");
    assert_eq!(s["exit_code"], 0);
    assert_eq!(s["file"], file.display().to_string());
    assert_eq!(s["organization"], "S3Org");
    assert_eq!(s["realm"], realm.simple().to_string());
    assert_eq!(s["snapshot"], crate::stores::T);
    assert_eq!(s["tables"], expected_tables(&file));
    assert_eq!(
        s["fetched_this_run"]["blocks"],
        s["tables"]["block_data"]["rows"]
    );
    assert_eq!(s["store_health"]["clean"], true);
    assert_same_content(&file, &reference);
    assert_no_secret(&[&r.all()], &secret, "clean, json");

    // Done already: nothing read, no health; a failure is a JSON object too.
    let r = export(&db, realm, &file, &store, &["--json"]);
    let s = parse(r.ok());
    assert_eq!(s["status"], "already_complete");
    assert!(s["store_health"].is_null());
    let bad = vec![garage.blockstore("no-such-bucket")];
    let r = export(
        &db,
        realm,
        &dir.path().join("bad.sqlite"),
        &bad,
        &["--json"],
    );
    assert_ne!(r.code, 0);
    let s = parse(&r);
    assert_eq!(s["status"], "failed");
    assert_eq!(s["exit_code"], r.code);
    assert!(
        s["error"].as_str().unwrap().contains("no-such-bucket"),
        "{s:#}"
    );
    assert_no_secret(&[&r.all()], &secret, "failure, json");
}
