//! `realms`: sizes against independent sums (the generator's own, SQL, Parsec's exports),
//! owners, statuses with and without the `realm.status` column, and the JSON shape.

use std::collections::{BTreeMap, BTreeSet};

use indicatif::HumanBytes;
use serde_json::Value;
use tokio_postgres::Client;
use uuid::Uuid;

use crate::export_generated::generated_db;
use crate::harness::{fixtures_dir, TestDb};
use crate::reports_common::{json, text};
use crate::rows::scalar;

const CMD: &str = "realms";

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

fn realm<'a>(doc: &'a Value, id: &Uuid) -> &'a Value {
    let id = id.simple().to_string();
    doc["realms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["realm_id"] == id.as_str())
        .unwrap_or_else(|| panic!("realm {id} missing from {doc}"))
}

fn size(v: &Value) -> (i64, i64) {
    (v["count"].as_i64().unwrap(), v["bytes"].as_i64().unwrap())
}

/// Users whose latest role certificate in the realm is OWNER, replayed in time order.
async fn owners_from_roles(client: &Client, org: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut last: BTreeMap<(String, String), Option<String>> = BTreeMap::new();
    for row in client
        .query(
            "SELECT re.realm_id, u.user_id, r.role::text FROM realm_user_role r \
             JOIN realm re ON re._id = r.realm JOIN user_ u ON u._id = r.user_ \
             JOIN organization o ON o._id = re.organization WHERE o.organization_id = $1 \
             ORDER BY r.certified_on, r._id",
            &[&org],
        )
        .await
        .unwrap()
    {
        let realm: Uuid = row.get(0);
        let user: Uuid = row.get(1);
        last.insert(
            (realm.simple().to_string(), user.hyphenated().to_string()),
            row.get(2),
        );
    }
    let mut owners: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for ((realm, user), role) in last {
        let entry = owners.entry(realm).or_default();
        if role.as_deref() == Some("OWNER") {
            entry.insert(user);
        }
    }
    owners
}

fn owners_in(doc: &Value) -> BTreeMap<String, BTreeSet<String>> {
    doc["realms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let owners = r["owners"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["user_id"].as_str().unwrap().to_owned())
                .collect();
            (r["realm_id"].as_str().unwrap().to_owned(), owners)
        })
        .collect()
}

