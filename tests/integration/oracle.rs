//! What an export of a realm at T must contain, computed straight from PostgreSQL with
//! queries written independently of the tool's (the test's oracle).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use tokio_postgres::Client;
use uuid::Uuid;

pub struct Expected {
    pub vlobs: Vec<Vec<Value>>,
    pub blocks: Vec<Vec<Value>>,
    pub block_data: Vec<Vec<Value>>,
    pub common: Vec<(i64, Vec<u8>)>,
    pub sequester: Vec<(i64, Vec<u8>)>,
    pub realm: Vec<(i64, Vec<u8>)>,
    pub keys_bundles: Vec<Vec<Value>>,
    pub user_accesses: Vec<Vec<Value>>,
    pub sequester_accesses: Vec<Vec<Value>>,
    /// `info`'s totals (reference §2.3): bytes of the realm's rows stamped ≤ T.
    pub vlobs_total_bytes: i64,
    pub blocks_total_bytes: i64,
}

fn us(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn blob(u: Uuid) -> Value {
    Value::Blob(u.as_bytes().to_vec())
}

pub async fn expected(client: &Client, org: &str, realm: Uuid, t_us: i64) -> Expected {
    let t = DateTime::<Utc>::from_timestamp_micros(t_us).unwrap();
    let ids = client
        .query_one(
            "SELECT o._id, r._id FROM organization o JOIN realm r ON r.organization = o._id WHERE o.organization_id = $1 AND r.realm_id = $2",
            &[&org, &realm],
        )
        .await
        .unwrap();
    let (o, r): (i32, i32) = (ids.get(0), ids.get(1));

    let vlobs: Vec<Vec<Value>> = client
        .query(
            // Reference §2.5: every row up to the marker, the highest `_id` stamped ≤ T.
            "SELECT v._id, v.vlob_id, v.version, v.key_index, v.blob, d.device_id, v.created_on FROM vlob_atom v, device d \
             WHERE d._id = v.author AND v.realm = $1 \
             AND v._id <= (SELECT COALESCE(MAX(_id), 0) FROM vlob_atom WHERE realm = $1 AND created_on <= $2) \
             ORDER BY v._id",
            &[&r, &t],
        )
        .await
        .unwrap()
        .into_iter()
        .map(|row| {
            let b: Vec<u8> = row.get(4);
            vec![
                Value::Integer(row.get::<_, i32>(0).into()),
                blob(row.get(1)),
                Value::Integer(row.get::<_, i32>(2).into()),
                Value::Integer(row.get::<_, i32>(3).into()),
                Value::Integer(b.len() as i64),
                Value::Blob(b),
                blob(row.get(5)),
                Value::Integer(us(row.get(6))),
            ]
        })
        .collect();
    // README, "Consistency": blocks stamped up to 320 s after the newest exported version
    // (and at least T + 320 s), so that every block those versions reference is in.
    let newest = vlobs
        .iter()
        .map(|row| match row[7] {
            Value::Integer(t) => t,
            _ => unreachable!(),
        })
        .max()
        .unwrap_or(t_us)
        .max(t_us);
    let t_blocks = DateTime::<Utc>::from_timestamp_micros(newest).unwrap();
    let block_rows = client
        .query(
            "SELECT b._id, b.block_id, d.device_id, b.size, b.key_index, bd.data FROM block b \
             JOIN device d ON d._id = b.author \
             LEFT JOIN block_data bd ON bd.block_id = b.block_id AND bd.organization_id = $3 \
             WHERE b.realm = $1 AND b.created_on <= $2::timestamptz + interval '320 seconds' ORDER BY b._id",
            &[&r, &t_blocks, &org],
        )
        .await
        .unwrap();
    let blocks = block_rows
        .iter()
        .map(|row| {
            vec![
                Value::Integer(row.get::<_, i32>(0).into()),
                blob(row.get(1)),
                blob(row.get(2)),
                Value::Integer(row.get::<_, i32>(3).into()),
                Value::Integer(row.get::<_, i32>(4).into()),
            ]
        })
        .collect();
    let block_data = block_rows
        .iter()
        .map(|row| {
            let data: Option<Vec<u8>> = row.get(5);
            vec![
                Value::Integer(row.get::<_, i32>(0).into()),
                Value::Blob(data.expect("block data in PG")),
            ]
        })
        .collect();

    // Certificates with their timestamps, per family.
    let fam = |sql: &'static str, a: i32| async move {
        client
            .query(sql, &[&a, &t])
            .await
            .unwrap()
            .into_iter()
            .map(|row| (us(row.get::<_, DateTime<Utc>>(0)), row.get::<_, Vec<u8>>(1)))
            .collect::<Vec<_>>()
    };
    let mut common = fam("SELECT created_on, user_certificate FROM user_ WHERE organization = $1 AND created_on <= $2", o).await;
    common.extend(fam("SELECT created_on, device_certificate FROM device WHERE organization = $1 AND created_on <= $2", o).await);
    common.extend(fam("SELECT revoked_on, revoked_user_certificate FROM user_ WHERE organization = $1 AND revoked_on <= $2", o).await);
    common.extend(fam("SELECT p.certified_on, p.profile_certificate FROM profile p JOIN user_ u ON u._id = p.user_ WHERE u.organization = $1 AND p.certified_on <= $2", o).await);
    let mut sequester = fam("SELECT _bootstrapped_on, sequester_authority_certificate FROM organization WHERE _id = $1 AND sequester_authority_certificate IS NOT NULL AND _bootstrapped_on <= $2", o).await;
    sequester.extend(fam("SELECT created_on, service_certificate FROM sequester_service WHERE organization = $1 AND created_on <= $2", o).await);
    sequester.extend(fam("SELECT revoked_on, sequester_revoked_service_certificate FROM sequester_service WHERE organization = $1 AND revoked_on <= $2", o).await);
    let mut realm_certs = fam("SELECT certified_on, certificate FROM realm_user_role WHERE realm = $1 AND certified_on <= $2", r).await;
    realm_certs.extend(fam("SELECT certified_on, realm_key_rotation_certificate FROM realm_keys_bundle WHERE realm = $1 AND certified_on <= $2", r).await);
    realm_certs.extend(fam("SELECT certified_on, realm_name_certificate FROM realm_name WHERE realm = $1 AND certified_on <= $2", r).await);
    realm_certs.extend(fam("SELECT certified_on, certificate FROM realm_archiving WHERE realm = $1 AND certified_on <= $2", r).await);

    let keys_bundles = client
        .query("SELECT key_index, keys_bundle FROM realm_keys_bundle WHERE realm = $1 AND certified_on <= $2 ORDER BY key_index", &[&r, &t])
        .await
        .unwrap()
        .into_iter()
        .map(|row| vec![Value::Integer(row.get::<_, i32>(0).into()), Value::Blob(row.get(1))])
        .collect();
    let access_rows = |sql: &'static str| async move {
        let mut v: Vec<Vec<Value>> = client
            .query(sql, &[&r, &t])
            .await
            .unwrap()
            .into_iter()
            .map(|row| {
                vec![
                    blob(row.get(0)),
                    Value::Integer(row.get::<_, i32>(1).into()),
                    Value::Blob(row.get(2)),
                ]
            })
            .collect();
        v.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
        v
    };
    let user_accesses = access_rows(
        "SELECT u.user_id, kb.key_index, a.access FROM realm_keys_bundle_access a, realm_keys_bundle kb, user_ u \
         WHERE kb._id = a.realm_keys_bundle AND u._id = a.user_ AND a.realm = $1 \
         AND COALESCE((SELECT certified_on FROM realm_user_role WHERE _id = a.from_sharing), kb.certified_on) <= $2",
    )
    .await;
    let sequester_accesses = access_rows(
        "SELECT s.service_id, kb.key_index, a.access FROM realm_sequester_keys_bundle_access a, realm_keys_bundle kb, sequester_service s \
         WHERE kb._id = a.realm_keys_bundle AND s._id = a.sequester_service AND a.realm = $1 AND kb.certified_on <= $2",
    )
    .await;
    let total = |table: &'static str| async move {
        client
            .query_one(
                &format!("SELECT COALESCE(SUM(size), 0)::int8 FROM {table} WHERE realm = $1 AND created_on <= $2"),
                &[&r, &t],
            )
            .await
            .unwrap()
            .get::<_, i64>(0)
    };
    let vlobs_total_bytes = total("vlob_atom").await;
    let blocks_total_bytes = total("block").await;
    Expected {
        vlobs_total_bytes,
        blocks_total_bytes,
        vlobs,
        blocks,
        block_data,
        common,
        sequester,
        realm: realm_certs,
        keys_bundles,
        user_accesses,
        sequester_accesses,
    }
}

/// Certificates of a table in the export, checked against the oracle: the same multiset,
/// `_id`s 0..n without holes, and in non-decreasing timestamp order.
pub fn assert_certificates(exported: &[Vec<Value>], expected: &[(i64, Vec<u8>)], family: &str) {
    let mut by_content: BTreeMap<Vec<u8>, i64> = BTreeMap::new();
    for (ts, cert) in expected {
        by_content.insert(cert.clone(), *ts);
    }
    assert_eq!(
        exported.len(),
        expected.len(),
        "{family}: certificate count"
    );
    let mut last = i64::MIN;
    for (i, row) in exported.iter().enumerate() {
        assert_eq!(
            row[0],
            Value::Integer(i as i64),
            "{family}: _id must be 0..n"
        );
        let Value::Blob(cert) = &row[1] else {
            panic!("{family}: certificate not a blob")
        };
        let ts = *by_content
            .get(cert)
            .unwrap_or_else(|| panic!("{family}: unexpected certificate #{i}"));
        assert!(
            ts >= last,
            "{family}: certificate #{i} out of timestamp order"
        );
        last = ts;
    }
}

pub fn sorted(mut rows: Vec<Vec<Value>>) -> Vec<Vec<Value>> {
    rows.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    rows
}
