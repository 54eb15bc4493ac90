//! Exports from S3 stores (Garage) and RAID arrays of them, healthy and degraded, against
//! the same export from PostgreSQL; store failures of every kind.

use parsec_sequester::blockstore::parse_blockstore_configs;
use parsec_sequester::testbed::{self, BlockUploader, OrgSpec};

use crate::garage::Garage;
use crate::harness::TestDb;
use crate::rows::{assert_same_content, scalar};
use crate::stores::{
    db_with_stores, delete_all, export, nodes, object_store_for, reference, s3_export_cmd,
};

#[tokio::test(flavor = "multi_thread")]
async fn s3_and_every_raid_mode_export_the_same_content_healthy_and_degraded() {
    let mut garages: Vec<Garage> = (0..3)
        .map(|_| Garage::start(&["single", "raid0", "raid1", "raid5"]))
        .collect();
    let single = vec![garages[0].blockstore("single")];
    let raid0 = nodes(&garages, "RAID0", "raid0");
    let raid1 = nodes(&garages, "RAID1", "raid1");
    let raid5 = nodes(&garages, "RAID5", "raid5");
    let (db, realm) = db_with_stores(
        "s3_raid",
        &[single.clone(), raid0.clone(), raid1.clone(), raid5.clone()],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let reference = reference(&db, realm, dir.path()).await;
    assert!(scalar(&reference, "SELECT COUNT(*) FROM block_data") >= 60);

    for (name, stores) in [
        ("single", &single),
        ("raid0", &raid0),
        ("raid1", &raid1),
        ("raid5", &raid5),
    ] {
        let file = dir.path().join(format!("{name}.sqlite"));
        export(&db, realm, &file, stores, &[]).ok();
        assert_same_content(&file, &reference);
    }

    // One node down: RAID1 and RAID5 still give every block; RAID0 cannot.
    garages[1].stop();
    for (name, stores) in [("raid1", &raid1), ("raid5", &raid5)] {
        let file = dir.path().join(format!("{name}-degraded.sqlite"));
        let r = export(&db, realm, &file, stores, &[]);
        r.ok();
        assert_same_content(&file, &reference);
    }
    let file = dir.path().join("raid0-degraded.sqlite");
    let r = export(&db, realm, &file, &raid0, &["--retries", "1"]);
    assert_eq!(r.code, 32, "{}", r.stderr);
    assert!(r.stderr.contains("node 1"), "{}", r.stderr);
    // The node comes back: the same command completes the file.
    garages[1].restart();
    export(&db, realm, &file, &raid0, &[]).ok();
    assert_same_content(&file, &reference);
}

#[tokio::test(flavor = "multi_thread")]
async fn raid5_rebuilds_a_chunk_missing_from_a_live_node() {
    let garages: Vec<Garage> = (0..3).map(|_| Garage::start(&["raid5"])).collect();
    let raid5 = nodes(&garages, "RAID5", "raid5");
    let (db, realm) = db_with_stores("s3_raid5_chunk", std::slice::from_ref(&raid5)).await;
    let dir = tempfile::tempdir().unwrap();
    let reference = reference(&db, realm, dir.path()).await;
    // Delete every chunk of node 0: each block is rebuilt from node 1 and the parity.
    let store = object_store_for(&garages[0], "raid5");
    delete_all(&store).await;
    let file = dir.path().join("raid5.sqlite");
    export(&db, realm, &file, &raid5, &[]).ok();
    assert_same_content(&file, &reference);
    // Two chunks gone for a block: missing, reported as such.
    delete_all(&object_store_for(&garages[1], "raid5")).await;
    let file = dir.path().join("raid5-broken.sqlite");
    let r = export(&db, realm, &file, &raid5, &[]);
    assert_eq!(r.code, 30, "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn store_failures_are_reported_clearly() {
    let garage = Garage::start(&["blocks"]);
    let store = vec![garage.blockstore("blocks")];
    let (db, realm) = db_with_stores("s3_failures", std::slice::from_ref(&store)).await;
    let dir = tempfile::tempdir().unwrap();
    let _ = reference(&db, realm, dir.path()).await;
    let secret = garage.secret.clone();

    // Wrong credentials, wrong bucket, unreachable endpoint: refused at start-up, exit 32,
    // nothing created, no secret shown.
    let wrong_secret = format!(
        r"s3:http\://127.0.0.1\:{}:garage:blocks:{}:WrongSecretValue",
        garage.s3_port, garage.key_id
    );
    let wrong_bucket = garage.blockstore("no-such-bucket");
    let unreachable = format!(
        r"s3:http\://127.0.0.1\:1:garage:blocks:{}:{}",
        garage.key_id, secret
    );
    for (case, value, needle) in [
        ("credentials", wrong_secret, "s3 bucket `blocks`"),
        ("bucket", wrong_bucket, "no-such-bucket"),
        ("endpoint", unreachable, "127.0.0.1:1"),
    ] {
        let file = dir.path().join(format!("{case}.sqlite"));
        let r = export(&db, realm, &file, &[value], &[]);
        assert_eq!(r.code, 32, "{case}: {}", r.stderr);
        assert!(r.stderr.contains(needle), "{case}: {}", r.stderr);
        assert!(
            !r.all().contains(&secret) && !r.all().contains("WrongSecretValue"),
            "{case}: secret shown: {}",
            r.all()
        );
        assert!(!file.exists(), "{case}: a file was created");
    }

    // A block missing from the store: exit 30, named.
    let s3 = object_store_for(&garage, "blocks");
    let victim = crate::stores::list_all(&s3).await[0].clone();
    object_store::ObjectStoreExt::delete(&s3, &victim)
        .await
        .unwrap();
    let file = dir.path().join("missing.sqlite");
    let r = export(&db, realm, &file, &store, &[]);
    assert_eq!(r.code, 30, "{}", r.stderr);
    let block = victim.as_ref().rsplit('/').next().unwrap().to_owned();
    assert!(r.stderr.contains(&block), "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_s3_restart_mid_export_loses_and_doubles_nothing() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let mut garage = Garage::start(&["blocks"]);
    let store = vec![garage.blockstore("blocks")];
    let db = TestDb::with_schema("s3_restart").await;
    let client = db.client().await;
    let uploader = BlockUploader::for_config(&parse_blockstore_configs(&store).unwrap())
        .unwrap()
        .unwrap();
    let mut spec = OrgSpec::small("S3Org");
    spec.realms = 1;
    spec.blocks_per_realm = 400;
    spec.block_size_min = 32 * 1024;
    spec.block_size_max = 64 * 1024;
    let mut sink = testbed::upload_sink(&uploader, "S3Org");
    let org = testbed::populate_with_sink(&client, &spec, &mut sink)
        .await
        .unwrap();
    let realm = org.realms[0].realm_id;
    let dir = tempfile::tempdir().unwrap();
    let reference = reference(&db, realm, dir.path()).await;

    let file = dir.path().join("restart.sqlite");
    let mut cmd = s3_export_cmd(&db, realm, &file, &store, &["--jobs", "2"]);
    cmd.env("RUST_LOG", "parsec_sequester=warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut log = String::new();
    let mut lines = stderr.lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        log.push_str(&line);
        log.push('\n');
        if line.contains("4/4 Exporting blocks data") {
            garage.stop();
            std::thread::sleep(std::time::Duration::from_secs(2));
            garage.restart();
            break;
        }
    }
    log.extend(lines.map_while(Result::ok).map(|l| l + "\n"));
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(
        log.contains("retry"),
        "no read was retried, so the store never failed mid-export:\n{log}"
    );
    assert_same_content(&file, &reference);
}
