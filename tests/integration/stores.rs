//! Databases whose blocks are also in S3 stores (Garage), the reference export they are
//! compared with, and direct access to the stores' objects. Shared by the S3, torture and
//! store-fault tests.

use std::path::{Path, PathBuf};

use parsec_sequester::blockstore::parse_blockstore_configs;
use parsec_sequester::testbed::{self, BlockUploader, OrgSpec};

use crate::garage::Garage;
use crate::harness::{export_cmd, run, Run, TestDb};

/// The snapshot of every export of these tests: after all the generated data.
pub const T: &str = "2025-01-01T00:00:00Z";

/// A database whose blocks are both in `block_data` and in every given store layout: one
/// realm of `S3Org` with 60 blocks.
pub async fn db_with_stores(hint: &str, layouts: &[Vec<String>]) -> (TestDb, uuid::Uuid) {
    db_with_stores_and(hint, layouts, |_| {}).await
}

/// Same, with the organization's spec adjusted by `adjust` (it stays `S3Org`).
pub async fn db_with_stores_and(
    hint: &str,
    layouts: &[Vec<String>],
    adjust: impl FnOnce(&mut OrgSpec),
) -> (TestDb, uuid::Uuid) {
    let db = TestDb::with_schema(hint).await;
    let client = db.client().await;
    let uploaders: Vec<BlockUploader> = layouts
        .iter()
        .map(|values| {
            BlockUploader::for_config(&parse_blockstore_configs(values).unwrap())
                .unwrap()
                .unwrap()
        })
        .collect();
    let mut spec = OrgSpec::small("S3Org");
    spec.realms = 1;
    spec.blocks_per_realm = 60;
    adjust(&mut spec);
    let handle = tokio::runtime::Handle::current();
    let mut sink = |block_id: uuid::Uuid, data: &[u8]| {
        tokio::task::block_in_place(|| {
            handle.block_on(async {
                for up in &uploaders {
                    up.put("S3Org", block_id, data).await?;
                }
                Ok(())
            })
        })
    };
    let org = testbed::populate_with_sink(&client, &spec, &mut sink)
        .await
        .unwrap();
    (db, org.realms[0].realm_id)
}

/// `export-realm` of `org`'s realm at [`T`] from `stores`; `extra` goes before OUTPUT.
pub fn store_export_cmd(
    db: &TestDb,
    org: &str,
    realm: uuid::Uuid,
    out: &Path,
    stores: &[String],
    extra: &[&str],
) -> std::process::Command {
    let realm = realm.simple().to_string();
    let mut cmd = crate::harness::tool();
    cmd.args([
        "export-realm",
        "--db",
        &db.url,
        "--organization",
        org,
        "--realm",
        &realm,
    ])
    .args(["--snapshot-timestamp", T]);
    for s in stores {
        cmd.args(["--blockstore", s]);
    }
    cmd.args(extra).arg(out);
    cmd
}

/// The same for `S3Org`.
pub fn s3_export_cmd(
    db: &TestDb,
    realm: uuid::Uuid,
    out: &Path,
    stores: &[String],
    extra: &[&str],
) -> std::process::Command {
    store_export_cmd(db, "S3Org", realm, out, stores, extra)
}

pub fn export(
    db: &TestDb,
    realm: uuid::Uuid,
    out: &Path,
    stores: &[String],
    extra: &[&str],
) -> Run {
    run(&mut s3_export_cmd(db, realm, out, stores, extra))
}

/// The reference: the same snapshot of `org`'s realm exported from PostgreSQL; then
/// `block_data` is hidden so that only the object stores can answer.
pub async fn reference_for(db: &TestDb, org: &str, realm: uuid::Uuid, dir: &Path) -> PathBuf {
    let file = dir.join("from-postgresql.sqlite");
    let realm = realm.simple().to_string();
    run(&mut export_cmd(
        &db.url,
        org,
        &realm,
        &file,
        &["--snapshot-timestamp", T],
    ))
    .ok();
    db.client()
        .await
        .batch_execute("ALTER TABLE block_data RENAME TO block_data_hidden")
        .await
        .unwrap();
    file
}

/// The same for `S3Org`.
pub async fn reference(db: &TestDb, realm: uuid::Uuid, dir: &Path) -> PathBuf {
    reference_for(db, "S3Org", realm, dir).await
}

/// The `--blockstore` values of a RAID array with one node per store.
pub fn nodes(garages: &[Garage], mode: &str, bucket: &str) -> Vec<String> {
    garages
        .iter()
        .enumerate()
        .map(|(i, g)| format!("{mode}:{i}:{}", g.blockstore(bucket)))
        .collect()
}

/// A client of `bucket` on `g`, to read, replace or delete objects behind the tool's back.
pub fn object_store_for(g: &Garage, bucket: &str) -> object_store::aws::AmazonS3 {
    object_store::aws::AmazonS3Builder::new()
        .with_endpoint(format!("http://127.0.0.1:{}", g.s3_port))
        .with_allow_http(true)
        .with_region("garage")
        .with_bucket_name(bucket)
        .with_access_key_id(&g.key_id)
        .with_secret_access_key(&g.secret)
        .build()
        .unwrap()
}

/// The names of every object of the store.
pub async fn list_all(store: &object_store::aws::AmazonS3) -> Vec<object_store::path::Path> {
    use futures::TryStreamExt;
    use object_store::ObjectStore;
    store
        .list(None)
        .map_ok(|m| m.location)
        .try_collect()
        .await
        .unwrap()
}

pub async fn delete_all(store: &object_store::aws::AmazonS3) {
    use object_store::ObjectStoreExt;
    let names = list_all(store).await;
    assert!(!names.is_empty());
    for name in names {
        store.delete(&name).await.unwrap();
    }
}
