//! The tool cannot modify the server's database, and it does not get in the way of the
//! server: its sessions are read-only, and the locks it holds while exporting never block
//! the server's normal writes (nor a plain VACUUM) for more than a moment.

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::{Duration, Instant};

use parsec_sequester::db::DbTarget;

use crate::harness::export_cmd;
use crate::slow::{busy_db, slow_down};
use crate::writers::Writer;

#[tokio::test(flavor = "multi_thread")]
async fn the_tools_sessions_reject_every_write() {
    let (db, realm) = busy_db("safety_read_only", 4).await;
    // Connected exactly as the tool connects.
    let client = DbTarget::parse(&db.url).unwrap().connect().await.unwrap();
    let name: String = client
        .query_one("SHOW application_name", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(name, "parsec-sequester");
    let writes = [
        "INSERT INTO block_data (organization_id, block_id, data) VALUES ('BusyOrg', gen_random_uuid(), '\\x00')".to_owned(),
        format!("UPDATE realm SET key_index = key_index + 1 WHERE realm_id = '{realm}'"),
        "DELETE FROM vlob_atom".to_owned(),
        "CREATE TABLE parsec_sequester_was_here (x int)".to_owned(),
        "SELECT nextval('vlob_atom__id_seq')".to_owned(),
    ];
    for sql in &writes {
        let err = client
            .batch_execute(sql)
            .await
            .expect_err(&format!("accepted: {sql}"));
        let code = err.as_db_error().map(|e| e.code().code().to_owned());
        assert_eq!(code.as_deref(), Some("25006"), "{sql}: {err:?}");
    }
    // Also inside an explicit transaction, as the export's snapshot is read.
    client.batch_execute("BEGIN").await.unwrap();
    let err = client.batch_execute(&writes[0]).await.unwrap_err();
    assert_eq!(err.as_db_error().unwrap().code().code(), "25006");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_export_never_blocks_the_servers_writes() {
    let (db, realm) = busy_db("safety_locks", 60).await;
    let client = db.client().await;
    slow_down(&client, "realm_user_role", "certificate", 20).await;
    slow_down(&client, "vlob_atom", "blob", 5).await;
    slow_down(&client, "block", "key_index", 5).await;
    slow_down(&client, "block_data", "data", 15).await;
    let writer = Writer::start(&db.url, "BusyOrg", realm, None, Duration::from_millis(10));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("safety.sqlite");
    let mut child = export_cmd(
        &db.url,
        "BusyOrg",
        &realm.simple().to_string(),
        &file,
        &["--jobs", "2"],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    // What the tool's sessions hold, sampled while it runs; and maintenance meanwhile.
    let mut held = BTreeSet::new();
    let mut vacuums = 0;
    let maintenance = db.client().await;
    maintenance
        .batch_execute("SET lock_timeout = '2s'")
        .await
        .unwrap();
    let mut last_vacuum = Instant::now();
    while child.try_wait().unwrap().is_none() {
        for row in client
            .query(
                "SELECT l.locktype, l.mode FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                 WHERE a.application_name = 'parsec-sequester' AND a.datname = current_database() AND l.granted",
                &[],
            )
            .await
            .unwrap()
        {
            held.insert((row.get::<_, String>(0), row.get::<_, String>(1)));
        }
        if last_vacuum.elapsed() > Duration::from_millis(500) {
            maintenance
                .batch_execute("VACUUM (ANALYZE) vlob_atom_real, block_real")
                .await
                .expect("VACUUM blocked by the export");
            vacuums += 1;
            last_vacuum = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats = writer.stop();
    assert!(
        stats.errors.is_empty(),
        "blocked or failed writes: {:?}",
        stats.errors
    );
    assert!(
        stats.done.get("vlob").copied().unwrap_or(0) >= 20,
        "{:?}",
        stats.done
    );
    assert!(vacuums >= 2, "the export was too short to test anything");
    assert!(
        held.contains(&("relation".to_owned(), "AccessShareLock".to_owned())),
        "never saw the export's locks: {held:?}"
    );
    let harmless: BTreeSet<(String, String)> = [
        ("relation", "AccessShareLock"),
        ("virtualxid", "ExclusiveLock"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert!(
        held.is_subset(&harmless),
        "the export held locks that can block writers: {held:?}"
    );
    eprintln!(
        "writes during the export: {:?}; slowest {:?}; {vacuums} VACUUMs; locks held {held:?}",
        stats.done, stats.max_latency
    );
}
