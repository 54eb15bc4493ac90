//! `extract` on Parsec's fixture exports of realm `…03` with the testbed service keys: the
//! trees and history of the reference's §9.3 (oracle: its tables), keys and passphrases.

use std::os::unix::fs::PermissionsExt;

use parsec_sequester::parsec::crypto::rsa_key::SequesterPrivateKey;

use crate::extract_support::*;
use crate::harness::{fingerprint, run, tool};
use crate::parsec_fixture::sequestered_files;

/// Reference §9.3, "Decrypted trees with service 1's key": (T, tree, exit code).
fn expected_trees() -> Vec<(Option<&'static str>, Vec<String>, i32)> {
    let folder = "/\tfolder\t1\t-".to_owned();
    let v1 = |name: &str| format!("/{name}\tfile\t8\t{HELLO1}");
    let v2 = format!("/bar2.txt\tfile\t8\t{HELLO2}");
    vec![
        (
            Some("2000-01-10T00:00:00Z"),
            vec![folder.clone(), v1("bar.txt")],
            0,
        ),
        (
            Some("2000-01-11T00:00:00Z"),
            vec![folder.clone(), v1("bar.txt")],
            0,
        ),
        (
            Some("2000-01-12T00:00:00Z"),
            vec![folder.clone(), v1("bar2.txt")],
            0,
        ),
        (
            Some("2000-01-15T00:00:00Z"),
            vec![folder.clone(), v2.clone()],
            0,
        ),
        (
            Some("2000-01-17T12:00:00Z"),
            vec![folder.clone(), v2.clone()],
            0,
        ),
        (
            Some("2000-01-19T23:59:59.999999Z"),
            vec![folder.clone(), v2],
            0,
        ),
        (
            Some("2000-01-20T00:00:00Z"),
            vec![folder, "/bar2.txt\terror\t-\t-".into()],
            3,
        ),
        (
            Some("2000-01-21T00:00:00Z"),
            vec!["/\terror\t-\t-".into()],
            3,
        ),
        (None, vec!["/\terror\t-\t-".into()], 3),
    ]
}

#[test]
fn trees_at_every_instant_of_the_reference() {
    for file in sequestered_files() {
        let before = fingerprint(&file);
        for (at, expected, code) in expected_trees() {
            let mut args = vec!["--list"];
            if let Some(at) = at {
                args.extend(["--at", at]);
            }
            let r = extract(&file, &key_path(1), &args);
            assert_eq!(r.code, code, "{} at {at:?}:\n{}", file.display(), r.all());
            assert_eq!(tree(&r.stdout), expected, "{} at {at:?}", file.display());
            assert!(
                r.stderr
                    .contains("key indexes opened: 1, 2 (through bundle(s) 2); not opened: 3"),
                "{}",
                r.stderr
            );
            assert!(r.stderr.contains("every version before 2000-01-20T00:00:00Z uses a key this service opened; --at 2000-01-19T23:59:59.999999Z gives everything readable"), "{}", r.stderr);
            if code == 3 {
                assert!(r.stderr.contains("[key_not_opened]"), "{}", r.stderr);
                assert!(r.stderr.contains("key index 3"), "{}", r.stderr);
            }
        }
        // Before the root's first version: refused, naming the first instant.
        let r = extract(
            &file,
            &key_path(1),
            &["--list", "--at", "2000-01-09T12:00:00Z"],
        );
        assert_eq!(r.code, 62, "{}", r.all());
        assert!(r.stderr.contains("no root manifest"), "{}", r.stderr);
        assert!(r.stderr.contains("2000-01-10T00:00:00Z"), "{}", r.stderr);
        let r = extract(
            &file,
            &key_path(1),
            &["--list", "--at", "2030-01-01T00:00:00Z"],
        );
        assert_eq!(r.code, 62, "{}", r.all());
        assert_eq!(fingerprint(&file), before, "the export was modified");
    }
}