fn statuses(doc: &Value) -> Vec<&str> {
    doc["realms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn sizes_owners_and_shape_on_a_generated_organization() {
    let (db, org) = generated_db("realms_gen").await;
    let client = db.client().await;
    let doc = json(CMD, &db.url, "GenOrg", &[]);
    assert_eq!(
        keys(&doc),
        set(&["organization_id", "as_of", "realms", "total"])
    );
    assert_eq!(doc["organization_id"], "GenOrg");
    chrono::DateTime::parse_from_rfc3339(doc["as_of"].as_str().unwrap()).unwrap();

    // Every realm of GenOrg (none of OtherOrg), in creation order.
    let ids: Vec<String> = doc["realms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["realm_id"].as_str().unwrap().to_owned())
        .collect();
    let generated: Vec<String> = org
        .realms
        .iter()
        .map(|r| r.realm_id.simple().to_string())
        .collect();
    assert_eq!(ids, generated);

    let mut total = ((0, 0), (0, 0));
    for generated in &org.realms {
        let r = realm(&doc, &generated.realm_id);
        assert_eq!(
            keys(r),
            set(&[
                "realm_id",
                "created_on",
                "status",
                "archiving",
                "owners",
                "vlobs",
                "blocks"
            ])
        );
        assert_eq!(keys(&r["vlobs"]), set(&["count", "bytes"]));
        assert_eq!(
            r["created_on"],
            parsec_sequester::ids::format_timestamp(generated.created_on.timestamp_micros())
        );
        // The generator's own sums.
        let vlobs = (generated.vlob_versions as i64, generated.vlob_bytes as i64);
        let blocks = (generated.blocks as i64, generated.block_bytes as i64);
        assert_eq!(size(&r["vlobs"]), vlobs);
        assert_eq!(size(&r["blocks"]), blocks);
        // And SQL's, over the rows and the stored block data.
        let sql = client
            .query_one(
                "SELECT (SELECT COUNT(*) FROM vlob_atom WHERE realm = $1), \
                        (SELECT SUM(length(blob))::int8 FROM vlob_atom WHERE realm = $1), \
                        (SELECT COUNT(*) FROM block WHERE realm = $1), \
                        (SELECT SUM(length(d.data))::int8 FROM block b JOIN block_data d \
                            ON d.block_id = b.block_id AND d.organization_id = 'GenOrg' WHERE b.realm = $1)",
                &[&generated.internal_id],
            )
            .await
            .unwrap();
        assert_eq!(vlobs, (sql.get::<_, i64>(0), sql.get::<_, i64>(1)));
        assert_eq!(blocks, (sql.get::<_, i64>(2), sql.get::<_, i64>(3)));
        assert!(blocks.1 > 0);
        total.0 .0 += vlobs.0;
        total.0 .1 += vlobs.1;
        total.1 .0 += blocks.0;
        total.1 .1 += blocks.1;

        let expected_status = if generated.archived {
            "archived"
        } else {
            "active"
        };
        assert_eq!(r["status"], expected_status);
        if generated.archived {
            assert_eq!(
                keys(&r["archiving"]),
                set(&["configuration", "certified_on", "deletion_date"])
            );
            assert_eq!(r["archiving"]["configuration"], "ARCHIVED");
        } else {
            assert_eq!(r["archiving"], Value::Null);
        }
        for owner in r["owners"].as_array().unwrap() {
            assert_eq!(
                keys(owner),
                set(&["user_id", "label", "email", "revoked_on"])
            );
        }
    }
    assert_eq!(doc["total"]["realms"], org.realms.len());
    assert_eq!(
        (size(&doc["total"]["vlobs"]), size(&doc["total"]["blocks"])),
        total
    );
    assert_eq!(owners_in(&doc), owners_from_roles(&client, "GenOrg").await);
    assert!(owners_in(&doc).values().all(|o| !o.is_empty()));

    // The text report says the same, in human units, and what gets downloaded.
    let report = text(CMD, &db.url, "GenOrg", &[]);
    assert!(
        report.starts_with("Found 3 realm(s) in organization GenOrg\nSizes are those of now ("),
        "{report}"
    );
    for generated in &org.realms {
        let id = generated.realm_id.simple().to_string();
        let block = report
            .split("\nRealm ")
            .find(|b| b.starts_with(&id))
            .expect("realm block");
        let download = format!(
            "{} blocks, {} of block data to download",
            generated.blocks,
            HumanBytes(generated.block_bytes)
        );
        assert!(block.contains(&download), "{block}\nlacks {download}");
        assert!(block.contains(&format!(
            "{} vlob versions, {}",
            generated.vlob_versions,
            HumanBytes(generated.vlob_bytes)
        )));
        let owner_line = block
            .lines()
            .find(|l| l.trim_start().starts_with("Owners"))
            .unwrap();
        assert!(
            owner_line.contains(" <") && owner_line.contains("@example.com>"),
            "{owner_line}"
        );
    }
    assert!(report.contains("Status      archived (since "), "{report}");
    assert!(report.contains(&format!(
        "\nTotal: 3 realm(s); {} vlob versions, {}; {} blocks, {} of block data to download\n",
        total.0 .0,
        HumanBytes(total.0 .1 as u64),
        total.1 .0,
        HumanBytes(total.1 .1 as u64)
    )));
}

#[tokio::test(flavor = "multi_thread")]
async fn statuses_with_and_without_the_status_column() {
    let (db, org) = generated_db("realms_status").await;
    let client = db.client().await;
    let [first, second, third] = &org.realms[..] else {
        panic!("three realms expected");
    };
    assert!(third.archived);
    client
        .execute(
            "INSERT INTO realm_archiving (realm, configuration, deletion_date, certificate, certified_by, certified_on) \
             SELECT $1, 'DELETION_PLANNED', '2030-01-01T00:00:00Z', '\\x00'::bytea, certified_by, certified_on + interval '1 hour' \
             FROM realm_user_role WHERE realm = $1 ORDER BY certified_on DESC LIMIT 1",
            &[&first.internal_id],
        )
        .await
        .unwrap();
    client
        .execute(
            "UPDATE realm SET status = 'DELETED' WHERE _id = $1",
            &[&second.internal_id],
        )
        .await
        .unwrap();
    let doc = json(CMD, &db.url, "GenOrg", &[]);
    assert_eq!(statuses(&doc), ["deletion_planned", "deleted", "archived"]);
    assert_eq!(
        realm(&doc, &first.realm_id)["archiving"]["deletion_date"],
        "2030-01-01T00:00:00Z"
    );
    let report = text(CMD, &db.url, "GenOrg", &[]);
    assert!(
        report.contains("Status      deletion planned for 2030-01-01T00:00:00Z (since "),
        "{report}"
    );
    assert!(report.contains("Status      deleted: its data was purged, it cannot be exported"));

    // A server older than migration 0022 has no status column: no realm can be deleted, the
    // archiving certificates still tell the rest.
    client
        .batch_execute("ALTER TABLE realm DROP COLUMN status; DELETE FROM migration WHERE _id > 21")
        .await
        .unwrap();
    let doc = json(CMD, &db.url, "GenOrg", &[]);
    assert_eq!(statuses(&doc), ["deletion_planned", "active", "archived"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn sizes_match_parsecs_exports_of_its_own_database() {
    let db = TestDb::with_parsec_fixture("realms_fixture").await;
    let client = db.client().await;
    let expected = fixtures_dir().join("parsec-v3-db/expected");
    for org in [
        "CoolorgOrgTemplate",
        "SequesteredOrgTemplate",
        "WorkspaceHistoryOrgTemplate",
    ] {
        let doc = json(CMD, &db.url, org, &[]);
        let realms = doc["realms"].as_array().unwrap();
        assert!(!realms.is_empty());
        for r in realms {
            let id = r["realm_id"].as_str().unwrap();
            // Parsec exported every realm at 2010-01-01, after all of the fixtures' data.
            let file = expected.join(format!(
                "parsec-export-{org}-realm-{id}-20100101T000000Z.sqlite"
            ));
            assert_eq!(
                size(&r["vlobs"]),
                (
                    scalar(&file, "SELECT COUNT(*) FROM vlob_atom"),
                    scalar(&file, "SELECT vlobs_total_bytes FROM info")
                ),
                "{org} {id}"
            );
            assert_eq!(
                size(&r["blocks"]),
                (
                    scalar(&file, "SELECT COUNT(*) FROM block"),
                    scalar(&file, "SELECT blocks_total_bytes FROM info")
                ),
                "{org} {id}"
            );
            assert_eq!(r["status"], "active");
        }
        assert_eq!(owners_in(&doc), owners_from_roles(&client, org).await);
    }
    // Alice lost her ownership of the workspace-history realm: only Bob owns it now.
    let doc = json(CMD, &db.url, "WorkspaceHistoryOrgTemplate", &[]);
    let owners = &doc["realms"][0]["owners"];
    assert_eq!(owners.as_array().unwrap().len(), 1, "{doc}");
    assert_eq!(owners[0]["user_id"], "808c0010-0000-0000-0000-000000000000");
    assert_eq!(owners[0]["label"], "Boby McBobFace");
    assert_eq!(owners[0]["email"], "bob@example.com");
}
