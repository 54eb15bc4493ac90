//! Verified TLS to PostgreSQL as libpq does it (verify-full, verify-ca, client certificates,
//! the PGSSL* variables) and libpq's passwords (PGPASSWORD, .pgpass), against a real server
//! whose certificate a test CA signed. A run that reaches the database ends with "organization
//! not found" (exit 10): the connection, authentication and schema check all passed.

use std::process::Command;

use crate::harness::{run, tool, Run};
use crate::tls_cluster::{TlsCluster, PASSWORD};

const CONNECTED: i32 = 10;
const UNREACHABLE: i32 = 20;
const AUTH: i32 = 21;
const USAGE: i32 = 2;

/// `realms` against `url`, with a home of its own and no PG* variable but `env`.
fn realms(url: &str, home: &std::path::Path, env: &[(&str, &str)]) -> Run {
    let mut cmd: Command = tool();
    for var in [
        "PGSSLMODE",
        "PGSSLROOTCERT",
        "PGSSLCERT",
        "PGSSLKEY",
        "PGPASSWORD",
        "PGPASSFILE",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("HOME", home)
        .args(["realms", "--db", url, "--organization", "NoSuchOrg"])
        .args(["--log-level", "trace"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let r = run(&mut cmd);
    assert!(
        !r.all().contains(PASSWORD),
        "password printed:\n{}",
        r.all()
    );
    r
}

fn expect(r: &Run, code: i32, words: &str) {
    assert_eq!(r.code, code, "{}", r.all());
    assert!(
        r.stderr.contains(words),
        "expected `{words}`:\n{}",
        r.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_full_and_verify_ca_check_the_server_certificate() {
    let pg = TlsCluster::start(false).await;
    let home = tempfile::tempdir().unwrap();
    let ca = pg.ca.cert.display().to_string();
    let other = pg.other_ca().cert.display().to_string();
    let full = |host: &str, root: &str| {
        pg.url(
            "postgres",
            host,
            &format!("sslmode=verify-full&sslrootcert={root}"),
        )
    };
    expect(
        &realms(&full("localhost", &ca), home.path(), &[]),
        CONNECTED,
        "NoSuchOrg",
    );
    expect(
        &realms(&full("127.0.0.1", &ca), home.path(), &[]),
        CONNECTED,
        "NoSuchOrg",
    );
    expect(
        &realms(&full("localhost", &other), home.path(), &[]),
        UNREACHABLE,
        "unknown CA",
    );
    // 127.0.0.2 reaches the same server, but is not in its certificate.
    let r = realms(&full("127.0.0.2", &ca), home.path(), &[]);
    expect(&r, UNREACHABLE, "host name mismatch");
    assert!(r.stderr.contains("127.0.0.2"), "{}", r.stderr);
    let ca_only = pg.url(
        "postgres",
        "127.0.0.2",
        &format!("sslmode=verify-ca&sslrootcert={ca}"),
    );
    expect(&realms(&ca_only, home.path(), &[]), CONNECTED, "NoSuchOrg");
    let ca_only = pg.url(
        "postgres",
        "127.0.0.2",
        &format!("sslmode=verify-ca&sslrootcert={other}"),
    );
    expect(
        &realms(&ca_only, home.path(), &[]),
        UNREACHABLE,
        "unknown CA",
    );

    // The same through libpq's variables; the URL's options win over them.
    let bare = pg.url("postgres", "localhost", "");
    let env_full = [("PGSSLMODE", "verify-full"), ("PGSSLROOTCERT", ca.as_str())];
    expect(
        &realms(&bare, home.path(), &env_full),
        CONNECTED,
        "NoSuchOrg",
    );
    let env_other = [
        ("PGSSLMODE", "verify-full"),
        ("PGSSLROOTCERT", other.as_str()),
    ];
    expect(
        &realms(&bare, home.path(), &env_other),
        UNREACHABLE,
        "unknown CA",
    );
    let url_wins = pg.url("postgres", "localhost", &format!("sslrootcert={ca}"));
    expect(
        &realms(&url_wins, home.path(), &env_other),
        CONNECTED,
        "NoSuchOrg",
    );

    // libpq's rule: require with a root certificate checks the chain.
    let require = pg.url(
        "postgres",
        "localhost",
        &format!("sslmode=require&sslrootcert={other}"),
    );
    expect(
        &realms(&require, home.path(), &[]),
        UNREACHABLE,
        "unknown CA",
    );
    // ... including libpq's default root file, ~/.postgresql/root.crt.
    let pgdir = home.path().join(".postgresql");
    std::fs::create_dir(&pgdir).unwrap();
    std::fs::copy(&other, pgdir.join("root.crt")).unwrap();
    let require = pg.url("postgres", "localhost", "sslmode=require");
    expect(
        &realms(&require, home.path(), &[]),
        UNREACHABLE,
        "unknown CA",
    );
    std::fs::copy(&ca, pgdir.join("root.crt")).unwrap();
    let verify = pg.url("postgres", "localhost", "sslmode=verify-full");
    expect(&realms(&verify, home.path(), &[]), CONNECTED, "NoSuchOrg");
    std::fs::remove_file(pgdir.join("root.crt")).unwrap();

    // Verification without a CA to check against is refused, never done unverified.
    expect(&realms(&verify, home.path(), &[]), USAGE, "root.crt");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_server_certificate_is_refused() {
    let pg = TlsCluster::start(true).await;
    let home = tempfile::tempdir().unwrap();
    let ca = pg.ca.cert.display().to_string();
    for mode in ["verify-full", "verify-ca"] {
        let url = pg.url(
            "postgres",
            "localhost",
            &format!("sslmode={mode}&sslrootcert={ca}"),
        );
        expect(&realms(&url, home.path(), &[]), UNREACHABLE, "expired");
    }
    // Without verification (libpq's require with no root file) the connection is encrypted.
    let url = pg.url("postgres", "localhost", "sslmode=require");
    expect(&realms(&url, home.path(), &[]), CONNECTED, "NoSuchOrg");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_certificate_the_server_requires() {
    let pg = TlsCluster::start(false).await;
    let home = tempfile::tempdir().unwrap();
    let ca = pg.ca.cert.display().to_string();
    let client = pg.client_cert("certuser");
    let (cert, key) = (
        client.cert.display().to_string(),
        client.key.display().to_string(),
    );
    let base = format!("sslmode=verify-full&sslrootcert={ca}");
    let with = pg.url(
        "certuser",
        "localhost",
        &format!("{base}&sslcert={cert}&sslkey={key}"),
    );
    expect(&realms(&with, home.path(), &[]), CONNECTED, "NoSuchOrg");
    let without = pg.url("certuser", "localhost", &base);
    let r = realms(&without, home.path(), &[]);
    assert_eq!(r.code, AUTH, "{}", r.all());
    assert!(r.stderr.contains("certificate"), "{}", r.stderr);
    let env = [("PGSSLCERT", cert.as_str()), ("PGSSLKEY", key.as_str())];
    expect(&realms(&without, home.path(), &env), CONNECTED, "NoSuchOrg");
    // A certificate of a user other than the one connecting is refused by the server.
    let stranger = pg.client_cert("someone");
    let (cert, key) = (
        stranger.cert.display().to_string(),
        stranger.key.display().to_string(),
    );
    let env = [("PGSSLCERT", cert.as_str()), ("PGSSLKEY", key.as_str())];
    assert_eq!(realms(&without, home.path(), &env).code, AUTH);
}

#[tokio::test(flavor = "multi_thread")]
async fn pgpassword_and_the_password_file() {
    use std::os::unix::fs::PermissionsExt;
    let pg = TlsCluster::start(false).await;
    let home = tempfile::tempdir().unwrap();
    let url = pg.url("pwuser", "127.0.0.1", "sslmode=require");
    let r = realms(&url, home.path(), &[]);
    assert!(r.code == AUTH || r.code == UNREACHABLE, "{}", r.all());
    expect(
        &realms(&url, home.path(), &[("PGPASSWORD", PASSWORD)]),
        CONNECTED,
        "NoSuchOrg",
    );
    let wrong = realms(&url, home.path(), &[("PGPASSWORD", "not-it")]);
    assert_eq!(wrong.code, AUTH, "{}", wrong.all());

    // ~/.pgpass: libpq's fields, escapes and first match.
    let pgpass = home.path().join(".pgpass");
    let lines = format!(
        "# host:port:database:username:password\n\
         127.0.0.1:{port}:other:pwuser:not-it\n\
         127.0.0.1:{port}:*:pwuser:{PASSWORD}\n\
         *:*:*:*:not-it\n",
        port = pg.port
    );
    std::fs::write(&pgpass, lines).unwrap();
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    expect(&realms(&url, home.path(), &[]), CONNECTED, "NoSuchOrg");
    // The URL's password comes first.
    let with_wrong = pg.url("pwuser:not-it", "127.0.0.1", "sslmode=require");
    assert_eq!(realms(&with_wrong, home.path(), &[]).code, AUTH);
    // PGPASSFILE names another file.
    let elsewhere = home.path().join("elsewhere");
    std::fs::rename(&pgpass, &elsewhere).unwrap();
    let file = elsewhere.display().to_string();
    expect(
        &realms(&url, home.path(), &[("PGPASSFILE", &file)]),
        CONNECTED,
        "NoSuchOrg",
    );
    // A file others can read is ignored, with libpq's warning.
    std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o640)).unwrap();
    let r = realms(&url, home.path(), &[("PGPASSFILE", &file)]);
    assert_ne!(r.code, CONNECTED, "{}", r.all());
    assert_eq!(
        r.stderr.matches("group or world access").count(),
        1,
        "{}",
        r.stderr
    );
}
