//! Exports from a real OpenStack Swift (see `swift.rs`) against the same export from
//! PostgreSQL; store failures: a missing object, wrong credentials, a wrong container, an
//! unreachable auth URL, and Swift killed and restarted in the middle of an export.

use std::path::{Path, PathBuf};

use parsec_sequester::blockstore::object_name;
use parsec_sequester::testbed::{self, OrgSpec};

use crate::harness::{run, Run, TestDb};
use crate::rows::{assert_same_content, scalar};
use crate::stores::{reference_for, store_export_cmd};
use crate::swift::{Swift, KEY};

const ORG: &str = "SwiftOrg";

/// A database whose blocks are both in `block_data` and, as Parsec's server writes them
/// (`<org>/<block uuid hyphenated>`), in the Swift container.
async fn db_with_swift(
    hint: &str,
    swift: &Swift,
    container: &str,
    spec: OrgSpec,
) -> (TestDb, uuid::Uuid) {
    let db = TestDb::with_schema(hint).await;
    let client = db.client().await;
    let uploader = swift.uploader(container).await;
    let handle = tokio::runtime::Handle::current();
    let mut sink = |block_id: uuid::Uuid, data: &[u8]| {
        tokio::task::block_in_place(|| {
            handle.block_on(uploader.put(&object_name(ORG, block_id), data))
        })
    };
    let org = testbed::populate_with_sink(&client, &spec, &mut sink)
        .await
        .unwrap();
    (db, org.realms[0].realm_id)
}

fn spec(blocks: usize) -> OrgSpec {
    let mut spec = OrgSpec::small(ORG);
    spec.realms = 1;
    spec.blocks_per_realm = blocks;
    spec
}

fn export(db: &TestDb, realm: uuid::Uuid, out: &Path, store: &str) -> Run {
    run(&mut store_export_cmd(
        db,
        ORG,
        realm,
        out,
        &[store.to_owned()],
        &[],
    ))
}

async fn reference(db: &TestDb, realm: uuid::Uuid, dir: &Path) -> PathBuf {
    reference_for(db, ORG, realm, dir).await
}

#[tokio::test(flavor = "multi_thread")]
async fn swift_export_equals_postgresql_and_store_failures_are_reported() {
    let swift = Swift::start(&["blocks"]).await;
    let store = swift.blockstore("blocks");
    let (db, realm) = db_with_swift("swift_export", &swift, "blocks", spec(60)).await;
    let dir = tempfile::tempdir().unwrap();
    let reference = reference(&db, realm, dir.path()).await;
    assert!(scalar(&reference, "SELECT COUNT(*) FROM block_data") >= 60);
    let objects = swift.uploader("blocks").await.list().await;
    assert_eq!(
        objects.len() as i64,
        scalar(&reference, "SELECT COUNT(*) FROM block_data")
    );

    // (a) Every block read from Swift: the same file as from PostgreSQL.
    let file = dir.path().join("swift.sqlite");
    export(&db, realm, &file, &store).ok();
    assert_same_content(&file, &reference);

    // (c, d) Wrong key, wrong container, unreachable auth URL: refused at start-up, exit 32,
    // nothing created, no key shown.
    let wrong_key = swift.blockstore_with_key("blocks", "WrongKeyValue");
    let wrong_container = swift.blockstore("no-such-container");
    let unreachable = format!(r"swift:http\://127.0.0.1\:1/auth/v1.0:tester:blocks:test:{KEY}");
    for (case, value, needle) in [
        ("key", wrong_key, "authentication refused"),
        ("container", wrong_container, "no-such-container"),
        ("auth URL", unreachable, "127.0.0.1:1"),
    ] {
        let file = dir.path().join(format!("{case}.sqlite"));
        let r = export(&db, realm, &file, &value);
        assert_eq!(r.code, 32, "{case}: {}", r.all());
        assert!(r.stderr.contains(needle), "{case}: {}", r.stderr);
        assert!(
            !r.all().contains(KEY) && !r.all().contains("WrongKeyValue"),
            "{case}: key shown: {}",
            r.all()
        );
        assert!(!file.exists(), "{case}: a file was created");
    }

    // (b) One object deleted from the container: exit 30, the block named.
    let victim = &objects[objects.len() / 2];
    swift.uploader("blocks").await.delete(victim).await;
    let file = dir.path().join("missing.sqlite");
    let r = export(&db, realm, &file, &store);
    assert_eq!(r.code, 30, "{}", r.all());
    let block = victim.rsplit('/').next().unwrap();
    assert!(
        r.stderr.contains(block),
        "block {block} not named: {}",
        r.stderr
    );
    assert!(!r.all().contains(KEY), "key shown: {}", r.all());
}

#[tokio::test(flavor = "multi_thread")]
async fn swift_killed_and_restarted_mid_export_loses_and_doubles_nothing() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let mut swift = Swift::start(&["blocks"]).await;
    let store = swift.blockstore("blocks");
    let mut spec = spec(400);
    spec.block_size_min = 32 * 1024;
    spec.block_size_max = 64 * 1024;
    let (db, realm) = db_with_swift("swift_restart", &swift, "blocks", spec).await;
    let dir = tempfile::tempdir().unwrap();
    let reference = reference(&db, realm, dir.path()).await;

    let file = dir.path().join("restart.sqlite");
    let mut cmd = store_export_cmd(&db, ORG, realm, &file, &[store], &["--jobs", "2"]);
    cmd.env("RUST_LOG", "parsec_sequester=warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut log = String::new();
    let mut killed = false;
    for line in lines.by_ref() {
        let line = line.unwrap();
        log.push_str(&line);
        log.push('\n');
        if line.contains("4/4 Exporting blocks data") {
            // Every Swift process (memcached included: the tool's token dies with it) is
            // killed while blocks are being read, down for 2 s, then started again.
            swift.stop();
            killed = true;
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            swift.restart().await;
            break;
        }
    }
    assert!(killed, "the export never reached the blocks step:\n{log}");
    log.extend(lines.map_while(Result::ok).map(|l| l + "\n"));
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(
        log.contains("retry"),
        "no read was retried, so Swift never failed mid-export:\n{log}"
    );
    assert!(!log.contains(KEY), "key shown:\n{log}");
    assert_same_content(&file, &reference);
}
