//! Helpers for the `extract` tests: running it, reading its `--list` table and report, and
//! making altered copies of Parsec's fixture exports (reference §9).

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use crate::harness::{fixtures_dir, run, tool, Run};

/// "Hello v1", "Hello v2", "Hello v3" (reference §9.3).
pub const HELLO1: &str = "cf1e620e252728cced23a12a60c0d5a9a6ce378cddfd1c2a1641203ce03c9435";
pub const HELLO2: &str = "68556ebbfd8707f616564c01b4d01282de5df108f1098d61a21db954800c4a43";

pub fn key_path(service: u8) -> PathBuf {
    fixtures_dir().join(format!("parsec-v3/keys/{service:032x}.pem"))
}

pub fn extract(file: &Path, key: &Path, extra: &[&str]) -> Run {
    let mut cmd = tool();
    cmd.arg("extract")
        .arg(file)
        .arg("--key")
        .arg(key)
        .arg("-q")
        .args(extra);
    run(&mut cmd)
}

/// The first four columns (path, type, size, sha256) of each `--list` line, tab-separated.
pub fn tree(out: &str) -> Vec<String> {
    out.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split('\t').take(4).collect::<Vec<_>>().join("\t"))
        .collect()
}

/// `extract --list --json`, parsed.
pub fn list_json(file: &Path, key: &Path, extra: &[&str]) -> (Run, serde_json::Value) {
    let mut args = vec!["--list", "--json"];
    args.extend_from_slice(extra);
    let r = extract(file, key, &args);
    let json =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("no JSON ({e}):\n{}", r.all()));
    (r, json)
}

/// The `check` of every failure of a JSON report.
pub fn failure_checks(report: &serde_json::Value) -> Vec<String> {
    report["failures"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f["check"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A writable copy of a fixture export in `dir`, altered by `change`.
pub fn altered_copy(original: &Path, dir: &Path, change: impl FnOnce(&Connection)) -> PathBuf {
    let copy = dir.join("export.sqlite");
    std::fs::copy(original, &copy).expect("copy fixture");
    let conn = Connection::open(&copy).expect("open copy");
    change(&conn);
    drop(conn);
    copy
}

/// Flips one byte of a blob column of one row.
pub fn flip(conn: &Connection, table: &str, column: &str, key: &str, value: i64, at_end: bool) {
    let mut blob: Vec<u8> = conn
        .query_row(
            &format!("SELECT {column} FROM {table} WHERE {key} = ?1"),
            [value],
            |r| r.get(0),
        )
        .expect("row");
    let i = if at_end { blob.len() - 1 } else { 0 };
    blob[i] ^= 0x01;
    conn.execute(
        &format!("UPDATE {table} SET {column} = ?1 WHERE {key} = ?2"),
        rusqlite::params![blob, value],
    )
    .expect("update");
}

/// OUTPUT_DIR's `report.json`, parsed.
pub fn report_of(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("report.json")).expect("report.json"))
        .expect("report.json is JSON")
}

/// Re-seals the fixture's root v1 (`vlob_atom` sequential_id 201, key 1) listing bar.txt's
/// vlob under each of `names`, taken as raw strings: names Parsec forbids (`/`, `..`, NUL…)
/// can be written, as a hostile export could hold them. Signed by alice@dev1, as the row
/// says, so only the names are wrong.
pub fn reseal_root_listing(conn: &Connection, names: &[&str]) {
    use parsec_sequester::parsec::crypto::{kdf, signing};
    use parsec_sequester::parsec::serialization::{envelope, msgpack};
    use rmpv::Value;

    use crate::parsec_fixture::{testbed_key, REALM_03};
    let bar = uuid::Uuid::from_u128(0xf0000000000000000000000000000004);
    let blob: Vec<u8> = conn
        .query_row(
            "SELECT blob FROM vlob_atom WHERE sequential_id = 201",
            [],
            |r| r.get(0),
        )
        .expect("root v1");
    let key1 = testbed_key(0x0a);
    let secret = kdf::derive(&key1, REALM_03);
    let signed = secret.decrypt(&blob, "vlob").expect("root v1 decrypts");
    let (_, payload) = signing::split(&signed, "manifest").expect("signed");
    let Value::Map(mut fields) = envelope::load(payload).expect("manifest") else {
        panic!("a manifest is a map")
    };
    let children = Value::Map(
        names
            .iter()
            .map(|n| (Value::from(*n), msgpack::id(bar)))
            .collect(),
    );
    let slot = fields
        .iter_mut()
        .find(|(k, _)| k.as_str() == Some("children"))
        .expect("children");
    slot.1 = children;
    let payload = envelope::dump(&Value::Map(fields));
    let signer = signing::SigningKey::from_seed(&testbed_key(3));
    let sealed = secret.encrypt(&signer.sign(&payload));
    conn.execute(
        "UPDATE vlob_atom SET blob = ?1 WHERE sequential_id = 201",
        [sealed],
    )
    .expect("update root v1");
}

/// Every path below `dir` (relative), sorted, symlinks not followed.
pub fn all_paths(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let e = e.expect("entry");
            let p = e.path();
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
            if e.file_type().expect("type").is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}
