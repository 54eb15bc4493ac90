//! `testbed populate` writes a real encrypted workspace history: a generated sequestered
//! organization's exports keep every invariant of the reference's sections 6 and 7 and
//! decrypt to what the generator recorded; `--keys-dir` writes the service keys (plain or
//! passphrase-protected PKCS#8 PEM) and `record.json`, never overwriting; `--from-dir`
//! imports real files.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use parsec_sequester::parsec::crypto::hash::sha256;
use parsec_sequester::parsec::crypto::rsa_key::SequesterPrivateKey;
use parsec_sequester::testbed::record::OrgRecord;
use parsec_sequester::testbed::{self, GeneratedOrg, OrgSpec};

use crate::harness::{export_cmd, run, tool, verify_json, TestDb};
use crate::history_checker::check_export;

fn export(db_url: &str, org: &str, realm: uuid::Uuid, file: &Path) {
    run(&mut export_cmd(
        db_url,
        org,
        &realm.simple().to_string(),
        file,
        &[],
    ))
    .ok();
}

async fn generate(db: &TestDb, spec: &OrgSpec) -> GeneratedOrg {
    let client = db.client().await;
    testbed::populate(&client, spec).await.expect("populate")
}

fn spec(org: &str) -> OrgSpec {
    let mut spec = OrgSpec::small(org);
    spec.sequestered = true;
    spec.sequester_key_bits = 1024;
    spec.record = true;
    spec.vlob_versions_per_realm = 160;
    spec.blocks_per_realm = 70;
    spec.block_size_min = 1024;
    spec.block_size_max = 40 * 1024;
    spec
}

#[tokio::test(flavor = "multi_thread")]
async fn a_generated_sequestered_org_keeps_every_invariant_and_matches_its_record() {
    let db = TestDb::with_schema("gen_history").await;
    let mut spec = spec("HistOrg");
    spec.clock_skew_s = 120;
    let org = generate(&db, &spec).await;
    let record = org.record.as_ref().expect("record");
    let dir = tempfile::tempdir().unwrap();
    let (mut files, mut blocks) = (0, 0);
    for realm in &org.realms {
        let file = dir
            .path()
            .join(format!("{}.sqlite", realm.realm_id.simple()));
        export(&db.url, "HistOrg", realm.realm_id, &file);
        let checked = check_export(&file, &org.services, record);
        assert_eq!(checked.vlob_versions, realm.vlob_versions);
        files += checked.files;
        blocks += checked.blocks;
        // Service 1 (revoked before the last rotation) reads only earlier keys; service 2
        // (created after the first rotation) gets bundle 2, so it reads every key.
        let last = realm.key_index as u32;
        let read: Vec<u32> = org
            .services
            .iter()
            .map(|s| checked.recovered.get(&s.service_id).copied().unwrap_or(0))
            .collect();
        assert_eq!(read, vec![2, last], "what each service reads");
        assert_eq!(
            org.services
                .iter()
                .map(|s| s
                    .readable
                    .iter()
                    .find(|(r, _)| *r == realm.realm_id)
                    .map(|x| x.1))
                .collect::<Vec<_>>(),
            vec![Some(2), Some(last)]
        );
        // `verify` agrees, signatures included.
        let (r, json) = verify_json(&file, &[]);
        assert_eq!(r.code, 0, "{}\n{json:#}", r.all());
        assert_eq!(json["problems"].as_array().unwrap().len(), 0, "{json:#}");
    }
    assert!(
        files > 20 && blocks > 20,
        "{files} file versions, {blocks} blocks read"
    );
    // The oracle can fail: a flipped block byte, a vlob moved to another key index.
    let file = dir
        .path()
        .join(format!("{}.sqlite", org.realms[0].realm_id.simple()));
    for (tamper, rule) in [
        ("a block byte", "block decrypts"),
        ("a key index", "key index"),
    ] {
        let copy = dir.path().join("tampered.sqlite");
        std::fs::copy(&file, &copy).unwrap();
        let conn = rusqlite::Connection::open(&copy).unwrap();
        if tamper == "a block byte" {
            let (block, mut data): (i64, Vec<u8>) = conn
                .query_row(
                    "SELECT block, data FROM block_data ORDER BY block LIMIT 1",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap();
            data[50] ^= 1;
            conn.execute(
                "UPDATE block_data SET data = ?1 WHERE block = ?2",
                rusqlite::params![data, block],
            )
            .unwrap();
        } else {
            conn.execute(
                "UPDATE vlob_atom SET key_index = key_index + 1 \
                 WHERE sequential_id = (SELECT MAX(sequential_id) FROM vlob_atom)",
                [],
            )
            .unwrap();
        }
        drop(conn);
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            check_export(&copy, &org.services, record)
        }));
        let message = caught.err().map(|e| {
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        });
        assert!(
            message.as_deref().is_some_and(|m| m.contains(rule)),
            "{tamper}: {message:?}"
        );
    }
    // Names that Parsec accepts and Windows or macOS refuse are in every root.
    for realm in &record.realms {
        let root = realm
            .vlobs
            .iter()
            .find(|v| v.vlob_id == realm.realm_id)
            .expect("root vlob");
        let listings: Vec<_> = root
            .versions
            .iter()
            .map(|v| v.children.as_ref().unwrap())
            .collect();
        for name in ["Foo", "foo", "a:b", "CON", "x.", "r\u{e9}sum\u{e9}.txt"] {
            assert!(
                listings.iter().any(|c| c.contains_key(name)),
                "{name:?} never in the root"
            );
        }
        assert!(
            listings
                .iter()
                .any(|c| c.contains_key("Foo") && c.contains_key("foo")),
            "no case collision"
        );
    }
}