#[test]
fn json_report_states_keys_range_and_service() {
    for file in sequestered_files() {
        let (r, json) = list_json(&file, &key_path(1), &[]);
        assert_eq!(r.code, 3, "{}", r.all());
        assert_eq!(json["key_indexes_opened"], serde_json::json!([1, 2]));
        assert_eq!(json["key_indexes_not_opened"], serde_json::json!([3]));
        assert_eq!(json["readable"]["from"], "2000-01-10T00:00:00Z");
        assert_eq!(json["readable"]["until_excluded"], "2000-01-20T00:00:00Z");
        assert_eq!(
            json["readable"]["suggested_at"],
            "2000-01-19T23:59:59.999999Z"
        );
        assert_eq!(json["service"]["id"], "00000000000000000000000000000001");
        assert_eq!(json["service"]["revoked"], "2000-01-16T00:00:00Z");
        assert_eq!(json["realm_name"], "wksp1");
        assert_eq!(json["complete"], false);
        assert_eq!(failure_checks(&json), ["key_not_opened"]);
        let digest = json["export"]["digest"].as_str().expect("digest");
        assert_eq!(digest.len(), 64);
        let (_, at15) = list_json(&file, &key_path(1), &["--at", "2000-01-15T00:00:00Z"]);
        assert_eq!(at15["complete"], true);
        let author = &at15["entries"][1]["author"];
        assert_eq!(author["device"], "de10a11cec0010000000000000000000");
        assert_eq!(author["user"], "a11cec00100000000000000000000000");
        assert!(
            author["email"].as_str().is_some_and(|e| e.contains('@')),
            "{author}"
        );
    }
}

/// Reference §9.3, "`--history` with service 1's key".
const HISTORY: &str = "#vlob_id\tversion\ttimestamp\tauthor\tpath\ttype\tsize\tsha256
f0000000000000000000000000000003\t1\t2000-01-10T00:00:00Z\tde10a11cec0010000000000000000000\t/\tfolder\t1\t-
f0000000000000000000000000000003\t2\t2000-01-12T00:00:00Z\tde10a11cec0010000000000000000000\t/\tfolder\t1\t-
f0000000000000000000000000000003\t3\t2000-01-21T00:00:00Z\tde10a11cec0010000000000000000000\t/\terror\t-\t-
f0000000000000000000000000000004\t1\t2000-01-09T00:00:00Z\tde10a11cec0010000000000000000000\t/bar.txt|/bar2.txt\tfile\t8\tcf1e620e252728cced23a12a60c0d5a9a6ce378cddfd1c2a1641203ce03c9435
f0000000000000000000000000000004\t2\t2000-01-15T00:00:00Z\tde10a11cec0010000000000000000000\t/bar2.txt\tfile\t8\t68556ebbfd8707f616564c01b4d01282de5df108f1098d61a21db954800c4a43
f0000000000000000000000000000004\t3\t2000-01-20T00:00:00Z\tde10a11cec0010000000000000000000\t/bar2.txt\terror\t-\t-
";

#[test]
fn history_matches_the_reference() {
    for file in sequestered_files() {
        let r = extract(&file, &key_path(1), &["--list", "--history"]);
        assert_eq!(r.code, 3, "{}", r.all());
        assert_eq!(r.stdout, HISTORY);
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let r = extract(&file, &key_path(1), &["--history", out.to_str().unwrap()]);
        assert_eq!(r.code, 3, "{}", r.all());
        assert_eq!(
            std::fs::read_to_string(out.join("history.tsv")).unwrap(),
            HISTORY
        );
        let v = out.join("history/f0000000000000000000000000000004");
        assert_eq!(std::fs::read(v.join("v1-bar.txt")).unwrap(), b"Hello v1");
        assert_eq!(std::fs::read(v.join("v2-bar2.txt")).unwrap(), b"Hello v2");
        assert!(
            !v.join("v3-bar2.txt").exists(),
            "an unreadable version was written"
        );
    }
}

