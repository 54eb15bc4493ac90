//! `parsec_sequester::parsec`: encode→decode round trips, tampered data refused with the
//! right error, and no panic on random, mutated or truncated input.

use parsec_sequester::parsec::certificates::{
    self, Certificate, DeviceCertificate, SequesterServiceCertificate,
};
use parsec_sequester::parsec::crypto::rsa_key::SequesterPrivateKey;
use parsec_sequester::parsec::crypto::secretbox::SecretKey;
use parsec_sequester::parsec::crypto::signing::SigningKey;
use parsec_sequester::parsec::crypto::{hash, sealed_box};
use parsec_sequester::parsec::entry_name::EntryName;
use parsec_sequester::parsec::keys_bundle::{KeysBundleAccess, RealmKeysBundle};
use parsec_sequester::parsec::manifests::{BlockAccess, FileManifest, Manifest, VlobRow};
use parsec_sequester::parsec::serialization::{envelope, msgpack};
use parsec_sequester::parsec::DataError;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

use crate::parsec_fixture::*;

fn device_cert() -> Certificate {
    Certificate::Device(DeviceCertificate {
        author: None,
        timestamp: 946_684_800_000_000,
        user_id: ALICE,
        device_id: ALICE_DEV1,
        device_label: Some("dev1".into()),
        verify_key: *SigningKey::from_seed(&testbed_key(3))
            .verify_key()
            .as_bytes(),
        purpose: Some("STANDARD".into()),
    })
}

#[test]
fn certificates_round_trip_and_refuse_tampering() {
    let root = SigningKey::from_seed(&testbed_key(1));
    let cert = device_cert();
    let signed = cert.sign(&root).unwrap();
    assert_eq!(
        certificates::decode(&signed)
            .unwrap()
            .verify(&root.verify_key())
            .unwrap(),
        cert
    );
    let other = SigningKey::from_seed(&testbed_key(9)).verify_key();
    assert_eq!(
        certificates::decode(&signed)
            .unwrap()
            .verify(&other)
            .unwrap_err(),
        DataError::BadSignature("certificate")
    );
    let mut flipped = signed.clone();
    flipped[3] ^= 1;
    assert_eq!(
        certificates::decode(&flipped)
            .unwrap()
            .verify(&root.verify_key())
            .unwrap_err(),
        DataError::BadSignature("certificate")
    );
    assert!(matches!(
        certificates::decode(&signed[..40]),
        Err(DataError::Truncated { .. })
    ));
    let mut format = signed.clone();
    format[64] = 1;
    assert_eq!(
        certificates::decode(&format).unwrap_err(),
        DataError::UnknownFormat(1)
    );
    let unknown = root.sign(&envelope::dump(&msgpack::map(vec![(
        "type",
        msgpack::str("nonsense_certificate"),
    )])));
    assert!(matches!(
        certificates::decode(&unknown),
        Err(DataError::UnknownType { .. })
    ));
    let missing = root.sign(&envelope::dump(&msgpack::map(vec![(
        "type",
        msgpack::str("device_certificate"),
    )])));
    assert!(matches!(
        certificates::decode(&missing),
        Err(DataError::MissingField(_))
    ));
}

#[test]
fn sequester_armors_round_trip_with_the_testbed_key() {
    let key = service_key(1);
    let access = KeysBundleAccess {
        keys_bundle_key: SecretKey(testbed_key(0x0e)),
    };
    let sealed = access.seal_sequester(&key.public_key());
    assert_eq!(sealed.len(), 264);
    assert_eq!(
        KeysBundleAccess::open_sequester(&sealed, &key).unwrap(),
        access
    );
    let mut wrong_alg = sealed.clone();
    wrong_alg[0] = b'X';
    assert!(matches!(
        KeysBundleAccess::open_sequester(&wrong_alg, &key),
        Err(DataError::UnknownAlgorithm(_))
    ));
    assert!(matches!(
        KeysBundleAccess::open_sequester(&sealed[..100], &key),
        Err(DataError::Truncated { .. })
    ));

    let cert = Certificate::SequesterService(SequesterServiceCertificate {
        timestamp: 1,
        service_id: SERVICE_1,
        service_label: "Sequester Service 1".into(),
        encryption_key_der: key.public_key().to_der(),
    });
    let authority = service_key(3);
    let signed = cert.sign_rsa(&authority).unwrap();
    assert_eq!(
        certificates::verify_rsa(&signed, &authority.public_key()).unwrap(),
        cert
    );
    assert_eq!(certificates::decode_rsa_unverified(&signed).unwrap(), cert);
    assert_eq!(
        certificates::verify_rsa(&signed, &key.public_key()).unwrap_err(),
        DataError::BadSignature("certificate")
    );
}

