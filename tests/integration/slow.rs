//! Making exports slow enough to interrupt, interrupting them, and counting the block reads
//! the server answered. Shared by the resume, torture, concurrent-writer and safety tests.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use parsec_sequester::testbed::{self, OrgSpec};
use tokio_postgres::Client;

use crate::harness::TestDb;

/// Reads of `table.column` take `ms` each: the table is renamed `<table>_real` and a view
/// named like it returns `slow_<table>(column)`. The function is STABLE, so the view is
/// inlined into the tool's queries and only the rows a query returns pay the delay (and are
/// counted, see [`count_calls`]). Writers must insert into `<table>_real`.
pub async fn slow_down(client: &Client, table: &str, column: &str, ms: u32) {
    let columns: Vec<String> = client
        .query(
            "SELECT column_name::text FROM information_schema.columns WHERE table_name = $1 AND table_schema = current_schema() ORDER BY ordinal_position",
            &[&table],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .map(|c| if c == column { format!("slow_{table}({c}) AS {c}") } else { c })
        .collect();
    client
        .batch_execute(&format!(
            "CREATE OR REPLACE FUNCTION slow_{table}(v anyelement) RETURNS anyelement LANGUAGE plpgsql STABLE \
             AS $$ BEGIN PERFORM pg_sleep({}); RETURN v; END $$; \
             ALTER TABLE {table} RENAME TO {table}_real; \
             CREATE VIEW {table} AS SELECT {} FROM {table}_real;",
            f64::from(ms) / 1000.0,
            columns.join(", ")
        ))
        .await
        .unwrap();
}

/// From now on, sessions of this database count their calls of PL/pgSQL functions
/// (`pg_stat_user_functions`): `slow_block_data` calls are the POSTGRESQL store's block reads.
pub async fn enable_call_counts(client: &Client) {
    client
        .batch_execute(
            "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET track_functions = ''pl''', current_database()); END $$",
        )
        .await
        .unwrap();
}

/// Calls of `slow_<table>` so far, by sessions that have ended. Waits for the tool's
/// sessions on this database to end (a session flushes its counts when it exits, also when
/// its client was killed), then until the count is stable.
pub async fn count_calls(client: &Client, table: &str) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let live: i64 = client
            .query_one(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'parsec-sequester'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if live == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the tool's sessions did not end");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let read = || async {
        client
            .query_one(
                "SELECT COALESCE(SUM(calls), 0)::int8 FROM pg_stat_user_functions WHERE funcname = $1 AND schemaname = current_schema()",
                &[&format!("slow_{table}")],
            )
            .await
            .unwrap()
            .get::<_, i64>(0)
    };
    let mut last = read().await;
    loop {
        tokio::time::sleep(Duration::from_millis(60)).await;
        let now = read().await;
        if now == last {
            return now;
        }
        last = now;
    }
}

/// The "fetched by this run: N" figure of a successful export's summary.
pub fn fetched_by_run(stdout: &str) -> i64 {
    let line = stdout
        .lines()
        .find(|l| l.contains("fetched by this run:"))
        .unwrap_or_else(|| panic!("no fetch count in:\n{stdout}"));
    line.rsplit("fetched by this run:")
        .next()
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("bad fetch count line: {line}"))
}

/// Runs the export; once stderr shows `trigger` and `ready()` holds (polled), sends `signal`;
/// returns (exit code, stdout and stderr). Waiting on the file's own state rather than on a
/// delay keeps this deterministic under load.
pub fn run_and_signal(
    cmd: &mut std::process::Command,
    trigger: &str,
    signal: i32,
    ready: &dyn Fn() -> bool,
) -> (i32, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains(trigger) {
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            while !ready() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            unsafe { libc::kill(child.id() as i32, signal) };
            break;
        }
    }
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let out = child.wait_with_output().unwrap();
    let stderr_all = format!("{seen}{}", rest.join("\n"));
    assert!(
        seen.contains(trigger),
        "never saw `{trigger}`:\n{stderr_all}"
    );
    (
        out.status.code().unwrap_or(-1000 - signal),
        format!(
            "{}\n--- stderr:\n{stderr_all}",
            String::from_utf8_lossy(&out.stdout)
        ),
    )
}

/// Rows of block data committed so far (a reader: the tool's writer waits for it).
pub fn block_data_rows(file: &std::path::Path) -> i64 {
    rusqlite::Connection::open_with_flags(file, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| c.query_row("SELECT COUNT(*) FROM block_data", [], |r| r.get(0)))
        .unwrap_or(0)
}

/// Waits `ms`, then says yes: for signals whose moment only needs to be "a little later".
pub fn after(ms: u64) -> impl Fn() -> bool {
    move || {
        std::thread::sleep(Duration::from_millis(ms));
        true
    }
}

/// One realm (`BusyOrg`) with 120 vlob versions and `blocks` blocks of 1 to 8 KiB.
pub async fn busy_db(hint: &str, blocks: usize) -> (TestDb, uuid::Uuid) {
    let db = TestDb::with_schema(hint).await;
    let client = db.client().await;
    let mut spec = OrgSpec::small("BusyOrg");
    spec.realms = 1;
    spec.blocks_per_realm = blocks;
    spec.vlob_versions_per_realm = 120;
    spec.block_size_min = 1024;
    spec.block_size_max = 8192;
    let org = testbed::populate(&client, &spec).await.unwrap();
    (db, org.realms[0].realm_id)
}
