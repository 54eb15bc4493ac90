//! `testbed populate` signs its certificates for real: a generated sequestered organization's
//! export verifies with its signatures checked, and a signature byte flipped in PostgreSQL
//! before the export is named by `verify`.

use std::path::Path;

use rusqlite::Connection;
use uuid::Uuid;

use crate::export_generated::generated_db;
use crate::harness::{export_cmd, run, verify_cmd, verify_json};
use crate::verify_file::messages;

const TABLES: [&str; 3] = [
    "common_certificate",
    "sequester_certificate",
    "realm_certificate",
];

fn export(db_url: &str, realm: Uuid, file: &Path) {
    run(&mut export_cmd(
        db_url,
        "GenOrg",
        &realm.simple().to_string(),
        file,
        &[],
    ))
    .ok();
}

fn count(conn: &Connection, table: &str) -> i64 {
    conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_generated_sequestered_export_verifies_with_signatures() {
    let (db, org) = generated_db("signed_ok").await;
    let dir = tempfile::tempdir().unwrap();
    for realm in &org.realms {
        let file = dir
            .path()
            .join(format!("{}.sqlite", realm.realm_id.simple()));
        export(&db.url, realm.realm_id, &file);
        let conn = Connection::open(&file).unwrap();
        // Authority, two services, one revocation: root-signed and RSA-signed both present.
        assert_eq!(count(&conn, "sequester_certificate"), 4);
        let certificates: i64 = TABLES.iter().map(|t| count(&conn, t)).sum();
        drop(conn);

        let (r, json) = verify_json(&file, &[]);
        assert_eq!(r.code, 0, "{}\n{json:#}", r.all());
        assert_eq!(json["problems"].as_array().unwrap().len(), 0, "{json:#}");
        assert_eq!(json["signatures_verified"], certificates, "{json:#}");
        assert!(!json["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["check"] == "signatures_not_checked"));
        let r = run(&mut verify_cmd(&file, &[]));
        assert!(
            r.stdout.contains(&format!(
                "Signatures          {certificates} certificates verified"
            )),
            "{}",
            r.stdout
        );
    }
}

/// The `_id` of the row of `table` in the export holding exactly `certificate`.
fn exported_id(file: &Path, table: &str, certificate: &[u8]) -> i64 {
    Connection::open(file)
        .unwrap()
        .query_row(
            &format!("SELECT _id FROM {table} WHERE certificate = ?1"),
            [certificate],
            |r| r.get(0),
        )
        .unwrap_or_else(|e| panic!("the tampered certificate is not in {table}: {e}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signature_flipped_in_postgresql_is_named_by_verify() {
    let (db, org) = generated_db("signed_tampered").await;
    let client = db.client().await;
    let realm = org.realms[0].realm_id;
    // The realm's last role certificate (Ed25519, by a device) and the first sequester
    // service certificate (RSA-PSS, by the authority).
    let role = client
        .query_one(
            "SELECT u._id, u.certificate FROM realm_user_role u JOIN realm r ON r._id = u.realm \
             WHERE r.realm_id = $1 ORDER BY u._id DESC LIMIT 1",
            &[&realm],
        )
        .await
        .unwrap();
    let (role_row, mut role_cert): (i32, Vec<u8>) = (role.get(0), role.get(1));
    role_cert[5] ^= 0x01;
    client
        .execute(
            "UPDATE realm_user_role SET certificate = $2 WHERE _id = $1",
            &[&role_row, &role_cert],
        )
        .await
        .unwrap();
    let service = client
        .query_one(
            "SELECT s._id, s.service_certificate FROM sequester_service s \
             JOIN organization o ON o._id = s.organization \
             WHERE o.organization_id = 'GenOrg' ORDER BY s._id LIMIT 1",
            &[],
        )
        .await
        .unwrap();
    let (service_row, mut service_cert): (i32, Vec<u8>) = (service.get(0), service.get(1));
    service_cert[b"RSASSA-PSS-SHA256:".len() + 10] ^= 0x01;
    client
        .execute(
            "UPDATE sequester_service SET service_certificate = $2 WHERE _id = $1",
            &[&service_row, &service_cert],
        )
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tampered.sqlite");
    export(&db.url, realm, &file);
    let (r, json) = verify_json(&file, &[]);
    assert_eq!(r.code, 50, "{}", r.all());
    let found = messages(&json, "certificate_signature");
    for (table, certificate, kind) in [
        ("realm_certificate", &role_cert, "realm_role_certificate"),
        (
            "sequester_certificate",
            &service_cert,
            "sequester_service_certificate",
        ),
    ] {
        let id = exported_id(&file, table, certificate);
        assert!(
            found
                .iter()
                .any(|m| m.contains(&format!("`{table}`"))
                    && m.contains(&format!("_id {id} ({kind}"))),
            "{table} _id {id}: {found:#?}"
        );
    }
    // Nothing else is reported bad: the other certificates' signatures hold.
    assert_eq!(found.len(), 2, "{found:#?}");
}