#[test]
fn passphrase_protected_keys_load_with_their_passphrase_only() {
    let key = service_key(2);
    let pem = key.to_pem(Some(b"correct horse")).unwrap();
    assert!(pem.contains("BEGIN ENCRYPTED PRIVATE KEY"));
    let loaded = SequesterPrivateKey::load(pem.as_bytes(), Some(b"correct horse")).unwrap();
    assert_eq!(loaded.public_key(), key.public_key());
    for pass in [None, Some(&b"wrong"[..])] {
        let err = SequesterPrivateKey::load(pem.as_bytes(), pass)
            .unwrap_err()
            .to_string();
        assert!(err.contains("passphrase"), "{err}");
        assert!(!err.contains("correct horse"));
    }
    let plain = key.to_pem(None).unwrap();
    assert_eq!(
        SequesterPrivateKey::load(plain.as_bytes(), None)
            .unwrap()
            .public_key(),
        key.public_key()
    );
    assert!(matches!(
        SequesterPrivateKey::load(b"not a key", None),
        Err(DataError::Key(_))
    ));
}

#[test]
fn manifests_bundles_and_user_accesses_round_trip() {
    let author = SigningKey::from_seed(&testbed_key(3));
    let realm_key = testbed_key(0x0a);
    let content = b"Hello v2 world";
    let blocks: Vec<BlockAccess> = [(0usize, 8usize), (8, 14)]
        .iter()
        .map(|&(a, b)| BlockAccess {
            id: Uuid::new_v4(),
            offset: a as u64,
            size: (b - a) as u64,
            digest: hash::sha256(&content[a..b]),
        })
        .collect();
    let file = Manifest::File(FileManifest {
        header: parsec_sequester::parsec::manifests::Header {
            author: ALICE_DEV1,
            timestamp: 10,
            id: Uuid::from_u128(4),
            parent: REALM_03,
            version: 2,
            created: 1,
            updated: 9,
        },
        size: 14,
        blocksize: 8,
        blocks: blocks.clone(),
    });
    let row = VlobRow {
        vlob_id: Uuid::from_u128(4),
        version: 2,
        author: ALICE_DEV1,
        timestamp: 10,
        realm_id: REALM_03,
    };
    let blob = file.seal(&author, &realm_key);
    assert_eq!(
        Manifest::decrypt(&blob, &realm_key, row.vlob_id)
            .unwrap()
            .verify(&author.verify_key(), &row)
            .unwrap(),
        file
    );
    assert_eq!(
        Manifest::decrypt(&blob, &testbed_key(0x0c), row.vlob_id).unwrap_err(),
        DataError::WrongKey("vlob")
    );
    let wrong_version = VlobRow { version: 3, ..row };
    assert!(matches!(
        Manifest::decrypt(&blob, &realm_key, row.vlob_id)
            .unwrap()
            .verify(&author.verify_key(), &wrong_version),
        Err(DataError::Mismatch {
            field: "manifest version",
            ..
        })
    ));
    let data = BlockAccess::seal(blocks[1].id, &content[8..], &realm_key);
    assert_eq!(&*blocks[1].open(data, &realm_key).unwrap(), &content[8..]);
    let other = BlockAccess::seal(blocks[1].id, b"tamper", &realm_key);
    assert!(matches!(
        blocks[1].open(other, &realm_key),
        Err(DataError::Mismatch {
            field: "block SHA-256",
            ..
        })
    ));

    let bundle = RealmKeysBundle {
        author: ALICE_DEV1,
        timestamp: 5,
        realm_id: REALM_03,
        keys: vec![realm_key],
    };
    let alice = sealed_box::PrivateKey::from_bytes(testbed_key(2));
    let access = KeysBundleAccess {
        keys_bundle_key: SecretKey::generate(),
    };
    let sealed_access = access.seal_user(&alice.public_key());
    let opened = KeysBundleAccess::open_user(&sealed_access, &alice).unwrap();
    let sealed = bundle.seal(&author, &access);
    assert_eq!(
        RealmKeysBundle::open(&sealed, &opened)
            .unwrap()
            .verify(&author.verify_key())
            .unwrap(),
        bundle
    );
    let bob = sealed_box::PrivateKey::from_bytes(testbed_key(6));
    assert_eq!(
        KeysBundleAccess::open_user(&sealed_access, &bob).unwrap_err(),
        DataError::WrongKey("user keys bundle access")
    );
}

