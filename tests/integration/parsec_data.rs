//! `parsec_sequester::parsec` on Parsec's own files: every certificate, keys bundle, access,
//! manifest and block of the fixtures decodes and verifies with the testbed keys, giving the
//! values of the reference's section 9; round trips; tampered data is refused with the
//! right error.

use std::collections::HashMap;

use parsec_sequester::parsec::certificates::{self, Certificate};
use parsec_sequester::parsec::crypto::rsa_key::SequesterPublicKey;
use parsec_sequester::parsec::crypto::signing::{SigningKey, VerifyKey};
use parsec_sequester::parsec::crypto::{hash, kdf, sealed_box};
use parsec_sequester::parsec::keys_bundle::{KeysBundleAccess, RealmKeysBundle};
use parsec_sequester::parsec::manifests::{Manifest, VlobRow};
use parsec_sequester::parsec::DataError;
use uuid::Uuid;

use crate::harness::fixtures_dir;
use crate::parsec_fixture::*;

#[test]
fn kdf_matches_the_reference_vectors() {
    let k1 = testbed_key(0x0a);
    let vectors = [
        (
            k1,
            1u128,
            "020f52fb773ee800f17d294c0ab6dba95cfd00d36e8a5abd4346e2bac09ac4a8",
        ),
        (
            k1,
            2,
            "8180d782f77a199f468f7b496c2751d1b28195a04ec68e86de8435e431a2e596",
        ),
        (
            k1,
            0xf0000000000000000000000000000004,
            "77dc718eddd49c197ffcbbbd4a87555d5f39614a7ecba3961e9e0da7cc0f0adf",
        ),
        (
            k1,
            0xf0000000000000000000000000000003,
            "506dc91b8c1f1bf241e7fc7bff163d107a741dfeb1f188a571cdeb55192aefc8",
        ),
        (
            k1,
            0xf0000000000000000000000000000005,
            "0f741ef5967011a4ad50394e60ecaa157966c42f58b570f173f48d6a600b829f",
        ),
        (
            testbed_key(0x0c),
            0xf0000000000000000000000000000006,
            "e0bc7f85c15ac7ddc7f87561f8fcc9cc4ad75d5a2e402536ed7c40e4c50ef571",
        ),
        (
            [0u8; 32],
            0x000102030405060708090a0b0c0d0e0f,
            "b1511f10d09bc4ff1883f2f7dc85e960cdb6aae6c157995ccc45ad26a5da49ac",
        ),
    ];
    for (key, id, expected) in vectors {
        assert_eq!(
            hex(&kdf::derive(&key, Uuid::from_u128(id)).0),
            expected,
            "KDF with {id:032x}"
        );
    }
}

#[test]
fn every_certificate_of_every_fixture_verifies_along_the_chain() {
    for file in all_files() {
        let conn = open(&file);
        let root = VerifyKey::from_bytes(&root_key(&conn)).unwrap();
        let mut devices: HashMap<Uuid, VerifyKey> = HashMap::new();
        let mut authority = None;
        let mut checked = 0;
        for table in [
            "common_certificate",
            "realm_certificate",
            "sequester_certificate",
        ] {
            for bytes in blobs(
                &conn,
                &format!("SELECT certificate FROM {table} ORDER BY _id"),
            ) {
                let cert = if bytes.starts_with(b"RSASSA-PSS-SHA256:") {
                    certificates::verify_rsa(&bytes, authority.as_ref().expect("authority first"))
                        .unwrap_or_else(|e| panic!("{}: {table}: {e}", file.display()))
                } else {
                    let u = certificates::decode(&bytes).unwrap();
                    let key = match u.certificate.author() {
                        None => root.clone(),
                        Some(d) => devices[&d].clone(),
                    };
                    u.verify(&key)
                        .unwrap_or_else(|e| panic!("{}: {table}: {e}", file.display()))
                };
                match &cert {
                    Certificate::Device(d) => {
                        devices.insert(d.device_id, VerifyKey::from_bytes(&d.verify_key).unwrap());
                    }
                    Certificate::SequesterAuthority(a) => {
                        authority = Some(SequesterPublicKey::from_der(&a.verify_key_der).unwrap())
                    }
                    _ => {}
                }
                checked += 1;
            }
        }
        assert!(checked >= 4, "{}: {checked} certificates", file.display());
    }
}

