//! Secrets never show: the database password and the S3 secret are given to every command
//! (export-realm, human-accesses, realms, testbed populate), which succeed and fail in every
//! way they can, with every log on (`RUST_LOG=trace`, or `--log-level trace`); neither
//! secret may appear in stdout, stderr, the output file, or the process title. Given on the
//! command line a secret *is* in the process title (/proc/PID/cmdline, readable by every
//! local user): given in the environment (PARSEC_DB, PARSEC_BLOCKSTORE) it is not.
//!
//! The command-line and database failure modes are run with a password in `bad_inputs.rs`
//! (every case checks both secrets); the store faults of `store_faults.rs` check the S3
//! secret too. Here: the S3 failure modes with full logs, the reports, the generator, an
//! interrupted export, and the process title.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::garage::Garage;
use crate::harness::{run, tool, Run};
use crate::leaks::{assert_file_has_no_secret, assert_no_secret};
use crate::proxy::Proxy;
use crate::stores::{db_with_stores, list_all, object_store_for, T};

const DB_PASSWORD: &str = "Db-Secret-Pw-9c41e";
const WRONG_S3_SECRET: &str = "Wrong-S3-Secret-5be2";

/// The tool with every log on, one way or the other.
fn traced(n: usize) -> Command {
    let mut cmd = tool();
    if n.is_multiple_of(2) {
        cmd.env("RUST_LOG", "trace");
    } else {
        cmd.args(["--log-level", "trace"]);
    }
    cmd
}

fn s3_value(port: u16, bucket: &str, key: &str, secret: &str) -> String {
    format!(r"s3:http\://127.0.0.1\:{port}:garage:{bucket}:{key}:{secret}")
}