#[test]
fn writes_the_tree_private_with_times_and_a_report() {
    let file = &sequestered_files()[0];
    let before = fingerprint(file);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let r = extract(
        file,
        &key_path(1),
        &["--at", "2000-01-15T00:00:00Z", out.to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let bar = out.join("files/bar2.txt");
    assert_eq!(std::fs::read(&bar).unwrap(), b"Hello v2");
    let meta = std::fs::metadata(&bar).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(
        std::fs::metadata(out.join("files"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    let mtime = meta.modified().unwrap();
    // bar.txt v2's `updated` is within 2000-01-15 (the reference's timeline).
    let secs = mtime
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        (947_894_400 - 86_400..947_894_400 + 86_400).contains(&secs),
        "{secs}"
    );
    let report = report_of(&out);
    assert_eq!(report["complete"], true);
    assert_eq!(report["entries"][1]["written"], "files/bar2.txt");
    assert_eq!(report["entries"][1]["sha256"], HELLO2);
    let text = std::fs::read_to_string(out.join("report.txt")).unwrap();
    assert!(text.contains("result: complete"), "{text}");
    assert_eq!(fingerprint(file), before);
    // Only OUTPUT_DIR was written in the parent.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, [std::ffi::OsString::from("out")]);
}

#[test]
fn other_keys_are_refused_clearly() {
    let file = &sequestered_files()[0];
    // Service 2 exists but has no access (created after the last rotation).
    let r = extract(file, &key_path(2), &["--list"]);
    assert_eq!(r.code, 64, "{}", r.all());
    assert!(r.stderr.contains("Sequester Service 2"), "{}", r.stderr);
    assert!(r.stderr.contains("nothing is readable"), "{}", r.stderr);
    // Service 3's key is of no service of this organization.
    let r = extract(file, &key_path(3), &["--list"]);
    assert_eq!(r.code, 61, "{}", r.all());
    assert!(
        r.stderr
            .contains("no sequester service of organization `Org1`"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("00000000000000000000000000000001 \"Sequester Service 1\""),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("00000000000000000000000000000002 \"Sequester Service 2\""),
        "{}",
        r.stderr
    );
    // --service-id is checked against the key.
    let r = extract(
        file,
        &key_path(1),
        &["--list", "--service-id", "00000000000000000000000000000002"],
    );
    assert_eq!(r.code, 61, "{}", r.all());
    assert!(r.stderr.contains("not of --service-id"), "{}", r.stderr);
    let r = extract(
        file,
        &key_path(1),
        &[
            "--list",
            "--service-id",
            "00000000000000000000000000000001",
            "--at",
            "2000-01-15T00:00:00Z",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    // Not a key at all.
    let r = extract(file, file, &["--list"]);
    assert_eq!(r.code, 61, "{}", r.all());
}

#[test]
fn passphrase_protected_keys_by_file_and_environment() {
    let file = &sequestered_files()[0];
    let dir = tempfile::tempdir().unwrap();
    let plain = std::fs::read(key_path(1)).unwrap();
    let key = SequesterPrivateKey::load(&plain, None).unwrap();
    let passphrase = "correct horse battery";
    let pem = key.to_pem(Some(passphrase.as_bytes())).unwrap();
    assert!(pem.contains("BEGIN ENCRYPTED PRIVATE KEY"));
    let key_file = dir.path().join("service.pem");
    std::fs::write(&key_file, pem.as_bytes()).unwrap();
    let pass_file = dir.path().join("pass");
    std::fs::write(&pass_file, format!("{passphrase}\n")).unwrap();
    let at = ["--list", "--at", "2000-01-15T00:00:00Z"];

    let mut args = at.to_vec();
    args.extend(["--key-passphrase-file", pass_file.to_str().unwrap()]);
    let r = extract(file, &key_file, &args);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(tree(&r.stdout)[1], format!("/bar2.txt\tfile\t8\t{HELLO2}"));
    assert!(!r.all().contains(passphrase));

    let mut cmd = tool();
    cmd.arg("extract")
        .arg(file)
        .arg("--key")
        .arg(&key_file)
        .arg("-q")
        .args(at)
        .env("PARSEC_SEQUESTER_KEY_PASSPHRASE", passphrase);
    let r = run(&mut cmd);
    assert_eq!(r.code, 0, "{}", r.all());

    // Without a passphrase (no terminal): a clear error saying how to give it.
    let r = extract(file, &key_file, &at);
    assert_eq!(r.code, 61, "{}", r.all());
    assert!(r.stderr.contains("passphrase-protected"), "{}", r.stderr);
    assert!(r.stderr.contains("--key-passphrase-file"), "{}", r.stderr);

    // A wrong passphrase.
    std::fs::write(&pass_file, "wrong horse\n").unwrap();
    let mut args = at.to_vec();
    args.extend(["--key-passphrase-file", pass_file.to_str().unwrap()]);
    let r = extract(file, &key_file, &args);
    assert_eq!(r.code, 61, "{}", r.all());
    assert!(r.stderr.contains("wrong passphrase"), "{}", r.stderr);
    assert!(!r.all().contains("wrong horse"));
}

#[test]
fn verify_with_a_key_decrypts_and_checks_every_version() {
    let file = &sequestered_files()[0];
    let mut cmd = tool();
    cmd.arg("verify").arg(file).arg("--key").arg(key_path(1));
    let r = run(&mut cmd);
    assert_eq!(r.code, 3, "{}", r.all());
    assert!(
        r.stdout.contains("OK: a complete and intact realm export"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("key indexes opened: 1, 2"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("[key_not_opened] /bar2.txt"),
        "{}",
        r.stdout
    );
    let mut cmd = tool();
    cmd.arg("verify")
        .arg(file)
        .arg("--json")
        .arg("--key")
        .arg(key_path(1));
    let r = run(&mut cmd);
    let json: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(json["decrypt"]["mode"], "history");
    assert_eq!(json["decrypt"]["entries"].as_array().unwrap().len(), 6);
    assert_eq!(json["verify"]["problems"], serde_json::json!([]));
}
