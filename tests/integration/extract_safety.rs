//! `extract` on altered copies of the fixture (each alteration reported with its reason, the
//! rest extracted), hostile names, resuming, and what it refuses (non-empty OUTPUT_DIR).

use std::collections::BTreeMap;

use parsec_sequester::parsec::crypto::signing::SigningKey;
use parsec_sequester::parsec::entry_name::EntryName;
use parsec_sequester::parsec::manifests::Manifest;
use sha2::Digest;

use crate::extract_support::*;
use crate::harness::fingerprint;
use crate::parsec_fixture::{hex, sequestered_files, testbed_key, REALM_03};

const AT: [&str; 2] = ["--at", "2000-01-15T00:00:00Z"];

/// `extract --at 2000-01-15 FILE DIR/out`.
fn extract_at_into(
    file: &std::path::Path,
    dir: &std::path::Path,
) -> (std::path::PathBuf, crate::harness::Run) {
    let out = dir.join("out");
    let mut args = AT.to_vec();
    args.push(out.to_str().unwrap());
    (out.clone(), extract(file, &key_path(1), &args))
}

fn list_at(file: &std::path::Path) -> (crate::harness::Run, serde_json::Value) {
    list_json(file, &key_path(1), &AT)
}

#[test]
fn a_flipped_vlob_byte_fails_that_entry_only() {
    let dir = tempfile::tempdir().unwrap();
    // sequential_id 203: bar.txt v2.
    let copy = altered_copy(&sequestered_files()[0], dir.path(), |c| {
        flip(c, "vlob_atom", "blob", "sequential_id", 203, true)
    });
    let (r, json) = list_at(&copy);
    assert_eq!(r.code, 3, "{}", r.all());
    assert_eq!(failure_checks(&json), ["cannot_decrypt"]);
    assert_eq!(json["entries"][0]["type"], "folder");
    assert_eq!(json["entries"][1]["type"], "error");
    assert_eq!(json["failures"][0]["path"], "/bar2.txt");
}

#[test]
fn a_flipped_block_byte_is_reported_and_the_file_set_apart() {
    let dir = tempfile::tempdir().unwrap();
    // Block sequential_id 101 is bar.txt v2's (key 2).
    let copy = altered_copy(&sequestered_files()[0], dir.path(), |c| {
        flip(c, "block_data", "data", "block", 101, true)
    });
    let (out, r) = extract_at_into(&copy, dir.path());
    assert_eq!(r.code, 3, "{}", r.all());
    let report = report_of(&out);
    assert_eq!(failure_checks(&report), ["block_cannot_decrypt"]);
    assert!(
        !out.join("files/bar2.txt").exists(),
        "a damaged file was written as good"
    );
    assert_eq!(
        std::fs::read(out.join("damaged/files/bar2.txt")).unwrap(),
        [0u8; 8]
    );
    assert_eq!(report["entries"][1]["sha256"], serde_json::Value::Null);
}

#[test]
fn a_removed_block_row_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let copy = altered_copy(&sequestered_files()[0], dir.path(), |c| {
        c.execute("DELETE FROM block_data WHERE block = 101", [])
            .unwrap();
        c.execute("DELETE FROM block WHERE sequential_id = 101", [])
            .unwrap();
    });
    let (r, json) = list_at(&copy);
    assert_eq!(r.code, 3, "{}", r.all());
    assert_eq!(failure_checks(&json), ["block_missing"]);
    assert_eq!(json["entries"][1]["type"], "file");
}

#[test]
fn a_bad_certificate_signature_is_reported_the_rest_extracted() {
    let dir = tempfile::tempdir().unwrap();
    // common_certificate _id 3: bob's device certificate (its first byte is in the signature).
    let copy = altered_copy(&sequestered_files()[0], dir.path(), |c| {
        flip(c, "common_certificate", "certificate", "_id", 3, false)
    });
    let (r, json) = list_at(&copy);
    assert_eq!(r.code, 3, "{}", r.all());
    assert_eq!(failure_checks(&json), ["certificate"]);
    let reason = json["failures"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("signature does not verify"), "{reason}");
    assert_eq!(
        tree(
            &crate::extract_support::extract(&copy, &key_path(1), &["--list", AT[0], AT[1]]).stdout
        )[1],
        format!("/bar2.txt\tfile\t8\t{HELLO2}")
    );
}

