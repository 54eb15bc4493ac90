//! Bad inputs, table-driven (with `bad_outputs.rs`): each case has its exit code and a
//! fragment of its message; nothing panics; in every refused case the watched directory is
//! left exactly as it was (every file's bytes and mtime, no file added); neither the
//! database password nor the S3 secret ever shows, with every log on (`RUST_LOG=trace`).
//! Here: malformed options, IDs, timestamps, blockstore values, and databases that cannot
//! be used (unreachable, unknown user or database, not Parsec's, too old).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::export_generated::generated_db;
use crate::harness::{fingerprint, run, tool, Run, TestDb};
use crate::leaks::assert_no_secret;

/// Distinctive: it must appear nowhere. The test cluster trusts local connections, so the
/// password is accepted and ignored.
pub const PASSWORD: &str = "Pw-BadInputs-7f3a9c";
/// Same for the S3 secret of blockstore values.
pub const S3_SECRET: &str = "S3-BadInputs-secret-41d0";

pub struct Case {
    pub name: String,
    pub args: Vec<String>,
    pub code: i32,
    pub needle: String,
}

pub fn case(name: &str, args: &[&str], code: i32, needle: &str) -> Case {
    Case {
        name: name.to_owned(),
        args: args.iter().map(|s| s.to_string()).collect(),
        code,
        needle: needle.to_owned(),
    }
}

/// The test database's URL with [`PASSWORD`] in it.
pub fn with_password(db: &TestDb) -> String {
    db.url
        .replace("postgres@", &format!("postgres:{PASSWORD}@"))
}

/// Every file under `dir` with its fingerprint (bytes and mtime).
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                out.insert(p.clone(), Vec::new());
                todo.push(p);
            } else {
                out.insert(p.clone(), fingerprint(&p));
            }
        }
    }
    out
}