#[test]
fn testbed_secrets_give_the_fixture_public_keys() {
    for file in sequestered_files() {
        let conn = open(&file);
        // §9.2: the root, alice's user key and alice@dev1's signing key.
        assert_eq!(
            SigningKey::from_seed(&testbed_key(1))
                .verify_key()
                .as_bytes(),
            &root_key(&conn)
        );
        let devices = device_keys(&conn);
        assert_eq!(
            &devices[&ALICE_DEV1],
            &SigningKey::from_seed(&testbed_key(3)).verify_key()
        );
        let users: Vec<Certificate> = blobs(
            &conn,
            "SELECT certificate FROM common_certificate ORDER BY _id",
        )
        .iter()
        .map(|b| certificates::decode(b).unwrap().certificate)
        .collect();
        let alice = users
            .iter()
            .find_map(|c| match c {
                Certificate::User(u) if u.user_id == ALICE => Some(u.clone()),
                _ => None,
            })
            .expect("alice");
        assert_eq!(
            alice.human_handle.as_ref().map(|h| h.0.as_str()),
            Some("alice@example.com")
        );
        assert_eq!(
            sealed_box::PrivateKey::from_bytes(testbed_key(2))
                .public_key()
                .as_bytes(),
            &alice.public_key
        );
        // §9.1: the authority's key, and service 1's key matches its certificate.
        let seq = blobs(
            &conn,
            "SELECT certificate FROM sequester_certificate ORDER BY _id",
        );
        let Certificate::SequesterAuthority(a) = certificates::decode(&seq[0]).unwrap().certificate
        else {
            panic!("authority first");
        };
        let pem = std::fs::read_to_string(
            fixtures_dir().join("parsec-v3/keys/00000000000000000000000000000001.pub.pem"),
        )
        .unwrap();
        assert!(pem.contains("BEGIN PUBLIC KEY"));
        let authority = SequesterPublicKey::from_der(&a.verify_key_der).unwrap();
        assert_eq!(authority.size(), 128);
        let service = service_key(1).public_key().to_der();
        let services: Vec<Certificate> = seq[1..]
            .iter()
            .map(|b| certificates::verify_rsa(b, &authority).unwrap())
            .collect();
        assert!(services.iter().any(|c| matches!(c, Certificate::SequesterService(s) if s.service_id == SERVICE_1 && s.encryption_key_der == service)));
        assert!(services.iter().any(
            |c| matches!(c, Certificate::SequesterRevokedService(s) if s.service_id == SERVICE_1)
        ));
    }
}

/// The rotation certificates of realm …03, by key index.
fn rotations(
    conn: &rusqlite::Connection,
) -> HashMap<u64, certificates::RealmKeyRotationCertificate> {
    blobs(
        conn,
        "SELECT certificate FROM realm_certificate ORDER BY _id",
    )
    .iter()
    .filter_map(|b| match certificates::decode(b).unwrap().certificate {
        Certificate::RealmKeyRotation(r) => Some((r.key_index, r)),
        _ => None,
    })
    .collect()
}