#[test]
fn a_flipped_keys_bundle_byte_leaves_nothing_readable() {
    let dir = tempfile::tempdir().unwrap();
    let copy = altered_copy(&sequestered_files()[0], dir.path(), |c| {
        flip(c, "realm_keys_bundle", "keys_bundle", "key_index", 2, true)
    });
    let (out, r) = extract_at_into(&copy, dir.path());
    assert_eq!(r.code, 64, "{}", r.all());
    let report = report_of(&out);
    let checks = failure_checks(&report);
    assert_eq!(checks[0], "keys_bundle", "{checks:?}");
    assert!(report["failures"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("bundle 2"));
}

#[test]
fn hostile_names_are_escaped_and_collisions_suffixed() {
    let dir = tempfile::tempdir().unwrap();
    let bar = uuid::Uuid::from_u128(0xf0000000000000000000000000000004);
    let names = [
        "a:b", "CON", "A.txt", "a.txt", "trail.", "x\\y", "q?*|<>\"", "100%",
    ];
    // Root v1 (sequential_id 201) re-signed by alice@dev1 (seed n=3) under key 1 (n=0x0a),
    // listing bar.txt under each hostile name.
    let copy = altered_copy(&sequestered_files()[0], dir.path(), |c| {
        let blob: Vec<u8> = c
            .query_row(
                "SELECT blob FROM vlob_atom WHERE sequential_id = 201",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let key1 = testbed_key(0x0a);
        let Manifest::Folder(mut root) =
            Manifest::decrypt(&blob, &key1, REALM_03).unwrap().manifest
        else {
            panic!("root is a folder")
        };
        root.children = names
            .iter()
            .map(|n| (EntryName::parse(n).unwrap(), bar))
            .collect::<BTreeMap<_, _>>();
        let sealed = Manifest::Folder(root).seal(&SigningKey::from_seed(&testbed_key(3)), &key1);
        c.execute(
            "UPDATE vlob_atom SET blob = ?1 WHERE sequential_id = 201",
            [sealed],
        )
        .unwrap();
    });
    let out = dir.path().join("out");
    let r = extract(
        &copy,
        &key_path(1),
        &["--at", "2000-01-10T00:00:00Z", out.to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let mut written: Vec<String> = std::fs::read_dir(out.join("files"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    written.sort();
    let mut expected = vec![
        "%43ON",
        "100%25",
        "A.txt",
        "a%3Ab",
        "a~2.txt",
        "q%3F%2A%7C%3C%3E%22",
        "trail%2E",
        "x%5Cy",
    ];
    expected.sort();
    assert_eq!(written, expected);
    for name in &written {
        assert_eq!(
            std::fs::read(out.join("files").join(name)).unwrap(),
            b"Hello v1"
        );
    }
    let report = report_of(&out);
    let escaped = report["names_escaped"].as_array().unwrap();
    assert_eq!(escaped.len(), 7, "{escaped:?}"); // all but A.txt
    assert!(escaped
        .iter()
        .any(|e| e["path"] == "/a.txt" && e["written"] == "files/a~2.txt"));
    // Nothing beside OUTPUT_DIR but the export copy.
    let mut beside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    beside.sort();
    assert_eq!(beside, ["export.sqlite", "out"]);
}

#[test]
fn output_must_be_new_or_empty_and_a_rerun_continues() {
    let file = &sequestered_files()[0];
    let before = fingerprint(file);
    let dir = tempfile::tempdir().unwrap();
    let busy = dir.path().join("busy");
    std::fs::create_dir(&busy).unwrap();
    std::fs::write(busy.join("mine.txt"), "x").unwrap();
    let r = extract(file, &key_path(1), &["--history", busy.to_str().unwrap()]);
    assert_eq!(r.code, 63, "{}", r.all());
    assert!(r.stderr.contains("is not empty"), "{}", r.stderr);
    assert_eq!(std::fs::read_dir(&busy).unwrap().count(), 1);

    let out = dir.path().join("out");
    let first = extract(file, &key_path(1), &["--history", out.to_str().unwrap()]);
    assert_eq!(first.code, 3, "{}", first.all());
    let v = out.join("history/f0000000000000000000000000000004");
    let tsv = std::fs::read_to_string(out.join("history.tsv")).unwrap();
    // An interruption: one file missing, one half-written, a stray temporary file, no report.
    std::fs::remove_file(v.join("v1-bar.txt")).unwrap();
    std::fs::write(v.join("v2-bar2.txt"), "Hel").unwrap();
    std::fs::create_dir_all(out.join(".parsec-extract/tmp")).unwrap();
    std::fs::write(out.join(".parsec-extract/tmp/7"), "junk").unwrap();
    std::fs::remove_file(out.join("report.json")).unwrap();
    let again = extract(file, &key_path(1), &["--history", out.to_str().unwrap()]);
    assert_eq!(again.code, 3, "{}", again.all());
    assert_eq!(std::fs::read(v.join("v1-bar.txt")).unwrap(), b"Hello v1");
    assert_eq!(std::fs::read(v.join("v2-bar2.txt")).unwrap(), b"Hello v2");
    assert_eq!(
        std::fs::read_to_string(out.join("history.tsv")).unwrap(),
        tsv
    );
    let report = report_of(&out);
    assert_eq!(report["resumed"], true);
    assert!(!out.join(".parsec-extract/tmp").exists());
    // A third run skips both files (already written and checked).
    let third = extract(
        file,
        &key_path(1),
        &["--history", "--json", out.to_str().unwrap()],
    );
    let report: serde_json::Value = serde_json::from_str(&third.stdout).unwrap();
    let resumed = report["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["resumed"] == true)
        .count();
    assert_eq!(resumed, 2);
    // Another mode into the same directory is refused.
    let r = extract(
        file,
        &key_path(1),
        &["--at", "2000-01-15T00:00:00Z", out.to_str().unwrap()],
    );
    assert_eq!(r.code, 63, "{}", r.all());
    assert_eq!(fingerprint(file), before);
}

/// Without OUTPUT_DIR a history spools its entries to `$TMPDIR` (SQLite's temporary database,
/// unnamed files): nothing is left there, and the same entries come out.
#[test]
fn a_history_without_output_leaves_nothing_in_the_temporary_folder() {
    let file = &sequestered_files()[0];
    let tmp = tempfile::tempdir().unwrap();
    let run_with_tmp = |args: &[&str]| {
        let mut cmd = crate::harness::tool();
        cmd.args(args)
            .env("TMPDIR", tmp.path())
            .env("SQLITE_TMPDIR", tmp.path());
        crate::harness::run(&mut cmd)
    };
    let key = key_path(1);
    let (file_s, key_s) = (file.to_str().unwrap(), key.to_str().unwrap());
    let table = run_with_tmp(&["extract", file_s, "--key", key_s, "--list", "--history"]);
    assert_eq!(table.code, 3, "{}", table.all());
    let json = run_with_tmp(&[
        "extract",
        file_s,
        "--key",
        key_s,
        "--list",
        "--history",
        "--json",
    ]);
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let entries = report["entries"].as_array().unwrap();
    // The reference's history of realm 3 (§9.3): three root versions and three of bar.txt.
    assert_eq!(entries.len(), 6);
    assert_eq!(table.stdout.lines().count(), 1 + entries.len());
    assert_eq!(report["failures"].as_array().unwrap().len(), 2);
    let verify = run_with_tmp(&["verify", file_s, "--key", key_s, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&verify.stdout).unwrap();
    assert_eq!(v["decrypt"]["entries"], report["entries"]);
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "left in TMPDIR: {left:?}");
}

#[test]
fn bad_export_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let not_export = dir.path().join("x.sqlite");
    std::fs::write(&not_export, "hello").unwrap();
    let r = extract(&not_export, &key_path(1), &["--list"]);
    assert_eq!(r.code, 60, "{}", r.all());
    let unfinished = altered_copy(&sequestered_files()[0], dir.path(), |c| {
        c.execute("UPDATE info SET blocks_data_export_done = 0", [])
            .unwrap();
    });
    let r = extract(&unfinished, &key_path(1), &["--list"]);
    assert_eq!(r.code, 60, "{}", r.all());
    for part in [
        "the export is incomplete",
        "`blocks_data_export_done` is 0",
        "`export-realm`",
        "then extract again",
    ] {
        assert!(r.stderr.contains(part), "{part}: {}", r.stderr);
    }
    // Every bad field of `info` is named, not only the first.
    let damaged = altered_copy(&sequestered_files()[0], dir.path(), |c| {
        c.execute(
            "UPDATE info SET realm_id = x'00', root_verify_key = x'0102'",
            [],
        )
        .unwrap();
    });
    let r = extract(&damaged, &key_path(1), &["--list"]);
    assert_eq!(r.code, 60, "{}", r.all());
    for field in ["`info.realm_id`", "`info.root_verify_key`"] {
        assert!(r.stderr.contains(field), "{field}: {}", r.stderr);
    }
    let newer = altered_copy(&sequestered_files()[0], dir.path(), |c| {
        c.execute("UPDATE info SET version = 2", []).unwrap();
    });
    let r = extract(&newer, &key_path(1), &["--list"]);
    assert_eq!(r.code, 60, "{}", r.all());
    assert!(
        r.stderr.contains("unsupported export format version 2"),
        "{}",
        r.stderr
    );
}

#[test]
fn no_symlink_is_followed_when_continuing() {
    let file = &sequestered_files()[0];
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let args = ["--at", "2000-01-15T00:00:00Z", out.to_str().unwrap()];
    assert_eq!(extract(file, &key_path(1), &args).code, 0);
    // Someone swaps `files` for a symlink to a folder outside OUTPUT_DIR.
    std::fs::remove_dir_all(out.join("files")).unwrap();
    std::os::unix::fs::symlink(&outside, out.join("files")).unwrap();
    let r = extract(file, &key_path(1), &args);
    assert_eq!(r.code, 63, "{}", r.all());
    assert!(r.stderr.contains("symbolic link"), "{}", r.stderr);
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        0,
        "written through a symlink"
    );
    // A symlink in place of a file is not read as the file, nor written through.
    std::fs::remove_file(out.join("files")).unwrap();
    std::fs::create_dir(out.join("files")).unwrap();
    std::os::unix::fs::symlink(outside.join("target"), out.join("files/bar2.txt")).unwrap();
    let r = extract(file, &key_path(1), &args);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        !outside.join("target").exists(),
        "written through a symlink"
    );
    assert_eq!(
        std::fs::read(out.join("files/bar2.txt")).unwrap(),
        b"Hello v2"
    );
}

/// A copy of the export with one byte changed keeps its size, organization, realm and
/// snapshot: only the SHA-256 that the first run recorded tells it apart.
#[test]
fn a_run_is_continued_only_with_the_same_export_file() {
    let file = &sequestered_files()[0];
    let dir = tempfile::tempdir().unwrap();
    let (out, first) = extract_at_into(file, dir.path());
    assert_eq!(first.code, 0, "{}", first.all());
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join(".parsec-extract/state.json")).unwrap())
            .unwrap();
    assert_eq!(
        state["export_sha256"].as_str(),
        Some(hex(&sha2::Sha256::digest(std::fs::read(file).unwrap())).as_str()),
        "the state records the export's SHA-256"
    );
    let copy = altered_copy(file, dir.path(), |c| {
        flip(c, "vlob_atom", "blob", "sequential_id", 203, true)
    });
    assert_eq!(
        std::fs::metadata(&copy).unwrap().len(),
        std::fs::metadata(file).unwrap().len()
    );
    let listing = snapshot_of(&out);
    let mut args = AT.to_vec();
    args.push(out.to_str().unwrap());
    let r = extract(&copy, &key_path(1), &args);
    assert_eq!(r.code, 63, "{}", r.all());
    assert!(r.stderr.contains("another export"), "{}", r.stderr);
    assert_eq!(snapshot_of(&out), listing, "nothing changed");
}

/// Every file below `dir` with its content.
fn snapshot_of(dir: &std::path::Path) -> BTreeMap<std::path::PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                files.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    files
}

/// Part 7: with OUTPUT_DIR no write lands outside it, scratch tables and spooled lines
/// included. Every `open` that may write (creation, write access, an unnamed temporary file)
/// is traced, in every thread, for a history and for the tree.
#[test]
fn with_an_output_folder_nothing_is_opened_for_writing_outside_it() {
    if std::process::Command::new("strace")
        .arg("-V")
        .output()
        .is_err()
    {
        eprintln!("skipped: strace is not installed");
        return;
    }
    let file = &sequestered_files()[0];
    let key = key_path(1);
    for mode in [&["--history"][..], &[][..]] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let log = dir.path().join("strace.log");
        let mut cmd = std::process::Command::new("strace");
        cmd.args(["-f", "-qq", "-e", "trace=open,openat,openat2,creat", "-o"])
            .arg(&log)
            .arg(env!("CARGO_BIN_EXE_parsec-sequester"))
            .arg("extract")
            .arg(file)
            .arg("--key")
            .arg(&key)
            .arg("-q")
            .args(mode)
            .arg(&out);
        let status = cmd.output().unwrap().status;
        assert_eq!(status.code(), Some(3), "{mode:?}");
        let trace = std::fs::read_to_string(&log).unwrap();
        let out_prefix = format!("\"{}/", out.display());
        let writes: Vec<&str> = trace
            .lines()
            .filter(|l| {
                ["O_CREAT", "O_WRONLY", "O_RDWR", "O_TMPFILE", "creat("]
                    .iter()
                    .any(|f| l.contains(f))
            })
            .collect();
        assert!(
            writes.iter().any(|l| l.contains("rows.sqlite")),
            "the trace sees the scratch tables: {writes:#?}"
        );
        let outside: Vec<&&str> = writes
            .iter()
            .filter(|l| !l.contains(&out_prefix) && !l.contains("\"/dev/null\""))
            .collect();
        assert!(
            outside.is_empty(),
            "{mode:?} wrote outside OUTPUT_DIR: {outside:#?}"
        );
    }
}