pub fn populate(url: &str, extra: &[&str]) -> crate::harness::Run {
    let mut cmd = tool();
    cmd.args([
        "testbed",
        "populate",
        "--sequestered",
        "--sequester-key-bits",
        "1024",
    ])
    .args(["--vlobs-per-realm", "40", "--blocks-per-realm", "10"])
    .args([
        "--block-size-min",
        "1KiB",
        "--block-size-max",
        "8KiB",
        "--realms",
        "2",
    ])
    .env("PARSEC_DB", url)
    .args(extra);
    run(&mut cmd)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_dir_holds_the_service_keys_and_the_record_and_is_never_overwritten() {
    let db = TestDb::empty("gen_keys_dir").await;
    let keys = tempfile::tempdir().unwrap();
    let pass_file = keys.path().join("pass");
    std::fs::write(&pass_file, "correct horse\n").unwrap();
    let keys_dir = keys.path().join("keys");
    let dir = keys_dir.to_str().unwrap();
    let r = populate(
        &db.url,
        &[
            "--create-schema",
            "--organization",
            "KeyOrg",
            "--keys-dir",
            dir,
            "--keys-passphrase-file",
            pass_file.to_str().unwrap(),
        ],
    );
    r.ok();
    assert!(!r.all().contains("correct horse"), "the passphrase leaked");
    let org_dir = keys_dir.join("KeyOrg");
    assert!(
        r.stdout.contains(&org_dir.display().to_string()),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("every key (1 to 3)"), "{}", r.stdout);
    assert!(r.stdout.contains("keys 1 to 2 of 3"), "{}", r.stdout);
    let record: OrgRecord =
        serde_json::from_slice(&std::fs::read(org_dir.join("record.json")).unwrap()).unwrap();
    assert_eq!(record.organization, "KeyOrg");
    assert_eq!(record.services.len(), 2);
    assert_eq!(mode(&org_dir), 0o700);
    assert_eq!(mode(&org_dir.join("sequester-services")), 0o700);
    assert_eq!(mode(&org_dir.join("record.json")), 0o600);
    let client = db.client().await;
    for service in &record.services {
        let path = org_dir.join(service.key_file.as_ref().expect("key file"));
        assert_eq!(
            path.file_name().unwrap().to_str().unwrap(),
            format!("{}.pem", service.service_id)
        );
        assert_eq!(mode(&path), 0o600);
        let pem = std::fs::read(&path).unwrap();
        assert!(String::from_utf8_lossy(&pem).starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
        assert!(SequesterPrivateKey::load(&pem, None).is_err());
        assert!(SequesterPrivateKey::load(&pem, Some(b"wrong")).is_err());
        let key = SequesterPrivateKey::load(&pem, Some(b"correct horse")).expect("key loads");
        // The key is the one of the service's certificate (its SPKI is in the DB row).
        let id = uuid::Uuid::parse_str(&service.service_id).unwrap();
        let certificate: Vec<u8> = client
            .query_one(
                "SELECT service_certificate FROM sequester_service WHERE service_id = $1",
                &[&id],
            )
            .await
            .unwrap()
            .get(0);
        let der = key.public_key().to_der();
        assert!(certificate.windows(der.len()).any(|w| w == der.as_slice()));
    }
    assert!(record
        .realms
        .iter()
        .all(|r| r.rotations.len() == 3 && !r.vlobs.is_empty()));
    let before = std::fs::read(org_dir.join("record.json")).unwrap();

    // Same organization name in the same directory: refused before anything is written.
    let r = populate(
        &db.url,
        &[
            "--allow-existing-data",
            "--organization",
            "KeyOrg",
            "--keys-dir",
            dir,
        ],
    );
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr.contains("record.json") && r.stderr.contains("already exists"),
        "{}",
        r.stderr
    );
    assert_eq!(std::fs::read(org_dir.join("record.json")).unwrap(), before);
    // Another organization, no passphrase: plain PKCS#8.
    let r = populate(
        &db.url,
        &[
            "--allow-existing-data",
            "--organization",
            "KeyOrg2",
            "--keys-dir",
            dir,
        ],
    );
    r.ok();
    let services = keys_dir.join("KeyOrg2/sequester-services");
    let first = std::fs::read_dir(&services)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let pem = std::fs::read(&first).unwrap();
    assert!(String::from_utf8_lossy(&pem).starts_with("-----BEGIN PRIVATE KEY-----"));
    SequesterPrivateKey::load(&pem, None).expect("plain key loads");
}

#[tokio::test(flavor = "multi_thread")]
async fn from_dir_imports_real_files_whose_content_decrypts_back() {
    let source = tempfile::tempdir().unwrap();
    let sub = source.path().join("Sous-dossier");
    std::fs::create_dir(&sub).unwrap();
    let big: Vec<u8> = (0..1_300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(source.path().join("big.bin"), &big).unwrap();
    std::fs::write(sub.join("hello.txt"), b"Hello from disk").unwrap();
    std::fs::write(sub.join("empty"), b"").unwrap();

    let db = TestDb::with_schema("gen_from_dir").await;
    let mut spec = spec("DirOrg");
    spec.realms = 1;
    spec.from_dir = Some(source.path().to_path_buf());
    spec.blocks_per_realm = 40;
    let org = generate(&db, &spec).await;
    let record = org.record.as_ref().unwrap();
    let versions: Vec<_> = record.realms[0]
        .vlobs
        .iter()
        .flat_map(|v| &v.versions)
        .collect();
    for content in [&big[..], b"Hello from disk", b""] {
        let digest: String = sha256(content).iter().map(|b| format!("{b:02x}")).collect();
        assert!(
            versions
                .iter()
                .any(|v| v.sha256.as_deref() == Some(&digest)
                    && v.size == Some(content.len() as u64)),
            "no version holds the {} bytes of an imported file",
            content.len()
        );
    }
    let folder_names: Vec<&String> = versions
        .iter()
        .filter_map(|v| v.children.as_ref())
        .flat_map(|c| c.keys())
        .collect();
    for name in ["big.bin", "Sous-dossier", "hello.txt"] {
        assert!(
            folder_names.iter().any(|n| n.as_str() == name),
            "{name} not imported"
        );
    }
    let file = tempfile::tempdir().unwrap();
    let path = file.path().join("export.sqlite");
    export(&db.url, "DirOrg", org.realms[0].realm_id, &path);
    check_export(&path, &org.services, record);
}
