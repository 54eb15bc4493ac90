//! `extract` keys: the passphrase prompt on a real terminal (right, wrong, never echoed),
//! no terminal and no passphrase (a clear error at once), and services whose RSA keys are
//! 2048, 3072 or 4096 bits (the trees equal the generator's `record.json`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use parsec_sequester::parsec::crypto::rsa_key::SequesterPrivateKey;

use crate::extract_record::realms;
use crate::extract_support::{key_path, tree, HELLO2};
use crate::harness::{export_cmd, run, tool, TestDb};
use crate::parsec_fixture::sequestered_files;
use crate::terminal::run_on_terminal;

const PASSPHRASE: &str = "correct horse battery staple";
const PROMPT: &str = "Passphrase of ";

/// Service 1's fixture key, PKCS#8-encrypted with `PASSPHRASE`, in `dir`.
fn encrypted_key(dir: &Path) -> PathBuf {
    let plain = std::fs::read(key_path(1)).unwrap();
    let key = SequesterPrivateKey::load(&plain, None).unwrap();
    let path = dir.join("service.pem");
    let pem = key.to_pem(Some(PASSPHRASE.as_bytes())).unwrap();
    std::fs::write(&path, pem.as_bytes()).unwrap();
    path
}

fn list_args<'a>(file: &'a Path, key: &'a Path) -> Vec<&'a str> {
    vec![
        env!("CARGO_BIN_EXE_parsec-sequester"),
        "extract",
        file.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        "-q",
        "--list",
        "--at",
        "2000-01-15T00:00:00Z",
    ]
}

#[test]
fn the_passphrase_is_asked_on_a_terminal_and_never_shown() {
    let file = &sequestered_files()[0];
    let dir = tempfile::tempdir().unwrap();
    let key = encrypted_key(dir.path());
    let argv = list_args(file, &key);

    let right = run_on_terminal(&argv, &[], PROMPT, PASSPHRASE);
    assert_eq!(right.code, 0, "{}", right.shown);
    assert!(right.shown.contains(PROMPT), "no prompt: {}", right.shown);
    assert!(
        right
            .shown
            .contains(&format!("/bar2.txt\tfile\t8\t{HELLO2}")),
        "{}",
        right.shown
    );
    assert!(!right.shown.contains(PASSPHRASE), "echoed: {}", right.shown);

    let typed = "wrong horse battery";
    let wrong = run_on_terminal(&argv, &[], PROMPT, typed);
    assert_eq!(wrong.code, 61, "{}", wrong.shown);
    assert!(wrong.shown.contains("wrong passphrase"), "{}", wrong.shown);
    assert!(!wrong.shown.contains(typed), "echoed: {}", wrong.shown);

    // A passphrase given otherwise is used: no prompt, even on a terminal.
    let env = [(parsec_sequester::extract::PASSPHRASE_ENV, PASSPHRASE)];
    let quiet = run_on_terminal(&argv, &env, PROMPT, "");
    assert_eq!(quiet.code, 0, "{}", quiet.shown);
    assert!(!quiet.shown.contains(PROMPT), "{}", quiet.shown);
    assert!(!quiet.shown.contains(PASSPHRASE), "{}", quiet.shown);
}

#[test]
fn no_terminal_and_no_passphrase_is_refused_without_reading_stdin() {
    let file = &sequestered_files()[0];
    let dir = tempfile::tempdir().unwrap();
    let key = encrypted_key(dir.path());
    // stdin is a pipe holding the passphrase, never closed: a tool that read it would hang
    // (or use it); this one refuses at once.
    let argv = list_args(file, &key);
    let mut child = tool()
        .args(&argv[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(format!("{PASSPHRASE}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    drop(stdin);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(61), "{stderr}");
    for part in [
        "passphrase-protected",
        "--key-passphrase-file",
        parsec_sequester::extract::PASSPHRASE_ENV,
    ] {
        assert!(stderr.contains(part), "{part}: {stderr}");
    }
    assert!(out.stdout.is_empty());
    assert!(!stderr.contains(PASSPHRASE));
}

/// A sequestered organization whose sequester keys are `bits` long: every service's tree at
/// the snapshot equals `record.json`.
async fn extracts_with_keys_of(bits: &str) {
    let db = TestDb::empty(&format!("extract_rsa_{bits}")).await;
    let work = tempfile::tempdir().unwrap();
    let keys = work.path().join("keys");
    let org = format!("Rsa{bits}");
    let mut cmd = tool();
    cmd.args(["testbed", "populate", "--sequestered", "--create-schema"])
        .args(["--sequester-key-bits", bits, "--organization", &org])
        .args([
            "--realms",
            "1",
            "--vlobs-per-realm",
            "20",
            "--blocks-per-realm",
            "6",
        ])
        .args(["--block-size-min", "1KiB", "--block-size-max", "4KiB"])
        .arg("--keys-dir")
        .arg(&keys)
        .env("PARSEC_DB", &db.url);
    run(&mut cmd).ok();
    let org_dir = keys.join(&org);
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(org_dir.join("record.json")).unwrap()).unwrap();
    let realm = realms(&record).into_iter().next().expect("a realm");
    let file = work.path().join("export.sqlite");
    run(&mut export_cmd(&db.url, &org, &realm.id, &file, &[])).ok();
    let snapshot: i64 = crate::rows::scalar(&file, "SELECT snapshot_timestamp FROM info");
    let mut readers = 0;
    for service in record["services"].as_array().unwrap() {
        let key = org_dir.join(service["key_file"].as_str().unwrap());
        let pem = std::fs::read(&key).unwrap();
        let loaded = SequesterPrivateKey::load(&pem, None).unwrap();
        assert_eq!(
            loaded.public_key().size() * 8,
            bits.parse::<usize>().unwrap()
        );
        let keys_read = realm.readable(service["service_id"].as_str().unwrap());
        let r = crate::extract_support::extract(&file, &key, &["--list"]);
        if keys_read.is_empty() {
            assert_eq!(r.code, 64, "{}", r.all());
            continue;
        }
        let mut got = tree(&r.stdout);
        got.sort();
        assert_eq!(
            got,
            realm.tree(snapshot, &keys_read),
            "{bits} bits: {}",
            r.all()
        );
        readers += 1;
    }
    assert!(readers > 0, "no service read anything");
}

#[tokio::test(flavor = "multi_thread")]
async fn rsa_2048_bit_services() {
    extracts_with_keys_of("2048").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rsa_3072_bit_services() {
    extracts_with_keys_of("3072").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rsa_4096_bit_services() {
    extracts_with_keys_of("4096").await;
}
