//! On the real Parsec database of the fixtures: our report states the same facts as Parsec's
//! own reports, and works where Parsec's crashes (an access that was removed).

use crate::access_facts::{assert_ordered, from_database, from_json, from_text};
use crate::harness::{fixtures_dir, TestDb};
use crate::reports_common::{json, text};

#[tokio::test(flavor = "multi_thread")]
async fn facts_match_parsecs_own_reports() {
    let db = TestDb::with_parsec_fixture("ha_fixture").await;
    let client = db.client().await;
    for org in ["CoolorgOrgTemplate", "SequesteredOrgTemplate"] {
        let path = fixtures_dir().join(format!("parsec-v3-db/expected/human_accesses-{org}.txt"));
        let theirs = from_text(&std::fs::read_to_string(&path).expect("read Parsec's report"));
        assert!(theirs.iter().any(|f| f.starts_with("role|")), "{theirs:?}");

        let ours = from_text(&text("human-accesses", &db.url, org, &[]));
        assert_eq!(ours, theirs, "{org}: our text report vs Parsec's");
        let doc = json("human-accesses", &db.url, org, &[]);
        assert_eq!(from_json(&doc), theirs, "{org}: our JSON vs Parsec's");
        assert_ordered(&doc);
        assert_eq!(from_database(&client, org).await, theirs, "{org}: oracle");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_removed_access_is_reported_where_parsec_crashes() {
    let db = TestDb::with_parsec_fixture("ha_removed").await;
    let client = db.client().await;
    let org = "WorkspaceHistoryOrgTemplate";
    let report = text("human-accesses", &db.url, org, &[]);
    // Alice owned the realm, lost her access, then was given it back as a reader.
    let alice = "\
Human Alicey McAliceFace <alice@example.com>
  User a11cec00-1000-0000-0000-000000000000 (Admin)
    2000-01-02T00:00:00Z: Created with profile Admin
    Realm f0000000000000000000000000000008
      2001-01-01T00:00:00Z: Got OWNER access
      2001-01-06T00:00:00Z: Access removed
      2001-01-30T00:00:00Z: Got READER access
";
    assert!(report.contains(alice), "{report}");
    let facts = from_text(&report);
    assert_eq!(facts, from_database(&client, org).await);
    let doc = json("human-accesses", &db.url, org, &[]);
    assert_eq!(from_json(&doc), facts);
    assert_ordered(&doc);
    let removal = &doc["humans"][0]["users"][0]["realms"][0]["role_changes"][1];
    assert_eq!(removal["role"], serde_json::Value::Null, "{doc}");
    assert_eq!(removal["timestamp"], "2001-01-06T00:00:00Z");
}