#[test]
fn service_1_opens_bundle_2_whose_keys_open_their_canaries() {
    for file in sequestered_files() {
        let conn = open(&file);
        let accesses = blobs(
            &conn,
            "SELECT access FROM realm_sequester_keys_bundle_access WHERE key_index = 2",
        );
        assert_eq!(accesses.len(), 1);
        assert_eq!(accesses[0].len(), 264, "§3.2 size for a 1024-bit key");
        let access = KeysBundleAccess::open_sequester(&accesses[0], &service_key(1)).unwrap();
        assert_eq!(access.keys_bundle_key.0, testbed_key(0x0e));
        // Service 2 has no access; its key does not open service 1's.
        assert_eq!(
            KeysBundleAccess::open_sequester(&accesses[0], &service_key(2)),
            Err(DataError::WrongKey("sequester keys bundle access"))
        );
        let bundle_bytes = &blobs(
            &conn,
            "SELECT keys_bundle FROM realm_keys_bundle WHERE key_index = 2",
        )[0];
        let bundle = RealmKeysBundle::open(bundle_bytes, &access)
            .unwrap()
            .verify(&device_keys(&conn)[&ALICE_DEV1])
            .unwrap();
        assert_eq!(bundle.realm_id, REALM_03);
        assert_eq!(bundle.author, ALICE_DEV1);
        assert_eq!(bundle.keys, vec![testbed_key(0x0a), testbed_key(0x0c)]);
        let rotations = rotations(&conn);
        bundle.check_rotation(&rotations[&2]).unwrap();
        assert!(matches!(
            bundle.check_rotation(&rotations[&3]),
            Err(DataError::Mismatch {
                field: "keys bundle key count",
                ..
            })
        ));
        let mut by_bob = rotations[&2].clone();
        by_bob.author = Uuid::from_u128(0xde10808c001000000000000000000000);
        assert!(matches!(
            bundle.check_rotation(&by_bob),
            Err(DataError::WrongAuthor { .. })
        ));
        rotations[&1].check_key(bundle.key(1).unwrap()).unwrap();
        rotations[&2].check_key(bundle.key(2).unwrap()).unwrap();
        rotations[&3].check_key(&testbed_key(0x0f)).unwrap();
        assert_eq!(
            rotations[&2].check_key(&testbed_key(0x0a)),
            Err(DataError::BadCanary { key_index: 2 })
        );
        // A bundle signed by alice does not verify with bob's... with the root key.
        let root = VerifyKey::from_bytes(&root_key(&conn)).unwrap();
        assert_eq!(
            RealmKeysBundle::open(bundle_bytes, &access)
                .unwrap()
                .verify(&root)
                .unwrap_err(),
            DataError::BadSignature("keys bundle")
        );
        // The realm name (§5.7).
        let name = blobs(
            &conn,
            "SELECT certificate FROM realm_certificate ORDER BY _id",
        )
        .iter()
        .find_map(|b| match certificates::decode(b).unwrap().certificate {
            Certificate::RealmName(n) => Some(n),
            _ => None,
        })
        .expect("a name certificate");
        assert_eq!(name.decrypt_name(&testbed_key(0x0a)).unwrap(), "wksp1");
    }
}

