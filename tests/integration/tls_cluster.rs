//! A PostgreSQL cluster of its own for the verified-TLS tests: its server certificate is
//! signed by a test CA (or expired), it listens on 127.0.0.1 and 127.0.0.2 (not in the
//! certificate), and `pg_hba.conf` asks `certuser` for a client certificate signed by that CA
//! and `pwuser` for a password. Each has a database `parsec` with Parsec's tables.

use std::path::{Path, PathBuf};

use parsec_sequester::testbed;

use crate::certs::{Issued, TestCa};
use crate::harness::{connect, free_port, init_cluster, start_postgres, wait_ready};

pub const PASSWORD: &str = "pw-Tls-8f3c2a-secret";

pub struct TlsCluster {
    pub port: u16,
    /// Where the CA and certificates are.
    pub certs: PathBuf,
    pub ca: TestCa,
}

impl TlsCluster {
    /// `expired`: the server's certificate expired in 2020.
    pub async fn start(expired: bool) -> TlsCluster {
        let (dir, data) = init_cluster("parsec-sequester-test-pg-tls-");
        let certs = tempfile::Builder::new()
            .prefix("parsec-sequester-certs-")
            .tempdir()
            .expect("temp dir")
            .keep();
        let ca = TestCa::new(&certs, "test");
        let server = ca.server("server", expired);
        let ssl_ca = install(&data, &ca.cert, "ca.crt");
        let ssl_cert = install(&data, &server.cert, "server.crt");
        let ssl_key = install(&data, &server.key, "server.key");
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\n\
             hostssl all certuser 127.0.0.0/8 cert\n\
             host all certuser 127.0.0.0/8 reject\n\
             host all pwuser 127.0.0.0/8 scram-sha-256\n\
             host all all 127.0.0.0/8 trust\n",
        )
        .expect("write pg_hba.conf");
        let port = free_port();
        start_postgres(
            &dir,
            &data,
            port,
            &[
                "listen_addresses=127.0.0.1,127.0.0.2",
                "ssl=on",
                &format!("ssl_cert_file={ssl_cert}"),
                &format!("ssl_key_file={ssl_key}"),
                &format!("ssl_ca_file={ssl_ca}"),
            ],
        );
        let admin_url = format!("postgresql://postgres@127.0.0.1:{port}/postgres");
        wait_ready(port, &admin_url);
        let admin = connect(&admin_url).await;
        admin
            .batch_execute(&format!(
                "CREATE ROLE certuser LOGIN; CREATE ROLE pwuser LOGIN PASSWORD '{PASSWORD}'"
            ))
            .await
            .expect("create roles");
        admin
            .batch_execute("CREATE DATABASE parsec")
            .await
            .expect("create database");
        let parsec = connect(&format!("postgresql://postgres@127.0.0.1:{port}/parsec")).await;
        testbed::create_schema(&parsec)
            .await
            .expect("create Parsec schema");
        parsec
            .batch_execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO certuser, pwuser")
            .await
            .expect("grant");
        TlsCluster { port, certs, ca }
    }

    /// `postgresql://USER@HOST:PORT/parsec?QUERY` (no password).
    pub fn url(&self, user: &str, host: &str, query: &str) -> String {
        let url = format!("postgresql://{user}@{host}:{}/parsec", self.port);
        if query.is_empty() {
            url
        } else {
            format!("{url}?{query}")
        }
    }

    /// Another CA, which signed nothing this server presents.
    pub fn other_ca(&self) -> TestCa {
        TestCa::new(&self.certs, "other")
    }

    pub fn client_cert(&self, user: &str) -> Issued {
        self.ca.client(user)
    }
}

/// Copies a file into the data directory, readable by the server only (as PostgreSQL
/// demands of its key).
fn install(data: &Path, from: &Path, name: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let to = data.join(name);
    std::fs::copy(from, &to).expect("copy certificate");
    std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).unwrap();
    if unsafe { libc::geteuid() } == 0 {
        std::os::unix::fs::chown(&to, Some(65534), Some(65534)).expect("chown");
    }
    to.display().to_string()
}