/// Runs one case; when it is refused, `watched` must be left exactly as it was.
pub fn run_case(c: &Case, watched: &Path) -> Run {
    let before = tree(watched);
    let mut cmd: Command = tool();
    cmd.args(&c.args).env("RUST_LOG", "trace");
    let r = run(&mut cmd);
    let errors: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("Error"))
        .collect();
    let shown = format!("case `{}`: exit {}\n{}", c.name, r.code, errors.join("\n"));
    assert_eq!(r.code, c.code, "{shown}\n{}", r.stderr);
    assert!(
        r.stderr.contains(&c.needle) || r.stdout.contains(&c.needle),
        "{shown}\nexpected `{}`",
        c.needle
    );
    assert!(!r.stderr.contains("panicked") && r.code != 101, "{shown}");
    assert_no_secret(&[&r.stdout, &r.stderr], &[PASSWORD, S3_SECRET], &c.name);
    if c.code != 0 {
        assert!(
            before == tree(watched),
            "case `{}` changed {}",
            c.name,
            watched.display()
        );
    }
    r
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_options_ids_timestamps_stores_and_databases() {
    let (db, org) = generated_db("bad_inputs").await;
    let url = with_password(&db);
    let port = url.rsplit(':').next().unwrap().split('/').next().unwrap();
    let realm = org.realms[0].realm_id.simple().to_string();
    let before_creation = (org.realms[0].created_on - chrono::Duration::seconds(1)).to_rfc3339();
    let empty = TestDb::empty("bad_inputs_empty").await;
    let old = TestDb::with_schema("bad_inputs_old").await;
    old.client()
        .await
        .batch_execute("DELETE FROM migration WHERE _id > 9")
        .await
        .unwrap();
    let (empty_url, old_url) = (with_password(&empty), with_password(&old));
    let wrong_user = url.replace("postgres:", "nobody_here:");
    let nothing_there = format!("postgresql://alice:{PASSWORD}@127.0.0.1:1/parsec");
    let no_such_db = format!("postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/no_such_db");
    let out = tempfile::tempdir().unwrap();
    let o = out.path().to_str().unwrap();
    // `export-realm` with the usual options, each replaced by the case's own when given,
    // and OUTPUT the (empty, watched) directory.
    let base = |extra: &[&str]| -> Vec<String> {
        let mut a = vec!["export-realm"];
        let usual = [
            ("--db", url.as_str()),
            ("--organization", "GenOrg"),
            ("--realm", &realm),
            ("-b", "POSTGRESQL"),
        ];
        for (k, v) in usual.into_iter().filter(|(k, _)| !extra.contains(k)) {
            a.extend([k, v]);
        }
        a.extend_from_slice(extra);
        a.push(o);
        a.into_iter().map(str::to_owned).collect()
    };
    let with = |name: &str, extra: &[&str], code: i32, needle: &str| Case {
        args: base(extra),
        ..case(name, &[], code, needle)
    };
    let s3 = |fields: &str| format!("s3:{fields}");
    let unreachable_s3 = format!(r"s3:http\://127.0.0.1\:1:garage:bucket:key:{S3_SECRET}");
    #[rustfmt::skip]
    let cases = [
        // Command line.
        case("no command", &[], 2, "Usage"),
        case("unknown command", &["export-everything"], 2, "unrecognized subcommand"),
        with("unknown option", &["--frobnicate", "1"], 2, "unexpected argument '--frobnicate'"),
        case("missing --realm", &["export-realm", "--db", &url, "--organization", "GenOrg", "-b", "POSTGRESQL"], 2, "--realm <ID>"),
        case("missing --blockstore", &["export-realm", "--db", &url, "--organization", "GenOrg", "--realm", &realm], 2, "--blockstore <CONFIG>"),
        case("missing --db", &["realms", "--organization", "GenOrg"], 2, "--db <URL>"),
        with("--jobs 0", &["--jobs", "0"], 2, "--jobs must be at least 1"),
        with("--jobs not a number", &["--jobs", "many"], 2, "invalid value 'many' for '--jobs <N>'"),
        with("--buffer-size too small", &["--buffer-size", "64KiB"], 2, "--buffer-size must be at least 1MiB"),
        with("--buffer-size not a size", &["--buffer-size", "lots"], 2, "invalid value 'lots' for '--buffer-size <SIZE>'"),
        with("--block-timeout 0", &["--block-timeout", "0"], 2, "--block-timeout must be at least 1 second"),
        with("--retries negative", &["--retries", "-1"], 2, "unexpected argument '-1'"),
        with("OUTPUT twice", &["--output", o], 2, "cannot be used with"),
        with("a report's option", &["--color", "always"], 2, "unexpected argument '--color'"),
        case("report: bad --color", &["realms", "--db", &url, "--organization", "GenOrg", "--color", "sometimes"], 2, "invalid value 'sometimes' for '--color <WHEN>'"),
        // IDs.
        with("realm: not hex", &["--realm", "xyz"], 2, "invalid realm ID `xyz`"),
        with("realm: 31 hex digits", &["--realm", "8006a491f0704040ae9a197ca7501f7"], 2, "32 hex digits"),
        with("realm: a non-hex digit", &["--realm", "8006a491f0704040ae9a197ca7501f7g"], 2, "invalid realm ID"),
        with("realm: empty", &["--realm", ""], 2, "invalid realm ID ``"),
        with("realm: unknown", &["--realm", "00000000000000000000000000000bad"], 11, "realm 00000000000000000000000000000bad not found in organization `GenOrg`"),
        with("organization: space", &["--organization", "bad org"], 2, "invalid organization ID `bad org`"),
        with("organization: 33 bytes", &["--organization", &"x".repeat(33)], 2, "1 to 32 bytes"),
        with("organization: unknown", &["--organization", "NoSuchOrg"], 10, "organization `NoSuchOrg` not found"),
        with("organization: wrong case", &["--organization", "genorg"], 10, "case-sensitive"),
        case("report: organization with a space", &["human-accesses", "--db", &url, "--organization", "a b"], 2, "invalid organization ID"),
        // Timestamps.
        with("timestamp: a word", &["--snapshot-timestamp", "yesterday"], 2, "invalid --snapshot-timestamp `yesterday`"),
        with("timestamp: month 13", &["--snapshot-timestamp", "2024-13-01T00:00:00Z"], 2, "invalid --snapshot-timestamp"),
        with("timestamp: date only", &["--snapshot-timestamp", "2024-05-01"], 2, "RFC 3339"),
        with("timestamp: no offset", &["--snapshot-timestamp", "2024-05-01T12:00:00"], 2, "RFC 3339"),
        with("timestamp: in the future", &["--snapshot-timestamp", "2999-01-01T00:00:00Z"], 14, "too recent"),
        with("timestamp: before the realm", &["--snapshot-timestamp", &before_creation], 13, "older than the realm's creation"),
        // Blockstore values.
        with("blockstore: MOCKED", &["-b", "MOCKED"], 33, "MOCKED is an in-memory store"),
        with("blockstore: unknown type", &["-b", "ftp:host:dir"], 33, "invalid blockstore type `ftp`"),
        with("blockstore: s3, 4 fields", &["-b", &s3(&format!("eu:bucket:key:{S3_SECRET}"))], 33, "4 fields after the type where 5 are expected"),
        with("blockstore: s3, 6 fields", &["-b", &s3(&format!("h:eu:bucket:key:{S3_SECRET}:x"))], 33, "6 fields after the type"),
        with("blockstore: s3, empty bucket", &["-b", &s3(&format!(":eu::key:{S3_SECRET}"))], 33, "the s3 bucket is empty"),
        with("blockstore: swift, 3 fields", &["-b", &format!("swift:auth.example.com:tenant:{S3_SECRET}")], 33, "3 fields after the type where 5 are expected"),
        with("blockstore: RAID5 of 2", &["-b", "RAID5:0:POSTGRESQL", "-b", "RAID5:1:POSTGRESQL"], 33, "RAID5 needs at least 3 nodes, 2 given"),
        with("blockstore: RAID index twice", &["-b", "RAID1:0:POSTGRESQL", "-b", "RAID1:0:POSTGRESQL"], 33, "node index 0 is given twice"),
        with("blockstore: RAID index out of range", &["-b", "RAID0:0:POSTGRESQL", "-b", "RAID0:5:POSTGRESQL"], 33, "node index 5 is out of range"),
        with("blockstore: mixed RAID modes", &["-b", "RAID0:0:POSTGRESQL", "-b", "RAID1:1:POSTGRESQL"], 33, "mixed RAID modes"),
        with("blockstore: two plain stores", &["-b", "POSTGRESQL", "-b", "POSTGRESQL"], 33, "a plain store may appear only once"),
        with("blockstore: unreachable s3", &["-b", &unreachable_s3], 32, "127.0.0.1:1"),
        // Databases.
        with("db: not a URL", &["--db", "parsec.example.com"], 2, "invalid --db"),
        with("db: another scheme", &["--db", &format!("mysql://u:{PASSWORD}@h/db")], 2, "not a postgresql:// or postgres:// URL"),
        with("db: bad port", &["--db", &format!("postgresql://u:{PASSWORD}@h:port/db")], 2, "invalid --db URL"),
        with("db: nothing listening", &["--db", &nothing_there], 20, "cannot connect to the database postgresql://alice@127.0.0.1:1/parsec"),
        with("db: unknown user", &["--db", &wrong_user], 21, "refused the credentials"),
        with("db: unknown database", &["--db", &no_such_db], 20, "database \"no_such_db\" does not exist"),
        with("db: not Parsec's", &["--db", &empty_url], 22, "not a Parsec database"),
        with("db: Parsec too old", &["--db", &old_url], 22, "migration 0009"),
        case("report: db not Parsec's", &["human-accesses", "--db", &empty_url, "--organization", "GenOrg"], 22, "not a Parsec database"),
        case("report: db too old", &["realms", "--db", &old_url, "--organization", "GenOrg", "--json"], 22, "v3.3.0"),
    ];
    for c in &cases {
        run_case(c, out.path());
    }
    assert!(cases.len() >= 30);
    eprintln!(
        "{} option, ID, timestamp, blockstore and database cases",
        cases.len()
    );
}
