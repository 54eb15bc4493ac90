//! A Parsec server at work, for the tests that run an export meanwhile: one connection that
//! keeps inserting vlobs, blocks (with their data), role changes with their key accesses,
//! profile changes and realm names into one realm and its organization, and updating the
//! realm and user rows as the server does, each statement on its own like the server's
//! requests, with `lock_timeout = 2s`. It runs on its own thread and runtime.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio_postgres::types::ToSql;
use tokio_postgres::Client;
use uuid::Uuid;

/// Rows timestamped before the snapshot although inserted after the export started (slow
/// uploads): vlobs at `vlob_time`, blocks at `block_time`, written once `after` exists (the
/// export file: its bounds are then fixed).
#[derive(Debug, Clone)]
pub struct Late {
    pub vlob_time: DateTime<Utc>,
    pub block_time: DateTime<Utc>,
    pub after: std::path::PathBuf,
}

#[derive(Debug, Default)]
pub struct Stats {
    /// Statements that succeeded, by kind.
    pub done: BTreeMap<&'static str, usize>,
    /// The slowest statement.
    pub max_latency: Duration,
    pub errors: Vec<String>,
}

pub struct Writer {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<Stats>>,
}

impl Writer {
    /// Starts writing into `realm` of `org` every `every`, now-timestamped rows plus, with
    /// `late`, late rows.
    pub fn start(url: &str, org: &str, realm: Uuid, late: Option<Late>, every: Duration) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let (url, org, flag) = (url.to_owned(), org.to_owned(), stop.clone());
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let client = crate::harness::connect(&url).await;
                client
                    .batch_execute("SET lock_timeout = '2s'")
                    .await
                    .unwrap();
                let ctx = Context::load(&client, &org, realm).await;
                let mut stats = Stats::default();
                let _ = ready_tx.send(());
                while !flag.load(Ordering::SeqCst) {
                    ctx.round(&client, late.as_ref(), &mut stats).await;
                    tokio::time::sleep(every).await;
                }
                stats
            })
        });
        ready_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the writer did not start");
        Writer {
            stop,
            thread: Some(thread),
        }
    }

    pub fn stop(mut self) -> Stats {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().unwrap().join().expect("writer thread")
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Context {
    org: String,
    realm: i32,
    key_index: i32,
    device: i32,
    user: i32,
    keys_bundle: i32,
    /// Table names: `<table>_real` when a slowed view hides the table.
    vlob_atom: String,
    block: String,
    block_data: String,
    realm_user_role: String,
}

fn bytes(n: usize) -> Vec<u8> {
    (0..n).map(|_| rand::random::<u8>()).collect()
}

impl Context {
    async fn load(client: &Client, org: &str, realm: Uuid) -> Context {
        let row = client
            .query_one(
                "SELECT r._id, r.key_index, \
                 (SELECT d._id FROM device d WHERE d.organization = o._id ORDER BY d._id LIMIT 1), \
                 (SELECT u._id FROM user_ u WHERE u.organization = o._id ORDER BY u._id LIMIT 1), \
                 (SELECT k._id FROM realm_keys_bundle k WHERE k.realm = r._id ORDER BY k.key_index DESC LIMIT 1) \
                 FROM organization o JOIN realm r ON r.organization = o._id \
                 WHERE o.organization_id = $1 AND r.realm_id = $2",
                &[&org, &realm],
            )
            .await
            .unwrap();
        let mut names = Vec::new();
        for table in ["vlob_atom", "block", "block_data", "realm_user_role"] {
            let real = format!("{table}_real");
            let hidden: bool = client
                .query_one("SELECT to_regclass($1::text) IS NOT NULL", &[&real])
                .await
                .unwrap()
                .get(0);
            names.push(if hidden { real } else { table.to_owned() });
        }
        Context {
            org: org.to_owned(),
            realm: row.get(0),
            key_index: row.get(1),
            device: row.get(2),
            user: row.get(3),
            keys_bundle: row.get(4),
            realm_user_role: names.pop().unwrap(),
            block_data: names.pop().unwrap(),
            block: names.pop().unwrap(),
            vlob_atom: names.pop().unwrap(),
        }
    }

    async fn timed(
        &self,
        client: &Client,
        stats: &mut Stats,
        kind: &'static str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Option<Vec<tokio_postgres::Row>> {
        let start = Instant::now();
        let result = client.query(sql, params).await;
        stats.max_latency = stats.max_latency.max(start.elapsed());
        match result {
            Ok(rows) => {
                *stats.done.entry(kind).or_default() += 1;
                Some(rows)
            }
            Err(e) => {
                let text = e
                    .as_db_error()
                    .map(|d| format!("{} ({})", d.message(), d.code().code()))
                    .unwrap_or_else(|| e.to_string());
                stats.errors.push(format!("{kind}: {text}"));
                None
            }
        }
    }

    async fn vlob(&self, c: &Client, s: &mut Stats, kind: &'static str, at: DateTime<Utc>) {
        let blob = bytes(200);
        let sql = format!(
            "INSERT INTO {} (realm, key_index, vlob_id, version, blob, size, author, created_on) \
             VALUES ($1, $2, $3, 1, $4, $5, $6, $7)",
            self.vlob_atom
        );
        let size = blob.len() as i32;
        let id = Uuid::new_v4();
        self.timed(
            c,
            s,
            kind,
            &sql,
            &[
                &self.realm,
                &self.key_index,
                &id,
                &blob,
                &size,
                &self.device,
                &at,
            ],
        )
        .await;
    }

    async fn block(&self, c: &Client, s: &mut Stats, kind: &'static str, at: DateTime<Utc>) {
        let data = bytes(3000);
        let id = Uuid::new_v4();
        let size = data.len() as i32;
        let sql = format!(
            "INSERT INTO {} (organization_id, block_id, data) VALUES ($1, $2, $3)",
            self.block_data
        );
        self.timed(c, s, "block_data", &sql, &[&self.org, &id, &data])
            .await;
        let sql = format!(
            "INSERT INTO {} (block_id, realm, author, size, created_on, key_index) VALUES ($1, $2, $3, $4, $5, $6)",
            self.block
        );
        self.timed(
            c,
            s,
            kind,
            &sql,
            &[&id, &self.realm, &self.device, &size, &at, &self.key_index],
        )
        .await;
    }

    /// One of each write, now-timestamped; then the late rows.
    async fn round(&self, c: &Client, late: Option<&Late>, s: &mut Stats) {
        let now = Utc::now();
        self.vlob(c, s, "vlob", now).await;
        let sql = format!(
            "INSERT INTO {v} (realm, key_index, vlob_id, version, blob, size, author, created_on) \
             SELECT realm, key_index, vlob_id, version + 1, blob, size, author, $2 FROM {v} \
             WHERE realm = $1 ORDER BY _id DESC LIMIT 1",
            v = self.vlob_atom
        );
        // Its own timestamp: two versions of a vlob never share one in a client's writes
        // (and the export format cannot hold them).
        let next = now + chrono::Duration::microseconds(1);
        self.timed(c, s, "vlob version", &sql, &[&self.realm, &next])
            .await;
        self.block(c, s, "block", now).await;
        let sql = format!(
            "INSERT INTO {} (realm, user_, role, certificate, certified_by, certified_on) \
             VALUES ($1, $2, 'READER', $3, $4, $5) RETURNING _id",
            self.realm_user_role
        );
        let cert = bytes(120);
        let role = self
            .timed(
                c,
                s,
                "role",
                &sql,
                &[&self.realm, &self.user, &cert, &self.device, &now],
            )
            .await;
        if let Some(role) = role.and_then(|rows| rows.first().map(|r| r.get::<_, i32>(0))) {
            self.timed(
                c,
                s,
                "keys bundle access",
                "INSERT INTO realm_keys_bundle_access (realm, user_, realm_keys_bundle, access, from_sharing) VALUES ($1, $2, $3, $4, $5)",
                &[&self.realm, &self.user, &self.keys_bundle, &bytes(64), &role],
            )
            .await;
        }
        self.timed(
            c,
            s,
            "profile certificate",
            "INSERT INTO profile (user_, profile, profile_certificate, certified_by, certified_on) VALUES ($1, 'STANDARD', $2, $3, $4)",
            &[&self.user, &bytes(120), &self.device, &now],
        )
        .await;
        self.timed(
            c,
            s,
            "realm name certificate",
            "INSERT INTO realm_name (realm, realm_name_certificate, certified_by, certified_on) VALUES ($1, $2, $3, $4)",
            &[&self.realm, &bytes(120), &self.device, &now],
        )
        .await;
        self.timed(
            c,
            s,
            "realm update",
            "UPDATE realm SET key_index = key_index WHERE _id = $1",
            &[&self.realm],
        )
        .await;
        self.timed(
            c,
            s,
            "user update",
            "UPDATE user_ SET frozen = frozen WHERE _id = $1",
            &[&self.user],
        )
        .await;
        if let Some(late) = late.filter(|l| l.after.exists()) {
            self.vlob(c, s, "late vlob", late.vlob_time).await;
            self.block(c, s, "late block", late.block_time).await;
        }
    }
}