#[tokio::test(flavor = "multi_thread")]
async fn no_command_ever_shows_a_secret() {
    let mut garage = Garage::start(&["blocks"]);
    let store = garage.blockstore("blocks");
    let (db, realm) = db_with_stores("secrets", &[vec![store.clone()]]).await;
    let realm = realm.simple().to_string();
    // A read-only role with a password, as an operator would give the tool. (The test
    // cluster trusts local connections: the password is accepted without being checked.)
    db.client()
        .await
        .batch_execute(&format!(
            "DO $$ BEGIN CREATE ROLE secret_reader LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$; \
             ALTER ROLE secret_reader PASSWORD '{DB_PASSWORD}'; \
             GRANT SELECT ON ALL TABLES IN SCHEMA public TO secret_reader;"
        ))
        .await
        .unwrap();
    let reader = db
        .url
        .replace("postgres@", &format!("secret_reader:{DB_PASSWORD}@"));
    let admin = db
        .url
        .replace("postgres@", &format!("postgres:{DB_PASSWORD}@"));
    let nobody = db
        .url
        .replace("postgres@", &format!("nobody_here:{DB_PASSWORD}@"));
    let unreachable_db = format!("postgresql://secret_reader:{DB_PASSWORD}@127.0.0.1:1/parsec");
    let secret = garage.secret.clone();
    let secrets = [DB_PASSWORD, secret.as_str(), WRONG_S3_SECRET];
    let dir = tempfile::tempdir().unwrap();
    let runs = std::cell::Cell::new(0);
    let check = |what: &str, cmd: &mut Command, code: i32, file: Option<&Path>| -> Run {
        runs.set(runs.get() + 1);
        let r = run(cmd);
        assert_eq!(r.code, code, "{what}:\n{}", r.all());
        assert!(!r.stderr.contains("panicked"), "{what}: {}", r.stderr);
        assert_no_secret(&[&r.stdout, &r.stderr], &secrets, what);
        if let Some(f) = file {
            assert_file_has_no_secret(f, &secrets, what);
        }
        r
    };
    let export = |n: usize, db: &str, stores: &[String], file: &Path| {
        let mut cmd = traced(n);
        cmd.args([
            "export-realm",
            "--db",
            db,
            "--organization",
            "S3Org",
            "--realm",
            &realm,
        ])
        .args(["--snapshot-timestamp", T]);
        for s in stores {
            cmd.args(["-b", s]);
        }
        cmd.arg(file);
        cmd
    };

    // export-realm, S3 store: success, then each way the store or the database can fail.
    let good = dir.path().join("good.sqlite");
    let r = check(
        "export",
        &mut export(0, &reader, std::slice::from_ref(&store), &good),
        0,
        Some(&good),
    );
    assert!(r.stderr.contains("TRACE"), "no trace logs: {}", r.stderr);
    let port = garage.s3_port;
    let failures: Vec<(&str, String, Vec<String>, i32)> = vec![
        (
            "wrong S3 secret",
            reader.clone(),
            vec![s3_value(port, "blocks", &garage.key_id, WRONG_S3_SECRET)],
            32,
        ),
        (
            "unknown bucket",
            reader.clone(),
            vec![s3_value(port, "no-such-bucket", &garage.key_id, &secret)],
            32,
        ),
        (
            "unreachable S3",
            reader.clone(),
            vec![s3_value(1, "blocks", &garage.key_id, &secret)],
            32,
        ),
        (
            "bad S3 value",
            reader.clone(),
            vec![format!("s3:{secret}")],
            33,
        ),
        (
            "RAID with a bad node",
            reader.clone(),
            vec![format!("RAID1:0:{store}"), format!("RAID1:1:s3:x:{secret}")],
            33,
        ),
        (
            "unknown database user",
            nobody.clone(),
            vec![store.clone()],
            21,
        ),
        (
            "database unreachable",
            unreachable_db.clone(),
            vec![store.clone()],
            20,
        ),
    ];
    for (i, (what, db_url, stores, code)) in failures.iter().enumerate() {
        let file = dir.path().join(format!("fail-{i}.sqlite"));
        check(
            what,
            &mut export(i, db_url, stores, &file),
            *code,
            Some(&file),
        );
        assert!(!file.exists(), "{what}: a file was created");
    }
    // The store goes away during the export, then a block is missing, then has the wrong
    // length: each saved what it could; the file never holds a secret.
    let s3 = object_store_for(&garage, "blocks");
    let victim = list_all(&s3).await[0].clone();
    let original = object_store::ObjectStoreExt::get(&s3, &victim)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let partial = dir.path().join("partial.sqlite");
    let proxy = Proxy::start(garage.s3_port, "blocks", "S3Org");
    let via_proxy = proxy.blockstore("blocks", &garage.key_id, &secret);
    proxy.set_delay(std::time::Duration::from_millis(200));
    {
        let mut cmd = export(1, &reader, std::slice::from_ref(&via_proxy), &partial);
        cmd.args(["--retries", "1", "--jobs", "1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut log = String::new();
        for line in lines.by_ref().map_while(Result::ok) {
            log.push_str(&line);
            log.push('\n');
            if line.contains("4/4 Exporting blocks data") {
                std::thread::sleep(std::time::Duration::from_millis(500));
                garage.stop();
                break;
            }
        }
        log.extend(lines.map_while(Result::ok).map(|l| l + "\n"));
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(32), "{log}");
        assert_no_secret(
            &[&log, &String::from_utf8_lossy(&out.stdout)],
            &secrets,
            "store stopped",
        );
        assert_file_has_no_secret(&partial, &secrets, "store stopped");
        runs.set(runs.get() + 1);
    }
    garage.restart();
    object_store::ObjectStoreExt::delete(&s3, &victim)
        .await
        .unwrap();
    check(
        "block missing",
        &mut export(2, &reader, std::slice::from_ref(&store), &partial),
        30,
        Some(&partial),
    );
    let mut longer = original.to_vec();
    longer.push(0);
    object_store::ObjectStoreExt::put(&s3, &victim, longer.into())
        .await
        .unwrap();
    check(
        "block too long",
        &mut export(3, &reader, std::slice::from_ref(&store), &partial),
        31,
        Some(&partial),
    );
    object_store::ObjectStoreExt::put(&s3, &victim, original.into())
        .await
        .unwrap();
    check(
        "resumed",
        &mut export(4, &reader, std::slice::from_ref(&store), &partial),
        0,
        Some(&partial),
    );
    // Interrupted (Ctrl-C) with full logs.
    let interrupted = dir.path().join("interrupted.sqlite");
    let (code, out) = crate::slow::run_and_signal(
        export(5, &reader, std::slice::from_ref(&via_proxy), &interrupted).args(["--jobs", "1"]),
        "4/4 Exporting blocks data",
        libc::SIGINT,
        &|| crate::slow::block_data_rows(&interrupted) > 0,
    );
    assert_eq!(code, 130, "{out}");
    assert_no_secret(&[&out], &secrets, "interrupted");
    assert_file_has_no_secret(&interrupted, &secrets, "interrupted");
    runs.set(runs.get() + 1);

    // The reports: success and failures.
    for (i, command) in ["human-accesses", "realms"].iter().enumerate() {
        for (what, db_url, code) in [
            ("report", &reader, 0),
            ("report, JSON", &reader, 0),
            ("report, unknown user", &nobody, 21),
            ("report, unreachable", &unreachable_db, 20),
            ("report, unknown organization", &reader, 10),
        ] {
            let org = if what.contains("organization") {
                "NoSuchOrg"
            } else {
                "S3Org"
            };
            let mut cmd = traced(i + runs.get());
            cmd.args([command, "--db", db_url, "--organization", org]);
            if what.contains("JSON") {
                cmd.arg("--json");
            }
            check(&format!("{command}: {what}"), &mut cmd, code, None);
        }
    }

    // The generator, with the same secrets, writing blocks to S3.
    let populate = |n: usize, db_url: &str, store: &str, org: &str| {
        let mut cmd = traced(n);
        cmd.args([
            "testbed",
            "populate",
            "--db",
            db_url,
            "--allow-existing-data",
            "--organization",
            org,
        ])
        .args(["--realms", "1", "--blocks-per-realm", "3", "-b", store]);
        cmd
    };
    check(
        "populate",
        &mut populate(0, &admin, &store, "SecretPop"),
        0,
        None,
    );
    check(
        "populate, unknown user",
        &mut populate(1, &nobody, &store, "SecretPop2"),
        21,
        None,
    );
    check(
        "populate, read-only role",
        &mut populate(0, &reader, &store, "SecretPop3"),
        1,
        None,
    );
    check(
        "populate, unreachable S3",
        &mut populate(
            1,
            &admin,
            &s3_value(1, "blocks", &garage.key_id, &secret),
            "SecretPop4",
        ),
        1,
        None,
    );
    check(
        "populate, refused S3 secret",
        &mut populate(
            0,
            &admin,
            &s3_value(port, "blocks", &garage.key_id, WRONG_S3_SECRET),
            "SecretPop5",
        ),
        1,
        None,
    );
    eprintln!("{} runs showed no secret", runs.get());
}

/// /proc/PID/cmdline of the running tool, read once it has started exporting.
fn title_while_running(mut cmd: Command) -> String {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut title = None;
    for line in BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok)
    {
        if title.is_none() && line.contains("Exporting") {
            let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            title = Some(String::from_utf8_lossy(&raw).replace('\0', " "));
        }
    }
    assert!(child.wait().unwrap().success());
    let title = title.expect("the run never started exporting");
    assert!(
        title.contains("export-realm"),
        "not the tool's title: {title}"
    );
    title
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_given_in_the_environment_stay_out_of_the_process_title() {
    let garage = Garage::start(&["blocks"]);
    let store = garage.blockstore("blocks");
    let (db, realm) = db_with_stores("secrets_title", &[vec![store.clone()]]).await;
    let url = db
        .url
        .replace("postgres@", &format!("postgres:{DB_PASSWORD}@"));
    let dir = tempfile::tempdir().unwrap();
    let args = |file: &str| {
        vec![
            "export-realm".to_owned(),
            "--organization".into(),
            "S3Org".into(),
            "--realm".into(),
            realm.simple().to_string(),
            "--snapshot-timestamp".into(),
            T.into(),
            "--jobs".into(),
            "1".into(),
            dir.path().join(file).to_string_lossy().into_owned(),
        ]
    };
    // On the command line: in the title, for every local user to read.
    let mut cmd = tool();
    cmd.args(args("argv.sqlite"))
        .args(["--db", &url, "-b", &store]);
    let title = title_while_running(cmd);
    assert!(
        title.contains(DB_PASSWORD) && title.contains(&garage.secret),
        "{title}"
    );
    // In the environment: not in the title; nor in the file.
    let mut cmd = tool();
    cmd.args(args("env.sqlite"))
        .env("PARSEC_DB", &url)
        .env("PARSEC_BLOCKSTORE", &store);
    let title = title_while_running(cmd);
    assert_no_secret(&[&title], &[DB_PASSWORD, &garage.secret], "process title");
    assert_file_has_no_secret(
        &dir.path().join("env.sqlite"),
        &[DB_PASSWORD, &garage.secret],
        "file",
    );
}