#[test]
fn alice_opens_her_user_accesses_to_every_bundle() {
    let alice = sealed_box::PrivateKey::from_bytes(testbed_key(2));
    for file in sequestered_files() {
        let conn = open(&file);
        let rotations = rotations(&conn);
        let mut stmt = conn
            .prepare("SELECT key_index, access FROM realm_keys_bundle_access WHERE user_id = ?1 ORDER BY _id")
            .unwrap();
        let rows: Vec<(u64, Vec<u8>)> = stmt
            .query_map([ALICE.as_bytes().to_vec()], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(rows.len(), 3);
        for (index, access) in rows {
            let access = KeysBundleAccess::open_user(&access, &alice).unwrap();
            let bundle_bytes: Vec<u8> = conn
                .query_row(
                    "SELECT keys_bundle FROM realm_keys_bundle WHERE key_index = ?1",
                    [index],
                    |r| r.get(0),
                )
                .unwrap();
            let bundle = RealmKeysBundle::open(&bundle_bytes, &access)
                .unwrap()
                .verify(&device_keys(&conn)[&ALICE_DEV1])
                .unwrap();
            assert_eq!(bundle.keys.len() as u64, index);
            for i in 1..=index {
                rotations[&i].check_key(bundle.key(i).unwrap()).unwrap();
            }
        }
    }
}

/// Each vlob version's manifest, and a file's assembled content.
type Opened = HashMap<(Uuid, u32), (Manifest, Option<Vec<u8>>)>;

/// Decrypts and verifies every vlob of a fixture with `keys`, checking each file's blocks;
/// returns `(vlob id, version) → (manifest, content of a file)`.
fn open_all(file: &std::path::Path, realm: Uuid, keys: &[[u8; 32]]) -> Opened {
    let conn = open(file);
    let devices = device_keys(&conn);
    let blocks = blocks(&conn);
    let mut out = HashMap::new();
    for v in vlobs(&conn) {
        let key = &keys[(v.key_index - 1) as usize];
        let row = VlobRow {
            vlob_id: v.vlob_id,
            version: v.version,
            author: v.author,
            timestamp: v.timestamp,
            realm_id: realm,
        };
        let manifest = Manifest::decrypt(&v.blob, key, v.vlob_id)
            .unwrap()
            .verify(&devices[&v.author], &row)
            .unwrap_or_else(|e| {
                panic!("{}: vlob {} v{}: {e}", file.display(), v.vlob_id, v.version)
            });
        let content = match &manifest {
            Manifest::File(f) => {
                let mut content = vec![0u8; f.size as usize];
                for b in &f.blocks {
                    let (index, data) = &blocks[&b.id];
                    let clear = b.open(data.clone(), &keys[(*index - 1) as usize]).unwrap();
                    content[b.offset as usize..(b.offset + b.size) as usize]
                        .copy_from_slice(&clear);
                }
                Some(content)
            }
            Manifest::Folder(_) => None,
        };
        out.insert((v.vlob_id, v.version), (manifest, content));
    }
    out
}

#[test]
fn every_manifest_and_block_of_realm_03_decrypts_and_verifies() {
    let keys = [testbed_key(0x0a), testbed_key(0x0c), testbed_key(0x0f)];
    let bar = Uuid::from_u128(0xf0000000000000000000000000000004);
    for file in sequestered_files() {
        let all = open_all(&file, REALM_03, &keys);
        assert_eq!(all.len(), 6);
        let expected = [
            (
                1,
                "cf1e620e252728cced23a12a60c0d5a9a6ce378cddfd1c2a1641203ce03c9435",
                "Hello v1",
            ),
            (
                2,
                "68556ebbfd8707f616564c01b4d01282de5df108f1098d61a21db954800c4a43",
                "Hello v2",
            ),
            (
                3,
                "53e428919818ac46f4e22dbc81e8d121f78e8e50425b0da238900d7705f53734",
                "Hello v3",
            ),
        ];
        for (version, sha, text) in expected {
            let content = all[&(bar, version)].1.as_ref().expect("a file");
            assert_eq!(content, text.as_bytes());
            assert_eq!(hex(&hash::sha256(content)), sha);
        }
        for (version, name) in [(1, "bar.txt"), (2, "bar2.txt"), (3, "bar3.txt")] {
            let Manifest::Folder(root) = &all[&(REALM_03, version)].0 else {
                panic!("the root is a folder");
            };
            let names: Vec<(&str, Uuid)> = root
                .children
                .iter()
                .map(|(n, id)| (n.as_str(), *id))
                .collect();
            assert_eq!(names, vec![(name, bar)]);
        }
    }
}

#[test]
fn every_manifest_and_block_of_realm_08_decrypts_with_bobs_key() {
    let bob = sealed_box::PrivateKey::from_bytes(testbed_key(6));
    for file in workspace_history_files() {
        let conn = open(&file);
        let top: (u64, Vec<u8>) = conn
            .query_row(
                "SELECT key_index, access FROM realm_keys_bundle_access WHERE user_id = ?1 ORDER BY key_index DESC, _id LIMIT 1",
                [BOB.as_bytes().to_vec()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        let access = KeysBundleAccess::open_user(&top.1, &bob).unwrap();
        let bundle_bytes: Vec<u8> = conn
            .query_row(
                "SELECT keys_bundle FROM realm_keys_bundle WHERE key_index = ?1",
                [top.0],
                |r| r.get(0),
            )
            .unwrap();
        let bundle = RealmKeysBundle::open(&bundle_bytes, &access)
            .unwrap()
            .bundle;
        let all = open_all(&file, REALM_08, &bundle.keys);
        assert_eq!(all.len(), 12);
        let contents: Vec<String> = all
            .values()
            .filter_map(|(_, c)| c.as_ref())
            .map(|c| hex(&hash::sha256(c)))
            .collect();
        for sha in [
            "c72c5ab9df690b02bf94129a4f7dec639bf078dd8197d71589de57ba9c3b1108",
            "fb04dcb6970e4c3d1873de51fd5a50d7bb46b3383113602665c350ec40b5f990",
        ] {
            assert!(
                contents.iter().any(|c| c == sha),
                "{sha} among the file versions"
            );
        }
        // §9.4: "Hello v2 world" is two blocks, of 8 and 6 bytes.
        assert!(all
            .values()
            .any(|(m, _)| matches!(m, Manifest::File(f) if f.size == 14 && f.blocks.len() == 2)));
    }
}