#[test]
fn file_manifest_integrity_rules() {
    let header = parsec_sequester::parsec::manifests::Header {
        author: ALICE_DEV1,
        timestamp: 1,
        id: Uuid::from_u128(4),
        parent: REALM_03,
        version: 1,
        created: 1,
        updated: 1,
    };
    let block = |offset, size| BlockAccess {
        id: Uuid::new_v4(),
        offset,
        size,
        digest: [0; 32],
    };
    let ok = FileManifest {
        header: header.clone(),
        size: 20,
        blocksize: 8,
        blocks: vec![block(0, 8), block(16, 2)],
    };
    ok.check_integrity().unwrap();
    for (size, blocksize, blocks) in [
        (20, 8, vec![block(0, 9)]),              // crosses a span
        (20, 8, vec![block(0, 4), block(4, 4)]), // same span
        (20, 8, vec![block(8, 4), block(0, 4)]), // unsorted
        (4, 8, vec![block(0, 8)]),               // past the size
        (20, 4, vec![]),                         // blocksize < 8
        (20, 8, vec![block(0, 0)]),              // empty block
        (u64::MAX, 8, vec![block(u64::MAX, 2)]), // overflow
    ] {
        let m = FileManifest {
            header: header.clone(),
            size,
            blocksize,
            blocks,
        };
        assert!(
            matches!(m.check_integrity(), Err(DataError::Invalid { .. })),
            "{m:?}"
        );
    }
}

#[test]
fn entry_names_follow_parsecs_rules() {
    assert_eq!(
        EntryName::parse("e\u{301}t\u{e9}").unwrap().as_str(),
        "\u{e9}t\u{e9}"
    );
    for ok in ["a:b", "CON", "trailing. ", "back\\slash", "*?"] {
        EntryName::parse(ok).unwrap();
    }
    for bad in ["", ".", "..", "a/b", "nul\0", &"x".repeat(256)] {
        assert!(
            matches!(
                EntryName::parse(bad),
                Err(DataError::InvalidEntryName { .. })
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn decompression_is_bounded() {
    let huge = vec![0u8; envelope::MAX_PAYLOAD + 10];
    let mut bomb = vec![0u8];
    bomb.extend(zstd::stream::encode_all(huge.as_slice(), 3).unwrap());
    assert!(bomb.len() < 100_000);
    assert_eq!(
        envelope::load(&bomb).unwrap_err(),
        DataError::TooLarge {
            limit: envelope::MAX_PAYLOAD
        }
    );
}

/// Runs every decoder on `bytes`; any may fail, none may panic.
fn decode_everything(bytes: &[u8], rsa: &SequesterPrivateKey) {
    let key = testbed_key(0x0a);
    let _ = certificates::decode(bytes);
    let _ = certificates::decode_rsa_unverified(bytes);
    let _ = certificates::verify_rsa(bytes, &rsa.public_key());
    let _ = Manifest::decode(bytes);
    let _ = Manifest::decrypt(bytes, &key, REALM_03);
    let _ = KeysBundleAccess::decode(bytes);
    let _ = KeysBundleAccess::open_sequester(bytes, rsa);
    let _ = KeysBundleAccess::open_user(bytes, &sealed_box::PrivateKey::from_bytes(testbed_key(2)));
    let access = KeysBundleAccess {
        keys_bundle_key: SecretKey(key),
    };
    let _ = RealmKeysBundle::open(bytes, &access);
    let _ = envelope::load(bytes);
    let _ = SequesterPrivateKey::load(bytes, Some(b"x"));
}

#[test]
fn random_mutated_and_truncated_inputs_never_panic() {
    let rsa = service_key(1);
    let mut samples: Vec<Vec<u8>> = Vec::new();
    for file in all_files().iter().take(3) {
        let conn = open(file);
        for sql in [
            "SELECT certificate FROM common_certificate",
            "SELECT certificate FROM sequester_certificate",
            "SELECT certificate FROM realm_certificate",
            "SELECT access FROM realm_sequester_keys_bundle_access",
            "SELECT keys_bundle FROM realm_keys_bundle",
            "SELECT blob FROM vlob_atom",
        ] {
            samples.extend(blobs(&conn, sql));
        }
    }
    // Inner layers too: a decrypted manifest payload, unsigned.
    let author = SigningKey::from_seed(&testbed_key(3));
    samples.push(envelope::dump(&msgpack::map(vec![(
        "type",
        msgpack::str("file_manifest"),
    )])));
    samples.push(author.sign(b"\x00"));
    let mut rng = StdRng::seed_from_u64(12);
    for round in 0..3000 {
        let base = &samples[round % samples.len()];
        let mut bytes = base.clone();
        match round % 4 {
            0 => bytes.truncate(rng.gen_range(0..=bytes.len())),
            1 => {
                for _ in 0..rng.gen_range(1..4) {
                    if !bytes.is_empty() {
                        let i = rng.gen_range(0..bytes.len());
                        bytes[i] ^= 1 << rng.gen_range(0..8);
                    }
                }
            }
            2 => bytes = (0..rng.gen_range(0..400)).map(|_| rng.gen()).collect(),
            _ => {
                // Keep the prefix (signature, armor), scramble the rest.
                let keep = rng.gen_range(0..=bytes.len());
                for b in &mut bytes[keep..] {
                    *b = rng.gen();
                }
            }
        }
        decode_everything(&bytes, &rsa);
    }
}
