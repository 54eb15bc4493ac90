use std::time::Instant;

use super::*;
use crate::parsec::certificates::{decode, verify_rsa, Certificate};
use crate::parsec::crypto::rsa_key::SequesterPublicKey;
use crate::parsec::crypto::signing::VerifyKey;
use crate::testbed::random::stream_rng;

fn ts() -> Ts {
    DateTime::from_timestamp_micros(1_700_000_000_000_000).expect("valid timestamp")
}

fn factory(seed: u64) -> CertificateFactory<rand::rngs::StdRng> {
    CertificateFactory::new(stream_rng(seed, 1), 1024)
}

#[test]
fn certificates_verify_with_their_signers_keys() {
    let mut f = factory(1);
    let root = VerifyKey::from_bytes(&f.root_verify_key()).expect("root key");
    let device = Uuid::from_u128(9);
    let device_key = VerifyKey::from_bytes(&f.new_device_key(device)).expect("device key");

    // Root-signed (no author): verifies with the root key only.
    let first = f
        .device(None, ts(), Uuid::nil(), device, Some("laptop"), &[0; 32])
        .expect("device certificate");
    let first = decode(&first).expect("decodes");
    assert!(first.clone().verify(&device_key).is_err());
    assert!(matches!(first.verify(&root), Ok(Certificate::Device(_))));

    // Device-signed: verifies with that device's key, not the root's.
    let revoked = f
        .revoked_user(device, ts(), Uuid::from_u128(7))
        .expect("revocation");
    let unverified = decode(&revoked).expect("decodes");
    assert!(unverified.clone().verify(&root).is_err());
    assert!(matches!(
        unverified.verify(&device_key),
        Ok(Certificate::RevokedUser(r)) if r.user_id == Uuid::from_u128(7)
    ));
    // A flipped signature byte fails.
    let mut bad = revoked.clone();
    bad[3] ^= 1;
    assert!(decode(&bad).expect("decodes").verify(&device_key).is_err());

    // An unknown author is an error, not a random signature.
    assert!(f
        .revoked_user(Uuid::from_u128(1), ts(), Uuid::nil())
        .is_err());
}

#[test]
fn sequester_certificates_are_signed_by_root_then_authority() {
    let mut f = factory(2);
    assert!(f.sequester_revoked_service(ts(), Uuid::nil()).is_err());
    let root = VerifyKey::from_bytes(&f.root_verify_key()).expect("root key");
    let started = Instant::now();
    let (authority, der) = f.sequester_authority(ts()).expect("authority");
    let service_key = f.new_service_key(Uuid::from_u128(77)).expect("service key");
    eprintln!("two 1024-bit RSA keys: {:?}", started.elapsed());
    let authority = decode(&authority).expect("decodes").verify(&root);
    assert!(
        matches!(&authority, Ok(Certificate::SequesterAuthority(a)) if a.verify_key_der == der)
    );
    let authority_key = SequesterPublicKey::from_der(&der).expect("RSA SPKI");
    assert_eq!(authority_key.size(), 128);
    SequesterPublicKey::from_der(&service_key).expect("service key is an RSA SPKI");

    let service = f
        .sequester_service(ts(), Uuid::from_u128(3), "Legal", &service_key)
        .expect("service");
    assert!(matches!(
        verify_rsa(&service, &authority_key),
        Ok(Certificate::SequesterService(s)) if s.service_label == "Legal"
    ));
    let mut bad = service.clone();
    bad[b"RSASSA-PSS-SHA256:".len() + 5] ^= 1;
    assert!(verify_rsa(&bad, &authority_key).is_err());
}

#[test]
fn same_seed_same_keys_and_certificates() {
    let make = |seed| {
        let mut f = factory(seed);
        let device = f.new_device_key(Uuid::nil());
        let (authority, _) = f.sequester_authority(ts()).expect("authority");
        let revoked = f
            .sequester_revoked_service(ts(), Uuid::nil())
            .expect("revocation");
        (f.root_verify_key(), device, authority, revoked)
    };
    assert_eq!(make(5), make(5));
    assert_ne!(make(5).0, make(6).0);
}
