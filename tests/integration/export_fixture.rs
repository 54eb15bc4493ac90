//! On the real Parsec database of the fixtures, our exports hold the same rows as Parsec's.

use crate::harness::{export_cmd, fixtures_dir, run, TestDb};
use crate::rows::{assert_same_content, flags};

const REALMS: [(&str, &str); 5] = [
    ("CoolorgOrgTemplate", "f0000000000000000000000000000001"),
    ("CoolorgOrgTemplate", "f0000000000000000000000000000002"),
    ("CoolorgOrgTemplate", "f0000000000000000000000000000004"),
    ("SequesteredOrgTemplate", "f0000000000000000000000000000003"),
    (
        "WorkspaceHistoryOrgTemplate",
        "f0000000000000000000000000000008",
    ),
];

#[tokio::test(flavor = "multi_thread")]
async fn every_realm_of_parsecs_database_exports_like_parsec() {
    let db = TestDb::with_parsec_fixture("fixture").await;
    let out = tempfile::tempdir().unwrap();
    for (org, realm) in REALMS {
        let r = run(&mut export_cmd(
            &db.url,
            org,
            realm,
            out.path(),
            &["--snapshot-timestamp", "2010-01-01T00:00:00Z"],
        ));
        r.ok();
        let name = format!("parsec-export-{org}-realm-{realm}-20100101T000000Z.sqlite");
        let ours = out.path().join(&name);
        assert!(
            ours.exists(),
            "default file name {name} not used: {}",
            r.all()
        );
        let theirs = fixtures_dir().join("parsec-v3-db/expected").join(&name);
        assert_same_content(&ours, &theirs);
        assert_eq!(flags(&ours), (1, 1, 1, 1));
        crate::schema::assert_schema_is_parsecs(&ours);
    }
}
