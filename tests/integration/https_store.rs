//! S3 over HTTPS: Garage behind a TLS-terminating proxy whose certificate a test CA signed.
//! The store is verified against the CA bundle given (option or AWS_CA_BUNDLE /
//! SSL_CERT_FILE), else the OS trust store; a failed verification stops the command with a
//! "blockstore unavailable" error naming the endpoint, never an unverified connection.

use std::process::Command;

use crate::certs::TestCa;
use crate::garage::Garage;
use crate::harness::{run, Run};
use crate::rows::assert_same_content;
use crate::stores::{db_with_stores, reference, s3_export_cmd};
use crate::tls_proxy::TlsProxy;

const UNAVAILABLE: i32 = 32;

fn without_ca_variables(mut cmd: Command) -> Command {
    cmd.env_remove("AWS_CA_BUNDLE")
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .env_remove("PARSEC_BLOCKSTORE_CA_BUNDLE");
    cmd
}

fn refused(r: &Run, endpoint: &str, secret: &str) {
    assert_eq!(r.code, UNAVAILABLE, "{}", r.all());
    assert!(r.stderr.contains("unknown CA"), "{}", r.stderr);
    assert!(r.stderr.contains(endpoint), "{}", r.stderr);
    assert!(!r.all().contains(secret), "secret printed:\n{}", r.all());
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_over_https_is_verified_against_the_ca_bundle() {
    let garage = Garage::start(&["tls"]);
    let (db, realm) = db_with_stores("s3_https", &[vec![garage.blockstore("tls")]]).await;
    let dir = tempfile::tempdir().unwrap();
    let reference = reference(&db, realm, dir.path()).await;
    let ca = TestCa::new(dir.path(), "store");
    let other = TestCa::new(dir.path(), "other");
    let cert = ca.server("proxy", false);
    let proxy = TlsProxy::start(garage.s3_port, &cert.cert, &cert.key);
    let endpoint = format!("localhost:{}", proxy.port);
    let store = vec![format!(
        r"s3:https\://localhost\:{}:garage:tls:{}:{}",
        proxy.port, garage.key_id, garage.secret
    )];
    let bundle = ca.cert.display().to_string();
    let export = |name: &str, args: &[&str], env: &[(&str, &str)]| {
        let file = dir.path().join(name);
        let mut cmd = without_ca_variables(s3_export_cmd(&db, realm, &file, &store, args));
        cmd.args(["--log-level", "debug"]);
        for (k, v) in env {
            cmd.env(k, v);
        }
        (run(&mut cmd), file)
    };

    let (r, file) = export("bundle.sqlite", &["--blockstore-ca-bundle", &bundle], &[]);
    r.ok();
    assert_same_content(&file, &reference);
    assert!(!r.all().contains(&garage.secret));

    // Without the CA: the OS trust store does not know the test CA.
    let (r, _) = export("none.sqlite", &["--retries", "1"], &[]);
    refused(&r, &endpoint, &garage.secret);
    // Another CA, given by the option or by SSL_CERT_FILE: refused the same way.
    let wrong = other.cert.display().to_string();
    let (r, _) = export("other.sqlite", &["--blockstore-ca-bundle", &wrong], &[]);
    refused(&r, &endpoint, &garage.secret);
    let (r, _) = export("ssl-cert-file.sqlite", &[], &[("SSL_CERT_FILE", &wrong)]);
    refused(&r, &endpoint, &garage.secret);

    // The AWS tools' variable, and SSL_CERT_FILE, name the bundle too; AWS_CA_BUNDLE wins.
    let (r, file) = export(
        "aws.sqlite",
        &[],
        &[("AWS_CA_BUNDLE", &bundle), ("SSL_CERT_FILE", &wrong)],
    );
    r.ok();
    assert_same_content(&file, &reference);
    let (r, file) = export("ssl.sqlite", &[], &[("SSL_CERT_FILE", &bundle)]);
    r.ok();
    assert_same_content(&file, &reference);

    // A bundle that is not one is a configuration error naming the file.
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let (r, _) = export(
        "junk.sqlite",
        &["--blockstore-ca-bundle", junk.to_str().unwrap()],
        &[],
    );
    assert_eq!(r.code, 33, "{}", r.all());
    assert!(r.stderr.contains("junk.pem"), "{}", r.stderr);

    // verify --against-db reaches the store the same way.
    let verify = |extra: &[&str]| {
        let mut cmd = without_ca_variables(crate::harness::verify_cmd(&reference, extra));
        cmd.args(["--against-db", "--db", &db.url, "--blockstore", &store[0]]);
        run(&mut cmd)
    };
    verify(&["--blockstore-ca-bundle", &bundle]).ok();
    refused(&verify(&[]), &endpoint, &garage.secret);
}
