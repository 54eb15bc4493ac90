//! Oracle for generated organizations: checks a realm export against the rules of the
//! reference's sections 2–7 (every signature, the sequester access rule, bundles, canaries,
//! the realm name, the key index and author rules of each vlob, the manifest/row equalities,
//! block presence, size and SHA-256) with `parsec_sequester::parsec`, then compares what it
//! decrypted with the generator's own `record.json`. Panics name the first broken rule.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use parsec_sequester::parsec::certificates::{decode, verify_rsa, Certificate};
use parsec_sequester::parsec::crypto::hash::sha256;
use parsec_sequester::parsec::crypto::rsa_key::SequesterPublicKey;
use parsec_sequester::parsec::crypto::secretbox::OVERHEAD;
use parsec_sequester::parsec::crypto::signing::VerifyKey;
use parsec_sequester::parsec::keys_bundle::{KeysBundleAccess, RealmKeysBundle};
use parsec_sequester::parsec::manifests::{Manifest, VlobRow};
use parsec_sequester::testbed::record::{OrgRecord, RealmRecord};
use parsec_sequester::testbed::GeneratedService;
use rusqlite::Connection;
use uuid::Uuid;

type Micros = i64;

fn uuid(bytes: &[u8]) -> Uuid {
    Uuid::from_slice(bytes).expect("16-byte id")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn rfc3339(us: Micros) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .expect("valid time")
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn blobs(conn: &Connection, sql: &str) -> Vec<Vec<u8>> {
    let mut stmt = conn.prepare(sql).expect("query");
    let rows = stmt
        .query_map([], |r| r.get::<_, Vec<u8>>(0))
        .expect("rows");
    rows.map(|r| r.expect("row")).collect()
}

struct Device {
    user: Uuid,
    key: VerifyKey,
    created: Micros,
}

#[derive(Debug, Default)]
pub struct Checked {
    pub vlob_versions: usize,
    pub files: usize,
    pub blocks: usize,
    /// Per service: the highest key index it recovered.
    pub recovered: HashMap<Uuid, u32>,
}

/// Checks one realm export `file` of a generated organization.
pub fn check_export(file: &Path, services: &[GeneratedService], record: &OrgRecord) -> Checked {
    let conn = Connection::open(file).expect("open the export");
    let (realm_bytes, root_key): (Vec<u8>, Vec<u8>) = conn
        .query_row(
            "SELECT realm_id, root_verify_key FROM info WHERE magic = 87948",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("info row");
    let realm_id = uuid(&realm_bytes);
    let realm_record: &RealmRecord = record
        .realms
        .iter()
        .find(|r| r.realm_id == realm_id.simple().to_string())
        .expect("the realm is in the record");
    let root = VerifyKey::from_bytes(&root_key).expect("root key");

    // Common certificates: each signed by the root or by a device certified earlier.
    let mut devices: HashMap<Uuid, Device> = HashMap::new();
    let mut revoked: HashMap<Uuid, Micros> = HashMap::new();
    let mut previous = i64::MIN;
    for bytes in blobs(
        &conn,
        "SELECT certificate FROM common_certificate ORDER BY _id",
    ) {
        let unverified = decode(&bytes).expect("common certificate decodes");
        let signer = match unverified.certificate.author() {
            None => &root,
            Some(device) => &devices.get(&device).expect("signer certified earlier").key,
        };
        let certificate = unverified
            .verify(signer)
            .expect("common certificate signature");
        assert!(
            certificate.timestamp() >= previous,
            "common certificates in time order"
        );
        previous = certificate.timestamp();
        match certificate {
            Certificate::Device(d) => {
                let key = VerifyKey::from_bytes(&d.verify_key).expect("device key");
                devices.insert(
                    d.device_id,
                    Device {
                        user: d.user_id,
                        key,
                        created: d.timestamp,
                    },
                );
            }
            Certificate::RevokedUser(r) => {
                revoked.insert(r.user_id, r.timestamp);
            }
            _ => {}
        }
    }

    // Sequester certificates: the authority by the root, services by the authority; each
    // service's key is the one the generator handed out.
    let mut authority: Option<SequesterPublicKey> = None;
    let mut service_life: HashMap<Uuid, (Micros, Option<Micros>)> = HashMap::new();
    for bytes in blobs(
        &conn,
        "SELECT certificate FROM sequester_certificate ORDER BY _id",
    ) {
        let certificate = match &authority {
            None => decode(&bytes)
                .expect("authority certificate decodes")
                .verify(&root)
                .expect("authority signed by the root"),
            Some(key) => verify_rsa(&bytes, key).expect("service certificate RSA-PSS signature"),
        };
        match certificate {
            Certificate::SequesterAuthority(a) => {
                authority = Some(SequesterPublicKey::from_der(&a.verify_key_der).expect("SPKI"))
            }
            Certificate::SequesterService(s) => {
                let ours = services
                    .iter()
                    .find(|g| g.service_id == s.service_id)
                    .expect("a generated service");
                assert_eq!(ours.key.public_key().to_der(), s.encryption_key_der);
                assert_eq!(ours.label, s.service_label);
                service_life.insert(s.service_id, (s.timestamp, None));
            }
            Certificate::SequesterRevokedService(r) => {
                service_life
                    .get_mut(&r.service_id)
                    .expect("revokes a known service")
                    .1 = Some(r.timestamp);
            }
            other => panic!("unexpected sequester certificate {other:?}"),
        }
    }

    // Realm certificates, all signed by a known device, all of this realm.
    let mut roles: HashMap<Uuid, Vec<(Micros, Option<String>)>> = HashMap::new();
    let mut rotations = Vec::new();
    let mut names = Vec::new();
    for bytes in blobs(
        &conn,
        "SELECT certificate FROM realm_certificate ORDER BY _id",
    ) {
        let unverified = decode(&bytes).expect("realm certificate decodes");
        let author = unverified
            .certificate
            .author()
            .expect("realm certificates have an author");
        let certificate = unverified
            .verify(&devices.get(&author).expect("known author").key)
            .expect("realm certificate signature");
        assert_eq!(certificate.realm_id(), Some(realm_id));
        match certificate {
            Certificate::RealmRole(r) => roles
                .entry(r.user_id)
                .or_default()
                .push((r.timestamp, r.role)),
            Certificate::RealmKeyRotation(r) => rotations.push(r),
            Certificate::RealmName(n) => names.push(n),
            _ => {}
        }
    }
    assert!(rotations
        .iter()
        .enumerate()
        .all(|(i, r)| r.key_index == i as u64 + 1));
    assert_eq!(rotations.len(), realm_record.rotations.len());

    // Keys: a service has an access to bundle N exactly when it was active at rotation N;
    // the bundle is signed by the rotation's author and each key opens its canary.
    let mut keys: BTreeMap<u64, [u8; 32]> = BTreeMap::new();
    let mut checked = Checked::default();
    for (rotation, recorded) in rotations.iter().zip(&realm_record.rotations) {
        assert_eq!(rfc3339(rotation.timestamp), recorded.timestamp);
        for service in services {
            let (created, revoked_on) = service_life[&service.service_id];
            let active =
                created < rotation.timestamp && revoked_on.is_none_or(|r| r > rotation.timestamp);
            let accesses = blobs(
                &conn,
                &format!(
                    "SELECT access FROM realm_sequester_keys_bundle_access \
                     WHERE sequester_service_id = x'{}' AND key_index = {}",
                    service.service_id.simple(),
                    rotation.key_index
                ),
            );
            assert_eq!(
                accesses.len(),
                usize::from(active),
                "access rule (reference §3.7)"
            );
            assert_eq!(
                recorded
                    .services
                    .contains(&service.service_id.simple().to_string()),
                active
            );
            for access in accesses {
                let access = KeysBundleAccess::open_sequester(&access, &service.key)
                    .expect("the service's key opens its access");
                let encrypted: Vec<u8> = conn
                    .query_row(
                        "SELECT keys_bundle FROM realm_keys_bundle WHERE key_index = ?1",
                        [rotation.key_index as i64],
                        |r| r.get(0),
                    )
                    .expect("the bundle of the access");
                let bundle = RealmKeysBundle::open(&encrypted, &access)
                    .expect("the access opens the bundle")
                    .verify(&devices[&rotation.author].key)
                    .expect("bundle signed by the rotation's author");
                bundle
                    .check_rotation(rotation)
                    .expect("bundle matches its rotation");
                assert!(bundle.timestamp >= rotation.timestamp);
                for (i, key) in bundle.keys.iter().enumerate() {
                    let r = &rotations[i];
                    r.check_key(key).expect("each key opens its canary");
                    assert_eq!(*keys.entry(r.key_index).or_insert(*key), *key);
                }
                let best = checked.recovered.entry(service.service_id).or_default();
                *best = (*best).max(rotation.key_index as u32);
            }
        }
    }
    assert_eq!(keys.len(), rotations.len(), "some service reads every key");

    // The realm name: the last name certificate, under its key.
    let name = names.last().expect("a name certificate");
    let key = &keys[&name.key_index];
    assert_eq!(
        name.decrypt_name(key).expect("name decrypts"),
        realm_record.name
    );

    // Vlobs, in insertion order.
    let role_at = |user: Uuid, t: Micros| {
        roles
            .get(&user)
            .and_then(|history| history.iter().rfind(|(at, _)| *at <= t))
            .and_then(|(_, role)| role.clone())
    };
    let recorded: HashMap<(String, u32), _> = realm_record
        .vlobs
        .iter()
        .flat_map(|v| {
            v.versions
                .iter()
                .map(move |ver| ((v.vlob_id.clone(), ver.version), ver))
        })
        .collect();
    let mut history: HashMap<Uuid, Vec<(Micros, u32)>> = HashMap::new();
    let mut stmt = conn
        .prepare(
            "SELECT vlob_id, version, key_index, blob, size, author, timestamp FROM vlob_atom \
             ORDER BY sequential_id",
        )
        .expect("vlob query");
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, u32>(1)?,
                r.get::<_, u64>(2)?,
                r.get::<_, Vec<u8>>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, Vec<u8>>(5)?,
                r.get::<_, i64>(6)?,
            ))
        })
        .expect("vlob rows");
    let mut root_seen = false;
    for row in rows {
        let (vlob, version, key_index, blob, size, author, timestamp) = row.expect("vlob row");
        let (vlob, author) = (uuid(&vlob), uuid(&author));
        assert_eq!(size as usize, blob.len());
        // key_index = the last rotation at or before the vlob's timestamp.
        let expected_index = rotations
            .iter()
            .filter(|r| r.timestamp <= timestamp)
            .count() as u64;
        assert_eq!(key_index, expected_index, "key index of {vlob} v{version}");
        let device = devices.get(&author).expect("author device certified");
        let manifest = Manifest::decrypt(&blob, &keys[&key_index], vlob)
            .expect("vlob decrypts")
            .verify(
                &device.key,
                &VlobRow {
                    vlob_id: vlob,
                    version,
                    author,
                    timestamp,
                    realm_id,
                },
            )
            .expect("manifest signature and row rules");
        // Author rule (reference §6.1): device existed, user not revoked, role could write.
        assert!(device.created <= timestamp, "device exists at the write");
        assert!(
            revoked.get(&device.user).is_none_or(|r| *r > timestamp),
            "author not revoked"
        );
        let role = role_at(device.user, timestamp);
        assert!(
            matches!(role.as_deref(), Some("OWNER" | "MANAGER" | "CONTRIBUTOR")),
            "author of {vlob} v{version} has role {role:?}"
        );
        root_seen |= vlob == realm_id && version == 1;
        history.entry(vlob).or_default().push((timestamp, version));

        let expected = recorded
            .get(&(vlob.simple().to_string(), version))
            .unwrap_or_else(|| panic!("{vlob} v{version} is not in the record"));
        assert_eq!(expected.timestamp, rfc3339(timestamp));
        assert_eq!(expected.author, author.simple().to_string());
        assert_eq!(u64::from(expected.key_index), key_index);
        assert_eq!(
            expected.parent,
            manifest.header().parent.simple().to_string()
        );
        match &manifest {
            Manifest::Folder(folder) => {
                assert_eq!(expected.kind, "folder");
                let children: BTreeMap<String, String> = folder
                    .children
                    .iter()
                    .map(|(n, id)| (n.as_str().to_owned(), id.simple().to_string()))
                    .collect();
                assert_eq!(expected.children.as_ref(), Some(&children));
            }
            Manifest::File(file) => {
                assert_eq!(expected.kind, "file");
                assert_eq!(expected.size, Some(file.size));
                assert_eq!(expected.blocks, Some(file.blocks.len()));
                let mut content = vec![0u8; file.size as usize];
                for access in &file.blocks {
                    let (block_index, block_size, data): (u64, i64, Vec<u8>) = conn
                        .query_row(
                            "SELECT b.key_index, b.size, d.data FROM block b \
                             JOIN block_data d ON d.block = b.sequential_id WHERE b.block_id = ?1",
                            [access.id.as_bytes().as_slice()],
                            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                        )
                        .expect("the block and its data are exported");
                    let clear = access
                        .open(data, &keys[&block_index])
                        .expect("block decrypts, size and SHA-256 match");
                    assert_eq!(block_size as usize, clear.len() + OVERHEAD);
                    let at = access.offset as usize;
                    content[at..at + clear.len()].copy_from_slice(&clear);
                    checked.blocks += 1;
                }
                assert_eq!(
                    expected.sha256.as_deref(),
                    Some(hex(&sha256(&content)).as_str())
                );
                checked.files += 1;
            }
        }
        checked.vlob_versions += 1;
    }
    assert!(root_seen, "root manifest v1 (vlob id = realm id)");
    for (vlob, mut versions) in history {
        versions.sort();
        let numbers: Vec<u32> = versions.iter().map(|(_, v)| *v).collect();
        assert_eq!(
            numbers,
            (1..=numbers.len() as u32).collect::<Vec<_>>(),
            "{vlob}: versions increase with time"
        );
    }
    let recorded_versions: usize = realm_record.vlobs.iter().map(|v| v.versions.len()).sum();
    assert_eq!(
        checked.vlob_versions, recorded_versions,
        "every recorded version is exported"
    );
    checked
}
