//! Blockstore faults during an export: each ends with a complete, correct file or a clear
//! error, and once the fault is gone the same command completes the file.
//!
//! The S3 server stopped and restarted mid-export is `export_s3.rs`
//! (`an_s3_restart_mid_export_loses_and_doubles_nothing`); a RAID0 node down, then back, and
//! missing blocks and chunks are there too. Here: a RAID5 node killed mid-export, a slow
//! store (a delaying proxy), and a block whose stored length is not its metadata's.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use object_store::{ObjectStoreExt, PutPayload};

use crate::garage::Garage;
use crate::leaks::assert_no_secret;
use crate::proxy::Proxy;
use crate::rows::assert_same_content;
use crate::stores::{
    db_with_stores, db_with_stores_and, export, list_all, nodes, object_store_for, reference,
    s3_export_cmd,
};

#[tokio::test(flavor = "multi_thread")]
async fn a_raid5_node_killed_mid_export_loses_nothing() {
    let mut garages: Vec<Garage> = (0..3).map(|_| Garage::start(&["raid5"])).collect();
    let raid5 = nodes(&garages, "RAID5", "raid5");
    let (db, realm) = db_with_stores_and("fault_raid5", std::slice::from_ref(&raid5), |s| {
        s.blocks_per_realm = 150;
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let reference = reference(&db, realm, dir.path()).await;
    let file = dir.path().join("raid5.sqlite");
    let mut child = s3_export_cmd(&db, realm, &file, &raid5, &["--jobs", "2"])
        .env("RUST_LOG", "parsec_sequester=debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut log = String::new();
    for line in lines.by_ref().map_while(Result::ok) {
        log.push_str(&line);
        log.push('\n');
        if line.contains("4/4 Exporting blocks data") {
            std::thread::sleep(Duration::from_millis(400));
            garages[0].stop(); // a data node
            break;
        }
    }
    log.extend(lines.map_while(Result::ok).map(|l| l + "\n"));
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{log}");
    let rebuilt = log.matches("rebuilt from parity").count();
    assert!(
        rebuilt > 0,
        "no block was rebuilt: the node died after the export\n{log}"
    );
    assert_same_content(&file, &reference);
    let secrets: Vec<&str> = garages.iter().map(|g| g.secret.as_str()).collect();
    assert_no_secret(
        &[&log, &String::from_utf8_lossy(&out.stdout)],
        &secrets,
        "raid5",
    );
    eprintln!(
        "RAID5 node 0 killed mid-export: {rebuilt} blocks rebuilt from parity, content equal"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_store_is_waited_for_or_reported_then_resumed() {
    let garage = Garage::start(&["blocks"]);
    let (db, realm) = db_with_stores("fault_slow", &[vec![garage.blockstore("blocks")]]).await;
    let dir = tempfile::tempdir().unwrap();
    let reference = reference(&db, realm, dir.path()).await;
    let proxy = Proxy::start(garage.s3_port, "blocks", "S3Org");
    let store = vec![proxy.blockstore("blocks", &garage.key_id, &garage.secret)];
    let secret = [garage.secret.as_str()];

    // Every response 150 ms late: slower, complete.
    proxy.set_delay(Duration::from_millis(150));
    let file = dir.path().join("slow.sqlite");
    let start = Instant::now();
    let r = export(&db, realm, &file, &store, &["--jobs", "8"]);
    r.ok();
    assert!(start.elapsed() >= Duration::from_millis(150 * 60 / 8));
    assert_same_content(&file, &reference);
    assert_no_secret(&[&r.all()], &secret, "slow store");

    // Slower than --block-timeout: each read is abandoned, retried, then reported (32).
    proxy.set_delay(Duration::from_millis(1500));
    let file = dir.path().join("too-slow.sqlite");
    let tight = ["--block-timeout", "1", "--retries", "1"];
    let r = export(&db, realm, &file, &store, &tight);
    assert_eq!(r.code, 32, "{}", r.all());
    assert!(r.stderr.contains("no answer within 1 s"), "{}", r.stderr);
    assert!(r.stderr.contains("re-run the same command"), "{}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    assert_no_secret(&[&r.all()], &secret, "store too slow");
    // The store is fast again: the same command completes the file.
    proxy.set_delay(Duration::ZERO);
    let r = export(&db, realm, &file, &store, &tight);
    r.ok();
    assert!(r.stderr.contains("continuing"), "{}", r.stderr);
    assert_same_content(&file, &reference);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stored_block_longer_than_its_metadata_is_refused_then_resumed() {
    let garage = Garage::start(&["blocks"]);
    let store = vec![garage.blockstore("blocks")];
    let (db, realm) = db_with_stores("fault_length", std::slice::from_ref(&store)).await;
    let dir = tempfile::tempdir().unwrap();
    let reference = reference(&db, realm, dir.path()).await;
    let s3 = object_store_for(&garage, "blocks");
    let victim = list_all(&s3).await[0].clone();
    let original = s3.get(&victim).await.unwrap().bytes().await.unwrap();
    let mut longer = original.to_vec();
    longer.extend_from_slice(b"tampered");
    s3.put(&victim, PutPayload::from(longer)).await.unwrap();

    let file = dir.path().join("length.sqlite");
    let r = export(&db, realm, &file, &store, &[]);
    assert_eq!(r.code, 31, "{}", r.all());
    let block = victim.as_ref().rsplit('/').next().unwrap().to_owned();
    assert!(r.stderr.contains(&block), "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("returned {} bytes", original.len() + 8)),
        "{}",
        r.stderr
    );
    assert_no_secret(&[&r.all()], &[&garage.secret], "length mismatch");
    // Nothing of the wrong length was written; the file completes once the store is fixed.
    assert_eq!(crate::rows::flags(&file), (1, 1, 1, 0));
    s3.put(&victim, PutPayload::from(original)).await.unwrap();
    export(&db, realm, &file, &store, &[]).ok();
    assert_same_content(&file, &reference);
}
