//! `verify` on files alone: Parsec's own exports pass, every kind of damage is reported with
//! its own check and message, the digest follows the content, and the file is never touched.

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use crate::harness::{fingerprint, fixtures_dir, problem_checks, run, verify_cmd, verify_json};

fn parsec_files() -> Vec<PathBuf> {
    let mut files = vec![
        fixtures_dir().join("parsec-v3/sequestered_export.sqlite"),
        fixtures_dir().join("parsec-v3/workspace_history_export.sqlite"),
    ];
    let mut expected: Vec<PathBuf> =
        std::fs::read_dir(fixtures_dir().join("parsec-v3-db/expected"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "sqlite"))
            .collect();
    expected.sort();
    assert_eq!(expected.len(), 5, "expected Parsec exports in the fixtures");
    files.extend(expected);
    files
}

/// A writable copy of the sequestered fixture (blocks, three keys, sequester certificates).
fn copy_of_fixture(dir: &Path, name: &str) -> PathBuf {
    let to = dir.join(name);
    std::fs::copy(
        fixtures_dir().join("parsec-v3/sequestered_export.sqlite"),
        &to,
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).unwrap();
    to
}

fn edit(path: &Path, sql: &str) {
    Connection::open(path).unwrap().execute_batch(sql).unwrap();
}

fn digest_of(path: &Path) -> String {
    let (r, json) = verify_json(path, &["--digest"]);
    assert_eq!(r.code, 0, "{}", r.all());
    json["digest"]["sha256"].as_str().unwrap().to_owned()
}

#[test]
fn parsecs_own_exports_verify_clean_and_untouched() {
    for file in parsec_files() {
        let before = fingerprint(&file);
        let r = run(&mut verify_cmd(&file, &["--digest"]));
        assert_eq!(r.code, 0, "{}: {}", file.display(), r.all());
        assert!(r.stdout.contains("Result              OK"), "{}", r.stdout);
        assert!(r.stdout.contains("Complete            yes"), "{}", r.stdout);
        let (r, json) = verify_json(&file, &[]);
        assert_eq!(r.code, 0);
        assert_eq!(json["ok"], true);
        assert_eq!(json["complete"], true);
        assert_eq!(json["problems"].as_array().unwrap().len(), 0, "{json:#}");
        assert_eq!(json["totals"]["exact"], true, "{json:#}");
        assert!(json["devices"].as_u64().unwrap() >= 2);
        let notes = json["notes"].as_array().unwrap();
        assert!(
            !notes.iter().any(|n| n["check"] == "signatures_not_checked"),
            "signatures are checked by default"
        );
        assert_eq!(
            fingerprint(&file),
            before,
            "{} was modified",
            file.display()
        );
    }
    let (_, json) = verify_json(&parsec_files()[0], &[]);
    assert_eq!(json["info"]["organization_id"], "Org1");
    assert_eq!(json["info"]["realm_id"], "f0000000000000000000000000000003");
    assert_eq!(
        json["info"]["snapshot_timestamp"],
        "2025-02-16T23:38:17.449003Z"
    );
    assert_eq!(json["tables"][7]["name"], "vlob_atom");
    assert_eq!(json["tables"][7]["rows"], 6);
    assert_eq!(json["tables"][7]["bytes"], 1655);
}

#[test]
fn the_digest_scheme_is_stable() {
    // Pinned: a hand-over record written today must still check tomorrow. Changing the
    // encoding means a new scheme name.
    let file = fixtures_dir().join("parsec-v3/sequestered_export.sqlite");
    assert_eq!(
        digest_of(&file),
        "ede3743e3a56fbe210c164c1c2b5711b10ef6dac107ce5db943d44ddf36af1a7"
    );
}

#[test]
fn verify_never_writes_even_to_a_wal_mode_file() {
    let dir = tempfile::tempdir().unwrap();
    let plain = copy_of_fixture(dir.path(), "plain.sqlite");
    let wal = copy_of_fixture(dir.path(), "wal.sqlite");
    // What Parsec's reader does to a file it opens.
    let conn = Connection::open(&wal).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    drop(conn);
    std::thread::sleep(std::time::Duration::from_millis(20));
    for file in [&plain, &wal] {
        let before = fingerprint(file);
        let (r, json) = verify_json(file, &["--digest"]);
        assert_eq!(r.code, 0, "{}", r.all());
        assert_eq!(fingerprint(file), before, "{} was modified", file.display());
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["plain.sqlite", "wal.sqlite"], "side files created");
        if file == &wal {
            assert_eq!(json["sqlite"]["journal_mode"], "wal");
            assert!(json.to_string().contains("wal_mode"));
        }
    }
    // Same content, same digest, whatever the journal mode.
    assert_eq!(digest_of(&plain), digest_of(&wal));
}

