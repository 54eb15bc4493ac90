// TEMPORARY scratch verification of src/testbed (to be deleted).
use std::time::Instant;

use anyhow::{Context, Result};
use parsec_sequester::testbed::{self, OrgSpec};
use tokio_postgres::{Client, NoTls};

async fn connect(db: &str) -> Result<Client> {
    let (client, connection) =
        tokio_postgres::connect(&format!("host=127.0.0.1 user=postgres dbname={db}"), NoTls)
            .await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("connection error: {e}");
        }
    });
    Ok(client)
}

const CHECKS: &[(&str, &str)] = &[
    ("vlob versions contiguous from 1",
     "SELECT count(*) FROM (SELECT realm, vlob_id FROM vlob_atom WHERE realm = ANY($1) GROUP BY 1,2
        HAVING min(version) <> 1 OR max(version) <> count(*)) x"),
    ("vlob size = length(blob)",
     "SELECT count(*) FROM vlob_atom WHERE realm = ANY($1) AND size <> length(blob)"),
    ("vlob size in 200..4096",
     "SELECT count(*) FROM vlob_atom WHERE realm = ANY($1) AND (size < 200 OR size > 4096)"),
    ("realm manifest v1 exists and is the realm's first vlob",
     "SELECT count(*) FROM realm r WHERE r._id = ANY($1) AND NOT EXISTS (
        SELECT 1 FROM vlob_atom v WHERE v.realm = r._id AND v.vlob_id = r.realm_id AND v.version = 1
        AND v._id = (SELECT min(_id) FROM vlob_atom WHERE realm = r._id))"),
    ("vlob created_on strictly increasing with _id per realm",
     "SELECT count(*) FROM (SELECT created_on, lag(created_on) OVER (PARTITION BY realm ORDER BY _id) prev
        FROM vlob_atom WHERE realm = ANY($1)) x WHERE prev >= created_on"),
    ("vlob key_index = realm key index at that time",
     "SELECT count(*) FROM vlob_atom v WHERE realm = ANY($1) AND key_index <> (
        SELECT max(key_index) FROM realm_keys_bundle k WHERE k.realm = v.realm AND k.certified_on < v.created_on)"),
    ("block key_index = realm key index at that time",
     "SELECT count(*) FROM block v WHERE realm = ANY($1) AND key_index <> (
        SELECT max(key_index) FROM realm_keys_bundle k WHERE k.realm = v.realm AND k.certified_on < v.created_on)"),
    ("vlob after every earlier realm certificate (none in same µs)",
     "SELECT count(*) FROM vlob_atom v WHERE realm = ANY($1) AND EXISTS (
        SELECT 1 FROM realm_user_role r WHERE r.realm = v.realm AND r.certified_on = v.created_on)"),
    ("vlob author had write role and was not revoked",
     "SELECT count(*) FROM vlob_atom v JOIN device d ON d._id = v.author JOIN user_ u ON u._id = d.user_
      WHERE v.realm = ANY($1) AND (u.revoked_on <= v.created_on OR d.created_on >= v.created_on OR
        COALESCE((SELECT role FROM realm_user_role r WHERE r.realm = v.realm AND r.user_ = u._id
                  AND r.certified_on < v.created_on ORDER BY certified_on DESC LIMIT 1)::text, 'NONE')
        NOT IN ('OWNER', 'MANAGER', 'CONTRIBUTOR'))"),
    ("block author had write role and was not revoked",
     "SELECT count(*) FROM block v JOIN device d ON d._id = v.author JOIN user_ u ON u._id = d.user_
      WHERE v.realm = ANY($1) AND (u.revoked_on <= v.created_on OR d.created_on >= v.created_on OR
        COALESCE((SELECT role FROM realm_user_role r WHERE r.realm = v.realm AND r.user_ = u._id
                  AND r.certified_on < v.created_on ORDER BY certified_on DESC LIMIT 1)::text, 'NONE')
        NOT IN ('OWNER', 'MANAGER', 'CONTRIBUTOR'))"),
    ("realm_vlob_update: one per atom, index contiguous",
     "SELECT count(*) FROM (SELECT realm FROM realm_vlob_update u WHERE realm = ANY($1) GROUP BY realm
        HAVING min(index) <> 1 OR max(index) <> count(*) OR count(*) <> (SELECT count(*) FROM vlob_atom a WHERE a.realm = u.realm)) x"),
    ("realm_vlob_update index follows atom _id order",
     "SELECT count(*) FROM (SELECT index, row_number() OVER (PARTITION BY u.realm ORDER BY a._id) rn
        FROM realm_vlob_update u JOIN vlob_atom a ON a._id = u.vlob_atom WHERE u.realm = ANY($1)) x WHERE index <> rn"),
    ("every realm has a removal row",
     "SELECT count(*) FROM realm r WHERE _id = ANY($1) AND NOT EXISTS (SELECT 1 FROM realm_user_role WHERE realm = r._id AND role IS NULL)"),
    ("every removal is followed by a re-grant with a from_sharing access",
     "SELECT count(*) FROM realm_user_role x WHERE realm = ANY($1) AND role IS NULL AND NOT EXISTS (
        SELECT 1 FROM realm_user_role y JOIN realm_keys_bundle_access a ON a.from_sharing = y._id
        WHERE y.realm = x.realm AND y.user_ = x.user_ AND y.role IS NOT NULL AND y.certified_on > x.certified_on)"),
    ("keys bundles contiguous, realm.key_index = max",
     "SELECT count(*) FROM realm r WHERE _id = ANY($1) AND (r.key_index <> (SELECT count(*) FROM realm_keys_bundle WHERE realm = r._id)
        OR r.key_index <> (SELECT max(key_index) FROM realm_keys_bundle WHERE realm = r._id))"),
    ("rotation accesses = users whose last role (before rotation) is not a removal",
     "SELECT count(*) FROM realm_keys_bundle k WHERE realm = ANY($1) AND
        ARRAY(SELECT user_ FROM realm_keys_bundle_access a WHERE a.realm_keys_bundle = k._id AND from_sharing IS NULL ORDER BY 1)
        <> ARRAY(SELECT user_ FROM (SELECT DISTINCT ON (user_) user_, role FROM realm_user_role r WHERE r.realm = k.realm
                AND r.certified_on < k.certified_on ORDER BY user_, certified_on DESC) x WHERE role IS NOT NULL ORDER BY 1)"),
    ("every grant (except creation) has one sharing access to the latest bundle",
     "SELECT count(*) FROM realm_user_role r WHERE realm = ANY($1) AND role IS NOT NULL
        AND r.certified_on <> (SELECT created_on FROM realm WHERE _id = r.realm) AND
        (SELECT count(*) FROM realm_keys_bundle_access a JOIN realm_keys_bundle k ON k._id = a.realm_keys_bundle
         WHERE a.from_sharing = r._id AND a.user_ = r.user_ AND k.key_index =
           (SELECT max(key_index) FROM realm_keys_bundle k2 WHERE k2.realm = r.realm AND k2.certified_on < r.certified_on)) <> 1"),
    ("creation role is OWNER at realm.created_on, no sharing access",
     "SELECT count(*) FROM realm x WHERE _id = ANY($1) AND NOT EXISTS (SELECT 1 FROM realm_user_role r WHERE r.realm = x._id
        AND r.certified_on = x.created_on AND r.role = 'OWNER' AND NOT EXISTS (SELECT 1 FROM realm_keys_bundle_access a WHERE a.from_sharing = r._id))"),
    ("sequester accesses = services created before and not revoked before the rotation",
     "SELECT count(*) FROM realm_keys_bundle k JOIN realm r ON r._id = k.realm WHERE k.realm = ANY($1) AND
        ARRAY(SELECT sequester_service FROM realm_sequester_keys_bundle_access a WHERE a.realm_keys_bundle = k._id AND a.realm = k.realm ORDER BY 1)
        <> ARRAY(SELECT _id FROM sequester_service s WHERE s.organization = r.organization AND s.created_on < k.certified_on
                 AND (s.revoked_on IS NULL OR s.revoked_on > k.certified_on) ORDER BY 1)"),
    ("realm certificates distinct timestamps per realm",
     "SELECT count(*) FROM (SELECT realm, ts FROM (
        SELECT realm, certified_on ts FROM realm_user_role UNION ALL SELECT realm, certified_on FROM realm_keys_bundle
        UNION ALL SELECT realm, certified_on FROM realm_name UNION ALL SELECT realm, certified_on FROM realm_archiving) c
        WHERE realm = ANY($1) GROUP BY 1,2 HAVING count(*) > 1) x"),
    ("common certificates distinct timestamps (except user + first device)",
     "SELECT count(*) FROM (SELECT org, ts FROM (
        SELECT organization org, created_on ts FROM user_ UNION ALL
        SELECT d.organization, d.created_on FROM device d WHERE d.created_on <> (SELECT created_on FROM user_ WHERE _id = d.user_) UNION ALL
        SELECT organization, revoked_on FROM user_ WHERE revoked_on IS NOT NULL UNION ALL
        SELECT u.organization, p.certified_on FROM profile p JOIN user_ u ON u._id = p.user_) c
        WHERE org IN (SELECT organization FROM realm WHERE _id = ANY($1)) GROUP BY 1,2 HAVING count(*) > 1) x"),
    ("each user has exactly one device created with it",
     "SELECT count(*) FROM user_ u WHERE organization IN (SELECT organization FROM realm WHERE _id = ANY($1))
        AND (SELECT count(*) FROM device d WHERE d.user_ = u._id AND d.created_on = u.created_on) <> 1"),
    ("device certifier chain: only bootstrap device root-signed",
     "SELECT count(*) FROM organization o WHERE _id IN (SELECT organization FROM realm WHERE _id = ANY($1)) AND
        (SELECT count(*) FROM device WHERE organization = o._id AND device_certifier IS NULL) <> 1
        OR (SELECT count(*) FROM user_ WHERE organization = o._id AND user_certifier IS NULL) <> 1"),
    ("bootstrap = first user created_on",
     "SELECT count(*) FROM organization o WHERE _id IN (SELECT organization FROM realm WHERE _id = ANY($1)) AND
        _bootstrapped_on <> (SELECT min(created_on) FROM user_ WHERE organization = o._id)"),
    ("current_profile consistent",
     "SELECT count(*) FROM user_ u WHERE organization IN (SELECT organization FROM realm WHERE _id = ANY($1)) AND current_profile <>
        COALESCE((SELECT profile FROM profile p WHERE p.user_ = u._id ORDER BY certified_on DESC LIMIT 1), initial_profile)"),
    ("at most one non-revoked user per human",
     "SELECT count(*) FROM (SELECT human FROM user_ WHERE revoked_on IS NULL AND organization IN (SELECT organization FROM realm WHERE _id = ANY($1))
        GROUP BY human HAVING count(*) > 1) x"),
    ("each org: exactly one user without any realm role",
     "SELECT count(*) FROM organization o WHERE _id IN (SELECT organization FROM realm WHERE _id = ANY($1)) AND
        (SELECT count(*) FROM user_ u WHERE organization = o._id AND NOT EXISTS (SELECT 1 FROM realm_user_role r WHERE r.user_ = u._id)) <> 1"),
    ("each org: one revoked user whose human has a newer user with realm roles",
     "SELECT count(*) FROM organization o WHERE _id IN (SELECT organization FROM realm WHERE _id = ANY($1)) AND
        (SELECT count(*) FROM user_ u WHERE organization = o._id AND revoked_on IS NOT NULL) <> 1"),
    ("each org: one user with 2 profile rows",
     "SELECT count(*) FROM organization o WHERE _id IN (SELECT organization FROM realm WHERE _id = ANY($1)) AND
        (SELECT count(*) FROM profile p JOIN user_ u ON u._id = p.user_ WHERE u.organization = o._id) <> 2"),
    ("archived realm: status and no later vlob/block",
     "SELECT count(*) FROM realm_archiving a JOIN realm r ON r._id = a.realm WHERE a.realm = ANY($1) AND (r.status <> 'ARCHIVED_OR_DELETION_PLANNED'
        OR EXISTS (SELECT 1 FROM vlob_atom v WHERE v.realm = a.realm AND v.created_on >= a.certified_on)
        OR EXISTS (SELECT 1 FROM block v WHERE v.realm = a.realm AND v.created_on >= a.certified_on))"),
    ("exactly one archived realm per org",
     "SELECT count(*) FROM organization o WHERE _id IN (SELECT organization FROM realm WHERE _id = ANY($1)) AND
        (SELECT count(*) FROM realm_archiving a JOIN realm r ON r._id = a.realm WHERE r.organization = o._id) <> 1"),
    ("every block has block_data of its org with same size (stored orgs)",
     "SELECT count(*) FROM block b JOIN realm r ON r._id = b.realm JOIN organization o ON o._id = r.organization
      LEFT JOIN block_data d ON d.organization_id = o.organization_id AND d.block_id = b.block_id
      WHERE b.realm = ANY($1) AND o.organization_id NOT LIKE 'NoData%' AND (d._id IS NULL OR length(d.data) <> b.size)"),
    ("block sizes in range",
     "SELECT count(*) FROM block WHERE realm = ANY($1) AND (size < 1024 OR size > 524288)"),
    ("block created_on strictly increasing with _id per realm",
     "SELECT count(*) FROM (SELECT created_on, lag(created_on) OVER (PARTITION BY realm ORDER BY _id) prev
        FROM block WHERE realm = ANY($1)) x WHERE prev >= created_on"),
    ("topics match latest certificates",
     "SELECT count(*) FROM realm r WHERE _id = ANY($1) AND (SELECT last_timestamp FROM realm_topic t WHERE t.realm = r._id) <>
        (SELECT max(ts) FROM (SELECT certified_on ts FROM realm_user_role WHERE realm = r._id UNION ALL
         SELECT certified_on FROM realm_keys_bundle WHERE realm = r._id UNION ALL SELECT certified_on FROM realm_name WHERE realm = r._id
         UNION ALL SELECT certified_on FROM realm_archiving WHERE realm = r._id) c)"),
    ("certificates start with 64 bytes + 0x00 + zstd magic",
     "SELECT count(*) FROM (SELECT certificate c FROM realm_user_role WHERE realm = ANY($1) UNION ALL
        SELECT realm_key_rotation_certificate FROM realm_keys_bundle WHERE realm = ANY($1) UNION ALL
        SELECT realm_name_certificate FROM realm_name WHERE realm = ANY($1)) x
        WHERE substring(c from 65 for 5) <> '\\x0028b52ffd'::bytea"),
];

async fn run_checks(client: &Client, realm_ids: &[i32]) -> Result<bool> {
    let mut ok = true;
    for (name, sql) in CHECKS {
        let violations: i64 = client
            .query_one(*sql, &[&realm_ids])
            .await
            .with_context(|| name.to_string())?
            .get(0);
        if violations != 0 {
            ok = false;
        }
        println!(
            "  [{}] {name}: {violations}",
            if violations == 0 { "ok" } else { "FAIL" }
        );
    }
    Ok(ok)
}

#[tokio::main]
async fn main() -> Result<()> {
    let db = format!("tb_scratch_{}", std::process::id());
    let admin = connect("postgres").await?;
    admin
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .await?;
    let result = run(&db).await;
    admin
        .batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
        .await?;
    println!("dropped {db}");
    result
}

async fn run(db: &str) -> Result<()> {
    let client = connect(db).await?;
    if std::env::var("LARGE").is_ok() {
        testbed::create_schema(&client).await?;
        let spec = OrgSpec::large("LargeOrg");
        let t = Instant::now();
        let mut seen = 0u64;
        let org = testbed::populate_with_sink(&client, &spec, &mut |_, data| {
            seen += data.len() as u64;
            Ok(())
        })
        .await?;
        println!(
            "large: {:?} sink saw {:.2} GiB; realms {:?}",
            t.elapsed(),
            seen as f64 / (1u64 << 30) as f64,
            org.realms
                .iter()
                .map(|r| (r.vlob_versions, r.blocks, r.block_bytes))
                .collect::<Vec<_>>()
        );
        let row = client.query_one("SELECT pg_size_pretty(pg_database_size(current_database())), (SELECT count(*) FROM block_data), (SELECT count(*) FROM vlob_atom)", &[]).await?;
        println!(
            "db size {} block_data {} vlob_atom {}",
            row.get::<_, String>(0),
            row.get::<_, i64>(1),
            row.get::<_, i64>(2)
        );
        let ids: Vec<i32> = org.realms.iter().map(|r| r.internal_id).collect();
        let t = Instant::now();
        let ok = run_checks(&client, &ids).await?;
        println!("checks {:?} ALL OK: {ok}", t.elapsed());
        return Ok(());
    }
    let t = Instant::now();
    testbed::create_schema(&client).await?;
    let dump = std::fs::read_to_string("/work/shared/fixtures/parsec-v3-db/testbed-data.sql")?;
    testbed::load_sql_dump(&client, &dump).await?;
    println!("schema + dump: {:?}", t.elapsed());
    let row = client.query_one("SELECT current_setting('search_path'), current_setting('session_replication_role'), (SELECT count(*) FROM migration), (SELECT count(*) FROM vlob_atom), (SELECT max(name) FROM migration)", &[]).await?;
    println!(
        "after dump: search_path={:?} srr={:?} migrations={} vlobs={}",
        row.get::<_, String>(0),
        row.get::<_, String>(1),
        row.get::<_, i64>(2),
        row.get::<_, i64>(3)
    );

    let mut all_realms = Vec::new();
    let t = Instant::now();
    let a = testbed::populate(&client, &OrgSpec::small("SmallOrg")).await?;
    println!(
        "small plain: {:?} end={} realms={:?}",
        t.elapsed(),
        a.end,
        a.realms
            .iter()
            .map(|r| (r.vlob_versions, r.blocks, r.key_index, r.archived))
            .collect::<Vec<_>>()
    );
    let mut spec = OrgSpec::small("SmallSequestered");
    spec.sequestered = true;
    let t = Instant::now();
    let b = testbed::populate(&client, &spec).await?;
    println!("small sequestered: {:?}", t.elapsed());
    let mut spec = OrgSpec::small("NoDataOrg");
    spec.sequestered = true;
    spec.humans = 3;
    spec.realms = 1;
    spec.store_blocks_in_db = false;
    let c = testbed::populate(&client, &spec).await?;
    println!(
        "nodata: blocks returned {} (sum {} bytes) vs realm {} / {}",
        c.blocks.len(),
        c.blocks.iter().map(|b| b.1.len()).sum::<usize>(),
        c.realms[0].blocks,
        c.realms[0].block_bytes
    );
    let n: i64 = client
        .query_one(
            "SELECT count(*) FROM block_data WHERE organization_id = 'NoDataOrg'",
            &[],
        )
        .await?
        .get(0);
    println!("nodata block_data rows: {n}");
    // Same seed, different ids: identical content except _id.
    let mut e = OrgSpec::small("SeedA");
    e.seed = 99;
    let mut f = e.clone();
    f.organization_id = "SeedB".into();
    let e_org = testbed::populate(&client, &e).await?;
    let f_org = testbed::populate(&client, &f).await?;
    for o in [&a, &b, &c, &e_org, &f_org] {
        all_realms.extend(o.realms.iter().map(|r| r.internal_id));
    }
    let fingerprint = "SELECT md5(string_agg(md5(v.blob) || v.vlob_id::text || v.version || v.created_on::text, ',' ORDER BY v._id))
        || md5((SELECT string_agg(md5(d.data) || b.size || b.created_on::text, ',' ORDER BY b._id) FROM block b JOIN realm r2 ON r2._id = b.realm JOIN organization o2 ON o2._id = r2.organization
               JOIN block_data d ON d.block_id = b.block_id AND d.organization_id = o2.organization_id WHERE o2.organization_id = $1))
        || md5((SELECT string_agg(md5(certificate), ',' ORDER BY rr._id) FROM realm_user_role rr JOIN realm r3 ON r3._id = rr.realm JOIN organization o3 ON o3._id = r3.organization WHERE o3.organization_id = $1))
        FROM vlob_atom v JOIN realm r ON r._id = v.realm JOIN organization o ON o._id = r.organization WHERE o.organization_id = $1";
    let fa: String = client.query_one(fingerprint, &[&"SeedA"]).await?.get(0);
    let fb: String = client.query_one(fingerprint, &[&"SeedB"]).await?.get(0);
    println!(
        "determinism (same seed, two orgs): {}",
        if fa == fb { "identical" } else { "DIFFERENT" }
    );
    println!(
        "realm ids equal: {}",
        e_org
            .realms
            .iter()
            .map(|r| r.realm_id)
            .eq(f_org.realms.iter().map(|r| r.realm_id))
    );

    // Fixture organizations untouched.
    let row = client.query_one("SELECT (SELECT count(*) FROM vlob_atom WHERE realm <= 5), (SELECT count(*) FROM block_data WHERE organization_id IN ('SequesteredOrgTemplate','WorkspaceHistoryOrgTemplate','CoolorgOrgTemplate')), (SELECT min(_id) FROM organization WHERE organization_id = 'SmallOrg')", &[]).await?;
    println!(
        "fixture vlobs={} fixture block_data={} first generated org _id={}",
        row.get::<_, i64>(0),
        row.get::<_, i64>(1),
        row.get::<_, i32>(2)
    );

    println!("checks (small orgs):");
    let small_ok = run_checks(&client, &all_realms).await?;

    // A second realm set at benchmark-ish scale.
    let mut spec = OrgSpec::small("MediumOrg");
    spec.sequestered = true;
    spec.humans = 8;
    spec.realms = 2;
    spec.vlob_versions_per_realm = 1000;
    spec.blocks_per_realm = 1000;
    spec.block_size_min = 4096;
    spec.block_size_max = 512 * 1024;
    let t = Instant::now();
    let m = testbed::populate(&client, &spec).await?;
    let bytes: u64 = m.realms.iter().map(|r| r.block_bytes).sum();
    println!(
        "medium (2000 vlobs / 2000 blocks, {:.1} MiB): {:?}, end={}",
        bytes as f64 / 1048576.0,
        t.elapsed(),
        m.end
    );
    let ids: Vec<i32> = m.realms.iter().map(|r| r.internal_id).collect();
    println!("checks (medium):");
    let medium_ok = run_checks(&client, &ids).await?;

    // One certificate, decoded with the zstd CLI.
    let cert: Vec<u8> = client
        .query_one(
            "SELECT certificate FROM realm_user_role WHERE realm = $1 ORDER BY _id LIMIT 1",
            &[&ids[0]],
        )
        .await?
        .get(0);
    std::fs::write("/tmp/tb_scratch_cert.zst", &cert[65..])?;
    let svc: Vec<u8> = client.query_one("SELECT service_certificate FROM sequester_service s JOIN organization o ON o._id = s.organization WHERE o.organization_id = 'MediumOrg' ORDER BY s._id LIMIT 1", &[]).await?.get(0);
    std::fs::write("/tmp/tb_scratch_svc.zst", &svc[18 + 128 + 1..])?;
    let row = client.query_one("SELECT (SELECT max(certified_on) FROM realm_archiving a JOIN realm r ON r._id = a.realm WHERE r._id = ANY($1)),
        (SELECT max(created_on) FROM vlob_atom WHERE realm = ANY($1)), (SELECT max(created_on) FROM block WHERE realm = ANY($1)),
        (SELECT max(certified_on) FROM realm_user_role WHERE realm = ANY($1))", &[&ids]).await?;
    let (arch, v, bl, ro): (
        chrono::DateTime<chrono::Utc>,
        chrono::DateTime<chrono::Utc>,
        chrono::DateTime<chrono::Utc>,
        chrono::DateTime<chrono::Utc>,
    ) = (row.get(0), row.get(1), row.get(2), row.get(3));
    let end_ok = arch == m.end && v < m.end && bl < m.end && ro < m.end;
    println!("end check: archiving={arch} end={} ok={end_ok}", m.end);
    // Error paths: duplicate organization, failing sink; the connection must stay usable.
    let dup = testbed::populate(&client, &OrgSpec::small("SmallOrg")).await;
    println!(
        "duplicate org -> {:?}",
        dup.as_ref()
            .err()
            .map(|e| format!("{e:#}"))
            .unwrap_or_default()
            .chars()
            .take(160)
            .collect::<String>()
    );
    let failing =
        testbed::populate_with_sink(&client, &OrgSpec::small("SinkFails"), &mut |_, _| {
            anyhow::bail!("sink refused")
        })
        .await;
    println!(
        "failing sink -> {:?}",
        failing.as_ref().err().map(|e| format!("{e:#}"))
    );
    let row = client.query_one("SELECT (SELECT count(*) FROM organization WHERE organization_id IN ('SmallOrg', 'SinkFails')), (SELECT count(*) FROM block_data WHERE organization_id = 'SinkFails')", &[]).await?;
    let err_ok =
        dup.is_err() && failing.is_err() && row.get::<_, i64>(0) == 1 && row.get::<_, i64>(1) == 0;
    println!("error paths ok: {err_ok}");
    println!("ALL OK: {}", small_ok && medium_ok && end_ok && err_ok);
    Ok(())
}
