//! `extract` on organizations from `testbed populate --sequestered --keys-dir`: for every
//! service (one reads every key, one was created after the first rotation, one revoked
//! later), the trees at several instants and the whole history equal what the generator's
//! `record.json` says it wrote (oracle: `extract_record`).

use std::path::Path;

use crate::extract_record::realms;
use crate::extract_support::tree;
use crate::harness::{export_cmd, run, TestDb};

/// `testbed populate --sequestered` (two realms, small blocks) with `--keys-dir`.
fn populate(url: &str, org: &str, keys: &Path) {
    let keys = keys.to_str().expect("UTF-8 path");
    let extra = ["--create-schema", "--organization", org, "--keys-dir", keys];
    crate::generated_history::populate(url, &extra).ok();
}

fn snapshot(file: &Path) -> i64 {
    crate::rows::scalar(file, "SELECT snapshot_timestamp FROM info")
}

fn extract(file: &Path, key: &Path, extra: &[&str]) -> crate::harness::Run {
    crate::extract_support::extract(file, key, extra)
}

#[tokio::test(flavor = "multi_thread")]
async fn extracted_trees_and_histories_equal_the_generators_record() {
    let db = TestDb::empty("extract_generated").await;
    let work = tempfile::tempdir().unwrap();
    let keys = work.path().join("keys");
    populate(&db.url, "ExtractOrg", &keys);
    let org_dir = keys.join("ExtractOrg");
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(org_dir.join("record.json")).unwrap()).unwrap();
    let services: Vec<(String, std::path::PathBuf)> = record["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["service_id"].as_str().unwrap().to_owned(),
                org_dir.join(s["key_file"].as_str().unwrap()),
            )
        })
        .collect();
    assert!(services.len() >= 2, "{record}");
    let mut kinds = std::collections::BTreeSet::new();
    for realm in realms(&record) {
        let file = work.path().join(format!("{}.sqlite", realm.id));
        run(&mut export_cmd(
            &db.url,
            "ExtractOrg",
            &realm.id,
            &file,
            &[],
        ))
        .ok();
        let t_snap = snapshot(&file);
        let last_key = realm.rotations.iter().map(|r| r.0).max().unwrap_or(0);
        for (service, key) in &services {
            let keys_read = realm.readable(service);
            kinds.insert(match keys_read.iter().max() {
                None => "nothing",
                Some(k) if *k == last_key => "everything",
                Some(_) => "earlier keys only",
            });
            if keys_read.is_empty() {
                let r = extract(&file, key, &["--list"]);
                assert_eq!(r.code, 64, "{}", r.all());
                continue;
            }
            for t in realm.instants(t_snap) {
                let at = parsec_sequester::ids::format_timestamp(t);
                let r = extract(&file, key, &["--list", "--at", &at]);
                let mut got = tree(&r.stdout);
                got.sort();
                let expected = realm.tree(t, &keys_read);
                assert_eq!(
                    got, expected,
                    "realm {} service {service} at {at}:\n{}",
                    realm.id, r.stderr
                );
                let has_error = expected.iter().any(|l| l.contains("\terror\t"));
                assert_eq!(r.code, if has_error { 3 } else { 0 }, "{}", r.all());
            }
            let out = work.path().join(format!("out-{}-{service}", realm.id));
            let r = extract(&file, key, &["--history", out.to_str().unwrap()]);
            assert!(r.code == 0 || r.code == 3, "{}", r.all());
            let tsv = std::fs::read_to_string(out.join("history.tsv")).unwrap();
            let mut got: Vec<String> = tsv.lines().skip(1).map(str::to_owned).collect();
            got.sort();
            assert_eq!(
                got,
                realm.history(t_snap, &keys_read),
                "history of realm {} for {service}",
                realm.id
            );
            // The files on disk hold what the table says (which is the record's SHA-256).
            let report = crate::extract_support::report_of(&out);
            for e in report["entries"].as_array().unwrap() {
                if let (Some(w), Some(sha)) = (e["written"].as_str(), e["sha256"].as_str()) {
                    let content = std::fs::read(out.join(w)).unwrap();
                    assert_eq!(
                        crate::parsec_fixture::hex(
                            &parsec_sequester::parsec::crypto::hash::sha256(&content)
                        ),
                        sha,
                        "{w}"
                    );
                }
            }
        }
    }
    // The generator's plan gives both kinds of limited services as well as a full one.
    assert!(kinds.contains("everything"), "{kinds:?}");
    assert!(kinds.len() >= 2, "{kinds:?}");
}