/// A damage done to a copy of a good export.
enum Harm {
    Sql(&'static str),
    Other(fn(&Path)),
}

/// (name, damage, expected check, expected words in the message)
type Damage = (&'static str, Harm, &'static str, &'static [&'static str]);

#[test]
fn each_kind_of_damage_has_its_own_message() {
    let cases: Vec<Damage> = vec![
        (
            "missing block data",
            Harm::Sql("DELETE FROM block_data WHERE block = 101"),
            "block_data_missing",
            &["1 block(s) have no data", "f0000000000000000000000000000006", "sequential_id 101"],
        ),
        (
            "wrong data length",
            Harm::Sql("UPDATE block_data SET data = x'00' WHERE block = 100"),
            "block_data_length",
            &["has 1 bytes of data but a size of 48", "f0000000000000000000000000000005"],
        ),
        (
            "flag unset",
            Harm::Sql("UPDATE info SET vlobs_export_done = 0"),
            "step_not_done",
            &["step 2/4 vlobs is not done", "incomplete"],
        ),
        (
            "missing keys bundle",
            Harm::Sql("DELETE FROM realm_keys_bundle WHERE key_index = 2"),
            "keys_bundle_missing",
            &["key index 2", "cannot be decrypted"],
        ),
        (
            "foreign author",
            Harm::Sql("UPDATE vlob_atom SET author = x'000102030405060708090a0b0c0d0e0f' WHERE sequential_id = 200"),
            "foreign_author",
            &["000102030405060708090a0b0c0d0e0f", "not devices of the common certificates", "sequential_id 200"],
        ),
        (
            "truncated file",
            Harm::Other(|p| {
                let f = std::fs::OpenOptions::new().write(true).open(p).unwrap();
                f.set_len(40_000).unwrap();
            }),
            "truncated",
            &["14 pages of 4096 bytes", "40000 bytes"],
        ),
        (
            "not SQLite",
            Harm::Other(|p| std::fs::write(p, "just some text, certainly not a database file").unwrap()),
            "not_sqlite",
            &["not an SQLite database"],
        ),
        (
            "empty file",
            Harm::Other(|p| std::fs::write(p, "").unwrap()),
            "not_sqlite",
            &["empty"],
        ),
        (
            "hole in certificate _ids",
            Harm::Sql("DELETE FROM realm_certificate WHERE _id = 2"),
            "certificate_ids",
            &["`realm_certificate`", "_id 2 is missing"],
        ),
        (
            "hole in access _ids",
            Harm::Sql("DELETE FROM realm_keys_bundle_access WHERE _id = 4"),
            "access_ids",
            &["`realm_keys_bundle_access`", "_id 4 is missing"],
        ),
        (
            "certificates out of order",
            Harm::Sql("UPDATE common_certificate SET _id = 100 WHERE _id = 0; UPDATE common_certificate SET _id = 0 WHERE _id = 2; UPDATE common_certificate SET _id = 2 WHERE _id = 100;"),
            "certificate_order",
            &["not in timestamp order", "_id 1 (2000-01-02T00:00:00Z) comes after _id 0 (2000-01-03T00:00:00Z)"],
        ),
        (
            "undecodable certificate",
            Harm::Sql("UPDATE sequester_certificate SET certificate = x'0011' WHERE _id = 3"),
            "certificate_undecodable",
            &["`sequester_certificate`", "_id 3"],
        ),
        (
            "short block ID",
            Harm::Sql("UPDATE block SET block_id = x'0102' WHERE sequential_id = 102"),
            "id_length",
            &["block_id that is not a 16-byte blob", "sequential_id 102"],
        ),
        (
            "vlob size",
            Harm::Sql("UPDATE vlob_atom SET size = size + 1 WHERE sequential_id = 201"),
            "vlob_size",
            &["size that differs from the length of their blob", "sequential_id 201"],
        ),
        (
            "wrong total",
            Harm::Sql("UPDATE info SET blocks_total_bytes = 1000"),
            "totals",
            &["144 bytes", "1000", "blocks are missing"],
        ),
        (
            "unsupported version",
            Harm::Sql("UPDATE info SET version = 2"),
            "unsupported_version",
            &["version 2"],
        ),
        (
            "no info row",
            Harm::Sql("DELETE FROM info"),
            "not_export",
            &["no row with magic 87948"],
        ),
        (
            "pending journal",
            Harm::Other(|p| {
                let mut j = p.as_os_str().to_owned();
                j.push("-journal");
                std::fs::write(PathBuf::from(j), b"interrupted write").unwrap();
            }),
            "pending_journal",
            &["-journal exists", "interrupted"],
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (i, (name, damage, check, words)) in cases.into_iter().enumerate() {
        let file = copy_of_fixture(dir.path(), &format!("case{i}.sqlite"));
        match damage {
            Harm::Sql(sql) => edit(&file, sql),
            Harm::Other(f) => f(&file),
        }
        let before = fingerprint(&file);
        let r = run(&mut verify_cmd(&file, &[]));
        assert_eq!(r.code, 50, "{name}: exit code\n{}", r.all());
        assert!(
            r.stderr.contains("failed verification"),
            "{name}: {}",
            r.stderr
        );
        assert!(
            r.stdout.contains(&format!("[{check}]")),
            "{name}: no [{check}] in\n{}",
            r.stdout
        );
        let (r, json) = verify_json(&file, &[]);
        assert_eq!(r.code, 50, "{name}");
        assert_eq!(json["ok"], false);
        let problem = json["problems"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["check"] == check)
            .unwrap_or_else(|| {
                panic!(
                    "{name}: no `{check}` problem in {:?}",
                    problem_checks(&json)
                )
            });
        let message = problem["message"].as_str().unwrap();
        for w in words {
            assert!(message.contains(w), "{name}: `{w}` not in: {message}");
        }
        assert!(!r.stderr.contains("panicked"), "{name}: {}", r.stderr);
        assert_eq!(
            fingerprint(&file),
            before,
            "{name}: verify modified the file"
        );
    }
}

#[test]
fn excess_rows_of_parsecs_exporter_are_noted_unless_exact_totals_are_required() {
    let dir = tempfile::tempdir().unwrap();
    // Parsec counts rows created up to T but exports every row below its marker.
    let file = copy_of_fixture(dir.path(), "excess.sqlite");
    edit(
        &file,
        "UPDATE info SET blocks_total_bytes = blocks_total_bytes - 48; \
         UPDATE vlob_atom SET timestamp = (SELECT snapshot_timestamp FROM info) + 1 WHERE sequential_id = 205; \
         UPDATE info SET vlobs_total_bytes = vlobs_total_bytes - (SELECT size FROM vlob_atom WHERE sequential_id = 205);",
    );
    let (r, json) = verify_json(&file, &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    let notes = json["notes"].to_string();
    assert!(
        notes.contains("blocks_exceed_total") && notes.contains("48 more"),
        "{notes}"
    );
    assert!(notes.contains("vlobs_after_snapshot"), "{notes}");
    assert_eq!(json["totals"]["exact"], false);
    assert_eq!(json["totals"]["vlobs_after_snapshot"], 1);

    let (r, json) = verify_json(&file, &["--exact-totals"]);
    assert_eq!(r.code, 50, "{}", r.all());
    assert_eq!(problem_checks(&json), ["totals", "totals"]);
}

#[test]
fn the_digest_covers_rows_not_layout() {
    let dir = tempfile::tempdir().unwrap();
    let original = copy_of_fixture(dir.path(), "original.sqlite");
    let reference = digest_of(&original);

    // Physical changes: VACUUM, another page size, rows inserted in another order.
    let vacuumed = copy_of_fixture(dir.path(), "vacuumed.sqlite");
    edit(&vacuumed, "PRAGMA page_size = 8192; VACUUM;");
    assert_ne!(
        std::fs::read(&vacuumed).unwrap(),
        std::fs::read(&original).unwrap()
    );
    assert_eq!(digest_of(&vacuumed), reference);
    let reordered = copy_of_fixture(dir.path(), "reordered.sqlite");
    edit(
        &reordered,
        "CREATE TEMP TABLE v AS SELECT * FROM vlob_atom ORDER BY sequential_id DESC; \
         DELETE FROM vlob_atom; INSERT INTO vlob_atom SELECT * FROM v; VACUUM;",
    );
    assert_eq!(digest_of(&reordered), reference);
    // Accesses are compared as a set: Parsec numbers them in arbitrary order.
    let renumbered = copy_of_fixture(dir.path(), "renumbered.sqlite");
    edit(
        &renumbered,
        "UPDATE realm_keys_bundle_access SET _id = 100 + (5 - _id); UPDATE realm_keys_bundle_access SET _id = _id - 100;",
    );
    assert_eq!(digest_of(&renumbered), reference);

    // Any row change changes it, in any table.
    let changes = [
        "UPDATE info SET snapshot_timestamp = snapshot_timestamp + 1",
        "UPDATE common_certificate SET certificate = certificate || x'00' WHERE _id = 3",
        "UPDATE realm_keys_bundle SET keys_bundle = x'00' WHERE key_index = 1",
        "UPDATE realm_sequester_keys_bundle_access SET access = x'00'",
        "UPDATE vlob_atom SET version = 9 WHERE sequential_id = 200",
        "UPDATE block SET key_index = 2 WHERE sequential_id = 100",
        "UPDATE block_data SET data = zeroblob(48) WHERE block = 102",
        "DELETE FROM realm_certificate WHERE _id = 5",
    ];
    for (i, change) in changes.iter().enumerate() {
        let changed = copy_of_fixture(dir.path(), &format!("changed{i}.sqlite"));
        edit(&changed, change);
        let (_, json) = verify_json(&changed, &["--digest"]);
        let d = json["digest"]["sha256"]
            .as_str()
            .unwrap_or_else(|| panic!("{change}: {json:#}"));
        assert_ne!(d, reference, "{change}");
    }
}

#[test]
fn unreadable_inputs_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(&mut verify_cmd(&dir.path().join("nope.sqlite"), &[]));
    assert_eq!(r.code, 52, "{}", r.all());
    assert!(r.stderr.contains("no such file"), "{}", r.stderr);
    let r = run(&mut verify_cmd(dir.path(), &[]));
    assert_eq!(r.code, 52, "{}", r.all());
    assert!(r.stderr.contains("is a directory"), "{}", r.stderr);
    let file = copy_of_fixture(dir.path(), "x.sqlite");
    let r = run(&mut verify_cmd(&file, &["--against-db"]));
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(r.stderr.contains("--db"), "{}", r.stderr);
}

/// The problems of one check, as printed.
pub fn messages(report: &serde_json::Value, check: &str) -> Vec<String> {
    report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["check"] == check)
        .map(|p| p["message"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_flipped_signature_byte_is_reported_naming_the_certificate() {
    let dir = tempfile::tempdir().unwrap();
    // (table, _id, kind, byte offset inside the signature)
    for (table, id, kind, at) in [
        ("common_certificate", 1, "device_certificate", 10),
        ("realm_certificate", 2, "realm_certificate", 0),
        (
            "sequester_certificate",
            0,
            "sequester_authority_certificate",
            63,
        ),
        ("sequester_certificate", 2, "sequester_", 40),
    ] {
        let file = copy_of_fixture(dir.path(), &format!("{table}-{id}.sqlite"));
        let conn = Connection::open(&file).unwrap();
        let mut cert: Vec<u8> = conn
            .query_row(
                &format!("SELECT certificate FROM {table} WHERE _id = {id}"),
                [],
                |r| r.get(0),
            )
            .unwrap();
        cert[at] ^= 0x01;
        conn.execute(
            &format!("UPDATE {table} SET certificate = ?1 WHERE _id = {id}"),
            [cert],
        )
        .unwrap();
        drop(conn);
        let (r, json) = verify_json(&file, &[]);
        assert_eq!(r.code, 50, "{}", r.all());
        let found = messages(&json, "certificate_signature");
        assert!(
            found.iter().any(|m| m.contains(&format!("`{table}`"))
                && m.contains(&format!("_id {id} ("))
                && m.contains(kind)),
            "{table} _id {id}: {json:#}"
        );
        // Unsigned test data may skip the check, and the report says so.
        let (r, json) = verify_json(&file, &["--no-signatures"]);
        assert!(
            messages(&json, "certificate_signature").is_empty(),
            "{}",
            r.all()
        );
        assert!(json["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["check"] == "signatures_not_checked"));
    }
}

#[test]
fn a_certificate_whose_signer_is_missing_from_the_chain_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let file = copy_of_fixture(dir.path(), "no-device.sqlite");
    // alice@dev1's device certificate goes: everything she signed has no known signer.
    let conn = Connection::open(&file).unwrap();
    let ids: Vec<(i64, Vec<u8>)> = conn
        .prepare("SELECT _id, certificate FROM common_certificate ORDER BY _id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let device = ids
        .iter()
        .find(|(_, c)| {
            matches!(
                parsec_sequester::parsec::certificates::decode(c).map(|u| u.certificate),
                Ok(parsec_sequester::parsec::certificates::Certificate::Device(d)) if d.device_id == crate::parsec_fixture::ALICE_DEV1
            )
        })
        .map(|(id, _)| *id)
        .unwrap();
    // Replace it by a copy of the first certificate (keeps the `_id` numbering).
    conn.execute(
        &format!("UPDATE common_certificate SET certificate = (SELECT certificate FROM common_certificate WHERE _id = 0) WHERE _id = {device}"),
        [],
    )
    .unwrap();
    drop(conn);
    let (r, json) = verify_json(&file, &[]);
    assert_eq!(r.code, 50, "{}", r.all());
    let found = messages(&json, "certificate_signer");
    assert!(
        found
            .iter()
            .any(|m| m.contains("`realm_certificate`")
                && m.contains("de10a11cec0010000000000000000000")),
        "{json:#}"
    );
}
